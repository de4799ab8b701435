"""The DynamoDB repository against moto: conditional writes, history, listings, races."""

from __future__ import annotations

import re
from typing import Any

import pytest

from switchboard.adapters.dynamodb import (
    LIVE_CALL_HOURS,
    RULE_BOOKKEEPING,
    DynamoCallLog,
    DynamoCallPathRules,
    DynamoForwardRepository,
    RuleNotFoundError,
    rule_from_item,
    rule_to_item,
)
from switchboard.domain.events import Attempt, CallRecord, LiveCall, Outcome
from switchboard.domain.hours import parse_hours
from switchboard.domain.people import DestinationSource, Person, SourceKind
from switchboard.domain.rules import FailureAction, ForwardRule, GreetingMode, NumberHome
from switchboard.ports import ConflictError
from switchboard_local.aws.template import table_properties
from tests.functional.conftest import TABLE

OURS = "+12025550100"
OTHER = "+12025550101"
DEST = "+12065550111"
OTHER_DEST = "+13125550122"


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
    log = DynamoCallLog(dynamodb, TABLE, clock=lambda: 1_700_001_000)  # the calls' time, not today
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


def _live(dialed: str, since_ms: int, callee: str = DEST) -> LiveCall:
    return LiveCall(
        dialed=dialed, caller="+13035550123", callee=callee, since_ms=since_ms, started_ms=since_ms
    )


def test_live_calls_are_listed_per_number_and_end_with_the_record(dynamodb: Any) -> None:
    log = DynamoCallLog(dynamodb, TABLE)
    now = 1_800_000_000_000
    log.call_live("tx-b", _live(OURS, now - 5_000))
    log.call_live("tx-a", _live(OURS, now - 60_000))
    log.call_live("tx-other", _live(OTHER, now - 1_000))

    assert [e.transaction_id for e in log.live_calls(now_ms=now)] == ["tx-a", "tx-b", "tx-other"]
    assert [e.transaction_id for e in log.live_calls(OURS, now_ms=now)] == ["tx-a", "tx-b"]
    entry = log.live_call("tx-b", now_ms=now)
    assert entry is not None
    assert entry.call == _live(OURS, now - 5_000)

    # A transfer re-lists the same call with its new callee (one entry per call, not two).
    log.call_live("tx-b", _live(OURS, now, callee="+13125550199"))
    assert [e.call.callee for e in log.live_calls(OURS, now_ms=now)] == [DEST, "+13125550199"]

    record = CallRecord(
        dialed=OURS,
        caller="+13035550123",
        outcome=Outcome.BRIDGED,
        attempts=(),
        started_ms=now - 5_000,
        ended_ms=now + 1_000,
        was_live=True,
    )
    log.record_call("tx-b", record)
    assert log.live_call("tx-b", now_ms=now) is None
    assert [e.transaction_id for e in log.live_calls(OURS, now_ms=now)] == ["tx-a"]
    assert log.recent_calls(OURS)[0]["transaction_id"] == "tx-b"


def test_a_live_entry_whose_hang_up_was_lost_is_ignored_after_the_bound(dynamodb: Any) -> None:
    log = DynamoCallLog(dynamodb, TABLE)
    now = 1_800_000_000_000
    log.call_live("tx-lost", _live(OURS, now - (LIVE_CALL_HOURS * 3600 + 1) * 1000))
    log.call_live("tx-fresh", _live(OURS, now - 1_000))
    assert [e.transaction_id for e in log.live_calls(OURS, now_ms=now)] == ["tx-fresh"]
    assert log.live_call("tx-lost", now_ms=now) is None
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "CALL#tx-lost"}, "sk": {"S": "LIVE"}})["Item"]
    assert int(item["ttl"]["N"]) > 0  # TTL removes it for good
    assert item["kind"]["S"] == "live_call"  # not a call_event: the notifier's filter skips it


def test_a_caller_that_just_read_the_rule_saves_the_second_read(dynamodb: Any) -> None:
    repo = DynamoForwardRepository(dynamodb, TABLE)
    operations: list[str] = []

    def record(model: Any, **_: Any) -> None:
        operations.append(model.name)

    dynamodb.meta.events.register("before-call.dynamodb", record)
    try:
        created = repo.save(ForwardRule(number=OURS, destinations=(DEST,)), actor="U1")
        assert operations == ["TransactWriteItems"]
        operations.clear()
        updated = repo.save(created.with_changes(greeting=GreetingMode.NONE), actor="U2", previous=created)
        assert operations == ["TransactWriteItems"]
        operations.clear()
        # A previous of another version is not trusted: the rule is read for the history.
        stale = created.with_changes(version=99)
        repo.delete(OURS, expected_version=updated.version, actor="U3", previous=stale)
        assert operations == ["GetItem", "TransactWriteItems"]
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb", record)
    history = repo.history(OURS)
    assert [h["action"] for h in history] == ["remove", "set", "set"]
    assert history[0]["old"]["greeting"] == "none"  # the read rule, not the stale one
    assert history[1]["old"]["greeting"] == "loop"  # the previous the caller passed


# -- the change guard and the loop check in the write (issue 11) ---------------------------------


def test_the_change_guard_is_held_by_one_owner_until_released_or_expired(
    repo: DynamoForwardRepository, dynamodb: Any
) -> None:
    now = 1_800_000_000.0
    assert repo.claim_change(OURS, owner="a", now=now, lease_seconds=90)
    assert not repo.claim_change(OURS, owner="b", now=now + 1, lease_seconds=90)
    assert repo.claim_change(OTHER, owner="b", now=now + 1, lease_seconds=90)  # per number

    repo.release_change(OURS, owner="b")  # not the holder: nothing happens
    assert not repo.claim_change(OURS, owner="b", now=now + 2, lease_seconds=90)

    repo.release_change(OURS, owner="a")
    assert repo.claim_change(OURS, owner="b", now=now + 3, lease_seconds=90)

    # b crashes; once its lease has run out, c takes over and b can no longer release c's guard
    assert repo.claim_change(OURS, owner="c", now=now + 3 + 91, lease_seconds=90)
    repo.release_change(OURS, owner="b")
    item = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"NUMBER#{OURS}"}, "sk": {"S": "CHANGE"}}, ConsistentRead=True
    )["Item"]
    assert item["owner"]["S"] == "c"
    assert item["kind"]["S"] == "change_guard"
    assert int(item["ttl"]["N"]) > int(item["lease_until"]["N"])
    assert repo.get(OURS) is None  # the guard is not a rule
    assert repo.list_rules() == []


def test_a_set_whose_destination_was_forwarded_meanwhile_fails_as_a_whole(
    repo: DynamoForwardRepository,
) -> None:
    """Interleaved by hand: A→B's loop check read B unforwarded, then B→A landed, then A→B writes."""
    b_to_a = repo.save(ForwardRule(number=OTHER, destinations=(OURS,)), actor="U2", unforwarded=(OURS,))
    with pytest.raises(ConflictError):
        repo.save(ForwardRule(number=OURS, destinations=(OTHER,)), actor="U1", unforwarded=(OTHER,))
    assert repo.get(OURS) is None
    assert repo.history(OURS) == []
    assert repo.get(OTHER) == b_to_a


def test_a_set_whose_destinations_have_no_rule_goes_through(repo: DynamoForwardRepository) -> None:
    stored = repo.save(
        ForwardRule(number=OURS, destinations=(OTHER, DEST)), actor="U1", unforwarded=(OTHER, DEST, OTHER)
    )
    assert repo.get(OURS) == stored


def test_the_numbers_home_is_stored_with_the_rule_and_kept_across_edits(
    repo: DynamoForwardRepository, dynamodb: Any
) -> None:
    home = NumberHome("VoiceConnector", ("abcdef1ghij2klmno3pqr4",))
    created = repo.save(ForwardRule(number=OURS, destinations=(DEST,), home=home), actor="U1")
    edited = repo.save(created.with_changes(destinations=(OTHER,)), actor="U1", previous=created)
    assert repo.get(OURS) == edited
    assert edited.home == home
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"NUMBER#{OURS}"}, "sk": {"S": "RULE"}})[
        "Item"
    ]
    # readable from the table alone (a stack teardown hands numbers back from it)
    assert item["home_routing"]["M"]["product_type"]["S"] == "VoiceConnector"
    assert [v["S"] for v in item["home_routing"]["M"]["voice_connectors"]["L"]] == ["abcdef1ghij2klmno3pqr4"]
    legacy = repo.save(ForwardRule(number=OTHER, destinations=(DEST,)), actor="U1")
    assert repo.get(OTHER) == legacy
    assert legacy.home is None


def test_an_expiring_rule_is_never_deleted_by_ttl(repo: DynamoForwardRepository, dynamodb: Any) -> None:
    """Only the expiry job may remove an expired rule: it routes the number back home first.

    A TTL deletion would leave the number on the SIP media application with no rule (dead) and
    lose the home it must go back to, e.g. after a week of failing expiry runs.
    """
    repo.save(ForwardRule(number=OURS, destinations=(DEST,), expires_at=1_800_000_000), actor="U1")
    key = {"pk": {"S": f"NUMBER#{OURS}"}, "sk": {"S": "RULE"}}
    item = dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
    assert item["expires_at"]["N"] == "1800000000"
    assert "ttl" not in item


def test_business_hours_and_else_destinations_round_trip_with_history(repo: DynamoForwardRepository) -> None:
    hours = parse_hours("weekdays 22:00-06:00", "America/Chicago")
    created = repo.save(
        ForwardRule(number=OURS, destinations=(DEST,), hours=hours, else_destinations=(OTHER_DEST,)),
        actor="U1",
    )
    stored = repo.get(OURS)
    assert stored == created
    assert stored is not None
    assert stored.hours == hours
    assert stored.else_destinations == (OTHER_DEST,)
    plain = repo.save(stored.with_changes(hours=None, else_destinations=()), actor="U2")
    assert repo.get(OURS) == plain
    change = repo.history(OURS)[0]
    assert change["old"]["hours"] == {"window": "mon-fri 22:00-06:00", "timezone": "America/Chicago"}
    assert change["old"]["else_destinations"] == [OTHER_DEST]
    assert "hours" not in change["new"]


def test_rule_items_without_hours_read_back_as_always_in_hours() -> None:
    item = rule_to_item(ForwardRule(number=OURS, destinations=(DEST,)))
    for key in ("hours", "else_destinations"):
        item.pop(key)
    rule = rule_from_item(item)
    assert rule.hours is None
    assert rule.else_destinations == ()


def test_a_call_reads_every_rule_attribute_but_bookkeeping(
    repo: DynamoForwardRepository, dynamodb: Any
) -> None:
    stored = repo.save(
        ForwardRule(
            number=OURS,
            destinations=(DEST, OTHER_DEST),
            greeting=GreetingMode.NONE,
            failure=FailureAction.VOICEMAIL,
            ring_timeout=17,
            voicemail_max_seconds=45,
            expires_at=4_000_000_000,
            home=NumberHome(product_type="VoiceConnector", voice_connectors=("vc1",)),
            hours=parse_hours("mon-fri 09:00-17:30", "America/Chicago"),
            else_destinations=("+13125550133",),
            sources=(DestinationSource(SourceKind.USER, "U1", "alice", (Person("U1", "Alice", DEST),)),),
        ),
        actor="U1",
    )

    read = DynamoCallPathRules(dynamodb, TABLE).get(OURS)

    bookkeeping_left_out = stored.with_changes(
        created_by="", updated_by="", updated_at="", version=0, home=None, sources=(), else_sources=()
    )
    assert read == bookkeeping_left_out
    assert DynamoCallPathRules(dynamodb, TABLE).get(OTHER) is None
    # Every attribute a rule is stored with is either read by calls or left out on purpose.
    assert set(rule_to_item(stored)) > RULE_BOOKKEEPING


def test_stored_hours_are_parsed_once_per_container() -> None:
    hours = parse_hours("weekdays 22:00-06:00", "America/Chicago")
    item = rule_to_item(
        ForwardRule(number=OURS, destinations=(DEST,), hours=hours, else_destinations=(OTHER_DEST,))
    )
    first, second = rule_from_item(dict(item)), rule_from_item(dict(item))
    assert first.hours == hours
    assert first.hours is second.hours  # the SMA reads the rule on every call: no re-parse
