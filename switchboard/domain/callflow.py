"""The forwarding call flow as pure decisions.

Each function takes the call's state plus what just happened and returns a :class:`Plan`: the
steps to perform (play a prompt, bridge to a destination, hang up a leg), the new state, and at
most once per call a :class:`~switchboard.domain.events.CallRecord` to store.

Nothing here knows PSTN Audio JSON. ``sma/`` turns a PSTN Audio event into one of these calls and
renders the steps as actions; an Amazon Connect backend could render the same steps as contact-flow
blocks. Time is passed in (milliseconds) so the flow is deterministic under test.

The invariant that keeps the SMA to *one write per call* (two for a call that was bridged: the
answer makes it live for Slack): a record is produced only by the transition that ends the call's
outcome, and ``CallState.recorded`` guards against a second one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import ParamSpec

from switchboard.domain.events import (
    Attempt,
    AttemptResult,
    CallRecord,
    LiveCall,
    Outcome,
    RecordingEnd,
    Voicemail,
)
from switchboard.domain.rules import (
    CONNECT,
    CallerIdMode,
    FailureAction,
    ForwardRule,
    GreetingMode,
    is_e164,
)


class Leg(StrEnum):
    """The two sides of a forwarded call."""

    CALLER = "caller"  # the inbound call to our number (PSTN Audio LEG-A)
    CALLEE = "callee"  # the outbound call to a destination (PSTN Audio LEG-B)


class Prompt(StrEnum):
    """Recorded prompts the flow can play; adapters map them to audio files."""

    GREETING = "greeting"
    NOT_IN_SERVICE = "not_in_service"
    FAILURE = "failure"
    ERROR = "error"
    PLEASE_HOLD = "please_hold"
    VOICEMAIL = "voicemail"  # before the beep: nobody could answer, the message is recorded
    THANK_YOU = "thank_you"  # after the message


class HangupCause(StrEnum):
    NORMAL = "normal"
    UNAVAILABLE = "unavailable"  # no destination reached (SIP 480)


class Phase(StrEnum):
    GREETING = "greeting"  # playing the greeting once before dialling
    RINGING = "ringing"  # a bridge to destinations[index] is in progress
    BRIDGED = "bridged"
    TRANSFER_RELEASING = "transfer_releasing"  # hanging up the current callee before a transfer
    TRANSFERRING = "transferring"  # a bridge to the transfer target is in progress
    VOICEMAIL_GREETING = "voicemail_greeting"  # telling the caller they can leave a message
    RECORDING = "recording"  # recording the caller's message
    ENDING = "ending"  # we decided to end the call (prompt and/or hangup under way)
    ENDED = "ended"  # a leg is gone; nothing more to do but tidy up


@dataclass(frozen=True, slots=True)
class PlayPrompt:
    prompt: Prompt
    leg: Leg = Leg.CALLER


@dataclass(frozen=True, slots=True)
class Bridge:
    """Call ``destination`` and bridge it to the caller when answered."""

    destination: str
    caller_id: str
    timeout_seconds: int
    ringback: Prompt | None = None
    # Set for SIP targets behind a voice connector (transfers); PSTN otherwise.
    voice_connector_arn: str | None = None
    sip_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class HangUp:
    leg: Leg
    cause: HangupCause = HangupCause.NORMAL


# A pause this long ends a voicemail: long enough to think mid-sentence, short enough that a
# caller who is done is not kept waiting for the thank-you.
VOICEMAIL_SILENCE_SECONDS = 5


@dataclass(frozen=True, slots=True)
class RecordMessage:
    """Record what the caller says into ``prefix`` of the recordings store, until they press
    ``terminator``, stay silent for ``silence_seconds`` or talk for ``max_seconds``."""

    prefix: str
    max_seconds: int
    terminator: str = RecordingEnd.TERMINATOR.value
    silence_seconds: int = VOICEMAIL_SILENCE_SECONDS


Step = PlayPrompt | Bridge | HangUp | RecordMessage


@dataclass(frozen=True, slots=True)
class CallState:
    """Everything later events need, so they never read the table again.

    ``caller_id`` is resolved once at call start. ``greeting_broken`` remembers that the greeting
    audio failed so follow-me attempts do not keep tripping over it.
    """

    dialed: str
    caller: str
    destinations: tuple[str, ...]
    greeting: GreetingMode
    failure: FailureAction
    caller_id: str
    ring_timeout: int
    phase: Phase
    index: int = 0
    started_ms: int = 0
    attempt_started_ms: int = 0
    bridged_ms: int = 0
    attempts: tuple[Attempt, ...] = ()
    recorded: bool = False
    greeting_broken: bool = False
    pair: tuple[str, str] | None = None  # DNIS pair (sma number, connect number) held by this call
    transfer_target: str = ""
    transfer_arn: str = ""
    transferred: bool = False
    live: bool = False  # a bridge was answered, so the call is listed as live until it ends
    # Longest voicemail in seconds when the failure action is voicemail and this backend can
    # record; 0 otherwise (the failure prompt is played instead).
    voicemail_max: int = 0
    recording_prefix: str = ""
    recording_started_ms: int = 0

    @property
    def current_destination(self) -> str:
        return self.destinations[self.index]


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do now: ``steps`` in order, the ``state`` to carry, and a ``record`` to store, if any.

    ``live`` is set when a bridge was just answered: the call is now one people can see (and
    transfer) from Slack. The record of a call that was live ends that (``CallRecord.was_live``).
    """

    steps: tuple[Step, ...]
    state: CallState | None
    record: CallRecord | None = None
    release: tuple[str, str] | None = None  # DNIS pair to give back to the pool
    live: LiveCall | None = None


_P = ParamSpec("_P")
TRANSFER_TIMEOUT_SECONDS = 30


def _releases_pair(decide: Callable[_P, Plan]) -> Callable[_P, Plan]:
    """Give the DNIS pair back as soon as the call no longer needs Amazon Connect.

    Every decision goes through this, so no path (hangup of either leg, failed bridge, error,
    transfer) can forget to release the pair and leak it from the pool.
    """

    @functools.wraps(decide)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> Plan:
        plan = decide(*args, **kwargs)
        state = plan.state
        if state is None or state.pair is None:
            return plan
        if state.phase in (Phase.ENDING, Phase.ENDED, Phase.TRANSFER_RELEASING, Phase.TRANSFERRING):
            return replace(plan, state=replace(state, pair=None), release=state.pair)
        return plan

    return wrapper


@_releases_pair
def start(
    rule: ForwardRule | None,
    dialed: str,
    caller: str,
    now_ms: int,
    *,
    started_ms: int | None = None,
    pair: tuple[str, str] | None = None,
    can_record: bool = False,
) -> Plan:
    """A call reached ``dialed``: bridge it to the rule's first destination or refuse it.

    ``started_ms`` is when the call really began (the service's own timestamp); it differs from
    ``now_ms`` when PSTN Audio retries a slow NEW_INBOUND_CALL. For an Amazon Connect entry number
    ``pair`` is the DNIS pair claimed for this call (None: the pool is exhausted). ``can_record``
    says the backend can take voicemail; without it a voicemail rule plays the failure prompt.
    """
    call_started = started_ms if started_ms is not None and 0 <= now_ms - started_ms < 3_600_000 else now_ms

    def refuse(prompt: Prompt, outcome: Outcome) -> Plan:
        """Answer with ``prompt`` and hang up: there is nobody to bridge this call to."""
        ending = CallState(
            dialed=dialed,
            caller=caller,
            destinations=(),
            greeting=GreetingMode.NONE,
            failure=FailureAction.PROMPT,
            caller_id=dialed,
            ring_timeout=0,
            phase=Phase.ENDING,
            started_ms=call_started,
        )
        return _finish(
            ending, (PlayPrompt(prompt), HangUp(Leg.CALLER, HangupCause.UNAVAILABLE)), outcome, now_ms
        )

    if rule is None or not rule.is_active(now_ms / 1000):
        return refuse(Prompt.NOT_IN_SERVICE, Outcome.NOT_IN_SERVICE)

    # The caller's own number is only usable as caller ID if it is a real E.164 number;
    # withheld or malformed caller IDs fall back to our number rather than failing the bridge.
    caller_id = caller if rule.caller_id is CallerIdMode.CALLER and is_e164(caller) else dialed
    # Business hours pick the branch from the rule already read: no second read, no clock but now.
    destinations = rule.destinations_at(now_ms / 1000)
    to_connect = destinations == (CONNECT,)
    if to_connect:
        if pair is None:
            return refuse(Prompt.FAILURE, Outcome.POOL_EXHAUSTED)
        # Connect finds the call by the (calling, called) pair: our SMA number calls its number.
        caller_id, destinations = pair[0], (pair[1],)
    state = CallState(
        dialed=dialed,
        caller=caller,
        pair=pair if to_connect else None,
        destinations=destinations,
        greeting=rule.greeting,
        failure=rule.failure,
        caller_id=caller_id,
        ring_timeout=rule.ring_timeout,
        phase=Phase.RINGING,
        started_ms=call_started,
        attempt_started_ms=now_ms,
        voicemail_max=rule.voicemail_max_seconds
        if can_record and rule.failure is FailureAction.VOICEMAIL and not to_connect
        else 0,
    )
    if rule.greeting is GreetingMode.ONCE:
        state = replace(state, phase=Phase.GREETING)
        return Plan((PlayPrompt(Prompt.GREETING), _bridge(state)), state)
    return Plan((_bridge(state),), state)


@_releases_pair
def on_bridge_answered(state: CallState, now_ms: int) -> Plan:
    """The destination answered: the call is up (and live for Slack) until someone hangs up."""
    if state.phase is Phase.TRANSFERRING:
        attempt = Attempt(state.transfer_target, AttemptResult.ANSWERED, _ring_ms(state, now_ms))
        state = replace(
            state,
            phase=Phase.BRIDGED,
            transferred=True,
            live=True,
            bridged_ms=now_ms,
            attempts=(*state.attempts, attempt),
        )
        return Plan((), state, live=_live(state, state.transfer_target, now_ms))
    if state.phase not in (Phase.GREETING, Phase.RINGING):
        return Plan((), state)
    attempt = Attempt(state.current_destination, AttemptResult.ANSWERED, _ring_ms(state, now_ms))
    state = replace(
        state, phase=Phase.BRIDGED, live=True, bridged_ms=now_ms, attempts=(*state.attempts, attempt)
    )
    return Plan((), state, live=_live(state, state.current_destination, now_ms))


def _live(state: CallState, callee: str, now_ms: int) -> LiveCall:
    return LiveCall(
        dialed=state.dialed,
        caller=state.caller,
        callee=callee,
        since_ms=now_ms,
        started_ms=state.started_ms,
        via_connect=state.pair is not None,
        transferred=state.transferred,
    )


@_releases_pair
def on_bridge_failed(state: CallState, error: str, now_ms: int) -> Plan:
    """The destination was not reached: try the next one (follow-me), else apply the failure action.

    A missing or unreadable greeting (``InvalidAudioSource``) is not the destination's fault, so the
    same destination is tried once more without the greeting.
    """
    if state.phase is Phase.TRANSFERRING:
        attempt = Attempt(state.transfer_target, error or "Unknown", _ring_ms(state, now_ms))
        state = replace(state, attempts=(*state.attempts, attempt), phase=Phase.ENDING)
        closing = (PlayPrompt(Prompt.FAILURE), HangUp(Leg.CALLER, HangupCause.UNAVAILABLE))
        return _finish(state, closing, Outcome.TRANSFER_FAILED, now_ms)
    if state.phase not in (Phase.GREETING, Phase.RINGING):
        return Plan((), state)
    if error == "InvalidAudioSource" and not state.greeting_broken and state.greeting is GreetingMode.LOOP:
        # Our ringback file is missing or unreadable: not an attempt on the destination at all.
        state = replace(state, greeting_broken=True, attempt_started_ms=now_ms, phase=Phase.RINGING)
        return Plan((_bridge(state),), state)
    attempt = Attempt(state.current_destination, error or "Unknown", _ring_ms(state, now_ms))
    state = replace(
        state, attempts=(*state.attempts, attempt), attempt_started_ms=now_ms, phase=Phase.RINGING
    )
    if state.index + 1 < len(state.destinations):
        state = replace(state, index=state.index + 1)
        return Plan((_bridge(state),), state)

    if state.failure is FailureAction.VOICEMAIL and state.voicemail_max:
        # The call's record waits for the message: one write at the end carries both.
        return Plan((PlayPrompt(Prompt.VOICEMAIL),), replace(state, phase=Phase.VOICEMAIL_GREETING))
    return _nobody_reached(state, now_ms)


def _nobody_reached(state: CallState, now_ms: int) -> Plan:
    """The failure prompt (unless the rule says hang up, or it already failed) and the hangup."""
    steps: tuple[Step, ...] = (HangUp(Leg.CALLER, HangupCause.UNAVAILABLE),)
    if state.failure is not FailureAction.HANGUP:
        steps = (PlayPrompt(Prompt.FAILURE), *steps)
    return _finish(replace(state, phase=Phase.ENDING), steps, _failed_outcome(state), now_ms)


def _failed_outcome(state: CallState) -> Outcome:
    unanswered = all(a.result == AttemptResult.NOT_ANSWERED for a in state.attempts)
    return Outcome.NO_ANSWER if unanswered else Outcome.ALL_FAILED


@_releases_pair
def on_prompt_played(state: CallState, now_ms: int, *, recording_prefix: str) -> Plan:
    """A prompt finished. After the voicemail greeting, record the message into
    ``recording_prefix`` (the backend's per-call place in the recordings store)."""
    if state.phase is not Phase.VOICEMAIL_GREETING:
        return Plan((), state)
    state = replace(
        state, phase=Phase.RECORDING, recording_prefix=recording_prefix, recording_started_ms=now_ms
    )
    return Plan((RecordMessage(prefix=recording_prefix, max_seconds=state.voicemail_max),), state)


@_releases_pair
def on_recording_ended(
    state: CallState, now_ms: int, *, key: str = "", bucket: str = "", terminator: str = "", caller_gone: bool
) -> Plan:
    """The recording stopped: thank the caller and hang up, and store the call with its message.

    A message with less than a second of sound is not delivered: shorter than a second, or, when
    silence ended it, no longer than the silence itself (the caller said nothing). ``key`` is
    what the service reported (empty when the caller hung up and no result came); ``terminator``
    the key that ended it, if one did.
    """
    if state.phase is not Phase.RECORDING:
        return Plan((), state)
    recorded_ms = max(0, now_ms - state.recording_started_ms)
    if caller_gone:
        ended_by = RecordingEnd.HANGUP
    elif terminator:
        ended_by = RecordingEnd.TERMINATOR
    elif recorded_ms >= (state.voicemail_max - 1) * 1000:
        ended_by = RecordingEnd.MAX_LENGTH
    else:
        ended_by = RecordingEnd.SILENCE
    sound_ms = recorded_ms
    if ended_by is RecordingEnd.SILENCE:
        sound_ms -= VOICEMAIL_SILENCE_SECONDS * 1000
    message = None
    if sound_ms >= 1000:
        message = Voicemail(
            prefix=state.recording_prefix,
            key=key,
            duration_s=min(recorded_ms // 1000, state.voicemail_max),
            ended_by=ended_by,
            max_seconds=state.voicemail_max,
            bucket=bucket,
        )
    steps: tuple[Step, ...] = () if caller_gone else (PlayPrompt(Prompt.THANK_YOU), HangUp(Leg.CALLER))
    state = replace(state, phase=Phase.ENDED if caller_gone else Phase.ENDING)
    return _finish(state, steps, _failed_outcome(state), now_ms, voicemail=message)


@_releases_pair
def on_recording_failed(state: CallState, now_ms: int) -> Plan:
    """The recording could not be made (bucket refused it, service error): say nobody could take
    the call, as if voicemail were off, and hang up."""
    if state.phase is not Phase.RECORDING:
        return Plan((), state)
    return _nobody_reached(replace(state, failure=FailureAction.PROMPT), now_ms)


@_releases_pair
def on_prompt_failed(state: CallState, now_ms: int) -> Plan:
    """A prompt could not be played. PSTN Audio drops the actions after a failed one, so re-issue
    what mattered: the bridge after a failed greeting, or the hangup after a failed closing prompt."""
    if state.phase is Phase.GREETING:
        state = replace(state, phase=Phase.RINGING, greeting_broken=True, attempt_started_ms=now_ms)
        return Plan((_bridge(state),), state)
    if state.phase is Phase.VOICEMAIL_GREETING:
        # Never record a caller who was not told they are being recorded.
        return _nobody_reached(replace(state, failure=FailureAction.PROMPT), now_ms)
    if state.phase is Phase.RECORDING:
        return on_recording_failed(state, now_ms)
    if state.phase is Phase.ENDING:
        return Plan((HangUp(Leg.CALLER, HangupCause.UNAVAILABLE),), state)
    if state.phase is Phase.TRANSFERRING:
        # "Please hold" could not be played, which dropped the transfer bridge after it.
        return Plan((_transfer_bridge(state),), state)
    return Plan((), state)


@_releases_pair
def on_transfer_requested(state: CallState, target: str, voice_connector_arn: str, now_ms: int) -> Plan:
    """Take the call back from whoever has it (Amazon Connect or a forward destination) and
    transfer it to ``target``: first hang up the current callee; :func:`on_leg_ended` (or the
    hangup's success) then bridges the caller to the target."""
    if state.phase is not Phase.BRIDGED or not target:
        return Plan((), state)  # nothing connected to take back (or nowhere to go)
    if not voice_connector_arn and not is_e164(target):
        return Plan((), state)  # a PSTN target must be a phone number; refuse rather than drop the call
    state = replace(
        state, phase=Phase.TRANSFER_RELEASING, transfer_target=target, transfer_arn=voice_connector_arn
    )
    return Plan((HangUp(Leg.CALLEE),), state)


@_releases_pair
def on_transfer_leg_released(state: CallState, now_ms: int) -> Plan:
    """The first callee is gone: ask the caller to hold and bridge them to the transfer target."""
    if state.phase is not Phase.TRANSFER_RELEASING:
        return Plan((), state)
    state = replace(state, phase=Phase.TRANSFERRING, attempt_started_ms=now_ms)
    return Plan((PlayPrompt(Prompt.PLEASE_HOLD), _transfer_bridge(state)), state)


@_releases_pair
def on_leg_ended(state: CallState, leg: Leg, other_leg_connected: bool, now_ms: int) -> Plan:
    """One leg hung up. PSTN Audio keeps the other leg (and its bill) running, so end it too."""
    other = Leg.CALLEE if leg is Leg.CALLER else Leg.CALLER
    steps: tuple[Step, ...] = (HangUp(other),) if other_leg_connected else ()
    if state.phase is Phase.TRANSFER_RELEASING and leg is Leg.CALLEE:
        return on_transfer_leg_released(state, now_ms)
    if state.phase in (Phase.TRANSFER_RELEASING, Phase.TRANSFERRING) and leg is Leg.CALLER:
        return _finish(replace(state, phase=Phase.ENDED), steps, Outcome.ABANDONED, now_ms)
    if state.phase is Phase.TRANSFERRING:
        return Plan((), state)  # the target's leg vanished; the bridge's failure event follows
    if state.phase is Phase.ENDING and leg is Leg.CALLEE:
        # We are already ending the call (e.g. error prompt then hangup queued for the caller):
        # answering with a bare hangup would replace that queue and cut the prompt short.
        return Plan((), state)
    if state.phase in (Phase.ENDING, Phase.ENDED):
        return Plan(steps, replace(state, phase=Phase.ENDED))
    if state.phase is Phase.BRIDGED:
        outcome = Outcome.TRANSFERRED if state.transferred else Outcome.BRIDGED
        return _finish(replace(state, phase=Phase.ENDED), steps, outcome, now_ms)
    if state.phase in (Phase.VOICEMAIL_GREETING, Phase.RECORDING):
        if leg is Leg.CALLEE:
            return Plan((), state)  # no callee is left while we take a message
        if state.phase is Phase.RECORDING:
            # What the caller said before hanging up is still a message.
            return on_recording_ended(state, now_ms, caller_gone=True)
        return _finish(replace(state, phase=Phase.ENDED), (), _failed_outcome(state), now_ms)
    if leg is Leg.CALLER:
        # Caller gave up while we were greeting or ringing a destination. During a play-once
        # greeting no destination has been dialled yet, so there is no attempt to record.
        if state.phase is Phase.RINGING:
            attempt = Attempt(state.current_destination, AttemptResult.ABANDONED, _ring_ms(state, now_ms))
            state = replace(state, attempts=(*state.attempts, attempt))
        return _finish(replace(state, phase=Phase.ENDED), steps, Outcome.ABANDONED, now_ms)
    # The destination leg vanished before it was bridged; the bridge's own failure event follows.
    # Leave the caller up: follow-me or the failure action still has to reach them.
    return Plan((), state)


@_releases_pair
def on_error(
    state: CallState | None,
    now_ms: int,
    *,
    record: bool = True,
    callee_connected: bool = False,
    caller_connected: bool = True,
) -> Plan:
    """Something went wrong on our side: apologise and hang up rather than leave dead air.

    ``record=False`` when the failure was the table itself; writing a record would only spend more
    of the 5 s PSTN Audio budget on a store that is failing. Without a state (unreadable, or the
    event itself was) the legs the event shows are all we know: a connected callee is billed until
    we end it, and a caller who is gone cannot hear an apology.
    """
    steps: tuple[Step, ...] = (PlayPrompt(Prompt.ERROR), HangUp(Leg.CALLER, HangupCause.UNAVAILABLE))
    if state is None:
        if not caller_connected:
            steps = ()
        if callee_connected:
            steps = (HangUp(Leg.CALLEE), *steps)
        return Plan(steps, None)
    if state.phase is Phase.ENDED:
        return Plan((), state)
    if state.phase is Phase.ENDING:
        # Already ending (perhaps the closing prompt is what failed): just make sure the call ends.
        return Plan((HangUp(Leg.CALLER, HangupCause.UNAVAILABLE),), state)
    if state.phase is Phase.BRIDGED or callee_connected:
        # Never play the apology into a live bridge, and never leave the destination leg billed.
        steps = (HangUp(Leg.CALLEE), *steps)
    state = replace(state, phase=Phase.ENDING)
    if not record:
        return Plan(steps, state)
    return _finish(state, steps, Outcome.ERROR, now_ms)


def _bridge(state: CallState) -> Bridge:
    use_greeting = state.greeting is GreetingMode.LOOP and not state.greeting_broken
    return Bridge(
        destination=state.current_destination,
        caller_id=state.caller_id,
        timeout_seconds=state.ring_timeout,
        ringback=Prompt.GREETING if use_greeting else None,
    )


def _transfer_bridge(state: CallState) -> Bridge:
    """Bridge to the transfer target keeping the original caller visible: as caller ID (allowed:
    it is LEG-A's From) and, for SIP targets, in ``X-Original-Calling-Number``."""
    caller_id = state.caller if is_e164(state.caller) else state.dialed
    if state.transfer_arn:
        # LEG-A's From is whatever the caller's network sent (text, a SIP URI, CR/LF): only a
        # real E.164 number goes into a header of the PBX's INVITE.
        headers = (("X-Original-Calling-Number", state.caller),) if is_e164(state.caller) else ()
        return Bridge(
            destination=state.transfer_target,
            caller_id=caller_id,
            timeout_seconds=TRANSFER_TIMEOUT_SECONDS,
            voice_connector_arn=state.transfer_arn,
            sip_headers=headers,
        )
    return Bridge(
        destination=state.transfer_target, caller_id=caller_id, timeout_seconds=TRANSFER_TIMEOUT_SECONDS
    )


def _ring_ms(state: CallState, now_ms: int) -> int:
    return max(0, now_ms - state.attempt_started_ms)


def _finish(
    state: CallState,
    steps: tuple[Step, ...],
    outcome: Outcome,
    now_ms: int,
    *,
    voicemail: Voicemail | None = None,
) -> Plan:
    """Attach the call's one record unless it was already produced."""
    if state.recorded:
        return Plan(steps, state)
    talked = outcome in (Outcome.BRIDGED, Outcome.TRANSFERRED)
    talk_ms = max(0, now_ms - state.bridged_ms) if talked and state.bridged_ms else 0
    record = CallRecord(
        dialed=state.dialed,
        caller=state.caller,
        outcome=outcome,
        attempts=state.attempts,
        started_ms=state.started_ms,
        ended_ms=now_ms,
        talk_ms=talk_ms,
        transfer_target=state.transfer_target,
        was_live=state.live,
        voicemail=voicemail,
    )
    return Plan(steps, replace(state, recorded=True), record)
