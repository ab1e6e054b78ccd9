"""The digests' tables (overdue list, units, categories, trend...) and their Excel workbook: one
sheet per table, reproducible bytes.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.writer.excel import ExcelWriter  # type: ignore[import-untyped]

from service.digest_data import Digest, Item, Labels, Share, status_label
from templates import bureau_name
from workflow.measures import FirstHandler, Measures, Repeat
from workflow.timeutil import local


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


def workbook_bytes(digest: Digest, labels: Labels) -> bytes:
    """The digest's tables as a workbook, byte for byte the same for the same data."""
    tz: ZoneInfo = digest.context["tz"]
    book = Workbook()
    book.remove(book.active)
    bureau = bureau_name()
    for table in tables(digest, labels):
        _sheet(book, table, tz)
        if bureau is not None:  # printed on every page of the sheet
            book[table.sheet].oddHeader.center.text = bureau
    fixed = digest.as_of.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    book.properties.created = fixed
    book.properties.modified = fixed
    book.properties.title = digest.title_in(labels.lang)
    book.properties.creator = bureau or "grievance-engine"
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
        first = _first_handler_table(c["first_handlers"], labels)
        return [overview, units, first, _category_table(c["categories"], labels)]

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
                [labels.measure(k.key), Cell(k.value, "pct"), k.target, status_label(k.status, zh)]
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
    first = _first_handler_table(c["first_handlers"], labels)
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

    typical = Table(
        t("典型案例", "Typical cases"),
        [
            Column(t("序号", "No."), "int"),
            Column(t("工单编号", "Grievance")),
            Column(t("诉求分类", "Category")),
            Column(t("承办单位", "Unit")),
            Column(t("办理结果", "Result")),
            Column(t("案情与启示", "The case and the lesson"), width=60),
            Column(t("举一反三", "Lessons"), width=40),
        ],
        [
            [
                i,
                x.number,
                labels.category(x.category),
                labels.unit(x.unit),
                labels.result(x.result),
                x.summary,
                x.lessons or "—",
            ]
            for i, x in enumerate(c["typical_cases"], start=1)
        ],
    )
    return [
        overview,
        units,
        first,
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
        *([typical] if typical.rows else []),  # 典型案例: in a month that has some
    ]


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


def _first_handler_table(rows: Sequence[FirstHandler], labels: Labels) -> Table:
    """首办负责: per unit that signed first, what stayed with it, its returns and
    reassignments away, its first-contact resolution rate."""
    zh = labels.lang == "zh"

    def t(chinese: str, english: str) -> str:
        return chinese if zh else english

    return Table(
        t("首办负责", "First handlers"),
        [
            Column(t("首办单位", "First handler")),
            Column(t("首办件数", "Signed first"), "int"),
            Column(t("仍由首办单位办理", "Still with it"), "int"),
            Column(t("首办留存率", "Stayed"), "pct"),
            Column(t("退单（次）", "Returns"), "int"),
            Column(t("改派转出（次）", "Reassigned away"), "int"),
            Column(t("首办解决率", "First-contact resolution"), "pct"),
        ],
        [
            [
                labels.unit(r.unit),
                r.first_handled,
                r.stayed,
                r.stayed_rate,
                r.returns,
                r.reassigned_away,
                r.first_contact_rate,
            ]
            for r in rows
        ],
    )
