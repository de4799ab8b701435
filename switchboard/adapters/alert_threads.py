"""Alert-thread anchors (``pk = ALERTTHREAD#<number>``, ``sk = THREAD``): where the notifier's
alerts for one dialed number currently go in Slack.

The anchor's ``ttl`` is the end of the thread's window. Concurrent writers are serialised by a
``version`` condition; the writer opening a thread holds a short lease (``lease_until``) so that a
concurrent alert for the same number waits for the parent's ``ts`` rather than opening a second
thread. The parent alert is stored as the notifier gave it (a dict): reading it is the notifier's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from switchboard.adapters.dynamo_codec import decode_item, encode, encode_item, is_condition_failure

WINDOW_SECONDS = 15 * 60
MAX_THREAD_SECONDS = 2 * 3600
PARENT_LEASE_SECONDS = 60
THREAD_SK = "THREAD"

log = logging.getLogger(__name__)


class LostRaceError(RuntimeError):
    """The thread anchor changed between our read and our write."""


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where alerts for one number currently go (the table item ``ALERTTHREAD#<number>``)."""

    number: str
    version: int
    channel: str
    ts: str
    parent: dict[str, Any]
    count: int
    first_at: float
    open_until: float
    lease_until: float

    def is_open(self, now: float, channel: str) -> bool:
        return bool(self.ts) and self.channel == channel and now < self.open_until

    def is_being_opened(self, now: float) -> bool:
        return not self.ts and now < self.lease_until and now < self.open_until

    def unreadable(self) -> Anchor:
        """What an anchor whose parent cannot be read is worth: none (the next claim replaces it)."""
        return Anchor(self.number, self.version, "", "", {}, 0, 0, 0, 0)


def thread_key(number: str) -> dict[str, Any]:
    return {"pk": {"S": f"ALERTTHREAD#{number}"}, "sk": {"S": THREAD_SK}}


class AlertThreads:
    """Thread anchors in the shared table, written with optimistic concurrency (``version``)."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        window: float = WINDOW_SECONDS,
        max_age: float = MAX_THREAD_SECONDS,
        lease: float = PARENT_LEASE_SECONDS,
    ) -> None:
        self._client = client
        self._table = table
        self.window = window
        self.max_age = max_age
        self.lease = lease

    key = staticmethod(thread_key)

    def current(self, number: str) -> Anchor | None:
        response = self._client.get_item(TableName=self._table, Key=thread_key(number), ConsistentRead=True)
        item = response.get("Item")
        if not item:
            return None
        data = decode_item(item)
        parent = data.get("parent")
        return Anchor(
            number=number,
            version=int(data.get("version", 0)),
            channel=str(data.get("channel") or ""),
            ts=str(data.get("ts") or ""),
            parent=parent if isinstance(parent, dict) else {},
            count=int(data.get("count", 1)),
            first_at=float(data.get("first_at", 0)),
            open_until=float(data.get("open_until", 0)),
            lease_until=float(data.get("lease_until", 0)),
        )

    def claim(self, number: str, seen: Anchor | None, parent: dict[str, Any], at: str, now: float) -> Anchor:
        """Become the writer that opens a new thread for ``number`` (replacing ``seen``) with the
        alert ``parent`` (which happened ``at``). Raises :class:`LostRaceError` when someone else did."""
        version = (seen.version if seen else 0) + 1
        open_until = now + self.window
        item = {
            "pk": f"ALERTTHREAD#{number}",
            "sk": THREAD_SK,
            "kind": "alert_thread",
            "number": number,
            "version": version,
            "parent": parent,
            "count": 1,
            "first_at": int(now),
            "last_at": at,
            "open_until": int(open_until),
            "lease_until": int(now + self.lease),
            "ttl": int(open_until),
        }
        request: dict[str, Any] = {"TableName": self._table, "Item": encode_item(item)}
        if seen is None:
            request["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            request["ConditionExpression"] = "version = :seen"
            request["ExpressionAttributeValues"] = {":seen": encode(seen.version)}
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if is_condition_failure(error):
                raise LostRaceError(number) from error
            raise
        return Anchor(number, version, "", "", parent, 1, int(now), int(open_until), int(now + self.lease))

    def opened(self, anchor: Anchor, channel: str, ts: str) -> None:
        """The parent message exists: later alerts may reply to ``ts``."""
        self._client.update_item(
            TableName=self._table,
            Key=thread_key(anchor.number),
            UpdateExpression="SET channel = :channel, ts = :ts REMOVE lease_until",
            ConditionExpression="version = :version",
            ExpressionAttributeValues={
                ":channel": encode(channel),
                ":ts": encode(ts),
                ":version": encode(anchor.version),
            },
        )

    def release(self, anchor: Anchor) -> None:
        """Give up a claim whose parent could not be posted, so the retry need not wait the lease."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=thread_key(anchor.number),
                ConditionExpression="version = :version",
                ExpressionAttributeValues={":version": encode(anchor.version)},
            )
        except (ClientError, BotoCoreError) as error:
            log.warning("could not release the thread claim: %s", error)

    def joined(self, anchor: Anchor, at: str, now: float) -> int:
        """One more alert in ``anchor``'s thread: bump the count, slide the window; the new count."""
        open_until = int(min(now + self.window, anchor.first_at + self.max_age))
        response = self._client.update_item(
            TableName=self._table,
            Key=thread_key(anchor.number),
            UpdateExpression="SET last_at = :at, open_until = :until, #ttl = :until ADD #count :one",
            ConditionExpression="ts = :ts",
            ExpressionAttributeNames={"#ttl": "ttl", "#count": "count"},
            ExpressionAttributeValues={
                ":at": encode(at),
                ":until": encode(open_until),
                ":one": encode(1),
                ":ts": encode(anchor.ts),
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(decode_item(response.get("Attributes", {})).get("count", anchor.count + 1))
