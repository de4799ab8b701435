"""The rolling DNIS pool: how a call handed to Amazon Connect can be found again.

PSTN Audio cannot tell Amazon Connect which call it is sending. What Connect does see is the
calling and the called number, so the SIP media application dials one of Connect's numbers
(``connect_number``) *from* one of its own numbers (``sma_number``): that **DNIS pair** names the
call while it is in Connect. Three SMA numbers × three Connect numbers give nine calls in Connect
at a time; more numbers on either side widen the pool.

A call **claims** a free pair before it dials Connect, recording its transaction id and the
original caller's number on the pair; Connect's Lambda reads them back from the pair; the call
**releases** the pair as soon as it no longer needs Connect (transfer, hangup of either leg, failed
bridge, error). A claim older than
:data:`~switchboard.domain.defaults.DEFAULT_STALE_AFTER_SECONDS` may be taken over by another call,
so a call whose release never happened (a crashed invocation, a lost response) cannot keep a pair
forever.

This module is the storage-free part: the pair and claim values, the errors, the stale-claim rule
and the order in which a claimer tries candidates. :mod:`switchboard.adapters.pool` stores pairs in
DynamoDB with conditional writes.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from switchboard.domain.rules import is_e164

# Conditional writes a claim may spend before giving up (each lost race costs one).
DEFAULT_MAX_ATTEMPTS = 4


class PoolError(Exception):
    """Base of the DNIS pool's own errors."""


class PoolExhaustedError(PoolError):
    """No pair could be claimed: every pair is held by a live call (or lost to racing claimers).

    ``attempts`` is how many conditional writes the claim spent, for logs and metrics.
    """

    def __init__(self, message: str, *, attempts: int = 0) -> None:
        super().__init__(message)
        self.attempts = attempts


class InvalidPairError(PoolError, ValueError):
    """The two numbers cannot form a DNIS pair (not E.164, or the same number twice)."""


class PairNotFoundError(PoolError, LookupError):
    """The pair is not in the pool."""


class DnisPair(NamedTuple):
    """(our SMA number, Amazon Connect number): the calling/called numbers Connect sees.

    A tuple on purpose: call state can carry it as a plain ``(sma, connect)`` pair and hand that
    straight back to :meth:`~switchboard.ports.DnisPool.release`.
    """

    sma_number: str
    connect_number: str

    def __str__(self) -> str:
        return f"{self.sma_number} → {self.connect_number}"


def checked_pair(sma_number: str, connect_number: str) -> DnisPair:
    """A :class:`DnisPair` from two E.164 numbers, or :class:`InvalidPairError` saying why."""
    for role, number in (("SMA number", sma_number), ("Connect number", connect_number)):
        if not is_e164(number):
            raise InvalidPairError(f"the {role} {number!r} is not an E.164 number like +12025550100")
    if sma_number == connect_number:
        raise InvalidPairError(f"{sma_number} cannot call itself: a DNIS pair needs two different numbers")
    return DnisPair(sma_number, connect_number)


@dataclass(frozen=True, slots=True)
class PairClaim:
    """A call holding a pair: what Connect's Lambda reads back. ``claimed_at`` is epoch ms."""

    pair: DnisPair
    transaction_id: str
    original_calling_number: str
    claimed_at: int

    def age_seconds(self, now_ms: int) -> float:
        return max(0, now_ms - self.claimed_at) / 1000


@dataclass(frozen=True, slots=True)
class PoolEntry:
    """One pair of the pool as stored: free (``claim`` is None) or held by a call."""

    pair: DnisPair
    claim: PairClaim | None = None
    claim_count: int = 0  # how many times the pair has been claimed, for the operator's listing

    @property
    def free(self) -> bool:
        return self.claim is None


def is_stale(claimed_at_ms: int, now_ms: int, stale_after_seconds: int) -> bool:
    """True when a claim is old enough to be taken over.

    Strictly older than the bound: a claim exactly ``stale_after_seconds`` old still belongs to its
    call. A claim "from the future" (clock skew between Lambda hosts) is never stale.
    """
    return now_ms - claimed_at_ms > stale_after_seconds * 1000


def stale_claims(entries: Iterable[PoolEntry], now_ms: int, stale_after_seconds: int) -> list[PoolEntry]:
    """Claimed entries that may be taken over, oldest claim first (the likeliest to be dead)."""
    stale = [
        entry
        for entry in entries
        if entry.claim is not None and is_stale(entry.claim.claimed_at, now_ms, stale_after_seconds)
    ]
    return sorted(stale, key=lambda entry: entry.claim.claimed_at if entry.claim else 0)


def claim_order(free: Sequence[DnisPair], rng: random.Random) -> list[DnisPair]:
    """The order in which to try the free pairs seen: a random permutation.

    Every concurrent claimer reads (nearly) the same list of free pairs, so trying them in list
    order would make all of them race for the first one. A random first choice spreads them out;
    a full permutation (rather than a rotation from a random start) also spreads the *retries*:
    with a rotation, the loser of a race moves on to the neighbour of the pair it lost, which is
    exactly where the claimer that started one place further is heading. Duplicates (an index
    read can list a pair twice while it moves) are tried once.
    """
    unique = list(dict.fromkeys(free))
    return rng.sample(unique, len(unique))
