"""Ports: what the domain needs from the outside world, as small Protocols.

Adapters in :mod:`switchboard.adapters` implement them against AWS; tests implement them in memory.
The errors they raise are defined in :mod:`switchboard.errors` (its docstring draws the whole
hierarchy) and re-exported here, so ``from switchboard.ports import StorageError`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from switchboard.errors import (
    CallControlError,
    ConflictError,
    DirectoryError,
    InventoryError,
    MissingScopeError,
    NoHomeError,
    NotInDirectoryError,
    NumberPlacementError,
    RoutingError,
    StorageError,
)

if TYPE_CHECKING:
    # Annotations only: importing the ports (as the SIP media application does) must not load the
    # domain modules its cold start does not need (people, DNIS pool, transfers).
    from switchboard.domain.events import CallRecord, LiveCall, LiveCallEntry
    from switchboard.domain.people import Group, Profile
    from switchboard.domain.pool import DnisPair, PairClaim, PoolEntry
    from switchboard.domain.rules import ForwardRule, NumberHome
    from switchboard.domain.transfer import TransferTarget

__all__ = [
    "CallControl",
    "CallControlError",
    "CallLog",
    "CallReader",
    "ConflictError",
    "DirectoryError",
    "DnisPool",
    "ForwardRepository",
    "InventoryError",
    "MissingScopeError",
    "NoHomeError",
    "NotInDirectoryError",
    "NumberPlacementError",
    "NumberRouting",
    "OwnNumbersCheck",
    "PeopleDirectory",
    "PhoneInventory",
    "RoutingError",
    "RuleReader",
    "StorageError",
]


class RuleReader(Protocol):
    """What a call path reads of the rules: one number's rule (the SMA and the Connect Lambda)."""

    def get(self, number: str) -> ForwardRule | None: ...


class ForwardRepository(Protocol):
    def get(self, number: str) -> ForwardRule | None:
        """The stored rule for ``number`` (active or expired), or None."""
        ...

    def list_rules(self) -> list[ForwardRule]:
        """Every stored rule, ordered by number."""
        ...

    def save(
        self,
        rule: ForwardRule,
        *,
        actor: str,
        previous: ForwardRule | None = None,
        unforwarded: Sequence[str] = (),
    ) -> ForwardRule:
        """Create (``rule.version == 0``) or replace the stored version ``rule.version``.

        ``previous`` is the stored rule the caller read (saves reading it again for the history).
        ``unforwarded``: numbers that must have no rule when the write lands, checked in the same
        atomic write (the loop check read them so; a rule created for one meanwhile could close a
        forwarding loop). Returns the stored rule with its new version. Raises
        :class:`ConflictError` on a lost race (this rule changed, or one of ``unforwarded`` got a rule).
        """
        ...

    def delete(
        self, number: str, *, expected_version: int, actor: str, previous: ForwardRule | None = None
    ) -> ForwardRule:
        """Remove the rule, returning what was removed. Raises :class:`ConflictError` on a lost race."""
        ...

    def claim_change(self, number: str, *, owner: str, now: float, lease_seconds: float) -> bool:
        """Take the number's change guard for ``owner`` until ``now + lease_seconds``.

        Succeeds when nobody holds it or the holder's lease has run out (a crashed holder);
        returns False while someone else holds it. One atomic conditional write.
        """
        ...

    def release_change(self, number: str, *, owner: str) -> None:
        """Give the guard back if ``owner`` still holds it; otherwise do nothing."""
        ...


class CallLog(Protocol):
    def record_call(self, transaction_id: str, record: CallRecord) -> None:
        """Store the call's record and its events in one write (which also ends a live call)."""
        ...

    def call_live(self, transaction_id: str, live: LiveCall) -> None:
        """List the call as bridged now (Slack shows it and can transfer it)."""
        ...


class CallReader(Protocol):
    """What the bot reads of calls: connected calls (to show and transfer) and recent records."""

    def live_calls(self, dialed: str | None = None, *, now_ms: int | None = None) -> list[LiveCallEntry]:
        """Calls bridged now (to ``dialed``, or to any of our numbers)."""
        ...

    def live_call(self, transaction_id: str, *, now_ms: int | None = None) -> LiveCallEntry | None:
        """One connected call, or None once it has ended."""
        ...

    def call_record(self, transaction_id: str) -> dict[str, Any] | None:
        """The ended call's record, or None while it is still going (or unknown)."""
        ...

    def recent_calls(self, dialed: str, limit: int = 10) -> list[dict[str, Any]]:
        """The latest ended calls to ``dialed``, newest first."""
        ...


class NumberRouting(Protocol):
    """Where calls to one of our numbers go: our SIP media application or the voice connector.

    Both operations are idempotent (already there → no change) and atomic from the caller's view:
    on failure they undo their own partial steps and raise :class:`RoutingError`.
    """

    def route_to_forwarding(self, number: str) -> list[str]:
        """Send calls for ``number`` to the SIP media application; returns the steps taken."""
        ...

    def home(self, number: str) -> NumberHome:
        """Where ``number`` is routed now (product type, voice connectors), read before a first forward."""
        ...

    def route_to_voice_connector(self, number: str, home: NumberHome | None = None) -> list[str]:
        """Put ``number`` back ``home`` (its routing before its first forward); returns the steps taken.

        A home on no voice connector (or none recorded) falls back to the configured voice
        connector; with neither, raises :class:`NoHomeError` before taking any step.
        """
        ...


class PhoneInventory(Protocol):
    def our_numbers(self) -> list[str]:
        """The account's phone numbers we may manage (E.164), sorted.

        Raises :class:`InventoryError` when they cannot be read.
        """
        ...


@runtime_checkable
class OwnNumbersCheck(Protocol):
    """Is a number one of ours (``check(number)``), and the same question for a run of many
    changes answered from one read of its sources (``snapshot()``), so the re-resolution of 1,000
    forwards naming one group lists the DNIS pool once, not once per destination of each."""

    def __call__(self, number: str) -> bool: ...

    def snapshot(self) -> Callable[[str], bool]: ...


class DnisPool(Protocol):
    """The rolling DNIS pool (see :mod:`switchboard.domain.pool`).

    The SIP media application claims a pair before dialling Amazon Connect and releases it on
    every path out of Connect; Connect's Lambda finds the call from the pair; the operator adds
    pairs and looks at them. Storage failures raise :class:`StorageError`.
    """

    def claim(self, transaction_id: str, original_calling_number: str, now_ms: int) -> PairClaim:
        """Give a free pair (or one whose claim is stale) to this call.

        Never gives one pair to two calls, and never two pairs to one call: a call that already
        holds a pair (a retried NEW_INBOUND_CALL) gets that claim back. Raises
        :class:`~switchboard.domain.pool.PoolExhaustedError` when no pair can be had.
        """
        ...

    def release(self, pair: tuple[str, str], transaction_id: str) -> bool:
        """Give the pair back if ``transaction_id`` still holds it.

        Idempotent: returns False, without error, when the call no longer holds the pair
        (already released, or taken over as stale).
        """
        ...

    def find(self, sma_number: str, connect_number: str) -> PoolEntry | None:
        """The pair as stored (free or claimed), or None when it is not in the pool."""
        ...

    def add(self, pair: DnisPair) -> bool:
        """Put a free pair in the pool; False when it was already there (left as it is)."""
        ...

    def list_pairs(self) -> list[PoolEntry]:
        """Every pair, free or claimed, ordered by SMA number then Connect number."""
        ...

    def force_release(self, pair: tuple[str, str]) -> PairClaim | None:
        """Free the pair whoever holds it (operator's repair); returns the claim it dropped.

        Raises :class:`~switchboard.domain.pool.PairNotFoundError` when the pair is not in the pool.
        """
        ...


class CallControl(Protocol):
    """Ask the SIP media application to act on one of its live calls."""

    def request_transfer(self, transaction_id: str, target: TransferTarget) -> None:
        """Deliver a transfer request to the call (the SMA takes it back and bridges ``target``).

        Raises :class:`CallControlError` when the request could
        not be delivered (``gone`` when the call has ended).
        """
        ...


class PeopleDirectory(Protocol):
    """Who is who in Slack: a user's profile phone and a user group's members (bot/people.py).

    Raises :class:`MissingScopeError` when the app lacks the scope, :class:`NotInDirectoryError`
    for an unknown user or group, :class:`DirectoryError` for any other failure.
    """

    def profile(self, user_id: str) -> Profile:
        """The user's display name and profile phone (``users.profile.get``)."""
        ...

    def group(self, group_id: str, label: str = "") -> Group:
        """The group's members in its order (``usergroups.users.list``); ``label`` is the handle
        as the person named it, used when the directory does not say."""
        ...
