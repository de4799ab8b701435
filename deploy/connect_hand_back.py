"""``Custom::ConnectHandBack``: the forwarded Amazon Connect numbers go home before the stack goes.

A forward associates a Connect number with the stack's forwarding contact flow, and CloudFormation
deletes that flow with the stack: a number left on it would reach a deleted flow. This resource's
properties name the flow (``ForwardingFlowId`` refers to the ``AWS::Connect::ContactFlow``), so
CloudFormation deletes this resource first. Its Delete does for each forwarded Connect number what
removing the forward does (:class:`~switchboard.adapters.connect_routing.ConnectRouting`): back to
the flow it ran before its first forward (the rule's ``home_routing.contact_flow``), else
``HomeFlowId`` (ConnectHomeFlowId). A number with neither fails the Delete, naming it, unless it is
no longer on the forwarding flow (someone moved it by hand after a failed Delete). The table is
retained and its rules stay, as the SIP media application's Delete leaves them.

Properties: ``InstanceId``, ``ForwardingFlowId``, ``HomeFlowId`` (may be empty), ``TableName``.
Create and Update change nothing. The physical id names the instance: moving the stack to another
instance makes CloudFormation delete the old resource, which hands the old instance's numbers back.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from deploy.cfn_response import Request, ResourceResult, is_failed_create
from deploy.sip_media_application import dynamodb, listed
from switchboard.adapters.connect_routing import ConnectNumbers, ConnectRouting
from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.domain.rules import NumberHome
from switchboard.ports import InventoryError, NumberPlacementError, RoutingError, StorageError

logger = logging.getLogger(__name__)

PHYSICAL_ID_PREFIX = "connect-hand-back/"


@functools.cache
def client() -> Any:
    """The function's region: a stack's Connect resources are in its own region."""
    return boto3.client("connect")


@dataclass(frozen=True, slots=True)
class Instance:
    """What the properties say (every field may be empty on a Delete)."""

    instance_id: str
    forwarding_flow_id: str
    home_flow_id: str
    table_name: str


def _text(properties: dict[str, Any], key: str) -> str:
    value = properties.get(key)
    return value.strip() if isinstance(value, str) else ""


def _instance(properties: dict[str, Any] | None) -> Instance:
    properties = properties or {}
    return Instance(
        instance_id=_text(properties, "InstanceId"),
        forwarding_flow_id=_text(properties, "ForwardingFlowId"),
        home_flow_id=_text(properties, "HomeFlowId"),
        table_name=_text(properties, "TableName"),
    )


def handle(request: Request) -> ResourceResult:
    """Create and Update record the instance; Delete hands its forwarded numbers back."""
    if request["RequestType"] == "Delete":
        physical_id = request.get("PhysicalResourceId", "")
        # Lenient on purpose: a Delete that fails on bad properties would strand the rollback.
        return ResourceResult(
            physical_id, reason=_delete(physical_id, _instance(request.get("ResourceProperties")))
        )
    wanted = _instance(request["ResourceProperties"])
    for key, value in (
        ("InstanceId", wanted.instance_id),
        ("ForwardingFlowId", wanted.forwarding_flow_id),
        ("TableName", wanted.table_name),
    ):
        if not value:
            raise ValueError(f"property {key} is required (a non-empty string)")
    return ResourceResult(PHYSICAL_ID_PREFIX + wanted.instance_id)


def _forwards(table_name: str) -> dict[str, NumberHome | None]:
    """Every forwarded number and its recorded home; the table must be readable."""
    try:
        rules = DynamoForwardRepository(dynamodb(), table_name).list_rules()
    except StorageError as error:
        cause = error.__cause__
        if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == (
            "ResourceNotFoundException"
        ):
            logger.warning("table %s is gone: no forwards to hand back", table_name)
            return {}
        raise RuntimeError(
            f"could not read the forwards ({error}); nothing was changed: fix the cause and delete again"
        ) from error
    return {rule.number: rule.home for rule in rules}


def _delete(physical_id: str, instance: Instance) -> str:
    """Associate each forwarded Connect number with its home flow; returns what was done."""
    if is_failed_create(physical_id) or not (
        instance.instance_id and instance.forwarding_flow_id and instance.table_name
    ):
        return "nothing to hand back: no Amazon Connect forwarding flow was set up"
    numbers = ConnectNumbers(client(), instance.instance_id)
    routing = ConnectRouting(
        client(), numbers, instance.instance_id, instance.forwarding_flow_id, instance.home_flow_id
    )
    forwards = _forwards(instance.table_name)
    try:
        claimed = numbers.claimed()
    except InventoryError as error:
        raise RuntimeError(f"{error}; nothing was changed: fix the cause and delete again") from error
    handed_back: list[str] = []
    moved_by_hand: list[str] = []
    no_flow: list[str] = []
    failed: list[str] = []
    for number in sorted(set(forwards) & set(claimed)):
        home = forwards[number]
        try:
            done = routing.route_to_voice_connector(number, home)
        except NumberPlacementError:
            try:
                still_forwarding = routing.current_flow(number) == instance.forwarding_flow_id
            except RoutingError as error:
                logger.error("could not read the flow of %s: %s", number, error)
                failed.append(number)
                continue
            (no_flow if still_forwarding else moved_by_hand).append(number)
            continue
        except RoutingError as error:
            logger.error("could not hand %s back: %s", number, error)
            failed.append(number)
            continue
        logger.info("%s", "; ".join(done))
        recorded = home.contact_flow if home is not None else ""
        source = "its flow before the forward" if recorded else "ConnectHomeFlowId"
        handed_back.append(f"{number} to contact flow {recorded or instance.home_flow_id} ({source})")
    parts = []
    if handed_back:
        parts.append(
            f"handed back {len(handed_back)} forwarded Amazon Connect number(s): {listed(handed_back)}"
        )
    if moved_by_hand:
        parts.append(f"{listed(moved_by_hand)} already off the forwarding flow: left as it is")
    problems = []
    if no_flow:
        problems.append(
            f"cannot hand back {listed(no_flow)}: the contact flow it ran before its first forward is "
            "not recorded and ConnectHomeFlowId is empty, so it would stay on the forwarding flow this "
            "stack deletes. Associate it with the flow its calls should reach (Amazon Connect console, "
            "Phone numbers), then delete again"
        )
    if failed:
        problems.append(f"could not hand back {listed(failed)} (see the log): fix the cause and delete again")
    if problems:
        raise RuntimeError("; ".join(problems + parts))
    if not parts:
        return f"no forwarded Amazon Connect numbers in instance {instance.instance_id} to hand back"
    return "; ".join(parts)
