"""One wording for forwards, shared by the CLI and Slack (and a scan for the retired variants)."""

from __future__ import annotations

import re

import pytest

from switchboard.domain.hours import parse_hours
from switchboard.domain.rules import CONNECT, CallerIdMode, FailureAction, ForwardRule, GreetingMode
from switchboard.wording import (
    branch_text,
    expiry_text,
    hours_text,
    rule_summary,
    state_text,
    utc_time,
    utc_time_from_iso,
)
from tests.helpers import ROOT, python_files

OURS, FIRST, SECOND = "+12025550100", "+12065550111", "+13125550122"
NOW = 1_796_000_000  # 2026-11-30 ...


def rule(**fields: object) -> ForwardRule:
    return ForwardRule(number=OURS, destinations=(FIRST, SECOND), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "greeting loop, then prompt, caller ID: our number, 30 s per destination, never expires"),
        (
            {
                "greeting": GreetingMode.NONE,
                "failure": FailureAction.HANGUP,
                "caller_id": CallerIdMode.CALLER,
            },
            "greeting none, then hangup, caller ID: the caller's number, 30 s per destination, never expires",
        ),
        (
            {"ring_timeout": 15, "expires_at": NOW + 7200},
            "greeting loop, then prompt, caller ID: our number, 15 s per destination, "
            f"expires {utc_time(NOW + 7200)} (in 2h)",
        ),
    ],
)
def test_a_rule_is_summed_up_with_every_option_and_its_expiry(
    fields: dict[str, object], expected: str
) -> None:
    assert rule_summary(rule(**fields), now=NOW) == f"{OURS} → {FIRST}, {SECOND} ({expected})"


def test_an_amazon_connect_entry_shows_no_options_that_do_not_apply_to_it() -> None:
    connect = ForwardRule(number=OURS, destinations=(CONNECT,))
    assert rule_summary(connect) == f"{OURS} → Amazon Connect (never expires)"


def test_times_are_written_one_way() -> None:
    assert utc_time(0) == "1970-01-01 00:00 UTC"
    assert utc_time_from_iso("2026-11-30T19:09:17.681Z") == "2026-11-30 19:09 UTC"
    assert expiry_text(NOW - 1, now=NOW).startswith("expired ")
    assert state_text(None) == "no forward: calls go to the phone system"


# Phrases retired in favour of the wording above; user-facing text must not bring them back.
RETIRED = [
    r"caller's ID shown",
    r"caller ID (dialed|caller)\b",
    r"calls go to the voice connector",
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b(?!\")",  # a raw ISO time in a message
    r"is the number being forwarded",
    r"calls are never forwarded to it",
    r"→ connect\b",
]
SHIPPED = ["bot", "sma", "connect_lambda", "switchboard"]


def test_user_facing_text_uses_none_of_the_retired_variants() -> None:
    found = []
    for path in python_files(*SHIPPED):
        if "local" in path.parts or path.name == "wording.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("#") or not re.search(r"[\"']", stripped):
                continue
            for pattern in RETIRED:
                if re.search(pattern, line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {stripped}")
    assert found == []


def test_the_demo_narrative_is_wrapped_to_its_width() -> None:
    from switchboard_local.demo import WIDTH, fit

    long_line = "    routing: created SIP rule " + "e3dc669c-98fb-4fa8-abd9-0ec8cce4e7fa " * 5
    lines = fit(long_line)
    assert len(lines) > 1
    assert all(len(line) <= WIDTH for line in lines)
    assert all(line.startswith("      ") for line in lines[1:])  # continues under itself
    assert fit("short") == ["short"]


# --- business hours (issue 17 item 3) -----------------------------------------------------------
TUESDAY_NOON_CHICAGO = 1_796_148_000  # 2026-12-01 12:00 CST (18:00 UTC)
TUESDAY_EVENING_CHICAGO = 1_796_176_800  # 2026-12-01 20:00 CST


def hours_rule(else_destinations: tuple[str, ...] = ("+14155550133",)) -> ForwardRule:
    return rule(
        hours=parse_hours("mon-fri 09:00-17:30", "America/Chicago"), else_destinations=else_destinations
    )


def test_a_rule_with_hours_says_them_first_in_its_details() -> None:
    assert rule_summary(hours_rule(), now=NOW) == (
        f"{OURS} → {FIRST}, {SECOND} (weekdays 09:00–17:30 America/Chicago, else +14155550133, "
        "greeting loop, then prompt, caller ID: our number, 30 s per destination, never expires)"
    )
    assert hours_text(hours_rule((CONNECT,))).endswith(", else Amazon Connect")
    assert hours_text(rule()) == ""


def test_the_branch_now_and_when_it_switches_in_utc_and_local_time() -> None:
    assert branch_text(hours_rule(), now=TUESDAY_NOON_CHICAGO) == (
        f"in business hours now: calls go to {FIRST}, {SECOND} "
        "until 2026-12-01 23:30 UTC (17:30 America/Chicago)"
    )
    assert branch_text(hours_rule(), now=TUESDAY_EVENING_CHICAGO) == (
        "outside business hours now: calls go to +14155550133 "
        "until 2026-12-02 15:00 UTC (09:00 America/Chicago)"
    )
    assert branch_text(rule(), now=NOW) == ""


def test_an_empty_list_of_forwards_reads_the_same_on_the_cli_and_in_slack() -> None:
    # The CLI's `forward list` says the same (tests/functional/test_cli.py).
    import json

    from bot.views import home_view, list_blocks
    from switchboard.wording import NO_FORWARDS

    assert NO_FORWARDS in json.dumps(list_blocks([]))
    assert NO_FORWARDS in json.dumps(home_view([], may_change=True))
