"""bot.digest.handler against moto (the call records the SMA writes) and the Slack stand-in."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot import digest
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.domain.events import Attempt, AttemptResult, CallRecord, Outcome
from switchboard.domain.rules import ForwardRule
from switchboard_local.slack.standin import SlackStandIn
from tests.functional.conftest import TABLE

OURS, OTHER, IDLE = "+12025550100", "+12025550101", "+12025550102"
FIRST, SECOND = "+12065550111", "+13125550122"
CALLER = "+13035550123"
TOKEN = "xoxb-digest"
CHANNEL = "C0ALERTS"
HOUR = 3_600_000


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(tokens=[TOKEN]) as standin:
        yield standin


@pytest.fixture
def env(slack: SlackStandIn, dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> SlackStandIn:
    monkeypatch.setenv("ALERT_CHANNEL", CHANNEL)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "digest-secret")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("MANAGED_NUMBERS", f"{OTHER},{IDLE}")
    return slack


def store(dynamodb: Any, tx: str, dialed: str, outcome: Outcome, started_ms: int, *attempts: Attempt) -> None:
    DynamoCallLog(dynamodb, TABLE).record_call(
        tx,
        CallRecord(
            dialed=dialed,
            caller=CALLER,
            outcome=outcome,
            attempts=attempts,
            started_ms=started_ms,
            ended_ms=started_ms + 60_000,
            talk_ms=30_000 if outcome is Outcome.BRIDGED else 0,
        ),
    )


def test_one_digest_a_day_with_each_numbers_calls_of_the_last_24_hours(
    env: SlackStandIn, dynamodb: Any
) -> None:
    now = int(time.time() * 1000)
    DynamoForwardRepository(dynamodb, TABLE).save(ForwardRule(number=OURS, destinations=(FIRST,)), actor="U1")
    answered = Attempt(FIRST, AttemptResult.ANSWERED, 4_000)
    rang_out = Attempt(FIRST, AttemptResult.NOT_ANSWERED, 30_000)
    store(dynamodb, "tx-1", OURS, Outcome.BRIDGED, now - 2 * HOUR, answered)
    store(
        dynamodb, "tx-2", OURS, Outcome.BRIDGED, now - 3 * HOUR, rang_out, Attempt(SECOND, "answered", 3_000)
    )
    store(
        dynamodb,
        "tx-3",
        OURS,
        Outcome.NO_ANSWER,
        now - 23 * HOUR,
        rang_out,
        Attempt(SECOND, "CallNotAnswered", 1),
    )
    store(dynamodb, "tx-old", OURS, Outcome.BRIDGED, now - 25 * HOUR, answered)  # before the window
    store(dynamodb, "tx-4", OTHER, Outcome.ABANDONED, now - HOUR)

    first = digest.handler({}, None)
    again = digest.handler({}, None)

    assert first["result"].startswith("posted for ")
    assert first["result"].endswith(": 4 call(s) on 3 number(s)")
    assert again["result"].startswith("already posted for ")
    (message,) = env.messages(CHANNEL)
    assert message["text"] == ":bar_chart: Calls in the last 24 h: 4 (2 reached someone, 1 failed)"
    shown = str(message["blocks"])
    assert f"*{OURS}* — 3 calls · 2 reached someone (67%) · :x: 1 failed · 1m talked" in shown
    assert f"_did not answer or failed most:_ {FIRST} ×2, {SECOND} ×1" in shown
    assert f"*{OTHER}* — 1 call · 0 reached someone (0%) · 1 hung up while ringing" in shown
    assert IDLE not in shown


def test_a_refused_post_frees_the_day_so_the_retry_posts_it(env: SlackStandIn, dynamodb: Any) -> None:
    store(
        dynamodb,
        "tx-1",
        OTHER,
        Outcome.BRIDGED,
        int(time.time() * 1000) - HOUR,
        Attempt(FIRST, "answered", 1),
    )
    env.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(Exception, match="channel_not_found"):
        digest.handler({}, None)
    assert env.messages(CHANNEL) == []
    assert digest.handler({}, None)["result"].endswith(": 1 call(s) on 2 number(s)")
    assert len(env.messages(CHANNEL)) == 1
