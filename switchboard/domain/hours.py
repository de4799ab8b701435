"""Business hours: a weekly window in a time zone, and which side of it a moment falls on.

``mon-fri 09:00-17:30`` in ``America/Chicago`` is open from 09:00 to 17:30 local time on Monday to
Friday. A window whose end is not after its start (``22:00-06:00``) runs overnight and belongs to
the day it *starts*: ``fri 22:00-06:00`` is Friday 22:00 to Saturday 06:00, and ``sun 22:00-06:00``
runs into Monday. ``24:00`` is accepted as an end (midnight at the end of the day).

Daylight-saving time (the decision, also in docs/architecture.md): each day's window is turned
into two instants with :mod:`zoneinfo`, and a moment is open when it lies between them. A local
time the clocks skip in spring (02:30 on 2026-03-08 in Chicago) is read with the offset in force
before the change, so it lands as far after the gap as it was into it (03:30 CDT), as RFC 5545 and
cron-like schedulers do; a local time that happens twice in autumn (01:30 on 2026-11-01) means its
first occurrence. Working on instants rather than comparing wall clocks keeps ``is_open`` and
``next_change`` consistent with each other, and a window never re-opens for the repeated hour. A
window squeezed to nothing by a change-over (``02:30-03:15`` on the spring day) is closed that day.

Only the standard library: the SIP media application decides with this on every call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MINUTES_PER_DAY = 24 * 60
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{name: (i,) for i, name in enumerate(DAY_NAMES)},
    **{full: (i,) for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday"))},
    "saturday": (5,),
    "sunday": (6,),
    "tues": (1,),
    "thur": (3,),
    "thurs": (3,),
    "weekdays": (0, 1, 2, 3, 4),
    "weekday": (0, 1, 2, 3, 4),
    "weekends": (5, 6),
    "weekend": (5, 6),
    "daily": tuple(range(7)),
    "everyday": tuple(range(7)),
}
_EVERY_DAY = tuple(range(7))
_WEEKDAYS = (0, 1, 2, 3, 4)
_WEEKENDS = (5, 6)
_CLOCK = re.compile(r"([0-9]{1,2}):([0-9]{2})\Z")
_WINDOW = re.compile(r"([0-9]{1,2}:[0-9]{2})\s*[-–]\s*([0-9]{1,2}:[0-9]{2})\Z")
HOURS_EXAMPLE = '"mon-fri 09:00-17:30", "weekdays 09:00-17:30", "sat,sun 10:00-14:00" or "22:00-06:00"'


class HoursError(ValueError):
    """Business hours we cannot understand (bad days, times or time zone)."""


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Open on ``days`` (0 = Monday) from ``start`` to ``end`` minutes after local midnight.

    ``end <= start`` is an overnight window ending the next day. ``timezone`` is an IANA name.

    >>> hours = parse_hours("weekdays 09:00-17:30", "America/Chicago")
    >>> hours.spec, hours.timezone
    ('mon-fri 09:00-17:30', 'America/Chicago')
    >>> hours.is_open(datetime(2026, 12, 1, 15, 0, tzinfo=UTC))  # 09:00 in Chicago, a Tuesday
    True
    """

    days: tuple[int, ...]
    start: int
    end: int
    timezone: str

    def __post_init__(self) -> None:
        days = tuple(sorted(set(self.days)))
        if not days or any(not 0 <= day <= 6 for day in days):
            raise HoursError(f"business hours need at least one day of the week (0-6), not {self.days!r}")
        if not 0 <= self.start < MINUTES_PER_DAY:
            raise HoursError(f"a window starts between 00:00 and 23:59, not at minute {self.start}")
        if not 0 < self.end <= MINUTES_PER_DAY:
            raise HoursError(f"a window ends between 00:01 and 24:00, not at minute {self.end}")
        if self.start == self.end:
            raise HoursError("a window that ends when it starts is empty; for the whole day use 00:00-24:00")
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "timezone", resolve_timezone(self.timezone))

    @property
    def overnight(self) -> bool:
        return self.end < self.start

    @property
    def days_text(self) -> str:
        """``mon-fri`` · ``sat,sun`` · ``mon,wed-fri`` · ``daily``."""
        return _days_text(self.days)

    @property
    def window_text(self) -> str:
        """``09:00-17:30``."""
        return f"{_clock(self.start)}-{_clock(self.end)}"

    @property
    def spec(self) -> str:
        """The canonical text :func:`parse_hours` reads back: ``mon-fri 09:00-17:30``."""
        return f"{self.days_text} {self.window_text}"

    def is_open(self, now: datetime | float) -> bool:
        """True when ``now`` (an aware datetime or epoch seconds) falls inside a window."""
        instant = _instant(now)
        local_day = instant.astimezone(self.zone).date()
        # A window starts on its own day and lasts at most a day (plus a DST hour), so only
        # yesterday's and today's can contain now.
        return any(
            opens <= instant < closes for opens, closes in self._windows(local_day - timedelta(days=1), 2)
        )

    def next_change(self, now: datetime | float) -> datetime | None:
        """When the open/closed state next flips after ``now`` (UTC), or None if it never does."""
        instant = _instant(now)
        first_day = instant.astimezone(self.zone).date() - timedelta(days=1)
        span = 10  # a day either side of a full week: every kind of window recurs within it
        merged: list[list[datetime]] = []
        for opens, closes in self._windows(first_day, span):
            if merged and opens <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], closes)
            else:
                merged.append([opens, closes])
        horizon = datetime.combine(first_day + timedelta(days=span - 1), datetime.min.time(), self.zone)
        for opens, closes in merged:
            if instant < opens:
                return opens.astimezone(UTC)
            if instant < closes:
                # Open around the clock (``daily 00:00-24:00``) never changes.
                return closes.astimezone(UTC) if closes < horizon.astimezone(UTC) else None
        return None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _windows(self, first_day: date, count: int) -> list[tuple[datetime, datetime]]:
        """The open intervals (UTC, in order) of the windows starting on ``count`` days from
        ``first_day``; a window a DST change-over squeezes to nothing is left out."""
        zone = self.zone
        windows = []
        for offset in range(count):
            day = first_day + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            end_day = day + timedelta(days=1) if self.overnight else day
            opens = _local_instant(day, self.start, zone)
            closes = _local_instant(end_day, self.end, zone)
            if opens < closes:
                windows.append((opens, closes))
        return windows


def parse_hours(text: str, timezone: str) -> BusinessHours:
    """``BusinessHours`` from ``"mon-fri 09:00-17:30"`` and an IANA time zone.

    Days: ``mon``..``sun`` (or full names), ranges (``mon-fri``, ``fri-mon`` wraps), lists
    (``sat,sun``), ``weekdays``, ``weekends``, ``daily``; no days means every day.
    """
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise HoursError(f"the business hours are empty; use e.g. {HOURS_EXAMPLE}")
    window = _WINDOW.search(cleaned)
    if window is None:
        raise HoursError(f"{text.strip()!r} has no time window; use e.g. {HOURS_EXAMPLE}")
    start = _parse_clock(window.group(1), allow_end_of_day=False)
    end = _parse_clock(window.group(2), allow_end_of_day=True)
    days_part = cleaned[: window.start()].strip()
    days = parse_days(days_part) if days_part else _EVERY_DAY
    return BusinessHours(days=days, start=start, end=end, timezone=timezone)


def parse_days(text: str) -> tuple[int, ...]:
    """``mon-fri`` → (0, 1, 2, 3, 4); ``fri-mon`` wraps over the weekend; ``sat,sun``; ``weekdays``."""
    days: set[int] = set()
    cleaned = re.sub(r"\s*[-–]\s*", "-", text.strip().lower())
    for part in re.split(r"\s*,\s*|\s+", cleaned):
        if not part:
            continue
        if part in _DAY_ALIASES:
            days.update(_DAY_ALIASES[part])
            continue
        first, dash, last = part.partition("-")
        if dash and first in _DAY_ALIASES and last in _DAY_ALIASES:
            a, b = _single(first, text), _single(last, text)
            days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
            continue
        raise HoursError(
            f"{part!r} is not a day; use mon..sun, a range such as mon-fri, a list such as sat,sun, "
            "weekdays, weekends or daily"
        )
    if not days:
        raise HoursError("no days given; use e.g. mon-fri, sat,sun or weekdays")
    return tuple(sorted(days))


@cache
def resolve_timezone(name: str) -> str:
    """The IANA name ``name`` refers to (case-insensitively), or a :class:`HoursError` saying so."""
    cleaned = name.strip()
    if len(cleaned) > 64:
        raise HoursError(f"{cleaned[:20]!r}... is too long for a time zone; use e.g. America/Chicago")
    if not cleaned:
        raise HoursError("business hours need a time zone, e.g. America/Chicago or Europe/Berlin")
    try:
        ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # Only people's typing gets here (stored rules hold the canonical name), so the scan of
        # every known zone for a different capitalisation costs nothing on the call path.
        matches = [zone for zone in available_timezones() if zone.lower() == cleaned.lower()]
        if len(matches) == 1:
            return matches[0]
        raise HoursError(
            f"{cleaned[:60]!r} is not a time zone we know; use an IANA name such as "
            "America/Chicago, Europe/London or UTC"
        ) from None
    return cleaned


def _single(name: str, text: str) -> int:
    days = _DAY_ALIASES[name]
    if len(days) != 1:
        raise HoursError(f"{text.strip()!r}: a range goes from one day to another, e.g. mon-fri")
    return days[0]


def _parse_clock(text: str, *, allow_end_of_day: bool) -> int:
    match = _CLOCK.match(text)
    if match is None:
        raise HoursError(f"{text!r} is not a time; use 24-hour HH:MM such as 09:00 or 17:30")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if allow_end_of_day and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise HoursError(f"{text!r} is not a time of day; use 00:00 to 23:59 (24:00 only as an end)")
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_text(days: tuple[int, ...]) -> str:
    if days == _EVERY_DAY:
        return "daily"
    runs: list[tuple[int, int]] = []
    for day in days:
        if runs and runs[-1][1] == day - 1:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    if len(runs) > 1 and runs[0][0] == 0 and runs[-1][1] == 6:
        # A run across the week's end reads as one: fri-mon rather than mon,fri-sun.
        runs = [(runs[-1][0], runs[0][1]), *runs[1:-1]]
    parts = []
    for first, last in runs:
        if first == last:
            parts.append(DAY_NAMES[first])
        elif (last - first) % 7 == 1:
            parts.append(f"{DAY_NAMES[first]},{DAY_NAMES[last]}")
        else:
            parts.append(f"{DAY_NAMES[first]}-{DAY_NAMES[last]}")
    return ",".join(parts)


def days_phrase(days: tuple[int, ...]) -> str:
    """How people say the days: ``weekdays`` · ``weekends`` · ``daily`` · ``mon,wed-fri``."""
    if days == _WEEKDAYS:
        return "weekdays"
    if days == _WEEKENDS:
        return "weekends"
    return _days_text(days)


def _local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The instant local ``day`` + ``minute`` names in ``zone`` (fold=0: see the module docstring)."""
    midnight_based = datetime(day.year, day.month, day.day, tzinfo=zone)
    if minute == MINUTES_PER_DAY:
        following = day + timedelta(days=1)
        return datetime(following.year, following.month, following.day, tzinfo=zone).astimezone(UTC)
    local = midnight_based.replace(hour=minute // 60, minute=minute % 60)
    return local.astimezone(UTC)


def _instant(now: datetime | float) -> datetime:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise HoursError("business hours need an aware datetime (with a time zone), not a naive one")
        return now.astimezone(UTC)
    return datetime.fromtimestamp(now, UTC)
