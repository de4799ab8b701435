"""The local stack's DynamoDB transactions: rolled back item by item, without copying the table.

moto's ``TransactWriteItems`` deep-copied the whole table (and its stream) per operation, so each
forward change cost O(table) on the local stack (``switchboard_local.aws.dynamodb_transactions``).
These tests pin what the replacement must still do: a cancelled transaction leaves no trace (items
and stream), and concurrent requests neither lose writes nor see a cancelled one.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from switchboard_local.aws import dynamodb_transactions
from tests.functional.conftest import TABLE

pytestmark = pytest.mark.functional


@pytest.fixture
def client(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    dynamodb_transactions.install()

    def refuse(self: Table, memo: object) -> Table:
        raise AssertionError("a transaction copied the whole table")

    # Any copy of the table (moto's rollback) now fails the transaction that made it.
    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    return dynamodb


def key(name: str) -> dict[str, Any]:
    return {"pk": {"S": name}, "sk": {"S": "ITEM"}}


def item(name: str, **values: int) -> dict[str, Any]:
    return key(name) | {field: {"N": str(value)} for field, value in values.items()}


def put(name: str, **values: int) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": item(name, **values)}}


def read(client: Any, name: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = client.get_item(TableName=TABLE, Key=key(name), ConsistentRead=True).get(
        "Item"
    )
    return found


def stream_records(client: Any) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams")
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    records: list[dict[str, Any]] = streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
    return records


def test_a_cancelled_transaction_rolls_back_every_item_it_wrote_and_its_stream(client: Any) -> None:
    client.put_item(TableName=TABLE, Item=item("updated", count=1))
    client.put_item(TableName=TABLE, Item=item("deleted", count=7))
    client.put_item(TableName=TABLE, Item=item("replaced", count=3))
    client.put_item(TableName=TABLE, Item=item("present", count=0))
    records = len(stream_records(client))

    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                put("created", count=1),
                put("replaced", count=30),
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("updated"),
                        "UpdateExpression": "SET #count = #count + :one",
                        "ExpressionAttributeNames": {"#count": "count"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": key("deleted")}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": key("present"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    assert read(client, "created") is None
    assert read(client, "replaced") == item("replaced", count=3)
    assert read(client, "updated") == item("updated", count=1)
    assert read(client, "deleted") == item("deleted", count=7)
    assert len(stream_records(client)) == records


def test_a_transaction_refused_midway_as_invalid_rolls_back_what_it_wrote(client: Any) -> None:
    with pytest.raises(ClientError, match="ValidationException"):
        client.transact_write_items(TransactItems=[put("twice", count=1), put("twice", count=2)])
    assert read(client, "twice") is None


def test_a_transaction_that_succeeds_writes_every_item_and_streams_each(client: Any) -> None:
    records = len(stream_records(client))
    client.transact_write_items(TransactItems=[put("one", count=1), put("two", count=2)])
    assert read(client, "one") == item("one", count=1)
    assert read(client, "two") == item("two", count=2)
    assert len(stream_records(client)) == records + 2


def test_concurrent_transactions_lose_no_write_and_conditions_hold(client: Any) -> None:
    """Counters incremented by conditional transactions from several threads, while other
    threads' transactions are cancelled on the same table: every increment that succeeded is
    there exactly once (moto's whole-table rollback restored a copy taken before them)."""
    client.put_item(TableName=TABLE, Item=item("counter", count=0))
    threads, rounds = 4, 15
    succeeded = [0] * threads
    failures: list[BaseException] = []

    def increment(worker: int) -> None:
        own = boto3.client("dynamodb")
        try:
            for round_ in range(rounds):
                seen = int(read(own, "counter")["count"]["N"])  # type: ignore[index]
                try:
                    own.transact_write_items(
                        TransactItems=[
                            {
                                "Put": {
                                    "TableName": TABLE,
                                    "Item": item("counter", count=seen + 1),
                                    "ConditionExpression": "#count = :seen",
                                    "ExpressionAttributeNames": {"#count": "count"},
                                    "ExpressionAttributeValues": {":seen": {"N": str(seen)}},
                                }
                            },
                            put(f"log-{worker}-{round_}", count=seen + 1),
                        ]
                    )
                    succeeded[worker] += 1
                except ClientError as error:
                    if "TransactionCanceled" not in str(error):
                        raise
                    assert read(own, f"log-{worker}-{round_}") is None
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    def cancel() -> None:
        own = boto3.client("dynamodb")
        try:
            for round_ in range(rounds):
                with pytest.raises(ClientError, match="TransactionCanceled"):
                    own.transact_write_items(
                        TransactItems=[
                            put(f"cancelled-{round_}", count=1),
                            {
                                "ConditionCheck": {
                                    "TableName": TABLE,
                                    "Key": key("counter"),
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                }
                            },
                        ]
                    )
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    workers = [threading.Thread(target=increment, args=(index,)) for index in range(threads)]
    workers.append(threading.Thread(target=cancel))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert not failures, failures[0]
    assert sum(succeeded) > 0
    assert read(client, "counter") == item("counter", count=sum(succeeded))
    logged = [read(client, f"log-{worker}-{round_}") for worker in range(threads) for round_ in range(rounds)]
    assert sorted(int(entry["count"]["N"]) for entry in logged if entry) == list(range(1, sum(succeeded) + 1))
    assert all(read(client, f"cancelled-{round_}") is None for round_ in range(rounds))
