"""The SLA board as pure data: the card at the warning and breach instants, the business time
left or overdue (the lunch break and the night not counted), the step reached, the split per
unit and for the desk, the artifact keys, the Markdown. Explicit instants only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from workflow.calendar import BusinessCalendar
from workflow.policy_versions import registry
from workflow.sla_board import (
    DESK,
    Card,
    Running,
    board_key,
    boards,
    boards_of,
    card,
    duration,
    markdown,
    row_of,
)
from workflow.timers import Timer, TimerState

SH = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar()
POLICIES = registry()
P2142 = POLICIES.latest("2142")
URGENT = POLICIES.latest("urgent")


def at(text: str) -> datetime:
    """Shanghai wall time -> aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(UTC)


# Monday 2026-11-30, a working day: accepted 09:00, assign within 2 business hours (11:00),
# the yellow card when a quarter is left (10:30), 督办 one working day after the breach
# (the end of Tuesday).
def assign_timer(**changes: object) -> Timer:
    values: dict[str, object] = {
        "target": "assign",
        "cycle": 1,
        "state": TimerState.RUNNING,
        "started_at": at("2026-11-30T09:00"),
        "due_at": at("2026-11-30T11:00"),
        "provisional": False,
        "warn_at": at("2026-11-30T10:30"),
    }
    values.update(changes)
    return Timer(**values)  # type: ignore[arg-type]


def row(moment: str, timer: Timer | None = None, unit: str | None = "ROAD", policy=P2142):  # type: ignore[no-untyped-def]
    timer = timer or assign_timer()
    return row_of(
        Running("20261130-0001", unit, timer), policy.target(timer.target), CAL, at(moment)
    )


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-30T09:00", Card.GREEN),
        ("2026-11-30T10:29:59", Card.GREEN),
        ("2026-11-30T10:30", Card.YELLOW),  # the warning instant itself
        ("2026-11-30T10:59:59", Card.YELLOW),
        ("2026-11-30T11:00", Card.RED),  # the breach instant itself
        ("2026-12-01T09:00", Card.RED),
    ],
)
def test_the_card_turns_yellow_at_the_warning_and_red_at_the_breach(
    moment: str, expected: Card
) -> None:
    assert card(assign_timer(), at(moment)) is expected
    assert row(moment).card is expected


def test_a_timer_without_a_warning_goes_from_green_to_red() -> None:
    timer = assign_timer(warn_at=None)
    assert card(timer, at("2026-11-30T10:59")) is Card.GREEN
    assert card(timer, at("2026-11-30T11:00")) is Card.RED


def test_time_left_and_overdue_are_business_time() -> None:
    # due 14:30, at 11:30: 30 min before lunch and 30 min after it
    late_due = assign_timer(due_at=at("2026-11-30T14:30"), warn_at=at("2026-11-30T14:00"))
    assert row("2026-11-30T11:30", late_due).left == timedelta(hours=1)
    assert row("2026-11-30T12:45", late_due).left == timedelta(minutes=30)  # lunch: no time
    # due 11:00, at 14:15: overdue by 11:00-12:00 and 14:00-14:15
    assert row("2026-11-30T14:15").left == -timedelta(hours=1, minutes=15)
    # over the night: 17:30 to 08:30 is no business time
    assert row("2026-12-01T08:30").left == row("2026-11-30T17:30").left
    assert row("2026-11-30T11:00").left == timedelta(0)


def test_natural_time_for_an_urgent_limit() -> None:
    urgent = assign_timer(
        started_at=at("2026-11-30T20:00"),
        due_at=at("2026-11-30T20:30"),
        warn_at=at("2026-11-30T20:22:30"),
    )
    late = row("2026-11-30T21:10", urgent, policy=URGENT)
    assert (late.card, late.left, late.natural) == (Card.RED, -timedelta(minutes=40), True)


def test_the_step_reached_follows_the_ladder() -> None:
    assert row("2026-11-30T10:00").step is None
    assert (row("2026-11-30T10:30").step, row("2026-11-30T10:30").step_zh) == (
        "warning",
        "黄牌预警",
    )
    assert row("2026-11-30T11:00").step_zh == "红牌"
    assert row("2026-12-01T17:29").step_zh == "红牌"
    assert row("2026-12-01T17:30").step_zh == "督办"  # one working day on: the next day's end


def _rows():  # type: ignore[no-untyped-def]
    moment = at("2026-11-30T10:45")
    timers = [
        ("20261130-0001", "ROAD", assign_timer()),  # yellow
        ("20261130-0002", "ROAD", assign_timer(due_at=at("2026-11-30T10:00"), warn_at=None)),
        ("20261130-0003", "UA", assign_timer(due_at=at("2026-11-30T16:00"), warn_at=None)),
        ("20261130-0004", None, assign_timer(due_at=at("2026-11-30T10:15"), warn_at=None)),
    ]
    return moment, [
        row_of(Running(n, u, t), P2142.target(t.target), CAL, moment) for n, u, t in timers
    ]


def test_each_unit_sees_its_own_rows_and_the_desk_sees_all() -> None:
    moment, rows = _rows()
    made = boards(rows, moment, ["ROAD", "UA", "IDLE"])
    assert set(made) == {DESK, "ROAD", "UA", "IDLE"}
    assert [r.number for r in made["ROAD"].rows] == ["20261130-0002", "20261130-0001"]
    assert [r.number for r in made["UA"].rows] == ["20261130-0003"]
    assert made["IDLE"].rows == () and made["IDLE"].total == 0  # an empty board replaces one
    # the desk: every row, red first (most overdue first), then yellow, then green
    assert [r.number for r in made[DESK].rows] == [
        "20261130-0002",
        "20261130-0004",
        "20261130-0001",
        "20261130-0003",
    ]
    assert made[DESK].counts == {Card.RED: 2, Card.YELLOW: 1, Card.GREEN: 1}
    assert made[DESK].by_unit[None] == {Card.RED: 1, Card.YELLOW: 0, Card.GREEN: 0}
    assert made["ROAD"].counts == {Card.RED: 1, Card.YELLOW: 1, Card.GREEN: 0}


def test_a_board_shows_the_most_urgent_rows_and_counts_all() -> None:
    moment, rows = _rows()
    desk = boards(rows, moment, [], limit=2)[DESK]
    assert [r.card for r in desk.rows] == [Card.RED, Card.RED] and desk.total == 4
    assert "仅列出最紧急的 2 条，共 4 条。" in markdown(desk)


def test_board_keys_are_one_per_unit() -> None:
    assert board_key(DESK) == "sla-board"
    assert board_key("ROAD") == "sla-board-road"
    assert board_key("ROAD-2") == "sla-board-road-2"
    codes = ["ROAD", "road", "Road", "ROAD_2", "ROAD-2", "desk", "DESK", "A_B", "A-B"]
    keys = [board_key(code) for code in codes]
    assert len(set(keys)) == len(codes) and board_key(DESK) not in keys  # a unit "desk" too
    assert all(key == key.lower() and " " not in key for key in keys)


def test_the_markdown_in_chinese_and_english() -> None:
    moment, rows = _rows()
    made = boards(rows, moment, ["ROAD", "UA"])
    links = {"20261130-0001": "/runs/flow-run/abc"}
    zh = markdown(made["ROAD"], names={"ROAD": "道路运输管理处"}, links=links)
    assert zh.startswith("# 时限看板 · 承办单位 ROAD 道路运输管理处\n")
    assert "红牌 1 · 黄牌 1 · 绿牌 0" in zh
    assert (
        "| 🟨 黄牌 | [20261130-0001](/runs/flow-run/abc) | ROAD 道路运输管理处 | 分办 "
        "| 2026-11-30 11:00 | 剩余 0小时15分 | 黄牌预警 |"
    ) in zh
    assert "| 🟥 红牌 | 20261130-0002 | ROAD 道路运输管理处 | 分办 | 2026-11-30 10:00 " in zh
    assert "超期 0小时45分" in zh and "20261130-0003" not in zh
    en = markdown(made[DESK], language="en")
    assert en.startswith("# SLA board · the desk (every unit)\n")
    assert "| (not assigned) | 1 | 0 | 0 |" in en and "| UA | 0 | 0 | 1 |" in en
    assert "| 🟥 red card | 20261130-0004 | (not assigned) | assign |" in en
    assert "30m overdue" in en and "3h15m left" in en  # 10:45 to 16:00 less the lunch break
    empty = markdown(boards([], moment, ["UA"])["UA"], language="en")
    assert "No running time limits." in empty


def test_unit_names_are_masked_and_pipes_escaped() -> None:
    moment, rows = _rows()
    text = markdown(boards(rows, moment, ["ROAD"])["ROAD"], names={"ROAD": "张三|13812345678 处"})
    assert "13812345678" not in text and "\\|" in text


def test_durations() -> None:
    assert duration(timedelta(hours=27, minutes=5)) == "27小时05分"
    assert duration(-timedelta(minutes=59, seconds=59), "en") == "0h59m"
    day = timedelta(hours=7)  # 08:30-12:00 and 14:00-17:30
    assert duration(timedelta(hours=27, minutes=5), "zh", day) == "3个工作日6小时05分"
    assert duration(-timedelta(hours=14), "en", day) == "2 wd 0h00m"
    assert duration(timedelta(hours=6, minutes=59), "zh", day) == "6小时59分"


def test_a_close_limit_counts_working_days_left() -> None:
    """办结 within 15 working days from Monday 2026-11-30 09:00: on Wednesday 12-02 at 10:00,
    12 working days and 6 h are left (to 12-21 09:00; 12-05/06 and 12-12/13 are weekends)."""
    close = assign_timer(
        target="close",
        due_at=at("2026-12-21T09:00"),
        warn_at=at("2026-12-18T09:00"),
    )
    row_now = row("2026-12-02T10:00", close)
    assert (row_now.card, row_now.day) == (Card.GREEN, timedelta(hours=7))
    assert duration(row_now.left, "zh", row_now.day) == "12个工作日6小时00分"
    text = markdown(boards([row_now], at("2026-12-02T10:00"), [])[DESK])
    assert "| 办结 | 2026-12-21 09:00 | 剩余 12个工作日6小时00分 | — |" in text


def test_boards_of_chooses_the_same_rows_as_computing_every_row() -> None:
    """The fast path (cards for all, rows for the shown) equals the whole computation, at
    instants before, in and after the lunch break, with ties in time left."""
    units = ["ROAD", "UA", "UB"]
    running = []
    start = at("2026-11-30T08:30")
    for i in range(60):
        due = start + timedelta(minutes=17 * i)  # some fall in the lunch break or the night
        timer = assign_timer(
            started_at=due - timedelta(hours=2),
            due_at=due,
            warn_at=None if i % 5 == 0 else due - timedelta(minutes=30),
        )
        unit = None if i % 7 == 0 else units[i % 3]
        running.append((Running(f"20261130-{i:04d}", unit, timer), P2142.target("assign")))
    for moment in ("2026-11-30T10:00", "2026-11-30T12:30", "2026-11-30T15:10", "2026-12-01T09:00"):
        every = [row_of(r, t, CAL, at(moment)) for r, t in running]
        for limit in (1, 4, 100):
            fast = boards_of(running, CAL, at(moment), units + ["IDLE"], limit=limit)
            assert fast == boards(every, at(moment), units + ["IDLE"], limit=limit), (moment, limit)
