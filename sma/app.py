"""Composition root of the SIP media application Lambda (``sma.app.handler``).

Everything is built once per container, at import, so each call's post-dial delay pays only for
its own work: one DynamoDB read on NEW_INBOUND_CALL, none after. The client is created from
botocore directly (importing boto3 would also load s3transfer), with short timeouts and few retries
so even a struggling table leaves time inside PSTN Audio's 5 s budget to answer the call.
"""

from __future__ import annotations

import time
from typing import Any

import botocore.session

from sma.actions import PromptLocation
from sma.events import PstnEvent
from sma.forwarding import ForwardingApp
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoCallPathRules
from switchboard.domain.callflow import Plan
from switchboard.lambda_runtime import CALL_PATH_CHIME, CALL_PATH_DYNAMODB, flush_metrics, metrics_namespace
from switchboard.settings import ConfigurationError, Settings, load
from switchboard.telemetry import EmfMetrics, logger_for

# Not Powertools: the call path writes the same log and EMF shapes with the standard library
# (switchboard/telemetry.py says why).
logger = logger_for("sma")
metrics = EmfMetrics(service="sma", namespace=metrics_namespace())

# Worst case per DynamoDB call: 2 attempts x (0.5 s connect + 1 s read) + backoff, well under 5 s.
DYNAMODB_CONFIG = CALL_PATH_DYNAMODB


class LogTelemetry:
    """Structured logs (correlation id = transaction id) and EMF metrics."""

    def bind(self, transaction_id: str) -> None:
        logger.set_correlation_id(transaction_id or None)

    def count(self, metric: str) -> None:
        metrics.add_metric(metric)

    def error(self, message: str, **fields: Any) -> None:
        logger.error(message, extra=fields)

    def event(self, event: PstnEvent | None, actions: list[dict[str, Any]], plan: Plan) -> None:
        logger.info(
            "call event",
            extra={
                "event_type": event.type if event else None,
                "sequence": event.sequence if event else None,
                "action_type": event.action_type if event else None,
                "error_type": (event.error_type or None) if event else None,
                "phase": plan.state.phase.value if plan.state else None,
                "actions": [a["Type"] for a in actions],
                "outcome": plan.record.outcome.value if plan.record else None,
            },
        )


class DnisPoolForCalls:
    """The DNIS pool in the shape the call flow wants: a pair or None (exhausted).

    Only calls to Amazon Connect entry numbers use the pool, so its adapter is imported (compiled:
    Lambda packages ship no bytecode) on the first such call, not in every cold start.
    """

    def __init__(self, client: Any, table_name: str, stale_after_seconds: int) -> None:
        self._client = client
        self._table_name = table_name
        self._stale_after_seconds = stale_after_seconds
        self._pool: Any = None

    def _dynamo_pool(self) -> Any:
        if self._pool is None:
            from switchboard.adapters.pool import DynamoDnisPool  # noqa: PLC0415 - see the class

            self._pool = DynamoDnisPool(
                self._client, self._table_name, stale_after_seconds=self._stale_after_seconds
            )
        return self._pool

    def claim_pair(self, transaction_id: str, original_calling_number: str) -> tuple[str, str] | None:
        from switchboard.domain.pool import PoolExhaustedError  # noqa: PLC0415 - see the class

        pool = self._dynamo_pool()
        try:
            claim = pool.claim(transaction_id, original_calling_number, int(time.time() * 1000))
        except PoolExhaustedError:
            return None
        return (claim.pair.sma_number, claim.pair.connect_number)

    def release_pair(self, pair: tuple[str, str], transaction_id: str) -> None:
        from switchboard.domain.pool import DnisPair  # noqa: PLC0415 - see the class

        self._dynamo_pool().release(DnisPair(*pair), transaction_id)


class TransferRulesOnFirstUse:
    """The transfer policy from the settings, built on the first transfer request: ordinary calls
    never use it, so a cold start does not import (compile) it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._rules: Any = None

    def check(self, target: str, arn: str) -> None:
        if self._rules is None:
            from switchboard.domain.transfer import TransferRules  # noqa: PLC0415 - see the class

            settings = self._settings
            self._rules = TransferRules(
                voice_connector_arn=settings.voice_connector_arn,
                extension_pattern=settings.sip_extension_pattern,
                allowed_countries=settings.allowed_countries,
                own_numbers=frozenset(settings.managed_numbers),
            )
        self._rules.check(target, arn)


class OwnNumbersOnFirstUse:
    """Is a transfer target one of our numbers: ``MANAGED_NUMBERS``, every DNIS pair (one query of
    the pool listing), a number with a stored forward (one GetItem), the Chime SDK Voice inventory
    (one GetPhoneNumber). Built, with its Chime SDK Voice client, on the first transfer request:
    ordinary calls never ask, so neither their first event nor a cold start pays for it."""

    def __init__(self, settings: Settings, client: Any, rules: DynamoCallPathRules) -> None:
        self._settings = settings
        self._client = client
        self._rules = rules
        self._own: Any = None

    def __call__(self, number: str) -> bool:
        if self._own is None:
            from switchboard.adapters.call_control import ChimeOwnNumbers  # noqa: PLC0415
            from switchboard.adapters.own_numbers import OwnNumbers  # noqa: PLC0415
            from switchboard.adapters.pool import DynamoDnisPool  # noqa: PLC0415

            settings = self._settings
            chime = botocore.session.get_session().create_client("chime-sdk-voice", config=CALL_PATH_CHIME)
            self._own = OwnNumbers(
                settings.managed_numbers,
                pool=DynamoDnisPool(self._client, settings.table_name),
                checks=(lambda n: self._rules.get(n) is not None, ChimeOwnNumbers(chime)),
            )
        return bool(self._own(number))


def _build() -> tuple[ForwardingApp, Any]:
    telemetry = LogTelemetry()
    try:
        settings = load(required=("TABLE_NAME", "PROMPT_BUCKET"))
    except ConfigurationError as error:
        # Still answer calls (with a hangup) so a broken deploy is a log line, not dead air.
        logger.error("sma is misconfigured", extra={"reason": str(error)})
        return ForwardingApp(None, None, None, telemetry), None
    client = botocore.session.get_session().create_client("dynamodb", config=DYNAMODB_CONFIG)
    rules = DynamoCallPathRules(client, settings.table_name)
    forwarding = ForwardingApp(
        rules=rules,
        calls=DynamoCallLog(client, settings.table_name),
        prompts=PromptLocation(settings.prompt_bucket, settings.prompt_prefix),
        telemetry=telemetry,
        recordings_bucket=settings.recordings_bucket,
        transfer_rules=TransferRulesOnFirstUse(settings),
        pool=DnisPoolForCalls(client, settings.table_name, settings.dnis_claim_stale_seconds),
        own_numbers=OwnNumbersOnFirstUse(settings, client, rules),
    )
    return forwarding, client


app, dynamodb = _build()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """PSTN Audio invokes this for every event of every call to the SIP media application."""
    try:
        return app.handle(event)
    finally:
        flush_metrics(metrics, logger)
