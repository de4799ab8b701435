"""Retention (issue 11, item 19): history items expire, and readers ignore what TTL has not yet deleted.

DynamoDB deletes an item whose ``ttl`` has passed within a few days, not at once; until then a
query still returns it, so every reader checks the ``ttl`` itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from switchboard.adapters.dynamodb import (
    CALL_RECORD_DAYS,
    DEFAULT_HISTORY_RETENTION_DAYS,
    DynamoCallLog,
    DynamoForwardRepository,
)
from switchboard.domain.events import Attempt, CallRecord, Outcome
from switchboard.domain.rules import ForwardRule
from switchboard.settings import ConfigurationError, Settings, load
from tests.functional.conftest import TABLE

OURS = "+12025550100"
DEST = "+12065550111"
DAY = 86_400
NOW = 1_800_000_000


def _history_items(dynamodb: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :history)",
        ExpressionAttributeValues={":pk": {"S": f"NUMBER#{OURS}"}, ":history": {"S": "HISTORY#"}},
    )["Items"]
    return items


def test_history_items_expire_after_the_retention(dynamodb: Any) -> None:
    repo = DynamoForwardRepository(dynamodb, TABLE, history_retention_days=30, clock=lambda: NOW)
    rule = repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U1")
    repo.delete(OURS, expected_version=rule.version, actor="U2")
    items = _history_items(dynamodb)
    assert len(items) == 2
    assert {int(item["ttl"]["N"]) for item in items} == {NOW + 30 * DAY}


def test_the_default_retention_is_400_days(dynamodb: Any) -> None:
    assert DEFAULT_HISTORY_RETENTION_DAYS == 400
    repo = DynamoForwardRepository(dynamodb, TABLE, clock=lambda: NOW)
    repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U1")
    (item,) = _history_items(dynamodb)
    assert int(item["ttl"]["N"]) == NOW + 400 * DAY


def test_history_past_its_ttl_is_not_shown_even_before_dynamodb_deletes_it(dynamodb: Any) -> None:
    DynamoForwardRepository(dynamodb, TABLE, history_retention_days=1, clock=lambda: NOW).save(
        ForwardRule(number=OURS, destinations=(DEST,)), actor="U1"
    )
    later = DynamoForwardRepository(dynamodb, TABLE, clock=lambda: NOW + 2 * DAY)
    later_rule = later.get(OURS)
    assert later_rule is not None
    later.save(later_rule.with_changes(destinations=("+13125550199",)), actor="U2")
    assert len(_history_items(dynamodb)) == 2  # still in the table
    assert [h["actor"] for h in later.history(OURS)] == ["U2"]
    # The rule itself is not a history item: it has no TTL unless it expires (docs/architecture.md).
    assert later.get(OURS) is not None


def _record(started_s: int) -> CallRecord:
    return CallRecord(
        dialed=OURS,
        caller="+13035550123",
        outcome=Outcome.BRIDGED,
        attempts=(Attempt(DEST, "answered", 1200),),
        started_ms=started_s * 1000,
        ended_ms=started_s * 1000 + 30_000,
        talk_ms=25_000,
    )


def test_call_records_past_their_ttl_are_ignored(dynamodb: Any) -> None:
    old_start = NOW - (CALL_RECORD_DAYS + 1) * DAY
    DynamoCallLog(dynamodb, TABLE).record_call("tx-old", _record(old_start))
    DynamoCallLog(dynamodb, TABLE).record_call("tx-new", _record(NOW - 60))
    log = DynamoCallLog(dynamodb, TABLE, clock=lambda: NOW)

    assert log.call_record("tx-old") is None
    assert log.call_record("tx-new") is not None
    assert [r["transaction_id"] for r in log.recent_calls(OURS)] == ["tx-new"]
    every = log.calls_between(OURS, (old_start - 60) * 1000, NOW * 1000)
    assert [r["transaction_id"] for r in every] == ["tx-new"]


def test_history_retention_is_a_setting() -> None:
    assert Settings().history_retention_days == 400
    assert load(environ={"HISTORY_RETENTION_DAYS": "30"}).history_retention_days == 30
    for bad in ("0", "-5", "ten", "1.5"):
        with pytest.raises(ConfigurationError, match="HISTORY_RETENTION_DAYS"):
            load(environ={"HISTORY_RETENTION_DAYS": bad})


def test_the_wiring_hands_the_retention_to_the_repository(dynamodb: Any) -> None:
    from switchboard.wiring import rule_repository

    repo = rule_repository(Settings(table_name=TABLE, history_retention_days=30), dynamodb)
    assert repo.history_retention_days == 30
