"""Block Kit surfaces: valid for Slack (checked by the stand-in's validator), and round-trippable."""

from __future__ import annotations

import json

import pytest

from bot import views
from switchboard.domain.events import LiveCall, LiveCallEntry
from switchboard.domain.rules import CallerIdMode, ForwardRule, GreetingMode
from switchboard.local.slack_requests import view_state
from switchboard.local.slack_standin import check_blocks, check_view
from switchboard.service import ChangeResult

OURS, FIRST, SECOND = "+12025550100", "+12065550111", "+13125550122"
RULE = ForwardRule(
    number=OURS,
    destinations=(FIRST, SECOND),
    greeting=GreetingMode.ONCE,
    caller_id=CallerIdMode.CALLER,
    ring_timeout=25,
    expires_at=2_000_000_000,
    updated_by="U0ADMIN",
    updated_at="2026-11-23T09:00:00.000Z",
    version=3,
)


def test_new_forward_modal_is_valid_and_reads_back() -> None:
    view = views.forward_modal([OURS, "+12025550101"], None, "C0OPS")
    assert check_view(view) == []
    submitted = {**view, "state": view_state(view, {"number": OURS, "dest_1": FIRST, "dest_3": SECOND})}
    form = views.read_modal(submitted)
    assert form.number == OURS
    assert form.destinations == (FIRST, SECOND)  # empty slots in between are skipped
    assert (form.greeting, form.failure, form.caller_id, form.ring_timeout) == (
        "loop",
        "prompt",
        "dialed",
        30,
    )
    assert form.expiry == "never"
    assert form.channel_id == "C0OPS"
    assert form.expected_version == 0  # a new forward: refused if the number has one by then
    assert not form.fixed_number
    assert form.offered == (OURS, "+12025550101")


def test_edit_modal_is_prefilled_and_carries_the_version() -> None:
    view = views.forward_modal([OURS], RULE)
    assert check_view(view) == []
    form = views.read_modal({**view, "state": view_state(view, {})})
    assert form.number == OURS
    assert form.fixed_number  # the number is what the form was opened for, not a field
    assert form.destinations == (FIRST, SECOND)
    assert (form.greeting, form.caller_id, form.ring_timeout, form.expiry) == ("once", "caller", 25, "keep")
    assert form.expected_version == 3


def test_home_view_for_admins_has_buttons_and_for_others_not() -> None:
    admin = views.home_view([RULE], may_change=True)
    visitor = views.home_view([RULE], may_change=False)
    assert check_view(admin) == []
    assert check_view(visitor) == []
    assert "remove_forward" in json.dumps(admin)
    assert "remove_forward" not in json.dumps(visitor)
    assert OURS in json.dumps(visitor)


def test_list_and_status_blocks_are_valid() -> None:
    assert check_blocks(views.list_blocks([RULE])) == []
    assert check_blocks(views.list_blocks([])) == []
    calls = [
        {
            "started_at": "2026-11-23T09:01:02.000Z",
            "caller": "+13035550123",
            "outcome": "bridged",
            "destinations_tried": [FIRST],
        }
    ]
    blocks = views.status_blocks(OURS, RULE, calls)
    assert check_blocks(blocks) == []
    assert "bridged" in json.dumps(blocks)


def test_change_announcement_names_who_and_old_and_new() -> None:
    old = RULE.with_changes(destinations=(SECOND,))
    text = views.change_text(ChangeResult("set", OURS, old, RULE, changed=True), "U0ADMIN")
    assert text.startswith(
        f":arrow_right_hook: <@U0ADMIN> forwarded *{OURS}* → {FIRST}, {SECOND} (was: {SECOND})"
    )
    removed = views.change_text(ChangeResult("remove", OURS, RULE, None, changed=True), "expiry")
    assert "expiry removed the forward" in removed
    assert f"was → {FIRST}, {SECOND}" in removed


HOSTILE = "<!channel> <http://x.io|pay> & co"
ESCAPED = "&lt;!channel&gt; &lt;http://x.io|pay&gt; &amp; co"


def _live(caller: str, callee: str) -> LiveCallEntry:
    return LiveCallEntry("tx-1", LiveCall(OURS, caller, callee, 1_000, 1_000))


@pytest.mark.parametrize(
    "text",
    [
        views.live_call_text(_live(HOSTILE, HOSTILE), now_ms=2_000),
        views.transfer_text(_live(HOSTILE, HOSTILE), HOSTILE, "U0ADMIN", HOSTILE),
        views.transfer_started(_live(HOSTILE, HOSTILE), HOSTILE),
        views.transfer_outcome(False, f"{HOSTILE} did not answer"),
        views.working_on_forward(HOSTILE, (HOSTILE,)),
        views.working_on_transfer(HOSTILE, HOSTILE),
        views.change_text(ChangeResult("remove", OURS, RULE, None, changed=True), f"cli:{HOSTILE}"),
        json.dumps(views.home_view([RULE.with_changes(updated_by=HOSTILE)], may_change=True)),
        json.dumps(views.status_blocks(OURS, RULE, [{"caller": HOSTILE, "outcome": HOSTILE}])),
    ],
)
def test_values_from_callers_and_destinations_cannot_mention_or_link(text: str) -> None:
    assert "<!channel>" not in text
    assert "<http" not in text
    assert "&lt;!channel&gt;" in text


def test_caller_numbers_are_masked_in_every_call_line() -> None:
    status = json.dumps(views.status_blocks(OURS, RULE, [{"caller": "+13035550123", "outcome": "bridged"}]))
    live = views.live_call_text(_live("+13035550123", FIRST), now_ms=2_000)
    for text in (status, live):
        assert "3035550123" not in text
        assert "+1303" in text
