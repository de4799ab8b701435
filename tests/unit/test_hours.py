"""switchboard.domain.hours: business-hours windows at their edges (DST, overnight, week wrap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from switchboard.domain.hours import BusinessHours, HoursError, days_phrase, parse_days, parse_hours

CHICAGO = ZoneInfo("America/Chicago")


def local(*fields: int, fold: int = 0, zone: ZoneInfo = CHICAGO) -> datetime:
    return datetime(*fields, tzinfo=zone, fold=fold)  # type: ignore[arg-type,misc]


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)  # type: ignore[arg-type,misc]


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "start", "end"),
    [
        ("mon-fri 09:00-17:30", (0, 1, 2, 3, 4), 540, 1050),
        ("weekdays 09:00-17:30", (0, 1, 2, 3, 4), 540, 1050),
        ("Weekdays  9:00 - 17:30", (0, 1, 2, 3, 4), 540, 1050),
        ("sat,sun 10:00-14:00", (5, 6), 600, 840),
        ("sat, sun 10:00-14:00", (5, 6), 600, 840),
        ("weekends 10:00-14:00", (5, 6), 600, 840),
        ("22:00-06:00", (0, 1, 2, 3, 4, 5, 6), 1320, 360),
        ("daily 00:00-24:00", (0, 1, 2, 3, 4, 5, 6), 0, 1440),
        ("fri-mon 08:00-12:00", (0, 4, 5, 6), 480, 720),
        ("mon,wed-fri 08:00-12:00", (0, 2, 3, 4), 480, 720),
        ("monday tuesday 08:00-12:00", (0, 1), 480, 720),
        ("mon–fri 09:00–17:30", (0, 1, 2, 3, 4), 540, 1050),  # Slack may turn hyphens into dashes
    ],
)
def test_parse_hours_reads_days_and_window(text: str, days: tuple[int, ...], start: int, end: int) -> None:
    hours = parse_hours(text, "America/Chicago")
    assert (hours.days, hours.start, hours.end) == (days, start, end)


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("weekdays 09:00-17:30", "mon-fri 09:00-17:30"),
        ("sun,sat 10:00-14:00", "sat,sun 10:00-14:00"),
        ("fri-mon 08:00-12:00", "fri-mon 08:00-12:00"),
        ("mon,wed,thu,fri 08:00-12:00", "mon,wed-fri 08:00-12:00"),
        ("22:00-06:00", "daily 22:00-06:00"),
        ("sun 9:05-24:00", "sun 09:05-24:00"),
    ],
)
def test_spec_is_canonical_and_parses_back_to_the_same_hours(text: str, spec: str) -> None:
    hours = parse_hours(text, "Europe/Berlin")
    assert hours.spec == spec
    assert parse_hours(hours.spec, hours.timezone) == hours


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("mon-fri", "no time window"),
        ("mon-fri 9am-5pm", "no time window"),
        ("mon-fri 25:00-17:00", "not a time of day"),
        ("mon-fri 09:60-17:00", "not a time of day"),
        ("mon-fri 24:00-06:00", "not a time of day"),
        ("mon-fri 09:00-09:00", "empty"),
        ("funday 09:00-17:00", "'funday' is not a day"),
        ("weekdays-sun 09:00-17:00", "from one day to another"),
    ],
)
def test_bad_hours_are_refused_with_a_message_that_helps(text: str, fragment: str) -> None:
    with pytest.raises(HoursError, match=fragment):
        parse_hours(text, "America/Chicago")


def test_time_zones_are_checked_and_capitalised() -> None:
    assert parse_hours("09:00-17:00", "america/chicago").timezone == "America/Chicago"
    assert parse_hours("09:00-17:00", " UTC ").timezone == "UTC"
    for bad in ("Mars/Olympus", "", "../../etc/passwd", "x" * 300):
        with pytest.raises(HoursError, match="time zone"):
            parse_hours("09:00-17:00", bad)


def test_days_phrase_names_common_sets() -> None:
    assert days_phrase(parse_days("mon-fri")) == "weekdays"
    assert days_phrase(parse_days("sat,sun")) == "weekends"
    assert days_phrase(parse_days("mon-sun")) == "daily"
    assert days_phrase(parse_days("tue")) == "tue"


def test_construction_validates_directly_too() -> None:
    with pytest.raises(HoursError):
        BusinessHours(days=(), start=540, end=600, timezone="UTC")
    with pytest.raises(HoursError):
        BusinessHours(days=(7,), start=540, end=600, timezone="UTC")
    with pytest.raises(HoursError):
        BusinessHours(days=(0,), start=1440, end=600, timezone="UTC")
    with pytest.raises(HoursError, match="aware"):
        parse_hours("09:00-17:00", "UTC").is_open(datetime(2026, 12, 1, 12))


# --- is_open / next_change on ordinary days ---------------------------------------------------

WEEKDAYS_CHICAGO = parse_hours("weekdays 09:00-17:30", "America/Chicago")


def test_open_and_closed_at_the_window_edges() -> None:
    tuesday = (2026, 12, 1)
    assert not WEEKDAYS_CHICAGO.is_open(local(*tuesday, 8, 59))
    assert WEEKDAYS_CHICAGO.is_open(local(*tuesday, 9, 0))
    assert WEEKDAYS_CHICAGO.is_open(local(*tuesday, 17, 29))
    assert not WEEKDAYS_CHICAGO.is_open(local(*tuesday, 17, 30))  # the end is exclusive
    assert not WEEKDAYS_CHICAGO.is_open(local(2026, 12, 5, 12, 0))  # Saturday


def test_epoch_seconds_and_datetimes_agree() -> None:
    moment = local(2026, 12, 1, 12, 0)
    assert WEEKDAYS_CHICAGO.is_open(moment.timestamp()) is WEEKDAYS_CHICAGO.is_open(moment) is True


def test_next_change_is_the_close_when_open_and_the_next_open_when_closed() -> None:
    assert WEEKDAYS_CHICAGO.next_change(local(2026, 12, 1, 12, 0)) == local(2026, 12, 1, 17, 30)
    assert WEEKDAYS_CHICAGO.next_change(local(2026, 12, 1, 17, 30)) == local(2026, 12, 2, 9, 0)
    # Friday evening: the next change is Monday morning.
    assert WEEKDAYS_CHICAGO.next_change(local(2026, 12, 4, 18, 0)) == local(2026, 12, 7, 9, 0)
    assert WEEKDAYS_CHICAGO.next_change(local(2026, 12, 1, 12, 0)).tzinfo is UTC  # type: ignore[union-attr]


def test_the_same_hours_in_another_time_zone_are_other_instants() -> None:
    tokyo = parse_hours("weekdays 09:00-17:30", "Asia/Tokyo")
    moment = utc(2026, 12, 1, 1, 0)  # 10:00 Tuesday in Tokyo, 19:00 Monday in Chicago
    assert tokyo.is_open(moment)
    assert not WEEKDAYS_CHICAGO.is_open(moment)
    kolkata = parse_hours("mon 09:00-09:30", "Asia/Kolkata")  # a half-hour offset (+05:30)
    assert kolkata.is_open(utc(2026, 11, 30, 3, 30))
    assert not kolkata.is_open(utc(2026, 11, 30, 4, 0))


def test_always_open_never_changes() -> None:
    always = parse_hours("daily 00:00-24:00", "America/Chicago")
    for moment in (local(2026, 3, 8, 2, 30), local(2026, 11, 1, 1, 30, fold=1), utc(2026, 12, 1)):
        assert always.is_open(moment)
        assert always.next_change(moment) is None


def test_back_to_back_days_merge_into_one_open_stretch() -> None:
    mon_to_sat = parse_hours("mon-sat 00:00-24:00", "UTC")
    assert mon_to_sat.next_change(utc(2026, 11, 30, 12)) == utc(2026, 12, 6)  # Sunday 00:00
    assert mon_to_sat.next_change(utc(2026, 12, 6, 12)) == utc(2026, 12, 7)


# --- overnight and the week's end ---------------------------------------------------------------

NIGHTS = parse_hours("mon-fri 22:00-06:00", "America/Chicago")


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    assert NIGHTS.is_open(local(2026, 12, 1, 23, 0))  # Tuesday night
    assert NIGHTS.is_open(local(2026, 12, 2, 5, 59))  # ...into Wednesday
    assert not NIGHTS.is_open(local(2026, 12, 2, 6, 0))
    assert NIGHTS.is_open(local(2026, 12, 5, 5, 0))  # Friday's window runs into Saturday
    assert not NIGHTS.is_open(local(2026, 12, 5, 23, 0))  # Saturday has no window
    assert not NIGHTS.is_open(local(2026, 11, 30, 3, 0))  # Monday early: Sunday had none
    assert NIGHTS.next_change(local(2026, 12, 1, 23, 0)) == local(2026, 12, 2, 6, 0)
    assert NIGHTS.next_change(local(2026, 12, 5, 6, 0)) == local(2026, 12, 7, 22, 0)


def test_sunday_night_wraps_into_monday() -> None:
    sunday_night = parse_hours("sun 22:00-06:00", "Europe/London")
    london = ZoneInfo("Europe/London")
    assert sunday_night.is_open(local(2026, 12, 6, 23, 0, zone=london))
    assert sunday_night.is_open(local(2026, 12, 7, 5, 0, zone=london))  # Monday
    assert not sunday_night.is_open(local(2026, 12, 7, 23, 0, zone=london))
    assert sunday_night.next_change(local(2026, 12, 7, 7, 0, zone=london)) == local(
        2026, 12, 13, 22, 0, zone=london
    )
    wrap = parse_hours("sun-mon 09:00-17:00", "UTC")
    assert wrap.days == (0, 6)
    assert wrap.next_change(utc(2026, 12, 6, 17)) == utc(2026, 12, 7, 9)


# --- daylight-saving change-overs (America/Chicago: 2026-03-08 spring, 2026-11-01 autumn) -------


def test_spring_forward_hours_keep_local_wall_times() -> None:
    # 09:00-17:30 is CST (UTC-6) on Saturday and CDT (UTC-5) on Monday: the same wall clock.
    daily = parse_hours("daily 09:00-17:30", "America/Chicago")
    assert daily.next_change(utc(2026, 3, 7, 16)) == utc(2026, 3, 7, 23, 30)
    assert daily.next_change(utc(2026, 3, 8, 12)) == utc(2026, 3, 8, 14)  # 09:00 CDT
    assert daily.is_open(utc(2026, 3, 8, 14))
    assert not daily.is_open(utc(2026, 3, 8, 13, 59))


def test_a_window_starting_in_the_skipped_hour_opens_as_far_after_the_gap() -> None:
    # 02:30 does not exist on 2026-03-08 in Chicago (02:00 CST → 03:00 CDT): read as 03:30 CDT.
    early = parse_hours("sun 02:30-05:00", "America/Chicago")
    assert early.next_change(utc(2026, 3, 8, 7)) == utc(2026, 3, 8, 8, 30)
    assert not early.is_open(local(2026, 3, 8, 3, 15))
    assert early.is_open(local(2026, 3, 8, 3, 30))
    assert early.next_change(local(2026, 3, 8, 3, 30)) == local(2026, 3, 8, 5, 0)


def test_a_window_the_spring_gap_squeezes_to_nothing_is_closed_that_day() -> None:
    squeezed = parse_hours("sun 02:30-03:15", "America/Chicago")
    for minute in range(0, 240, 5):
        assert not squeezed.is_open(utc(2026, 3, 8, 6) + timedelta(minutes=minute))
    assert squeezed.is_open(local(2026, 3, 15, 3, 0))  # an ordinary Sunday


def test_fall_back_a_repeated_time_means_its_first_occurrence() -> None:
    # 01:00-02:00 happens twice on 2026-11-01 in Chicago (CDT, then CST).
    until_half_one = parse_hours("sun 00:00-01:30", "America/Chicago")
    assert until_half_one.is_open(local(2026, 11, 1, 1, 15))  # first 01:15 (CDT)
    assert not until_half_one.is_open(local(2026, 11, 1, 1, 45))
    assert not until_half_one.is_open(local(2026, 11, 1, 1, 15, fold=1))  # no re-opening
    # (Compared in UTC: Python never calls a repeated local time equal to a time in another zone.)
    assert until_half_one.next_change(local(2026, 11, 1, 0, 30)) == utc(2026, 11, 1, 6, 30)
    from_half_one = parse_hours("sun 01:30-03:00", "America/Chicago")
    assert from_half_one.is_open(local(2026, 11, 1, 1, 45))
    assert from_half_one.is_open(local(2026, 11, 1, 1, 15, fold=1))  # second 01:15, still open
    # Open 01:30 CDT (06:30Z) to 03:00 CST (09:00Z): two and a half hours that night.
    assert from_half_one.next_change(utc(2026, 11, 1, 6, 30)) == utc(2026, 11, 1, 9)


def test_an_overnight_window_across_each_change_over_keeps_its_wall_clock_edges() -> None:
    nights = parse_hours("sat 22:00-06:00", "America/Chicago")
    # Spring: Sat 22:00 CST (04:00Z) to Sun 06:00 CDT (11:00Z) -- seven hours.
    assert nights.next_change(utc(2026, 3, 8, 3)) == utc(2026, 3, 8, 4)
    assert nights.next_change(utc(2026, 3, 8, 4)) == utc(2026, 3, 8, 11)
    # Autumn: Sat 22:00 CDT (03:00Z) to Sun 06:00 CST (12:00Z) -- nine hours.
    assert nights.next_change(utc(2026, 11, 1, 2)) == utc(2026, 11, 1, 3)
    assert nights.next_change(utc(2026, 11, 1, 3)) == utc(2026, 11, 1, 12)
    assert nights.is_open(utc(2026, 11, 1, 11, 59))
    assert not nights.is_open(utc(2026, 11, 1, 12))


def test_is_open_and_next_change_agree_minute_by_minute_across_both_change_overs() -> None:
    for hours in (
        parse_hours("daily 01:30-02:30", "America/Chicago"),
        parse_hours("daily 22:00-02:15", "America/Chicago"),
        parse_hours("sun 00:00-24:00", "America/Chicago"),
    ):
        for day_start in (utc(2026, 3, 7, 12), utc(2026, 10, 31, 12)):
            moment = day_start
            while moment < day_start + timedelta(days=2):
                change = hours.next_change(moment)
                assert change is not None
                assert change > moment
                state = hours.is_open(moment)
                assert hours.is_open(change - timedelta(seconds=1)) is state
                assert hours.is_open(change) is not state
                moment += timedelta(minutes=10)
