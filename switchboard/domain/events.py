"""Call records, call events and live calls: what happened to a call, for people and for alerts.

A :class:`CallRecord` is written once per call; a :class:`LiveCall` says a call is bridged now.
When any destination could not be reached the record also yields a :class:`CallEvent` of type
``bridge_failed``, and a call whose caller left a message a ``voicemail`` event beside it; the
table's stream carries those events to the notifier, which turns them into Slack alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """How a forwarded call ended."""

    BRIDGED = "bridged"  # a destination answered and the parties talked
    NO_ANSWER = "no-answer"  # every destination rang out
    ALL_FAILED = "all-failed"  # every destination failed, not only by ringing out (busy, invalid...)
    NOT_IN_SERVICE = "not-in-service"  # no active forward for the dialed number
    ABANDONED = "abandoned"  # the caller hung up before a destination answered
    ERROR = "error"  # our side failed; the caller heard the error prompt
    TRANSFERRED = "transferred"  # taken back from the first callee and bridged to a transfer target
    TRANSFER_FAILED = "transfer-failed"  # the transfer target was not reached
    POOL_EXHAUSTED = "pool-exhausted"  # no free DNIS pair to reach Amazon Connect


class AttemptResult(StrEnum):
    """Results of one bridge attempt that are ours; anything else is a PSTN Audio ErrorType."""

    ANSWERED = "answered"
    NOT_ANSWERED = "CallNotAnswered"
    ABANDONED = "abandoned"  # caller hung up while it rang


class EventType(StrEnum):
    BRIDGE_FAILED = "bridge_failed"
    TRANSFER_FAILED = "transfer_failed"
    POOL_EXHAUSTED = "pool_exhausted"
    VOICEMAIL = "voicemail"  # the caller left a message; it is in the recordings bucket


class RecordingEnd(StrEnum):
    """What ended a voicemail recording."""

    TERMINATOR = "#"  # the caller pressed the recording terminator
    SILENCE = "silence"
    MAX_LENGTH = "max"
    HANGUP = "hangup"  # the caller hung up mid-message: what was recorded is still delivered


@dataclass(frozen=True, slots=True)
class Voicemail:
    """A message a caller left, as the call side knows it.

    PSTN Audio names the recording itself under the ``prefix`` we give it and reports the ``key``
    when the recording ends; when the caller hangs up only the HANGUP event may arrive, so ``key``
    is empty and the (one) object under ``prefix`` is the message. ``bucket`` is filled in by the
    backend that knows it. ``duration_s`` is measured by us: the service reports no length.
    """

    prefix: str
    key: str
    duration_s: int
    ended_by: RecordingEnd
    max_seconds: int
    bucket: str = ""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at one destination: ``result`` is ``answered``, ``abandoned`` or the ErrorType."""

    destination: str
    result: str
    ring_ms: int

    @property
    def failed(self) -> bool:
        return self.result not in (AttemptResult.ANSWERED, AttemptResult.ABANDONED)


@dataclass(frozen=True, slots=True)
class CallRecord:
    dialed: str
    caller: str
    outcome: Outcome
    attempts: tuple[Attempt, ...]
    started_ms: int
    ended_ms: int
    talk_ms: int = 0
    transfer_target: str = ""
    # The call was bridged at some point, so a :class:`LiveCall` entry exists and ends with it.
    was_live: bool = False
    voicemail: Voicemail | None = None  # the message the caller left once nobody answered

    @property
    def duration_ms(self) -> int:
        return max(0, self.ended_ms - self.started_ms)

    @property
    def destinations_tried(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.destination for a in self.attempts))

    def events(self) -> tuple[CallEvent, ...]:
        """Alerts this call deserves: ``pool_exhausted``, ``transfer_failed``, or one
        ``bridge_failed`` summarising every failed attempt."""
        if self.outcome in (Outcome.POOL_EXHAUSTED, Outcome.TRANSFER_FAILED):
            kind = (
                EventType.POOL_EXHAUSTED
                if self.outcome is Outcome.POOL_EXHAUSTED
                else EventType.TRANSFER_FAILED
            )
            return (
                CallEvent(
                    type=kind,
                    dialed=self.dialed,
                    caller=self.caller,
                    at_ms=self.ended_ms,
                    attempts=self.attempts,
                    all_failed=True,
                    transfer_target=self.transfer_target,
                ),
            )
        failed = tuple(a for a in self.attempts if a.failed)
        if not failed:
            return ()
        all_failed = self.outcome in (Outcome.NO_ANSWER, Outcome.ALL_FAILED)
        bridge_failed = CallEvent(
            type=EventType.BRIDGE_FAILED,
            dialed=self.dialed,
            caller=self.caller,
            at_ms=self.ended_ms,
            attempts=self.attempts,
            all_failed=all_failed,
        )
        if self.voicemail is None:
            return (bridge_failed,)
        # Same write, same partition key: the notifier gets both in one stream batch, in order.
        left_message = CallEvent(
            type=EventType.VOICEMAIL,
            dialed=self.dialed,
            caller=self.caller,
            at_ms=self.ended_ms,
            attempts=self.attempts,
            all_failed=all_failed,
            voicemail=self.voicemail,
        )
        return (bridge_failed, left_message)


# The value of ``backend`` on the items of calls to Amazon Connect numbers (records, live entries).
CONNECT_BACKEND = "connect"


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A call that is bridged right now: what Slack shows so someone can take it over.

    ``callee`` is who the caller talks to (a forward destination, the Amazon Connect number of the
    call's DNIS pair, or a transfer target); ``since_ms`` when that bridge was answered.
    """

    dialed: str
    caller: str
    callee: str
    since_ms: int
    started_ms: int
    via_connect: bool = False
    transferred: bool = False


@dataclass(frozen=True, slots=True)
class LiveCallEntry:
    """A :class:`LiveCall` as stored, with the transaction id that addresses the call.

    ``backend`` is :data:`CONNECT_BACKEND` for a call on an Amazon Connect number (its
    transaction id is the contact id), empty for the SIP media application. A Connect call is
    listed from its dial, because a contact flow cannot see the answer: until ``ring_until_ms``
    (the end of the dial's ring timeout) the callee may still be ringing.
    """

    transaction_id: str
    call: LiveCall
    backend: str = ""
    ring_until_ms: int = 0

    @property
    def on_connect(self) -> bool:
        return self.backend == CONNECT_BACKEND

    def may_be_ringing(self, now_ms: int) -> bool:
        """Whether the callee may not have answered yet (only ever true for Amazon Connect)."""
        return self.on_connect and now_ms < self.ring_until_ms


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something about a call that people should hear about.

    ``all_failed`` distinguishes "nobody could be reached" (the caller got the failure action) from
    "the first destination failed but follow-me reached another one".
    """

    type: EventType
    dialed: str
    caller: str
    at_ms: int
    attempts: tuple[Attempt, ...] = ()
    all_failed: bool = False
    transfer_target: str = ""
    voicemail: Voicemail | None = None  # set on ``voicemail`` events
