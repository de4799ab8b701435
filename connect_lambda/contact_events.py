"""Finish the calls the caller ended (``connect_lambda.contact_events.handler``).

When the caller hangs up, Amazon Connect stops the contact flow: no Lambda of the flow runs, so the
flow cannot record the call. EventBridge delivers the contact's ``DISCONNECTED`` event here
instead (rule on ``source=aws.connect``, ``detail-type=Amazon Connect Contact Event``). The call's
state was left by the flow's Lambda in the call's live entry at its last dial
(:mod:`switchboard.adapters.connect_calls`); from it :func:`callflow.on_leg_ended` decides the
record, which deletes the live entry.

Whether a destination had answered cannot be seen: a dial that was still within its ring timeout
(the live entry's ``ring_until``, counted from the dial itself, after any greeting) when the
caller hung up is taken as abandoned, a later one as answered (an unanswered one would have ended
with ``ConnectionTimeLimitExceeded`` and another turn of the flow). The record says
``timing=approximate``.

Idempotent: the record is written only if the call has none, so a duplicate event (EventBridge
delivers at least once) and the flow's own record (when the flow ended the call) both win over a
second record. Storage failures raise, so EventBridge retries the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import botocore.session

from switchboard.adapters.connect_calls import DynamoFlowProgress, SavedProgress
from switchboard.adapters.dynamodb import DynamoCallLog
from switchboard.domain import callflow
from switchboard.domain.callflow import TRANSFER_TIMEOUT_SECONDS, CallState, Leg, Phase, Plan
from switchboard.domain.events import CONNECT_BACKEND
from switchboard.lambda_runtime import BACKGROUND_DYNAMODB
from switchboard.ports import CallLog
from switchboard.settings import ConfigurationError, load
from switchboard.telemetry import logger_for

logger = logger_for("connect-events")

DISCONNECTED = "DISCONNECTED"


class ProgressReader(Protocol):
    def load(self, contact_id: str) -> SavedProgress | None: ...


def _epoch_ms(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def caller_hung_up(state: CallState, now_ms: int, ring_until_ms: int = 0) -> Plan:
    """The record of a call whose caller hung up at ``now_ms`` while the flow was at ``state``,
    whose dial rang until ``ring_until_ms`` at most (0: unknown, counted from the state's clock)."""
    ringing = state.phase in (Phase.GREETING, Phase.RINGING, Phase.TRANSFERRING)
    timeout = TRANSFER_TIMEOUT_SECONDS if state.phase is Phase.TRANSFERRING else state.ring_timeout
    if not ring_until_ms:
        ring_until_ms = state.attempt_started_ms + timeout * 1000
    if ringing and now_ms >= ring_until_ms:
        answered = callflow.on_bridge_answered(state, state.attempt_started_ms)
        if answered.state is not None:
            state = answered.state
    return callflow.on_leg_ended(state, Leg.CALLER, False, now_ms)


class ContactEvents:
    def __init__(self, progress: ProgressReader, calls: CallLog) -> None:
        self._progress = progress
        self._calls = calls

    def handle(self, event: Any) -> dict[str, str]:
        detail = event.get("detail") if isinstance(event, Mapping) else None
        if not isinstance(detail, Mapping) or detail.get("eventType") != DISCONNECTED:
            return {"result": "ignored"}
        contact_id = str(detail.get("contactId") or "")
        if not contact_id:
            return {"result": "ignored"}
        progress = self._progress.load(contact_id)
        if progress is None or progress.state.recorded:
            # Not a forwarded call, or one already finished (its record deleted its live entry).
            return {"result": "no call in progress"}
        now = _epoch_ms(detail.get("disconnectTimestamp")) or _epoch_ms(event.get("time"))
        if now is None:
            return {"result": "no time"}
        plan = caller_hung_up(progress.state, now, progress.ring_until_ms)
        if plan.record is None:
            return {"result": "nothing to record"}
        self._calls.record_call(contact_id, plan.record)
        logger.info("call finished", extra={"contact_id": contact_id, "outcome": plan.record.outcome.value})
        return {"result": plan.record.outcome.value}


def _build() -> ContactEvents | None:
    try:
        settings = load(required=("TABLE_NAME",))
    except ConfigurationError as error:
        logger.error("contact events function is misconfigured", extra={"reason": str(error)})
        return None
    client = botocore.session.get_session().create_client("dynamodb", config=BACKGROUND_DYNAMODB)
    return ContactEvents(
        DynamoFlowProgress(client, settings.table_name),
        DynamoCallLog(
            client,
            settings.table_name,
            record_once=True,
            record_fields={"backend": CONNECT_BACKEND, "timing": "approximate"},
            listed_from_dial=True,
        ),
    )


app = _build()


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge delivers one Amazon Connect contact event per invocation."""
    if app is None:
        return {"result": "misconfigured"}
    return app.handle(event)
