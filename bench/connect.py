"""Amazon Connect hot-path benchmark (``make bench``, ``python -m bench.connect``).

Measures, in one run on this machine, what issue 15 asks of the Connect backend:

1. Table operations per call, per scenario, counted with botocore's ``before-call`` event on the
   clients of ``connect_lambda.app`` and ``connect_lambda.contact_events``, while the shipped flow
   runs in the local Flow-language interpreter: reads per call (the rule, once) and writes per
   call, the synchronous turns' (the caller waits for them) apart from the asynchronous
   ``Dialing`` turns' (the live entry, one per dial, off the caller's path).
2. Warm ``Purpose=Start`` through ``connect_lambda.app.handler`` as a ratio to a bare handler that
   does the same single GetItem with the same kind of client, both against a loopback endpoint that
   answers at once (``bench.seed.instant_dynamodb``: the stored rule for GetItem, an empty success
   for a write), rounds interleaved, so the figure is what the handler itself adds. (Against
   moto the ratio grew with every round: moto deep-copies the table and its stream on each
   TransactWriteItems.) Target ≤ 1.1×. The warm ``Purpose=Dialing`` turn (one conditional
   TransactWriteItems) is timed beside it, against the same bare GetItem handler and against a bare
   handler making the same one write.
3. ``import connect_lambda.app`` (the cold start of the Connect entry point) as a ratio to
   ``import boto3`` plus creating a DynamoDB client, in fresh interpreters, interleaved.
   Target ≤ 1.2×.
4. Simulated calls per second through the interpreter and the real forwarding decisions
   (``ConnectForwardingApp``) with in-memory ports, so the figure is the interpreter's and the
   Lambda's logic, not moto's HTTP; the same with moto is listed beside it. Target ≥ 1,000/s.

Ratios, not absolute times, are the figures: both sides of each ratio run in the same process or
back to back, so machine noise mostly cancels.
"""

from __future__ import annotations

import argparse
import json
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

TABLE = "switchboard-bench-connect"
OURS = "+12025550100"
CALLER = "+13035550123"
D1, D2, D3 = "+12065550111", "+13125550122", "+14155550133"
FLOW_PATH = ROOT / "connect_lambda" / "forwarding_flow.json"
PROMPT_BASE = "https://bench-prompts.s3.us-east-1.amazonaws.com/prompts/connect/"

TARGETS = {"warm_ratio": 1.1, "import_ratio": 1.2, "calls_per_second": 1000.0}


class OperationCounter:
    """botocore ``before-call`` hook: the operations a client made since the last :meth:`take`,
    and (:attr:`purpose`, when the caller sets it) for which turn of the flow."""

    def __init__(self) -> None:
        self.ops: list[str] = []
        self.purposes: list[str] = []
        self.purpose = ""

    def __call__(self, model: Any, **_: Any) -> None:
        self.ops.append(model.name)
        self.purposes.append(self.purpose)

    def take(self) -> list[str]:
        ops, self.ops, self.purposes = self.ops, [], []
        return ops

    def take_by_purpose(self) -> list[tuple[str, str]]:
        pairs = list(zip(self.purposes, self.ops, strict=True))
        self.take()
        return pairs


def _env(endpoint: str) -> dict[str, str]:
    return {
        **BENCH_CREDENTIALS,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "TABLE_NAME": TABLE,
        "CONNECT_PROMPT_BASE_URL": PROMPT_BASE,
        "SIP_MEDIA_APPLICATION_ID": "bench-sma",  # the transfer flow is not measured; quiet its check
        "POWERTOOLS_METRICS_NAMESPACE": "SwitchboardBench",
    }


def _phones(kind: str) -> dict[str, Any]:
    from switchboard_local.aws.connect_flow import ThirdParty

    return {
        "answered by the 1st": {D1: ThirdParty.answers(4, 30)},
        "follow-me: 1st no answer, 2nd busy, 3rd answers": {
            D1: ThirdParty.no_answer(),
            D2: ThirdParty.busy(),
            D3: ThirdParty.answers(4, 30),
        },
        "all fail, failure prompt": {
            D1: ThirdParty.no_answer(),
            D2: ThirdParty.busy(),
            D3: ThirdParty.unreachable(),
        },
        "caller hangs up while the 1st rings": {D1: ThirdParty.no_answer()},
    }[kind]


SCENARIOS: dict[str, tuple[str, float | None]] = {
    # name → (dialed number, caller hangs up after)
    "answered by the 1st": (OURS, None),
    "follow-me: 1st no answer, 2nd busy, 3rd answers": (OURS, None),
    "all fail, failure prompt": (OURS, None),
    "caller hangs up while the 1st rings": (OURS, 8.0),
    "not in service": ("+12025550199", None),
}


def _interpreter(handler: Callable[..., Any], on_disconnected: Callable[..., Any] | None) -> Any:
    from switchboard_local.aws.connect_flow import FlowInterpreter

    return FlowInterpreter(
        json.loads(FLOW_PATH.read_text()),
        handler,
        claimed={OURS, "+12025550199"},
        prompt_seconds=lambda uri: 3.0,
        on_disconnected=on_disconnected,
    )


def lifecycle_calls(app: Any, events: Any) -> list[dict[str, Any]]:
    """Whole calls through the shipped flow: DynamoDB operations of the flow's Lambda and of the
    contact-events function (which every contact's ``DISCONNECTED`` event reaches), apart."""
    flow, disconnected = OperationCounter(), OperationCounter()
    hooks = [(app.forwarding._rules._client, flow), (events.app._calls._client, disconnected)]
    for client, counter in hooks:
        client.meta.events.register("before-call.dynamodb", counter)

    def handler(event: dict[str, Any], context: Any) -> Any:
        flow.purpose = str(event["Details"]["Parameters"].get("Purpose", ""))
        return app.handler(event, context)

    interpreter = _interpreter(handler, events.handler)
    clock = app.forwarding.clock
    app.forwarding.clock = interpreter.now_ms
    results = []
    try:
        with quiet():
            for name, (dialed, hangs_up) in SCENARIOS.items():
                phones = _phones(name) if dialed == OURS else {}
                flow.take()
                disconnected.take()
                transcript = interpreter.place_call(
                    dialed, CALLER, phones=phones, caller_hangs_up_after=hangs_up
                )
                turns, after = flow.take_by_purpose(), disconnected.take()
                ops = [op for _, op in turns]
                dialing = [op for purpose, op in turns if purpose == "Dialing"]
                results.append(
                    {
                        "scenario": name,
                        "dials": len(transcript.dials),
                        "reads": sum(op in READS for op in ops),
                        "writes": sum(op in WRITES for op in ops),
                        "sync_writes": sum(op in WRITES for op in ops) - sum(op in WRITES for op in dialing),
                        "dialing_writes": sum(op in WRITES for op in dialing),
                        "start_operations": [op for purpose, op in turns if purpose == "Start"],
                        "operations": ops,
                        "disconnected_reads": sum(op in READS for op in after),
                        "disconnected_writes": sum(op in WRITES for op in after),
                        "disconnected_operations": after,
                        "flags": transcript.flags,
                    }
                )
    finally:
        app.forwarding.clock = clock
        for client, counter in hooks:
            client.meta.events.unregister("before-call.dynamodb", counter)
    return results


def warm_start_ratio(app: Any, rounds: int) -> dict[str, float]:
    """Median warm time of ``Purpose=Start`` vs a bare one-GetItem handler, interleaved, both against
    an endpoint that answers at once, with the entry point's own forwarding app rebuilt for it."""
    import botocore.session

    from bench.seed import instant_dynamodb
    from switchboard.adapters.dynamo_codec import encode_item
    from switchboard.adapters.dynamodb import rule_to_item
    from switchboard.domain.rules import ForwardRule

    rule = ForwardRule(number=OURS, destinations=(D1, D2, D3), ring_timeout=20, version=1)
    item = encode_item({k: v for k, v in rule_to_item(rule).items() if v is not None})
    saved = app.forwarding
    with instant_dynamodb({TABLE: item}) as endpoint:
        previous = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        try:
            app.forwarding = app._build_forwarding(botocore.session.get_session())
        finally:
            os.environ["AWS_ENDPOINT_URL"] = previous or ""
        try:
            return _warm_start_rounds(app, app.forwarding._rules._client, rounds)
        finally:
            app.forwarding = saved


def _warm_start_rounds(app: Any, client: Any, rounds: int) -> dict[str, float]:
    from tests.helpers import load_event

    key = {"pk": {"S": f"NUMBER#{OURS}"}, "sk": {"S": "RULE"}}

    def bare_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        item = client.get_item(TableName=TABLE, Key=key, ConsistentRead=True).get("Item")
        return {"status": "ok", "found": "yes" if item else "no"}

    # What Dialing sends, bare: one TransactWriteItems of a condition check and a conditional put.
    entry = {"pk": {"S": "CALL#bench-bare"}, "sk": {"S": "LIVE"}, "since": {"N": "0"}}

    def bare_write(event: dict[str, Any], context: Any) -> dict[str, str]:
        client.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"pk": {"S": "CALL#bench-bare"}, "sk": {"S": "RECORD"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": TABLE,
                        "Item": entry,
                        "ConditionExpression": "attribute_not_exists(pk) OR since < :since",
                        "ExpressionAttributeValues": {":since": {"N": "1"}},
                    }
                },
            ]
        )
        return {"status": "ok"}

    event = load_event("connect_forward_start")
    with quiet():
        started = app.handler(event, None)
    assert started["op"] == "dial"
    dialing_event = load_event("connect_forward_dialing")
    dialing_event["Details"]["ContactData"]["Attributes"] = {
        k: v for k, v in started.items() if k != "status" and v
    }
    counter = OperationCounter()
    client.meta.events.register("before-call.dynamodb", counter)
    try:
        with quiet():
            app.handler(event, None)
            start_ops = counter.take()
            app.handler(dialing_event, None)
            dialing_ops = counter.take()
    finally:
        client.meta.events.unregister("before-call.dynamodb", counter)

    def timed(fn: Callable[[], Any]) -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    real: list[float] = []
    bare: list[float] = []
    dialing: list[float] = []
    bare_w: list[float] = []
    with quiet():
        for _ in range(20):  # warm every path (connection pool, caches)
            app.handler(event, None)
            app.handler(dialing_event, None)
            bare_handler(event, None)
            bare_write(event, None)
        for index in range(rounds):
            order = [
                (real, lambda: app.handler(event, None)),
                (bare, lambda: bare_handler(event, None)),
                (dialing, lambda: app.handler(dialing_event, None)),
                (bare_w, lambda: bare_write(event, None)),
            ]
            shift = index % len(order)
            for samples, run in order[shift:] + order[:shift]:
                samples.append(timed(run))
    real_ms = statistics.median(real) * 1000
    bare_ms = statistics.median(bare) * 1000
    dialing_ms = statistics.median(dialing) * 1000
    bare_w_ms = statistics.median(bare_w) * 1000
    return {
        "rounds": rounds,
        "start_operations": start_ops,
        "dialing_operations": dialing_ops,
        "handler_ms": round(real_ms, 3),
        "bare_get_item_ms": round(bare_ms, 3),
        "ratio": round(real_ms / bare_ms, 3),
        "dialing_ms": round(dialing_ms, 3),
        "dialing_ratio": round(dialing_ms / bare_ms, 3),
        "bare_write_ms": round(bare_w_ms, 3),
        "dialing_ratio_same_io": round(dialing_ms / bare_w_ms, 3),
    }


def import_ratio(endpoint: str, rounds: int) -> dict[str, float]:
    """Fresh-interpreter import times, interleaved so drift hits both sides equally."""
    env = {**os.environ, **_env(endpoint), "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    programs = {
        "python": "pass",
        "boto3_client": "import boto3; boto3.client('dynamodb')",
        "connect_lambda.app": "import connect_lambda.app",
    }
    med = fresh_interpreter_ms(programs, env, rounds)
    base = med["python"]
    return {
        "rounds": rounds,
        "python_startup_ms": round(base, 1),
        "import_boto3_client_ms": round(med["boto3_client"], 1),
        "import_connect_app_ms": round(med["connect_lambda.app"], 1),
        "ratio_total": round(med["connect_lambda.app"] / med["boto3_client"], 3),
        "ratio_net_of_startup": round((med["connect_lambda.app"] - base) / (med["boto3_client"] - base), 3),
    }


class _MemoryRules:
    def __init__(self, rule: Any) -> None:
        self._rule = rule

    def get(self, number: str) -> Any:
        return self._rule if number == self._rule.number else None


class _MemoryCalls:
    def __init__(self) -> None:
        self.records: dict[str, Any] = {}

    def record_call(self, transaction_id: str, record: Any) -> None:
        self.records.setdefault(transaction_id, record)

    def call_live(self, transaction_id: str, live: Any) -> None:
        pass


class _MemoryProgress:  # the Dialing turn's writes; nothing to keep here
    def save(self, contact_id: str, state: Any, now_ms: int) -> None:
        pass


class _NoTelemetry:
    def count(self, metric: str) -> None:
        pass

    def error(self, message: str, **fields: Any) -> None:
        pass

    def decided(self, event: Any, reply: Any, plan: Any) -> None:
        pass


def interpreter_throughput(app: Any, calls: int) -> dict[str, float]:
    """Simulated calls per second over the scenario mix of :data:`SCENARIOS`, end to end: the
    interpreter and the real forwarding decisions (``ConnectForwardingApp``) with in-memory ports.
    The time inside the Lambda is measured too, so the interpreter's own share is known."""
    from connect_lambda.actions import ConnectPrompts
    from connect_lambda.events import parse_event
    from connect_lambda.forwarding import ConnectForwardingApp
    from switchboard.domain.rules import ForwardRule

    forwarding = ConnectForwardingApp(
        _MemoryRules(ForwardRule(number=OURS, destinations=(D1, D2, D3), ring_timeout=20)),
        _MemoryCalls(),
        _MemoryProgress(),
        ConnectPrompts(PROMPT_BASE),
        _NoTelemetry(),
    )
    in_lambda = [0.0]

    def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        start = time.perf_counter()
        reply = {**forwarding.handle(parse_event(event)), "status": "ok"}
        in_lambda[0] += time.perf_counter() - start
        return reply

    memory = _interpreter(handler, None)
    forwarding.clock = memory.now_ms
    mix = [
        (dialed, hangs_up, _phones(name) if dialed == OURS else {})
        for name, (dialed, hangs_up) in SCENARIOS.items()
    ]
    start = time.perf_counter()
    for index in range(calls):
        dialed, hangs_up, phones = mix[index % len(mix)]
        transcript = memory.place_call(dialed, CALLER, phones=phones, caller_hangs_up_after=hangs_up)
        assert not transcript.flags, transcript.flags
    in_memory = time.perf_counter() - start

    real = _interpreter(app.handler, None)
    clock = app.forwarding.clock
    app.forwarding.clock = real.now_ms
    moto_calls = max(len(mix), calls // 40)
    try:
        with quiet():
            start = time.perf_counter()
            for index in range(moto_calls):
                dialed, hangs_up, phones = mix[index % len(mix)]
                real.place_call(dialed, CALLER, phones=phones, caller_hangs_up_after=hangs_up)
            with_moto = time.perf_counter() - start
    finally:
        app.forwarding.clock = clock
    return {
        "calls": calls,
        "calls_per_second": round(calls / in_memory, 1),
        "interpreter_only_calls_per_second": round(calls / (in_memory - in_lambda[0]), 1),
        "moto_calls": moto_calls,
        "calls_per_second_with_moto": round(moto_calls / with_moto, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400, help="warm handler rounds")
    parser.add_argument("--import-rounds", type=int, default=15, help="fresh interpreters per import case")
    parser.add_argument("--calls", type=int, default=2000, help="simulated calls for the throughput")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    with moto_endpoint() as endpoint:
        os.environ.update(_env(endpoint))
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        import botocore.session

        from switchboard.adapters.dynamodb import DynamoForwardRepository
        from switchboard.domain.rules import ForwardRule
        from switchboard_local.aws.template import create_table

        setup_client = botocore.session.get_session().create_client("dynamodb")
        create_table(setup_client, TABLE)
        DynamoForwardRepository(setup_client, TABLE).save(
            ForwardRule(number=OURS, destinations=(D1, D2, D3), ring_timeout=20), actor="bench"
        )
        import connect_lambda.contact_events as events
        from connect_lambda import app

        progress("counting table operations over five Connect call scenarios")
        lifecycle = lifecycle_calls(app, events)
        progress(f"timing warm Start against a bare GetItem ({args.rounds} interleaved rounds)")
        warm = warm_start_ratio(app, args.rounds)
        progress(f"running {args.calls} simulated calls through the flow interpreter")
        throughput = interpreter_throughput(app, args.calls)
        progress(f"timing imports in fresh interpreters ({args.import_rounds} rounds per case)")
        results = {
            "python": sys.version.split()[0],
            "load_average": round(os.getloadavg()[0], 1),
            "lifecycle": lifecycle,
            "warm_start": warm,
            "interpreter": throughput,
            "imports": import_ratio(endpoint, args.import_rounds),
            "targets": TARGETS,
        }
    # The figures and any missed target are printed; a loaded machine must not fail CI.
    return report(render(results), results, args.json)


def misses(results: dict[str, Any]) -> list[str]:
    """The targets this run missed (empty: all met)."""
    missed = []
    if results["warm_start"]["ratio"] > TARGETS["warm_ratio"]:
        missed.append(f"warm Start {results['warm_start']['ratio']}× > {TARGETS['warm_ratio']}×")
    if results["imports"]["ratio_total"] > TARGETS["import_ratio"]:
        missed.append(f"cold import {results['imports']['ratio_total']}× > {TARGETS['import_ratio']}×")
    if results["interpreter"]["calls_per_second"] < TARGETS["calls_per_second"]:
        missed.append(f"interpreter {results['interpreter']['calls_per_second']} calls/s")
    if results["warm_start"]["start_operations"] != ["GetItem"]:
        missed.append(f"Start makes {results['warm_start']['start_operations']}, not one GetItem")
    for row in results["lifecycle"]:
        if row["dialing_writes"] != row["dials"]:
            missed.append(
                f"{row['scenario']}: {row['dialing_writes']} Dialing writes for {row['dials']} dials"
            )
        if row["reads"] != 1:
            missed.append(f"{row['scenario']}: {row['reads']} table reads, not 1")
        if row["flags"]:
            missed.append(f"{row['scenario']}: {', '.join(row['flags'])}")
    return missed


def render(results: dict[str, Any]) -> str:
    lines = ["## Amazon Connect: table operations per call (both Connect functions' clients)", ""]
    lines += [
        "| scenario | dials | flow Lambda: reads | writes (synchronous turns) "
        "| writes (asynchronous Dialing) | operations "
        "| on DISCONNECTED: reads | writes | operations |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["lifecycle"]:
        lines.append(
            f"| {row['scenario']} | {row['dials']} | {row['reads']} | {row['sync_writes']} "
            f"| {row['dialing_writes']} "
            f"| {', '.join(row['operations'])} | {row['disconnected_reads']} "
            f"| {row['disconnected_writes']} | {', '.join(row['disconnected_operations']) or '—'} |"
        )
    warm = results["warm_start"]
    lines += [
        "",
        f"## Warm Connect `Start` vs bare one-GetItem handler ({warm['rounds']} interleaved rounds)",
        "",
        f"Start makes {', '.join(warm['start_operations'])}; the asynchronous Dialing turn "
        f"{', '.join(warm['dialing_operations'])} (the caller does not wait for it).",
        "",
        "| `Start` (median) | bare GetItem (median) | ratio (target ≤ 1.1×) "
        "| `Dialing` (median) | ratio to bare GetItem | bare same write (median) | ratio to it |",
        "|---|---|---|---|---|---|---|",
        f"| {warm['handler_ms']} ms | {warm['bare_get_item_ms']} ms | **{warm['ratio']}×** "
        f"| {warm['dialing_ms']} ms | {warm['dialing_ratio']}× | {warm['bare_write_ms']} ms "
        f"| {warm['dialing_ratio_same_io']}× |",
    ]
    imp = results["imports"]
    lines += [
        "",
        f"## Cold import of the Connect entry point ({imp['rounds']} interleaved rounds, medians)",
        "",
        "| python -c pass | import boto3 + client | import connect_lambda.app | ratio (target ≤ 1.2×) "
        "| ratio net of startup |",
        "|---|---|---|---|---|",
        f"| {imp['python_startup_ms']} ms | {imp['import_boto3_client_ms']} ms "
        f"| {imp['import_connect_app_ms']} ms | **{imp['ratio_total']}×** | {imp['ratio_net_of_startup']}× |",
    ]
    it = results["interpreter"]
    lines += [
        "",
        "## Flow interpreter: simulated calls per second (the five scenarios above, in turn)",
        "",
        "| interpreter + real decisions, in-memory ports (target ≥ 1,000/s) | interpreter alone "
        "| with moto over HTTP |",
        "|---|---|---|",
        f"| **{it['calls_per_second']}/s** ({it['calls']} calls) "
        f"| {it['interpreter_only_calls_per_second']}/s "
        f"| {it['calls_per_second_with_moto']}/s ({it['moto_calls']} calls) |",
        "",
    ]
    missed = misses(results)
    lines.append("Every target met." if not missed else "MISSED: " + "; ".join(missed))
    lines += ["", f"Python {results['python']}; load average {results['load_average']} when it ran."]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
