"""sma.state: the call's state carried in TransactionAttributes between PSTN Audio invocations."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sma.state import STATE_KEY, dump, load
from switchboard.domain import callflow
from switchboard.domain.callflow import CallState, Phase
from switchboard.domain.events import Attempt
from switchboard.domain.rules import FailureAction, ForwardRule, GreetingMode

OURS = "+12025550100"
CALLER = "+13035550123"
FIRST = "+12065550111"
SECOND = "+13125550122"

STATE = CallState(
    dialed=OURS,
    caller=CALLER,
    destinations=(FIRST, SECOND),
    greeting=GreetingMode.LOOP,
    failure=FailureAction.HANGUP,
    caller_id=CALLER,
    ring_timeout=25,
    phase=Phase.RINGING,
    index=1,
    started_ms=1_700_000_000_000,
    attempt_started_ms=1_700_000_030_000,
    bridged_ms=0,
    attempts=(Attempt(FIRST, "CallNotAnswered", 30_000),),
    recorded=False,
    greeting_broken=True,
)


def attributes(state: CallState) -> dict[str, str]:
    return {STATE_KEY: dump(state)}


def packed(**changes: Any) -> dict[str, str]:
    data = json.loads(dump(STATE))
    for key, value in changes.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    return {STATE_KEY: json.dumps(data)}


def test_round_trip_restores_every_field_with_its_type() -> None:
    loaded = load(attributes(STATE))
    assert loaded == STATE
    assert loaded is not None
    assert loaded.greeting is GreetingMode.LOOP
    assert loaded.failure is FailureAction.HANGUP
    assert loaded.phase is Phase.RINGING
    assert isinstance(loaded.destinations, tuple)
    assert isinstance(loaded.attempts, tuple)
    assert isinstance(loaded.attempts[0], Attempt)


def test_the_live_flag_survives_the_round_trip_and_defaults_to_false() -> None:
    live = replace(STATE, phase=Phase.BRIDGED, live=True)
    assert load(attributes(live)) == live
    assert "lv" not in json.loads(dump(STATE))  # absent from states written before it existed
    assert load(attributes(STATE)) is not None
    assert not load(attributes(STATE)).live  # type: ignore[union-attr]


def test_dump_is_compact_json_that_fits_one_attribute() -> None:
    text = dump(STATE)
    assert " " not in text
    assert json.loads(text)["v"] == 1
    # Five destinations and a full follow-me history still stay small.
    busy = replace(
        STATE,
        destinations=tuple(f"+1206555{n:04d}" for n in range(5)),
        attempts=tuple(Attempt(f"+1206555{n:04d}", "CallNotAnswered", 120_000) for n in range(6)),
    )
    assert len(dump(busy)) < 1024


def test_not_in_service_state_without_destinations_round_trips() -> None:
    state = callflow.start(None, OURS, "anonymous", 1).state
    assert state is not None
    assert state.destinations == ()
    assert load(attributes(state)) == state


def test_states_along_a_real_call_round_trip() -> None:
    rule = ForwardRule(number=OURS, destinations=(FIRST, SECOND))
    plan = callflow.start(rule, OURS, CALLER, 1_000)
    seen = [plan.state]
    plan = callflow.on_bridge_failed(plan.state, "InvalidAudioSource", 2_000)  # type: ignore[arg-type]
    seen.append(plan.state)
    plan = callflow.on_bridge_answered(plan.state, 3_000)  # type: ignore[arg-type]
    seen.append(plan.state)
    plan = callflow.on_leg_ended(plan.state, callflow.Leg.CALLER, True, 9_000)  # type: ignore[arg-type]
    seen.append(plan.state)
    for state in seen:
        assert state is not None
        assert load(attributes(state)) == state


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {STATE_KEY: ""},
        {"other": dump(STATE)},  # another feature's key is not ours
        {STATE_KEY: "not json"},
        {STATE_KEY: "{"},
        {STATE_KEY: "null"},
        {STATE_KEY: "[]"},
        {STATE_KEY: "42"},
        {STATE_KEY: '"text"'},
        {STATE_KEY: "{}"},
        {STATE_KEY: "[" * 100_000},  # nested deeper than the JSON decoder's recursion limit
    ],
)
def test_absent_or_garbage_state_is_none(attrs: dict[str, str]) -> None:
    assert load(attrs) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"v": 2},  # a future format
        {"v": None},
        {"d": None},
        {"a": None},
        {"g": "sometimes"},
        {"f": "email"},
        {"p": "dialling"},
        {"to": "thirty"},
        {"i": None},
        {"i": "first"},
        {"ds": 5},
        {"a": [["+12065550111", "CallNotAnswered"]]},  # an attempt without ring time
        {"a": [["+12065550111", "CallNotAnswered", "long"]]},
        {"a": [None]},
        {"t0": []},
    ],
)
def test_corrupt_fields_give_none_rather_than_raise(changes: dict[str, Any]) -> None:
    assert load(packed(**changes)) is None


@pytest.mark.parametrize("index", [2, 5, -1])
def test_index_outside_the_destinations_is_none(index: int) -> None:
    assert load(packed(i=index)) is None


def test_index_is_not_checked_without_destinations() -> None:
    # The not-in-service state has no destinations and never reads current_destination.
    loaded = load(packed(ds=[], i=0))
    assert loaded is not None
    assert loaded.destinations == ()


@given(st.text(max_size=200))
def test_load_never_raises_on_arbitrary_text(text: str) -> None:
    result = load({STATE_KEY: text})
    assert result is None or isinstance(result, CallState)


numbers = st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True)
int_ms = st.integers(min_value=0, max_value=2**53)


@st.composite
def call_states(draw: st.DrawFn) -> CallState:
    destinations = tuple(draw(st.lists(numbers, max_size=5, unique=True)))
    index = draw(st.integers(0, len(destinations) - 1)) if destinations else draw(st.integers(0, 10))
    return CallState(
        dialed=draw(numbers),
        caller=draw(st.text(max_size=20)),  # whatever PSTN Audio sent as From, even "anonymous"
        destinations=destinations,
        greeting=draw(st.sampled_from(GreetingMode)),
        failure=draw(st.sampled_from(FailureAction)),
        caller_id=draw(numbers),
        ring_timeout=draw(st.integers(0, 120)),
        phase=draw(st.sampled_from(Phase)),
        index=index,
        started_ms=draw(int_ms),
        attempt_started_ms=draw(int_ms),
        bridged_ms=draw(int_ms),
        attempts=tuple(draw(st.lists(st.builds(Attempt, numbers, st.text(max_size=20), int_ms), max_size=6))),
        recorded=draw(st.booleans()),
        greeting_broken=draw(st.booleans()),
    )


@given(call_states())
def test_dump_then_load_is_the_identity(state: CallState) -> None:
    dumped = dump(state)
    assert load({STATE_KEY: dumped}) == state
    assert dump(load({STATE_KEY: dumped})) == dumped  # type: ignore[arg-type]


HOSTILE_RAW = [
    '{"v":1,"d":"+1","c":"+1","ds":["+12065550111"],"g":"loop","f":"prompt","id":"+1","to":1e999,'
    '"p":"ringing","i":0,"t0":0,"ta":0,"tb":0,"a":[],"r":0,"gb":0}',
    '{"v":1,"d":"+1","c":"+1","ds":["+12065550111"],"g":"loop","f":"prompt","id":"+1","to":30,'
    '"p":"ringing","i":-1e999,"t0":0,"ta":0,"tb":0,"a":[],"r":0,"gb":0}',
    '{"v":1,"d":"+1","c":"+1","ds":["+12065550111"],"g":"loop","f":"prompt","id":"+1","to":30,'
    '"p":"ringing","i":0,"t0":0,"ta":0,"tb":0,"a":[["+1","x",1e999]],"r":0,"gb":0}',
    '{"v":1,"d":"+1","c":"+1","ds":["+12065550111"],"g":"loop","f":"prompt","id":"+1","to":30,'
    '"p":"ringing","i":0,"t0":NaN,"ta":0,"tb":0,"a":[],"r":0,"gb":0}',
]


@pytest.mark.parametrize("raw", HOSTILE_RAW)
def test_infinite_and_nan_numbers_give_none_rather_than_raise(raw: str) -> None:
    assert load({STATE_KEY: raw}) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"to": 10**30},  # a ring timeout PSTN Audio would reject (1-120 s)
        {"to": -5},
        {"t0": -(10**30)},
        {"ta": 10**40},
        {"ds": ["+12065550111"] * 10_000},  # more destinations than a rule can have
        {"ds": [{"x": 1}]},
        {"pr": "ab"},  # a pair is two numbers, not a two-character string
        {"pr": ["+12025550180"]},
        {"d": "x" * 10_000},
    ],
)
def test_out_of_range_fields_give_none(changes: dict[str, Any]) -> None:
    assert load(packed(**changes)) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=10,
)


@given(st.sampled_from(sorted(json.loads(dump(STATE)))), json_values)
def test_load_never_raises_whatever_value_a_field_holds(key: str, value: Any) -> None:
    data = json.loads(dump(STATE))
    data[key] = value
    result = load({STATE_KEY: json.dumps(data)})  # floats('inf') → Infinity, as a hostile sender could
    assert result is None or isinstance(result, CallState)
