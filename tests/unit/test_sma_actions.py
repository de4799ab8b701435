"""sma.actions: call-flow steps rendered as PSTN Audio actions."""

from __future__ import annotations

import pytest

from sma.actions import MAX_ACTIONS, SCHEMA_VERSION, PromptLocation, render, response
from sma.events import PstnEvent, parse_event
from switchboard.domain.callflow import Bridge, HangUp, HangupCause, Leg, PlayPrompt, Prompt, Step
from switchboard_local.pstn.schema import response_errors
from tests.helpers import load_event

PROMPTS = PromptLocation("prompts-bucket")
OURS = "+12025550100"
FIRST = "+12065550111"
LEG_A_ID = "a1b2c3d4-leg-a"
LEG_B_ID = "e5f6a7b8-leg-b"


def both_legs() -> PstnEvent:
    return parse_event(load_event("action_successful_call_and_bridge"))


def leg_a_only() -> PstnEvent:
    return parse_event(load_event("new_inbound_call"))


@pytest.mark.parametrize("prompt", list(Prompt))
def test_prompt_location_names_one_wav_per_prompt(prompt: Prompt) -> None:
    assert PromptLocation("b", "audio/").source(prompt) == {
        "Type": "S3",
        "BucketName": "b",
        "Key": f"audio/{prompt.value}.wav",
    }


def test_default_prefix_is_prompts() -> None:
    assert PROMPTS.source(Prompt.FAILURE)["Key"] == "prompts/failure.wav"


def test_play_prompt_renders_play_audio_on_the_leg() -> None:
    (action,) = render([PlayPrompt(Prompt.GREETING)], PROMPTS, leg_a_only())
    assert action == {
        "Type": "PlayAudio",
        "Parameters": {
            "CallId": LEG_A_ID,
            "AudioSource": {"Type": "S3", "BucketName": "prompts-bucket", "Key": "prompts/greeting.wav"},
        },
    }


@pytest.mark.parametrize(
    ("ringback", "tone"),
    [
        (Prompt.GREETING, {"Type": "S3", "BucketName": "prompts-bucket", "Key": "prompts/greeting.wav"}),
        (None, None),
    ],
)
def test_bridge_renders_call_and_bridge_to_one_pstn_endpoint(ringback: Prompt | None, tone: object) -> None:
    (action,) = render([Bridge(FIRST, OURS, 25, ringback)], PROMPTS, leg_a_only())
    assert action["Type"] == "CallAndBridge"
    parameters = action["Parameters"]
    assert parameters["CallTimeoutSeconds"] == 25
    assert parameters["CallerIdNumber"] == OURS
    assert parameters["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": FIRST}]
    assert parameters.get("RingbackTone") == tone
    assert "CallId" not in parameters  # CallAndBridge always acts on the inbound leg
    assert "ParticipantTag" not in parameters


@pytest.mark.parametrize(("cause", "code"), [(HangupCause.NORMAL, "0"), (HangupCause.UNAVAILABLE, "480")])
def test_hangup_renders_the_sip_code(cause: HangupCause, code: str) -> None:
    (action,) = render([HangUp(Leg.CALLER, cause)], PROMPTS, leg_a_only())
    assert action == {"Type": "Hangup", "Parameters": {"CallId": LEG_A_ID, "SipResponseCode": code}}


@pytest.mark.parametrize(
    ("leg", "event", "target"),
    [
        (Leg.CALLER, "both", {"CallId": LEG_A_ID}),
        (Leg.CALLEE, "both", {"CallId": LEG_B_ID}),
        (Leg.CALLER, "leg_a", {"CallId": LEG_A_ID}),
        (Leg.CALLEE, "leg_a", {"ParticipantTag": "LEG-B"}),  # LEG-B not in this event: by tag
        (Leg.CALLER, "none", {"ParticipantTag": "LEG-A"}),  # no event at all (malformed input)
        (Leg.CALLEE, "none", {"ParticipantTag": "LEG-B"}),
    ],
)
def test_legs_are_targeted_by_call_id_when_known_else_by_tag(
    leg: Leg, event: str, target: dict[str, str]
) -> None:
    pstn_event = {"both": both_legs(), "leg_a": leg_a_only(), "none": None}[event]
    hangup, play = render([HangUp(leg), PlayPrompt(Prompt.ERROR, leg)], PROMPTS, pstn_event)
    for action in (hangup, play):
        addressed = {k: v for k, v in action["Parameters"].items() if k in ("CallId", "ParticipantTag")}
        assert addressed == target


def test_participant_without_call_id_is_targeted_by_tag() -> None:
    raw = load_event("new_inbound_call")
    raw["CallDetails"]["Participants"][0]["CallId"] = ""
    (action,) = render([HangUp(Leg.CALLER)], PROMPTS, parse_event(raw))
    assert action["Parameters"]["ParticipantTag"] == "LEG-A"
    assert "CallId" not in action["Parameters"]


def test_without_prompts_prompts_are_skipped_and_bridges_lose_their_ringback() -> None:
    steps: list[Step] = [
        PlayPrompt(Prompt.GREETING),
        Bridge(FIRST, OURS, 30, Prompt.GREETING),
        PlayPrompt(Prompt.FAILURE),
        HangUp(Leg.CALLER, HangupCause.UNAVAILABLE),
    ]
    actions = render(steps, None, leg_a_only())
    assert [a["Type"] for a in actions] == ["CallAndBridge", "Hangup"]
    assert "RingbackTone" not in actions[0]["Parameters"]
    assert response_errors(response(actions)) == []


def test_steps_keep_their_order() -> None:
    steps: list[Step] = [
        HangUp(Leg.CALLEE),
        PlayPrompt(Prompt.ERROR),
        HangUp(Leg.CALLER, HangupCause.UNAVAILABLE),
    ]
    actions = render(steps, PROMPTS, both_legs())
    assert [(a["Type"], a["Parameters"].get("CallId")) for a in actions] == [
        ("Hangup", LEG_B_ID),
        ("PlayAudio", LEG_A_ID),
        ("Hangup", LEG_A_ID),
    ]


def test_no_steps_no_actions() -> None:
    assert render([], PROMPTS, both_legs()) == []


@pytest.mark.parametrize("count", [MAX_ACTIONS, MAX_ACTIONS + 1, 25])
def test_at_most_ten_actions_keeping_the_first(count: int) -> None:
    steps = [Bridge(f"+1206555{n:04d}", OURS, 30) for n in range(count)]
    actions = render(steps, PROMPTS, None)
    assert len(actions) == min(count, MAX_ACTIONS) == 10
    assert [a["Parameters"]["Endpoints"][0]["Uri"] for a in actions] == [s.destination for s in steps[:10]]


def test_render_accepts_any_iterable_of_steps() -> None:
    actions = render(iter([HangUp(Leg.CALLER)]), PROMPTS, None)
    assert actions == [{"Type": "Hangup", "Parameters": {"ParticipantTag": "LEG-A", "SipResponseCode": "0"}}]


@pytest.mark.parametrize("event", [None, "leg_a", "both"])
def test_every_rendering_is_a_valid_pstn_audio_response(event: str | None) -> None:
    pstn_event = {None: None, "leg_a": leg_a_only(), "both": both_legs()}[event]
    steps: list[Step] = [
        PlayPrompt(Prompt.GREETING),
        Bridge(FIRST, OURS, 120, Prompt.GREETING),
        Bridge(FIRST, OURS, 1, None),
        PlayPrompt(Prompt.ERROR, Leg.CALLEE),
        HangUp(Leg.CALLEE),
        HangUp(Leg.CALLER, HangupCause.UNAVAILABLE),
    ]
    for prompts in (PROMPTS, None):
        assert response_errors(response(render(steps, prompts, pstn_event), {"k": "v"})) == []


def test_response_wraps_actions_and_only_includes_attributes_when_there_are_some() -> None:
    actions = render([HangUp(Leg.CALLER)], PROMPTS, None)
    assert response(actions) == {"SchemaVersion": SCHEMA_VERSION, "Actions": actions}
    assert response(actions, {}) == {"SchemaVersion": "1.0", "Actions": actions}
    assert response([], {"switchboard": "{}"}) == {
        "SchemaVersion": "1.0",
        "Actions": [],
        "TransactionAttributes": {"switchboard": "{}"},
    }
