"""The DynamoDB repository against moto: conditional writes, history, listings, races."""

from __future__ import annotations

import re
from typing import Any

import pytest

from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository, RuleNotFoundError
from switchboard.domain.events import Attempt, CallRecord, Outcome
from switchboard.domain.rules import ForwardRule, GreetingMode
from switchboard.local.template import table_properties
from switchboard.ports import ConflictError
from tests.functional.conftest import TABLE

OURS = "+12025550100"
OTHER = "+12025550101"
DEST = "+12065550111"


@pytest.fixture
def repo(dynamodb: Any) -> DynamoForwardRepository:
    return DynamoForwardRepository(dynamodb, TABLE)


def test_table_matches_the_template(dynamodb: Any) -> None:
    description = dynamodb.describe_table(TableName=TABLE)["Table"]
    props = table_properties()
    assert description["KeySchema"] == props["KeySchema"]
    assert {i["IndexName"] for i in description["GlobalSecondaryIndexes"]} == {"gsi1", "free_pairs"}
    assert description["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    ttl = dynamodb.describe_time_to_live(TableName=TABLE)["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "ttl"


def test_create_read_update_delete_with_history(repo: DynamoForwardRepository) -> None:
    created = repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U1")
    assert created.version == 1
    assert created.created_by == created.updated_by == "U1"
    assert repo.get(OURS) == created

    updated = repo.save(created.with_changes(greeting=GreetingMode.NONE), actor="U2")
    assert updated.version == 2
    assert updated.created_by == "U1"
    assert updated.updated_by == "U2"

    removed = repo.delete(OURS, expected_version=2, actor="U3")
    assert removed == updated
    assert repo.get(OURS) is None

    history = repo.history(OURS)
    assert [(h["action"], h["actor"]) for h in history] == [("remove", "U3"), ("set", "U2"), ("set", "U1")]
    assert history[0]["old"]["greeting"] == "none"
    assert history[0].get("new") is None
    assert history[1]["old"]["greeting"] == "loop"
    assert history[1]["new"]["greeting"] == "none"
    assert history[2].get("old") is None


def test_a_stale_write_is_refused_and_changes_nothing(repo: DynamoForwardRepository) -> None:
    first = repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U1")
    repo.save(first.with_changes(ring_timeout=20), actor="U2")

    with pytest.raises(ConflictError, match="changed since it was read"):
        repo.save(first.with_changes(ring_timeout=60), actor="U3")  # based on version 1

    stored = repo.get(OURS)
    assert stored is not None
    assert stored.ring_timeout == 20
    assert len(repo.history(OURS)) == 2  # the refused change left no history either


def test_creating_an_existing_rule_twice_is_a_conflict(repo: DynamoForwardRepository) -> None:
    repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U1")
    with pytest.raises(ConflictError):
        repo.save(ForwardRule(number=OURS, destinations=("+13125550122",)), actor="U2")


def test_delete_checks_existence_and_version(repo: DynamoForwardRepository) -> None:
    with pytest.raises(RuleNotFoundError, match=re.escape(OURS)):
        repo.delete(OURS, expected_version=1, actor="U1")
    repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U1")
    with pytest.raises(ConflictError):
        repo.delete(OURS, expected_version=7, actor="U1")
    assert repo.get(OURS) is not None


def test_interleaved_writers_exactly_one_wins(repo: DynamoForwardRepository) -> None:
    """Two admins open the same rule, both submit: the second submit must not overwrite the first.

    Interleaved by hand rather than with threads: moto's server does not serialise concurrent
    transactions the way DynamoDB does, so a threaded race here would test moto, not us.
    """
    base = repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U0")
    seen_by_alice = repo.get(OURS)
    seen_by_bob = repo.get(OURS)
    assert seen_by_alice == seen_by_bob == base

    repo.save(base.with_changes(ring_timeout=15), actor="alice")
    with pytest.raises(ConflictError):
        repo.save(base.with_changes(ring_timeout=45), actor="bob")

    stored = repo.get(OURS)
    assert stored is not None
    assert (stored.ring_timeout, stored.updated_by, stored.version) == (15, "alice", 2)
    assert [h["actor"] for h in repo.history(OURS)] == ["alice", "U0"]


def test_list_returns_every_rule_sorted(repo: DynamoForwardRepository) -> None:
    repo.save(ForwardRule(number=OTHER, destinations=(DEST,)), actor="U1")
    repo.save(ForwardRule(number=OURS, destinations=(DEST,), expires_at=2_000_000_000), actor="U1")
    rules = repo.list_rules()
    assert [r.number for r in rules] == [OURS, OTHER]
    assert rules[0].expires_at == 2_000_000_000


def test_call_log_lists_recent_calls_newest_first(dynamodb: Any) -> None:
    log = DynamoCallLog(dynamodb, TABLE)
    for index in range(3):
        log.record_call(
            f"tx-{index}",
            CallRecord(
                dialed=OURS,
                caller="+13035550123",
                outcome=Outcome.BRIDGED,
                attempts=(Attempt(DEST, "answered", 1200),),
                started_ms=1_700_000_000_000 + index * 60_000,
                ended_ms=1_700_000_030_000 + index * 60_000,
                talk_ms=25_000,
            ),
        )
    recent = log.recent_calls(OURS, limit=2)
    assert [r["transaction_id"] for r in recent] == ["tx-2", "tx-1"]
    assert recent[0]["duration_ms"] == 30_000
