"""bot.app.handler end to end: signed Slack requests in, a Slack Web API stand-in out.

Real parts everywhere: Bolt verifies signatures, lazy listeners re-invoke the function through a
local Lambda Invoke endpoint (``AWS_ENDPOINT_URL_LAMBDA``), forwards go through the table on moto
and routing through the Chime SDK Voice emulator.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.auth import Authorizer
from switchboard.adapters.dynamo_codec import decode_item
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.domain import events
from switchboard.domain.hours import parse_hours
from switchboard.domain.rules import ForwardRule
from switchboard_local.aws.chime_voice_model import ApiError
from switchboard_local.aws.connect_flow import FlowInterpreter, ThirdParty
from switchboard_local.slack.requests import (
    block_actions_payload,
    interaction_event,
    signed_event,
    slash_command_event,
    view_submission_payload,
)
from switchboard_local.slack.standin import SlackStandIn
from tests.functional.bot_under_test import ADMIN, ALERTS, OTHER, OURS, BotUnderTest, bot_under_test
from tests.functional.conftest import TABLE, VOICE_CONNECTOR_ARN
from tests.helpers import CallDriver, action_types, connect_lambda_modules, load_event

SECRET = "test-signing-secret"
TOKEN = "xoxb-test"
GROUPIE, VISITOR = "U0GROUPIE", "U0VISITOR"
FIRST, SECOND = "+12065550111", "+13125550122"


Bot = BotUnderTest


@pytest.fixture(scope="session")
def bot_session(moto_endpoint: str) -> Iterator[Bot]:
    slack = SlackStandIn(tokens=[TOKEN], usergroups={"S0OPS": [GROUPIE]})
    with bot_under_test(slack, secret=SECRET, token=TOKEN, admins=f"{ADMIN},S0OPS", settle_seconds=20) as bot:
        yield bot


@pytest.fixture
def bot(bot_session: Bot, dynamodb: Any) -> Iterator[Bot]:
    baseline = bot_session.chime.snapshot()
    bot_session.slack.clear()
    yield bot_session
    bot_session.lambdas.wait_idle(timeout=20)
    bot_session.chime.on_call_update = None
    bot_session.chime.restore(baseline)


def routed_to_sma(bot: Bot, number: str = OURS) -> bool:
    phone = bot.chime.snapshot()["phone_numbers"][number]
    rules = [r for r in bot.chime.snapshot()["sip_rules"].values() if r["TriggerValue"] == number]
    return (
        phone["ProductType"] == "SipMediaApplicationDialIn" and len(rules) == 1 and not rules[0]["Disabled"]
    )


def stored(dynamodb: Any, number: str = OURS) -> ForwardRule | None:
    return DynamoForwardRepository(dynamodb, TABLE).get(number)


def ack_text(response: dict[str, Any]) -> str:
    assert response["statusCode"] == 200, response
    body = response.get("body") or ""
    return str(json.loads(body).get("text", "")) if body.startswith("{") else body


# -- /forward <number> to <destinations> ------------------------------------------------------


def test_set_forward_acks_fast_then_applies_routes_and_records_who(bot: Bot, dynamodb: Any) -> None:
    started = time.monotonic()
    response = bot.command("(202) 555-0100 to 206-555-0111, +13125550122 for 2h greeting once")
    ack_seconds = time.monotonic() - started
    assert "Forwarding (202) 555-0100" in ack_text(response)
    assert ack_seconds < 3

    bot.settle()
    (reply,) = bot.responded()
    assert reply["text"].startswith(
        ":white_check_mark: Now forwarding +12025550100 → +12065550111, +13125550122"
    )
    assert reply["replace_original"] is True
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.destinations == (FIRST, SECOND)
    assert rule.greeting.value == "once"
    assert rule.expires_at is not None
    assert rule.updated_by == ADMIN
    assert routed_to_sma(bot)
    (change,) = DynamoForwardRepository(dynamodb, TABLE).history(OURS)
    assert (change["action"], change["actor"]) == ("set", ADMIN)
    # The channel hears of it from bot.notifier, fed that history item by the stream (test_notifier).
    assert bot.slack.messages(ALERTS) == []


def test_members_of_an_admin_group_may_change_routing(bot: Bot, dynamodb: Any) -> None:
    bot.command(f"{OURS} to {FIRST}", user=GROUPIE)
    bot.settle()
    assert stored(dynamodb) is not None
    assert bot.slack.calls_to("usergroups.users.list")


@pytest.mark.parametrize("text", [f"{OURS} to {FIRST}", f"remove {OURS}", f"transfer {OURS} to {FIRST}"])
def test_others_are_refused_in_the_acknowledgement_and_nothing_changes(
    bot: Bot, dynamodb: Any, text: str
) -> None:
    ack = bot.command(text, user=VISITOR)
    bot.settle()
    # Refused at once: never "⏳ Forwarding…" first and "Sorry" a moment later.
    assert ack_text(ack).startswith(
        ":no_entry: Sorry <@U0VISITOR>, you may look at forwards but not change them"
    )
    assert "FORWARD_ADMINS" in ack_text(ack)
    assert bot.responded() == []  # no work after the acknowledgement
    assert stored(dynamodb) is None
    assert not routed_to_sma(bot)
    assert bot.slack.messages(ALERTS) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{OURS} to 911", "emergency number"),
        (f"{OURS} to +1 900 555 0100", "premium-rate"),
        (f"{OURS} to +442079460000", "forwards may only go to US"),
        (f"{OURS} to {FIRST} for 90 days", "out of range"),
        (f"{OURS} to {FIRST} greeting sometimes", "greeting must be loop, once or none"),
        (f"{OURS} to {FIRST} timeout 500", "timeout must be 1-120"),
        (
            f"{OURS} to +12065550111, +12065550112, +12065550113, +12065550114, +12065550115, +12065550116",
            "at most 5",
        ),
        ("frobnicate the phones", "I don't understand"),
    ],
)
def test_bad_input_is_answered_in_the_ack_with_the_reason(
    bot: Bot, dynamodb: Any, text: str, expected: str
) -> None:
    response = bot.command(text)
    assert expected in ack_text(response)
    bot.settle()
    assert bot.responded() == []  # the lazy listener does nothing more
    assert stored(dynamodb) is None


def test_not_one_of_our_numbers_and_loops_are_refused_after_the_ack(bot: Bot, dynamodb: Any) -> None:
    bot.command(f"+12025550199 to {FIRST}", name="a")
    bot.command(f"{OTHER} to {FIRST}", name="b")
    bot.settle()
    bot.command(f"{OURS} to {OTHER}", name="c")
    bot.settle()
    assert "not one of our phone numbers" in bot.responded("a")[0]["text"]
    assert "chain or loop" in bot.responded("c")[0]["text"]
    assert stored(dynamodb) is None


def test_help_and_unknown_text_show_usage(bot: Bot) -> None:
    assert "/forward remove" in ack_text(bot.command("help"))
    assert "/forward remove" in ack_text(bot.command("what is this"))


def test_list_and_status(bot: Bot, dynamodb: Any) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN
    )
    bot.command("list", user=VISITOR, name="list")
    bot.command("status 202-555-0100", user=VISITOR, name="status")
    bot.settle()
    listing = json.dumps(bot.responded("list")[0]["blocks"])
    assert OURS in listing
    assert FIRST in listing
    status = json.dumps(bot.responded("status")[0]["blocks"])
    assert f"*{OURS}* \\u2192 {FIRST}" in status or f"*{OURS}* → {FIRST}" in status


def test_remove_routes_back_and_is_idempotent(bot: Bot, dynamodb: Any) -> None:
    bot.command(f"{OURS} to {FIRST}")
    bot.settle()
    bot.command(f"remove {OURS}", name="first")
    bot.settle()
    bot.command(f"off {OURS}", name="second")
    bot.settle()
    assert "Removed the forward" in bot.responded("first")[0]["text"]
    assert "nothing to remove" in bot.responded("second")[0]["text"]
    assert stored(dynamodb) is None
    phone = bot.chime.snapshot()["phone_numbers"][OURS]
    assert phone["ProductType"] == "VoiceConnector"
    assert [a["Value"] for a in phone["Associations"]] == [bot.vc]
    # set + remove; the no-op writes no history item, so it is not announced either
    assert [h["action"] for h in DynamoForwardRepository(dynamodb, TABLE).history(OURS)] == ["remove", "set"]


def test_a_failing_routing_step_is_compensated_and_reported(bot: Bot, dynamodb: Any) -> None:
    # Someone deleted the SIP media application behind our back: creating the SIP rule fails after
    # the number already left the voice connector and changed product type.
    bot.chime.handle("DeleteSipMediaApplication", {"SipMediaApplicationId": bot.sma})
    bot.command(f"{OURS} to {FIRST}")
    bot.settle()
    (reply,) = bot.responded()
    assert reply["text"].startswith(":x: Could not route +12025550100 to the SIP media application")
    assert "The forward was not changed" in reply["text"]
    assert stored(dynamodb) is None
    phone = bot.chime.snapshot()["phone_numbers"][OURS]
    assert phone["ProductType"] == "VoiceConnector"
    assert [a["Value"] for a in phone["Associations"]] == [bot.vc]


# -- signatures and retries --------------------------------------------------------------------


def test_forged_signature_is_rejected_and_changes_nothing(bot: Bot, dynamodb: Any) -> None:
    event = slash_command_event("/forward", f"{OURS} to {FIRST}", ADMIN, secret="not-the-secret")
    assert bot.send(event)["statusCode"] == 401
    bot.settle()
    assert stored(dynamodb) is None


def test_stale_signature_is_rejected(bot: Bot, dynamodb: Any) -> None:
    event = slash_command_event(
        "/forward", f"{OURS} to {FIRST}", ADMIN, secret=SECRET, timestamp=int(time.time()) - 600
    )
    assert bot.send(event)["statusCode"] == 401
    bot.settle()
    assert stored(dynamodb) is None


@pytest.mark.parametrize("timestamp", ["now", "", "1e9", "１７００００００００", "-1"])
def test_a_malformed_timestamp_is_refused_as_unsigned_not_answered_with_a_500(
    bot: Bot, dynamodb: Any, timestamp: str
) -> None:
    event = slash_command_event("/forward", f"{OURS} to {FIRST}", ADMIN, secret=SECRET)
    event["headers"]["x-slack-request-timestamp"] = timestamp
    assert bot.send(event)["statusCode"] == 401
    bot.settle()
    assert stored(dynamodb) is None


def test_slack_retries_never_apply_a_change_twice(bot: Bot, dynamodb: Any) -> None:
    body_event = slash_command_event("/forward", f"{OURS} to {FIRST}", ADMIN, secret=SECRET)
    retry = signed_event(
        body_event["body"],
        SECRET,
        headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
    )
    bot.send(body_event)
    assert bot.send(retry)["statusCode"] == 200
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.version == 1
    assert len(DynamoForwardRepository(dynamodb, TABLE).history(OURS)) == 1


# -- the modal ------------------------------------------------------------------------------


def open_modal(bot: Bot, user: str = ADMIN) -> dict[str, Any]:
    """``/forward``: the ack opens a placeholder, the lazy listener puts the form in it."""
    bot.command("", user=user)
    (call,) = bot.slack.calls_to("views.open")
    bot.settle()
    return dict(bot.slack.open_views[call.response["view"]["id"]])


def submit(bot: Bot, view: dict[str, Any], answers: dict[str, Any], user: str = ADMIN) -> dict[str, Any]:
    return bot.send(interaction_event(view_submission_payload(view, answers, user_id=user), SECRET))


def test_modal_lists_our_numbers_and_submitting_it_forwards(bot: Bot, dynamodb: Any) -> None:
    view = open_modal(bot)
    numbers = [o["value"] for o in view["blocks"][0]["element"]["options"]]
    assert numbers == [OURS, OTHER]

    response = submit(bot, view, {"number": OURS})  # only the number: dest_1 is required
    assert response["statusCode"] == 200
    errors = json.loads(response["body"])["errors"]
    assert "dest_1" in errors


@pytest.mark.parametrize(
    ("answers", "block", "message"),
    [
        ({"dest_1": "911"}, "dest_1", "emergency"),
        ({"dest_1": FIRST, "dest_2": "+1 900 555 0100"}, "dest_2", "premium-rate"),
        ({"dest_1": "+442079460000"}, "dest_1", "forwards may only go to US"),
        ({"dest_1": FIRST, "dest_2": "(206) 555-0111"}, "dest_2", "same destination twice"),
        ({"dest_1": OURS}, "dest_1", "cannot forward to itself"),
    ],
)
def test_modal_validation_errors_point_at_the_right_block(
    bot: Bot, dynamodb: Any, answers: dict[str, str], block: str, message: str
) -> None:
    view = open_modal(bot)
    response = submit(bot, view, {"number": OURS, **answers})
    errors = json.loads(response["body"])["errors"]
    assert message in errors[block]
    bot.settle()
    assert stored(dynamodb) is None


def test_modal_submission_applies_and_tells_the_user(bot: Bot, dynamodb: Any) -> None:
    view = open_modal(bot)
    response = submit(
        bot,
        view,
        {"number": OURS, "dest_1": FIRST, "dest_2": "312-555-0122", "greeting": "none", "timeout": "20"},
    )
    assert response["statusCode"] == 200
    assert not response.get("body")  # plain ack closes the modal
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert (rule.destinations, rule.greeting.value, rule.ring_timeout) == ((FIRST, SECOND), "none", 20)
    told = [c.args["text"] for c in bot.slack.calls_to("chat.postEphemeral")]
    assert any("Now forwarding +12025550100" in t for t in told)
    assert routed_to_sma(bot)


def test_visitor_gets_a_refusal_instead_of_the_modal(bot: Bot) -> None:
    bot.command("", user=VISITOR)
    assert bot.slack.calls_to("views.open") == []
    (refusal,) = bot.slack.calls_to("chat.postEphemeral")
    assert "you may look at forwards but not change them" in refusal.args["text"]


# -- App Home ---------------------------------------------------------------------------------


def home_opened(user: str) -> dict[str, Any]:
    body = json.dumps(
        {
            "token": "x",
            "team_id": "T0SWITCHBD",
            "api_app_id": "A0SWITCHBD",
            "type": "event_callback",
            "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"},
        }
    )
    return signed_event(body, SECRET, content_type="application/json")


def test_app_home_lists_forwards_with_edit_and_remove_for_admins(bot: Bot, dynamodb: Any) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN
    )
    assert bot.send(home_opened(ADMIN))["statusCode"] == 200
    assert bot.send(home_opened(VISITOR))["statusCode"] == 200
    bot.settle()
    admin_home = json.dumps(bot.slack.home_views[ADMIN])
    visitor_home = json.dumps(bot.slack.home_views[VISITOR])
    assert OURS in admin_home
    assert OURS in visitor_home
    assert "remove_forward" in admin_home
    assert "remove_forward" not in visitor_home


def test_remove_button_on_app_home(bot: Bot, dynamodb: Any) -> None:
    bot.command(f"{OURS} to {FIRST}")
    bot.settle()
    bot.send(home_opened(ADMIN))
    bot.settle()
    home = bot.slack.home_views[ADMIN]
    payload = block_actions_payload(
        "remove_forward", value=OURS, block_id="rule_12025550100", view=home, user_id=ADMIN
    )
    assert bot.send(interaction_event(payload, SECRET))["statusCode"] == 200
    bot.settle()
    assert stored(dynamodb) is None
    assert OURS not in json.dumps(bot.slack.home_views[ADMIN]["blocks"][3:])


def test_edit_button_opens_the_modal_prefilled(bot: Bot, dynamodb: Any) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST, SECOND), ring_timeout=45), actor=ADMIN
    )
    payload = block_actions_payload("edit_forward", value=OURS, block_id="rule_12025550100", user_id=ADMIN)
    assert bot.send(interaction_event(payload, SECRET))["statusCode"] == 200
    (call,) = bot.slack.calls_to("views.open")
    view = bot.slack.open_views[call.response["view"]["id"]]
    text = json.dumps(view)
    assert '"initial_value": "+13125550122"' in text
    assert '"initial_value": "45"' in text
    assert json.loads(view["private_metadata"])["version"] == 1


# -- expiring forwards ------------------------------------------------------------------------


def test_expiry_job_routes_expired_forwards_back_and_records_the_expiry(bot: Bot, dynamodb: Any) -> None:
    bot.command(f"{OURS} to {FIRST} for 1h")
    bot.command(f"{OTHER} to {SECOND}", name="other")
    bot.settle()
    repo = DynamoForwardRepository(dynamodb, TABLE)
    rule = repo.get(OURS)
    assert rule is not None
    repo.save(rule.with_changes(expires_at=int(time.time()) - 5), actor=ADMIN)  # the hour is over
    bot.slack.clear()

    from bot.expiry import handler as expiry_job

    result = expiry_job({}, bot.lambdas.context("switchboard-expiry"))

    assert result == {"removed": [OURS], "skipped": [], "failed": []}
    assert repo.get(OURS) is None
    assert repo.get(OTHER) is not None  # not expired: untouched
    assert not routed_to_sma(bot, OURS)
    assert routed_to_sma(bot, OTHER)
    assert repo.history(OURS)[0]["actor"] == "expiry"
    # Announced by bot.notifier from that history item, as expired (test_notifier.py).
    assert bot.slack.messages(ALERTS) == []


# -- transfers of live calls ------------------------------------------------------------------

TARGET = "+13125550199"


@dataclass
class BridgedCall:
    """A forwarded call bridged through the real SMA handler; transfer requests reach it the way
    they do in AWS: the bot calls UpdateSipMediaApplicationCall on the Chime SDK Voice emulator,
    which delivers CALL_UPDATE_REQUESTED to the handler."""

    driver: CallDriver
    callee: str
    target_answers: bool = True
    requests: list[dict[str, str]] | None = None

    def on_update(self, sma: str, transaction_id: str, arguments: dict[str, str]) -> None:
        if transaction_id != self.driver.transaction_id:
            raise LookupError(f"no call {transaction_id}")
        assert self.requests is not None
        self.requests.append(dict(arguments))
        event = load_event("call_update_requested")
        event["ActionData"]["Parameters"]["Arguments"] = arguments
        taken_back = self.driver.send(event)
        assert action_types(taken_back) == ["Hangup"]  # the current callee goes first
        bridged = self.driver.send("hangup_leg_b", destination=self.callee)
        assert action_types(bridged) == ["PlayAudio", "CallAndBridge"]
        target = arguments["TransferTarget"]
        if self.target_answers:
            self.driver.send("action_successful_call_and_bridge", destination=target)
        else:
            self.driver.send("action_failed_call_and_bridge", destination=target, error="CallNotAnswered")


def live_call(bot: Bot, sma_app: Any, dynamodb: Any, transaction_id: str = "tx-live-1") -> BridgedCall:
    if stored(dynamodb) is None:
        DynamoForwardRepository(dynamodb, TABLE).save(
            ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN
        )
    driver = CallDriver(sma_app.handler, transaction_id)
    driver.send("new_inbound_call")
    driver.send("action_successful_call_and_bridge", destination=FIRST)
    call = BridgedCall(driver, FIRST, requests=[])
    bot.chime.on_call_update = call.on_update
    return call


def live_entry(dynamodb: Any, transaction_id: str) -> dict[str, Any] | None:
    item = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"CALL#{transaction_id}"}, "sk": {"S": "LIVE"}}
    ).get("Item")
    return decode_item(item) if item else None


def test_transfer_by_number_takes_the_call_back_and_reports_the_answer(
    bot: Bot, sma_app: Any, dynamodb: Any
) -> None:
    call = live_call(bot, sma_app, dynamodb)
    ack = ack_text(bot.command("transfer 202-555-0100 to (312) 555-0199", name="t"))
    assert "Transferring the call on 202-555-0100 to +13125550199" in ack
    bot.settle()

    assert call.requests == [{"Transfer": "true", "TransferTarget": TARGET}]
    said = [r["text"] for r in bot.responded("t")]
    assert "Taking the call on +12025550100 back from +12065550111" in said[0]
    assert said[-1] == ":white_check_mark: +13125550199 answered; the caller is connected."
    entry = live_entry(dynamodb, "tx-live-1")
    assert entry is not None
    assert (entry["callee"], entry["transferred"]) == (TARGET, True)
    (announcement,) = [c.args["text"] for c in bot.slack.calls_to("chat.postMessage")]
    assert f"<@{ADMIN}> transferred the call on *{OURS}*" in announcement
    assert "+1303•••0123" in announcement  # the caller is masked in the channel


def test_a_target_that_does_not_answer_is_reported_as_failed(bot: Bot, sma_app: Any, dynamodb: Any) -> None:
    call = live_call(bot, sma_app, dynamodb)
    call.target_answers = False
    bot.command(f"transfer {OURS} to {TARGET}", name="t")
    bot.settle()
    said = [r["text"] for r in bot.responded("t")]
    assert said[-1] == (
        ":x: +13125550199 did not answer (CallNotAnswered); the caller heard the failure message "
        "and the call ended."
    )
    assert live_entry(dynamodb, "tx-live-1") is None  # ended with the call's record


def test_a_sip_target_goes_through_the_voice_connector(bot: Bot, sma_app: Any, dynamodb: Any) -> None:
    call = live_call(bot, sma_app, dynamodb)
    bot.command("transfer tx-live-1 to sip:agent-7@pbx.example.com", name="t")
    bot.settle()
    assert call.requests == [
        {
            "Transfer": "true",
            "TransferTarget": "agent-7",
            "TransferTargetArn": VOICE_CONNECTOR_ARN,
        }
    ]
    assert (
        bot.responded("t")[-1]["text"] == ":white_check_mark: sip:agent-7 answered; the caller is connected."
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("transfer +12025550100 to 911", "emergency"),
        ("transfer +12025550100 to +1 900 555 0100", "premium-rate"),
        ("transfer +12025550100 to +442079460000", "US"),
        ("transfer +12025550100 to sip:not a user", "one target"),
        ("transfer to +13125550199", "say which call"),
    ],
)
def test_refused_targets_are_answered_in_the_ack_and_nothing_is_asked(
    bot: Bot, sma_app: Any, dynamodb: Any, text: str, reason: str
) -> None:
    call = live_call(bot, sma_app, dynamodb)
    invoked = len(bot.lambdas.invocations)
    assert reason in ack_text(bot.command(text))
    bot.settle()
    assert len(bot.lambdas.invocations) == invoked  # answered by the ack alone: no lazy work
    assert call.requests == []


def test_who_may_transfer_and_which_call(bot: Bot, sma_app: Any, dynamodb: Any) -> None:
    call = live_call(bot, sma_app, dynamodb)
    visitor = bot.command(f"transfer {OURS} to {TARGET}", user=VISITOR, name="visitor")
    bot.command(f"transfer {OTHER} to {TARGET}", name="idle")
    bot.command(f"transfer tx-no-such-call to {TARGET}", name="unknown")
    bot.command(f"transfer tx-live-1 to {FIRST}", name="same")
    bot.settle()
    assert "not change them" in ack_text(visitor)
    assert bot.responded("idle")[-1]["text"] == (
        ":warning: No call is connected on +12025550101 right now (only answered calls can be transferred)."
    )
    assert "Call `tx-no-such-call` is not connected" in bot.responded("unknown")[-1]["text"]
    assert "already talking to +12065550111" in bot.responded("same")[-1]["text"]
    assert call.requests == []

    second = CallDriver(sma_app.handler, "tx-live-2")
    second.send("new_inbound_call", caller="+14155550142")
    second.send("action_successful_call_and_bridge", destination=FIRST)
    bot.command(f"transfer {OURS} to {TARGET}", name="two")
    bot.settle()
    text = bot.responded("two")[-1]["text"]
    assert "2 calls are connected on +12025550100" in text
    assert "`tx-live-1`" in text
    assert "`tx-live-2`" in text
    assert call.requests == []


def test_a_call_that_ended_in_chime_is_reported_not_retried(bot: Bot, sma_app: Any, dynamodb: Any) -> None:
    live_call(bot, sma_app, dynamodb)

    def gone(sma: str, transaction_id: str, arguments: dict[str, str]) -> None:
        raise LookupError(f"no call {transaction_id}")

    bot.chime.on_call_update = gone
    bot.command(f"transfer {OURS} to {TARGET}", name="t")
    bot.settle()
    assert bot.responded("t")[-1]["text"] == (
        ":warning: The call (transaction tx-live-1) is no longer in progress; nothing to transfer."
    )


def test_status_calls_and_app_home_show_live_calls_with_a_transfer_button(
    bot: Bot, sma_app: Any, dynamodb: Any
) -> None:
    live_call(bot, sma_app, dynamodb)
    bot.command(f"status {OURS}", user=VISITOR, name="status")
    bot.command("calls", user=VISITOR, name="calls")
    bot.send(home_opened(ADMIN))
    bot.send(home_opened(VISITOR))
    bot.settle()
    for blocks in (bot.responded("status")[0]["blocks"], bot.responded("calls")[0]["blocks"]):
        text = json.dumps(blocks, ensure_ascii=False)
        assert "from +1303•••0123 · talking to +12065550111" in text
        assert "call id `tx-live-1`" in text
        assert '"action_id": "transfer_call"' in text
    assert '"value": "tx-live-1"' in json.dumps(bot.slack.home_views[ADMIN])
    assert "tx-live-1" in json.dumps(bot.slack.home_views[VISITOR])
    assert "transfer_call" not in json.dumps(bot.slack.home_views[VISITOR])  # no button without rights


def test_the_transfer_button_opens_a_form_that_checks_the_target_then_transfers(
    bot: Bot, sma_app: Any, dynamodb: Any
) -> None:
    call = live_call(bot, sma_app, dynamodb)
    press = block_actions_payload("transfer_call", value="tx-live-1", block_id="live", user_id=ADMIN)
    assert bot.send(interaction_event(press, SECRET))["statusCode"] == 200
    (opened,) = bot.slack.calls_to("views.open")
    view = dict(bot.slack.open_views[opened.response["view"]["id"]])
    assert view["callback_id"] == "transfer_modal"

    refused = submit(bot, view, {"target": "1-900-555-0100"})
    assert "premium-rate" in json.loads(refused["body"])["errors"]["target"]
    assert call.requests == []

    accepted = submit(bot, view, {"target": "312.555.0199"})
    assert accepted["statusCode"] == 200
    assert not accepted.get("body")
    bot.settle()
    assert call.requests == [{"Transfer": "true", "TransferTarget": TARGET}]
    told = [c.args["text"] for c in bot.slack.calls_to("chat.postEphemeral")]
    assert told[-1] == ":white_check_mark: +13125550199 answered; the caller is connected."

    # The call has moved on: the same button on an old message now says so instead of a form.
    call.driver.send("hangup_leg_a")
    again = block_actions_payload("transfer_call", value="tx-live-1", block_id="live", user_id=ADMIN)
    bot.send(interaction_event(again, SECRET))
    assert len(bot.slack.calls_to("views.open")) == 1
    assert "has already ended" in bot.slack.calls_to("chat.postEphemeral")[-1].args["text"]


def test_a_visitor_pressing_transfer_gets_a_refusal_not_a_form(bot: Bot, sma_app: Any, dynamodb: Any) -> None:
    live_call(bot, sma_app, dynamodb)
    press = block_actions_payload("transfer_call", value="tx-live-1", block_id="live", user_id=VISITOR)
    bot.send(interaction_event(press, SECRET))
    assert bot.slack.calls_to("views.open") == []
    assert "not change them" in bot.slack.calls_to("chat.postEphemeral")[-1].args["text"]


def test_a_transfer_from_app_home_refreshes_it_with_the_new_callee(
    bot: Bot, sma_app: Any, dynamodb: Any
) -> None:
    call = live_call(bot, sma_app, dynamodb)
    bot.send(home_opened(ADMIN))
    bot.settle()
    home = bot.slack.home_views[ADMIN]
    assert "talking to +12065550111" in json.dumps(home, ensure_ascii=False)
    press = block_actions_payload(
        "transfer_call", value="tx-live-1", block_id="live", view=home, user_id=ADMIN
    )
    bot.send(interaction_event(press, SECRET))
    (opened,) = bot.slack.calls_to("views.open")
    view = dict(bot.slack.open_views[opened.response["view"]["id"]])
    submit(bot, view, {"target": TARGET})
    bot.settle()
    assert call.requests == [{"Transfer": "true", "TransferTarget": TARGET}]
    refreshed = json.dumps(bot.slack.home_views[ADMIN], ensure_ascii=False)
    assert f"transferred to {TARGET}" in refreshed
    told = [c.args for c in bot.slack.calls_to("chat.postMessage") if c.args.get("channel") == ADMIN]
    assert told[-1]["text"] == ":white_check_mark: +13125550199 answered; the caller is connected."  # a DM


# -- what callers and destinations may put in front of every member ---------------------------

HOSTILE = "<!channel> <http://x.io|pay> & co"


def test_status_calls_and_app_home_mask_callers_and_escape_their_markup(
    bot: Bot, sma_app: Any, dynamodb: Any
) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN
    )
    log = DynamoCallLog(dynamodb, TABLE)
    now = int(time.time() * 1000)
    answered = (events.Attempt(FIRST, "answered", 2000),)
    log.record_call(
        "tx-full",
        events.CallRecord(OURS, "+13035550123", events.Outcome.BRIDGED, answered, now - 9000, now - 5000),
    )
    log.record_call(
        "tx-evil", events.CallRecord(OURS, HOSTILE, events.Outcome.NO_ANSWER, (), now - 4000, now - 2000)
    )
    log.call_live("tx-evil-live", events.LiveCall(OURS, HOSTILE, FIRST, now, now))
    bot.command(f"status {OURS}", user=VISITOR, name="status")
    bot.command("calls", user=VISITOR, name="calls")
    bot.send(home_opened(VISITOR))
    bot.settle()
    surfaces = {
        "status": json.dumps(bot.responded("status")[0]["blocks"], ensure_ascii=False),
        "calls": json.dumps(bot.responded("calls")[0]["blocks"], ensure_ascii=False),
        "home": json.dumps(bot.slack.home_views[VISITOR], ensure_ascii=False),
    }
    assert "from +1303•••0123" in surfaces["status"]
    for name, text in surfaces.items():
        assert "3035550123" not in text, name
        assert "<!channel>" not in text, name
        assert "<http://x.io" not in text, name
        assert "&lt;!channel&gt; &lt;http://x.io|pay&gt; &amp; co" in text, name


def test_a_failed_rollback_posts_the_rotating_light(
    bot: Bot, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CreateSipRule fails (the SMA is gone); putting the number back on its voice connector fails
    too (PhoneNumberErrors): the user must not be told all is well."""
    bot.chime.handle("DeleteSipMediaApplication", {"SipMediaApplicationId": bot.sma})

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        return {
            "PhoneNumberErrors": [
                {"PhoneNumberId": n, "ErrorCode": "Conflict", "ErrorMessage": "injected"}
                for n in params["E164PhoneNumbers"]
            ]
        }

    monkeypatch.setitem(bot.chime._operations, "AssociatePhoneNumbersWithVoiceConnector", refuse)
    bot.command(f"{OURS} to {FIRST}")
    bot.settle()
    (reply,) = bot.responded()
    assert reply["text"].startswith(":x: Could not route +12025550100 to the SIP media application")
    assert ":rotating_light:" in reply["text"]
    assert "may reach nothing" in reply["text"]
    assert "injected" not in reply["text"]  # AWS detail stays in the log
    assert stored(dynamodb) is None


# -- input that must never crash an ack or a listener ----------------------------------------

HUGE = "9" * 4300


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{OURS} to {FIRST} timeout ²", "timeout must be a number of seconds"),
        (f"{OURS} to {FIRST} timeout ٣٠", "timeout must be a number of seconds"),
        (f"{OURS} to {FIRST} timeout {'9' * 500}", "timeout must be"),
        (f"{OURS} to {FIRST} timeout {HUGE}", "too long"),
        (f"{OURS} to {FIRST} for {HUGE}h", "too long"),
        (f"+1{HUGE} to {FIRST}", "too long"),
        (f"{OURS} to +1{HUGE}", "too long"),
        (f"status +1{HUGE}", "too long"),
        (f"remove +1{'2' * 300}", "too long to be a phone number"),
        (f"{OURS} to {FIRST} for {'9' * 500}h", "out of range"),
        (f"transfer {OURS} to +1{'2' * 300}", "too long to be a phone number"),
        (f"status +1{'2' * 60}", "is not a phone number"),
    ],
)
def test_hostile_input_is_answered_with_a_sentence_not_an_error_500(
    bot: Bot, dynamodb: Any, text: str, expected: str
) -> None:
    response = bot.command(text, name="h")
    assert response["statusCode"] == 200
    said = [ack_text(response)]
    bot.settle()
    said += [r["text"] for r in bot.responded("h")]
    assert any(expected in s for s in said), said
    assert not any(re.search(r"[0-9]{50}", s) for s in said)  # a sentence, not the input echoed back
    assert stored(dynamodb) is None


@pytest.mark.parametrize("timeout", ["²", HUGE, "-5"])
def test_a_forged_form_timeout_is_refused_on_its_field(bot: Bot, dynamodb: Any, timeout: str) -> None:
    view = open_modal(bot)
    response = submit(bot, view, {"number": OURS, "dest_1": FIRST, "timeout": timeout})
    assert response["statusCode"] == 200
    assert "1-120" in json.loads(response["body"])["errors"]["timeout"]
    bot.settle()
    assert stored(dynamodb) is None


@pytest.mark.parametrize(
    ("answers", "block"),
    [({"dest_1": f"+1{HUGE}"}, "dest_1"), ({"dest_1": FIRST, "dest_2": "²" * 200}, "dest_2")],
)
def test_a_forged_form_with_huge_fields_is_refused_on_the_field(
    bot: Bot, dynamodb: Any, answers: dict[str, str], block: str
) -> None:
    view = open_modal(bot)
    response = submit(bot, view, {"number": OURS, **answers})
    assert response["statusCode"] == 200
    assert "too long" in json.loads(response["body"])["errors"][block]


def fresh_container(bot: Bot) -> None:
    """What a new Lambda container knows: nothing cached (phone numbers, group members)."""
    bot.module.forwarding_service.cache_clear()
    bot.module.deps.authorizer = Authorizer(bot.module.settings.forward_admins, bot.module.client)


def test_a_failing_phone_inventory_is_a_plain_sentence_with_a_reference_on_every_surface(
    bot: Bot, dynamodb: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fresh_container(bot)
    serve = bot.chime.handle
    denied = "User: arn:aws:sts::123456789012:assumed-role/switchboard-bot is not authorized"

    def inventory_denied(operation: str, params: dict[str, Any]) -> Any:
        if operation == "ListPhoneNumbers":
            raise ApiError("ForbiddenException", denied)
        return serve(operation, params)

    monkeypatch.setattr(bot.chime, "handle", inventory_denied)
    acks = [bot.command(f"{OURS} to {FIRST}", name="set"), bot.command(f"status {OURS}", name="status")]
    acks.append(bot.command("", name="form"))
    assert [a["statusCode"] for a in acks] == [200, 200, 200]
    (opened,) = bot.slack.calls_to("views.open")
    bot.settle()
    form = json.dumps(bot.slack.open_views[opened.response["view"]["id"]])
    said = [bot.responded("set")[-1]["text"], bot.responded("status")[-1]["text"], form]
    for text in said:
        assert "phone numbers could not be read" in text
        assert "123456789012" not in text
        assert "arn:aws" not in text
    references = [re.search(r"reference `([0-9a-f]{8})`", text) for text in said]
    assert all(references), said
    for found in references:
        assert found is not None
        logged = [r.getMessage() for r in caplog.records if found.group(1) in r.getMessage()]
        assert logged
        assert "ForbiddenException" in logged[0]  # the details are in the log
    assert stored(dynamodb) is None
    fresh_container(bot)


def test_network_errors_reading_user_groups_are_a_sentence_not_a_crash(
    bot: Bot, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh_container(bot)

    def unreachable(**kwargs: Any) -> Any:
        raise urllib.error.URLError(TimeoutError("timed out"))

    monkeypatch.setattr(bot.module.client, "usergroups_users_list", unreachable)
    form_ack = bot.command("", user=GROUPIE, name="form")
    set_ack = bot.command(f"{OURS} to {FIRST}", user=GROUPIE, name="set")
    assert (form_ack["statusCode"], set_ack["statusCode"]) == (200, 200)
    bot.settle()
    (refusal,) = bot.slack.calls_to("chat.postEphemeral")
    for text in (refusal.args["text"], ack_text(set_ack)):
        assert "Slack could not tell me just now whether you are in an admin user group" in text
    assert bot.slack.calls_to("views.open") == []
    assert stored(dynamodb) is None
    fresh_container(bot)


# -- FORWARD_ADMINS that cannot mean anyone -------------------------------------------------


def test_malformed_admin_entries_are_named_in_the_refusal_and_logged_at_start(
    bot: Bot, dynamodb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot"):
        bot.module.deps.authorizer = Authorizer(("u0admin", "<@U0ADMIN>"), bot.module.client)
    try:
        text = ack_text(bot.command(f"{OURS} to {FIRST}", name="set"))
        bot.settle()
        assert "`FORWARD_ADMINS` has no valid entry" in text
        assert "`u0admin` is not a Slack user ID" in text
        assert "`&lt;@U0ADMIN&gt;` is not a Slack user ID" in text
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "`u0admin` is not a Slack user ID" in logged
        assert "`&lt;@U0ADMIN&gt;`" in logged or "<@U0ADMIN>" in logged
        assert stored(dynamodb) is None
    finally:
        fresh_container(bot)


# -- the form is bound to the number and the version it was opened for ----------------------


def edit_form(bot: Bot, number: str = OURS) -> dict[str, Any]:
    """App Home's Edit on ``number``: the form, opened in the acknowledgement."""
    press = block_actions_payload("edit_forward", value=number, block_id="rule_x", user_id=ADMIN)
    assert bot.send(interaction_event(press, SECRET))["statusCode"] == 200
    call = bot.slack.calls_to("views.open")[-1]
    return dict(bot.slack.open_views[call.response["view"]["id"]])


def test_an_edit_form_changes_only_its_own_number_whatever_the_submission_says(
    bot: Bot, dynamodb: Any
) -> None:
    repo = DynamoForwardRepository(dynamodb, TABLE)
    repo.save(ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN)
    view = edit_form(bot)
    payload = view_submission_payload(view, {"dest_1": SECOND}, user_id=ADMIN)
    # A crafted submission that names another number than the one the form was opened for.
    payload["view"]["state"]["values"]["number"] = {
        "number": {"type": "static_select", "selected_option": {"value": OTHER}}
    }
    response = bot.send(interaction_event(payload, SECRET))
    assert response["statusCode"] == 200
    assert not response.get("body")
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.destinations == (SECOND,)
    assert stored(dynamodb, OTHER) is None


def test_a_new_forward_on_a_number_forwarded_meanwhile_asks_to_edit_instead(bot: Bot, dynamodb: Any) -> None:
    view = open_modal(bot)
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OURS, destinations=(FIRST,)), actor="U0SOMEONE"
    )
    response = submit(bot, view, {"number": OURS, "dest_1": SECOND})
    error = json.loads(response["body"])["errors"]["number"]
    assert "already forwarded" in error
    assert "Use Edit" in error
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.destinations == (FIRST,)


def test_an_edit_form_does_not_overwrite_a_change_made_since_it_opened(bot: Bot, dynamodb: Any) -> None:
    repo = DynamoForwardRepository(dynamodb, TABLE)
    first = repo.save(ForwardRule(number=OURS, destinations=(FIRST,)), actor=ADMIN)
    view = edit_form(bot)
    repo.save(first.with_changes(destinations=(SECOND,)), actor="U0SOMEONE", previous=first)
    response = submit(bot, view, {"dest_1": "+13125550133"})
    error = json.loads(response["body"])["errors"]["dest_1"]
    assert "changed the forward on +12025550100 just now" in error
    assert SECOND in error  # what it is now
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.destinations == (SECOND,)


def test_edit_on_a_removed_forward_makes_a_new_one_on_that_number(bot: Bot, dynamodb: Any) -> None:
    view = edit_form(bot)  # no forward on OURS: the form is a new forward on it
    assert json.loads(view["private_metadata"])["number"] == OURS
    submit(bot, view, {"dest_1": FIRST})
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.destinations == (FIRST,)


# -- acknowledgements: no Chime SDK Voice call, at most one table read -----------------------


@contextmanager
def aws_calls_made_here() -> Iterator[Counter[tuple[str, str]]]:
    """(service, operation) of every AWS call made by this thread (the ack; lazy listeners run in
    the local Lambda endpoint's threads)."""
    import botocore.client

    calls: Counter[tuple[str, str]] = Counter()
    me = threading.get_ident()
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: Any) -> Any:
        if threading.get_ident() == me:
            calls[(client.meta.service_model.service_name, operation)] += 1
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]


def assert_cheap_ack(calls: Counter[tuple[str, str]], what: str = "") -> None:
    work = {call: n for call, n in calls.items() if call != ("lambda", "Invoke")}
    assert not [call for call in work if call[0] == "chime-sdk-voice"], (what, work)
    assert sum(n for (service, _), n in work.items() if service == "dynamodb") <= 1, (what, work)


def test_no_acknowledgement_calls_chime_or_reads_the_table_more_than_once(bot: Bot, dynamodb: Any) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(number=OTHER, destinations=(SECOND,)), actor=ADMIN
    )
    fresh_container(bot)  # nothing cached: the inventory would have to be listed
    with aws_calls_made_here() as calls:
        bot.command("")
    assert_cheap_ack(calls)
    (opened,) = bot.slack.calls_to("views.open")
    bot.settle()
    new_form = dict(bot.slack.open_views[opened.response["view"]["id"]])

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("new form submitted", lambda: submit(bot, new_form, {"number": OURS, "dest_1": FIRST})),
        ("App Home: Edit", lambda: edit_form(bot, OTHER)),
        (
            "App Home: Forward a number",
            lambda: bot.send(interaction_event(block_actions_payload("home_new", user_id=ADMIN), SECRET)),
        ),
        ("/forward set", lambda: bot.command(f"{OTHER} to {FIRST}")),
        ("/forward status", lambda: bot.command(f"status {OTHER}")),
    ]
    for name, step in steps:
        fresh_container(bot)
        with aws_calls_made_here() as calls:
            step()
        assert_cheap_ack(calls, name)
        bot.settle()
    fresh_container(bot)
    edit = edit_form(bot, OTHER)
    with aws_calls_made_here() as calls:
        submit(bot, edit, {"dest_1": FIRST})
    assert_cheap_ack(calls)
    bot.settle()
    rule = stored(dynamodb, OTHER)
    assert rule is not None
    assert rule.destinations == (FIRST,)


# -- one set of destinations for the CLI, the slash command and the form --------------------

DESTINATION_TABLE = [
    (("connect",), True),
    (("Connect",), True),
    (("connect", FIRST), False),
    ((FIRST, "connect"), False),
    (("(206) 555-0111", "312.555.0122"), True),
    (("0012065550111",), True),
    ((FIRST, "206-555-0111"), False),
    (("911",), False),
    (("+1 900 555 0100",), False),
    (("+442079460000",), False),
    ((OURS,), False),
    ((OTHER,), False),  # one of our own numbers (not forwarded): a call would come straight back in
    (("sip:agent-7",), False),
]


def cli(*args: str) -> int:
    from switchboard.cli import main

    return main(list(args))


@pytest.mark.parametrize(("destinations", "accepted"), DESTINATION_TABLE)
def test_the_cli_the_slash_command_and_the_form_accept_the_same_destinations(
    bot: Bot, dynamodb: Any, destinations: tuple[str, ...], accepted: bool
) -> None:
    outcomes: dict[str, bool] = {}

    assert cli("forward", "remove", OURS) == 0
    outcomes["cli"] = cli("forward", "set", OURS, *destinations) == 0
    cli("forward", "remove", OURS)

    ack = ack_text(bot.command(f"{OURS} to {', '.join(destinations)}", name="slash"))
    bot.settle()
    replies = bot.responded("slash")
    outcomes["slash"] = bool(replies) and replies[-1]["text"].startswith(":white_check_mark:")
    assert outcomes["slash"] or ":warning:" in ack + "".join(r["text"] for r in replies)
    cli("forward", "remove", OURS)

    bot.slack.clear()
    view = open_modal(bot)
    answers = {"number": OURS} | {f"dest_{i}": d for i, d in enumerate(destinations, start=1)}
    response = submit(bot, view, answers)
    bot.settle()
    told = [c.args["text"] for c in bot.slack.calls_to("chat.postEphemeral")]
    outcomes["form"] = not response.get("body") and any(":white_check_mark:" in t for t in told)
    cli("forward", "remove", OURS)

    assert outcomes == {"cli": accepted, "slash": accepted, "form": accepted}


def test_an_amazon_connect_entry_number_can_be_edited_from_app_home_unchanged(
    bot: Bot, dynamodb: Any
) -> None:
    bot.command(f"{OURS} to connect", name="set")
    bot.settle()
    assert bot.responded("set")[-1]["text"].startswith(":white_check_mark: Now forwarding +12025550100")
    view = edit_form(bot)
    response = submit(bot, view, {"greeting": "none"})
    assert not response.get("body"), response.get("body")
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert (rule.destinations, rule.greeting.value) == (("connect",), "none")


@pytest.mark.parametrize("target", ["sip:" + "a" * 5000, f"+1{HUGE}"])
def test_a_forged_transfer_form_with_a_huge_target_is_refused_on_its_field(
    bot: Bot, sma_app: Any, dynamodb: Any, target: str
) -> None:
    call = live_call(bot, sma_app, dynamodb)
    press = block_actions_payload("transfer_call", value="tx-live-1", block_id="live", user_id=ADMIN)
    bot.send(interaction_event(press, SECRET))
    (opened,) = bot.slack.calls_to("views.open")
    view = dict(bot.slack.open_views[opened.response["view"]["id"]])
    response = submit(bot, view, {"target": target})
    assert response["statusCode"] == 200
    error = json.loads(response["body"])["errors"]["target"]
    assert "too long" in error
    bot.settle()
    assert call.requests == []


# -- calls on Amazon Connect numbers: listed from the dial, transfers deferred -----------------
# The shipped forwarding flow runs in the Flow-language interpreter through the real Connect Lambda;
# Slack requests reach the bot from the interpreter's during-call hooks. The bot reads the wall
# clock, so each call's simulated clock is set to meet it at the moment of its hook.

CONNECT_NUMBER = "+13125550180"
CONNECT_PROMPTS = "https://prompts.example.com/connect/"


@dataclass
class ConnectCalls:
    handler: Any
    events: Any
    forwarding: Any
    dynamodb: Any

    def forward(self, *destinations: str, **fields: Any) -> None:
        rule = ForwardRule(number=CONNECT_NUMBER, destinations=destinations, **fields)
        DynamoForwardRepository(self.dynamodb, TABLE).save(rule, actor=ADMIN)

    def call(
        self, phones: dict[str, Any], hook: Callable[[], None], *, at: float
    ) -> tuple[Any, dict[str, Any] | None]:
        """A call whose ``hook`` runs ``at`` seconds in, when the simulated clock is the wall clock."""
        known = {f"{CONNECT_PROMPTS}{name}.wav" for name in ("greeting", "failure", "please_hold")}
        interpreter = FlowInterpreter(
            FLOW_JSON,
            self.handler,
            claimed={CONNECT_NUMBER},
            prompt_seconds=lambda uri: 3.0 if uri in known else None,
            start_ms=int(time.time() * 1000) - int(at * 1000),
            on_disconnected=self.events,
        )
        self.forwarding.clock = interpreter.now_ms
        transcript = interpreter.place_call(
            CONNECT_NUMBER, "+13035550123", phones=phones, during=[(at, hook)]
        )
        assert transcript.flags == [], transcript.lines()
        record = DynamoCallLog(self.dynamodb, TABLE).call_record(transcript.contact_id)
        return transcript, record


FLOW_JSON = json.loads(
    (Path(__file__).resolve().parents[2] / "connect_lambda/forwarding_flow.json").read_text()
)


@pytest.fixture
def connect_calls(bot: Bot, dynamodb: Any) -> Iterator[ConnectCalls]:
    with connect_lambda_modules(CONNECT_PROMPTS) as (app, events):
        clock = app.forwarding.clock
        yield ConnectCalls(app.handler, events.handler, app.forwarding, dynamodb)
        app.forwarding.clock = clock


def test_a_ringing_connect_call_is_listed_and_its_transfer_refused_with_the_reason(
    bot: Bot, connect_calls: ConnectCalls, dynamodb: Any
) -> None:
    connect_calls.forward(FIRST, ring_timeout=20)
    # /forward status only asks the inventory whether the number is ours (this bot has no Connect
    # instance configured; routing is not what this test is about).
    bot.chime.seed_phone_numbers([CONNECT_NUMBER])
    bot.module.forwarding_service.cache_clear()

    def while_it_rings() -> None:
        bot.command("calls", user=VISITOR, name="calls")
        bot.command(f"status {CONNECT_NUMBER}", user=VISITOR, name="status")
        bot.command(f"transfer {CONNECT_NUMBER} to {TARGET}", name="early")
        bot.command(f"transfer {CONNECT_NUMBER} to sip:agent-7", name="sip")
        bot.send(home_opened(ADMIN))
        bot.settle()

    connect_calls.call({FIRST: ThirdParty.answers(after=3, talks_for=60)}, while_it_rings, at=5)

    for name in ("calls", "status"):
        text = json.dumps(bot.responded(name)[0]["blocks"], ensure_ascii=False)
        assert "from +1303•••0123 · ringing +12065550111 (Amazon Connect)" in text
    assert "ringing +12065550111 (Amazon Connect)" in json.dumps(
        bot.slack.home_views[ADMIN], ensure_ascii=False
    )
    early = bot.responded("early")[-1]["text"]
    assert f"The call on {CONNECT_NUMBER} may still be ringing +12065550111" in early
    assert "Amazon Connect does not report when a call is answered" in early
    # 20 s to ring from the dial, which came after the 3 s greeting; 5 s (and a moment) into the call.
    assert re.search(r"in 1[789]s\.$", early), early  # from Start, it would say 15 or 16
    assert "cannot reach sip:agent-7" in bot.responded("sip")[-1]["text"]
    assert (
        dynamodb.scan(
            TableName=TABLE,
            FilterExpression="begins_with(pk, :t)",
            ExpressionAttributeValues={":t": {"S": "TRANSFER#"}},
        )["Items"]
        == []
    )


def test_a_connect_call_transfer_is_queued_and_runs_when_the_callee_hangs_up(
    bot: Bot, connect_calls: ConnectCalls, dynamodb: Any
) -> None:
    connect_calls.forward(FIRST, ring_timeout=20)

    def while_they_talk() -> None:
        bot.command("calls", user=VISITOR, name="calls")
        ack = bot.command(f"transfer {CONNECT_NUMBER} to (312) 555-0199", name="t")
        assert "Transferring the call on (312) 555-0199" not in ack_text(ack)
        bot.settle()

    transcript, record = connect_calls.call(
        {FIRST: ThirdParty.answers(after=3, talks_for=60), TARGET: ThirdParty.answers(after=5, talks_for=30)},
        while_they_talk,
        at=40,
    )

    listed = json.dumps(bot.responded("calls")[0]["blocks"], ensure_ascii=False)
    assert re.search(r"talking to \+12065550111 for up to [1-4]?[0-9]s \(Amazon Connect\)", listed), listed
    said = bot.responded("t")[-1]["text"]
    assert said.startswith(":hourglass: Transfer queued: Amazon Connect cannot take the call on +13125550180")
    assert "it happens when they hang up" in said
    (announcement,) = [c.args["text"] for c in bot.slack.calls_to("chat.postMessage")]
    assert f"<@{ADMIN}> transferred the call on *{CONNECT_NUMBER}*" in announcement
    assert "queued until +12065550111 hangs up (Amazon Connect)" in announcement
    # The callee hung up at 66 s (greeting 3 s, ringing 3 s, talk 60 s): "please hold", then the
    # target, which sees the caller's number.
    assert transcript.dials == [(FIRST, CONNECT_NUMBER), (TARGET, "+13035550123")]
    assert transcript.prompts == ["greeting.wav", "please_hold.wav"]
    assert record is not None
    assert record["outcome"] == "transferred"
    assert [a["destination"] for a in record["attempts"]] == [FIRST, TARGET]


def test_a_connect_transfer_whose_target_does_not_answer_is_alerted_as_on_the_sma(
    bot: Bot, connect_calls: ConnectCalls, dynamodb: Any
) -> None:
    connect_calls.forward(FIRST, ring_timeout=20)
    press = block_actions_payload("transfer_call", block_id="live", user_id=ADMIN)

    def press_transfer_in_app_home() -> None:
        (entry,) = DynamoCallLog(dynamodb, TABLE).live_calls(CONNECT_NUMBER)
        press["actions"][0]["value"] = entry.transaction_id
        bot.send(interaction_event(press, SECRET))
        (opened,) = bot.slack.calls_to("views.open")
        view = dict(bot.slack.open_views[opened.response["view"]["id"]])
        assert "waits until they hang up" in json.dumps(view)
        submit(bot, view, {"target": TARGET})
        bot.settle()

    transcript, record = connect_calls.call(
        {FIRST: ThirdParty.answers(after=3, talks_for=60), TARGET: ThirdParty.no_answer()},
        press_transfer_in_app_home,
        at=30,
    )

    told = [c.args["text"] for c in bot.slack.calls_to("chat.postEphemeral")]
    assert told[-1].startswith(":hourglass: Transfer queued")
    assert record is not None
    assert record["outcome"] == "transfer-failed"
    assert transcript.prompts == ["greeting.wav", "please_hold.wav", "failure.wav"]
    event = dynamodb.get_item(
        TableName=TABLE,
        Key={"pk": {"S": f"CALL#{transcript.contact_id}"}, "sk": {"S": "EVENT#transfer_failed"}},
    )["Item"]
    # The item the stream notifier turns into the channel's transfer-failed alert (test_notifier).
    assert (decode_item(event)["kind"], decode_item(event)["transfer_target"]) == ("call_event", TARGET)


# -- business hours (issue 17 item 3) -----------------------------------------------------------

AFTER_HOURS = "+14155550133"


def test_a_slash_forward_with_business_hours_stores_them_and_status_shows_the_branch_now(
    bot: Bot, dynamodb: Any
) -> None:
    response = bot.command(
        f"{OURS} to {FIRST} weekdays 09:00-17:30 america/chicago else to (415) 555-0133 greeting none"
    )
    assert "Forwarding" in ack_text(response)
    bot.settle()
    (reply,) = bot.responded()
    assert "weekdays 09:00–17:30 America/Chicago, else +14155550133" in reply["text"]
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.hours is not None
    assert (rule.hours.spec, rule.hours.timezone) == ("mon-fri 09:00-17:30", "America/Chicago")
    assert rule.else_destinations == (AFTER_HOURS,)
    assert rule.greeting.value == "none"

    bot.command(f"status {OURS}", user=VISITOR, name="status")
    bot.settle()
    status = json.dumps(bot.responded("status")[0]["blocks"], ensure_ascii=False)
    branch = "in business hours now" if rule.in_hours(time.time()) else "outside business hours now"
    assert branch in status
    assert "America/Chicago)" in status  # when it next switches, with the local time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{OURS} to {FIRST} weekdays 09:00-17:30 America/Chicago", "else to"),
        (f"{OURS} to {FIRST} weekdays 09:00-17:30 else to {SECOND}", "time zone"),
        (f"{OURS} to {FIRST} weekdays 09:00-17:30 Mars/Base else to {SECOND}", "not a time zone"),
        (f"{OURS} to {FIRST} weekdays 09:00-25:00 UTC else to {SECOND}", "not a time of day"),
        (f"{OURS} to {FIRST} weekdays 09:00-17:30 UTC else to +1 900 555 0100", "premium-rate"),
        (f"{OURS} to {FIRST} weekdays 09:00-17:30 UTC else to", "outside business hours"),
    ],
)
def test_bad_business_hours_are_answered_in_the_ack(
    bot: Bot, dynamodb: Any, text: str, expected: str
) -> None:
    assert expected in ack_text(bot.command(text))
    bot.settle()
    assert bot.responded() == []
    assert stored(dynamodb) is None


def test_else_destinations_that_loop_or_are_ours_are_refused_after_the_ack(bot: Bot, dynamodb: Any) -> None:
    bot.command(f"{OURS} to {FIRST} weekdays 09:00-17:30 UTC else to {OTHER}")
    bot.settle()
    assert "one of our own numbers" in bot.responded()[0]["text"]
    assert stored(dynamodb) is None


def test_the_form_takes_business_hours_and_points_errors_at_their_fields(bot: Bot, dynamodb: Any) -> None:
    view = open_modal(bot)
    base = {"number": OURS, "dest_1": FIRST}
    for answers, block, message in (
        ({"hours": "weekdays 09:00-17:30", "else_to": SECOND}, "timezone", "time zone"),
        ({"hours": "weekdays 9-5", "timezone": "UTC", "else_to": SECOND}, "hours", "no time window"),
        ({"hours": "weekdays 09:00-17:30", "timezone": "UTC"}, "else_to", "else to"),
        ({"hours": "weekdays 09:00-17:30", "timezone": "UTC", "else_to": "911"}, "else_to", "emergency"),
        ({"hours": "weekdays 09:00-17:30", "timezone": "UTC", "else_to": OURS}, "else_to", "itself"),
    ):
        response = submit(bot, view, {**base, **answers})
        errors = json.loads(response["body"])["errors"]
        assert message in errors[block], (answers, errors)
    bot.settle()
    assert stored(dynamodb) is None

    response = submit(
        bot,
        view,
        {
            **base,
            "hours": "sat,sun 10:00-14:00",
            "timezone": "Europe/Berlin",
            "else_to": f"{SECOND}, 415-555-0133",
        },
    )
    assert not response.get("body")
    bot.settle()
    rule = stored(dynamodb)
    assert rule is not None
    assert rule.hours is not None
    assert (rule.hours.spec, rule.hours.timezone) == ("sat,sun 10:00-14:00", "Europe/Berlin")
    assert rule.else_destinations == (SECOND, AFTER_HOURS)

    payload = block_actions_payload("edit_forward", value=OURS, block_id="rule_12025550100", user_id=ADMIN)
    bot.send(interaction_event(payload, SECRET))
    edit = bot.slack.open_views[bot.slack.calls_to("views.open")[-1].response["view"]["id"]]
    prefilled = json.dumps(edit)
    assert '"initial_value": "sat,sun 10:00-14:00"' in prefilled
    assert '"initial_value": "Europe/Berlin"' in prefilled
    assert f'"initial_value": "{SECOND}, {AFTER_HOURS}"' in prefilled


def test_app_home_shows_which_branch_takes_calls_now(bot: Bot, dynamodb: Any) -> None:
    DynamoForwardRepository(dynamodb, TABLE).save(
        ForwardRule(
            number=OURS,
            destinations=(FIRST,),
            hours=parse_hours("daily 00:00-24:00", "UTC"),
            else_destinations=(SECOND,),
        ),
        actor=ADMIN,
    )
    bot.send(home_opened(VISITOR))
    bot.settle()
    home = json.dumps(bot.slack.home_views[VISITOR], ensure_ascii=False)
    assert f"in business hours now: calls go to {FIRST}" in home
    assert f"else {SECOND}" in home


def _malformed_interactions() -> list[dict[str, Any]]:
    button = block_actions_payload("home_remove", value=OURS, user_id=ADMIN)
    odd_user = {**button, "user": {**button["user"], "username": {}}}
    no_actions = {**button, "actions": []}
    view = view_submission_payload(
        {"id": "V0X", "type": "modal", "callback_id": "forward_form", "blocks": []}, {}, user_id=ADMIN
    )
    numeric_team = {**view, "team": 7 * 10**40}
    no_view_type = {**view, "view": {k: v for k, v in view["view"].items() if k != "type"}}
    return [odd_user, no_actions, numeric_team, no_view_type]


@pytest.mark.parametrize("payload", _malformed_interactions())
def test_a_signed_but_malformed_interaction_gets_a_400_not_an_exception(
    bot: Bot, dynamodb: Any, payload: dict[str, Any]
) -> None:
    """Bolt's own reading of a payload raised on shapes Slack never sends (found by the fuzz)."""
    response = bot.send(interaction_event(payload, SECRET))
    assert response["statusCode"] < 500
    bot.settle()
    assert stored(dynamodb) is None


@pytest.mark.parametrize("payload", _malformed_interactions())
def test_a_forged_malformed_interaction_is_still_refused_as_unsigned(
    bot: Bot, payload: dict[str, Any]
) -> None:
    assert bot.send(interaction_event(payload, "wrong-secret"))["statusCode"] == 401
