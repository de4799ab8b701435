"""The stack's lifecycle as CloudFormation drives ``Custom::SipMediaApplication``, with forwards in place.

Chime SDK Voice is the local emulator, DynamoDB a moto server holding the template's table, and
CloudFormation's side a local ResponseURL. Forwards are set and removed the way users do it: the
CLI and the service the bot builds (``switchboard.wiring``). After every step: each number is
routed somewhere it was before (its home, or an enabled rule of ours to an application that
exists), and every request got exactly one answer.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from deploy import sip_media_application
from switchboard import cli, wiring
from switchboard.adapters.chime_voice import ChimeVoiceRouting
from switchboard.service import ForwardRequest
from switchboard.settings import load
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.aws.template import create_table
from tests.deploy.conftest import CloudFormation, fake_aws_environment

REGION = "us-east-1"
TABLE = "switchboard-lifecycle"
SMA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:switchboard-SmaFunction-abc"
NEW_SMA_ARN = SMA_ARN + "2"
NAME = "switchboard-switchboard"
ON_PBX = "+12025550100"  # on the voice connector VoiceConnectorId names
ON_OTHER_PBX = "+12025550101"  # on another voice connector: only its recorded home says so
SPARE = "+12025550102"
FOREIGN = "+12025550103"  # routed by someone else's SIP rule: never touched
DESTINATION = "+13125550122"


@dataclass
class World:
    emulator: ChimeVoiceEmulator
    chime: Any
    cloudformation: CloudFormation
    pbx: str
    other_pbx: str
    foreign_sma: str
    monkeypatch: pytest.MonkeyPatch
    homes: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    # --- CloudFormation -------------------------------------------------------------------------

    def send(
        self,
        request_type: str,
        properties: dict[str, Any] | None,
        *,
        physical_id: str | None = None,
        old: dict[str, Any] | None = None,
        request_id: str = "",
    ) -> dict[str, Any]:
        return self.cloudformation.send(
            request_type,
            "Custom::SipMediaApplication",
            properties,
            logical_id="SipMediaApplication",
            request_id=request_id,
            physical_id=physical_id,
            old_properties=old,
        )

    def deploy(self) -> str:
        """A first deploy: the application created, and its id given to the functions."""
        sma_id: str = self.send("Create", properties(self))["PhysicalResourceId"]
        self.use(sma_id)
        return sma_id

    # --- the Chime SDK Voice state ------------------------------------------------------------------

    def applications(self) -> dict[str, dict[str, Any]]:
        state: dict[str, dict[str, Any]] = self.emulator.snapshot()["sip_media_applications"]
        return state

    def ours(self) -> list[str]:
        return [sma_id for sma_id, sma in self.applications().items() if sma["Name"] == NAME]

    def rules(self) -> list[dict[str, Any]]:
        return list(self.emulator.snapshot()["sip_rules"].values())

    def rule_of(self, number: str) -> dict[str, Any] | None:
        found = [r for r in self.rules() if r["TriggerValue"] == number]
        assert len(found) <= 1
        return found[0] if found else None

    def state(self, number: str) -> tuple[str, tuple[str, ...]]:
        phone = self.emulator.snapshot()["phone_numbers"][number]
        connectors = tuple(a["Value"] for a in phone["Associations"] if a["Name"] == "VoiceConnectorId")
        return phone["ProductType"], connectors

    def assert_routed_somewhere_it_was(self, forwarded_to: str | None) -> None:
        """Home, or forwarded by an enabled rule to ``forwarded_to`` (which must exist)."""
        applications = self.applications()
        for rule in self.rules():
            for target in rule["TargetApplications"]:
                assert target["SipMediaApplicationId"] in applications, f"rule {rule} points at nothing"
        for number, home in self.homes.items():
            rule = self.rule_of(number)
            if rule is None:
                assert self.state(number) == home, f"{number} is neither forwarded nor home"
            else:
                assert not rule["Disabled"], rule
                assert self.state(number) == ("SipMediaApplicationDialIn", ())
                assert [t["SipMediaApplicationId"] for t in rule["TargetApplications"]] == [forwarded_to]
        foreign = self.rule_of(FOREIGN)
        assert foreign is not None
        assert foreign["TargetApplications"][0]["SipMediaApplicationId"] == self.foreign_sma

    # --- users ----------------------------------------------------------------------------------------

    def use(self, sma_id: str) -> None:
        """The functions' environment after a deploy that gave them ``sma_id``."""
        self.monkeypatch.setenv("SIP_MEDIA_APPLICATION_ID", sma_id)

    def forward_with_cli(self, number: str) -> None:
        assert cli.main(["forward", "set", number, DESTINATION]) == 0

    def remove_with_cli(self, number: str) -> None:
        assert cli.main(["forward", "remove", number]) == 0

    def forward_like_the_bot(self, number: str) -> None:
        service = wiring.forwarding_service(load(), need_routing=True)
        service.set_forward(ForwardRequest(number=number, destinations=(DESTINATION,)), actor="U0ADMIN")


@pytest.fixture
def world(
    moto_endpoint: str, cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")).close()
    emulator = ChimeVoiceEmulator()
    pbx = emulator.create_voice_connector("pbx")
    other_pbx = emulator.create_voice_connector("other-pbx")
    foreign_sma = emulator.create_sip_media_application("someone-else", SMA_ARN + "-theirs")
    emulator.seed_phone_numbers([ON_PBX, SPARE], voice_connector_id=pbx)
    emulator.seed_phone_numbers([ON_OTHER_PBX], voice_connector_id=other_pbx)
    emulator.seed_phone_numbers([FOREIGN], product_type="SipMediaApplicationDialIn")
    with ChimeVoiceServer(emulator) as server:
        fake_aws_environment(
            monkeypatch,
            REGION,
            AWS_ENDPOINT_URL_DYNAMODB=moto_endpoint,
            AWS_ENDPOINT_URL_CHIME_SDK_VOICE=server.url,
            TABLE_NAME=TABLE,
            VOICE_CONNECTOR_ID=pbx,
            DEFAULT_COUNTRY="US",
        )
        sip_media_application.client.cache_clear()
        sip_media_application.dynamodb.cache_clear()
        create_table(boto3.client("dynamodb"), TABLE)
        chime = boto3.client("chime-sdk-voice")
        chime.create_sip_rule(
            Name="theirs",
            TriggerType="ToPhoneNumber",
            TriggerValue=FOREIGN,
            TargetApplications=[{"SipMediaApplicationId": foreign_sma, "Priority": 1, "AwsRegion": REGION}],
        )
        world = World(emulator, chime, cloudformation, pbx, other_pbx, foreign_sma, monkeypatch)
        world.homes = {number: world.state(number) for number in (ON_PBX, ON_OTHER_PBX, SPARE)}
        yield world
        sip_media_application.client.cache_clear()
        sip_media_application.dynamodb.cache_clear()


def properties(world: World, *, existing: str = "", endpoint: str = SMA_ARN) -> dict[str, Any]:
    return {
        "Name": NAME,
        "AwsRegion": REGION,
        "Endpoint": endpoint,
        "ExistingSipMediaApplicationId": existing,
        "TableName": TABLE,
        "VoiceConnectorId": world.pbx,
    }


def test_create_forward_update_adopt_unadopt_delete(world: World) -> None:
    # Create, and CloudFormation's retry of the same request: one application.
    created = world.send("Create", properties(world), request_id="create")
    assert created["Status"] == "SUCCESS", created
    first = created["PhysicalResourceId"]
    assert world.send("Create", properties(world), request_id="create")["PhysicalResourceId"] == first
    assert world.ours() == [first]

    # Forwards from the CLI and from the bot's service.
    world.use(first)
    world.forward_with_cli(ON_PBX)
    world.forward_like_the_bot(ON_OTHER_PBX)
    world.assert_routed_somewhere_it_was(forwarded_to=first)

    # An endpoint change updates the application in place: same id, forwards untouched.
    repointed = world.send(
        "Update",
        properties(world, endpoint=NEW_SMA_ARN),
        physical_id=first,
        old=properties(world),
    )
    assert (repointed["Status"], repointed["PhysicalResourceId"]) == ("SUCCESS", first)
    assert world.applications()[first]["Endpoints"] == [{"LambdaArn": NEW_SMA_ARN}]
    world.assert_routed_somewhere_it_was(forwarded_to=first)

    # Adopt an existing application: the forwards move to it, then the old one is cleaned up.
    adopted = world.emulator.create_sip_media_application("pbx-team-sma", NEW_SMA_ARN)
    adopting = world.send(
        "Update",
        properties(world, existing=adopted, endpoint=NEW_SMA_ARN),
        physical_id=first,
        old=properties(world, endpoint=NEW_SMA_ARN),
    )
    assert (adopting["Status"], adopting["PhysicalResourceId"]) == ("SUCCESS", adopted)
    assert ON_PBX in adopting["Reason"]
    world.assert_routed_somewhere_it_was(forwarded_to=adopted)
    cleanup = world.send("Delete", properties(world, endpoint=NEW_SMA_ARN), physical_id=first)
    assert cleanup["Status"] == "SUCCESS", cleanup
    assert world.ours() == []
    world.assert_routed_somewhere_it_was(forwarded_to=adopted)

    # The redeployed bot manages the moved forwards.
    world.use(adopted)
    world.remove_with_cli(ON_PBX)
    world.forward_with_cli(SPARE)
    world.assert_routed_somewhere_it_was(forwarded_to=adopted)

    # Stop adopting: a new application of ours takes the forwards; the adopted one is kept.
    unadopting = world.send(
        "Update",
        properties(world, endpoint=NEW_SMA_ARN),
        physical_id=adopted,
        old=properties(world, existing=adopted, endpoint=NEW_SMA_ARN),
    )
    assert unadopting["Status"] == "SUCCESS", unadopting
    second = unadopting["PhysicalResourceId"]
    assert second not in (first, adopted)
    assert world.ours() == [second]
    world.assert_routed_somewhere_it_was(forwarded_to=second)
    kept = world.send(
        "Delete", properties(world, existing=adopted, endpoint=NEW_SMA_ARN), physical_id=adopted
    )
    assert kept["Status"] == "SUCCESS", kept
    assert adopted in world.applications()
    world.assert_routed_somewhere_it_was(forwarded_to=second)

    # Stack delete with forwards in place: every number home, our rules gone, then the application.
    deleted = world.send("Delete", properties(world, endpoint=NEW_SMA_ARN), physical_id=second)
    assert deleted["Status"] == "SUCCESS", deleted
    assert SPARE in deleted["Reason"]
    assert ON_OTHER_PBX in deleted["Reason"]
    assert second in deleted["Reason"]
    assert world.ours() == []
    assert [rule["TriggerValue"] for rule in world.rules()] == [FOREIGN]
    for number, home in world.homes.items():
        assert world.state(number) == home, number
    # ON_OTHER_PBX went back to the connector its first forward recorded, not VoiceConnectorId's.
    assert world.state(ON_OTHER_PBX) == ("VoiceConnector", (world.other_pbx,))
    world.assert_routed_somewhere_it_was(forwarded_to=None)


def test_delete_of_an_adopted_application_hands_the_forwards_back_and_keeps_it(world: World) -> None:
    adopted = world.emulator.create_sip_media_application("pbx-team-sma", SMA_ARN)
    created = world.send("Create", properties(world, existing=adopted))
    assert (created["Status"], created["PhysicalResourceId"]) == ("SUCCESS", adopted)
    assert world.ours() == []
    world.use(adopted)
    world.forward_with_cli(ON_PBX)

    deleted = world.send("Delete", properties(world, existing=adopted), physical_id=adopted)

    assert deleted["Status"] == "SUCCESS", deleted
    assert "kept" in deleted["Reason"]
    assert ON_PBX in deleted["Reason"]
    assert adopted in world.applications()
    assert world.state(ON_PBX) == world.homes[ON_PBX]
    world.assert_routed_somewhere_it_was(forwarded_to=None)


def test_a_create_the_timeout_guard_answered_leaves_no_orphan(world: World) -> None:
    # The guard answered FAILED (a placeholder id) while the Create went on and made one.
    world.emulator.create_sip_media_application(NAME, SMA_ARN)

    rollback = world.send("Delete", properties(world), physical_id="create-failed-request-1")

    assert rollback["Status"] == "SUCCESS", rollback
    assert world.ours() == []


def test_an_application_deleted_out_of_band_is_made_again_and_keeps_the_forwards(world: World) -> None:
    first = world.deploy()
    world.forward_with_cli(ON_PBX)
    # Someone disables its rule and deletes the application in the console.
    rule = world.rule_of(ON_PBX)
    assert rule is not None
    world.chime.update_sip_rule(SipRuleId=rule["SipRuleId"], Name=rule["Name"], Disabled=True)
    world.chime.delete_sip_media_application(SipMediaApplicationId=first)

    updated = world.send(
        "Update", properties(world, endpoint=NEW_SMA_ARN), physical_id=first, old=properties(world)
    )

    assert updated["Status"] == "SUCCESS", updated
    again = updated["PhysicalResourceId"]
    assert again != first
    assert world.ours() == [again]
    world.assert_routed_somewhere_it_was(forwarded_to=again)
    # CloudFormation then deletes the old id: already gone, nothing to hand back.
    assert world.send("Delete", properties(world), physical_id=first)["Status"] == "SUCCESS"
    world.assert_routed_somewhere_it_was(forwarded_to=again)


def test_delete_without_properties_answers_success(world: World) -> None:
    first = world.send("Create", properties(world))["PhysicalResourceId"]

    deleted = world.send("Delete", None, physical_id=first)

    assert deleted["Status"] == "SUCCESS", deleted
    assert world.ours() == []


def test_a_number_that_cannot_go_back_fails_the_delete_with_the_way_out(world: World) -> None:
    first = world.deploy()
    world.forward_with_cli(ON_PBX)
    # The voice connector goes away behind everyone's back (the emulator has no API for it).
    world.emulator._connectors.pop(world.pbx)

    deleted = world.send("Delete", properties(world), physical_id=first)

    assert deleted["Status"] == "FAILED"
    assert ON_PBX in deleted["Reason"]
    assert "delete again" in deleted["Reason"]
    # The forward is intact, so calls still work and the next Delete can try again.
    assert first in world.applications()
    rule = world.rule_of(ON_PBX)
    assert rule is not None
    assert not rule["Disabled"]


def test_a_rolled_back_adoption_brings_the_forwards_back(world: World) -> None:
    first = world.deploy()
    world.forward_with_cli(ON_PBX)
    adopted = world.emulator.create_sip_media_application("pbx-team-sma", SMA_ARN)
    adopting = world.send(
        "Update", properties(world, existing=adopted), physical_id=first, old=properties(world)
    )
    assert adopting["PhysicalResourceId"] == adopted
    world.assert_routed_somewhere_it_was(forwarded_to=adopted)

    # A later resource fails: CloudFormation sends the old properties back to the new id, then
    # deletes the id the rollback replaced (with the properties it had: adopted).
    rollback = world.send(
        "Update", properties(world), physical_id=adopted, old=properties(world, existing=adopted)
    )
    assert (rollback["Status"], rollback["PhysicalResourceId"]) == ("SUCCESS", first)
    world.assert_routed_somewhere_it_was(forwarded_to=first)
    cleanup = world.send("Delete", properties(world, existing=adopted), physical_id=adopted)
    assert cleanup["Status"] == "SUCCESS", cleanup
    assert adopted in world.applications()
    assert world.ours() == [first]
    world.assert_routed_somewhere_it_was(forwarded_to=first)


def test_adopting_an_application_that_does_not_exist_fails_with_the_way_out(world: World) -> None:
    created = world.send("Create", properties(world, existing="no-such-sma"))

    assert created["Status"] == "FAILED"
    assert "ExistingSipMediaApplicationId no-such-sma" in created["Reason"]
    assert "leave the parameter empty" in created["Reason"]
    assert world.send("Delete", properties(world), physical_id=created["PhysicalResourceId"])["Status"] == (
        "SUCCESS"
    )
    assert world.ours() == []


def test_a_rule_someone_else_pointed_at_our_application_is_left_alone_and_named(world: World) -> None:
    first = world.send("Create", properties(world))["PhysicalResourceId"]
    # The PBX team points their own rule at our application.
    theirs = world.rule_of(FOREIGN)
    assert theirs is not None
    world.chime.update_sip_rule(
        SipRuleId=theirs["SipRuleId"],
        Name=theirs["Name"],
        TargetApplications=[{"SipMediaApplicationId": first, "Priority": 1, "AwsRegion": REGION}],
    )

    deleted = world.send("Delete", properties(world), physical_id=first)

    assert deleted["Status"] == "FAILED"
    assert "not named switchboard-<digits>" in deleted["Reason"]
    assert world.rule_of(FOREIGN) is not None
    assert first in world.applications()


def test_the_rollback_of_a_move_that_failed_half_way_brings_every_forward_back(world: World) -> None:
    first = world.deploy()
    world.forward_with_cli(ON_PBX)
    world.forward_with_cli(SPARE)
    adopted = world.emulator.create_sip_media_application("pbx-team-sma", SMA_ARN)
    # The adopting Update moved ON_PBX's rule, then failed (answered FAILED, keeping `first`).
    rule = world.rule_of(ON_PBX)
    assert rule is not None
    world.chime.update_sip_rule(
        SipRuleId=rule["SipRuleId"],
        Name=rule["Name"],
        TargetApplications=[{"SipMediaApplicationId": adopted, "Priority": 1, "AwsRegion": REGION}],
    )

    rollback = world.send(
        "Update", properties(world), physical_id=first, old=properties(world, existing=adopted)
    )

    assert (rollback["Status"], rollback["PhysicalResourceId"]) == ("SUCCESS", first)
    world.assert_routed_somewhere_it_was(forwarded_to=first)


def test_a_table_that_cannot_be_read_fails_the_delete_before_any_change(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.deploy()
    world.forward_like_the_bot(ON_OTHER_PBX)
    # Throttled, or no permission: anything but "no such table".
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    sip_media_application.dynamodb.cache_clear()

    deleted = world.send("Delete", properties(world), physical_id=first)

    assert deleted["Status"] == "FAILED"
    assert "delete again" in deleted["Reason"]
    world.assert_routed_somewhere_it_was(forwarded_to=first)
    assert first in world.applications()


def test_a_table_deleted_by_hand_sends_every_number_to_the_voice_connector(world: World) -> None:
    first = world.deploy()
    world.forward_with_cli(ON_PBX)
    boto3.client("dynamodb").delete_table(TableName=TABLE)

    deleted = world.send("Delete", properties(world), physical_id=first)

    assert deleted["Status"] == "SUCCESS", deleted
    assert world.state(ON_PBX) == world.homes[ON_PBX]
    assert world.ours() == []


def test_a_failed_create_rolls_back_even_when_listing_applications_is_denied(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sip_media_application.client

    class Denied:
        cache_clear = real.cache_clear  # the fixture clears the cache through this name

        def __init__(self, region: str | None) -> None:
            self._client = real(region)

        def __getattr__(self, name: str) -> Any:
            if name == "list_sip_media_applications":
                error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
                raise ClientError(error, "ListSipMediaApplications")
            return getattr(self._client, name)

    monkeypatch.setattr(sip_media_application, "client", Denied)

    rollback = world.send("Delete", properties(world), physical_id="create-failed-request-1")

    assert rollback["Status"] == "SUCCESS", rollback


def test_a_number_with_no_recorded_home_and_no_voice_connector_loses_its_rule_and_is_named(
    world: World,
) -> None:
    no_connector = {**properties(world), "VoiceConnectorId": ""}
    first = world.send("Create", no_connector)["PhysicalResourceId"]
    # Forwarded before homes were recorded: a rule on the number, nothing in the table.
    ChimeVoiceRouting(world.chime, first).route_to_forwarding(SPARE)

    deleted = world.send("Delete", no_connector, physical_id=first)

    assert deleted["Status"] == "SUCCESS", deleted
    assert "no recorded home" in deleted["Reason"]
    assert SPARE in deleted["Reason"]
    assert world.rule_of(SPARE) is None
    assert world.ours() == []
