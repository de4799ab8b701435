"""Carry :class:`~switchboard.domain.callflow.CallState` between invocations in TransactionAttributes.

PSTN Audio hands our TransactionAttributes back on every later event of the call, so the call's
state rides along there and only NEW_INBOUND_CALL reads the table. The state is one compact JSON
value under a single key (the service allows few keys; other features can add their own).
"""

from __future__ import annotations

import json
from typing import Any

from switchboard.domain.callflow import CallState, Phase
from switchboard.domain.events import Attempt
from switchboard.domain.rules import FailureAction, GreetingMode

STATE_KEY = "switchboard"
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
    return json.dumps(packed, separators=(",", ":"))


def load(attributes: dict[str, str]) -> CallState | None:
    """The call's state, or None when absent or unreadable (never raises)."""
    raw = attributes.get(STATE_KEY)
    if not raw:
        return None
    try:
        packed = json.loads(raw)
        if packed.get("v") != _VERSION or not isinstance(packed.get("ds"), list):
            return None
        state = CallState(
            dialed=str(packed["d"]),
            caller=str(packed["c"]),
            destinations=tuple(str(d) for d in packed["ds"]),
            greeting=GreetingMode(packed["g"]),
            failure=FailureAction(packed["f"]),
            caller_id=str(packed["id"]),
            ring_timeout=int(packed["to"]),
            phase=Phase(packed["p"]),
            index=int(packed["i"]),
            started_ms=int(packed["t0"]),
            attempt_started_ms=int(packed["ta"]),
            bridged_ms=int(packed["tb"]),
            attempts=tuple(Attempt(str(d), str(r), int(ms)) for d, r, ms in packed["a"]),
            recorded=bool(packed["r"]),
            greeting_broken=bool(packed["gb"]),
            pair=(str(packed["pr"][0]), str(packed["pr"][1])) if packed.get("pr") else None,
            transfer_target=str(packed.get("xt", "")),
            transfer_arn=str(packed.get("xa", "")),
            transferred=bool(packed.get("xd", 0)),
            live=bool(packed.get("lv", 0)),
        )
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # deeply nested JSON
        return None
    if state.destinations and not 0 <= state.index < len(state.destinations):
        return None
    return state
