"""Defaults that the settings and the domain share, in a module that costs nothing to import.

The settings need them on every function; the domain modules that use them (the DNIS pool,
transfers) are imported by the SIP media application only when a call needs them, since a cold
start compiles every module it imports.
"""

from __future__ import annotations

# A call spends seconds to minutes in Connect before it is transferred or ends; 15 minutes is far
# beyond a normal stay, yet short enough that a leaked pair comes back the same hour.
DEFAULT_STALE_AFTER_SECONDS = 900
# Digit-only SIP users this matches are extensions of the PBX (setting SIP_EXTENSION_PATTERN).
DEFAULT_SIP_EXTENSION_PATTERN = "^[0-9]{2,6}$"
