"""switchboard.domain.callflow: the voicemail decisions once every destination has failed."""

from __future__ import annotations

from typing import Any

import pytest

from switchboard import callstate
from switchboard.domain import callflow
from switchboard.domain.callflow import (
    CallState,
    HangUp,
    HangupCause,
    Leg,
    Phase,
    Plan,
    PlayPrompt,
    Prompt,
    RecordMessage,
)
from switchboard.domain.events import EventType, Outcome, RecordingEnd
from switchboard.domain.rules import FailureAction, ForwardRule, RuleError

OURS = "+12025550100"
CALLER = "+13035550123"
FIRST = "+12065550111"
SECOND = "+13125550122"
T0 = 1_700_000_000_000
PREFIX = "voicemail/2023-11-14/tx-1/"


def voicemail_rule(**fields: Any) -> ForwardRule:
    return ForwardRule(number=OURS, destinations=(FIRST, SECOND), failure=FailureAction.VOICEMAIL, **fields)


def state_of(plan: Plan) -> CallState:
    assert plan.state is not None
    return plan.state


def nobody_answered(rule: ForwardRule | None = None, *, can_record: bool = True) -> Plan:
    """Start the call and let both destinations ring out (30 s each)."""
    state = state_of(callflow.start(rule or voicemail_rule(), OURS, CALLER, T0, can_record=can_record))
    state = state_of(callflow.on_bridge_failed(state, "CallNotAnswered", T0 + 30_000))
    return callflow.on_bridge_failed(state, "CallNotAnswered", T0 + 60_000)


def recording(rule: ForwardRule | None = None) -> CallState:
    greeting = state_of(nobody_answered(rule))
    return state_of(callflow.on_prompt_played(greeting, T0 + 65_000, recording_prefix=PREFIX))


def test_when_nobody_answers_the_caller_hears_the_voicemail_greeting_and_nothing_is_recorded_yet() -> None:
    plan = nobody_answered()

    assert plan.steps == (PlayPrompt(Prompt.VOICEMAIL),)
    assert state_of(plan).phase is Phase.VOICEMAIL_GREETING
    assert plan.record is None  # the call's one write waits for the message


def test_after_the_greeting_the_caller_is_recorded_up_to_the_rules_length() -> None:
    greeting = state_of(nobody_answered(voicemail_rule(voicemail_max_seconds=45)))

    plan = callflow.on_prompt_played(greeting, T0 + 65_000, recording_prefix=PREFIX)

    assert plan.steps == (RecordMessage(prefix=PREFIX, max_seconds=45),)
    assert plan.steps[0].terminator == "#"  # type: ignore[union-attr]
    assert state_of(plan).phase is Phase.RECORDING
    assert plan.record is None


@pytest.mark.parametrize(
    ("terminator", "ended_at", "ended_by"),
    [
        ("#", T0 + 80_000, RecordingEnd.TERMINATOR),
        ("", T0 + 80_000, RecordingEnd.SILENCE),
        ("", T0 + 65_000 + 120_000, RecordingEnd.MAX_LENGTH),
    ],
)
def test_a_finished_message_is_thanked_hung_up_and_stored_with_its_event_in_one_record(
    terminator: str, ended_at: int, ended_by: RecordingEnd
) -> None:
    plan = callflow.on_recording_ended(
        recording(),
        ended_at,
        key=f"{PREFIX}abc.wav",
        bucket="recordings",
        terminator=terminator,
        caller_gone=False,
    )

    assert plan.steps == (PlayPrompt(Prompt.THANK_YOU), HangUp(Leg.CALLER, HangupCause.NORMAL))
    assert plan.record is not None
    assert plan.record.outcome is Outcome.NO_ANSWER
    message = plan.record.voicemail
    assert message is not None
    assert (message.key, message.bucket, message.prefix) == (f"{PREFIX}abc.wav", "recordings", PREFIX)
    assert message.ended_by is ended_by
    assert message.duration_s == (ended_at - T0 - 65_000) // 1000
    kinds = [event.type for event in plan.record.events()]
    assert kinds == [EventType.BRIDGE_FAILED, EventType.VOICEMAIL]
    assert plan.record.events()[1].voicemail == message


def test_a_caller_who_hangs_up_mid_message_still_leaves_what_they_said() -> None:
    plan = callflow.on_leg_ended(recording(), Leg.CALLER, False, T0 + 72_500)

    assert plan.steps == ()
    assert plan.record is not None
    message = plan.record.voicemail
    assert message is not None
    assert message.ended_by is RecordingEnd.HANGUP
    assert message.duration_s == 7
    assert message.key == ""  # only the prefix is known: the service reported no file
    assert state_of(plan).phase is Phase.ENDED


def test_the_recording_result_after_a_hangup_is_not_a_second_record() -> None:
    hung_up = callflow.on_leg_ended(recording(), Leg.CALLER, False, T0 + 72_500)

    late = callflow.on_recording_ended(state_of(hung_up), T0 + 73_000, key="k", caller_gone=True)

    assert late.record is None
    assert late.steps == ()


def test_the_recording_result_reported_as_the_caller_hangs_up_carries_the_key_and_no_prompt() -> None:
    plan = callflow.on_recording_ended(
        recording(), T0 + 70_000, key=f"{PREFIX}x.wav", bucket="b", caller_gone=True
    )
    hangup = callflow.on_leg_ended(state_of(plan), Leg.CALLER, False, T0 + 70_100)

    assert plan.steps == ()
    assert plan.record is not None
    assert plan.record.voicemail is not None
    assert plan.record.voicemail.key == f"{PREFIX}x.wav"
    assert plan.record.voicemail.ended_by is RecordingEnd.HANGUP
    assert hangup.record is None


def test_less_than_a_second_of_recording_is_no_message() -> None:
    plan = callflow.on_leg_ended(recording(), Leg.CALLER, False, T0 + 65_400)

    assert plan.record is not None
    assert plan.record.voicemail is None
    assert [event.type for event in plan.record.events()] == [EventType.BRIDGE_FAILED]


def test_hanging_up_during_the_greeting_records_nothing_and_stores_the_failed_call() -> None:
    greeting = state_of(nobody_answered())

    plan = callflow.on_leg_ended(greeting, Leg.CALLER, False, T0 + 62_000)

    assert plan.steps == ()
    assert plan.record is not None
    assert plan.record.outcome is Outcome.NO_ANSWER
    assert plan.record.voicemail is None
    assert [event.type for event in plan.record.events()] == [EventType.BRIDGE_FAILED]


def test_a_greeting_that_cannot_be_played_means_no_recording_the_caller_was_not_warned() -> None:
    greeting = state_of(nobody_answered())

    plan = callflow.on_prompt_failed(greeting, T0 + 61_000)

    assert plan.steps == (PlayPrompt(Prompt.FAILURE), HangUp(Leg.CALLER, HangupCause.UNAVAILABLE))
    assert not any(isinstance(step, RecordMessage) for step in plan.steps)
    assert plan.record is not None
    assert plan.record.voicemail is None


def test_a_failed_recording_plays_the_failure_prompt_and_stores_the_call_without_a_message() -> None:
    plan = callflow.on_recording_failed(recording(), T0 + 66_000)

    assert plan.steps == (PlayPrompt(Prompt.FAILURE), HangUp(Leg.CALLER, HangupCause.UNAVAILABLE))
    assert plan.record is not None
    assert plan.record.voicemail is None
    assert state_of(plan).phase is Phase.ENDING


def test_a_backend_that_cannot_record_plays_the_failure_prompt_instead() -> None:
    plan = nobody_answered(can_record=False)

    assert plan.steps == (PlayPrompt(Prompt.FAILURE), HangUp(Leg.CALLER, HangupCause.UNAVAILABLE))
    assert plan.record is not None


def test_a_destination_that_answers_means_no_voicemail() -> None:
    state = state_of(callflow.start(voicemail_rule(), OURS, CALLER, T0, can_record=True))
    state = state_of(callflow.on_bridge_failed(state, "CallNotAnswered", T0 + 30_000))

    plan = callflow.on_bridge_answered(state, T0 + 35_000)

    assert state_of(plan).phase is Phase.BRIDGED
    assert not plan.steps


def test_the_played_event_outside_the_voicemail_greeting_changes_nothing() -> None:
    state = state_of(callflow.start(voicemail_rule(), OURS, CALLER, T0, can_record=True))

    plan = callflow.on_prompt_played(state, T0 + 1_000, recording_prefix=PREFIX)

    assert plan == Plan((), state)


def test_the_recording_state_survives_the_transaction_attributes() -> None:
    state = recording(voicemail_rule(voicemail_max_seconds=300))

    assert callstate.load(callstate.dump(state)) == state


@pytest.mark.parametrize("seconds", [9, 301, 0])
def test_voicemail_length_is_bounded(seconds: int) -> None:
    with pytest.raises(RuleError, match="voicemail length"):
        voicemail_rule(voicemail_max_seconds=seconds)


def test_a_recording_that_silence_ended_with_no_more_than_the_silence_is_no_message() -> None:
    plan = callflow.on_recording_ended(recording(), T0 + 65_000 + 5_800, key="k", caller_gone=False)

    assert plan.record is not None
    assert plan.record.voicemail is None
    assert plan.steps == (PlayPrompt(Prompt.THANK_YOU), HangUp(Leg.CALLER, HangupCause.NORMAL))
