"""switchboard_local.clock.StoryClock: the demo's one wall clock (issue 12 item 10)."""

from __future__ import annotations

import time

from switchboard_local.clock import StoryClock


class Real:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_it_runs_with_real_time_and_only_ever_moves_forward() -> None:
    real = Real()
    clock = StoryClock(real)
    assert clock() == real.now
    clock.advance_to(real.now + 60)  # a call that took a simulated minute
    assert clock() == real.now + 60
    clock.advance_to(real.now + 10)  # an earlier moment: no change
    assert clock() == real.now + 60
    real.now += 1
    assert clock() == real.now + 60


def test_while_installed_everything_that_reads_the_wall_clock_reads_it() -> None:
    from slack_sdk.signature import Clock

    from switchboard.adapters.dynamodb import _now_iso

    clock = StoryClock()
    clock.advance_to(time.time() + 3600)
    with clock.installed():
        assert abs(time.time() - clock()) < 1
        assert abs(Clock().now() - clock()) < 1  # Slack request signatures are checked on it
        assert _now_iso()[:13] == time.strftime("%Y-%m-%dT%H", time.gmtime(clock()))  # history times
    assert time.time() < clock() - 3000
