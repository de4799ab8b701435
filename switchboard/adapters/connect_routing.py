"""Amazon Connect adapters: the numbers claimed in the instance, and which flow each one runs.

Routing a Connect number is a single call, ``AssociatePhoneNumberContactFlow``: to the forwarding
flow (``CONNECT_FORWARDING_FLOW_ID``) when a forward is set, back to the flow it had before (read
with ``BatchGetFlowAssociation`` and kept as the rule's ``home_routing``) when it is removed, with
``CONNECT_HOME_FLOW_ID`` as the fallback. One call needs no saga: it either happened or not.

:class:`BackendRouting` puts both backends behind the one :class:`~switchboard.ports.NumberRouting`
and :class:`~switchboard.ports.PhoneInventory` the service knows: the backend is chosen per number
by the inventory it is in (the Chime SDK Voice inventory or the Connect instance's claimed
numbers), so :class:`~switchboard.service.ForwardingService` stays backend-neutral.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from switchboard.adapters.chime_voice import describe_error
from switchboard.domain.rules import CONNECT_PRODUCT, NumberHome
from switchboard.ports import InventoryError, NumberPlacementError, NumberRouting, RoutingError

VOICE_PHONE_NUMBER = "VOICE_PHONE_NUMBER"
INVENTORY_SECONDS = 60.0  # Connect's APIs allow a few requests a second per account


@dataclass(frozen=True, slots=True)
class ClaimedNumber:
    number: str
    phone_number_id: str
    arn: str


class ConnectNumbers:
    """The instance's claimed numbers (``ListPhoneNumbersV2``), cached for a minute.

    ``managed`` (``MANAGED_NUMBERS``) narrows them, as it narrows the Chime inventory.
    """

    def __init__(
        self,
        client: Any,
        instance_id: str,
        managed: Sequence[str] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._instance = instance_id
        self._managed = frozenset(managed)
        self._clock = clock
        self._cached: tuple[float, dict[str, ClaimedNumber]] | None = None

    def claimed(self) -> dict[str, ClaimedNumber]:
        now = self._clock()
        if self._cached is not None and now - self._cached[0] < INVENTORY_SECONDS:
            return self._cached[1]
        found: dict[str, ClaimedNumber] = {}
        request: dict[str, Any] = {"InstanceId": self._instance, "MaxResults": 100}
        try:
            while True:
                page = self._client.list_phone_numbers_v2(**request)
                for summary in page.get("ListPhoneNumbersSummaryList", []):
                    number = str(summary.get("PhoneNumber") or "")
                    if number and (not self._managed or number in self._managed):
                        found[number] = ClaimedNumber(
                            number,
                            str(summary.get("PhoneNumberId") or ""),
                            str(summary.get("PhoneNumberArn") or ""),
                        )
                if not page.get("NextToken"):
                    break
                request["NextToken"] = page["NextToken"]
        except (ClientError, BotoCoreError) as error:
            raise InventoryError(
                f"could not list the Amazon Connect numbers: {describe_error(error)}"
            ) from error
        self._cached = (now, found)
        return found

    def our_numbers(self) -> list[str]:
        return sorted(self.claimed())


class ConnectRouting:
    """:class:`~switchboard.ports.NumberRouting` for numbers claimed in one Connect instance."""

    def __init__(
        self,
        client: Any,
        numbers: ConnectNumbers,
        instance_id: str,
        forwarding_flow_id: str,
        home_flow_id: str = "",
    ) -> None:
        self._client = client
        self._numbers = numbers
        self._instance = instance_id
        self._forwarding = forwarding_flow_id
        self._fallback = home_flow_id

    def _claimed(self, number: str) -> ClaimedNumber:
        try:
            claimed = self._numbers.claimed().get(number)
        except InventoryError as error:
            raise RoutingError(str(error)) from error
        if claimed is None:
            raise RoutingError(f"{number} is not claimed in the Amazon Connect instance")
        return claimed

    def current_flow(self, number: str) -> str:
        """The flow ``number`` runs now ("" when it has none)."""
        claimed = self._claimed(number)
        try:
            # Whether ResourceId is the number's ARN or its id is not documented: ask for both.
            answer = self._client.batch_get_flow_association(
                InstanceId=self._instance,
                ResourceIds=[claimed.arn, claimed.phone_number_id],
                ResourceType=VOICE_PHONE_NUMBER,
            )
        except (ClientError, BotoCoreError) as error:
            raise RoutingError(describe_error(error)) from error
        for summary in answer.get("FlowAssociationSummaryList", []):
            if summary.get("ResourceId") in (claimed.arn, claimed.phone_number_id):
                return str(summary.get("FlowId") or "")
        return ""

    def home(self, number: str) -> NumberHome:
        flow = self.current_flow(number)
        # Already on the forwarding flow (a change that crashed half-way): its real home is unknown.
        return NumberHome(CONNECT_PRODUCT, contact_flow="" if flow == self._forwarding else flow)

    def route_to_forwarding(self, number: str) -> list[str]:
        self._associate(number, self._forwarding)
        return [f"associated {number} with the forwarding flow"]

    def route_to_voice_connector(self, number: str, home: NumberHome | None = None) -> list[str]:
        """Back to the flow ``number`` had before its first forward, else ``CONNECT_HOME_FLOW_ID``."""
        flow = (home.contact_flow if home is not None else "") or self._fallback
        if not flow or flow == self._forwarding:
            raise NumberPlacementError(
                f"Removing the forward on {number} would leave it on the forwarding flow with no forward: "
                "the flow it ran before is not known and CONNECT_HOME_FLOW_ID is not set. Set "
                "CONNECT_HOME_FLOW_ID (the stack parameter ConnectHomeFlowId) to the flow its calls should "
                "reach, then remove the forward again. The forward is still in place."
            )
        self._associate(number, flow)
        return [f"associated {number} with contact flow {flow}"]

    def _associate(self, number: str, flow: str) -> None:
        claimed = self._claimed(number)
        try:
            self._client.associate_phone_number_contact_flow(
                PhoneNumberId=claimed.phone_number_id, InstanceId=self._instance, ContactFlowId=flow
            )
        except (ClientError, BotoCoreError) as error:
            raise RoutingError(describe_error(error)) from error


class Inventory(Protocol):
    def our_numbers(self) -> list[str]: ...


class BackendRouting:
    """Both backends behind one routing port and one inventory, chosen per number.

    A number in both inventories, or in neither, is refused (:class:`NumberPlacementError`) with
    a sentence saying which: routing it through the wrong backend would move nothing.
    """

    def __init__(
        self,
        chime_inventory: Inventory | None,
        chime: NumberRouting | None,
        connect_numbers: ConnectNumbers,
        connect: ConnectRouting,
    ) -> None:
        """``chime_inventory`` None: a deployment on Amazon Connect alone, which may not (and has
        no need to) list the Chime SDK Voice numbers."""
        self._chime_inventory = chime_inventory
        self._chime = chime
        self._connect_numbers = connect_numbers
        self._connect = connect

    def _chime_numbers(self) -> list[str]:
        return self._chime_inventory.our_numbers() if self._chime_inventory is not None else []

    def our_numbers(self) -> list[str]:
        return sorted({*self._chime_numbers(), *self._connect_numbers.our_numbers()})

    def backend_of(self, number: str) -> str:
        """``connect`` or ``chime``; :class:`NumberPlacementError` when it is in both or neither."""
        try:
            in_connect = number in self._connect_numbers.claimed()
            in_chime = number in self._chime_numbers()
        except InventoryError as error:
            raise RoutingError(str(error)) from error
        if in_connect and in_chime:
            raise NumberPlacementError(
                f"{number} is both a Chime SDK Voice number and claimed in Amazon Connect: release it "
                "from one of them (or leave it out of MANAGED_NUMBERS) before forwarding it."
            )
        if in_connect:
            return "connect"
        if in_chime:
            return "chime"
        if self._chime_inventory is None:
            raise NumberPlacementError(
                f"{number} is not claimed in the Amazon Connect instance, and no SIP media application "
                "is configured (SIP_MEDIA_APPLICATION_ID) for Chime SDK Voice numbers."
            )
        raise NumberPlacementError(
            f"{number} is neither a Chime SDK Voice number nor claimed in the Amazon Connect instance."
        )

    def _routing(self, number: str) -> NumberRouting:
        if self.backend_of(number) == "connect":
            return self._connect
        if self._chime is None:
            raise NumberPlacementError(
                f"{number} is a Chime SDK Voice number, and no SIP media application is configured "
                "(SIP_MEDIA_APPLICATION_ID) to forward it."
            )
        return self._chime

    def home(self, number: str) -> NumberHome:
        return self._routing(number).home(number)

    def route_to_forwarding(self, number: str) -> list[str]:
        return self._routing(number).route_to_forwarding(number)

    def route_to_voice_connector(self, number: str, home: NumberHome | None = None) -> list[str]:
        return self._routing(number).route_to_voice_connector(number, home)
