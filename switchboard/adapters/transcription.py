"""Amazon Transcribe batch jobs for voicemail recordings.

One job per voicemail, named ``<TRANSCRIPTION_JOB_PREFIX><transaction id>``: the name is how the
job-state event (EventBridge "Transcribe Job State Change") finds its voicemail again, and since
job names are unique per account, starting the same voicemail's job twice is refused by
Transcribe itself (``ConflictException``), which :meth:`Transcriber.start` takes as "already
started". The stack's EventBridge rule matches only this prefix (the stack name), so two stacks in
one account never read each other's jobs.

No output bucket is given: Transcribe keeps the transcript in its own bucket behind a pre-signed
``TranscriptFileUri`` (valid 15 minutes from ``GetTranscriptionJob``), and :meth:`Transcriber.delete`
deletes the job, and with it that copy, once the transcript is in Slack. So the functions need no
write access to any bucket, and the transcript text is never in a log line.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

_UNSAFE = re.compile(r"[^0-9A-Za-z._-]")
MAX_JOB_NAME = 200
FETCH_TIMEOUT_SECONDS = 10


class TranscriptUnavailableError(RuntimeError):
    """The job says it completed but its transcript could not be read."""


@dataclass(frozen=True, slots=True)
class TranscriptResult:
    """A finished job: ``completed`` with its ``text`` (possibly empty: no speech), or failed with
    Transcribe's ``reason`` (never the audio's content)."""

    completed: bool
    text: str = ""
    reason: str = ""


class Transcriber:
    """Starts, reads and deletes transcription jobs (boto3 ``transcribe`` client)."""

    def __init__(self, client: Any, *, language: str, job_prefix: str) -> None:
        self._client = client
        self.language = language
        self.job_prefix = job_prefix

    def job_name(self, transaction_id: str) -> str:
        return (self.job_prefix + _UNSAFE.sub("-", transaction_id))[:MAX_JOB_NAME]

    def transaction_of(self, job_name: str) -> str | None:
        """The transaction id a job of ours was named after; None for anyone else's job."""
        if not job_name.startswith(self.job_prefix) or len(job_name) <= len(self.job_prefix):
            return None
        return job_name[len(self.job_prefix) :]

    def start(self, job_name: str, bucket: str, key: str) -> None:
        """Start the job on ``s3://bucket/key`` (WAV); a job of that name already existing is fine."""
        try:
            self._client.start_transcription_job(
                TranscriptionJobName=job_name,
                LanguageCode=self.language,
                MediaFormat="wav",
                Media={"MediaFileUri": f"s3://{bucket}/{key}"},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise

    def result(self, job_name: str) -> TranscriptResult | None:
        """The finished job's result; None while it is still queued or running."""
        job = self._client.get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
        status = job.get("TranscriptionJobStatus")
        if status == "FAILED":
            return TranscriptResult(False, reason=str(job.get("FailureReason") or "unknown reason"))
        if status != "COMPLETED":
            return None
        uri = str((job.get("Transcript") or {}).get("TranscriptFileUri") or "")
        return TranscriptResult(True, text=_read_transcript(uri))

    def delete(self, job_name: str) -> None:
        """Delete the job and Transcribe's copy of the transcript; a job already gone is fine."""
        try:
            self._client.delete_transcription_job(TranscriptionJobName=job_name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in (
                "NotFoundException",
                "BadRequestException",
            ):
                raise


def _read_transcript(uri: str) -> str:
    if not uri.startswith(("https://", "http://")):
        raise TranscriptUnavailableError("the job has no transcript URI")
    try:
        # The URI is the one Transcribe returned (pre-signed HTTPS; the local stand-in's http).
        with urllib.request.urlopen(uri, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            document = json.loads(response.read())
    except (OSError, ValueError) as error:
        raise TranscriptUnavailableError(f"could not read the transcript: {type(error).__name__}") from error
    return transcript_text(document)


def transcript_text(document: Any) -> str:
    """The text of a Transcribe transcript document (``results.transcripts[*].transcript``)."""
    try:
        transcripts = document["results"]["transcripts"]
        return " ".join(str(t.get("transcript") or "") for t in transcripts).strip()
    except (KeyError, TypeError, AttributeError) as error:
        raise TranscriptUnavailableError("the transcript document has no results") from error
