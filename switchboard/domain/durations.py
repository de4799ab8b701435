"""Human durations for expiring forwards: ``2h``, ``90m``, ``1d12h``, ``45 minutes``."""

from __future__ import annotations

import re

MIN_SECONDS = 60
MAX_SECONDS = 30 * 86400

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
# ASCII digits only, and few of them: int() refuses some Unicode digits and very long numbers.
_PART = re.compile(r"([0-9]+)\s*([a-z]+)")
_MAX_DIGITS = 9


class DurationError(ValueError):
    """Not a duration we understand, or out of range."""


def parse_duration(text: str) -> int:
    """Seconds in ``text``; between 1 minute and 30 days.

    >>> parse_duration("1h30m")
    5400
    """
    cleaned = text.strip().lower().replace(",", " ")
    if not cleaned:
        raise DurationError("the duration is empty; use e.g. 30m, 2h or 1d")
    if cleaned.startswith("-"):
        raise DurationError(f"{text!r} is negative: a forward expires 1 minute to 30 days from now, e.g. 2h")
    total = 0
    position = 0
    for match in _PART.finditer(cleaned):
        if cleaned[position : match.start()].strip() not in ("", "and"):
            break
        unit = _UNITS.get(match.group(2))
        if unit is None:
            raise DurationError(f"unknown unit {match.group(2)!r} in {text!r}; use m, h, d or w")
        if len(match.group(1)) > _MAX_DIGITS:
            raise DurationError(
                f"{text[:20]!r} is out of range: a forward may expire after 1 minute to 30 days"
            )
        total += int(match.group(1)) * unit
        position = match.end()
    if position == 0 or cleaned[position:].strip():
        raise DurationError(f"{text!r} is not a duration; use e.g. 30m, 2h, 1d or 1h30m")
    if not MIN_SECONDS <= total <= MAX_SECONDS:
        raise DurationError(f"{text!r} is out of range: a forward may expire after 1 minute to 30 days")
    return total


def describe_duration(seconds: int) -> str:
    """``5400`` → ``1h 30m``: short and exact enough for messages."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds}s")
    return " ".join(parts)
