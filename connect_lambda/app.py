"""Composition root of the Amazon Connect contact-flow Lambda (``connect_lambda.app.handler``).

One entry point serves both contact flows, told apart by the ``Purpose`` parameter:

* the forwarding flow (``forwarding_flow.json``): ``Start``, ``AttemptFailed``, ``BridgeEnded``
  and the asynchronous ``Dialing`` (the flow does not wait for it; it answers ``status=ok``
  only) → :class:`connect_lambda.forwarding.ConnectForwardingApp`;
* the transfer flow (``contact_flow.json``, calls the SIP media application sent to Connect):
  ``GetData``, ``TransferCall`` → :class:`connect_lambda.transfer.ConnectApp`.

Everything is built once per container, at import, with short botocore timeouts: Connect waits at
most 8 s (the flow's block limit is 4 s) and retries a failed invocation. A misconfigured deploy
still answers: the forwarding flow gets ``hangup`` after the error prompt, the transfer flow an
``error`` with the reason. The handler never raises and always returns a flat string map.
"""

from __future__ import annotations

import os
from typing import Any

import botocore.session

from connect_lambda.actions import ConnectPrompts, Reply
from connect_lambda.events import FlowEvent, MalformedFlowEventError, parse_event
from connect_lambda.forwarding import PURPOSES, ConnectForwardingApp
from connect_lambda.transfer import ConnectApp, Result, bounded, failure
from switchboard.adapters.call_control import ChimeCallControl, ChimeOwnNumbers
from switchboard.adapters.connect_calls import DynamoFlowProgress, DynamoTransferQueue, connect_call_log
from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.adapters.own_numbers import OwnNumbers
from switchboard.adapters.pool import DynamoDnisPool
from switchboard.domain.callflow import Plan
from switchboard.domain.transfer import TransferRules
from switchboard.lambda_runtime import (
    CALL_PATH_CHIME,
    CALL_PATH_DYNAMODB,
    LazyClient,
    flush_metrics,
    metrics_namespace,
)
from switchboard.settings import ConfigurationError, Settings, load
from switchboard.telemetry import EmfMetrics, logger_for

__all__ = ["CHIME_CONFIG", "DYNAMODB_CONFIG", "ConnectApp", "app", "forwarding", "handler"]

# Not Powertools: on the call path (switchboard/telemetry.py says why); same log and EMF shapes.
logger = logger_for("connect")
metrics = EmfMetrics(service="connect", namespace=metrics_namespace())

# Each AWS call gets a short budget inside the flow's 4 s block limit (the presets' comments).
DYNAMODB_CONFIG = CALL_PATH_DYNAMODB
CHIME_CONFIG = CALL_PATH_CHIME


class LogFlowTelemetry:
    """Structured logs (correlation id = contact id) and EMF metrics."""

    def count(self, metric: str) -> None:
        metrics.add_metric(metric)

    def error(self, message: str, **fields: Any) -> None:
        logger.error(message, extra=fields)

    def decided(self, event: FlowEvent | None, reply: Reply, plan: Plan) -> None:
        logger.info(
            "flow event",
            extra={
                "purpose": event.purpose if event else None,
                "error": (event.parameters.get("Error") or None) if event else None,
                "op": reply.get("op"),
                "phase": plan.state.phase.value if plan.state else None,
                "outcome": plan.record.outcome.value if plan.record else None,
            },
        )


def prompt_base_url(settings: Settings, region: str) -> str:
    """``CONNECT_PROMPT_BASE_URL``, else the stack's prompt bucket: ``<prefix>connect/`` holds the
    u-law copies Connect plays (8 kHz mono u-law WAV, unlike the SMA's 16-bit PCM)."""
    if settings.connect_prompt_base_url:
        return settings.connect_prompt_base_url
    if not settings.prompt_bucket or not region:
        return ""
    return f"https://{settings.prompt_bucket}.s3.{region}.amazonaws.com/{settings.prompt_prefix}connect/"


def _build_forwarding(session: Any) -> ConnectForwardingApp:
    telemetry = LogFlowTelemetry()
    try:
        settings = load(required=("TABLE_NAME",))
    except ConfigurationError as error:
        logger.error("connect forwarding is misconfigured", extra={"reason": str(error)})
        return ConnectForwardingApp(None, None, None, None, telemetry)
    client = session.create_client("dynamodb", config=DYNAMODB_CONFIG)
    base_url = prompt_base_url(settings, os.environ.get("AWS_REGION", ""))
    calls = connect_call_log(client, settings.table_name)
    return ConnectForwardingApp(
        rules=DynamoForwardRepository(client, settings.table_name),
        calls=calls,
        progress=DynamoFlowProgress(client, settings.table_name),
        prompts=ConnectPrompts(base_url) if base_url else None,
        telemetry=telemetry,
        transfers=DynamoTransferQueue(client, settings.table_name, calls),
        # Phone numbers only: no voice connector on Amazon Connect's side.
        transfer_rules=TransferRules(
            allowed_countries=settings.allowed_countries,
            own_numbers=frozenset(settings.managed_numbers),
        ),
    )


NO_TAKE_BACK = "take-back transfers need a SIP media application, and this stack has none"


def _build_transfer(session: Any) -> tuple[ConnectApp | None, str]:
    """The transfer flow's app from the environment, or None and the reason it cannot run."""
    if os.environ.get("TABLE_NAME") and not os.environ.get("SIP_MEDIA_APPLICATION_ID"):
        # A Connect-only stack: take-back transfers are not deployed, which is a choice, not a
        # fault, so it is said once at INFO rather than as an ERROR on every cold start.
        logger.info("take-back transfers are off: this stack has no SIP media application")
        return None, NO_TAKE_BACK
    try:
        settings = load(required=("TABLE_NAME", "SIP_MEDIA_APPLICATION_ID"))
    except ConfigurationError as error:
        logger.error("connect transfer is misconfigured", extra={"reason": str(error)})
        return None, f"the transfer function is misconfigured: {error}"
    chime = LazyClient(lambda: session.create_client("chime-sdk-voice", config=CHIME_CONFIG))
    pool = DynamoDnisPool(session.create_client("dynamodb", config=DYNAMODB_CONFIG), settings.table_name)
    transfer = ConnectApp(
        pool=pool,
        calls=ChimeCallControl(chime, settings.sip_media_application_id),
        default_country=settings.default_country,
        allowed_countries=settings.allowed_countries,
        rules=TransferRules(
            voice_connector_arn=settings.voice_connector_arn,
            extension_pattern=settings.sip_extension_pattern,
            allowed_countries=settings.allowed_countries,
            own_numbers=frozenset(settings.managed_numbers),
        ),
        # Every DNIS pair's numbers (the Connect side is not in the Chime SDK Voice inventory),
        # MANAGED_NUMBERS, and the inventory itself.
        is_ours=OwnNumbers(settings.managed_numbers, pool=pool, checks=(ChimeOwnNumbers(chime),)),
    )
    return transfer, ""


_session = botocore.session.get_session()
forwarding = _build_forwarding(_session)
app, _misconfigured = _build_transfer(_session)


def _forward(event: FlowEvent) -> Reply:
    return {**forwarding.handle(event), "status": "ok"}


def _transfer(raw: dict[str, Any]) -> Result:
    result = app.handle(raw) if app is not None else failure(_misconfigured)
    return bounded(result)


def handler(event: dict[str, Any], context: Any) -> Result:
    """Amazon Connect invokes this from a contact flow; it always returns a flat string map."""
    logger.clear_state()  # keys appended for the previous contact must not leak into this one
    try:
        try:
            flow_event = parse_event(event)
        except MalformedFlowEventError as error:
            result = failure(str(error))
        else:
            logger.append_keys(contact_id=flow_event.contact_id or None, purpose=flow_event.purpose)
            result = _forward(flow_event) if flow_event.purpose_key in PURPOSES else _transfer(event)
    except Exception:  # never break the contact flow
        logger.exception("unexpected error")
        result = failure("internal error in the transfer function; see its logs")
    finally:
        flush_metrics(metrics, logger)
    logger.info("connect request", extra={"status": result["status"], "reason": result.get("reason")})
    return result
