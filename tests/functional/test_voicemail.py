# ruff: noqa: F811  - the imported `bot` fixture is, as pytest wants, the name of every test's parameter
"""Voicemail in Slack end to end: the ``voicemail`` call event on moto's stream, delivered by the
local stream pump to ``bot.notifier.handler``; the recording in moto's S3; Slack played by the
stand-in (external upload flow included); transcripts by the Transcribe stand-in, whose job-state
events are handed to ``bot.transcripts.handler``; "Mark handled" answered by ``bot.app.handler``
through signed interaction requests.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
import wave
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from switchboard.adapters.dynamo_codec import encode_item
from switchboard.adapters.voicemail_messages import VoicemailMessages
from switchboard.settings import load
from switchboard_local.aws.stream_pump import StreamPump
from switchboard_local.aws.transcribe_standin import TranscribeStandIn
from switchboard_local.slack.requests import block_actions_payload, interaction_event
from switchboard_local.slack.standin import UPLOAD, check_blocks
from tests.functional.conftest import TABLE
from tests.functional.test_bot import (  # noqa: F401 - fixtures reused: one bot environment per process
    ADMIN,
    ALERTS,
    FIRST,
    GROUPIE,
    OURS,
    SECOND,
    SECRET,
    VISITOR,
    Bot,
    bot,
    bot_session,
)
from tests.functional.test_notifier import NOTIFIER, alerts_in, failed_call, replies_to, text

RECORDINGS = "switchboard-test-recordings"
CALLER = "+13035550123"
WORDS = "Hi, the backup job failed, call me back"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def s3(dynamodb: Any) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=RECORDINGS)
    return client


@pytest.fixture
def transcribe(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TranscribeStandIn]:
    with TranscribeStandIn(s3) as standin:
        monkeypatch.setenv("AWS_ENDPOINT_URL_TRANSCRIBE", standin.url)
        yield standin


def make_notifier(**env: str) -> Any:
    from bot.notifier import create_function

    return create_function(load(required=("TABLE_NAME", "ALERT_CHANNEL"), environ={**_environ(), **env}))


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)


@pytest.fixture
def notifier(bot: Bot, transcribe: TranscribeStandIn) -> Any:
    return make_notifier()


@pytest.fixture
def pump(notifier: Any, bot: Bot) -> StreamPump:
    return StreamPump(
        TABLE, notifier.handler, context_factory=lambda: bot.lambdas.context(NOTIFIER, timeout=120)
    )


@pytest.fixture
def transcripts(bot: Bot, transcribe: TranscribeStandIn) -> Any:
    from bot.transcripts import create_function

    return create_function(load(required=("TABLE_NAME",)))


def wav(seconds: float = 2.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x01\x00" * int(8000 * seconds))
    return buffer.getvalue()


def voicemail_call(
    dynamodb: Any, s3: Any, tx: str, *, words: str = WORDS, key_reported: bool = True, seconds: int = 23
) -> bytes:
    """A call nobody answered whose caller left a message, written the way the SMA writes it (the
    call record with its bridge_failed event, then the voicemail event), the WAV as the simulator
    writes it (the scripted words in its metadata)."""
    prefix = f"voicemail/2026-12-01/{tx}/"
    key = f"{prefix}{uuid.uuid4()}.wav"
    audio = wav()
    s3.put_object(Bucket=RECORDINGS, Key=key, Body=audio, ContentType="audio/wav", Metadata={"said": words})
    failed_call(dynamodb, tx)
    item = {
        "pk": f"CALL#{tx}",
        "sk": "EVENT#voicemail",
        "kind": "call_event",
        "event_type": "voicemail",
        "event_id": f"{tx}:voicemail",
        "transaction_id": tx,
        "dialed": OURS,
        "caller": CALLER,
        "at": "2026-12-01T00:10:09.123Z",
        "all_failed": True,
        "attempts": [
            {"destination": FIRST, "result": "CallNotAnswered", "ring_ms": 30000},
            {"destination": SECOND, "result": "CallNotAnswered", "ring_ms": 29000},
        ],
        "recording_bucket": RECORDINGS,
        "recording_key": key if key_reported else "",
        "recording_prefix": prefix,
        "duration_seconds": seconds,
        "ended_by": "#" if key_reported else "hangup",
        "max_seconds": 120,
        "ttl": int(time.time()) + 86400,
    }
    dynamodb.put_item(TableName=TABLE, Item=encode_item(item))
    return audio


def voicemail_messages(bot: Bot) -> list[dict[str, Any]]:
    return [m for m in bot.slack.messages(ALERTS) if "Voicemail on" in json.dumps(m.get("blocks") or [])]


def file_messages(bot: Bot) -> list[dict[str, Any]]:
    return [m for m in bot.slack.messages(ALERTS) if m.get("files")]


def transcribe_events(transcribe: TranscribeStandIn, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(transcribe.events) < count:
        assert time.monotonic() < deadline, "the transcription job never finished"
        time.sleep(0.02)
    return list(transcribe.events)


def press_handled(bot: Bot, message: dict[str, Any], user: str) -> None:
    payload = block_actions_payload(
        "voicemail_handled",
        value=next(
            e["value"]
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "voicemail_handled"
        ),
        block_id="voicemail_actions",
        channel_id=ALERTS,
        message=message,
        user_id=user,
    )
    assert bot.send(interaction_event(payload, SECRET))["statusCode"] == 200
    bot.settle()


# -- delivery ---------------------------------------------------------------------------------------


def test_a_voicemail_is_posted_in_the_calls_alert_thread_with_its_audio(
    pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    audio = voicemail_call(dynamodb, s3, "tx-vm-1")
    pump.drain()

    (alert,) = alerts_in(bot)
    assert f"Nobody answered a call to {OURS}" in text(alert)
    replies = replies_to(bot, alert["ts"])
    (message,) = [r for r in replies if r.get("blocks")]
    (shared,) = [r for r in replies if r.get("files")]
    assert check_blocks(message["blocks"]) == []
    shown = text(message)
    assert f"Voicemail on {OURS}" in shown
    assert "+1303•••0123 left a 23 s message." in shown
    assert "transcribing" in shown
    assert CALLER not in json.dumps(message) + json.dumps(shared)
    assert [b["text"]["text"] for b in alert["blocks"] if b.get("block_id") == "alert_thread"] == []

    # Slack's external upload flow, in order, with the recording's bytes.
    methods = [c.method for c in bot.slack.calls if c.method.startswith("files.") or c.method == UPLOAD]
    assert methods == ["files.getUploadURLExternal", UPLOAD, "files.completeUploadExternal"]
    (file,) = shared["files"]
    assert bot.slack.file(file["id"])["data"] == audio
    assert file["title"] == f"Voicemail from +1303•••0123 on {OURS} (23 s)"
    assert file["mimetype"] == "audio/wav"
    assert shared["thread_ts"] == alert["ts"]
    assert all(not i.failed for i in pump.invocations)


def test_a_recording_ended_by_a_hang_up_is_found_under_its_prefix(
    pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    audio = voicemail_call(dynamodb, s3, "tx-vm-hangup", key_reported=False)
    pump.drain()
    (shared,) = file_messages(bot)
    assert bot.slack.file(shared["files"][0]["id"])["data"] == audio


def test_a_record_delivered_twice_posts_and_uploads_once(
    notifier: Any, pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    voicemail_call(dynamodb, s3, "tx-vm-twice")
    recorded: list[dict[str, Any]] = []
    StreamPump(
        TABLE, lambda event, context: recorded.extend(event["Records"]), dynamodb_client=dynamodb
    ).drain()
    event = {"Records": recorded}
    assert notifier.handler(event, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert notifier.handler(event, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert len(voicemail_messages(bot)) == 1
    assert len(file_messages(bot)) == 1
    assert len(bot.slack.calls_to("files.completeUploadExternal")) == 1


def test_a_failed_upload_is_retried_without_a_second_message(
    pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    bot.slack.fail_next("files.getUploadURLExternal", "internal_error", status=503)
    voicemail_call(dynamodb, s3, "tx-vm-upload")
    pump.drain()

    assert [len(i.failed) for i in pump.invocations] == [1, 0]  # failed, retried by the mapping
    assert len(voicemail_messages(bot)) == 1
    assert len(file_messages(bot)) == 1


def test_a_slack_outage_parks_the_voicemail_and_a_replay_delivers_it_once(
    notifier: Any, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    parked: list[dict[str, Any]] = []
    bot.slack.fail_next("chat.postMessage", "internal_error", status=503, times=100)
    audio = voicemail_call(dynamodb, s3, "tx-vm-outage")
    outage = StreamPump(
        TABLE,
        notifier.handler,
        context_factory=lambda: bot.lambdas.context(NOTIFIER),
        on_failure=parked.append,
    )
    outage.drain()

    assert voicemail_messages(bot) == []
    assert {m["DDBStreamBatchInfo"]["batchSize"] for m in parked} == {1}
    assert len(parked) == 2  # the bridge_failed alert and the voicemail, each after every retry
    key = VoicemailMessages(dynamodb, TABLE).get("tx-vm-outage")
    assert key is not None
    assert not key.posted
    assert s3.get_object(Bucket=RECORDINGS, Key=key.key)["Body"].read() == audio  # nothing lost

    # Slack is back: the operator replays the parked records (docs/alerts.md) — delivered once.
    bot.slack.clear()
    records: list[dict[str, Any]] = []
    StreamPump(
        TABLE, lambda event, context: records.extend(event["Records"]), dynamodb_client=dynamodb
    ).drain()
    for _ in range(2):
        assert notifier.handler({"Records": records}, bot.lambdas.context(NOTIFIER)) == {
            "batchItemFailures": []
        }
    assert len(voicemail_messages(bot)) == 1
    assert len(file_messages(bot)) == 1


# -- transcripts ------------------------------------------------------------------------------------


def test_the_transcript_is_edited_into_the_message_and_never_logged(
    pump: StreamPump,
    bot: Bot,
    dynamodb: Any,
    *,
    s3: Any,
    transcribe: TranscribeStandIn,
    transcripts: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)  # what the Lambda logs (LOG_LEVEL INFO): our lines, not botocore debug
    voicemail_call(dynamodb, s3, "tx-vm-words")
    pump.drain()
    (event,) = transcribe_events(transcribe)
    assert event["detail"]["TranscriptionJobStatus"] == "COMPLETED"

    assert transcripts.handler(event, bot.lambdas.context("switchboard-transcripts")) == {"status": "done"}

    (message,) = voicemail_messages(bot)
    shown = text(message)
    assert f"> {WORDS}" in shown
    assert "transcribing" not in shown
    job = event["detail"]["TranscriptionJobName"]
    assert job == "switchboard-vm-tx-vm-words"
    assert transcribe.job(job) is None  # deleted, and Transcribe's copy of the transcript with it
    logged = capsys.readouterr()
    assert WORDS not in logged.out + logged.err + caplog.text

    # The same event again (EventBridge delivers at least once): nothing changes, nothing fails.
    edits = len(bot.slack.calls_to("chat.update"))
    assert transcripts.handler(event, bot.lambdas.context("switchboard-transcripts")) == {"status": "done"}
    assert len(bot.slack.calls_to("chat.update")) == edits + 1
    assert f"> {WORDS}" in text(voicemail_messages(bot)[0])


def test_a_failed_transcription_still_delivers_the_audio_and_says_so(
    pump: StreamPump, bot: Bot, dynamodb: Any, *, s3: Any, transcribe: TranscribeStandIn, transcripts: Any
) -> None:
    transcribe.fail_next()
    voicemail_call(dynamodb, s3, "tx-vm-failed")
    pump.drain()
    (event,) = transcribe_events(transcribe)
    assert event["detail"]["TranscriptionJobStatus"] == "FAILED"
    transcripts.handler(event, bot.lambdas.context("switchboard-transcripts"))

    (message,) = voicemail_messages(bot)
    assert "transcription failed. Listen to the recording." in text(message)
    assert len(file_messages(bot)) == 1


def test_with_transcription_off_the_audio_is_delivered_and_the_message_says_so(
    bot: Bot, dynamodb: Any, s3: Any, transcribe: TranscribeStandIn
) -> None:
    notifier = make_notifier(TRANSCRIBE_LANGUAGE="off")
    voicemail_call(dynamodb, s3, "tx-vm-off")
    StreamPump(TABLE, notifier.handler, context_factory=lambda: bot.lambdas.context(NOTIFIER)).drain()

    (message,) = voicemail_messages(bot)
    assert "transcription is off. Listen to the recording." in text(message)
    assert len(file_messages(bot)) == 1
    time.sleep(0.2)
    assert transcribe.events == []  # no job was started


def test_a_transcript_ready_before_the_message_is_posted_is_shown_when_it_posts(
    notifier: Any, bot: Bot, dynamodb: Any, *, s3: Any, transcribe: TranscribeStandIn, transcripts: Any
) -> None:
    # Slack refuses the voicemail message (the bridge_failed alert is posted first, then 3 failures).
    original = bot.slack.methods["chat.postMessage"]

    def refuse_voicemails(args: dict[str, Any], token: str) -> dict[str, Any]:
        if "Voicemail on" in json.dumps(args.get("blocks")):
            from switchboard_local.slack.standin import SlackError

            raise SlackError("internal_error", status=500)
        return original(args, token)

    bot.slack.methods["chat.postMessage"] = refuse_voicemails
    voicemail_call(dynamodb, s3, "tx-vm-early")
    records: list[dict[str, Any]] = []
    StreamPump(
        TABLE, lambda event, context: records.extend(event["Records"]), dynamodb_client=dynamodb
    ).drain()
    try:
        response = notifier.handler({"Records": records}, bot.lambdas.context(NOTIFIER))
    finally:
        bot.slack.methods["chat.postMessage"] = original
    assert len(response["batchItemFailures"]) == 1
    (event,) = transcribe_events(transcribe)  # the job was started before the post failed
    transcripts.handler(event, bot.lambdas.context("switchboard-transcripts"))
    assert voicemail_messages(bot) == []

    assert notifier.handler({"Records": records}, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    (message,) = voicemail_messages(bot)
    assert f"> {WORDS}" in text(message)


# -- Mark handled ----------------------------------------------------------------------------------


def test_mark_handled_updates_the_message_and_a_second_person_learns_who_did(
    pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    voicemail_call(dynamodb, s3, "tx-vm-handled")
    pump.drain()
    (message,) = voicemail_messages(bot)

    press_handled(bot, message, ADMIN)
    (updated,) = voicemail_messages(bot)
    shown = text(updated)
    assert f"Handled by <@{ADMIN}>" in json.dumps(updated["blocks"])
    assert "Mark handled" not in shown  # nobody else is invited to call back
    assert "Edit forward" not in shown
    stored = VoicemailMessages(dynamodb, TABLE).get("tx-vm-handled")
    assert stored is not None
    assert stored.handled_by == ADMIN

    # GROUPIE (an admin through the user group) still had the old message open and presses too.
    bot.slack.clear()
    press_handled(bot, message, GROUPIE)
    (answer,) = bot.slack.calls_to("chat.postEphemeral")
    assert answer.args["user"] == GROUPIE
    assert f"<@{ADMIN}> already handled this voicemail" in answer.args["text"]
    stored = VoicemailMessages(dynamodb, TABLE).get("tx-vm-handled")
    assert stored is not None
    assert stored.handled_by == ADMIN


def test_visitors_may_not_mark_a_voicemail_handled(
    pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    voicemail_call(dynamodb, s3, "tx-vm-visitor")
    pump.drain()
    (message,) = voicemail_messages(bot)
    bot.slack.clear()

    press_handled(bot, message, VISITOR)

    (refusal,) = bot.slack.calls_to("chat.postEphemeral")
    assert "you may look at forwards but not change them" in refusal.args["text"]
    assert bot.slack.calls_to("chat.update") == []
    stored = VoicemailMessages(dynamodb, TABLE).get("tx-vm-visitor")
    assert stored is not None
    assert stored.handled_by == ""


def test_try_another_destination_on_the_voicemail_leaves_out_the_failed_ones(
    pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    voicemail_call(dynamodb, s3, "tx-vm-try")
    pump.drain()
    (message,) = voicemail_messages(bot)
    (button,) = [
        e
        for b in message["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "alert_try_another"
    ]
    assert json.loads(button["value"]) == {"number": OURS, "failed": [FIRST, SECOND]}


def test_two_people_pressing_at_the_same_moment_record_one_handler(
    pump: StreamPump, bot: Bot, dynamodb: Any, s3: Any
) -> None:
    import threading

    voicemail_call(dynamodb, s3, "tx-vm-race")
    pump.drain()
    store = VoicemailMessages(dynamodb, TABLE)
    start = threading.Barrier(2)
    won: dict[str, bool] = {}

    def press(user: str) -> None:
        start.wait()
        won[user] = store.mark_handled("tx-vm-race", user, "2026-12-01T00:12:00Z")[1]

    threads = [threading.Thread(target=press, args=(user,)) for user in (ADMIN, GROUPIE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won.values()) == [False, True]
    stored = store.get("tx-vm-race")
    assert stored is not None
    assert won[stored.handled_by] is True
