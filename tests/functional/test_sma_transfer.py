"""Take back and transfer in sma.app.handler: CALL_UPDATE_REQUESTED → hang up LEG-B → hold → bridge."""

from __future__ import annotations

import json
from typing import Any

import pytest

from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.domain.rules import ForwardRule
from tests.functional.conftest import TABLE
from tests.functional.test_sma_forwarding import CALLER, FIRST, OURS, call_items
from tests.helpers import CallDriver, action_types

TARGET = "+13125550199"
VC_ARN = "arn:aws:chime:us-east-1:123456789012:vc/abcdefghijklmnopqrstuv"


def bridged_call(sma_app: Any, dynamodb: Any, transaction_id: str) -> CallDriver:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,)), actor="test"
    )
    call = CallDriver(sma_app.handler, transaction_id)
    call.send("new_inbound_call")
    call.send("action_successful_call_and_bridge", destination=FIRST)
    return call


def update(arguments: dict[str, str]) -> dict[str, Any]:
    from tests.helpers import load_event

    event = load_event("call_update_requested")
    event["ActionData"]["Parameters"]["Arguments"] = arguments
    return event


def test_transfer_to_a_phone_number(sma_app: Any, dynamodb: Any) -> None:
    call = bridged_call(sma_app, dynamodb, "tx-transfer")
    taken_back = call.send(update({"Transfer": "true", "TransferTarget": TARGET}))
    assert taken_back["Actions"] == [
        {"Type": "Hangup", "Parameters": {"CallId": "e5f6a7b8-leg-b", "SipResponseCode": "0"}}
    ]

    transfer = call.send("hangup_leg_b", destination=FIRST)
    assert action_types(transfer) == ["PlayAudio", "CallAndBridge"]
    assert transfer["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/please_hold.wav"
    bridge = transfer["Actions"][1]["Parameters"]
    assert bridge["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": TARGET}]
    assert bridge["CallerIdNumber"] == CALLER  # the original caller stays visible
    assert "SipHeaders" not in bridge

    call.send("action_successful_call_and_bridge", destination=TARGET)
    call.send("hangup_leg_a")
    record = call_items(dynamodb, "tx-transfer")["RECORD"]
    assert record["outcome"] == "transferred"
    assert [a["destination"] for a in record["attempts"]] == [FIRST, TARGET]


def test_transfer_to_a_sip_target_behind_a_voice_connector_keeps_the_caller_in_a_header(
    sma_app: Any, dynamodb: Any
) -> None:
    call = bridged_call(sma_app, dynamodb, "tx-sip")
    call.send(update({"Transfer": "true", "TransferTarget": "agent-7", "TransferTargetArn": VC_ARN}))
    # The seed's flow: the Hangup of LEG-B reported as ACTION_SUCCESSFUL also continues the transfer.
    transfer = call.send(
        {
            **update({}),
            "InvocationEventType": "ACTION_SUCCESSFUL",
            "ActionData": {
                "Type": "Hangup",
                "Parameters": {"ParticipantTag": "LEG-B", "SipResponseCode": "0"},
            },
        }
    )
    bridge = transfer["Actions"][1]["Parameters"]
    assert bridge["Endpoints"] == [{"BridgeEndpointType": "AWS", "Arn": VC_ARN, "Uri": "agent-7"}]
    assert bridge["SipHeaders"] == {"X-Original-Calling-Number": CALLER}


def test_transfer_target_not_answering_plays_the_failure_prompt_and_raises_transfer_failed(
    sma_app: Any, dynamodb: Any
) -> None:
    call = bridged_call(sma_app, dynamodb, "tx-transfer-fails")
    call.send(update({"Transfer": "true", "TransferTarget": TARGET}))
    call.send("hangup_leg_b", destination=FIRST)
    failed = call.send("action_failed_call_and_bridge", destination=TARGET, error="CallNotAnswered")
    assert action_types(failed) == ["PlayAudio", "Hangup"]
    assert failed["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/failure.wav"
    items = call_items(dynamodb, "tx-transfer-fails")
    assert items["RECORD"]["outcome"] == "transfer-failed"
    event = items["EVENT#transfer_failed"]
    assert event["kind"] == "call_event"
    assert "EVENT#bridge_failed" not in items


def test_caller_hanging_up_during_the_transfer_ends_everything(sma_app: Any, dynamodb: Any) -> None:
    call = bridged_call(sma_app, dynamodb, "tx-transfer-abandon")
    call.send(update({"Transfer": "true", "TransferTarget": TARGET}))
    call.send("hangup_leg_b", destination=FIRST)
    gone = call.send("hangup_leg_a")
    assert gone["Actions"] == [
        {"Type": "Hangup", "Parameters": {"CallId": "e5f6a7b8-leg-b", "SipResponseCode": "0"}}
    ]
    assert call_items(dynamodb, "tx-transfer-abandon")["RECORD"]["outcome"] == "abandoned"


def test_a_transfer_request_before_the_bridge_or_without_a_valid_target_is_ignored(
    sma_app: Any, dynamodb: Any
) -> None:
    call = bridged_call(sma_app, dynamodb, "tx-bad-target")
    assert call.send(update({"Transfer": "true", "TransferTarget": "not-a-number"}))["Actions"] == []
    assert call.send(update({"Transfer": "false", "TransferTarget": TARGET}))["Actions"] == []

    ringing = CallDriver(sma_app.handler, "tx-early")
    ringing.send("new_inbound_call")
    assert ringing.send(update({"Transfer": "true", "TransferTarget": TARGET}))["Actions"] == []


SMA_NUMBER, CONNECT_NUMBER = "+12025550180", "+18005550111"


def connect_entry(dynamodb: Any, pairs: int = 1) -> Any:
    from switchboard.adapters.pool import DynamoDnisPool
    from switchboard.domain.pool import DnisPair
    from switchboard.domain.rules import CONNECT

    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(CONNECT,)), actor="test"
    )
    pool = DynamoDnisPool(dynamodb, TABLE)
    for index in range(pairs):
        pool.add(DnisPair(SMA_NUMBER, f"+1800555011{index + 1}"))
    return pool


def test_connect_entry_claims_a_pair_bridges_to_connect_and_releases_it_on_transfer(
    sma_app: Any, dynamodb: Any
) -> None:
    pool = connect_entry(dynamodb)
    call = CallDriver(sma_app.handler, "tx-connect")
    first = call.send("new_inbound_call")
    bridge = first["Actions"][-1]["Parameters"]
    assert bridge["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": CONNECT_NUMBER}]
    assert bridge["CallerIdNumber"] == SMA_NUMBER
    held = pool.find(SMA_NUMBER, CONNECT_NUMBER)
    assert held is not None
    assert held.claim is not None
    assert (held.claim.transaction_id, held.claim.original_calling_number) == ("tx-connect", CALLER)

    call.send("action_successful_call_and_bridge", destination=CONNECT_NUMBER)
    call.send(update({"Transfer": "true", "TransferTarget": TARGET}))
    released = pool.find(SMA_NUMBER, CONNECT_NUMBER)
    assert released is not None
    assert released.free  # given back as soon as Connect is no longer needed
    transfer = call.send("hangup_leg_b", destination=CONNECT_NUMBER)
    assert transfer["Actions"][1]["Parameters"]["Endpoints"][0]["Uri"] == TARGET


def test_caller_hanging_up_while_in_connect_releases_the_pair(sma_app: Any, dynamodb: Any) -> None:
    pool = connect_entry(dynamodb)
    call = CallDriver(sma_app.handler, "tx-connect-hangup")
    call.send("new_inbound_call")
    call.send("action_successful_call_and_bridge", destination=CONNECT_NUMBER)
    call.send("hangup_leg_a")
    entry = pool.find(SMA_NUMBER, CONNECT_NUMBER)
    assert entry is not None
    assert entry.free


def test_pool_exhausted_plays_a_prompt_and_raises_an_event(sma_app: Any, dynamodb: Any) -> None:
    connect_entry(dynamodb, pairs=1)
    CallDriver(sma_app.handler, "tx-holder").send("new_inbound_call")  # takes the only pair
    response = CallDriver(sma_app.handler, "tx-unlucky").send("new_inbound_call")
    assert action_types(response) == ["PlayAudio", "Hangup"]
    assert response["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/failure.wav"
    items = call_items(dynamodb, "tx-unlucky")
    assert items["RECORD"]["outcome"] == "pool-exhausted"
    assert items["EVENT#pool_exhausted"]["kind"] == "call_event"


def test_connect_leg_failing_releases_the_pair_plays_the_failure_prompt_and_alerts(
    sma_app: Any, dynamodb: Any
) -> None:
    pool = connect_entry(dynamodb)
    call = CallDriver(sma_app.handler, "tx-connect-fails")
    call.send("new_inbound_call")
    failed = call.send("action_failed_call_and_bridge", destination=CONNECT_NUMBER, error="SystemException")
    assert action_types(failed) == ["PlayAudio", "Hangup"]
    assert failed["Actions"][0]["Parameters"]["AudioSource"]["Key"] == "prompts/failure.wav"
    entry = pool.find(SMA_NUMBER, CONNECT_NUMBER)
    assert entry is not None
    assert entry.free
    items = call_items(dynamodb, "tx-connect-fails")
    assert items["RECORD"]["outcome"] == "all-failed"
    assert items["EVENT#bridge_failed"]["all_failed"] is True
    assert "LIVE" not in items  # never answered, never listed as live


def test_a_transfer_from_connect_lists_the_call_live_with_each_callee(sma_app: Any, dynamodb: Any) -> None:
    connect_entry(dynamodb)
    call = CallDriver(sma_app.handler, "tx-connect-live")
    call.send("new_inbound_call")
    call.send("action_successful_call_and_bridge", destination=CONNECT_NUMBER)
    live = call_items(dynamodb, "tx-connect-live")["LIVE"]
    assert (live["callee"], live["via_connect"], live["transferred"]) == (CONNECT_NUMBER, True, False)

    call.send(update({"Transfer": "true", "TransferTarget": TARGET}))
    call.send("hangup_leg_b", destination=CONNECT_NUMBER)
    assert call_items(dynamodb, "tx-connect-live")["LIVE"]["callee"] == CONNECT_NUMBER  # until answered
    call.send("action_successful_call_and_bridge", destination=TARGET)
    live = call_items(dynamodb, "tx-connect-live")["LIVE"]
    assert (live["callee"], live["via_connect"], live["transferred"]) == (TARGET, False, True)

    call.send("hangup_leg_a")
    items = call_items(dynamodb, "tx-connect-live")
    assert items["RECORD"]["outcome"] == "transferred"
    assert "LIVE" not in items


def test_a_retried_new_inbound_call_bridges_to_the_pair_it_already_claimed(
    sma_app: Any, dynamodb: Any
) -> None:
    """PSTN Audio sends NEW_INBOUND_CALL again when our answer took over 5 s: same call, same pair."""
    from tests.helpers import load_event

    pool = connect_entry(dynamodb, pairs=3)
    event = load_event("new_inbound_call")
    event["CallDetails"]["TransactionId"] = "tx-retried"

    first = sma_app.handler(event, None)
    retry = sma_app.handler(event, None)  # no TransactionAttributes: the first answer was lost

    uris = [r["Actions"][-1]["Parameters"]["Endpoints"][0]["Uri"] for r in (first, retry)]
    assert uris[0] == uris[1]
    assert [r["Actions"][-1]["Parameters"]["CallerIdNumber"] for r in (first, retry)] == [SMA_NUMBER] * 2
    held = [e for e in pool.list_pairs() if e.claim is not None]
    assert [(e.pair.connect_number, e.claim.transaction_id) for e in held if e.claim] == [
        (uris[0], "tx-retried")
    ]


@pytest.mark.parametrize(
    "arguments",
    [
        {"TransferTarget": "+19005550100"},  # premium rate
        {"TransferTarget": "+18095550100"},  # a country outside ALLOWED_COUNTRIES
        {"TransferTarget": "+442079460000"},
        {"TransferTarget": "+882130000000"},  # international network
        {"TransferTarget": "911"},
        {"TransferTarget": OURS},  # the number the call came in on
        {
            "TransferTarget": "agent-7",
            "TransferTargetArn": "arn:aws:chime:us-east-1:999999999999:vc/attacker",
        },
        {"TransferTarget": "agent-7", "TransferTargetArn": "arn:aws:chime:us-east-1:123456789012:vc/other"},
        {"TransferTarget": "*72+19005550100", "TransferTargetArn": VC_ARN},
        {"TransferTarget": "9011441234567", "TransferTargetArn": VC_ARN},
        {"TransferTarget": "+19005550100", "TransferTargetArn": VC_ARN},
        {"TransferTarget": "3125550199", "TransferTargetArn": VC_ARN},  # digits a PBX would dial
    ],
)
def test_the_sma_rechecks_the_target_before_it_takes_the_call_back(
    sma_app: Any, dynamodb: Any, arguments: dict[str, str]
) -> None:
    call = bridged_call(sma_app, dynamodb, "tx-refused")
    response = call.send(update({"Transfer": "true", **arguments}))

    assert response["Actions"] == []  # the call stays bridged to whoever has it
    assert json.loads(call.attributes["switchboard"])["p"] == "bridged"


@pytest.mark.parametrize("kind", ["pool connect number", "pool sma number", "forwarded number"])
def test_the_sma_refuses_a_transfer_to_one_of_our_own_numbers(sma_app: Any, dynamodb: Any, kind: str) -> None:
    """Not only the call's own numbers: every DNIS pair's numbers and every forwarded number (read
    when the transfer is asked for, not on the call's first event)."""
    from switchboard.adapters.pool import DynamoDnisPool
    from switchboard.domain.pool import DnisPair

    other_sma, other_connect = "+12025550181", "+18005550191"
    DynamoDnisPool(dynamodb, TABLE).add(DnisPair(other_sma, other_connect))
    forwarded = "+12025550104"
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=forwarded, destinations=(TARGET,)), actor="test"
    )
    target = {"pool connect number": other_connect, "pool sma number": other_sma}.get(kind, forwarded)
    call = bridged_call(sma_app, dynamodb, f"tx-own-{kind.replace(' ', '-')}")
    response = call.send(update({"Transfer": "true", "TransferTarget": target}))

    assert response["Actions"] == []
    assert json.loads(call.attributes["switchboard"])["p"] == "bridged"


def test_the_sma_transfers_to_an_extension_on_its_voice_connector(sma_app: Any, dynamodb: Any) -> None:
    call = bridged_call(sma_app, dynamodb, "tx-extension")
    taken_back = call.send(
        update({"Transfer": "true", "TransferTarget": "1001", "TransferTargetArn": VC_ARN})
    )
    assert action_types(taken_back) == ["Hangup"]
