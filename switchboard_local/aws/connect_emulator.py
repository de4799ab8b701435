"""A minimal Amazon Connect API emulator: one instance, its claimed numbers and their flows.

It serves exactly the calls :mod:`switchboard.adapters.connect_routing` makes (``ListPhoneNumbersV2``,
``BatchGetFlowAssociation``, ``AssociatePhoneNumberContactFlow``) plus ``DescribePhoneNumber``,
``ListFlowAssociations`` and ``DisassociatePhoneNumberContactFlow``, over the REST-JSON wire
protocol read from botocore's own ``connect`` model (the same machinery as the Chime SDK Voice
emulator), so the unmodified boto3 client talks to it through ``AWS_ENDPOINT_URL_CONNECT``.
moto has no phone numbers or flows for ``connect``.

Which flow a number runs is also what the local Flow-language interpreter needs to place a call.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import botocore.session

from switchboard_local.aws.chime_voice_emulator import ChimeVoiceServer
from switchboard_local.aws.chime_voice_model import ApiError, ChimeVoiceProtocol

Record = dict[str, Any]
VOICE_PHONE_NUMBER = "VOICE_PHONE_NUMBER"


def _not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", message)


@dataclass
class EmulatedNumber:
    number: str
    phone_number_id: str
    arn: str
    flow_id: str = ""


@dataclass
class ConnectEmulator:
    """One Connect instance with numbers and flows (no contacts: the interpreter runs those)."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    numbers: dict[str, EmulatedNumber] = field(default_factory=dict)
    flows: dict[str, str] = field(default_factory=dict)  # flow id → name
    calls: list[tuple[str, Record]] = field(default_factory=list)  # every operation served, in order
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    operations = frozenset(
        {
            "ListPhoneNumbersV2",
            "DescribePhoneNumber",
            "AssociatePhoneNumberContactFlow",
            "DisassociatePhoneNumberContactFlow",
            "BatchGetFlowAssociation",
            "ListFlowAssociations",
        }
    )

    @property
    def instance_arn(self) -> str:
        return f"arn:aws:connect:{self.region}:{self.account_id}:instance/{self.instance_id}"

    def create_flow(self, name: str) -> str:
        flow_id = str(uuid.uuid4())
        self.flows[flow_id] = name
        return flow_id

    def claim(self, number: str, flow_id: str = "") -> EmulatedNumber:
        phone_number_id = str(uuid.uuid4())
        claimed = EmulatedNumber(
            number,
            phone_number_id,
            f"arn:aws:connect:{self.region}:{self.account_id}:phone-number/{phone_number_id}",
            flow_id,
        )
        self.numbers[number] = claimed
        return claimed

    def flow_of(self, number: str) -> str:
        claimed = self.numbers.get(number)
        return claimed.flow_id if claimed else ""

    # ------------------------------------------------------------------------------ the API

    def handle(self, operation: str, params: Record) -> Record:
        with self._lock:
            self.calls.append((operation, params))
            return dict(getattr(self, "_" + _snake(operation))(params))

    def _instance(self, params: Record) -> None:
        instance = str(params.get("InstanceId") or params.get("TargetArn") or "")
        if instance not in (self.instance_id, self.instance_arn):
            raise _not_found(f"instance {instance} not found")

    def _by_id(self, phone_number_id: str) -> EmulatedNumber:
        for claimed in self.numbers.values():
            if phone_number_id in (claimed.phone_number_id, claimed.arn):
                return claimed
        raise _not_found(f"phone number {phone_number_id} not found")

    def _summary(self, claimed: EmulatedNumber) -> Record:
        return {
            "PhoneNumberId": claimed.phone_number_id,
            "PhoneNumberArn": claimed.arn,
            "PhoneNumber": claimed.number,
            "PhoneNumberCountryCode": "US",
            "PhoneNumberType": "DID",
            "TargetArn": self.instance_arn,
            "InstanceId": self.instance_id,
        }

    def _list_phone_numbers_v2(self, params: Record) -> Record:
        self._instance(params)
        prefix = str(params.get("PhoneNumberPrefix") or "")
        found = [self._summary(c) for n, c in sorted(self.numbers.items()) if n.startswith(prefix)]
        return {"ListPhoneNumbersSummaryList": found}

    def _describe_phone_number(self, params: Record) -> Record:
        claimed = self._by_id(str(params["PhoneNumberId"]))
        summary = self._summary(claimed)
        summary["PhoneNumberStatus"] = {"Status": "CLAIMED"}
        return {"ClaimedPhoneNumberSummary": summary}

    def _associate_phone_number_contact_flow(self, params: Record) -> Record:
        self._instance(params)
        claimed = self._by_id(str(params["PhoneNumberId"]))
        flow = str(params["ContactFlowId"])
        if flow not in self.flows:
            raise _not_found(f"contact flow {flow} not found")
        claimed.flow_id = flow
        return {}

    def _disassociate_phone_number_contact_flow(self, params: Record) -> Record:
        self._instance(params)
        self._by_id(str(params["PhoneNumberId"])).flow_id = ""
        return {}

    def _associations(self, wanted: set[str] | None) -> list[Record]:
        found = []
        for claimed in self.numbers.values():
            if not claimed.flow_id:
                continue
            # The documentation does not say which identifier ResourceId is; the emulator answers
            # for whichever the caller asked about, and with the ARN when listing.
            ids = (
                [claimed.arn]
                if wanted is None
                else [i for i in (claimed.arn, claimed.phone_number_id) if i in wanted]
            )
            found += [
                {"ResourceId": i, "FlowId": claimed.flow_id, "ResourceType": VOICE_PHONE_NUMBER} for i in ids
            ]
        return found

    def _batch_get_flow_association(self, params: Record) -> Record:
        self._instance(params)
        return {"FlowAssociationSummaryList": self._associations({str(i) for i in params["ResourceIds"]})}

    def _list_flow_associations(self, params: Record) -> Record:
        self._instance(params)
        return {"FlowAssociationSummaryList": self._associations(None)}


def _snake(name: str) -> str:
    out = ""
    for index, char in enumerate(name):
        if char.isupper() and index and not name[index - 1].isupper():
            out += "_"
        out += char.lower()
    return out


def connect_protocol() -> ChimeVoiceProtocol:
    """The REST-JSON protocol machinery bound to botocore's ``connect`` model."""
    return ChimeVoiceProtocol(botocore.session.get_session().get_service_model("connect"))


class ConnectServer(ChimeVoiceServer):
    """Serves a :class:`ConnectEmulator` on 127.0.0.1; point ``AWS_ENDPOINT_URL_CONNECT`` at ``url``."""

    server_name = "Amazon Connect emulator"

    def __init__(self, emulator: ConnectEmulator | None = None) -> None:
        self.connect = emulator or ConnectEmulator()
        super().__init__(self.connect, connect_protocol())  # type: ignore[arg-type]
