"""Routing Amazon Connect numbers: ForwardingService over BackendRouting, the real boto3 ``connect``
client against the Connect API emulator, the Chime SDK Voice emulator for the other backend, moto
for the table. A forward associates the number with the forwarding flow; removing it puts back the
flow it had (kept as the rule's home_routing), else CONNECT_HOME_FLOW_ID."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from switchboard.adapters.connect_routing import ConnectNumbers
from switchboard.service import ForwardRequest, RefusedError
from switchboard.settings import Settings
from switchboard.wiring import forwarding_service
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from switchboard_local.aws.connect_emulator import ConnectEmulator, ConnectServer
from tests.functional.conftest import TABLE

pytestmark = pytest.mark.functional

CONNECT_NUMBER, OTHER_CONNECT_NUMBER = "+13125550180", "+13125550181"
CHIME_NUMBER = "+12025550111"
SMA_ID = "sma-1"
DESTINATION = "+14155550123"


class Stack:
    def __init__(self, connect: ConnectEmulator, connect_url: str, chime_url: str, dynamodb: Any) -> None:
        self.connect = connect
        self.ivr = connect.create_flow("Main IVR")
        self.forwarding = connect.create_flow("switchboard forwarding")
        self.fallback = connect.create_flow("Default")
        connect.claim(CONNECT_NUMBER, self.ivr)
        connect.claim(OTHER_CONNECT_NUMBER)  # on no flow
        self.connect_client = boto3.client("connect", endpoint_url=connect_url)
        self.chime_client = boto3.client("chime-sdk-voice", endpoint_url=chime_url)
        self.dynamodb = dynamodb

    def service(self, *, home_flow: str = "", sip_media_application: str = "") -> Any:
        """Amazon Connect only, unless ``sip_media_application`` names one (both backends)."""
        settings = Settings(
            table_name=TABLE,
            sip_media_application_id=sip_media_application,
            connect_instance_id=self.connect.instance_id,
            connect_forwarding_flow_id=self.forwarding,
            connect_home_flow_id=home_flow,
        )
        return forwarding_service(
            settings,
            need_routing=True,
            dynamodb=self.dynamodb,
            chime=self.chime_client,
            connect=self.connect_client,
        )


@pytest.fixture
def stack(dynamodb: Any) -> Iterator[Stack]:
    chime = ChimeVoiceEmulator(region="us-east-1")
    chime.seed_phone_numbers([CHIME_NUMBER])
    with ConnectServer(ConnectEmulator()) as connect, ChimeVoiceServer(chime) as chime_server:
        yield Stack(connect.connect, connect.url, chime_server.url, dynamodb)


def set_forward(service: Any, number: str) -> Any:
    return service.set_forward(ForwardRequest(number=number, destinations=(DESTINATION,)), actor="U1")


def test_a_forward_moves_a_connect_number_to_the_forwarding_flow_and_back(stack: Stack) -> None:
    service = stack.service()

    set_forward(service, CONNECT_NUMBER)
    assert stack.connect.flow_of(CONNECT_NUMBER) == stack.forwarding
    stored = service.stored_forward(CONNECT_NUMBER)
    assert stored.home.contact_flow == stack.ivr

    service.remove_forward(CONNECT_NUMBER, actor="U1")
    assert stack.connect.flow_of(CONNECT_NUMBER) == stack.ivr
    assert service.stored_forward(CONNECT_NUMBER) is None


def test_a_number_with_no_known_flow_goes_to_the_home_flow(stack: Stack) -> None:
    service = stack.service(home_flow=stack.fallback)

    set_forward(service, OTHER_CONNECT_NUMBER)
    service.remove_forward(OTHER_CONNECT_NUMBER, actor="U1")

    assert stack.connect.flow_of(OTHER_CONNECT_NUMBER) == stack.fallback


def test_without_a_home_flow_the_removal_is_refused_and_the_forward_stays(stack: Stack) -> None:
    service = stack.service()
    set_forward(service, OTHER_CONNECT_NUMBER)

    with pytest.raises(RefusedError, match="CONNECT_HOME_FLOW_ID"):
        service.remove_forward(OTHER_CONNECT_NUMBER, actor="U1")

    assert stack.connect.flow_of(OTHER_CONNECT_NUMBER) == stack.forwarding
    assert service.stored_forward(OTHER_CONNECT_NUMBER) is not None


def test_with_both_backends_our_numbers_are_both_inventories(stack: Stack) -> None:
    service = stack.service(sip_media_application=SMA_ID)
    assert service.inventory_numbers() == sorted([CHIME_NUMBER, CONNECT_NUMBER, OTHER_CONNECT_NUMBER])


def test_a_number_in_both_backends_is_refused_saying_so(stack: Stack) -> None:
    stack.connect.claim(CHIME_NUMBER, stack.ivr)

    with pytest.raises(RefusedError, match="both a Chime SDK Voice number and claimed in Amazon Connect"):
        set_forward(stack.service(sip_media_application=SMA_ID), CHIME_NUMBER)

    assert stack.connect.flow_of(CHIME_NUMBER) == stack.ivr


def test_amazon_connect_alone_never_asks_chime_sdk_voice(stack: Stack) -> None:
    """A Connect-only stack has no Chime SDK Voice permissions (template.yaml): any call would be
    AccessDenied, so the inventory, a forward and its removal must not make one."""
    from botocore.stub import Stubber

    service = stack.service(home_flow=stack.fallback)
    with Stubber(stack.chime_client):  # nothing stubbed: any Chime SDK Voice call fails the test
        assert service.inventory_numbers() == sorted([CONNECT_NUMBER, OTHER_CONNECT_NUMBER])
        set_forward(service, CONNECT_NUMBER)
        service.remove_forward(CONNECT_NUMBER, actor="U1")
        # Its numbers could not be forwarded without a SIP media application anyway; the refusal
        # says what to configure for them.
        with pytest.raises(RefusedError, match=r"not one of our phone numbers .*SIP_MEDIA_APPLICATION_ID"):
            set_forward(service, CHIME_NUMBER)
    assert stack.connect.flow_of(CONNECT_NUMBER) == stack.ivr


def test_the_inventory_is_cached_for_a_minute(stack: Stack) -> None:
    now = [0.0]
    numbers = ConnectNumbers(stack.connect_client, stack.connect.instance_id, clock=lambda: now[0])

    numbers.our_numbers()
    numbers.our_numbers()
    now[0] = 61.0
    numbers.our_numbers()

    assert [op for op, _ in stack.connect.calls].count("ListPhoneNumbersV2") == 2


def test_with_connect_alone_a_number_outside_the_instance_is_refused_saying_why(stack: Stack) -> None:
    from switchboard.adapters.connect_routing import BackendRouting, ConnectRouting
    from switchboard.ports import NumberPlacementError

    numbers = ConnectNumbers(stack.connect_client, stack.connect.instance_id)
    routing = BackendRouting(
        None,
        None,
        numbers,
        ConnectRouting(stack.connect_client, numbers, stack.connect.instance_id, stack.forwarding),
    )

    assert routing.backend_of(CONNECT_NUMBER) == "connect"
    with pytest.raises(NumberPlacementError, match="no SIP media application is configured"):
        routing.route_to_voice_connector(CHIME_NUMBER)
