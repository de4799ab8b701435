"""The daily digest's marker (``pk = DIGEST#<date>``, ``sk = DIGEST``): one digest per UTC day.

A conditional put claims the day before the digest is posted; the claim is deleted again when the
post fails, so the retry (or the next run) posts it. Markers expire after a week.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from switchboard.adapters.dynamo_codec import is_condition_failure

MARKER_TTL_SECONDS = 7 * 86400


def marker_key(day: str) -> dict[str, Any]:
    return {"pk": {"S": f"DIGEST#{day}"}, "sk": {"S": "DIGEST"}}


class DynamoDayMarker:
    """``bot.digest.DayMarker`` as a conditional put in the shared table."""

    def __init__(self, client: Any, table: str, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def claim(self, day: str) -> bool:
        """True for the first claim of ``day``; False when a digest for it was already posted."""
        item = {
            **marker_key(day),
            "kind": {"S": "digest_marker"},
            "ttl": {"N": str(int(self._clock()) + MARKER_TTL_SECONDS)},
        }
        try:
            self._client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if is_condition_failure(error):
                return False
            raise
        return True

    def release(self, day: str) -> None:
        self._client.delete_item(TableName=self._table, Key=marker_key(day))
