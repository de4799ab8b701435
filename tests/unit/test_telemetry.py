"""The call path's log and metrics lines keep the shapes Powertools writes for the other functions."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from switchboard.telemetry import EmfMetrics, JsonLogger, logger_for

TRACE = "1-5759e988-bd862e3fe1be46a994272793"


@pytest.fixture(autouse=True)
def lambda_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a deployed function has: the local stack and the CLI's in-process calls set
    these for the whole test process (quieter logs, no metrics), which would hide the lines compared here."""
    for name in ("POWERTOOLS_LOG_LEVEL", "LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED"):
        monkeypatch.delenv(name, raising=False)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def powertools_line(**fields: Any) -> dict[str, Any]:
    stream = io.StringIO()
    logger = Logger(service="shape-check", logger_handler=logging.StreamHandler(stream))
    logger.set_correlation_id("tx-1")
    logger.info("call event", extra=fields)
    return lines(stream)[0]


def test_a_log_line_has_the_keys_powertools_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE};Parent=53995c3f;Sampled=1")
    fields = {"event_type": "NEW_INBOUND_CALL", "sequence": 1, "error_type": None, "actions": ["Hangup"]}
    stream = io.StringIO()
    logger = JsonLogger("shape-check", stream=stream)
    logger.set_correlation_id("tx-1")
    logger.info("call event", extra=fields)

    ours = lines(stream)[0]
    theirs = powertools_line(**fields)

    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in ("timestamp", "location")} == {
        k: v for k, v in theirs.items() if k not in ("timestamp", "location")
    }
    assert len(ours["timestamp"]) == len(theirs["timestamp"])
    assert ours["timestamp"].endswith("+0000")
    assert ours["xray_trace_id"] == TRACE
    assert ours["location"].startswith("test_a_log_line_has_the_keys_powertools_writes:")


def test_a_cleared_correlation_id_and_cleared_keys_leave_later_lines() -> None:
    stream = io.StringIO()
    logger = JsonLogger("sma", stream=stream)
    logger.set_correlation_id("tx-previous")
    logger.append_keys(purpose="transfer")
    logger.set_correlation_id(None)
    logger.info("one")
    logger.clear_state()
    logger.info("two")

    first, second = lines(stream)
    assert "correlation_id" not in first
    assert first["purpose"] == "transfer"
    assert "purpose" not in second


def test_the_level_comes_from_log_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    stream = io.StringIO()
    logger = JsonLogger("sma", stream=stream)
    logger.info("dropped")
    logger.error("kept", extra={"reason": "x"})
    written = [(line["level"], line["message"], line["reason"]) for line in lines(stream)]
    assert written == [("ERROR", "kept", "x")]


def test_exception_carries_the_traceback_and_the_class_name() -> None:
    stream = io.StringIO()
    logger = JsonLogger("connect", stream=stream)
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("unexpected error")
    (line,) = lines(stream)
    assert line["level"] == "ERROR"
    assert line["exception_name"] == "KeyError"
    assert "Traceback" in line["exception"]
    assert "KeyError: 'missing'" in line["exception"]


def test_modules_of_one_service_share_one_logger() -> None:
    assert logger_for("connect") is logger_for("connect")
    assert logger_for("connect") is not logger_for("connect-events")


def test_metrics_are_one_emf_line_like_powertools(capsys: pytest.CaptureFixture[str]) -> None:
    theirs = Metrics(service="sma", namespace="Switchboard")
    theirs.clear_metrics()  # Powertools Metrics share one metric set: other tests' may be in it
    theirs.add_metric(name="CallsForwarded", unit=MetricUnit.Count, value=1)
    theirs.add_metric(name="CallsForwarded", unit=MetricUnit.Count, value=1)
    theirs.add_metric(name="BridgeFailures", unit=MetricUnit.Count, value=1)
    theirs.flush_metrics()
    expected = json.loads(capsys.readouterr().out.strip())

    stream = io.StringIO()
    ours = EmfMetrics(service="sma", namespace="Switchboard", stream=stream)
    ours.add_metric("CallsForwarded")
    ours.add_metric("CallsForwarded")
    ours.add_metric("BridgeFailures")
    assert ours.metric_set
    ours.flush_metrics()
    (line,) = lines(stream)

    for emitted in (line, expected):
        del emitted["_aws"]["Timestamp"]
    assert line == expected
    assert not ours.metric_set  # flushed: the next invocation starts empty
    ours.flush_metrics()
    assert len(lines(stream)) == 1  # nothing to say, nothing written
