"""Render call-flow steps as PSTN Audio actions and wrap them in a response.

The rendering is the only place that knows action JSON, so a change in the service's schema (or a
second backend) touches this module and nothing in the domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sma.events import LEG_A, LEG_B, PstnEvent
from switchboard.domain.callflow import (
    Bridge,
    HangUp,
    HangupCause,
    Leg,
    PlayPrompt,
    Prompt,
    RecordMessage,
    Step,
)

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


# "Quiet office" on the service's scale (1: a quiet room ... 1000: music): background hum on a
# mobile line does not keep a finished message recording until the maximum length.
SILENCE_THRESHOLD = 100


def _target(leg: Leg, event: PstnEvent | None) -> dict[str, str]:
    """Address a leg by CallId when we know it, by ParticipantTag otherwise."""
    tag = _LEG_TAGS[leg]
    participant = event.leg(tag) if event else None
    if participant and participant.call_id:
        return {"CallId": participant.call_id}
    return {"ParticipantTag": tag}


def render(
    steps: Iterable[Step],
    prompts: PromptLocation | None,
    event: PstnEvent | None,
    recordings_bucket: str = "",
) -> list[dict[str, Any]]:
    """Turn domain steps into PSTN Audio actions.

    Without a prompt location (misconfigured stack) prompts are skipped rather than sent with an
    empty bucket name, which the service would reject as an invalid response; the call flow asks
    for a recording only when there is a ``recordings_bucket``.
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
        elif isinstance(step, RecordMessage) and recordings_bucket:
            actions.append(
                {
                    "Type": "RecordAudio",
                    "Parameters": {
                        **_target(Leg.CALLER, event),
                        "DurationInSeconds": step.max_seconds,
                        "SilenceDurationInSeconds": step.silence_seconds,
                        "SilenceThreshold": SILENCE_THRESHOLD,
                        "RecordingTerminators": [step.terminator],
                        "RecordingDestination": {
                            "Type": "S3",
                            "BucketName": recordings_bucket,
                            "Prefix": step.prefix,
                        },
                    },
                }
            )
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
