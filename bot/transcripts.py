"""Voicemail transcripts (``bot.transcripts.handler``, invoked by the EventBridge rule
``TranscriptJobStates`` on Amazon Transcribe's "Transcribe Job State Change" events for this
stack's jobs, COMPLETED or FAILED).

The notifier started the job when it delivered the voicemail (``bot.voicemail``); this handler
reads the result, stores it in the voicemail's item, deletes the job (and with it Transcribe's copy
of the transcript), and re-renders the Slack message from the item. If the message is not posted
yet (Slack was down), the notifier renders the stored transcript when it posts.

* A failed job (or a transcript that cannot be read) is stored as "failed": the message says so,
  and the audio is there to listen to.
* The transcript text is never logged: logs say which job and what happened, not what was said.
* A Slack error fails the invocation; EventBridge's asynchronous invocation retries it (twice) and
  then keeps the event in ``FailedInvocationsQueue``. A retry finds the transcript stored and
  only refreshes the message. The same event twice does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient

from bot.config import slack_credentials
from bot.slack_client import slack_client
from bot.voicemail import refresh_message
from switchboard.adapters.transcription import Transcriber, TranscriptResult, TranscriptUnavailableError
from switchboard.adapters.voicemail_messages import TranscriptStatus, VoicemailMessages
from switchboard.settings import Settings, load

logger = Logger(service="transcripts")


@dataclass
class TranscriptFunction:
    """The handler and what it uses."""

    settings: Settings
    client: WebClient
    store: VoicemailMessages
    transcriber: Transcriber

    def handler(self, event: dict[str, Any], context: Any) -> dict[str, str]:
        detail = event.get("detail") if isinstance(event, dict) else None
        job = str((detail or {}).get("TranscriptionJobName") or "")
        transaction_id = self.transcriber.transaction_of(job)
        if transaction_id is None:
            logger.info("not one of this stack's transcription jobs; ignored", extra={"job": job[:200]})
            return {"status": "ignored"}
        logger.append_keys(job=job, transaction_id=transaction_id)
        try:
            return self._handle(job, transaction_id)
        finally:
            logger.remove_keys(["job", "transaction_id"])

    def _handle(self, job: str, transaction_id: str) -> dict[str, str]:
        voicemail = self.store.get(transaction_id)
        if voicemail is None:
            logger.warning("no voicemail for this transcription job (expired?); the job is deleted")
            self._delete(job)
            return {"status": "unknown voicemail"}
        status = voicemail.transcript_status
        if status == TranscriptStatus.PENDING:
            result = self._result(job)
            if result is None:
                logger.info("the job has not finished; waiting for its next state change")
                return {"status": "running"}
            if result.completed:
                self.store.update(
                    transaction_id, transcript_status=TranscriptStatus.DONE, transcript=result.text
                )
                logger.info("transcript stored", extra={"words": len(result.text.split())})
            else:
                self.store.update(transaction_id, transcript_status=TranscriptStatus.FAILED)
                logger.warning("transcription failed", extra={"reason": result.reason[:300]})
            status = TranscriptStatus.DONE if result.completed else TranscriptStatus.FAILED
            self._delete(job)
        refresh_message(self.client, self.store, transaction_id)
        return {"status": status}

    def _result(self, job: str) -> TranscriptResult | None:
        try:
            return self.transcriber.result(job)
        except TranscriptUnavailableError as error:
            return TranscriptResult(False, reason=str(error))

    def _delete(self, job: str) -> None:
        try:
            self.transcriber.delete(job)
        except (ClientError, BotoCoreError) as error:
            # Transcribe deletes jobs itself after 90 days; this only shortens how long it keeps them.
            logger.warning("could not delete the transcription job", extra={"reason": type(error).__name__})


def create_function(
    settings: Settings, *, client: WebClient | None = None, dynamodb: Any = None, transcribe: Any = None
) -> TranscriptFunction:
    """The transcript handler for ``settings`` (needs TABLE_NAME and the Slack credentials)."""
    if client is None:
        credentials = slack_credentials(settings)
        client = slack_client(credentials.bot_token, settings.slack_api_url, timeout=10)
    transcriber = Transcriber(
        transcribe or boto3.client("transcribe"),
        language=settings.transcribe_language or "en-US",
        job_prefix=settings.transcription_job_prefix,
    )
    store = VoicemailMessages(dynamodb or boto3.client("dynamodb"), settings.table_name)
    return TranscriptFunction(settings, client, store, transcriber)


# -- the Lambda's handler (once per container) ----------------------------------------------------

function = create_function(load(required=("TABLE_NAME",)))
settings = function.settings


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    """``bot.transcripts.handler``: one Transcribe job-state event → the voicemail's message edited."""
    return function.handler(event, context)
