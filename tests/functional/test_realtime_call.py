"""``switchboard call --realtime`` shows its timeline as the call happens, not when it is over."""

from __future__ import annotations

import os
import time

import pytest

from switchboard_local.pstn.calls import run_call


@pytest.fixture
def fresh_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stack in the environment: run_call starts its own in-process one (no forwards)."""
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL") or key == "TABLE_NAME":
            monkeypatch.delenv(key)


@pytest.mark.usefixtures("fresh_environment")
def test_a_realtime_call_prints_each_event_when_it_happens() -> None:
    printed: list[tuple[float, str]] = []

    code = run_call(
        number="+12025550100",
        caller="+13035550123",
        behaviours=[],
        talk_seconds=1.0,
        ring_seconds=0.5,
        caller_hangs_up_after=None,
        realtime=True,
        out=lambda text: printed.append((time.monotonic(), text)),
    )

    assert code == 0
    first_event = next(at for at, text in printed if "NEW_INBOUND_CALL" in text)
    outcome = next(at for at, text in printed if text.startswith("outcome:"))
    # Not in service: the prompt plays for a few real seconds between the first event and the end.
    assert outcome - first_event > 1.0
    # Each entry printed once: the closing output repeats only the outcome, not the timeline.
    assert sum("NEW_INBOUND_CALL" in text for _, text in printed) == 1
