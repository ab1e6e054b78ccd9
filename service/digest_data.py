"""The digests' data: language-neutral items, checks, rankings and shares, the labels of both
languages, and the `Digest` that `service.digests` builds and renders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from models.typical_cases import MarkedTypical
from templates import language, md_cell, pct, with_bureau
from workflow.documents import EN
from workflow.errors import InvalidInput
from workflow.measures import Measures, Period
from workflow.privacy import mask_text
from workflow.vocab import Category, CloseResult

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
DESK = "desk"  # who answers for an overdue assignment or revisit (the grievance desk)
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
class Typical:
    """典型案例 in the bulletin: a grievance a reviewer marked typical this month, with the
    summary (the case and the lesson drawn) and the review's 举一反三; free text masked."""

    number: str
    category: str
    unit: str | None
    result: str | None
    summary: str
    lessons: str | None


def typical_case(marked: MarkedTypical) -> Typical:
    return Typical(
        number=marked.number,
        category=marked.category,
        unit=marked.lead_unit,
        result=marked.result,
        summary=mask_text(marked.summary),
        lessons=mask_text(marked.lessons) if marked.lessons else None,
    )


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

    def result(self, code: str | None) -> str:
        """A close result: 已解决 / resolved..."""
        if code is None:
            return "—"
        member = CloseResult(code)
        return member.zh if self.lang == "zh" else EN[member]

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
        return status_label(check.status, self.lang == "zh")


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
        title = digest_title(self.kind, self.period, self.labels(chosen).unit(self.unit), chosen)
        return with_bureau(title, chosen)

    def filename(self, fmt: str, lang: str | None = None) -> str:
        """daily-2026-11-23-ROAD.zh.html, weekly-2026-W48.zh.md, monthly-2026-11.en.xlsx."""
        check_format(fmt)
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


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def digest_title(kind: str, period: Period, unit_name: str, lang: str) -> str:
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


def status_label(status: str | None, zh: bool) -> str:
    texts = {
        "met": ("达标", "met"),
        "missed": ("未达标", "missed"),
        "no_data": ("无数据", "no data"),
    }
    if status is None:
        return "—" if zh else "no target"
    return texts[status][0 if zh else 1]
