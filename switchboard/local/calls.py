"""``switchboard call``: one simulated call through the real ``sma.app.handler``, printed as a timeline.

The call runs against the local stack the environment points at (a running ``switchboard dev``),
or against a fresh in-process stack when none is running. It never runs against real AWS: the
simulated call writes a call record, which has no place in a production table.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.local.pstn_simulator import CallerBehaviour, CallTranscript, PhoneBehaviour, PstnSimulator
from switchboard.local.stack import LocalStack, prompt_seconds
from switchboard.policy import DestinationPolicy, DestinationRefusedError


@dataclass(frozen=True, slots=True)
class CallResult:
    transcript: CallTranscript
    record: dict[str, Any] | None


def phone(kind: str, ring_seconds: float, talk_seconds: float | None) -> PhoneBehaviour:
    if kind == "no-answer":
        return PhoneBehaviour.no_answer()
    if kind == "busy":
        return PhoneBehaviour.busy()
    if kind == "unreachable":
        return PhoneBehaviour.unreachable()
    return PhoneBehaviour.answers(after_seconds=ring_seconds, hangs_up_after=talk_seconds)


def sma_handler() -> Any:
    """``sma.app`` bound to the current environment (it builds its client at import)."""
    import sma.app

    return sma.app


def simulate_call(
    number: str,
    caller: str,
    behaviours: Sequence[str] = (),
    *,
    ring_seconds: float = 4.0,
    talk_seconds: float | None = 20.0,
    caller_hangs_up_after: float | None = None,
) -> CallResult:
    """Place the call with the environment's stack; behaviours apply to the rule's destinations in order."""
    table = os.environ["TABLE_NAME"]
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    rule = DynamoForwardRepository(dynamodb, table).get(number)
    destinations = rule.destinations if rule else ()
    phones = {
        destination: phone(kind, ring_seconds, talk_seconds)
        for destination, kind in zip(destinations, behaviours, strict=False)
    }

    def prompt_exists(bucket_name: str, key: str) -> bool:
        try:
            s3.head_object(Bucket=bucket_name, Key=key)
        except ClientError:
            return False
        return True

    module = sma_handler()
    simulator = PstnSimulator(
        module.handler,
        sip_media_application_id=os.environ.get("SIP_MEDIA_APPLICATION_ID", "sma-local"),
        prompt_exists=prompt_exists,
        prompt_seconds=prompt_seconds,
    )
    app = module.app
    real_clock = app.clock
    app.clock = simulator.clock  # record ring and talk times in simulated time
    try:
        transcript = simulator.place_call(
            number,
            caller,
            phones=phones,
            caller=CallerBehaviour(hangs_up_after=caller_hangs_up_after, talks_for=talk_seconds or 60.0),
        )
    finally:
        app.clock = real_clock
    records = [
        r
        for r in DynamoCallLog(dynamodb, table).recent_calls(number, 20)
        if r["transaction_id"] == transcript.transaction_id
    ]
    return CallResult(transcript, records[0] if records else None)


@contextlib.contextmanager
def local_environment() -> Iterator[str]:
    """Use the local stack the environment points at, or start a fresh one; yields a description."""
    if os.environ.get("AWS_ENDPOINT_URL") and os.environ.get("TABLE_NAME"):
        yield f"local stack at {os.environ['AWS_ENDPOINT_URL']}"
        return
    with LocalStack() as stack, stack.applied():
        yield "a fresh in-process local stack (no forwards yet: start `switchboard dev` to keep state)"


def format_record(record: dict[str, Any] | None) -> str:
    if record is None:
        return "call record: none stored"
    text = f"call record: outcome {record['outcome']}, {record['duration_ms'] / 1000:.1f}s"
    if record.get("talk_ms"):
        text += f", talked {record['talk_ms'] / 1000:.1f}s"
    attempts = [
        f"{a['destination']} {a['result']} after {a['ring_ms'] / 1000:.1f}s"
        for a in record.get("attempts", [])
    ]
    if attempts:
        text += "; attempts: " + ", ".join(attempts)
    return text


def run_call(
    *,
    number: str,
    caller: str,
    behaviours: Sequence[str],
    talk_seconds: float,
    ring_seconds: float,
    caller_hangs_up_after: float | None,
) -> int:
    policy = DestinationPolicy(os.environ.get("DEFAULT_COUNTRY", "US") or "US")
    try:
        ours = policy.our_number(number)
        calling = policy.our_number(caller)
    except DestinationRefusedError as error:
        print(f"switchboard: {error}", file=sys.stderr)
        return 2
    # The SMA's JSON logs and EMF metrics are meant for CloudWatch; here the timeline says it all.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    with local_environment() as where:
        print(f"Simulated call {calling} → {ours} on {where}\n")
        result = simulate_call(
            ours,
            calling,
            behaviours,
            ring_seconds=ring_seconds,
            talk_seconds=talk_seconds,
            caller_hangs_up_after=caller_hangs_up_after,
        )
    print(result.transcript.render())
    print(format_record(result.record))
    return 0
