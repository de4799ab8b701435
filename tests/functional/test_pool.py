"""The DNIS pool on the template's table (moto server): claim, release, stale takeover, concurrency, CLI.

A note on moto and concurrency: moto's server evaluates an UpdateItem's condition and applies the
update without a lock (``moto/dynamodb/models/__init__.py``, ``update_item``), so two threads'
conditional writes to one item can both "succeed" — DynamoDB never does that. The concurrency test
therefore runs the real adapter against moto behind ``bench.pool.Gate``, which lets one request
at a time into moto: each request is atomic, as every single-item write is in DynamoDB, while the
threads still interleave freely *between* requests (the index read, the write, the release), which
is where the adapter's own races are. ``bench/pool.py`` measures moto without that wrapper too.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bench.pool import Gate
from switchboard.adapters.pool import FREE_INDEX, DynamoDnisPool, pair_key
from switchboard.cli import main
from switchboard.domain.pool import DnisPair, PairNotFoundError, PoolExhaustedError
from switchboard.ports import StorageError
from tests.functional.conftest import TABLE

pytestmark = pytest.mark.functional

SMAS = ("+12025550170", "+12025550171", "+12025550172")
CONNECTS = ("+13125550180", "+13125550181", "+13125550182")
PAIR = DnisPair(SMAS[0], CONNECTS[0])
CALLER = "+13035550123"
T0 = 1_700_000_000_000  # epoch ms (2023: claims made at T0 are long stale by now)
STALE_MS = 900 * 1000


def add_pairs(pool: DynamoDnisPool, count: int) -> list[DnisPair]:
    pairs = [DnisPair(s, c) for s in SMAS for c in CONNECTS][:count]
    for pair in pairs:
        assert pool.add(pair)
    return pairs


def free_index(dynamodb: Any) -> list[tuple[str, str]]:
    page = dynamodb.query(
        TableName=TABLE,
        IndexName=FREE_INDEX,
        KeyConditionExpression="free_pool = :free",
        ExpressionAttributeValues={":free": {"S": "FREE"}},
    )
    return sorted((i["sma_number"]["S"], i["connect_number"]["S"]) for i in page["Items"])


@pytest.fixture
def pool(dynamodb: Any) -> DynamoDnisPool:
    return DynamoDnisPool(dynamodb, TABLE, rng=random.Random(1))


class Counting:
    """Counts conditional claim writes (UpdateItem carrying the claim expression)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.claim_writes = 0
        self.queries: Counter[str] = Counter()

    def update_item(self, **kwargs: Any) -> Any:
        if "claimed_at = :at" in kwargs["UpdateExpression"]:
            self.claim_writes += 1
        return self._client.update_item(**kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        if any(
            "claimed_at = :at" in i.get("Update", {}).get("UpdateExpression", "")
            for i in kwargs["TransactItems"]
        ):
            self.claim_writes += 1
        return self._client.transact_write_items(**kwargs)

    def get_item(self, **kwargs: Any) -> Any:
        self.queries["get_item"] += 1
        return self._client.get_item(**kwargs)

    def query(self, **kwargs: Any) -> Any:
        self.queries[kwargs.get("IndexName", "table")] += 1
        return self._client.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


# ------------------------------------------------------------------------------ add / list / find


def test_add_is_idempotent_and_stores_the_documented_item(dynamodb: Any, pool: DynamoDnisPool) -> None:
    assert pool.add(PAIR) is True
    assert pool.add(PAIR) is False

    item = dynamodb.get_item(TableName=TABLE, Key=pair_key(PAIR))["Item"]
    assert item["pk"] == {"S": f"POOL#{PAIR.sma_number}"}
    assert item["sk"] == {"S": f"PAIR#{PAIR.connect_number}"}
    assert item["kind"] == {"S": "dnis_pair"}
    assert item["free_pool"] == {"S": "FREE"}
    assert item["free_sk"]["S"].endswith(f"#{PAIR.sma_number}#{PAIR.connect_number}")
    assert item["gsi1pk"] == {"S": "POOL"}
    [entry] = pool.list_pairs()
    assert entry.pair == PAIR
    assert entry.free
    assert free_index(dynamodb) == [PAIR]


def test_adding_a_claimed_pair_again_leaves_its_claim_alone(pool: DynamoDnisPool) -> None:
    pool.add(PAIR)
    claim = pool.claim("tx-1", CALLER, T0)

    assert pool.add(PAIR) is False
    found = pool.find(*PAIR)
    assert found is not None
    assert found.claim == claim


def test_find_and_list(pool: DynamoDnisPool) -> None:
    pairs = add_pairs(pool, 4)
    claim = pool.claim("tx-1", CALLER, T0)

    assert pool.find("+12025550199", CONNECTS[0]) is None
    listed = pool.list_pairs()
    assert [entry.pair for entry in listed] == sorted(pairs)
    assert [entry.claim for entry in listed if entry.claim] == [claim]
    found = pool.find(*claim.pair)
    assert found is not None
    assert found.claim == claim
    assert found.claim_count == 1


# ------------------------------------------------------------------------------ claim / release


def test_claim_takes_a_free_pair_out_of_the_index_and_release_puts_it_back(
    dynamodb: Any, pool: DynamoDnisPool
) -> None:
    pool.add(PAIR)

    claim = pool.claim("tx-1", CALLER, T0)

    assert claim.pair == PAIR
    assert (claim.transaction_id, claim.original_calling_number, claim.claimed_at) == ("tx-1", CALLER, T0)
    assert free_index(dynamodb) == []
    assert pool.release(PAIR, "tx-1") is True
    assert free_index(dynamodb) == [PAIR]
    entry = pool.find(*PAIR)
    assert entry is not None
    assert entry.free
    assert entry.claim_count == 1


def test_release_accepts_the_plain_tuple_call_state_carries(pool: DynamoDnisPool) -> None:
    pool.add(PAIR)
    claim = pool.claim("tx-1", CALLER, T0)

    assert pool.release((claim.pair.sma_number, claim.pair.connect_number), "tx-1") is True


def test_release_is_idempotent_and_only_by_the_holder(pool: DynamoDnisPool) -> None:
    pool.add(PAIR)
    pool.claim("tx-1", CALLER, T0)

    assert pool.release(PAIR, "tx-other") is False  # not the holder: no-op, no error
    held = pool.find(*PAIR)
    assert held is not None
    assert held.claim is not None
    assert held.claim.transaction_id == "tx-1"
    assert pool.release(PAIR, "tx-1") is True
    assert pool.release(PAIR, "tx-1") is False  # twice: no-op
    assert pool.release(DnisPair("+12025550199", CONNECTS[0]), "tx-1") is False  # not in the pool


def test_a_claim_without_a_caller_number_is_fine(pool: DynamoDnisPool) -> None:
    pool.add(PAIR)

    claim = pool.claim("tx-1", "", T0)

    found = pool.find(*PAIR)
    assert found is not None
    assert found.claim == claim


def test_each_call_gets_its_own_pair_until_the_pool_is_exhausted(pool: DynamoDnisPool) -> None:
    pairs = add_pairs(pool, 3)

    claims = [pool.claim(f"tx-{n}", CALLER, T0 + n) for n in range(3)]
    with pytest.raises(PoolExhaustedError, match="every pair is held") as excinfo:
        pool.claim("tx-late", CALLER, T0 + 10)

    assert sorted(c.pair for c in claims) == sorted(pairs)
    assert excinfo.value.attempts == 0  # nothing free, nothing stale: no write was spent
    pool.release(claims[1].pair, "tx-1")
    assert pool.claim("tx-next", CALLER, T0 + 20).pair == claims[1].pair


def test_an_empty_pool_is_exhausted(pool: DynamoDnisPool) -> None:
    with pytest.raises(PoolExhaustedError):
        pool.claim("tx-1", CALLER, T0)


def test_an_uncontended_claim_is_one_index_read_and_one_write(dynamodb: Any) -> None:
    counting = Counting(dynamodb)
    pool = DynamoDnisPool(counting, TABLE)
    add_pairs(pool, 9)

    pool.claim("tx-1", CALLER, T0)

    assert counting.claim_writes == 1
    assert counting.queries == Counter({FREE_INDEX: 1})


# ------------------------------------------------------------------------------ retried claims


def holders(pool: DynamoDnisPool) -> dict[DnisPair, str]:
    return {e.pair: e.claim.transaction_id for e in pool.list_pairs() if e.claim is not None}


def test_a_retried_claim_gets_the_pair_the_transaction_already_holds(pool: DynamoDnisPool) -> None:
    add_pairs(pool, 9)
    first = pool.claim("tx-retried", CALLER, T0)

    again = pool.claim("tx-retried", CALLER, T0 + 5_000)  # PSTN Audio retried NEW_INBOUND_CALL

    assert again == first  # same pair, same claim time
    assert holders(pool) == {first.pair: "tx-retried"}


def test_a_retry_gets_its_pair_even_when_no_other_pair_is_free(pool: DynamoDnisPool) -> None:
    pool.add(PAIR)
    first = pool.claim("tx-retried", CALLER, T0)

    assert pool.claim("tx-retried", CALLER, T0 + 5_000) == first
    with pytest.raises(PoolExhaustedError):
        pool.claim("tx-other", CALLER, T0 + 5_000)


def test_a_retry_costs_no_read_until_it_meets_its_own_claim(dynamodb: Any) -> None:
    counting = Counting(dynamodb)
    pool = DynamoDnisPool(counting, TABLE)
    add_pairs(pool, 9)
    pool.claim("tx-1", CALLER, T0)
    assert counting.queries["get_item"] == 0  # a first claim reads nothing but the free index

    pool.claim("tx-1", CALLER, T0 + 5_000)
    assert counting.queries["get_item"] <= 1  # the retry checks the pair it was told it holds


def test_a_claim_after_its_pair_was_released_takes_a_free_pair_again(pool: DynamoDnisPool) -> None:
    add_pairs(pool, 2)
    first = pool.claim("tx-1", CALLER, T0)
    assert pool.release(first.pair, "tx-1")

    again = pool.claim("tx-1", CALLER, T0 + 1_000)

    assert holders(pool) == {again.pair: "tx-1"}


def test_different_transactions_still_get_different_pairs(pool: DynamoDnisPool) -> None:
    add_pairs(pool, 3)
    claims = [pool.claim(f"tx-{n}", CALLER, T0) for n in range(3)]
    assert len({c.pair for c in claims}) == 3


def test_the_stale_bound_is_the_pools_setting(pool: DynamoDnisPool, dynamodb: Any) -> None:
    short = DynamoDnisPool(dynamodb, TABLE, stale_after_seconds=60)
    short.add(PAIR)
    short.claim("tx-crashed", CALLER, T0)
    assert short.claim("tx-new", CALLER, T0 + 61_000).transaction_id == "tx-new"


# ------------------------------------------------------------------------------ stale claims


def test_a_stale_claim_is_taken_over_when_no_pair_is_free(pool: DynamoDnisPool) -> None:
    pool.add(PAIR)
    pool.claim("tx-crashed", CALLER, T0)

    with pytest.raises(PoolExhaustedError):  # not stale yet
        pool.claim("tx-2", CALLER, T0 + STALE_MS)
    claim = pool.claim("tx-3", "+14155550100", T0 + STALE_MS + 1)

    assert claim.pair == PAIR
    found = pool.find(*PAIR)
    assert found is not None
    assert found.claim == claim
    assert found.claim_count == 2
    assert pool.release(PAIR, "tx-crashed") is False  # the crashed call's late release: harmless
    assert pool.release(PAIR, "tx-3") is True


def test_a_free_pair_is_preferred_to_a_stale_one(pool: DynamoDnisPool) -> None:
    pairs = add_pairs(pool, 2)
    old = pool.claim("tx-old", CALLER, T0)

    claim = pool.claim("tx-new", CALLER, T0 + 10 * STALE_MS)

    assert claim.pair != old.pair
    assert {old.pair, claim.pair} == set(pairs)


def test_the_oldest_stale_claim_goes_first(pool: DynamoDnisPool) -> None:
    add_pairs(pool, 3)
    claims = [pool.claim(f"tx-{n}", CALLER, T0 + n * 1000) for n in (5, 1, 3)]
    oldest = min(claims, key=lambda c: c.claimed_at)

    assert pool.claim("tx-new", CALLER, T0 + 2 * STALE_MS).pair == oldest.pair


def test_a_stale_claim_is_taken_over_once(dynamodb: Any) -> None:
    """Two claimers seeing the same stale claim: the takeover is conditional on that claim."""
    first = DynamoDnisPool(dynamodb, TABLE)
    second = DynamoDnisPool(dynamodb, TABLE)
    first.add(PAIR)
    first.claim("tx-crashed", CALLER, T0)
    stale_view = first.list_pairs()  # both claimers read the pool before either writes
    later = T0 + STALE_MS + 1

    won = first.claim("tx-a", CALLER, later)
    second.list_pairs = lambda: stale_view  # type: ignore[method-assign]
    with pytest.raises(PoolExhaustedError):
        second.claim("tx-b", CALLER, later)

    found = first.find(*PAIR)
    assert found is not None
    assert found.claim == won


# ------------------------------------------------------------------------------ races


class LaggingIndex(Counting):
    """Answers free-pair queries from a snapshot: an eventually consistent GSI that lags."""

    def __init__(self, client: Any, snapshot: dict[str, Any]) -> None:
        super().__init__(client)
        self.snapshot = snapshot

    def query(self, **kwargs: Any) -> Any:
        if kwargs.get("IndexName") == FREE_INDEX:
            self.queries[FREE_INDEX] += 1
            return self.snapshot
        return super().query(**kwargs)


def test_a_lagging_index_costs_a_lost_write_never_a_double_claim(dynamodb: Any) -> None:
    pool = DynamoDnisPool(dynamodb, TABLE)
    add_pairs(pool, 2)
    snapshot = dynamodb.query(
        TableName=TABLE,
        IndexName=FREE_INDEX,
        KeyConditionExpression="free_pool = :free",
        ExpressionAttributeValues={":free": {"S": "FREE"}},
    )
    taken = pool.claim("tx-1", CALLER, T0)  # the index snapshot still shows this pair free

    lagging = LaggingIndex(dynamodb, snapshot)
    # Seeded so that the stale snapshot sends the claimer to the taken pair first.
    seed = next(s for s in range(100) if _first_choice(s, snapshot) == taken.pair)
    claim = DynamoDnisPool(lagging, TABLE, rng=random.Random(seed)).claim("tx-2", CALLER, T0)

    assert claim.pair != taken.pair
    assert lagging.claim_writes == 2
    holders = {e.pair: e.claim.transaction_id for e in pool.list_pairs() if e.claim}
    assert holders == {taken.pair: "tx-1", claim.pair: "tx-2"}


def _first_choice(seed: int, page: dict[str, Any]) -> DnisPair:
    from switchboard.domain.pool import claim_order

    pairs = [DnisPair(i["sma_number"]["S"], i["connect_number"]["S"]) for i in page["Items"]]
    return claim_order(pairs, random.Random(seed))[0]


class AlwaysLoses(Counting):
    """Every claim write loses its race (another call always got there first)."""

    def update_item(self, **kwargs: Any) -> Any:
        if "claimed_at = :at" in kwargs["UpdateExpression"]:
            self.claim_writes += 1
            raise ClientError(
                {"Error": {"Code": "ConditionalCheckFailedException", "Message": "lost"}}, "UpdateItem"
            )
        return super().update_item(**kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.claim_writes += 1
        raise ClientError(
            {
                "Error": {"Code": "TransactionCanceledException", "Message": "lost"},
                "CancellationReasons": [{"Code": "ConditionalCheckFailed"}, {"Code": "None"}],
            },
            "TransactWriteItems",
        )


@pytest.mark.parametrize("max_attempts", [1, 4, 6])
def test_claims_spend_at_most_max_attempts_writes(dynamodb: Any, max_attempts: int) -> None:
    add_pairs(DynamoDnisPool(dynamodb, TABLE), 9)
    losing = AlwaysLoses(dynamodb)

    with pytest.raises(PoolExhaustedError, match="lost") as excinfo:
        DynamoDnisPool(losing, TABLE, max_attempts=max_attempts).claim("tx-1", CALLER, T0)

    assert losing.claim_writes == excinfo.value.attempts == max_attempts


def test_storage_failures_are_storage_errors(dynamodb: Any) -> None:
    pool = DynamoDnisPool(dynamodb, "no-such-table")

    for call in (
        lambda: pool.claim("tx-1", CALLER, T0),
        lambda: pool.release(PAIR, "tx-1"),
        lambda: pool.find(*PAIR),
        lambda: pool.add(PAIR),
        pool.list_pairs,
        lambda: pool.force_release(PAIR),
    ):
        with pytest.raises(StorageError):
            call()


def test_concurrent_claims_never_share_a_pair_and_leak_nothing(dynamodb: Any) -> None:
    """8 threads claim and release again and again; each checks it is the only holder."""
    # 12 rounds: moto copies the whole table for every transaction (each claim is one), so the run
    # time grows with the square of the claims; 96 claims on 9 pairs are contention enough.
    threads, rounds = 8, 12
    pool = DynamoDnisPool(Gate(dynamodb), TABLE)
    add_pairs(pool, 9)
    lock = threading.Lock()
    holders: dict[DnisPair, str] = {}
    doubles: list[tuple[DnisPair, str, str]] = []
    lost_releases: list[str] = []
    outcomes: Counter[str] = Counter()
    errors: list[BaseException] = []

    def caller(worker: int) -> None:
        rng = random.Random(worker)
        try:
            for n in range(rounds):
                tx = f"tx-{worker}-{n}"
                try:
                    claim = pool.claim(tx, CALLER, T0 + n)
                except PoolExhaustedError:
                    with lock:
                        outcomes["exhausted"] += 1
                    continue
                with lock:
                    outcomes["claimed"] += 1
                    if claim.pair in holders:
                        doubles.append((claim.pair, holders[claim.pair], tx))
                    holders[claim.pair] = tx
                threading.Event().wait(rng.random() / 500)  # hold it 0-2 ms
                with lock:
                    if holders.get(claim.pair) == tx:
                        del holders[claim.pair]
                if not pool.release(claim.pair, tx):  # only a double claim (or takeover) loses it
                    with lock:
                        lost_releases.append(tx)
        except BaseException as error:  # surface a worker's failure in the test
            errors.append(error)

    workers = [threading.Thread(target=caller, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert errors == []
    assert doubles == []
    assert lost_releases == []
    assert outcomes["claimed"] + outcomes["exhausted"] == threads * rounds
    assert outcomes["claimed"] >= threads * rounds * 0.95
    leaked = [entry for entry in pool.list_pairs() if not entry.free]
    assert leaked == []
    assert len(free_index(dynamodb)) == 9
    assert sum(entry.claim_count for entry in pool.list_pairs()) == outcomes["claimed"]


# ------------------------------------------------------------------------------ operator


def test_force_release(pool: DynamoDnisPool) -> None:
    pool.add(PAIR)
    claim = pool.claim("tx-1", CALLER, T0)

    assert pool.force_release(PAIR) == claim
    assert pool.force_release(PAIR) is None
    assert pool.release(PAIR, "tx-1") is False  # the call's own release afterwards is a no-op
    with pytest.raises(PairNotFoundError):
        pool.force_release(DnisPair("+12025550199", CONNECTS[0]))


def test_cli_pool_add_list_release(
    dynamodb: Any, pool: DynamoDnisPool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pool", "add", "(202) 555-0170", "312-555-0180"]) == 0
    assert "Added DNIS pair +12025550170 → +13125550180 (free)." in capsys.readouterr().out
    assert main(["pool", "add", SMAS[0], CONNECTS[0]]) == 0
    assert "already in the pool" in capsys.readouterr().out
    assert main(["pool", "add", SMAS[0], CONNECTS[1]]) == 0
    claim = pool.claim("tx-cli", CALLER, T0)  # long ago: shows as stale
    capsys.readouterr()

    assert main(["pool", "list"]) == 0
    listing = capsys.readouterr().out
    assert "free" in listing
    assert "claimed  " in listing
    assert "tx-cli" in listing
    assert CALLER in listing
    assert "(stale)" in listing
    assert "2 pairs: 1 free, 1 claimed (1 stale" in listing

    assert main(["pool", "release", *claim.pair]) == 0
    assert f"Released DNIS pair {claim.pair} (held by call tx-cli for" in capsys.readouterr().out
    assert main(["pool", "release", *claim.pair]) == 0
    assert "was already free" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pool", "add", SMAS[0], SMAS[0]], "needs two different numbers"),
        (["pool", "add", "not-a-number", CONNECTS[0]], "is not a phone number"),
        (["pool", "add", "555", CONNECTS[0]], "555 is not a phone number"),
        (["pool", "release", "+12025550199", CONNECTS[0]], "is not in the DNIS pool"),
    ],
)
def test_cli_pool_refusals_exit_2(
    dynamodb: Any, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_cli_pool_list_of_an_empty_pool(dynamodb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pool", "list"]) == 0
    assert "The DNIS pool is empty" in capsys.readouterr().out


@pytest.mark.parametrize(("bound", "stale"), [("3600", True), ("86400", False)])
def test_cli_pool_list_marks_stale_claims_by_the_configured_bound(
    pool: DynamoDnisPool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    bound: str,
    stale: bool,
) -> None:
    import time

    monkeypatch.setenv("DNIS_CLAIM_STALE_SECONDS", bound)
    pool.add(PAIR)
    pool.claim("tx-2h", CALLER, int(time.time() * 1000) - 2 * 3600 * 1000)  # two hours ago

    assert main(["pool", "list"]) == 0
    assert ("(stale)" in capsys.readouterr().out) is stale
