"""The demo's narrative is in time order (issue 12 item 10): what the checks it runs on itself see."""

from __future__ import annotations

from switchboard_local.demo import _with_interludes, times_out_of_order

CALL = """\
      0.000s  LEG-A  NEW_INBOUND_CALL +13035550123 → +12025550100
             → CallAndBridge +12065550111
      4.000s  LEG-B  answered
     10.000s  LEG-A  (demo) at 10s a Slack user typed /forward transfer
     10.000s  LEG-A  CALL_UPDATE_REQUESTED Transfer true
     36.418s  LEG-A  caller hung up"""


def test_a_timeline_in_order_and_moments_in_order_pass() -> None:
    text = "\n".join(
        [
            "#C0ALERTS: demo forwarded *+12025550100* → +12065550111 (2026-11-30 23:20:37",
            "  UTC)",  # wrapped by the demo's 100 columns
            CALL,
            "    call record: outcome bridged",
            "        *When* 2026-11-30 23:20:38 UTC",
            "#C0ALERTS: demo removed the forward on *+12025550100* (2026-11-30 23:21:39 UTC)",
        ]
    )
    assert times_out_of_order(text) == []


def test_an_announcement_told_before_the_alert_of_an_earlier_moment_is_caught() -> None:
    text = "*When* 2026-11-30 23:21:38 UTC\n... (2026-11-30 23:20:39 UTC)"

    assert times_out_of_order(text) == ["2026-11-30 23:20:39 UTC is told after 2026-11-30 23:21:38 UTC"]


def test_a_timeline_going_back_is_caught() -> None:
    text = "      4.000s  LEG-B  answered\n      2.000s  LEG-A  hung up"

    assert times_out_of_order(text) == ["line 2: 2s after 4s"]


def test_what_slack_showed_at_10_s_is_printed_at_10_s_not_after_the_call() -> None:
    lines = _with_interludes(CALL, [(10.0, "U0LOCALUSER> /forward status\n  Connected now (1)")])

    at = lines.index("     10.000s  LEG-A  (demo) at 10s a Slack user typed /forward transfer")
    assert lines[at + 1].strip() == "U0LOCALUSER> /forward status"
    assert lines[at + 2].strip() == "Connected now (1)"
    assert lines[-1].endswith("caller hung up")
    assert times_out_of_order("\n".join(lines)) == []
