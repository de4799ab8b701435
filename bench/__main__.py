"""SMA hot-path benchmark (``make bench``).

Measures, in one run on this machine:

1. AWS calls per forwarded-call lifecycle (counted with botocore's ``before-call`` event on the
   SMA's own client): reads on the first event, reads after it, writes on the first event (the
   post-dial delay) and per call (a bridged call is listed as live when answered: one more write).
2. Warm handler time for NEW_INBOUND_CALL as a ratio to a bare handler that does the same single
   GetItem with the same client against the same table (a moto server on loopback), interleaved.
3. ``import sma.app`` time as a ratio to ``import boto3``, in fresh interpreters, interleaved.

Ratios, not absolute times, are the figures: both sides of each ratio run in the same process or
back to back, so machine noise mostly cancels.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import (
    BENCH_CREDENTIALS,
    READS,
    ROOT,
    WRITES,
    fresh_interpreter_ms,
    moto_endpoint,
    progress,
    report,
)
from switchboard_local.console_output import silenced as quiet

TABLE = "switchboard-bench"
OURS = "+12025550100"
VOICEMAIL_NUMBER = "+12025550101"  # forwarded with `then voicemail`
DESTINATIONS = ("+12065550111", "+13125550122")
# Simulated time between a lifecycle's events, so a voicemail has a length (the count of table
# operations does not depend on it).
EVENT_GAP_MS = 5_000


def _env(endpoint: str) -> dict[str, str]:
    return {
        **BENCH_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "TABLE_NAME": TABLE,
        "PROMPT_BUCKET": "bench-prompts",
        "RECORDINGS_BUCKET": "bench-recordings",
        "POWERTOOLS_METRICS_NAMESPACE": "SwitchboardBench",
    }


class Counter:
    def __init__(self) -> None:
        self.ops: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.ops.append(model.name)

    def take(self) -> list[str]:
        ops, self.ops = self.ops, []
        return ops


def lifecycle_calls(sma_app: Any) -> list[dict[str, Any]]:
    """Run whole calls through the handler and count DynamoDB operations per event."""
    from tests.helpers import CallDriver

    counter = Counter()
    sma_app.dynamodb.meta.events.register("before-call.dynamodb", counter)
    scenarios: dict[str, list[tuple[str, dict[str, str]]]] = {
        "follow-me, bridged on 2nd, callee hangs up": [
            ("new_inbound_call", {}),
            ("ringing", {}),
            ("action_failed_call_and_bridge", {"destination": DESTINATIONS[0]}),
            ("action_successful_call_and_bridge", {"destination": DESTINATIONS[1]}),
            ("hangup_leg_b", {"destination": DESTINATIONS[1]}),
            ("action_successful_hangup", {}),
        ],
        "bridged on 1st, caller hangs up": [
            ("new_inbound_call", {}),
            ("action_successful_call_and_bridge", {"destination": DESTINATIONS[0]}),
            ("hangup_leg_a", {}),
        ],
        "all destinations fail, failure prompt": [
            ("new_inbound_call", {}),
            ("action_failed_call_and_bridge", {"destination": DESTINATIONS[0]}),
            ("action_failed_call_and_bridge", {"destination": DESTINATIONS[1]}),
            ("action_successful_hangup", {}),
        ],
        "not in service": [("new_inbound_call", {"to": "+12025550199"}), ("action_successful_hangup", {})],
        "all destinations fail, voicemail left (#)": [
            ("new_inbound_call", {"to": VOICEMAIL_NUMBER}),
            ("action_failed_call_and_bridge", {"destination": DESTINATIONS[0]}),
            ("action_failed_call_and_bridge", {"destination": DESTINATIONS[1]}),
            ("action_successful_play_audio", {}),  # the voicemail greeting played: record
            ("action_successful_record_audio", {}),  # the message: thank you, hang up, record
            ("hangup_leg_a", {}),
        ],
    }
    results = []
    real_clock = sma_app.app.clock
    ticks = iter(range(real_clock(), 2**62, EVENT_GAP_MS))
    sma_app.app.clock = lambda: next(ticks)
    with quiet():
        for index, (name, steps) in enumerate(scenarios.items()):
            driver = CallDriver(sma_app.handler, f"bench-lifecycle-{index}")
            per_event = []
            for event_name, overrides in steps:
                driver.send(event_name, **overrides)
                per_event.append(counter.take())
            first, rest = per_event[0], [op for ops in per_event[1:] for op in ops]
            everything = first + rest
            results.append(
                {
                    "scenario": name,
                    "events": len(steps),
                    "reads_first_event": sum(op in READS for op in first),
                    "reads_after_first": sum(op in READS for op in rest),
                    "writes_first_event": sum(op in WRITES for op in first),
                    "writes": sum(op in WRITES for op in everything),
                    "operations": everything,
                }
            )
    sma_app.app.clock = real_clock
    sma_app.dynamodb.meta.events.unregister("before-call.dynamodb", counter)
    return results


def warm_handler_ratio(sma_app: Any, rounds: int) -> dict[str, float]:
    """Median warm time of the real handler vs a bare one-GetItem handler, interleaved."""
    from tests.helpers import load_event

    client = sma_app.dynamodb
    key = {"pk": {"S": f"NUMBER#{OURS}"}, "sk": {"S": "RULE"}}

    def bare_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        item = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
        return {"SchemaVersion": "1.0", "Actions": [], "found": bool(item)}

    event = load_event("new_inbound_call")
    event["CallDetails"]["TransactionAttributes"] = {}
    mid_call = load_event("action_failed_call_and_bridge")

    def timed(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    real: list[float] = []
    bare: list[float] = []
    mid: list[float] = []
    with quiet():
        first = sma_app.handler(event, None)
        mid_call["CallDetails"]["TransactionAttributes"] = first["TransactionAttributes"]
        for _ in range(20):  # warm both paths (connection pool, caches)
            sma_app.handler(event, None)
            bare_handler(event, None)
        for index in range(rounds):
            if index % 2:
                real.append(timed(lambda: sma_app.handler(event, None)))
                bare.append(timed(lambda: bare_handler(event, None)))
            else:
                bare.append(timed(lambda: bare_handler(event, None)))
                real.append(timed(lambda: sma_app.handler(event, None)))
            mid.append(timed(lambda: sma_app.handler(mid_call, None)))
    real_ms = statistics.median(real) * 1000
    bare_ms = statistics.median(bare) * 1000
    return {
        "rounds": rounds,
        "handler_ms": round(real_ms, 3),
        "bare_get_item_ms": round(bare_ms, 3),
        "ratio": round(real_ms / bare_ms, 3),
        "mid_call_event_ms": round(statistics.median(mid) * 1000, 3),
    }


def import_ratio(endpoint: str, rounds: int) -> dict[str, float]:
    """Fresh-interpreter import times, interleaved so drift hits both sides equally."""
    env = {**os.environ, **_env(endpoint), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    programs = {
        "python": "pass",
        "boto3": "import boto3",
        "sma.app": "import sma.app",
        "sma.app_no_client": "import botocore.session, aws_lambda_powertools, sma.forwarding",
    }
    med = fresh_interpreter_ms(programs, env, rounds)
    base = med["python"]
    return {
        "rounds": rounds,
        "python_startup_ms": round(base, 1),
        "import_boto3_ms": round(med["boto3"], 1),
        "import_sma_app_ms": round(med["sma.app"], 1),
        "ratio_total": round(med["sma.app"] / med["boto3"], 3),
        "ratio_net_of_startup": round((med["sma.app"] - base) / (med["boto3"] - base), 3),
        "ratio_without_client_creation": round(med["sma.app_no_client"] / med["boto3"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400, help="warm handler rounds")
    parser.add_argument("--import-rounds", type=int, default=15, help="fresh interpreters per import case")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    with moto_endpoint() as endpoint:
        os.environ.update(_env(endpoint))
        import botocore.session

        from switchboard.adapters.dynamodb import DynamoForwardRepository
        from switchboard.domain.rules import ForwardRule
        from switchboard_local.aws.template import create_table

        setup_client = botocore.session.get_session().create_client("dynamodb")
        create_table(setup_client, TABLE)
        DynamoForwardRepository(setup_client, TABLE).save(
            ForwardRule(number=OURS, destinations=DESTINATIONS), actor="bench"
        )
        DynamoForwardRepository(setup_client, TABLE).save(
            ForwardRule(number=VOICEMAIL_NUMBER, destinations=DESTINATIONS, failure="voicemail"),
            actor="bench",
        )
        import sma.app as sma_app

        progress("counting AWS calls over five call lifecycles")
        lifecycle = lifecycle_calls(sma_app)
        progress(f"timing the warm handler against a bare GetItem ({args.rounds} interleaved rounds)")
        warm = warm_handler_ratio(sma_app, args.rounds)
        progress(f"timing imports in fresh interpreters ({args.import_rounds} rounds per case)")
        results = {
            "python": sys.version.split()[0],
            "lifecycle": lifecycle,
            "warm_handler": warm,
            "imports": import_ratio(endpoint, args.import_rounds),
        }
    return report(render(results), results, args.json)


def render(results: dict[str, Any]) -> str:
    lines = ["## AWS calls per call lifecycle (SMA client, botocore before-call)", ""]
    lines += [
        "| scenario | events | reads on 1st event | reads after | writes on 1st event | writes "
        "| operations |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results["lifecycle"]:
        lines.append(
            f"| {row['scenario']} | {row['events']} | {row['reads_first_event']} "
            f"| {row['reads_after_first']} | {row['writes_first_event']} | {row['writes']} "
            f"| {', '.join(row['operations'])} |"
        )
    warm = results["warm_handler"]
    lines += [
        "",
        f"## Warm NEW_INBOUND_CALL handler vs bare one-GetItem handler ({warm['rounds']} interleaved rounds)",
        "",
        "| handler (median) | bare GetItem (median) | ratio | mid-call event, no I/O (median) |",
        "|---|---|---|---|",
        f"| {warm['handler_ms']} ms | {warm['bare_get_item_ms']} ms | **{warm['ratio']}×** "
        f"| {warm['mid_call_event_ms']} ms |",
        "",
        "ratio = our handler ÷ a handler that only does the same GetItem (same client, same table, "
        "rounds interleaved): what routing a call costs on top of the one read it needs "
        "(about 1.00×: nothing measurable).",
    ]
    imp = results["imports"]
    lines += [
        "",
        f"## Import time in a fresh interpreter ({imp['rounds']} interleaved rounds, medians)",
        "",
        "| python -c pass | import boto3 | import sma.app | ratio | ratio net of startup "
        "| ratio without client creation |",
        "|---|---|---|---|---|---|",
        f"| {imp['python_startup_ms']} ms | {imp['import_boto3_ms']} ms | {imp['import_sma_app_ms']} ms "
        f"| **{imp['ratio_total']}×** | {imp['ratio_net_of_startup']}× "
        f"| {imp['ratio_without_client_creation']}× |",
        "",
        "ratio = import sma.app ÷ import boto3 (what a cold start adds over the SDK the runtime "
        "loads anyway); net of startup: both less `python -c pass`; without client creation: "
        "sma.app's imports alone, before it creates its DynamoDB client at import.",
        "",
        f"Python {results['python']}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
