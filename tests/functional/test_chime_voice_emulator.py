"""The Chime SDK Voice emulator, driven only through the unmodified boto3 ``chime-sdk-voice`` client.

What is pinned here is what production code relies on when it runs against the emulator: the
request/response shapes botocore parses, the modelled exceptions (status, ``x-amzn-ErrorType``),
pagination, and the ordering rules of the real service that make routing a number (docs/architecture.md)
a sequence: a number leaves its voice connector before its product type changes, a SIP rule is
disabled before it is deleted, and so on.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from switchboard.adapters.chime_voice import ChimeVoiceRouting
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer

REGION = "us-east-1"
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:switchboard-sma"
ON_VC = ("+12025550100", "+12025550101")
ON_SMA = "+12025550102"
TOLL_FREE = "+18005550100"
UNKNOWN = "+12025550199"

pytestmark = pytest.mark.functional


class Seeded:
    """The emulator with the ids the fixture created."""

    def __init__(self, emulator: ChimeVoiceEmulator) -> None:
        self.emulator = emulator
        self.vc = emulator.create_voice_connector("switchboard-pbx")
        self.other_vc = emulator.create_voice_connector("other-pbx")
        self.sma = emulator.create_sip_media_application("switchboard", LAMBDA_ARN)
        emulator.seed_phone_numbers(ON_VC, voice_connector_id=self.vc)
        emulator.seed_phone_numbers([ON_SMA], product_type="SipMediaApplicationDialIn")
        emulator.seed_phone_numbers([TOLL_FREE])


@pytest.fixture
def seeded() -> Seeded:
    return Seeded(ChimeVoiceEmulator(region=REGION))


@pytest.fixture
def server(seeded: Seeded) -> Iterator[ChimeVoiceServer]:
    with ChimeVoiceServer(seeded.emulator) as running:
        yield running


def make_client(url: str, **config: Any) -> Any:
    return boto3.client(
        "chime-sdk-voice",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture
def client(server: ChimeVoiceServer) -> Any:
    return make_client(server.url)


@pytest.fixture
def unchecked(server: ChimeVoiceServer) -> Any:
    """A client that skips botocore's own parameter validation, so the server sees bad input."""
    return make_client(server.url, parameter_validation=False)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def status(response: dict[str, Any]) -> int:
    code: int = response["ResponseMetadata"]["HTTPStatusCode"]
    return code


def make_rule(client: Any, sma: str, number: str = ON_SMA, **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = client.create_sip_rule(
        Name="switchboard-" + number.lstrip("+"),
        TriggerType="ToPhoneNumber",
        TriggerValue=number,
        TargetApplications=[{"SipMediaApplicationId": sma, "Priority": 1, "AwsRegion": REGION}],
        **extra,
    )["SipRule"]
    return rule


# ------------------------------------------------------------------------------ phone numbers


def test_list_phone_numbers_returns_the_inventory_in_the_api_shape(client: Any, seeded: Seeded) -> None:
    response = client.list_phone_numbers()

    assert status(response) == 200
    numbers = {p["E164PhoneNumber"]: p for p in response["PhoneNumbers"]}
    assert sorted(numbers) == sorted([*ON_VC, ON_SMA, TOLL_FREE])
    assert "NextToken" not in response
    on_vc = numbers[ON_VC[0]]
    assert on_vc["PhoneNumberId"] == ON_VC[0]
    assert on_vc["Country"] == "US"
    assert on_vc["Type"] == "Local"
    assert on_vc["ProductType"] == "VoiceConnector"
    assert on_vc["Status"] == "Assigned"
    assert on_vc["Capabilities"]["InboundCall"] is True
    [association] = on_vc["Associations"]
    assert association["Name"] == "VoiceConnectorId"
    assert association["Value"] == seeded.vc
    assert isinstance(association["AssociatedTimestamp"], datetime)
    assert isinstance(on_vc["CreatedTimestamp"], datetime)
    assert isinstance(on_vc["UpdatedTimestamp"], datetime)
    assert numbers[TOLL_FREE]["Type"] == "TollFree"
    assert numbers[TOLL_FREE]["Status"] == "Unassigned"
    assert numbers[TOLL_FREE]["Associations"] == []


def test_list_phone_numbers_pages_with_max_results_and_next_token(client: Any, seeded: Seeded) -> None:
    extra = [f"+1206555{n:04d}" for n in range(110, 117)]
    seeded.emulator.seed_phone_numbers(extra)
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxResults": 3}
    pages = 0
    while True:
        page = client.list_phone_numbers(**kwargs)
        pages += 1
        assert len(page["PhoneNumbers"]) <= 3
        seen += [p["E164PhoneNumber"] for p in page["PhoneNumbers"]]
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]

    assert pages == 4
    assert len(seen) == len(set(seen)) == 11
    assert seen == sorted(seen)  # a stable order, so pages neither repeat nor skip


def test_a_forged_next_token_is_a_bad_request(client: Any) -> None:
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.list_phone_numbers(NextToken="not-a-token")
    assert error_of(excinfo) == ("BadRequestException", 400)


def test_list_phone_numbers_filters(client: Any, seeded: Seeded) -> None:
    def listed(**filters: Any) -> list[str]:
        return sorted(p["E164PhoneNumber"] for p in client.list_phone_numbers(**filters)["PhoneNumbers"])

    rule = make_rule(client, seeded.sma)

    assert listed(ProductType="SipMediaApplicationDialIn") == [ON_SMA]
    assert listed(ProductType="VoiceConnector") == sorted([*ON_VC, TOLL_FREE])
    assert listed(Status="Unassigned") == [TOLL_FREE]
    assert listed(Status="Assigned") == sorted([*ON_VC, ON_SMA])
    assert listed(FilterName="VoiceConnectorId", FilterValue=seeded.vc) == sorted(ON_VC)
    assert listed(FilterName="VoiceConnectorId", FilterValue=seeded.other_vc) == []
    assert listed(FilterName="SipRuleId", FilterValue=rule["SipRuleId"]) == [ON_SMA]
    with pytest.raises(client.exceptions.BadRequestException):
        client.list_phone_numbers(FilterName="SipRuleId")
    with pytest.raises(client.exceptions.BadRequestException):
        client.list_phone_numbers(ProductType="BusinessCalling")


def test_get_phone_number(client: Any) -> None:
    number = client.get_phone_number(PhoneNumberId=ON_VC[1])["PhoneNumber"]
    assert number["PhoneNumberId"] == ON_VC[1]
    assert number["ProductType"] == "VoiceConnector"

    with pytest.raises(client.exceptions.NotFoundException) as excinfo:
        client.get_phone_number(PhoneNumberId=UNKNOWN)
    assert error_of(excinfo) == ("NotFoundException", 404)
    assert UNKNOWN in excinfo.value.response["Error"]["Message"]


def test_update_phone_number_changes_one_attribute_per_call(client: Any) -> None:
    named = client.update_phone_number(PhoneNumberId=TOLL_FREE, Name="Front desk")["PhoneNumber"]
    assert named["Name"] == "Front desk"
    calling = client.update_phone_number(PhoneNumberId=TOLL_FREE, CallingName="Switchboard")["PhoneNumber"]
    assert calling["CallingName"] == "Switchboard"
    assert calling["Name"] == "Front desk"
    moved = client.update_phone_number(PhoneNumberId=TOLL_FREE, ProductType="SipMediaApplicationDialIn")
    assert moved["PhoneNumber"]["ProductType"] == "SipMediaApplicationDialIn"
    assert moved["PhoneNumber"]["UpdatedTimestamp"] >= moved["PhoneNumber"]["CreatedTimestamp"]

    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.update_phone_number(PhoneNumberId=TOLL_FREE, ProductType="VoiceConnector", Name="Both")
    assert "one of" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.BadRequestException):
        client.update_phone_number(PhoneNumberId=TOLL_FREE)
    with pytest.raises(client.exceptions.NotFoundException):
        client.update_phone_number(PhoneNumberId=UNKNOWN, Name="x")


def test_a_bad_product_type_is_a_bad_request(client: Any) -> None:
    # botocore does not check enums client-side: the service does.
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        client.update_phone_number(PhoneNumberId=TOLL_FREE, ProductType="BusinessCalling")
    code, http_status = error_of(excinfo)
    assert (code, http_status) == ("BadRequestException", 400)
    assert "ProductType" in excinfo.value.response["Error"]["Message"]


def test_an_assigned_number_cannot_change_product_type(client: Any, seeded: Seeded) -> None:
    with pytest.raises(client.exceptions.ConflictException) as excinfo:
        client.update_phone_number(PhoneNumberId=ON_VC[0], ProductType="SipMediaApplicationDialIn")
    assert error_of(excinfo) == ("ConflictException", 409)
    assert seeded.vc in excinfo.value.response["Error"]["Message"]

    make_rule(client, seeded.sma)
    with pytest.raises(client.exceptions.ConflictException) as excinfo:
        client.update_phone_number(PhoneNumberId=ON_SMA, ProductType="VoiceConnector")
    assert "SipRuleId" in excinfo.value.response["Error"]["Message"]

    # Setting the product type it already has is no change, so no conflict.
    same = client.update_phone_number(PhoneNumberId=ON_VC[0], ProductType="VoiceConnector")
    assert same["PhoneNumber"]["ProductType"] == "VoiceConnector"


def test_numbers_outside_the_us_must_stay_sip_media_application_dial_in(client: Any, seeded: Seeded) -> None:
    seeded.emulator.seed_phone_numbers(["+442079460000"], product_type="SipMediaApplicationDialIn")
    assert client.get_phone_number(PhoneNumberId="+442079460000")["PhoneNumber"]["Country"] == "GB"
    with pytest.raises(client.exceptions.BadRequestException):
        client.update_phone_number(PhoneNumberId="+442079460000", ProductType="VoiceConnector")


def test_associate_reports_per_number_failures_like_the_api(client: Any, seeded: Seeded) -> None:
    client.disassociate_phone_numbers_from_voice_connector(
        VoiceConnectorId=seeded.vc, E164PhoneNumbers=[ON_VC[1]]
    )
    response = client.associate_phone_numbers_with_voice_connector(
        VoiceConnectorId=seeded.other_vc,
        E164PhoneNumbers=[TOLL_FREE, ON_SMA, UNKNOWN, ON_VC[0], ON_VC[1]],
    )

    assert status(response) == 200
    errors = {e["PhoneNumberId"]: e["ErrorCode"] for e in response["PhoneNumberErrors"]}
    assert errors == {
        ON_SMA: "BadRequest",  # product type SipMediaApplicationDialIn
        UNKNOWN: "NotFound",
        ON_VC[0]: "PhoneNumberAssociationsExist",  # still on the first voice connector
    }
    on_other = client.list_phone_numbers(FilterName="VoiceConnectorId", FilterValue=seeded.other_vc)
    assert sorted(p["E164PhoneNumber"] for p in on_other["PhoneNumbers"]) == sorted([TOLL_FREE, ON_VC[1]])


def test_force_associate_moves_a_number_between_voice_connectors(client: Any, seeded: Seeded) -> None:
    response = client.associate_phone_numbers_with_voice_connector(
        VoiceConnectorId=seeded.other_vc, E164PhoneNumbers=[ON_VC[0]], ForceAssociate=True
    )
    assert response["PhoneNumberErrors"] == []
    [association] = client.get_phone_number(PhoneNumberId=ON_VC[0])["PhoneNumber"]["Associations"]
    assert association == {**association, "Name": "VoiceConnectorId", "Value": seeded.other_vc}

    # Associating with the connector it is already on is a no-op, not an error.
    again = client.associate_phone_numbers_with_voice_connector(
        VoiceConnectorId=seeded.other_vc, E164PhoneNumbers=[ON_VC[0]]
    )
    assert again["PhoneNumberErrors"] == []
    assert len(client.get_phone_number(PhoneNumberId=ON_VC[0])["PhoneNumber"]["Associations"]) == 1


def test_disassociate(client: Any, seeded: Seeded) -> None:
    response = client.disassociate_phone_numbers_from_voice_connector(
        VoiceConnectorId=seeded.vc, E164PhoneNumbers=[ON_VC[0], TOLL_FREE, UNKNOWN]
    )
    errors = {e["PhoneNumberId"]: e["ErrorCode"] for e in response["PhoneNumberErrors"]}
    assert errors == {TOLL_FREE: "NotFound", UNKNOWN: "NotFound"}
    number = client.get_phone_number(PhoneNumberId=ON_VC[0])["PhoneNumber"]
    assert number["Associations"] == []
    assert number["Status"] == "Unassigned"


def test_association_calls_on_an_unknown_voice_connector_are_not_found(client: Any) -> None:
    ghost = "abcdefghij0123456789ab"
    with pytest.raises(client.exceptions.NotFoundException):
        client.associate_phone_numbers_with_voice_connector(
            VoiceConnectorId=ghost, E164PhoneNumbers=[TOLL_FREE]
        )
    with pytest.raises(client.exceptions.NotFoundException):
        client.disassociate_phone_numbers_from_voice_connector(
            VoiceConnectorId=ghost, E164PhoneNumbers=[TOLL_FREE]
        )


# ------------------------------------------------------------------------------ voice connectors


def test_voice_connectors(client: Any, seeded: Seeded) -> None:
    created = client.create_voice_connector(
        Name="branch-office", RequireEncryption=False, AwsRegion="us-west-2"
    )
    assert status(created) == 201
    connector = created["VoiceConnector"]
    assert connector["Name"] == "branch-office"
    assert connector["AwsRegion"] == "us-west-2"
    assert connector["RequireEncryption"] is False
    assert connector["OutboundHostName"].startswith(connector["VoiceConnectorId"])
    assert connector["VoiceConnectorArn"].endswith(connector["VoiceConnectorId"])

    fetched = client.get_voice_connector(VoiceConnectorId=connector["VoiceConnectorId"])["VoiceConnector"]
    assert fetched == connector
    listed = client.list_voice_connectors(MaxResults=2)
    assert len(listed["VoiceConnectors"]) == 2
    rest = client.list_voice_connectors(NextToken=listed["NextToken"])["VoiceConnectors"]
    ids = {c["VoiceConnectorId"] for c in [*listed["VoiceConnectors"], *rest]}
    assert ids == {seeded.vc, seeded.other_vc, connector["VoiceConnectorId"]}

    with pytest.raises(client.exceptions.NotFoundException):
        client.get_voice_connector(VoiceConnectorId="abcdefghij0123456789ab")


# ------------------------------------------------------------------------------ SIP media applications


def test_sip_media_applications_lifecycle(client: Any, seeded: Seeded) -> None:
    created = client.create_sip_media_application(
        AwsRegion=REGION, Name="spare", Endpoints=[{"LambdaArn": LAMBDA_ARN}]
    )
    assert status(created) == 201
    application = created["SipMediaApplication"]
    sma_id = application["SipMediaApplicationId"]
    assert application["Endpoints"] == [{"LambdaArn": LAMBDA_ARN}]
    assert application["SipMediaApplicationArn"].endswith(sma_id)
    assert isinstance(application["CreatedTimestamp"], datetime)

    assert (
        client.get_sip_media_application(SipMediaApplicationId=sma_id)["SipMediaApplication"] == application
    )
    listed = client.list_sip_media_applications()["SipMediaApplications"]
    assert {a["SipMediaApplicationId"] for a in listed} == {seeded.sma, sma_id}
    pages = client.get_paginator("list_sip_media_applications").paginate(PaginationConfig={"PageSize": 1})
    assert [[a["SipMediaApplicationId"] for a in page["SipMediaApplications"]] for page in pages] == [
        [seeded.sma],
        [sma_id],
    ]

    other_arn = LAMBDA_ARN + "-v2"
    updated = client.update_sip_media_application(
        SipMediaApplicationId=sma_id, Name="renamed", Endpoints=[{"LambdaArn": other_arn}]
    )["SipMediaApplication"]
    assert (updated["Name"], updated["Endpoints"]) == ("renamed", [{"LambdaArn": other_arn}])

    deleted = client.delete_sip_media_application(SipMediaApplicationId=sma_id)
    assert status(deleted) == 204
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_sip_media_application(SipMediaApplicationId=sma_id)
    with pytest.raises(client.exceptions.NotFoundException):
        client.delete_sip_media_application(SipMediaApplicationId=sma_id)
    with pytest.raises(client.exceptions.NotFoundException):
        client.update_sip_media_application(SipMediaApplicationId=sma_id, Name="gone")


def test_a_sip_media_application_with_an_enabled_rule_cannot_be_deleted(client: Any, seeded: Seeded) -> None:
    rule = make_rule(client, seeded.sma)

    with pytest.raises(client.exceptions.ConflictException) as excinfo:
        client.delete_sip_media_application(SipMediaApplicationId=seeded.sma)
    assert error_of(excinfo) == ("ConflictException", 409)
    assert rule["SipRuleId"] in excinfo.value.response["Error"]["Message"]

    # "You must disable a SIP rule before you delete that rule or an associated SIP media
    # application"; deleting the application does not delete its (disabled) rules.
    client.update_sip_rule(SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=True)
    client.delete_sip_media_application(SipMediaApplicationId=seeded.sma)
    assert client.get_sip_rule(SipRuleId=rule["SipRuleId"])["SipRule"]["Disabled"] is True


def test_an_invalid_lambda_arn_is_a_bad_request(client: Any) -> None:
    with pytest.raises(client.exceptions.BadRequestException):
        client.create_sip_media_application(
            AwsRegion=REGION, Name="x", Endpoints=[{"LambdaArn": "not-an-arn"}]
        )


# ------------------------------------------------------------------------------ SIP rules


def test_sip_rule_lifecycle(client: Any, seeded: Seeded) -> None:
    created = client.create_sip_rule(
        Name="switchboard-12025550102",
        TriggerType="ToPhoneNumber",
        TriggerValue=ON_SMA,
        TargetApplications=[{"SipMediaApplicationId": seeded.sma, "Priority": 1, "AwsRegion": REGION}],
    )
    assert status(created) == 201
    rule = created["SipRule"]
    assert rule["Disabled"] is False  # enabled unless asked otherwise
    assert rule["TriggerType"] == "ToPhoneNumber"
    assert rule["TriggerValue"] == ON_SMA
    assert rule["TargetApplications"] == [
        {"SipMediaApplicationId": seeded.sma, "Priority": 1, "AwsRegion": REGION}
    ]
    rule_id = rule["SipRuleId"]
    assert client.get_sip_rule(SipRuleId=rule_id)["SipRule"] == rule
    [association] = client.get_phone_number(PhoneNumberId=ON_SMA)["PhoneNumber"]["Associations"]
    assert (association["Name"], association["Value"]) == ("SipRuleId", rule_id)

    updated = client.update_sip_rule(SipRuleId=rule_id, Name="renamed", Disabled=True)
    assert status(updated) == 202
    assert (updated["SipRule"]["Name"], updated["SipRule"]["Disabled"]) == ("renamed", True)
    assert updated["SipRule"]["TargetApplications"] == rule["TargetApplications"]

    deleted = client.delete_sip_rule(SipRuleId=rule_id)
    assert status(deleted) == 204
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_sip_rule(SipRuleId=rule_id)
    with pytest.raises(client.exceptions.NotFoundException):
        client.update_sip_rule(SipRuleId=rule_id, Name="gone")
    with pytest.raises(client.exceptions.NotFoundException):
        client.delete_sip_rule(SipRuleId=rule_id)
    number = client.get_phone_number(PhoneNumberId=ON_SMA)["PhoneNumber"]
    assert (number["Associations"], number["Status"]) == ([], "Unassigned")


def test_deleting_an_enabled_sip_rule_is_a_conflict(client: Any, seeded: Seeded) -> None:
    rule = make_rule(client, seeded.sma)

    with pytest.raises(client.exceptions.ConflictException) as excinfo:
        client.delete_sip_rule(SipRuleId=rule["SipRuleId"])
    assert error_of(excinfo) == ("ConflictException", 409)
    assert "disable" in excinfo.value.response["Error"]["Message"]
    assert client.get_sip_rule(SipRuleId=rule["SipRuleId"])["SipRule"]["Disabled"] is False


def test_create_sip_rule_checks_number_target_and_uniqueness(client: Any, seeded: Seeded) -> None:
    target = [{"SipMediaApplicationId": seeded.sma, "Priority": 1}]

    def create(name: str, value: str, targets: list[dict[str, Any]] = target) -> Any:
        return client.create_sip_rule(
            Name=name, TriggerType="ToPhoneNumber", TriggerValue=value, TargetApplications=targets
        )

    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        create("vc-number", ON_VC[0])  # product type VoiceConnector
    assert "SipMediaApplicationDialIn" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.BadRequestException):
        create("unknown-number", UNKNOWN)
    with pytest.raises(client.exceptions.BadRequestException):
        create("no-such-sma", ON_SMA, [{"SipMediaApplicationId": "00000000-0000-0000-0000-000000000000"}])
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        create("+12025550102", ON_SMA)  # SIP rule names may not contain "+"
    assert "Name" in excinfo.value.response["Error"]["Message"]

    rule = create("first", ON_SMA)["SipRule"]  # AwsRegion defaults to the application's
    assert rule["TargetApplications"][0]["AwsRegion"] == REGION
    with pytest.raises(client.exceptions.ConflictException):
        create("second", ON_SMA)


def test_request_uri_hostname_rules_need_a_voice_connector_host(client: Any, seeded: Seeded) -> None:
    host = client.get_voice_connector(VoiceConnectorId=seeded.vc)["VoiceConnector"]["OutboundHostName"]
    target = [{"SipMediaApplicationId": seeded.sma, "Priority": 1}]
    rule = client.create_sip_rule(
        Name="outbound", TriggerType="RequestUriHostname", TriggerValue=host, TargetApplications=target
    )["SipRule"]
    assert rule["TriggerValue"] == host
    with pytest.raises(client.exceptions.BadRequestException):
        client.create_sip_rule(
            Name="nowhere",
            TriggerType="RequestUriHostname",
            TriggerValue="x.example",
            TargetApplications=target,
        )


def test_update_sip_rule_checks_new_targets(client: Any, seeded: Seeded) -> None:
    rule = make_rule(client, seeded.sma)
    ghost = [{"SipMediaApplicationId": "00000000-0000-0000-0000-000000000000", "Priority": 1}]
    with pytest.raises(client.exceptions.BadRequestException):
        client.update_sip_rule(SipRuleId=rule["SipRuleId"], Name=rule["Name"], TargetApplications=ghost)
    assert (
        client.get_sip_rule(SipRuleId=rule["SipRuleId"])["SipRule"]["TargetApplications"]
        == (rule["TargetApplications"])
    )


def test_list_sip_rules_filters_by_application_and_pages(client: Any, seeded: Seeded) -> None:
    spare = seeded.emulator.create_sip_media_application("spare", LAMBDA_ARN)
    numbers = [f"+1312555{n:04d}" for n in range(120, 125)]
    seeded.emulator.seed_phone_numbers(numbers, product_type="SipMediaApplicationDialIn")
    mine = [make_rule(client, seeded.sma, number)["SipRuleId"] for number in numbers[:3]]
    theirs = [make_rule(client, spare, number)["SipRuleId"] for number in numbers[3:]]

    listed = client.list_sip_rules(SipMediaApplicationId=seeded.sma)["SipRules"]
    assert [r["SipRuleId"] for r in listed] == mine
    assert [r["SipRuleId"] for r in client.list_sip_rules(SipMediaApplicationId=spare)["SipRules"]] == theirs
    first = client.list_sip_rules(MaxResults=4)
    rest = client.list_sip_rules(MaxResults=4, NextToken=first["NextToken"])
    assert [r["SipRuleId"] for r in [*first["SipRules"], *rest["SipRules"]]] == mine + theirs
    assert "NextToken" not in rest


# ------------------------------------------------------------------------------ the routing sequence


def test_route_a_number_to_the_sma_and_back(client: Any, seeded: Seeded) -> None:
    """The calls a forward makes, in the order the service accepts them."""
    number, vc, sma = ON_VC[0], seeded.vc, seeded.sma

    # Set a forward: off the voice connector, product type, enabled ToPhoneNumber rule.
    out = client.disassociate_phone_numbers_from_voice_connector(
        VoiceConnectorId=vc, E164PhoneNumbers=[number]
    )
    assert out["PhoneNumberErrors"] == []
    client.update_phone_number(PhoneNumberId=number, ProductType="SipMediaApplicationDialIn")
    rule = client.create_sip_rule(
        Name="switchboard-" + number.lstrip("+"),
        TriggerType="ToPhoneNumber",
        TriggerValue=number,
        Disabled=False,
        TargetApplications=[{"SipMediaApplicationId": sma, "Priority": 1, "AwsRegion": REGION}],
    )["SipRule"]
    routed = client.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
    assert routed["ProductType"] == "SipMediaApplicationDialIn"
    assert [(a["Name"], a["Value"]) for a in routed["Associations"]] == [("SipRuleId", rule["SipRuleId"])]
    assert [r["SipRuleId"] for r in client.list_sip_rules(SipMediaApplicationId=sma)["SipRules"]] == [
        rule["SipRuleId"]
    ]

    # Remove it: disable, delete, product type back, associate with the voice connector.
    client.update_sip_rule(SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=True)
    client.delete_sip_rule(SipRuleId=rule["SipRuleId"])
    client.update_phone_number(PhoneNumberId=number, ProductType="VoiceConnector")
    back = client.associate_phone_numbers_with_voice_connector(
        VoiceConnectorId=vc, E164PhoneNumbers=[number], ForceAssociate=False
    )
    assert back["PhoneNumberErrors"] == []

    restored = client.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
    assert restored["ProductType"] == "VoiceConnector"
    assert [(a["Name"], a["Value"]) for a in restored["Associations"]] == [("VoiceConnectorId", vc)]
    assert client.list_sip_rules()["SipRules"] == []
    assert seeded.emulator.snapshot()["calls"] == [
        "DisassociatePhoneNumbersFromVoiceConnector",
        "UpdatePhoneNumber",
        "CreateSipRule",
        "GetPhoneNumber",
        "ListSipRules",
        "UpdateSipRule",
        "DeleteSipRule",
        "UpdatePhoneNumber",
        "AssociatePhoneNumbersWithVoiceConnector",
        "GetPhoneNumber",
        "ListSipRules",
    ]


def test_the_steps_out_of_order_are_refused(client: Any, seeded: Seeded) -> None:
    number = ON_VC[0]
    with pytest.raises(client.exceptions.ConflictException):  # still on the voice connector
        client.update_phone_number(PhoneNumberId=number, ProductType="SipMediaApplicationDialIn")
    with pytest.raises(client.exceptions.BadRequestException):  # still product type VoiceConnector
        make_rule(client, seeded.sma, number)
    rule = make_rule(client, seeded.sma)
    with pytest.raises(client.exceptions.ConflictException):  # enabled
        client.delete_sip_rule(SipRuleId=rule["SipRuleId"])
    with pytest.raises(client.exceptions.ConflictException):  # the rule still holds it
        client.update_phone_number(PhoneNumberId=ON_SMA, ProductType="VoiceConnector")
    refused = client.associate_phone_numbers_with_voice_connector(
        VoiceConnectorId=seeded.vc, E164PhoneNumbers=[ON_SMA]
    )
    assert [e["ErrorCode"] for e in refused["PhoneNumberErrors"]] == ["BadRequest"]


def test_the_routing_adapter_round_trips_through_the_emulator(client: Any, seeded: Seeded) -> None:
    routing = ChimeVoiceRouting(client, seeded.sma, seeded.vc)
    number = ON_VC[1]

    routing.route_to_forwarding(number)
    routed = client.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
    assert routed["ProductType"] == "SipMediaApplicationDialIn"
    [rule] = client.list_sip_rules(SipMediaApplicationId=seeded.sma)["SipRules"]
    assert (rule["TriggerValue"], rule["Disabled"]) == (number, False)
    assert "+" not in rule["Name"]

    routing.route_to_voice_connector(number)
    restored = client.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
    assert restored["ProductType"] == "VoiceConnector"
    assert [(a["Name"], a["Value"]) for a in restored["Associations"]] == [("VoiceConnectorId", seeded.vc)]
    assert client.list_sip_rules()["SipRules"] == []


def test_concurrent_rule_creation_for_one_number_lets_exactly_one_win(
    server: ChimeVoiceServer, seeded: Seeded
) -> None:
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def attempt(index: int) -> None:
        own = make_client(server.url)
        barrier.wait()
        try:
            make_rule(own, seeded.sma)
            outcomes.append("created")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["ConflictException"] * 5 + ["created"]
    assert len(seeded.emulator.snapshot()["sip_rules"]) == 1


# ------------------------------------------------------------------------------ UpdateSipMediaApplicationCall


def test_update_sip_media_application_call_invokes_the_callback(client: Any, seeded: Seeded) -> None:
    received: list[tuple[str, str, dict[str, str]]] = []
    seeded.emulator.on_call_update = lambda sma, tx, args: received.append((sma, tx, args))
    arguments = {"Transfer": "true", "TransferTarget": "+12065550111"}

    response = client.update_sip_media_application_call(
        SipMediaApplicationId=seeded.sma, TransactionId="tx-1", Arguments=arguments
    )

    assert status(response) == 202
    assert response["SipMediaApplicationCall"] == {"TransactionId": "tx-1"}
    assert received == [(seeded.sma, "tx-1", arguments)]
    assert seeded.emulator.snapshot()["call_updates"] == [
        {"SipMediaApplicationId": seeded.sma, "TransactionId": "tx-1", "Arguments": arguments}
    ]


def test_update_sip_media_application_call_errors(client: Any, seeded: Seeded) -> None:
    def update(sma: str = seeded.sma, arguments: dict[str, str] | None = None) -> Any:
        return client.update_sip_media_application_call(
            SipMediaApplicationId=sma, TransactionId="tx-1", Arguments=arguments or {}
        )

    with pytest.raises(client.exceptions.NotFoundException):  # no callback: no call in progress
        update()

    def unknown_call(sma: str, tx: str, args: dict[str, str]) -> None:
        raise LookupError(f"no call in progress with transaction id {tx!r}")

    seeded.emulator.on_call_update = unknown_call
    with pytest.raises(client.exceptions.NotFoundException) as excinfo:
        update()
    assert "tx-1" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(client.exceptions.NotFoundException):
        update(sma="00000000-0000-0000-0000-000000000000")

    def refuses(sma: str, tx: str, args: dict[str, str]) -> None:
        raise ValueError("Arguments keys and values must be strings")

    seeded.emulator.on_call_update = refuses
    with pytest.raises(client.exceptions.BadRequestException):
        update()

    seeded.emulator.on_call_update = lambda sma, tx, args: None
    with pytest.raises(client.exceptions.BadRequestException) as excinfo:
        update(arguments={f"k{i}": "v" for i in range(21)})  # at most 20 pairs
    assert "20" in excinfo.value.response["Error"]["Message"]
    assert status(update(arguments={f"k{i}": "v" for i in range(20)})) == 202
    assert len(seeded.emulator.snapshot()["call_updates"]) == 1


# ------------------------------------------------------------------------------ protocol


def test_missing_required_members_are_bad_requests(unchecked: Any, seeded: Seeded) -> None:
    with pytest.raises(unchecked.exceptions.BadRequestException) as excinfo:
        unchecked.create_sip_rule(
            Name="no-trigger-value",
            TriggerType="ToPhoneNumber",
            TargetApplications=[{"SipMediaApplicationId": seeded.sma, "Priority": 1}],
        )
    assert "TriggerValue" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(unchecked.exceptions.BadRequestException) as excinfo:
        unchecked.update_sip_rule(SipRuleId="whatever", Disabled=True)
    assert "Name" in excinfo.value.response["Error"]["Message"]
    with pytest.raises(unchecked.exceptions.BadRequestException):
        unchecked.associate_phone_numbers_with_voice_connector(VoiceConnectorId=seeded.vc)
    with pytest.raises(unchecked.exceptions.BadRequestException):
        unchecked.list_phone_numbers(MaxResults=0)


def test_unknown_operations_and_paths_are_404_with_a_clear_message(
    client: Any, server: ChimeVoiceServer
) -> None:
    with pytest.raises(ClientError) as excinfo:
        client.list_voice_connector_groups()
    code, http_status = error_of(excinfo)
    assert (code, http_status) == ("UnknownOperationException", 404)
    assert "does not implement" in excinfo.value.response["Error"]["Message"]

    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(f"{server.url}/no-such-thing")
    assert raw.value.code == 404
    assert raw.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    body = json.loads(raw.value.read())
    assert body["Code"] == "UnknownOperationException"
    assert "/no-such-thing" in body["Message"]


def test_errors_carry_the_modelled_status_header_and_body(server: ChimeVoiceServer) -> None:
    request = urllib.request.Request(f"{server.url}/sip-rules/nope", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(request)
    assert raw.value.code == 404
    assert raw.value.headers["x-amzn-ErrorType"] == "NotFoundException"
    assert json.loads(raw.value.read()) == {"Code": "NotFoundException", "Message": "SIP rule nope not found"}


def test_timestamps_are_iso_8601_on_the_wire(server: ChimeVoiceServer) -> None:
    with urllib.request.urlopen(f"{server.url}/phone-numbers/%2B12025550100") as response:
        number = json.loads(response.read())["PhoneNumber"]
    assert number["PhoneNumberId"] == "+12025550100"
    assert number["CreatedTimestamp"].endswith("Z")
    assert datetime.fromisoformat(number["CreatedTimestamp"].replace("Z", "+00:00"))


def test_the_endpoint_can_come_from_the_environment(
    server: ChimeVoiceServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME_SDK_VOICE", server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    client = boto3.client("chime-sdk-voice", region_name=REGION)

    assert client.meta.endpoint_url == server.url
    numbers = client.list_phone_numbers()["PhoneNumbers"]
    assert {p["E164PhoneNumber"] for p in numbers} == {*ON_VC, ON_SMA, TOLL_FREE}


# ------------------------------------------------------------------------------ Python API


def test_seeding_refuses_what_the_service_would_not_hold() -> None:
    emulator = ChimeVoiceEmulator()
    with pytest.raises(ValueError, match="voice connector"):
        emulator.seed_phone_numbers(["+12025550100"], voice_connector_id="missing")
    with pytest.raises(ValueError, match="product type"):
        emulator.seed_phone_numbers(["+12025550100"], product_type="BusinessCalling")
    with pytest.raises(ValueError, match="outside the US"):
        emulator.seed_phone_numbers(["+442079460000"])
    with pytest.raises(ValueError, match=r"E\.164"):
        emulator.seed_phone_numbers(["2025550100"])
    vc = emulator.create_voice_connector("pbx")
    with pytest.raises(ValueError, match="VoiceConnector"):
        emulator.seed_phone_numbers(
            ["+12025550100"], product_type="SipMediaApplicationDialIn", voice_connector_id=vc
        )
    assert emulator.snapshot()["phone_numbers"] == {}


def test_snapshot_is_a_copy(seeded: Seeded) -> None:
    snapshot = seeded.emulator.snapshot()
    snapshot["phone_numbers"][ON_VC[0]]["ProductType"] = "SipMediaApplicationDialIn"
    snapshot["sip_rules"]["fake"] = {}
    again = seeded.emulator.snapshot()
    assert again["phone_numbers"][ON_VC[0]]["ProductType"] == "VoiceConnector"
    assert again["sip_rules"] == {}
    assert set(again["voice_connectors"]) == {seeded.vc, seeded.other_vc}
    assert set(again["sip_media_applications"]) == {seeded.sma}


def test_server_start_stop_and_url() -> None:
    server = ChimeVoiceServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert server.start() is server  # idempotent
        assert make_client(server.url).list_phone_numbers()["PhoneNumbers"] == []
    finally:
        server.stop()
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = server.url
