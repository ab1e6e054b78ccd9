"""Digests: 日提醒 daily reminder per unit, 周汇总 weekly summary, 月通报 monthly bulletin.

Figures come from `models.group_counts`, `trend_counts`, `repeat_counts` and `open_work` (SQL
aggregation) as of an explicit instant `as_of`; the measures are defined once in
`workflow.measures`. A `Digest` holds language-neutral data; it is rendered through the one
Jinja environment (`templates/digests/`) as HTML (inline SVG charts whose labels stay `<text>`,
so Chinese renders with the reader's CJK fonts), as Markdown (tables instead of charts) or as
Excel (one sheet per table). Chinese by default, English on request.

- `daily(engine, day, as_of)`: one reminder per unit with open work, and none at all when
  `day` is not a working day (make-up Saturdays are working days, holidays are not). Three
  lists: due today (from `as_of` to 24:00 of `day`), due soon (to 24:00 of the next working
  day), overdue (how late, in working hours); their counts on top. Only the limits a unit
  answers for are listed (those whose yellow card goes to the unit: progress feedback and
  closing); assignment and revisit are the desk's.
- `weekly(engine, period, as_of)`: the week's measures, total and by unit, against the previous
  week; the 首办负责 figures per first handler (`models.handoffs` for returns and
  reassignments); the overdue count; the top categories.
- `monthly(engine, period, as_of)`: the 月通报: headline figures against the "988" targets
  (达标/未达标), per-unit figures and ranking, the 首办负责 figures, the overdue list, the last six months' trend,
  categories, amounts in dispute and recovered, repeat complainants (masked phone numbers) and
  repeat respondents for 会商研判, the month's typical cases (典型案例) with the lesson drawn,
  and the work required of the units.
- Ranking of units: on-time closure rate (按时办结率), then satisfaction rate (满意率), then
  volume (受理量), each from high to low; a rate without data ("—") ranks after every rate;
  units equal on all three share a rank (并列). Grievances not yet assigned to a unit are shown
  on their own line, unranked.
- Privacy: complainants appear only as masked phone numbers, and every piece of free text that
  reaches a digest (unit names, respondents) goes through `mask_text` too.
- Rendering (HTML with charts, Markdown, Excel) is `service.digest_render.render_digest`,
  re-exported here; the `grievance report daily|weekly|monthly` commands are in `cli.reports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models import (
    audit_seals,
    group_counts,
    handoffs,
    open_work,
    repeat_counts,
    trend_counts,
    typical_cases,
)
from models.unit_rows import list_units
from service import calendars
from service.digest_data import (
    DESK,
    HEADLINE,
    LIST_LIMIT,
    OVERDUE_SHOWN,
    TOP_CATEGORIES,
    TREND_MONTHS,
    Check,
    Digest,
    Item,
    Ranked,
    Share,
    digest_title,
    typical_case,
)
from service.digest_render import render_digest
from service.engine import Engine
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
    first_handlers,
)
from workflow.policies import Audience
from workflow.privacy import mask_text

__all__ = ["daily", "monthly", "render_digest", "weekly"]


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
        for code in open_work.units_with_open_work(session):
            overdue = [
                r
                for r in open_work.overdue_list(
                    session, as_of, calendar, engine.policies, unit=code, limit=LIST_LIMIT
                )
                if r.target in mine
            ]
            today = [
                r
                for r in open_work.due_between(
                    session, as_of, end_today, unit=code, limit=LIST_LIMIT
                )
                if r.target in mine
            ]
            soon = [
                r
                for r in open_work.due_between(
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
            title = digest_title("daily", period, name, lang)
            digests.append(Digest("daily", period, code, title, context, as_of, lang))
    return digests


def calendar_note(engine: Engine, as_of: datetime) -> dict[str, Any] | None:
    """What the reminders say while open deadlines are provisional (years without a State
    Council notice): how many, and which years; None when every open deadline is official."""
    status = calendars.status(engine, as_of)
    if not status.provisional_timers:
        return None
    return {"timers": status.provisional_timers, "years": status.provisional_years}


# the measures of the total, per unit, per category and per first handler (首办负责)
_GROUPINGS: list[str | None] = [None, "unit", "category", "first_handler"]


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
        found = group_counts.measures_by(session, period, as_of, _GROUPINGS, tz)
        total, by_unit, categories = _total(found[None]), found["unit"], found["category"]
        moves = handoffs.handoffs(session, *_bounds(period, tz))
        before = _total(group_counts.measures(session, previous, as_of, by=None, tz=tz))
        overdue = open_work.overdue_list(
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
        "first_handlers": first_handlers(found["first_handler"], moves),
    }
    lang = engine.notify.language
    return Digest(
        "weekly", period, None, digest_title("weekly", period, "", lang), context, as_of, lang
    )


def monthly(engine: Engine, period: Period, as_of: datetime) -> Digest:
    """月通报: the monthly bulletin (see the module docstring for its sections)."""
    tz = engine.calendar.zone
    units, targets = _names(engine)
    start, end = _bounds(period, tz)
    months = [period]
    for _ in range(TREND_MONTHS - 1):
        months.insert(0, months[0].previous())
    with engine.db.read() as session:
        found = group_counts.measures_by(session, period, as_of, _GROUPINGS, tz)
        total, by_unit, categories = _total(found[None]), found["unit"], found["category"]
        moves = handoffs.handoffs(session, start, end)
        # the five months before: one bucketed statement (trend_counts.trend), not one per month
        earlier = trend_counts.trend(session, months[:-1], tz)
        trend = [*zip(months[:-1], earlier, strict=True), (period, TrendPoint.of(total))]
        overdue = open_work.overdue_list(
            session, as_of, engine.calendar, engine.policies, limit=LIST_LIMIT
        )
        complainants = repeat_counts.repeat_complainants(session, start, end, min_count=2, limit=20)
        respondents = repeat_counts.repeat_respondents(session, start, end, min_count=2, limit=20)
        typical = typical_cases.marked_between(session, start, end)
        # the audit chain's head at the month's end, for readers to keep (docs/audit.md)
        sealed = audit_seals.seal_at(session, min(end, as_of))
    ranked = rank_units(by_unit)
    audit_head = None
    if sealed is not None:
        audit_head = {"hash": sealed.hash, "seal": sealed.id, "at": sealed.sealed_at}
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
        "typical_cases": [typical_case(t) for t in typical],
        "audit_head": audit_head,
        "first_handlers": first_handlers(found["first_handler"], moves),
    }
    lang = engine.notify.language
    return Digest(
        "monthly", period, None, digest_title("monthly", period, "", lang), context, as_of, lang
    )


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
