"""The national calendar's sources: the law minimum for years without a notice, and State
Council notices loaded from files (the shipped 2025/2026 files, the 2027 template)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import holidays
import pytest
from lunardate import LunarDate

from workflow.calendar import BusinessCalendar, DayInfo
from workflow.days import LAW_MINIMUM, LIBRARY, NOTICE, law_minimum
from workflow.errors import InvalidInput
from workflow.notices import Notice, Overrides, parse_calendar, read_calendar

NOTICES = Path(__file__).resolve().parents[2] / "calendars" / "notices"
SH = ZoneInfo("Asia/Shanghai")


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


# --- the law minimum ------------------------------------------------------------------------

# 2027 by hand from 全国年节及纪念日放假办法 (2025 text) and a printed lunar calendar:
# 除夕 Fri 02-05, 初一-初三 Sat 02-06 .. Mon 02-08 -> Sat and Sun made up on Tue 02-09, Wed 02-10;
# 清明 Mon 04-05; 劳动节 Sat 05-01, Sun 05-02 -> Mon 05-03, Tue 05-04; 端午 Wed 06-09;
# 中秋 Wed 09-15; 国庆 Fri 10-01 .. Sun 10-03 -> Mon 10-04, Tue 10-05.
LAW_2027 = {
    date(2027, 1, 1): "元旦",
    date(2027, 2, 5): "农历除夕",
    date(2027, 2, 6): "春节",
    date(2027, 2, 7): "春节",
    date(2027, 2, 8): "春节",
    date(2027, 2, 9): "春节（补假）",
    date(2027, 2, 10): "春节（补假）",
    date(2027, 4, 5): "清明节",
    date(2027, 5, 1): "劳动节",
    date(2027, 5, 2): "劳动节",
    date(2027, 5, 3): "劳动节（补假）",
    date(2027, 5, 4): "劳动节（补假）",
    date(2027, 6, 9): "端午节",
    date(2027, 9, 15): "中秋节",
    date(2027, 10, 1): "国庆节",
    date(2027, 10, 2): "国庆节",
    date(2027, 10, 3): "国庆节",
    date(2027, 10, 4): "国庆节（补假）",
    date(2027, 10, 5): "国庆节（补假）",
}


def test_law_minimum_2027_by_hand() -> None:
    assert dict(law_minimum(2027)) == LAW_2027


@pytest.mark.parametrize("year", [2027, 2028])
def test_law_minimum_equals_the_holidays_library(year: int) -> None:
    # No notice is in the library for these years: its set is the law's set with 补假.
    assert set(law_minimum(year)) == set(holidays.country_holidays("CN", years=year))


def _independent_law_minimum(year: int) -> set[date]:
    """The same rule computed another way: lunar dates from lunardate, 清明 from
    chinese_calendar's solar terms, and article 6 by hand (a weekend statutory day is made up
    on the first following weekday that is not itself a statutory day)."""
    spring = LunarDate(year, 1, 1).to_solar_date()
    qingming = next(
        d
        for d, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 10))
        if name == "清明"
    )
    groups = [
        [date(year, 1, 1)],
        [spring - timedelta(days=1), spring, spring + timedelta(days=1), spring + timedelta(2)],
        [qingming],
        [date(year, 5, 1), date(year, 5, 2)],
        [LunarDate(year, 5, 5).to_solar_date()],
        [LunarDate(year, 8, 15).to_solar_date()],
        [date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)],
    ]
    statutory = {d for group in groups for d in group}
    result = set(statutory)
    for group in groups:
        owed = sum(1 for d in group if d.weekday() >= 5)
        d = max(group)
        while owed:
            d += timedelta(days=1)
            if d.weekday() < 5 and d not in result:
                result.add(d)
                owed -= 1
    return result


@pytest.mark.parametrize("year", range(2027, 2061))
def test_law_minimum_cross_checked_with_lunar_dates(year: int) -> None:
    assert set(law_minimum(year)) == _independent_law_minimum(year)


@pytest.mark.parametrize("year", [2025, 2026])
def test_law_minimum_is_the_notice_less_its_swaps(year: int) -> None:
    """Every law-minimum day is a rest day in the notice, and the notice's other weekday rest
    days are exactly as many as its make-up workdays (调休 only moves days)."""
    official = {d: chinese_calendar.get_holiday_detail(d) for d in days_of(year)}
    rest_weekdays = {d for d, (rest, _) in official.items() if rest and d.weekday() < 5}
    makeups = [d for d, (rest, name) in official.items() if not rest and name is not None]
    law = set(law_minimum(year))
    assert all(official[d][0] for d in law)
    swaps = rest_weekdays - law
    assert len(swaps) == len(makeups)


def test_year_sources() -> None:
    cal = BusinessCalendar()
    assert cal.year_source(2026).source == LIBRARY
    assert cal.year_source(2027).source == LAW_MINIMUM
    assert not cal.year_source(2027).official
    notice = read_calendar(NOTICES / "2026.toml")
    assert isinstance(notice, Notice)
    with_notice = BusinessCalendar(notices={2026: notice})
    assert with_notice.year_source(2026).source == NOTICE
    assert with_notice.year_source(2026).document == notice.document


def test_spring_festival_2027_is_not_worked() -> None:
    """The reported bug: accepted Thu 2027-02-04 10:00, close (4 working days) fell on
    Wed 02-10 17:30, inside the holiday. With the law minimum it is Tue 02-16."""
    cal = BusinessCalendar()
    deadline = cal.end_of_working_day(datetime(2027, 2, 4, 10, tzinfo=SH), 4)
    assert deadline.at == datetime(2027, 2, 16, 17, 30, tzinfo=SH).astimezone(UTC)
    assert deadline.provisional
    assert any(line.startswith("provisional") for line in deadline.explain())
    assert "holiday 春节（补假） (law minimum, provisional)" in [s.reason for s in deadline.steps]


# --- notices as files -----------------------------------------------------------------------


@pytest.mark.parametrize("year", [2025, 2026])
def test_shipped_notice_gives_exactly_the_library_days(year: int) -> None:
    notice = read_calendar(NOTICES / f"{year}.toml")
    assert isinstance(notice, Notice) and notice.year == year
    library, loaded = BusinessCalendar(), BusinessCalendar(notices={year: notice})
    assert [loaded.day(d) for d in days_of(year)] == [library.day(d) for d in days_of(year)]
    assert not any(loaded.day(d).provisional for d in days_of(year))


def test_2025_notice_metadata() -> None:
    notice = read_calendar(NOTICES / "2025.toml")
    assert isinstance(notice, Notice)
    assert (notice.document, notice.published) == ("国办发明电〔2024〕12号", date(2024, 11, 12))


def test_template_for_2027_is_refused_until_filled_in() -> None:
    with pytest.raises(InvalidInput, match="published missing"):
        read_calendar(NOTICES / "2027.template.toml")


NOTICE_2027 = """
[notice]
year = 2027
document = "国办发明电〔2026〕99号"
published = 2026-11-10

[[holidays]]
date = 2027-02-05
name = "春节"

[[holidays]]
date = 2027-02-11
name = "春节"

[[workdays]]
date = 2027-02-13
name = "春节调休"
"""


def test_a_notice_replaces_the_law_minimum_of_its_year() -> None:
    notice = parse_calendar(NOTICE_2027)
    assert isinstance(notice, Notice)
    cal = BusinessCalendar(notices={2027: notice})
    assert cal.day(date(2027, 2, 11)) == DayInfo(date(2027, 2, 11), False, "holiday", "春节", False)
    assert cal.day(date(2027, 2, 13)) == DayInfo(
        date(2027, 2, 13), True, "makeup_workday", "春节调休", False
    )
    # A law-minimum day the notice does not list is a plain workday now (replaced, not added).
    assert cal.day(date(2027, 2, 9)) == DayInfo(date(2027, 2, 9), True, "workday", None, False)
    assert cal.day(date(2027, 1, 1)) == DayInfo(date(2027, 1, 1), True, "workday", None, False)
    assert not cal.end_of_working_day(datetime(2027, 2, 4, 10, tzinfo=SH), 4).provisional
    assert cal.day(date(2028, 1, 1)).provisional  # other years are untouched


def test_digest_ignores_order_comments_and_spacing() -> None:
    a = parse_calendar(NOTICE_2027)
    reordered = (
        '# a comment\n[[workdays]]\ndate = "2027-02-13"\nname = "春节调休"\n'
        '[[holidays]]\ndate = 2027-02-11\nname = " 春节 "\n[[holidays]]\ndate = 2027-02-05\n'
        'name = "春节"\n[notice]\npublished = 2026-11-10\ndocument = " 国办发明电〔2026〕99号"\n'
        "year = 2027\n"
    )
    b = parse_calendar(reordered)
    assert isinstance(a, Notice) and isinstance(b, Notice)
    assert a.digest == b.digest
    assert Notice.from_data(a.as_data()) == a
    changed = parse_calendar(NOTICE_2027.replace("2027-02-11", "2027-02-12"))
    assert isinstance(changed, Notice) and changed.digest != a.digest


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (NOTICE_2027.replace("2027-02-11", "2028-02-11"), "outside 2027: 2028-02-11"),
        (NOTICE_2027.replace("2027-02-13", "2027-02-11"), "both as holiday and as workday"),
        (NOTICE_2027.replace("published", "pubished"), "unknown key"),
        (NOTICE_2027.replace('document = "国办发明电〔2026〕99号"\n', ""), "document missing"),
        (NOTICE_2027.replace('"国办发明电〔2026〕99号"', '"  "'), "`document`"),
        (NOTICE_2027.replace("2026-11-10", '"soon"'), "`published`"),
        (NOTICE_2027.replace("year = 2027", 'year = "2027"'), "whole number"),
        (NOTICE_2027.replace("[notice]", "[notice"), "not valid TOML"),
        (NOTICE_2027 + "\n[extra]\n", "unknown key"),
        ("notice = 3\n", "must be a table"),
    ],
)
def test_bad_notice_files(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_calendar(text)


def test_override_readers_refuse_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "2027.toml"
    path.write_text(NOTICE_2027, encoding="utf-8")
    with pytest.raises(InvalidInput, match="notice for 2027"):
        Overrides.from_file(path)
    with pytest.raises(InvalidInput, match="notice for 2027"):
        Overrides.from_toml(NOTICE_2027)
