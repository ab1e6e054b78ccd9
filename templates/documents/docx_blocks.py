"""The Word building blocks the document templates are made of (python-docx): an A4 document
with fixed core properties, title, heading, paragraph, tables (label/value pairs, docxtpl
`{%tr %}` loops) and `{%p %}` tags; `stable_zip`, which rewrites a .docx with fixed entry times
in a fixed order, so the templates and every document rendered from them are byte-for-byte
reproducible."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime

import docx
from docx.document import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph

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


def new_document(title: str) -> Document:
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


def logo(doc: Document) -> None:
    """The bureau's seal or logo, centred above the title; docxtpl's paragraph tags drop all
    three paragraphs when none is configured (`logo` is then None)."""
    for text in ("{%p if logo %}", "{{ logo }}", "{%p endif %}"):
        paragraph = doc.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run(text)


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
