"""The forwarding flow on Amazon Connect end to end on moto: ``connect_lambda.app.handler`` for the
flow's turns and ``connect_lambda.contact_events.handler`` for the caller's hang-up, with the real
DynamoDB adapters. The items are the SIP media application's (records, ``bridge_failed`` events),
so the stream notifier alerts on them unchanged."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from switchboard.adapters.dynamo_codec import decode_item
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.domain.rules import FailureAction, ForwardRule, GreetingMode
from tests.functional.conftest import TABLE
from tests.helpers import connect_lambda_modules, load_event

pytestmark = pytest.mark.functional

OURS, CALLER = "+12025550100", "+13035550123"
D1, D2 = "+12065550111", "+13125550122"
CONTACT = "5ca32fbd-8f92-46af-92a5-6b0f970f0efe"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z, the contact event fixture's initiationTimestamp


@pytest.fixture(scope="module")
def modules(moto_endpoint: str) -> Iterator[tuple[ModuleType, ModuleType]]:
    with connect_lambda_modules("https://prompts.example.com/connect/") as modules:
        yield modules


class Call:
    """Plays the flow's part: every turn's reply saved as contact attributes and, when it dials,
    the asynchronous ``Dialing`` turn right after (``auto_dialing``; the greetings here are none)."""

    def __init__(self, module: ModuleType, dynamodb: Any) -> None:
        self.module = module
        self.dynamodb = dynamodb
        self.now = T0
        self.attributes: dict[str, str] = {}
        self.auto_dialing = True
        module.forwarding.clock = lambda: self.now

    def send(self, name: str, **parameters: str) -> dict[str, str]:
        event = load_event(name)
        event["Details"]["Parameters"].update(parameters)
        event["Details"]["ContactData"]["Attributes"] = copy.deepcopy(self.attributes)
        reply: dict[str, str] = self.module.handler(event, None)
        assert reply["status"] == "ok"
        assert all(isinstance(v, str) for v in reply.values())
        self.attributes.update({k: v for k, v in reply.items() if k != "status"})
        if reply["op"] == "dial" and self.auto_dialing:
            self.dialing()
        return reply

    def dialing(self, attributes: dict[str, str] | None = None, *, at: int | None = None) -> None:
        """The ``Dialing`` invocation with these attributes (default: the current ones) at ``at``."""
        event = load_event("connect_forward_dialing")
        event["Details"]["ContactData"]["Attributes"] = copy.deepcopy(
            self.attributes if attributes is None else attributes
        )
        saved, self.now = self.now, self.now if at is None else at
        try:
            reply = self.module.handler(event, None)
        finally:
            self.now = saved
        assert reply["status"] == "ok"
        assert all(isinstance(v, str) for v in reply.values())

    def items(self) -> dict[str, dict[str, Any]]:
        found = self.dynamodb.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"CALL#{CONTACT}"}},
        )["Items"]
        return {item["sk"]["S"]: decode_item(item) for item in found}


@pytest.fixture
def call(modules: tuple[ModuleType, ModuleType], dynamodb: Any) -> Iterator[Call]:
    module = modules[0]
    clock = module.forwarding.clock
    yield Call(module, dynamodb)
    module.forwarding.clock = clock


def forward(dynamodb: Any, *destinations: str, **fields: Any) -> None:
    rule = ForwardRule(number=OURS, destinations=destinations, **fields)
    DynamoForwardRepository(dynamodb, TABLE).save(rule, actor="test")


def test_follow_me_all_failed_writes_the_record_and_the_alert_event(call: Call, dynamodb: Any) -> None:
    forward(dynamodb, D1, D2, greeting=GreetingMode.NONE, ring_timeout=20)

    assert call.send("connect_forward_start")["dial_to"] == D1
    call.now += 20_000
    assert call.send("connect_forward_attempt_failed", Error="ConnectionTimeLimitExceeded")["dial_to"] == D2
    call.now += 2_000
    last = call.send("connect_forward_attempt_failed", Error="CallFailed")

    assert last["op"] == "play_hangup"
    assert last["prompt_uri"] == "https://prompts.example.com/connect/failure.wav"
    items = call.items()
    record, event = items["RECORD"], items["EVENT#bridge_failed"]
    assert (record["outcome"], record["dialed"], record["caller"], record["backend"]) == (
        "all-failed",
        OURS,
        CALLER,
        "connect",
    )
    assert [a["result"] for a in record["attempts"]] == ["CallNotAnswered", "CallFailed"]
    assert (event["kind"], event["all_failed"], event["backend"]) == ("call_event", True, "connect")


def test_a_retried_last_turn_does_not_write_a_second_record(call: Call, dynamodb: Any) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, failure=FailureAction.HANGUP)
    call.send("connect_forward_start")
    before = dict(call.attributes)

    call.now += 1_000
    call.send("connect_forward_attempt_failed", Error="CallFailed")
    first = call.items()["RECORD"]
    call.attributes = before
    call.now += 3_000  # Connect retries a few seconds later, with the same attributes
    again = call.send("connect_forward_attempt_failed", Error="CallFailed")

    assert again["op"] == "hangup"
    assert call.items()["RECORD"] == first


def test_the_caller_hanging_up_while_it_rings_is_recorded_from_the_contact_event(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.send("connect_forward_start")
    disconnected = load_event("connect_contact_disconnected")  # 8 s into the call

    assert modules[1].handler(disconnected, None) == {"result": "abandoned"}
    first = call.items()["RECORD"]
    # A duplicate: the record deleted the live entry, so nothing is left to finish.
    assert modules[1].handler(disconnected, None) == {"result": "no call in progress"}
    assert call.items()["RECORD"] == first

    record = call.items()["RECORD"]
    assert (record["outcome"], record["timing"]) == ("abandoned", "approximate")
    assert record["attempts"] == [{"destination": D1, "result": "abandoned", "ring_ms": 8_000}]
    assert "EVENT#bridge_failed" not in call.items()


def test_a_hang_up_after_the_ring_timeout_was_a_bridged_call(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=5)
    call.send("connect_forward_start")

    modules[1].handler(load_event("connect_contact_disconnected"), None)

    record = call.items()["RECORD"]
    assert record["outcome"] == "bridged"
    assert record["talk_ms"] == 8_000


def answered_and_ended(call: Call, dynamodb: Any) -> dict[str, Any]:
    """A call answered by D1 whose callee hung up 3 s after the dial: the flow's own record."""
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.send("connect_forward_start")
    call.now += 3_000
    call.send("connect_forward_bridge_ended")
    return dict(call.items()["RECORD"])


def test_the_flows_own_record_wins_over_the_contact_event(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    flows_record = answered_and_ended(call, dynamodb)

    modules[1].handler(load_event("connect_contact_disconnected"), None)

    assert flows_record["outcome"] == "bridged"
    assert call.items()["RECORD"] == flows_record


def test_the_flows_record_of_an_answered_call_says_its_timing_is_approximate(
    call: Call, dynamodb: Any
) -> None:
    # The flow never sees the answer: talk time counts from the dial, as the module docstring says.
    record = answered_and_ended(call, dynamodb)
    assert (record["outcome"], record["backend"], record["timing"]) == ("bridged", "connect", "approximate")


def test_contact_events_of_other_contacts_are_ignored(
    modules: tuple[ModuleType, ModuleType], dynamodb: Any
) -> None:
    event = load_event("connect_contact_disconnected")
    other = copy.deepcopy(event)
    other["detail"]["eventType"] = "CONNECTED_TO_SYSTEM"

    assert modules[1].handler(other, None) == {"result": "ignored"}
    assert list(dynamodb.scan(TableName=TABLE)["Items"]) == []


def test_the_transfer_flow_still_answers_on_the_same_entry_point(call: Call) -> None:
    reply = call.module.handler(load_event("connect_get_data"), None)

    assert reply["status"] == "error"  # no DNIS pair in this table: a reason, not a crash


# -- live entries and transfers queued from Slack (deferred: carried out when the callee hangs up) --

TARGET = "+13125550199"


def queue_transfer(dynamodb: Any, target: str, for_since_ms: int) -> None:
    from switchboard.adapters.connect_calls import DynamoTransferQueue
    from switchboard.domain.transfer import QueuedTransfer

    DynamoTransferQueue(dynamodb, TABLE).queue(CONTACT, QueuedTransfer(target, for_since_ms, "U0ADMIN"), T0)


def test_a_call_is_listed_from_each_dial_and_unlisted_by_its_record(call: Call, dynamodb: Any) -> None:
    from switchboard.adapters.dynamodb import DynamoCallLog

    forward(dynamodb, D1, D2, greeting=GreetingMode.NONE, ring_timeout=20)
    log = DynamoCallLog(dynamodb, TABLE)
    call.send("connect_forward_start")
    (first,) = log.live_calls(OURS, now_ms=T0)
    assert (first.transaction_id, first.backend, first.call.callee) == (CONTACT, "connect", D1)
    assert (first.call.since_ms, first.ring_until_ms, first.call.caller) == (T0, T0 + 20_000, CALLER)
    assert first.may_be_ringing(T0 + 19_999)
    assert not first.may_be_ringing(T0 + 20_000)

    call.now += 20_000
    call.send("connect_forward_attempt_failed", Error="ConnectionTimeLimitExceeded")
    (second,) = log.live_calls(OURS, now_ms=call.now)
    assert (second.call.callee, second.call.since_ms) == (D2, call.now)

    call.now += 2_000
    call.send("connect_forward_attempt_failed", Error="CallFailed")  # all failed: the record
    assert log.live_calls(OURS, now_ms=call.now) == []
    assert "LIVE" not in call.items()


def test_a_dial_after_the_call_was_recorded_does_not_list_it_again(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    forward(dynamodb, D1, D2, greeting=GreetingMode.NONE, ring_timeout=20)
    call.send("connect_forward_start")
    before = dict(call.attributes)
    # The caller hangs up while the Lambda is still deciding the next dial; the event wins the race.
    modules[1].handler(load_event("connect_contact_disconnected"), None)
    call.attributes = before
    call.now += 9_000
    call.send("connect_forward_attempt_failed", Error="CallFailed")

    assert call.items()["RECORD"]["outcome"] == "abandoned"
    assert "LIVE" not in call.items()


def test_a_queued_transfer_runs_when_the_callee_hangs_up(call: Call, dynamodb: Any) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.send("connect_forward_start")
    queue_transfer(dynamodb, TARGET, for_since_ms=T0)  # asked for this dial, from Slack

    call.now += 60_000
    hold = call.send("connect_forward_bridge_ended")
    assert (hold["op"], hold["dial_to"], hold["dial_timeout"]) == ("dial", TARGET, "30")
    assert hold["prompt_uri"] == "https://prompts.example.com/connect/please_hold.wav"
    assert (hold["cid_mode"], hold["cid"]) == ("passthrough", "")  # the target sees the caller
    live = call.items()["LIVE"]
    assert (live["callee"], live["transferred"], live["since"]) == (TARGET, True, call.now)
    assert "RECORD" not in call.items()

    call.now += 45_000
    assert call.send("connect_forward_bridge_ended")["op"] == "hangup"  # the target hung up
    record = call.items()["RECORD"]
    assert record["outcome"] == "transferred"
    assert [a["destination"] for a in record["attempts"]] == [D1, TARGET]
    assert "LIVE" not in call.items()


def test_a_target_that_does_not_answer_fails_the_transfer_with_its_alert(call: Call, dynamodb: Any) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.send("connect_forward_start")
    queue_transfer(dynamodb, TARGET, for_since_ms=T0)
    call.now += 60_000
    call.send("connect_forward_bridge_ended")
    call.now += 30_000

    failed = call.send("connect_forward_attempt_failed", Error="ConnectionTimeLimitExceeded")

    assert failed["op"] == "play_hangup"
    assert failed["prompt_uri"].endswith("/failure.wav")
    items = call.items()
    assert items["RECORD"]["outcome"] == "transfer-failed"
    event = items["EVENT#transfer_failed"]
    assert (event["kind"], event["transfer_target"]) == ("call_event", TARGET)


@pytest.mark.parametrize(
    ("target", "for_since"),
    [
        (TARGET, T0 - 1),  # asked for an earlier bridge of the call: stale
        ("+19005550100", T0),  # premium rate: the Lambda runs the toll-fraud check itself
        (OURS, T0),  # the call's own number
    ],
)
def test_stale_or_refused_queued_transfers_end_the_call_as_usual(
    call: Call, dynamodb: Any, target: str, for_since: int
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.send("connect_forward_start")
    queue_transfer(dynamodb, target, for_since_ms=for_since)
    call.now += 60_000

    assert call.send("connect_forward_bridge_ended")["op"] == "hangup"
    assert call.items()["RECORD"]["outcome"] == "bridged"


def test_one_transfer_per_dial_is_queued_and_a_later_dial_may_queue_again(dynamodb: Any) -> None:
    from switchboard.adapters.connect_calls import DynamoTransferQueue
    from switchboard.domain.transfer import QueuedTransfer
    from switchboard.ports import CallControlError

    queue = DynamoTransferQueue(dynamodb, TABLE)
    queue.queue(CONTACT, QueuedTransfer(TARGET, T0, "U1"), T0)
    with pytest.raises(CallControlError, match=r"to \+13125550199 is queued already"):
        queue.queue(CONTACT, QueuedTransfer("+13125550188", T0, "U2"), T0 + 1)
    queue.queue(CONTACT, QueuedTransfer("+13125550188", T0 + 60_000, "U2"), T0 + 60_000)

    assert queue.pending(CONTACT) == QueuedTransfer("+13125550188", T0 + 60_000, "U2")
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"TRANSFER#{CONTACT}"}, "sk": {"S": "QUEUED"}})
    assert decode_item(item["Item"])["kind"] == "transfer_request"


# -- the live entry is written by the asynchronous Dialing turn: late, duplicated, out of order --


def live(call: Call) -> dict[str, Any] | None:
    return call.items().get("LIVE")


def test_start_writes_nothing_and_dialing_lists_the_call_from_the_real_dial(
    call: Call, dynamodb: Any
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.ONCE, ring_timeout=20)
    call.auto_dialing = False
    call.send("connect_forward_start")
    assert call.items() == {}  # Start made one request: the rule

    call.dialing(at=T0 + 3_000)  # after the greeting

    entry = live(call)
    assert entry is not None
    assert (entry["callee"], entry["since"], entry["ring_until"]) == (D1, T0, T0 + 23_000)
    assert entry["backend"] == "connect"


def test_a_late_dialing_of_an_earlier_dial_never_replaces_the_later_dials_entry(
    call: Call, dynamodb: Any
) -> None:
    forward(dynamodb, D1, D2, greeting=GreetingMode.NONE, ring_timeout=20)
    call.auto_dialing = False
    call.send("connect_forward_start")
    first = dict(call.attributes)
    call.now += 20_000
    call.send("connect_forward_attempt_failed", Error="ConnectionTimeLimitExceeded")

    call.dialing(at=T0 + 20_050)  # dial 2's Dialing lands first
    call.dialing(first, at=T0 + 20_100)  # then dial 1's, late

    entry = live(call)
    assert entry is not None
    assert (entry["callee"], entry["since"], entry["ring_until"]) == (D2, T0 + 20_000, T0 + 40_050)


def test_dialings_in_order_move_the_entry_to_the_later_dial(call: Call, dynamodb: Any) -> None:
    forward(dynamodb, D1, D2, greeting=GreetingMode.NONE, ring_timeout=20)
    call.auto_dialing = False
    call.send("connect_forward_start")
    call.dialing(at=T0 + 50)
    call.now += 20_000
    call.send("connect_forward_attempt_failed", Error="ConnectionTimeLimitExceeded")
    call.dialing(at=T0 + 20_050)

    entry = live(call)
    assert entry is not None
    assert (entry["callee"], entry["since"]) == (D2, T0 + 20_000)


def test_a_retried_dialing_keeps_the_first_ones_ring_time(call: Call, dynamodb: Any) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.auto_dialing = False
    call.send("connect_forward_start")

    call.dialing(at=T0 + 50)
    first = live(call)
    call.dialing(at=T0 + 2_500)  # Connect retried (the first answer was slow)

    assert first is not None
    assert first["ring_until"] == T0 + 20_050
    assert live(call) == first


def test_a_dialing_after_the_call_was_recorded_does_not_list_it_again(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, failure=FailureAction.HANGUP)
    call.auto_dialing = False
    call.send("connect_forward_start")
    call.now += 1_000
    call.send("connect_forward_attempt_failed", Error="CallFailed")  # all failed: recorded
    assert call.items()["RECORD"]["outcome"] == "all-failed"

    call.dialing(at=T0 + 5_000)  # the dial's Dialing, very late

    assert "LIVE" not in call.items()


def test_a_greeting_before_the_dial_does_not_make_a_ringing_call_look_answered(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    """The ring time counts from the dial, not from Start: dialled at 3 s after the greeting with 6 s
    to ring, a caller who hangs up at 8 s abandoned a call still ringing."""
    forward(dynamodb, D1, greeting=GreetingMode.ONCE, ring_timeout=6)
    call.auto_dialing = False
    call.send("connect_forward_start")
    call.dialing(at=T0 + 3_000)

    assert modules[1].handler(load_event("connect_contact_disconnected"), None) == {"result": "abandoned"}
    assert call.items()["RECORD"]["outcome"] == "abandoned"


# -- the caller hangs up before the dial's Dialing write lands: the ENDED marker ------------------

DISCONNECTED_AT = T0 + 8_000  # the contact event fixture's disconnectTimestamp


def test_a_contact_that_never_dialled_leaves_only_the_ended_marker(
    modules: tuple[ModuleType, ModuleType], dynamodb: Any
) -> None:
    """Another flow's contact (or one whose Dialing has not landed yet): one conditional write."""
    event = load_event("connect_contact_disconnected")

    assert modules[1].handler(event, None) == {"result": "ended before a dial was listed"}

    (item,) = dynamodb.scan(TableName=TABLE)["Items"]
    marker = decode_item(item)
    assert (marker["pk"], marker["sk"], marker["at"]) == (f"CALL#{CONTACT}", "ENDED", DISCONNECTED_AT)
    assert marker["ttl"] == DISCONNECTED_AT // 1000 + 86_400


def test_a_recorded_call_gets_no_ended_marker(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    call.send("connect_forward_start")  # no forward: not in service, recorded at Start

    assert modules[1].handler(load_event("connect_contact_disconnected"), None) == {
        "result": "no call in progress"
    }
    assert set(call.items()) == {"RECORD"}


def test_a_dialing_that_lands_after_the_hang_up_records_the_call_as_abandoned(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.auto_dialing = False
    call.send("connect_forward_start")
    disconnected = load_event("connect_contact_disconnected")
    assert modules[1].handler(disconnected, None) == {"result": "ended before a dial was listed"}
    assert modules[1].handler(disconnected, None) == {"result": "ended before a dial was listed"}  # again
    assert set(call.items()) == {"ENDED"}

    call.dialing(at=T0 + 9_000)  # cold: lands after the caller hung up and the event was handled

    items = call.items()
    assert "LIVE" not in items
    record = items["RECORD"]
    assert (record["outcome"], record["timing"], record["backend"]) == ("abandoned", "approximate", "connect")
    assert record["ended_at"] == "2023-11-14T22:13:28.000Z"
    assert record["attempts"] == [{"destination": D1, "result": "abandoned", "ring_ms": 8_000}]
    assert "EVENT#bridge_failed" not in items
    assert DynamoCallLog(dynamodb, TABLE).live_calls(OURS, now_ms=T0 + 9_000) == []

    call.dialing(at=T0 + 11_000)  # Connect retried the Dialing
    assert modules[1].handler(disconnected, None) == {"result": "no call in progress"}  # and the event
    assert call.items()["RECORD"] == record
    assert "LIVE" not in call.items()


def test_a_dialing_landing_between_the_events_read_and_its_marker_is_finished_by_the_event(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, ring_timeout=20)
    call.auto_dialing = False
    call.send("connect_forward_start")
    progress = modules[1].app._progress
    find = progress.find
    reads: list[str] = []

    def read_then_dialing_lands(contact_id: str) -> Any:
        reads.append(contact_id)
        found = find(contact_id)
        if len(reads) == 1:
            call.dialing(at=T0 + 7_000)  # lands right after the event's read
        return found

    monkeypatch.setattr(progress, "find", read_then_dialing_lands)

    assert modules[1].handler(load_event("connect_contact_disconnected"), None) == {"result": "abandoned"}
    assert len(reads) == 2  # the marker's check found the live entry; the event read it again
    items = call.items()
    assert set(items) == {"RECORD"}
    assert items["RECORD"]["outcome"] == "abandoned"


def test_a_dialing_after_the_flows_own_record_and_a_late_event_leave_one_record(
    call: Call, dynamodb: Any, modules: tuple[ModuleType, ModuleType]
) -> None:
    forward(dynamodb, D1, greeting=GreetingMode.NONE, failure=FailureAction.HANGUP)
    call.auto_dialing = False
    call.send("connect_forward_start")
    call.now += 1_000
    call.send("connect_forward_attempt_failed", Error="CallFailed")  # all failed: the flow's record
    flows = call.items()["RECORD"]

    assert modules[1].handler(load_event("connect_contact_disconnected"), None) == {
        "result": "no call in progress"
    }
    call.dialing(at=T0 + 9_000)

    assert call.items() == {"RECORD": flows, "EVENT#bridge_failed": call.items()["EVENT#bridge_failed"]}
