"""Voicemail delivery: a ``voicemail`` call event becomes a message in the number's alert thread, the
recording shared under it as an audio file, and the transcript edited in when it is ready.

The notifier calls :meth:`VoicemailDelivery.deliver` once per event (Powertools Idempotency on the
event's ``event_id``, as for every alert). Delivery has several Slack calls, so each step is
recorded in the voicemail's item (:mod:`switchboard.adapters.voicemail_messages`) as soon as it is
done, and a redelivery after a failure resumes at the first step not recorded:

1. find the recording (``recording_key``, or the one object under ``recording_prefix`` when the
   call ended by a hang-up before PSTN Audio reported a key); none yet → the record fails and is
   retried (nothing is posted without its audio);
2. store the voicemail item (``create``: a redelivery finds it);
3. start the transcription job (unless transcription is off, or it was started): it runs while we
   post, so the transcript often arrives seconds after the audio;
4. post the message (a reply in the alert thread the call's ``bridge_failed`` alert went to, else
   a channel message) and record its ``ts``;
5. share the recording with Slack's external upload flow (``files_upload_v2``:
   ``files.getUploadURLExternal``, the upload, ``files.completeUploadExternal``) in the same
   thread, and record the file id;
6. re-render the message if anything changed meanwhile (a transcript that arrived before step 4
   finished, a "Mark handled"): :func:`refresh_message`.

A Slack outage fails the record at step 4 or 5; the mapping retries it and finally parks it in
the failure queue (14 days), while the recording stays in its bucket (30 days by default): a replay
delivers it, once. The one duplicate left is a crash between a successful post and recording its
``ts`` (the same window every alert has, see ``bot.notifier``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient

from bot.alerts import (
    MalformedEventError,
    Rendered,
    render_voicemail,
    voicemail_file_title,
)
from switchboard.adapters.transcription import Transcriber
from switchboard.adapters.voicemail_messages import TranscriptStatus, VoicemailMessage, VoicemailMessages

DEFAULT_KEEP_SECONDS = 30 * 86400  # when the event carries no ttl: the recordings' default retention
REFRESH_ROUNDS = 3

logger = Logger(service="notifier", child=True)


class RecordingMissingError(RuntimeError):
    """The voicemail's recording is not (yet) in its bucket: the record is retried."""


@dataclass(frozen=True, slots=True)
class VoicemailEvent:
    """A ``voicemail`` call event (written by the SIP media application, docs/alerts.md)."""

    event_id: str
    transaction_id: str
    dialed: str
    caller: str
    at: str
    bucket: str
    key: str
    prefix: str
    duration_seconds: int
    ended_by: str = ""
    failed_destinations: tuple[str, ...] = ()
    ttl: int = 0

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> VoicemailEvent:
        """From the decoded event item; raises :class:`MalformedEventError` with the reason."""
        event_id = item.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedEventError("the voicemail event has no event_id")
        for name in ("transaction_id", "recording_bucket"):
            if not isinstance(item.get(name), str) or not item[name]:
                raise MalformedEventError(f"voicemail event {event_id} has no {name}")
        key, prefix = item.get("recording_key") or "", item.get("recording_prefix") or ""
        if not isinstance(key, str) or not isinstance(prefix, str) or not (key or prefix):
            raise MalformedEventError(f"voicemail event {event_id} has no recording_key or recording_prefix")
        duration = item.get("duration_seconds", 0)
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            raise MalformedEventError(f"voicemail event {event_id}: duration_seconds is not a number")
        attempts = item.get("attempts") or []
        failed = tuple(
            dict.fromkeys(
                str(a["destination"])
                for a in attempts
                if isinstance(a, Mapping)
                and isinstance(a.get("destination"), str)
                and a.get("result") not in ("answered", "abandoned")
            )
        )
        ttl = item.get("ttl", 0)
        return cls(
            event_id=event_id,
            transaction_id=str(item["transaction_id"]),
            dialed=str(item.get("dialed") or ""),
            caller=str(item.get("caller") or ""),
            at=str(item.get("at") or ""),
            bucket=str(item["recording_bucket"]),
            key=key,
            prefix=prefix,
            duration_seconds=int(duration),
            ended_by=str(item.get("ended_by") or ""),
            failed_destinations=failed,
            ttl=int(ttl) if isinstance(ttl, int | float) and not isinstance(ttl, bool) else 0,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly (the idempotency layer hashes it)."""
        data = dataclasses.asdict(self)
        data["failed_destinations"] = list(self.failed_destinations)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VoicemailEvent:
        return cls(**{**data, "failed_destinations": tuple(data.get("failed_destinations") or ())})


Placer = Callable[[str, Rendered], dict[str, str]]  # (dialed, message) → channel, ts, thread_ts


class VoicemailDelivery:
    """Posts voicemails (see the module docstring for the steps)."""

    def __init__(
        self,
        client: WebClient,
        place: Placer,
        store: VoicemailMessages,
        s3: Any,
        transcriber: Transcriber | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._place = place
        self._store = store
        self._s3 = s3
        self._transcriber = transcriber
        self._clock = clock

    def deliver(self, event: VoicemailEvent) -> dict[str, str]:
        key = self._recording_key(event)
        voicemail = self._store.create(
            VoicemailMessage(
                transaction_id=event.transaction_id,
                dialed=event.dialed,
                caller=event.caller,
                at=event.at,
                duration_seconds=event.duration_seconds,
                bucket=event.bucket,
                key=key,
                ended_by=event.ended_by,
                failed_destinations=event.failed_destinations,
                transcript_status=TranscriptStatus.PENDING if self._transcriber else TranscriptStatus.OFF,
                ttl=event.ttl or int(self._clock()) + DEFAULT_KEEP_SECONDS,
            )
        )
        if voicemail.transcript_status == TranscriptStatus.PENDING and not voicemail.job:
            voicemail = self._start_transcription(voicemail)
        shown: Rendered | None = None
        if not voicemail.posted:
            shown = render_voicemail(voicemail)
            placed = self._place(voicemail.dialed, shown)
            voicemail = self._record(
                voicemail, channel=placed["channel"], ts=placed["ts"], thread_ts=placed["thread_ts"]
            )
        if not voicemail.file_id:
            voicemail = self._record(voicemail, file_id=self._share_recording(voicemail))
        refreshed = refresh_message(self._client, self._store, voicemail.transaction_id, shown=shown)
        final = refreshed or voicemail
        return {
            "channel": final.channel,
            "ts": final.ts,
            "thread_ts": final.thread_ts,
            "file_id": final.file_id,
        }

    def _recording_key(self, event: VoicemailEvent) -> str:
        if event.key:
            return event.key
        listed = self._s3.list_objects_v2(Bucket=event.bucket, Prefix=event.prefix, MaxKeys=2)
        keys = sorted(str(o["Key"]) for o in listed.get("Contents") or [] if int(o.get("Size") or 0) > 0)
        if not keys:
            raise RecordingMissingError(f"no recording under {event.prefix} yet")
        return keys[0]

    def _start_transcription(self, voicemail: VoicemailMessage) -> VoicemailMessage:
        assert self._transcriber is not None
        job = self._transcriber.job_name(voicemail.transaction_id)
        try:
            self._transcriber.start(job, voicemail.bucket, voicemail.key)
        except (ClientError, BotoCoreError) as error:
            # The audio matters more than its transcript: deliver it, and say there is none.
            logger.error("could not start the transcription job", extra={"reason": _reason(error)})
            return self._store.update(voicemail.transaction_id, transcript_status=TranscriptStatus.FAILED)
        return self._store.update(voicemail.transaction_id, job=job)

    def _share_recording(self, voicemail: VoicemailMessage) -> str:
        audio = self._s3.get_object(Bucket=voicemail.bucket, Key=voicemail.key)["Body"].read()
        response = self._client.files_upload_v2(
            channel=voicemail.channel,
            thread_ts=voicemail.thread_ts or voicemail.ts,
            file=audio,
            filename=f"voicemail-{voicemail.transaction_id}.wav",
            title=voicemail_file_title(voicemail),
        )
        files = response.get("files") or []
        return str(files[0].get("id") or "") if files else ""

    def _record(self, voicemail: VoicemailMessage, **fields: Any) -> VoicemailMessage:
        """Record a step that happened in Slack. Failing to record it must not undo it: the step is
        kept in memory for the rest of this delivery (a redelivery would repeat it)."""
        try:
            return self._store.update(voicemail.transaction_id, **fields)
        except (ClientError, BotoCoreError) as error:
            logger.error("could not record a voicemail delivery step", extra={"reason": _reason(error)})
            return dataclasses.replace(voicemail, **fields)


def refresh_message(
    client: WebClient, store: VoicemailMessages, transaction_id: str, *, shown: Rendered | None = None
) -> VoicemailMessage | None:
    """Make the posted message show the voicemail's stored state (transcript, who handled it).

    Writers render from what they read; two of them racing (a transcript and a "Mark handled")
    could leave Slack showing the older render. So after updating, read again: if another write
    came in meanwhile, render again (a few rounds; the last writer's own refresh covers the rest).
    ``shown``: what the caller just posted, so an unchanged message is not updated for nothing.
    """
    voicemail = store.get(transaction_id)
    for _ in range(REFRESH_ROUNDS):
        if voicemail is None or not voicemail.posted:
            return voicemail
        rendered = render_voicemail(voicemail)
        if shown is None or rendered != shown:
            client.chat_update(
                channel=voicemail.channel, ts=voicemail.ts, text=rendered.text, blocks=rendered.blocks
            )
        again = store.get(transaction_id)
        if again is None or again.version == voicemail.version:
            return again or voicemail
        voicemail, shown = again, rendered
    return voicemail


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or type(error).__name__)
    return type(error).__name__
