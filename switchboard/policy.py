"""Which destinations we will forward to, and how typed numbers become E.164.

This is the one phone-number parser of the project (bot, CLI and tests use it). It imports
``phonenumbers`` (large metadata), so it is never imported on the SIP media application's path.

Forwarding pays for an outbound call on every inbound one, which makes a forward the classic
toll-fraud vehicle: premium-rate, shared-cost and personal numbers, countries we do not call,
emergency and short codes are all refused, each with a message a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from switchboard.domain.rules import CONNECT, MAX_DESTINATIONS, ForwardRule, find_loops, is_e164
from switchboard.domain.transfer import (
    SIP_USER,
    TransferRules,
    TransferTarget,
    TransferTargetError,
    is_sip_text,
    sip_user,
)

_REFUSED_TYPES = {
    PhoneNumberType.PREMIUM_RATE: "is a premium-rate number",
    PhoneNumberType.SHARED_COST: "is a shared-cost number",
    PhoneNumberType.PERSONAL_NUMBER: "is a personal-number redirection service (a common toll-fraud target)",
    PhoneNumberType.UAN: "is a universal access number",
    PhoneNumberType.UNKNOWN: "is not a number type we can identify",
}
_DIGITS_ONLY = re.compile(r"[^\d+]")


class DestinationRefusedError(ValueError):
    """A number we will not use; the message names the number and the reason."""

    def __init__(self, number: str, reason: str, *, index: int | None = None) -> None:
        # Refused input is echoed back to whoever typed it: a few thousand digits are not.
        shown = number if len(number) <= 40 else number[:30] + "…"
        super().__init__(f"{shown} {reason}")
        self.number = number
        self.reason = reason
        # Which of several destinations (0-based) the refusal is about; None: the list as a whole.
        self.index = index


EMERGENCY = "is an emergency number; switchboard never sends calls to it"
NOT_OURS = "is not one of our phone numbers"


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """Validates destinations for forwards created in ``default_country``'s numbering plan.

    >>> policy = DestinationPolicy(default_country="US", allowed_countries=("US",))
    >>> policy.destination("(202) 555-0143")
    '+12025550143'
    """

    default_country: str = "US"
    allowed_countries: tuple[str, ...] = ("US",)

    def parse(self, text: str) -> phonenumbers.PhoneNumber:
        cleaned = text.strip()
        if not cleaned:
            raise DestinationRefusedError("(empty)", "is not a phone number")
        if cleaned.startswith("00"):  # international prefix typed out
            cleaned = "+" + cleaned[2:]
        try:
            return phonenumbers.parse(cleaned, self.default_country)
        except phonenumbers.NumberParseException:
            raise DestinationRefusedError(cleaned, "is not a phone number") from None

    def destination(self, text: str) -> str:
        """Normalise ``text`` to E.164 or raise :class:`DestinationRefusedError` saying why."""
        shown = text.strip()
        region = self.default_country
        bare = _DIGITS_ONLY.sub("", shown)
        if bare and not bare.startswith("+") and shortnumberinfo.is_emergency_number(bare, region):
            raise DestinationRefusedError(
                shown, "is an emergency number; switchboard never sends calls to it"
            )
        number = self.parse(shown)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        number_region = phonenumbers.region_code_for_number(number) or ""
        national = phonenumbers.national_significant_number(number)
        if number_region and shortnumberinfo.is_emergency_number(national, number_region):
            raise DestinationRefusedError(
                shown, "is an emergency number; switchboard never sends calls to it"
            )
        if not phonenumbers.is_valid_number(number):
            if len(national) <= 6 and shortnumberinfo.is_possible_short_number_for_region(number, region):
                raise DestinationRefusedError(shown, "is a short code; forward to a full phone number")
            raise DestinationRefusedError(shown, "is not a valid phone number")
        if number_region not in self.allowed_countries:
            allowed = ", ".join(self.allowed_countries)
            raise DestinationRefusedError(
                e164, f"is in {number_region or 'an unknown country'}; forwards may only go to {allowed}"
            )
        refused = _REFUSED_TYPES.get(phonenumbers.number_type(number))
        if refused:
            raise DestinationRefusedError(e164, refused)
        return e164

    def transfer_target(
        self,
        text: str,
        rules: TransferRules,
        voice_connector_arn: str = "",
        *,
        is_ours: Callable[[str], bool] | None = None,
    ) -> TransferTarget:
        """What a person (or a contact flow) named as a transfer target, checked and normalised,
        or :class:`~switchboard.domain.transfer.TransferTargetError` saying why not.

        ``sip:<user>[@host]`` (or any ``text`` with ``voice_connector_arn``) is a SIP user behind
        the voice connector (``rules.voice_connector_arn`` unless one is named); anything else a
        phone number. A phone number, and a SIP user that is one (``sip:312-555-0199``,
        ``sip:+19005550100``), passes this same destination policy and goes out in E.164. Then the
        check every surface shares (:meth:`TransferRules.check`) runs on the result, and
        ``is_ours`` (the phone inventory) refuses our own numbers.
        """
        text = text.strip()
        if is_sip_text(text) or voice_connector_arn:
            arn = voice_connector_arn or rules.voice_connector_arn
            user = sip_user(text) if is_sip_text(text) else text
            if not arn:
                rules.check_voice_connector(arn)  # "SIP transfers are not set up here"
            if SIP_USER.match(user) and rules.sip_user_kind(user) in ("number", "digits"):
                user = self._transfer_number(user)
            target = rules.check(user, arn)
            number = target.target if is_e164(target.target) else ""
        else:
            target = rules.check(self._transfer_number(text))
            number = target.target
        if number and is_ours is not None and is_ours(number):
            raise TransferTargetError(f"{number} is one of our own numbers; transfer to a person instead")
        return target

    def _transfer_number(self, text: str) -> str:
        try:
            return self.destination(text)
        except DestinationRefusedError as error:
            raise TransferTargetError(str(error)) from None

    def our_number(self, text: str) -> str:
        """Normalise one of *our* numbers. Lenient: it is matched against the phone inventory,
        not dialled, so any well-formed E.164 string is fine."""
        cleaned = text.strip()
        compact = _DIGITS_ONLY.sub("", cleaned)
        if compact.startswith("+") and is_e164(compact):
            return compact
        number = self.parse(cleaned)
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        # Typed the national way, a number too short to be one (`555`) would become "+1555".
        if not is_e164(e164) or not phonenumbers.is_possible_number(number):
            raise DestinationRefusedError(cleaned, "is not a phone number")
        return e164

    def destinations(self, texts: Iterable[str], *, subject: str = "A forward") -> tuple[str, ...]:
        """A forward's destinations as typed → normalised: the one check the CLI, the slash command
        and the form share, so they accept exactly the same destinations.

        Phone numbers pass :meth:`destination`; the word ``connect`` (any case), alone, makes an
        Amazon Connect entry number. Refusals name ``subject`` (our number) for problems of the
        list as a whole, and carry the ``index`` of the destination at fault.

        >>> DestinationPolicy().destinations(["(206) 555-0111", "Connect"])
        Traceback (most recent call last):
        ...
        switchboard.policy.DestinationRefusedError: A forward `connect` must be the only destination
        """
        wanted = [text.strip() for text in texts]
        if not wanted:
            raise DestinationRefusedError(subject, "needs at least one destination", index=0)
        if len(wanted) > MAX_DESTINATIONS:
            raise DestinationRefusedError(
                subject,
                f"can have at most {MAX_DESTINATIONS} destinations, got {len(wanted)}",
                index=MAX_DESTINATIONS,
            )
        connect_at = [i for i, text in enumerate(wanted) if text.lower() == CONNECT]
        if connect_at:
            if len(wanted) != 1:
                at = connect_at[0] or 1  # point at whichever entry sits beside `connect`
                raise DestinationRefusedError(subject, "`connect` must be the only destination", index=at)
            return (CONNECT,)
        normalised: list[str] = []
        for index, text in enumerate(wanted):
            try:
                destination = self.destination(text)
            except DestinationRefusedError as error:
                raise DestinationRefusedError(error.number, error.reason, index=index) from None
            if destination in normalised:
                raise DestinationRefusedError(
                    subject, f"lists the same destination twice ({destination})", index=index
                )
            normalised.append(destination)
        return tuple(normalised)

    def validate_forward(
        self,
        number: str,
        destinations: Iterable[str],
        existing: Mapping[str, ForwardRule],
        our_numbers: Iterable[str] | None = None,
        *,
        is_ours: Callable[[str], bool] | None = None,
    ) -> tuple[str, tuple[str, ...]]:
        """Check a whole forward request; return ``(our number, destinations)`` normalised.

        ``our_numbers`` (the phone inventory) is enforced when given: forwarding a number that is
        not ours is refused, and so is forwarding to one of ours (the call would come straight back
        into the account, paying for two legs, and a DNIS pool number would hand callers to Connect).
        ``is_ours`` refuses destinations that are ours without being ours to forward (the DNIS
        pool's numbers, ``MANAGED_NUMBERS``: :class:`switchboard.adapters.own_numbers.OwnNumbers`).
        """
        ours = self.our_number(number)
        inventory = _inventory(our_numbers)
        if our_numbers is not None and ours not in inventory:
            raise DestinationRefusedError(ours, NOT_OURS)
        normalised = self.destinations(destinations, subject=ours)
        self._check_targets(ours, normalised, existing, inventory, is_ours)
        return ours, normalised

    def validate_else_destinations(
        self,
        ours: str,
        destinations: Iterable[str],
        existing: Mapping[str, ForwardRule],
        our_numbers: Iterable[str] | None = None,
        *,
        is_ours: Callable[[str], bool] | None = None,
    ) -> tuple[str, ...]:
        """The destinations for outside business hours, normalised: the same checks as
        :meth:`validate_forward` applies to the destinations (toll fraud, loops, our own numbers),
        for ``ours`` as :meth:`validate_forward` returned it. ``index`` points into this list."""
        normalised = self.destinations(destinations, subject=f"{ours} outside business hours")
        inventory = _inventory(our_numbers)
        self._check_targets(ours, normalised, existing, inventory, is_ours)
        return normalised

    def _check_targets(
        self,
        ours: str,
        normalised: tuple[str, ...],
        existing: Mapping[str, ForwardRule],
        inventory: AbstractSet[str],
        is_ours: Callable[[str], bool] | None,
    ) -> None:
        if ours in normalised:
            raise DestinationRefusedError(ours, "cannot forward to itself", index=normalised.index(ours))
        loop = find_loops(ours, normalised, existing)
        if loop:
            raise DestinationRefusedError(ours, f"cannot be forwarded: {loop}")
        for index, destination in enumerate(normalised):
            if destination in inventory or (
                destination != CONNECT and is_ours is not None and is_ours(destination)
            ):
                raise DestinationRefusedError(
                    destination,
                    "is one of our own numbers; forward to the phone that should ring instead",
                    index=index,
                )


def _inventory(our_numbers: Iterable[str] | None) -> AbstractSet[str]:
    """Our numbers as a set; one already made (a run of many changes) is not copied per change."""
    if our_numbers is None:
        return frozenset()
    return our_numbers if isinstance(our_numbers, AbstractSet) else frozenset(our_numbers)
