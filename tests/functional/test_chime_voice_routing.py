"""ChimeVoiceRouting and ChimePhoneInventory against the Chime SDK Voice emulator (real boto3 client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from switchboard.adapters.chime_voice import ChimePhoneInventory, ChimeVoiceRouting
from switchboard.local.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard.ports import RoutingError

OURS = "+12025550100"
SPARE = "+12025550101"


class Emulated:
    def __init__(self, emulator: ChimeVoiceEmulator, client: Any, vc: str, sma: str) -> None:
        self.emulator, self.client, self.vc, self.sma = emulator, client, vc, sma

    def phone(self, number: str = OURS) -> dict[str, Any]:
        phone: dict[str, Any] = self.client.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
        return phone

    def connectors(self, number: str = OURS) -> list[str]:
        return [a["Value"] for a in self.phone(number)["Associations"] if a["Name"] == "VoiceConnectorId"]

    def rules(self, number: str = OURS) -> list[dict[str, Any]]:
        return [r for r in self.client.list_sip_rules()["SipRules"] if r["TriggerValue"] == number]


@pytest.fixture
def chime() -> Iterator[Emulated]:
    emulator = ChimeVoiceEmulator()
    vc = emulator.create_voice_connector("pbx")
    sma = emulator.create_sip_media_application(
        "switchboard", "arn:aws:lambda:us-east-1:123456789012:function:sma"
    )
    emulator.seed_phone_numbers([OURS, SPARE], voice_connector_id=vc)
    with ChimeVoiceServer(emulator) as server:
        client = boto3.client(
            "chime-sdk-voice",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        yield Emulated(emulator, client, vc, sma)


class FailingClient:
    """The real client, except one operation raises the error the service would send."""

    def __init__(self, client: Any, operation: str, code: str = "ServiceFailureException") -> None:
        self._client, self._operation, self._code = client, operation, code
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        if name == self._operation:

            def fail(**_: Any) -> None:
                operation = self._client.meta.method_to_api_mapping[name]
                raise ClientError({"Error": {"Code": self._code, "Message": "injected"}}, operation)

            return fail
        return getattr(self._client, name)


def test_route_to_forwarding_and_back(chime: Emulated) -> None:
    routing = ChimeVoiceRouting(chime.client, chime.sma, chime.vc)

    steps = routing.route_to_forwarding(OURS)
    assert len(steps) == 3
    assert chime.phone()["ProductType"] == "SipMediaApplicationDialIn"
    assert chime.connectors() == []
    (rule,) = chime.rules()
    assert rule["Name"] == "switchboard-12025550100"
    assert rule["TriggerType"] == "ToPhoneNumber"
    assert not rule["Disabled"]
    assert rule["TargetApplications"][0]["SipMediaApplicationId"] == chime.sma

    steps = routing.route_to_voice_connector(OURS)
    assert [s.split()[0] for s in steps] == ["disabled", "deleted", "set", "associated"]
    assert chime.phone()["ProductType"] == "VoiceConnector"
    assert chime.connectors() == [chime.vc]
    assert chime.rules() == []


def test_routing_is_idempotent(chime: Emulated) -> None:
    routing = ChimeVoiceRouting(chime.client, chime.sma, chime.vc)
    routing.route_to_forwarding(OURS)
    assert routing.route_to_forwarding(OURS) == []
    assert len(chime.rules()) == 1
    routing.route_to_voice_connector(OURS)
    assert routing.route_to_voice_connector(OURS) == []


def test_a_disabled_rule_is_re_enabled_rather_than_duplicated(chime: Emulated) -> None:
    routing = ChimeVoiceRouting(chime.client, chime.sma, chime.vc)
    routing.route_to_forwarding(OURS)
    (rule,) = chime.rules()
    chime.client.update_sip_rule(SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=True)
    assert routing.route_to_forwarding(OURS) == [f"enabled SIP rule {rule['SipRuleId']}"]
    assert [r["Disabled"] for r in chime.rules()] == [False]


def test_failure_midway_to_forwarding_undoes_every_earlier_step(chime: Emulated) -> None:
    before = (chime.phone()["ProductType"], chime.connectors(), chime.rules())
    routing = ChimeVoiceRouting(FailingClient(chime.client, "create_sip_rule"), chime.sma, chime.vc)

    with pytest.raises(RoutingError, match="CreateSipRule failed: ServiceFailureException") as caught:
        routing.route_to_forwarding(OURS)

    assert caught.value.undone
    assert (chime.phone()["ProductType"], chime.connectors(), chime.rules()) == before


def test_failure_midway_back_to_the_voice_connector_restores_forwarding(chime: Emulated) -> None:
    ChimeVoiceRouting(chime.client, chime.sma, chime.vc).route_to_forwarding(OURS)
    routing = ChimeVoiceRouting(
        FailingClient(chime.client, "associate_phone_numbers_with_voice_connector"), chime.sma, chime.vc
    )
    with pytest.raises(RoutingError) as caught:
        routing.route_to_voice_connector(OURS)

    assert caught.value.undone
    assert chime.phone()["ProductType"] == "SipMediaApplicationDialIn"
    assert [r["Disabled"] for r in chime.rules()] == [False]
    assert chime.connectors() == []


def test_a_number_routed_to_another_application_is_not_taken_over(chime: Emulated) -> None:
    other = chime.emulator.create_sip_media_application(
        "someone-else", "arn:aws:lambda:us-east-1:1:function:x"
    )
    chime.client.disassociate_phone_numbers_from_voice_connector(
        VoiceConnectorId=chime.vc, E164PhoneNumbers=[OURS]
    )
    chime.client.update_phone_number(PhoneNumberId=OURS, ProductType="SipMediaApplicationDialIn")
    chime.client.create_sip_rule(
        Name="theirs",
        TriggerType="ToPhoneNumber",
        TriggerValue=OURS,
        TargetApplications=[{"SipMediaApplicationId": other, "Priority": 1, "AwsRegion": "us-east-1"}],
    )
    with pytest.raises(RoutingError, match="another SIP media application"):
        ChimeVoiceRouting(chime.client, chime.sma, chime.vc).route_to_forwarding(OURS)
    assert [r["Name"] for r in chime.rules()] == ["theirs"]


def test_without_a_voice_connector_removal_leaves_the_number_unassociated(chime: Emulated) -> None:
    routing = ChimeVoiceRouting(chime.client, chime.sma, "")
    routing.route_to_forwarding(OURS)
    routing.route_to_voice_connector(OURS)
    assert chime.phone()["ProductType"] == "VoiceConnector"
    assert chime.connectors() == []


def test_inventory_lists_our_numbers_and_honours_managed_numbers(chime: Emulated) -> None:
    assert ChimePhoneInventory(chime.client).our_numbers() == [OURS, SPARE]
    assert ChimePhoneInventory(chime.client, managed=(SPARE, "+19999999999")).our_numbers() == [SPARE]


def test_inventory_pages_through_large_accounts(chime: Emulated) -> None:
    many = [f"+1202555{n:04d}" for n in range(200, 330)]
    chime.emulator.seed_phone_numbers(many)
    numbers = ChimePhoneInventory(chime.client).our_numbers()
    assert len(numbers) == 132
    assert set(many) <= set(numbers)
