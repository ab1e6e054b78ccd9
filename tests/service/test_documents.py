"""Documents: the 复盘报告 (review report) and 无责说明 (no-fault statement) in HTML, Markdown and
Word, compared with reviewed golden files under tests/golden/documents/.

The cases are built through the use cases at fixed instants, so the documents are stable.
After a deliberate change, regenerate the golden files and read the diff before committing:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/service/test_documents.py

A Word document is compared by its text (paragraphs and table rows in document order), since
its XML is verbose; its bytes are checked for determinism separately.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import jinja2
import pytest
from click.testing import CliRunner
from docx.text.paragraph import Paragraph
from freezegun import freeze_time
from sqlmodel import select

from cli.documents import document
from models import audit_log
from models.tables import DocumentJob
from service import cases as uc
from service import document_jobs, documents, watchdog
from service.acting import Stamp
from service.engine import Engine
from service.reading import show
from service.units import add_unit, list_units
from tests import conftest as base
from tests.conftest import Driver, accept_command, database_url_for
from workflow.actor import Actor
from workflow.documents import DocumentIncomplete
from workflow.errors import PermissionDenied
from workflow.review_report import review_facts
from workflow.timeutil import iso
from workflow.vocab import Event, Role

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "documents"
UPDATE = bool(os.environ.get("UPDATE_GOLDEN"))
PHONE = re.compile(r"1[3-9]\d{9}")
MASKED_PHONE = re.compile(r"1[3-9]\d(?:\\?\*){4}\d{4}")  # 138****5678 (\* in Markdown)

DESK = Actor("张受理", Role.DISPATCHER)
HWY_HANDLER = Actor("赵强", Role.HANDLER, "HWY")
ROAD_HANDLER = Actor("李明", Role.HANDLER, "ROAD")
ROAD_CHIEF = Actor("王科长", Role.SUPERVISOR, "ROAD")
LAW_HANDLER = Actor("周军", Role.HANDLER, "LAW")
LAW_CHIEF = Actor("孙队长", Role.SUPERVISOR, "LAW")
REVIEWER = Actor("复盘组老李", Role.REVIEWER)
UNITS = {
    "ROAD": "市道路运输管理处",
    "LAW": "市交通运输综合行政执法支队",
    "HWY": "市公路事业发展中心",
}
FINDINGS = {
    "verification": "调取超限检测站称重记录、称重设备计量检定证书及现场执法记录仪视频，"
    "询问当班执法人员2名，并电话联系司机了解情况。",
    "facts": "该车于11月20日在城东超限检测站检测车货总重55.2吨，超过限定标准；"
    "称重设备经计量检定合格且在有效期内，现场执法人员出示证件、告知违法事实及陈述申辩权利，"
    "处罚程序完整。",
    "basis": "《超限运输车辆行驶公路管理规定》第四十三条；《公路超限检测站管理办法》。",
    "explanation": "已电话告知司机复核结果、处罚依据，以及申请行政复议或者提起行政诉讼的途径，"
    "司机表示理解。",
    "explained_at": "2026-11-25T15:30:00+08:00",
    "evidence": ["称重检测记录单", "称重设备计量检定证书", "现场执法记录仪视频", "行政处罚决定书"],
}


def at(text: str) -> datetime:
    """A local (Asia/Shanghai) time."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def stamp(actor: Actor, when: str) -> Stamp:
    return Stamp(actor=actor, at=at(when), recorded_at=at(when))


def add_units(engine: Engine) -> None:
    known = {unit.code for unit in list_units(engine)}
    for code, name in UNITS.items():
        if code not in known:
            add_unit(engine, stamp(DESK, "2026-11-23T08:00"), code=code, name=name)


def reviewed_case(engine: Engine, **accept: str) -> str:
    """A freight dispute: returned by the first unit, reassigned with a co-handling unit, a
    repeat call merged into it, feedback late (the watchdog's red card), extended, suspended, resolved, revisited,
    reviewed."""
    add_units(engine)
    data = {
        "channel": "hotline_12328",
        "ref": "12328-20261123-0001",
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王建国",
        "phone": "13812345678",
        "plate": "川B12345",
        "description": "货主拖欠运费3500元已两个月，多次催要无果，请求帮助追讨。"
        "联系电话13812345678。",
        "amount": "3500",
        "respondent": "顺达物流有限公司",
        **accept,
    }
    number = uc.accept(engine, accept_command(**data), stamp(DESK, "2026-11-23T09:10")).number
    uc.assign(engine, number, stamp(DESK, "2026-11-23T09:40"), unit="HWY")
    uc.sign(engine, number, stamp(HWY_HANDLER, "2026-11-23T10:00"))
    uc.return_to_desk(
        engine,
        number,
        stamp(HWY_HANDLER, "2026-11-23T10:30"),
        reason="运费纠纷不属于本单位职责范围",
    )
    uc.reassign(
        engine,
        number,
        stamp(DESK, "2026-11-23T10:50"),
        unit="ROAD",
        add_co_units=["LAW"],
        reason="运费纠纷由市道路运输管理处主办，执法支队协办",
    )
    uc.sign(engine, number, stamp(ROAD_HANDLER, "2026-11-23T11:00"))
    # the driver calls again on the 12345 line: the desk merges the repeat into this one
    again = {**data, "channel": "hotline_12345", "ref": f"{data['ref']}-again"}
    repeat = uc.accept(engine, accept_command(**again), stamp(DESK, "2026-11-23T14:00")).number
    uc.merge(
        engine,
        repeat,
        stamp(DESK, "2026-11-23T14:10"),
        into=number,
        reason="同一司机就同一笔运费再次来电（电话13812345678）",
    )
    watchdog.sweep(engine, at("2026-11-24T17:30"))  # feedback: yellow card, then red card
    uc.feedback(
        engine,
        number,
        stamp(ROAD_HANDLER, "2026-11-25T09:30"),
        note="已联系货主，货主承认拖欠运费，承诺本周内结清；已电话（13812345678）告知司机。",
    )
    uc.request_extension(
        engine,
        number,
        stamp(ROAD_HANDLER, "2026-11-25T10:00"),
        days=2,
        reason="需调取运单及银行转账记录核对金额",
    )
    uc.approve_extension(
        engine, number, stamp(ROAD_CHIEF, "2026-11-25T10:30"), note="同意延期2个工作日"
    )
    uc.suspend(engine, number, stamp(ROAD_CHIEF, "2026-11-26T09:00"), reason="等待司机补充运单原件")
    uc.resume(engine, number, stamp(ROAD_HANDLER, "2026-11-26T14:00"), note="司机已补充运单材料")
    uc.close(
        engine,
        number,
        stamp(ROAD_HANDLER, "2026-11-30T16:00"),
        result="resolved",
        note="货主已结清运费3500元，司机确认收到。",
        recovered="3500",
    )
    uc.revisit(
        engine,
        number,
        stamp(DESK, "2026-12-01T10:00"),
        satisfaction="satisfied",
        note="司机对办理结果表示满意。",
    )
    uc.review(
        engine,
        number,
        stamp(REVIEWER, "2026-12-02T15:00"),
        root_cause="货主资金周转困难，拖欠司机运费；首次分办时对运费纠纷的主办单位判断有误，"
        "造成退单改派，延误办理约1小时。",
        actions="1. 约谈顺达物流有限公司负责人，督促其规范运费结算；\n"
        "2. 修订分办指引，明确运费纠纷由市道路运输管理处主办、执法支队协办。",
        lessons="对同一货主的运费纠纷建立台账，纳入定期会商研判，从源头减少拖欠运费问题。",
        responsibility="市公路事业发展中心退单理由成立，不予追责；"
        "市道路运输管理处进展反馈超时1小时，予以提醒。",
    )
    return number


def no_fault_case(engine: Engine, **accept: str) -> str:
    """An overload fine the driver disputes; verified, closed as 无责 by the unit supervisor."""
    add_units(engine)
    data = {
        "channel": "hotline_12345",
        "ref": "12345-2026112300188",
        "type": "complaint",
        "category": "overload",
        "name": "陈志强",
        "phone": "13998765432",
        "plate": "粤B6K789",
        "description": "在城东超限检测站被认定超限并罚款2000元，认为称重设备不准，"
        "要求复核并退还罚款。",
        "amount": "2000",
        "respondent": "市交通运输综合行政执法支队二大队",
        **accept,
    }
    number = uc.accept(engine, accept_command(**data), stamp(DESK, "2026-11-23T09:10")).number
    uc.assign(engine, number, stamp(DESK, "2026-11-23T09:40"), unit="LAW")
    uc.sign(engine, number, stamp(LAW_HANDLER, "2026-11-23T10:00"))
    uc.feedback(
        engine,
        number,
        stamp(LAW_HANDLER, "2026-11-24T11:00"),
        note="已调取称重记录和执法记录仪视频，正在核实。",
    )
    uc.close(
        engine,
        number,
        stamp(LAW_CHIEF, "2026-11-25T16:00"),
        result="no_fault",
        note="经核实，称重数据准确，执法程序合法，不存在执法过错。",
        findings=FINDINGS,
    )
    return number


# ----------------------------------------------------------------------------- helpers
RENDERED_AT = at("2026-12-03T09:00")
KINDS = ("review", "no_fault")
FORMATS = ("html", "md", "docx")
LANGS = ("zh", "en")


def docx_text(content: bytes) -> str:
    """A Word document as text: paragraphs, and table rows as `cell | cell` (merged cells
    once), in document order."""
    document = docx.Document(io.BytesIO(content))
    lines = []
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
            continue
        for row in block.rows:
            cells: list[tuple[object, str]] = []
            for cell in row.cells:
                if not cells or cell._tc is not cells[-1][0]:
                    cells.append((cell._tc, cell.text))
            lines.append(" | ".join(text for _, text in cells))
    return "\n".join(lines) + "\n"


def docx_xml(content: bytes) -> str:
    """Every XML part of a Word document, concatenated."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.endswith((".xml", ".rels"))
        )


def readable(fmt: str, content: bytes) -> str:
    """What a person reads of a document: the text of html and md, the words of a docx."""
    return docx_text(content) if fmt == "docx" else content.decode("utf-8")


def everything(fmt: str, content: bytes) -> str:
    """Everything a document carries, to scan for leaks (a docx: all its XML)."""
    return docx_xml(content) if fmt == "docx" else content.decode("utf-8")


def render(engine: Engine, number: str, kind: str, fmt: str, lang: str = "zh") -> bytes:
    return documents.render(
        engine, number, kind, fmt, DESK, RENDERED_AT, lang=lang, store=False
    ).content


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Engine, str]]]:
    """One reviewed case and one no-fault case, each in its own database (both 0001)."""
    engines = []
    built = {}
    for kind, build in (("review", reviewed_case), ("no_fault", no_fault_case)):
        folder = tmp_path_factory.mktemp(kind)
        engine = Engine.open(database_url_for(folder))
        engines.append(engine)
        built[kind] = (engine, build(engine))
    yield built
    for engine in engines:
        engine.db.dispose()


@pytest.fixture
def no_fault_facts(cases: dict[str, tuple[Engine, str]]) -> dict[str, Any]:
    """The facts of the golden no-fault statement, to render without a database."""
    engine, number = cases["no_fault"]
    view = show(engine, number, DESK)
    records = [audit_log.record_from_event(e) for e in view.events]
    policy = engine.policies.get(view.case.policy)
    return documents.facts(
        "no_fault", view.case, records, view.timers, policy, engine.calendar, UNITS
    )


# ----------------------------------------------------------------------------- golden files
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_documents_match_their_golden_files(
    cases: dict[str, tuple[Engine, str]], kind: str, fmt: str, lang: str
) -> None:
    engine, number = cases[kind]
    text = readable(fmt, render(engine, number, kind, fmt, lang))
    golden = (
        GOLDEN / f"{kind}.{lang}.{fmt}" if fmt != "docx" else GOLDEN / f"{kind}.{lang}.docx.txt"
    )
    if UPDATE or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{golden.name} was missing and has been written: review it")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden.name} differs; if the change is intended, rerun with UPDATE_GOLDEN=1 and "
        "review the diff"
    )


def test_file_names_say_what_the_document_is(cases: dict[str, tuple[Engine, str]]) -> None:
    engine, number = cases["review"]
    names = {
        documents.render(
            engine, number, "review", fmt, DESK, RENDERED_AT, lang=lang, store=False
        ).filename
        for fmt in ("html", "docx")
        for lang in LANGS
    }
    assert names == {
        "复盘报告-20261123-0001.html",
        "复盘报告-20261123-0001.docx",
        "review-20261123-0001.html",
        "review-20261123-0001.docx",
    }
    engine, number = cases["no_fault"]
    rendered = documents.render(engine, number, "no_fault", "md", DESK, RENDERED_AT, store=False)
    assert rendered.filename == "无责说明-20261123-0001.md"
    assert rendered.language == "zh"  # Chinese by default


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("kind", KINDS)
def test_the_same_facts_give_the_same_bytes(
    cases: dict[str, tuple[Engine, str]], tmp_path: Path, kind: str
) -> None:
    """Twice in a row, at another wall-clock time, and from a fresh database built again."""
    engine, number = cases[kind]
    fresh = Engine.open(database_url_for(tmp_path))
    try:
        rebuilt_number = (reviewed_case if kind == "review" else no_fault_case)(fresh)
        for fmt in FORMATS:
            first = render(engine, number, kind, fmt)
            with freeze_time("2031-07-01 03:04:05"):
                second = render(engine, number, kind, fmt)
            rebuilt = render(fresh, rebuilt_number, kind, fmt)
            assert first == second == rebuilt, fmt
    finally:
        fresh.db.dispose()


def test_word_files_carry_no_clock(no_fault_facts: dict[str, Any]) -> None:
    """Zip entries at 1980-01-01 in a fixed order; core properties without "now"."""
    content = documents.render_bytes("no_fault", "docx", "zh", no_fault_facts)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        infos = archive.infolist()
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        names = [info.filename for info in infos]
        assert names[0] == "[Content_Types].xml" and names[1:] == sorted(names[1:])
        core = archive.read("docProps/core.xml").decode("utf-8")
    assert "2026-01-01T00:00:00Z" in core and "<dc:title>无责说明 20261123-0001</dc:title>" in core


def test_the_word_templates_are_the_ones_the_script_makes() -> None:
    """The committed .docx templates hold what `make_docx` builds (regenerate after a change:
    `.venv/bin/python -m templates.documents.make_docx`). Compared entry by entry: another
    zlib may compress the same entries to other bytes."""
    from templates.documents import make_docx

    def entries(content: bytes) -> list[tuple[str, bytes]]:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return [(name, archive.read(name)) for name in archive.namelist()]

    for kind in KINDS:
        for lang in LANGS:
            committed = (documents.TEMPLATES / f"{kind}.{lang}.docx").read_bytes()
            built = make_docx.build(kind, lang)
            assert entries(built) == entries(committed), f"{kind}.{lang}.docx is stale"


# ----------------------------------------------------------------------------- privacy, escaping
def test_a_script_in_the_drivers_text_comes_out_escaped(engine: Engine) -> None:
    script = "<script>alert(1)</script>"
    number = reviewed_case(engine, description=f"货主拖欠运费{script}，电话13812345678")
    for kind_fmt in FORMATS:
        for lang in LANGS:
            content = everything(kind_fmt, render(engine, number, "review", kind_fmt, lang))
            assert "<script>alert" not in content, (kind_fmt, lang)
            assert "alert(1)" in content, (kind_fmt, lang)  # shown, not dropped
    html = render(engine, number, "review", "html").decode("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    md = render(engine, number, "review", "md").decode("utf-8")
    assert "\\<script\\>alert(1)\\</script\\>" in md  # literal text in Markdown
    word = docx_xml(render(engine, number, "review", "docx"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in word
    assert script in docx_text(render(engine, number, "review", "docx"))  # as the reader sees it


def test_a_script_in_a_no_fault_statement_comes_out_escaped(engine: Engine) -> None:
    number = no_fault_case(engine, description="罚款不合理<script>alert(1)</script>")
    for fmt in FORMATS:
        content = everything(fmt, render(engine, number, "no_fault", fmt))
        assert "<script>alert" not in content, fmt


@pytest.mark.parametrize("kind", KINDS)
def test_phone_numbers_are_masked_in_every_format(
    cases: dict[str, tuple[Engine, str]], kind: str
) -> None:
    """The complainant's phone and one written into the description and a note."""
    engine, number = cases[kind]
    for fmt in FORMATS:
        for lang in LANGS:
            content = everything(fmt, render(engine, number, kind, fmt, lang))
            assert PHONE.findall(content) == [], (fmt, lang)
            assert MASKED_PHONE.search(content), (fmt, lang)
            assert "王建国" not in content and "陈志强" not in content  # names masked too
            assert "川B12345" not in content and "粤B6K789" not in content


def test_markdown_text_is_literal() -> None:
    text = "# 标题\n- 列表 | 竖线 *星号* _下划线_ [链接](x) <b>\n1. 编号"
    assert documents.md_text(text) == (
        "\\# 标题\\\n\\- 列表 \\| 竖线 \\*星号\\* \\_下划线\\_ \\[链接\\](x) \\<b\\>\\\n1\\. 编号"
    )


# ----------------------------------------------------------------------------- fail loudly
def test_a_review_report_needs_the_review(driver: Driver) -> None:
    number = driver.to("revisited").number
    with pytest.raises(DocumentIncomplete) as raised:
        render(driver.engine, number, "review", "html")
    message = str(raised.value)
    assert "no 复盘 record yet" in message
    assert "root cause" in message and "corrective actions" in message
    assert raised.value.missing == ("root cause (问题根源)", "corrective actions (整改措施)")


def test_a_review_report_names_every_missing_fact(cases: dict[str, tuple[Engine, str]]) -> None:
    """The facts builder itself: a log without its revisit and a case without a lead unit."""
    engine, number = cases["review"]
    view = show(engine, number, DESK)
    records = [audit_log.record_from_event(e) for e in view.events if e.event is not Event.REVISIT]
    case = dataclasses.replace(view.case, satisfaction=None, lead_unit=None)
    policy = engine.policies.get(case.policy)
    with pytest.raises(DocumentIncomplete) as raised:
        review_facts(case, records, view.timers, policy, engine.calendar, UNITS)
    assert raised.value.missing == ("revisit answer (回访结果)", "lead unit (承办单位)")


def test_a_no_fault_statement_needs_a_no_fault_result(driver: Driver) -> None:
    engine = driver.engine
    resolved = driver.to("closed").number
    with pytest.raises(DocumentIncomplete) as raised:
        render(engine, resolved, "no_fault", "docx")
    message = str(raised.value)
    assert "已解决 (resolved), not 无责 (no_fault) or 不属实 (unsubstantiated)" in message
    assert "how it was verified" in message and "evidence list" in message
    still_open = driver.to("handling").number
    with pytest.raises(DocumentIncomplete, match="not closed yet: result"):
        render(engine, still_open, "no_fault", "html")


def test_a_template_missing_a_fact_fails_instead_of_leaving_a_gap(
    no_fault_facts: dict[str, Any],
) -> None:
    facts = dict(no_fault_facts)
    del facts["basis"]
    for fmt in FORMATS:
        with pytest.raises(jinja2.UndefinedError, match="basis"):
            documents.render_bytes("no_fault", fmt, "zh", facts)


# ----------------------------------------------------------------------------- permissions
def test_a_handler_of_another_unit_may_not_render(cases: dict[str, tuple[Engine, str]]) -> None:
    engine, number = cases["review"]
    outsider = Actor("外单位承办人", Role.HANDLER, "OTHER")
    with pytest.raises(PermissionDenied):
        documents.render(engine, number, "review", "html", outsider, RENDERED_AT)
    first_handler = HWY_HANDLER  # returned it, but stays accountable: may see the report
    assert documents.render(
        engine, number, "review", "md", first_handler, RENDERED_AT, store=False
    ).content


# ----------------------------------------------------------------------------- storage
def test_a_review_queues_its_report_and_issuing_stores_it(engine: Engine) -> None:
    number = reviewed_case(engine)
    # the review's transaction queued a job: nothing rendered inside it
    assert documents.stored(engine, number) == []
    [job] = document_jobs.jobs(engine)
    view = show(engine, number, DESK)
    assert (job["number"], job["kind"], job["status"], job["version"]) == (
        number,
        "review",
        "pending",
        view.version,
    )
    [issued] = documents.issue(engine, RENDERED_AT)
    assert issued.error is None and [d.fmt for d in issued.documents] == ["html", "docx"]
    stored = documents.stored(engine, number)
    assert [(d["kind"], d["format"], d["language"]) for d in stored] == [
        ("review", "html", "zh"),
        ("review", "docx", "zh"),
    ]
    for doc in stored:  # issued as of the review: its actor, its time, its version
        assert doc["rendered_by"] == "复盘组老李"
        assert doc["rendered_at"] == "2026-12-02T15:00:00+08:00"
        assert doc["version"] == view.version
        again = render(engine, number, "review", doc["format"])
        assert doc["sha256"] == documents.hashlib.sha256(again).hexdigest()
        assert doc["bytes"] == len(again)
    [job] = document_jobs.jobs(engine)
    assert (job["status"], job["attempts"], job["done_at"]) == ("done", 1, iso(RENDERED_AT))
    assert documents.issue(engine, RENDERED_AT) == []  # done once: nothing left
    # rendering the same facts again stores nothing new; another format or language does
    documents.render(engine, number, "review", "html", DESK, RENDERED_AT)
    documents.render(engine, number, "review", "md", DESK, RENDERED_AT, lang="en")
    later = documents.stored(engine, number)
    assert len(later) == 3
    assert (later[2]["format"], later[2]["language"], later[2]["rendered_by"]) == (
        "md",
        "en",
        "张受理",
    )
    assert "content" not in later[2]


def test_a_no_fault_close_issues_its_statement_as_of_the_close(engine: Engine) -> None:
    number = no_fault_case(engine)
    as_closed = render(engine, number, "no_fault", "html")
    # the desk corrects the respondent before the job runs: the statement still shows the
    # grievance as it was closed (the job's version), not as it is now
    uc.amend(engine, number, stamp(DESK, "2026-11-27T10:00"), reason="更正", respondent="另一单位")
    assert render(engine, number, "no_fault", "html") != as_closed
    [issued] = documents.issue(engine, RENDERED_AT, number=number)
    assert issued.documents[0].content == as_closed
    stored = documents.stored(engine, number)
    assert [(d["kind"], d["format"], d["rendered_by"]) for d in stored] == [
        ("no_fault", "html", "孙队长"),
        ("no_fault", "docx", "孙队长"),
    ]
    assert {d["version"] for d in stored} == {show(engine, number, DESK).version - 1}


def test_a_job_that_fails_is_kept_with_its_reason_and_retried_on_request(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = reviewed_case(engine), no_fault_case(engine)

    def broken(kind: str, *args: Any) -> dict[str, Any]:
        if kind == "review":
            raise RuntimeError("template store unreachable")
        return original(kind, *args)

    original = documents.facts
    monkeypatch.setattr(documents, "facts", broken)
    done = documents.issue(engine, RENDERED_AT)
    assert [(d.number, d.error) for d in done] == [
        (first, "RuntimeError: template store unreachable"),
        (second, None),  # the others go on
    ]
    failed = document_jobs.jobs(engine, status="failed")
    assert [(j["number"], j["attempts"]) for j in failed] == [(first, 1)]
    assert documents.issue(engine, RENDERED_AT) == []  # failed stays failed...
    monkeypatch.setattr(documents, "facts", original)
    [again] = documents.issue(engine, RENDERED_AT, retry_failed=True)  # ...until asked
    assert again.number == first and again.error is None
    assert document_jobs.jobs(engine, status="done")[-1]["attempts"] == 2
    assert len(documents.stored(engine, first)) == 2


def test_two_issuers_of_one_job_store_it_once(engine: Engine) -> None:
    """The action that queued it and a watchdog tick may both read it pending: the one
    whose claim comes second stores nothing."""
    number = reviewed_case(engine)
    with engine.db.read() as session:
        [job] = session.exec(select(DocumentJob)).all()
    [issued] = documents.issue(engine, RENDERED_AT)
    late = documents._finish(
        engine, job, document_jobs.DONE, RENDERED_AT, rendered=issued.documents
    )
    assert late is False
    assert len(documents.stored(engine, number)) == 2
    assert document_jobs.jobs(engine)[0]["attempts"] == 1


def test_an_ordinary_close_stores_no_document(driver: Driver) -> None:
    number = driver.to("revisited").number
    assert documents.stored(driver.engine, number) == []


# ----------------------------------------------------------------------------- command line
def test_the_document_command_writes_the_file(engine: Engine, tmp_path: Path) -> None:
    number = no_fault_case(engine)
    out = tmp_path / "out" / "sub" / "statement.docx"
    env = {"GRIEVANCE_DATABASE_URL": database_url_for(tmp_path)}
    runner = CliRunner()
    result = runner.invoke(
        document,
        [number, "no-fault", "--format", "docx", "--out", str(out), "--actor", "张受理"],
        env=env,
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    content = out.read_bytes()
    assert content == render(engine, number, "no_fault", "docx")
    sha = documents.hashlib.sha256(content).hexdigest()
    assert (
        str(out) in result.output
        and sha in result.output
        and f"{len(content)} bytes" in result.output
    )
    again = runner.invoke(
        document,
        [number, "no-fault", "--out", str(out), "--lang", "en", "--json"],
        env=env,
        catch_exceptions=False,
    )
    data = json.loads(again.output)
    assert data["format"] == "html" and data["language"] == "en"
    assert out.read_bytes().startswith(b"<!DOCTYPE html>")
    assert b"No-fault statement" in out.read_bytes()
    refused = runner.invoke(document, [number, "review", "--out", str(out)], env=env)
    assert isinstance(refused.exception, DocumentIncomplete)


# ----------------------------------------------------------------------------- other paths
def test_a_redone_urgent_case_shows_its_rounds_and_clock_time(driver: Driver) -> None:
    """Urgent (natural-clock limits), corrected, redone after a dissatisfied revisit."""
    engine = driver.engine
    number = driver.to("handling", urgent=True).number
    uc.amend(engine, number, driver.stamp(base.DESK), reason="金额登记有误", amount="3600")
    uc.close(engine, number, driver.stamp(base.HANDLER), result="partly_resolved", note="部分结清")
    uc.revisit(
        engine, number, driver.stamp(base.DESK), satisfaction="dissatisfied", note="仍欠100元"
    )
    uc.redo(engine, number, driver.stamp(base.DESK), reason="司机不满意，重新办理")
    uc.close(engine, number, driver.stamp(base.HANDLER), result="resolved", note="已全部结清")
    uc.revisit(engine, number, driver.stamp(base.DESK), satisfaction="basically_satisfied")
    uc.review(
        engine, number, driver.stamp(base.REVIEWER), root_cause="首次办结不彻底", actions="加强核实"
    )
    for fmt in FORMATS:
        for lang in LANGS:
            assert render(engine, number, "review", fmt, lang)
    html = render(engine, number, "review", "html").decode("utf-8")
    assert "办结（第2轮）" in html and "（自然时间）" in html
    assert "开始第2轮办理" in html and "更正涉及金额" in html
    assert "<th>重办次数</th><td>1次</td>" in html
    assert "未作责任认定。" in html and '<p class="text">无。</p>' in html  # optional texts
    english = render(engine, number, "review", "md", "en").decode("utf-8")
    assert "Closing (round 2)" in english and "(clock time)" in english


# ----------------------------------------------------------------------------- document jobs
def test_the_review_command_issues_the_report_right_after_its_commit(
    driver: Driver, tmp_path: Path
) -> None:
    from cli.main import cli

    number = driver.to("revisited").number
    env = {"GRIEVANCE_DATABASE_URL": database_url_for(tmp_path)}
    when = (driver.now + timedelta(minutes=10)).isoformat()
    result = CliRunner().invoke(
        cli,
        ["review", number, "--root-cause", "货主拖欠", "--actions", "约谈货主"]
        + ["--actor", "复盘组", "--role", "reviewer", "--at", when],
        env=env,
    )
    assert result.exit_code == 0, result.output
    stored = documents.stored(driver.engine, number)
    assert [(d["kind"], d["format"], d["rendered_by"]) for d in stored] == [
        ("review", "html", "复盘组"),
        ("review", "docx", "复盘组"),
    ]
    assert [j["status"] for j in document_jobs.jobs(driver.engine)] == ["done"]


def test_documents_jobs_and_issue_on_the_command_line(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cli.main import cli

    engine = driver.engine
    number = driver.to("reviewed").number  # the use case only queued the job
    env = {"GRIEVANCE_DATABASE_URL": database_url_for(tmp_path), "GRIEVANCE_ACTOR": "张受理"}
    runner = CliRunner()
    listed = runner.invoke(cli, ["documents", "jobs", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    [job] = json.loads(listed.output)
    assert (job["number"], job["kind"], job["status"]) == (number, "review", "pending")
    # unit staff may neither list every unit's jobs nor issue them
    staff = ["--role", "handler", "--actor-unit", "UA"]
    for args in (["documents", "jobs"], ["documents", "issue"]):
        refused = runner.invoke(cli, [*args, *staff], env=env)
        assert isinstance(refused.exception, PermissionDenied), refused.output
    assert documents.stored(engine, number) == []
    issued = runner.invoke(cli, ["documents", "issue", "--json"], env=env)
    assert issued.exit_code == 0, issued.output
    assert json.loads(issued.output) == {"issued": 1, "failed": []}
    assert len(documents.stored(engine, number)) == 2
    assert "issued 0, failed 0" in runner.invoke(cli, ["documents", "issue"], env=env).output
