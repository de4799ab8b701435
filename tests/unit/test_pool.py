"""switchboard.domain.pool: DNIS pairs, claims, the stale-claim rule and the claim order."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.domain.defaults import DEFAULT_STALE_AFTER_SECONDS
from switchboard.domain.pool import (
    DnisPair,
    InvalidPairError,
    PairClaim,
    PoolEntry,
    PoolExhaustedError,
    checked_pair,
    claim_order,
    is_stale,
    stale_claims,
)

SMA, CONNECT = "+12025550170", "+13125550180"
PAIRS = [DnisPair(f"+1202555017{i}", f"+1312555018{j}") for i in range(3) for j in range(3)]


def test_a_pair_is_a_plain_tuple_so_call_state_can_carry_it() -> None:
    pair = DnisPair(SMA, CONNECT)

    assert pair == (SMA, CONNECT)
    sma, connect = pair
    assert (sma, connect) == (pair.sma_number, pair.connect_number)
    assert DnisPair(*(SMA, CONNECT)) == pair
    assert str(pair) == f"{SMA} → {CONNECT}"


def test_checked_pair_accepts_two_different_e164_numbers() -> None:
    assert checked_pair(SMA, CONNECT) == DnisPair(SMA, CONNECT)


@pytest.mark.parametrize(
    ("sma", "connect", "message"),
    [
        ("2025550170", CONNECT, "SMA number '2025550170' is not an E.164"),
        (SMA, "+1 312 555 0180", "Connect number '+1 312 555 0180' is not an E.164"),
        (SMA, "", "Connect number '' is not"),
        (SMA, SMA, "needs two different numbers"),
    ],
)
def test_checked_pair_refuses_what_cannot_be_a_pair(sma: str, connect: str, message: str) -> None:
    with pytest.raises(InvalidPairError, match=re.escape(message)) as excinfo:
        checked_pair(sma, connect)
    assert isinstance(excinfo.value, ValueError)  # the CLI reports every ValueError as refused input


def test_claim_age_and_entry_state() -> None:
    claim = PairClaim(DnisPair(SMA, CONNECT), "tx-1", "+13035550123", claimed_at=1_000_000)

    assert claim.age_seconds(1_090_500) == 90.5
    assert claim.age_seconds(999_000) == 0  # clock skew between hosts never gives a negative age
    assert PoolEntry(claim.pair).free
    assert not PoolEntry(claim.pair, claim).free


@pytest.mark.parametrize(
    ("age_ms", "stale"),
    [
        (0, False),
        (DEFAULT_STALE_AFTER_SECONDS * 1000 - 1, False),
        (DEFAULT_STALE_AFTER_SECONDS * 1000, False),  # exactly the bound still belongs to its call
        (DEFAULT_STALE_AFTER_SECONDS * 1000 + 1, True),
        (-60_000, False),  # claimed "in the future" by a host whose clock runs ahead
    ],
)
def test_a_claim_is_stale_only_when_strictly_older_than_the_bound(age_ms: int, stale: bool) -> None:
    now = 10_000_000_000
    assert is_stale(now - age_ms, now, DEFAULT_STALE_AFTER_SECONDS) is stale


def test_stale_claims_are_the_old_ones_oldest_first() -> None:
    now = 5_000_000
    entries = [
        PoolEntry(PAIRS[0]),  # free
        PoolEntry(PAIRS[1], PairClaim(PAIRS[1], "fresh", "", now - 10_000)),
        PoolEntry(PAIRS[2], PairClaim(PAIRS[2], "old", "", now - 2_000_000)),
        PoolEntry(PAIRS[3], PairClaim(PAIRS[3], "older", "", now - 3_000_000)),
    ]

    stale = stale_claims(entries, now, stale_after_seconds=60)

    assert [entry.claim.transaction_id for entry in stale if entry.claim] == ["older", "old"]
    assert stale_claims(entries, now, stale_after_seconds=3600) == []


def test_claim_order_is_a_permutation_of_the_free_pairs() -> None:
    order = claim_order(PAIRS, random.Random(7))

    assert sorted(order) == sorted(PAIRS)
    assert claim_order([], random.Random(7)) == []


def test_claim_order_tries_a_pair_listed_twice_once() -> None:
    order = claim_order([PAIRS[0], PAIRS[1], PAIRS[0]], random.Random(1))

    assert sorted(order) == sorted(PAIRS[:2])


def test_claim_order_is_reproducible_with_a_seeded_rng() -> None:
    assert claim_order(PAIRS, random.Random(42)) == claim_order(PAIRS, random.Random(42))


def test_concurrent_claimers_start_at_different_pairs() -> None:
    """Claimers reading the same free list must not all race for its first pair."""
    rng = random.Random(2024)
    firsts = Counter(claim_order(PAIRS, rng)[0] for _ in range(9000))

    assert set(firsts) == set(PAIRS)
    assert all(800 < count < 1200 for count in firsts.values())  # ~1000 each: uniform


def test_a_loser_does_not_follow_the_winner_to_the_next_pair() -> None:
    """With a rotation from a random start, the pair after X would always be X's neighbour; a
    permutation makes the second choice independent of which pair was lost."""
    rng = random.Random(99)
    seconds = Counter(
        order[1] for order in (claim_order(PAIRS, rng) for _ in range(20000)) if order[0] == PAIRS[0]
    )

    assert set(seconds) == set(PAIRS[1:])


@given(st.lists(st.sampled_from(PAIRS), max_size=20), st.integers())
def test_claim_order_never_invents_or_drops_a_candidate(free: list[DnisPair], seed: int) -> None:
    order = claim_order(free, random.Random(seed))

    assert len(order) == len(set(order)) == len(set(free))
    assert set(order) == set(free)


def test_pool_exhausted_says_how_many_writes_were_spent() -> None:
    error = PoolExhaustedError("no free DNIS pair", attempts=3)

    assert error.attempts == 3
    assert str(error) == "no free DNIS pair"
