"""The forwarding flow on Amazon Connect: flow event in, one instruction out.

``forwarding_flow.json`` asks this Lambda what to do at every turn and reports what happened:

``Purpose=Start``
    A call reached one of our Connect numbers: read its rule (the call's only table read) and
    :func:`callflow.start` it. That read is the turn's only request: the caller hears nothing
    while a synchronous turn runs, so no synchronous turn writes the live entry.
``Purpose=AttemptFailed`` with ``Error`` = the transfer block's error branch
    ``ConnectionTimeLimitExceeded`` (no answer: the domain's ``CallNotAnswered``), ``CallFailed``
    (busy, unreachable, rejected) or ``NoMatchingError`` → :func:`callflow.on_bridge_failed`.
``Purpose=BridgeEnded``
    The destination answered and has now hung up (Connect resumes the flow only then) →
    :func:`callflow.on_bridge_answered` then :func:`callflow.on_leg_ended` for the callee. The
    moment of the answer is not observable on Connect, so the record's talk time is an upper bound
    (it includes the ringing) and the record says ``timing=approximate``.

    The record is written checking that no transfer was queued from Slack for this very dial
    (nothing can break into a bridged Connect call, so Slack's transfers wait for the callee to
    hang up; the queue is read only when the check fails). If one was, after the same check the
    SIP media application runs (:meth:`TransferRules.check`),
    :func:`callflow.on_transfer_requested` and :func:`callflow.on_transfer_leg_released`: "please
    hold", then the target, and the outcome (``transferred`` / ``transfer-failed`` with its
    ``transfer_failed`` event) follows as on the SIP media application.
``Purpose=Dialing`` (``InvocationType`` ``ASYNCHRONOUS``: the flow does not wait for it)
    The flow is about to dial what the last turn decided, its greeting or "please hold" played:
    write the call's live entry (:class:`~switchboard.adapters.connect_calls.DynamoFlowProgress`),
    which lists the call in Slack and carries the state :mod:`connect_lambda.contact_events` needs,
    with the ring time counted from this invocation's clock, the real dial moment. Never raises;
    the reply (empty) is ignored. Asynchronous invocations may come late, twice or out of order:
    the write is skipped once the call has a record or when a later dial is listed already, and
    when the caller hung up before it landed (the ``DISCONNECTED`` event left ``CALL#…/ENDED``),
    it writes the call's record (abandoned) instead of listing an ended call.

The state travels in the contact attribute ``sb``; every turn, ``Dialing`` included, reads it from
there. The dial blocks read only ``$.Attributes`` (the flow's ``Save`` copies ``$.External``
there), never ``$.External``, which an asynchronous invocation may reset. Writes are idempotent,
because Connect retries a failed or slow invocation up to 3 times: the record is written only if
the call has none, and the live entry only over an earlier dial's.
:meth:`ConnectForwardingApp.handle` never raises: whatever goes wrong, the caller hears the error
prompt and the call ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from connect_lambda import state as call_state
from connect_lambda.actions import ConnectPrompts, Reply, render
from connect_lambda.events import FlowEvent
from switchboard.domain import callflow
from switchboard.domain.callflow import CallState, Leg, Phase, Plan
from switchboard.domain.events import AttemptResult, CallRecord
from switchboard.domain.transfer import QueuedTransfer, TransferRules, TransferTargetError
from switchboard.ports import CallLog, RuleReader, StorageError

START = "start"
ATTEMPT_FAILED = "attemptfailed"
BRIDGE_ENDED = "bridgeended"
DIALING = "dialing"
PURPOSES = frozenset({START, ATTEMPT_FAILED, BRIDGE_ENDED, DIALING})
# Dialing phases: the live entry lists the destination (or transfer target) being rung.
_DIALING_PHASES = (Phase.GREETING, Phase.RINGING, Phase.TRANSFERRING)

# The transfer block's error branches in the domain's words (the SMA's ErrorTypes), so
# ``no-answer`` versus ``all-failed`` and the alerts read the same for both backends.
ERROR_TYPES = {
    "connectiontimelimitexceeded": AttemptResult.NOT_ANSWERED.value,
    "callfailed": "CallFailed",
    "nomatchingerror": "NoMatchingError",
}

# CustomerEndpoint is whatever the caller's network sent; it goes into state, records and alerts.
MAX_CALLER_LENGTH = 64
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


class FlowProgress(Protocol):
    """The call's live entry, which also leaves its state for the contact-event handler."""

    def save(self, contact_id: str, state: CallState, now_ms: int) -> CallRecord | None:
        """List the call as dialling at ``state`` from ``now_ms``, the moment of the dial; a late,
        repeated or out-of-order save is ignored. When the caller had hung up already (the contact
        event found nothing listed), the call's record instead, written and returned. Raises
        StorageError."""
        ...


class QueuedTransfers(Protocol):
    """Transfers queued from Slack (:class:`switchboard.adapters.connect_calls.DynamoTransferQueue`)."""

    def record_unless_queued(
        self, contact_id: str, record: CallRecord, for_since_ms: int
    ) -> QueuedTransfer | None:
        """Record the call unless a transfer is queued for the dial since ``for_since_ms``: that
        transfer (nothing recorded), else None. Raises StorageError."""
        ...


class FlowTelemetry(Protocol):
    def count(self, metric: str) -> None: ...
    def error(self, message: str, **fields: Any) -> None: ...
    def decided(self, event: FlowEvent | None, reply: Reply, plan: Plan) -> None: ...


def _now_ms() -> int:
    return int(time.time() * 1000)


def error_type(text: str) -> str:
    """The domain's name for a transfer block error branch (unknown ones kept as sent, bounded)."""
    return ERROR_TYPES.get(text.lower(), _UNPRINTABLE.sub("", text)[:40] or "Unknown")


class ConnectForwardingApp:
    """Forward calls to our Connect numbers according to their forward rules."""

    def __init__(
        self,
        rules: RuleReader | None,
        calls: CallLog | None,
        progress: FlowProgress | None,
        prompts: ConnectPrompts | None,
        telemetry: FlowTelemetry,
        *,
        transfers: QueuedTransfers | None = None,
        transfer_rules: TransferRules | None = None,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        # rules/calls are None when the stack is misconfigured: calls are still answered and ended.
        self._transfers = transfers
        # Phone numbers only: a Connect call reaches no voice connector (SIP users are refused).
        self._transfer_rules = transfer_rules or TransferRules()
        self._rules = rules
        self._calls = calls
        self._progress = progress
        self._prompts = prompts
        self._telemetry = telemetry
        self.clock = clock  # public so the flow interpreter can run calls on simulated time

    def handle(self, event: FlowEvent) -> Reply:
        now = self.clock()
        state = call_state.load(event.attributes)
        if event.purpose_key == DIALING:
            self._dialing(event.contact_id, state, now)
            return {}  # asynchronous: the flow has moved on and reads nothing of this reply
        try:
            plan = self._decide(event, state, now)
        except Exception as error:
            self._telemetry.error("unexpected error handling a flow event", reason=repr(error))
            self._telemetry.count("HandlerErrors")
            plan = callflow.on_error(state, now)
        reply = render(plan.steps, plan.state, self._prompts)
        self._store(event, plan)
        self._telemetry.decided(event, reply, plan)
        return reply

    def _decide(self, event: FlowEvent, state: CallState | None, now: int) -> Plan:
        purpose = event.purpose_key
        if purpose == START:
            return self._start(event, now)
        if state is None:
            # A later turn without our state: the attributes were lost or tampered with.
            self._telemetry.error("flow event without a call state", purpose=event.purpose)
            return callflow.on_error(None, now)
        if purpose == ATTEMPT_FAILED:
            self._telemetry.count("BridgeFailures")
            return callflow.on_bridge_failed(state, error_type(event.parameters.get("Error", "")), now)
        if purpose == BRIDGE_ENDED:
            return self._bridge_ended(event.contact_id, state, now)
        return callflow.on_error(state, now)

    def _start(self, event: FlowEvent, now: int) -> Plan:
        if not event.dialed:
            self._telemetry.error("Start without a dialed number (SystemEndpoint)")
            return callflow.on_error(None, now, record=False)
        if self._rules is None:
            return callflow.on_error(None, now, record=False)
        caller = _UNPRINTABLE.sub("", event.caller)[:MAX_CALLER_LENGTH]
        try:
            rule = self._rules.get(event.dialed)
        except StorageError as error:
            self._telemetry.error("could not read the forward rule", reason=str(error))
            self._telemetry.count("StorageErrors")
            return callflow.on_error(None, now, record=False)
        if rule is not None and rule.connect_entry_at(now / 1000):
            # "connect" sends SMA calls to Amazon Connect; a Connect number is there already.
            self._telemetry.error("a Connect number is forwarded to Amazon Connect", dialed=event.dialed)
            rule = None
        plan = callflow.start(rule, event.dialed, caller, now)
        if plan.record is not None:
            self._telemetry.count("CallsNotInService")
        return plan

    def _bridge_ended(self, contact_id: str, state: CallState, now: int) -> Plan:
        if state.phase not in (Phase.GREETING, Phase.RINGING, Phase.TRANSFERRING):
            return Plan((), state)  # nothing was ringing: end the call
        self._telemetry.count("CallsForwarded")
        # Answered at some moment we cannot see: count it from the dial (talk time an upper bound).
        answered = callflow.on_bridge_answered(state, state.attempt_started_ms)
        if answered.state is None:
            return answered
        ended = callflow.on_leg_ended(answered.state, Leg.CALLEE, True, now)
        if self._transfers is None or not contact_id or ended.record is None:
            return ended
        try:
            # The record, unless Slack queued a transfer for this dial: then that transfer.
            transfer = self._transfers.record_unless_queued(
                contact_id, ended.record, state.attempt_started_ms
            )
        except StorageError as error:
            self._telemetry.error("could not check the transfer queue", reason=str(error))
            self._telemetry.count("StorageErrors")
            return ended  # end the call as if none were queued; the record is written as usual
        if transfer is None:
            return replace(ended, record=None)  # written, in the same request that checked the queue
        transferring = self._transfer(answered.state, transfer, now)
        return ended if transferring is None else transferring  # refused: the record as usual

    def _transfer(self, state: CallState, transfer: QueuedTransfer, now: int) -> Plan | None:
        """The caller hears "please hold", then the target Slack queued rings; None when the target
        must not be dialled."""
        try:
            # Whoever else can write the table cannot make us dial what the policy refuses.
            self._transfer_rules.check(transfer.target)
            if transfer.target == state.dialed:
                raise TransferTargetError(f"{transfer.target} is this call's own number")
        except TransferTargetError as error:
            self._telemetry.error("queued transfer refused", reason=str(error))
            self._telemetry.count("TransfersRefused")
            return None
        requested = callflow.on_transfer_requested(state, transfer.target, "", now)
        if not requested.steps or requested.state is None:
            self._telemetry.error("queued transfer ignored", phase=state.phase.value)
            return None
        self._telemetry.count("TransfersRequested")
        return callflow.on_transfer_leg_released(requested.state, now)

    def _dialing(self, contact_id: str, state: CallState | None, now: int) -> None:
        """The flow is about to dial (the greeting, if any, has played): list the call from now.
        Never raises: this is bookkeeping on the side of a call that has moved on."""
        try:
            if state is None:
                self._telemetry.error("flow event without a call state", purpose="Dialing")
                return
            if state.phase not in _DIALING_PHASES or state.recorded:
                self._telemetry.error("Dialing for a call that is not dialling", phase=state.phase.value)
                return
            if self._progress is None or not contact_id:
                return
            if self._progress.save(contact_id, state, now) is not None:
                self._telemetry.count("CallsEndedBeforeListed")
        except StorageError as error:
            # The call goes on; only a caller hang-up during this dial would go unrecorded.
            self._telemetry.error("could not save the call's progress", reason=str(error))
            self._telemetry.count("ProgressWriteFailures")
        except Exception as error:
            self._telemetry.error("unexpected error saving the call's progress", reason=repr(error))
            self._telemetry.count("HandlerErrors")

    def _store(self, event: FlowEvent, plan: Plan) -> None:
        contact = event.contact_id
        if not contact:
            return
        if plan.record is not None and self._calls is not None:
            try:
                self._calls.record_call(contact, plan.record)
            except StorageError as error:
                self._telemetry.error("could not store the call record", reason=str(error))
                self._telemetry.count("RecordWriteFailures")
