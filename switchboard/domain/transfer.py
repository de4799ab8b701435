"""Transfer targets: where a live call can be handed over to, checked before anyone is asked.

A call is transferred (taken back from whoever has it, then bridged again, see
:func:`switchboard.domain.callflow.on_transfer_requested`) either to a phone number over the PSTN
or to a SIP user behind our PBX's voice connector. Three surfaces name targets — the Slack bot,
the Amazon Connect Lambda and, receiving both, the SIP media application (SMA) — and a transfer is
as good a toll-fraud route as a forward: the SMA pays for the outbound leg, and a PBX behind the
voice connector dials whatever digits its user part spells.

**One check, run by every surface** (:meth:`TransferRules.check`), on the target *as it is sent*
(the UpdateSipMediaApplicationCall Arguments): it needs no phone-number library, so the SMA runs
it too, before it bridges.

* A SIP target names exactly the configured voice connector (``VOICE_CONNECTOR_ARN``: not another
  one, not another account's); without one, SIP transfers are refused.
* A SIP user is a **name** (starts with a letter: ``agent-7``, ``reception``), an **extension**
  (digits matching ``SIP_EXTENSION_PATTERN``, default 2–6 digits, and not an emergency code), or a
  **phone number in E.164** (``+13125550199``), which must pass the same shape check as a PSTN
  target. Feature codes (``*``, ``#``), international or outside-line prefixes (``011``, ``00``,
  ``9011``…) and any other digit string are refused: a PBX would dial them.
* A phone number (PSTN, or a SIP user that is one) is E.164, in an allowed country as far as
  :data:`CALLING_CODES` can tell, and not in an obviously premium-rate, shared-cost, personal or
  satellite range (:data:`EXPENSIVE_PREFIXES`).

The bot and the Connect Lambda first run the full forwarding policy
(:meth:`switchboard.policy.DestinationPolicy.transfer_target`, with ``phonenumbers``): it turns
what a person typed (``sip:312-555-0199``, ``(312) 555-0199``) into E.164 and refuses what the
cheap tables here cannot know; then they run this same check on the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from switchboard.domain.defaults import DEFAULT_SIP_EXTENSION_PATTERN

SIP_USER = re.compile(r"^[A-Za-z0-9+*#._~-]{1,64}\Z")
VOICE_CONNECTOR_ARN = re.compile(r"^arn:aws[a-z-]*:chime:[a-z0-9-]+:\d{12}:vc/[A-Za-z0-9]+\Z")
SIP_PREFIX = "sip:"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._~-]{0,63}\Z")
_DIALABLE = re.compile(r"^\+?[0-9().-]+\Z")  # what a PBX dial plan reads as digits
_SEPARATORS = re.compile(r"[().-]")
_FEATURE_CODE = re.compile(r"[*#]")
# E.164 with a realistic length: 7 digits (small island countries) to 15.
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}\Z")
_NANP = re.compile(r"^\+1((?![2-9]11)[2-9][0-9]{2})[2-9][0-9]{6}\Z")  # no N11 area code (911…)

# Prefixes a PBX (or a carrier) reads as "dial abroad", bare or after the outside-line digit 9.
INTERNATIONAL_PREFIXES = ("00", "011", "9011", "9810")
# Premium ranges dialled the national way, after an optional outside-line and/or trunk digit.
_PREMIUM_DIALLED = re.compile(r"^[019]{0,2}(900|976)")
# Emergency numbers, which a PBX may dial even when written as an "extension" (also after an
# outside-line digit: 9911).
EMERGENCY_CODES = frozenset({"911", "933", "112", "999", "000", "110", "119", "118", "08"})
OUTSIDE_LINE_DIGITS = ("9", "8", "0", "1")

# Ranges that are never a sensible transfer target whatever the country list says: premium rate,
# shared cost, personal numbering, satellite and international networks.
EXPENSIVE_PREFIXES = (
    "+1900",  # NANP premium area code (the premium exchange 976 is checked separately)
    "+1500", "+1521", "+1522", "+1523", "+1524", "+1525", "+1526", "+1527", "+1528", "+1529",
    "+1533", "+1544", "+1566", "+1577", "+1588",  # NANP personal communications services
    "+1700",
    "+449", "+4487", "+4484", "+4470",  # UK premium, shared cost, personal
    "+3389", "+3381", "+3382", "+3336",  # France premium / shared cost
    "+49900", "+49137", "+49180", "+49700",  # Germany premium, televoting, shared cost, personal
    "+61190", "+6113", "+6119",  # Australia premium, shared cost
    "+35315", "+353185", "+353189",  # Ireland premium (15xx) and shared cost (1850, 1890)
    "+870", "+881", "+882", "+883", "+888", "+979", "+808",  # satellite, networks, shared services
)  # fmt: skip

# Country → E.164 calling code, for the allowed-country check where no phone-number library is
# loaded. A country missing here cannot be checked cheaply: then only the full policy checks it.
CALLING_CODES = {
    "US": "1", "CA": "1", "GB": "44", "IE": "353", "FR": "33", "DE": "49", "ES": "34", "IT": "39",
    "NL": "31", "BE": "32", "LU": "352", "CH": "41", "AT": "43", "SE": "46", "NO": "47", "DK": "45",
    "FI": "358", "PT": "351", "PL": "48", "CZ": "420", "AU": "61", "NZ": "64", "JP": "81",
    "IN": "91", "SG": "65", "HK": "852", "IL": "972", "AE": "971", "ZA": "27", "BR": "55",
    "MX": "52",
}  # fmt: skip
# NANP area codes outside the United States (the rest of +1 is US, incl. toll free).
NANP_REGIONS = {
    "204": "CA", "226": "CA", "236": "CA", "249": "CA", "250": "CA", "257": "CA", "263": "CA", "289": "CA",
    "306": "CA", "343": "CA", "354": "CA", "365": "CA", "367": "CA", "368": "CA", "382": "CA", "387": "CA",
    "403": "CA", "416": "CA", "418": "CA", "428": "CA", "431": "CA", "437": "CA", "438": "CA", "450": "CA",
    "460": "CA", "468": "CA", "474": "CA", "506": "CA", "514": "CA", "519": "CA", "548": "CA", "579": "CA",
    "581": "CA", "584": "CA", "587": "CA", "600": "CA", "604": "CA", "613": "CA", "622": "CA", "639": "CA",
    "647": "CA", "672": "CA", "683": "CA", "705": "CA", "709": "CA", "742": "CA", "753": "CA", "778": "CA",
    "780": "CA", "782": "CA", "807": "CA", "819": "CA", "825": "CA", "867": "CA", "873": "CA", "879": "CA",
    "902": "CA", "905": "CA", "942": "CA",
    "242": "BS", "246": "BB", "264": "AI", "268": "AG", "284": "VG", "340": "VI", "345": "KY",
    "441": "BM", "473": "GD", "649": "TC", "658": "JM", "876": "JM", "664": "MS", "670": "MP",
    "671": "GU", "684": "AS", "721": "SX", "758": "LC", "767": "DM", "784": "VC", "787": "PR",
    "939": "PR", "809": "DO", "829": "DO", "849": "DO", "868": "TT", "869": "KN",
}  # fmt: skip


class TransferTargetError(ValueError):
    """The target cannot be used; the message says why, for the person who typed it."""


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """``target`` is E.164 (PSTN) or a SIP user; ``voice_connector_arn`` is set for SIP users."""

    target: str
    voice_connector_arn: str = ""

    @property
    def is_sip(self) -> bool:
        return bool(self.voice_connector_arn)

    def arguments(self) -> dict[str, str]:
        """The UpdateSipMediaApplicationCall Arguments the SMA's CALL_UPDATE_REQUESTED expects."""
        arguments = {"Transfer": "true", "TransferTarget": self.target}
        if self.voice_connector_arn:
            arguments["TransferTargetArn"] = self.voice_connector_arn
        return arguments

    def __str__(self) -> str:
        return f"{SIP_PREFIX}{self.target}" if self.is_sip else self.target


@dataclass(frozen=True, slots=True)
class QueuedTransfer:
    """A transfer queued on an Amazon Connect call, carried out when its callee hangs up.

    Nothing can break into a bridged Connect call, so the flow's Lambda picks the request up when
    the flow resumes. ``for_since_ms`` names the dial it was asked for (the live entry's ``since``):
    a request left over from an earlier bridge of the call is stale and ignored.
    """

    target: str
    for_since_ms: int
    requested_by: str = ""


@dataclass(frozen=True, slots=True)
class TransferRules:
    """The configuration the one check needs: the voice connector SIP targets may use, the
    extension pattern, the allowed countries and the numbers that are our own."""

    voice_connector_arn: str = ""
    extension_pattern: str = DEFAULT_SIP_EXTENSION_PATTERN
    allowed_countries: tuple[str, ...] = ("US",)
    own_numbers: frozenset[str] = field(default_factory=frozenset)

    def check(self, target: str, voice_connector_arn: str = "") -> TransferTarget:
        """``target`` (and ``voice_connector_arn`` for a SIP user) as sent to the SMA, or
        :class:`TransferTargetError` saying why not."""
        if not voice_connector_arn:
            self.check_phone_number(target)
            return TransferTarget(target)
        if not SIP_USER.match(target):
            raise TransferTargetError(
                f"TransferTarget {target!r} is not a SIP user (letters, digits, + * # . _ ~ -)"
            )
        self.check_voice_connector(voice_connector_arn)
        kind = self.sip_user_kind(target)
        if kind == "number":
            self.check_phone_number(target)
        elif kind not in {"name", "extension"}:
            raise TransferTargetError(
                f"SIP user {target} is neither an extension nor a phone number in E.164 (+…); "
                "give a phone number as +<country code><number>"
            )
        return TransferTarget(target, voice_connector_arn)

    def check_voice_connector(self, voice_connector_arn: str) -> None:
        if not self.voice_connector_arn:
            raise TransferTargetError(
                "SIP transfers are not set up here (VOICE_CONNECTOR_ARN is not configured); "
                "transfer to a phone number instead"
            )
        if not VOICE_CONNECTOR_ARN.match(voice_connector_arn):
            raise TransferTargetError(
                f"TransferTargetArn {voice_connector_arn!r} is not a voice connector ARN (…:vc/<id>)"
            )
        if voice_connector_arn != self.voice_connector_arn:
            raise TransferTargetError(
                "TransferTargetArn is not this stack's voice connector: SIP transfers go to "
                "VOICE_CONNECTOR_ARN only"
            )

    def sip_user_kind(self, user: str) -> str:
        """``name``, ``extension``, ``number`` (E.164) or ``digits`` (anything else a PBX would
        dial); :class:`TransferTargetError` for feature codes, dialling prefixes, emergency codes."""
        if _FEATURE_CODE.search(user):
            raise TransferTargetError(
                f"SIP user {user} contains a feature code (* or #); transfers go to a person, "
                "an extension or a phone number"
            )
        if _NAME.match(user):
            return "name"
        if not _DIALABLE.match(user):
            raise TransferTargetError(f"SIP user {user} is not a name, an extension or a phone number")
        digits = _SEPARATORS.sub("", user)
        if digits.startswith("+"):
            return "number"
        if is_emergency_code(digits):
            raise TransferTargetError(
                f"SIP user {user} is an emergency number; calls are never transferred to it"
            )
        if digits.startswith(INTERNATIONAL_PREFIXES) or _PREMIUM_DIALLED.match(digits):
            raise TransferTargetError(
                f"SIP user {user} starts with an international, premium or outside-line dialling prefix; "
                "give a phone number as +<country code><number>"
            )
        if re.search(self.extension_pattern, digits):
            return "extension"
        return "digits"

    def check_phone_number(self, number: str) -> None:
        """E.164 shape, allowed country (where :data:`CALLING_CODES` can tell), no expensive range,
        not one of our own numbers."""
        if not _E164.match(number):
            raise TransferTargetError(f"{number!r} is not a phone number in E.164 (+<country code><number>)")
        if number.startswith(EXPENSIVE_PREFIXES):
            raise TransferTargetError(f"{number} is a premium-rate, shared-cost or special number")
        if number.startswith("+1") and not _NANP.match(number):
            raise TransferTargetError(f"{number} is not a valid North American number")
        if number.startswith("+1") and number[5:8] == "976":
            raise TransferTargetError(f"{number} is a premium-rate, shared-cost or special number")
        region = number_region(number)
        # An unknown calling code is refused only when every allowed country's code is known.
        known = all(country in CALLING_CODES for country in self.allowed_countries)
        if (region or known) and region not in self.allowed_countries:
            allowed = ", ".join(self.allowed_countries)
            where = region or "a country"
            raise TransferTargetError(f"{number} is in {where} outside the allowed countries ({allowed})")
        if number in self.own_numbers:
            raise TransferTargetError(f"{number} is one of our own numbers; transfer to a person instead")


def number_region(number: str) -> str | None:
    """The country of an E.164 ``number`` from the cheap tables; None when they do not know its
    calling code."""
    if number.startswith("+1"):
        match = _NANP.match(number)
        return NANP_REGIONS.get(match.group(1), "US") if match else None
    for region, code in CALLING_CODES.items():
        if code != "1" and number.startswith("+" + code):
            return region
    return None


def is_emergency_code(digits: str) -> bool:
    """911, 112, 999… bare or after one outside-line or trunk digit (9911, 0112, 1911)."""
    if digits in EMERGENCY_CODES:
        return True
    return digits[:1] in OUTSIDE_LINE_DIGITS and digits[1:] in EMERGENCY_CODES


def sip_target(user: str, voice_connector_arn: str) -> TransferTarget:
    """A SIP user behind a voice connector, both checked for shape only (the local simulator's
    scripts; transfers from people go through :meth:`TransferRules.check`)."""
    if not VOICE_CONNECTOR_ARN.match(voice_connector_arn):
        raise TransferTargetError(
            f"TransferTargetArn {voice_connector_arn!r} is not a voice connector ARN (…:vc/<id>)"
        )
    if not SIP_USER.match(user):
        raise TransferTargetError(
            f"TransferTarget {user!r} is not a SIP user (letters, digits, + * # . _ ~ -)"
        )
    return TransferTarget(user, voice_connector_arn)


def is_sip_text(text: str) -> bool:
    """``sip:1234`` names a SIP user; anything else is read as a phone number."""
    return text.strip().lower().startswith(SIP_PREFIX)


def sip_user(text: str) -> str:
    """``sip:agent-7`` (or ``sip:agent-7@pbx.example.com``) → ``agent-7``."""
    user = text.strip()[len(SIP_PREFIX) :]
    return user.split("@", 1)[0].strip()
