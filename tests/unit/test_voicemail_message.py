"""The voicemail message (bot.alerts.render_voicemail), the voicemail event's validation
(bot.voicemail.VoicemailEvent) and the transcription settings: pure, no Slack, no AWS."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from bot import alerts
from bot.alerts import MalformedEventError, render_voicemail
from bot.voicemail import VoicemailEvent
from switchboard.adapters.transcription import Transcriber, TranscriptUnavailableError, transcript_text
from switchboard.adapters.voicemail_messages import TranscriptStatus, VoicemailMessage
from switchboard.settings import ConfigurationError, load
from switchboard_local.slack.standin import check_blocks, render_blocks

OURS, FIRST, CALLER = "+12025550100", "+12065550111", "+13035550123"

VOICEMAIL = VoicemailMessage(
    transaction_id="tx-1",
    dialed=OURS,
    caller=CALLER,
    at="2026-12-01T00:10:09.123Z",
    duration_seconds=23,
    bucket="recordings",
    key="voicemail/2026-12-01/tx-1/a.wav",
    failed_destinations=(FIRST,),
)


def shown(voicemail: VoicemailMessage) -> str:
    rendered = render_voicemail(voicemail)
    assert check_blocks(rendered.blocks) == []
    return "\n".join(render_blocks(rendered.blocks))


@pytest.mark.parametrize(
    ("status", "transcript", "expected"),
    [
        (TranscriptStatus.PENDING, "", "transcribing…"),
        (TranscriptStatus.DONE, "Call me back", "> Call me back"),
        (TranscriptStatus.DONE, "", "no words were recognised. Listen to the recording."),
        (TranscriptStatus.FAILED, "", "transcription failed. Listen to the recording."),
        (TranscriptStatus.OFF, "", "transcription is off. Listen to the recording."),
    ],
)
def test_the_message_says_where_the_transcript_is(status: str, transcript: str, expected: str) -> None:
    text = shown(replace(VOICEMAIL, transcript_status=status, transcript=transcript))
    assert expected in text
    assert "+1303•••0123 left a 23 s message." in text
    assert CALLER not in json.dumps(render_voicemail(VOICEMAIL).blocks)
    assert CALLER not in render_voicemail(VOICEMAIL).text


def test_a_transcript_is_escaped_quoted_and_cut_to_what_a_block_holds() -> None:
    words = "<!channel> " + "word " * 1000
    rendered = render_voicemail(replace(VOICEMAIL, transcript_status=TranscriptStatus.DONE, transcript=words))
    assert check_blocks(rendered.blocks) == []
    body = json.dumps(rendered.blocks, ensure_ascii=False)
    assert "<!channel>" not in body
    assert "&lt;!channel&gt;" in body
    assert "…" in body


def test_handled_replaces_the_buttons_with_who_handled_it() -> None:
    open_message = render_voicemail(VOICEMAIL)
    (actions,) = [b for b in open_message.blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [
        alerts.HANDLED_ACTION,
        alerts.TRY_ANOTHER_ACTION,
        alerts.EDIT_ACTION,
    ]
    assert json.loads(actions["elements"][1]["value"]) == {"number": OURS, "failed": [FIRST]}

    handled = render_voicemail(replace(VOICEMAIL, handled_by="U0ADMIN", handled_at="2026-12-01T00:12:00Z"))
    assert [b for b in handled.blocks if b["type"] == "actions"] == []
    assert "Handled by <@U0ADMIN>" in json.dumps(handled.blocks)
    assert handled.text.endswith("— handled")


def test_a_second_press_is_told_who_handled_it() -> None:
    handled = replace(VOICEMAIL, handled_by="U0ADMIN", handled_at="2026-12-01T00:12:00Z")
    assert alerts.voicemail_handled_text(handled, "U0ADMIN").startswith(":white_check_mark: You marked")
    assert "<@U0ADMIN> already handled this voicemail" in alerts.voicemail_handled_text(handled, "U0OTHER")


def event_item(**fields: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "event_id": "tx-1:voicemail",
        "event_type": "voicemail",
        "transaction_id": "tx-1",
        "dialed": OURS,
        "caller": CALLER,
        "at": "2026-12-01T00:10:09.123Z",
        "attempts": [
            {"destination": FIRST, "result": "CallNotAnswered", "ring_ms": 30000},
            {"destination": "+13125550122", "result": "answered", "ring_ms": 3000},
        ],
        "recording_bucket": "recordings",
        "recording_key": "voicemail/2026-12-01/tx-1/a.wav",
        "recording_prefix": "voicemail/2026-12-01/tx-1/",
        "duration_seconds": 23,
        "ended_by": "#",
        "ttl": 1775000000,
    }
    item.update(fields)
    return item


def test_the_event_keeps_what_delivery_needs_and_round_trips() -> None:
    event = VoicemailEvent.from_item(event_item())
    assert event.failed_destinations == (FIRST,)
    assert event.key == "voicemail/2026-12-01/tx-1/a.wav"
    assert VoicemailEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event


@pytest.mark.parametrize(
    "fields",
    [
        {"event_id": ""},
        {"transaction_id": None},
        {"recording_bucket": ""},
        {"recording_key": "", "recording_prefix": ""},
        {"duration_seconds": "long"},
    ],
)
def test_a_malformed_voicemail_event_is_refused_with_the_reason(fields: dict[str, Any]) -> None:
    with pytest.raises(MalformedEventError):
        VoicemailEvent.from_item(event_item(**fields))


def test_transcription_language_and_job_prefix_settings() -> None:
    assert load(environ={}).transcribe_language == "en-US"
    assert load(environ={"TRANSCRIBE_LANGUAGE": "de-DE"}).transcribe_language == "de-DE"
    assert load(environ={"TRANSCRIBE_LANGUAGE": "off"}).transcribe_language == ""
    with pytest.raises(ConfigurationError, match="TRANSCRIBE_LANGUAGE"):
        load(environ={"TRANSCRIBE_LANGUAGE": "english"})
    with pytest.raises(ConfigurationError, match="TRANSCRIPTION_JOB_PREFIX"):
        load(environ={"TRANSCRIPTION_JOB_PREFIX": "my stack/"})


def test_job_names_lead_back_to_their_voicemail_and_ignore_other_jobs() -> None:
    transcriber = Transcriber(object(), language="en-US", job_prefix="prod-vm-")
    name = transcriber.job_name("a1b2:c3")
    assert name == "prod-vm-a1b2-c3"
    assert transcriber.transaction_of("prod-vm-tx-1") == "tx-1"
    assert transcriber.transaction_of("staging-vm-tx-1") is None
    assert transcriber.transaction_of("prod-vm-") is None


def test_transcript_documents() -> None:
    document = {"results": {"transcripts": [{"transcript": "Call me back."}]}}
    assert transcript_text(document) == "Call me back."
    with pytest.raises(TranscriptUnavailableError):
        transcript_text({"status": "COMPLETED"})
