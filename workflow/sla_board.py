"""The SLA board (时限看板): every running timer with its card (绿牌 green, 黄牌 yellow: the
warning has passed, 红牌 red: the deadline has passed), the time left or overdue on the
target's clock (business time, or natural time for an urgent limit), the step of the ladder
reached, per unit and for the desk; and the board as Markdown. Pure: `at` is an argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from workflow.artifact_keys import unit_key
from workflow.calendar import BusinessCalendar
from workflow.policies import Clock, Target
from workflow.privacy import mask_text
from workflow.sla_calendars import CalendarLike, Calendars
from workflow.timers import Timer, steps
from workflow.timeutil import iso, local

# The board of the desk: every unit's timers and the ones of no unit yet. Not a valid unit
# code (`workflow.validation.UNIT_CODE_PATTERN`), so no unit can be taken for the desk.
DESK = "(desk)"
KEY_PREFIX = "sla-board"
ZERO = timedelta(0)
ROWS = 300  # rows shown per board (the most urgent); the counts cover every timer


class Card(StrEnum):
    """The colour of a running timer at an instant."""

    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"

    @property
    def zh(self) -> str:
        return {"red": "红牌", "yellow": "黄牌", "green": "绿牌"}[self.value]

    @property
    def en(self) -> str:
        return {"red": "red card", "yellow": "yellow card", "green": "green"}[self.value]


_ORDER = {Card.RED: 0, Card.YELLOW: 1, Card.GREEN: 2}


def board_key(party: str) -> str:
    """The artifact key of a party's board: `sla-board` for the desk, `sla-board-<unit>` for
    a unit (`workflow.artifact_keys.unit_key`: two units never share a board)."""
    if party == DESK:
        return KEY_PREFIX
    return unit_key(KEY_PREFIX, party)


def card(timer: Timer, at: datetime) -> Card:
    """Red from the deadline on, yellow from the warning on, green before."""
    if at >= timer.due_at:
        return Card.RED
    if timer.warn_at is not None and at >= min(timer.warn_at, timer.due_at):
        return Card.YELLOW
    return Card.GREEN


@dataclass(frozen=True, slots=True)
class Running:
    """One running timer as the board reads it: its grievance's number and lead unit."""

    number: str
    unit: str | None
    timer: Timer


@dataclass(frozen=True, slots=True)
class BoardRow:
    number: str
    unit: str | None
    target: str
    target_zh: str  # the time limit's Chinese title (分办, 进展反馈, 办结, 回访)
    cycle: int
    card: Card
    due_at: datetime
    left: timedelta  # time left on the target's clock; negative: overdue by that much
    natural: bool  # the target's limit counts natural time (urgent), not business time
    step: str | None  # the ladder step reached at the instant (name), None before any
    step_zh: str | None
    provisional: bool
    day: timedelta = timedelta(0)  # a working day of the timer's calendar (0: natural time)


def _calendar(calendars: CalendarLike, calendar_id: str) -> BusinessCalendar:
    return calendars.of(calendar_id) if isinstance(calendars, Calendars) else calendars


def _whole(span: timedelta) -> timedelta:
    return span - timedelta(microseconds=span.microseconds)


def row_of(running: Running, target: Target, calendars: CalendarLike, at: datetime) -> BoardRow:
    """The board's row of one running timer at `at`."""
    timer = running.timer
    natural = target.limit.clock is Clock.NATURAL
    calendar = _calendar(calendars, timer.calendar)
    if at <= timer.due_at:
        left = timer.due_at - at if natural else calendar.business_time_between(at, timer.due_at)
    else:
        left = -(at - timer.due_at if natural else calendar.business_time_between(timer.due_at, at))
    reached = [step for step in steps(timer, target, calendars) if step.at <= at]
    last = reached[-1] if reached else None
    return BoardRow(
        number=running.number,
        unit=running.unit,
        target=timer.target,
        target_zh=target.title_zh,
        cycle=timer.cycle,
        card=card(timer, at),
        due_at=timer.due_at,
        left=_whole(left),
        natural=natural,
        step=last.name if last else None,
        step_zh=last.title_zh if last else None,
        provisional=timer.provisional,
        day=ZERO if natural else _day(calendar),
    )


def _day(calendar: BusinessCalendar) -> timedelta:
    """The business time of one working day on the calendar (08:30-12:00, 14:00-17:30: 7 h)."""
    return sum(
        (
            timedelta(hours=end.hour - start.hour, minutes=end.minute - start.minute)
            for start, end in calendar.hours.periods
        ),
        ZERO,
    )


def urgency(row: BoardRow) -> tuple[int, timedelta, datetime, str, str, int]:
    """Red first (most overdue first), then yellow, then green, each by time left."""
    return (_ORDER[row.card], row.left, row.due_at, row.number, row.target, row.cycle)


@dataclass(frozen=True, slots=True)
class Board:
    """One party's board: the most urgent rows (at most `ROWS`) and the counts of all."""

    party: str  # a unit's code, or DESK
    at: datetime
    rows: tuple[BoardRow, ...]
    counts: Mapping[Card, int]
    by_unit: Mapping[str | None, Mapping[Card, int]] = field(default_factory=dict)  # desk only

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def key(self) -> str:
        return board_key(self.party)


def boards(
    rows: Iterable[BoardRow], at: datetime, units: Iterable[str], *, limit: int = ROWS
) -> dict[str, Board]:
    """The desk's board (every row) and one per unit in `units` (its own rows; a unit with
    nothing running gets an empty board, so a stale one is replaced). A row's unit missing
    from `units` still gets its board."""
    by_party: dict[str, list[BoardRow]] = {DESK: []}
    for code in units:
        by_party.setdefault(code, [])
    for row in rows:
        by_party[DESK].append(row)
        if row.unit is not None:
            by_party.setdefault(row.unit, []).append(row)
    by_unit: dict[str | None, dict[Card, int]] = {}
    for row in by_party[DESK]:
        by_unit.setdefault(row.unit, dict.fromkeys(Card, 0))[row.card] += 1
    result = {}
    for party, mine in by_party.items():
        mine.sort(key=urgency)
        counts = dict.fromkeys(Card, 0)
        for row in mine:
            counts[row.card] += 1
        summary = _sorted_units(by_unit) if party == DESK else {}
        result[party] = Board(party, at, tuple(mine[:limit]), counts, summary)
    return result


def boards_of(
    running: Sequence[tuple[Running, Target]],
    calendars: CalendarLike,
    at: datetime,
    units: Iterable[str],
    *,
    limit: int = ROWS,
) -> dict[str, Board]:
    """`boards` of the running timers, in the time it takes to compare each timer's warning
    and deadline with `at` (the counts), plus the business-time arithmetic of only the rows
    shown: the `limit` most urgent per board. Within a card, urgency is deadline order (the
    time left on one clock grows with the deadline), so a board's rows are chosen by card
    and deadline before any row is computed; the rows shown are then ordered by `urgency`."""
    cards = [card(entry.timer, at) for entry, _target in running]
    parties: dict[str, list[int]] = {DESK: list(range(len(running)))}
    for code in units:
        parties.setdefault(code, [])
    by_unit: dict[str | None, dict[Card, int]] = {}
    for i, (entry, _target) in enumerate(running):
        by_unit.setdefault(entry.unit, dict.fromkeys(Card, 0))[cards[i]] += 1
        if entry.unit is not None:
            parties.setdefault(entry.unit, []).append(i)

    def chosen(indices: list[int]) -> list[int]:
        def key(i: int) -> tuple[int, datetime, str, str, int]:
            timer = running[i][0].timer
            return (_ORDER[cards[i]], timer.due_at, running[i][0].number, timer.target, timer.cycle)

        return sorted(indices, key=key)[:limit]

    shown = {party: chosen(indices) for party, indices in parties.items()}
    rows = {
        i: row_of(running[i][0], running[i][1], calendars, at)
        for i in sorted({i for indices in shown.values() for i in indices})
    }
    result = {}
    for party, indices in parties.items():
        counts = dict.fromkeys(Card, 0)
        for i in indices:
            counts[cards[i]] += 1
        summary = _sorted_units(by_unit) if party == DESK else {}
        mine = tuple(sorted((rows[i] for i in shown[party]), key=urgency))
        result[party] = Board(party, at, mine, counts, summary)
    return result


def _sorted_units(
    by_unit: Mapping[str | None, Mapping[Card, int]],
) -> dict[str | None, Mapping[Card, int]]:
    """Units by code, the grievances of no unit yet last."""
    return dict(sorted(by_unit.items(), key=lambda item: (item[0] is None, item[0] or "")))


# ----------------------------------------------------------------------------- Markdown
@dataclass(frozen=True, slots=True)
class _Labels:
    title: str
    desk: str
    unit: str
    none: str
    as_of: str
    columns: tuple[str, ...]
    left: str
    over: str
    natural: str
    provisional: str
    empty: str
    more: str
    note: str
    hm: str
    days: str


_LABELS = {
    "zh": _Labels(
        title="时限看板",
        desk="受理台（全部单位）",
        unit="承办单位",
        none="（未分办）",
        as_of="截至",
        columns=("时限牌", "工单编号", "承办单位", "时限", "截止时间", "剩余 / 超期", "已到步骤"),
        left="剩余 {}",
        over="超期 {}",
        natural="（自然时间）",
        provisional="（暂定）",
        empty="无运行中的时限。",
        more="仅列出最紧急的 {shown} 条，共 {total} 条。",
        note="剩余与超期按工作时间计（一个工作日按办公时长计；紧急时限按自然时间）；"
        "每次时限监控运行时刷新。",
        hm="{h}小时{m:02d}分",
        days="{}个工作日",
    ),
    "en": _Labels(
        title="SLA board",
        desk="the desk (every unit)",
        unit="unit",
        none="(not assigned)",
        as_of="as of",
        columns=("Card", "Number", "Unit", "Target", "Due", "Left / overdue", "Step reached"),
        left="{} left",
        over="{} overdue",
        natural=" (natural time)",
        provisional=" (provisional)",
        empty="No running time limits.",
        more="The {shown} most urgent of {total} shown.",
        note="Time left and overdue in business time (wd: working days of business hours; "
        "urgent limits: natural time); refreshed by every watchdog run.",
        hm="{h}h{m:02d}m",
        days="{} wd ",
    ),
}


def duration(span: timedelta, language: str = "zh", day: timedelta = ZERO) -> str:
    """Hours and minutes of a span (its sign dropped): `3小时05分`, `3h05m`; with the length
    of a working day, whole working days first: `2个工作日3小时05分`, `2 wd 3h05m`."""
    labels = _LABELS[language]
    minutes = int(abs(span).total_seconds()) // 60
    per_day = int(day.total_seconds()) // 60
    days, minutes = divmod(minutes, per_day) if per_day > 0 else (0, minutes)
    text = labels.hm.format(h=minutes // 60, m=minutes % 60)
    return labels.days.format(days) + text if days else text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(
    board: Board,
    *,
    names: Mapping[str, str] | None = None,
    links: Mapping[str, str] | None = None,
    language: str = "zh",
) -> str:
    """The board as Markdown: a heading, the counts, one table. `names`: unit names by code
    (masked here); `links`: the case run's address by grievance number."""
    labels = _LABELS[language]
    names, links = names or {}, links or {}

    def unit(code: str | None) -> str:
        if code is None:
            return labels.none
        return f"{code} {mask_text(names.get(code, ''))}".strip()

    who = labels.desk if board.party == DESK else f"{labels.unit} {unit(board.party)}"
    counts = " · ".join(
        f"{c.zh if language == 'zh' else c.en} {board.counts.get(c, 0)}" for c in Card
    )
    lines = [f"# {labels.title} · {who}", "", f"{labels.as_of} {iso(board.at)} · {counts}", ""]
    if board.by_unit:  # the desk's: one line per unit
        head = (labels.unit, *(c.zh if language == "zh" else c.en for c in Card))
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for code, per in board.by_unit.items():
            cells = [unit(code), *(str(per.get(c, 0)) for c in Card)]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    if not board.rows:
        lines.append(labels.empty)
    else:
        lines += ["| " + " | ".join(labels.columns) + " |", "|" + "---|" * len(labels.columns)]
        for row in board.rows:
            link = links.get(row.number)
            lines.append(_line(row, unit(row.unit), link, language))
        if board.total > len(board.rows):
            lines += ["", labels.more.format(shown=len(board.rows), total=board.total)]
    lines += ["", labels.note]
    return "\n".join(lines) + "\n"


_MARKS = {Card.RED: "🟥", Card.YELLOW: "🟨", Card.GREEN: "🟩"}


def _line(row: BoardRow, unit: str, link: str | None, language: str) -> str:
    labels = _LABELS[language]
    card_text = row.card.zh if language == "zh" else row.card.en
    number = f"[{row.number}]({link})" if link else row.number
    left = (labels.over if row.left < timedelta(0) else labels.left).format(
        duration(row.left, language, row.day)
    )
    if row.natural:
        left += labels.natural
    name = row.target_zh if language == "zh" else row.target
    target = name if row.cycle == 1 else f"{name} #{row.cycle}"
    due = f"{local(row.due_at):%Y-%m-%d %H:%M}" + (labels.provisional if row.provisional else "")
    step = (row.step_zh if language == "zh" else row.step) or "—"
    cells = [f"{_MARKS[row.card]} {card_text}", number, unit, target, due, left, step]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


__all__ = [
    "DESK",
    "KEY_PREFIX",
    "ROWS",
    "Board",
    "BoardRow",
    "Card",
    "Running",
    "board_key",
    "boards",
    "boards_of",
    "card",
    "duration",
    "markdown",
    "row_of",
    "urgency",
]
