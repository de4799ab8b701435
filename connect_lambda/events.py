"""Parse Amazon Connect contact-flow Lambda events into a small typed view.

Connect's "Invoke AWS Lambda function" block sends ``{"Name": ..., "Details": {"ContactData": {...},
"Parameters": {...}}}``. Real events differ from the documented example in ways that do not matter
to us and must not break a call: ``Name`` is ``ContactFlowEvent`` or ``ContactFlowExecution``,
``Channel`` ``VOICE`` or ``Voice``, ``Queue`` a string, an object or null, endpoints may be null,
and new keys appear over time. Only a missing ``Details`` (or one that is not an object) is
malformed: :class:`MalformedFlowEventError`, which the handler answers with a safe reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class MalformedFlowEventError(ValueError):
    """The invocation does not look like an Amazon Connect contact-flow event."""


@dataclass(frozen=True, slots=True)
class FlowEvent:
    """One invocation from a contact flow.

    ``purpose`` is the flow's ``Purpose`` parameter as sent; ``dialed`` the number the caller
    called (``SystemEndpoint``), ``caller`` the caller's (``CustomerEndpoint``, empty when
    withheld); ``attributes`` the contact's attributes so far.
    """

    purpose: str
    contact_id: str
    parameters: Mapping[str, str]
    attributes: Mapping[str, str]
    dialed: str
    caller: str
    instance_arn: str = ""
    channel: str = ""

    @property
    def purpose_key(self) -> str:
        """``Purpose`` without case, ``_`` or ``-`` (``GetData``, ``get_data`` and ``get-data`` agree)."""
        return self.purpose.replace("_", "").replace("-", "").lower()


def _address(endpoint: Any) -> str:
    if isinstance(endpoint, Mapping):
        return str(endpoint.get("Address") or "").strip()
    return ""


def _strings(raw: Any) -> dict[str, str]:
    """A map of strings from what Connect sent; null values are absent, not the text ``None``."""
    if not isinstance(raw, Mapping):
        return {}
    return {str(key): str(value).strip() for key, value in raw.items() if value is not None}


def parse_event(raw: Any) -> FlowEvent:
    """Turn the raw invocation payload into a :class:`FlowEvent`."""
    details = raw.get("Details") if isinstance(raw, Mapping) else None
    if not isinstance(details, Mapping):
        raise MalformedFlowEventError("not an Amazon Connect contact flow event (no Details)")
    parameters = details.get("Parameters") or {}
    contact = details.get("ContactData") or {}
    if not isinstance(parameters, Mapping) or not isinstance(contact, Mapping):
        raise MalformedFlowEventError("Details.Parameters and Details.ContactData must be objects")
    strings = _strings(parameters)
    return FlowEvent(
        purpose=strings.get("Purpose", ""),
        contact_id=str(contact.get("ContactId") or contact.get("InitialContactId") or ""),
        parameters=strings,
        attributes=_strings(contact.get("Attributes")),
        dialed=_address(contact.get("SystemEndpoint")),
        caller=_address(contact.get("CustomerEndpoint")),
        instance_arn=str(contact.get("InstanceARN") or ""),
        channel=str(contact.get("Channel") or "").upper(),
    )
