"""switchboard_local.pstn.schema: the checker that stands in for PSTN Audio's response validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from switchboard_local.pstn.schema import KNOWN_ACTIONS, MAX_ACTIONS, MAX_ATTRIBUTES, response_errors

AUDIO = {"Type": "S3", "BucketName": "prompts-bucket", "Key": "prompts/greeting.wav"}
BRIDGE = {
    "Type": "CallAndBridge",
    "Parameters": {
        "CallTimeoutSeconds": 30,
        "CallerIdNumber": "+12025550100",
        "Endpoints": [{"BridgeEndpointType": "PSTN", "Uri": "+12065550111"}],
        "RingbackTone": AUDIO,
    },
}
PLAY = {"Type": "PlayAudio", "Parameters": {"CallId": "leg-a-id", "AudioSource": AUDIO}}
HANGUP = {"Type": "Hangup", "Parameters": {"ParticipantTag": "LEG-A", "SipResponseCode": "480"}}


def respond(*actions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"SchemaVersion": "1.0", "Actions": [copy.deepcopy(a) for a in actions], **extra}


def with_parameters(action: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(action)
    for key, value in changes.items():
        if value is None:
            changed["Parameters"].pop(key, None)
        else:
            changed["Parameters"][key] = value
    return changed


@pytest.mark.parametrize(
    "response",
    [
        respond(),
        respond(BRIDGE),
        respond(PLAY, BRIDGE),
        respond(PLAY, HANGUP),
        respond(with_parameters(HANGUP, ParticipantTag=None)),  # Hangup may omit the leg
        respond(with_parameters(HANGUP, SipResponseCode=None)),
        respond(with_parameters(BRIDGE, RingbackTone=None, CallTimeoutSeconds=None)),
        respond(
            with_parameters(BRIDGE, CallTimeoutSeconds=1), with_parameters(BRIDGE, CallTimeoutSeconds=120)
        ),
        respond(*[HANGUP] * MAX_ACTIONS),
        respond({"Type": "Speak", "Parameters": {"Text": "hello", "CallId": "x"}}),
        respond({"Type": "Pause", "Parameters": {"DurationInMilliseconds": "3000"}}),
        respond(
            {
                "Type": "CallAndBridge",
                "Parameters": {
                    "CallerIdNumber": "+12025550100",
                    "Endpoints": [{"BridgeEndpointType": "AWS", "Arn": "arn:vc", "Uri": "5550100"}],
                    "SipHeaders": {"X-Transfer": "yes"},
                },
            }
        ),
        respond(HANGUP, TransactionAttributes={"switchboard": "{}"}),
        respond(TransactionAttributes={f"k{n}": "v" for n in range(MAX_ATTRIBUTES)}),
    ],
)
def test_valid_responses_have_no_errors(response: dict[str, Any]) -> None:
    assert response_errors(response) == []


@pytest.mark.parametrize("kind", sorted(KNOWN_ACTIONS))
def test_every_known_action_type_is_accepted_by_name(kind: str) -> None:
    errors = response_errors(respond({"Type": kind, "Parameters": {}}))
    assert not any("is not a PSTN Audio action" in e for e in errors)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ([], "the response must be a JSON object"),
        ({"Actions": []}, 'SchemaVersion must be "1.0"'),
        ({"SchemaVersion": "1.0"}, "Actions must be a list"),
        ({"SchemaVersion": "1.0", "Actions": {}}, "Actions must be a list"),
        (respond(*[HANGUP] * (MAX_ACTIONS + 1)), "at most 10 actions are allowed, got 11"),
        (respond("Hangup"), "Actions[0] must be an object"),
        (respond({"Type": "Transfer"}), "Actions[0].Type 'Transfer' is not a PSTN Audio action"),
        (respond(HANGUP, {"Parameters": {}}), "Actions[1].Type None is not a PSTN Audio action"),
        (respond({"Type": "Hangup", "Parameters": []}), "Actions[0].Parameters must be an object"),
        (
            respond(HANGUP, TransactionAttributes={f"k{n}": "v" for n in range(MAX_ATTRIBUTES + 1)}),
            "at most 10 TransactionAttributes, got 11",
        ),
        (respond(TransactionAttributes={"k": 1}), "TransactionAttributes keys and values must be strings"),
        (respond(TransactionAttributes=["k"]), "TransactionAttributes must be an object"),
    ],
)
def test_response_level_errors(response: Any, expected: str) -> None:
    assert expected in response_errors(response)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"CallTimeoutSeconds": 0}, "CallTimeoutSeconds must be an integer 1-120"),
        ({"CallTimeoutSeconds": 121}, "CallTimeoutSeconds must be an integer 1-120"),
        ({"CallTimeoutSeconds": "30"}, "CallTimeoutSeconds must be an integer 1-120"),
        ({"CallTimeoutSeconds": True}, "CallTimeoutSeconds must be an integer 1-120"),
        ({"CallerIdNumber": "2025550100"}, "CallerIdNumber must be an E.164 number"),
        ({"CallerIdNumber": "+12025550100\n"}, "CallerIdNumber must be an E.164 number"),
        ({"CallerIdNumber": 12025550100}, "CallerIdNumber must be an E.164 number"),
        ({"Endpoints": []}, "Endpoints must contain exactly one endpoint"),
        ({"Endpoints": [{}, {}]}, "Endpoints must contain exactly one endpoint"),
        ({"Endpoints": ["+12065550111"]}, "Endpoints[0] must be an object"),
        (
            {"Endpoints": [{"BridgeEndpointType": "SIP", "Uri": "x"}]},
            "BridgeEndpointType must be PSTN or AWS",
        ),
        ({"Endpoints": [{"BridgeEndpointType": "PSTN", "Uri": "2065550111"}]}, "Uri must be an E.164 number"),
        ({"Endpoints": [{"BridgeEndpointType": "AWS", "Uri": "x"}]}, "Arn is required for AWS endpoints"),
        ({"Endpoints": [{"BridgeEndpointType": "AWS", "Arn": "a"}]}, "Uri is required for AWS endpoints"),
        ({"SipHeaders": {"X-Foo": "bar"}}, "SipHeaders are only allowed for AWS endpoints"),
        ({"SipHeaders": {"Foo": "bar"}}, "'Foo' must start with x- and have a string value"),
        ({"SipHeaders": {"X-Foo": 1}}, "'X-Foo' must start with x- and have a string value"),
        ({"RingbackTone": "greeting.wav"}, "RingbackTone must be an object"),
        ({"RingbackTone": {**AUDIO, "Type": "URL"}}, "RingbackTone.Type must be S3"),
        ({"RingbackTone": {**AUDIO, "BucketName": ""}}, "RingbackTone.BucketName must be a non-empty string"),
    ],
)
def test_call_and_bridge_errors(changes: dict[str, Any], expected: str) -> None:
    errors = response_errors(respond(with_parameters(BRIDGE, **changes)))
    assert any(expected in e for e in errors), errors
    assert all(e.startswith("Actions[0] (CallAndBridge)") for e in errors)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (with_parameters(PLAY, Repeat=0), "Repeat must be an integer 1-100"),
        (with_parameters(PLAY, Repeat=101), "Repeat must be an integer 1-100"),
        (with_parameters(PLAY, AudioSource=None), "AudioSource must be an object"),
        (
            with_parameters(PLAY, AudioSource={**AUDIO, "Key": ""}),
            "AudioSource.Key must be a non-empty string",
        ),
        (with_parameters(PLAY, CallId=""), "CallId must be a non-empty string"),
        (with_parameters(PLAY, CallId=None, ParticipantTag="LEG-C"), "ParticipantTag must be LEG-A or LEG-B"),
        (with_parameters(PLAY, CallId=None, ParticipantTag="Leg-A"), "ParticipantTag must be LEG-A or LEG-B"),
        (with_parameters(HANGUP, SipResponseCode="404"), "SipResponseCode must be 0, 480 or 486"),
        ({"Type": "Speak", "Parameters": {"Text": ""}}, "Text must be 1-1000 characters"),
        ({"Type": "Speak", "Parameters": {"Text": "x" * 1001}}, "Text must be 1-1000 characters"),
        (
            {"Type": "Pause", "Parameters": {"DurationInMilliseconds": "soon"}},
            "must be a number of milliseconds",
        ),
        ({"Type": "Pause", "Parameters": {}}, "must be a number of milliseconds"),
    ],
)
def test_action_errors(action: dict[str, Any], expected: str) -> None:
    errors = response_errors(respond(action))
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("code", ["0", "480", "486", 0, 480, 486])
def test_hangup_accepts_the_three_sip_codes_as_strings_or_numbers(code: object) -> None:
    assert response_errors(respond(with_parameters(HANGUP, SipResponseCode=code))) == []


def test_every_error_is_reported_not_just_the_first() -> None:
    errors = response_errors(
        {
            "SchemaVersion": "2.0",
            "Actions": [with_parameters(BRIDGE, CallTimeoutSeconds=0, CallerIdNumber="x"), {"Type": "Nope"}],
        }
    )
    assert len(errors) == 4
    assert errors[0] == 'SchemaVersion must be "1.0"'
    assert any(e.startswith("Actions[1]") for e in errors)
