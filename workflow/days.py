"""Where each date's working status comes from: the national working-day calendar.

For each year, in this order: a State Council notice the operator loaded (official); else the
chinese_calendar library, which ships the notices 2004-2026 (official); else the law minimum
(provisional): the statutory holidays of 全国年节及纪念日放假办法 with its article 6 补假 (a
statutory day on a Saturday or Sunday is made up on the next working day), computed by the
`holidays` library from the lunar calendar and the solar terms. Make-up workdays (调休上班)
cannot be foreseen, so a law-minimum year has none. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from types import MappingProxyType

import chinese_calendar  # type: ignore[import-untyped]
from holidays.countries.china import China

from workflow.notices import Notice

__all__ = [
    "LAW_MINIMUM",
    "LIBRARY",
    "NOTICE",
    "NationalDays",
    "YearSource",
    "law_minimum",
    "library_covers",
]

LIBRARY = "library"
NOTICE = "notice"
LAW_MINIMUM = "law_minimum"

# chinese_calendar names its days by the English value of its `Holiday` enum; we show Chinese.
_LIBRARY_NAMES: dict[str, str] = {h.value: h.chinese for h in chinese_calendar.Holiday}

# (working, reason, name, provisional): what a source says of one date.
Base = tuple[bool, str, str | None, bool]


class _Statutory(China):
    """The `holidays` library's China without the special days of the published notices.

    What is left is what the law itself fixes: the statutory days of each year (by the rules
    in force that year) and article 6's 补假 (the library's "observed" days). The notices' own
    days (调休 swaps, extensions) are the library's "special" holidays, switched off here.
    """

    def _populate_common_holidays(self) -> None:
        self.has_special_holidays = False
        super()._populate_common_holidays()  # type: ignore[no-untyped-call]


@lru_cache(maxsize=256)
def _law_minimum(year: int) -> Mapping[date, str]:
    days = _Statutory(years=year, language="zh_CN")  # type: ignore[no-untyped-call]
    names = {day: str(name).replace("; ", "、") for day, name in sorted(days.items())}
    return MappingProxyType(names)


def law_minimum(year: int) -> Mapping[date, str]:
    """The statutory rest days of `year` (weekdays and weekends alike) with their 补假, named
    in Chinese (e.g. 春节, 春节（补假）). Empty outside the library's range (1950-2100)."""
    return _law_minimum(year)


@lru_cache(maxsize=256)
def library_covers(year: int) -> bool:
    """Whether chinese_calendar has the official days of `year`."""
    try:
        chinese_calendar.get_holiday_detail(date(year, 1, 1))
    except NotImplementedError:  # the library raises this for years it has no data for
        return False
    return True


@dataclass(frozen=True)
class YearSource:
    """Where one year's days come from."""

    year: int
    source: str  # LIBRARY, NOTICE or LAW_MINIMUM
    document: str | None = None  # the notice's 文号

    @property
    def official(self) -> bool:
        return self.source != LAW_MINIMUM

    @property
    def label(self) -> str:
        if self.source == NOTICE:
            return f"notice {self.document}"
        return "law minimum" if self.source == LAW_MINIMUM else "library"


class NationalDays:
    """The national calendar: the loaded notices, the library, the law minimum."""

    def __init__(self, notices: Mapping[int, Notice] | None = None) -> None:
        self.notices: Mapping[int, Notice] = MappingProxyType(dict(notices or {}))
        for year, notice in self.notices.items():
            if notice.year != year:
                raise ValueError(f"notice for {notice.year} filed under {year}")

    def year(self, year: int) -> YearSource:
        notice = self.notices.get(year)
        if notice is not None:
            return YearSource(year, NOTICE, notice.document)
        return YearSource(year, LIBRARY if library_covers(year) else LAW_MINIMUM)

    def base(self, d: date) -> Base:
        notice = self.notices.get(d.year)
        if notice is not None:
            return _from_notice(notice, d)
        if library_covers(d.year):
            return _from_library(d)
        name = law_minimum(d.year).get(d)
        if name is not None:
            return False, "holiday", name, True
        return (False, "weekend", None, True) if d.weekday() >= 5 else (True, "workday", None, True)


def _from_notice(notice: Notice, d: date) -> Base:
    if d in notice.holidays:
        return False, "holiday", notice.holidays[d] or None, False
    weekend = d.weekday() >= 5
    if d in notice.workdays:
        return True, ("makeup_workday" if weekend else "workday"), notice.workdays[d] or None, False
    return (False, "weekend", None, False) if weekend else (True, "workday", None, False)


def _from_library(d: date) -> Base:
    is_rest, raw_name = chinese_calendar.get_holiday_detail(d)
    name = None if raw_name is None else _LIBRARY_NAMES.get(str(raw_name), str(raw_name))
    if is_rest:
        return False, ("weekend" if name is None else "holiday"), name, False
    if name is not None:  # a working day with a holiday name is a make-up workday (调休上班)
        return True, "makeup_workday", f"{name}调休", False
    return True, "workday", None, False
