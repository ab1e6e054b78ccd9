"""The Word template of the 复盘报告 review report: basic facts, time limits, the handling
process, the units, result and revisit, and the review's findings (docxtpl tags)."""

from __future__ import annotations

from docx.document import Document

from templates.documents.docx_blocks import facts_table, heading, loop_table, para
from templates.documents.docx_parts import (
    attachments,
    closing,
    opening,
    respondent,
    sections,
    texts,
)


def review(lang: str) -> Document:
    """The 复盘报告 review report's template in `lang` (zh or en)."""
    t, j = texts(lang)
    doc = opening(
        lang,
        ("复盘报告 {{ number }}", "Review report {{ number }}"),
        ("货车司机诉求办理复盘报告", "Review report of a truck driver's grievance"),
        ("一、基本情况", "1. Basic facts"),
        [
            respondent(lang)
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
    attachments(doc, lang)
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
            [
                t("并单情况", "Duplicates merged in"),
                t(
                    "{% if merged_in %}并入重复诉求{{ merged_in | length }}件："
                    "{% for m in merged_in %}\n{{ m.at | local_time }}，工单{{ m.number }}并入本件，"
                    '并单理由：{{ m.reason or "未记录" }}'
                    "{% if not loop.last %}；{% else %}。{% endif %}{% endfor %}{% else %}无{% endif %}",
                    "{% if merged_in %}{{ merged_in | length }} duplicate(s):"
                    "{% for m in merged_in %}\n{{ m.at | local_time }}, grievance {{ m.number }}; "
                    'reason: {{ m.reason or "not recorded" }}{% endfor %}{% else %}none{% endif %}',
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
    sections(
        doc,
        lang,
        [
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
        ],
    )
    closing(
        doc,
        lang,
        (
            "复盘人：{{ review.reviewer.name.zh }}　　日期：{{ review.date.zh }}",
            "Reviewer: {{ review.reviewer.name.en }}    Date: {{ review.date.en }}",
        ),
        "本报告",
    )
    return doc
