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

A call whose caller hung up before its dial's ``Dialing`` write landed has no live entry yet:
the handler then leaves the ``ENDED`` marker (:meth:`DynamoFlowProgress.mark_ended`, checked
against a live entry and a record in the same write), and the late ``Dialing`` records the call
from it. A contact our flow never dialled costs that one conditional write; a recorded call, none
(the event reads the call's live entry and record in one Query).

Idempotent: the record is written only if the call has none, so a duplicate event (EventBridge
delivers at least once) and the flow's own record (when the flow ended the call) both win over a
second record. Storage failures raise, so EventBridge retries the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import botocore.session

from switchboard.adapters.connect_calls import (
    CallItems,
    DynamoFlowProgress,
    EndMark,
    caller_hung_up,
    connect_call_log,
)
from switchboard.lambda_runtime import BACKGROUND_DYNAMODB
from switchboard.ports import CallLog
from switchboard.settings import ConfigurationError, load
from switchboard.telemetry import logger_for

logger = logger_for("connect-events")

DISCONNECTED = "DISCONNECTED"


class ProgressReader(Protocol):
    def find(self, contact_id: str) -> CallItems: ...
    def mark_ended(self, contact_id: str, at_ms: int) -> EndMark: ...


def _epoch_ms(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


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
        now = _epoch_ms(detail.get("disconnectTimestamp")) or _epoch_ms(event.get("time"))
        if now is None:
            return {"result": "no time"}
        found = self._progress.find(contact_id)
        if found.saved is None and not found.recorded:
            # Never listed: not ours, or its Dialing has not landed yet; the marker tells that
            # Dialing to record the call instead of listing it.
            mark = self._progress.mark_ended(contact_id, now)
            if mark is EndMark.MARKED:
                return {"result": "ended before a dial was listed"}
            if mark is EndMark.LISTED:  # a Dialing landed since the read: finish from its entry
                found = self._progress.find(contact_id)
        progress = found.saved
        if found.recorded or progress is None or progress.state.recorded:
            # Finished already (the flow's record, or an earlier delivery of this event).
            return {"result": "no call in progress"}
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
        connect_call_log(client, settings.table_name),
    )


app = _build()


def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """EventBridge delivers one Amazon Connect contact event per invocation."""
    if app is None:
        return {"result": "misconfigured"}
    return app.handle(event)
