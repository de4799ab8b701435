"""sma.app.handler end to end against DynamoDB (moto server) with events in the real AWS shapes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.adapters.dynamo_codec import decode_item
from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.domain.rules import CallerIdMode, FailureAction, ForwardRule, GreetingMode
from tests.functional.conftest import BUCKET, TABLE
from tests.helpers import CallDriver, action_types, load_event

OURS = "+12025550100"
FIRST = "+12065550111"
SECOND = "+13125550122"
CALLER = "+13035550123"


class AwsCalls:
    """Records the DynamoDB operations the SMA's own client makes."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def reads(self) -> int:
        return sum(op in ("GetItem", "Query", "Scan", "BatchGetItem") for op in self.operations)

    def writes(self) -> int:
        return sum(
            op in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
            for op in self.operations
        )

    def take(self) -> list[str]:
        taken, self.operations = self.operations, []
        return taken


@pytest.fixture
def aws_calls(sma_app: Any) -> Iterator[AwsCalls]:
    calls = AwsCalls()
    sma_app.dynamodb.meta.events.register("before-call.dynamodb", calls)
    yield calls
    sma_app.dynamodb.meta.events.unregister("before-call.dynamodb", calls)


def put_rule(dynamodb: Any, **fields: Any) -> ForwardRule:
    rule = ForwardRule(number=OURS, destinations=fields.pop("destinations", (FIRST, SECOND)), **fields)
    return DynamoForwardRepository(dynamodb, TABLE).save(rule, actor="U0TEST")


def call_items(dynamodb: Any, transaction_id: str) -> dict[str, dict[str, Any]]:
    page = dynamodb.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CALL#{transaction_id}"}},
    )
    return {item["sk"]["S"]: decode_item(item) for item in page["Items"]}


def driver(sma_app: Any, transaction_id: str = "tx-1") -> CallDriver:
    return CallDriver(sma_app.handler, transaction_id)


def test_unknown_number_hears_not_in_service_and_is_recorded(
    sma_app: Any, dynamodb: Any, aws_calls: AwsCalls
) -> None:
    call = driver(sma_app)
    response = call.send("new_inbound_call")

    assert action_types(response) == ["PlayAudio", "Hangup"]
    assert response["Actions"][0]["Parameters"]["AudioSource"] == {
        "Type": "S3",
        "BucketName": BUCKET,
        "Key": "prompts/not_in_service.wav",
    }
    assert response["Actions"][1]["Parameters"]["SipResponseCode"] == "480"
    assert aws_calls.take() == ["GetItem", "PutItem"]
    record = call_items(dynamodb, "tx-1")["RECORD"]
    assert record["outcome"] == "not-in-service"
    assert record["dialed"] == OURS
    assert record["kind"] == "call_record"
    assert record["ttl"] > time.time()

    # The caller hangs up during or after the prompt: nothing more to do, nothing written again.
    assert call.send("action_successful_hangup")["Actions"] == []
    assert aws_calls.take() == []


def test_loop_greeting_bridges_with_ringback_and_dialed_caller_id(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb, greeting=GreetingMode.LOOP, ring_timeout=25)
    response = driver(sma_app).send("new_inbound_call")

    assert action_types(response) == ["CallAndBridge"]
    parameters = response["Actions"][0]["Parameters"]
    assert parameters["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": FIRST}]
    assert parameters["CallerIdNumber"] == OURS
    assert parameters["CallTimeoutSeconds"] == 25
    assert parameters["RingbackTone"] == {"Type": "S3", "BucketName": BUCKET, "Key": "prompts/greeting.wav"}
    assert len(response["TransactionAttributes"]) <= 10


def test_once_greeting_plays_before_dialling(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb, greeting=GreetingMode.ONCE)
    response = driver(sma_app).send("new_inbound_call")

    assert action_types(response) == ["PlayAudio", "CallAndBridge"]
    assert response["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/greeting.wav"
    assert response["Actions"][0]["Parameters"]["CallId"] == "a1b2c3d4-leg-a"
    assert "RingbackTone" not in response["Actions"][1]["Parameters"]


def test_no_greeting_dials_straight_away(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb, greeting=GreetingMode.NONE)
    response = driver(sma_app).send("new_inbound_call")
    assert action_types(response) == ["CallAndBridge"]
    assert "RingbackTone" not in response["Actions"][0]["Parameters"]


@pytest.mark.parametrize(
    ("caller", "expected"),
    [(CALLER, CALLER), ("anonymous", OURS), ("", OURS)],
)
def test_caller_id_mode_caller_shows_the_caller_when_it_can(
    sma_app: Any, dynamodb: Any, caller: str, expected: str
) -> None:
    put_rule(dynamodb, caller_id=CallerIdMode.CALLER)
    response = driver(sma_app).send("new_inbound_call", caller=caller)
    assert response["Actions"][0]["Parameters"]["CallerIdNumber"] == expected


def test_follow_me_sequence_reads_once_and_writes_when_answered_and_when_ended(
    sma_app: Any, dynamodb: Any, aws_calls: AwsCalls
) -> None:
    put_rule(dynamodb, greeting=GreetingMode.LOOP)
    call = driver(sma_app, "tx-follow-me")

    first = call.send("new_inbound_call")
    assert first["Actions"][0]["Parameters"]["Endpoints"][0]["Uri"] == FIRST
    assert aws_calls.take() == ["GetItem"]

    assert call.send("ringing")["Actions"] == []
    second = call.send("action_failed_call_and_bridge", error="CallNotAnswered", destination=FIRST)
    assert action_types(second) == ["CallAndBridge"]
    assert second["Actions"][0]["Parameters"]["Endpoints"][0]["Uri"] == SECOND
    assert second["Actions"][0]["Parameters"]["RingbackTone"]["Key"] == "prompts/greeting.wav"

    assert call.send("action_successful_call_and_bridge", destination=SECOND)["Actions"] == []
    # No reads after the first event; the answered bridge lists the call as live for Slack.
    assert aws_calls.take() == ["PutItem"]
    live = call_items(dynamodb, "tx-follow-me")["LIVE"]
    assert (live["dialed"], live["callee"], live["gsi1pk"]) == (OURS, SECOND, "LIVE")

    ended = call.send("hangup_leg_b", destination=SECOND)
    assert ended["Actions"] == [
        {"Type": "Hangup", "Parameters": {"CallId": "a1b2c3d4-leg-a", "SipResponseCode": "0"}}
    ]
    assert aws_calls.take() == ["TransactWriteItems"]  # record + event + end of the live entry

    assert call.send("action_successful_hangup")["Actions"] == []
    assert aws_calls.take() == []

    items = call_items(dynamodb, "tx-follow-me")
    assert "LIVE" not in items
    record = items["RECORD"]
    assert record["outcome"] == "bridged"
    assert [a["destination"] for a in record["attempts"]] == [FIRST, SECOND]
    assert [a["result"] for a in record["attempts"]] == ["CallNotAnswered", "answered"]
    assert record["destinations_tried"] == [FIRST, SECOND]
    assert record["duration_ms"] >= record["talk_ms"] >= 0
    event = items["EVENT#bridge_failed"]
    assert event["kind"] == "call_event"
    assert event["event_type"] == "bridge_failed"
    assert event["all_failed"] is False
    assert event["dialed"] == OURS


def test_all_destinations_fail_plays_failure_prompt_and_raises_bridge_failed(
    sma_app: Any, dynamodb: Any, aws_calls: AwsCalls
) -> None:
    put_rule(dynamodb, failure=FailureAction.PROMPT)
    call = driver(sma_app, "tx-all-fail")
    call.send("new_inbound_call")
    call.send("action_failed_call_and_bridge", error="CallNotAnswered", destination=FIRST)
    final = call.send("action_failed_call_and_bridge", error="CallNotAnswered", destination=SECOND)

    assert action_types(final) == ["PlayAudio", "Hangup"]
    assert final["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/failure.wav"
    assert final["Actions"][1]["Parameters"]["SipResponseCode"] == "480"
    items = call_items(dynamodb, "tx-all-fail")
    assert items["RECORD"]["outcome"] == "no-answer"
    assert items["EVENT#bridge_failed"]["all_failed"] is True
    assert [a["result"] for a in items["EVENT#bridge_failed"]["attempts"]] == ["CallNotAnswered"] * 2

    aws_calls.take()
    assert call.send("hangup_leg_a")["Actions"][0]["Type"] == "Hangup"  # LEG-B shown connected in fixture
    assert aws_calls.take() == []  # the record was already written


def test_failure_action_hangup_skips_the_prompt_and_busy_counts_as_all_failed(
    sma_app: Any, dynamodb: Any
) -> None:
    put_rule(dynamodb, destinations=(FIRST,), failure=FailureAction.HANGUP)
    call = driver(sma_app, "tx-busy")
    call.send("new_inbound_call")
    final = call.send("action_failed_call_and_bridge", error="SystemException", destination=FIRST)

    assert action_types(final) == ["Hangup"]
    assert call_items(dynamodb, "tx-busy")["RECORD"]["outcome"] == "all-failed"


def test_caller_hanging_up_a_bridged_call_hangs_up_the_destination(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb)
    call = driver(sma_app, "tx-caller-ends")
    call.send("new_inbound_call")
    call.send("action_successful_call_and_bridge", destination=FIRST)
    response = call.send("hangup_leg_a")

    assert response["Actions"] == [
        {"Type": "Hangup", "Parameters": {"CallId": "e5f6a7b8-leg-b", "SipResponseCode": "0"}}
    ]
    items = call_items(dynamodb, "tx-caller-ends")
    assert items["RECORD"]["outcome"] == "bridged"
    assert "EVENT#bridge_failed" not in items


def test_caller_abandoning_while_ringing_is_recorded_without_an_alert(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb)
    call = driver(sma_app, "tx-abandon")
    call.send("new_inbound_call")
    event = load_event("hangup_leg_a")
    event["CallDetails"]["Participants"] = event["CallDetails"]["Participants"][:1]  # LEG-B never answered
    assert call.send(event)["Actions"] == []

    items = call_items(dynamodb, "tx-abandon")
    assert items["RECORD"]["outcome"] == "abandoned"
    assert "EVENT#bridge_failed" not in items

    # A late bridge failure for the abandoned call must not dial the next destination.
    assert call.send("action_failed_call_and_bridge")["Actions"] == []


def test_expired_rule_is_not_in_service(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb, expires_at=int(time.time()) - 60)
    response = driver(sma_app).send("new_inbound_call")
    assert response["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/not_in_service.wav"


def test_unexpired_rule_still_forwards(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb, expires_at=int(time.time()) + 3600)
    assert action_types(driver(sma_app).send("new_inbound_call")) == ["CallAndBridge"]


@pytest.mark.parametrize(
    "name", ["ringing", "action_interrupted", "new_outbound_call", "call_update_requested"]
)
def test_informational_events_get_an_empty_valid_response(sma_app: Any, dynamodb: Any, name: str) -> None:
    put_rule(dynamodb)
    call = driver(sma_app)
    call.send("new_inbound_call")
    assert call.send(name)["Actions"] == []


def test_invalid_lambda_response_apologises_and_hangs_up(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb)
    call = driver(sma_app, "tx-invalid")
    call.send("new_inbound_call")
    response = call.send("invalid_lambda_response")

    assert action_types(response) == ["PlayAudio", "Hangup"]
    assert response["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/error.wav"
    assert call_items(dynamodb, "tx-invalid")["RECORD"]["outcome"] == "error"
    # If even that response were rejected, the next answer is a bare hangup (no prompt loop).
    assert action_types(call.send("invalid_lambda_response")) == ["Hangup"]


def test_failed_once_greeting_still_dials_the_destination(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb, greeting=GreetingMode.ONCE)
    call = driver(sma_app)
    call.send("new_inbound_call")
    response = call.send("action_failed_play_audio")

    assert action_types(response) == ["CallAndBridge"]
    assert response["Actions"][0]["Parameters"]["Endpoints"][0]["Uri"] == FIRST


def test_missing_ringback_audio_retries_the_same_destination_without_it(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb, greeting=GreetingMode.LOOP)
    call = driver(sma_app)
    call.send("new_inbound_call")
    response = call.send("action_failed_call_and_bridge", error="InvalidAudioSource")

    parameters = response["Actions"][0]["Parameters"]
    assert parameters["Endpoints"][0]["Uri"] == FIRST
    assert "RingbackTone" not in parameters


def test_documentation_variant_spellings_are_accepted(sma_app: Any, dynamodb: Any) -> None:
    put_rule(dynamodb)
    response = driver(sma_app).send("new_inbound_call_doc_variant")
    assert action_types(response) == ["CallAndBridge"]


def test_missing_table_still_answers_with_error_prompt(sma_app: Any, dynamodb: Any) -> None:
    dynamodb.delete_table(TableName=TABLE)
    started = time.monotonic()
    response = driver(sma_app).send("new_inbound_call")
    assert time.monotonic() - started < 5
    assert action_types(response) == ["PlayAudio", "Hangup"]
    assert response["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/error.wav"
