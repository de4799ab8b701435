"""Voicemail through the PSTN Audio simulator and the real ``sma.app.handler``: greeting, recording,
thank you; every way a message ends; the hang-ups and failures on the way; one record write."""

from __future__ import annotations

import io
import wave
from datetime import datetime
from typing import Any

import pytest

from switchboard.domain.rules import FailureAction
from switchboard_local.pstn.simulator import CallerBehaviour, CallTranscript, PhoneBehaviour, PstnSimulator
from tests.functional.conftest import BUCKET, RECORDINGS
from tests.functional.test_sma_forwarding import FIRST, OURS, SECOND, call_items, put_rule
from tests.helpers import CallDriver

CALLER = "+13035550123"
NOBODY = {FIRST: PhoneBehaviour.no_answer(), SECOND: PhoneBehaviour.busy()}
MESSAGE = "Hi, the backup job failed, call me back"  # 39 characters: 2.6 s at 15 a second
GREETING_SECONDS = 3.0  # the simulator's length of every prompt here


@pytest.fixture
def saved() -> dict[str, tuple[bytes, str]]:
    return {}


@pytest.fixture
def writable() -> set[str]:
    return {RECORDINGS}


@pytest.fixture
def simulator(
    sma_app: Any,
    monkeypatch: pytest.MonkeyPatch,
    saved: dict[str, tuple[bytes, str]],
    writable: set[str],
) -> PstnSimulator:
    def save(bucket: str, key: str, audio: bytes, words: str) -> None:
        saved[f"{bucket}/{key}"] = (audio, words)

    sim = PstnSimulator(
        sma_app.handler,
        prompt_exists=lambda bucket, key: bucket == BUCKET,
        save_recording=save,
        recordings_writable=lambda bucket: bucket in writable,
    )
    monkeypatch.setattr(sma_app.app, "clock", sim.clock)
    return sim


def call(simulator: PstnSimulator, dynamodb: Any, caller: CallerBehaviour, **rule: Any) -> CallTranscript:
    put_rule(dynamodb, failure=FailureAction.VOICEMAIL, ring_timeout=20, **rule)
    transcript = simulator.place_call(OURS, CALLER, phones=NOBODY, caller=caller)
    assert transcript.flags == [], transcript.render()
    return transcript


def actions(transcript: CallTranscript) -> list[str]:
    """Every action the handler returned, as ``Type`` or ``PlayAudio <file>``."""
    names = []
    for response in transcript.responses:
        for action in response.get("Actions", []) if isinstance(response, dict) else []:
            if action["Type"] == "PlayAudio":
                names.append(f"PlayAudio {action['Parameters']['AudioSource']['Key'].rsplit('/', 1)[-1]}")
            else:
                names.append(action["Type"])
    return names


def wav_seconds(audio: bytes) -> float:
    with wave.open(io.BytesIO(audio), "rb") as recording:
        assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (8000, 1, 2)
        return recording.getnframes() / 8000


def loudest(audio: bytes) -> int:
    with wave.open(io.BytesIO(audio), "rb") as recording:
        frames = recording.readframes(recording.getnframes())
    return max(
        (abs(int.from_bytes(frames[i : i + 2], "little", signed=True)) for i in range(0, len(frames), 2)),
        default=0,
    )


def test_a_caller_nobody_answers_leaves_a_message_and_presses_pound(
    simulator: PstnSimulator, dynamodb: Any, saved: dict[str, tuple[bytes, str]]
) -> None:
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE, message_ends="#"))

    assert actions(transcript) == [
        "CallAndBridge",
        "CallAndBridge",
        "PlayAudio voicemail.wav",
        "RecordAudio",
        "PlayAudio thank_you.wav",
        "Hangup",
    ]
    record_audio = transcript.events_of("ACTION_SUCCESSFUL")[-1]["ActionData"]
    assert record_audio["Type"] == "RecordAudio"
    parameters = record_audio["Parameters"]
    assert parameters["ParticipantTag" if "ParticipantTag" in parameters else "CallId"]
    assert parameters["DurationInSeconds"] == 120
    assert parameters["RecordingTerminators"] == ["#"]
    assert parameters["RecordingDestination"]["BucketName"] == RECORDINGS
    assert parameters["RecordingDestination"]["Prefix"].endswith(f"/{transcript.transaction_id}/")
    key = record_audio["RecordingDestination"]["Key"]
    audio, words = saved[f"{RECORDINGS}/{key}"]
    assert words == MESSAGE
    assert wav_seconds(audio) == pytest.approx(2.6 + 0.5, abs=0.01)
    assert loudest(audio) > 1000  # the caller's words are in it

    items = call_items(dynamodb, transcript.transaction_id)
    assert set(items) == {"RECORD", "EVENT#bridge_failed", "EVENT#voicemail"}
    event = items["EVENT#voicemail"]
    assert (event["kind"], event["event_type"], event["event_id"]) == (
        "call_event",
        "voicemail",
        f"{transcript.transaction_id}:voicemail",
    )
    assert (event["recording_bucket"], event["recording_key"]) == (RECORDINGS, key)
    assert key.startswith(event["recording_prefix"])
    assert (event["ended_by"], event["duration_seconds"], event["max_seconds"]) == ("#", 3, 120)
    assert (event["dialed"], event["caller"], event["all_failed"]) == (OURS, CALLER, True)
    assert items["RECORD"]["outcome"] == "no-answer"
    assert items["RECORD"]["voicemail"]["key"] == key


def test_a_message_that_ends_in_silence_is_delivered_with_its_length(
    simulator: PstnSimulator, dynamodb: Any
) -> None:
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE, message_ends="silence"))

    event = call_items(dynamodb, transcript.transaction_id)["EVENT#voicemail"]
    assert event["ended_by"] == "silence"
    assert event["duration_seconds"] == 7  # 2.6 s of words and the 5 s of silence that ended it
    assert actions(transcript)[-2:] == ["PlayAudio thank_you.wav", "Hangup"]


def test_a_caller_who_says_nothing_leaves_no_message(
    simulator: PstnSimulator, dynamodb: Any, saved: dict[str, tuple[bytes, str]]
) -> None:
    transcript = call(simulator, dynamodb, CallerBehaviour(message="", message_ends="silence"))

    items = call_items(dynamodb, transcript.transaction_id)
    assert set(items) == {"RECORD", "EVENT#bridge_failed"}
    assert "voicemail" not in items["RECORD"]
    assert actions(transcript)[-2:] == ["PlayAudio thank_you.wav", "Hangup"]


def test_a_message_longer_than_the_rule_allows_is_cut_at_the_maximum(
    simulator: PstnSimulator, dynamodb: Any, saved: dict[str, tuple[bytes, str]]
) -> None:
    long_message = " ".join([MESSAGE] * 10)  # 26 s of words
    transcript = call(
        simulator, dynamodb, CallerBehaviour(message=long_message, message_ends="#"), voicemail_max_seconds=10
    )

    event = call_items(dynamodb, transcript.transaction_id)["EVENT#voicemail"]
    assert (event["ended_by"], event["duration_seconds"], event["max_seconds"]) == ("max", 10, 10)
    audio, _ = saved[f"{RECORDINGS}/{event['recording_key']}"]
    assert wav_seconds(audio) == pytest.approx(10.0)
    assert actions(transcript)[-2:] == ["PlayAudio thank_you.wav", "Hangup"]


def test_a_caller_who_hangs_up_mid_message_still_leaves_what_they_said(
    simulator: PstnSimulator, dynamodb: Any, saved: dict[str, tuple[bytes, str]]
) -> None:
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE, message_ends="hangup"))

    assert transcript.outcome.ended_by == "caller"
    hangup = transcript.events_of("HANGUP")[0]["ActionData"]
    assert hangup["Type"] == "RecordAudio"
    event = call_items(dynamodb, transcript.transaction_id)["EVENT#voicemail"]
    assert event["ended_by"] == "hangup"
    assert event["recording_key"] == hangup["RecordingDestination"]["Key"]
    assert event["duration_seconds"] == 2
    assert saved[f"{RECORDINGS}/{event['recording_key']}"][1] == MESSAGE
    assert "PlayAudio thank_you.wav" not in actions(transcript)


def test_a_hangup_part_way_through_the_words_delivers_the_part(
    simulator: PstnSimulator, dynamodb: Any, saved: dict[str, tuple[bytes, str]]
) -> None:
    # A 20 s ring-out, a busy line (2 s), the greeting, then 1.5 s of the message.
    hangs_up = 20 + 2 + GREETING_SECONDS + 1.5
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE, hangs_up_after=hangs_up))

    event = call_items(dynamodb, transcript.transaction_id)["EVENT#voicemail"]
    assert (event["ended_by"], event["duration_seconds"]) == ("hangup", 1)
    audio, words = saved[f"{RECORDINGS}/{event['recording_key']}"]
    assert wav_seconds(audio) == pytest.approx(1.5)
    assert MESSAGE.startswith(words)
    assert 0 < len(words) < len(MESSAGE)


def test_hanging_up_during_the_greeting_records_nothing(
    simulator: PstnSimulator, dynamodb: Any, saved: dict[str, tuple[bytes, str]]
) -> None:
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE, hangs_up_after=23))

    assert "RecordAudio" not in actions(transcript)
    assert saved == {}
    items = call_items(dynamodb, transcript.transaction_id)
    assert set(items) == {"RECORD", "EVENT#bridge_failed"}
    assert items["RECORD"]["outcome"] == "no-answer"
    assert items["EVENT#bridge_failed"]["all_failed"] is True


def test_a_recording_the_bucket_refuses_ends_with_the_failure_prompt(
    simulator: PstnSimulator, dynamodb: Any, writable: set[str]
) -> None:
    writable.clear()
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE))

    failed = transcript.events_of("ACTION_FAILED")[-1]["ActionData"]
    assert (failed["Type"], failed["ErrorType"]) == ("RecordAudio", "InvalidActionParameter")
    assert actions(transcript)[-2:] == ["PlayAudio failure.wav", "Hangup"]
    items = call_items(dynamodb, transcript.transaction_id)
    assert set(items) == {"RECORD", "EVENT#bridge_failed"}


def test_a_missing_greeting_means_no_recording(simulator: PstnSimulator, dynamodb: Any) -> None:
    simulator.prompt_exists = lambda bucket, key: bucket == BUCKET and not key.endswith("voicemail.wav")
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE))

    assert "RecordAudio" not in actions(transcript)
    assert actions(transcript)[-2:] == ["PlayAudio failure.wav", "Hangup"]


def test_the_call_is_stored_in_one_write_and_a_retried_write_adds_nothing(
    simulator: PstnSimulator, dynamodb: Any, sma_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    client = sma_app.dynamodb
    original = client._make_api_call

    def counting(operation: str, params: dict[str, Any]) -> Any:
        if operation in ("PutItem", "TransactWriteItems", "UpdateItem", "DeleteItem", "BatchWriteItem"):
            writes.append(operation)
        return original(operation, params)

    client._make_api_call = counting
    try:
        transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE))
    finally:
        client._make_api_call = original

    assert writes == ["TransactWriteItems"]
    before = call_items(dynamodb, transcript.transaction_id)
    # PSTN Audio retries an invocation it got no answer to within 5 s: the same RecordAudio result
    # handled again (5 s later) must not rewrite the record or the voicemail event.
    ended = datetime.fromisoformat(before["RECORD"]["ended_at"].replace("Z", "+00:00"))
    monkeypatch.setattr(sma_app.app, "clock", lambda: int(ended.timestamp() * 1000) + 5_000)
    last = [e for e in transcript.events_of("ACTION_SUCCESSFUL") if e["ActionData"]["Type"] == "RecordAudio"]
    sma_app.handler(last[-1], None)

    assert call_items(dynamodb, transcript.transaction_id) == before


def test_a_stack_without_a_recordings_bucket_plays_the_failure_prompt(
    simulator: PstnSimulator, dynamodb: Any, sma_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sma_app.app, "_recordings_bucket", "")
    transcript = call(simulator, dynamodb, CallerBehaviour(message=MESSAGE))

    assert actions(transcript)[-2:] == ["PlayAudio failure.wav", "Hangup"]
    assert "EVENT#voicemail" not in call_items(dynamodb, transcript.transaction_id)


def test_a_hangup_that_reports_no_file_still_delivers_the_prefix(
    sma_app: Any, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Event by event, as PSTN Audio may send them: the HANGUP's ActionData is a plain Hangup."""
    put_rule(dynamodb, failure=FailureAction.VOICEMAIL, destinations=(FIRST,))
    now = [1_700_000_000_000]
    monkeypatch.setattr(sma_app.app, "clock", lambda: now[0])
    call = CallDriver(sma_app.handler, "tx-hangup-no-file")
    call.send("new_inbound_call")
    now[0] += 30_000
    call.send("action_failed_call_and_bridge", destination=FIRST)
    now[0] += 10_000
    started = call.send("action_successful_play_audio")
    (record,) = started["Actions"]
    assert record["Type"] == "RecordAudio"
    now[0] += 4_000

    call.send("hangup_leg_a")

    items = call_items(dynamodb, "tx-hangup-no-file")
    event = items["EVENT#voicemail"]
    assert (event["recording_key"], event["ended_by"], event["duration_seconds"]) == ("", "hangup", 4)
    assert event["recording_prefix"] == record["Parameters"]["RecordingDestination"]["Prefix"]
    assert event["recording_bucket"] == RECORDINGS
