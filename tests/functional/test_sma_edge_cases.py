"""sma.app.handler under hostile or odd input: what it echoes, what it logs, which legs it ends."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sma.state import STATE_KEY
from tests.functional.test_sma_forwarding import FIRST, put_rule
from tests.helpers import CallDriver, action_types, load_event

LEG_B = {
    "CallId": "e5f6a7b8-leg-b",
    "ParticipantTag": "LEG-B",
    "To": FIRST,
    "From": "+12025550100",
    "Direction": "Outbound",
    "StartTimeInMilliseconds": "1700000005000",
    "Status": "Connected",
}


def test_foreign_transaction_attributes_are_not_echoed(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb)
    call = CallDriver(sma_app.handler, "tx-attrs")
    call.send("new_inbound_call")
    foreign = {f"injected-{i}": "x" * 50 for i in range(30)}
    call.attributes = {**call.attributes, **foreign}

    response = call.send("action_successful_call_and_bridge", destination=FIRST)

    assert set(response["TransactionAttributes"]) == {STATE_KEY}


def test_an_event_with_only_foreign_attributes_gets_none_back(sma_app: Any, dynamodb: Any) -> None:
    event = load_event("ringing")
    event["CallDetails"]["TransactionAttributes"] = {f"k{i}": "v" for i in range(30)}
    response = sma_app.handler(event, None)
    assert not response.get("TransactionAttributes")


def test_an_error_without_call_state_hangs_up_a_connected_callee_too(sma_app: Any, dynamodb: Any) -> None:
    event = load_event("invalid_lambda_response")
    event["CallDetails"]["Participants"].append(dict(LEG_B))
    event["CallDetails"]["TransactionAttributes"] = {STATE_KEY: "not json"}

    response = sma_app.handler(event, None)

    assert action_types(response) == ["Hangup", "PlayAudio", "Hangup"]
    assert response["Actions"][0]["Parameters"]["CallId"] == "e5f6a7b8-leg-b"
    assert response["Actions"][2]["Parameters"]["CallId"] == "a1b2c3d4-leg-a"


def test_an_error_when_only_the_callee_is_left_hangs_it_up(sma_app: Any, dynamodb: Any) -> None:
    event = load_event("invalid_lambda_response")
    event["CallDetails"]["Participants"][0]["Status"] = "Disconnected"
    event["CallDetails"]["Participants"].append(dict(LEG_B))

    response = sma_app.handler(event, None)

    assert response["Actions"] == [
        {"Type": "Hangup", "Parameters": {"CallId": "e5f6a7b8-leg-b", "SipResponseCode": "0"}}
    ]


@pytest.fixture
def sma_log(sma_app: Any) -> Iterator[io.StringIO]:
    """The SMA's log lines, exactly as it writes them to stdout on Lambda."""
    stream = io.StringIO()
    sma_app.logger.stream = stream
    yield stream
    sma_app.logger.stream = None


def test_a_log_line_never_carries_the_previous_calls_correlation_id(
    sma_app: Any, dynamodb: Any, sma_log: io.StringIO
) -> None:
    first = load_event("invalid_lambda_response")
    first["CallDetails"]["TransactionId"] = "tx-previous-call"
    sma_app.handler(first, None)
    assert "tx-previous-call" in sma_log.getvalue()  # the first call's lines carry its id
    sma_log.truncate(0)
    sma_log.seek(0)

    sma_app.handler({"InvocationEventType": "HANGUP"}, None)  # no CallDetails, no transaction id

    lines = [json.loads(line) for line in sma_log.getvalue().splitlines()]
    assert lines, "the malformed event is logged"
    assert all(line.get("correlation_id") != "tx-previous-call" for line in lines), lines


@pytest.mark.parametrize("caller", ["x" * 5_000, "Anonymous\r\nX-Injected: 1"])
def test_a_hostile_from_is_carried_bounded_and_the_call_keeps_its_state(
    sma_app: Any, dynamodb: Any, caller: str
) -> None:
    put_rule(dynamodb)
    call = CallDriver(sma_app.handler, "tx-from")
    call.send("new_inbound_call", caller=caller)
    state = json.loads(call.attributes[STATE_KEY])
    assert len(state["c"]) <= 64
    assert "\r" not in state["c"]
    assert "\n" not in state["c"]

    answered = call.send("action_successful_call_and_bridge", destination=FIRST)
    assert STATE_KEY in answered["TransactionAttributes"]  # the state still reads back
    assert json.loads(answered["TransactionAttributes"][STATE_KEY])["p"] == "bridged"
