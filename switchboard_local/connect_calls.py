"""``switchboard call <connect-number>``: a simulated call through the shipped forwarding flow.

A number claimed in the emulated Amazon Connect instance is not called through the SIP media
application: the Flow-language interpreter runs ``connect_lambda/forwarding_flow.json`` (if the
number is associated with the forwarding flow; any other flow is the customer's and out of
scope) and invokes the real ``connect_lambda.app.handler`` and, when the caller hangs up,
``connect_lambda.contact_events.handler``. Same destination flags as for SIP media application
calls: each ``--answer`` / ``--no-answer`` / ``--busy`` / ``--unreachable`` applies to the next
destination of the forward, in order; the rest answer.

``--transfer-at T --transfer-to X`` asks for the transfer at T as Slack's ``/forward transfer``
does, through the bot's own code (:class:`bot.transfers.Transfers`: the same checks, the same
refusals in the same words, the same queue), so the transfer is *deferred*: queued, and made by
the flow's Lambda when the callee hangs up ("please hold", then X). ``--realtime`` paces the
interpreter on the wall clock, so a person can transfer the call from ``switchboard slack`` while
it lasts.
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
from switchboard.domain.events import LiveCallEntry
from switchboard.domain.transfer import TransferTarget
from switchboard.ports import InventoryError, RoutingError
from switchboard.wording import deferred_transfer_text
from switchboard_local.aws.connect_flow import FlowInterpreter, ThirdParty, Transcript, timeline_line
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


class _EveryoneElseAnswers(dict[str, ThirdParty]):
    """Phones for a call paced in real time: a number nobody scripted (a transfer target a person
    picks in Slack meanwhile) answers, as in the SIP media application's simulator."""

    def __init__(self, phones: Mapping[str, ThirdParty], otherwise: ThirdParty) -> None:
        super().__init__(phones)
        self._otherwise = otherwise

    def get(self, number: str, default: Any = None) -> Any:
        return super().get(number, self._otherwise)


@dataclass
class ConnectTransfer:
    """A transfer asked for at ``at_seconds`` of the call, as Slack's ``/forward transfer`` asks.

    After the call: ``queued`` (what it waited for) or ``refused`` (why, in the bot's words); both
    empty when the call ended before ``at_seconds``."""

    at_seconds: float
    target: TransferTarget
    target_behaviour: str = "answer"
    queued: str = ""
    refused: str = ""


class _CallsAt:
    """The call log read at the call's simulated time, as the bot reads it at its own time."""

    def __init__(self, calls: DynamoCallLog, now_ms: Callable[[], int]) -> None:
        self._calls = calls
        self._now_ms = now_ms

    def live_calls(self, dialed: str | None = None, *, now_ms: int | None = None) -> list[LiveCallEntry]:
        return self._calls.live_calls(dialed, now_ms=self._now_ms() if now_ms is None else now_ms)

    def live_call(self, transaction_id: str, *, now_ms: int | None = None) -> LiveCallEntry | None:
        return self._calls.live_call(transaction_id, now_ms=self._now_ms() if now_ms is None else now_ms)

    def call_record(self, transaction_id: str) -> dict[str, Any] | None:
        return self._calls.call_record(transaction_id)


def _ask_for_transfer(number: str, transfer: ConnectTransfer, now_ms: Callable[[], int]) -> Callable[[], str]:
    """The hook that asks for ``transfer`` on the call to ``number``, with the bot's own code
    (:class:`bot.transfers.Transfers`, wired as ``bot.app`` wires it) on the call's clock."""

    def ask() -> str:
        from bot.transfers import TransferRefusedError, Transfers
        from switchboard import wiring
        from switchboard.cli import actor
        from switchboard.settings import load

        settings = load()
        transfers = Transfers(
            _CallsAt(wiring.call_log(settings), now_ms),
            None,  # a call on Amazon Connect is never taken back: its transfer is queued
            wiring.policy_for(settings),
            deferred=wiring.transfer_queue(settings),
            is_ours=wiring.own_numbers(settings),
            wall_ms=now_ms,
        )
        asked = f"transfer to {transfer.target} asked, as Slack's /forward transfer asks"
        try:
            entry = transfers.find_call(number)
            transfers.request(entry, transfer.target, actor=actor())
        except TransferRefusedError as error:
            transfer.refused = str(error)
            return f"{asked}: refused: {transfer.refused}"
        transfer.queued = deferred_transfer_text(entry.call.callee)
        return f"{asked}: {transfer.queued}"

    return ask


def format_connect_transfer(transfer: ConnectTransfer, transcript: Transcript) -> str:
    """The closing line about a ``--transfer-at`` transfer: refused and why, or queued and when it
    was made (the target dialled after "please hold"), or never asked."""
    head = f"transfer at {transfer.at_seconds:g}s"
    if transfer.refused:
        return f"{head}: refused: {transfer.refused}"
    if not transfer.queued:
        return f"{head}: not asked (the call had ended)"
    dialled = next(
        (
            t
            for t, text in transcript.timeline
            if t >= transfer.at_seconds and text.startswith(f"dials {transfer.target.target} ")
        ),
        None,
    )
    if dialled is None:
        return f"{head}: {transfer.queued}; not made (the call ended first)"
    return f"{head}: {transfer.queued}; made at {dialled:.1f}s (please hold, then {transfer.target})"


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
    during: Sequence[tuple[float, Callable[[], str | None]]] = (),
    transfer: ConnectTransfer | None = None,
    realtime: float | None = None,
    on_line: Callable[[str], None] | None = None,
) -> ConnectCallResult:
    """One call to ``number`` through the shipped flow; ``start_ms`` is when it starts (default now).

    ``targets``: how numbers that are not destinations (transfer targets) behave, by number;
    ``during``: ``(t, hook)`` pairs run when the call is ``t`` seconds old (a Slack request; what
    a hook returns goes into the timeline); ``transfer``: a transfer asked for as Slack asks it
    (filled in with what became of it); ``realtime``: pace the call on the wall clock at this speed
    (anyone else dialled answers); ``on_line``: each timeline line as it happens.

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
    scripted_targets = dict(targets or {})
    if transfer is not None:
        scripted_targets.setdefault(transfer.target.target, transfer.target_behaviour)
    for target, behaviour in scripted_targets.items():
        phones.setdefault(target, _phone(behaviour, ring_seconds, talk_seconds))
    if realtime is not None:
        phones = _EveryoneElseAnswers(phones, _phone("answer", ring_seconds, talk_seconds))
    interpreter = FlowInterpreter(
        json.loads(FLOW_PATH.read_text()),
        app.handler,
        claimed=set(numbers.our_numbers()),
        prompt_seconds=_prompt_length,
        on_disconnected=events.handler,
        start_ms=start_ms,
        realtime=realtime,
        on_note=(lambda t, text: on_line(timeline_line(t, text))) if on_line is not None else None,
    )
    hooks = list(during)
    if transfer is not None:
        hooks.append((transfer.at_seconds, _ask_for_transfer(number, transfer, interpreter.now_ms)))
    clock = app.forwarding.clock
    app.forwarding.clock = interpreter.now_ms
    try:
        transcript = interpreter.place_call(
            number, caller, phones=phones, caller_hangs_up_after=caller_hangs_up_after, during=hooks
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
    transfer: ConnectTransfer | None = None,
    realtime: bool = False,
    out: Callable[[str], None] = print,
) -> int:
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    out(f"Simulated Amazon Connect call {caller} → {number} on the local stack's emulated instance\n")
    if realtime:
        out(
            "The call runs in real time: while it is connected, `/forward calls` in `switchboard slack` "
            "lists it and `/forward transfer` queues a transfer for when the callee hangs up.\n"
        )
    try:
        result = simulate_connect_call(
            number,
            caller,
            behaviours,
            talk_seconds=talk_seconds,
            ring_seconds=ring_seconds,
            caller_hangs_up_after=caller_hangs_up_after,
            start_ms=at_ms,
            transfer=transfer,
            realtime=1.0 if realtime else None,
            # In real time the timeline is printed as it happens, not in one go at the end.
            on_line=out if realtime else None,
        )
    except RoutingError as error:
        out(f"switchboard: {error}")
        return 1
    if result.flow != os.environ.get("CONNECT_FORWARDING_FLOW_ID"):
        out(
            f"{number} has no forward, so Amazon Connect runs its own flow for it: set one first "
            f"(switchboard forward set {number} DESTINATION)"
        )
        return 0
    transcript = result.transcript
    if not realtime:
        out("\n".join(transcript.lines()))
    for flag in transcript.flags:
        out(f"FLAG: {flag}")
    from switchboard_local.pstn.calls import format_record

    out(format_record(result.record))
    if transfer is not None:
        out(format_connect_transfer(transfer, transcript))
    return 1 if transcript.flags else 0
