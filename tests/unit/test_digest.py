"""bot.digest: counting a day's call records and the digest's wording (pure, no AWS, no Slack)."""

from __future__ import annotations

from typing import Any

from bot.digest import NumberDay, digest_message, summarise
from switchboard_local.slack.standin import check_blocks, render_blocks

OURS, OTHER = "+12025550100", "+12025550101"
FIRST, SECOND = "+12065550111", "+13125550122"
T0 = 1_795_420_800_000  # 2026-11-23 08:00 UTC


def record(outcome: str, *attempts: tuple[str, str], talk_ms: int = 0) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "talk_ms": talk_ms,
        "attempts": [{"destination": d, "result": r, "ring_ms": 1000} for d, r in attempts],
    }


def test_outcomes_are_counted_and_failing_destinations_ranked() -> None:
    day = summarise(
        OURS,
        [
            record("bridged", (FIRST, "answered"), talk_ms=65_000),
            record("bridged", (FIRST, "CallNotAnswered"), (SECOND, "answered"), talk_ms=5_000),
            record("no-answer", (FIRST, "CallNotAnswered"), (SECOND, "CallNotAnswered")),
            record("transferred", (FIRST, "answered"), ("+14155550133", "answered")),
            record("abandoned", (FIRST, "abandoned")),
            record("not-in-service"),
            record("transfer-failed", (FIRST, "answered"), ("+14155550133", "Busy")),
        ],
    )
    assert (day.calls, day.reached, day.failed, day.abandoned, day.not_in_service) == (7, 3, 2, 1, 1)
    assert day.talk_ms == 70_000
    assert day.failed_destinations == ((FIRST, 2), (SECOND, 1), ("+14155550133", 1))
    assert day.reach_rate == 0.5  # 3 of the 6 calls that could be answered


def test_the_message_lists_busy_numbers_first_and_skips_quiet_ones() -> None:
    days = [
        NumberDay(OTHER, calls=1, reached=1),
        NumberDay(OURS, calls=4, reached=2, failed=2, talk_ms=125_000, failed_destinations=((FIRST, 2),)),
        NumberDay("+12025550102"),
    ]
    text, blocks = digest_message(days, T0 - 86_400_000, T0)
    assert check_blocks(blocks) == []
    assert text == ":bar_chart: Calls in the last 24 h: 5 (3 reached someone, 2 failed)"
    shown = "\n".join(render_blocks(blocks))
    assert "2026-11-22 08:00 – 2026-11-23 08:00 UTC" in shown
    assert shown.index(OURS) < shown.index(OTHER)
    assert "+12025550102" not in shown
    assert f"*{OURS}* — 4 calls · 2 reached someone (50%) · :x: 2 failed · 2m 5s talked" in shown
    assert f"_did not answer or failed most:_ {FIRST} ×2" in shown
    assert f"*{OTHER}* — 1 call · 1 reached someone (100%)" in shown


def test_a_quiet_day_says_so() -> None:
    text, blocks = digest_message([NumberDay(OURS)], T0 - 86_400_000, T0)
    assert "0 (0 reached someone, 0 failed)" in text
    assert "No calls to our numbers." in "\n".join(render_blocks(blocks))
