"""Builds the Word templates of the documents (docxtpl Jinja tags inside .docx files).

Regenerate them after changing this script (they are committed, binary):

    .venv/bin/python -m templates.documents.make_docx

writes `review.{zh,en}.docx` and `no_fault.{zh,en}.docx` beside this file. `stable_zip`
rewrites a .docx with fixed entry times (1980-01-01) in a fixed order, so the templates and
every document rendered from them are byte-for-byte reproducible.
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import docx
from docx.document import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

HERE = Path(__file__).parent
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED = datetime(2026, 1, 1, tzinfo=UTC)  # the core properties' dates: never "now"
BODY_FONT, HEADING_FONT, LATIN_FONT = "仿宋", "黑体", "Times New Roman"


def stable_zip(data: bytes) -> bytes:
    """The same .docx with fixed entry times and a fixed entry order ([Content_Types].xml
    first, then by name): its bytes depend on its content only."""
    source = zipfile.ZipFile(io.BytesIO(data))
    names = sorted(source.namelist(), key=lambda n: (n != "[Content_Types].xml", n))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(name))
    return out.getvalue()


# ----------------------------------------------------------------------------- building blocks
def _fonts(element: object, east_asia: str) -> None:
    """Set the Latin and the East Asian font of a style's or a run's properties."""
    rpr = element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), LATIN_FONT)
    fonts.set(qn("w:eastAsia"), east_asia)


def _new(title: str) -> Document:
    doc = docx.Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(25), Mm(25)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(12)
    _fonts(normal.element, BODY_FONT)
    props = doc.core_properties
    props.title = title
    props.author = "grievance engine"
    props.last_modified_by = "grievance engine"
    props.comments = ""
    props.created = props.modified = FIXED
    props.last_printed = FIXED
    props.revision = 1
    return doc


def _run_text(paragraph: Paragraph, text: str, *, bold: bool = False, size: float = 0) -> None:
    run = paragraph.add_run(text)
    run.bold = bold or None
    if size:
        run.font.size = Pt(size)
    if bold:
        _fonts(run._element, HEADING_FONT)


def title(doc: Document, text: str, subtitle: str) -> None:
    head = doc.add_paragraph()
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run_text(head, text, bold=True, size=18)
    sub = doc.add_paragraph()
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run_text(sub, subtitle)


def heading(doc: Document, text: str) -> None:
    paragraph = doc.add_paragraph()
    paragraph.paragraph_format.space_before = Pt(10)
    paragraph.paragraph_format.keep_with_next = True
    _run_text(paragraph, text, bold=True, size=14)


def para(doc: Document, text: str, *, indent: bool = False, right: bool = False) -> None:
    paragraph = doc.add_paragraph()
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(24)
    if right:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _run_text(paragraph, text)


def _cell(table: Table, row: int, column: int, text: str, *, header: bool = False) -> None:
    cell = table.cell(row, column)
    paragraph = cell.paragraphs[0]
    run = paragraph.add_run(text)
    run.font.size = Pt(10)
    if header:
        run.bold = True
        shading = OxmlElement("w:shd")
        shading.set(qn("w:val"), "clear")
        shading.set(qn("w:color"), "auto")
        shading.set(qn("w:fill"), "F2F2F2")
        cell._tc.get_or_add_tcPr().append(shading)


def _table(doc: Document, rows: int, columns: int) -> Table:
    table: Table = doc.add_table(rows=rows, cols=columns)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    return table


def facts_table(doc: Document, rows: Sequence[Sequence[str]]) -> None:
    """Label/value pairs: [label, value] spans the row, [label, value, label, value] doesn't."""
    table = _table(doc, len(rows), 4)
    for r, row in enumerate(rows):
        if len(row) == 2:
            table.cell(r, 1).merge(table.cell(r, 3))
        for c, text in enumerate(row):
            _cell(table, r, c, text, header=c % 2 == 0)


def loop_table(doc: Document, header: Sequence[str], loop: str, cells: Sequence[str]) -> None:
    """A header row, then one row per item of `loop` (docxtpl `{%tr %}` rows)."""
    table = _table(doc, 4, len(header))
    for c, text in enumerate(header):
        _cell(table, 0, c, text, header=True)
    _cell(table, 1, 0, "{%tr " + loop + " %}")
    for c, text in enumerate(cells):
        _cell(table, 2, c, text)
    _cell(table, 3, 0, "{%tr endfor %}")


def tag(doc: Document, text: str) -> None:
    """A paragraph holding a docxtpl `{%p %}` tag (removed when rendered)."""
    doc.add_paragraph(text)


# ----------------------------------------------------------------------------- the documents
def _t(lang: str, zh: str, en: str) -> str:
    """The text of `lang`, with `.@` (a bilingual fact's language) resolved."""
    return (zh if lang == "zh" else en).replace(".@", f".{lang}")


def _grievance_rows(lang: str) -> list[list[str]]:
    """The facts both documents open with: number, channel, type, complainant, plate."""

    def t(zh: str, en: str) -> str:
        return _t(lang, zh, en)

    def j(both: str) -> str:
        return _t(lang, both, both)

    return [
        [t("工单编号", "Number"), "{{ number }}"]
        + [t("受理时间", "Accepted"), "{{ accepted_at | local_time }}"],
        [
            t("来源渠道", "Channel"),
            j("{{ channel.@ }}"),
            t("渠道编号", "Reference"),
            "{{ ref }}",
        ],
        [
            t("诉求类型", "Type"),
            j("{{ type.@ }}"),
            t("诉求分类", "Category"),
            j("{{ category.@ }}"),
        ],
        [t("诉求人", "Complainant"), "{{ complainant.name }}"]
        + [t("联系电话", "Phone"), "{{ complainant.phone }}"],
        [
            t("车牌号码", "Plate"),
            t('{{ complainant.plate or "未登记" }}', '{{ complainant.plate or "not given" }}'),
        ]
        + [t("涉及金额", "Amount in dispute"), "{{ amount_fen | yuan }}"],
    ]


def _respondent(lang: str) -> list[str]:
    """The respondent's cell pair (未登记 when none was given)."""
    return [
        _t(lang, "被反映对象", "Respondent"),
        _t(lang, '{{ respondent or "未登记" }}', '{{ respondent or "not given" }}'),
    ]


def review(lang: str) -> Document:
    def t(zh: str, en: str) -> str:
        return _t(lang, zh, en)

    def j(both: str) -> str:
        return _t(lang, both, both)

    doc = _new(t("复盘报告 {{ number }}", "Review report {{ number }}"))
    title(
        doc,
        t("货车司机诉求办理复盘报告", "Review report of a truck driver's grievance"),
        t("工单编号：{{ number }}", "Grievance number: {{ number }}"),
    )
    heading(doc, t("一、基本情况", "1. Basic facts"))
    facts_table(
        doc,
        [
            *_grievance_rows(lang),
            _respondent(lang)
            + [
                t("紧急程度", "Urgency"),
                t(
                    '{{ "紧急（即接即转即办）" if urgent else "一般" }}',
                    '{{ "urgent" if urgent else "normal" }}',
                ),
            ],
            [t("诉求内容", "Description"), "{{ description }}"],
            [
                t("时限标准", "Time limits"),
                t("{{ policy.title }}", "{{ policy.title }} ({{ policy.key }})"),
            ],
        ],
    )
    heading(doc, t("二、办理时限执行情况", "2. Time limits"))
    loop_table(
        doc,
        [
            t("环节", "Stage"),
            t("办理时限", "Limit"),
            t("起算时间", "Started"),
            t("截止时间", "Deadline"),
            t("完成时间", "Done"),
            t("执行情况", "Outcome"),
            t("实际用时", "Time used"),
            t("挂起、延期", "Pauses, extensions"),
        ],
        "for t in timeline",
        [
            t(
                "{{ t.title.zh }}{% if t.several_cycles %}（第{{ t.cycle }}轮）{% endif %}",
                "{{ t.title.en }}{% if t.several_cycles %} (round {{ t.cycle }}){% endif %}",
            ),
            j('{{ t.limit.@ if t.limit else "—" }}'),
            "{{ t.started_at | local_time }}",
            t(
                "{{ t.due_at | local_time }}{% if t.provisional %}（暂定）{% endif %}",
                "{{ t.due_at | local_time }}{% if t.provisional %} (provisional){% endif %}",
            ),
            t(
                '{{ t.stopped_at | local_time if t.stopped_at else "尚未完成" }}',
                '{{ t.stopped_at | local_time if t.stopped_at else "not yet" }}',
            ),
            t(
                "{{ t.status.zh }}{% if t.breached and t.late %}（超时{{ t.late | work_time }}）{% endif %}",
                "{{ t.status.en }}{% if t.breached and t.late %} ({{ t.late | work_time }} late){% endif %}",
            ),
            t(
                '{{ t.used | work_time if t.used is not none else "—" }}{% if t.natural %}（自然时间）{% endif %}',
                '{{ t.used | work_time if t.used is not none else "—" }}{% if t.natural %} (clock time){% endif %}',
            ),
            t(
                "{% if t.paused %}挂起{{ t.paused | work_time }}{% endif %}"
                "{% if t.paused and t.extended_days %}；{% endif %}"
                "{% if t.extended_days %}延期{{ t.extended_days }}个工作日{% endif %}"
                "{% if not t.paused and not t.extended_days %}无{% endif %}",
                "{% if t.paused %}paused {{ t.paused | work_time }}{% endif %}"
                "{% if t.paused and t.extended_days %}; {% endif %}"
                "{% if t.extended_days %}extended {{ t.extended_days }} working day(s){% endif %}"
                "{% if not t.paused and not t.extended_days %}none{% endif %}",
            ),
        ],
    )
    para(
        doc,
        t(
            "本件共涉及办理时限{{ timeline_summary.total }}项，其中按时完成"
            "{{ timeline_summary.met }}项，超时{{ timeline_summary.breached }}项。"
            "实际用时、超时时长均按工作时间计算（自然时间另行注明），不含挂起期间。",
            "{{ timeline_summary.total }} time limit(s): {{ timeline_summary.met }} met on time, "
            "{{ timeline_summary.breached }} breached. Time used and lateness are counted in "
            "business hours (clock time where noted), suspensions excluded.",
        ),
    )
    heading(doc, t("三、办理过程", "3. Handling process"))
    loop_table(
        doc,
        [
            t("序号", "No."),
            t("时间", "Time"),
            t("环节", "Step"),
            t("办理人", "By"),
            t("办理情况", "What happened"),
        ],
        "for s in process",
        [
            "{{ s.seq }}",
            "{{ s.at | local_time }}",
            j("{{ s.event.@ }}"),
            j("{{ s.who.text.@ }}"),
            t(
                "{{ s.detail.zh }}{% if s.note %}\n{{ s.note_label.zh }}：{{ s.note }}{% endif %}",
                "{{ s.detail.en }}{% if s.note %}\n{{ s.note_label.en }}: {{ s.note }}{% endif %}",
            ),
        ],
    )
    heading(doc, t("四、承办单位情况", "4. Handling units"))
    facts_table(
        doc,
        [
            [t("主办单位", "Lead unit"), "{{ lead_unit.name }}"],
            [
                t("协办单位", "Co-handling units"),
                t(
                    "{% for u in co_units %}{{ u.name }}{% if not loop.last %}、{% endif %}{% else %}无{% endfor %}",
                    "{% for u in co_units %}{{ u.name }}{% if not loop.last %}, {% endif %}{% else %}none{% endfor %}",
                ),
            ],
            [
                t("首办单位", "First handler"),
                t(
                    '{{ first_handler_unit.name if first_handler_unit else "无（未签收）" }}',
                    '{{ first_handler_unit.name if first_handler_unit else "none (never signed for)" }}',
                ),
            ],
            [
                t("退单情况", "Returns"),
                t(
                    "{% if returns %}退单{{ returns | length }}次：{% for r in returns %}\n"
                    "{{ r.at | local_time }}，{{ r.unit.name if r.unit else r.who.name.zh }}退单，"
                    "理由：{{ r.reason }}{% if not loop.last %}；{% else %}。{% endif %}"
                    "{% endfor %}{% else %}无{% endif %}",
                    "{% if returns %}{{ returns | length }} return(s):{% for r in returns %}\n"
                    "{{ r.at | local_time }}, returned by "
                    "{{ r.unit.name if r.unit else r.who.name.en }}; reason: {{ r.reason }}"
                    "{% endfor %}{% else %}none{% endif %}",
                ),
            ],
            [
                t("改派情况", "Reassignments"),
                t(
                    "{% if reassigns %}改派{{ reassigns | length }}次：{% for r in reassigns %}\n"
                    "{{ r.at | local_time }}改派至{{ r.unit.name }}，理由：{{ r.reason }}"
                    "{% if not loop.last %}；{% else %}。{% endif %}{% endfor %}{% else %}无{% endif %}",
                    "{% if reassigns %}{{ reassigns | length }} reassignment(s):"
                    "{% for r in reassigns %}\n{{ r.at | local_time }}, to {{ r.unit.name }}; "
                    "reason: {{ r.reason }}{% endfor %}{% else %}none{% endif %}",
                ),
            ],
        ],
    )
    heading(doc, t("五、办理结果及回访情况", "5. Result and revisit"))
    facts_table(
        doc,
        [
            [t("办理结果", "Result"), j("{{ result.value.@ }}")]
            + [t("办结时间", "Closed"), "{{ result.closed_at | local_time }}"],
            [
                t("办结说明", "Closing note"),
                t('{{ result.note or "无" }}', '{{ result.note or "none" }}'),
            ],
            [t("挽回金额", "Recovered"), "{{ result.recovered_fen | yuan }}"]
            + [
                t("重办次数", "Redone"),
                t(
                    '{{ "%d次" % redo_count if redo_count else "无" }}',
                    '{{ "%d time(s)" % redo_count if redo_count else "never" }}',
                ),
            ],
            [t("回访时间", "Revisited"), "{{ revisit.at | local_time }}"]
            + [t("回访结果", "Revisit answer"), j("{{ revisit.satisfaction.@ }}")],
            [
                t("回访记录", "Revisit note"),
                t('{{ revisit.note or "无" }}', '{{ revisit.note or "none" }}'),
            ],
        ],
    )
    for number_zh, number_en, text in (
        ("六、问题根源", "6. Root cause", "{{ review.root_cause }}"),
        (
            "七、责任认定",
            "7. Responsibility",
            t(
                '{{ review.responsibility or "未作责任认定。" }}',
                '{{ review.responsibility or "No responsibility finding." }}',
            ),
        ),
        ("八、整改措施", "8. Corrective actions", "{{ review.actions }}"),
        (
            "九、举一反三",
            "9. Lessons",
            t('{{ review.lessons or "无。" }}', '{{ review.lessons or "None." }}'),
        ),
    ):
        heading(doc, t(number_zh, number_en))
        para(doc, text, indent=lang == "zh")
    doc.add_paragraph()
    para(
        doc,
        t(
            "复盘人：{{ review.reviewer.name.zh }}　　日期：{{ review.date.zh }}",
            "Reviewer: {{ review.reviewer.name.en }}    Date: {{ review.date.en }}",
        ),
        right=True,
    )
    para(
        doc,
        t(
            "本报告根据工单办理记录生成；诉求人姓名、联系电话、车牌号码等个人信息已作脱敏处理。",
            "Generated from the grievance's records; the complainant's name, phone and plate "
            "numbers are masked.",
        ),
    )
    return doc


def no_fault(lang: str) -> Document:
    def t(zh: str, en: str) -> str:
        return _t(lang, zh, en)

    def j(both: str) -> str:
        return _t(lang, both, both)

    doc = _new(t("无责说明 {{ number }}", "No-fault statement {{ number }}"))
    title(
        doc,
        t("货车司机诉求无责说明", "No-fault statement on a truck driver's grievance"),
        t("工单编号：{{ number }}", "Grievance number: {{ number }}"),
    )
    heading(doc, t("一、诉求概况", "1. The grievance"))
    facts_table(
        doc,
        [
            *_grievance_rows(lang),
            _respondent(lang),
            [
                t("承办单位", "Handling unit"),
                t(
                    '{{ lead_unit.name if lead_unit else "未分办" }}',
                    '{{ lead_unit.name if lead_unit else "not assigned" }}',
                ),
            ],
            [t("诉求内容", "Summary"), "{{ description }}"],
        ],
    )
    for zh, en, text in (
        ("二、核实经过", "2. How it was verified", "{{ verification }}"),
        ("三、查明事实", "3. Facts found", "{{ facts }}"),
        ("四、法律政策依据", "4. Legal or policy basis", "{{ basis }}"),
    ):
        heading(doc, t(zh, en))
        para(doc, text, indent=lang == "zh")
    heading(doc, t("五、向诉求人说明情况", "5. What the driver was told"))
    para(doc, "{{ explanation }}", indent=lang == "zh")
    para(
        doc,
        t(
            "说明时间：{{ explained_at | local_time }}",
            "Explained: {{ explained_at | local_time }}",
        ),
        indent=lang == "zh",
    )
    heading(doc, t("六、证据清单", "6. Evidence"))
    tag(doc, "{%p for e in evidence %}")
    para(doc, "{{ loop.index }}. {{ e }}", indent=lang == "zh")
    tag(doc, "{%p endfor %}")
    heading(doc, t("七、结论", "7. Conclusion"))
    para(doc, j("{{ conclusion.@ }}"), indent=lang == "zh")
    para(
        doc,
        t(
            "办理结果：{{ result.zh }}；办结时间：{{ closed_at | local_time }}。",
            "Result: {{ result.en }}; closed {{ closed_at | local_time }}.",
        ),
        indent=lang == "zh",
    )
    tag(doc, "{%p if note %}")
    para(doc, t("办结说明：{{ note }}", "Closing note: {{ note }}"), indent=lang == "zh")
    tag(doc, "{%p endif %}")
    heading(doc, t("八、审核意见", "8. Approval"))
    para(
        doc,
        t(
            "经审核，同意本说明，按“{{ result.zh }}”办结。",
            "Approved: the grievance is closed as “{{ result.en }}”.",
        ),
        indent=lang == "zh",
    )
    doc.add_paragraph()
    para(
        doc,
        t(
            "审核人：{{ approval.who.text.zh }}　　日期：{{ approval.date.zh }}",
            "Approved by: {{ approval.who.text.en }}    Date: {{ approval.date.en }}",
        ),
        right=True,
    )
    para(
        doc,
        t(
            "本说明根据工单办理记录生成；诉求人姓名、联系电话、车牌号码等个人信息已作脱敏处理。",
            "Generated from the grievance's records; the complainant's name, phone and plate "
            "numbers are masked.",
        ),
    )
    return doc


BUILDERS: dict[str, Callable[[str], Document]] = {"review": review, "no_fault": no_fault}


def build(kind: str, lang: str) -> bytes:
    """The template's bytes (reproducible)."""
    out = io.BytesIO()
    BUILDERS[kind](lang).save(out)
    return stable_zip(out.getvalue())


def main(argv: Sequence[str] = ()) -> None:
    folder = Path(argv[0]) if argv else HERE
    for kind in BUILDERS:
        for lang in ("zh", "en"):
            path = folder / f"{kind}.{lang}.docx"
            path.write_bytes(build(kind, lang))
            sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
