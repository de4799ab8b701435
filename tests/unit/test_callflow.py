"""switchboard.domain.callflow: the forwarding decisions, event by event, and their invariants."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.domain import callflow
from switchboard.domain.callflow import (
    Bridge,
    CallState,
    HangUp,
    HangupCause,
    Leg,
    Phase,
    Plan,
    PlayPrompt,
    Prompt,
)
from switchboard.domain.events import Attempt, AttemptResult, LiveCall, Outcome
from switchboard.domain.hours import parse_hours
from switchboard.domain.rules import CONNECT, CallerIdMode, FailureAction, ForwardRule, GreetingMode

OURS = "+12025550100"
CALLER = "+13035550123"
FIRST = "+12065550111"
SECOND = "+13125550122"
THIRD = "+14155550133"
T0 = 1_700_000_000_000

UNAVAILABLE_HANGUP = HangUp(Leg.CALLER, HangupCause.UNAVAILABLE)


def rule(destinations: tuple[str, ...] = (FIRST, SECOND), **fields: Any) -> ForwardRule:
    return ForwardRule(number=OURS, destinations=destinations, **fields)


def ringing(destinations: tuple[str, ...] = (FIRST, SECOND), **fields: Any) -> CallState:
    plan = callflow.start(rule(destinations, **fields), OURS, CALLER, T0)
    assert plan.state is not None
    return plan.state


def bridged(at: int = T0 + 5_000) -> CallState:
    state = callflow.on_bridge_answered(ringing(), at).state
    assert state is not None
    return state


def bridges(plan: Plan) -> list[Bridge]:
    return [step for step in plan.steps if isinstance(step, Bridge)]


def state_of(plan: Plan) -> CallState:
    assert plan.state is not None
    return plan.state


# --- start ---------------------------------------------------------------------------------------


def test_no_rule_is_not_in_service_and_recorded_at_once() -> None:
    plan = callflow.start(None, OURS, CALLER, T0)
    assert plan.steps == (PlayPrompt(Prompt.NOT_IN_SERVICE, Leg.CALLER), UNAVAILABLE_HANGUP)
    assert plan.record is not None
    assert plan.record.outcome is Outcome.NOT_IN_SERVICE
    assert (plan.record.dialed, plan.record.caller) == (OURS, CALLER)
    assert plan.record.attempts == ()
    assert plan.record.started_ms == plan.record.ended_ms == T0
    assert state_of(plan).phase is Phase.ENDING
    assert state_of(plan).recorded


@pytest.mark.parametrize(
    ("expires_at", "forwards"),
    [
        (T0 // 1000 - 60, False),
        (T0 // 1000, False),  # expiry is exclusive: at expires_at the rule is already inactive
        (T0 // 1000 + 1, True),
        (None, True),
    ],
)
def test_expired_rule_is_not_in_service(expires_at: int | None, forwards: bool) -> None:
    plan = callflow.start(rule(expires_at=expires_at), OURS, CALLER, T0)
    assert (plan.record is None) is forwards
    assert bool(bridges(plan)) is forwards


def test_loop_greeting_bridges_first_destination_with_greeting_as_ringback() -> None:
    plan = callflow.start(rule(ring_timeout=25), OURS, CALLER, T0)
    assert plan.steps == (Bridge(FIRST, OURS, 25, Prompt.GREETING),)
    assert plan.record is None
    state = state_of(plan)
    assert state.phase is Phase.RINGING
    assert (state.index, state.started_ms, state.attempt_started_ms) == (0, T0, T0)
    assert not state.recorded


def test_once_greeting_plays_it_then_bridges_without_ringback() -> None:
    plan = callflow.start(rule(greeting=GreetingMode.ONCE), OURS, CALLER, T0)
    assert plan.steps == (PlayPrompt(Prompt.GREETING, Leg.CALLER), Bridge(FIRST, OURS, 30, None))
    assert state_of(plan).phase is Phase.GREETING


def test_no_greeting_bridges_without_ringback() -> None:
    plan = callflow.start(rule(greeting=GreetingMode.NONE), OURS, CALLER, T0)
    assert plan.steps == (Bridge(FIRST, OURS, 30, None),)
    assert state_of(plan).phase is Phase.RINGING


@pytest.mark.parametrize(
    ("mode", "caller", "expected"),
    [
        (CallerIdMode.CALLER, CALLER, CALLER),
        (CallerIdMode.CALLER, "anonymous", OURS),
        (CallerIdMode.CALLER, "", OURS),
        (CallerIdMode.CALLER, "+0123", OURS),
        (CallerIdMode.CALLER, "3035550123", OURS),
        (CallerIdMode.CALLER, CALLER + "\n", OURS),
        (CallerIdMode.DIALED, CALLER, OURS),
    ],
)
def test_caller_id_shows_the_caller_only_when_asked_and_usable(
    mode: CallerIdMode, caller: str, expected: str
) -> None:
    plan = callflow.start(rule(caller_id=mode), OURS, caller, T0)
    assert bridges(plan)[0].caller_id == expected
    assert state_of(plan).caller == caller  # the record still shows who really called


# --- answered ------------------------------------------------------------------------------------


def test_answer_bridges_the_call_without_steps_or_record() -> None:
    plan = callflow.on_bridge_answered(ringing(), T0 + 4_000)
    assert plan.steps == ()
    assert plan.record is None
    state = state_of(plan)
    assert state.phase is Phase.BRIDGED
    assert state.bridged_ms == T0 + 4_000
    assert state.attempts == (Attempt(FIRST, AttemptResult.ANSWERED, 4_000),)


def test_answer_during_once_greeting_bridges_too() -> None:
    state = ringing(greeting=GreetingMode.ONCE)
    assert state.phase is Phase.GREETING
    assert state_of(callflow.on_bridge_answered(state, T0 + 1)).phase is Phase.BRIDGED


@pytest.mark.parametrize("phase", [Phase.BRIDGED, Phase.ENDING, Phase.ENDED])
def test_answer_outside_ringing_changes_nothing(phase: Phase) -> None:
    state = replace(ringing(), phase=phase)
    assert callflow.on_bridge_answered(state, T0 + 1) == Plan((), state)


# --- bridge failed -------------------------------------------------------------------------------


def test_failed_bridge_follows_me_to_the_next_destination() -> None:
    state = ringing((FIRST, SECOND, THIRD), ring_timeout=20)
    plan = callflow.on_bridge_failed(state, "CallNotAnswered", T0 + 20_000)
    assert plan.steps == (Bridge(SECOND, OURS, 20, Prompt.GREETING),)
    assert plan.record is None
    after = state_of(plan)
    assert after.index == 1
    assert after.attempt_started_ms == T0 + 20_000
    assert after.attempts == (Attempt(FIRST, "CallNotAnswered", 20_000),)

    plan = callflow.on_bridge_failed(after, "CallRejected", T0 + 21_500)
    assert plan.steps == (Bridge(THIRD, OURS, 20, Prompt.GREETING),)
    assert state_of(plan).attempts[-1] == Attempt(SECOND, "CallRejected", 1_500)


@pytest.mark.parametrize(
    ("failure", "steps"),
    [
        (FailureAction.PROMPT, (PlayPrompt(Prompt.FAILURE), UNAVAILABLE_HANGUP)),
        (FailureAction.HANGUP, (UNAVAILABLE_HANGUP,)),
    ],
)
def test_last_failure_applies_the_failure_action_and_records(
    failure: FailureAction, steps: tuple[object, ...]
) -> None:
    state = ringing((FIRST,), failure=failure)
    plan = callflow.on_bridge_failed(state, "CallNotAnswered", T0 + 30_000)
    assert plan.steps == steps
    assert state_of(plan).phase is Phase.ENDING
    assert plan.record is not None
    assert plan.record.ended_ms == T0 + 30_000
    assert plan.record.duration_ms == 30_000
    assert plan.record.talk_ms == 0


@pytest.mark.parametrize(
    ("errors", "outcome"),
    [
        (("CallNotAnswered", "CallNotAnswered"), Outcome.NO_ANSWER),
        (("CallNotAnswered", "CallRejected"), Outcome.ALL_FAILED),
        (("SystemException", "CallNotAnswered"), Outcome.ALL_FAILED),
        (("", "CallNotAnswered"), Outcome.ALL_FAILED),
    ],
)
def test_outcome_is_no_answer_only_when_everything_rang_out(
    errors: tuple[str, str], outcome: Outcome
) -> None:
    state = ringing((FIRST, SECOND), greeting=GreetingMode.NONE)
    first = callflow.on_bridge_failed(state, errors[0], T0 + 1)
    last = callflow.on_bridge_failed(state_of(first), errors[1], T0 + 2)
    assert last.record is not None
    assert last.record.outcome is outcome
    assert [a.destination for a in last.record.attempts] == [FIRST, SECOND]


def test_missing_error_type_is_recorded_as_unknown() -> None:
    plan = callflow.on_bridge_failed(ringing(), "", T0 + 1)
    assert state_of(plan).attempts[0].result == "Unknown"


def test_broken_greeting_retries_the_same_destination_once_without_ringback() -> None:
    plan = callflow.on_bridge_failed(ringing((FIRST, SECOND)), "InvalidAudioSource", T0 + 100)
    assert plan.steps == (Bridge(FIRST, OURS, 30, None),)
    state = state_of(plan)
    assert state.greeting_broken
    assert state.index == 0

    # A second InvalidAudioSource is the destination's problem now: move on, still without greeting.
    plan = callflow.on_bridge_failed(state, "InvalidAudioSource", T0 + 200)
    assert plan.steps == (Bridge(SECOND, OURS, 30, None),)

    plan = callflow.on_bridge_failed(state_of(plan), "InvalidAudioSource", T0 + 300)
    assert bridges(plan) == []
    assert plan.record is not None
    assert plan.record.outcome is Outcome.ALL_FAILED
    # The greeting's own failure is not an attempt on FIRST (it is reported as a prompt failure).
    assert [a.destination for a in plan.record.attempts] == [FIRST, SECOND]


@pytest.mark.parametrize("greeting", [GreetingMode.ONCE, GreetingMode.NONE])
def test_invalid_audio_source_without_a_ringback_is_not_retried(greeting: GreetingMode) -> None:
    plan = callflow.on_bridge_failed(ringing((FIRST, SECOND), greeting=greeting), "InvalidAudioSource", T0)
    assert plan.steps == (Bridge(SECOND, OURS, 30, None),)


@pytest.mark.parametrize("phase", [Phase.BRIDGED, Phase.ENDING, Phase.ENDED])
def test_late_bridge_failure_outside_ringing_does_nothing(phase: Phase) -> None:
    state = replace(ringing(), phase=phase)
    assert callflow.on_bridge_failed(state, "CallNotAnswered", T0 + 1) == Plan((), state)


# --- prompt failed -------------------------------------------------------------------------------


def test_failed_once_greeting_reissues_the_dropped_bridge() -> None:
    state = ringing(greeting=GreetingMode.ONCE)
    plan = callflow.on_prompt_failed(state, T0 + 700)
    assert plan.steps == (Bridge(FIRST, OURS, 30, None),)
    after = state_of(plan)
    assert after.phase is Phase.RINGING
    assert after.greeting_broken
    assert after.attempt_started_ms == T0 + 700
    assert plan.record is None


def test_failed_closing_prompt_still_hangs_up_without_a_second_record() -> None:
    state = state_of(callflow.on_bridge_failed(ringing((FIRST,)), "CallNotAnswered", T0 + 1))
    plan = callflow.on_prompt_failed(state, T0 + 2)
    assert plan.steps == (UNAVAILABLE_HANGUP,)
    assert plan.record is None


@pytest.mark.parametrize("phase", [Phase.RINGING, Phase.BRIDGED, Phase.ENDED])
def test_prompt_failure_elsewhere_needs_nothing(phase: Phase) -> None:
    state = replace(ringing(), phase=phase)
    assert callflow.on_prompt_failed(state, T0 + 1) == Plan((), state)


# --- leg ended -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("leg", "other"), [(Leg.CALLER, HangUp(Leg.CALLEE)), (Leg.CALLEE, HangUp(Leg.CALLER))]
)
def test_hangup_of_a_bridged_call_ends_the_other_leg_and_records_talk_time(leg: Leg, other: HangUp) -> None:
    state = bridged(at=T0 + 5_000)
    plan = callflow.on_leg_ended(state, leg, True, T0 + 65_000)
    assert plan.steps == (other,)
    assert other.cause is HangupCause.NORMAL
    assert state_of(plan).phase is Phase.ENDED
    assert plan.record is not None
    assert plan.record.outcome is Outcome.BRIDGED
    assert plan.record.talk_ms == 60_000
    assert plan.record.duration_ms == 65_000


def test_hangup_of_a_bridged_call_whose_other_leg_is_gone_just_records() -> None:
    plan = callflow.on_leg_ended(bridged(), Leg.CALLER, False, T0 + 9_000)
    assert plan.steps == ()
    assert plan.record is not None
    assert plan.record.outcome is Outcome.BRIDGED


@pytest.mark.parametrize(("other_connected", "steps"), [(False, ()), (True, (HangUp(Leg.CALLEE),))])
def test_caller_hanging_up_while_ringing_is_abandoned(
    other_connected: bool, steps: tuple[HangUp, ...]
) -> None:
    plan = callflow.on_leg_ended(ringing(), Leg.CALLER, other_connected, T0 + 8_000)
    assert plan.steps == steps
    assert state_of(plan).phase is Phase.ENDED
    assert plan.record is not None
    assert plan.record.outcome is Outcome.ABANDONED
    assert plan.record.attempts == (Attempt(FIRST, AttemptResult.ABANDONED, 8_000),)
    assert plan.record.events() == ()  # giving up is not an alert


def test_caller_hanging_up_during_once_greeting_is_abandoned() -> None:
    plan = callflow.on_leg_ended(ringing(greeting=GreetingMode.ONCE), Leg.CALLER, False, T0 + 1)
    assert plan.record is not None
    assert plan.record.outcome is Outcome.ABANDONED


@pytest.mark.parametrize("other_connected", [False, True])
def test_destination_leg_vanishing_while_ringing_leaves_the_caller_alone(other_connected: bool) -> None:
    # The bridge's own ACTION_FAILED follows and follow-me must still be possible, so the caller
    # (the "other" leg here) must not be hung up.
    state = ringing((FIRST, SECOND))
    plan = callflow.on_leg_ended(state, Leg.CALLEE, other_connected, T0 + 1_000)
    assert HangUp(Leg.CALLER) not in plan.steps
    assert plan.steps == ()
    assert plan.record is None
    assert plan.state == state
    follow_up = callflow.on_bridge_failed(state_of(plan), "CallRejected", T0 + 1_100)
    assert bridges(follow_up)[0].destination == SECOND


@pytest.mark.parametrize(("other_connected", "steps"), [(False, ()), (True, (HangUp(Leg.CALLEE),))])
def test_leg_ended_after_the_call_was_ending_only_tidies_up(
    other_connected: bool, steps: tuple[HangUp, ...]
) -> None:
    ending = state_of(callflow.on_bridge_failed(ringing((FIRST,)), "CallNotAnswered", T0 + 1))
    plan = callflow.on_leg_ended(ending, Leg.CALLER, other_connected, T0 + 2)
    assert plan.steps == steps
    assert plan.record is None
    assert state_of(plan).phase is Phase.ENDED
    # and again, for the other leg: still nothing new
    again = callflow.on_leg_ended(state_of(plan), Leg.CALLEE, False, T0 + 3)
    assert again.steps == ()
    assert again.record is None


# --- errors --------------------------------------------------------------------------------------


def test_error_without_state_apologises_and_hangs_up() -> None:
    plan = callflow.on_error(None, T0)
    assert plan == Plan((PlayPrompt(Prompt.ERROR), UNAVAILABLE_HANGUP), None)


def test_error_while_ringing_apologises_hangs_up_and_records() -> None:
    plan = callflow.on_error(ringing(), T0 + 3_000)
    assert plan.steps == (PlayPrompt(Prompt.ERROR), UNAVAILABLE_HANGUP)
    assert state_of(plan).phase is Phase.ENDING
    assert plan.record is not None
    assert plan.record.outcome is Outcome.ERROR


def test_error_while_bridged_also_hangs_up_the_destination_first() -> None:
    plan = callflow.on_error(bridged(), T0 + 9_000)
    assert plan.steps == (HangUp(Leg.CALLEE), PlayPrompt(Prompt.ERROR), UNAVAILABLE_HANGUP)
    assert plan.record is not None
    assert plan.record.outcome is Outcome.ERROR


def test_error_without_record_leaves_the_call_unrecorded() -> None:
    plan = callflow.on_error(ringing(), T0 + 1, record=False)
    assert plan.steps == (PlayPrompt(Prompt.ERROR), UNAVAILABLE_HANGUP)
    assert plan.record is None
    assert state_of(plan).phase is Phase.ENDING
    assert not state_of(plan).recorded


def test_error_while_ending_only_makes_sure_the_call_ends() -> None:
    ending = state_of(callflow.on_error(ringing(), T0 + 1))
    plan = callflow.on_error(ending, T0 + 2)
    assert plan.steps == (UNAVAILABLE_HANGUP,)
    assert plan.record is None


def test_error_after_the_call_ended_does_nothing() -> None:
    ended = replace(ringing(), phase=Phase.ENDED)
    assert callflow.on_error(ended, T0 + 1) == Plan((), ended)


def test_error_after_a_record_does_not_record_again() -> None:
    already = replace(ringing(), recorded=True)
    plan = callflow.on_error(already, T0 + 1)
    assert plan.steps == (PlayPrompt(Prompt.ERROR), UNAVAILABLE_HANGUP)
    assert plan.record is None


# --- a whole call --------------------------------------------------------------------------------


def test_follow_me_call_end_to_end_produces_exactly_one_record() -> None:
    plans = []
    plan = callflow.start(rule((FIRST, SECOND)), OURS, CALLER, T0)
    plans.append(plan)
    plan = callflow.on_bridge_failed(state_of(plan), "CallNotAnswered", T0 + 30_000)
    plans.append(plan)
    plan = callflow.on_bridge_answered(state_of(plan), T0 + 33_000)
    plans.append(plan)
    plan = callflow.on_leg_ended(state_of(plan), Leg.CALLEE, True, T0 + 93_000)
    plans.append(plan)
    plan = callflow.on_leg_ended(state_of(plan), Leg.CALLER, False, T0 + 93_500)
    plans.append(plan)

    records = [p.record for p in plans if p.record is not None]
    assert len(records) == 1
    (call,) = records
    assert call.outcome is Outcome.BRIDGED
    assert call.attempts == (
        Attempt(FIRST, "CallNotAnswered", 30_000),
        Attempt(SECOND, AttemptResult.ANSWERED, 3_000),
    )
    assert call.talk_ms == 60_000
    assert call.duration_ms == 93_000
    (alert,) = call.events()
    assert alert.all_failed is False


# --- properties ----------------------------------------------------------------------------------

NUMBERS = [f"+1206555{n:04d}" for n in range(100, 110)]
ERRORS = st.sampled_from(
    ["CallNotAnswered", "InvalidAudioSource", "CallRejected", "SystemException", "InvalidPhoneNumber", ""]
) | st.text(max_size=12)

RULES = st.builds(
    ForwardRule,
    number=st.just(OURS),
    destinations=st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=5, unique=True).map(tuple),
    greeting=st.sampled_from(GreetingMode),
    failure=st.sampled_from(FailureAction),
    caller_id=st.sampled_from(CallerIdMode),
    ring_timeout=st.integers(1, 120),
)
EVENTS = st.one_of(
    st.tuples(st.just("answered")),
    st.tuples(st.just("bridge_failed"), ERRORS),
    st.tuples(st.just("prompt_failed")),
    st.tuples(st.just("leg_ended"), st.sampled_from(Leg), st.booleans()),
    st.tuples(st.just("error"), st.booleans()),
)


def apply(state: CallState, event: tuple[Any, ...], now: int) -> Plan:
    kind = event[0]
    if kind == "answered":
        return callflow.on_bridge_answered(state, now)
    if kind == "bridge_failed":
        return callflow.on_bridge_failed(state, event[1], now)
    if kind == "prompt_failed":
        return callflow.on_prompt_failed(state, now)
    if kind == "leg_ended":
        return callflow.on_leg_ended(state, event[1], event[2], now)
    return callflow.on_error(state, now, record=event[1])


@settings(max_examples=400, deadline=None)
@given(
    forward=RULES,
    caller=st.sampled_from([CALLER, "anonymous", ""]),
    events=st.lists(st.tuples(EVENTS, st.integers(0, 60_000)), max_size=25),
)
def test_any_event_sequence_keeps_the_call_flow_invariants(
    forward: ForwardRule, caller: str, events: list[tuple[tuple[Any, ...], int]]
) -> None:
    now = T0
    plan = callflow.start(forward, OURS, caller, now)
    plans = [plan]
    for event, elapsed in events:
        now += elapsed
        plan = apply(state_of(plan), event, now)
        plans.append(plan)

    # (a) one write per call: at most one plan carries a record
    assert sum(p.record is not None for p in plans) <= 1
    # (b) we only ever dial the rule's destinations
    all_bridges = [b for p in plans for b in bridges(p)]
    assert all(b.destination in forward.destinations for b in all_bridges)
    # (c) each destination once, plus at most one retry without the broken greeting
    assert len(all_bridges) <= len(forward.destinations) + 1
    # (d) once we hang up the caller, we never dial anyone for them again
    hung_up = False
    for p in plans:
        if hung_up:
            assert not bridges(p), f"bridge after hanging up the caller: {plans}"
        hung_up = hung_up or any(isinstance(s, HangUp) and s.leg is Leg.CALLER for s in p.steps)
    # and a record, when there is one, never claims time went backwards
    for p in plans:
        if p.record is not None:
            assert p.record.duration_ms >= p.record.talk_ms >= 0
            assert all(a.ring_ms >= 0 for a in p.record.attempts)


# --- live calls (what Slack lists and can transfer) -------------------------------------------


def test_an_answered_bridge_makes_the_call_live_with_who_is_talking() -> None:
    plan = callflow.on_bridge_answered(ringing(), T0 + 4_000)
    assert plan.live == LiveCall(dialed=OURS, caller=CALLER, callee=FIRST, since_ms=T0 + 4_000, started_ms=T0)
    assert state_of(plan).live


def test_follow_me_lists_the_destination_that_answered() -> None:
    failed = callflow.on_bridge_failed(ringing(), "CallNotAnswered", T0 + 30_000)
    plan = callflow.on_bridge_answered(state_of(failed), T0 + 35_000)
    assert plan.live is not None
    assert plan.live.callee == SECOND


@pytest.mark.parametrize(
    "decide",
    [
        lambda s: callflow.start(rule(), OURS, CALLER, T0),
        lambda s: callflow.on_bridge_failed(s, "CallNotAnswered", T0 + 30_000),
        lambda s: callflow.on_leg_ended(s, Leg.CALLER, True, T0 + 3_000),
        lambda s: callflow.on_error(s, T0 + 3_000),
    ],
)
def test_nothing_but_an_answer_makes_a_call_live(decide: Any) -> None:
    plan = decide(ringing())
    assert plan.live is None


def test_only_the_record_of_a_call_that_was_live_ends_a_live_entry() -> None:
    never_answered = callflow.on_leg_ended(ringing(), Leg.CALLER, True, T0 + 3_000).record
    assert never_answered is not None
    assert not never_answered.was_live
    for end in (
        callflow.on_leg_ended(bridged(), Leg.CALLEE, True, T0 + 60_000),
        callflow.on_leg_ended(bridged(), Leg.CALLER, True, T0 + 60_000),
        callflow.on_error(bridged(), T0 + 60_000),
    ):
        assert end.record is not None
        assert end.record.was_live


def test_error_without_state_still_hangs_up_a_connected_callee_first() -> None:
    plan = callflow.on_error(None, T0, callee_connected=True)
    assert plan == Plan((HangUp(Leg.CALLEE), PlayPrompt(Prompt.ERROR), UNAVAILABLE_HANGUP), None)


def test_error_without_state_when_the_caller_is_gone_only_ends_the_callee() -> None:
    plan = callflow.on_error(None, T0, callee_connected=True, caller_connected=False)
    assert plan == Plan((HangUp(Leg.CALLEE),), None)
    assert callflow.on_error(None, T0, caller_connected=False) == Plan((), None)


# --- business hours (issue 17): the branch is chosen at call start from the rule alone ---------

WEEKDAYS_CHICAGO = parse_hours("weekdays 09:00-17:30", "America/Chicago")
TUESDAY_NOON_CHICAGO_MS = 1_796_148_000_000  # 2026-12-01 12:00 CST
TUESDAY_EVENING_CHICAGO_MS = 1_796_176_800_000  # 2026-12-01 20:00 CST


def test_a_call_in_business_hours_rings_the_destinations() -> None:
    by_the_clock = rule((FIRST,), hours=WEEKDAYS_CHICAGO, else_destinations=(SECOND, THIRD))
    plan = callflow.start(by_the_clock, OURS, CALLER, TUESDAY_NOON_CHICAGO_MS)
    assert [b.destination for b in bridges(plan)] == [FIRST]
    assert state_of(plan).destinations == (FIRST,)


def test_a_call_after_hours_follows_the_else_destinations_in_order() -> None:
    by_the_clock = rule((FIRST,), hours=WEEKDAYS_CHICAGO, else_destinations=(SECOND, THIRD))
    plan = callflow.start(by_the_clock, OURS, CALLER, TUESDAY_EVENING_CHICAGO_MS)
    assert [b.destination for b in bridges(plan)] == [SECOND]
    follow_me = callflow.on_bridge_failed(
        state_of(plan), "CallNotAnswered", TUESDAY_EVENING_CHICAGO_MS + 30_000
    )
    assert [b.destination for b in bridges(follow_me)] == [THIRD]


def test_a_call_already_ringing_keeps_its_branch_when_the_hours_change() -> None:
    closing_time_ms = 1_796_148_000_000 + 5 * 3_600_000 + 29 * 60_000  # 17:29 CST
    by_the_clock = rule((FIRST, THIRD), hours=WEEKDAYS_CHICAGO, else_destinations=(SECOND,))
    plan = callflow.start(by_the_clock, OURS, CALLER, closing_time_ms)
    after_close = callflow.on_bridge_failed(state_of(plan), "CallNotAnswered", closing_time_ms + 120_000)
    assert [b.destination for b in bridges(after_close)] == [THIRD]


def test_connect_after_hours_needs_a_pair_only_after_hours() -> None:
    agents_at_night = rule((FIRST,), hours=WEEKDAYS_CHICAGO, else_destinations=(CONNECT,))
    by_day = callflow.start(agents_at_night, OURS, CALLER, TUESDAY_NOON_CHICAGO_MS)
    assert [b.destination for b in bridges(by_day)] == [FIRST]
    no_pair = callflow.start(agents_at_night, OURS, CALLER, TUESDAY_EVENING_CHICAGO_MS)
    assert no_pair.record is not None
    assert no_pair.record.outcome is Outcome.POOL_EXHAUSTED
    pair = ("+12025550180", "+18005550190")
    with_pair = callflow.start(agents_at_night, OURS, CALLER, TUESDAY_EVENING_CHICAGO_MS, pair=pair)
    assert [(b.destination, b.caller_id) for b in bridges(with_pair)] == [(pair[1], pair[0])]
