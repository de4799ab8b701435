"""``Custom::SipMediaApplication``: the SIP media application whose endpoint is the SMA Lambda.

CloudFormation has no resource type for it. Properties: ``Name``, ``AwsRegion``, ``Endpoint``
(the Lambda ARN), and optionally ``ExistingSipMediaApplicationId`` (adopt that application
instead of creating one), ``TableName`` (where each forward records its number's home) and
``VoiceConnectorId`` (where a number with no recorded home goes back). The physical id is the
SipMediaApplicationId, also returned as the ``SipMediaApplicationId`` attribute.

The forwards the bot sets at run time are SIP rules (``switchboard-<digits>``) that target the
application, so its lifecycle carries them:

* Create is idempotent: a retried or repeated Create finds the application it made by name.
* Update that changes the application (adopt, stop adopting, another region, or one deleted out
  of band) moves those rules to the new one before answering, so no forward is stranded.
* Delete hands every number back where it was before its first forward, deletes those rules,
  then deletes the application, unless it was adopted: that one is left as it was found.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from deploy.cfn_response import Request, ResourceResult, is_failed_create
from switchboard.adapters.chime_voice import ChimeVoiceRouting
from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.domain.rules import NumberHome
from switchboard.ports import RoutingError, StorageError

if TYPE_CHECKING:
    from mypy_boto3_chime_sdk_voice import ChimeSDKVoiceClient

logger = logging.getLogger(__name__)

# Reasons longer than this are cut: CloudFormation shows the start, the log has every number.
MAX_LISTED_NUMBERS = 20


@functools.cache
def client(region: str | None) -> ChimeSDKVoiceClient:
    """One client per region, created on first use: the SMA is managed in its own region.

    ``None`` means the function's own region (AWS_REGION), where the numbers and SIP rules are.
    """
    return boto3.client("chime-sdk-voice", region_name=region)


@functools.cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


@dataclass(frozen=True, slots=True)
class Wanted:
    """The application the properties ask for."""

    name: str
    region: str
    endpoint: str
    existing_id: str = ""
    table_name: str = ""
    voice_connector_id: str = ""

    @property
    def adopted(self) -> bool:
        return bool(self.existing_id)


def _text(properties: dict[str, Any], key: str) -> str:
    value = properties.get(key)
    return value.strip() if isinstance(value, str) else ""


def _wanted(properties: dict[str, Any]) -> Wanted:
    """Name, AwsRegion and Endpoint are required non-empty strings; the rest are optional."""
    for key in ("Name", "AwsRegion", "Endpoint"):
        if not _text(properties, key):
            raise ValueError(f"property {key} is required (a non-empty string)")
    return _lenient(properties)


def _lenient(properties: dict[str, Any] | None) -> Wanted:
    """What a Delete can learn from whatever properties it got (maybe none at all)."""
    properties = properties or {}
    return Wanted(
        name=_text(properties, "Name"),
        region=_text(properties, "AwsRegion"),
        endpoint=_text(properties, "Endpoint"),
        existing_id=_text(properties, "ExistingSipMediaApplicationId"),
        table_name=_text(properties, "TableName"),
        voice_connector_id=_text(properties, "VoiceConnectorId"),
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def handle(request: Request) -> ResourceResult:
    """Create, update (moving the forwards when the application changes) or delete."""
    kind = request["RequestType"]
    physical_id = request.get("PhysicalResourceId", "")
    if kind == "Delete":
        # Lenient on purpose: a Delete that fails on bad properties would strand the rollback.
        reason = _delete(physical_id, _lenient(request.get("ResourceProperties")))
        return ResourceResult(physical_id, reason=reason)
    wanted = _wanted(request["ResourceProperties"])
    if kind == "Create":
        return _outcome(_provide(wanted))
    old = _lenient(request.get("OldResourceProperties"))
    if not wanted.adopted and not old.adopted and old.region in ("", wanted.region):
        if _update_in_place(physical_id, wanted, old):
            return _outcome(physical_id)
        logger.warning("SIP media application %s is gone (deleted outside the stack)", physical_id)
    new_id = _provide(wanted)
    moved = [
        number
        for source in _previous_applications(physical_id, old, new_id)
        for number in _routing(old, source).move_rules(new_id, wanted.region)
    ]
    if new_id == physical_id and not moved:
        return _outcome(physical_id)
    reason = f"SIP media application {new_id}" + ("" if new_id == physical_id else f" replaces {physical_id}")
    if moved:
        reason += f"; moved the forwards of {listed(moved)} to it"
    logger.info("%s", reason)
    # A new id makes CloudFormation delete the old one after the update (an adopted one is kept).
    return _outcome(new_id, reason)


def _previous_applications(physical_id: str, old: Wanted, new_id: str) -> list[str]:
    """Where forwards may still point: the current id, and what the previous properties named.

    The last one matters for a rollback: an Update that failed half-way through moving the rules
    answered FAILED with the current id, and the rollback names the same id again, while some
    rules already target the application the failed Update was moving them to.
    """
    candidates = [physical_id, old.existing_id]
    if not old.adopted and old.name and old.endpoint:
        candidates.append(_find(old))
    sources: list[str] = []
    for candidate in candidates:
        if candidate and candidate != new_id and not is_failed_create(candidate) and candidate not in sources:
            sources.append(candidate)
    return sources


def _outcome(sma_id: str, reason: str = "") -> ResourceResult:
    return ResourceResult(sma_id, {"SipMediaApplicationId": sma_id}, reason=reason)


def _provide(wanted: Wanted) -> str:
    """The adopted application (checked to exist), ours found by name, or a new one."""
    if wanted.adopted:
        try:
            client(wanted.region).get_sip_media_application(SipMediaApplicationId=wanted.existing_id)
        except ClientError as error:
            if _error_code(error) == "NotFoundException":
                raise ValueError(
                    f"ExistingSipMediaApplicationId {wanted.existing_id} is not a SIP media application "
                    f"in {wanted.region}: check the id, or leave the parameter empty to create one"
                ) from error
            raise
        return wanted.existing_id
    found = _find(wanted)
    if found:
        # A retried Create, or a Create repeated after a timeout answered FAILED: reuse it.
        logger.info("reusing SIP media application %s named %s", found, wanted.name)
        return found
    response = client(wanted.region).create_sip_media_application(
        AwsRegion=wanted.region, Name=wanted.name, Endpoints=[{"LambdaArn": wanted.endpoint}]
    )
    sma_id = response["SipMediaApplication"].get("SipMediaApplicationId", "")
    if not sma_id:
        raise RuntimeError("CreateSipMediaApplication returned no SipMediaApplicationId")
    logger.info("created SIP media application %s in %s", sma_id, wanted.region)
    return sma_id


def _find(wanted: Wanted) -> str:
    """Our application: same name and endpoint (the name carries the stack name)."""
    kwargs: dict[str, Any] = {}
    sma_client = client(wanted.region)
    while True:
        page = sma_client.list_sip_media_applications(**kwargs)
        for application in page.get("SipMediaApplications", []):
            endpoints = [e.get("LambdaArn") for e in application.get("Endpoints") or []]
            if (
                application.get("Name") == wanted.name
                and application.get("AwsRegion", wanted.region) == wanted.region
                and endpoints == [wanted.endpoint]
            ):
                return str(application.get("SipMediaApplicationId", ""))
        token = page.get("NextToken")
        if not token:
            return ""
        kwargs["NextToken"] = token


def _find_leniently(wanted: Wanted) -> str:
    """:func:`_find` for a rollback: an error there must not make the rollback fail too."""
    try:
        return _find(wanted)
    except ClientError:
        logger.exception("could not look for a SIP media application named %s", wanted.name)
        return ""


def _update_in_place(physical_id: str, wanted: Wanted, old: Wanted) -> bool:
    """Rename or re-point our application; False when it no longer exists."""
    if is_failed_create(physical_id):
        return False
    try:
        if (old.name, old.endpoint) != (wanted.name, wanted.endpoint):
            client(wanted.region).update_sip_media_application(
                SipMediaApplicationId=physical_id,
                Name=wanted.name,
                Endpoints=[{"LambdaArn": wanted.endpoint}],
            )
            logger.info("updated SIP media application %s", physical_id)
        else:
            client(wanted.region).get_sip_media_application(SipMediaApplicationId=physical_id)
    except ClientError as error:
        if _error_code(error) == "NotFoundException":
            return False
        raise
    return True


def _routing(wanted: Wanted, sma_id: str) -> ChimeVoiceRouting:
    """Routing of the numbers (in the function's region) as the stack's functions do it."""
    return ChimeVoiceRouting(client(None), sma_id, wanted.voice_connector_id, region=wanted.region)


def _homes(table_name: str) -> dict[str, NumberHome]:
    """Each forwarded number's home as its first forward recorded it (empty without a table)."""
    if not table_name:
        return {}
    try:
        rules = DynamoForwardRepository(dynamodb(), table_name).list_rules()
    except StorageError as error:
        cause = error.__cause__
        if isinstance(cause, ClientError) and _error_code(cause) == "ResourceNotFoundException":
            # Deleted by hand before the stack: nothing recorded can be read, ever.
            logger.warning("table %s is gone; every number goes back to VoiceConnectorId", table_name)
            return {}
        # Guessing would send numbers to the wrong place; a retried Delete reads it again.
        raise RuntimeError(
            f"could not read where the forwarded numbers go back to ({error}); nothing was changed: "
            "fix the cause and delete again"
        ) from error
    return {rule.number: rule.home for rule in rules if rule.home is not None}


def listed(numbers: list[str]) -> str:
    """Numbers (or entries) for a Reason: the first MAX_LISTED_NUMBERS, then how many more."""
    shown = ", ".join(numbers[:MAX_LISTED_NUMBERS])
    more = len(numbers) - MAX_LISTED_NUMBERS
    return shown + (f" and {more} more" if more > 0 else "")


def _delete(physical_id: str, wanted: Wanted) -> str:
    """Hand the numbers back, delete their SIP rules, then the application; returns what was done."""
    if not physical_id or is_failed_create(physical_id):
        # A Create answered FAILED (by the timeout guard, say) may still have made one.
        found = _find_leniently(wanted) if wanted.name and wanted.endpoint and not wanted.adopted else ""
        if not found:
            logger.info("nothing to delete: the Create of %r had failed", physical_id)
            return "nothing to delete: the SIP media application was never created"
        logger.info("the failed Create %r had made SIP media application %s", physical_id, found)
        physical_id = found
    routing = _routing(wanted, physical_id)
    homes = _homes(wanted.table_name)
    handed_back: list[str] = []
    nowhere: list[str] = []
    unknown: list[str] = []
    failed: list[str] = []
    for rule in routing.owned_rules():
        number = str(rule["TriggerValue"])
        home = homes.get(number)
        try:
            routing.hand_back(number, home)
        except RoutingError as error:
            logger.error("could not hand %s back: %s", number, error)
            failed.append(number)
            continue
        if not wanted.voice_connector_id:
            if home is None:
                unknown.append(number)
            elif not home.voice_connectors:
                nowhere.append(number)
        handed_back.append(number)
    parts = []
    if handed_back:
        parts.append(f"handed back {len(handed_back)} forwarded number(s) ({listed(handed_back)})")
    if nowhere:
        parts.append(
            f"{listed(nowhere)} had no voice connector before the first forward and none is "
            "configured (VoiceConnectorId): left on no voice connector, as before"
        )
    if unknown:
        parts.append(
            f"{listed(unknown)} had no recorded home and no VoiceConnectorId is configured: "
            "SIP rule deleted, left on no voice connector"
        )
    if failed:
        raise RuntimeError(
            f"could not hand back {listed(failed)} (their forwards stay, still on SIP media "
            f"application {physical_id}); see the log, fix the cause and delete again"
            + (f"; {'; '.join(parts)}" if parts else "")
        )
    if wanted.adopted and physical_id == wanted.existing_id:
        parts.append(f"kept SIP media application {physical_id} (adopted: ExistingSipMediaApplicationId)")
        return "; ".join(parts)
    try:
        client(wanted.region or None).delete_sip_media_application(SipMediaApplicationId=physical_id)
    except ClientError as error:
        code = _error_code(error)
        if code != "NotFoundException":
            if code == "ConflictException":
                raise RuntimeError(
                    f"SIP media application {physical_id} is still the target of SIP rules that "
                    "switchboard did not create (not named switchboard-<digits>): point them "
                    "elsewhere or delete them, then delete again"
                ) from error
            raise
        logger.info("SIP media application %s was already deleted", physical_id)
        parts.append(f"SIP media application {physical_id} was already deleted")
    else:
        logger.info("deleted SIP media application %s", physical_id)
        parts.append(f"deleted SIP media application {physical_id}")
    return "; ".join(parts)
