"""Structured log lines and EMF metrics for the call-path Lambdas, with the standard library only.

The SIP media application and Amazon Connect handlers run while a caller waits, so they do not
use Powertools: importing it costs more than the rest of ``sma.app`` (cold start), and formatting a
line through ``logging`` and its formatter several times what the line itself takes (every event).
Both write the same shapes Powertools writes for the bot's functions, so one CloudWatch Logs
Insights query reads every function's logs and the metrics land in the same namespace:

* a log line is one JSON object: ``level``, ``location`` (``function:line`` of the caller),
  ``message``, ``timestamp``, ``service``, the appended keys (``correlation_id`` …), the line's
  own fields, ``xray_trace_id`` when Lambda traces the invocation; fields whose value is None are
  left out; ``exception`` and ``exception_name`` on :meth:`JsonLogger.exception`;
* a metrics line is CloudWatch Embedded Metric Format with one ``service`` dimension, every value
  a list (``{"_aws": {...}, "service": "sma", "CallsForwarded": [1.0]}``).

Level: ``POWERTOOLS_LOG_LEVEL`` or ``LOG_LEVEL`` (the template sets ``LOG_LEVEL``), INFO by default.
Lines go to ``sys.stdout`` as it is when they are written (Lambda sends stdout to CloudWatch Logs);
tests may point :attr:`JsonLogger.stream` elsewhere.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Any

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


def _threshold() -> int:
    name = os.environ.get("POWERTOOLS_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "INFO"
    return _LEVELS.get(name.upper(), 20)


def _timestamp(now: float) -> str:
    """Powertools' default: ``2026-12-01 08:00:00,123+0000`` (UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f",{int(now % 1 * 1000):03d}+0000"


class JsonLogger:
    """One JSON object per line, the keys Powertools Logger writes."""

    def __init__(self, service: str, *, stream: IO[str] | None = None) -> None:
        self.service = service
        self.level = _threshold()
        # None: whatever sys.stdout is at the time (redirections in tests and tools apply).
        self.stream = stream
        self._keys: dict[str, Any] = {}

    def set_correlation_id(self, value: str | None) -> None:
        self.append_keys(correlation_id=value)

    def append_keys(self, **keys: Any) -> None:
        """Keys on every later line until :meth:`clear_state`; a None value removes the key."""
        for key, value in keys.items():
            if value is None:
                self._keys.pop(key, None)
            else:
                self._keys[key] = value

    def clear_state(self) -> None:
        self._keys.clear()

    def debug(self, message: str, extra: dict[str, Any] | None = None) -> None:
        if self.level <= 10:
            self._write("DEBUG", message, extra)

    def info(self, message: str, extra: dict[str, Any] | None = None) -> None:
        if self.level <= 20:
            self._write("INFO", message, extra)

    def warning(self, message: str, extra: dict[str, Any] | None = None) -> None:
        if self.level <= 30:
            self._write("WARNING", message, extra)

    def error(self, message: str, extra: dict[str, Any] | None = None) -> None:
        if self.level <= 40:
            self._write("ERROR", message, extra)

    def exception(self, message: str, extra: dict[str, Any] | None = None) -> None:
        """An ERROR line with the exception being handled (its traceback and class name)."""
        if self.level > 40:
            return
        error = sys.exc_info()[1]
        fields = dict(extra or {})
        if error is not None:
            import traceback  # noqa: PLC0415 - only ever needed on the rare failure line

            fields["exception"] = "".join(traceback.format_exception(error)).rstrip()
            fields["exception_name"] = type(error).__name__
        self._write("ERROR", message, fields)

    def _write(self, level: str, message: str, extra: dict[str, Any] | None) -> None:
        caller = sys._getframe(2)
        now = time.time()
        line: dict[str, Any] = {
            "level": level,
            "location": f"{caller.f_code.co_name}:{caller.f_lineno}",
            "message": message,
            "timestamp": _timestamp(now),
            "service": self.service,
            **self._keys,
        }
        if extra:
            line.update((key, value) for key, value in extra.items() if value is not None)
        trace = os.environ.get("_X_AMZN_TRACE_ID")
        if trace:
            line["xray_trace_id"] = trace.partition(";")[0].removeprefix("Root=")
        stream = self.stream or sys.stdout
        stream.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
        stream.flush()


_LOGGERS: dict[str, JsonLogger] = {}


def logger_for(service: str) -> JsonLogger:
    """The one logger of ``service`` in this process: modules of one function share appended keys
    (as Powertools loggers of one service do)."""
    if service not in _LOGGERS:
        _LOGGERS[service] = JsonLogger(service)
    return _LOGGERS[service]


class EmfMetrics:
    """Counts collected during one invocation, written as one EMF line by :meth:`flush_metrics`."""

    def __init__(self, service: str, namespace: str, *, stream: IO[str] | None = None) -> None:
        self.service = service
        self.namespace = namespace
        self.stream = stream
        self.metric_set: dict[str, tuple[str, list[float]]] = {}

    def add_metric(self, name: str, unit: str = "Count", value: float = 1) -> None:
        self.metric_set.setdefault(name, (unit, []))[1].append(float(value))

    def clear_metrics(self) -> None:
        self.metric_set = {}

    def flush_metrics(self) -> None:
        if not self.metric_set:
            return
        metrics, self.metric_set = self.metric_set, {}
        if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() == "true":
            return  # as Powertools does: the local stack and the demo turn metrics off
        line: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [["service"]],
                        "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in metrics.items()],
                    }
                ],
            },
            "service": self.service,
        }
        line.update((name, values) for name, (_, values) in metrics.items())
        stream = self.stream or sys.stdout
        stream.write(json.dumps(line, separators=(",", ":")) + "\n")
        stream.flush()
