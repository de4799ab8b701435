"""Connect entry calls and take-back-and-transfer in the pure call flow; the DNIS pair never leaks."""

from __future__ import annotations

import pytest

from switchboard.domain import callflow
from switchboard.domain.callflow import Bridge, HangUp, Leg, Phase, PlayPrompt, Prompt
from switchboard.domain.events import Outcome
from switchboard.domain.rules import CONNECT, ForwardRule, GreetingMode, RuleError

OURS, CALLER = "+12025550100", "+13035550123"
SMA_NUMBER, CONNECT_NUMBER = "+12025550180", "+18005550111"
PAIR = (SMA_NUMBER, CONNECT_NUMBER)
TARGET = "+13125550199"
T0 = 1_800_000_000_000
ENTRY = ForwardRule(number=OURS, destinations=(CONNECT,), greeting=GreetingMode.NONE)


def connected() -> callflow.CallState:
    plan = callflow.start(ENTRY, OURS, CALLER, T0, pair=PAIR)
    assert plan.state is not None
    answered = callflow.on_bridge_answered(plan.state, T0 + 3_000)
    assert answered.state is not None
    return answered.state


def test_connect_is_a_destination_of_its_own() -> None:
    assert ENTRY.is_connect_entry
    with pytest.raises(RuleError, match="cannot be combined"):
        ForwardRule(number=OURS, destinations=(CONNECT, "+12065550111"))


def test_a_connect_entry_call_bridges_to_the_pair_with_the_sma_number_as_caller_id() -> None:
    plan = callflow.start(ENTRY, OURS, CALLER, T0, pair=PAIR)
    assert plan.steps == (Bridge(CONNECT_NUMBER, SMA_NUMBER, 30),)
    assert plan.state is not None
    assert plan.state.pair == PAIR
    assert plan.release is None


def test_no_free_pair_means_a_prompt_and_a_pool_exhausted_record() -> None:
    plan = callflow.start(ENTRY, OURS, CALLER, T0, pair=None)
    assert plan.steps[0] == PlayPrompt(Prompt.FAILURE)
    assert plan.record is not None
    assert plan.record.outcome is Outcome.POOL_EXHAUSTED
    assert [e.type.value for e in plan.record.events()] == ["pool_exhausted"]


@pytest.mark.parametrize(
    "ending",
    [
        lambda s: callflow.on_leg_ended(s, Leg.CALLER, True, T0 + 9_000),
        lambda s: callflow.on_leg_ended(s, Leg.CALLEE, True, T0 + 9_000),
        lambda s: callflow.on_error(s, T0 + 9_000),
        lambda s: callflow.on_transfer_requested(s, TARGET, "", T0 + 9_000),
    ],
)
def test_every_way_out_of_connect_releases_the_pair_exactly_once(ending: object) -> None:
    plan = ending(connected())  # type: ignore[operator]
    assert plan.release == PAIR
    assert plan.state.pair is None
    # Nothing that happens afterwards releases it again.
    later = callflow.on_leg_ended(plan.state, Leg.CALLER, False, T0 + 10_000)
    assert later.release is None


def test_a_failed_bridge_to_connect_releases_the_pair() -> None:
    plan = callflow.start(ENTRY, OURS, CALLER, T0, pair=PAIR)
    assert plan.state is not None
    failed = callflow.on_bridge_failed(plan.state, "CallNotAnswered", T0 + 30_000)
    assert failed.release == PAIR
    assert failed.record is not None
    assert failed.record.outcome is Outcome.NO_ANSWER


def test_transfer_sequence() -> None:
    requested = callflow.on_transfer_requested(connected(), TARGET, "", T0 + 20_000)
    assert requested.steps == (HangUp(Leg.CALLEE),)
    assert requested.state is not None
    assert requested.state.phase is Phase.TRANSFER_RELEASING

    released = callflow.on_leg_ended(requested.state, Leg.CALLEE, False, T0 + 20_500)
    assert released.steps == (PlayPrompt(Prompt.PLEASE_HOLD), Bridge(TARGET, CALLER, 30))
    assert released.state is not None

    answered = callflow.on_bridge_answered(released.state, T0 + 25_000)
    assert answered.state is not None
    assert answered.state.transferred
    ended = callflow.on_leg_ended(answered.state, Leg.CALLEE, True, T0 + 85_000)
    assert ended.record is not None
    assert ended.record.outcome is Outcome.TRANSFERRED
    assert ended.record.talk_ms == 60_000
    assert ended.record.transfer_target == TARGET


def test_a_sip_transfer_carries_the_original_caller_in_a_header() -> None:
    requested = callflow.on_transfer_requested(connected(), "agent-7", "arn:aws:chime:us-east-1:1:vc/x", T0)
    assert requested.state is not None
    released = callflow.on_transfer_leg_released(requested.state, T0 + 1)
    bridge = released.steps[1]
    assert isinstance(bridge, Bridge)
    assert bridge.voice_connector_arn == "arn:aws:chime:us-east-1:1:vc/x"
    assert bridge.sip_headers == (("X-Original-Calling-Number", CALLER),)


def test_requests_that_cannot_be_honoured_change_nothing() -> None:
    state = connected()
    assert callflow.on_transfer_requested(state, "", "", T0).steps == ()
    assert callflow.on_transfer_requested(state, "not-a-number", "", T0).steps == ()
    ringing = callflow.start(ENTRY, OURS, CALLER, T0, pair=PAIR).state
    assert ringing is not None
    assert callflow.on_transfer_requested(ringing, TARGET, "", T0).steps == ()


def test_a_connect_call_is_live_and_a_completed_transfer_lists_the_target() -> None:
    plan = callflow.start(ENTRY, OURS, CALLER, T0, pair=PAIR)
    assert plan.state is not None
    answered = callflow.on_bridge_answered(plan.state, T0 + 3_000)
    assert answered.live is not None
    assert (answered.live.callee, answered.live.via_connect) == (CONNECT_NUMBER, True)

    requested = callflow.on_transfer_requested(connected(), TARGET, "", T0 + 20_000)
    assert requested.live is None  # still listed (with Connect) while the transfer is under way
    assert requested.state is not None
    released = callflow.on_transfer_leg_released(requested.state, T0 + 20_500)
    assert released.state is not None
    transferred = callflow.on_bridge_answered(released.state, T0 + 25_000)
    assert transferred.live is not None
    assert transferred.live.callee == TARGET
    assert transferred.live.transferred
    assert not transferred.live.via_connect  # the pair went back to the pool at take-back


def test_a_failed_transfer_ends_the_live_entry_with_its_record() -> None:
    requested = callflow.on_transfer_requested(connected(), TARGET, "", T0 + 20_000)
    assert requested.state is not None
    released = callflow.on_transfer_leg_released(requested.state, T0 + 20_500)
    assert released.state is not None
    failed = callflow.on_bridge_failed(released.state, "CallNotAnswered", T0 + 50_000)
    assert failed.record is not None
    assert failed.record.outcome is Outcome.TRANSFER_FAILED
    assert failed.record.was_live


@pytest.mark.parametrize(
    "caller",
    ["anonymous", "", "+1" + "2" * 40, "+1303555\r\nX-Evil: 1", "<sip:+13035550123@evil>", "+13035550123;x"],
)
def test_a_caller_number_that_is_not_e164_is_not_put_in_a_sip_header(caller: str) -> None:
    plan = callflow.start(ENTRY, OURS, caller, T0, pair=PAIR)
    assert plan.state is not None
    state = callflow.on_bridge_answered(plan.state, T0 + 3_000).state
    assert state is not None
    requested = callflow.on_transfer_requested(state, "agent-7", "arn:aws:chime:us-east-1:1:vc/x", T0)
    assert requested.state is not None
    bridge = callflow.on_transfer_leg_released(requested.state, T0 + 1).steps[1]
    assert isinstance(bridge, Bridge)
    assert bridge.sip_headers == ()
    assert bridge.caller_id == OURS
