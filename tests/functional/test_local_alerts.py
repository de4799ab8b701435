# ruff: noqa: F811  - the imported `dev` fixture is, as pytest wants, the name of every test's parameter
"""Call alerts on the local stack: ``switchboard dev`` runs the stream pump, so a call event written by
the SMA reaches ``bot.notifier.handler`` and the Slack stand-in's alert channel by itself, while
``switchboard call`` runs in another process (its transfers reaching the call through the dev
stack's emulator). And the demo's way of telling routing announcements from call alerts.

``bot.app`` and ``bot.notifier`` bind their settings once per process, so the stack with the Slack
side runs in a ``switchboard dev`` subprocess, as in ``test_dev_stack.py``.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient

from switchboard_local.demo import _alert_for, _announcements, _is_call_alert, _seen
from switchboard_local.slack.standin import SlackStandIn
from tests.functional.test_dev_stack import Dev, dev  # noqa: F401 - the fixture: one dev stack here

pytestmark = pytest.mark.functional

OURS, ENTRY = "+12025550100", "+12025550102"
SMA_NUMBER, CONNECT_NUMBER = "+12025550103", "+18005550111"
FIRST, SECOND = "+12065550111", "+13125550122"


def alert_posts(dev: Dev) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{dev.origin}/_local/activity", timeout=30) as response:
        activity: dict[str, Any] = json.loads(response.read())
    return [
        call["args"]
        for call in activity["calls"]
        if call["method"] == "chat.postMessage" and call["args"].get("channel") == "C0ALERTS"
    ]


def wait_for(dev: Dev, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [args for args in alert_posts(dev) if predicate(args)]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no such alert within {timeout} s: {alert_posts(dev)}"
        time.sleep(0.2)


def test_dev_prints_how_alerts_are_delivered(dev: Dev) -> None:
    assert (
        "call alerts: table stream → bot.notifier.handler (stream pump, every 0.25 s) → C0ALERTS"
        in "".join(dev.output)
    )


def test_a_failed_call_in_another_shell_is_alerted_in_the_channel_without_anyone_asking(dev: Dev) -> None:
    assert dev.cli("forward", "set", OURS, FIRST).returncode == 0
    call = dev.cli("call", OURS, "--no-answer")
    assert call.returncode == 0, call.stderr
    assert "call record: outcome no-answer" in call.stdout

    alert = wait_for(dev, lambda args: "event `bridge_failed`" in json.dumps(args.get("blocks")))
    assert f"Nobody answered a call to {OURS}" in alert["text"]
    assert "+13035550123" not in json.dumps(alert)  # the caller is masked


def test_a_transfer_scripted_in_another_shell_reaches_the_call_and_its_failure_is_alerted(dev: Dev) -> None:
    assert dev.cli("pool", "add", SMA_NUMBER, CONNECT_NUMBER).returncode == 0
    assert dev.cli("forward", "set", ENTRY, "connect").returncode == 0
    call = dev.cli(
        "call", ENTRY, "--transfer-at", "10", "--transfer-to", SECOND, "--target-behaviour", "no-answer"
    )
    assert call.returncode == 0, call.stderr
    # The update went call process → dev's emulator → back to the call process's simulator.
    assert "connect_lambda.app.handler to transfer the call: accepted" in call.stdout
    assert "CALL_UPDATE_REQUESTED" in call.stdout
    assert "call record: outcome transfer-failed" in call.stdout

    alert = wait_for(dev, lambda args: "event `transfer_failed`" in json.dumps(args.get("blocks")))
    assert ENTRY in alert["text"]
    listed = dev.cli("pool", "list")
    assert "1 pairs: 1 free, 0 claimed" in listed.stdout


# -- the demo's checks on the alert channel ---------------------------------------------------------


def test_the_demo_tells_announcements_from_call_alerts() -> None:
    with SlackStandIn(tokens=["xoxb-t"], channels={"C0ALERTS": {"name": "alerts"}}) as slack:
        client = WebClient(token="xoxb-t", base_url=slack.api_url)
        client.chat_postMessage(channel="C0ALERTS", text="↪ <@U1> forwarded *+12025550100* → +12065550111")
        seen = _seen(slack)
        alert = client.chat_postMessage(
            channel="C0ALERTS",
            text=":rotating_light: Nobody answered",
            blocks=[
                {"type": "section", "text": {"type": "mrkdwn", "text": "Nobody answered"}},
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": "event `bridge_failed` · call `tx-9`"}],
                },
            ],
        )
        client.chat_postMessage(channel="C0ALERTS", text="↩ <@U1> removed the forward on *+12025550100*")

        messages = slack.messages("C0ALERTS")
        assert [_is_call_alert(m) for m in messages] == [False, True, False]
        assert _announcements(slack, seen) == ["↩ <@U1> removed the forward on *+12025550100*"]
        found = _alert_for(slack, "tx-9")
        assert found is not None
        assert found["ts"] == alert["ts"]
        assert _alert_for(slack, "tx-1") is None
