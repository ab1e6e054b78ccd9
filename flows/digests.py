"""Digests: 日提醒 daily reminder per unit, 周汇总 weekly summary, 月通报 monthly bulletin.

Figures come from `models.reports` (SQL aggregation) as of an explicit instant `as_of`; the
measures are defined once in `workflow.measures`. A `Digest` holds language-neutral data; it is
rendered through the one Jinja environment (`templates/digests/`) as HTML (inline SVG charts
whose labels stay `<text>`, so Chinese renders with the reader's CJK fonts), as Markdown
(tables instead of charts) or as Excel (one sheet per table). Chinese by default, English on
request.

- `daily(engine, day, as_of)`: one reminder per unit with open work, and none at all when
  `day` is not a working day (make-up Saturdays are working days, holidays are not). Three
  lists: due today (from `as_of` to 24:00 of `day`), due soon (to 24:00 of the next working
  day), overdue (how late, in working hours); their counts on top. Only the limits a unit
  answers for are listed (those whose yellow card goes to the unit: progress feedback and
  closing); assignment and revisit are the desk's.
- `weekly(engine, period, as_of)`: the week's measures, total and by unit, against the previous
  week; the overdue count; the top categories.
- `monthly(engine, period, as_of)`: the 月通报: headline figures against the "988" targets
  (达标/未达标), per-unit figures and ranking, the overdue list, the last six months' trend,
  categories, amounts in dispute and recovered, repeat complainants (masked phone numbers) and
  repeat respondents for 会商研判, and the work required of the units.
- Ranking of units: on-time closure rate (按时办结率), then satisfaction rate (满意率), then
  volume (受理量), each from high to low; a rate without data ("—") ranks after every rate;
  units equal on all three share a rank (并列). Grievances not yet assigned to a unit are shown
  on their own line, unranked.
- Privacy: complainants appear only as masked phone numbers, and every piece of free text that
  reaches a digest (unit names, respondents) goes through `mask_text` too.
- `report` is the `grievance report daily|weekly|monthly` command group (the clock is read
  there, once). `daily --out DIR` writes one file per unit into DIR
  (daily-2026-11-23-ROAD.zh.html); `weekly`/`monthly --out FILE` write FILE, or the standard
  name inside FILE when it is an existing directory.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.writer.excel import ExcelWriter  # type: ignore[import-untyped]

from models import reports
from models.repo import list_units
from service import calendars
from service.engine import Engine
from templates import language, md_cell, pct, render
from workflow.errors import InvalidInput
from workflow.measures import (
    TARGETS,
    Counts,
    Measures,
    Overdue,
    Period,
    Repeat,
    TrendPoint,
    day_of,
    month_of,
    week_of,
)
from workflow.policies import Audience
from workflow.privacy import mask_text
from workflow.timeutil import local, parse_instant
from workflow.vocab import Category

KINDS = ("daily", "weekly", "monthly")
FORMATS = ("html", "md", "xlsx")
TREND_MONTHS = 6
TOP_CATEGORIES = 5  # in the weekly summary
OVERDUE_SHOWN = 100  # rows of the overdue list in HTML and Markdown (Excel has them all)
LIST_LIMIT = 500  # rows asked of the report queries

CATEGORY_EN: dict[str, str] = {
    Category.FREIGHT_UNPAID: "Unpaid or disputed freight",
    Category.CARGO_DAMAGE: "Cargo damage",
    Category.TOLL_ETC: "Tolls and ETC",
    Category.PLATFORM_FEE: "Platform fees",
    Category.ENFORCEMENT: "Enforcement and fines",
    Category.OVERLOAD: "Overload checks",
    Category.CONTRACT: "Contracts",
    Category.INSURANCE: "Insurance claims",
    Category.VEHICLE_SALE: "Vehicle-sale traps",
    Category.CITY_ACCESS: "City entry permits",
    Category.REST_PARKING: "Rest stops and parking",
    Category.OTHER: "Other",
}
TARGET_EN = {
    "assign": "Assignment",
    "feedback": "Progress feedback",
    "close": "Closing",
    "revisit": "Revisit",
}
# The headline measures of the bulletin, in order, with their labels.
HEADLINE: dict[str, tuple[str, str]] = {
    "response_rate": ("响应率", "Response rate"),
    "on_time_rate": ("按时办结率", "On-time closure rate"),
    "resolution_rate": ("解决率", "Resolution rate"),
    "satisfaction_rate": ("满意率", "Satisfaction rate"),
    "revisit_rate": ("回访率", "Revisit rate"),
    "return_rate": ("退单率", "Return rate"),
    "redo_rate": ("重办率", "Redo rate"),
}
_UNASSIGNED = {"zh": "（未分办）", "en": "(not assigned)"}
_WEEKDAYS_ZH = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


# ----------------------------------------------------------------------------- data
@dataclass(frozen=True, slots=True)
class Item:
    """One open time limit in a digest list: due today, due soon, or overdue."""

    number: str
    target: str
    cycle: int
    unit: str | None
    category: str
    due_at: datetime
    late: timedelta  # business time late at as_of (zero when not overdue yet)
    left: timedelta | None = None  # business time left until the deadline (not overdue)


@dataclass(frozen=True, slots=True)
class Check:
    """A headline rate against its "988" floor target (None: the measure has no target)."""

    key: str
    value: float | None
    target: float | None

    @property
    def status(self) -> str | None:
        """met, missed, no_data, or None when there is no target."""
        if self.target is None:
            return None
        if self.value is None:
            return "no_data"
        return "met" if self.value >= self.target - 1e-12 else "missed"


@dataclass(frozen=True, slots=True)
class Ranked:
    """A unit's line in the bulletin's table; `rank` None for the unassigned line."""

    rank: int | None
    measures: Measures


@dataclass(frozen=True, slots=True)
class Share:
    """A category's measures and its share of the period's volume."""

    measures: Measures
    share: float | None


@dataclass(frozen=True)
class Labels:
    """Names of units, categories and time limits in one language (for templates and Excel)."""

    lang: str
    units: Mapping[str, str]
    targets: Mapping[str, str]  # Chinese titles from the policies

    def unit(self, code: str | None) -> str:
        if code is None:
            return _UNASSIGNED[self.lang]
        return self.units.get(code, code)

    def owner(self, code: str) -> str:
        """Who answers for overdue items: a unit, or the desk (assignment and revisit)."""
        if code == DESK:
            return "受理岗（分办、回访环节）" if self.lang == "zh" else "the desk (assign, revisit)"
        return self.unit(code)

    def category(self, code: str | None) -> str:
        if code is None:
            return "—"
        try:
            member = Category(code)
        except ValueError:
            return code
        return member.zh if self.lang == "zh" else CATEGORY_EN[member]

    def target(self, name: str, cycle: int = 1) -> str:
        text = self.targets.get(name, name) if self.lang == "zh" else TARGET_EN.get(name, name)
        if cycle > 1:
            text += f"（第{cycle}轮）" if self.lang == "zh" else f" (round {cycle})"
        return text

    def measure(self, key: str) -> str:
        zh, en = HEADLINE[key]
        return zh if self.lang == "zh" else en

    def measures(self, keys: Sequence[str | Check]) -> str:
        """响应率、满意率 / response rate, satisfaction rate."""
        names = [self.measure(k.key if isinstance(k, Check) else k) for k in keys]
        return "、".join(names) if self.lang == "zh" else ", ".join(n.lower() for n in names)

    def day(self, d: date, weekday: bool = True) -> str:
        """11月30日（星期一） / Mon 30 Nov 2026."""
        if self.lang == "zh":
            text = f"{d.month}月{d.day}日"
            return text + f"（{_WEEKDAYS_ZH[d.weekday()]}）" if weekday else text
        return f"{d:%a %d %b %Y}" if weekday else f"{d:%d %b %Y}"

    def long(self, d: date) -> str:
        """2026年12月1日 / 1 December 2026."""
        return f"{d.year}年{d.month}月{d.day}日" if self.lang == "zh" else f"{d.day} {d:%B %Y}"

    def span(self, period: Period) -> str:
        """2026年11月1日至11月30日 / 1 Nov 2026 to 30 Nov 2026 (the last day included)."""
        start, last = period.start, period.end - timedelta(days=1)
        if self.lang == "zh":
            return f"{start.year}年{start.month}月{start.day}日至{last.month}月{last.day}日"
        return f"{start:%d %b %Y} to {last:%d %b %Y}"

    def month(self, period: Period) -> str:
        return f"{period.start.month}月" if self.lang == "zh" else f"{period.start:%b %Y}"

    def hours(self, value: float | None) -> str:
        """Average handling time in working hours: 12.5小时 / 12.5 h / —."""
        if value is None:
            return "—"
        return f"{value:.1f}小时" if self.lang == "zh" else f"{value:.1f} h"

    def points(self, now: float | None, before: float | None) -> str:
        """The change of a rate in percentage points: +5.0个百分点 / +5.0 pp / —."""
        if now is None or before is None:
            return "—"
        diff = round((now - before) * 100, 1)
        if diff == 0:
            return "持平" if self.lang == "zh" else "unchanged"
        return f"{diff:+.1f}个百分点" if self.lang == "zh" else f"{diff:+.1f} pp"

    def change(self, m: Measures) -> str:
        """环比增长50.0% / 环比下降23.3% / 环比持平 / 环比 —; up 50.0% / down... in English."""
        value = m.volume_change
        zh = self.lang == "zh"
        if value is None:
            return "环比 —（上期无受理）" if zh else "change — (none in the previous period)"
        if round(value * 100, 1) == 0:
            return "环比持平" if zh else "unchanged"
        word = ("增长" if value > 0 else "下降") if zh else ("up" if value > 0 else "down")
        amount = pct(abs(value))
        return f"环比{word}{amount}" if zh else f"{word} {amount}"

    def status(self, check: Check) -> str:
        return _status(check.status, self.lang == "zh")


@dataclass(frozen=True)
class Digest:
    """One digest: what it covers and the data it shows, ready to render in any format."""

    kind: str  # daily | weekly | monthly
    period: Period
    unit: str | None  # the unit code of a daily reminder; None for the bureau-wide digests
    title: str  # in `lang`
    context: dict[str, Any] = field(repr=False)
    as_of: datetime  # the instant the figures were taken at
    lang: str = "zh"

    @property
    def key(self) -> str:
        """The period as written in file names: 2026-11-23, 2026-W48, 2026-11."""
        if self.kind == "weekly":
            iso = self.period.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self.kind == "monthly":
            return f"{self.period.start:%Y-%m}"
        return self.period.start.isoformat()

    def labels(self, lang: str | None = None) -> Labels:
        return Labels(lang or self.lang, self.context["units"], self.context["targets"])

    def title_in(self, lang: str | None = None) -> str:
        chosen = language(lang or self.lang)
        return _title(self.kind, self.period, self.labels(chosen).unit(self.unit), chosen)

    def filename(self, fmt: str, lang: str | None = None) -> str:
        """daily-2026-11-23-ROAD.zh.html, weekly-2026-W48.zh.md, monthly-2026-11.en.xlsx."""
        _check_format(fmt)
        unit = f"-{self.unit}" if self.unit else ""
        return f"{self.kind}-{self.key}{unit}.{language(lang or self.lang)}.{fmt}"

    def summary(self, lang: str | None = None) -> str:
        """A few lines of Markdown (for a Prefect artifact or a chat message)."""
        chosen = language(lang or self.lang)
        zh = chosen == "zh"
        c = self.context
        head = f"**{md_cell(self.title_in(chosen))}**\n\n"
        if self.kind == "daily":
            today, soon, late = len(c["due_today"]), len(c["due_soon"]), len(c["overdue"])
            if zh:
                return head + f"今日到期 {today} 项，即将到期 {soon} 项，超期 {late} 项。\n"
            return head + f"Due today: {today}; due soon: {soon}; overdue: {late}.\n"
        total: Measures = c["total"]
        change = pct(total.volume_change, sign=True)
        rates = [pct(getattr(total, k)) for k in HEADLINE if k != "revisit_rate"][:4]
        overdue = c["overdue_count"]
        if zh:
            text = (
                f"受理 {total.volume} 件（环比 {change}），响应率 {rates[0]}，按时办结率 "
                f"{rates[1]}，解决率 {rates[2]}，满意率 {rates[3]}；当前超期 {overdue} 项。\n"
            )
        else:
            text = (
                f"{total.volume} grievances accepted ({change} on the previous period); "
                f"response {rates[0]}, on time {rates[1]}, resolved {rates[2]}, satisfied "
                f"{rates[3]}; {overdue} overdue now.\n"
            )
        if self.kind == "monthly" and c["ranked"] and c["ranked"][0].rank == 1:
            first = ", ".join(
                self.labels(chosen).unit(r.measures.key) for r in c["ranked"] if r.rank == 1
            )
            first = md_cell(first)
            text += f"\n排名第一：{first}。\n" if zh else f"\nRanked first: {first}.\n"
        return head + text


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def _title(kind: str, period: Period, unit_name: str, lang: str) -> str:
    start, last = period.start, period.end - timedelta(days=1)
    if kind == "daily":
        if lang == "zh":
            return f"{unit_name}诉求办理日提醒（{start.year}年{start.month}月{start.day}日）"
        return f"Daily reminder for {unit_name}, {start.isoformat()}"
    if kind == "weekly":
        iso = start.isocalendar()
        if lang == "zh":
            return (
                f"货车司机诉求办理周汇总（{iso.year}年第{iso.week}周，"
                f"{start.month}月{start.day}日—{last.month}月{last.day}日）"
            )
        return (
            f"Weekly summary of truck drivers' grievances, week {iso.week} of {iso.year} "
            f"({start.isoformat()} to {last.isoformat()})"
        )
    if lang == "zh":
        return f"{start.year}年{start.month}月货车司机诉求办理情况通报"
    return f"Truck drivers' grievances: monthly bulletin for {start:%B %Y}"


# ----------------------------------------------------------------------------- building
def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _bounds(period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return _midnight(period.start, tz), _midnight(period.end, tz)


def next_working_day(engine: Engine, day: date) -> date:
    """The first working day after `day`."""
    following = day + timedelta(days=1)
    for _ in range(366):
        if engine.calendar.is_working_day(following):
            return following
        following += timedelta(days=1)
    raise InvalidInput(f"no working day within a year after {day.isoformat()}")


def _names(engine: Engine) -> tuple[dict[str, str], dict[str, str]]:
    """Unit names (masked like any free text) and the Chinese titles of the time limits."""
    with engine.db.read() as session:
        units = {u.code: mask_text(u.name) for u in list_units(session)}
    targets: dict[str, str] = {}
    for policy in engine.policies.policies.values():
        for target in policy.targets:
            targets.setdefault(target.name, target.title_zh)
    return units, targets


def unit_targets(engine: Engine) -> frozenset[str]:
    """The time limits a unit answers for: those whose yellow card goes to the unit (feedback
    and closing in the built-in policies; assignment and revisit are the desk's)."""
    return frozenset(
        target.name
        for policy in engine.policies.policies.values()
        for target in policy.targets
        if Audience.UNIT in target.warn_notify
    )


def _item(row: Overdue, left: timedelta | None = None) -> Item:
    return Item(
        number=row.number,
        target=row.target,
        cycle=row.cycle,
        unit=row.unit,
        category=row.category,
        due_at=row.due_at,
        late=timedelta(seconds=row.late_seconds),
        left=left,
    )


def daily(engine: Engine, day: date, as_of: datetime) -> list[Digest]:
    """日提醒: one per unit with open work; [] when `day` is not a working day."""
    if not engine.calendar.is_working_day(day):
        return []
    tz = engine.calendar.zone
    following = next_working_day(engine, day)
    end_today = max(as_of, _midnight(day + timedelta(days=1), tz))
    end_soon = max(end_today, _midnight(following + timedelta(days=1), tz))
    units, targets = _names(engine)
    calendar = engine.calendar
    mine = unit_targets(engine)
    digests: list[Digest] = []
    lang = engine.notify.language
    period = day_of(day)
    provisional = calendar_note(engine, as_of)
    with engine.db.read() as session:
        for code in reports.units_with_open_work(session):
            overdue = [
                r
                for r in reports.overdue_list(
                    session, as_of, calendar, engine.policies, unit=code, limit=LIST_LIMIT
                )
                if r.target in mine
            ]
            today = [
                r
                for r in reports.due_between(session, as_of, end_today, unit=code, limit=LIST_LIMIT)
                if r.target in mine
            ]
            soon = [
                r
                for r in reports.due_between(
                    session, end_today, end_soon, unit=code, limit=LIST_LIMIT
                )
                if r.target in mine
            ]
            context = {
                "kind": "daily",
                "tz": tz,
                "period": period,
                "as_of": as_of,
                "unit": code,
                "units": units,
                "targets": targets,
                "next_working_day": following,
                "due_today": [
                    _item(r, calendar.business_time_between(as_of, r.due_at)) for r in today
                ],
                "due_soon": [
                    _item(r, calendar.business_time_between(as_of, r.due_at)) for r in soon
                ],
                "overdue": [_item(r) for r in overdue],
                "provisional": provisional,
            }
            name = units.get(code, code)
            title = _title("daily", period, name, lang)
            digests.append(Digest("daily", period, code, title, context, as_of, lang))
    return digests


def calendar_note(engine: Engine, as_of: datetime) -> dict[str, Any] | None:
    """What the reminders say while open deadlines are provisional (years without a State
    Council notice): how many, and which years; None when every open deadline is official."""
    status = calendars.status(engine, as_of)
    if not status.provisional_timers:
        return None
    return {"timers": status.provisional_timers, "years": status.provisional_years}


def _total(rows: Sequence[Measures]) -> Measures:
    return rows[0] if rows else Measures(None, Counts(None), 0)


def _shares(rows: Sequence[Measures], total: int) -> list[Share]:
    ordered = sorted(rows, key=lambda m: (-m.volume, m.key or ""))
    return [Share(m, m.volume / total if total else None) for m in ordered]


def _desc(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None else (0, -value)


def rank_units(rows: Sequence[Measures]) -> list[Ranked]:
    """Rank units: on-time rate, then satisfaction, then volume, high to low; "—" last.

    Units equal on all three share a rank (1, 2, 2, 4); the unassigned line comes last,
    unranked.
    """

    def key(m: Measures) -> tuple[tuple[int, float], tuple[int, float], int]:
        return (_desc(m.on_time_rate), _desc(m.satisfaction_rate), -m.volume)

    units = sorted((m for m in rows if m.key is not None), key=lambda m: (key(m), m.key))
    ranked: list[Ranked] = []
    for position, m in enumerate(units, start=1):
        same = ranked and key(ranked[-1].measures) == key(m)
        ranked.append(Ranked(ranked[-1].rank if same else position, m))
    ranked += [Ranked(None, m) for m in rows if m.key is None]
    return ranked


def checks(total: Measures) -> list[Check]:
    """The headline rates with their "988" targets (on-time and the others have none)."""
    return [Check(key, getattr(total, key), TARGETS.get(key)) for key in HEADLINE]


def weekly(engine: Engine, period: Period, as_of: datetime) -> Digest:
    """周汇总: the week's measures, total and by unit, against the previous week."""
    tz = engine.calendar.zone
    units, targets = _names(engine)
    previous = period.previous()
    with engine.db.read() as session:
        found = reports.measures_by(session, period, as_of, [None, "unit", "category"], tz)
        total, by_unit, categories = _total(found[None]), found["unit"], found["category"]
        before = _total(reports.measures(session, previous, as_of, by=None, tz=tz))
        overdue = reports.overdue_list(
            session, as_of, engine.calendar, engine.policies, limit=LIST_LIMIT
        )
    context = {
        "kind": "weekly",
        "tz": tz,
        "period": period,
        "previous": previous,
        "as_of": as_of,
        "units": units,
        "targets": targets,
        "total": total,
        "previous_total": before,
        "checks": checks(total),
        "by_unit": sorted(by_unit, key=lambda m: (m.key is None, -m.volume, m.key or "")),
        "categories": _shares(categories, total.volume)[:TOP_CATEGORIES],
        "category_count": len(categories),
        "overdue_count": len(overdue),
        "overdue_capped": len(overdue) >= LIST_LIMIT,
        "overdue": [_item(r) for r in overdue],
    }
    lang = engine.notify.language
    return Digest("weekly", period, None, _title("weekly", period, "", lang), context, as_of, lang)


def monthly(engine: Engine, period: Period, as_of: datetime) -> Digest:
    """月通报: the monthly bulletin (see the module docstring for its sections)."""
    tz = engine.calendar.zone
    units, targets = _names(engine)
    start, end = _bounds(period, tz)
    months = [period]
    for _ in range(TREND_MONTHS - 1):
        months.insert(0, months[0].previous())
    with engine.db.read() as session:
        found = reports.measures_by(session, period, as_of, [None, "unit", "category"], tz)
        total, by_unit, categories = _total(found[None]), found["unit"], found["category"]
        # the five months before: one bucketed statement (reports.trend), not one per month
        earlier = reports.trend(session, months[:-1], tz)
        trend = [*zip(months[:-1], earlier, strict=True), (period, TrendPoint.of(total))]
        overdue = reports.overdue_list(
            session, as_of, engine.calendar, engine.policies, limit=LIST_LIMIT
        )
        complainants = reports.repeat_complainants(session, start, end, min_count=2, limit=20)
        respondents = reports.repeat_respondents(session, start, end, min_count=2, limit=20)
    ranked = rank_units(by_unit)
    shares = _shares(categories, total.volume)
    context = {
        "kind": "monthly",
        "tz": tz,
        "period": period,
        "previous": period.previous(),
        "as_of": as_of,
        "units": units,
        "targets": targets,
        "total": total,
        "checks": checks(total),
        "ranked": ranked,
        "categories": shares,
        "trend": trend,
        "overdue": [_item(r) for r in overdue],
        "overdue_count": len(overdue),
        "overdue_capped": len(overdue) >= LIST_LIMIT,
        "overdue_shown": OVERDUE_SHOWN,
        "overdue_owners": _overdue_by_owner(overdue, unit_targets(engine)),
        "leading_categories": _leading(shares),
        "shortfalls": _shortfalls(ranked),
        "repeat_complainants": [_masked(r) for r in complainants],
        "repeat_respondents": [_masked(r) for r in respondents],
    }
    lang = engine.notify.language
    return Digest(
        "monthly", period, None, _title("monthly", period, "", lang), context, as_of, lang
    )


DESK = "desk"  # who answers for an overdue assignment or revisit (the grievance desk)


def _overdue_by_owner(rows: Sequence[Overdue], mine: frozenset[str]) -> list[tuple[str, int]]:
    """How many overdue time limits each unit answers for, most first; assignment and revisit
    limits (and grievances not assigned yet) are the desk's, counted under DESK."""
    found: dict[str, int] = {}
    for row in rows:
        owner = row.unit if row.unit is not None and row.target in mine else DESK
        found[owner] = found.get(owner, 0) + 1
    return sorted(found.items(), key=lambda kv: (-kv[1], kv[0] == DESK, kv[0]))


def _leading(shares: Sequence[Share], most: int = 3) -> list[Share]:
    """The categories that lead by volume: the first `most`, unless a tie at the edge would
    make the choice arbitrary (then only those above the tie)."""
    if len(shares) <= most:
        return [s for s in shares if s.measures.volume]
    edge = shares[most - 1].measures.volume
    if shares[most].measures.volume < edge:
        return list(shares[:most])
    return [s for s in shares[:most] if s.measures.volume > edge]


def _shortfalls(ranked: Sequence[Ranked]) -> list[tuple[str, list[str]]]:
    """Units with a rate below its "988" target, and which rates."""
    result = []
    for line in ranked:
        if line.measures.key is None:
            continue
        missed = [c.key for c in checks(line.measures) if c.status == "missed"]
        if missed:
            result.append((line.measures.key, missed))
    return result


def _masked(row: Repeat) -> Repeat:
    """A repeat line with its `who` masked again (a respondent's name may hold a phone)."""
    return Repeat(mask_text(row.who), row.count, tuple(row.numbers))


# ----------------------------------------------------------------------------- rendering
def render_digest(digest: Digest, fmt: str, lang: str | None = None) -> bytes:
    """The digest as HTML, Markdown (UTF-8) or an Excel workbook."""
    _check_format(fmt)
    chosen = language(lang or digest.lang)
    labels = digest.labels(chosen)
    if fmt == "xlsx":
        return _xlsx(digest, labels)
    context = dict(digest.context)
    context.update(
        title=digest.title_in(chosen),
        L=labels,
        charts=_charts(digest, labels) if fmt == "html" else {},
    )
    text = render(f"digests/{digest.kind}.{fmt}", chosen, **context)
    return text.encode("utf-8")


def _chart_row(label: str, value: float | None, text: str) -> dict[str, Any]:
    return {"label": label, "value": value, "text": text}


def _charts(digest: Digest, labels: Labels) -> dict[str, Any]:
    """The data of the HTML charts (drawn by the macros of `digests/_charts.svg.j2`)."""
    c = digest.context
    zh = labels.lang == "zh"
    pieces = "件" if zh else ""

    def volume(m: Measures) -> str:
        return f"{m.volume}{pieces}"

    charts: dict[str, Any] = {}
    if digest.kind == "daily":
        return charts
    if digest.kind == "weekly":
        unit_rows: list[Measures] = c["by_unit"]
    else:
        unit_rows = [r.measures for r in c["ranked"]]
    charts["unit_volume"] = [_chart_row(labels.unit(m.key), m.volume, volume(m)) for m in unit_rows]
    charts["unit_on_time"] = [
        _chart_row(labels.unit(m.key), m.on_time_rate, pct(m.on_time_rate)) for m in unit_rows
    ]
    charts["categories"] = [
        _chart_row(
            labels.category(s.measures.key),
            s.measures.volume,
            f"{volume(s.measures)}（{pct(s.share)}）"
            if zh
            else f"{s.measures.volume} ({pct(s.share)})",
        )
        for s in c["categories"]
    ]
    if digest.kind == "monthly":
        charts["trend"] = [
            {
                "label": f"{p.start.month}月" if zh else f"{p.start:%b}",
                "volume": m.volume,
                "rate": m.on_time_rate,
                "rate_text": pct(m.on_time_rate),
            }
            for p, m in c["trend"]
        ]
    return charts


# ----------------------------------------------------------------------------- Excel
@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # text | int | pct | yuan | time | hours
    width: float | None = None


@dataclass(frozen=True, slots=True)
class Cell:
    """A value whose kind differs from its column's (the overview mixes counts and rates)."""

    value: Any
    kind: str


@dataclass(frozen=True)
class Table:
    sheet: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]


_NUMBER_FORMATS = {
    "int": "0",
    "pct": "0.0%",
    "target": "0%",
    "yuan": "#,##0.00",
    "time": "yyyy-mm-dd hh:mm",
    "hours": "0.0",
}


def _cell(value: Any, kind: str, tz: ZoneInfo) -> tuple[Any, str]:
    """The value as Excel stores it, and its kind."""
    if isinstance(value, Cell):
        return _cell(value.value, value.kind, tz)
    return _convert(value, kind, tz), kind


def _convert(value: Any, kind: str, tz: ZoneInfo) -> Any:
    if value is None:
        return "—" if kind in ("pct", "yuan", "hours", "time", "int") else ""
    if kind == "yuan":
        return round(value / 100, 2)
    if kind == "time":
        return local(value, tz).replace(tzinfo=None)
    if kind == "hours":
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value) * 3600
        return round(seconds / 3600, 2)
    return value


def _width(value: Any) -> float:
    text = f"{value:%Y-%m-%d %H:%M}" if isinstance(value, datetime) else str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _sheet(book: Workbook, table: Table, tz: ZoneInfo) -> None:
    sheet = book.create_sheet(table.sheet)
    sheet.append([column.header for column in table.columns])
    for row in table.rows:
        cells = [_cell(v, col.kind, tz) for v, col in zip(row, table.columns, strict=True)]
        sheet.append([value for value, _ in cells])
        for index, (value, kind) in enumerate(cells, start=1):
            number_format = _NUMBER_FORMATS.get(kind)
            if number_format and not isinstance(value, str):
                sheet.cell(sheet.max_row, index).number_format = number_format
            if isinstance(value, str) and value.startswith("="):
                # openpyxl stores text starting with '=' as a formula: a respondent typed by
                # a driver ("=HYPERLINK(...)") would run in the reader's Excel. Kept as text.
                sheet.cell(sheet.max_row, index).data_type = "s"
    bold = Font(bold=True)
    for cell in sheet[1]:
        cell.font = bold
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for index, column in enumerate(table.columns, start=1):
        letter = get_column_letter(index)
        widest = max(
            (_width(cell.value) for (cell,) in sheet.iter_rows(min_col=index, max_col=index)),
            default=8,
        )
        sheet.column_dimensions[letter].width = column.width or min(max(widest + 2, 8), 60)
    sheet.freeze_panes = "A2"


def _xlsx(digest: Digest, labels: Labels) -> bytes:
    """The digest's tables as a workbook, byte for byte the same for the same data."""
    tz: ZoneInfo = digest.context["tz"]
    book = Workbook()
    book.remove(book.active)
    for table in tables(digest, labels):
        _sheet(book, table, tz)
    fixed = digest.as_of.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.properties.title = digest.title_in(labels.lang)
    book.properties.creator = "grievance-engine"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(book, archive).write_data()
    return _fixed_zip(buffer.getvalue(), fixed)


def _fixed_zip(data: bytes, when: datetime) -> bytes:
    """The same zip with every entry stamped `when` (zip entries carry the writing time)."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()


def tables(digest: Digest, labels: Labels) -> list[Table]:
    """The digest's tables, as the Excel export lays them out (one sheet each)."""
    zh = labels.lang == "zh"
    c = digest.context

    def t(chinese: str, english: str) -> str:
        return chinese if zh else english

    def item_table(sheet: str, rows: Sequence[Item], overdue: bool) -> Table:
        columns = [
            Column(t("序号", "No."), "int"),
            Column(t("工单编号", "Grievance")),
            Column(t("承办单位", "Unit")),
            Column(t("诉求分类", "Category")),
            Column(t("办理环节", "Time limit")),
            Column(t("时限", "Due at"), "time"),
            Column(
                t("已超时（工作小时）", "Late (working hours)")
                if overdue
                else t("剩余（工作小时）", "Left (working hours)"),
                "hours",
            ),
        ]
        return Table(
            sheet,
            columns,
            [
                [
                    i,
                    r.number,
                    labels.unit(r.unit),
                    labels.category(r.category),
                    labels.target(r.target, r.cycle),
                    r.due_at,
                    r.late if overdue else r.left,
                ]
                for i, r in enumerate(rows, start=1)
            ],
        )

    if digest.kind == "daily":
        return [
            item_table(t("今日到期", "Due today"), c["due_today"], False),
            item_table(t("即将到期", "Due soon"), c["due_soon"], False),
            item_table(t("超期清单", "Overdue"), c["overdue"], True),
        ]

    unit_columns = [
        Column(t("受理量", "Volume"), "int"),
        Column(t("响应率", "Response"), "pct"),
        Column(t("按时办结率", "On time"), "pct"),
        Column(t("解决率", "Resolved"), "pct"),
        Column(t("满意率", "Satisfied"), "pct"),
        Column(t("退单率", "Returned"), "pct"),
        Column(t("平均办理时长（工作小时）", "Avg. handling (working hours)"), "hours"),
        Column(t("超期（项）", "Overdue"), "int"),
        Column(t("涉及金额（元）", "Amount (CNY)"), "yuan"),
        Column(t("挽回金额（元）", "Recovered (CNY)"), "yuan"),
    ]

    def figures(m: Measures) -> list[Any]:
        return [
            m.volume,
            m.response_rate,
            m.on_time_rate,
            m.resolution_rate,
            m.satisfaction_rate,
            m.return_rate,
            m.average_handling_hours,
            m.overdue,
            m.counts.amount_fen,
            m.counts.recovered_fen,
        ]

    total: Measures = c["total"]
    if digest.kind == "weekly":
        before: Measures = c["previous_total"]
        overview = Table(
            t("总体指标", "Overview"),
            [
                Column(t("范围", "Scope")),
                *unit_columns,
            ],
            [
                [t("本周", "This week"), *figures(total)],
                [t("上周", "Previous week"), *figures(before)],
            ],
        )
        units = Table(
            t("单位指标", "Units"),
            [Column(t("承办单位", "Unit")), *unit_columns],
            [[labels.unit(m.key), *figures(m)] for m in c["by_unit"]],
        )
        return [overview, units, _category_table(c["categories"], labels)]

    overview = Table(
        t("总体指标", "Overview"),
        [
            Column(t("指标", "Measure")),
            Column(t("本月", "This month")),
            Column(t("目标（≥）", "Target (≥)"), "target"),
            Column(t("达标情况", "Status")),
        ],
        [
            [t("受理量（件）", "Volume"), Cell(total.volume, "int"), None, ""],
            [
                t("上月受理量（件）", "Previous month"),
                Cell(total.previous_accepted, "int"),
                None,
                "",
            ],
            [t("环比", "Month on month"), Cell(total.volume_change, "pct"), None, ""],
            *[
                [labels.measure(k.key), Cell(k.value, "pct"), k.target, _status(k.status, zh)]
                for k in c["checks"]
            ],
            [t("涉及金额（元）", "Amount (CNY)"), Cell(total.counts.amount_fen, "yuan"), None, ""],
            [
                t("挽回金额（元）", "Recovered (CNY)"),
                Cell(total.counts.recovered_fen, "yuan"),
                None,
                "",
            ],
            [t("超期事项（项）", "Overdue now"), Cell(c["overdue_count"], "int"), None, ""],
        ],
    )
    units = Table(
        t("单位指标", "Units"),
        [Column(t("排名", "Rank"), "int"), Column(t("承办单位", "Unit")), *unit_columns],
        [
            [
                r.rank if r.rank is not None else "—",
                labels.unit(r.measures.key),
                *figures(r.measures),
            ]
            for r in c["ranked"]
        ],
    )
    trend = Table(
        t("趋势", "Trend"),
        [
            Column(t("月份", "Month")),
            Column(t("受理量", "Volume"), "int"),
            Column(t("环比", "Change"), "pct"),
            Column(t("按时办结率", "On time"), "pct"),
            Column(t("满意率", "Satisfied"), "pct"),
        ],
        [
            [
                p.label if zh else f"{p.start:%Y-%m}",
                m.volume,
                m.volume_change,
                m.on_time_rate,
                m.satisfaction_rate,
            ]
            for p, m in c["trend"]
        ],
    )

    def repeat_table(sheet: str, who: str, rows: Sequence[Repeat]) -> Table:
        return Table(
            sheet,
            [
                Column(t("序号", "No."), "int"),
                Column(who),
                Column(t("次数", "Times"), "int"),
                Column(t("工单编号", "Grievances")),
            ],
            [[i, r.who, r.count, "、".join(r.numbers)] for i, r in enumerate(rows, start=1)],
        )

    return [
        overview,
        units,
        item_table(t("超期清单", "Overdue"), c["overdue"], True),
        trend,
        _category_table(c["categories"], labels),
        repeat_table(
            t("重复诉求人", "Repeat complainants"),
            t("诉求人（手机号已脱敏）", "Complainant (masked phone)"),
            c["repeat_complainants"],
        ),
        repeat_table(
            t("被反映对象", "Repeat respondents"),
            t("被反映对象", "Respondent"),
            c["repeat_respondents"],
        ),
    ]


def _status(status: str | None, zh: bool) -> str:
    texts = {
        "met": ("达标", "met"),
        "missed": ("未达标", "missed"),
        "no_data": ("无数据", "no data"),
    }
    if status is None:
        return "—" if zh else "no target"
    return texts[status][0 if zh else 1]


def _category_table(shares: Sequence[Share], labels: Labels) -> Table:
    zh = labels.lang == "zh"
    return Table(
        "分类统计" if zh else "Categories",
        [
            Column("诉求分类" if zh else "Category"),
            Column("受理量" if zh else "Volume", "int"),
            Column("占比" if zh else "Share", "pct"),
            Column("按时办结率" if zh else "On time", "pct"),
            Column("涉及金额（元）" if zh else "Amount (CNY)", "yuan"),
            Column("挽回金额（元）" if zh else "Recovered (CNY)", "yuan"),
        ],
        [
            [
                labels.category(s.measures.key),
                s.measures.volume,
                s.share,
                s.measures.on_time_rate,
                s.measures.counts.amount_fen,
                s.measures.counts.recovered_fen,
            ]
            for s in shares
        ],
    )


# ----------------------------------------------------------------------------- command line
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_day(text: str) -> date:
    """2026-11-23 -> that date; anything else is InvalidInput."""
    raw = text.strip()
    if _DAY.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise InvalidInput(f"--period {text!r}: give a day such as 2026-11-23")


def parse_week(text: str) -> Period:
    """2026-W48 (ISO week) or any date inside the week -> that week."""
    raw = text.strip()
    match = _WEEK.match(raw)
    if match:
        try:
            return week_of(date.fromisocalendar(int(match[1]), int(match[2]), 1))
        except ValueError:
            raise InvalidInput(
                f"--period {text!r}: {match[1]} has no ISO week {int(match[2])}"
            ) from None
    if _DAY.match(raw):
        return week_of(parse_day(raw))
    raise InvalidInput(f"--period {text!r}: give an ISO week such as 2026-W48 or a date in it")


def parse_month(text: str) -> Period:
    """2026-11 -> that month."""
    match = _MONTH.match(text.strip())
    if match and 1 <= int(match[2]) <= 12:
        return month_of(date(int(match[1]), int(match[2]), 1))
    raise InvalidInput(f"--period {text!r}: give a month such as 2026-11")


def _options(period_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--period", "period_text", metavar="PERIOD", help=period_help),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                default="html",
                show_default=True,
                help="Output format.",
            ),
            click.option(
                "--lang",
                type=click.Choice(["zh", "en"]),
                help="Language (default $GRIEVANCE_LANGUAGE, else zh).",
            ),
            click.option(
                "--now",
                "now_text",
                metavar="ISO8601",
                help="The instant the figures are taken at (default now; no offset = "
                "Asia/Shanghai).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _now(text: str | None) -> datetime:
    """--now, or the clock (the only clock read of a report command)."""
    return parse_instant(text) if text else datetime.now(UTC)


def _write(path: Path, digest: Digest, fmt: str, lang: str | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_digest(digest, fmt, lang))
    return path


def _single(digest: Digest, out: str, fmt: str, lang: str | None) -> None:
    target = Path(out)
    if target.is_dir():
        target = target / digest.filename(fmt, lang)
    click.echo(f"wrote {_write(target, digest, fmt, lang)}: {digest.title_in(lang)}")


@click.group("report")
def report() -> None:
    """Digests: 日提醒 daily reminders, 周汇总 weekly summary, 月通报 monthly bulletin."""


@report.command("daily")
@_options("The day, e.g. 2026-11-23 (default today).")
@click.option(
    "--out",
    required=True,
    metavar="DIR",
    help="Directory for the reminders: one file per unit, e.g. daily-2026-11-23-ROAD.zh.html.",
)
@click.option("--unit", metavar="CODE", help="Only this unit's reminder.")
def daily_command(
    period_text: str | None,
    fmt: str,
    lang: str | None,
    now_text: str | None,
    out: str,
    unit: str | None,
) -> None:
    """日提醒: per unit, what is due today, due soon and overdue (working days only)."""
    as_of = _now(now_text)
    day = parse_day(period_text) if period_text else None
    engine = Engine.open()
    day = day or local(as_of, engine.calendar.zone).date()
    digests = daily(engine, day, as_of)
    if not digests:
        reason = (
            "not a working day"
            if not engine.calendar.is_working_day(day)
            else "no unit has open work"
        )
        click.echo(f"no daily reminder for {day.isoformat()}: {reason}")
        return
    if unit is not None:
        digests = [d for d in digests if d.unit == unit]
        if not digests:
            raise InvalidInput(f"unit {unit!r} has no open work (or does not exist)")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"--out {out}: daily reminders go to a directory (one file per unit)")
    for digest in digests:
        path = _write(folder / digest.filename(fmt, lang), digest, fmt, lang)
        click.echo(f"wrote {path}: {digest.title_in(lang)}")


@report.command("weekly")
@_options("The week: 2026-W48, or any date in it (default this week).")
@click.option(
    "--out", required=True, metavar="FILE", help="The file to write (or a directory for it)."
)
def weekly_command(
    period_text: str | None, fmt: str, lang: str | None, now_text: str | None, out: str
) -> None:
    """周汇总: the week's measures, total and by unit, against the previous week."""
    as_of = _now(now_text)
    period = parse_week(period_text) if period_text else None
    engine = Engine.open()
    period = period or week_of(local(as_of, engine.calendar.zone).date())
    _single(weekly(engine, period, as_of), out, fmt, lang)


@report.command("monthly")
@_options("The month, e.g. 2026-11 (default the last complete month).")
@click.option(
    "--out", required=True, metavar="FILE", help="The file to write (or a directory for it)."
)
def monthly_command(
    period_text: str | None, fmt: str, lang: str | None, now_text: str | None, out: str
) -> None:
    """月通报: the monthly bulletin (figures, ranking, overdue list, trends, repeats)."""
    as_of = _now(now_text)
    period = parse_month(period_text) if period_text else None
    engine = Engine.open()
    period = period or month_of(local(as_of, engine.calendar.zone).date()).previous()
    _single(monthly(engine, period, as_of), out, fmt, lang)
