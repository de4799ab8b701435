"""Voicemail messages in Slack and what they show (``pk = VOICEMAIL#<transaction id>``, ``sk = MESSAGE``).

One item per voicemail, written by three writers that never coordinate otherwise: the notifier
(it posts the message and shares the recording, one step at a time, recording each step here so a
redelivered event resumes where the last attempt stopped), the transcript handler (the transcript,
or why there is none) and the bot ("Mark handled"). Every write bumps ``version`` and returns the
whole item, so whoever writes last renders everything the others wrote: the message is always
rendered from this item, never patched.

The transcript is stored here (until the item's ``ttl``, the recording's retention) because the
message may not exist yet when it arrives (Slack down) and every re-render needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from switchboard.adapters.dynamo_codec import decode_item, encode, encode_item, is_condition_failure

MESSAGE_SK = "MESSAGE"
KIND = "voicemail_message"


class TranscriptStatus:
    """Where the transcript is: its values are stored, so they never change."""

    PENDING = "pending"  # a job runs (or is about to be started)
    DONE = "done"
    FAILED = "failed"  # the job failed, or could not be started
    OFF = "off"  # transcription is turned off for this stack


def voicemail_key(transaction_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"VOICEMAIL#{transaction_id}"}, "sk": {"S": MESSAGE_SK}}


@dataclass(frozen=True, slots=True)
class VoicemailMessage:
    """A voicemail and the state of its Slack message."""

    transaction_id: str
    dialed: str
    caller: str
    at: str
    duration_seconds: int
    bucket: str
    key: str
    ended_by: str = ""
    failed_destinations: tuple[str, ...] = ()
    transcript_status: str = TranscriptStatus.PENDING
    transcript: str = ""
    job: str = ""  # the transcription job's name, once started
    channel: str = ""
    ts: str = ""  # the message, once posted
    thread_ts: str = ""  # the alert thread it was posted in ("" = a channel message of its own)
    file_id: str = ""  # the shared recording, once uploaded
    handled_by: str = ""
    handled_at: str = ""
    version: int = 0
    ttl: int = 0

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> VoicemailMessage:
        def text(name: str) -> str:
            value = item.get(name)
            return value if isinstance(value, str) else ""

        failed = item.get("failed_destinations") or []
        return cls(
            transaction_id=text("transaction_id"),
            dialed=text("dialed"),
            caller=text("caller"),
            at=text("at"),
            duration_seconds=int(item.get("duration_seconds") or 0),
            bucket=text("bucket"),
            key=text("key"),
            ended_by=text("ended_by"),
            failed_destinations=tuple(str(d) for d in failed if isinstance(d, str)),
            transcript_status=text("transcript_status") or TranscriptStatus.PENDING,
            transcript=text("transcript"),
            job=text("job"),
            channel=text("channel"),
            ts=text("ts"),
            thread_ts=text("thread_ts"),
            file_id=text("file_id"),
            handled_by=text("handled_by"),
            handled_at=text("handled_at"),
            version=int(item.get("version") or 0),
            ttl=int(item.get("ttl") or 0),
        )

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": f"VOICEMAIL#{self.transaction_id}",
            "sk": MESSAGE_SK,
            "kind": KIND,
            "transaction_id": self.transaction_id,
            "dialed": self.dialed,
            "caller": self.caller,
            "at": self.at,
            "duration_seconds": self.duration_seconds,
            "bucket": self.bucket,
            "key": self.key,
            "ended_by": self.ended_by,
            "failed_destinations": list(self.failed_destinations),
            "transcript_status": self.transcript_status,
            "version": self.version,
            "ttl": self.ttl,
        }
        return item

    @property
    def posted(self) -> bool:
        return bool(self.ts)


class VoicemailMessages:
    """The voicemail items in the shared table."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get(self, transaction_id: str) -> VoicemailMessage | None:
        item = self._client.get_item(
            TableName=self._table, Key=voicemail_key(transaction_id), ConsistentRead=True
        ).get("Item")
        return VoicemailMessage.from_item(decode_item(item)) if item else None

    def create(self, message: VoicemailMessage) -> VoicemailMessage:
        """Store ``message`` unless its voicemail is stored already; the stored one either way."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=encode_item({**message.to_item(), "version": 1}),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            existing = self.get(message.transaction_id)
            if existing is not None:
                return existing
            raise
        return VoicemailMessage.from_item({**message.to_item(), "version": 1})

    def update(self, transaction_id: str, **fields: Any) -> VoicemailMessage:
        """Set ``fields`` (and bump ``version``) on a stored voicemail; the whole item after."""
        names = {f"#{name}": name for name in fields}
        values = {f":{name}": encode(value) for name, value in fields.items()}
        assignments = ", ".join(f"#{name} = :{name}" for name in fields)
        response = self._client.update_item(
            TableName=self._table,
            Key=voicemail_key(transaction_id),
            UpdateExpression=f"SET {assignments} ADD #version :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={**names, "#version": "version"},
            ExpressionAttributeValues={**values, ":one": encode(1)},
            ReturnValues="ALL_NEW",
        )
        return VoicemailMessage.from_item(decode_item(response["Attributes"]))

    def mark_handled(self, transaction_id: str, user: str, at: str) -> tuple[VoicemailMessage | None, bool]:
        """Record that ``user`` handled the voicemail, unless someone did already.

        Returns (the voicemail after, whether this call was the one that marked it); ``None`` when
        the voicemail is not (or no longer) stored.
        """
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key=voicemail_key(transaction_id),
                UpdateExpression="SET handled_by = :user, handled_at = :at ADD #version :one",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(handled_by)",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":user": encode(user), ":at": encode(at), ":one": encode(1)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return self.get(transaction_id), False
        return VoicemailMessage.from_item(decode_item(response["Attributes"])), True
