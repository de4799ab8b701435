"""Alert rendering (bot/alerts.py) and the alert form pre-fill: pure functions, no Slack, no AWS."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import alerts
from bot.alerts import Alert, MalformedEventError, mask_number, render, render_parent
from bot.views import prefill
from switchboard.domain.rules import ForwardRule
from switchboard_local.slack.standin import check_blocks, check_view, render_blocks

OURS, FIRST, SECOND, CALLER = "+12025550100", "+12065550111", "+13125550122", "+13035550123"


def item(**fields: Any) -> dict[str, Any]:
    """A call event item as DynamoCallLog writes it (decoded)."""
    base: dict[str, Any] = {
        "pk": "CALL#tx-1",
        "sk": "EVENT#bridge_failed",
        "kind": "call_event",
        "event_type": "bridge_failed",
        "event_id": "tx-1:bridge_failed",
        "transaction_id": "tx-1",
        "dialed": OURS,
        "caller": CALLER,
        "at": "2026-03-01T14:05:09.123Z",
        "all_failed": True,
        "attempts": [
            {"destination": FIRST, "result": "CallNotAnswered", "ring_ms": 30000},
            {"destination": SECOND, "result": "CallNotAnswered", "ring_ms": 29500},
        ],
        "ttl": 1775000000,
    }
    base.update(fields)
    return base


def text_of(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(render_blocks(blocks))


def buttons(blocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    actions = [b for b in blocks if b["type"] == "actions"]
    return {e["action_id"]: e for block in actions for e in block["elements"]}


# -- masking and escaping ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+13035550123", "+1303•••0123"),
        ("+442079460000", "+4420•••0000"),
        ("3035550123", "303•••0123"),
        ("+4930123", "•••23"),
        ("anonymous", "anonymous"),
        ("", "unknown"),
    ],
)
def test_caller_numbers_are_masked(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_network_supplied_text_cannot_ping_the_channel() -> None:
    rendered = render(Alert.from_item(item(caller="<!channel> hi & bye")))
    dumped = json.dumps(rendered.blocks)
    assert "<!channel>" not in dumped
    assert "&lt;!channel&gt; hi &amp; bye" in dumped


# -- bridge_failed ------------------------------------------------------------------------------


def test_all_failed_says_nobody_answered_and_lists_every_attempt() -> None:
    rendered = render(Alert.from_item(item()))
    assert check_blocks(rendered.blocks) == []
    text = text_of(rendered.blocks)
    assert rendered.blocks[0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": f":rotating_light: Nobody answered a call to {OURS}",
            "emoji": True,
        },
    }
    assert "Nobody answered — the caller got the failure message." in text
    assert "Every destination rang out." in text
    assert f"1. {FIRST} — no answer (rang 30 s)" in text
    assert f"2. {SECOND} — no answer (rang 30 s)" in text
    assert "+1303•••0123" in text
    assert CALLER not in json.dumps(rendered.blocks)
    assert CALLER not in rendered.text
    assert "2026-03-01 14:05:09 UTC" in text  # the date token's fallback
    assert "<!date^1772373909^" in json.dumps(rendered.blocks)
    assert "nobody answered" in rendered.text


@pytest.mark.parametrize(("tried", "said"), [(1, "1 destination"), (2, "2 destinations")])
def test_the_count_of_destinations_tried_is_said_in_words(tried: int, said: str) -> None:
    attempts = [{"destination": FIRST, "result": "CallNotAnswered", "ring_ms": 30000}] * tried
    text = text_of(render(Alert.from_item(item(attempts=attempts))).blocks)
    assert f"*Tried* {said}" in " ".join(text.split())
    assert "(s)" not in text


def test_partial_failure_says_who_follow_me_reached() -> None:
    attempts = [
        {"destination": FIRST, "result": "SystemException", "ring_ms": 1000},
        {"destination": SECOND, "result": "answered", "ring_ms": 8000},
    ]
    rendered = render(Alert.from_item(item(all_failed=False, attempts=attempts)))
    assert check_blocks(rendered.blocks) == []
    text = text_of(rendered.blocks)
    assert f"A destination failed on {OURS}" in text
    assert f"First destination failed, follow-me reached {SECOND}." in text
    assert f"1. {FIRST} — could not be reached (network error) after 1 s" in text
    assert f"2. {SECOND} — answered after 8 s of ringing" in text
    assert f"follow-me reached {SECOND}" in rendered.text


def test_bridge_failed_offers_the_three_actions_for_the_number() -> None:
    blocks = render(Alert.from_item(item())).blocks
    found = buttons(blocks)
    assert set(found) == {alerts.REMOVE_ACTION, alerts.EDIT_ACTION, alerts.TRY_ANOTHER_ACTION}
    assert found[alerts.REMOVE_ACTION]["value"] == OURS
    assert found[alerts.REMOVE_ACTION]["style"] == "danger"
    assert found[alerts.REMOVE_ACTION]["confirm"]["confirm"]["text"] == "Remove"
    assert found[alerts.EDIT_ACTION]["value"] == OURS
    assert alerts.try_another_value(found[alerts.TRY_ANOTHER_ACTION]["value"]) == (OURS, (FIRST, SECOND))


# -- other kinds --------------------------------------------------------------------------------


def test_transfer_failed_renders_its_fields_with_numbers_masked() -> None:
    event = item(
        event_type="transfer_failed",
        event_id="tx-1:transfer_failed",
        all_failed=False,
        attempts=[],
        target="+18005550199",
        reason="CallNotAnswered",
        original_calling_number="+13035550123",
    )
    rendered = render(Alert.from_item(event))
    assert check_blocks(rendered.blocks) == []
    text = text_of(rendered.blocks)
    assert f"A transfer failed on {OURS}" in text
    assert "*Target*: +18005550199" in text
    assert "*Reason*: CallNotAnswered" in text
    assert "*Original calling number*: +1303•••0123" in text
    assert CALLER not in json.dumps(rendered.blocks)
    assert alerts.EDIT_ACTION in buttons(rendered.blocks)


def test_transfer_failed_as_the_sma_writes_it_names_the_target_and_what_came_before() -> None:
    from switchboard.adapters.dynamodb import DynamoCallLog
    from switchboard.domain.events import Attempt, CallRecord, Outcome

    record = CallRecord(
        dialed=OURS,
        caller=CALLER,
        outcome=Outcome.TRANSFER_FAILED,
        attempts=(
            Attempt("+18005550111", "answered", 3_000),
            Attempt("+13125550199", "CallNotAnswered", 30_000),
        ),
        started_ms=1_772_373_900_000,
        ended_ms=1_772_373_960_000,
        transfer_target="+13125550199",
        was_live=True,
    )
    (event,) = record.events()
    stored = DynamoCallLog(None, "table")._event_item("tx-9", event)
    alert = Alert.from_item(stored)
    assert alert.transfer_target == "+13125550199"
    assert Alert.from_dict(alert.to_dict()) == alert
    rendered = render(alert)
    assert check_blocks(rendered.blocks) == []
    text = text_of(rendered.blocks)
    assert f"A transfer failed on {OURS}" in text
    assert "+13125550199 — no answer (rang 30 s).* The caller heard the failure message" in text
    assert "*Before the transfer*\n1. +18005550111 — answered after 3 s of ringing" in text
    assert "Transfer target" not in text  # shown in the summary, not again as a raw field
    assert CALLER not in json.dumps(rendered.blocks)


def test_a_failed_transfer_does_not_count_its_target_or_the_connect_leg_as_destinations_tried() -> None:
    # Taken back from Amazon Connect, then the target did not answer: neither is a forward's
    # destination, and the attempts are listed under the summary already.
    attempts = [
        {"destination": "+18005550111", "result": "answered", "ring_ms": 2000},
        {"destination": "+13125550199", "result": "CallNotAnswered", "ring_ms": 30000},
    ]
    fields = {"event_type": "transfer_failed", "event_id": "tx-1:transfer_failed", "all_failed": False}
    alert = Alert.from_item(item(transfer_target="+13125550199", attempts=attempts, **fields))

    text = " ".join(text_of(render(alert).blocks).split())

    assert "*Tried*" not in text
    assert "*Before the transfer* 1. +18005550111" in text


def test_an_amazon_connect_answer_is_not_said_to_come_after_zero_seconds_of_ringing() -> None:
    # A contact flow never sees the answer: the record counts the call from the dial (ring_ms 0).
    before = {"destination": "+18005550111", "result": "answered", "ring_ms": 0}
    target = {"destination": "+13125550199", "result": "CallNotAnswered", "ring_ms": 30000}
    fields = {"event_type": "transfer_failed", "event_id": "c-1:transfer_failed", "all_failed": False}
    fields |= {"transfer_target": "+13125550199", "attempts": [before, target]}

    connect = text_of(render(Alert.from_item(item(backend="connect", **fields))).blocks)
    sma = text_of(render(Alert.from_item(item(**fields))).blocks)

    assert "1. +18005550111 — answered (Amazon Connect does not report after how long)" in connect
    assert "after 0 s of ringing" not in connect
    assert "1. +18005550111 — answered after 0 s of ringing" in sma


def test_pool_exhausted_concerns_no_number_and_has_no_buttons() -> None:
    event = {
        "kind": "call_event",
        "event_type": "pool_exhausted",
        "event_id": "pool:2026-03-01T14:05",
        "at": "2026-03-01T14:05:00Z",
        "pool": "default",
        "pairs": 4,
    }
    rendered = render(Alert.from_item(event))
    assert check_blocks(rendered.blocks) == []
    text = text_of(rendered.blocks)
    assert "The DNIS pool is exhausted" in text
    assert "*Pairs*: 4" in text
    assert "*Pool*: default" in text
    assert buttons(rendered.blocks) == {}


def test_unknown_event_types_still_render_generically() -> None:
    event = item(event_type="voicemail_full", event_id="tx-1:voicemail_full", mailbox="sales")
    rendered = render(Alert.from_item(event))
    assert check_blocks(rendered.blocks) == []
    text = text_of(rendered.blocks)
    assert f"Voicemail full on {OURS}" in text
    assert "*Mailbox*: sales" in text
    assert "event `voicemail_full`" in text


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"event_id": None}, "no event_id"),
        ({"event_type": ""}, "no event_type"),
        ({"dialed": 12025550100}, "dialed must be a string"),
        ({"attempts": "lots"}, "attempts must be a list"),
        ({"attempts": [{"result": "x"}]}, "attempt 1 has no destination"),
        ({"attempts": [{"destination": FIRST, "ring_ms": "long"}]}, "ring_ms is not a number"),
    ],
)
def test_malformed_events_are_refused_with_the_reason(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedEventError, match=reason):
        Alert.from_item(item(**fields))


def test_alerts_survive_their_json_round_trip() -> None:
    alert = Alert.from_item(item(extra_field="x"))
    assert Alert.from_dict(json.loads(json.dumps(alert.to_dict()))) == alert


# -- grouping -----------------------------------------------------------------------------------


def test_the_parent_of_a_thread_shows_the_count_under_its_header() -> None:
    parent = Alert.from_item(item())
    assert render_parent(parent, 1, parent.at) == render(parent)
    updated = render_parent(parent, 3, "2026-03-01T14:15:00Z")
    assert check_blocks(updated.blocks) == []
    summary = updated.blocks[1]
    assert summary["block_id"] == alerts.THREAD_BLOCK
    assert "3 failures on this number" in summary["elements"][0]["text"]
    assert "2 more failures in the thread" in summary["elements"][0]["text"]
    assert updated.text.endswith("(3 failures on this number)")


def test_a_mangled_try_another_value_still_names_the_number() -> None:
    assert alerts.try_another_value(OURS) == (OURS, ())
    assert alerts.try_another_value('["x"]') == ('["x"]', ())


# -- the pre-filled form --------------------------------------------------------------------------


def dest_values(view: dict[str, Any]) -> list[str | None]:
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    return [by_id[f"dest_{i}"]["element"].get("initial_value") for i in range(1, 6)]


def test_try_another_takes_the_failed_destinations_out_and_says_so() -> None:
    rule = ForwardRule(number=OURS, destinations=(FIRST, SECOND), version=3)
    view = prefill(rule, OURS, "C0ALERTS", failed=(FIRST,))
    assert check_view(view) == []
    assert dest_values(view) == [SECOND, None, None, None, None]
    hint = {b["block_id"]: b for b in view["blocks"]}["dest_2"]["hint"]["text"]
    assert FIRST in hint
    assert json.loads(view["private_metadata"]) == {"channel_id": "C0ALERTS", "number": OURS, "version": 3}


def test_edit_prefills_the_rule_and_a_removed_forward_is_a_new_forward_on_the_number() -> None:
    rule = ForwardRule(number=OURS, destinations=(FIRST, SECOND), version=1)
    assert dest_values(prefill(rule, OURS, "C1")) == [FIRST, SECOND, None, None, None]
    view = prefill(None, OURS, "C1", failed=(FIRST,))
    assert check_view(view) == []
    assert json.loads(view["private_metadata"]) == {"channel_id": "C1", "number": OURS, "version": 0}
    assert dest_values(view) == [None] * 5


@pytest.mark.parametrize(
    ("result", "said"),
    [
        ("CallFailed", "busy or unreachable after 2 s"),
        ("NoMatchingError", "could not be dialled after 2 s"),
    ],
)
def test_amazon_connect_attempt_results_are_said_in_words(result: str, said: str) -> None:
    # The forwarding flow's transfer-block branches (docs/connect.md), as the alert lists them.
    attempt = alerts.AlertAttempt(destination="+12065550111", result=result, ring_ms=2000)

    assert alerts.describe_result(attempt) == said


def test_the_remove_button_of_an_amazon_connect_call_says_where_calls_go() -> None:
    connect = Alert.from_item(item(backend="connect"))
    confirm = json.dumps(render(connect).blocks)
    assert "will go to its own Amazon Connect flow again" in confirm
    assert "phone system" not in confirm
    assert "backend" not in json.dumps(render(connect).blocks)  # not shown as a detail
    assert Alert.from_dict(connect.to_dict()) == connect  # kept through thread anchors
    sma = json.dumps(render(Alert.from_item(item())).blocks)
    assert "will go to the phone system again" in sma
