"""RecordAudio in and out of the SIP media application: the rendered action, the documented result
events it reads, and the simulator's schema check of the action."""

from __future__ import annotations

from typing import Any

import pytest

from sma.actions import PromptLocation, render, response
from sma.events import parse_event
from sma.forwarding import recording_prefix
from switchboard.domain.callflow import RecordMessage
from switchboard_local.pstn.schema import response_errors
from tests.helpers import load_event

PREFIX = "voicemail/2023-11-14/tx-1/"


def record_audio(**changes: Any) -> dict[str, Any]:
    (action,) = render(
        [RecordMessage(prefix=PREFIX, max_seconds=90)],
        PromptLocation("prompts"),
        parse_event(load_event("action_successful_play_audio")),
        "recordings",
    )
    action["Parameters"].update(changes)
    return action


def test_record_message_renders_record_audio_of_the_caller_into_the_recordings_bucket() -> None:
    action = record_audio()

    assert action == {
        "Type": "RecordAudio",
        "Parameters": {
            "CallId": "a1b2c3d4-leg-a",
            "DurationInSeconds": 90,
            "SilenceDurationInSeconds": 5,
            "SilenceThreshold": 100,
            "RecordingTerminators": ["#"],
            "RecordingDestination": {"Type": "S3", "BucketName": "recordings", "Prefix": PREFIX},
        },
    }
    assert response_errors(response([action])) == []


def test_without_a_recordings_bucket_nothing_is_recorded() -> None:
    assert render([RecordMessage(prefix=PREFIX, max_seconds=90)], PromptLocation("prompts"), None) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"RecordingTerminators": []}, "RecordingTerminators"),
        ({"RecordingTerminators": ["##"]}, "RecordingTerminators"),
        ({"DurationInSeconds": 0}, "DurationInSeconds"),
        ({"SilenceDurationInSeconds": 1001}, "SilenceDurationInSeconds"),
        ({"RecordingDestination": {"Type": "S3", "BucketName": ""}}, "BucketName"),
        ({"RecordingDestination": {"Type": "S3", "BucketName": "b", "Prefix": "p" * 980}}, "Prefix"),
    ],
)
def test_the_simulator_rejects_record_audio_the_service_would(changes: dict[str, Any], problem: str) -> None:
    errors = response_errors(response([record_audio(**changes)]))
    assert any(problem in error for error in errors), errors


def test_a_recording_result_carries_where_the_file_is_and_the_key_that_ended_it() -> None:
    event = parse_event(load_event("action_successful_record_audio"))

    assert event.action_type == "RecordAudio"
    assert event.recording_bucket == "switchboard-recordings"
    assert event.recording_key.startswith("voicemail/2023-11-14/")
    assert event.recording_key.endswith(".wav")
    assert event.recording_terminator == "#"


def test_silence_or_the_maximum_leave_no_terminator() -> None:
    raw = load_event("action_successful_record_audio")
    del raw["ActionData"]["RecordingTerminatorUsed"]
    assert parse_event(raw).recording_terminator == ""


@pytest.mark.parametrize("junk", [None, 7, ["k"], {"Key": 1}])
def test_a_malformed_recording_destination_is_no_recording(junk: Any) -> None:
    raw = load_event("action_successful_record_audio")
    raw["ActionData"]["RecordingDestination"] = junk
    event = parse_event(raw)
    assert (event.recording_bucket, event.recording_key) == ("", "")


def test_the_recording_prefix_is_dated_per_call_and_safe_as_an_s3_key() -> None:
    assert recording_prefix("7e5fa3b8-4b3f", 1_700_000_000_000) == "voicemail/2023-11-14/7e5fa3b8-4b3f/"
    assert recording_prefix("../../x y", 0) == "voicemail/1970-01-01/....xy/"
    assert recording_prefix("", 0) == "voicemail/1970-01-01/unknown/"
