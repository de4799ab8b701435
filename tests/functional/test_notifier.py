# ruff: noqa: F811  - the imported `bot` fixture is, as pytest wants, the name of every test's parameter
"""bot.notifier.handler end to end: the table's stream on moto, delivered by the local stream pump
(the event-source mapping's settings read from template.yaml), Slack played by the stand-in, and the
alert buttons answered by bot.app.handler through signed interaction requests.

The bot tests' session fixture is reused (it builds its own app with ``bot.app.create_app``), and
each test builds its notifier for that session's environment with ``bot.notifier.create_function``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from switchboard.adapters.dynamo_codec import decode_item, encode_item
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.domain.events import Attempt, CallRecord, Outcome
from switchboard.domain.rules import ForwardRule
from switchboard.settings import load
from switchboard_local.aws.stream_pump import MappingConfig, StreamPump, matches
from switchboard_local.aws.template import load_template
from switchboard_local.slack.requests import block_actions_payload, interaction_event, view_submission_payload
from switchboard_local.slack.standin import SlackError, check_blocks, render_blocks
from tests.functional.conftest import TABLE
from tests.functional.test_bot import (  # noqa: F401 - fixtures reused: one bot environment per process
    ADMIN,
    ALERTS,
    FIRST,
    OTHER,
    OURS,
    SECOND,
    SECRET,
    VISITOR,
    Bot,
    bot,
    bot_session,
    stored,
)
from tests.helpers import CallDriver, run_switchboard

CALLER = "+13035550123"
THIRD = "+12025550102"  # not in the bot's inventory: only used as a dialed number in events
NOTIFIER = "switchboard-notifier"


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def notifier(bot: Bot) -> Any:
    """A notifier built for the bot session's environment (its Slack stand-in and channel)."""
    from bot.notifier import create_function

    return create_function(load(required=("TABLE_NAME", "ALERT_CHANNEL")))


@pytest.fixture
def pump(notifier: Any, bot: Bot, dynamodb: Any) -> StreamPump:
    return StreamPump(
        TABLE,
        notifier.handler,
        context_factory=lambda: bot.lambdas.context(NOTIFIER, timeout=120),
    )


@pytest.fixture
def buttons(bot: Bot) -> Bot:
    """The bot, whose app has the alert buttons (bot.listeners.alert_buttons)."""
    return bot


def failed_call(
    dynamodb: Any,
    transaction_id: str,
    *,
    dialed: str = OURS,
    all_failed: bool = True,
    ended_ms: int | None = None,
) -> None:
    """A call whose first destination failed, recorded the way the SMA records it."""
    ended = ended_ms or int(time.time() * 1000)
    second = Attempt(SECOND, "CallNotAnswered", 29_000) if all_failed else Attempt(SECOND, "answered", 9_000)
    record = CallRecord(
        dialed=dialed,
        caller=CALLER,
        outcome=Outcome.NO_ANSWER if all_failed else Outcome.BRIDGED,
        attempts=(Attempt(FIRST, "CallNotAnswered", 30_000), second),
        started_ms=ended - 70_000,
        ended_ms=ended,
        talk_ms=0 if all_failed else 30_000,
    )
    DynamoCallLog(dynamodb, TABLE).record_call(transaction_id, record)


def put_event(dynamodb: Any, **fields: Any) -> None:
    item = {"pk": f"CALL#{fields.get('transaction_id', 'tx-x')}", "kind": "call_event", **fields}
    item.setdefault("sk", f"EVENT#{fields.get('event_type', 'x')}")
    dynamodb.put_item(TableName=TABLE, Item=encode_item(item))


def alerts_in(bot: Bot) -> list[dict[str, Any]]:
    """Alerts in the alert channel (thread replies and plain-text change announcements excluded)."""
    return [
        m for m in bot.slack.messages(ALERTS) if m.get("blocks") and m.get("thread_ts") in (None, m["ts"])
    ]


def replies_to(bot: Bot, ts: str) -> list[dict[str, Any]]:
    return [m for m in bot.slack.messages(ALERTS) if m.get("thread_ts") == ts and m["ts"] != ts]


def text(message: dict[str, Any]) -> str:
    return "\n".join(render_blocks(message.get("blocks") or []))


def posts(bot: Bot) -> list[Any]:
    return [c for c in bot.slack.calls_to("chat.postMessage") if c.ok]


class Recorder:
    """Wraps a handler: keeps every batch it was given and every response."""

    def __init__(self, handler: Callable[[dict[str, Any], Any], Any]) -> None:
        self.handler = handler
        self.batches: list[list[dict[str, Any]]] = []
        self.responses: list[Any] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.batches.append(list(event["Records"]))
        response = self.handler(event, context)
        self.responses.append(response)
        return response


class LogRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def stream_records(dynamodb: Any) -> list[dict[str, Any]]:
    """Every record in the stream that the mapping's filter lets through (call events and rule
    history), in the Lambda event shape (no delivery)."""
    collected: list[dict[str, Any]] = []
    pump = StreamPump(
        TABLE, lambda event, context: collected.extend(event["Records"]), dynamodb_client=dynamodb
    )
    pump.drain()
    return collected


# -- rendering of each kind ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"event_type": "bridge_failed", "all_failed": True},
            [
                "Nobody answered a call to +12025550100",
                "Nobody answered — the caller got the failure message.",
            ],
        ),
        (
            {
                "event_type": "bridge_failed",
                "all_failed": False,
                "attempts": [
                    {"destination": FIRST, "result": "CallNotAnswered", "ring_ms": 30000},
                    {"destination": SECOND, "result": "answered", "ring_ms": 9000},
                ],
            },
            [
                "A destination failed on +12025550100",
                f"First destination failed, follow-me reached {SECOND}.",
            ],
        ),
        (
            {"event_type": "transfer_failed", "target": "+18005550199", "reason": "SystemException"},
            ["A transfer failed on +12025550100", "*Target*: +18005550199", "*Reason*: SystemException"],
        ),
        (
            {"event_type": "pool_exhausted", "dialed": None, "caller": None, "pool": "default"},
            ["The DNIS pool is exhausted", "*Pool*: default"],
        ),
        ({"event_type": "something_new", "detail": "42"}, ["Something new on +12025550100", "*Detail*: 42"]),
    ],
    ids=["all-failed", "follow-me-reached", "transfer-failed", "pool-exhausted", "unknown"],
)
def test_each_event_kind_is_posted_with_its_blocks(
    pump: StreamPump, bot: Bot, dynamodb: Any, fields: dict[str, Any], expected: list[str]
) -> None:
    event: dict[str, Any] = {
        "transaction_id": "tx-kind",
        "event_id": f"tx-kind:{fields['event_type']}",
        "dialed": OURS,
        "caller": CALLER,
        "at": "2026-03-01T14:05:09.123Z",
        "attempts": [{"destination": FIRST, "result": "CallNotAnswered", "ring_ms": 30000}],
        "ttl": int(time.time()) + 3600,
    }
    event.update(fields)
    put_event(dynamodb, **{k: v for k, v in event.items() if v is not None})
    pump.drain()

    (message,) = alerts_in(bot)
    assert check_blocks(message["blocks"]) == []
    shown = text(message)
    for fragment in expected:
        assert fragment in shown
    assert CALLER not in json.dumps(message)
    assert message["text"]  # the notification fallback


def test_a_call_through_the_sma_raises_one_alert(
    pump: StreamPump, bot: Bot, dynamodb: Any, sma_app: Any
) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST, SECOND)), actor=ADMIN
    )
    call = CallDriver(sma_app.handler, "tx-sma-alert")
    call.send("new_inbound_call")
    call.send("action_failed_call_and_bridge", error="CallNotAnswered", destination=FIRST)
    call.send("action_failed_call_and_bridge", error="CallNotAnswered", destination=SECOND)
    call.send("hangup_leg_a")
    pump.drain()

    (message,) = alerts_in(bot)
    shown = text(message)
    assert f"Nobody answered a call to {OURS}" in shown
    assert "+1303•••0123" in shown
    assert f"1. {FIRST} — no answer" in shown
    assert f"2. {SECOND} — no answer" in shown
    assert "call `tx-sma-alert`" in shown
    assert len(posts(bot)) == 2  # the alert, and the announcement of the forward set above
    assert len(announcements(bot)) == 1


def test_items_that_are_not_call_events_or_rule_changes_are_ignored(
    notifier: Any, bot: Bot, dynamodb: Any
) -> None:
    repo = DynamoForwardRepository(dynamodb, TABLE)
    rule = repo.save(ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN)  # rule + history
    repo.delete(OURS, expected_version=rule.version, actor=ADMIN)  # REMOVE + history
    passed = [r["dynamodb"]["Keys"]["sk"]["S"] for r in stream_records(dynamodb)]
    assert len(passed) == 2  # the rule's INSERT and REMOVE are filtered out
    assert all(sk.startswith("HISTORY#") for sk in passed)

    # The handler checks too: the filter is a cost saving, not the only guard.
    failed_call(dynamodb, "tx-modified")
    records = stream_records(dynamodb)
    call_event = next(r for r in records if r["dynamodb"]["Keys"]["sk"]["S"] == "EVENT#bridge_failed")
    modify = {
        **call_event,
        "eventName": "MODIFY",
        "dynamodb": {**call_event["dynamodb"], "SequenceNumber": "1"},
    }
    remove = {
        **call_event,
        "eventName": "REMOVE",
        "dynamodb": {**call_event["dynamodb"], "SequenceNumber": "2"},
    }
    other_kind = json.loads(json.dumps(call_event))
    other_kind["dynamodb"]["NewImage"]["kind"] = {"S": "call_record"}
    other_kind["dynamodb"]["SequenceNumber"] = "3"
    response = notifier.handler({"Records": [modify, remove, other_kind]}, bot.lambdas.context(NOTIFIER))
    assert response == {"batchItemFailures": []}
    assert posts(bot) == []


# -- nothing doubled ----------------------------------------------------------------------------


def test_a_record_delivered_twice_posts_once(notifier: Any, bot: Bot, dynamodb: Any) -> None:
    failed_call(dynamodb, "tx-dup")
    (record,) = stream_records(dynamodb)
    event = {"Records": [record]}
    assert notifier.handler(event, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert notifier.handler(event, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert len(posts(bot)) == 1
    marker = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "IDEMPOTENCY#notifier"}},
    )["Items"]
    (stored_marker,) = [decode_item(i) for i in marker]
    assert stored_marker["status"] == "COMPLETED"
    assert stored_marker["ttl"] > time.time() + 6 * 86400


def test_redelivery_after_a_failure_in_the_middle_posts_each_alert_once(
    notifier: Any, bot: Bot, dynamodb: Any
) -> None:
    """The mapping resumes at the failed record, so the records after it arrive a second time."""
    for tx, number in (("tx-a", OURS), ("tx-b", OTHER), ("tx-c", THIRD)):
        failed_call(dynamodb, tx, dialed=number)
    original = bot.slack.methods["chat.postMessage"]
    failed_once: list[str] = []

    def flaky(args: dict[str, Any], token: str) -> dict[str, Any]:
        if OTHER in json.dumps(args.get("blocks")) and not failed_once:
            failed_once.append(OTHER)
            raise SlackError("internal_error", status=500)
        return original(args, token)

    bot.slack.methods["chat.postMessage"] = flaky
    try:
        recorder = Recorder(notifier.handler)
        pump = StreamPump(TABLE, recorder, context_factory=lambda: bot.lambdas.context(NOTIFIER))
        pump.drain()
    finally:
        bot.slack.methods["chat.postMessage"] = original

    first, second = recorder.responses
    assert len(first["batchItemFailures"]) == 1
    assert [len(b) for b in recorder.batches] == [3, 2]  # tx-b and tx-c again
    assert second == {"batchItemFailures": []}
    numbers = sorted(m["blocks"][0]["text"]["text"].split()[-1] for m in alerts_in(bot))
    assert numbers == sorted([OURS, OTHER, THIRD])
    assert len(posts(bot)) == 3


def test_rate_limited_post_waits_for_retry_after_and_posts_once(
    pump: StreamPump, bot: Bot, dynamodb: Any
) -> None:
    bot.slack.fail_next("chat.postMessage", "ratelimited", retry_after=1)
    failed_call(dynamodb, "tx-429")
    pump.drain()

    limited, accepted = bot.slack.calls_to("chat.postMessage")
    assert (limited.status, limited.error) == (429, "ratelimited")
    assert accepted.ok
    assert accepted.at - limited.at >= 1.0  # Retry-After honoured
    assert len(alerts_in(bot)) == 1
    assert all(not i.failed for i in pump.invocations)


def test_a_long_retry_after_is_left_to_the_mapping_retry(pump: StreamPump, bot: Bot, dynamodb: Any) -> None:
    bot.slack.fail_next("chat.postMessage", "ratelimited", retry_after=60)
    failed_call(dynamodb, "tx-429-long")
    started = time.monotonic()
    pump.drain()
    assert time.monotonic() - started < 10  # not slept for a minute inside the Lambda
    assert [len(i.failed) for i in pump.invocations] == [1, 0]  # failed, then retried by the mapping
    assert len(alerts_in(bot)) == 1


# -- nothing lost -------------------------------------------------------------------------------


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel"])
def test_channel_errors_are_logged_counted_and_kept_for_retry(
    notifier: Any, bot: Bot, dynamodb: Any, capsys: pytest.CaptureFixture[str], error: str
) -> None:
    failed_call(dynamodb, f"tx-{error}")
    (record,) = stream_records(dynamodb)
    bot.slack.fail_next("chat.postMessage", error)
    logged = LogRecords()
    logging.getLogger("notifier").addHandler(logged)
    capsys.readouterr()
    try:
        response = notifier.handler({"Records": [record]}, bot.lambdas.context(NOTIFIER))
    finally:
        logging.getLogger("notifier").removeHandler(logged)

    assert response == {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("AlertChannelErrors" in m for m in emf)
    (line,) = [m for m in logged.messages if "cannot post alerts" in m]
    assert f"cannot post alerts in ALERT_CHANNEL {ALERTS}: {error}" in line
    assert "/invite" in line
    assert alerts_in(bot) == []

    # Invited: the retry posts it, once.
    assert notifier.handler({"Records": [record]}, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert len(alerts_in(bot)) == 1


@pytest.mark.parametrize("fault", ["5xx", "network"])
def test_server_and_network_errors_fail_the_record(
    notifier: Any, bot: Bot, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    failed_call(dynamodb, f"tx-{fault}")
    (record,) = stream_records(dynamodb)
    if fault == "5xx":
        bot.slack.fail_next("chat.postMessage", "internal_error", status=503)
    else:
        monkeypatch.setattr(notifier.client, "base_url", "http://127.0.0.1:9/api/")  # nothing listens

    response = notifier.handler({"Records": [record]}, bot.lambdas.context(NOTIFIER))

    assert response == {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    monkeypatch.undo()
    assert notifier.handler({"Records": [record]}, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert len(alerts_in(bot)) == 1


def test_a_poison_record_fails_alone_and_ends_in_the_failure_destination(
    notifier: Any, bot: Bot, dynamodb: Any
) -> None:
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="notifier-failures", Attributes={"SqsManagedSseEnabled": "true"})
    failed_call(dynamodb, "tx-good-1")
    put_event(dynamodb, transaction_id="tx-poison", event_type="bridge_failed", attempts="not a list")
    failed_call(dynamodb, "tx-good-2", dialed=OTHER)
    recorder = Recorder(notifier.handler)
    pump = StreamPump(
        TABLE,
        recorder,
        context_factory=lambda: bot.lambdas.context(NOTIFIER),
        on_failure=lambda message: sqs.send_message(
            QueueUrl=queue["QueueUrl"], MessageBody=json.dumps(message)
        ),
    )
    pump.drain()

    first = recorder.responses[0]
    poison = next(r for r in recorder.batches[0] if r["dynamodb"]["Keys"]["pk"]["S"] == "CALL#tx-poison")
    assert first == {"batchItemFailures": [{"itemIdentifier": poison["dynamodb"]["SequenceNumber"]}]}
    assert len(alerts_in(bot)) == 2  # both good alerts, once each
    assert len(posts(bot)) == 2
    retries = pump.config.maximum_retry_attempts
    with_poison = [b for b in recorder.batches if poison in b]
    assert len(with_poison) == retries + 1  # the first delivery and every retry, then given up
    (message,) = sqs.receive_message(QueueUrl=queue["QueueUrl"])["Messages"]
    info = json.loads(message["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["startSequenceNumber"] == poison["dynamodb"]["SequenceNumber"]
    assert info["DDBStreamBatchInfo"]["batchSize"] == 1


def test_the_deployed_mapping_filters_retries_and_keeps_failures() -> None:
    resources = load_template()["Resources"]
    mapping = resources["NotifierCallEvents"]["Properties"]
    assert mapping["FunctionName"] == {"Ref": "NotifierFunction"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": "Table.StreamArn"}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": "NotifierFailureQueue.Arn"
    }
    queue = resources["NotifierFailureQueue"]
    assert queue["Type"] == "AWS::SQS::Queue"
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    function = resources["NotifierFunction"]["Properties"]
    assert function["Handler"] == "bot.notifier.handler"
    statements = function["Policies"][0]["Statement"]
    assert any(s["Action"] == "sqs:SendMessage" for s in statements)
    assert all(s["Resource"] != "*" for s in statements)

    config = MappingConfig.from_template()
    insert = {"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "call_event"}}}}
    assert config.accepts(insert)
    assert not config.accepts({**insert, "eventName": "MODIFY"})
    assert not config.accepts(
        {"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "forward_rule"}}}}
    )
    history = {"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "rule_history"}}}}
    assert config.accepts(history)  # routing changes are announced from the stream
    assert not config.accepts({**history, "eventName": "REMOVE"})  # its TTL deletion is not a change
    assert not config.accepts(
        {"eventName": "REMOVE", "dynamodb": {"OldImage": {"kind": {"S": "call_event"}}}}
    )


def test_filter_syntax() -> None:
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {"kind": {"S": "call_event"}}}}
    assert matches({"dynamodb": {"NewImage": {"kind": {"S": [{"prefix": "call_"}]}}}}, record)
    assert matches({"dynamodb": {"OldImage": [{"exists": False}]}}, record)
    assert not matches({"dynamodb": {"NewImage": [{"exists": False}]}}, record)
    assert matches({"eventName": [{"anything-but": ["REMOVE"]}]}, record)
    assert not matches({"eventName": ["MODIFY", "REMOVE"]}, record)


def test_a_batch_whose_invocation_raises_is_bisected(dynamodb: Any) -> None:
    for index in range(4):
        put_event(dynamodb, transaction_id=f"tx-{index}", event_type="bridge_failed", event_id=f"e{index}")
    seen: list[int] = []

    def crashes_on_e2(event: dict[str, Any], context: Any) -> None:
        seen.append(len(event["Records"]))
        if any(r["dynamodb"]["NewImage"]["event_id"]["S"] == "e2" for r in event["Records"]):
            raise RuntimeError("boom")

    pump = StreamPump(TABLE, crashes_on_e2, config=MappingConfig(batch_size=4, maximum_retry_attempts=1))
    pump.drain()
    assert seen[:4] == [4, 2, 2, 1]  # 4 fails → (e0, e1) fine → (e2, e3) fails → e2 alone
    assert seen[-1] == 1  # e3, delivered once e2 was given up
    (failure,) = pump.failures
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1


# -- grouping -----------------------------------------------------------------------------------


def test_repeated_failures_on_a_number_share_one_thread_whose_parent_counts_them(
    pump: StreamPump, bot: Bot, dynamodb: Any
) -> None:
    failed_call(dynamodb, "tx-g1")
    pump.drain()
    failed_call(dynamodb, "tx-g2", all_failed=False)
    failed_call(dynamodb, "tx-g3")
    failed_call(dynamodb, "tx-other", dialed=OTHER)
    pump.drain()

    parents = alerts_in(bot)
    assert len(parents) == 2
    ours = next(m for m in parents if OURS in m["blocks"][0]["text"]["text"])
    replies = replies_to(bot, ours["ts"])
    assert len(replies) == 2
    assert "call `tx-g2`" in text(replies[0])
    assert "follow-me reached" in text(replies[0])
    assert "3 failures on this number" in text(ours)
    assert "2 more failures in the thread" in text(ours)
    assert "call `tx-g1`" in text(ours)  # the parent still describes the first failure
    updates = [c for c in bot.slack.calls_to("chat.update") if c.ok]
    assert [c.args["ts"] for c in updates] == [ours["ts"], ours["ts"]]
    anchor = decode_item(
        dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"ALERTTHREAD#{OURS}"}, "sk": {"S": "THREAD"}})[
            "Item"
        ]
    )
    assert anchor["count"] == 3
    assert anchor["ts"] == ours["ts"]
    assert time.time() < anchor["ttl"] <= time.time() + 15 * 60 + 1


def test_after_the_window_a_new_thread_starts(pump: StreamPump, bot: Bot, dynamodb: Any) -> None:
    failed_call(dynamodb, "tx-w1")
    pump.drain()
    dynamodb.update_item(  # 15 quiet minutes later
        TableName=TABLE,
        Key={"pk": {"S": f"ALERTTHREAD#{OURS}"}, "sk": {"S": "THREAD"}},
        UpdateExpression="SET open_until = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    failed_call(dynamodb, "tx-w2")
    pump.drain()
    assert len(alerts_in(bot)) == 2
    assert bot.slack.calls_to("chat.update") == []


def test_a_deleted_thread_parent_starts_a_new_thread(pump: StreamPump, bot: Bot, dynamodb: Any) -> None:
    failed_call(dynamodb, "tx-d1")
    pump.drain()
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"ALERTTHREAD#{OURS}"}, "sk": {"S": "THREAD"}},
        UpdateExpression="SET ts = :gone",
        ExpressionAttributeValues={":gone": {"S": "1.000001"}},
    )
    failed_call(dynamodb, "tx-d2")
    pump.drain()
    assert len(alerts_in(bot)) == 2
    assert all(not i.failed for i in pump.invocations)


def test_only_one_writer_opens_a_thread(notifier: Any, dynamodb: Any) -> None:
    from bot.alerts import Alert
    from switchboard.adapters.alert_threads import AlertThreads

    threads = AlertThreads(dynamodb, TABLE)
    alert = Alert("tx-r:bridge_failed", "bridge_failed", dialed=OURS, at="2026-03-01T14:05:09Z")
    winners: list[Any] = []
    losers: list[Exception] = []

    def claim() -> None:
        try:
            winners.append(threads.claim(OURS, None, alert.to_dict(), alert.at, time.time()))
        except Exception as error:
            losers.append(error)

    racers = [threading.Thread(target=claim) for _ in range(4)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert len(winners) == 1
    assert len(losers) == 3
    assert all(type(e).__name__ == "LostRaceError" for e in losers)
    assert threads.current(OURS).is_being_opened(time.time())


# -- the alert's buttons ------------------------------------------------------------------------


def posted_alert(bot: Bot, pump: StreamPump, dynamodb: Any) -> dict[str, Any]:
    failed_call(dynamodb, "tx-button")
    pump.drain()
    (message,) = alerts_in(bot)
    return message


def press(bot: Bot, message: dict[str, Any], action_id: str, user: str = ADMIN) -> dict[str, Any]:
    element = next(
        e
        for block in message["blocks"]
        if block["type"] == "actions"
        for e in block["elements"]
        if e["action_id"] == action_id
    )
    payload = block_actions_payload(
        action_id,
        value=element["value"],
        block_id="alert_actions",
        channel_id=ALERTS,
        message=message,
        user_id=user,
        trigger_id=bot.slack.trigger_id(),
    )
    return bot.send(interaction_event(payload, SECRET))


def test_remove_forward_from_the_alert_answers_in_its_thread(
    buttons: Bot, pump: StreamPump, dynamodb: Any
) -> None:
    bot = buttons
    bot.command(f"{OURS} to {FIRST}, {SECOND}")
    bot.settle()
    message = posted_alert(bot, pump, dynamodb)

    assert press(bot, message, "alert_remove_forward")["statusCode"] == 200
    bot.settle()

    assert stored(dynamodb) is None
    (reply,) = replies_to(bot, message["ts"])
    assert f"<@{ADMIN}> removed the forward on *{OURS}*" in reply["text"]


def test_visitors_pressing_alert_buttons_are_refused(buttons: Bot, pump: StreamPump, dynamodb: Any) -> None:
    bot = buttons
    bot.command(f"{OURS} to {FIRST}")
    bot.settle()
    message = posted_alert(bot, pump, dynamodb)
    bot.slack.clear()

    for action in ("alert_remove_forward", "alert_edit_forward", "alert_try_another"):
        assert press(bot, message, action, user=VISITOR)["statusCode"] == 200
    bot.settle()

    refusals = bot.slack.calls_to("chat.postEphemeral")
    assert len(refusals) == 3
    assert all("you may look at forwards but not change them" in c.args["text"] for c in refusals)
    assert all(c.args["channel"] == ALERTS and c.args["user"] == VISITOR for c in refusals)
    assert bot.slack.calls_to("views.open") == []
    assert stored(dynamodb) is not None


def test_edit_forward_opens_the_form_prefilled(buttons: Bot, pump: StreamPump, dynamodb: Any) -> None:
    bot = buttons
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST, SECOND), ring_timeout=45), actor=ADMIN
    )
    message = posted_alert(bot, pump, dynamodb)
    press(bot, message, "alert_edit_forward")

    (call,) = bot.slack.calls_to("views.open")
    view = bot.slack.open_views[call.response["view"]["id"]]
    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert "number" not in by_id  # the form is bound to the alerted number; it cannot be changed
    assert OURS in by_id["number_fixed"]["text"]["text"]
    assert by_id["dest_1"]["element"]["initial_value"] == FIRST
    assert by_id["dest_2"]["element"]["initial_value"] == SECOND
    assert by_id["timeout"]["element"]["initial_value"] == "45"
    assert json.loads(view["private_metadata"]) == {"channel_id": ALERTS, "number": OURS, "version": 1}


def test_try_another_destination_prefills_without_the_failed_ones_and_applies(
    buttons: Bot, pump: StreamPump, dynamodb: Any
) -> None:
    bot = buttons
    bot.command(f"{OURS} to {FIRST}, {SECOND}")
    bot.settle()
    message = posted_alert(bot, pump, dynamodb)  # both destinations rang out
    press(bot, message, "alert_try_another")

    (call,) = bot.slack.calls_to("views.open")
    view = bot.slack.open_views[call.response["view"]["id"]]
    by_id = {b["block_id"]: b for b in view["blocks"]}
    assert "initial_value" not in by_id["dest_1"]["element"]
    assert FIRST in by_id["dest_1"]["hint"]["text"]
    assert SECOND in by_id["dest_1"]["hint"]["text"]

    response = bot.send(
        interaction_event(view_submission_payload(view, {"dest_1": "+13125550177"}, user_id=ADMIN), SECRET)
    )
    assert response["statusCode"] == 200
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.destinations == ("+13125550177",)
    told = [c.args for c in bot.slack.calls_to("chat.postEphemeral")]
    assert any(t["channel"] == ALERTS and f"Updated {OURS} → +13125550177" in t["text"] for t in told)


# -- routing-change announcements (rule-history items on the stream) -------------------------------


class _BotSessionStack:
    """What :func:`run_switchboard` needs of a stack: the environment pointing at this session's
    moto, Chime SDK Voice emulator and table (the CLI is the operator's: no Slack settings)."""

    def env(self) -> dict[str, str]:
        prefixes = ("AWS_", "TABLE_NAME", "SIP_", "VOICE_")
        return {key: value for key, value in os.environ.items() if key.startswith(prefixes)}


def announcements(bot: Bot) -> list[str]:
    """Channel messages in the alert channel that are not call alerts: the change announcements."""
    return [
        str(m["text"]) for m in bot.slack.messages(ALERTS) if not m.get("blocks") and not m.get("thread_ts")
    ]


def history_records(dynamodb: Any) -> list[dict[str, Any]]:
    return [r for r in stream_records(dynamodb) if r["dynamodb"]["Keys"]["sk"]["S"].startswith("HISTORY#")]


def test_a_cli_change_is_announced_once_in_the_channel(
    notifier: Any, pump: StreamPump, bot: Bot, dynamodb: Any
) -> None:
    done = run_switchboard(_BotSessionStack(), "forward", "set", OURS, FIRST, SECOND)
    assert done.returncode == 0, done.stderr
    assert bot.slack.messages(ALERTS) == []  # the CLI itself talks to no Slack
    pump.drain()

    (announced,) = announcements(bot)
    assert announced.startswith(":arrow_right_hook: cli:")
    assert f" forwarded *{OURS}* → {FIRST}, {SECOND} — greeting loop" in announced
    assert "<!date^" in announced  # when, in each reader's time zone
    assert len(posts(bot)) == 1

    # The mapping delivers it again (a retry after a later record failed): nothing more is posted.
    (record,) = history_records(dynamodb)
    assert notifier.handler({"Records": [record]}, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert len(posts(bot)) == 1

    removed = run_switchboard(_BotSessionStack(), "forward", "remove", OURS)
    assert removed.returncode == 0, removed.stderr
    pump.drain()
    assert len(announcements(bot)) == 2
    assert f" removed the forward on *{OURS}* (was → {FIRST}, {SECOND})" in announcements(bot)[1]


def test_a_slack_outage_fails_the_announcement_and_the_retry_posts_it_once(
    notifier: Any, pump: StreamPump, bot: Bot, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,)), actor="cli:ops"
    )
    (record,) = history_records(dynamodb)
    monkeypatch.setattr(notifier.client, "base_url", "http://127.0.0.1:9/api/")  # Slack unreachable

    response = notifier.handler({"Records": [record]}, bot.lambdas.context(NOTIFIER))

    assert response == {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
    assert announcements(bot) == []
    monkeypatch.undo()
    pump.drain()  # the mapping's retry
    assert [m.split(" — ")[0] for m in announcements(bot)] == [
        f":arrow_right_hook: cli:ops forwarded *{OURS}* → {FIRST}"
    ]
    assert notifier.handler({"Records": [record]}, bot.lambdas.context(NOTIFIER)) == {"batchItemFailures": []}
    assert len(posts(bot)) == 1


def test_an_announcement_refused_by_slack_is_retried_by_the_mapping(
    pump: StreamPump, bot: Bot, dynamodb: Any
) -> None:
    bot.slack.fail_next("chat.postMessage", "internal_error", status=503)
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN
    )
    pump.drain()
    assert [len(i.failed) for i in pump.invocations] == [1, 0]
    assert len(announcements(bot)) == 1


def test_every_slack_surface_is_announced_once_from_the_stream(
    buttons: Bot, pump: StreamPump, dynamodb: Any
) -> None:
    bot = buttons
    bot.command(f"{OURS} to {FIRST}, {SECOND}")  # the slash command
    bot.settle()
    assert bot.slack.messages(ALERTS) == []  # not posted by the bot: by the notifier, from the stream
    message = posted_alert(bot, pump, dynamodb)
    press(bot, message, "alert_remove_forward")  # an alert button, in the alert channel
    bot.settle()
    pump.drain()

    said = announcements(bot)
    assert len(said) == 2
    assert f"<@{ADMIN}> forwarded *{OURS}* → {FIRST}, {SECOND}" in said[0]
    assert f"<@{ADMIN}> removed the forward on *{OURS}*" in said[1]
    (reply,) = replies_to(bot, message["ts"])  # and the alert's thread hears it from the button
    assert f"<@{ADMIN}> removed the forward on *{OURS}*" in reply["text"]


def test_an_expired_forward_is_announced_as_expired(bot: Bot, pump: StreamPump, dynamodb: Any) -> None:
    from bot.expiry import handler as expiry_job

    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,), expires_at=int(time.time()) - 60), actor=ADMIN
    )
    pump.drain()
    assert expiry_job({}, bot.lambdas.context("switchboard-expiry"))["removed"] == [OURS]
    pump.drain()

    set_by_admin, expired = announcements(bot)
    assert f"<@{ADMIN}> forwarded *{OURS}*" in set_by_admin
    assert expired.startswith(f":alarm_clock: The forward on *{OURS}* expired. ")
    assert "expiry removed the forward" in expired


def test_a_change_undone_after_a_routing_failure_is_announced_as_not_taken_effect(
    pump: StreamPump, bot: Bot, dynamodb: Any
) -> None:
    from switchboard.policy import DestinationPolicy
    from switchboard.ports import RoutingError
    from switchboard.service import ChangeFailedError, ForwardingService, ForwardRequest
    from tests.fakes import MemoryRouting, StaticInventory

    routing = MemoryRouting()
    service = ForwardingService(
        DynamoForwardRepository(dynamodb, TABLE), routing, StaticInventory(OURS), DestinationPolicy()
    )
    service.set_forward(ForwardRequest(OURS, [FIRST]), actor=ADMIN)
    routing.fail["sma"] = RoutingError("the SIP rule could not be updated")
    with pytest.raises(ChangeFailedError):
        service.set_forward(ForwardRequest(OURS, [SECOND]), actor=ADMIN)
    pump.drain()

    first, failed, undone = announcements(bot)
    assert f"<@{ADMIN}> forwarded *{OURS}* → {FIRST}" in first
    assert f"<@{ADMIN}> forwarded *{OURS}* → {SECOND} (was: {FIRST})" in failed
    assert undone.startswith(f":warning: <@{ADMIN}>'s change to *{OURS}* did not take effect")
    assert f"it forwards → {FIRST} as before" in undone
