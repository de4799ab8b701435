"""Parse PSTN Audio (SIP media application) invocation events into a small typed view.

The service's documentation shows a few spellings (``SipMediaApplicationId`` / ``SipApplicationId``,
``LEG-A`` / ``Leg-A``); all are accepted. Anything structurally wrong raises
:class:`MalformedInvocationError`, which the handler turns into a safe response instead of a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LEG_A = "LEG-A"
LEG_B = "LEG-B"


class MalformedInvocationError(ValueError):
    """The invocation does not look like a PSTN Audio event."""


@dataclass(frozen=True, slots=True)
class Participant:
    call_id: str
    tag: str  # normalised to LEG-A / LEG-B
    to: str
    from_: str
    direction: str
    status: str
    start_ms: int | None = None

    @property
    def connected(self) -> bool:
        return self.status.lower() != "disconnected"


@dataclass(frozen=True, slots=True)
class PstnEvent:
    type: str
    transaction_id: str
    sequence: int
    attributes: dict[str, str]
    participants: tuple[Participant, ...]
    action_type: str = ""
    action_parameters: dict[str, Any] = field(default_factory=dict)
    error_type: str = ""
    error_message: str = ""
    sip_media_application_id: str = ""
    # RecordAudio results: where the service put the recording, and the key that stopped it
    # (absent when silence or the maximum length did).
    recording_bucket: str = ""
    recording_key: str = ""
    recording_terminator: str = ""

    def leg(self, tag: str) -> Participant | None:
        return next((p for p in self.participants if p.tag == tag), None)

    @property
    def disconnected_tags(self) -> tuple[str, ...]:
        return tuple(p.tag for p in self.participants if not p.connected)


def _tag(value: Any) -> str:
    """``Leg-A`` (seen in documentation examples) and ``LEG-A`` are the same leg."""
    return str(value or "").upper()


def _start_ms(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _participant(raw: Any) -> Participant:
    if not isinstance(raw, Mapping):
        raise MalformedInvocationError("a participant is not an object")
    return Participant(
        call_id=str(raw.get("CallId", "")),
        tag=_tag(raw.get("ParticipantTag")),
        to=str(raw.get("To", "")),
        from_=str(raw.get("From", "")),
        direction=str(raw.get("Direction", "")),
        status=str(raw.get("Status", "Connected")),
        start_ms=_start_ms(raw.get("StartTimeInMilliseconds")),
    )


def parse_event(raw: Any) -> PstnEvent:
    """Turn the raw invocation payload into a :class:`PstnEvent`."""
    if not isinstance(raw, Mapping):
        raise MalformedInvocationError("the event is not a JSON object")
    event_type = raw.get("InvocationEventType")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedInvocationError("InvocationEventType is missing")
    details = raw.get("CallDetails")
    if not isinstance(details, Mapping):
        raise MalformedInvocationError("CallDetails is missing")
    participants_raw = details.get("Participants") or []
    if not isinstance(participants_raw, list):
        raise MalformedInvocationError("CallDetails.Participants is not a list")
    attributes_raw = details.get("TransactionAttributes") or {}
    attributes = (
        {str(k): str(v) for k, v in attributes_raw.items()} if isinstance(attributes_raw, Mapping) else {}
    )
    action = raw.get("ActionData")
    action = action if isinstance(action, Mapping) else {}
    parameters = action.get("Parameters")
    destination = action.get("RecordingDestination")
    destination = destination if isinstance(destination, Mapping) else {}
    try:
        sequence = int(raw.get("Sequence") or 0)
    except (TypeError, ValueError):
        sequence = 0
    return PstnEvent(
        type=event_type,
        transaction_id=str(details.get("TransactionId", "")),
        sequence=sequence,
        attributes=attributes,
        participants=tuple(_participant(p) for p in participants_raw),
        action_type=str(action.get("Type", "")),
        action_parameters=dict(parameters) if isinstance(parameters, Mapping) else {},
        # INVALID_LAMBDA_RESPONSE puts these at the top level; ACTION_FAILED inside ActionData.
        error_type=str(action.get("ErrorType") or raw.get("ErrorType") or ""),
        error_message=str(action.get("ErrorMessage") or raw.get("ErrorMessage") or ""),
        sip_media_application_id=str(
            details.get("SipMediaApplicationId") or details.get("SipApplicationId") or ""
        ),
        recording_bucket=_short(destination.get("BucketName")),
        recording_key=_short(destination.get("Key")),
        recording_terminator=_short(action.get("RecordingTerminatorUsed"))[:1],
    )


def _short(value: Any) -> str:
    """A string from the event bounded to what S3 allows (a key is at most 1024 bytes)."""
    return value[:1024] if isinstance(value, str) else ""
