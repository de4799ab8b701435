"""moto's DynamoDB transactions, rolled back item by item: the local stack's writes stay O(1).

moto's ``TransactWriteItems`` deep-copies every table a transaction names (all its items, its
indexes and its whole stream shard) before it starts, once per operation, to roll back a
cancelled transaction. A transaction on a table of n items therefore costs O(n), and each of our
forward changes is one: the re-resolution of 1,000 forwards naming one group spent nearly all its
time copying the table (50.9 s for 100 forwards; 1,000 did not finish in 25 minutes;
docs/performance.md, "People").

:func:`install` replaces it with the same transaction that keeps only what it touches: the
before-image of each item it writes (a copy of that item, or its absence) and the length of each
touched table's stream. A cancelled transaction puts every touched item back and drops the stream
records it added, as moto's copy did. One lock serialises transactions with the other item reads
and writes (and the stream reads), so nobody sees, overwrites or delivers a transaction's writes
before it is decided: moto's own rollback replaced the whole table, losing any write another
request made meanwhile.

This is the local stack's (``switchboard dev``, ``make bench``) fix of its own dev tool; nothing in
production depends on it. The semantics follow moto 5's ``transact_write_items``, whose body this
mirrors; tests/functional/test_local_dynamodb_transactions.py checks them.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, Table
from moto.dynamodbstreams.models import DynamoDBStreamsBackend

# One lock for every table of every backend in this process: a transaction is rare enough next to
# the local stack's other requests that a finer lock would buy nothing.
_LOCK = threading.RLock()
_LOCKED = (
    "get_item",
    "put_item",
    "delete_item",
    "update_item",
    "query",
    "scan",
)
_MARK = "_switchboard_local_locked"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Journal:
    """Before-images of what one transaction touched, to put back if it is cancelled."""

    items: dict[tuple[int, Any, Any], tuple[Table, DynamoType, DynamoType | None, Item | None]] = field(
        default_factory=dict
    )
    streams: dict[int, tuple[Any, list[StreamRecord], int]] = field(default_factory=dict)

    def keep(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        marker = (id(table), hash_key, range_key)
        if marker not in self.items:
            current = table.get_item(hash_key, range_key)
            # Updates change the stored Item in place: keep a copy, not the object.
            self.items[marker] = (table, hash_key, range_key, copy.deepcopy(current))
        shard = table.stream_shard
        if shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (shard, shard.items, len(shard.items))

    def restore(self) -> None:
        for table, hash_key, range_key, before in self.items.values():
            if before is None:
                if range_key is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items.get(hash_key, {}).pop(range_key, None)
            elif range_key is None:
                table.items[hash_key] = before  # type: ignore[assignment]  # moto's hash-only layout
            else:
                table.items[hash_key][range_key] = before
        for shard, records, length in self.streams.values():
            # A delivery to a Lambda event source mapping may have replaced the list meanwhile:
            # the records were appended to this one, which is what the shard held before.
            del records[length:]
            shard.items = records


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's ``transact_write_items`` with :class:`_Journal` in place of whole-table copies."""
    with _LOCK:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        journal = _Journal()
        target_items: set[tuple[str, str]] = set()

        def check_unicity(table_name: str, key: dict[str, Any]) -> None:
            item = (str(table_name), str(dict(sorted(key.items()))))
            if item in target_items:
                raise MultipleTransactionsException()
            target_items.add(item)

        errors: list[tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]] = []
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                check_unicity(table_name, key)
                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(condition_expression, names, values)
                    if not condition_op.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                if op_type != "ConditionCheck":
                    table = self.get_table(table_name)
                    journal.keep(table, *self.get_keys_value(table, key))
                if op_type == "Put":
                    self.put_item(
                        table_name,
                        op["Item"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Delete":
                    self.delete_item(
                        table_name,
                        key,
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        condition_expression=condition_expression,
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                journal.restore()
                raise
            except ConditionalCheckFailed as error:
                errors.append(("ConditionalCheckFailed", str(error.message), original_item))
            except Exception as error:  # moto reports any failure in the cancellation reasons
                errors.append((type(error).__name__, str(error), original_item))
        if any(code is not None for code, _, _ in errors):
            journal.restore()
            raise TransactionCanceledException(errors)


def _locked(method: F) -> F:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    setattr(locked, _MARK, True)
    return cast(F, locked)


def install() -> None:
    """Use :func:`transact_write_items` in every moto DynamoDB backend of this process (idempotent)."""
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    for name in _LOCKED:
        _lock_method(DynamoDBBackend, name)
    _lock_method(DynamoDBStreamsBackend, "get_records")


def _lock_method(cls: type, name: str) -> None:
    method = cls.__dict__[name]
    if not getattr(method, _MARK, False):
        setattr(cls, name, _locked(method))
