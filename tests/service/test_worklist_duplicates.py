"""疑似重复 on the desk's worklist: a grievance waiting for the desk (accepted, or returned)
with the phone or plate of an open grievance, or of one closed within 30 days before it was
accepted, says so above its case run's form and in the desk's worklist table, offering the
merge into the open one; personal data never shows.

| G | accepted | phone | plate | story |
|---|---|---|---|---|
| A | Mon 11-02 09:00 | P1 | 川A11111 | assigned to UA: waits for UA |
| B | Tue 11-03 09:00 | P1 | 川B22222 | waits for the desk: same phone as A (open) |
| C | Tue 11-03 10:00 | P3 | 川A11111 | waits for the desk: same plate as A |
| D | Thu 10-01 09:00 | P5 | - | closed Fri 10-02: more than 30 days before E |
| E | Fri 11-20 09:00 | P5 | - | waits for the desk: no candidate (D closed too long before) |
| F | Mon 11-09 09:00 | P6 | - | closed Tue 11-10 |
| G | Fri 11-20 10:00 | P6 | - | waits for the desk: F closed 10 days before, no merge offered |
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service import cases as uc
from service import worklist
from service.engine import Engine
from service.units import add_unit
from tests.conftest import DESK, database_url_for
from tests.models.test_reports import HANDLER_A, Builder, local

P1, P3, P5, P6 = "13900000001", "13900000003", "13900000005", "13900000006"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builder]:
    engine = Engine.open(database_url_for(tmp_path_factory.mktemp("worklist-duplicates")))
    b = Builder(engine)
    e, st = engine, b.stamp
    add_unit(e, st(DESK, local(9, 1, 9)), code="UA", name="单位UA")
    n = b.accept("A", local(11, 2, 9), phone=P1, plate="川A11111")
    uc.assign(e, n, st(DESK, local(11, 2, 9, 10)), unit="UA")
    b.accept("B", local(11, 3, 9), phone=P1, plate="川B22222")
    b.accept("C", local(11, 3, 10), phone=P3, plate="川A11111")
    n = b.handled("D", local(10, 1, 9), "UA", HANDLER_A, phone=P5, plate=None)
    uc.close(e, n, st(HANDLER_A, local(10, 2, 10)), result="resolved", note="已解决")
    b.accept("E", local(11, 20, 9), phone=P5, plate=None)
    n = b.handled("F", local(11, 9, 9), "UA", HANDLER_A, phone=P6, plate=None)
    uc.close(e, n, st(HANDLER_A, local(11, 10, 10)), result="resolved", note="已解决")
    b.accept("G", local(11, 20, 10), phone=P6, plate=None)
    try:
        yield b
    finally:
        engine.db.dispose()


def _repeats(b: Builder, name: str) -> list[tuple[str, tuple[str, ...], bool]]:
    snap = worklist.read(b.engine, b.numbers[name])
    assert snap is not None
    return [(c.number, c.same, c.open) for c in snap.duplicates]


def test_the_desks_waiting_grievances_name_their_candidates(built: Builder) -> None:
    n = built.numbers
    assert _repeats(built, "B") == [(n["A"], ("phone",), True)]
    assert _repeats(built, "C") == [(n["A"], ("plate",), True)]
    assert _repeats(built, "E") == []  # D closed 49 days before E was accepted
    assert _repeats(built, "G") == [(n["F"], ("phone",), False)]
    # A waits for its unit, which may not merge: no hint there, though B shares its phone
    assert _repeats(built, "A") == []


def test_the_case_run_form_says_so_and_offers_the_merge(built: Builder) -> None:
    n = built.numbers
    snap = worklist.read(built.engine, n["B"])
    assert snap is not None
    text = snap.description()
    assert f"**疑似重复 Possible repeat:** {n['A']} (assigned; 同一电话 same phone)" in text
    assert f"并单 merge」并入 {n['A']}" in text
    assert P1 not in text and "川B" not in text and "川A" not in text  # masked: no values
    closed_only = worklist.read(built.engine, n["G"])
    assert closed_only is not None
    hint = closed_only.duplicate_hint()
    assert n["F"] in hint and "closed" in hint and "并入" not in hint  # nothing open to merge into
    plain = worklist.read(built.engine, n["E"])
    assert plain is not None and "疑似重复" not in plain.description()


def test_the_desks_worklist_table_has_the_column(built: Builder) -> None:
    n = built.numbers
    tables = worklist.worklist_tables(built.engine, local(11, 20, 11))
    desk = {row["工单编号 Number"]: row["疑似重复 Possible repeat"] for row in tables["desk"]}
    assert desk[n["B"]] == f"{n['A']}（在办 open）"
    assert desk[n["C"]] == f"{n['A']}（在办 open）"
    assert desk[n["G"]] == n["F"]  # closed: listed, not offered for the merge
    assert desk[n["E"]] == ""
    assert all("疑似重复 Possible repeat" not in row for row in tables["UA"])


def test_a_returned_grievance_is_checked_again(built: Builder) -> None:
    n, e, st = built.numbers, built.engine, built.stamp
    uc.return_to_desk(e, n["A"], st(HANDLER_A, local(11, 20, 11)), reason="非本单位职责")
    # A waits for the desk again (改派 or 并单): B and C, both open, are its candidates
    assert _repeats(built, "A") == [(n["B"], ("phone",), True), (n["C"], ("plate",), True)]


def test_the_form_links_to_the_grievances_evidence_and_to_search(built: Builder) -> None:
    number = built.numbers["E"]
    snap = worklist.read(built.engine, number)
    assert snap is not None
    text = snap.description()
    assert f"[证据材料 Evidence](/gate/attachments?number={number})" in text
    assert "[查找工单 Find a grievance](/gate/find)" in text
    assert "[我的待办 My worklist](/gate/worklist)" in text
    assert "[时限看板 SLA board](/gate/board)" in text
