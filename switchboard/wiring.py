"""Build the forwarding service from the environment, the same way for the CLI and the bot.

Clients come from boto3's default chain, so ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>``
point them at the local stack and credentials come from wherever boto3 finds them.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from switchboard.adapters.call_control import ChimeCallControl, ChimeOwnNumbers
from switchboard.adapters.chime_voice import ChimePhoneInventory, ChimeVoiceRouting
from switchboard.adapters.connect_calls import DynamoTransferQueue
from switchboard.adapters.connect_routing import BackendRouting, ConnectNumbers, ConnectRouting
from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.adapters.own_numbers import OwnNumbers
from switchboard.adapters.pool import DynamoDnisPool
from switchboard.policy import DestinationPolicy
from switchboard.ports import NumberRouting, PhoneInventory
from switchboard.service import ChangeFailedError, ForwardingService
from switchboard.settings import ConfigurationError, Settings

# Without a SIP media application, the inventory is the Connect instance's numbers alone.
CONNECT_ONLY_SCOPE = (
    " (only numbers claimed in the Amazon Connect instance are: a Chime SDK Voice number needs a "
    "SIP media application, SIP_MEDIA_APPLICATION_ID)"
)


def policy_for(settings: Settings) -> DestinationPolicy:
    return DestinationPolicy(settings.default_country, settings.allowed_countries)


def chime_voice_client() -> Any:
    return boto3.client("chime-sdk-voice")


def connect_client() -> Any:
    return boto3.client("connect")


def dynamodb_client() -> Any:
    return boto3.client("dynamodb")


def rule_repository(settings: Settings, dynamodb: Any | None = None) -> DynamoForwardRepository:
    """Forward rules and their history, kept ``HISTORY_RETENTION_DAYS``."""
    return DynamoForwardRepository(
        dynamodb or dynamodb_client(),
        settings.table_name,
        history_retention_days=settings.history_retention_days,
    )


def count_inconsistent_change(error: ChangeFailedError) -> None:
    """``RoutingRollbackFailures``: a change whose undo failed left routing and table disagreeing.

    Emitted at once (a single EMF line), inside Lambda only: the CLI prints its warning instead.
    """
    if not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    # Only Lambdas get here: the CLI does not pay for importing Powertools.
    from aws_lambda_powertools.metrics import MetricUnit, single_metric  # noqa: PLC0415

    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "Switchboard"
    with single_metric(name="RoutingRollbackFailures", unit=MetricUnit.Count, value=1, namespace=namespace):
        pass


def forwarding_service(
    settings: Settings,
    *,
    need_routing: bool,
    dynamodb: Any | None = None,
    chime: Any | None = None,
    connect: Any | None = None,
) -> ForwardingService:
    """The service for ``settings``; ``need_routing`` makes a backend mandatory (SIP_MEDIA_APPLICATION_ID,
    or the Amazon Connect instance and its forwarding flow).

    With ``CONNECT_INSTANCE_ID`` set, numbers claimed in that instance are ours too and are routed by
    associating contact flows; every other number goes through the SIP media application.
    """
    if not settings.table_name:
        raise ConfigurationError("missing required environment variable(s): TABLE_NAME")
    if settings.connect_instance_id and not settings.connect_forwarding_flow_id:
        raise ConfigurationError(
            "missing required environment variable(s): CONNECT_FORWARDING_FLOW_ID "
            "(needed with CONNECT_INSTANCE_ID to route Amazon Connect numbers)"
        )
    if need_routing and not (settings.sip_media_application_id or settings.connect_instance_id):
        raise ConfigurationError(
            "missing required environment variable(s): SIP_MEDIA_APPLICATION_ID "
            "(needed to route numbers to the SIP media application) or CONNECT_INSTANCE_ID"
        )
    dynamodb = dynamodb or dynamodb_client()
    chime = chime or chime_voice_client()
    chime_routing = (
        ChimeVoiceRouting(chime, settings.sip_media_application_id, settings.voice_connector_id)
        if settings.sip_media_application_id
        else None
    )
    routing: NumberRouting | None = chime_routing
    inventory: PhoneInventory = ChimePhoneInventory(chime, settings.managed_numbers)
    if settings.connect_instance_id:
        connect = connect or connect_client()
        numbers = ConnectNumbers(connect, settings.connect_instance_id, settings.managed_numbers)
        routing = inventory = BackendRouting(
            # On Amazon Connect alone the stack has no Chime SDK Voice permissions (template.yaml):
            # its numbers could not be forwarded anyway.
            inventory if chime_routing is not None else None,
            chime_routing,
            numbers,
            ConnectRouting(
                connect,
                numbers,
                settings.connect_instance_id,
                settings.connect_forwarding_flow_id,
                settings.connect_home_flow_id,
            ),
        )
    return ForwardingService(
        rules=rule_repository(settings, dynamodb),
        routing=routing,
        inventory=inventory,
        policy=policy_for(settings),
        on_inconsistent=count_inconsistent_change,
        # The inventory is checked by the service itself; these are ours without being in it.
        own_numbers=OwnNumbers(settings.managed_numbers, pool=DynamoDnisPool(dynamodb, settings.table_name)),
        inventory_scope=CONNECT_ONLY_SCOPE if settings.connect_instance_id and chime_routing is None else "",
    )


def call_log(settings: Settings, dynamodb: Any | None = None) -> DynamoCallLog:
    return DynamoCallLog(dynamodb or dynamodb_client(), settings.table_name)


def call_control(settings: Settings, chime: Any | None = None) -> ChimeCallControl:
    """UpdateSipMediaApplicationCall on the stack's SIP media application (transfers)."""
    if not settings.sip_media_application_id:
        raise ConfigurationError(
            "missing required environment variable(s): SIP_MEDIA_APPLICATION_ID (needed to transfer calls)"
        )
    return ChimeCallControl(chime or chime_voice_client(), settings.sip_media_application_id)


def transfer_queue(settings: Settings, dynamodb: Any | None = None) -> DynamoTransferQueue:
    """Transfers of Amazon Connect calls, queued in the table until the callee hangs up."""
    return DynamoTransferQueue(dynamodb or dynamodb_client(), settings.table_name)


def own_numbers(
    settings: Settings, chime: Any | None = None, connect: Any | None = None, *, dynamodb: Any | None = None
) -> OwnNumbers:
    """Whether a transfer target is one of our numbers: ``MANAGED_NUMBERS``, the DNIS pool's pairs,
    the numbers claimed in the Amazon Connect instance, and the Chime SDK Voice account
    (GetPhoneNumber): a transfer there would loop the call back."""
    pool = DynamoDnisPool(dynamodb or dynamodb_client(), settings.table_name) if settings.table_name else None
    listed = None
    if settings.connect_instance_id:
        listed = ConnectNumbers(
            connect or connect_client(), settings.connect_instance_id, settings.managed_numbers
        ).claimed
    # A deployment on Amazon Connect alone has no Chime SDK Voice numbers to forward (nor the
    # permission to look them up).
    check_chime = bool(settings.sip_media_application_id) or not settings.connect_instance_id
    return OwnNumbers(
        settings.managed_numbers,
        pool=pool,
        listed=listed,
        checks=(ChimeOwnNumbers(chime or chime_voice_client()),) if check_chime else (),
    )
