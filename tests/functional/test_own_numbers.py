"""Our own numbers are refused as destinations and transfer targets wherever they are listed.

The DNIS pool's Amazon Connect numbers are in no Chime SDK Voice inventory, so a forward or a
Slack transfer to one was accepted: the call would go into Amazon Connect under a pair no call
holds. The service (every forward surface: CLI, slash command, form, alert button) and the bot's
transfers are built by ``switchboard.wiring`` exactly as deployed, on moto and the Chime SDK Voice
emulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from switchboard import wiring
from switchboard.adapters.pool import DynamoDnisPool
from switchboard.domain.pool import DnisPair
from switchboard.service import ForwardRequest, RefusedError
from switchboard.settings import load
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from tests.functional.conftest import TABLE

pytestmark = pytest.mark.functional

OURS = "+12025550100"
PAIR = DnisPair("+12025550180", "+18005550190")  # the SMA side is in the inventory, Connect's is not
ELSEWHERE = "+13125550199"


@pytest.fixture
def chime() -> Iterator[Any]:
    emulator = ChimeVoiceEmulator(region="us-east-1")
    with ChimeVoiceServer(emulator) as server:
        vc = emulator.create_voice_connector("pbx")
        emulator.seed_phone_numbers([OURS, PAIR.sma_number], voice_connector_id=vc)
        emulator.create_sip_media_application(
            "switchboard", "arn:aws:lambda:us-east-1:123456789012:function:sma"
        )
        yield boto3.client("chime-sdk-voice", endpoint_url=server.url, region_name="us-east-1")


@pytest.fixture
def settings(dynamodb: Any, chime: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    DynamoDnisPool(dynamodb, TABLE).add(PAIR)
    sma_id = chime.list_sip_media_applications()["SipMediaApplications"][0]["SipMediaApplicationId"]
    monkeypatch.setenv("SIP_MEDIA_APPLICATION_ID", sma_id)
    monkeypatch.delenv("MANAGED_NUMBERS", raising=False)
    return load(required=("TABLE_NAME",))


@pytest.mark.parametrize("destination", [PAIR.connect_number, PAIR.sma_number])
def test_a_forward_to_a_number_of_the_dnis_pool_is_refused(
    settings: Any, dynamodb: Any, chime: Any, destination: str
) -> None:
    service = wiring.forwarding_service(settings, need_routing=True, dynamodb=dynamodb, chime=chime)

    with pytest.raises(RefusedError, match="one of our own numbers"):
        service.set_forward(ForwardRequest(OURS, (destination,)), actor="test")
    assert service.get_forward(OURS) is None

    service.set_forward(ForwardRequest(OURS, (ELSEWHERE,)), actor="test")  # the check is not a wall
    assert service.get_forward(OURS) is not None


@pytest.mark.parametrize("number", [PAIR.connect_number, PAIR.sma_number, OURS])
def test_the_bots_transfer_check_knows_the_pool_and_the_inventory(
    settings: Any, dynamodb: Any, chime: Any, number: str
) -> None:
    is_ours = wiring.own_numbers(settings, chime)
    assert is_ours(number)
    assert not is_ours(ELSEWHERE)
