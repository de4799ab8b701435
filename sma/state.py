"""Carry :class:`~switchboard.domain.callflow.CallState` between invocations in TransactionAttributes.

PSTN Audio hands our TransactionAttributes back on every later event of the call, so the call's
state rides along there and only NEW_INBOUND_CALL reads the table. The state is one compact JSON
value (:mod:`switchboard.callstate`) under a single key (the service allows few keys).
"""

from __future__ import annotations

from switchboard import callstate
from switchboard.callstate import dump
from switchboard.domain.callflow import CallState

STATE_KEY = "switchboard"

__all__ = ["STATE_KEY", "dump", "load"]


def load(attributes: dict[str, str]) -> CallState | None:
    """The call's state from the event's TransactionAttributes, or None (absent or unreadable)."""
    return callstate.load(attributes.get(STATE_KEY))
