"""A :class:`~switchboard.domain.callflow.CallState` as one compact JSON text, and back.

Both call backends carry the call's state between invocations in the call itself, so only the
first invocation reads the table: the SIP media application in TransactionAttributes
(:mod:`sma.state`), Amazon Connect in a contact attribute (:mod:`connect_lambda.state`). The text
arrives back in an event, so :func:`load` treats it as untrusted input.
"""

from __future__ import annotations

import json
from typing import Any

from switchboard.domain.callflow import CallState, Phase
from switchboard.domain.events import Attempt
from switchboard.domain.rules import (
    MAX_DESTINATIONS,
    MAX_RING_TIMEOUT,
    MAX_VOICEMAIL_SECONDS,
    FailureAction,
    GreetingMode,
)

_VERSION = 1


def dump(state: CallState) -> str:
    packed: dict[str, Any] = {
        "v": _VERSION,
        "d": state.dialed,
        "c": state.caller,
        "ds": list(state.destinations),
        "g": state.greeting.value,
        "f": state.failure.value,
        "id": state.caller_id,
        "to": state.ring_timeout,
        "p": state.phase.value,
        "i": state.index,
        "t0": state.started_ms,
        "ta": state.attempt_started_ms,
        "tb": state.bridged_ms,
        "a": [[a.destination, a.result, a.ring_ms] for a in state.attempts],
        "r": int(state.recorded),
        "gb": int(state.greeting_broken),
    }
    # Transfer and DNIS-pool fields only when used, to keep the attribute small.
    if state.pair:
        packed["pr"] = list(state.pair)
    if state.transfer_target:
        packed["xt"] = state.transfer_target
    if state.transfer_arn:
        packed["xa"] = state.transfer_arn
    if state.transferred:
        packed["xd"] = 1
    if state.live:
        packed["lv"] = 1
    if state.voicemail_max:
        packed["vm"] = state.voicemail_max
    if state.recording_prefix:
        packed["rp"] = state.recording_prefix
        packed["tr"] = state.recording_started_ms
    return json.dumps(packed, separators=(",", ":"))


# Bounds on what a state may hold: far above anything :func:`dump` writes, so a value outside
# them means the attribute was not ours (or was damaged) and the call must not act on it.
_MAX_TEXT = 256
_MAX_MS = 2**53
_MAX_INDEX = 2**31
_MAX_ATTEMPTS = 32


def _int(value: Any, low: int, high: int) -> int:
    # type() rather than isinstance(): True/False, floats (1e999 is inf) and strings are not ours.
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"not an integer in [{low}, {high}]")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise ValueError("not a short string")
    return value


def _texts(value: Any, most: int) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > most:
        raise ValueError("not a short list")
    return tuple(_text(item) for item in value)


def _attempt(value: Any) -> Attempt:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("an attempt is [destination, result, ring ms]")
    destination, result, ring_ms = value
    return Attempt(_text(destination), _text(result), _int(ring_ms, 0, _MAX_MS))


def load(raw: str | None) -> CallState | None:
    """The call's state, or None when absent, unreadable or out of bounds. Never raises: the
    text arrives in an event, and a value like ``1e999`` must not crash the handler."""
    if not raw:
        return None
    try:
        packed = json.loads(raw)
        if not isinstance(packed, dict) or packed.get("v") != _VERSION:
            return None
        pair = packed.get("pr")
        attempts = packed["a"]
        if not isinstance(attempts, list) or len(attempts) > _MAX_ATTEMPTS:
            return None
        state = CallState(
            dialed=_text(packed["d"]),
            caller=_text(packed["c"]),
            destinations=_texts(packed["ds"], MAX_DESTINATIONS),
            greeting=GreetingMode(_text(packed["g"])),
            failure=FailureAction(_text(packed["f"])),
            caller_id=_text(packed["id"]),
            ring_timeout=_int(packed["to"], 0, MAX_RING_TIMEOUT),
            phase=Phase(_text(packed["p"])),
            index=_int(packed["i"], 0, _MAX_INDEX),
            started_ms=_int(packed["t0"], 0, _MAX_MS),
            attempt_started_ms=_int(packed["ta"], 0, _MAX_MS),
            bridged_ms=_int(packed["tb"], 0, _MAX_MS),
            attempts=tuple(_attempt(a) for a in attempts),
            recorded=bool(_int(packed["r"], 0, 1)),
            greeting_broken=bool(_int(packed["gb"], 0, 1)),
            pair=_pair(pair) if pair else None,
            transfer_target=_text(packed.get("xt", "")),
            transfer_arn=_text(packed.get("xa", "")),
            transferred=bool(_int(packed.get("xd", 0), 0, 1)),
            live=bool(_int(packed.get("lv", 0), 0, 1)),
            voicemail_max=_int(packed.get("vm", 0), 0, MAX_VOICEMAIL_SECONDS),
            recording_prefix=_text(packed.get("rp", "")),
            recording_started_ms=_int(packed.get("tr", 0), 0, _MAX_MS),
        )
    except Exception:  # any unreadable state is "no state" (RecursionError included)
        return None
    if state.destinations and not state.index < len(state.destinations):
        return None
    return state


def _pair(value: Any) -> tuple[str, str]:
    sma_number, connect_number = _texts(value, 2)  # ValueError unless exactly two
    return sma_number, connect_number
