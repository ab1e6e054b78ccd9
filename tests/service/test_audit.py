"""The audit chain: every kind of tampering found by `audit.verify` with the grievance and the
kind, an untouched database verifying clean, anchors that still verify after new events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from service import audit
from service import cases as uc
from service import documents as docs
from service.engine import Engine
from tests.conftest import HANDLER, T0, Driver
from workflow import audit_findings as af
from workflow.audit_chain import GENESIS

LATER = T0 + timedelta(days=30)


def _sql(driver: Driver, *statements: str) -> None:
    with driver.engine.db.transaction() as session:
        for statement in statements:
            session.exec(text(statement))  # type: ignore[call-overload]


def _drop_event_triggers(driver: Driver) -> None:
    """What someone with write access to the database file can do."""
    if driver.engine.db.engine.dialect.name == "postgresql":
        _sql(driver, "DROP TRIGGER grievance_event_append_only ON grievance_event")
    else:
        _sql(
            driver,
            "DROP TRIGGER grievance_event_no_update",
            "DROP TRIGGER grievance_event_no_delete",
        )


def _kinds(result: audit.Verification, number: str) -> set[str]:
    return {f.kind for f in result.findings if f.number == number}


@pytest.fixture
def cases(driver: Driver) -> Iterator[dict[str, str]]:
    """Grievances at several stages, a review report issued, everything sealed."""
    made = {
        "accepted": driver.to("accepted").number,
        "handling": driver.to("handling").number,
        "closed": driver.to("closed").number,
        "reviewed": driver.to("reviewed").number,
    }
    docs.issue(driver.engine, driver.now)
    audit.seal(driver.engine, driver.now)
    yield made


def test_an_untouched_database_verifies_clean(driver: Driver, cases: dict[str, str]) -> None:
    with driver.engine.db.read() as session:
        stored = session.exec(text("SELECT count(*) FROM document")).scalar()  # type: ignore[call-overload]
    assert stored and stored > 0  # the review report is checked too
    result = audit.verify(driver.engine, LATER)
    assert result.findings == []
    assert result.ok and result.checked == 4 and result.unsealed == 0
    assert result.as_dict() == {"checked": 4, "ok": True, "findings": []}


def test_each_event_links_to_the_one_before(driver: Driver) -> None:
    case = driver.to("handling")
    with driver.engine.db.read() as session:
        rows = session.exec(  # type: ignore[call-overload]
            text("SELECT seq, prev_hash, hash FROM grievance_event WHERE number = :n ORDER BY seq"),
            params={"n": case.number},
        ).all()
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][1] == GENESIS
    assert rows[1][1] == rows[0][2] and rows[2][1] == rows[1][2]
    assert len({r[2] for r in rows}) == 3 and all(len(r[2]) == 64 for r in rows)


def test_a_case_row_field_changed(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["handling"]
    _sql(
        driver,
        f"UPDATE grievance SET state='reviewed', description='tampered' WHERE number='{number}'",
    )
    result = audit.verify(driver.engine, LATER)
    assert not result.ok and _kinds(result, number) == {af.ROW}
    details = [f.detail for f in result.findings]
    assert "state: stored 'reviewed', replayed 'handling'" in details
    assert any(d.startswith("description: stored 'tampered'") for d in details)


def test_a_timer_changed(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["handling"]
    _sql(driver, f"UPDATE sla_timer SET fired = fired + 1 WHERE number='{number}'")
    result = audit.verify(driver.engine, LATER)
    assert _kinds(result, number) == {af.TIMER}
    assert {f.number for f in result.findings} == {number}


def test_an_event_payload_rewritten_with_the_trigger_dropped(
    driver: Driver, cases: dict[str, str]
) -> None:
    """The case of the issue: `channel` taken out of the accept payload stopped `sla check`
    with a KeyError; here it is a finding naming the grievance."""
    number = cases["closed"]
    _drop_event_triggers(driver)
    _sql(
        driver,
        'UPDATE grievance_event SET payload = \'{"ref": "x"}\' '
        f"WHERE number='{number}' AND seq = 1",
    )
    result = audit.verify(driver.engine, LATER)
    assert af.EVENT in _kinds(result, number)
    assert {f.number for f in result.findings} == {number}


def test_a_deleted_event(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["closed"]
    _drop_event_triggers(driver)
    _sql(driver, f"DELETE FROM grievance_event WHERE number='{number}' AND seq = 2")
    result = audit.verify(driver.engine, LATER)
    assert af.MISSING_EVENT in _kinds(result, number)
    assert "event seq 2 missing" in [f.detail for f in result.findings]
    # the seal counts one event fewer in its range than it sealed
    assert {(f.number, f.kind) for f in result.findings if f.number != number} == {("", af.SEAL)}


def test_the_last_event_deleted(driver: Driver, cases: dict[str, str]) -> None:
    """No gap in the chain is left, but the row is ahead of its log and the seal names it."""
    number = cases["closed"]
    _drop_event_triggers(driver)
    _sql(
        driver,
        f"DELETE FROM grievance_event WHERE number='{number}' AND seq = "
        f"(SELECT max(seq) FROM grievance_event WHERE number='{number}')",
    )
    result = audit.verify(driver.engine, LATER)
    assert af.MISSING_EVENT in _kinds(result, number)


def test_two_events_swapped(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["closed"]
    _drop_event_triggers(driver)
    where = f"number='{number}'"
    _sql(
        driver,
        f"UPDATE grievance_event SET seq = -2 WHERE {where} AND seq = 2",
        f"UPDATE grievance_event SET seq = 2 WHERE {where} AND seq = 3",
        f"UPDATE grievance_event SET seq = 3 WHERE {where} AND seq = -2",
    )
    result = audit.verify(driver.engine, LATER)
    assert {af.EVENT, af.CHAIN} <= _kinds(result, number)
    assert {f.number for f in result.findings} == {number}


def test_a_grievance_deleted_with_its_events(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["reviewed"]
    _drop_event_triggers(driver)
    where = f"WHERE number='{number}'"
    _sql(
        driver,
        f"DELETE FROM notification {where}",
        f"DELETE FROM document {where}",
        f"DELETE FROM document_job {where}",
        f"DELETE FROM sla_timer {where}",
        f"DELETE FROM grievance_event {where}",
        f"DELETE FROM grievance {where}",
    )
    result = audit.verify(driver.engine, LATER)
    assert not result.ok and result.checked == 3
    assert _kinds(result, number) == {af.MISSING_GRIEVANCE}


def test_a_document_altered(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["reviewed"]
    with driver.engine.db.transaction() as session:
        session.exec(  # type: ignore[call-overload]
            text("UPDATE document SET content = :c WHERE number = :n"),
            params={"c": b"<html>nothing to see</html>", "n": number},
        )
    result = audit.verify(driver.engine, LATER)
    assert _kinds(result, number) == {af.DOCUMENT}
    assert all("bytes altered" in f.detail for f in result.findings)


def test_a_document_and_its_hash_replaced(driver: Driver, cases: dict[str, str]) -> None:
    """Bytes and hash rewritten together: the re-rendering from the log still tells."""
    import hashlib

    number = cases["reviewed"]
    fake = b"# forged report"
    with driver.engine.db.transaction() as session:
        session.exec(  # type: ignore[call-overload]
            text("UPDATE document SET content = :c, sha256 = :h WHERE number = :n"),
            params={"c": fake, "h": hashlib.sha256(fake).hexdigest(), "n": number},
        )
    result = audit.verify(driver.engine, LATER)
    assert _kinds(result, number) == {af.DOCUMENT}
    assert all("re-rendered" in f.detail for f in result.findings)


def test_a_seal_rewritten(driver: Driver, cases: dict[str, str]) -> None:
    if driver.engine.db.engine.dialect.name == "postgresql":
        _sql(driver, "DROP TRIGGER audit_seal_append_only ON audit_seal")
    else:
        _sql(driver, "DROP TRIGGER audit_seal_no_update")
    _sql(driver, "UPDATE audit_seal SET events = events + 1 WHERE id = 2")
    result = audit.verify(driver.engine, LATER)
    assert [f.kind for f in result.findings] == [af.SEAL]


def test_one_grievance_verified_alone(driver: Driver, cases: dict[str, str]) -> None:
    _sql(driver, f"UPDATE grievance SET return_count = 7 WHERE number='{cases['closed']}'")
    alone = audit.verify(driver.engine, LATER, number=cases["handling"])
    assert alone.ok and alone.checked == 1
    other = audit.verify(driver.engine, LATER, number=cases["closed"])
    assert [f.detail for f in other.findings] == ["return_count: stored 7, replayed 0"]


def test_an_anchor_still_verifies_after_a_week_of_new_events(
    driver: Driver, cases: dict[str, str]
) -> None:
    anchored = audit.anchor(driver.engine, driver.now, by="desk")
    assert anchored.hash in anchored.text and len(anchored.hash) == 64
    for day in range(7):
        driver.now += timedelta(days=1)
        case = driver.to("handling")
        uc.close(driver.engine, case.number, driver.stamp(HANDLER), result="resolved", note="ok")
        if day % 2:
            audit.seal(driver.engine, driver.now)
    later = audit.anchor(driver.engine, driver.now, by="desk")
    assert later.hash != anchored.hash
    result = audit.verify(driver.engine, driver.now, anchors=[anchored.hash, later.hash])
    assert result.ok and result.checked == 11
    forged = audit.verify(driver.engine, driver.now, anchors=["ab" * 32])
    assert [f.kind for f in forged.findings] == [af.ANCHOR]


def test_the_anchor_of_a_rewritten_history_is_no_longer_in_the_log(
    driver: Driver, cases: dict[str, str]
) -> None:
    """Whoever rewrites the seals to hide a deletion cannot keep the anchor kept outside."""
    anchored = audit.anchor(driver.engine, driver.now, by="desk")
    if driver.engine.db.engine.dialect.name == "postgresql":
        _sql(driver, "DROP TRIGGER audit_seal_append_only ON audit_seal")
    else:
        _sql(driver, "DROP TRIGGER audit_seal_no_delete")
    _drop_event_triggers(driver)
    where = f"WHERE number='{cases['accepted']}'"
    _sql(
        driver,
        "DELETE FROM audit_anchor",
        "DELETE FROM audit_seal WHERE id > 1",
        f"DELETE FROM sla_timer {where}",
        f"DELETE FROM grievance_event {where}",
        f"DELETE FROM grievance {where}",
    )
    audit.seal(driver.engine, driver.now)  # sealed again: a consistent but new history
    assert audit.verify(driver.engine, driver.now).ok  # consistent in itself
    result = audit.verify(driver.engine, driver.now, anchors=[anchored.hash])
    assert [f.kind for f in result.findings] == [af.ANCHOR]


def test_incremental_verification_checks_only_what_changed(
    driver: Driver, cases: dict[str, str]
) -> None:
    assert audit.verify(driver.engine, driver.now).checked == 4
    case = driver.to("assigned")
    audit.seal(driver.engine, driver.now)
    again = audit.verify(driver.engine, driver.now, incremental=True)
    assert again.ok and again.checked == 1
    uc.sign(driver.engine, case.number, driver.stamp(HANDLER))
    _sql(driver, f"UPDATE grievance SET signed_at = NULL WHERE number='{case.number}'")
    found = audit.verify(driver.engine, driver.now, incremental=True)
    assert found.checked == 1 and _kinds(found, case.number) == {af.ROW}
    # a run with findings is not a clean one: the next incremental run looks again
    assert audit.verify(driver.engine, driver.now, incremental=True).checked == 1


def test_each_full_run_is_recorded(driver: Driver, cases: dict[str, str]) -> None:
    audit.verify(driver.engine, LATER)
    audit.verify(driver.engine, LATER, number=cases["closed"])  # one grievance: not recorded
    audit.verify(driver.engine, LATER, record=False)  # the command line's look
    with driver.engine.db.read() as session:
        runs = session.exec(  # type: ignore[call-overload]
            text("SELECT checked, findings, incremental FROM audit_check")
        ).all()
    assert [tuple(r) for r in runs] == [(4, 0, False)]


def test_the_watchdog_seals_verifies_and_tells_the_supervisors_once(
    driver: Driver, cases: dict[str, str]
) -> None:
    from service import audit_watch

    start = driver.now
    clean = audit_watch.watch(driver.engine, start)
    assert (clean.full, clean.checked, clean.findings, clean.notified) == (True, 4, 0, 0)
    driver.to("assigned")
    quiet = audit_watch.watch(driver.engine, driver.now)
    assert (quiet.full, quiet.sealed, quiet.checked, quiet.findings) == (False, 2, 1, 0)
    number = cases["closed"]
    _sql(driver, f"UPDATE grievance SET lead_unit = 'UB' WHERE number='{number}'")
    # a row changed without an event: not among what changed, found by the daily full run
    assert audit_watch.watch(driver.engine, driver.now).findings == 0
    day = start + timedelta(days=1)
    found = audit_watch.watch(driver.engine, day)
    assert found.full and found.findings == 1 and found.notified >= 1
    with driver.engine.db.read() as session:
        rows = session.exec(  # type: ignore[call-overload]
            text(
                "SELECT kind, audience, title, body FROM notification WHERE kind = 'audit_findings'"
            )
        ).all()
    assert len(rows) == found.notified and rows[0][1] == "supervisor"
    assert "审计日志异常" in rows[0][2] and number in rows[0][3] and "lead_unit" in rows[0][3]
    again = audit_watch.watch(driver.engine, day + timedelta(days=1))  # the same findings
    assert again.full and again.findings == 1 and again.notified == 0


def test_the_monthly_bulletin_carries_the_head_hash_of_the_months_end(
    driver: Driver, cases: dict[str, str]
) -> None:
    from datetime import date

    from service import digests
    from workflow.measures import month_of

    month_end = audit.seal(driver.engine, driver.now)  # sealed in November (cases' fixture)
    driver.now = T0 + timedelta(days=9)  # 2 December: new events, sealed after the month
    driver.to("assigned")
    december = audit.seal(driver.engine, driver.now)
    assert december.head != month_end.head
    digest = digests.monthly(driver.engine, month_of(date(2026, 11, 1)), driver.now)
    assert digest.context["audit_head"]["hash"] == month_end.head
    for lang, words in (("zh", "审计日志头哈希"), ("en", "head hash of the audit log")):
        for fmt in ("md", "html"):
            body = digests.render_digest(digest, fmt, lang).decode("utf-8")
            assert words in body and month_end.head in body and december.head not in body


def test_a_randomized_run_verifies_clean(engine: Engine) -> None:
    """Random operations by random people at random times (`bench.audit.Run`: the watchdog
    sweeping, refusals, merges, back-dated records), the documents issued: nothing found.
    10,000 operations, as the issue asks (`GRIEVANCE_AUDIT_OPS` sets another count)."""
    import os
    import random

    from bench.audit import DESK as BENCH_DESK
    from bench.audit import START, Run
    from service.acting import Stamp
    from service.units import add_unit

    for code in ("UA", "UB"):
        add_unit(engine, Stamp(BENCH_DESK, START, START), code=code, name=f"单位{code}")
    run = Run(engine, random.Random(20))
    for _ in range(int(os.environ.get("GRIEVANCE_AUDIT_OPS", "10000"))):
        run.step()
    docs.issue(engine, run.now, limit=10_000)
    audit.seal(engine, run.now)
    result = audit.verify(engine, run.now, batch=37)
    assert result.findings == []
    assert result.checked == len(run.numbers) and result.events > result.checked


def test_sealers_at_once_do_not_fork_the_log(driver: Driver) -> None:
    """Two watchdogs appending and sealing at the same time: one chain of seals."""
    from concurrent.futures import ThreadPoolExecutor

    from service import cases as use_cases
    from service.acting import Stamp
    from tests.conftest import DESK, accept_command

    def work(worker: int) -> None:
        for i in range(6):
            at = T0 + timedelta(minutes=worker * 100 + i)
            stamp = Stamp(actor=DESK, at=at, recorded_at=at)
            use_cases.accept(driver.engine, accept_command(ref=f"W{worker}-{i}"), stamp)
            audit.seal(driver.engine, at)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(work, (1, 2)))
    result = audit.verify(driver.engine, LATER)
    assert result.findings == [] and result.checked == 12 and result.unsealed == 0


def test_personal_data_in_a_finding_is_masked(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["handling"]
    _sql(
        driver,
        "UPDATE grievance SET phone='13900001111', name='李四光', plate='川A54321', "
        f"description='电话13712345678' WHERE number='{number}'",
    )
    details = "\n".join(f.detail for f in audit.verify(driver.engine, LATER).findings)
    for secret in ("13900001111", "13812345678", "李四光", "王建国", "54321", "12345678"):
        assert secret not in details
    assert "phone: stored '139****1111'" in details and "name: stored '李**'" in details


def test_a_grievance_row_deleted_behind_its_events(driver: Driver, cases: dict[str, str]) -> None:
    number = cases["handling"]
    where = f"WHERE number='{number}'"
    cleanup = [
        f"DELETE FROM notification {where}",
        f"DELETE FROM sla_timer {where}",
        f"DELETE FROM grievance {where}",
    ]
    if driver.engine.db.engine.dialect.name == "postgresql":
        fk = "fk_grievance_event_grievance_id_grievance"
        _sql(driver, f"ALTER TABLE grievance_event DROP CONSTRAINT {fk}", *cleanup)
    else:
        import sqlite3

        path = driver.engine.db.engine.url.database
        connection = sqlite3.connect(str(path), isolation_level=None)
        connection.execute("PRAGMA foreign_keys=OFF")  # as the sqlite3 shell starts
        for statement in cleanup:
            connection.execute(statement)
        connection.close()
    result = audit.verify(driver.engine, LATER)
    assert result.checked == 3
    assert [(f.number, f.kind) for f in result.findings] == [(number, af.MISSING_GRIEVANCE)]


def test_an_anchor_sent_through_the_outbox(driver: Driver, cases: dict[str, str]) -> None:
    made = audit.anchor(driver.engine, driver.now, by="desk", send=True)
    with driver.engine.db.read() as session:
        rows = session.exec(  # type: ignore[call-overload]
            text("SELECT kind, audience, title, body FROM notification WHERE kind LIKE 'audit%'")
        ).all()
    assert [(r[0], r[1]) for r in rows] == [("audit_anchor", "leadership")]
    assert "审计链锚定" in rows[0][2] and made.text in rows[0][3]
    assert f"grievance audit verify --anchor {made.hash}" in rows[0][3]


def test_a_review_report_naming_a_merged_duplicate_verifies(driver: Driver) -> None:
    """The 复盘报告 lists the duplicates merged into the grievance (other grievances' 并单
    records): its re-rendering reads them too, and a typical-case mark verifies as any event."""
    from tests.conftest import DESK, REVIEWER

    kept = driver.to("handling").number
    duplicate = driver.accept(ref="DUP-1").number
    uc.merge(driver.engine, duplicate, driver.stamp(DESK), into=kept, reason="同一运单")
    uc.close(driver.engine, kept, driver.stamp(HANDLER), result="resolved", note="done")
    uc.revisit(driver.engine, kept, driver.stamp(DESK), satisfaction="satisfied")
    uc.review(driver.engine, kept, driver.stamp(REVIEWER), root_cause="rc", actions="acts")
    uc.mark_typical(driver.engine, kept, driver.stamp(REVIEWER), summary="典型：拖欠运费")
    docs.issue(driver.engine, driver.now)
    audit.seal(driver.engine, driver.now)
    result = audit.verify(driver.engine, LATER)
    assert result.findings == [] and result.checked == 2
