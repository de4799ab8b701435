"""Block Kit surfaces: valid for Slack (checked by the stand-in's validator), and round-trippable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import views
from switchboard.adapters.dynamodb import _rule_snapshot, rule_change_from_item
from switchboard.domain.events import LiveCall, LiveCallEntry
from switchboard.domain.rules import CallerIdMode, ForwardRule, GreetingMode
from switchboard.service import ChangeResult
from switchboard_local.slack.requests import view_state
from switchboard_local.slack.standin import check_blocks, check_view

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


def test_the_last_change_reads_the_same_in_the_app_home_and_status_with_the_time_people_read() -> None:
    home = json.dumps(views.home_view([RULE], may_change=True))
    status = json.dumps(views.status_blocks(OURS, RULE, []))
    said = "last changed by <@U0ADMIN> at 2026-11-23 09:00 UTC"
    assert said in home
    assert said in status
    assert "T09:00:00" not in home + status  # not the table's ISO string


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
        views.refused_text(f"`{HOSTILE}` is neither one of our numbers nor a call id"),
        views.change_failed_text(f"Could not route {HOSTILE}", "0123abcd", consistent=False),
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


# -- announcements of rule-history items (posted by bot.notifier from the table's stream) ---------

AT = "2026-11-23T09:00:00.123Z"


def history_item(action: str, actor: str, old: ForwardRule | None, new: ForwardRule | None) -> dict[str, Any]:
    return {
        "pk": f"NUMBER#{OURS}",
        "sk": f"HISTORY#{AT}#00000004",
        "kind": "rule_history",
        "number": OURS,
        "action": action,
        "actor": actor,
        "at": AT,
        "old": _rule_snapshot(old),
        "new": _rule_snapshot(new),
    }


def test_a_history_item_is_announced_like_the_change_with_its_time() -> None:
    old = RULE.with_changes(destinations=(SECOND,))
    change = rule_change_from_item(history_item("set", "U0ADMIN", old, RULE))
    text = views.history_text(change)
    assert text.startswith(views.change_text(ChangeResult("set", OURS, old, RULE, changed=True), "U0ADMIN"))
    epoch = int(datetime(2026, 11, 23, 9, 0, tzinfo=UTC).timestamp())
    assert text.endswith(f"(<!date^{epoch}^{{date_short_pretty}} at {{time_secs}}|2026-11-23 09:00:00 UTC>)")


def test_a_cli_removal_names_the_operator_escaped() -> None:
    change = rule_change_from_item(history_item("remove", "cli:<!channel>", RULE, None))
    text = views.history_text(change)
    assert text.startswith(
        f":leftwards_arrow_with_hook: cli:&lt;!channel&gt; removed the forward on *{OURS}*"
    )
    assert "<!channel>" not in text


def test_an_expiry_says_it_expired() -> None:
    text = views.history_text(rule_change_from_item(history_item("remove", "expiry", RULE, None)))
    assert text.startswith(f":alarm_clock: The forward on *{OURS}* expired. ")
    assert "expiry removed the forward" in text


def test_the_undo_of_a_failed_change_says_the_change_did_not_take_effect() -> None:
    old = RULE.with_changes(destinations=(SECOND,))
    # Editing old → RULE failed to route: the rollback saved ``old`` again, replacing RULE.
    undo_edit = views.history_text(rule_change_from_item(history_item("set", "U0ADMIN (undo)", RULE, old)))
    assert undo_edit.startswith(f":warning: <@U0ADMIN>'s change to *{OURS}* did not take effect")
    assert f"it forwards → {SECOND} as before" in undo_edit
    # A new forward failed to route: the rollback deleted it.
    undo_new = views.history_text(rule_change_from_item(history_item("remove", "cli:ops (undo)", RULE, None)))
    assert undo_new.startswith(f":warning: cli:ops's change to *{OURS}* did not take effect")
    assert "it has no forward, as before" in undo_new


def test_an_unreadable_history_item_is_refused() -> None:
    for broken in ({"number": OURS}, {**history_item("set", "U0A", None, RULE), "action": "rename"}):
        with pytest.raises(ValueError, match="not a rule-history item"):
            rule_change_from_item(broken)


def test_a_looped_greeting_on_an_amazon_connect_number_says_it_plays_once() -> None:
    from switchboard.domain.rules import CONNECT_PRODUCT, GreetingMode, NumberHome
    from switchboard.service import ChangeResult

    home = NumberHome(CONNECT_PRODUCT, contact_flow="f1")
    connect_rule = ForwardRule("+13125550180", ("+14155550123",), greeting=GreetingMode.LOOP, home=home)
    chime_rule = ForwardRule("+12025550100", ("+14155550123",), greeting=GreetingMode.LOOP)

    on_connect = views.change_done_text(ChangeResult("set", connect_rule.number, None, connect_rule, True))
    on_chime = views.change_done_text(ChangeResult("set", chime_rule.number, None, chime_rule, True))
    once = views.change_done_text(
        ChangeResult(
            "set", connect_rule.number, None, connect_rule.with_changes(greeting=GreetingMode.ONCE), True
        )
    )

    assert "plays once" in on_connect
    assert "Amazon Connect" not in on_chime
    assert "plays once" not in once


# -- numbers and calls in Amazon Connect --------------------------------------------------------


def _connect_rule() -> ForwardRule:
    from switchboard.domain.rules import CONNECT_PRODUCT, NumberHome

    return ForwardRule(
        number=OURS, destinations=(FIRST,), home=NumberHome(CONNECT_PRODUCT, contact_flow="ivr")
    )


def test_removing_a_connect_forward_says_calls_go_to_its_own_flow() -> None:
    rule = _connect_rule()
    home = json.dumps(views.home_view([rule], may_change=True))
    assert f"Calls to {OURS} will go to its own Amazon Connect flow again." in home
    assert "phone system" not in home
    removed = views.change_text(ChangeResult("remove", OURS, rule, None, changed=True), "U1")
    assert removed.endswith("calls go to its own Amazon Connect flow again")


def test_a_connect_call_is_ringing_until_its_ring_timeout_then_talking_for_at_most() -> None:
    call = LiveCall(
        dialed=OURS, caller="+13035550123", callee=FIRST, since_ms=1_000_000, started_ms=1_000_000
    )
    entry = LiveCallEntry("contact-1", call, backend="connect", ring_until_ms=1_020_000)

    assert "· ringing +12065550111 (Amazon Connect)" in views.live_call_text(entry, now_ms=1_019_999)
    later = views.live_call_text(entry, now_ms=1_095_000)
    assert "· talking to +12065550111 for up to 1m 35s (Amazon Connect)" in later
    sma = views.live_call_text(LiveCallEntry("tx-1", call), now_ms=1_005_000)
    assert "Amazon Connect" not in sma
    assert "talking to +12065550111 for 5s" in sma


def test_the_form_offers_voicemail_and_reads_its_length() -> None:
    voicemail_rule = RULE.with_changes(failure="voicemail", voicemail_max_seconds=45)
    view = views.forward_modal([OURS], voicemail_rule)
    assert check_view(view) == []
    form = views.read_modal({**view, "state": view_state(view, {})})
    assert (form.failure, form.voicemail_max_seconds) == ("voicemail", 45)

    longer = views.read_modal({**view, "state": view_state(view, {"voicemail_max": "300"})})
    assert longer.voicemail_max_seconds == 300
    assert not longer.problems


@pytest.mark.parametrize("typed", ["9", "301", "abc"])
def test_a_voicemail_length_out_of_bounds_is_sent_back(typed: str) -> None:
    view = views.forward_modal([OURS], RULE)
    form = views.read_modal({**view, "state": view_state(view, {"voicemail_max": typed})})
    assert form.problems["voicemail_max"] == "A voicemail may last 10-300 seconds."
