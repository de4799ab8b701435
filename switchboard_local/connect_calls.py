"""``switchboard call <connect-number>``: a simulated call through the shipped forwarding flow.

A number claimed in the emulated Amazon Connect instance is not called through the SIP media
application: the Flow-language interpreter runs ``connect_lambda/forwarding_flow.json`` (if the
number is associated with the forwarding flow; any other flow is the customer's and out of
scope) and invokes the real ``connect_lambda.app.handler`` and, when the caller hangs up,
``connect_lambda.contact_events.handler``. Same destination flags as for SIP media application
calls: each ``--answer`` / ``--no-answer`` / ``--busy`` / ``--unreachable`` applies to the next
destination of the forward, in order; the rest answer.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import boto3

from switchboard.adapters.connect_routing import ConnectNumbers, ConnectRouting
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.ports import InventoryError, RoutingError
from switchboard_local.aws.connect_flow import FlowInterpreter, ThirdParty, Transcript
from switchboard_local.stack import prompt_seconds

FLOW_PATH = Path(__file__).resolve().parents[1] / "connect_lambda" / "forwarding_flow.json"


def _claimed_numbers() -> set[str]:
    instance = os.environ.get("CONNECT_INSTANCE_ID", "")
    if not instance or not os.environ.get("AWS_ENDPOINT_URL_CONNECT"):
        return set()
    try:
        return set(ConnectNumbers(boto3.client("connect"), instance).our_numbers())
    except InventoryError:
        return set()


def is_connect_number(number: str) -> bool:
    """Whether ``number`` is claimed in the Connect instance the environment points at."""
    return number in _claimed_numbers()


def _modules() -> tuple[ModuleType, ModuleType]:
    """The Connect entry points bound to the current environment (they build clients at import)."""
    import connect_lambda.app
    import connect_lambda.contact_events

    return importlib.reload(connect_lambda.app), importlib.reload(connect_lambda.contact_events)


def _phone(behaviour: str, ring_seconds: float, talk_seconds: float) -> ThirdParty:
    if behaviour == "no-answer":
        return ThirdParty.no_answer()
    if behaviour == "busy":
        return ThirdParty.busy()
    if behaviour == "unreachable":
        return ThirdParty.unreachable()
    return ThirdParty.answers(ring_seconds, talk_seconds)


def _prompt_length(uri: str) -> float | None:
    """Seconds of the prompt at ``uri`` (path-style S3 on the local stack), None when missing."""
    bucket, _, key = urlparse(uri).path.lstrip("/").partition("/")
    if not bucket or not key:
        return None
    try:
        return prompt_seconds(bucket, key)
    except Exception:
        return None


@dataclass
class ConnectCallResult:
    """A simulated Amazon Connect call: its transcript and the record it left (None: none)."""

    transcript: Transcript
    record: dict[str, Any] | None
    flow: str  # the contact flow the number ran
    ended_ms: int = 0  # simulated wall-clock time the call ended at


def simulate_connect_call(
    number: str,
    caller: str,
    behaviours: Sequence[str],
    *,
    talk_seconds: float = 20.0,
    ring_seconds: float = 4.0,
    caller_hangs_up_after: float | None = None,
    start_ms: int | None = None,
    targets: Mapping[str, str] | None = None,
    during: Sequence[tuple[float, Callable[[], None]]] = (),
) -> ConnectCallResult:
    """One call to ``number`` through the shipped flow; ``start_ms`` is when it starts (default now).

    ``targets``: how numbers that are not destinations (transfer targets) behave, by number;
    ``during``: ``(t, hook)`` pairs run when the call is ``t`` seconds old (a Slack request).

    Raises :class:`RoutingError` when the number's flow cannot be read."""
    instance = os.environ["CONNECT_INSTANCE_ID"]
    client = boto3.client("connect")
    numbers = ConnectNumbers(client, instance)
    routing = ConnectRouting(client, numbers, instance, os.environ.get("CONNECT_FORWARDING_FLOW_ID", ""))
    flow = routing.current_flow(number)
    if flow != os.environ.get("CONNECT_FORWARDING_FLOW_ID"):
        return ConnectCallResult(Transcript(""), None, flow or "")
    dynamodb = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    rule = DynamoForwardRepository(dynamodb, table).get(number)
    app, events = _modules()
    if start_ms is None:
        start_ms = app.forwarding.clock()
    # Business hours: the branch of the call's (simulated) start, as the Connect Lambda will decide.
    destinations = rule.destinations_at(start_ms / 1000) if rule is not None else ()
    phones = {
        destination: _phone(behaviours[i] if i < len(behaviours) else "answer", ring_seconds, talk_seconds)
        for i, destination in enumerate(destinations)
    }
    for target, behaviour in (targets or {}).items():
        phones.setdefault(target, _phone(behaviour, ring_seconds, talk_seconds))
    interpreter = FlowInterpreter(
        json.loads(FLOW_PATH.read_text()),
        app.handler,
        claimed=set(numbers.our_numbers()),
        prompt_seconds=_prompt_length,
        on_disconnected=events.handler,
        start_ms=start_ms,
    )
    clock = app.forwarding.clock
    app.forwarding.clock = interpreter.now_ms
    try:
        transcript = interpreter.place_call(
            number, caller, phones=phones, caller_hangs_up_after=caller_hangs_up_after, during=during
        )
    finally:
        app.forwarding.clock = clock
    record = DynamoCallLog(dynamodb, table).call_record(transcript.contact_id)
    return ConnectCallResult(transcript, record, flow, interpreter.now_ms())


def run_connect_call(
    *,
    number: str,
    caller: str,
    behaviours: Sequence[str],
    talk_seconds: float,
    ring_seconds: float,
    caller_hangs_up_after: float | None,
    at_ms: int | None = None,
    out: Callable[[str], None] = print,
) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    instance = os.environ["CONNECT_INSTANCE_ID"]
    try:
        result = simulate_connect_call(
            number,
            caller,
            behaviours,
            talk_seconds=talk_seconds,
            ring_seconds=ring_seconds,
            caller_hangs_up_after=caller_hangs_up_after,
            start_ms=at_ms,
        )
    except RoutingError as error:
        out(f"switchboard: {error}")
        return 1
    out(f"Simulated Amazon Connect call {caller} → {number} (instance {instance})\n")
    if result.flow != os.environ.get("CONNECT_FORWARDING_FLOW_ID"):
        flow = result.flow or "(none)"
        out(f"{number} runs contact flow {flow}, not the forwarding flow: it has no forward.")
        return 0
    transcript = result.transcript
    out("\n".join(transcript.lines()))
    for flag in transcript.flags:
        out(f"FLAG: {flag}")
    from switchboard_local.pstn.calls import format_record

    out(format_record(result.record))
    return 1 if transcript.flags else 0
