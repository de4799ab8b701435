"""POWERTOOLS_METRICS_DISABLED silences switchboard.telemetry's EMF lines, as it silences Powertools'
(the demo and the local stack set it; without it their output filled with raw JSON)."""

from __future__ import annotations

import io

import pytest

from switchboard.telemetry import EmfMetrics


@pytest.mark.parametrize(
    ("value", "written"), [("true", False), ("TRUE", False), ("false", True), ("", True)]
)
def test_metrics_are_written_unless_disabled(
    monkeypatch: pytest.MonkeyPatch, value: str, written: bool
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", value)
    stream = io.StringIO()
    metrics = EmfMetrics("sma", "Switchboard", stream=stream)
    metrics.add_metric("CallsForwarded")

    metrics.flush_metrics()

    assert bool(stream.getvalue()) is written
    assert metrics.metric_set == {}  # collected either way, never carried into the next invocation
