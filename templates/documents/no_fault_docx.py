"""The Word template of the 无责说明 no-fault statement: the grievance, how it was verified,
the facts and their basis, what the driver was told, the evidence, the conclusion and its
approval (docxtpl tags)."""

from __future__ import annotations

from docx.document import Document

from templates.documents.docx_blocks import heading, para, tag
from templates.documents.docx_parts import (
    attachments,
    closing,
    opening,
    respondent,
    sections,
    texts,
)


def no_fault(lang: str) -> Document:
    """The 无责说明 no-fault statement's template in `lang` (zh or en)."""
    t, j = texts(lang)
    doc = opening(
        lang,
        ("无责说明 {{ number }}", "No-fault statement {{ number }}"),
        ("货车司机诉求无责说明", "No-fault statement on a truck driver's grievance"),
        ("一、诉求概况", "1. The grievance"),
        [
            respondent(lang),
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
    sections(
        doc,
        lang,
        [
            ("二、核实经过", "2. How it was verified", "{{ verification }}"),
            ("三、查明事实", "3. Facts found", "{{ facts }}"),
            ("四、法律政策依据", "4. Legal or policy basis", "{{ basis }}"),
        ],
    )
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
    attachments(doc, lang)
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
    closing(
        doc,
        lang,
        (
            "审核人：{{ approval.who.text.zh }}　　日期：{{ approval.date.zh }}",
            "Approved by: {{ approval.who.text.en }}    Date: {{ approval.date.en }}",
        ),
        "本说明",
    )
    return doc
