"""A stand-in for the PSTN Audio service: drive a SIP media application handler through whole calls.

Why: handler tests feed it one hand-written event at a time. That checks each decision, not the
*conversation*: that the actions it returns, executed the way the service executes them, lead to
the events it expects next, and that no call ends in dead air or with a leg left up (and billed).
:class:`PstnSimulator` plays the service's part. It keeps the call's legs, TransactionAttributes and
Sequence, executes the returned actions in order on a simulated clock (a 30 s ring-out costs no
real time), plays the phones' parts (:class:`PhoneBehaviour`, :class:`CallerBehaviour`) and
writes a :class:`CallTranscript` that tests assert on and people read (:meth:`CallTranscript.render`).

Verified in the Amazon Chime SDK developer guide (the awsdocs/amazon-chime-sdk-developer-guide
sources as last published in 2023, and the current docs.aws.amazon.com pages where reachable):

* The event envelope (SchemaVersion, Sequence, InvocationEventType, CallDetails with TransactionId,
  AwsAccountId, AwsRegion, SipMediaApplicationId, Participants[CallId, ParticipantTag, To, From,
  Direction, StartTimeInMilliseconds as a string, Status]); Sequence grows with every invocation
  of the call (pstn-invocations).
* ACTION_SUCCESSFUL is sent once a whole action list has succeeded, with ActionData = the last
  action. ACTION_FAILED carries the failed action plus ErrorType/ErrorMessage, and the actions after
  the failed one are cleared (use-case-2, pstn-invocations).
* PlayAudio: Repeat defaults to 1; failures are InvalidAudioSource (file missing or unreadable),
  InvalidActionParameter ("CallId or ParticipantTag parameter for action is invalid.") or
  SystemException (play-audio). Pause takes DurationInMilliseconds (pause).
* CallAndBridge: CallTimeoutSeconds defaults to 30 and runs from the INVITE on LEG-B; an unanswered
  callee gives ACTION_FAILED ErrorType "CallNotAnswered" / "Call not answered"; an answered one
  gives ACTION_SUCCESSFUL with both participants Connected and LEG-A's CallId added to
  ActionData.Parameters; the RingbackTone loops on LEG-A until LEG-B answers, rejects or times
  out; one leg hanging up does not hang up the other, which is billed until it is hung up
  (call-and-bridge).
* Hangup: the service disconnects the leg, then invokes HANGUP for it (not ACTION_SUCCESSFUL,
  which only a meeting leg gets). For a call with one leg the response is ignored; for a bridged
  call the returned actions run. SipResponseCode defaults to "0" (hangup).
* HANGUP's ActionData can be the action in progress rather than Hangup (case-5 shows ReceiveDigits
  for a LEG-B hangup); the leg that dropped is the participant whose Status is Disconnected.
* INVALID_LAMBDA_RESPONSE has ErrorType/ErrorMessage at the top level and no ActionData; the
  documented example is "TransactionAttributesInvalidMapSize" for more than 10 attributes
  (attribute-trans-invalid).
* A response's TransactionAttributes replace the stored map, ``{}`` erases it, leaving the key out
  keeps it (transaction-attributes).
* CALL_UPDATE_REQUESTED: ActionData {Type: CallUpdateRequest, Parameters: {Arguments}}, delivered
  asynchronously after UpdateSipMediaApplicationCall answers 202 (0-20 string arguments). Returned
  actions replace those after the one in progress; PlayAudio, RecordAudio and Pause are
  interrupted (ACTION_INTERRUPTED, whose response is ignored), other actions finish first
  (update-sip-call).
* The service retries an invocation after 5 s without an answer; when retries run out the call
  ends with 480 (timeouts).

Assumed (undocumented or ambiguous; each one is a constant, a parameter or one small method here):

* Busy: ACTION_FAILED "CallNotAnswered" after 2 s, since the docs name no busy ErrorType.
  Unreachable: "SystemException" after 1 s. Both can be overridden per phone.
* RINGING (PSTN Audio ignores the response to it) is sent when a destination starts ringing, not for busy or
  unreachable ones. Like the documented ACTION_FAILED example it lists LEG-A only: LEG-B joins
  Participants when it answers.
* A response with a non-empty Actions list replaces the actions still queued; an empty list leaves
  them. This matters for the response to a HANGUP of LEG-B in the middle of a list, and to
  CALL_UPDATE_REQUESTED.
* Responses the service ignores (RINGING, ACTION_INTERRUPTED, the HANGUP of the last leg) do not
  update TransactionAttributes. They are still checked, and flagged when invalid.
* An action aimed at a leg that is not connected fails with InvalidActionParameter; an action
  without CallId or ParticipantTag targets LEG-A. A CallAndBridge while LEG-B is connected fails
  with InvalidActionParameter. A missing RingbackTone fails the CallAndBridge (InvalidAudioSource)
  before anything is dialled.
* INVALID_LAMBDA_RESPONSE's ErrorType is TransactionAttributesInvalidMapSize for too many
  attributes, else InvalidActionParameter; ErrorMessage lists every problem. If the response to
  INVALID_LAMBDA_RESPONSE is rejected too, the service ends the call (480).
* A handler that raises is retried once, 5 s later, with the same event (same Sequence). If the
  retry raises too, the service ends the call (480) without invoking the handler again.
* Dead air: a connected LEG-A with nothing running and no bridge for 20 s. The caller gives up and
  hangs up, so the handler still gets its HANGUP. (The docs' 30 s timeout for a NEW_INBOUND_CALL
  answered with no actions is covered by this.)
* Speak lasts len(Text)/15 s; PlayAudio lasts prompt_seconds x Repeat (3 s per play by default);
  other actions (ReceiveDigits...) are not modelled and succeed at once.
* RecordAudio (record-audio): the caller speaks ``CallerBehaviour.message`` at 15 characters a
  second, then presses ``#`` (half a second later), stays silent (the recording stops after
  SilenceDurationInSeconds) or hangs up; DurationInSeconds cuts all of that short. The file is a
  real 8 kHz WAV (:mod:`switchboard_local.pstn.speech`) named ``<Prefix><uuid>.wav``, handed to
  ``save_recording``; ACTION_SUCCESSFUL carries RecordingDestination {Type, BucketName, Key} and,
  for a terminator only, RecordingTerminatorUsed (as documented). A bucket ``recordings_writable``
  refuses fails the action with InvalidActionParameter ("RecordingDestination parameter value is
  invalid."). Assumed, since the docs are silent: a caller who hangs up mid-recording leaves what
  was recorded so far (if anything), and the HANGUP's ActionData is the RecordAudio in progress
  with that file's RecordingDestination.
* Once bridged, the caller ends the conversation after ``CallerBehaviour.talks_for`` (60 s) unless
  the callee hangs up first.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from switchboard_local.pstn.schema import MAX_ATTRIBUTES, response_errors
from switchboard_local.pstn.speech import caller_recording

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
PromptCheck = Callable[[str, str], bool]
PromptLength = Callable[[str, str], float]
RecordingSink = Callable[[str, str, bytes, str], None]

LEG_A = "LEG-A"
LEG_B = "LEG-B"
CONNECTED = "Connected"
DISCONNECTED = "Disconnected"

DEFAULT_PROMPT_SECONDS = 3.0
SPEECH_CHARACTERS_PER_SECOND = 15.0
RETRY_AFTER_MS = 5_000
DEAD_AIR_SECONDS = 20.0
MAX_UPDATE_ARGUMENTS = 20
INTERRUPTIBLE_ACTIONS = frozenset({"PlayAudio", "Pause", "RecordAudio"})
KEY_PRESS_MS = 500  # from the end of the caller's words to their pressing the terminator
UNBOUNDED_RECORDING_SECONDS = 3600.0  # RecordAudio without DurationInSeconds

FLAG_DEAD_AIR = "dead air"
FLAG_LEG_A_LEFT_CONNECTED = "LEG-A left connected (billed)"
FLAG_LEG_B_LEFT_CONNECTED = "LEG-B left connected (billed)"
FLAG_INVALID_RESPONSE = "invalid response"
FLAG_HANDLER_RAISED = "handler raised"
FLAG_MAX_INVOCATIONS = "max invocations reached"
FLAG_STILL_CONNECTED = "call still connected when the simulation stopped"
FLAG_SCRIPT_RAISED = "scripted action raised"

EntryKind = Literal["event", "actions", "note"]
PhoneKind = Literal["answers", "no_answer", "busy", "unreachable"]


class CallNotFoundError(LookupError):
    """No call in progress has that transaction id (the API's NotFoundException)."""


@dataclass(frozen=True, slots=True)
class PhoneBehaviour:
    """What a dialled destination does when a CallAndBridge rings it.

    Build one with :meth:`answers`, :meth:`no_answer`, :meth:`busy` or :meth:`unreachable`.
    ``after_seconds`` is how long it rings (answers) or takes to fail (busy, unreachable);
    ``hangs_up_after`` is how long an answered callee talks before hanging up (None: until the
    caller ends the call).
    """

    kind: PhoneKind
    after_seconds: float = 4.0
    hangs_up_after: float | None = None
    error_type: str = ""
    error_message: str = ""

    @classmethod
    def answers(cls, after_seconds: float = 4.0, hangs_up_after: float | None = None) -> PhoneBehaviour:
        return cls("answers", after_seconds, hangs_up_after)

    @classmethod
    def no_answer(cls) -> PhoneBehaviour:
        """Rings until the CallAndBridge's CallTimeoutSeconds run out."""
        return cls("no_answer", error_type="CallNotAnswered", error_message="Call not answered")

    @classmethod
    def busy(
        cls,
        after_seconds: float = 2.0,
        error_type: str = "CallNotAnswered",
        error_message: str = "Call not answered (busy)",
    ) -> PhoneBehaviour:
        """Rejects the call at once. The ErrorType is an assumption (see the module docstring)."""
        return cls("busy", after_seconds, error_type=error_type, error_message=error_message)

    @classmethod
    def unreachable(
        cls,
        after_seconds: float = 1.0,
        error_type: str = "SystemException",
        error_message: str = "System error while running action",
    ) -> PhoneBehaviour:
        """The number cannot be reached at all. The ErrorType is an assumption."""
        return cls("unreachable", after_seconds, error_type=error_type, error_message=error_message)


@dataclass(frozen=True, slots=True)
class CallerBehaviour:
    """What the person who dialled our number does.

    ``hangs_up_after``: hang up at that simulated time (seconds from the start of the call),
    whatever is happening. ``talks_for``: once bridged, end the conversation after that long.
    """

    hangs_up_after: float | None = None
    talks_for: float = 60.0
    # When recorded (voicemail): what the caller says, and how they end it.
    message: str = ""
    message_ends: Literal["#", "silence", "hangup"] = "#"


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    """A call in progress as a scripted action sees it (:meth:`PstnSimulator.place_call` ``during``):
    the transaction id, the simulated time, and each leg as PSTN Audio lists it in Participants."""

    transaction_id: str
    at_seconds: float
    participants: tuple[Mapping[str, str], ...]

    def leg(self, tag: str) -> Mapping[str, str] | None:
        """The participant ``tag`` (``LEG-A``, ``LEG-B``), connected or not; None if never dialled."""
        return next((p for p in self.participants if p["ParticipantTag"] == tag), None)

    def bridged(self) -> Mapping[str, str] | None:
        """LEG-B while it is connected (e.g. the Connect leg: From = SMA number, To = Connect number)."""
        leg = self.leg(LEG_B)
        return leg if leg is not None and leg["Status"] == CONNECTED else None


ScriptedAction = Callable[[SimulatedCall], object]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of a transcript: an event sent, the actions returned, or a note on what happened."""

    at_ms: int
    leg: str
    kind: EntryKind
    text: str
    payload: Any = None


@dataclass(slots=True)
class CallOutcome:
    """The call in a few fields: who was reached, who ended it, what looked wrong."""

    bridged_to: str | None
    destinations_dialed: list[str]
    ended_by: str
    duration_s: float
    flags: list[str]


@dataclass(slots=True)
class CallTranscript:
    """Everything the simulator saw and did during one call."""

    transaction_id: str
    timeline: list[TimelineEntry]
    leg_statuses: dict[str, str]
    outcome: CallOutcome
    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)

    @property
    def flags(self) -> list[str]:
        return self.outcome.flags

    def event_types(self) -> list[str]:
        """The InvocationEventType of every invocation, in order (handler retries included)."""
        return [str(event["InvocationEventType"]) for event in self.events]

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["InvocationEventType"] == kind]

    def notes(self) -> list[str]:
        return [entry.text for entry in self.timeline if entry.kind == "note"]

    def render(self, *, timeline: bool = True) -> str:
        """A timeline for people: one line per event or note, one indented line per action, then
        the outcome (only the outcome when the timeline was already shown as it happened)."""
        lines: list[str] = []
        for entry in self.timeline if timeline else ():
            lines.extend(render_entry(entry))
        outcome = self.outcome
        summary = (
            f"outcome: bridged to {outcome.bridged_to or 'nobody'}, dialled "
            f"{', '.join(outcome.destinations_dialed) or 'nobody'}; ended by {outcome.ended_by} "
            f"after {outcome.duration_s:.3f}s; legs "
            + ", ".join(f"{tag} {status}" for tag, status in sorted(self.leg_statuses.items()))
        )
        lines.append(summary)
        lines.append(f"flags: {', '.join(outcome.flags) if outcome.flags else 'none'}")
        return "\n".join(lines)


def render_entry(entry: TimelineEntry) -> list[str]:
    """One timeline entry as the lines a person reads."""
    if entry.kind == "actions":
        return [f"         → {line}" for line in entry.text.splitlines()]
    return [f"{entry.at_ms / 1000:7.3f}s  {entry.leg:<5}  {entry.text}"]


class PstnSimulator:
    """Plays the PSTN Audio service's part for ``handler`` (a SIP media application Lambda handler).

    ``prompt_exists(bucket, key)`` says whether an audio file can be played (default: every file
    exists); ``prompt_seconds(bucket, key)`` how long one play of it lasts (default 3 s).
    :meth:`clock` gives the simulated time as epoch milliseconds, for handlers that take a clock.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        sip_media_application_id: str = "sma-local",
        account_id: str = "123456789012",
        region: str = "us-east-1",
        prompt_exists: PromptCheck | None = None,
        prompt_seconds: PromptLength | None = None,
        sip_rule_id: str = "sip-rule-local",
        dead_air_seconds: float = DEAD_AIR_SECONDS,
        context: Any = None,
        realtime: float | None = None,
        on_entry: Callable[[TimelineEntry], None] | None = None,
        save_recording: RecordingSink | None = None,
        recordings_writable: Callable[[str], bool] | None = None,
    ) -> None:
        self.handler = handler
        # Every recording RecordAudio made, by "bucket/key", also handed to ``save_recording``
        # (bucket, key, WAV bytes, the words the caller said) e.g. to put it in an emulated bucket.
        self.recordings: dict[str, bytes] = {}
        self.save_recording = save_recording
        self.recordings_writable = recordings_writable or (lambda _bucket: True)
        # Called with every timeline entry as it happens (a real-time call shows its timeline live).
        self.on_entry = on_entry
        # None: simulated time jumps from one occurrence to the next (a call takes milliseconds).
        # A speed (1.0 = real time) paces calls on the wall clock, so a person can act on a call in
        # progress, e.g. transfer it from Slack; an update request interrupts the wait at once.
        if realtime is not None and realtime <= 0:
            raise ValueError("realtime must be a positive speed (1.0 = real time)")
        self.realtime = realtime
        self.sip_media_application_id = sip_media_application_id
        self.account_id = account_id
        self.region = region
        self.sip_rule_id = sip_rule_id
        self.prompt_exists: PromptCheck = prompt_exists or (lambda _bucket, _key: True)
        self.prompt_seconds: PromptLength = prompt_seconds or (lambda _bucket, _key: DEFAULT_PROMPT_SECONDS)
        self.dead_air_ms = int(dead_air_seconds * 1000)
        self.context = context
        self._lock = threading.RLock()
        self._calls: dict[str, _Call] = {}
        self._current: _Call | None = None

    def place_call(
        self,
        to: str,
        from_: str,
        *,
        phones: Mapping[str, PhoneBehaviour] | None = None,
        caller: CallerBehaviour | None = None,
        updates: Sequence[tuple[float, Mapping[str, str]]] = (),
        during: Sequence[tuple[float, ScriptedAction]] = (),
        max_invocations: int = 60,
        epoch_ms: int | None = None,
    ) -> CallTranscript:
        """Simulate a call from ``from_`` to our number ``to`` until it ends; return its transcript.

        ``phones`` says how each destination behaves (others answer after 4 s and talk until the
        caller ends the call); ``updates`` are (seconds from call start, arguments) pairs delivered
        as UpdateSipMediaApplicationCall would. ``epoch_ms`` is the wall-clock time the call starts
        at (default: now), used for StartTimeInMilliseconds and :meth:`clock`.

        ``during`` are (seconds from call start, action) pairs: the call pauses at that simulated
        time (after the invocation in progress, before anything else due then) and ``action`` runs
        with a :class:`SimulatedCall`, on this thread and without the simulator's lock, so it may do what
        a Connect contact flow or a Slack user would do meanwhile — e.g. a real
        ``UpdateSipMediaApplicationCall`` whose server calls :meth:`update_call` from another
        thread. A string it returns is noted in the transcript; an exception is noted and flagged
        (:data:`FLAG_SCRIPT_RAISED`). Actions due after the call ended are noted as not run.
        """
        call = _Call(
            simulator=self,
            lock=self._lock,
            to=to,
            from_=from_,
            phones=dict(phones or {}),
            caller=caller or CallerBehaviour(),
            max_invocations=max_invocations,
            epoch_ms=int(time.time() * 1000) if epoch_ms is None else epoch_ms,
        )
        for at_seconds, arguments in updates:
            call.schedule_update(int(at_seconds * 1000), _checked_arguments(arguments))
        for at_seconds, scripted in during:
            call.schedule_script(_ms(at_seconds), scripted)
        with self._lock:
            self._calls[call.transaction_id] = call
            self._current = call
        try:
            return call.run()
        finally:
            with self._lock:
                self._calls.pop(call.transaction_id, None)
                if self._current is call:
                    self._current = None

    def update_call(self, transaction_id: str, arguments: Mapping[str, str]) -> None:
        """UpdateSipMediaApplicationCall: queue CALL_UPDATE_REQUESTED for a call in progress.

        Like the API it returns before the handler runs: the event is delivered at the call's
        current simulated time, after the invocation in progress (if any) has returned. Safe to
        call from another thread, e.g. a Chime SDK Voice emulator serving the handler's request.
        """
        checked = _checked_arguments(arguments)
        with self._lock:
            call = self._calls.get(transaction_id)
            if call is None or call.over:
                raise CallNotFoundError(f"no call in progress with transaction id {transaction_id!r}")
            call.schedule_update(None, checked)

    def on_call_update(
        self, sip_media_application_id: str, transaction_id: str, arguments: Mapping[str, str]
    ) -> None:
        """:meth:`update_call` in the shape of the Chime SDK Voice emulator's ``on_call_update``
        callback; an update for another SIP media application is not for a call of this one."""
        if sip_media_application_id != self.sip_media_application_id:
            raise CallNotFoundError(
                f"no call in progress with transaction id {transaction_id!r} "
                f"on SIP media application {sip_media_application_id}"
            )
        self.update_call(transaction_id, arguments)

    def clock(self) -> int:
        """Simulated wall-clock time (epoch ms) of the call in progress; real time between calls."""
        with self._lock:
            call = self._current
        return call.epoch_ms + call.now if call is not None else int(time.time() * 1000)


def _checked_arguments(arguments: Mapping[str, str]) -> dict[str, str]:
    """The API's own limits on Arguments (BadRequestException otherwise)."""
    if len(arguments) > MAX_UPDATE_ARGUMENTS:
        raise ValueError(f"Arguments can hold at most {MAX_UPDATE_ARGUMENTS} pairs, got {len(arguments)}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in arguments.items()):
        raise ValueError("Arguments keys and values must be strings")
    return dict(arguments)


class _Stop(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The call is over (or cannot go on): unwinds the simulation from wherever it is."""


@dataclass(slots=True)
class _Leg:
    call_id: str
    tag: str
    to: str
    from_: str
    direction: str
    start_ms: int
    status: str = CONNECTED
    phone: PhoneBehaviour | None = None  # LEG-B: how the callee behaves once answered

    @property
    def connected(self) -> bool:
        return self.status == CONNECTED


@dataclass(slots=True)
class _Occurrence:
    """Something outside the action list that happens at ``at``: a hangup or an update request."""

    at: int
    priority: int
    kind: Literal["script", "update", "callee", "caller"]
    arguments: dict[str, str] = field(default_factory=dict)
    update_id: int = 0
    script: ScriptedAction | None = None


class _Call:
    """The state and the engine of one simulated call (the simulator may run several in turn)."""

    def __init__(
        self,
        *,
        simulator: PstnSimulator,
        lock: threading.RLock,
        to: str,
        from_: str,
        phones: dict[str, PhoneBehaviour],
        caller: CallerBehaviour,
        max_invocations: int,
        epoch_ms: int,
    ) -> None:
        self.sim = simulator
        self.lock = lock
        self.to = to
        self.from_ = from_
        self.phones = phones
        self.caller = caller
        self.max_invocations = max_invocations
        self.epoch_ms = epoch_ms
        self.transaction_id = str(uuid.uuid4())
        self.now = 0
        self.sequence = 0
        self.invocations = 0
        self.attributes: dict[str, str] = {}
        self.legs: dict[str, _Leg] = {}
        self.pending: list[dict[str, Any]] = []
        self.updates: list[tuple[int, int, dict[str, str]]] = []  # (at, order, arguments)
        self.update_order = 0
        self.scripts: list[tuple[int, int, ScriptedAction]] = []  # (at, order, action), run on this thread
        self.timeline: list[TimelineEntry] = []
        self.events: list[dict[str, Any]] = []
        self.responses: list[Any] = []
        self.flags: list[str] = []
        self.destinations: list[str] = []
        self.bridged_to: str | None = None
        self.bridged_at: int | None = None
        self.teardown_cause: str | None = None  # who started ending the current conversation
        self.ended_by = ""
        self.ended_at: int | None = None
        self.silent_since: int | None = None
        self.over = False
        self.recording: _Recording | None = None

    # ----------------------------------------------------------------------------------- driving

    def run(self) -> CallTranscript:
        self.legs[LEG_A] = _Leg(str(uuid.uuid4()), LEG_A, self.to, self.from_, "Inbound", 0)
        try:
            self.replace_pending(
                self.ask("NEW_INBOUND_CALL", LEG_A, f"NEW_INBOUND_CALL {self.from_} → {self.to}")
            )
            while True:
                if self.pending:
                    self.execute(self.pending.pop(0))
                else:
                    self.idle()
        except _Stop:
            pass
        with self.lock:
            self.over = True
        for at, _, scripted in self.scripts:
            self.note(LEG_A, f"scripted {_name(scripted)} at {at / 1000:g}s not run: the call had ended")
        if any(leg.connected for leg in self.legs.values()):
            self.flag(FLAG_STILL_CONNECTED)
        return CallTranscript(
            transaction_id=self.transaction_id,
            timeline=self.timeline,
            leg_statuses={tag: leg.status for tag, leg in self.legs.items()},
            outcome=CallOutcome(
                bridged_to=self.bridged_to,
                destinations_dialed=self.destinations,
                ended_by=self.ended_by or "nobody (still connected)",
                duration_s=(self.ended_at if self.ended_at is not None else self.now) / 1000,
                flags=self.flags,
            ),
            events=self.events,
            responses=self.responses,
        )

    def schedule_update(self, at: int | None, arguments: dict[str, str]) -> None:
        with self.lock:
            self.update_order += 1
            self.updates.append((self.now if at is None else at, self.update_order, arguments))
            self.updates.sort(key=lambda item: (item[0], item[1]))

    def schedule_script(self, at: int, scripted: ScriptedAction) -> None:
        with self.lock:
            self.update_order += 1
            self.scripts.append((at, self.update_order, scripted))
        self.scripts.sort(key=lambda item: (item[0], item[1]))

    def run_script(self, occurrence: _Occurrence) -> None:
        """Pause the call and run a scripted action (no lock held: it may call :meth:`update_call`
        through another thread and wait for that thread's answer)."""
        self.scripts = [s for s in self.scripts if s[1] != occurrence.update_id]
        scripted = occurrence.script
        if scripted is None:
            return
        live = SimulatedCall(self.transaction_id, self.now / 1000, tuple(self.participants()))
        try:
            said = scripted(live)
        except Exception as error:
            self.flag(FLAG_SCRIPT_RAISED, LEG_A, f"scripted {_name(scripted)} raised {error!r}")
            return
        self.note(LEG_A, said if isinstance(said, str) and said else f"scripted {_name(scripted)} ran")

    def idle(self) -> None:
        """Nothing queued: wait for the next hangup or update; notice silence and orphaned legs."""
        leg_a, leg_b = self.legs[LEG_A], self.legs.get(LEG_B)
        if leg_a.connected and not (leg_b and leg_b.connected):
            if leg_b is not None:
                self.flag(FLAG_LEG_A_LEFT_CONNECTED, LEG_A, "LEG-B is gone and nothing hangs up LEG-A")
            if self.silent_since is None:
                self.silent_since = self.now
            deadline = self.silent_since + self.sim.dead_air_ms
            occurrence = self.next_occurrence(deadline)
            if occurrence is None:
                if not self.advance(deadline):
                    return  # an update request arrived meanwhile: it is the next occurrence
                self.now = max(self.now, deadline)
                self.flag(FLAG_DEAD_AIR, LEG_A, f"{self.sim.dead_air_ms / 1000:g}s of silence")
                self.caller_hangs_up(None, cause="dead air")
                return
        elif not leg_a.connected and leg_b is not None and leg_b.connected:
            self.flag(FLAG_LEG_B_LEFT_CONNECTED, LEG_B, "the caller is gone and LEG-B was left up")
            occurrence = self.next_occurrence(None)
            if occurrence is None:
                raise _Stop
        else:
            occurrence = self.next_occurrence(None)
            if occurrence is None:
                self.note(LEG_A, "nothing more can happen: simulation stopped")
                raise _Stop
        if not self.advance(occurrence.at):
            return
        self.now = occurrence.at
        self.handle(occurrence, None)

    def advance(self, target: int) -> bool:
        """Let simulated time reach ``target`` (at once, or paced on the wall clock with
        ``realtime``). False when an update request arrived first: time stops where it is, so the
        update happens at the moment it was made."""
        speed = self.sim.realtime
        if speed is None or target <= self.now:
            return True
        started_real, started = time.monotonic(), self.now
        while True:
            elapsed = int((time.monotonic() - started_real) * 1000 * speed)
            self.now = min(target, started + elapsed)
            if self.now >= target:
                return True
            with self.lock:  # made from another thread just now (scheduled ones wait their turn)
                if any(at <= self.now for at, _, _ in self.updates):
                    return False
            time.sleep(min(0.05, (target - self.now) / 1000 / speed))

    def next_occurrence(self, before: int | None) -> _Occurrence | None:
        """The earliest hangup or update due strictly before ``before`` (None: whenever)."""
        candidates: list[_Occurrence] = []
        if self.scripts:
            at, script_id, scripted = self.scripts[0]
            candidates.append(
                _Occurrence(max(at, self.now), -1, "script", update_id=script_id, script=scripted)
            )
        with self.lock:
            if self.updates:
                at, update_id, arguments = self.updates[0]
                candidates.append(_Occurrence(max(at, self.now), 0, "update", arguments, update_id))
        leg_a, leg_b = self.legs[LEG_A], self.legs.get(LEG_B)
        if leg_b is not None and leg_b.connected and leg_b.phone and leg_b.phone.hangs_up_after is not None:
            answered = leg_b.start_ms
            candidates.append(
                _Occurrence(max(answered + _ms(leg_b.phone.hangs_up_after), self.now), 1, "callee")
            )
        if leg_a.connected:
            times = []
            if self.caller.hangs_up_after is not None:
                times.append(_ms(self.caller.hangs_up_after))
            if leg_b is not None and leg_b.connected and self.bridged_at is not None:
                times.append(self.bridged_at + _ms(self.caller.talks_for))
            if times:
                candidates.append(_Occurrence(max(min(times), self.now), 2, "caller"))
        if not candidates:
            return None
        first = min(candidates, key=lambda c: (c.at, c.priority))
        if before is not None and first.at >= before:
            return None
        return first

    def handle(self, occurrence: _Occurrence, action: dict[str, Any] | None) -> bool:
        """Deal with ``occurrence`` while ``action`` runs; True when that action is cut short."""
        if occurrence.kind == "script":
            self.run_script(occurrence)
            return False
        if occurrence.kind == "update":
            with self.lock:  # by id: another thread may have queued an update meanwhile
                self.updates = [u for u in self.updates if u[1] != occurrence.update_id]
            return self.update_requested(occurrence.arguments, action)
        if occurrence.kind == "callee":
            return self.callee_hangs_up(action)
        self.caller_hangs_up(action, cause="caller")
        return True

    def wait(self, duration_ms: int, action: dict[str, Any]) -> bool:
        """Let ``action`` run for ``duration_ms``; False when something cut it short."""
        end = self.now + max(0, duration_ms)
        while True:
            occurrence = self.next_occurrence(end)
            if not self.advance(end if occurrence is None else occurrence.at):
                continue  # an update request arrived meanwhile: it is the next occurrence now
            if occurrence is None:
                self.now = end
                return True
            self.now = occurrence.at
            if self.handle(occurrence, action):
                return False

    # ------------------------------------------------------------------------------ invocations

    def participants(self) -> list[dict[str, str]]:
        return [
            {
                "CallId": leg.call_id,
                "ParticipantTag": leg.tag,
                "To": leg.to,
                "From": leg.from_,
                "Direction": leg.direction,
                "StartTimeInMilliseconds": str(self.epoch_ms + leg.start_ms),
                "Status": leg.status,
            }
            for leg in self.legs.values()
        ]

    def build_event(
        self, kind: str, action_data: dict[str, Any] | None, error: tuple[str, str] | None
    ) -> dict[str, Any]:
        self.sequence += 1
        event: dict[str, Any] = {
            "SchemaVersion": "1.0",
            "Sequence": self.sequence,
            "InvocationEventType": kind,
        }
        if action_data is not None:
            event["ActionData"] = copy.deepcopy(action_data)
        event["CallDetails"] = {
            "TransactionId": self.transaction_id,
            "TransactionAttributes": dict(self.attributes),
            "AwsAccountId": self.sim.account_id,
            "AwsRegion": self.sim.region,
            "SipMediaApplicationId": self.sim.sip_media_application_id,
            "SipRuleId": self.sim.sip_rule_id,
            "Participants": self.participants(),
        }
        if error is not None:  # INVALID_LAMBDA_RESPONSE: at the top level, not in ActionData
            event["ErrorType"], event["ErrorMessage"] = error
        return event

    def ask(
        self,
        kind: str,
        leg: str,
        text: str,
        action_data: dict[str, Any] | None = None,
        *,
        ignored: bool = False,
        error: tuple[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Invoke the handler with a ``kind`` event; the actions to run (rejected ones never are).

        ``ignored`` marks events whose response the service discards: it is still checked, but
        neither its actions nor its TransactionAttributes are used.
        """
        event = self.build_event(kind, action_data, error)
        self.record(TimelineEntry(self.now, leg, "event", text, event))
        response = self.invoke(event)
        errors = _errors(response)
        actions = list(response["Actions"]) if not errors else []
        self.record(
            TimelineEntry(
                self.now,
                leg,
                "actions",
                _describe_response(response, errors, ignored, {g.call_id: g.tag for g in self.legs.values()}),
                response,
            )
        )
        if errors:
            self.flag(FLAG_INVALID_RESPONSE)
            if ignored:
                return []
            if kind == "INVALID_LAMBDA_RESPONSE":
                self.note(leg, "the response to INVALID_LAMBDA_RESPONSE was rejected too")
                self.service_ends_call()
            return self.ask(
                "INVALID_LAMBDA_RESPONSE",
                leg,
                f"INVALID_LAMBDA_RESPONSE ({'; '.join(errors)})",
                error=_rejection(errors),
            )
        if ignored:
            return []
        if "TransactionAttributes" in response:
            self.attributes = dict(response["TransactionAttributes"])
        return actions

    def invoke(self, event: dict[str, Any]) -> Any:
        """Call the handler like Lambda would: JSON in, JSON out, one retry 5 s after a failure."""
        for attempt in (1, 2):
            self.invocations += 1
            if self.invocations > self.max_invocations:
                self.flag(FLAG_MAX_INVOCATIONS, LEG_A, f"more than {self.max_invocations} invocations")
                self.ended_by = self.ended_by or "simulation limit"
                raise _Stop
            self.events.append(copy.deepcopy(event))
            try:
                raw = self.sim.handler(copy.deepcopy(event), self.sim.context)
            except Exception as error:
                self.flag(FLAG_HANDLER_RAISED, LEG_A, f"handler raised {error!r}")
                self.responses.append(None)
                if attempt == 1:
                    self.now += RETRY_AFTER_MS
                    self.note(LEG_A, "PSTN Audio retries the same invocation")
                    continue
                self.note(LEG_A, "the retry failed too: PSTN Audio ends the call (SIP 480)")
                self.service_ends_call()
            self.responses.append(raw)
            try:
                return json.loads(json.dumps(raw))
            except (TypeError, ValueError) as error:
                return _Unserialisable(str(error))
        raise AssertionError("unreachable")  # pragma: no cover

    def replace_pending(self, actions: list[dict[str, Any]]) -> bool:
        """Queue a response's actions in place of what is left (assumption: empty keeps the rest)."""
        if not actions:
            return False
        self.pending = list(actions)
        return True

    # ---------------------------------------------------------------------------------- actions

    def execute(self, action: dict[str, Any]) -> None:
        self.silent_since = None
        kind = str(action.get("Type"))
        parameters: dict[str, Any] = action.get("Parameters") or {}
        if kind == "CallAndBridge":
            self.call_and_bridge(action, parameters)
            return
        if kind == "Hangup":
            self.hangup_action(action, parameters)
            return
        target = self.target(parameters)
        if target is None:
            self.fail(
                action, "InvalidActionParameter", "CallId or ParticipantTag parameter for action is invalid."
            )
            return
        if kind == "RecordAudio":
            self.record_audio(action, parameters, target)
            return
        if kind == "PlayAudio":
            source = parameters["AudioSource"]
            bucket, key = str(source["BucketName"]), str(source["Key"])
            if not self.sim.prompt_exists(bucket, key):
                self.note(target.tag, f"s3://{bucket}/{key} does not exist")
                self.fail(action, "InvalidAudioSource", "Audio Source parameter value is invalid.")
                return
            duration = _ms(self.sim.prompt_seconds(bucket, key) * int(parameters.get("Repeat", 1)))
        elif kind == "Pause":
            duration = int(str(parameters["DurationInMilliseconds"]))
        elif kind == "Speak":
            duration = _ms(len(str(parameters["Text"])) / SPEECH_CHARACTERS_PER_SECOND)
        else:
            self.note(target.tag, f"{kind} is not simulated: it succeeds at once")
            duration = 0
        if self.wait(duration, action):
            self.succeed(action)

    def target(self, parameters: Mapping[str, Any]) -> _Leg | None:
        """The connected leg an action is for: CallId first, then ParticipantTag, else LEG-A."""
        call_id, tag = parameters.get("CallId"), parameters.get("ParticipantTag")
        if call_id is not None:
            leg = next((leg for leg in self.legs.values() if leg.call_id == call_id), None)
        else:
            leg = self.legs.get(str(tag) if tag is not None else LEG_A)
        return leg if leg is not None and leg.connected else None

    def succeed(
        self,
        action: dict[str, Any],
        extra: Mapping[str, Any] | None = None,
        *,
        results: Mapping[str, Any] | None = None,
    ) -> None:
        """An action finished; the service reports success only when it was the list's last one.
        ``extra`` joins ActionData.Parameters, ``results`` ActionData itself (RecordAudio's file)."""
        if self.pending:
            return
        data = _action_data(action)
        data["Parameters"].update(extra or {})
        data.update(results or {})
        self.replace_pending(
            self.ask("ACTION_SUCCESSFUL", _leg_of(action, self), f"ACTION_SUCCESSFUL {data['Type']}", data)
        )

    def fail(self, action: dict[str, Any], error_type: str, message: str) -> None:
        """An action failed: the rest of its list is dropped and the handler is told."""
        self.pending = []
        data = _action_data(action)
        data["ErrorType"], data["ErrorMessage"] = error_type, message
        self.replace_pending(
            self.ask(
                "ACTION_FAILED", _leg_of(action, self), f"ACTION_FAILED {data['Type']} ({error_type})", data
            )
        )

    def call_and_bridge(self, action: dict[str, Any], parameters: dict[str, Any]) -> None:
        leg_b = self.legs.get(LEG_B)
        if leg_b is not None and leg_b.connected:
            self.fail(action, "InvalidActionParameter", "LEG-B is already bridged")
            return
        ringback = parameters.get("RingbackTone")
        if isinstance(ringback, Mapping) and not self.sim.prompt_exists(
            str(ringback["BucketName"]), str(ringback["Key"])
        ):
            self.note(LEG_A, f"ringback s3://{ringback['BucketName']}/{ringback['Key']} does not exist")
            self.fail(action, "InvalidAudioSource", "Audio Source parameter value is invalid.")
            return
        uri = str(parameters["Endpoints"][0]["Uri"])
        timeout = _ms(float(parameters.get("CallTimeoutSeconds", 30)))
        phone = self.phones.get(uri, PhoneBehaviour.answers())
        self.destinations.append(uri)
        self.teardown_cause = None
        caller_id = str(parameters["CallerIdNumber"])
        self.note(LEG_B, f"dialling {uri} (caller ID {caller_id})")
        if phone.kind in ("answers", "no_answer"):
            answered = phone.kind == "answers" and _ms(phone.after_seconds) < timeout
            ring_ms = _ms(phone.after_seconds) if answered else timeout
            self.ask("RINGING", LEG_B, f"RINGING {uri}", ignored=True)
        else:
            answered, ring_ms = False, min(_ms(phone.after_seconds), timeout)
        if not self.wait(ring_ms, action):
            return
        if not answered:
            what = {"busy": "busy", "unreachable": "unreachable"}.get(phone.kind, "no answer")
            self.note(LEG_B, f"{what} after {ring_ms / 1000:g}s")
            self.fail(
                action, phone.error_type or "CallNotAnswered", phone.error_message or "Call not answered"
            )
            return
        self.legs[LEG_B] = _Leg(str(uuid.uuid4()), LEG_B, uri, caller_id, "Outbound", self.now, phone=phone)
        self.bridged_to, self.bridged_at = uri, self.now
        self.note(LEG_B, "answered")
        self.succeed(action, {"CallId": self.legs[LEG_A].call_id})

    def record_audio(self, action: dict[str, Any], parameters: dict[str, Any], target: _Leg) -> None:
        """Record the caller's scripted message (see the module docstring for the model)."""
        destination = parameters.get("RecordingDestination")
        bucket = str(destination.get("BucketName") or "") if isinstance(destination, Mapping) else ""
        if not bucket or not self.sim.recordings_writable(bucket):
            self.note(target.tag, f"recordings bucket {bucket or '(none)'} cannot be written")
            self.fail(action, "InvalidActionParameter", "RecordingDestination parameter value is invalid.")
            return
        assert isinstance(destination, Mapping)
        max_ms = _ms(float(parameters.get("DurationInSeconds") or UNBOUNDED_RECORDING_SECONDS))
        silence = parameters.get("SilenceDurationInSeconds")
        terminators = [str(t) for t in parameters.get("RecordingTerminators") or []]
        said = self.caller.message.strip()
        speech_ms = _ms(len(said) / SPEECH_CHARACTERS_PER_SECOND)
        ends = self.caller.message_ends
        if ends == "#" and "#" in terminators:
            end_ms = speech_ms + KEY_PRESS_MS
        elif ends == "hangup":
            end_ms = speech_ms
        else:  # silent, or a key that stops nothing: the recording runs until silence or the end
            end_ms = speech_ms + _ms(float(silence)) if silence is not None else max_ms
        cut_short = end_ms >= max_ms
        self.recording = _Recording(self.now, bucket, str(destination.get("Prefix") or ""), said, speech_ms)
        self.note(
            target.tag, f'recording: the caller says "{said}"' if said else "recording: the caller is silent"
        )
        if not self.wait(min(end_ms, max_ms), action):
            return  # the caller hung up (the partial file went with the HANGUP) or an update came
        if ends == "hangup" and not cut_short:
            self.caller_hangs_up(action, cause="caller")
            return
        results: dict[str, Any] = {"RecordingDestination": self.finish_recording()}
        if ends == "#" and "#" in terminators and not cut_short:
            self.note(target.tag, "caller pressed #")
            results["RecordingTerminatorUsed"] = "#"
        else:
            self.note(target.tag, "recording stopped: " + ("maximum length" if cut_short else "silence"))
        self.succeed(action, results=results)

    def finish_recording(self) -> dict[str, str] | None:
        """Write what was recorded so far (nothing when no time passed); its RecordingDestination."""
        recording, self.recording = self.recording, None
        if recording is None or self.now <= recording.started:
            return None
        recorded_ms = self.now - recording.started
        spoken_ms = min(recording.speech_ms, recorded_ms)
        words = recording.said[: int(spoken_ms / 1000 * SPEECH_CHARACTERS_PER_SECOND)]
        audio = caller_recording(recording.said, spoken_ms / 1000, recorded_ms / 1000)
        key = f"{recording.prefix}{uuid.uuid4()}.wav"
        self.sim.recordings[f"{recording.bucket}/{key}"] = audio
        if self.sim.save_recording is not None:
            self.sim.save_recording(recording.bucket, key, audio, words)
        self.note(LEG_A, f"recording s3://{recording.bucket}/{key} ({recorded_ms / 1000:g}s) written")
        return {"Type": "S3", "BucketName": recording.bucket, "Key": key}

    def hangup_action(self, action: dict[str, Any], parameters: dict[str, Any]) -> None:
        leg = self.target(parameters)
        if leg is None:
            self.fail(
                action, "InvalidActionParameter", "CallId or ParticipantTag parameter for action is invalid."
            )
            return
        code = str(parameters.get("SipResponseCode", "0"))
        self.disconnect(leg, "app", _hangup_data(leg, code), f"hung up by the app (SIP {code})")

    # -------------------------------------------------------------------------------- hangups

    def disconnect(self, leg: _Leg, cause: str, action_data: dict[str, Any], why: str) -> None:
        """``leg`` is gone: tell the handler (HANGUP) and run its answer while a leg remains."""
        leg.status = DISCONNECTED
        self.note(leg.tag, why)
        if self.teardown_cause is None:
            self.teardown_cause = cause
        if leg.tag == LEG_A:
            self.ended_by, self.ended_at = self.teardown_cause, self.now
        remaining = any(other.connected for other in self.legs.values())
        actions = self.ask(
            "HANGUP", leg.tag, f"HANGUP ({leg.tag} Disconnected)", action_data, ignored=not remaining
        )
        if not remaining:
            raise _Stop
        self.replace_pending(actions)

    def caller_hangs_up(self, action: dict[str, Any] | None, cause: str) -> None:
        """The caller hangs up whatever is going on: queued actions are cancelled."""
        self.pending = []
        leg_a = self.legs[LEG_A]
        if action is not None and action.get("Type") == "CallAndBridge":
            self.note(LEG_B, f"{action['Parameters']['Endpoints'][0]['Uri']} stops ringing (cancelled)")
        data = _action_data(action) if action is not None else _hangup_data(leg_a, "0")
        if action is not None and action.get("Type") == "RecordAudio":
            written = self.finish_recording()
            if written is not None:
                data["RecordingDestination"] = written
        self.disconnect(leg_a, cause, data, "caller hung up" if cause == "caller" else "caller gave up")

    def callee_hangs_up(self, action: dict[str, Any] | None) -> bool:
        """The bridged callee hangs up; an action on LEG-A goes on, one on LEG-B is cut short."""
        leg_b = self.legs[LEG_B]
        on_b = action is not None and self.target(action.get("Parameters") or {}) is leg_b
        data = _action_data(action) if action is not None and on_b else _hangup_data(leg_b, "0")
        talk = (self.now - leg_b.start_ms) / 1000
        self.disconnect(leg_b, "callee", data, f"callee hung up after {talk:g}s of talk")
        return on_b

    def update_requested(self, arguments: dict[str, str], action: dict[str, Any] | None) -> bool:
        """CALL_UPDATE_REQUESTED: new actions replace the queue and interrupt what can be."""
        data = {"Type": "CallUpdateRequest", "Parameters": {"Arguments": dict(arguments)}}
        actions = self.ask(
            "CALL_UPDATE_REQUESTED",
            LEG_A,
            _update_text(arguments),
            data,
        )
        if not self.replace_pending(actions):
            return False
        if action is not None and action.get("Type") in INTERRUPTIBLE_ACTIONS:
            self.recording = None  # an interrupted recording is not kept
            self.ask(
                "ACTION_INTERRUPTED", _leg_of(action, self), f"ACTION_INTERRUPTED {action.get('Type')}",
                _action_data(action), ignored=True,
            )  # fmt: skip
            return True
        return False

    def service_ends_call(self) -> NoReturn:
        """PSTN Audio gives up on the call (SIP 480) without invoking the handler again."""
        for leg in self.legs.values():
            if leg.connected:
                leg.status = DISCONNECTED
                self.note(leg.tag, "disconnected by PSTN Audio (SIP 480)")
        if not self.ended_by:
            self.ended_by, self.ended_at = "service", self.now
        raise _Stop

    # ------------------------------------------------------------------------------- records

    def note(self, leg: str, text: str) -> None:
        self.record(TimelineEntry(self.now, leg, "note", text))

    def record(self, entry: TimelineEntry) -> None:
        self.timeline.append(entry)
        if self.sim.on_entry is not None:
            self.sim.on_entry(entry)

    def flag(self, flag: str, leg: str | None = None, detail: str | None = None) -> None:
        if flag not in self.flags:
            self.flags.append(flag)
        if leg is not None:
            self.note(leg, f"{detail} (flag: {flag})" if detail else f"flag: {flag}")


@dataclass(frozen=True, slots=True)
class _Recording:
    """A RecordAudio in progress: since when, where its file goes, what the caller says."""

    started: int
    bucket: str
    prefix: str
    said: str
    speech_ms: int


class _Unserialisable:
    """A handler response that is not JSON (Lambda would fail to return it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _errors(response: Any) -> list[str]:
    if isinstance(response, _Unserialisable):
        return [f"the response is not JSON: {response.reason}"]
    return response_errors(response)


def _rejection(errors: Iterable[str]) -> tuple[str, str]:
    """INVALID_LAMBDA_RESPONSE's ErrorType and ErrorMessage for ``errors``."""
    errors = list(errors)
    if any(e.startswith(f"at most {MAX_ATTRIBUTES} TransactionAttributes") for e in errors):
        return "TransactionAttributesInvalidMapSize", "; ".join(errors)
    return "InvalidActionParameter", "; ".join(errors)


def _name(scripted: ScriptedAction) -> str:
    return str(getattr(scripted, "__name__", None) or type(scripted).__name__)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _action_data(action: Mapping[str, Any]) -> dict[str, Any]:
    return {"Type": action.get("Type"), "Parameters": copy.deepcopy(dict(action.get("Parameters") or {}))}


def _hangup_data(leg: _Leg, code: str) -> dict[str, Any]:
    return {
        "Type": "Hangup",
        "Parameters": {"SipResponseCode": code, "CallId": leg.call_id, "ParticipantTag": leg.tag},
    }


def _leg_of(action: Mapping[str, Any], call: _Call) -> str:
    """The leg label a transcript line about ``action`` goes under."""
    parameters = action.get("Parameters") or {}
    call_id, tag = parameters.get("CallId"), parameters.get("ParticipantTag")
    if action.get("Type") != "CallAndBridge" and call_id is not None:
        for leg in call.legs.values():
            if leg.call_id == call_id:
                return leg.tag
    return str(tag) if tag in (LEG_A, LEG_B) else LEG_A


def _describe_response(response: Any, errors: list[str], ignored: bool, tags: Mapping[str, str]) -> str:
    if errors:
        return "rejected: " + "; ".join(errors) + (" (ignored by PSTN Audio anyway)" if ignored else "")
    lines = [_describe(action, tags) for action in response["Actions"]] or ["(no actions)"]
    if ignored:
        return "; ".join(lines) + " (response ignored by PSTN Audio)"
    return "\n".join(lines)


def _describe(action: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    """One readable line per action, e.g. ``CallAndBridge +1206... (ringback greeting.wav, timeout 30s)``.

    ``tags`` maps CallIds to leg tags, so an action addressed by CallId still reads ``on LEG-A``.
    """
    kind = str(action.get("Type"))
    p: Mapping[str, Any] = action.get("Parameters") or {}
    call_id = p.get("CallId")
    where = (
        str(tags.get(str(call_id), f"CallId {call_id}")) if call_id is not None else p.get("ParticipantTag")
    )
    where = where or ""
    if kind == "CallAndBridge":
        details = []
        ringback = p.get("RingbackTone")
        if isinstance(ringback, Mapping):
            details.append(f"ringback {str(ringback.get('Key', '')).rsplit('/', 1)[-1]}")
        details.append(f"timeout {p.get('CallTimeoutSeconds', 30)}s")
        return f"CallAndBridge {p['Endpoints'][0].get('Uri')} ({', '.join(details)})"
    if kind == "PlayAudio":
        key = str(p["AudioSource"].get("Key", "")).rsplit("/", 1)[-1]
        return f"PlayAudio {key}" + (f" on {where}" if where else "")
    if kind == "Hangup":
        return f"Hangup {where or LEG_A} (SIP {p.get('SipResponseCode', '0')})"
    if kind == "Pause":
        return f"Pause {p.get('DurationInMilliseconds')} ms"
    if kind == "RecordAudio":
        silence = p.get("SilenceDurationInSeconds")
        stops = [
            *(str(t) for t in p.get("RecordingTerminators") or []),
            *([f"{silence}s silence"] if silence else []),
        ]
        longest = p.get("DurationInSeconds", "?")
        return f"RecordAudio {where or LEG_A} (up to {longest}s, stops on {' or '.join(stops) or 'nothing'})"
    if kind == "Speak":
        text = str(p.get("Text", ""))
        return f'Speak "{text[:40]}{"…" if len(text) > 40 else ""}"'
    return kind


def _update_text(arguments: Mapping[str, str]) -> str:
    """The update's arguments as the timeline says them (``Transfer true, TransferTarget +1…``)."""
    return "CALL_UPDATE_REQUESTED " + ", ".join(f"{key} {value}" for key, value in arguments.items())
