"""Setting and removing forwards: validation, the table write and the routing change, kept consistent.

The CLI and the Slack bot both call :class:`ForwardingService`; neither talks to the table or to
Chime SDK Voice directly, so "what a forward change does" is defined once.

Consistency rule: *a number has a stored rule if and only if it is routed to the SIP media
application.* Every change is ordered so a failure at any step can be undone:

* **set**: write the rule (conditional on the version read), then route the number to the SMA.
  If routing fails, the rule write is undone (previous rule restored, or the new one deleted).
  Until routing completes, calls still reach the voice connector as before: nobody hears
  "not in service" because of a half-applied change.
* **remove**: route the number back to the voice connector first, then delete the rule. If the
  delete fails, the number is routed to the SMA again, where the rule still forwards calls.

Both are idempotent: repeating a change that is already in effect writes nothing and only
re-asserts the routing (which is itself idempotent), so Slack retries cannot apply a change twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from switchboard.domain.durations import DurationError, parse_duration
from switchboard.domain.hours import BusinessHours, HoursError, parse_hours
from switchboard.domain.people import DestinationSource
from switchboard.domain.rules import (
    CONNECT,
    CallerIdMode,
    FailureAction,
    ForwardRule,
    GreetingMode,
    NumberHome,
    RuleError,
    RuleIndex,
    parse_choice,
)
from switchboard.policy import NOT_OURS, DestinationPolicy, DestinationRefusedError
from switchboard.ports import (
    ConflictError,
    ForwardRepository,
    NoHomeError,
    NumberPlacementError,
    NumberRouting,
    OwnNumbersCheck,
    PhoneInventory,
    RoutingError,
    StorageError,
)
from switchboard.wording import (
    ELSE_OPTION,
    HOURS_EXAMPLE,
    calls_go_home,
    forwarding_place,
    home_place,
    in_connect,
    rule_summary,
    state_text,
    voicemail_refusal,
)

# A change holds its number's guard at most this long: longer than the bot Lambda's timeout (60 s)
# so a live holder never loses it; a crashed holder blocks the number for at most this long.
CHANGE_LEASE_SECONDS = 90
# How long a change waits for another one on the same number to finish before giving up.
GUARD_ATTEMPTS = 6
GUARD_RETRY_SECONDS = 0.5


class RefusedError(ValueError):
    """The request itself is wrong (bad number, bad option, not ours...). Nothing was changed."""


class AlreadyForwardedError(RefusedError):
    """A *new* forward (``expected_version == 0``) was asked for a number that already has one."""

    def __init__(self, current: ForwardRule) -> None:
        super().__init__(
            f"{current.number} is already forwarded: {rule_summary(current)}. "
            "Use Edit to change that forward. Nothing was changed."
        )
        self.current = current


class ChangeFailedError(RuntimeError):
    """The change could not be applied. ``consistent`` says whether everything was put back.

    ``str(error)`` is a plain sentence for people; ``detail`` is the technical cause (AWS error
    codes and messages, which may name resources) for the log, never for Slack.
    """

    def __init__(self, message: str, *, consistent: bool = True, detail: str = "") -> None:
        super().__init__(message)
        self.consistent = consistent
        self.detail = detail


def describe_state(rule: ForwardRule | None) -> str:
    return state_text(rule)


class ConcurrentChangeError(ChangeFailedError):
    """Someone else changed the forward between the user's read and this change; nothing was changed.

    ``current`` is the stored rule as it is now (None: no forward), so surfaces can show it.
    """

    def __init__(
        self, number: str, current: ForwardRule | None, *, detail: str = "", in_progress: bool = False
    ) -> None:
        what = (
            "is being changed by someone else right now"
            if in_progress
            else "was changed by someone else just now"
        )
        super().__init__(
            f"The forward on {number} {what}; it is now: {describe_state(current)}. Nothing was changed.",
            detail=detail,
        )
        self.in_progress = in_progress
        self.number = number
        self.current = current


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """A forward as a person asked for it; options left ``None`` keep the current rule's value."""

    number: str
    destinations: Sequence[str]
    greeting: str | None = None
    failure: str | None = None
    caller_id: str | None = None
    ring_timeout: int | None = None
    voicemail_max_seconds: int | None = None  # the longest message, when failure is voicemail
    expires_in: str | None = None  # "2h"; absent means the forward does not expire
    # Business hours ("mon-fri 09:00-17:30") in ``timezone`` (IANA), with where calls go outside
    # them. Like the expiry, absent means none: the forward rings ``destinations`` at all hours.
    hours: str | None = None
    timezone: str | None = None
    else_destinations: Sequence[str] = ()
    # The version the person was looking at (e.g. when the edit form opened): a change made by
    # someone else since then is refused instead of silently overwritten. None: no such check.
    expected_version: int | None = None
    # Where ``destinations`` came from when they name people (switchboard.people resolves them);
    # they replace the rule's sources: a request of numbers only (the CLI) leaves none.
    sources: tuple[DestinationSource, ...] = ()
    else_sources: tuple[DestinationSource, ...] = ()


@dataclass
class ChangeContext:
    """What a run of many changes reads once (the re-resolution of every rule naming a group):
    the stored rules, for the loop check, our numbers, and the own-numbers check's sources (the
    DNIS pool). Each change then costs a constant number of table requests, whatever the number of
    rules; the writes' conditions (``unforwarded``, the version) still catch what changed meanwhile."""

    existing: RuleIndex
    ours: frozenset[str] | None
    is_ours: Callable[[str], bool] | None = None


@dataclass(frozen=True, slots=True)
class ChangeResult:
    action: str  # "set" | "remove"
    number: str
    old: ForwardRule | None
    new: ForwardRule | None
    changed: bool
    routing_steps: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.action == "set":
            assert self.new is not None
            if not self.changed:
                return f"Already forwarding {rule_summary(self.new)}; nothing changed."
            verb = "Updated" if self.old else "Now forwarding"
            return f"{verb} {rule_summary(self.new)}."
        if not self.changed:
            return f"There is no forward on {self.number}; nothing to remove."
        return f"Removed the forward on {self.number}; {calls_go_home(self.old.home if self.old else None)}."


def business_hours(hours: str | None, timezone: str | None, *, has_else: bool) -> BusinessHours | None:
    """Business hours as asked for, checked: hours, a time zone and else destinations come
    together (every surface asks the same questions, in these words)."""
    if not hours:
        if has_else:
            raise RefusedError(
                f"Destinations for outside business hours need business hours, e.g. {HOURS_EXAMPLE}. "
                "Nothing was changed."
            )
        return None
    if not has_else:
        raise RefusedError(
            f"Business hours need somewhere for calls outside them to go: {ELSE_OPTION}. Nothing was changed."
        )
    if not timezone:
        raise RefusedError(
            "Business hours need a time zone, e.g. America/Chicago or Europe/London. Nothing was changed."
        )
    try:
        return parse_hours(hours, timezone)
    except HoursError as error:
        raise RefusedError(f"{error}. Nothing was changed.") from None


def _version(rule: ForwardRule | None) -> int:
    return rule.version if rule is not None else 0


def _unchanged(seen: ForwardRule | None, now: ForwardRule | None) -> bool:
    """``now`` is still the rule that was read as ``seen``.

    Versions restart at 1 when a forward is removed and set again, so the version alone cannot
    tell a re-created forward from the one that was read: compare who wrote it when, and what.
    """
    if seen is None or now is None:
        return seen is now
    return (
        seen.version == now.version
        and seen.updated_at == now.updated_at
        and seen.updated_by == now.updated_by
        and _same_forward(seen, now)
    )


def _same_forward(a: ForwardRule, b: ForwardRule) -> bool:
    return _forward_fields(a) == _forward_fields(b)


def _forward_fields(rule: ForwardRule) -> tuple[object, ...]:
    """What a forward does with a call (not who set it when)."""
    return (
        rule.destinations,
        rule.greeting,
        rule.failure,
        rule.caller_id,
        rule.ring_timeout,
        rule.voicemail_max_seconds,
        rule.expires_at,
        rule.hours,
        rule.else_destinations,
        rule.sources,
        rule.else_sources,
    )


class ForwardingService:
    def __init__(
        self,
        rules: ForwardRepository,
        routing: NumberRouting | None,
        inventory: PhoneInventory | None,
        policy: DestinationPolicy,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        on_inconsistent: Callable[[ChangeFailedError], None] | None = None,
        own_numbers: Callable[[str], bool] | None = None,
        inventory_scope: str = "",
    ) -> None:
        """``inventory_scope``: which numbers the inventory covers, said when a number is not in it
        (" (…)"), when that is narrower than the deployment's numbers could be."""
        self._sleep = sleep
        self._inventory_scope = inventory_scope
        # Numbers that are ours without being in the inventory (the DNIS pool's): never a destination.
        self._own_numbers = own_numbers
        self._on_inconsistent = on_inconsistent
        self._rules = rules
        self._routing = routing
        self._inventory = inventory
        self._policy = policy
        self._clock = clock

    # -- queries ------------------------------------------------------------------------------

    def list_forwards(self) -> list[ForwardRule]:
        return self._rules.list_rules()

    def get_forward(self, number: str) -> ForwardRule | None:
        return self._rules.get(self.our_number(number))

    def stored_forward(self, number_text: str) -> ForwardRule | None:
        """The stored rule for ``number_text`` without asking the phone inventory: one table read,
        cheap enough for Slack's 3 s acknowledgement. Changes still check the inventory."""
        try:
            return self._rules.get(self._policy.our_number(number_text))
        except DestinationRefusedError as error:
            raise RefusedError(str(error)) from None

    def inventory_numbers(self) -> list[str]:
        """Our numbers (the phone inventory), for pickers; empty when there is no inventory."""
        return self._inventory.our_numbers() if self._inventory is not None else []

    def now(self) -> float:
        return self._clock()

    def our_number(self, text: str) -> str:
        """Normalise and check that ``text`` is one of our numbers."""
        try:
            number = self._policy.our_number(text)
        except DestinationRefusedError as error:
            raise RefusedError(str(error)) from None
        if self._inventory is not None and number not in self._inventory.our_numbers():
            raise RefusedError(f"{number} {NOT_OURS}{self._inventory_scope}")
        return number

    def _refused(self, error: DestinationRefusedError) -> RefusedError:
        """The refusal for people, saying which numbers are ours when that was the reason."""
        return RefusedError(str(error) + (self._inventory_scope if error.reason == NOT_OURS else ""))

    # -- changes ------------------------------------------------------------------------------

    def set_forward(self, request: ForwardRequest, *, actor: str) -> ChangeResult:
        return self._reported(lambda: self._set_forward(request, actor))

    def _reported(self, change: Callable[[], ChangeResult]) -> ChangeResult:
        """Run a change; a failure that left routing and table disagreeing is also reported."""
        try:
            return change()
        except ChangeFailedError as error:
            if not error.consistent and self._on_inconsistent is not None:
                self._on_inconsistent(error)
            raise

    def _set_forward(self, request: ForwardRequest, actor: str) -> ChangeResult:
        existing = {rule.number: rule for rule in self._rules.list_rules()}
        ours = self._inventory.our_numbers() if self._inventory is not None else None
        try:
            number, destinations = self._policy.validate_forward(
                request.number, request.destinations, existing, ours, is_ours=self._own_numbers
            )
            else_destinations = (
                self._policy.validate_else_destinations(
                    number, request.else_destinations, existing, ours, is_ours=self._own_numbers
                )
                if request.else_destinations
                else ()
            )
        except DestinationRefusedError as error:
            raise self._refused(error) from None
        hours = business_hours(request.hours, request.timezone, has_else=bool(else_destinations))
        seen = self._rules.get(number)
        if request.expected_version == 0 and seen is not None:
            raise AlreadyForwardedError(seen)
        acted_on = request.expected_version if request.expected_version is not None else _version(seen)
        if acted_on != _version(seen):
            raise ConcurrentChangeError(number, seen)
        with self._change_guard(number):
            previous = self._rules.get(number)
            if _version(previous) != acted_on or not _unchanged(seen, previous):
                raise ConcurrentChangeError(number, previous)
            return self._apply_set(
                number, destinations, request, previous, actor, after_hours=(hours, else_destinations)
            )

    def _apply_set(
        self,
        number: str,
        destinations: tuple[str, ...],
        request: ForwardRequest,
        previous: ForwardRule | None,
        actor: str,
        *,
        after_hours: tuple[BusinessHours | None, tuple[str, ...]] = (None, ()),
    ) -> ChangeResult:
        wanted = self._build_rule(number, destinations, request, previous, after_hours)
        if previous is None:
            # Learnt before the number first leaves its place, stored with the rule, restored on
            # removal; edits keep it (``_build_rule`` starts from the previous rule).
            wanted = wanted.with_changes(home=self._home(number))
        refusal = voicemail_refusal(wanted)
        if refusal:
            raise RefusedError(refusal)
        if previous is not None and _same_forward(previous, wanted):
            steps = self._route(number, to_forwarding=True, home=previous.home)
            return ChangeResult("set", number, previous, previous, changed=False, routing_steps=steps)
        return self._store_and_route(number, wanted, previous, actor)

    def change_context(self, rules: Iterable[ForwardRule] | None = None) -> ChangeContext:
        """Read once what :meth:`update_sources` checks, for a run of many updates; ``rules`` is
        a listing the caller has just made (:meth:`list_forwards`), read again otherwise."""
        ours = frozenset(self._inventory.our_numbers()) if self._inventory is not None else None
        listed = self._rules.list_rules() if rules is None else rules
        is_ours = self._own_numbers
        if isinstance(is_ours, OwnNumbersCheck):
            is_ours = is_ours.snapshot()
        return ChangeContext(RuleIndex(listed), ours, is_ours)

    def update_sources(
        self,
        seen: ForwardRule,
        destinations: Sequence[str],
        sources: tuple[DestinationSource, ...],
        *,
        actor: str,
        context: ChangeContext | None = None,
        after_hours: tuple[Sequence[str], tuple[DestinationSource, ...]] | None = None,
    ) -> ChangeResult:
        """Replace the destinations (and their sources) of the forward ``seen``, keeping every other
        setting, expiry included: the re-resolution of a forward that names people. Only that
        version is changed (:class:`ConcurrentChangeError` otherwise); checked like any forward."""
        return self._reported(
            lambda: self._update_sources(
                seen, destinations, sources, actor=actor, context=context, after_hours=after_hours
            )
        )

    def _update_sources(
        self,
        seen: ForwardRule,
        destinations: Sequence[str],
        sources: tuple[DestinationSource, ...],
        *,
        actor: str,
        context: ChangeContext | None,
        after_hours: tuple[Sequence[str], tuple[DestinationSource, ...]] | None,
    ) -> ChangeResult:
        context = context or self.change_context()
        try:
            number, normalised = self._policy.validate_forward(
                seen.number, destinations, context.existing, context.ours, is_ours=context.is_ours
            )
            else_changes: dict[str, object] = {}
            if after_hours is not None and seen.hours is not None:
                else_changes = {
                    "else_destinations": self._policy.validate_else_destinations(
                        number, after_hours[0], context.existing, context.ours, is_ours=context.is_ours
                    ),
                    "else_sources": tuple(after_hours[1]),
                }
        except DestinationRefusedError as error:
            raise self._refused(error) from None
        with self._change_guard(number):
            previous = self._rules.get(number)
            if previous is None or not _unchanged(seen, previous):
                raise ConcurrentChangeError(number, previous)
            try:
                wanted = previous.with_changes(
                    destinations=normalised, sources=tuple(sources), **else_changes
                )
            except RuleError as error:
                raise RefusedError(str(error)) from None
            if _same_forward(previous, wanted):
                return ChangeResult("set", number, previous, previous, changed=False)
            # No routing step: the number has a rule, so it is on the SIP media application already,
            # and new destinations change nothing there. 1,000 forwards naming one group are then
            # 4 table calls each, not 4 + 2 Chime SDK Voice calls (docs/performance.md).
            stored = self._store(number, wanted, previous, actor)
            result = ChangeResult("set", number, previous, stored, changed=True)
        if result.new is not None:
            context.existing[number] = result.new
        return result

    def _store_and_route(
        self, number: str, wanted: ForwardRule, previous: ForwardRule | None, actor: str
    ) -> ChangeResult:
        stored = self._store(number, wanted, previous, actor)
        try:
            steps = self._route(number, to_forwarding=True, home=stored.home)
        except ChangeFailedError as error:
            self._undo_save(previous, stored, actor, error)
            raise ChangeFailedError(
                f"{error}. The forward was not changed.", consistent=error.consistent, detail=error.detail
            ) from error
        return ChangeResult("set", number, previous, stored, changed=True, routing_steps=steps)

    def _store(
        self, number: str, wanted: ForwardRule, previous: ForwardRule | None, actor: str
    ) -> ForwardRule:
        """The conditional write of ``wanted`` (with its history item); refusals and conflicts as
        :class:`RefusedError` / :class:`ConcurrentChangeError`."""
        # The loop check above read these as not forwarded; the write re-checks it atomically, so
        # two concurrent sets (A→B, B→A) cannot both pass it.
        unforwarded = tuple(d for d in wanted.all_destinations if d != CONNECT)
        try:
            stored = self._rules.save(wanted, actor=actor, previous=previous, unforwarded=unforwarded)
        except ConflictError as error:
            current = self._rules.get(number)
            if _version(current) == _version(previous):
                self._refuse_new_loop(number, unforwarded, str(error))
            raise ConcurrentChangeError(number, current, detail=str(error)) from error
        except StorageError as error:
            raise ChangeFailedError(
                "Could not save the forward. Nothing was changed.", detail=str(error)
            ) from error
        return stored

    def _refuse_new_loop(self, number: str, destinations: tuple[str, ...], detail: str) -> None:
        """The save lost to a forward created meanwhile on one of ``destinations``: say which."""
        for destination in destinations:
            if self._rules.get(destination) is not None:
                raise RefusedError(
                    f"{destination} was forwarded by someone else just now: forwarding {number} to it "
                    "would chain or loop calls. Nothing was changed."
                )

    def remove_forward(
        self,
        number_text: str,
        *,
        actor: str,
        expected_version: int | None = None,
        expected: ForwardRule | None = None,
    ) -> ChangeResult:
        return self._reported(
            lambda: self._remove_forward(
                number_text, actor=actor, expected_version=expected_version, expected=expected
            )
        )

    def _remove_forward(
        self,
        number_text: str,
        *,
        actor: str,
        expected_version: int | None,
        expected: ForwardRule | None,
    ) -> ChangeResult:
        """Remove the forward; only the one the caller acted on, else :class:`ConcurrentChangeError`.

        ``expected`` is the rule the caller saw (the expiry job passes the rule it found expired,
        so a forward set again since, even one that restarted at the same version, is kept);
        ``expected_version`` checks the version only. Without either, the rule read first is the
        one removed.
        """
        number = self.our_number(number_text)
        seen = self._rules.get(number)
        if expected is not None and not _unchanged(expected, seen):
            raise ConcurrentChangeError(number, seen)
        if expected_version is not None and expected_version != _version(seen):
            raise ConcurrentChangeError(number, seen)
        if seen is None:
            return ChangeResult("remove", number, None, None, changed=False)
        with self._change_guard(number):
            previous = self._rules.get(number)
            if previous is None or not _unchanged(seen, previous):
                raise ConcurrentChangeError(number, previous)
            return self._apply_remove(number, previous, actor)

    def _apply_remove(self, number: str, previous: ForwardRule, actor: str) -> ChangeResult:
        try:
            steps = self._route(number, to_forwarding=False, home=previous.home)
        except ChangeFailedError as error:
            raise ChangeFailedError(
                f"{error}. The forward is still in place.", consistent=error.consistent, detail=error.detail
            ) from error
        try:
            self._rules.delete(number, expected_version=previous.version, actor=actor, previous=previous)
        except (ConflictError, StorageError) as error:
            return self._after_failed_delete(number, previous, steps, error)
        return ChangeResult("remove", number, previous, None, changed=True, routing_steps=steps)

    def _after_failed_delete(
        self, number: str, previous: ForwardRule, steps: list[str], error: Exception
    ) -> ChangeResult:
        """The number is back home (voice connector, or its own Amazon Connect flow) but the delete
        failed: make routing follow the table.

        Only the stored truth decides (re-read, not assumed): no rule any more → leave the number
        where it is; a rule → route it back to forwarding.
        """
        try:
            current = self._rules.get(number)
        except StorageError:
            current = previous  # unreadable: assume the rule is still there, the safer way round
        if current is None:
            return ChangeResult("remove", number, previous, None, changed=True, routing_steps=steps)
        try:
            self._route(number, to_forwarding=True, home=previous.home)
        except ChangeFailedError as undo_error:
            raise ChangeFailedError(
                f"Could not delete the forward on {number}, and routing it back to "
                f"{forwarding_place(previous.home)} failed too. Calls now reach "
                f"{home_place(previous.home)} while the rule is still stored: run the remove again.",
                consistent=False,
                detail=f"{error}; then {undo_error.detail}",
            ) from error
        if isinstance(error, ConflictError):
            raise ConcurrentChangeError(number, current, detail=str(error)) from error
        raise ChangeFailedError(
            f"Could not delete the forward on {number}; it is still forwarding as before.",
            detail=str(error),
        ) from error

    @contextmanager
    def _change_guard(self, number: str) -> Iterator[None]:
        """Hold the number's change guard for one change (see docs/architecture.md).

        Waits a little for another change in progress to finish, then gives up with the current
        state. Released afterwards whatever happened; if releasing fails, the lease runs out.
        """
        owner = uuid.uuid4().hex
        for attempt in range(GUARD_ATTEMPTS):
            if attempt:
                self._sleep(GUARD_RETRY_SECONDS)
            try:
                claimed = self._rules.claim_change(
                    number, owner=owner, now=self._clock(), lease_seconds=CHANGE_LEASE_SECONDS
                )
            except StorageError as error:
                raise ChangeFailedError(
                    f"Could not start changing the forward on {number}. Nothing was changed.",
                    detail=str(error),
                ) from error
            if claimed:
                break
        else:
            raise ConcurrentChangeError(number, self._rules.get(number), in_progress=True)
        try:
            yield
        finally:
            with suppress(StorageError):
                self._rules.release_change(number, owner=owner)

    # -- internals ----------------------------------------------------------------------------

    def _build_rule(
        self,
        number: str,
        destinations: tuple[str, ...],
        request: ForwardRequest,
        previous: ForwardRule | None,
        after_hours: tuple[BusinessHours | None, tuple[str, ...]] = (None, ()),
    ) -> ForwardRule:
        base = previous or ForwardRule(number=number, destinations=destinations)
        hours, else_destinations = after_hours
        try:
            expires_at = (
                int(self._clock()) + parse_duration(request.expires_in) if request.expires_in else None
            )
            return base.with_changes(
                destinations=destinations,
                greeting=parse_choice(GreetingMode, request.greeting, "greeting")
                if request.greeting
                else base.greeting,
                failure=parse_choice(FailureAction, request.failure, "failure action")
                if request.failure
                else base.failure,
                caller_id=parse_choice(CallerIdMode, request.caller_id, "caller ID")
                if request.caller_id
                else base.caller_id,
                ring_timeout=request.ring_timeout if request.ring_timeout is not None else base.ring_timeout,
                voicemail_max_seconds=request.voicemail_max_seconds
                if request.voicemail_max_seconds is not None
                else base.voicemail_max_seconds,
                expires_at=expires_at,
                hours=hours,
                else_destinations=else_destinations,
                sources=tuple(request.sources),
                else_sources=tuple(request.else_sources) if hours is not None else (),
            )
        except (RuleError, DurationError) as error:
            raise RefusedError(str(error)) from None

    def _home(self, number: str) -> NumberHome | None:
        if self._routing is None:
            return None
        try:
            return self._routing.home(number)
        except NumberPlacementError as error:
            raise RefusedError(str(error)) from error
        except RoutingError as error:
            raise ChangeFailedError(
                f"Could not read where {number} is routed now. Nothing was changed.", detail=str(error)
            ) from error

    def _route(self, number: str, *, to_forwarding: bool, home: NumberHome | None = None) -> list[str]:
        if self._routing is None:
            return []
        try:
            if to_forwarding:
                return self._routing.route_to_forwarding(number)
            return self._routing.route_to_voice_connector(number, home)
        except NumberPlacementError as error:
            raise RefusedError(str(error)) from error
        except NoHomeError as error:
            raise RefusedError(
                f"Removing the forward on {number} would leave it routed nowhere: it was on no voice "
                "connector before its first forward, and VOICE_CONNECTOR_ID is not set. Set "
                "VOICE_CONNECTOR_ID (the stack parameter VoiceConnectorId) to the voice connector its "
                "calls should reach, then remove the forward again. The forward is still in place."
            ) from error
        except RoutingError as error:
            # ``home`` says which backend the number lives in, also when routing it to forwarding.
            if to_forwarding:
                where = f"to {forwarding_place(home)}"
            else:
                where = f"back to {home_place(home)}" if in_connect(home) else f"to {home_place(home)}"
            if error.undone:
                message = f"Could not route {number} {where}"
            else:
                message = (
                    f"Could not route {number} {where}, and undoing the steps already taken failed "
                    f"too: calls to {number} may reach nothing until its routing is checked"
                )
            raise ChangeFailedError(message, consistent=error.undone, detail=str(error)) from error

    def _undo_save(
        self, previous: ForwardRule | None, stored: ForwardRule, actor: str, reason: ChangeFailedError
    ) -> None:
        try:
            if previous is None:
                self._rules.delete(
                    stored.number, expected_version=stored.version, actor=f"{actor} (undo)", previous=stored
                )
            else:
                self._rules.save(
                    previous.with_changes(version=stored.version), actor=f"{actor} (undo)", previous=stored
                )
        except (ConflictError, StorageError) as error:
            raise ChangeFailedError(
                f"{reason}. Undoing the saved rule failed too: the table holds a forward "
                "that routing does not apply; run the command again or remove the forward.",
                consistent=False,
                detail=f"{reason.detail}; undo: {error}",
            ) from error
