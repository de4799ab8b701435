"""Voicemail delivery figures on the local stack (``python -m bench.voicemail``, part of ``make bench``).

**End of recording → audio in Slack.** For each voicemail, the time from the end of the write that
ends a recorded call (the SIP media application's one ``TransactWriteItems``: call record,
``bridge_failed`` and ``voicemail`` events — its first HTTP answer, a botocore ``response-received``
hook) to the Slack stand-in receiving ``files.completeUploadExternal`` for that call's recording,
i.e. the audio shared in the alert thread. In between: moto's DynamoDB stream, the stream pump
(polling every 0.25 s, as ``switchboard dev`` does), ``bot.notifier.handler`` (the ``bridge_failed``
alert, then the voicemail: item, transcription job start, message, S3 read, the three upload
steps). Everything is the ``LocalStack(with_slack=True)`` of ``switchboard dev`` in this process.
One call at a time (each awaited before the next, so nothing queues), started at a random phase of
the poll; the recording is a 20 s 8 kHz mono WAV (320 KB).

Also reported: the time to the transcript edited into the message (the Transcribe stand-in answers
after 50 ms, so this measures the job-state plumbing, not speech recognition).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import statistics
import time
import uuid
import wave
from pathlib import Path
from typing import Any

from bench.common import report
from switchboard_local.console_output import silenced

DIALED = "+12025550100"
CALLER = "+13035550123"
DESTINATIONS = ("+12065550111", "+13125550122")
WORDS = "Hi, the backup job failed, call me back"
RECORDING_SECONDS = 20


def _wav(seconds: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(random.getrandbits(8) for _ in range(256)) * (seconds * 8000 * 2 // 256))
    return buffer.getvalue()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "count": len(samples),
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(_percentile(samples, 0.95), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
    }


class VoicemailCalls:
    """Writes recorded calls the way the SMA ends them, and times them."""

    def __init__(self, bucket: str, table: str) -> None:
        import boto3

        self.bucket = bucket
        self.table = table
        self.s3 = boto3.client("s3")
        self.dynamodb = boto3.client("dynamodb")
        self.written: dict[str, float] = {}
        self._current = ""
        self.dynamodb.meta.events.register("response-received.dynamodb.TransactWriteItems", self._answered)
        self.audio = _wav(RECORDING_SECONDS)

    def _answered(self, **_: Any) -> None:
        self.written.setdefault(self._current, time.time())

    def call(self, transaction_id: str) -> None:
        from switchboard.adapters.dynamo_codec import encode_item

        prefix = f"voicemail/2026-12-01/{transaction_id}/"
        key = f"{prefix}{uuid.uuid4()}.wav"
        # PSTN Audio writes the recording, then tells the SMA the recording ended.
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=self.audio, Metadata={"said": WORDS})
        now = time.time()
        at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now))
        attempts = [{"destination": d, "result": "CallNotAnswered", "ring_ms": 30000} for d in DESTINATIONS]
        common = {
            "kind": "call_event",
            "transaction_id": transaction_id,
            "dialed": DIALED,
            "caller": CALLER,
            "at": at,
            "all_failed": True,
            "attempts": attempts,
            "ttl": int(now) + 86400,
        }
        items = [
            {
                "pk": f"CALL#{transaction_id}",
                "sk": "RECORD",
                "kind": "call_record",
                "transaction_id": transaction_id,
                "dialed": DIALED,
                "caller": CALLER,
                "outcome": "no-answer",
                "attempts": attempts,
                "ttl": int(now) + 86400,
            },
            {
                **common,
                "pk": f"CALL#{transaction_id}",
                "sk": "EVENT#bridge_failed",
                "event_type": "bridge_failed",
                "event_id": f"{transaction_id}:bridge_failed",
            },
            {
                **common,
                "pk": f"CALL#{transaction_id}",
                "sk": "EVENT#voicemail",
                "event_type": "voicemail",
                "event_id": f"{transaction_id}:voicemail",
                "recording_bucket": self.bucket,
                "recording_key": key,
                "recording_prefix": prefix,
                "duration_seconds": RECORDING_SECONDS,
                "ended_by": "#",
                "max_seconds": 120,
            },
        ]
        self._current = transaction_id
        self.dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": self.table, "Item": encode_item(i)}} for i in items]
        )


def run(calls: int) -> dict[str, Any]:
    import boto3

    from switchboard_local.stack import LocalStack

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with LocalStack(with_slack=True) as stack, stack.applied():
        slack = stack.slack
        assert slack is not None
        bucket = os.environ.get("RECORDINGS_BUCKET") or "switchboard-local-recordings"
        s3 = boto3.client("s3")
        if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=bucket)
        writer = VoicemailCalls(bucket, stack.table_name)

        def shared(transaction_id: str) -> float | None:
            for call in slack.calls_to("files.completeUploadExternal"):
                if call.ok and any(
                    slack.file(str(f.get("id")))["name"] == f"voicemail-{transaction_id}.wav"
                    for f in call.args.get("files") or []
                ):
                    return call.at
            return None

        def transcribed(transaction_id: str) -> float | None:
            for call in slack.calls_to("chat.update"):
                blocks = json.dumps(call.args.get("blocks"))
                if call.ok and f"call `{transaction_id}`" in blocks and "> Hi, the backup" in blocks:
                    return call.at
            return None

        audio_ms: list[float] = []
        transcript_ms: list[float] = []
        with silenced():
            for index in range(calls):
                transaction_id = f"bench-vm-{index}-{uuid.uuid4().hex[:6]}"
                time.sleep(random.uniform(0, 0.25))
                writer.call(transaction_id)
                at = slack.wait_for(lambda tx=transaction_id: shared(tx), 30)
                done = slack.wait_for(lambda tx=transaction_id: transcribed(tx), 30)
                audio_ms.append((at - writer.written[transaction_id]) * 1000)
                transcript_ms.append((done - writer.written[transaction_id]) * 1000)
        assert stack.pump is not None
        failed = sum(len(i.failed) for i in stack.pump.invocations)
    return {
        "recording_seconds": RECORDING_SECONDS,
        "recording_bytes": len(writer.audio),
        "poll_interval_s": 0.25,
        "end_of_recording_to_audio_in_slack": _summary(audio_ms),
        "end_of_recording_to_transcript_in_slack": _summary(transcript_ms),
        "failed_records": failed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(args.calls)
    audio = figures["end_of_recording_to_audio_in_slack"]
    text = figures["end_of_recording_to_transcript_in_slack"]
    lines = [
        f"Voicemail, local stack ({args.calls} calls, {RECORDING_SECONDS} s recordings, poll 0.25 s):",
        f"  end of recording → audio in Slack:      p50 {audio['p50_ms']} ms, p95 {audio['p95_ms']} ms",
        f"  end of recording → transcript in Slack: p50 {text['p50_ms']} ms, p95 {text['p95_ms']} ms",
        f"  records failed and retried: {figures['failed_records']}",
    ]
    return report("\n".join(lines), figures, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
