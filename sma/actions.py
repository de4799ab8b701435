"""Render call-flow steps as PSTN Audio actions and wrap them in a response.

The rendering is the only place that knows action JSON, so a change in the service's schema (or a
second backend) touches this module and nothing in the domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sma.events import LEG_A, LEG_B, PstnEvent
from switchboard.domain.callflow import Bridge, HangUp, HangupCause, Leg, PlayPrompt, Prompt, Step

SCHEMA_VERSION = "1.0"
MAX_ACTIONS = 10

_LEG_TAGS = {Leg.CALLER: LEG_A, Leg.CALLEE: LEG_B}
_SIP_CODES = {HangupCause.NORMAL: "0", HangupCause.UNAVAILABLE: "480"}


@dataclass(frozen=True, slots=True)
class PromptLocation:
    """Where the prompt WAV files live (the stack's prompt bucket)."""

    bucket: str
    prefix: str = "prompts/"

    def source(self, prompt: Prompt) -> dict[str, str]:
        return {"Type": "S3", "BucketName": self.bucket, "Key": f"{self.prefix}{prompt.value}.wav"}


def _target(leg: Leg, event: PstnEvent | None) -> dict[str, str]:
    """Address a leg by CallId when we know it, by ParticipantTag otherwise."""
    tag = _LEG_TAGS[leg]
    participant = event.leg(tag) if event else None
    if participant and participant.call_id:
        return {"CallId": participant.call_id}
    return {"ParticipantTag": tag}


def render(
    steps: Iterable[Step], prompts: PromptLocation | None, event: PstnEvent | None
) -> list[dict[str, Any]]:
    """Turn domain steps into PSTN Audio actions.

    Without a prompt location (misconfigured stack) prompts are skipped rather than sent with an
    empty bucket name, which the service would reject as an invalid response.
    """
    actions: list[dict[str, Any]] = []
    for step in steps:
        if isinstance(step, PlayPrompt):
            if prompts is None:
                continue
            actions.append(
                {
                    "Type": "PlayAudio",
                    "Parameters": {**_target(step.leg, event), "AudioSource": prompts.source(step.prompt)},
                }
            )
        elif isinstance(step, Bridge):
            endpoint = (
                {"BridgeEndpointType": "AWS", "Arn": step.voice_connector_arn, "Uri": step.destination}
                if step.voice_connector_arn
                else {"BridgeEndpointType": "PSTN", "Uri": step.destination}
            )
            parameters: dict[str, Any] = {
                "CallTimeoutSeconds": step.timeout_seconds,
                "CallerIdNumber": step.caller_id,
                "Endpoints": [endpoint],
            }
            if step.sip_headers and step.voice_connector_arn:  # SIP headers exist only on SIP legs
                parameters["SipHeaders"] = dict(step.sip_headers)
            if step.ringback is not None and prompts is not None:
                parameters["RingbackTone"] = prompts.source(step.ringback)
            actions.append({"Type": "CallAndBridge", "Parameters": parameters})
        elif isinstance(step, HangUp):
            actions.append(
                {
                    "Type": "Hangup",
                    "Parameters": {**_target(step.leg, event), "SipResponseCode": _SIP_CODES[step.cause]},
                }
            )
    return actions[:MAX_ACTIONS]


def response(actions: list[dict[str, Any]], attributes: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"SchemaVersion": SCHEMA_VERSION, "Actions": actions}
    if attributes:
        body["TransactionAttributes"] = attributes
    return body
