"""The local stack's DynamoDB keeps no copy of a table per transaction.

moto's ``TransactWriteItems`` deep-copies every table it touches (items, indexes and the whole
stream shard) to roll back on a cancelled condition, and moto's model base class keeps every
instance it ever creates, copies included, for its dashboard. Every DNIS claim and every forward
change is a transaction, so a long ``switchboard dev`` session or the full reliability run kept a
whole table, growing with its stream, alive per transaction: quadratic memory.
"""

from __future__ import annotations

import gc

import boto3
from moto.dynamodb.models.table import StreamRecord, Table

from switchboard_local.stack import LocalStack

TRANSACTIONS = 40


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if type(obj) is kind)


def test_transactions_on_the_local_table_do_not_retain_copies_of_it() -> None:
    with LocalStack(table_name="switchboard-memory-test") as local, local.applied():
        client = boto3.client("dynamodb")
        # Some stream records first: a copy of the table carries a copy of each of them.
        for index in range(20):
            client.put_item(
                TableName=local.table_name, Item={"pk": {"S": f"TEST#{index}"}, "sk": {"S": "ITEM"}}
            )
        tables_before, records_before = _alive(Table), _alive(StreamRecord)
        for index in range(TRANSACTIONS):
            client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": local.table_name,
                            "Item": {"pk": {"S": f"TEST#tx{index}"}, "sk": {"S": "ITEM"}},
                        }
                    }
                ]
            )
        tables_after, records_after = _alive(Table), _alive(StreamRecord)

    kept = tables_after - tables_before
    assert kept <= 1, f"{kept} copies of the table kept by {TRANSACTIONS} transactions"
    # The stream itself gains one record per write; copies would add ~20 per transaction.
    assert records_after - records_before <= TRANSACTIONS + 5, records_after - records_before
