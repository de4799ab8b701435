"""sma.events: PSTN Audio invocation payloads to PstnEvent, tolerant of spellings, strict on shape."""

from __future__ import annotations

from typing import Any

import pytest

from sma.events import LEG_A, LEG_B, MalformedInvocationError, Participant, PstnEvent, parse_event
from tests.helpers import EVENTS, load_event

SMA_ID = "1b2c3d4e-5f60-7182-93a4-b5c6d7e8f901"
TX = "7e5fa3b8-4b3f-4c1e-9d1a-2f4b5c6d7e8f"
# PSTN Audio fixtures only: tests/events also holds Amazon Connect events (connect_*.json).
FIXTURES = sorted(path.stem for path in EVENTS.glob("*.json") if not path.stem.startswith("connect_"))


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses_with_its_type_transaction_and_legs(name: str) -> None:
    raw = load_event(name)
    event = parse_event(raw)
    assert event.type == raw["InvocationEventType"]
    assert event.transaction_id == TX
    assert event.sequence == raw["Sequence"]
    assert event.sip_media_application_id == SMA_ID
    assert [p.call_id for p in event.participants] == [
        p["CallId"] for p in raw["CallDetails"]["Participants"]
    ]
    leg_a = event.leg(LEG_A)
    assert leg_a is not None
    assert (leg_a.call_id, leg_a.to, leg_a.from_) == ("a1b2c3d4-leg-a", "+12025550100", "+13035550123")
    assert leg_a.direction == "Inbound"


def test_new_inbound_call() -> None:
    event = parse_event(load_event("new_inbound_call"))
    assert event.type == "NEW_INBOUND_CALL"
    assert event.attributes == {}
    assert event.action_type == ""
    assert event.action_parameters == {}
    assert (event.error_type, event.error_message) == ("", "")
    assert event.leg(LEG_B) is None
    assert event.disconnected_tags == ()


def test_documentation_variant_spellings_are_accepted() -> None:
    # SipApplicationId instead of SipMediaApplicationId, ParticipantTag "Leg-A" instead of "LEG-A".
    variant = parse_event(load_event("new_inbound_call_doc_variant"))
    canonical = parse_event(load_event("new_inbound_call"))
    assert variant.sip_media_application_id == SMA_ID
    assert variant.participants[0].tag == LEG_A
    assert variant.leg(LEG_A) == canonical.leg(LEG_A)


@pytest.mark.parametrize(("spelling", "tag"), [("leg-b", LEG_B), ("Leg-B", LEG_B), ("LEG-A", LEG_A)])
def test_participant_tags_are_normalised(spelling: str, tag: str) -> None:
    raw = load_event("new_outbound_call")
    raw["CallDetails"]["Participants"][1]["ParticipantTag"] = spelling
    assert parse_event(raw).participants[1].tag == tag


def test_sip_media_application_id_prefers_the_current_spelling() -> None:
    raw = load_event("new_inbound_call")
    raw["CallDetails"]["SipApplicationId"] = "older-spelling"
    assert parse_event(raw).sip_media_application_id == SMA_ID
    del raw["CallDetails"]["SipMediaApplicationId"]
    assert parse_event(raw).sip_media_application_id == "older-spelling"
    del raw["CallDetails"]["SipApplicationId"]
    assert parse_event(raw).sip_media_application_id == ""


def test_action_failed_carries_action_and_error() -> None:
    event = parse_event(load_event("action_failed_call_and_bridge"))
    assert event.action_type == "CallAndBridge"
    assert event.action_parameters["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": "+12065550111"}]
    assert (event.error_type, event.error_message) == ("CallNotAnswered", "Call not answered")


def test_play_audio_failure() -> None:
    event = parse_event(load_event("action_failed_play_audio"))
    assert (event.action_type, event.error_type) == ("PlayAudio", "InvalidAudioSource")


def test_invalid_lambda_response_reads_the_top_level_error() -> None:
    event = parse_event(load_event("invalid_lambda_response"))
    assert event.action_type == ""
    assert (event.error_type, event.error_message) == ("InvalidLambdaResponse", "Invalid Action Type")


def test_action_data_error_wins_over_a_top_level_one() -> None:
    raw = load_event("action_failed_call_and_bridge")
    raw["ErrorType"] = "InvalidLambdaResponse"
    assert parse_event(raw).error_type == "CallNotAnswered"


@pytest.mark.parametrize(
    ("name", "gone", "connected_b"),
    [
        ("hangup_leg_a", (LEG_A,), True),
        ("hangup_leg_b", (LEG_B,), False),
        ("action_successful_hangup", (LEG_A,), None),
        ("action_successful_call_and_bridge", (), True),
    ],
)
def test_disconnected_legs(name: str, gone: tuple[str, ...], connected_b: bool | None) -> None:
    event = parse_event(load_event(name))
    assert event.disconnected_tags == gone
    leg_b = event.leg(LEG_B)
    assert (leg_b.connected if leg_b else None) is connected_b


def test_hangup_action_parameters_name_the_leg() -> None:
    event = parse_event(load_event("hangup_leg_b"))
    assert event.action_parameters["ParticipantTag"] == LEG_B


@pytest.mark.parametrize(
    ("status", "connected"),
    [("Connected", True), ("Disconnected", False), ("DISCONNECTED", False), ("disconnected", False)],
)
def test_participant_connected_ignores_case(status: str, connected: bool) -> None:
    participant = Participant("id", LEG_A, "+1", "+2", "Inbound", status)
    assert participant.connected is connected


def test_transaction_attributes_become_strings() -> None:
    raw = load_event("ringing")
    raw["CallDetails"]["TransactionAttributes"] = {"switchboard": "{}", "n": 5, "flag": True}
    assert parse_event(raw).attributes == {"switchboard": "{}", "n": "5", "flag": "True"}


@pytest.mark.parametrize(
    ("sequence", "parsed"), [("7", 7), (7, 7), (None, 0), ("", 0), ("seven", 0), ([1], 0)]
)
def test_sequence_is_an_int_or_zero(sequence: Any, parsed: int) -> None:
    raw = load_event("ringing")
    raw["Sequence"] = sequence
    assert parse_event(raw).sequence == parsed


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("CallDetails", "TransactionAttributes"), "not-a-map"),
        (("CallDetails", "TransactionAttributes"), None),
        (("ActionData",), "not-a-map"),
        (("ActionData", "Parameters"), ["not", "a", "map"]),
        (("CallDetails", "Participants"), None),
        (("CallDetails", "Participants"), []),
    ],
)
def test_oddly_shaped_optional_parts_are_tolerated(path: tuple[str, ...], value: Any) -> None:
    raw = load_event("action_failed_call_and_bridge")
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    event = parse_event(raw)
    assert isinstance(event, PstnEvent)
    assert event.type == "ACTION_FAILED"


def test_sparse_participant_gets_empty_fields_and_counts_as_connected() -> None:
    raw = load_event("ringing")
    raw["CallDetails"]["Participants"] = [{}]
    (participant,) = parse_event(raw).participants
    assert participant == Participant("", "", "", "", "", "Connected")
    assert participant.connected


def _without(name: str, *path: str) -> dict[str, Any]:
    raw = load_event(name)
    target = raw
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return raw


def _with(name: str, value: Any, *path: str) -> dict[str, Any]:
    raw = load_event(name)
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "not a JSON object"),
        ([], "not a JSON object"),
        ("NEW_INBOUND_CALL", "not a JSON object"),
        (42, "not a JSON object"),
        ({}, "InvocationEventType is missing"),
        (_without("new_inbound_call", "InvocationEventType"), "InvocationEventType is missing"),
        (_with("new_inbound_call", "", "InvocationEventType"), "InvocationEventType is missing"),
        (_with("new_inbound_call", 1, "InvocationEventType"), "InvocationEventType is missing"),
        (_without("new_inbound_call", "CallDetails"), "CallDetails is missing"),
        (_with("new_inbound_call", "details", "CallDetails"), "CallDetails is missing"),
        (_with("new_inbound_call", [], "CallDetails"), "CallDetails is missing"),
        (_with("new_inbound_call", {"LEG-A": {}}, "CallDetails", "Participants"), "not a list"),
        (_with("new_inbound_call", "LEG-A", "CallDetails", "Participants"), "not a list"),
        (_with("new_inbound_call", ["LEG-A"], "CallDetails", "Participants"), "participant is not an object"),
        (_with("new_inbound_call", [None], "CallDetails", "Participants"), "participant is not an object"),
    ],
)
def test_malformed_payloads_raise_malformed_event_error(raw: Any, reason: str) -> None:
    with pytest.raises(MalformedInvocationError, match=reason):
        parse_event(raw)
