"""The forwarding SIP media application: PSTN Audio event in, PSTN Audio response out.

:class:`ForwardingApp` maps each invocation to one call-flow decision
(:mod:`switchboard.domain.callflow`), stores the call record when the flow produces one, and
renders the steps as actions. It never raises: whatever goes wrong, the caller hears the error
prompt and the call is hung up, instead of PSTN Audio waiting 5 s and retrying into dead air.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from sma import state as call_state
from sma.actions import PromptLocation, render, response
from sma.events import LEG_A, LEG_B, MalformedInvocationError, PstnEvent, parse_event
from switchboard.domain import callflow
from switchboard.domain.callflow import CallState, HangUp, Leg, Phase, Plan
from switchboard.domain.rules import is_e164
from switchboard.ports import CallControlError, CallLog, RuleReader, StorageError


class PairPool(Protocol):
    """The DNIS pool as the SMA needs it (see switchboard/adapters/pool.py)."""

    def claim_pair(self, transaction_id: str, original_calling_number: str) -> tuple[str, str] | None:
        """A (sma number, connect number) pair for this call, or None when the pool is exhausted."""
        ...

    def release_pair(self, pair: tuple[str, str], transaction_id: str) -> None: ...


class TransferCheck(Protocol):
    """The transfer policy as the SMA applies it (:class:`~switchboard.domain.transfer.TransferRules`)."""

    def check(self, target: str, arn: str) -> None:
        """Raise :class:`~switchboard.domain.transfer.TransferTargetError` for a target we will not use."""
        ...


class Telemetry(Protocol):
    """The structured log and metrics the app writes (tests can pass a recorder)."""

    def event(self, event: PstnEvent | None, actions: list[dict[str, Any]], plan: Plan) -> None: ...
    def count(self, metric: str) -> None: ...
    def error(self, message: str, **fields: Any) -> None: ...
    def bind(self, transaction_id: str) -> None: ...


def _error_plan(state: CallState | None, event: PstnEvent | None, now: int, *, record: bool = True) -> Plan:
    """:func:`callflow.on_error` told which legs the event shows connected (a missing LEG-A is
    assumed connected: better an apology into nothing than a caller left in dead air)."""
    callee = event.leg(LEG_B) if event is not None else None
    caller = event.leg(LEG_A) if event is not None else None
    return callflow.on_error(
        state,
        now,
        record=record,
        callee_connected=callee is not None and callee.connected,
        caller_connected=caller is None or caller.connected,
    )


# LEG-A's From is whatever the caller's network sent; it travels in our state, records, the DNIS
# pool and alerts, so it is kept printable and short (E.164 is at most 16 characters).
MAX_CALLER_LENGTH = 64
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def _shown_caller(text: str) -> str:
    return _UNPRINTABLE.sub("", text)[:MAX_CALLER_LENGTH]


def _now_ms() -> int:
    return int(time.time() * 1000)


VOICEMAIL_PREFIX = "voicemail/"
_UNSAFE_KEY = re.compile(r"[^A-Za-z0-9._-]")


def recording_prefix(transaction_id: str, now_ms: int) -> str:
    """``voicemail/2026-12-01/<transaction id>/``: one place per call (PSTN Audio names the file in
    it), dated so a person browsing the bucket finds a day's messages together."""
    day = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%d")
    call = _UNSAFE_KEY.sub("", transaction_id)[:128] or "unknown"
    return f"{VOICEMAIL_PREFIX}{day}/{call}/"


_QUIET_EVENTS = frozenset(
    {
        "RINGING",  # response ignored by the service
        "ACTION_INTERRUPTED",  # response ignored by the service
        "NEW_OUTBOUND_CALL",
        "CALL_ANSWERED",
        "DIGITS_RECEIVED",
        "CALL_UPDATE_REQUESTED",  # without a call in progress there is nothing to update
    }
)


class ForwardingApp:
    """Route calls to our numbers according to their forward rules."""

    def __init__(
        self,
        rules: RuleReader | None,
        calls: CallLog | None,
        prompts: PromptLocation | None,
        telemetry: Telemetry,
        *,
        clock: Callable[[], int] = _now_ms,
        pool: PairPool | None = None,
        transfer_rules: TransferCheck | None = None,
        own_numbers: Callable[[str], bool] | None = None,
        recordings_bucket: str = "",
    ) -> None:
        # rules/calls are None when the stack is misconfigured: calls are still answered and ended.
        self._rules = rules
        self._calls = calls
        self._prompts = prompts
        self._telemetry = telemetry
        self._pool = pool
        # Empty: this stack records no voicemail, and voicemail rules play the failure prompt.
        self._recordings_bucket = recordings_bucket
        # Without configuration: PSTN targets in allowed shape only, and no SIP transfers at all.
        self._transfer_rules = transfer_rules
        # Every number of ours beyond the call's own (the DNIS pool, forwarded numbers, the
        # inventory): asked only when a transfer is requested, never on a call's first event.
        self._own_numbers = own_numbers
        # Public so a simulator can drive the flow on simulated time (ring and talk durations).
        self.clock = clock

    def handle(self, raw: Any) -> dict[str, Any]:
        now = self.clock()
        event: PstnEvent | None = None
        state: CallState | None = None
        # A warm container keeps the last call's correlation id; an event we cannot read must
        # not be logged under it.
        self._telemetry.bind("")
        try:
            event = parse_event(raw)
            self._telemetry.bind(event.transaction_id)
            state = call_state.load(event.attributes)
            plan = self._decide(event, state, now)
        except MalformedInvocationError as error:
            self._telemetry.error("malformed PSTN Audio event", reason=str(error))
            self._telemetry.count("HandlerErrors")
            plan = callflow.on_error(None, now)
        except Exception as error:
            self._telemetry.error("unexpected error handling event", reason=repr(error))
            self._telemetry.count("HandlerErrors")
            plan = _error_plan(state, event, now)
        try:
            return self._respond(event, plan)
        except Exception as error:
            self._telemetry.error("could not build a response", reason=repr(error))
            return response(
                [{"Type": "Hangup", "Parameters": {"ParticipantTag": LEG_A, "SipResponseCode": "0"}}]
            )

    def _decide(self, event: PstnEvent, state: CallState | None, now: int) -> Plan:
        kind = event.type
        if kind == "NEW_INBOUND_CALL":
            return self._new_call(event, now)
        if kind == "HANGUP":
            return self._hangup(event, state, now)
        if kind == "INVALID_LAMBDA_RESPONSE":
            self._telemetry.error(
                "PSTN Audio rejected our response", error_type=event.error_type, detail=event.error_message
            )
            self._telemetry.count("InvalidResponses")
            return _error_plan(state, event, now)
        if kind == "CALL_UPDATE_REQUESTED" and state is not None:
            return self._update_requested(event, state, now)
        if kind in _QUIET_EVENTS or state is None:
            return Plan((), state)
        if kind == "ACTION_SUCCESSFUL":
            if event.action_type == "CallAndBridge":
                self._telemetry.count("CallsForwarded")
                return callflow.on_bridge_answered(state, now)
            if event.action_type == "Hangup":
                # Some flows report the app's own Hangup as ACTION_SUCCESSFUL (the seed relies on
                # it); a transfer waiting for the first callee to go continues either way.
                return callflow.on_transfer_leg_released(state, now)
            if event.action_type == "PlayAudio":
                prefix = recording_prefix(event.transaction_id, now)
                return callflow.on_prompt_played(state, now, recording_prefix=prefix)
            if event.action_type == "RecordAudio":
                return self._recording_ended(event, state, now)
            return Plan((), state)
        if kind == "ACTION_FAILED":
            if event.error_type == "InvalidAudioSource":
                # A prompt in the bucket is missing or not 8 kHz mono PCM: callers still get
                # through (without it), but operators must hear about it.
                self._telemetry.error("prompt could not be played", detail=event.error_message)
                self._telemetry.count("PromptFailures")
            if event.action_type == "CallAndBridge":
                self._telemetry.count("BridgeFailures")
                return callflow.on_bridge_failed(state, event.error_type, now)
            if event.action_type == "Hangup":
                return Plan((), state)  # the leg was already gone
            if event.action_type == "RecordAudio":
                # The bucket refused the file (policy, encryption) or the service failed: the
                # caller is told nobody could answer; operators must hear about it.
                self._telemetry.error(
                    "voicemail could not be recorded", error_type=event.error_type, detail=event.error_message
                )
                self._telemetry.count("VoicemailFailures")
                return callflow.on_recording_failed(state, now)
            return callflow.on_prompt_failed(state, now)
        return Plan((), state)

    def _recording_ended(
        self, event: PstnEvent, state: CallState, now: int, *, hung_up: bool = False
    ) -> Plan:
        """RecordAudio reported its file: when the caller hung up mid-message this may come before
        or instead of the HANGUP event, and either one delivers what was recorded, once."""
        caller = event.leg(LEG_A)
        return callflow.on_recording_ended(
            state,
            now,
            key=event.recording_key,
            bucket=event.recording_bucket or self._recordings_bucket,
            terminator=event.recording_terminator,
            caller_gone=hung_up or (caller is not None and not caller.connected),
        )

    def _new_call(self, event: PstnEvent, now: int) -> Plan:
        leg_a = event.leg(LEG_A) or (event.participants[0] if event.participants else None)
        if leg_a is None or not leg_a.to:
            raise MalformedInvocationError("NEW_INBOUND_CALL without a LEG-A participant")
        if self._rules is None:
            return callflow.on_error(None, now)
        caller = _shown_caller(leg_a.from_)
        try:
            rule = self._rules.get(leg_a.to)
            pair = None
            if rule is not None and rule.is_active(now / 1000) and rule.connect_entry_at(now / 1000):
                if self._pool is None:
                    raise StorageError("no DNIS pool is configured for Amazon Connect entry numbers")
                pair = self._pool.claim_pair(event.transaction_id, caller)
                if pair is None:
                    self._telemetry.count("PoolExhausted")
        except StorageError as error:
            self._telemetry.error("could not read the forward rule", reason=str(error))
            self._telemetry.count("StorageErrors")
            return callflow.on_error(None, now, record=False)
        plan = callflow.start(
            rule,
            leg_a.to,
            caller,
            now,
            started_ms=leg_a.start_ms,
            pair=pair,
            can_record=bool(self._recordings_bucket),
        )
        if plan.record is not None:
            self._telemetry.count("CallsNotInService")
        return plan

    def _update_requested(self, event: PstnEvent, state: CallState, now: int) -> Plan:
        """UpdateSipMediaApplicationCall (from the Connect Lambda or the Slack bot)."""
        arguments = event.action_parameters.get("Arguments")
        arguments = arguments if isinstance(arguments, dict) else {}
        if str(arguments.get("Transfer", "")).lower() != "true":
            return Plan((), state)
        target = str(arguments.get("TransferTarget") or "")
        arn = str(arguments.get("TransferTargetArn") or "")
        # Imported here: only transfer requests need it, and Lambda compiles every module a cold
        # start imports (its packages ship no bytecode), so ordinary calls do not wait for it.
        from switchboard.domain.transfer import TransferRules, TransferTargetError  # noqa: PLC0415

        try:
            # The bot and the Connect Lambda ran the full policy; whoever else can call
            # UpdateSipMediaApplicationCall cannot make us dial what that policy would refuse.
            (self._transfer_rules or TransferRules()).check(target, arn)
            if target in (state.dialed, *(state.pair or ())):
                raise TransferTargetError(f"{target} is this call's own number")
            self._refuse_our_own(target)
        except TransferTargetError as error:
            self._telemetry.error("transfer request refused", reason=str(error), phase=state.phase.value)
            self._telemetry.count("TransfersRefused")
            return Plan((), state)
        plan = callflow.on_transfer_requested(state, target, arn, now)
        if plan.steps:
            self._telemetry.count("TransfersRequested")
        else:
            self._telemetry.error("transfer request ignored", phase=state.phase.value, target=target)
        return plan

    def _refuse_our_own(self, target: str) -> None:
        """``target`` (a phone number, or a SIP user that is one) must not be one of our numbers."""
        from switchboard.domain.transfer import TransferTargetError  # noqa: PLC0415 - see _update_requested

        if self._own_numbers is None or not is_e164(target):
            return
        try:
            ours = self._own_numbers(target)
        except (StorageError, CallControlError) as error:  # fail closed: unchecked is refused
            raise TransferTargetError(f"could not check whether {target} is one of ours: {error}") from error
        if ours:
            raise TransferTargetError(f"{target} is one of our own numbers")

    def _hangup(self, event: PstnEvent, state: CallState | None, now: int) -> Plan:
        gone = event.disconnected_tags
        if LEG_A in gone:
            tag = LEG_A
        elif LEG_B in gone:
            tag = LEG_B
        else:
            tag = str(event.action_parameters.get("ParticipantTag") or LEG_A).upper()
        other = event.leg(LEG_B if tag == LEG_A else LEG_A)
        other_connected = other is not None and other.connected
        leg = Leg.CALLER if tag == LEG_A else Leg.CALLEE
        if state is not None and state.phase is Phase.RECORDING and leg is Leg.CALLER:
            # The HANGUP may carry the interrupted RecordAudio with the file it wrote.
            return self._recording_ended(event, state, now, hung_up=True)
        if state is None:
            steps = (HangUp(Leg.CALLEE if leg is Leg.CALLER else Leg.CALLER),) if other_connected else ()
            return Plan(steps, None)
        return callflow.on_leg_ended(state, leg, other_connected, now)

    def _release(self, event: PstnEvent | None, plan: Plan) -> None:
        if plan.release is None or self._pool is None or event is None:
            return
        try:
            self._pool.release_pair(plan.release, event.transaction_id)
        except StorageError as error:
            # The claim expires on its own (stale claims are reclaimable); the call goes on.
            self._telemetry.error("could not release the DNIS pair", reason=str(error))
            self._telemetry.count("PoolReleaseFailures")

    def _mark_live(self, event: PstnEvent | None, plan: Plan) -> None:
        if plan.live is None or self._calls is None or event is None:
            return
        try:
            self._calls.call_live(event.transaction_id, plan.live)
        except StorageError as error:
            # The call is up either way; it is just not visible (nor transferable) from Slack.
            self._telemetry.error("could not list the call as live", reason=str(error))
            self._telemetry.count("LiveCallWriteFailures")

    def _respond(self, event: PstnEvent | None, plan: Plan) -> dict[str, Any]:
        self._release(event, plan)
        self._mark_live(event, plan)
        if plan.record is not None and plan.record.voicemail is not None:
            self._telemetry.count("VoicemailsLeft")
            if not plan.record.voicemail.bucket:
                voicemail = replace(plan.record.voicemail, bucket=self._recordings_bucket)
                plan = replace(plan, record=replace(plan.record, voicemail=voicemail))
        if plan.record is not None and self._calls is not None and event is not None:
            try:
                self._calls.record_call(event.transaction_id, plan.record)
            except StorageError as error:
                # The call itself must go on; the missing record is visible in logs and metrics.
                self._telemetry.error("could not store the call record", reason=str(error))
                self._telemetry.count("RecordWriteFailures")
        # Only our own keys go back: echoing what an event carried would let it push the response
        # past the service's 10-attribute limit (an invalid response, the call dropped).
        attributes = {}
        if plan.state is not None:
            attributes[call_state.STATE_KEY] = call_state.dump(plan.state)
        actions = render(plan.steps, self._prompts, event, self._recordings_bucket)
        self._telemetry.event(event, actions, plan)
        return response(actions, attributes)
