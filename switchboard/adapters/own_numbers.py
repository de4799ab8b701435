"""Is a number one of ours? The one answer every surface that dials asks for.

A forward or a transfer to one of our own numbers sends the call straight back into the account:
into the SIP media application (paying for a second leg, possibly looping), or into Amazon Connect
under a DNIS pair no call holds. Our numbers are written down in several places, and each surface
could see only some of them (the SIP media application knew the call's own numbers and
``MANAGED_NUMBERS``; the Slack paths the Chime SDK Voice inventory, not the DNIS pool's Connect
numbers). :class:`OwnNumbers` asks all of those a surface can reach, cheapest first:

1. ``MANAGED_NUMBERS`` (settings, no call);
2. the DNIS pool's pairs, both numbers (one table query: a change or a transfer is rare, and a
   pair added a moment ago must count);
3. a listing of the phone inventory (Chime SDK Voice and the Amazon Connect instance, which the
   inventory adapters cache);
4. per-number checks: one ``GetPhoneNumber`` (the whole Chime SDK Voice account, even numbers that
   ``MANAGED_NUMBERS`` leaves out), a stored forward rule for the number (the SMA's cheap one).

It fails closed: a source that cannot answer raises (``StorageError``, ``InventoryError``,
``CallControlError``) and the caller refuses the change or the transfer. Nothing here imports
boto3 or phonenumbers, so the SIP media application can use it, and it only reads when asked: the
SMA asks on a transfer request, never on a call's first event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from switchboard.domain.pool import PoolEntry


class PoolListing(Protocol):
    def list_pairs(self) -> list[PoolEntry]: ...


class OwnNumbers:
    """``own(number) -> bool`` over the sources given (see the module doc); any may be left out."""

    def __init__(
        self,
        managed: Iterable[str] = (),
        *,
        pool: PoolListing | None = None,
        listed: Callable[[], Iterable[str]] | None = None,
        checks: Iterable[Callable[[str], bool]] = (),
    ) -> None:
        self._managed = frozenset(managed)
        self._pool = pool
        self._listed = listed
        self._checks = tuple(checks)

    def __call__(self, number: str) -> bool:
        if number in self._managed or number in self.known():
            return True
        return any(check(number) for check in self._checks)

    def snapshot(self) -> Callable[[str], bool]:
        """This check for a run of many changes (the re-resolution of every forward naming a
        group): the pool and the listing read once, now, and each per-number check asked once.

        A pair added to the pool during the run is missed by the rest of the run, as it would be
        by a single change that checked a moment before it was added: a run takes seconds, and
        the scheduled re-resolution checks again.
        """
        listed = self._managed | self.known()
        answers: dict[str, bool] = {}

        def own(number: str) -> bool:
            if number in listed:
                return True
            if number not in answers:
                answers[number] = any(check(number) for check in self._checks)
            return answers[number]

        return own

    def known(self) -> frozenset[str]:
        """The numbers the pool and the inventory listing name."""
        numbers: set[str] = set()
        if self._pool is not None:
            for entry in self._pool.list_pairs():
                numbers.update(entry.pair)
        if self._listed is not None:
            numbers.update(self._listed())
        return frozenset(numbers)
