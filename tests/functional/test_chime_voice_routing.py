"""ChimeVoiceRouting and ChimePhoneInventory against the Chime SDK Voice emulator (real boto3 client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from switchboard.adapters.chime_voice import ChimePhoneInventory, ChimeVoiceRouting
from switchboard.domain.rules import NumberHome
from switchboard.policy import DestinationPolicy
from switchboard.ports import NoHomeError, RoutingError
from switchboard.service import ForwardingService, ForwardRequest, RefusedError
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from tests.fakes import MemoryRules, StaticInventory

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


def test_inventory_lists_our_numbers_and_honours_managed_numbers(chime: Emulated) -> None:
    assert ChimePhoneInventory(chime.client).our_numbers() == [OURS, SPARE]
    assert ChimePhoneInventory(chime.client, managed=(SPARE, "+19999999999")).our_numbers() == [SPARE]


def test_inventory_pages_through_large_accounts(chime: Emulated) -> None:
    many = [f"+1202555{n:04d}" for n in range(200, 330)]
    chime.emulator.seed_phone_numbers(many)
    numbers = ChimePhoneInventory(chime.client).our_numbers()
    assert len(numbers) == 132
    assert set(many) <= set(numbers)


# -- where a number goes back to (issue 11 item 8) and failed rollbacks (item 9) -----------------


class PhoneNumberErrorsOnAssociate:
    """The real client, but AssociatePhoneNumbersWithVoiceConnector reports a per-number failure."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta

    def associate_phone_numbers_with_voice_connector(self, **params: Any) -> dict[str, Any]:
        number = params["E164PhoneNumbers"][0]
        return {
            "PhoneNumberErrors": [
                {"PhoneNumberId": number, "ErrorCode": "Conflict", "ErrorMessage": "injected"}
            ]
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
def elsewhere(chime: Emulated) -> str:
    """A second voice connector, where OURS lives (not the configured VOICE_CONNECTOR_ID)."""
    other = chime.emulator.create_voice_connector("branch-office")
    chime.client.associate_phone_numbers_with_voice_connector(
        VoiceConnectorId=other, E164PhoneNumbers=[OURS], ForceAssociate=True
    )
    assert chime.connectors() == [other]
    return other


def test_removal_puts_the_number_back_on_its_own_voice_connector(chime: Emulated, elsewhere: str) -> None:
    routing = ChimeVoiceRouting(chime.client, chime.sma, chime.vc)
    home = routing.home(OURS)
    assert home == NumberHome("VoiceConnector", (elsewhere,))

    routing.route_to_forwarding(OURS)
    routing.route_to_voice_connector(OURS, home)

    assert chime.phone()["ProductType"] == "VoiceConnector"
    assert chime.connectors() == [elsewhere]  # not the configured fallback
    assert chime.rules() == []


def test_a_number_that_was_on_no_voice_connector_falls_back_to_the_configured_one(chime: Emulated) -> None:
    chime.client.disassociate_phone_numbers_from_voice_connector(
        VoiceConnectorId=chime.vc, E164PhoneNumbers=[OURS]
    )
    routing = ChimeVoiceRouting(chime.client, chime.sma, chime.vc)
    home = routing.home(OURS)
    assert home == NumberHome("VoiceConnector", ())
    routing.route_to_forwarding(OURS)
    routing.route_to_voice_connector(OURS, home)
    assert chime.connectors() == [chime.vc]


def test_without_a_home_or_a_voice_connector_removal_is_refused_before_any_step(chime: Emulated) -> None:
    routing = ChimeVoiceRouting(chime.client, chime.sma, "")
    routing.route_to_forwarding(OURS)
    before = (chime.phone()["ProductType"], chime.connectors(), chime.rules())

    with pytest.raises(NoHomeError, match="VOICE_CONNECTOR_ID"):
        routing.route_to_voice_connector(OURS, NumberHome("VoiceConnector", ()))
    with pytest.raises(NoHomeError):
        routing.route_to_voice_connector(OURS, None)

    assert (chime.phone()["ProductType"], chime.connectors(), chime.rules()) == before


def test_a_failed_re_associate_during_rollback_is_reported_as_not_undone(chime: Emulated) -> None:
    """CreateSipRule fails; undoing the disassociate then fails with PhoneNumberErrors."""
    routing = ChimeVoiceRouting(
        FailingClient(PhoneNumberErrorsOnAssociate(chime.client), "create_sip_rule"), chime.sma, chime.vc
    )
    with pytest.raises(RoutingError, match="CreateSipRule failed: ServiceFailureException") as caught:
        routing.route_to_forwarding(OURS)
    assert not caught.value.undone
    assert chime.connectors() == []  # the truth the report owns up to: the number is on nothing


def test_the_service_stores_the_home_keeps_it_across_edits_and_restores_it(
    chime: Emulated, elsewhere: str
) -> None:
    rules = MemoryRules()
    service = ForwardingService(
        rules,
        ChimeVoiceRouting(chime.client, chime.sma, ""),  # no fallback configured
        StaticInventory(OURS, SPARE),
        DestinationPolicy(),
    )
    service.set_forward(ForwardRequest(OURS, ["+12065550111"]), actor="U1")
    assert rules.rules[OURS].home == NumberHome("VoiceConnector", (elsewhere,))
    service.set_forward(ForwardRequest(OURS, ["+13125550122"]), actor="U1")
    assert rules.rules[OURS].home == NumberHome("VoiceConnector", (elsewhere,))

    assert service.remove_forward(OURS, actor="U1").changed
    assert chime.phone()["ProductType"] == "VoiceConnector"
    assert chime.connectors() == [elsewhere]


def test_the_service_refuses_a_removal_that_would_leave_the_number_on_nothing(chime: Emulated) -> None:
    chime.client.disassociate_phone_numbers_from_voice_connector(
        VoiceConnectorId=chime.vc, E164PhoneNumbers=[OURS]
    )
    rules = MemoryRules()
    service = ForwardingService(
        rules, ChimeVoiceRouting(chime.client, chime.sma, ""), StaticInventory(OURS), DestinationPolicy()
    )
    service.set_forward(ForwardRequest(OURS, ["+12065550111"]), actor="U1")

    with pytest.raises(RefusedError, match=r"routed nowhere.*Set VOICE_CONNECTOR_ID"):
        service.remove_forward(OURS, actor="U1")

    assert OURS in rules.rules  # still forwarding: callers reach the destinations
    assert chime.phone()["ProductType"] == "SipMediaApplicationDialIn"
    assert [r["Disabled"] for r in chime.rules()] == [False]
    assert rules.guards == {}
