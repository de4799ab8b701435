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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from switchboard.domain.durations import DurationError, parse_duration
from switchboard.domain.rules import (
    CallerIdMode,
    FailureAction,
    ForwardRule,
    GreetingMode,
    RuleError,
    parse_choice,
)
from switchboard.policy import DestinationPolicy, DestinationRefusedError
from switchboard.ports import (
    ConflictError,
    ForwardRepository,
    NumberRouting,
    PhoneInventory,
    RoutingError,
    StorageError,
)


class RefusedError(ValueError):
    """The request itself is wrong (bad number, bad option, not ours...). Nothing was changed."""


class AlreadyForwardedError(RefusedError):
    """A *new* forward (``expected_version == 0``) was asked for a number that already has one."""

    def __init__(self, current: ForwardRule) -> None:
        super().__init__(
            f"{current.number} is already forwarded: {current.summary()}. "
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
    return rule.summary() if rule is not None else "no forward"


class ConcurrentChangeError(ChangeFailedError):
    """Someone else changed the forward between the user's read and this change; nothing was changed.

    ``current`` is the stored rule as it is now (None: no forward), so surfaces can show it.
    """

    def __init__(self, number: str, current: ForwardRule | None, *, detail: str = "") -> None:
        super().__init__(
            f"The forward on {number} was changed by someone else just now; it is now: "
            f"{describe_state(current)}. Nothing was changed.",
            detail=detail,
        )
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
    expires_in: str | None = None  # "2h"; absent means the forward does not expire
    # The version the person was looking at (e.g. when the edit form opened): a change made by
    # someone else since then is refused instead of silently overwritten. None: no such check.
    expected_version: int | None = None


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
                return f"Already forwarding {self.new.summary()}; nothing changed."
            verb = "Updated" if self.old else "Now forwarding"
            return f"{verb} {self.new.summary()}."
        if not self.changed:
            return f"There is no forward on {self.number}; nothing to remove."
        return f"Removed the forward on {self.number}; calls go to the voice connector again."


def _same_forward(a: ForwardRule, b: ForwardRule) -> bool:
    return (a.destinations, a.greeting, a.failure, a.caller_id, a.ring_timeout, a.expires_at) == (
        b.destinations,
        b.greeting,
        b.failure,
        b.caller_id,
        b.ring_timeout,
        b.expires_at,
    )


class ForwardingService:
    def __init__(
        self,
        rules: ForwardRepository,
        routing: NumberRouting | None,
        inventory: PhoneInventory | None,
        policy: DestinationPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
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
            raise RefusedError(f"{number} is not one of our phone numbers")
        return number

    # -- changes ------------------------------------------------------------------------------

    def set_forward(self, request: ForwardRequest, *, actor: str) -> ChangeResult:
        existing = {rule.number: rule for rule in self._rules.list_rules()}
        ours = self._inventory.our_numbers() if self._inventory is not None else None
        try:
            number, destinations = self._policy.validate_forward(
                request.number, request.destinations, existing, ours
            )
        except DestinationRefusedError as error:
            raise RefusedError(str(error)) from None
        previous = self._rules.get(number)
        current_version = previous.version if previous else 0
        if request.expected_version == 0 and previous is not None:
            raise AlreadyForwardedError(previous)
        if request.expected_version is not None and request.expected_version != current_version:
            raise ConcurrentChangeError(number, previous)
        wanted = self._build_rule(number, destinations, request, previous)
        if previous is not None and _same_forward(previous, wanted):
            steps = self._route(number, to_forwarding=True)
            return ChangeResult("set", number, previous, previous, changed=False, routing_steps=steps)

        try:
            stored = self._rules.save(wanted, actor=actor, previous=previous)
        except ConflictError as error:
            raise ConcurrentChangeError(number, self._rules.get(number), detail=str(error)) from error
        except StorageError as error:
            raise ChangeFailedError(
                "Could not save the forward. Nothing was changed.", detail=str(error)
            ) from error

        try:
            steps = self._route(number, to_forwarding=True)
        except ChangeFailedError as error:
            self._undo_save(previous, stored, actor, error)
            raise ChangeFailedError(
                f"{error}. The forward was not changed.", consistent=error.consistent, detail=error.detail
            ) from error
        return ChangeResult("set", number, previous, stored, changed=True, routing_steps=steps)

    def remove_forward(
        self, number_text: str, *, actor: str, expected_version: int | None = None
    ) -> ChangeResult:
        """Remove the forward; with ``expected_version``, only if it is still that version.

        The expiry job passes the version it found expired, so a forward set again since is kept
        (:class:`ConcurrentChangeError`).
        """
        number = self.our_number(number_text)
        previous = self._rules.get(number)
        if expected_version is not None and expected_version != (previous.version if previous else 0):
            raise ConcurrentChangeError(number, previous)
        if previous is None:
            return ChangeResult("remove", number, None, None, changed=False)
        try:
            steps = self._route(number, to_forwarding=False)
        except ChangeFailedError as error:
            raise ChangeFailedError(
                f"{error}. The forward is still in place.", consistent=error.consistent, detail=error.detail
            ) from error
        try:
            self._rules.delete(number, expected_version=previous.version, actor=actor, previous=previous)
        except (ConflictError, StorageError) as error:
            try:
                self._route(number, to_forwarding=True)
            except ChangeFailedError as undo_error:
                raise ChangeFailedError(
                    f"Could not delete the forward on {number}, and routing it back to the SIP media "
                    "application failed too. Calls now reach the voice connector while the rule is "
                    "still stored: run the remove again.",
                    consistent=False,
                    detail=f"{error}; then {undo_error.detail}",
                ) from error
            raise ChangeFailedError(
                f"Could not delete the forward on {number}; it is still forwarding as before.",
                detail=str(error),
            ) from error
        return ChangeResult("remove", number, previous, None, changed=True, routing_steps=steps)

    # -- internals ----------------------------------------------------------------------------

    def _build_rule(
        self,
        number: str,
        destinations: tuple[str, ...],
        request: ForwardRequest,
        previous: ForwardRule | None,
    ) -> ForwardRule:
        base = previous or ForwardRule(number=number, destinations=destinations)
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
                expires_at=expires_at,
            )
        except (RuleError, DurationError) as error:
            raise RefusedError(str(error)) from None

    def _route(self, number: str, *, to_forwarding: bool) -> list[str]:
        if self._routing is None:
            return []
        try:
            if to_forwarding:
                return self._routing.route_to_forwarding(number)
            return self._routing.route_to_voice_connector(number)
        except RoutingError as error:
            where = "the SIP media application" if to_forwarding else "the voice connector"
            raise ChangeFailedError(
                f"Could not route {number} to {where}", consistent=error.undone, detail=str(error)
            ) from error

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
