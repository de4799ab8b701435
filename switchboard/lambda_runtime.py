"""What every Lambda entry point shares: botocore timeout presets and the end-of-invocation
metrics flush.

Imported by the SIP media application's handler on the call path, so it stays light: botocore's
``Config`` and nothing else at import (no boto3, no Powertools; the metrics object is passed in).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from botocore.config import Config

# A call is waiting (PSTN Audio gives the SMA 5 s, Connect waits 8 s for its function): worst case
# per DynamoDB call is 2 attempts x (0.5 s connect + 1 s read) + backoff.
# No client-side parameter validation: the call path's requests are built by our own code, DynamoDB
# validates them anyway (a bad one still fails as a ClientError, i.e. StorageError), and checking
# every request against the model costs about as much as parsing a forward rule's whole item.
CALL_PATH_DYNAMODB = Config(
    connect_timeout=0.5,
    read_timeout=1.0,
    retries={"total_max_attempts": 2, "mode": "standard"},
    tcp_keepalive=True,
    parameter_validation=False,
)
# Chime SDK Voice on the call path (Connect's transfer request): ≲ 6 s in the very worst case.
CALL_PATH_CHIME = Config(
    connect_timeout=1.0,
    read_timeout=2.0,
    retries={"total_max_attempts": 2, "mode": "standard"},
    tcp_keepalive=True,
)
# Nobody is waiting (stream consumers, schedules): a little more patience, a few more attempts.
BACKGROUND_DYNAMODB = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 3})


def metrics_namespace() -> str:
    """The CloudWatch namespace of every function's EMF metrics."""
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Switchboard"


class _Metrics(Protocol):
    metric_set: Any

    def flush_metrics(self) -> None: ...

    def clear_metrics(self) -> None: ...


class _Logger(Protocol):
    def exception(self, msg: str, /) -> None: ...


def flush_metrics(metrics: _Metrics, logger: _Logger) -> None:
    """Emit this invocation's EMF metrics, if any. Metrics must never fail a call or a batch: a
    failed flush is logged and the metrics dropped."""
    if not metrics.metric_set:
        return
    try:
        metrics.flush_metrics()
    except Exception:
        logger.exception("could not flush metrics")
        metrics.clear_metrics()


class LazyClient:
    """A botocore client made on first use, for a client only a rare request needs.

    Making a client loads its service model (tens of milliseconds for Chime SDK Voice); the
    Connect entry point's forwarding calls, on every caller's first ring, never use the
    Chime SDK Voice client that its take-back transfers do, so they should not pay for it at
    import. Attribute access is passed to the real client, so adapters take it unchanged.
    """

    def __init__(self, create: Callable[[], Any]) -> None:
        self._create = create

    def __getattr__(self, name: str) -> Any:
        real = self.__dict__.get("_real")
        if real is None:
            real = self.__dict__["_real"] = self._create()
        return getattr(real, name)
