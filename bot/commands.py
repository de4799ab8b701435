"""Parse the text of ``/forward`` into a command. Pure: no Slack, no AWS, no phone-number library.

Grammar (case-insensitive, numbers in any common format)::

    /forward                                   open the modal
    /forward <our-number> to <dest>[, <dest> …] [for <duration>] [greeting loop|once|none]
             [then prompt|hangup|voicemail [<seconds>]] [callerid dialed|caller] [timeout <seconds>]
             [<days> HH:MM-HH:MM <time zone> else to <dest>[, <dest> …]]   (business hours)
    /forward remove <our-number>               (alias: off)
    /forward list
    /forward status <our-number>
    /forward calls                             calls bridged right now
    /forward transfer <our-number|call-id> to <phone-number|sip:user>
    /forward help

Anything else is a :class:`CommandSyntaxError` whose message says what was wrong; the bot answers it
with the usage text, never a stack trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

USAGE = """*Forward our phone numbers*
• `/forward` — open the form
• `/forward +12025550100 to +12065550111, +13125550122` — forward, trying destinations in order
   options: `for 2h` (expires) · `greeting loop|once|none` · `then prompt|hangup|voicemail` (when nobody
   answers; `then voicemail 60s` sets the longest message, default 120 s)
   · `callerid dialed|caller` (what the destination sees) · `timeout 20` (seconds per destination)
   · `weekdays 09:00-17:30 America/Chicago else to +14155550133` (business hours, and where calls
   go outside them; days like `mon-fri`, `sat,sun`, `daily`; `22:00-06:00` runs overnight)
• `/forward +12025550100 to @sre-oncall` — forward to people: a user group rings its members in
   order, `@alice @bob` ring those people (the number in their Slack profile), kept in sync with Slack
• `/forward remove +12025550100` (or `off`) — stop forwarding; calls go to the phone system again
• `/forward list` — every forward · `/forward status +12025550100` — one forward, its live and last calls
• `/forward calls` — calls bridged right now
• `/forward transfer +12025550100 to +13125550199` — take the live call on that number back and
   transfer it (to a phone number, or `sip:<user>` on our phone system); a call id picks one of several
• `/forward help` — this text"""

_OPTION_WORDS = r"for|greeting|then|caller[- ]?id|timeout|ring"
_OPTION = re.compile(rf"\b({_OPTION_WORDS})\b\s*", re.IGNORECASE)
_SLACK_LINK = re.compile(r"<(?:tel:)?([^>|]*)(?:\|([^>]*))?>")
# A mention of a user or user group (switchboard.domain.people.MENTION): set aside while the text is
# parsed, so its label (``@on-call-for-sales``) is never read as an option word.
_MENTION = re.compile(r"<(?:@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+)(?:\|[^<>]*)?>")
_STASHED = re.compile(r"@@(\d+)@@")
_TO = re.compile(r"\s+to\s+", re.IGNORECASE)
_DAY_WORD = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|"
    r"sat(?:urday)?|sun(?:day)?|weekdays?|weekends?|daily|everyday)"
)
# Business hours: optional days, a window, then the time zone (checked later, by the service).
_HOURS = re.compile(
    rf"(?:\b(?P<days>{_DAY_WORD}(?:\s*[-–,]\s*{_DAY_WORD}|\s+{_DAY_WORD})*)\s+)?"
    r"(?P<window>\b[0-9]{1,2}:[0-9]{2}\s*[-–]\s*[0-9]{1,2}:[0-9]{2})\b"
    rf"(?:\s+(?!(?:else|{_OPTION_WORDS})\b)(?P<zone>[a-z][\w+-]*(?:/[\w+-]+)*))?",
    re.IGNORECASE,
)
_ELSE = re.compile(r"\belse\b(?:\s+to\b)?\s*", re.IGNORECASE)


# Far more than any real command (five destinations and every option fit in ~250 characters); the
# bound keeps pathological input (thousands of digits) away from int() and phonenumbers.
MAX_COMMAND_LENGTH = 1000
MAX_TIMEOUT_DIGITS = 3
MAX_NUMBER_LENGTH = 64  # "+1 (202) 555-0100 ext. …", a call id (UUID) or sip:user@host fit


class CommandSyntaxError(ValueError):
    """The text is not a ``/forward`` command we understand; the message says why."""


@dataclass(frozen=True, slots=True)
class OpenModal:
    pass


@dataclass(frozen=True, slots=True)
class ShowHelp:
    pass


@dataclass(frozen=True, slots=True)
class ListForwards:
    pass


@dataclass(frozen=True, slots=True)
class ShowStatus:
    number: str


@dataclass(frozen=True, slots=True)
class RemoveForward:
    number: str


@dataclass(frozen=True, slots=True)
class ListLiveCalls:
    pass


@dataclass(frozen=True, slots=True)
class TransferCall:
    """``call`` is one of our numbers or a call (transaction) id; ``target`` a number or ``sip:user``."""

    call: str
    target: str


@dataclass(frozen=True, slots=True)
class SetForward:
    number: str
    destinations: tuple[str, ...]
    expires_in: str | None = None
    greeting: str | None = None
    failure: str | None = None
    caller_id: str | None = None
    ring_timeout: int | None = None
    voicemail_max_seconds: int | None = None
    # Business hours (``mon-fri 09:00-17:30`` as typed) in ``timezone``, and the destinations
    # outside them (``else to …``), as typed: the service checks them like the destinations.
    hours: str | None = None
    timezone: str | None = None
    else_destinations: tuple[str, ...] = ()


Command = (
    OpenModal
    | ShowHelp
    | ListForwards
    | ShowStatus
    | RemoveForward
    | SetForward
    | ListLiveCalls
    | TransferCall
)


def _unlink(text: str) -> str:
    """Slack turns typed phone numbers into ``<tel:+1…|+1 …>`` links; keep what the user saw."""
    return _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)


def _bounded(text: str) -> str:
    """A number (or call id, or SIP target) as typed, refused when no number could be that long."""
    if len(text) > MAX_NUMBER_LENGTH:
        raise CommandSyntaxError(f"`{text[:20]}…` is too long to be a phone number or a call id")
    return text


def _one_number(text: str, what: str) -> str:
    number = text.strip()
    if not number:
        raise CommandSyntaxError(f"{what} needs one of our numbers, e.g. `/forward {what} +12025550100`")
    return _bounded(number)


def split_destinations(text: str) -> tuple[str, ...]:
    """``+1 206 555 0111, (312) 555-0122`` → two destinations; ``+1206… +1312…`` too."""
    parts: list[str] = []
    for chunk in re.split(r"\s*(?:,|;|\band\b|\bthen\b)\s*", text.strip(), flags=re.IGNORECASE):
        if not chunk:
            continue
        # Several E.164 numbers (or mentions) separated only by spaces: split before each "+" / "@@".
        pieces = [p.strip() for p in re.split(r"\s+(?=\+|@@)", chunk) if p.strip()]
        parts.extend(pieces)
    return tuple(parts)


def _options(text: str) -> dict[str, str]:
    """``for 2h greeting once then hangup`` → {"for": "2h", "greeting": "once", "then": "hangup"}."""
    found: dict[str, str] = {}
    matches = list(_OPTION.finditer(text))
    for index, match in enumerate(matches):
        key = re.sub(r"[- ]", "", match.group(1).lower())
        key = "timeout" if key == "ring" else key
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end() : end].strip()
        if not value:
            raise CommandSyntaxError(f"`{match.group(1)}` needs a value")
        if key in found:
            raise CommandSyntaxError(f"`{match.group(1)}` is given twice")
        found[key] = value
    return found


def _first_option(text: str) -> re.Match[str] | None:
    first_option = _OPTION.search(text)
    # "then" introduces the failure action only when followed by prompt/hangup; otherwise it is a
    # destination separator ("to A then B").
    while first_option and first_option.group(1).lower() == "then":
        tail = text[first_option.end() :].strip().lower()
        if tail.startswith(("prompt", "hangup", "hang up", "voicemail", "voice mail")):
            break
        first_option = _OPTION.search(text, first_option.end())
    return first_option


def _business_hours(rest: str) -> tuple[str, str | None, str | None, tuple[str, ...]]:
    """Take ``weekdays 09:00-17:30 America/Chicago`` and ``else to …`` out of ``rest``: what is
    left, the hours as typed, the time zone and the else destinations."""
    hours = timezone = None
    found = _HOURS.search(rest)
    if found is not None:
        hours = " ".join(part for part in (found.group("days"), found.group("window")) if part)
        timezone = found.group("zone")
        rest = f"{rest[: found.start()]} {rest[found.end() :]}"
    else_at = _ELSE.search(rest)
    if else_at is None:
        return rest, hours, timezone, ()
    after = rest[else_at.end() :]
    option = _first_option(after)
    else_text = after[: option.start()] if option else after
    else_destinations = tuple(_bounded(d) for d in split_destinations(else_text))
    if not else_destinations:
        raise CommandSyntaxError(
            "say where calls go outside business hours, e.g. "
            "`weekdays 09:00-17:30 America/Chicago else to +14155550133`"
        )
    rest = f"{rest[: else_at.start()]} {after[option.start() :] if option else ''}"
    return rest, hours, timezone, else_destinations


def _parse_set(number_text: str, rest: str) -> SetForward:
    number = _one_number(number_text, "forward")
    rest, hours, timezone, else_destinations = _business_hours(rest)
    first_option = _first_option(rest)
    destinations_text = rest[: first_option.start()] if first_option else rest
    options = _options(rest[first_option.start() :]) if first_option else {}
    destinations = tuple(_bounded(d) for d in split_destinations(destinations_text))
    if not destinations:
        raise CommandSyntaxError("say where to forward to, e.g. `/forward +12025550100 to +12065550111`")
    timeout: int | None = None
    if "timeout" in options:
        timeout = parse_seconds(options["timeout"].lower().removesuffix("seconds").removesuffix("s"))
        if timeout is None:
            raise CommandSyntaxError(f"timeout must be a number of seconds, not `{options['timeout'][:20]}`")
    failure = options.get("then")
    voicemail_max: int | None = None
    if failure is not None:
        failure = failure.lower().replace("hang up", "hangup").replace("voice mail", "voicemail")
        if failure.startswith("voicemail") and failure != "voicemail":
            voicemail_max = _voicemail_length(failure.removeprefix("voicemail"))
            failure = "voicemail"
    unknown = set(options) - {"for", "greeting", "then", "callerid", "timeout"}
    if unknown:
        raise CommandSyntaxError(f"unknown option(s): {', '.join(sorted(unknown))}")
    return SetForward(
        number=number,
        destinations=destinations,
        expires_in=options.get("for"),
        greeting=options.get("greeting"),
        failure=failure,
        caller_id=options.get("callerid"),
        ring_timeout=timeout,
        voicemail_max_seconds=voicemail_max,
        hours=hours,
        timezone=timezone,
        else_destinations=else_destinations,
    )


def _voicemail_length(text: str) -> int:
    """`` 90s`` · `` up to 2m`` · `` 45 seconds`` → seconds (bounds are the rule's to check)."""
    words = text.strip().removeprefix("up to").strip().removesuffix("seconds").removesuffix("s").strip()
    minutes = words.endswith("m") or words.endswith("minutes") or words.endswith("minute")
    number = parse_seconds(words.removesuffix("minutes").removesuffix("minute").removesuffix("m").strip())
    if number is None:
        raise CommandSyntaxError(
            f"`then voicemail` takes an optional length like `90s` or `2m`, not `{text.strip()[:20]}`"
        )
    return number * 60 if minutes else number


def parse_seconds(text: str) -> int | None:
    """``"20"`` → 20; None for anything but 1-3 ASCII digits (``²`` and ``٣`` are digits to
    ``str.isdigit`` but not to ``int``, or not what anyone means by a ring time)."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdecimal()) or len(digits) > MAX_TIMEOUT_DIGITS:
        return None
    return int(digits)


def _parse_transfer(rest: str) -> TransferCall:
    example = "e.g. `/forward transfer +12025550100 to +13125550199`"
    parts = _TO.split(f" {rest} ", maxsplit=1)
    if len(parts) != 2 or not parts[0].strip():
        raise CommandSyntaxError(f"say which call and where to, {example}")
    call, target = _bounded(parts[0].strip()), _bounded(parts[1].strip())
    if not target:
        raise CommandSyntaxError(f"say where to transfer the call, {example}")
    if len(target.split()) > 1 and not re.fullmatch(r"[+\d\s().-]+", target):
        raise CommandSyntaxError(f"transfer to one target, not `{target}`")
    return TransferCall(call=call, target=target)


def parse(text: str) -> Command:
    """The command in ``text`` (the slash command's text field)."""
    if len(text or "") > MAX_COMMAND_LENGTH:
        raise CommandSyntaxError(
            f"that is too long for a /forward command (at most {MAX_COMMAND_LENGTH} characters)"
        )
    mentions: list[str] = []

    def stash(match: re.Match[str]) -> str:
        mentions.append(match.group(0))
        return f" @@{len(mentions) - 1}@@ "

    cleaned = " ".join(_unlink(_MENTION.sub(stash, text or "")).split())
    if not cleaned:
        return OpenModal()
    parsed = _parse_cleaned(cleaned)
    if mentions and isinstance(parsed, SetForward):
        return replace(
            parsed,
            destinations=tuple(_restore(d, mentions) for d in parsed.destinations),
            else_destinations=tuple(_restore(d, mentions) for d in parsed.else_destinations),
        )
    return parsed


def _restore(text: str, mentions: list[str]) -> str:
    return _STASHED.sub(lambda m: mentions[int(m.group(1))] if int(m.group(1)) < len(mentions) else "", text)


def _parse_cleaned(cleaned: str) -> Command:
    word, _, rest = cleaned.partition(" ")
    verb = word.lower()
    if verb in ("help", "-h", "--help", "?"):
        return ShowHelp()
    if verb == "list":
        if rest:
            raise CommandSyntaxError("`list` takes no arguments")
        return ListForwards()
    if verb == "status":
        return ShowStatus(_one_number(rest, "status"))
    if verb in ("remove", "off", "delete", "stop"):
        return RemoveForward(_one_number(rest, verb))
    if verb in ("calls", "live"):
        if rest:
            raise CommandSyntaxError(
                f"`{verb}` takes no arguments; `/forward status <number>` shows one number"
            )
        return ListLiveCalls()
    if verb == "transfer":
        return _parse_transfer(rest)
    parts = _TO.split(cleaned, maxsplit=1)
    if len(parts) == 2:
        return _parse_set(parts[0], parts[1])
    raise CommandSyntaxError(f"I don't understand `{cleaned}`")
