"""A local Amazon Chime SDK Voice (``chime-sdk-voice``) for tests and ``switchboard dev``.

Why: moto has no Chime SDK Voice backend, yet routing a number to the SIP media application and back
is a sequence of ``chime-sdk-voice`` calls whose order the real service enforces. This emulator
speaks the real REST-JSON protocol (see :mod:`switchboard_local.aws.chime_voice_model`, derived from
botocore's own model), so production code runs unmodified against it through ``endpoint_url=`` or
``AWS_ENDPOINT_URL_CHIME_SDK_VOICE``, and it enforces the rules that make the order matter.

Behaviour where the API reference is silent, chosen from the Amazon Chime SDK administrator guide:

* A number's product type changes only while it is unassigned ("If you have unassigned ... phone
  numbers, you can switch them from one product type to another", change-product-type). Changing
  it while a voice connector or a SIP rule holds the number is a ``ConflictException`` (409, the
  modelled "conflict in the current state of the resource"). Numbers outside the US must use
  ``SipMediaApplicationDialIn`` (UpdatePhoneNumber reference) — ``BadRequestException`` otherwise.
* UpdatePhoneNumber changes one attribute per call ("You can update one phone number detail at a
  time"): two or none → ``BadRequestException``.
* Only ``VoiceConnector`` numbers go on a voice connector (reassign-vc-numbers); per-number
  failures are reported in ``PhoneNumberErrors`` (the call itself succeeds), a number held
  elsewhere is refused (``PhoneNumberAssociationsExist``) unless ``ForceAssociate`` moves it.
* A ``ToPhoneNumber`` SIP rule needs an inventory number of product type
  ``SipMediaApplicationDialIn`` (create-sip-rule); CreateSipRule has no NotFoundException in the
  model, so an unknown number or SIP media application is a ``BadRequestException``. One rule per
  trigger: a second one is a ``ConflictException``. The rule shows on the number as an
  association ``{"Name": "SipRuleId"}`` (the model's association names), removed when it is deleted.
* "You must disable a SIP rule before you can delete it" (DeleteSipRule) → ``ConflictException``.
* "You must disable a SIP rule before you delete that rule or an associated SIP media application"
  (disable-sip-rule), and "deleting the application does not delete any associated phone numbers
  or SIP rules" (delete-sip-app): DeleteSipMediaApplication is refused (``ConflictException``)
  while an *enabled* rule targets it; disabled rules survive it, still naming the deleted id.
* UpdateSipMediaApplicationCall hands the call to :attr:`ChimeVoiceEmulator.on_call_update` (the
  PSTN simulator delivers CALL_UPDATE_REQUESTED) or, when that is not set, to
  :attr:`ChimeVoiceEmulator.call_sinks` (every simulator with calls in progress, in this process or
  another); no taker, or one raising ``LookupError``, means no such call → ``NotFoundException``;
  ``ValueError`` → ``BadRequestException``.

Local-only routes, outside the Chime API (no AWS client sends them): ``POST /_local/call-sinks``
with ``{"url": …}`` registers a simulator in another process (``switchboard call`` against a running
``switchboard dev``) as a call sink, answered ``201 {"SinkId": …}``; ``DELETE
/_local/call-sinks/<id>`` removes it. Each update is then POSTed to that URL as ``{"SipMediaApplicationId",
"TransactionId", "Arguments"}``; it answers 202, 404 (not its call) or 400 (refused arguments).
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import phonenumbers

from switchboard_local.aws.chime_voice_model import (
    UNKNOWN_OPERATION,
    ApiError,
    ChimeVoiceProtocol,
    bad_request,
)
from switchboard_local.http_server import LocalHttpServer

VOICE_CONNECTOR = "VoiceConnector"
SMA_DIAL_IN = "SipMediaApplicationDialIn"
VOICE_CONNECTOR_ID = "VoiceConnectorId"
SIP_RULE_ID = "SipRuleId"
DEFAULT_PAGE = 100

Record = dict[str, Any]
CallUpdateCallback = Callable[[str, str, dict[str, str]], None]
Operation = Callable[[dict[str, Any]], Record]


SINKS_PATH = "/_local/call-sinks"


class CallSinks:
    """Hands each UpdateSipMediaApplicationCall to whichever registered sink holds the call.

    A sink has the ``on_call_update`` signature and raises ``LookupError`` for a call it does not
    hold (e.g. :meth:`PstnSimulator.on_call_update`, or a :class:`RemoteCallSink`). The sinks are
    called without any lock held: a simulator's update only queues the event.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[str, CallUpdateCallback] = {}

    def add(self, sink: CallUpdateCallback) -> str:
        sink_id = uuid.uuid4().hex
        with self._lock:
            self._sinks[sink_id] = sink
        return sink_id

    def remove(self, sink_id: str) -> bool:
        with self._lock:
            return self._sinks.pop(sink_id, None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._sinks)

    def __call__(self, sip_media_application_id: str, transaction_id: str, arguments: dict[str, str]) -> None:
        with self._lock:
            sinks = list(self._sinks.values())
        for sink in sinks:
            try:
                sink(sip_media_application_id, transaction_id, arguments)
            except LookupError:
                continue
            return
        raise LookupError(f"Call with transaction id {transaction_id} not found")


class RemoteCallSink:
    """A call sink in another process, reached over HTTP (see the module docstring)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        if not url.startswith(("http://127.", "http://localhost")):
            raise ValueError(f"call sinks must be on loopback, not {url!r}")
        self.url = url
        self.timeout = timeout

    def __call__(self, sip_media_application_id: str, transaction_id: str, arguments: dict[str, str]) -> None:
        body = json.dumps(
            {
                "SipMediaApplicationId": sip_media_application_id,
                "TransactionId": transaction_id,
                "Arguments": arguments,
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback http only, checked above
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310
                return
        except urllib.error.HTTPError as error:
            message = error.read().decode(errors="replace")
            if error.code == 404:
                raise LookupError(message) from error
            if error.code == 400:
                raise ValueError(message) from error
            raise
        except OSError as error:  # the other process is gone: it holds no call any more
            raise LookupError(f"call sink {self.url} unreachable: {error}") from error


def _not_found(kind: str, ident: str) -> ApiError:
    return ApiError("NotFoundException", f"{kind} {ident} not found")


def _conflict(message: str) -> ApiError:
    return ApiError("ConflictException", message)


class ChimeVoiceEmulator:
    """In-memory Chime SDK Voice state and its operations (thread-safe: one lock for all state).

    Seed it from Python (:meth:`seed_phone_numbers`, :meth:`create_voice_connector`,
    :meth:`create_sip_media_application`), serve it with :class:`ChimeVoiceServer`, assert on
    :meth:`snapshot`. ``on_call_update(sip_media_application_id, transaction_id, arguments)`` is
    called for each accepted UpdateSipMediaApplicationCall.
    """

    def __init__(self, region: str = "us-east-1", account_id: str = "123456789012") -> None:
        self.region = region
        self.account_id = account_id
        self.on_call_update: CallUpdateCallback | None = None
        self.call_sinks = CallSinks()
        self._lock = threading.RLock()
        self._numbers: dict[str, Record] = {}
        self._connectors: dict[str, Record] = {}
        self._applications: dict[str, Record] = {}
        self._rules: dict[str, Record] = {}
        self._calls: list[str] = []
        self._updates: list[dict[str, Any]] = []
        self._operations: dict[str, Operation] = {
            "ListPhoneNumbers": self._list_phone_numbers,
            "GetPhoneNumber": lambda p: {"PhoneNumber": self._number(p["PhoneNumberId"])},
            "UpdatePhoneNumber": self._update_phone_number,
            "AssociatePhoneNumbersWithVoiceConnector": self._associate,
            "DisassociatePhoneNumbersFromVoiceConnector": self._disassociate,
            "CreateVoiceConnector": self._create_voice_connector,
            "GetVoiceConnector": lambda p: {"VoiceConnector": self._connector(p["VoiceConnectorId"])},
            "ListVoiceConnectors": lambda p: self._page(
                p, "VoiceConnectors", list(self._connectors.values())
            ),
            "CreateSipMediaApplication": self._create_sip_media_application,
            "GetSipMediaApplication": lambda p: {
                "SipMediaApplication": self._application(p["SipMediaApplicationId"])
            },
            "ListSipMediaApplications": lambda p: self._page(
                p, "SipMediaApplications", list(self._applications.values())
            ),
            "UpdateSipMediaApplication": self._update_sip_media_application,
            "DeleteSipMediaApplication": self._delete_sip_media_application,
            "CreateSipRule": self._create_sip_rule,
            "GetSipRule": lambda p: {"SipRule": self._rule(p["SipRuleId"])},
            "UpdateSipRule": self._update_sip_rule,
            "ListSipRules": self._list_sip_rules,
            "DeleteSipRule": self._delete_sip_rule,
        }

    # ------------------------------------------------------------------------------ Python API

    @property
    def operations(self) -> frozenset[str]:
        """The operation names this emulator implements (others answer UnknownOperationException)."""
        return frozenset((*self._operations, "UpdateSipMediaApplicationCall"))

    def seed_phone_numbers(
        self,
        numbers: Iterable[str],
        product_type: str = VOICE_CONNECTOR,
        voice_connector_id: str | None = None,
    ) -> list[str]:
        """Put numbers in the account's inventory (as if ordered), optionally on a voice connector.

        Country and Type (Local/TollFree) come from the number. Raises ``ValueError`` for what the
        real service would refuse: a non-E.164 number, an unknown product type or voice connector,
        a non-US ``VoiceConnector`` number, or a voice connector with a non-VoiceConnector product.
        """
        if product_type not in (VOICE_CONNECTOR, SMA_DIAL_IN):
            raise ValueError(f"unknown product type {product_type!r}")
        with self._lock:
            if voice_connector_id is not None:
                if voice_connector_id not in self._connectors:
                    raise ValueError(
                        f"no voice connector {voice_connector_id!r}; create_voice_connector first"
                    )
                if product_type != VOICE_CONNECTOR:
                    raise ValueError("only VoiceConnector numbers can be associated with a voice connector")
            seeded: list[str] = []
            for number in numbers:
                country, kind = _describe(number)
                if product_type == VOICE_CONNECTOR and country != "US":
                    raise ValueError(f"{number} ({country}) is outside the US: use {SMA_DIAL_IN}")
                now = _now()
                record: Record = {
                    "PhoneNumberId": number,
                    "E164PhoneNumber": number,
                    "Country": country,
                    "Type": kind,
                    "ProductType": product_type,
                    "Status": "Unassigned",
                    "Capabilities": {
                        "InboundCall": True,
                        "OutboundCall": True,
                        "InboundSMS": False,
                        "OutboundSMS": False,
                        "InboundMMS": False,
                        "OutboundMMS": False,
                    },
                    "Associations": [],
                    "CallingNameStatus": "Unassigned",
                    "OrderId": str(uuid.uuid4()),
                    "CreatedTimestamp": now,
                    "UpdatedTimestamp": now,
                }
                self._numbers[number] = record
                if voice_connector_id is not None:
                    self._add_association(record, VOICE_CONNECTOR_ID, voice_connector_id)
                seeded.append(number)
            return seeded

    def create_voice_connector(self, name: str, require_encryption: bool = True) -> str:
        """A voice connector (the PBX trunk numbers return to); returns its id."""
        result = self._create_voice_connector({"Name": name, "RequireEncryption": require_encryption})
        voice_connector_id: str = result["VoiceConnector"]["VoiceConnectorId"]
        return voice_connector_id

    def create_sip_media_application(self, name: str, lambda_arn: str) -> str:
        """A SIP media application invoking ``lambda_arn``; returns its id."""
        result = self._create_sip_media_application(
            {"Name": name, "AwsRegion": self.region, "Endpoints": [{"LambdaArn": lambda_arn}]}
        )
        application_id: str = result["SipMediaApplication"]["SipMediaApplicationId"]
        return application_id

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Put the state back to an earlier :meth:`snapshot` (tests share one server across cases)."""
        state = copy.deepcopy(snapshot)
        with self._lock:
            self._numbers = state["phone_numbers"]
            self._connectors = state["voice_connectors"]
            self._applications = state["sip_media_applications"]
            self._rules = state["sip_rules"]
            self._calls = state["calls"]
            self._updates = state["call_updates"]

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the state, keyed by id, in the API's shapes (timestamps as datetimes).

        ``calls`` lists the operations served, in order; ``call_updates`` the accepted
        UpdateSipMediaApplicationCall requests.
        """
        with self._lock:
            return copy.deepcopy(
                {
                    "phone_numbers": self._numbers,
                    "voice_connectors": self._connectors,
                    "sip_media_applications": self._applications,
                    "sip_rules": self._rules,
                    "calls": self._calls,
                    "call_updates": self._updates,
                }
            )

    def handle(self, operation: str, params: dict[str, Any]) -> Record:
        """Run one operation on validated input members; raises :class:`ApiError`."""
        if operation == "UpdateSipMediaApplicationCall":
            with self._lock:
                self._calls.append(operation)
            return self._update_call(params)
        implementation = self._operations.get(operation)
        if implementation is None:
            raise _unsupported(operation, self.operations)
        with self._lock:
            self._calls.append(operation)
            return copy.deepcopy(implementation(params))

    # ------------------------------------------------------------------------------ phone numbers

    def _number(self, number: str) -> Record:
        record = self._numbers.get(number)
        if record is None:
            raise _not_found("Phone number", number)
        return record

    def _list_phone_numbers(self, params: dict[str, Any]) -> Record:
        filter_name, filter_value = params.get("FilterName"), params.get("FilterValue")
        if (filter_name is None) != (filter_value is None):
            raise bad_request("FilterName and FilterValue must be given together")
        selected = []
        for number in sorted(self._numbers):
            record = self._numbers[number]
            if params.get("ProductType") not in (None, record["ProductType"]):
                continue
            if params.get("Status") not in (None, record["Status"]):
                continue
            if filter_name is not None and not any(
                a["Name"] == filter_name and a["Value"] == filter_value for a in record["Associations"]
            ):
                continue
            selected.append(record)
        return self._page(params, "PhoneNumbers", selected)

    def _update_phone_number(self, params: dict[str, Any]) -> Record:
        record = self._number(params["PhoneNumberId"])
        changes: dict[str, Any] = {
            k: params[k] for k in ("ProductType", "CallingName", "Name") if k in params
        }
        if len(changes) != 1:
            raise bad_request(
                "UpdatePhoneNumber changes exactly one of ProductType, CallingName or Name per call, "
                f"got {sorted(changes) or 'none'}"
            )
        product = changes.get("ProductType")
        if product is not None and product != record["ProductType"]:
            if record["Associations"]:
                held = ", ".join(f"{a['Name']} {a['Value']}" for a in record["Associations"])
                raise _conflict(
                    f"Phone number {record['PhoneNumberId']} is assigned ({held}); only unassigned "
                    "numbers can change product type: disassociate it or delete its SIP rule first"
                )
            if product == VOICE_CONNECTOR and record["Country"] != "US":
                raise bad_request(f"Numbers outside the US must use the {SMA_DIAL_IN} product type")
        if "CallingName" in changes:
            record["CallingNameStatus"] = "UpdateSucceeded" if changes["CallingName"] else "Unassigned"
        record.update(changes)
        record["UpdatedTimestamp"] = _now()
        return {"PhoneNumber": record}

    def _add_association(self, record: Record, name: str, value: str) -> None:
        now = _now()
        record["Associations"].append({"Value": value, "Name": name, "AssociatedTimestamp": now})
        record["Status"] = "Assigned"
        record["UpdatedTimestamp"] = now

    def _remove_associations(self, record: Record, name: str, value: str | None = None) -> None:
        record["Associations"] = [
            a for a in record["Associations"] if not (a["Name"] == name and value in (None, a["Value"]))
        ]
        record["Status"] = "Assigned" if record["Associations"] else "Unassigned"
        record["UpdatedTimestamp"] = _now()

    def _associate(self, params: dict[str, Any]) -> Record:
        connector = params["VoiceConnectorId"]
        self._connector(connector)
        errors: list[Record] = []
        for number in params["E164PhoneNumbers"]:
            record = self._numbers.get(number)
            if record is None:
                errors.append(_number_error(number, "NotFound", "Phone number not found in the inventory"))
                continue
            if record["ProductType"] != VOICE_CONNECTOR:
                errors.append(
                    _number_error(
                        number,
                        "BadRequest",
                        f"Phone number product type is {record['ProductType']}; only "
                        f"{VOICE_CONNECTOR} numbers can be associated with a voice connector",
                    )
                )
                continue
            held = [
                a
                for a in record["Associations"]
                if a["Name"] != VOICE_CONNECTOR_ID or a["Value"] != connector
            ]
            if held and not params.get("ForceAssociate"):
                errors.append(
                    _number_error(
                        number,
                        "PhoneNumberAssociationsExist",
                        "Phone number is associated with "
                        + ", ".join(f"{a['Name']} {a['Value']}" for a in held)
                        + "; use ForceAssociate to move it",
                    )
                )
                continue
            for association in held:
                self._remove_associations(record, association["Name"], association["Value"])
            if not any(a["Name"] == VOICE_CONNECTOR_ID for a in record["Associations"]):
                self._add_association(record, VOICE_CONNECTOR_ID, connector)
        return {"PhoneNumberErrors": errors}

    def _disassociate(self, params: dict[str, Any]) -> Record:
        connector = params["VoiceConnectorId"]
        self._connector(connector)
        errors: list[Record] = []
        for number in params["E164PhoneNumbers"]:
            record = self._numbers.get(number)
            if record is None:
                errors.append(_number_error(number, "NotFound", "Phone number not found in the inventory"))
            elif not any(
                a["Name"] == VOICE_CONNECTOR_ID and a["Value"] == connector for a in record["Associations"]
            ):
                errors.append(
                    _number_error(number, "NotFound", f"Phone number is not associated with {connector}")
                )
            else:
                self._remove_associations(record, VOICE_CONNECTOR_ID, connector)
        return {"PhoneNumberErrors": errors}

    # ------------------------------------------------------------------------------ voice connectors

    def _connector(self, connector_id: str) -> Record:
        record = self._connectors.get(connector_id)
        if record is None:
            raise _not_found("Voice connector", connector_id)
        return record

    def _create_voice_connector(self, params: dict[str, Any]) -> Record:
        with self._lock:
            connector_id = uuid.uuid4().hex[:22]  # the model's pattern: [a-z0-9]{21,22}
            region = params.get("AwsRegion") or self.region
            now = _now()
            record: Record = {
                "VoiceConnectorId": connector_id,
                "AwsRegion": region,
                "Name": params["Name"],
                "OutboundHostName": f"{connector_id}.voiceconnector.chime.aws",
                "RequireEncryption": params["RequireEncryption"],
                "CreatedTimestamp": now,
                "UpdatedTimestamp": now,
                "VoiceConnectorArn": f"arn:aws:chime:{region}:{self.account_id}:vc/{connector_id}",
                "IntegrationType": params.get("IntegrationType"),
                "NetworkType": params.get("NetworkType") or "IPV4_ONLY",
            }
            self._connectors[connector_id] = record
            return {"VoiceConnector": record}

    # ------------------------------------------------------------------------------ SIP media applications

    def _application(self, application_id: str) -> Record:
        record = self._applications.get(application_id)
        if record is None:
            raise _not_found("SIP media application", application_id)
        return record

    def _create_sip_media_application(self, params: dict[str, Any]) -> Record:
        with self._lock:
            application_id = str(uuid.uuid4())
            now = _now()
            record: Record = {
                "SipMediaApplicationId": application_id,
                "AwsRegion": params["AwsRegion"],
                "Name": params["Name"],
                "Endpoints": [{"LambdaArn": e.get("LambdaArn")} for e in params["Endpoints"]],
                "CreatedTimestamp": now,
                "UpdatedTimestamp": now,
                "SipMediaApplicationArn": (
                    f"arn:aws:chime:{params['AwsRegion']}:{self.account_id}:sma/{application_id}"
                ),
            }
            self._applications[application_id] = record
            return {"SipMediaApplication": record}

    def _update_sip_media_application(self, params: dict[str, Any]) -> Record:
        record = self._application(params["SipMediaApplicationId"])
        if "Name" in params:
            record["Name"] = params["Name"]
        if "Endpoints" in params:
            record["Endpoints"] = [{"LambdaArn": e.get("LambdaArn")} for e in params["Endpoints"]]
        record["UpdatedTimestamp"] = _now()
        return {"SipMediaApplication": record}

    def _delete_sip_media_application(self, params: dict[str, Any]) -> Record:
        application_id = params["SipMediaApplicationId"]
        self._application(application_id)
        enabled = [
            rule["SipRuleId"]
            for rule in self._rules.values()
            if not rule["Disabled"] and application_id in _targets(rule)
        ]
        if enabled:
            raise _conflict(
                f"SIP media application {application_id} is the target of enabled SIP rule(s) "
                f"{', '.join(enabled)}: disable them first"
            )
        del self._applications[application_id]
        return {}

    # ------------------------------------------------------------------------------ SIP rules

    def _rule(self, rule_id: str) -> Record:
        record = self._rules.get(rule_id)
        if record is None:
            raise _not_found("SIP rule", rule_id)
        return record

    def _checked_targets(self, targets: list[Record]) -> list[Record]:
        checked: list[Record] = []
        priorities: set[int] = set()
        for target in targets:
            application_id = target.get("SipMediaApplicationId")
            if not application_id:
                raise bad_request("each TargetApplications entry needs a SipMediaApplicationId")
            application = self._applications.get(application_id)
            region = target.get("AwsRegion") or (application or {}).get("AwsRegion") or self.region
            if application is None or application["AwsRegion"] != region:
                raise bad_request(f"SIP media application {application_id} not found in {region}")
            priority = target.get("Priority", 1)
            if priority in priorities:
                raise bad_request(f"TargetApplications priorities must be unique, {priority} repeats")
            priorities.add(priority)
            checked.append(
                {"SipMediaApplicationId": application_id, "Priority": priority, "AwsRegion": region}
            )
        return checked

    def _create_sip_rule(self, params: dict[str, Any]) -> Record:
        trigger_type, trigger_value = params["TriggerType"], params["TriggerValue"]
        number: Record | None = None
        if trigger_type == "ToPhoneNumber":
            number = self._numbers.get(trigger_value)
            if number is None:
                raise bad_request(f"Phone number {trigger_value} is not in the account's inventory")
            if number["ProductType"] != SMA_DIAL_IN:
                raise bad_request(
                    f"Phone number {trigger_value} has product type {number['ProductType']}; a "
                    f"ToPhoneNumber SIP rule needs a {SMA_DIAL_IN} number"
                )
        elif not any(c["OutboundHostName"] == trigger_value for c in self._connectors.values()):
            raise bad_request(f"{trigger_value} is not the outbound host name of a voice connector")
        for rule in self._rules.values():
            if rule["TriggerType"] == trigger_type and rule["TriggerValue"] == trigger_value:
                raise _conflict(
                    f"SIP rule {rule['SipRuleId']} already has trigger {trigger_type} {trigger_value}"
                )
        targets = self._checked_targets(params["TargetApplications"])
        rule_id, now = str(uuid.uuid4()), _now()
        record: Record = {
            "SipRuleId": rule_id,
            "Name": params["Name"],
            "Disabled": bool(params.get("Disabled", False)),
            "TriggerType": trigger_type,
            "TriggerValue": trigger_value,
            "TargetApplications": targets,
            "CreatedTimestamp": now,
            "UpdatedTimestamp": now,
        }
        self._rules[rule_id] = record
        if number is not None:
            self._add_association(number, SIP_RULE_ID, rule_id)
        return {"SipRule": record}

    def _update_sip_rule(self, params: dict[str, Any]) -> Record:
        record = self._rule(params["SipRuleId"])
        targets = (
            self._checked_targets(params["TargetApplications"]) if "TargetApplications" in params else None
        )
        record["Name"] = params["Name"]
        if params.get("Disabled") is not None:
            record["Disabled"] = params["Disabled"]
        if targets is not None:
            record["TargetApplications"] = targets
        record["UpdatedTimestamp"] = _now()
        return {"SipRule": record}

    def _list_sip_rules(self, params: dict[str, Any]) -> Record:
        wanted = params.get("SipMediaApplicationId")
        rules = [rule for rule in self._rules.values() if wanted is None or wanted in _targets(rule)]
        return self._page(params, "SipRules", rules)

    def _delete_sip_rule(self, params: dict[str, Any]) -> Record:
        record = self._rule(params["SipRuleId"])
        if not record["Disabled"]:
            raise _conflict(f"SIP rule {record['SipRuleId']} is enabled: disable it before deleting it")
        del self._rules[record["SipRuleId"]]
        number = (
            self._numbers.get(record["TriggerValue"]) if record["TriggerType"] == "ToPhoneNumber" else None
        )
        if number is not None:
            self._remove_associations(number, SIP_RULE_ID, record["SipRuleId"])
        return {}

    # ------------------------------------------------------------------------------ calls

    def _update_call(self, params: dict[str, Any]) -> Record:
        application_id, transaction_id = params["SipMediaApplicationId"], params["TransactionId"]
        arguments = dict(params.get("Arguments") or {})
        with self._lock:
            self._application(application_id)
            callback = self.on_call_update or self.call_sinks
        try:  # outside the lock: the callback may call back into this emulator
            callback(application_id, transaction_id, arguments)
        except LookupError as error:
            raise ApiError("NotFoundException", str(error) or f"no call {transaction_id}") from error
        except ValueError as error:
            raise bad_request(str(error)) from error
        with self._lock:
            self._updates.append(
                {
                    "SipMediaApplicationId": application_id,
                    "TransactionId": transaction_id,
                    "Arguments": arguments,
                }
            )
        return {"SipMediaApplicationCall": {"TransactionId": transaction_id}}

    # ------------------------------------------------------------------------------ pagination

    def _page(self, params: dict[str, Any], key: str, items: list[Record]) -> Record:
        """``MaxResults`` items from the offset ``NextToken`` carries (an opaque token, as in AWS)."""
        start = 0
        token = params.get("NextToken")
        if token:
            try:
                kind, offset = json.loads(base64.urlsafe_b64decode(token.encode()))
                start = int(offset)
            except (ValueError, TypeError) as error:
                raise bad_request("Invalid NextToken") from error
            if kind != key or start < 0:
                raise bad_request("Invalid NextToken")
        size = params.get("MaxResults") or DEFAULT_PAGE
        result: Record = {key: items[start : start + size]}
        if start + size < len(items):
            result["NextToken"] = base64.urlsafe_b64encode(json.dumps([key, start + size]).encode()).decode()
        return result


def _now() -> datetime:
    return datetime.now(UTC)


def _targets(rule: Record) -> set[str]:
    return {target["SipMediaApplicationId"] for target in rule["TargetApplications"]}


def _unsupported(operation: str, supported: Iterable[str]) -> ApiError:
    return ApiError(
        UNKNOWN_OPERATION,
        f"{operation} is a chime-sdk-voice operation this emulator does not implement "
        f"(it implements: {', '.join(sorted(supported))})",
        404,
    )


def _number_error(number: str, code: str, message: str) -> Record:
    return {"PhoneNumberId": number, "ErrorCode": code, "ErrorMessage": message}


def _describe(number: str) -> tuple[str, str]:
    """(Country, Type) of an E.164 number, as the inventory reports them."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as error:
        raise ValueError(f"{number!r} is not an E.164 number: {error}") from error
    if not number.startswith("+") or not phonenumbers.is_possible_number(parsed):
        raise ValueError(f"{number!r} is not an E.164 number")
    country = phonenumbers.region_code_for_number(parsed) or "ZZ"
    toll_free = phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.TOLL_FREE
    return str(country), "TollFree" if toll_free else "Local"


class ChimeVoiceServer(LocalHttpServer):
    """Serves a :class:`ChimeVoiceEmulator` over HTTP on 127.0.0.1 (a free port, daemon thread).

    ``with ChimeVoiceServer(emulator) as server:`` then point boto3 at ``server.url``.
    """

    def __init__(
        self, emulator: ChimeVoiceEmulator | None = None, protocol: ChimeVoiceProtocol | None = None
    ) -> None:
        self.emulator = emulator or ChimeVoiceEmulator()
        self.protocol = protocol or ChimeVoiceProtocol()
        super().__init__()

    server_name = "Chime SDK Voice emulator"

    @property
    def url(self) -> str:
        return self.origin

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self.emulator, self.protocol)


def _handler_class(
    emulator: ChimeVoiceEmulator, protocol: ChimeVoiceProtocol
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
        # Headers and body in one write, sent at once: otherwise Nagle + delayed ACK cost 40 ms a call.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith(SINKS_PATH):
                self._send(*_sinks_route(emulator, self.command, self.path, body))
                return
            try:
                operation, labels, query = protocol.route(self.command, self.path)
                if operation.name not in emulator.operations:
                    raise _unsupported(operation.name, emulator.operations)
                params = protocol.parse_input(operation, labels, query, dict(self.headers.items()), body)
                status, headers, data = protocol.serialise_output(
                    operation, emulator.handle(operation.name, params)
                )
            except ApiError as error:
                status, headers, data = protocol.serialise_error(error)
            except Exception as error:  # an emulator bug: say so rather than drop the connection
                failure = ApiError("ServiceFailureException", f"emulator error: {error!r}")
                status, headers, data = protocol.serialise_error(failure)
            self._send(status, headers, data)

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data:
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and ``switchboard dev`` print what matters themselves."""

    return Handler


def _sinks_route(
    emulator: ChimeVoiceEmulator, method: str, path: str, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """The local-only call-sink routes (module docstring)."""
    json_headers = {"Content-Type": "application/json"}
    if method == "POST" and path.rstrip("/") == SINKS_PATH:
        try:
            url = json.loads(body or b"{}")["url"]
            sink_id = emulator.call_sinks.add(RemoteCallSink(str(url)))
        except (ValueError, KeyError, TypeError) as error:
            return 400, json_headers, json.dumps({"message": f"bad call sink: {error}"}).encode()
        return 201, json_headers, json.dumps({"SinkId": sink_id}).encode()
    if method == "DELETE" and path.startswith(SINKS_PATH + "/"):
        removed = emulator.call_sinks.remove(path[len(SINKS_PATH) + 1 :])
        return (204, {}, b"") if removed else (404, json_headers, b'{"message": "no such call sink"}')
    return 405, json_headers, b'{"message": "POST /_local/call-sinks or DELETE /_local/call-sinks/<id>"}'
