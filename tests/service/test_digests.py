"""Digests (日提醒, 周汇总, 月通报): golden files, privacy, escaping, charts, the command line.

A small data set is built once through the use cases at fixed instants (November 2026 plus
a few grievances in September and October for the trend), then each digest is rendered and
compared with its golden file in `tests/golden/digests/`. After an intended change, rewrite
the goldens with

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest -q tests/service/test_digests.py

and read every changed golden before committing it (content and Chinese wording).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from cli import reports as report_cli
from models import group_counts
from service import cases as uc
from service import digests
from service.acting import Stamp
from service.digest_data import TREND_MONTHS, Digest
from service.engine import Engine
from service.units import add_unit
from tests.conftest import accept_command, database_url_for
from workflow.actor import Actor
from workflow.errors import InvalidInput
from workflow.measures import Counts, Measures, TrendPoint, month_of, week_of
from workflow.timeutil import parse_instant
from workflow.vocab import Role

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "digests"
PHONE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?!\d)")  # a mobile number, not a decimal's digits

UNITS = {
    "ROAD": "市道路运输管理处",
    "HWY": "市高速公路管理处",
    "LAW": "市交通运输综合行政执法支队",
}
DESK = Actor("受理员小张", Role.DISPATCHER)
REVIEWER = Actor("复盘组老李", Role.REVIEWER)
FINDINGS = {
    "verification": "调取执法记录仪视频、处罚决定书",
    "facts": "执法人员已出示执法证件，处罚程序合法",
    "basis": "《中华人民共和国行政处罚法》",
    "explanation": "已电话告知司机核查结果",
    "explained_at": "2026-11-20T15:00:00+08:00",
    "evidence": ["执法记录仪视频", "处罚决定书"],
}
# Phones: A calls three times, B twice (repeat complainants); C and D once.
A, B, C, D = "13812345678", "13987654321", "15011112222", "18633334444"
SHUNDA = "顺达物流有限公司"

MONTHLY_AS_OF = "2026-12-01T09:00"
WEEKLY_AS_OF = "2026-11-30T09:00"
DAILY_AS_OF = "2026-12-01T08:30"


def handler(unit: str) -> Actor:
    return Actor(f"承办人-{unit}", Role.HANDLER, unit)


def supervisor(unit: str) -> Actor:
    return Actor(f"主管-{unit}", Role.SUPERVISOR, unit)


class Book:
    """Acts on the engine at explicit local times (Asia/Shanghai)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.refs = 0

    def stamp(self, actor: Actor, when: str) -> Stamp:
        at = parse_instant(when)
        return Stamp(actor=actor, at=at, recorded_at=at)

    def unit(self, code: str, name: str, when: str = "2026-09-01T08:00") -> None:
        add_unit(self.engine, self.stamp(DESK, when), code=code, name=name)

    def accept(self, when: str, **data: Any) -> str:
        self.refs += 1
        data.setdefault("ref", f"12328-{self.refs:04d}")
        data.setdefault("name", "王建国")
        command = accept_command(**data)
        return uc.accept(self.engine, command, self.stamp(DESK, when)).number

    def handled(
        self,
        when: str,
        unit: str,
        *,
        assign: str,
        sign: str | None = None,
        feedback: str | None = None,
        close: str | None = None,
        result: str = "resolved",
        recovered: str | None = None,
        revisit: tuple[str, str] | None = None,
        **data: Any,
    ) -> str:
        """A grievance accepted at `when`, taken as far as the times given."""
        engine = self.engine
        number = self.accept(when, **data)
        uc.assign(engine, number, self.stamp(DESK, assign), unit=unit)
        if sign:
            uc.sign(engine, number, self.stamp(handler(unit), sign))
        if feedback:
            uc.feedback(engine, number, self.stamp(handler(unit), feedback), note="已联系当事方")
        if close:
            if result in ("no_fault", "unsubstantiated"):
                uc.close(
                    engine,
                    number,
                    self.stamp(supervisor(unit), close),
                    result=result,
                    note="经核实无责",
                    findings=FINDINGS,
                )
            else:
                uc.close(
                    engine,
                    number,
                    self.stamp(handler(unit), close),
                    result=result,
                    note="已办结",
                    recovered=recovered,
                )
        if revisit:
            answer, at = revisit
            uc.revisit(engine, number, self.stamp(DESK, at), satisfaction=answer)
        return number


def build(engine: Engine) -> None:
    """The data set: three units, September to November 2026 (see the goldens)."""
    book = Book(engine)
    for code, name in UNITS.items():
        book.unit(code, name)
    # September and October: a few closed on time, for the trend and the month-on-month change.
    for when, category, answer in [
        ("2026-09-08T09:00", "freight_unpaid", "satisfied"),
        ("2026-09-15T10:00", "toll_etc", "satisfied"),
        ("2026-10-12T09:00", "freight_unpaid", "satisfied"),
        ("2026-10-13T09:00", "platform_fee", "basically_satisfied"),
        ("2026-10-20T09:00", "toll_etc", "dissatisfied"),
        ("2026-10-21T09:00", "other", "satisfied"),
    ]:
        day = when[:10]
        book.handled(
            when,
            "HWY" if category == "toll_etc" else "ROAD",
            assign=f"{day}T10:30",
            sign=f"{day}T11:00",
            close=f"{day}T16:00",
            revisit=(answer, f"{day}T17:00"),
            category=category,
            phone=C,
            amount=None,
            description="历史诉求",
        )
    # November.
    book.handled(  # on time, resolved, money recovered, satisfied
        "2026-11-02T09:00",
        "ROAD",
        assign="2026-11-02T09:40",
        sign="2026-11-02T10:00",
        close="2026-11-04T16:00",
        recovered="3500",
        revisit=("satisfied", "2026-11-05T10:00"),
        phone=A,
        respondent=SHUNDA,
        amount="3500",
        description="货主拖欠运费3500元已两个月，联系电话13812345678",
    )
    book.handled(  # closed late, partly resolved
        "2026-11-09T09:00",
        "ROAD",
        assign="2026-11-09T09:30",
        sign="2026-11-09T10:00",
        feedback="2026-11-10T10:00",
        close="2026-11-16T11:00",
        result="partly_resolved",
        recovered="1000",
        revisit=("basically_satisfied", "2026-11-17T10:00"),
        phone=A,
        respondent=SHUNDA,
        amount="2000",
        description="运费被克扣2000元",
    )
    book.handled(  # on time, resolved, but the driver is dissatisfied
        "2026-11-10T14:30",
        "HWY",
        assign="2026-11-10T15:00",
        sign="2026-11-10T15:30",
        close="2026-11-12T10:00",
        recovered="286",
        revisit=("dissatisfied", "2026-11-13T09:00"),
        category="toll_etc",
        phone=B,
        respondent="高速ETC客服中心",
        amount="286",
        description="ETC重复扣费286元",
    )
    book.handled(  # still handling: the close limit has run out
        "2026-11-16T10:00",
        "ROAD",
        assign="2026-11-16T10:30",
        sign="2026-11-16T11:00",
        feedback="2026-11-17T09:00",
        category="platform_fee",
        phone=A,
        respondent="快运通货运平台",
        amount="1200",
        description="平台违规收取信息费1200元",
    )
    book.handled(  # no fault found, closed by the unit supervisor
        "2026-11-18T09:00",
        "LAW",
        assign="2026-11-18T09:20",
        sign="2026-11-18T09:40",
        close="2026-11-20T15:00",
        result="no_fault",
        revisit=("satisfied", "2026-11-23T10:00"),
        category="enforcement",
        phone=C,
        respondent="城东治超检查站",
        amount="2000",
        description="对罚款2000元有异议",
    )
    book.handled(  # still handling, close limit run out (feedback given)
        "2026-11-20T09:00",
        "HWY",
        assign="2026-11-20T09:30",
        sign="2026-11-20T10:00",
        feedback="2026-11-23T09:00",
        category="toll_etc",
        phone=D,
        respondent="快运通货运平台",
        amount="500",
        description="通行费争议500元",
    )
    book.handled(  # assigned late (response limit missed), closed on time, not revisited yet
        "2026-11-23T09:00",
        "LAW",
        assign="2026-11-23T14:30",
        sign="2026-11-23T15:00",
        close="2026-11-24T16:00",
        category="city_access",
        type="enquiry",
        phone=D,
        amount=None,
        description="咨询城市通行证办理条件",
    )
    book.handled(  # no progress feedback given: the feedback limit has run out
        "2026-11-25T10:00",
        "HWY",
        assign="2026-11-25T10:30",
        sign="2026-11-25T11:00",
        category="rest_parking",
        type="suggestion",
        phone=C,
        amount=None,
        description="建议服务区增加货车夜间停车位",
    )
    book.accept(  # never assigned
        "2026-11-27T10:00", phone=B, respondent=SHUNDA, amount="1800", description="拖欠运费"
    )
    book.handled(  # due soon: closing runs out on 2 December
        "2026-11-26T14:00",
        "ROAD",
        assign="2026-11-26T14:30",
        sign="2026-11-26T15:00",
        feedback="2026-11-27T09:00",
        category="insurance",
        phone=D,
        amount="8000",
        description="保险理赔纠纷8000元",
    )
    book.handled(  # due today: progress feedback runs out on 1 December
        "2026-11-30T10:00",
        "ROAD",
        assign="2026-11-30T10:20",
        sign="2026-11-30T10:40",
        category="cargo_damage",
        phone=C,
        amount="600",
        description="货物损坏赔偿600元",
    )


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    opened = Engine.open(database_url_for(tmp_path_factory.mktemp("digests")))
    build(opened)
    yield opened
    opened.db.dispose()


def at(text: str) -> datetime:
    return parse_instant(text)


def golden(name: str, content: str) -> None:
    """Compare with (or, with UPDATE_GOLDEN=1, rewrite) tests/golden/digests/NAME."""
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert path.exists(), f"no golden {path}: run with UPDATE_GOLDEN=1 and read it"
    assert content == path.read_text(encoding="utf-8"), f"{name} differs from its golden"


def text(digest: Digest, fmt: str, lang: str | None = None) -> str:
    return digests.render_digest(digest, fmt, lang).decode("utf-8")


def dump_xlsx(data: bytes) -> str:
    """Every sheet's cells as text (number formats shown when not General)."""
    book = load_workbook(io.BytesIO(data))
    lines: list[str] = []
    for sheet in book.worksheets:
        lines.append(f"## {sheet.title} (frozen {sheet.freeze_panes})")
        for row in sheet.iter_rows():
            cells = []
            for cell in row:
                value = "" if cell.value is None else str(cell.value)
                if cell.number_format != "General" and not isinstance(cell.value, str):
                    value += f" [{cell.number_format}]"
                cells.append(value)
            lines.append(" | ".join(cells))
        lines.append("")
    return "\n".join(lines)


def road_daily(engine: Engine) -> Digest:
    found = digests.daily(engine, date(2026, 12, 1), at(DAILY_AS_OF))
    return next(d for d in found if d.unit == "ROAD")


# ----------------------------------------------------------------------------- goldens
def test_daily_reminder_goldens(engine: Engine) -> None:
    found = digests.daily(engine, date(2026, 12, 1), at(DAILY_AS_OF))
    assert [d.unit for d in found] == ["HWY", "ROAD"]
    digest = road_daily(engine)
    golden("daily-2026-12-01-ROAD.zh.md", text(digest, "md"))
    golden("daily-2026-12-01-ROAD.zh.html", text(digest, "html"))
    golden("daily-2026-12-01-ROAD.en.md", text(digest, "md", "en"))
    assert digest.filename("html") == "daily-2026-12-01-ROAD.zh.html"


def test_weekly_summary_golden(engine: Engine) -> None:
    digest = digests.weekly(engine, week_of(date(2026, 11, 23)), at(WEEKLY_AS_OF))
    golden("weekly-2026-W48.zh.md", text(digest, "md"))
    golden("weekly-2026-W48.en.md", text(digest, "md", "en"))
    assert digest.filename("md") == "weekly-2026-W48.zh.md"


def test_monthly_bulletin_goldens(engine: Engine) -> None:
    digest = digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF))
    golden("monthly-2026-11.zh.md", text(digest, "md"))
    golden("monthly-2026-11.zh.html", text(digest, "html"))
    golden("monthly-2026-11.en.md", text(digest, "md", "en"))
    golden("monthly-2026-11.zh.xlsx.txt", dump_xlsx(digests.render_digest(digest, "xlsx")))
    assert digest.filename("xlsx", "en") == "monthly-2026-11.en.xlsx"


# ----------------------------------------------------------------------------- calendar
def test_no_daily_reminder_on_a_sunday_or_a_holiday(engine: Engine) -> None:
    assert digests.daily(engine, date(2026, 11, 29), at("2026-11-29T08:30")) == []
    assert digests.daily(engine, date(2026, 10, 1), at("2026-10-01T08:30")) == []  # 国庆节


def test_a_make_up_saturday_gets_its_daily_reminder(engine: Engine) -> None:
    saturday = date(2026, 2, 28)  # 春节调休上班
    assert saturday.weekday() == 5 and engine.calendar.is_working_day(saturday)
    found = digests.daily(engine, saturday, at("2026-02-28T08:30"))
    assert [d.unit for d in found] == ["HWY", "ROAD"]
    assert found[0].context["next_working_day"] == date(2026, 3, 2)
    assert "（2026年2月28日）" in found[0].title


def test_due_today_due_soon_and_overdue_split_at_the_right_instants(engine: Engine) -> None:
    """Friday 27 Nov: due soon runs to the end of Monday 30 Nov, over the weekend."""
    digest = next(
        d
        for d in digests.daily(engine, date(2026, 11, 27), at("2026-11-27T08:30"))
        if d.unit == "HWY"
    )
    context = digest.context
    assert context["next_working_day"] == date(2026, 11, 30)
    assert [(i.number, i.target) for i in context["overdue"]] == [
        ("20261120-0001", "close"),  # due Thu 26 Nov 17:30
        ("20261125-0001", "feedback"),
    ]
    assert context["overdue"][0].late == timedelta(hours=0)  # no business time since 17:30
    # the unit answers for feedback and closing only: the desk's limits are not listed
    assert {i.target for i in context["due_today"] + context["due_soon"]} <= {"feedback", "close"}


# ----------------------------------------------------------------------------- figures
def test_the_bulletins_trend_is_each_months_own_measures(engine: Engine) -> None:
    # The trend is read in one bucketed statement (trend_counts.trend): each month's figures must
    # be what that month's own measures say, as the five separate passes used to give.
    as_of = at(MONTHLY_AS_OF)
    for month in (11, 10, 9):
        period = month_of(date(2026, month, 1))
        trend = digests.monthly(engine, period, as_of).context["trend"]
        months = [p for p, _ in trend]
        assert len(trend) == TREND_MONTHS and months[-1] == period
        assert all(a.end == b.start for a, b in zip(months, months[1:], strict=False))
        with engine.db.read() as session:
            expected = [
                TrendPoint.of(group_counts.measures(session, p, as_of, None)[0]) for p in months
            ]
        assert [m for _, m in trend] == expected
        assert [m.volume for _, m in trend] == [e.volume for e in expected]


def test_a_month_after_an_empty_one_shows_a_dash_for_the_change(engine: Engine) -> None:
    september = digests.monthly(engine, month_of(date(2026, 9, 1)), at(MONTHLY_AS_OF))
    assert september.context["total"].previous_accepted == 0
    md = text(september, "md")
    assert "| 环比 | — | — | — |" in md
    assert "环比 —（上期无受理）（8月 0 件）" in md
    assert "环比 —" in text(september, "html")
    assert "change — (none in the previous period)" in text(september, "md", "en")
    empty = digests.monthly(engine, month_of(date(2026, 7, 1)), at(MONTHLY_AS_OF))
    for fmt in ("html", "md", "xlsx"):
        assert digests.render_digest(empty, fmt)
    assert "本月无受理诉求。" in text(empty, "md")
    assert "本月暂无可对照部级“988”目标的数据。" in text(empty, "md")


def test_units_rank_by_on_time_then_satisfaction_then_volume() -> None:
    def unit(key: str | None, close: tuple[int, int], revisit: tuple[int, int], n: int) -> Measures:
        counts = Counts(
            key,
            accepted=n,
            close_met=close[0],
            close_done=close[1],
            satisfied=revisit[0],
            revisited=revisit[1],
        )
        return Measures(key, counts)

    rows = [
        unit("NONE", (0, 0), (1, 1), 9),  # no on-time rate: after every rate
        unit("LOW", (1, 2), (1, 1), 5),
        unit("TIE1", (2, 2), (1, 2), 3),
        unit("TIE2", (4, 4), (2, 4), 3),  # equal to TIE1 on all three: same rank
        unit("MORE", (2, 2), (1, 2), 4),  # same rates as the ties, more volume
        unit("BEST", (1, 1), (1, 1), 1),
        unit(None, (0, 0), (0, 0), 2),  # not assigned: unranked, last
    ]
    ranked = digests.rank_units(rows)
    assert [(r.rank, r.measures.key) for r in ranked] == [
        (1, "BEST"),
        (2, "MORE"),
        (3, "TIE1"),
        (3, "TIE2"),
        (5, "LOW"),
        (6, "NONE"),
        (None, None),
    ]


def test_the_headline_checks_mark_the_988_targets(engine: Engine) -> None:
    digest = digests.monthly(engine, month_of(date(2026, 10, 1)), at(MONTHLY_AS_OF))
    status = {c.key: c.status for c in digest.context["checks"]}
    assert status["response_rate"] == "met"  # 4 of 4 assigned in time
    assert status["satisfaction_rate"] == "missed"  # 3 of 4
    assert status["on_time_rate"] is None  # no target
    assert "响应率、解决率达标，满意率未达标" in text(digest, "md")


# ----------------------------------------------------------------------------- privacy
def all_outputs(engine: Engine) -> list[tuple[str, str]]:
    found = [
        *digests.daily(engine, date(2026, 12, 1), at(DAILY_AS_OF)),
        digests.weekly(engine, week_of(date(2026, 11, 23)), at(WEEKLY_AS_OF)),
        digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF)),
    ]
    outputs: list[tuple[str, str]] = []
    for digest in found:
        for lang in ("zh", "en"):
            for fmt in ("html", "md"):
                outputs.append((digest.filename(fmt, lang), text(digest, fmt, lang)))
            data = digests.render_digest(digest, "xlsx", lang)
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                raw = "".join(archive.read(n).decode("utf-8") for n in archive.namelist())
            outputs.append((digest.filename("xlsx", lang), raw + dump_xlsx(data)))
            outputs.append((f"summary {digest.filename('md', lang)}", digest.summary(lang)))
    return outputs


def test_no_phone_number_is_shown_unmasked(engine: Engine) -> None:
    outputs = all_outputs(engine)
    assert len(outputs) == 4 * 2 * 4
    for name, content in outputs:
        assert not PHONE.search(content), f"{name}: {PHONE.search(content)}"
    monthly = dict(outputs)["monthly-2026-11.zh.md"]
    assert "138****5678" in monthly and "139****4321" in monthly


@contextmanager
def typed_by_users(tmp_path: Path, unit_name: str, respondent: str) -> Iterator[Engine]:
    """A database where a unit's name and a repeat respondent are the given text."""
    engine = Engine.open(f"sqlite:///{tmp_path / 'typed.db'}")
    try:
        book = Book(engine)
        book.unit("XSS", unit_name)
        for day in ("2026-11-02", "2026-11-03"):
            book.handled(
                f"{day}T09:00",
                "XSS",
                assign=f"{day}T09:30",
                sign=f"{day}T10:00",
                respondent=respondent,
                phone=A,
            )
        yield engine
    finally:
        engine.db.dispose()


def test_user_text_is_escaped_in_html_svg_and_markdown(tmp_path: Path) -> None:
    unit, respondent = "<script>alert(1)</script>运输科", "<img src=x onerror=alert(2)>公司"
    with typed_by_users(tmp_path, unit, respondent) as engine:
        monthly = digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF))
        weekly = digests.weekly(engine, week_of(date(2026, 11, 2)), at(MONTHLY_AS_OF))
        (daily,) = digests.daily(engine, date(2026, 12, 1), at(DAILY_AS_OF))
        for digest in (monthly, weekly, daily):
            for lang in ("zh", "en"):
                html = text(digest, "html", lang)
                assert "<script>" not in html and "<img" not in html
                assert "&lt;script&gt;alert(1)&lt;/script&gt;运输科" in html
                md = text(digest, "md", lang)
                assert "<script>" not in md and "<img" not in md
                assert "<script>" not in digest.summary(lang)
        svg = re.findall(r"<svg.*?</svg>", text(monthly, "html"), re.S)
        assert svg and all("&lt;script&gt;" in s for s in svg[:2])
        assert "&lt;img src=x onerror=alert(2)&gt;公司" in text(monthly, "html")


def test_text_that_looks_like_a_formula_stays_text_in_excel(tmp_path: Path) -> None:
    """A respondent typed as "=HYPERLINK(...)" (formula injection) is a text cell."""
    formula = '=HYPERLINK("http://e.example/x","点击查看")'
    with typed_by_users(tmp_path, "运输科", formula) as engine:
        monthly = digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF))
        workbook = load_workbook(io.BytesIO(digests.render_digest(monthly, "xlsx")))
        cells = [c for sheet in workbook for row in sheet.iter_rows() for c in row]
        found = [c for c in cells if c.value == formula]
        assert found and all(c.data_type == "s" for c in found)
        assert not [c for c in cells if c.data_type == "f"]


# ----------------------------------------------------------------------------- charts
def test_charts_are_svg_with_chinese_labels_as_text(engine: Engine) -> None:
    html = text(digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF)), "html")
    charts = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(charts) == 4  # on-time and volume by unit, the trend, the categories
    labels = [set(re.findall(r"<text[^>]*>([^<]*)</text>", chart)) for chart in charts]
    assert {
        "各单位按时办结率",
        "市道路运输管理处",
        "市交通运输综合行政执法支队",
        "50.0%",
    } <= labels[0]
    assert {"各单位受理量（件）", "5件", "（未分办）"} <= labels[1]
    assert {"6月", "11月", "受理量（件）", "按时办结率", "80.0%", "11"} <= labels[2]
    assert {"运费纠纷/拖欠运费", "3件（27.3%）"} <= labels[3]
    for chart in charts:
        assert "<path" not in chart and "<image" not in chart
        assert (
            'font-family=\'"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",'
            '"PingFang SC",sans-serif\'' in chart
        )
    assert "<svg" not in text(
        digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF)), "md"
    )
    assert "@media print" in html


# ----------------------------------------------------------------------------- Excel
def test_the_excel_export_has_one_formatted_sheet_per_table(engine: Engine) -> None:
    digest = digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF))
    data = digests.render_digest(digest, "xlsx")
    assert data == digests.render_digest(digest, "xlsx")  # deterministic, byte for byte
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == [
        "总体指标",
        "单位指标",
        "首办负责",
        "超期清单",
        "趋势",
        "分类统计",
        "重复诉求人",
        "被反映对象",
    ]
    assert book.properties.created == datetime(2026, 12, 1, 1, 0)  # as_of, in UTC
    assert book.properties.title == "2026年11月货车司机诉求办理情况通报"
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1])
        assert all(sheet.column_dimensions[c.column_letter].width >= 8 for c in sheet[1])
    units = book["单位指标"]
    assert units["E2"].value == 1 and units["E2"].number_format == "0.0%"  # on-time rate
    english = load_workbook(io.BytesIO(digests.render_digest(digest, "xlsx", "en")))
    assert english.sheetnames[:3] == ["Overview", "Units", "First handlers"]


def test_the_daily_reminder_exports_three_sheets(engine: Engine) -> None:
    book = load_workbook(io.BytesIO(digests.render_digest(road_daily(engine), "xlsx")))
    assert book.sheetnames == ["今日到期", "即将到期", "超期清单"]
    assert book["超期清单"]["G2"].value == 42  # working hours late


# ----------------------------------------------------------------------------- summary
def test_the_summary_is_short_markdown(engine: Engine) -> None:
    monthly = digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF))
    assert monthly.summary() == (
        "**2026年11月货车司机诉求办理情况通报**\n\n"
        "受理 11 件（环比 +175.0%），响应率 81.8%，按时办结率 80.0%，解决率 75.0%，满意率 "
        "75.0%；当前超期 6 项。\n\n排名第一：市交通运输综合行政执法支队。\n"
    )
    assert road_daily(engine).summary("en") == (
        "**Daily reminder for 市道路运输管理处, 2026-12-01**\n\n"
        "Due today: 1; due soon: 1; overdue: 1.\n"
    )


# ----------------------------------------------------------------------------- command line
def test_periods_are_parsed_or_refused_in_one_line() -> None:
    assert report_cli.parse_week("2026-W48") == week_of(date(2026, 11, 23))
    assert report_cli.parse_week("2026-11-26") == week_of(date(2026, 11, 23))
    assert report_cli.parse_month("2026-11") == month_of(date(2026, 11, 1))
    assert report_cli.parse_day("2026-02-28") == date(2026, 2, 28)
    for parse, bad, message in [
        (report_cli.parse_day, "2026-02-30", "give a day such as 2026-11-23"),
        (report_cli.parse_day, "yesterday", "give a day such as 2026-11-23"),
        (report_cli.parse_week, "2025-W53", "2025 has no ISO week 53"),
        (report_cli.parse_week, "W48", "give an ISO week such as 2026-W48"),
        (report_cli.parse_month, "2026-13", "give a month such as 2026-11"),
        (report_cli.parse_month, "2026-11-01", "give a month such as 2026-11"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            parse(bad)


def test_the_report_commands_write_their_files(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", engine.db.url)
    monkeypatch.delenv("GRIEVANCE_LANGUAGE", raising=False)
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(report_cli.report, list(args), catch_exceptions=True)

    done = run("daily", "--period", "2026-12-01", "--now", DAILY_AS_OF, "--out", str(tmp_path))
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "daily-2026-12-01-HWY.zh.html",
        "daily-2026-12-01-ROAD.zh.html",
    ]
    assert (tmp_path / "daily-2026-12-01-ROAD.zh.html").read_text(encoding="utf-8") == text(
        road_daily(engine), "html"
    )
    assert f"wrote {tmp_path / 'daily-2026-12-01-ROAD.zh.html'}" in done.output

    sunday = run("daily", "--period", "2026-11-29", "--out", str(tmp_path / "none"))
    assert sunday.exit_code == 0
    assert "no daily reminder for 2026-11-29: not a working day" in sunday.output

    out = tmp_path / "bulletin.xlsx"
    # no --period: the last complete month as of --now
    done = run("monthly", "--format", "xlsx", "--now", MONTHLY_AS_OF, "--out", str(out))
    assert done.exit_code == 0, done.output
    monthly = digests.monthly(engine, month_of(date(2026, 11, 1)), at(MONTHLY_AS_OF))
    assert out.read_bytes() == digests.render_digest(monthly, "xlsx")

    folder = tmp_path / "weekly"
    folder.mkdir()
    args = ["--period", "2026-W48", "--format", "md", "--lang", "en", "--now", WEEKLY_AS_OF]
    done = run("weekly", *args, "--out", str(folder))
    assert done.exit_code == 0, done.output
    assert (folder / "weekly-2026-W48.en.md").read_text(encoding="utf-8") == (
        GOLDEN / "weekly-2026-W48.en.md"
    ).read_text(encoding="utf-8")

    bad = run("monthly", "--period", "2026-13", "--out", str(tmp_path / "x.html"))
    assert isinstance(bad.exception, InvalidInput)
    assert str(bad.exception) == "--period '2026-13': give a month such as 2026-11"
