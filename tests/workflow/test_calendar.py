"""Tests of the business calendar: working days, business hours, deadlines (explicit instants)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.calendar import BusinessCalendar, DayInfo
from workflow.deadlines import Deadline, Step
from workflow.errors import InvalidInput
from workflow.hours import BusinessHours, parse_hours
from workflow.notices import Overrides
from workflow.unit_time import UnitCalendar, UnitTime

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar()
H = timedelta(hours=1)


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return sh(y, mo, d, h, mi).astimezone(UTC)


def kinds(deadline: Deadline) -> dict[date, str]:
    return {step.day: step.kind for step in deadline.steps}


# --- what the library says (the tests below depend on it) -----------------------------------


def test_library_facts_used_by_these_tests() -> None:
    # Make-up workdays (调休上班).
    assert chinese_calendar.is_workday(date(2026, 2, 14))  # Sat, Spring Festival
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # Sat, National Day
    assert chinese_calendar.is_workday(date(2025, 2, 8))  # Sat, Spring Festival
    assert chinese_calendar.is_workday(date(2025, 9, 28))  # Sun, National Day
    # 2026 Mid-autumn is 09-25..09-27, so Sunday 2026-09-27 is a holiday, not a make-up day.
    assert not chinese_calendar.is_workday(date(2026, 9, 25))
    assert not chinese_calendar.is_workday(date(2026, 9, 27))
    # The library stops at 2026.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


# --- days -----------------------------------------------------------------------------------


def test_make_up_saturday_2026() -> None:
    assert CAL.day(date(2026, 2, 14)) == DayInfo(
        date(2026, 2, 14), True, "makeup_workday", "春节调休", False
    )
    assert CAL.is_working_day(date(2026, 2, 14))


def test_make_up_saturday_2025() -> None:
    info = CAL.day(date(2025, 2, 8))
    assert (info.working, info.reason, info.name, info.provisional) == (
        True,
        "makeup_workday",
        "春节调休",
        False,
    )


def test_holidays_weekends_and_workdays_2025_2026() -> None:
    assert CAL.day(date(2026, 10, 1)) == DayInfo(
        date(2026, 10, 1), False, "holiday", "国庆节", False
    )
    assert CAL.day(date(2025, 1, 29)).name == "春节"
    assert CAL.day(date(2025, 10, 6)).name == "中秋"
    assert CAL.day(date(2026, 11, 21)) == DayInfo(date(2026, 11, 21), False, "weekend", None, False)
    assert CAL.day(date(2026, 11, 23)) == DayInfo(date(2026, 11, 23), True, "workday", None, False)
    assert not CAL.is_working_day(date(2025, 5, 5))  # Labour Day in lieu (Monday)


def test_uncovered_year_uses_the_law_minimum_and_is_provisional() -> None:
    assert CAL.day(date(2027, 1, 1)) == DayInfo(date(2027, 1, 1), False, "holiday", "元旦", True)
    assert CAL.day(date(2027, 5, 2)).reason == "holiday"
    assert CAL.day(date(2027, 10, 3)).name == "国庆节"
    # 10-02 (Sat) and 10-03 (Sun) are made up on Mon 10-04 and Tue 10-05 (article 6, 补假).
    assert CAL.day(date(2027, 10, 4)) == DayInfo(
        date(2027, 10, 4), False, "holiday", "国庆节（补假）", True
    )
    assert CAL.day(date(2027, 10, 6)) == DayInfo(date(2027, 10, 6), True, "workday", None, True)
    assert CAL.day(date(2027, 1, 2)).reason == "weekend"
    assert CAL.day(date(2003, 6, 2)).provisional


def test_day_rejects_a_datetime() -> None:
    with pytest.raises(ValueError):
        CAL.day(datetime(2026, 1, 5, tzinfo=SH))


# --- end_of_working_day ---------------------------------------------------------------------


def test_four_working_days_across_mid_autumn_and_national_day_2026() -> None:
    deadline = CAL.end_of_working_day(sh(2026, 9, 24, 10, 0), 4)
    assert deadline.at == utc(2026, 10, 8, 17, 30)
    assert deadline.at.tzinfo is UTC
    assert not deadline.provisional
    steps = kinds(deadline)
    assert steps[date(2026, 9, 24)] == "start_not_counted"
    assert steps[date(2026, 9, 27)] == "skipped"  # Sunday, a Mid-autumn holiday in 2026
    assert [d for d, k in steps.items() if k == "counted"] == [
        date(2026, 9, 28),
        date(2026, 9, 29),
        date(2026, 9, 30),
        date(2026, 10, 8),
    ]
    lines = deadline.explain()
    assert lines[0].startswith("deadline 2026-10-08 17:30 Asia/Shanghai")
    assert any("holiday 国庆节" in line for line in lines)
    assert any("holiday 中秋" in line for line in lines)


def test_day_before_national_day_2026_and_make_up_saturday() -> None:
    start = sh(2026, 9, 30, 9, 0)
    assert CAL.end_of_working_day(start, 1).at == utc(2026, 10, 8, 17, 30)
    assert CAL.end_of_working_day(start, 2).at == utc(2026, 10, 9, 17, 30)
    third = CAL.end_of_working_day(start, 3)
    assert third.at == utc(2026, 10, 10, 17, 30)  # Saturday make-up workday
    assert "make-up workday 国庆节调休" in third.steps[-1].reason


def test_day_before_spring_festival_2026() -> None:
    # Fri 02-13 -> Sat 02-14 (make-up) is day 1; 02-15..02-23 holiday; 02-24 day 2.
    start = sh(2026, 2, 13, 16, 0)
    assert CAL.end_of_working_day(start, 1).at == utc(2026, 2, 14, 17, 30)
    deadline = CAL.end_of_working_day(start, 4)
    assert deadline.at == utc(2026, 2, 26, 17, 30)
    skipped = [s.day for s in deadline.steps if s.kind == "skipped"]
    assert skipped == [date(2026, 2, d) for d in range(15, 24)]


def test_one_working_day_from_friday_afternoon() -> None:
    assert CAL.end_of_working_day(sh(2026, 11, 20, 16, 0), 1).at == utc(2026, 11, 23, 17, 30)


def test_start_before_opening_still_does_not_count_the_day() -> None:
    assert CAL.end_of_working_day(sh(2026, 11, 23, 7, 0), 1).at == utc(2026, 11, 24, 17, 30)


def test_start_on_sunday_night() -> None:
    assert CAL.end_of_working_day(sh(2026, 11, 22, 22, 0), 1).at == utc(2026, 11, 23, 17, 30)


def test_local_date_decides_not_utc_date() -> None:
    # 2026-11-23 01:00 Shanghai is still 2026-11-22 in UTC.
    start = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert CAL.end_of_working_day(start, 1).at == utc(2026, 11, 24, 17, 30)


def test_make_up_workday_2025_counts() -> None:
    # Thu 2025-02-06 + 2: Fri 02-07, Sat 02-08 (make-up).
    assert CAL.end_of_working_day(sh(2025, 2, 6, 10), 2).at == utc(2025, 2, 8, 17, 30)
    # 2025 National Day: holiday 10-01..10-08, Sun 09-28 and Sat 10-11 are make-up days.
    assert CAL.end_of_working_day(sh(2025, 9, 27, 10), 1).at == utc(2025, 9, 28, 17, 30)
    assert CAL.end_of_working_day(sh(2025, 9, 30, 10), 3).at == utc(2025, 10, 11, 17, 30)


def test_new_years_eve_2026_is_provisional() -> None:
    deadline = CAL.end_of_working_day(sh(2026, 12, 31, 10, 0), 1)
    # Fallback: 2027-01-01 (Fri) holiday, weekend, so Monday 2027-01-04.
    assert deadline.at == utc(2027, 1, 4, 17, 30)
    assert deadline.provisional
    assert kinds(deadline)[date(2027, 1, 1)] == "skipped"
    assert any(line.startswith("provisional") for line in deadline.explain())


def test_covered_deadline_is_not_provisional() -> None:
    assert not CAL.end_of_working_day(sh(2026, 12, 28, 10, 0), 2).provisional


def test_add_working_days_extends_a_deadline() -> None:
    deadline = CAL.end_of_working_day(sh(2026, 9, 24, 10, 0), 4)
    extended = CAL.add_working_days(deadline.at, 3)
    # 10-08 (Thu) -> 10-09 Fri, 10-10 Sat (make-up), 10-12 Mon.
    assert extended.at == utc(2026, 10, 12, 17, 30)
    assert extended.steps[0].kind == "start_not_counted"


def test_invalid_day_counts_and_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        CAL.end_of_working_day(sh(2026, 1, 5), 0)
    with pytest.raises(ValueError):
        CAL.end_of_working_day(datetime(2026, 1, 5, 10), 1)
    with pytest.raises(ValueError):
        CAL.add_business_time(datetime(2026, 1, 5, 10), H)
    with pytest.raises(ValueError):
        CAL.add_business_time(sh(2026, 1, 5, 10), -H)
    with pytest.raises(ValueError):
        CAL.next_opening(datetime(2026, 1, 5, 10))
    with pytest.raises(ValueError):
        CAL.business_time_between(datetime(2026, 1, 5, 10), sh(2026, 1, 6))


# --- add_business_time ----------------------------------------------------------------------


def test_two_hours_across_the_night() -> None:
    deadline = CAL.add_business_time(sh(2026, 11, 23, 16, 30), 2 * H)
    assert deadline.at == utc(2026, 11, 24, 9, 30)
    assert [s.kind for s in deadline.steps] == ["partial", "partial"]


def test_two_hours_across_the_lunch_break() -> None:
    deadline = CAL.add_business_time(sh(2026, 11, 23, 11, 30), 2 * H)
    assert deadline.at == utc(2026, 11, 23, 15, 30)
    assert "lunch break 12:00-14:00 not counted" in deadline.steps[0].reason


def test_accepted_in_the_lunch_break() -> None:
    deadline = CAL.add_business_time(sh(2026, 11, 23, 12, 40), 2 * H)
    assert deadline.at == utc(2026, 11, 23, 16, 0)
    assert "in the lunch break 12:00-14:00" in deadline.steps[0].reason


def test_accepted_sunday_night_starts_monday_morning() -> None:
    deadline = CAL.add_business_time(sh(2026, 11, 22, 22, 0), 2 * H)
    assert deadline.at == utc(2026, 11, 23, 10, 30)
    assert deadline.steps[0] == Step(date(2026, 11, 22), "skipped", "weekend")


def test_accepted_sunday_night_before_a_monday_holiday() -> None:
    # Sun 2026-10-04 night: Mon..Wed are National Day holidays; counting starts Thu 10-08.
    assert CAL.add_business_time(sh(2026, 10, 4, 22, 0), 2 * H).at == utc(2026, 10, 8, 10, 30)


def test_accepted_before_opening() -> None:
    deadline = CAL.add_business_time(sh(2026, 11, 23, 7, 0), 2 * H)
    assert deadline.at == utc(2026, 11, 23, 10, 30)
    assert "before opening 08:30" in deadline.steps[0].reason


def test_accepted_at_1729_and_at_1730() -> None:
    assert CAL.add_business_time(sh(2026, 11, 23, 17, 29), 2 * H).at == utc(2026, 11, 24, 10, 29)
    at_close = CAL.add_business_time(sh(2026, 11, 23, 17, 30), 2 * H)
    assert at_close.at == utc(2026, 11, 24, 10, 30)
    assert at_close.steps[0].kind == "not_counted"
    assert "after closing 17:30" in at_close.steps[0].reason


def test_deadline_lands_exactly_at_noon_and_at_closing() -> None:
    noon = CAL.add_business_time(sh(2026, 11, 23, 10, 0), 2 * H)
    assert noon.at == utc(2026, 11, 23, 12, 0)
    assert "deadline at closing 12:00" in noon.steps[-1].reason
    close = CAL.add_business_time(sh(2026, 11, 23, 15, 30), 2 * H)
    assert close.at == utc(2026, 11, 23, 17, 30)
    full_day = CAL.add_business_time(sh(2026, 11, 23, 8, 30), 7 * H)
    assert full_day.at == utc(2026, 11, 23, 17, 30)


def test_make_up_saturday_before_spring_festival_business_hours() -> None:
    # Fri 02-13 16:30: 1h on Friday, 7h on the make-up Saturday, 1h on Tue 02-24.
    deadline = CAL.add_business_time(sh(2026, 2, 13, 16, 30), 9 * H)
    assert deadline.at == utc(2026, 2, 24, 9, 30)
    assert kinds(deadline)[date(2026, 2, 14)] == "counted"
    assert kinds(deadline)[date(2026, 2, 16)] == "skipped"


def test_zero_duration_is_next_opening() -> None:
    for start in (sh(2026, 11, 23, 12, 0), sh(2026, 11, 23, 17, 30), sh(2026, 11, 23, 9, 15)):
        assert CAL.add_business_time(start, timedelta(0)).at == CAL.next_opening(start)


def test_next_opening() -> None:
    assert CAL.next_opening(sh(2026, 11, 23, 9, 15)) == utc(2026, 11, 23, 9, 15)
    assert CAL.next_opening(sh(2026, 11, 23, 8, 30)) == utc(2026, 11, 23, 8, 30)
    assert CAL.next_opening(sh(2026, 11, 23, 12, 0)) == utc(2026, 11, 23, 14, 0)
    assert CAL.next_opening(sh(2026, 11, 23, 17, 30)) == utc(2026, 11, 24, 8, 30)
    assert CAL.next_opening(sh(2026, 9, 30, 18, 0)) == utc(2026, 10, 8, 8, 30)
    assert CAL.next_opening(sh(2026, 11, 23, 9, 15)).tzinfo is UTC


def test_business_time_provisional_in_2027() -> None:
    deadline = CAL.add_business_time(sh(2026, 12, 31, 17, 0), H)
    assert deadline.at == utc(2027, 1, 4, 9, 0)
    assert deadline.provisional


def test_natural_time() -> None:
    deadline = CAL.add_natural_time(sh(2026, 9, 30, 17, 0), 48 * H)
    assert deadline.at == utc(2026, 10, 2, 17, 0)
    assert not deadline.provisional
    assert deadline.steps[0].kind == "natural"
    assert len(deadline.explain()) == 2


# --- business_time_between ------------------------------------------------------------------


def test_business_time_between_across_a_weekend() -> None:
    # Fri 16:00 -> Mon 10:00: 1h30 + 1h30.
    assert CAL.business_time_between(sh(2026, 11, 20, 16), sh(2026, 11, 23, 10)) == 3 * H


def test_business_time_between_across_a_holiday() -> None:
    # Wed 2026-09-30 15:00 -> Thu 2026-10-08 09:30: 2h30 + 1h.
    between = CAL.business_time_between(sh(2026, 9, 30, 15), sh(2026, 10, 8, 9, 30))
    assert between == timedelta(hours=3, minutes=30)


def test_business_time_between_empty_and_reversed() -> None:
    assert CAL.business_time_between(sh(2026, 11, 23, 12), sh(2026, 11, 23, 14)) == timedelta(0)
    assert CAL.business_time_between(sh(2026, 11, 23, 15), sh(2026, 11, 23, 10)) == timedelta(0)
    assert CAL.business_time_between(sh(2026, 11, 23, 8), sh(2026, 11, 24, 8)) == 7 * H


# --- overrides ------------------------------------------------------------------------------

HOLIDAY_FILE = """
[[holidays]]
date = "2027-01-04"
name = "元旦"
"""

WORKDAY_FILE = """
[[holidays]]
date = 2027-01-01
name = "元旦"

[[workdays]]
date = 2027-01-02
name = "元旦调休"
"""


def test_override_file_adds_a_holiday(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(HOLIDAY_FILE, encoding="utf-8")
    cal = BusinessCalendar(overrides=Overrides.from_file(path))
    assert cal.day(date(2027, 1, 4)) == DayInfo(date(2027, 1, 4), False, "holiday", "元旦", False)
    deadline = cal.end_of_working_day(sh(2026, 12, 31, 10), 1)
    assert deadline.at == utc(2027, 1, 5, 17, 30)
    assert deadline.provisional  # 01-01..01-03 still come from the law minimum
    assert "holiday 元旦 (override)" in [s.reason for s in deadline.steps]


def test_override_file_adds_a_workday(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(WORKDAY_FILE, encoding="utf-8")
    cal = BusinessCalendar(overrides=Overrides.from_file(str(path)))
    assert cal.day(date(2027, 1, 2)) == DayInfo(
        date(2027, 1, 2), True, "makeup_workday", "元旦调休", False
    )
    deadline = cal.end_of_working_day(sh(2026, 12, 31, 10), 1)
    assert deadline.at == utc(2027, 1, 2, 17, 30)
    assert not deadline.provisional  # every inspected day was covered or overridden


def test_override_wins_over_the_library() -> None:
    overrides = Overrides(holidays={date(2026, 11, 23): "台风停工"}, workdays={})
    cal = BusinessCalendar(overrides=overrides)
    assert not cal.is_working_day(date(2026, 11, 23))
    assert cal.add_business_time(sh(2026, 11, 23, 9), H).at == utc(2026, 11, 24, 9, 30)
    assert CAL.is_working_day(date(2026, 11, 23))  # the default calendar is untouched


def test_override_workday_on_a_normal_weekday_is_a_plain_workday() -> None:
    info = BusinessCalendar(
        overrides=Overrides.from_toml('[[workdays]]\ndate = "2027-03-01"\n')
    ).day(date(2027, 3, 1))
    assert info == DayInfo(date(2027, 3, 1), True, "workday", None, False)


@pytest.mark.parametrize(
    "text",
    [
        "[[holidays]\ndate = 1",  # not TOML
        '[[holidays]]\ndate = "2027-13-01"',  # no such month
        '[[holidays]]\ndate = "01/01/2027"',
        "[[holidays]]\ndate = 2027-01-01T08:00:00",  # a datetime, not a date
        '[[holidays]]\nname = "元旦"',  # no date
        '[[holidays]]\ndate = "2027-01-01"\nname = 3',
        '[[holidays]]\ndate = "2027-01-01"\nnmae = "x"',  # typo
        '[[holiday]]\ndate = "2027-01-01"',  # unknown table
        'holidays = "2027-01-01"',
        '[[holidays]]\ndate = "2027-01-01"\n[[holidays]]\ndate = "2027-01-01"',
        '[[holidays]]\ndate = "2027-01-01"\n[[workdays]]\ndate = 2027-01-01',  # both lists
    ],
)
def test_bad_override_files(text: str) -> None:
    with pytest.raises(InvalidInput):
        Overrides.from_toml(text)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        Overrides.from_file(tmp_path / "nope.toml")


def test_empty_override_file() -> None:
    assert dict(Overrides.from_toml("").holidays) == {}


# --- business hours configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    "periods",
    [
        (),
        ((time(12, 0), time(8, 30)),),
        ((time(14, 0), time(17, 30)), (time(8, 30), time(12, 0))),
        ((time(8, 30), time(12, 0)), (time(11, 0), time(17, 30))),
    ],
)
def test_bad_business_hours(periods: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(InvalidInput):
        BusinessHours(periods=periods)


def test_bad_time_zone() -> None:
    with pytest.raises(InvalidInput):
        BusinessHours(tz="Mars/Olympus")


def test_summer_hours() -> None:
    summer = BusinessHours(periods=((time(8, 30), time(12, 0)), (time(14, 30), time(18, 0))))
    cal = BusinessCalendar(summer)
    assert cal.add_business_time(sh(2026, 7, 6, 11, 30), H).at == utc(2026, 7, 6, 15, 0)
    assert cal.end_of_working_day(sh(2026, 7, 6, 11, 30), 1).at == utc(2026, 7, 7, 18, 0)


# --- properties -----------------------------------------------------------------------------

ZONES = st.sampled_from([SH, UTC, ZoneInfo("America/New_York")])
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 31, 23, 59), timezones=ZONES
)
DURATIONS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=40))
PROPERTY = settings(max_examples=200, deadline=None)


def _in_business_period(cal: BusinessCalendar, moment: datetime, closed_end: bool) -> bool:
    local = moment.astimezone(SH)
    if not cal.is_working_day(local.date()):
        return False
    t = local.timetz().replace(tzinfo=None)
    return any(
        (start < t <= end) if closed_end else (start <= t < end) for start, end in cal.hours.periods
    )


@PROPERTY
@given(INSTANTS, DURATIONS)
def test_property_round_trip(start: datetime, duration: timedelta) -> None:
    deadline = CAL.add_business_time(start, duration)
    assert CAL.business_time_between(start, deadline.at) == duration


@PROPERTY
@given(INSTANTS, INSTANTS, DURATIONS)
def test_property_monotonic_in_start(a: datetime, b: datetime, duration: timedelta) -> None:
    early, late = sorted((a, b))
    assert CAL.add_business_time(early, duration).at <= CAL.add_business_time(late, duration).at


@PROPERTY
@given(INSTANTS, st.integers(min_value=1, max_value=10))
def test_property_day_deadlines_end_at_close_of_business(start: datetime, n: int) -> None:
    deadline = CAL.end_of_working_day(start, n)
    local = deadline.at.astimezone(SH)
    assert CAL.is_working_day(local.date())
    assert local.timetz().replace(tzinfo=None) == CAL.hours.periods[-1][1]
    assert local.date() > start.astimezone(SH).date()
    assert deadline.at.tzinfo is UTC


@PROPERTY
@given(INSTANTS, DURATIONS.filter(lambda d: d > timedelta(0)))
def test_property_deadline_inside_business_hours(start: datetime, duration: timedelta) -> None:
    deadline = CAL.add_business_time(start, duration)
    assert deadline.at.tzinfo is UTC
    assert deadline.at > start
    assert _in_business_period(CAL, deadline.at, closed_end=True)


@PROPERTY
@given(INSTANTS)
def test_property_next_opening_is_open(start: datetime) -> None:
    opening = CAL.next_opening(start)
    assert opening >= start
    assert _in_business_period(CAL, opening, closed_end=False)
    assert CAL.business_time_between(start, opening) == timedelta(0)


@PROPERTY
@given(INSTANTS, DURATIONS, st.integers(min_value=1, max_value=10))
def test_property_unexplained_deadlines_fall_where_explained_ones_do(
    start: datetime, duration: timedelta, n: int
) -> None:
    """`explain=False` (what the SLA engine uses for warnings and ladder steps) drops the
    reasons only: the same instant, the same `provisional`, for every kind of limit."""
    pairs = [
        (
            CAL.add_business_time(start, duration),
            CAL.add_business_time(start, duration, explain=False),
        ),
        (CAL.end_of_working_day(start, n), CAL.end_of_working_day(start, n, explain=False)),
        (CAL.add_working_days(start, n), CAL.add_working_days(start, n, explain=False)),
        (
            CAL.add_natural_time(start, duration),
            CAL.add_natural_time(start, duration, explain=False),
        ),
    ]
    for explained, bare in pairs:
        assert (bare.at, bare.provisional) == (explained.at, explained.provisional)
        assert explained.steps and not bare.steps


# --------------------------------------------------------------------------- unit calendars
ENFORCEMENT = UnitTime(
    hours=parse_hours("08:00-12:00,13:00-20:00"),
    workdays={date(2026, 11, 28): "周末执法值班"},
    rest_days={date(2026, 12, 2): "轮休"},
)


def test_a_unit_calendar_layers_its_days_and_hours_over_the_national_one() -> None:
    unit = UnitCalendar(CAL, "ROAD", ENFORCEMENT)
    saturday, wednesday, friday = date(2026, 11, 28), date(2026, 12, 2), date(2026, 11, 27)
    assert not CAL.is_working_day(saturday) and unit.is_working_day(saturday)
    assert CAL.is_working_day(wednesday) and not unit.is_working_day(wednesday)
    assert unit.day(saturday).reason == "unit_workday" and unit.day(saturday).name == "周末执法值班"
    assert unit.day(friday) == CAL.day(friday)  # an ordinary day is the national day
    # 4 working days after Thursday 11-26: Fri 27, Sat 28 (the unit's), Mon 30, Tue 12-01,
    # ending at the unit's close of business 20:00 (the bureau: Wed 12-02 17:30).
    assert unit.end_of_working_day(sh(2026, 11, 26, 9), 4).at == sh(2026, 12, 1, 20)
    assert CAL.end_of_working_day(sh(2026, 11, 26, 9), 4).at == sh(2026, 12, 2, 17, 30)
    # 2h of business time from Friday 19:00: 19:00-20:00, then Saturday 08:00-09:00.
    assert unit.add_business_time(sh(2026, 11, 27, 19), timedelta(hours=2)).at == sh(
        2026, 11, 28, 9
    )
    text = "\n".join(unit.end_of_working_day(sh(2026, 11, 26, 9), 4).explain())
    assert "workday of unit ROAD 周末执法值班 (nationally weekend)" in text
    assert "close of business 20:00" in text


def test_a_unit_rest_day_wins_over_a_national_workday_and_stays_on_a_holiday() -> None:
    unit = UnitCalendar(CAL, "ROAD", ENFORCEMENT)
    explained = "\n".join(unit.end_of_working_day(sh(2026, 11, 30, 9), 2).explain())
    assert unit.end_of_working_day(sh(2026, 11, 30, 9), 2).at == sh(2026, 12, 3, 20)
    assert "2026-12-02 Wed skipped: rest day of unit ROAD 轮休" in explained
    # the bureau's hours when the unit names none; national overrides still count
    national = BusinessCalendar(overrides=Overrides(holidays={date(2026, 11, 27): "停工"}))
    days_only = UnitCalendar(national, "HOT", UnitTime(workdays={date(2026, 11, 28): ""}))
    assert days_only.hours == national.hours
    assert not days_only.is_working_day(date(2026, 11, 27))
    assert days_only.end_of_working_day(sh(2026, 11, 26, 9), 1).at == sh(2026, 11, 28, 17, 30)


def test_unit_time_from_toml_and_its_errors() -> None:
    parsed = UnitTime.from_toml(
        'hours = "08:00-12:00,13:00-20:00"\n'
        '[[workdays]]\ndate = "2026-11-28"\nname = "周末执法值班"\n'
        '[[rest_days]]\ndate = 2026-12-02\nname = "轮休"\n'
    )
    assert parsed == ENFORCEMENT
    assert not parsed.empty and UnitTime().empty
    assert parsed.hours_text == "08:00-12:00,13:00-20:00"
    for text, message in [
        ('hours = "8-12"', "HH:MM-HH:MM"),
        ('hours = "12:00-08:00"', "start must be before the end"),
        ("hours = 8", "write hours as text"),
        ('week = "6"', "unknown key"),
        ('[[workdays]]\ndate = "2026-11-28"\n[[rest_days]]\ndate = "2026-11-28"', "both"),
        ('[[workdays]]\ndate = "soon"', "must be a date"),
        ("hours = ", "not valid TOML"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            UnitTime.from_toml(text)
    with pytest.raises(InvalidInput, match="at most 50"):
        UnitTime(workdays={date(2026, 11, 28): "x" * 51})
    with pytest.raises(InvalidInput, match="Asia/Shanghai"):
        UnitCalendar(CAL, "ROAD", UnitTime(hours=parse_hours("08:00-12:00", "Europe/Paris")))
