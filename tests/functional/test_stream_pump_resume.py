"""The local stream pump keeps delivering after a transaction the table refused.

moto rolls a refused TransactWriteItems back by putting a copy of the table in its place, so a
shard iterator taken before it reads a stream no write reaches any more. Every Amazon Connect call
the flow already recorded ends with such a refusal (the contact-event handler's conditional record
write), and the demo's later alerts and announcements were silently lost.
"""

from __future__ import annotations

from typing import Any

import pytest

from switchboard_local.aws.stream_pump import StreamPump
from tests.functional.conftest import TABLE

pytestmark = pytest.mark.functional


def _event(transaction_id: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"CALL#{transaction_id}"},
        "sk": {"S": "EVENT#bridge_failed"},
        "kind": {"S": "call_event"},
    }


def test_records_written_after_a_refused_transaction_are_delivered(dynamodb: Any) -> None:
    delivered: list[str] = []
    pump = StreamPump(
        TABLE,
        lambda event, context: delivered.extend(r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]),
        dynamodb_client=dynamodb,
    )
    dynamodb.put_item(TableName=TABLE, Item=_event("before"))
    pump.drain()
    refused = {
        "Put": {
            "TableName": TABLE,
            "Item": _event("before"),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[refused])
    dynamodb.put_item(TableName=TABLE, Item=_event("after"))

    pump.drain()

    assert delivered == ["CALL#before", "CALL#after"]
