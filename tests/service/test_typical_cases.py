"""典型案例: a reviewer marks a reviewed grievance typical (an audit event through the table,
no change of state); the monthly bulletin lists the month's typical cases with the lesson
drawn, compared section by section with golden files (`tests/golden/digests/typical-*`;
rewrite with UPDATE_GOLDEN=1 and read them)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook

from models import audit_log, case_rows
from service import cases as uc
from service import digests
from tests.conftest import DESK, HANDLER, REVIEWER, Driver
from tests.service.test_digests import golden
from workflow.actor import Actor
from workflow.errors import IllegalTransition, InvalidInput, PermissionDenied
from workflow.measures import month_of
from workflow.replay import replay
from workflow.vocab import Event, Role, State

SUMMARY = "货主以货损为由拒付运费，调取装卸照片查明无损后督促结清；司机电话13812345678"


def reviewed(driver: Driver, lessons: str | None = None) -> str:
    case = driver.to("revisited")
    uc.review(
        driver.engine,
        case.number,
        driver.stamp(REVIEWER),
        root_cause="货主拖延付款",
        actions="约谈货主",
        **({"lessons": lessons} if lessons else {}),
    )
    return case.number


def test_a_reviewer_marks_a_reviewed_grievance_typical(driver: Driver) -> None:
    number = reviewed(driver)
    case = uc.mark_typical(driver.engine, number, driver.stamp(REVIEWER), summary=SUMMARY)
    assert case.state is State.REVIEWED
    with driver.engine.db.read() as session:
        events = audit_log.events_of(session, number)
        row = case_rows.get_row(session, number)
        assert case_rows.case_from_row(row) == replay(
            audit_log.record_from_event(e) for e in events
        )
    last = events[-1]
    assert (last.event, last.from_state, last.to_state) == (
        Event.TYPICAL,
        State.REVIEWED,
        State.REVIEWED,
    )
    assert last.payload == {"summary": SUMMARY} and last.actor == "reviewer"


def test_only_a_reviewer_and_only_after_review(driver: Driver) -> None:
    number = reviewed(driver)
    for actor in (DESK, HANDLER, Actor("boss", Role.SUPERVISOR)):
        with pytest.raises(PermissionDenied, match="may not typical"):
            uc.mark_typical(driver.engine, number, driver.stamp(actor), summary=SUMMARY)
    revisited = driver.to("revisited").number
    with pytest.raises(IllegalTransition, match="can't typical when revisited"):
        uc.mark_typical(driver.engine, revisited, driver.stamp(REVIEWER), summary=SUMMARY)
    with pytest.raises(InvalidInput, match="summary"):
        uc.mark_typical(driver.engine, number, driver.stamp(REVIEWER), summary="  ")


def _section(text: str, start: str, end: str) -> str:
    found = re.search(f"({re.escape(start)}.*?)(?={re.escape(end)})", text, re.S)
    assert found, f"no section {start!r}"
    return found.group(1)


def test_the_bulletin_lists_the_months_typical_cases_with_the_lesson(driver: Driver) -> None:
    engine = driver.engine
    first = reviewed(driver, lessons="签订运输合同时约定付款期限，保留装卸照片")
    second = reviewed(driver)
    plain = reviewed(driver)  # reviewed, never marked: not listed
    uc.mark_typical(engine, first, driver.stamp(REVIEWER), summary="初稿 draft")
    uc.mark_typical(engine, second, driver.stamp(REVIEWER), summary="<script>x</script>|拖欠")
    uc.mark_typical(engine, first, driver.stamp(REVIEWER), summary=SUMMARY)  # the newer holds
    as_of = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    digest = digests.monthly(engine, month_of(date(2026, 11, 1)), as_of)
    listed = [(t.number, t.summary) for t in digest.context["typical_cases"]]
    assert [n for n, _ in listed] == [second, first] and plain not in dict(listed)
    assert "13812345678" not in str(listed)
    zh_md = digests.render_digest(digest, "md").decode()
    en_md = digests.render_digest(digest, "md", "en").decode()
    zh_html = digests.render_digest(digest, "html").decode()
    golden("typical-2026-11.zh.md", _section(zh_md, "### （三）典型案例", "## 八、"))
    golden("typical-2026-11.en.md", _section(en_md, "### Typical cases", "## 8."))
    golden("typical-2026-11.zh.html", _section(zh_html, "<h3>（三）典型案例", "<h2>八、"))
    assert "<script>x" not in zh_html and "&lt;script&gt;" in zh_html
    assert "组织学习本月典型案例" in zh_md
    book = load_workbook(io.BytesIO(digests.render_digest(digest, "xlsx")))
    sheet = book["典型案例"]
    assert [cell.value for cell in sheet[3]][:2] == [2, first]
    assert "138****5678" in str(sheet[3][5].value) and "13812345678" not in str(sheet[3][5].value)
    # the month after lists none, and says nothing of them
    december = digests.monthly(engine, month_of(date(2026, 12, 1)), as_of + timedelta(days=31))
    assert "典型案例" not in digests.render_digest(december, "md").decode()
