"""What both Word templates (复盘报告 review report, 无责说明 no-fault statement) share: the texts
of one language (`texts`), the opening (title, grievance number, the grievance's facts), the
respondent, the numbered text sections, and the closing (signature, masking note)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from docx.document import Document

from templates.documents.docx_blocks import (
    facts_table,
    heading,
    logo,
    loop_table,
    new_document,
    para,
    tag,
    title,
)

Texts = tuple[Callable[[str, str], str], Callable[[str], str]]


def texts(lang: str) -> Texts:
    """`t(zh, en)`, the text of `lang`, and `j(both)`, one text for both; `.@` (a bilingual
    fact's language) is resolved in either."""

    def t(zh: str, en: str) -> str:
        return (zh if lang == "zh" else en).replace(".@", f".{lang}")

    def j(both: str) -> str:
        return t(both, both)

    return t, j


def _grievance_rows(lang: str) -> list[list[str]]:
    """The facts both documents open with: number, channel, type, complainant, plate."""
    t, j = texts(lang)
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


def respondent(lang: str) -> list[str]:
    """The respondent's cell pair (未登记 when none was given)."""
    t, _ = texts(lang)
    return [
        t("被反映对象", "Respondent"),
        t('{{ respondent or "未登记" }}', '{{ respondent or "not given" }}'),
    ]


def opening(
    lang: str,
    name: tuple[str, str],
    heading_text: tuple[str, str],
    section: tuple[str, str],
    rows: Sequence[Sequence[str]],
) -> Document:
    """A new document called `name`: its title with the grievance number, then its first
    section, the grievance's facts followed by `rows` (each as `t(zh, en)` of `lang`)."""
    t, _ = texts(lang)
    doc = new_document(t(*name))
    logo(doc)
    title(
        doc,
        t(*heading_text),
        t(
            "工单编号：{{ number }}{% if bureau %}　出具单位：{{ bureau }}{% endif %}",
            "Grievance number: {{ number }}{% if bureau %}; issued by {{ bureau }}{% endif %}",
        ),
    )
    heading(doc, t(*section))
    facts_table(doc, [*_grievance_rows(lang), *rows])
    return doc


def sections(doc: Document, lang: str, items: Sequence[tuple[str, str, str]]) -> None:
    """Numbered sections of one paragraph each: (heading in Chinese, in English, the text)."""
    t, _ = texts(lang)
    for zh, en, text in items:
        heading(doc, t(zh, en))
        para(doc, text, indent=lang == "zh")


def closing(doc: Document, lang: str, signature: tuple[str, str], this_zh: str) -> None:
    """What both documents end with: a blank line, the signature (right-aligned), the note
    that personal data is masked (`this_zh`: 本报告, 本说明)."""
    t, _ = texts(lang)
    doc.add_paragraph()
    para(doc, t(*signature), right=True)
    para(
        doc,
        t(
            f"{this_zh}根据工单办理记录生成；诉求人姓名、联系电话、车牌号码等个人信息已作脱敏处理。",
            "Generated from the grievance's records; the complainant's name, phone and plate "
            "numbers are masked.",
        ),
    )


def attachments(doc: Document, lang: str) -> None:
    """The evidence files attached (上传证据), as a table, only when there are some: name,
    type, size, short hash, when and who."""
    t, j = texts(lang)
    tag(doc, "{%p if attachments %}")
    para(
        doc,
        t(
            "电子证据附件（按内容摘要存档，共{{ attachments | length }}件）：",
            "Evidence files attached (stored by content hash; {{ attachments | length }}):",
        ),
        indent=lang == "zh",
    )
    loop_table(
        doc,
        [
            t("序号", "No."),
            t("文件名", "File"),
            t("类型", "Type"),
            t("大小", "Size"),
            t("SHA-256（前12位）", "SHA-256 (first 12)"),
            t("上传时间", "Attached"),
            t("上传人", "By"),
        ],
        "for a in attachments",
        [
            "{{ a.seq }}",
            t(
                "{{ a.name }}{% if a.note %}（{{ a.note }}）{% endif %}",
                "{{ a.name }}{% if a.note %} ({{ a.note }}){% endif %}",
            ),
            "{{ a.kind }}",
            "{{ a.size }}",
            "{{ a.short }}",
            "{{ a.at | local_time }}",
            j("{{ a.who.text.@ }}"),
        ],
    )
    tag(doc, "{%p endif %}")
