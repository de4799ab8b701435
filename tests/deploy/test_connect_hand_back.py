"""Stack delete with Amazon Connect numbers forwarded: ``Custom::ConnectHandBack`` as CloudFormation runs it.

The Connect API is the local emulator, DynamoDB a moto server holding the template's table, and
CloudFormation's side a local ResponseURL. Forwards are set by the service the bot builds
(``switchboard.wiring``), so each rule records the flow its number had, as in a deployed stack.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from deploy import connect_hand_back, sip_media_application
from switchboard.service import ForwardRequest
from switchboard.settings import Settings
from switchboard.wiring import forwarding_service
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.aws.connect_emulator import ConnectEmulator, ConnectServer
from switchboard_local.aws.template import create_table, load_template
from tests.deploy.conftest import CloudFormation, fake_aws_environment

REGION = "us-east-1"
TABLE = "switchboard-connect-hand-back"
ON_IVR = "+13125550180"  # ran the IVR flow before its first forward
ON_NO_FLOW = "+13125550181"  # ran no flow: only ConnectHomeFlowId says where it goes back
NOT_FORWARDED = "+13125550182"
DESTINATION = "+14155550123"


@dataclass
class World:
    connect: ConnectEmulator
    cloudformation: CloudFormation
    ivr: str
    forwarding: str
    fallback: str

    def forward(self, number: str, *, home_flow: str) -> None:
        settings = Settings(
            table_name=TABLE,
            connect_instance_id=self.connect.instance_id,
            connect_forwarding_flow_id=self.forwarding,
            connect_home_flow_id=home_flow,
        )
        service = forwarding_service(
            settings,
            need_routing=True,
            dynamodb=boto3.client("dynamodb"),
            chime=boto3.client("chime-sdk-voice"),
            connect=boto3.client("connect"),
        )
        service.set_forward(ForwardRequest(number=number, destinations=(DESTINATION,)), actor="U0ADMIN")
        assert self.connect.flow_of(number) == self.forwarding

    def properties(self, *, home_flow: str) -> dict[str, Any]:
        return {
            "InstanceId": self.connect.instance_id,
            "ForwardingFlowId": self.forwarding,
            "HomeFlowId": home_flow,
            "TableName": TABLE,
        }

    def send(self, request_type: str, properties: dict[str, Any], *, physical_id: str = "") -> dict[str, Any]:
        return self.cloudformation.send(
            request_type,
            "Custom::ConnectHandBack",
            properties,
            logical_id="ConnectHandBack",
            physical_id=physical_id or None,
        )


@pytest.fixture
def world(
    moto_endpoint: str, cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    connect = ConnectEmulator(region=REGION)
    ivr = connect.create_flow("Main IVR")
    forwarding = connect.create_flow("switchboard forwarding")
    fallback = connect.create_flow("Default")
    connect.claim(ON_IVR, ivr)
    connect.claim(ON_NO_FLOW)
    connect.claim(NOT_FORWARDED, ivr)
    with ConnectServer(connect) as connect_server, ChimeVoiceServer(ChimeVoiceEmulator()) as chime_server:
        fake_aws_environment(
            monkeypatch,
            REGION,
            AWS_ENDPOINT_URL_DYNAMODB=moto_endpoint,
            AWS_ENDPOINT_URL_CHIME_SDK_VOICE=chime_server.url,
            AWS_ENDPOINT_URL_CONNECT=connect_server.url,
        )
        connect_hand_back.client.cache_clear()
        sip_media_application.dynamodb.cache_clear()
        create_table(boto3.client("dynamodb"), TABLE)
        yield World(connect, cloudformation, ivr, forwarding, fallback)
        connect_hand_back.client.cache_clear()
        sip_media_application.dynamodb.cache_clear()


def test_stack_delete_puts_every_forwarded_connect_number_back_on_its_home_flow(world: World) -> None:
    created = world.send("Create", world.properties(home_flow=world.fallback))
    assert created["Status"] == "SUCCESS", created
    world.forward(ON_IVR, home_flow=world.fallback)
    world.forward(ON_NO_FLOW, home_flow=world.fallback)

    deleted = world.send(
        "Delete", world.properties(home_flow=world.fallback), physical_id=created["PhysicalResourceId"]
    )

    assert deleted["Status"] == "SUCCESS", deleted
    assert world.connect.flow_of(ON_IVR) == world.ivr  # the flow its forward recorded
    assert world.connect.flow_of(ON_NO_FLOW) == world.fallback  # ConnectHomeFlowId
    assert world.connect.flow_of(NOT_FORWARDED) == world.ivr
    assert f"{ON_IVR} to contact flow {world.ivr}" in deleted["Reason"]
    assert f"{ON_NO_FLOW} to contact flow {world.fallback} (ConnectHomeFlowId)" in deleted["Reason"]
    assert NOT_FORWARDED not in deleted["Reason"]


def test_a_number_with_no_known_flow_and_no_home_flow_fails_the_delete_naming_it(world: World) -> None:
    created = world.send("Create", world.properties(home_flow=""))
    world.forward(ON_IVR, home_flow="")
    world.forward(ON_NO_FLOW, home_flow="")

    refused = world.send("Delete", world.properties(home_flow=""), physical_id=created["PhysicalResourceId"])

    assert refused["Status"] == "FAILED", refused
    assert f"cannot hand back {ON_NO_FLOW}" in refused["Reason"]
    assert "ConnectHomeFlowId is empty" in refused["Reason"]
    assert world.connect.flow_of(ON_NO_FLOW) == world.forwarding
    # The others still went home, and the Reason says so.
    assert world.connect.flow_of(ON_IVR) == world.ivr
    assert f"{ON_IVR} to contact flow {world.ivr}" in refused["Reason"]

    # What the Reason asks for: the number moved by hand, then the Delete retried.
    boto3.client("connect").associate_phone_number_contact_flow(
        PhoneNumberId=world.connect.numbers[ON_NO_FLOW].phone_number_id,
        InstanceId=world.connect.instance_id,
        ContactFlowId=world.fallback,
    )
    retried = world.send("Delete", world.properties(home_flow=""), physical_id=created["PhysicalResourceId"])

    assert retried["Status"] == "SUCCESS", retried
    assert f"{ON_NO_FLOW} already off the forwarding flow" in retried["Reason"]
    assert world.connect.flow_of(ON_NO_FLOW) == world.fallback


def _refers_to(value: Any, name: str) -> bool:
    if isinstance(value, dict):
        if value.get("Ref") == name or value.get("Fn::GetAtt", "").split(".")[0] == name:
            return True
        return any(_refers_to(v, name) for v in value.values())
    if isinstance(value, list):
        return any(_refers_to(v, name) for v in value)
    return isinstance(value, str) and f"${{{name}}}" in value


def test_the_template_deletes_the_hand_back_before_the_forwarding_flow_and_grants_only_its_calls() -> None:
    template = load_template()
    resources = template["Resources"]
    hand_back = resources["ConnectHandBack"]
    assert hand_back["Type"] == "Custom::ConnectHandBack"
    assert hand_back["Condition"] == resources["ForwardingContactFlow"]["Condition"]
    # Depending on the flow makes CloudFormation delete this resource (and move the numbers) first.
    assert _refers_to(hand_back["Properties"]["ForwardingFlowId"], "ForwardingContactFlow")
    assert _refers_to(hand_back["Properties"]["HomeFlowId"], "ConnectHomeFlowId")
    assert _refers_to(hand_back["Properties"]["TableName"], "Table")
    assert resources["Table"]["DeletionPolicy"] == "Retain"

    statements = [
        statement
        for policy in resources["DeployHelperFunction"]["Properties"]["Policies"]
        for statement in policy["Statement"]
    ]
    connect = [s for s in statements if any(str(a).startswith("connect:") for a in _listed(s["Action"]))]
    assert [sorted(_listed(s["Action"])) for s in connect] == [
        [
            "connect:AssociatePhoneNumberContactFlow",
            "connect:BatchGetFlowAssociation",
            "connect:ListPhoneNumbersV2",
        ]
    ]
    resource = connect[0]["Resource"]
    assert "*" not in json.dumps(resource).replace("/*", "")  # scoped to the instance's flows and numbers
    assert _refers_to(resource, "ConnectInstanceArn")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
