"""What PSTN Audio accepts as a Lambda response, as a checker.

The real service answers a response that breaks these rules with INVALID_LAMBDA_RESPONSE, in
production, on a live call. Tests and the local simulator run every response through
:func:`response_errors` so such bugs surface here first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_ACTIONS = 10
MAX_ATTRIBUTES = 10
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}\Z")  # \d, $ would pass non-ASCII digits, a final \n
_TAGS = ("LEG-A", "LEG-B")
KNOWN_ACTIONS = frozenset(
    {
        "CallAndBridge",
        "Hangup",
        "JoinChimeMeeting",
        "ModifyChimeMeetingAttendees",
        "Pause",
        "PauseCallRecording",
        "PlayAudio",
        "PlayAudioAndGetDigits",
        "ReceiveDigits",
        "RecordAudio",
        "ResumeCallRecording",
        "SendDigits",
        "Speak",
        "SpeakAndGetDigits",
        "StartBotConversation",
        "StartCallRecording",
        "StopCallRecording",
        "VoiceFocus",
    }
)


def _audio_source(value: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{where} must be an object"]
    errors = []
    if value.get("Type") != "S3":
        errors.append(f"{where}.Type must be S3")
    for key in ("BucketName", "Key"):
        if not isinstance(value.get(key), str) or not value.get(key):
            errors.append(f"{where}.{key} must be a non-empty string")
    return errors


def _leg(parameters: Mapping[str, Any], where: str, required: bool = True) -> list[str]:
    call_id, tag = parameters.get("CallId"), parameters.get("ParticipantTag")
    if call_id is None and tag is None:
        return [f"{where} needs CallId or ParticipantTag"] if required else []
    if call_id is not None and (not isinstance(call_id, str) or not call_id):
        return [f"{where}.CallId must be a non-empty string"]
    if tag is not None and tag not in _TAGS:
        return [f"{where}.ParticipantTag must be LEG-A or LEG-B"]
    return []


def _call_and_bridge(p: Mapping[str, Any], where: str) -> list[str]:
    errors: list[str] = []
    timeout = p.get("CallTimeoutSeconds", 30)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 120:
        errors.append(f"{where}.CallTimeoutSeconds must be an integer 1-120")
    if not isinstance(p.get("CallerIdNumber"), str) or not _E164.match(p["CallerIdNumber"]):
        errors.append(f"{where}.CallerIdNumber must be an E.164 number")
    endpoints = p.get("Endpoints")
    if not isinstance(endpoints, list) or len(endpoints) != 1:
        errors.append(f"{where}.Endpoints must contain exactly one endpoint")
        return errors
    endpoint = endpoints[0]
    if not isinstance(endpoint, Mapping):
        return [*errors, f"{where}.Endpoints[0] must be an object"]
    kind = endpoint.get("BridgeEndpointType")
    if kind == "PSTN":
        if not isinstance(endpoint.get("Uri"), str) or not _E164.match(endpoint["Uri"]):
            errors.append(f"{where}.Endpoints[0].Uri must be an E.164 number for PSTN")
        if p.get("SipHeaders"):
            errors.append(f"{where}.SipHeaders are only allowed for AWS endpoints")
    elif kind == "AWS":
        if not isinstance(endpoint.get("Arn"), str) or not endpoint.get("Arn"):
            errors.append(f"{where}.Endpoints[0].Arn is required for AWS endpoints")
        if not isinstance(endpoint.get("Uri"), str) or not endpoint.get("Uri"):
            errors.append(f"{where}.Endpoints[0].Uri is required for AWS endpoints")
    else:
        errors.append(f"{where}.Endpoints[0].BridgeEndpointType must be PSTN or AWS")
    headers = p.get("SipHeaders")
    if headers is not None:
        if not isinstance(headers, Mapping):
            errors.append(f"{where}.SipHeaders must be an object")
        else:
            for name, value in headers.items():
                if not str(name).lower().startswith("x-") or not isinstance(value, str):
                    errors.append(f"{where}.SipHeaders: {name!r} must start with x- and have a string value")
    if "RingbackTone" in p:
        errors += _audio_source(p["RingbackTone"], f"{where}.RingbackTone")
    return errors


def _action_errors(action: Any, index: int) -> list[str]:
    where = f"Actions[{index}]"
    if not isinstance(action, Mapping):
        return [f"{where} must be an object"]
    kind = action.get("Type")
    if kind not in KNOWN_ACTIONS:
        return [f"{where}.Type {kind!r} is not a PSTN Audio action"]
    parameters = action.get("Parameters", {})
    if not isinstance(parameters, Mapping):
        return [f"{where}.Parameters must be an object"]
    where = f"{where} ({kind})"
    if kind == "CallAndBridge":
        return _call_and_bridge(parameters, where)
    if kind == "PlayAudio":
        errors = _leg(parameters, where, required=False)
        repeat = parameters.get("Repeat", 1)
        if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= 100:
            errors.append(f"{where}.Repeat must be an integer 1-100")
        return errors + _audio_source(parameters.get("AudioSource"), f"{where}.AudioSource")
    if kind == "Hangup":
        errors = _leg(parameters, where, required=False)
        if str(parameters.get("SipResponseCode", "0")) not in ("0", "480", "486"):
            errors.append(f"{where}.SipResponseCode must be 0, 480 or 486")
        return errors
    if kind == "Speak":
        text = parameters.get("Text")
        errors = _leg(parameters, where, required=False)
        if not isinstance(text, str) or not 1 <= len(text) <= 1000:
            errors.append(f"{where}.Text must be 1-1000 characters")
        return errors
    if kind == "Pause":
        duration = parameters.get("DurationInMilliseconds")
        if not isinstance(duration, int | str) or not str(duration).isdigit():
            return [f"{where}.DurationInMilliseconds must be a number of milliseconds"]
    if kind == "RecordAudio":
        return _record_audio(parameters, where)
    return []


_TERMINATORS = frozenset("0123456789*#")
MAX_RECORDING_PREFIX = 979  # "up to 979 safe characters" (record-audio)


def _whole(value: Any) -> int | None:
    """An integer given as a number or a digit string (the docs' example uses both), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def _record_audio(p: Mapping[str, Any], where: str) -> list[str]:
    """RecordAudio as record-audio documents it: RecordingDestination (S3, bucket, optional prefix)
    and RecordingTerminators are required; the durations and threshold have documented ranges."""
    errors = _leg(p, where, required=False)
    destination = p.get("RecordingDestination")
    if not isinstance(destination, Mapping):
        errors.append(f"{where}.RecordingDestination must be an object")
    else:
        if destination.get("Type") != "S3":
            errors.append(f"{where}.RecordingDestination.Type must be S3")
        if not isinstance(destination.get("BucketName"), str) or not destination.get("BucketName"):
            errors.append(f"{where}.RecordingDestination.BucketName must be a non-empty string")
        prefix = destination.get("Prefix", "")
        if not isinstance(prefix, str) or len(prefix) > MAX_RECORDING_PREFIX:
            errors.append(
                f"{where}.RecordingDestination.Prefix must be at most {MAX_RECORDING_PREFIX} characters"
            )
    terminators = p.get("RecordingTerminators")
    if (
        not isinstance(terminators, list)
        or not terminators
        or not all(isinstance(t, str) and len(t) == 1 and t in _TERMINATORS for t in terminators)
    ):
        errors.append(f"{where}.RecordingTerminators must list single keys from 0-9, * and #")
    if "DurationInSeconds" in p and not (_whole(p["DurationInSeconds"]) or 0) > 0:
        errors.append(f"{where}.DurationInSeconds must be a whole number of seconds above 0")
    for name in ("SilenceDurationInSeconds", "SilenceThreshold"):
        if name in p and not 1 <= (_whole(p[name]) or 0) <= 1000:
            errors.append(f"{where}.{name} must be 1-1000")
    return errors


def response_errors(response: Any) -> list[str]:
    """Every reason PSTN Audio would reject ``response``; empty when it is valid."""
    if not isinstance(response, Mapping):
        return ["the response must be a JSON object"]
    errors: list[str] = []
    if response.get("SchemaVersion") != "1.0":
        errors.append('SchemaVersion must be "1.0"')
    actions = response.get("Actions")
    if not isinstance(actions, list):
        errors.append("Actions must be a list")
        actions = []
    if len(actions) > MAX_ACTIONS:
        errors.append(f"at most {MAX_ACTIONS} actions are allowed, got {len(actions)}")
    for index, action in enumerate(actions):
        errors += _action_errors(action, index)
    attributes = response.get("TransactionAttributes")
    if attributes is not None:
        if not isinstance(attributes, Mapping):
            errors.append("TransactionAttributes must be an object")
        else:
            if len(attributes) > MAX_ATTRIBUTES:
                errors.append(f"at most {MAX_ATTRIBUTES} TransactionAttributes, got {len(attributes)}")
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
                errors.append("TransactionAttributes keys and values must be strings")
    return errors
