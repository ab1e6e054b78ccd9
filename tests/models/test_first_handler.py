"""首办负责 figures counted by hand: per unit, the grievances it signed first, how many stayed
with it, its returns and reassignments away (from the audit log), and the first-contact
resolution rate.

November 2026 (local times), units UA, UB, UC; every grievance accepted at 09:00 on its day,
assigned 10 minutes later. Seen at Tue 2026-12-01 09:00.

| F | day | story | first handler | lead now |
|---|---|---|---|---|
| 1 | 11-02 | UA signs, closes resolved | UA | UA |
| 2 | 11-03 | UA returns it unsigned, reassigned to UB, UB signs, closes resolved | UB | UB |
| 3 | 11-04 | UA signs, then returns it, reassigned to UC, UC signs, closes resolved | UA | UC |
| 4 | 11-05 | UB signs, returns it, reassigned to UB again, signs, closes no_fault | UB | UB |
| 5 | 11-06 | UC signs, closes resolved, dissatisfied, redone, closes resolved | UC | UC |
| 6 | 11-09 | assigned to UC, not signed | — | UC |
| 7 | 10-26 | (October) assigned to UC; in November UC returns it, reassigned to UA | — | UA |

By hand, per first handler:

| unit | first handled | stayed | returns | reassigned away | first contact / closed less no fault |
|---|---|---|---|---|---|
| UA | F1, F3 = 2 | F1 = 1 | F2, F3 = 2 | F2 (to UB), F3 (to UC) = 2 | F1 / (F1, F3) = 1 / 2 |
| UB | F2, F4 = 2 | 2 | F4 = 1 | 0 (F4 came back to UB) | 0 / (F2; F4 no fault) = 0 / 1 |
| UC | F5 = 1 | 1 | 0 (F7 is October's) | 0 | 0 / F5 (redone) = 0 / 1 |
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from models import group_counts, handoffs
from service import cases as uc
from service.engine import Engine
from service.units import add_unit
from tests.conftest import DESK, database_url_for
from tests.models.test_reports import FINDINGS, HANDLER_A, HANDLER_B, SUPERVISOR_B, Builder, local
from workflow.actor import Actor
from workflow.measures import FirstHandler, Handoffs, first_handlers, month_of
from workflow.vocab import Role

HANDLER_C = Actor("handler-c", Role.HANDLER, "UC")
NOVEMBER = month_of(date(2026, 11, 1))
AS_OF = local(12, 1, 9)


def build(engine: Engine) -> None:
    b = Builder(engine)
    e, st = engine, b.stamp
    for code in ("UA", "UB", "UC"):
        add_unit(e, st(DESK, local(9, 1, 9)), code=code, name=f"单位{code}")

    def accepted(name: str, month: int, day: int, unit: str) -> str:
        n = b.accept(name, local(month, day, 9), phone=f"1360000000{name[1]}")
        uc.assign(e, n, st(DESK, local(month, day, 9, 10)), unit=unit)
        return n

    n = accepted("F1", 11, 2, "UA")
    uc.sign(e, n, st(HANDLER_A, local(11, 2, 9, 20)))
    uc.close(e, n, st(HANDLER_A, local(11, 2, 15)), result="resolved", note="已解决")

    n = accepted("F2", 11, 3, "UA")
    uc.return_to_desk(e, n, st(HANDLER_A, local(11, 3, 9, 20)), reason="非本单位职责")
    uc.reassign(e, n, st(DESK, local(11, 3, 9, 30)), unit="UB", reason="属UB")
    uc.sign(e, n, st(HANDLER_B, local(11, 3, 9, 40)))
    uc.close(e, n, st(HANDLER_B, local(11, 3, 15)), result="resolved", note="已解决")

    n = accepted("F3", 11, 4, "UA")
    uc.sign(e, n, st(HANDLER_A, local(11, 4, 9, 20)))
    uc.return_to_desk(e, n, st(HANDLER_A, local(11, 4, 10)), reason="涉及城区通行证")
    uc.reassign(e, n, st(DESK, local(11, 4, 10, 30)), unit="UC", reason="属UC")
    uc.sign(e, n, st(HANDLER_C, local(11, 4, 10, 40)))
    uc.close(e, n, st(HANDLER_C, local(11, 4, 15)), result="resolved", note="已解决")

    n = accepted("F4", 11, 5, "UB")
    uc.sign(e, n, st(HANDLER_B, local(11, 5, 9, 20)))
    uc.return_to_desk(e, n, st(HANDLER_B, local(11, 5, 10)), reason="请核实管辖")
    uc.reassign(e, n, st(DESK, local(11, 5, 10, 30)), unit="UB", reason="经核实仍属UB")
    uc.sign(e, n, st(HANDLER_B, local(11, 5, 10, 40)))
    uc.close(
        e, n, st(SUPERVISOR_B, local(11, 6, 11)), result="no_fault", note="无责", findings=FINDINGS
    )

    n = accepted("F5", 11, 6, "UC")
    uc.sign(e, n, st(HANDLER_C, local(11, 6, 9, 20)))
    uc.close(e, n, st(HANDLER_C, local(11, 6, 15)), result="resolved", note="已解决")
    uc.revisit(e, n, st(DESK, local(11, 9, 9)), satisfaction="dissatisfied")
    uc.redo(e, n, st(DESK, local(11, 9, 10)), reason="司机不满意")
    uc.close(e, n, st(HANDLER_C, local(11, 10, 15)), result="resolved", note="已追回")

    accepted("F6", 11, 9, "UC")

    n = accepted("F7", 10, 26, "UC")
    uc.return_to_desk(e, n, st(HANDLER_C, local(11, 2, 9)), reason="非本单位职责")
    uc.reassign(e, n, st(DESK, local(11, 2, 9, 30)), unit="UA", reason="属UA")


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[FirstHandler]]:
    engine = Engine.open(database_url_for(tmp_path_factory.mktemp("first-handler")))
    try:
        build(engine)
        with engine.db.read() as session:
            by_first = group_counts.measures(session, NOVEMBER, AS_OF, "first_handler")
            moves = handoffs.handoffs(session, local(11, 1, 0), local(12, 1, 0))
        yield first_handlers(by_first, moves)
    finally:
        engine.db.dispose()


def test_returns_and_reassignments_away_per_unit_by_hand(rows: list[FirstHandler]) -> None:
    assert [r.handoffs for r in rows] == [
        Handoffs("UA", returns=2, reassigned_away=2),  # F2, F3
        Handoffs("UB", returns=1, reassigned_away=0),  # F4 came back to UB
        Handoffs("UC"),  # F7's return is of an October grievance
    ]


def test_first_handled_and_stayed_per_unit_by_hand(rows: list[FirstHandler]) -> None:
    assert [(r.unit, r.first_handled, r.stayed) for r in rows] == [
        ("UA", 2, 1),  # F1 stayed, F3 went to UC
        ("UB", 2, 2),  # F2, F4
        ("UC", 1, 1),  # F5 (F6 not signed, F3's first handler is UA)
    ]
    ua, ub, uc_ = rows
    assert ua.stayed_rate == pytest.approx(1 / 2)
    assert ub.stayed_rate == 1.0 and uc_.stayed_rate == 1.0


def test_first_contact_resolution_per_unit_by_hand(rows: list[FirstHandler]) -> None:
    ua, ub, uc_ = rows
    assert ua.first_contact_rate == pytest.approx(1 / 2)  # F1 of F1, F3 (returned)
    assert ub.first_contact_rate == 0.0  # F2 was returned first; F4 no fault is left out
    assert uc_.first_contact_rate == 0.0  # F5 was redone


def test_first_contact_resolution_of_the_cohort(tmp_path_factory: pytest.TempPathFactory) -> None:
    engine = Engine.open(database_url_for(tmp_path_factory.mktemp("first-contact")))
    try:
        build(engine)
        with engine.db.read() as session:
            [m] = group_counts.measures(session, NOVEMBER, AS_OF)
    finally:
        engine.db.dispose()
    # closed F1-F5 (5), no fault F4 (1): 4 closes a unit could resolve, F1 alone at first pass
    assert (m.counts.closed, m.counts.no_fault, m.counts.first_contact) == (5, 1, 1)
    assert m.first_contact_rate == pytest.approx(1 / 4)
    # signed F1-F5 (5); F3 is no longer with UA: 4 stayed
    assert (m.counts.first_handled, m.counts.stayed) == (5, 4)
    assert m.stayed_rate == pytest.approx(4 / 5)
