"""``Custom::SipMediaApplication``: the SIP media application whose endpoint is the SMA Lambda.

CloudFormation has no resource type for it. Properties: ``Name``, ``AwsRegion``, ``Endpoint``
(the Lambda ARN). The physical id is the SipMediaApplicationId, also returned as the
``SipMediaApplicationId`` attribute.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from deploy.cfn_response import Outcome, Request, is_failed_create

if TYPE_CHECKING:
    from mypy_boto3_chime_sdk_voice import ChimeSDKVoiceClient

logger = logging.getLogger(__name__)


@functools.cache
def client(region: str | None) -> ChimeSDKVoiceClient:
    """One client per region, created on first use: the SMA is managed in its own region.

    ``None`` means the function's own region (AWS_REGION).
    """
    return boto3.client("chime-sdk-voice", region_name=region)


def _properties(properties: dict[str, Any]) -> tuple[str, str, str]:
    """Name, AwsRegion and Endpoint, all required non-empty strings."""
    values = []
    for key in ("Name", "AwsRegion", "Endpoint"):
        value = properties.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"property {key} is required (a non-empty string)")
        values.append(value.strip())
    name, region, endpoint = values
    return name, region, endpoint


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def handle(request: Request) -> Outcome:
    """Create, update (or replace, when the region changes) or delete the SIP media application."""
    kind = request["RequestType"]
    physical_id = request.get("PhysicalResourceId", "")
    if kind == "Delete":
        # Lenient on purpose: a Delete that fails on bad properties would strand the rollback.
        region = request["ResourceProperties"].get("AwsRegion")
        _delete(physical_id, region if isinstance(region, str) and region else None)
        return Outcome(physical_id)
    name, region, endpoint = _properties(request["ResourceProperties"])
    if kind == "Create":
        return _create(name, region, endpoint)
    old_properties = request.get("OldResourceProperties", {})
    if old_properties.get("AwsRegion", region) != region:
        # A SIP media application cannot move; a new id makes CloudFormation delete the old one.
        return _create(name, region, endpoint)
    if (old_properties.get("Name"), old_properties.get("Endpoint")) != (name, endpoint):
        client(region).update_sip_media_application(
            SipMediaApplicationId=physical_id, Name=name, Endpoints=[{"LambdaArn": endpoint}]
        )
        logger.info("updated SIP media application %s", physical_id)
    return Outcome(physical_id, {"SipMediaApplicationId": physical_id})


def _create(name: str, region: str, endpoint: str) -> Outcome:
    response = client(region).create_sip_media_application(
        AwsRegion=region, Name=name, Endpoints=[{"LambdaArn": endpoint}]
    )
    sma_id = response["SipMediaApplication"].get("SipMediaApplicationId", "")
    if not sma_id:
        raise RuntimeError("CreateSipMediaApplication returned no SipMediaApplicationId")
    logger.info("created SIP media application %s in %s", sma_id, region)
    return Outcome(sma_id, {"SipMediaApplicationId": sma_id})


def _delete(physical_id: str, region: str | None) -> None:
    """Delete; an application that is already gone (or never was) is a successful delete."""
    if not physical_id or is_failed_create(physical_id):
        logger.info("nothing to delete: the Create of %r had failed", physical_id)
        return
    try:
        client(region).delete_sip_media_application(SipMediaApplicationId=physical_id)
    except ClientError as error:
        code = _error_code(error)
        if code == "NotFoundException":
            logger.info("SIP media application %s was already deleted", physical_id)
            return
        if code == "ConflictException":
            raise RuntimeError(
                f"SIP media application {physical_id} is still in use: remove the forwards "
                "(their SIP rules target it) with `switchboard forward remove`, then delete again"
            ) from error
        raise
    logger.info("deleted SIP media application %s", physical_id)
