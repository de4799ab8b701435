"""DNIS pool benchmark (``python -m bench.pool``): concurrent claims against a moto server.

N threads (default 8) each claim a pair, hold it for a random 0-``hold`` ms, and release it, again
and again, on pools of 9 and 32 pairs. Reported per run: claims/s, conditional claim writes per
claim (target ≤ 1.5), free-index reads per claim, exhausted claims, **double claims** (must be 0)
and **leaked pairs** at the end (must be 0).

Double claims are detected two ways: a thread finding its pair in the shared holders map when it
claims it, and a release that finds its claim gone (no claim can go stale during the run, so only
a double claim can take a pair from its holder).

Two stores are measured:

``linearizable``
    moto behind a gate that lets one request in at a time. DynamoDB applies each single-item
    conditional write atomically; moto's server does not (``update_item`` evaluates the condition,
    then applies the update, with no lock, while other request threads run), so the gate supplies
    that atomicity. The threads still interleave freely *between* requests, where the pool's own
    races are (index read → write → release). These are the figures that must show 0 and 0.
``moto``
    moto as it is. Any double claim here is moto's missing atomicity, reported for honesty, not a
    property of the pool.

moto handles a request in milliseconds (GSI queries ~15 ms), so claims/s measures moto, not
DynamoDB; the ratios (writes and reads per claim) are what carry over.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import BENCH_CREDENTIALS, moto_endpoint, write_json

TABLE = "switchboard-bench-pool"


class Gate:
    """A client wrapper that lets one request at a time into the store (per-request atomicity)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                return method(**kwargs)

        return call


class Counting:
    """Counts claim writes (the TransactWriteItems of a claim and its marker) and free-index reads."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def update_item(self, **kwargs: Any) -> Any:
        if "claimed_at = :at" in kwargs["UpdateExpression"]:
            with self._lock:
                self.counts["claim_writes"] += 1
        return self._client.update_item(**kwargs)

    def transact_write_items(self, **kwargs: Any) -> Any:
        updates = [item.get("Update", {}).get("UpdateExpression", "") for item in kwargs["TransactItems"]]
        if any("claimed_at = :at" in update for update in updates):
            with self._lock:
                self.counts["claim_writes"] += 1
        return self._client.transact_write_items(**kwargs)

    def query(self, **kwargs: Any) -> Any:
        with self._lock:
            self.counts[f"query:{kwargs.get('IndexName', 'table')}"] += 1
        return self._client.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def pairs_for(size: int) -> list[tuple[str, str]]:
    """``size`` pairs from as few SMA numbers × Connect numbers as give that many (3×3, 4×8...)."""
    sma_count = max(1, int(size**0.5))
    while size % sma_count:
        sma_count -= 1
    connect_count = size // sma_count
    return [
        (f"+1202555{1000 + s:04d}", f"+1312555{2000 + c:04d}")
        for s in range(sma_count)
        for c in range(connect_count)
    ]


def run(
    client: Any, *, size: int, threads: int, claims: int, hold_ms: float, linearizable: bool
) -> dict[str, Any]:
    from switchboard.adapters.pool import FREE_INDEX, DynamoDnisPool
    from switchboard.domain.pool import DnisPair, PoolExhaustedError
    from switchboard_local.aws.template import create_table

    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_table(TableName=TABLE)
    create_table(client, TABLE)
    counting = Counting(Gate(client) if linearizable else client)
    pool = DynamoDnisPool(counting, TABLE)
    for sma, connect in pairs_for(size):
        pool.add(DnisPair(sma, connect))
    counting.counts.clear()

    lock = threading.Lock()
    holders: dict[Any, str] = {}
    outcome: Counter[str] = Counter()
    latencies: list[float] = []
    failures: list[str] = []
    start = threading.Barrier(threads + 1)

    def caller(worker: int) -> None:
        rng = random.Random(worker)
        start.wait()
        for n in range(claims):
            tx = f"bench-{worker}-{n}"
            began = time.perf_counter()
            try:
                claim = pool.claim(tx, "+13035550123", int(time.time() * 1000))
            except PoolExhaustedError:
                with lock:
                    outcome["exhausted"] += 1
                continue
            except Exception as error:  # a store failure: count it, keep going
                with lock:
                    failures.append(repr(error))
                continue
            elapsed = time.perf_counter() - began
            with lock:
                outcome["claims"] += 1
                latencies.append(elapsed)
                if claim.pair in holders:
                    outcome["double_claims_seen"] += 1
                holders[claim.pair] = tx
            time.sleep(rng.random() * hold_ms / 1000)
            with lock:
                if holders.get(claim.pair) == tx:
                    del holders[claim.pair]
            try:
                if not pool.release(claim.pair, tx):
                    with lock:
                        outcome["releases_lost"] += 1
            except Exception as error:
                with lock:
                    failures.append(repr(error))

    workers = [threading.Thread(target=caller, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - began

    entries = DynamoDnisPool(client, TABLE).list_pairs()
    leaked = [f"{e.pair} held by {e.claim.transaction_id}" for e in entries if e.claim is not None]
    done = outcome["claims"] or 1
    return {
        "store": "linearizable" if linearizable else "moto",
        "pairs": size,
        "threads": threads,
        "claims": outcome["claims"],
        "exhausted": outcome["exhausted"],
        "claims_per_second": round(outcome["claims"] / seconds, 1),
        "claim_writes_per_claim": round(counting.counts["claim_writes"] / done, 3),
        "free_index_reads_per_claim": round(counting.counts[f"query:{FREE_INDEX}"] / done, 3),
        "claim_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        # Two views of the same failure (one double claim may show in both): both must be 0.
        "double_claims": outcome["double_claims_seen"],
        "releases_lost": outcome["releases_lost"],
        "leaked_pairs": len(leaked),
        "leaked": leaked,
        "pairs_in_pool_at_end": len(entries),
        "errors": failures[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pool", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--claims", type=int, default=60, help="claims per thread and run")
    parser.add_argument("--pools", default="9,32", help="pool sizes, comma-separated")
    parser.add_argument("--hold-ms", type=float, default=5.0, help="longest hold of a claimed pair")
    parser.add_argument(
        "--stores", default="linearizable,moto", help="linearizable (gated moto) and/or moto (as it is)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    os.environ.update(BENCH_CREDENTIALS)
    import botocore.session
    from botocore.config import Config

    results = []
    with moto_endpoint() as endpoint:
        client = botocore.session.get_session().create_client(
            "dynamodb", endpoint_url=endpoint, config=Config(max_pool_connections=args.threads * 2)
        )
        for store in args.stores.split(","):
            for size in (int(s) for s in args.pools.split(",")):
                result = run(
                    client,
                    size=size,
                    threads=args.threads,
                    claims=args.claims,
                    hold_ms=args.hold_ms,
                    linearizable=store == "linearizable",
                )
                results.append(result)
                print(
                    f"{result['store']:<12} {size:>3} pairs, {args.threads} threads: "
                    f"{result['claims']} claims ({result['exhausted']} exhausted), "
                    f"{result['claims_per_second']} claims/s, "
                    f"{result['claim_writes_per_claim']} claim writes/claim, "
                    f"{result['free_index_reads_per_claim']} index reads/claim, "
                    f"p50 {result['claim_ms_p50']} ms, "
                    f"double claims {result['double_claims']} (releases lost {result['releases_lost']}), "
                    f"leaked pairs {result['leaked_pairs']}"
                    + (f", errors {result['errors']}" if result["errors"] else ""),
                    flush=True,
                )
    write_json(args.json, results)
    gated = [r for r in results if r["store"] == "linearizable"]
    ok = all(
        r["double_claims"] == r["releases_lost"] == r["leaked_pairs"] == 0 and not r["errors"] for r in gated
    )
    ok = ok and all(r["claim_writes_per_claim"] <= 1.5 for r in gated)
    print(
        "linearizable store: "
        + ("PASS (0 double claims, 0 leaked pairs, ≤ 1.5 writes/claim)" if ok else "FAIL")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
