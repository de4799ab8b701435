"""Forward rules: what happens when somebody dials one of our numbers.

A :class:`ForwardRule` is plain data. It knows nothing about DynamoDB, Slack or PSTN Audio JSON, so
the SIP media application handler, the Slack bot, the CLI and a future Amazon Connect backend all
share one definition of "forward +15550100 to these destinations, in this order".

Destinations are stored already normalised to E.164. Validating a *new* destination (is it a real
number, an allowed country, not premium rate...) is the job of :mod:`switchboard.policy`, which
needs ``phonenumbers``; keeping that out of this module keeps the SMA hot path light.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    # Annotations only: a rule with hours or people carries instances made by whoever built it, so
    # the call path imports neither module (nor zoneinfo) for the rules that use neither.
    from switchboard.domain.hours import BusinessHours
    from switchboard.domain.people import DestinationSource

MAX_DESTINATIONS = 5
MIN_RING_TIMEOUT = 1
MAX_RING_TIMEOUT = 120
DEFAULT_RING_TIMEOUT = 30
# Voicemail length bounds (seconds): long enough for a name, a number and a reason; short enough
# that a stuck line or a pocket-dial does not fill the recordings bucket.
MIN_VOICEMAIL_SECONDS = 10
MAX_VOICEMAIL_SECONDS = 300
DEFAULT_VOICEMAIL_SECONDS = 120
# The one non-number destination: hand calls to Amazon Connect through the DNIS pool, where an
# agent can take them back and transfer them (see docs/transfer.md).
CONNECT = "connect"

_Choice = TypeVar("_Choice", bound=StrEnum)

_E164 = re.compile(r"^\+[1-9][0-9]{1,14}\Z")  # \d, $ would pass non-ASCII digits, a final \n


class RuleError(ValueError):
    """A rule that cannot exist (wrong number of destinations, timeout out of range...)."""


class GreetingMode(StrEnum):
    """How the caller hears the greeting while we reach the destination."""

    LOOP = "loop"  # greeting repeats as the ringback tone until the destination answers
    ONCE = "once"  # greeting plays in full once, then we dial
    NONE = "none"  # caller hears the destination ringing straight away


class FailureAction(StrEnum):
    """What the caller gets once every destination has failed."""

    PROMPT = "prompt"  # play the failure prompt, then hang up
    HANGUP = "hangup"
    VOICEMAIL = "voicemail"  # greeting, record a message for the alert thread, thank the caller


class CallerIdMode(StrEnum):
    """Which number the destination sees as the caller."""

    DIALED = "dialed"  # our number: hides both parties' numbers from each other
    CALLER = "caller"  # the original caller's number (LEG-A From)


def is_e164(number: str) -> bool:
    """True for a syntactically valid E.164 string (``+`` then 2-15 digits)."""
    return bool(_E164.match(number))


def parse_choice(enum: type[_Choice], value: str, what: str) -> _Choice:
    """Parse a case-insensitive enum value with an error that lists the choices."""
    try:
        return enum(value.strip().lower())
    except ValueError:
        choices = " | ".join(member.value for member in enum)
        raise RuleError(f"{what} must be one of {choices}, not {value!r}") from None


CONNECT_PRODUCT = "AmazonConnect"


@dataclass(frozen=True, slots=True)
class NumberHome:
    """Where one of our numbers was routed before its first forward, restored when forwarding ends.

    ``product_type`` is the Chime SDK Voice product type (``VoiceConnector``...), and
    ``voice_connectors`` the voice connector ids it was associated with (empty: it was on none).
    A number in Amazon Connect has product type :data:`CONNECT_PRODUCT` and ``contact_flow``, the
    flow it was associated with (empty: none known).
    """

    product_type: str
    voice_connectors: tuple[str, ...] = ()
    contact_flow: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "voice_connectors", tuple(self.voice_connectors))

    def describe(self) -> str:
        if self.product_type == CONNECT_PRODUCT:
            return f"Amazon Connect flow {self.contact_flow or '(none known)'}"
        if not self.voice_connectors:
            return f"product type {self.product_type}, no voice connector"
        return f"product type {self.product_type}, voice connector {', '.join(self.voice_connectors)}"


@dataclass(frozen=True, slots=True)
class ForwardRule:
    """Forward calls to ``number`` (one of ours) to ``destinations``, tried in order (follow-me).

    ``version`` is the optimistic-concurrency counter: 0 means "not stored yet"; the repository
    refuses a write whose version is not the stored one, so two racing edits cannot overwrite each
    other silently.

    >>> rule = ForwardRule(number="+12025550100", destinations=("+12025550199",))
    >>> rule.greeting, rule.failure, rule.caller_id, rule.ring_timeout
    (<GreetingMode.LOOP: 'loop'>, <FailureAction.PROMPT: 'prompt'>, <CallerIdMode.DIALED: 'dialed'>, 30)
    """

    number: str
    destinations: tuple[str, ...]
    greeting: GreetingMode = GreetingMode.LOOP
    failure: FailureAction = FailureAction.PROMPT
    caller_id: CallerIdMode = CallerIdMode.DIALED
    ring_timeout: int = DEFAULT_RING_TIMEOUT
    # Longest message a caller may leave when ``failure`` is voicemail (kept when it is not, so
    # switching back restores the operator's choice).
    voicemail_max_seconds: int = DEFAULT_VOICEMAIL_SECONDS
    expires_at: int | None = None  # epoch seconds; the rule is inactive from then on
    created_by: str = ""
    updated_by: str = ""
    updated_at: str = ""  # ISO 8601 UTC
    version: int = 0
    # Where the number was before its first forward (kept across edits; None for rules stored
    # before this was recorded): removing the forward puts the number back there.
    home: NumberHome | None = None
    # Business hours: inside them calls go to ``destinations``, outside to ``else_destinations``
    # (both or neither are set; see :meth:`destinations_at`).
    hours: BusinessHours | None = None
    else_destinations: tuple[str, ...] = ()
    # Where the destinations came from when the forward names people (Slack users, user groups);
    # empty for a forward to numbers only. ``destinations`` always holds the resolved numbers.
    sources: tuple[DestinationSource, ...] = ()
    # The same for ``else_destinations`` (``else to @sre-oncall``); empty for numbers only.
    else_sources: tuple[DestinationSource, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not is_e164(self.number):
            raise RuleError(f"our number must be in E.164 form (+countrycode...), not {self.number!r}")
        _check_destinations(self.destinations, "a forward")
        if self.hours is not None or self.else_destinations:
            if self.hours is None:
                raise RuleError("destinations for outside business hours need business hours")
            if not self.else_destinations:
                raise RuleError(
                    "business hours need somewhere for calls outside them to go: else to <destination>"
                )
            _check_destinations(self.else_destinations, "outside business hours a forward")
        if not MIN_RING_TIMEOUT <= self.ring_timeout <= MAX_RING_TIMEOUT:
            raise RuleError(
                f"ring timeout must be {MIN_RING_TIMEOUT}-{MAX_RING_TIMEOUT} seconds, got {self.ring_timeout}"
            )
        if type(self.voicemail_max_seconds) is not int or not (
            MIN_VOICEMAIL_SECONDS <= self.voicemail_max_seconds <= MAX_VOICEMAIL_SECONDS
        ):
            raise RuleError(
                f"voicemail length must be {MIN_VOICEMAIL_SECONDS}-{MAX_VOICEMAIL_SECONDS} seconds,"
                f" got {self.voicemail_max_seconds}"
            )
        # Enums arrive as strings from storage and forms; coerce once here so callers can rely on types.
        object.__setattr__(self, "greeting", parse_choice(GreetingMode, str(self.greeting), "greeting"))
        object.__setattr__(self, "failure", parse_choice(FailureAction, str(self.failure), "failure action"))
        object.__setattr__(self, "caller_id", parse_choice(CallerIdMode, str(self.caller_id), "caller ID"))
        object.__setattr__(self, "destinations", tuple(self.destinations))
        object.__setattr__(self, "else_destinations", tuple(self.else_destinations))
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "else_sources", tuple(self.else_sources))

    @property
    def is_connect_entry(self) -> bool:
        """Calls (in business hours, if the rule has them) go to Amazon Connect through a DNIS pair."""
        return self.destinations == (CONNECT,)

    @property
    def uses_connect(self) -> bool:
        """Either branch hands calls to Amazon Connect, so the rule needs the DNIS pool."""
        return CONNECT in (*self.destinations, *self.else_destinations)

    @property
    def all_destinations(self) -> tuple[str, ...]:
        """Every destination the rule may ring, either branch (for loop and policy checks)."""
        return (*self.destinations, *(d for d in self.else_destinations if d not in self.destinations))

    def in_hours(self, now: float) -> bool:
        """True when calls at ``now`` (epoch seconds) go to ``destinations`` rather than the else branch."""
        return self.hours is None or self.hours.is_open(now)

    def destinations_at(self, now: float) -> tuple[str, ...]:
        """The destinations a call at ``now`` (epoch seconds) rings: the business-hours branch
        decides, from the rule alone (the call path reads nothing more)."""
        return self.destinations if self.in_hours(now) else self.else_destinations

    def connect_entry_at(self, now: float) -> bool:
        """A call at ``now`` goes to Amazon Connect through a DNIS pair."""
        return self.destinations_at(now) == (CONNECT,)

    @property
    def names_people(self) -> bool:
        """Some destinations come from Slack users or user groups (kept in sync with Slack)."""
        return any(source.is_person for source in (*self.sources, *self.else_sources))

    @property
    def answered_by_connect(self) -> bool:
        """Amazon Connect handles this number's calls (it forwards to Connect, or its home is a
        Connect instance whose flow does the forwarding), not the SIP media application."""
        return self.uses_connect or (self.home is not None and self.home.product_type == CONNECT_PRODUCT)

    def is_active(self, now: float) -> bool:
        """A rule past its ``expires_at`` no longer forwards, even before anything deletes it."""
        return self.expires_at is None or now < self.expires_at

    def with_changes(self, **changes: Any) -> ForwardRule:
        """A copy with ``changes`` applied (and validated again)."""
        return replace(self, **changes)


def _check_destinations(destinations: tuple[str, ...], what: str) -> None:
    if not 1 <= len(destinations) <= MAX_DESTINATIONS:
        raise RuleError(f"{what} needs 1 to {MAX_DESTINATIONS} destinations, got {len(destinations)}")
    if CONNECT in destinations and tuple(destinations) != (CONNECT,):
        raise RuleError("`connect` cannot be combined with other destinations")
    for destination in destinations:
        if destination != CONNECT and not is_e164(destination):
            raise RuleError(f"destination {destination!r} is not in E.164 form")
    if len(set(destinations)) != len(destinations):
        raise RuleError("the same destination is listed twice")


class RuleIndex(MutableMapping[str, "ForwardRule"]):
    """Rules by our number that also know which numbers forward *to* each number, so the loop
    check (:func:`find_loops`) of a run of many changes costs the destinations it checks, not a
    walk over every rule: the re-resolution of 1,000 forwards naming one group stays linear."""

    def __init__(self, rules: Iterable[ForwardRule] = ()) -> None:
        self._rules: dict[str, ForwardRule] = {}
        self._callers: dict[str, set[str]] = {}
        for rule in rules:
            self[rule.number] = rule

    def __getitem__(self, number: str) -> ForwardRule:
        return self._rules[number]

    def __setitem__(self, number: str, rule: ForwardRule) -> None:
        self._forget(number)
        self._rules[number] = rule
        for destination in rule.all_destinations:
            self._callers.setdefault(destination, set()).add(number)

    def __delitem__(self, number: str) -> None:
        self._forget(number)
        del self._rules[number]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, number: object) -> bool:
        return number in self._rules

    def forwarding_to(self, number: str) -> list[str]:
        """Our numbers whose rules may ring ``number``, in number order."""
        return sorted(self._callers.get(number, ()))

    def _forget(self, number: str) -> None:
        previous = self._rules.get(number)
        if previous is not None:
            for destination in previous.all_destinations:
                self._callers.get(destination, set()).discard(number)


def find_loops(number: str, destinations: tuple[str, ...], existing: Mapping[str, ForwardRule]) -> str | None:
    """Explain why forwarding ``number`` to ``destinations`` would chain or loop, or return None.

    A destination that is itself forwarded would send the call back into our SIP media application,
    and a number that some other rule forwards *to* would become a hop in a chain. Both burn two legs
    per hop and can ring forever, so the bot and CLI refuse them. ``existing`` maps our numbers to
    their current rules; the rule being replaced (``number``'s own) is ignored.
    """
    for destination in destinations:
        if destination == number:
            return f"{destination} cannot forward to itself"
        if destination in existing and destination != number:
            return (
                f"{destination} is one of our forwarded numbers: forwarding to it would chain or loop calls"
            )
    if isinstance(existing, RuleIndex):
        callers = existing.forwarding_to(number)
    else:
        callers = sorted(other for other, rule in existing.items() if number in rule.all_destinations)
    for other in callers:
        if other != number:
            return (
                f"{other} already forwards to {number}: forwarding {number} as well would chain or loop calls"
            )
    return None
