"""Channel-alert figures on the local stack (``python -m bench.alerts``).

1. **Latency**: for calls driven through ``sma.app.handler`` (every destination rings out, so the
   SMA writes a ``bridge_failed`` event), the time from the end of the SMA's ``TransactWriteItems``
   (its first HTTP answer: a botocore ``response-received`` hook on the SMA's own client) to the
   Slack stand-in receiving the alert's ``chat.postMessage`` — through moto's DynamoDB stream, the
   stream pump (background thread, ``--intervals``) and ``bot.notifier.handler``. One call at a
   time, each started at a random phase of the poll.
2. **Injected faults**: the same path with Slack answering at random 429 (short Retry-After,
   waited for in-process), 429 with a long Retry-After (left to the mapping's retry), 503,
   ``channel_not_found`` and ``not_in_channel``; the pump delivering each batch a second time at
   random (an event-source mapping redelivering) and crashing after the handler at random (a Lambda
   timing out after posting). Counted per event: posted once, posted more than once (duplicated),
   in the on-failure destination, or neither (lost).

Everything runs in this process on loopback: moto server, Slack stand-in, handlers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import random
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.common import BENCH_CREDENTIALS, write_json

TABLE = "switchboard-bench-alerts"
CHANNEL = "C0ALERTS"
TOKEN = "xoxb-bench"
NUMBERS = ("+12025550100", "+12025550101", "+12025550102", "+12025550103")
DESTINATIONS = ("+12065550111", "+13125550122")
TX = re.compile(r"call `([^`]+)`")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Powertools prints logs and EMF metrics to stdout; keep the bench output readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


class Stack:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        from switchboard_local.slack.standin import SlackStandIn

        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.slack = SlackStandIn(tokens=[TOKEN]).start()
        os.environ.update(
            {
                **BENCH_CREDENTIALS,
                "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                "TABLE_NAME": TABLE,
                "PROMPT_BUCKET": "bench-prompts",
                "ALERT_CHANNEL": CHANNEL,
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": "bench",
                "SLACK_API_URL": self.slack.api_url,
                "POWERTOOLS_LOG_LEVEL": "CRITICAL",
                "POWERTOOLS_METRICS_NAMESPACE": "SwitchboardBench",
            }
        )
        import botocore.session

        from switchboard.adapters.dynamodb import DynamoForwardRepository
        from switchboard.domain.rules import ForwardRule
        from switchboard_local.aws.template import create_table

        self.dynamodb = botocore.session.get_session().create_client("dynamodb")
        create_table(self.dynamodb, TABLE)
        repo = DynamoForwardRepository(self.dynamodb, TABLE)
        for number in NUMBERS:
            repo.save(ForwardRule(number=number, destinations=DESTINATIONS), actor="bench")
        with quiet():
            import bot.notifier
            import sma.app
        self.sma = sma.app
        self.notifier = bot.notifier
        self.writes: dict[str, float] = {}
        self._current = ""
        # Per HTTP attempt: moto's TransactWriteItems sometimes answers 500 after writing (a race
        # in moto), and the SMA's client retries; the first answer is when the item existed.
        self.sma.dynamodb.meta.events.register("response-received.dynamodb.TransactWriteItems", self._written)

    def _written(self, **_: Any) -> None:
        self.writes.setdefault(self._current, time.time())

    def call(self, transaction_id: str, number: str) -> None:
        """One call to ``number`` on which every destination rings out (→ a bridge_failed event)."""
        from tests.helpers import CallDriver

        self._current = transaction_id
        driver = CallDriver(self.sma.handler, transaction_id)
        with quiet():
            driver.send("new_inbound_call", to=number)
            for destination in DESTINATIONS:
                driver.send("action_failed_call_and_bridge", error="CallNotAnswered", destination=destination)

    def posted(self) -> dict[str, list[float]]:
        """transaction id → arrival times of its successful chat.postMessage calls."""
        found: dict[str, list[float]] = {}
        for call in self.slack.calls_to("chat.postMessage"):
            if not call.ok:
                continue
            match = TX.search(json.dumps(call.args.get("blocks")))
            if match:
                found.setdefault(match.group(1), []).append(call.at)
        return found

    def stop(self) -> None:
        self.slack.stop()
        self.moto.stop()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(stack: Stack, interval: float, calls: int) -> dict[str, Any]:
    """One call at a time (each alert awaited before the next call, so nothing queues), started at
    a random phase of the poll."""
    from switchboard_local.aws.stream_pump import StreamPump

    stack.slack.clear()
    pump = StreamPump(TABLE, stack.notifier.handler, interval=interval, starting_position="LATEST")
    prefix = f"lat-{interval}-"
    with quiet(), pump:
        for index in range(calls):
            transaction_id = f"{prefix}{index}"
            time.sleep(random.uniform(0, interval))
            stack.call(transaction_id, NUMBERS[index % len(NUMBERS)])
            stack.slack.wait_for(lambda tx=transaction_id: tx in stack.posted(), 30)
    posted = stack.posted()
    samples = [
        (posted[tx][0] - stack.writes[tx]) * 1000
        for tx in posted
        if tx.startswith(prefix) and tx in stack.writes
    ]
    handler_ms = [i.seconds * 1000 for i in pump.invocations if i.records == 1 and not i.failed]
    return {
        "poll_interval_s": interval,
        "calls": calls,
        "alerts": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(_percentile(samples, 0.95), 1),
        "max_ms": round(max(samples), 1),
        "min_ms": round(min(samples), 1),
        "handler_p50_ms": round(statistics.median(handler_ms), 1) if handler_ms else None,
    }


class Faults:
    """Random Slack failures, queued with the stand-in's own ``fail_next`` just before each call."""

    KINDS = (
        ("ratelimited", 429, 0, 0.12),  # Retry-After 0: waited for in-process
        ("ratelimited", 429, 30, 0.04),  # Retry-After 30: left to the mapping
        ("internal_error", 503, 0, 0.05),
        ("channel_not_found", 200, 0, 0.04),
        ("not_in_channel", 200, 0, 0.03),
    )

    def __init__(self, stack: Stack, rng: random.Random) -> None:
        self.stack = stack
        self.rng = rng
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._original = stack.slack.handle_api

    def __enter__(self) -> Faults:
        def handle_api(method: str, args: dict[str, Any], token: str | None) -> Any:
            if method == "chat.postMessage":
                with self.lock:
                    roll = self.rng.random()
                    for error, status, retry_after, chance in self.KINDS:
                        if roll < chance:
                            self.stack.slack.fail_next(method, error, status=status, retry_after=retry_after)
                            self.injected[
                                f"{error}/{status}" + (f"/retry-after {retry_after}" if status == 429 else "")
                            ] += 1
                            break
                        roll -= chance
            return self._original(method, args, token)

        self.stack.slack.handle_api = handle_api  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.slack.handle_api = self._original  # type: ignore[method-assign]


def written_events(stack: Stack, prefix: str) -> set[str]:
    """Transaction ids under ``prefix`` whose bridge_failed event the SMA managed to store."""
    found: set[str] = set()
    kwargs: dict[str, Any] = {
        "TableName": TABLE,
        "FilterExpression": "begins_with(pk, :pk) AND sk = :sk",
        "ExpressionAttributeValues": {":pk": {"S": f"CALL#{prefix}"}, ":sk": {"S": "EVENT#bridge_failed"}},
    }
    while True:
        page = stack.dynamodb.scan(**kwargs)
        found.update(item["pk"]["S"].removeprefix("CALL#") for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def injected_faults(stack: Stack, calls: int, seed: int) -> dict[str, Any]:
    from switchboard_local.aws.stream_pump import StreamPump

    rng = random.Random(seed)
    stack.slack.clear()
    redelivered = Counter[str]()
    transaction_of: dict[str, str] = {}  # stream sequence number → transaction id

    def flaky_lambda(event: dict[str, Any], context: Any) -> Any:
        for record in event["Records"]:
            keys = record["dynamodb"]["Keys"]
            transaction_of[record["dynamodb"]["SequenceNumber"]] = keys["pk"]["S"].removeprefix("CALL#")
        response = stack.notifier.handler(event, context)
        roll = rng.random()
        if roll < 0.15:  # the mapping delivers the same batch again
            redelivered["batches delivered twice"] += 1
            stack.notifier.handler(event, context)
        elif roll < 0.25:  # the function "times out" after its work: the whole batch is retried
            redelivered["invocations crashed after posting"] += 1
            raise TimeoutError("injected: Task timed out after posting")
        return response

    prefix = f"fault-{seed}-"
    pump = StreamPump(TABLE, flaky_lambda, interval=0.05, starting_position="LATEST")
    pump.start()
    started = time.monotonic()

    def dead_lettered() -> set[str]:
        return {
            transaction_of.get(f["DDBStreamBatchInfo"]["startSequenceNumber"], "?")
            for f in list(pump.failures)
        }

    with quiet(), Faults(stack, rng) as faults:
        for index in range(calls):
            stack.call(f"{prefix}{index}", NUMBERS[index % len(NUMBERS)])
        expected = written_events(stack, prefix)
        calls_done = time.monotonic()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            settled = set(stack.posted()) | dead_lettered()
            if expected <= settled and not pump.pending():
                break
            time.sleep(0.2)
        pump.stop()
    posted = {tx: times for tx, times in stack.posted().items() if tx.startswith(prefix)}
    dead = dead_lettered()
    return {
        "calls": calls,
        "events_written": len(expected),
        "posted_once": sum(1 for times in posted.values() if len(times) == 1),
        "duplicated": sum(1 for times in posted.values() if len(times) > 1),
        "lost": len(expected - set(posted) - dead),
        "in_failure_destination": len(dead),
        "slack_faults_injected": dict(faults.injected),
        "redeliveries_injected": dict(redelivered),
        "invocations_with_failures": sum(1 for i in pump.invocations if i.failed),
        "records_delivered_incl_redeliveries": sum(i.records for i in pump.invocations),
        "seconds": round(time.monotonic() - started, 1),
        "seconds_after_the_last_call": round(time.monotonic() - calls_done, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40, help="calls per latency run")
    parser.add_argument("--intervals", type=float, nargs="+", default=[0.1, 0.25, 0.5], help="poll intervals")
    parser.add_argument("--fault-calls", type=int, default=200, help="calls in the injected-fault run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    random.seed(args.seed)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

    stack = Stack()
    try:
        results: dict[str, Any] = {"latency": [latency(stack, i, args.calls) for i in args.intervals]}
        for row in results["latency"]:
            print(
                f"poll every {row['poll_interval_s']:.2f} s: SMA write → Slack post "
                f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, max {row['max_ms']} ms "
                f"({row['alerts']} alerts; handler p50 {row['handler_p50_ms']} ms)"
            )
        results["faults"] = injected_faults(stack, args.fault_calls, args.seed)
        faults = results["faults"]
        print(
            f"injected faults: {faults['events_written']} events → {faults['posted_once']} posted once, "
            f"{faults['duplicated']} duplicated, {faults['lost']} lost, "
            f"{faults['in_failure_destination']} in the failure destination ({faults['seconds']} s)"
        )
        print(json.dumps(faults, indent=2))
    finally:
        stack.stop()
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
