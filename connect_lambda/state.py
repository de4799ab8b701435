"""Carry :class:`~switchboard.domain.callflow.CallState` between invocations in a contact attribute.

The flow saves every reply of ours as contact attributes and Connect hands them back on the next
invocation, so only ``Start`` reads the table. The state is :mod:`switchboard.callstate`'s compact
JSON, base64url-encoded: attribute values are documented as letters, digits, ``-`` and ``_``, and
the encoded form is exactly that (about 1 KB for five destinations; contacts allow 32 KB).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from switchboard import callstate
from switchboard.domain.callflow import CallState

STATE_KEY = "sb"
# Far above what five destinations and a transfer need; a bigger value was not written by us.
MAX_ENCODED = 8192


def dump(state: CallState) -> str:
    return base64.urlsafe_b64encode(callstate.dump(state).encode()).decode().rstrip("=")


def load(attributes: Mapping[str, str]) -> CallState | None:
    """The call's state, or None when absent, unreadable or out of bounds (never raises)."""
    raw = attributes.get(STATE_KEY, "")
    if not raw or len(raw) > MAX_ENCODED:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, ValueError):
        return None
    return callstate.load(text)
