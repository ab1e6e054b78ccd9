"""How 无责 (no fault) and 不属实 (not substantiated) closes enter the rates, counted by hand
(the rule and its sources: docs/measures.md, "No-fault closes in the rates").

The data set: one unit UA, November 2026 (local times, policy 2142: close limit 4 working
days, business hours 08:30-12:00 and 14:00-17:30), each grievance accepted at 09:00, assigned
10 minutes later (the 2-hour limit met) and signed 10 minutes after that. Seen at
Tue 2026-12-01 09:00.

| N | accepted | story | result now |
|---|---|---|---|
| 1 | Mon 11-02 | closed Tue 11-03 10:00 resolved, satisfied | resolved |
| 2 | Mon 11-02 | closed Wed 11-04 10:00 no_fault (UA's supervisor, findings), dissatisfied | no_fault |
| 3 | Mon 11-09 | closed Wed 11-18 10:00 unsubstantiated, late (due Fri 11-13 at the latest), unreachable | unsubstantiated |
| 4 | Mon 11-09 | closed Tue 11-10 10:00 unresolved, basically satisfied | unresolved |
| 5 | Mon 11-16 | closed Tue 11-17 10:00 partly_resolved, not revisited yet | partly_resolved |
| 6 | Mon 11-16 | closed Tue 11-17 11:00 no_fault, dissatisfied, redone Wed 11-18 10:00: handling again | — (cleared by the redo) |
| 7 | Mon 11-23 | signed, still handling | — |
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from models import group_counts
from service import cases as uc
from service.engine import Engine
from service.units import add_unit
from tests.conftest import DESK, database_url_for
from tests.models.test_reports import FINDINGS, HANDLER_A, Builder, local
from workflow.actor import Actor
from workflow.measures import Counts, Measures, month_of
from workflow.vocab import Role

SUPERVISOR_A = Actor("supervisor-a", Role.SUPERVISOR, "UA")
NOVEMBER = month_of(date(2026, 11, 1))
AS_OF = local(12, 1, 9)


def build(engine: Engine) -> Builder:
    b = Builder(engine)
    e, st = engine, b.stamp
    add_unit(e, st(DESK, local(9, 1, 9)), code="UA", name="单位UA")

    def handled(name: str, month_day: int) -> str:
        return b.handled(
            name, local(11, month_day, 9), "UA", HANDLER_A, phone=f"1360000000{name[1]}"
        )

    n = handled("N1", 2)
    uc.close(e, n, st(HANDLER_A, local(11, 3, 10)), result="resolved", note="已解决")
    uc.revisit(e, n, st(DESK, local(11, 4, 9)), satisfaction="satisfied")

    n = handled("N2", 2)
    uc.close(
        e, n, st(SUPERVISOR_A, local(11, 4, 10)), result="no_fault", note="无责", findings=FINDINGS
    )
    uc.revisit(e, n, st(DESK, local(11, 5, 9)), satisfaction="dissatisfied")

    n = handled("N3", 9)
    uc.close(
        e,
        n,
        st(SUPERVISOR_A, local(11, 18, 10)),
        result="unsubstantiated",
        note="不属实",
        findings=FINDINGS,
    )
    uc.revisit(e, n, st(DESK, local(11, 19, 9)), satisfaction="unreachable")

    n = handled("N4", 9)
    uc.close(e, n, st(HANDLER_A, local(11, 10, 10)), result="unresolved", note="货主失联")
    uc.revisit(e, n, st(DESK, local(11, 11, 9)), satisfaction="basically_satisfied")

    n = handled("N5", 16)
    uc.close(e, n, st(HANDLER_A, local(11, 17, 10)), result="partly_resolved", note="部分追回")

    n = handled("N6", 16)
    uc.close(
        e, n, st(SUPERVISOR_A, local(11, 17, 11)), result="no_fault", note="无责", findings=FINDINGS
    )
    uc.revisit(e, n, st(DESK, local(11, 17, 15)), satisfaction="dissatisfied")
    uc.redo(e, n, st(DESK, local(11, 18, 10)), reason="司机不满意，重新核实")

    handled("N7", 23)
    return b


@pytest.fixture(scope="module")
def total(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measures]:
    engine = Engine.open(database_url_for(tmp_path_factory.mktemp("no-fault")))
    try:
        build(engine)
        with engine.db.read() as session:
            [measures] = group_counts.measures(session, NOVEMBER, AS_OF)
        yield measures
    finally:
        engine.db.dispose()


def test_the_counts_by_hand(total: Measures) -> None:
    c = total.counts
    assert c.accepted == 7
    assert c.closed == 6  # N1-N6 (N6 closed once, then redone)
    assert c.no_fault == 2  # N2 no_fault, N3 unsubstantiated (N6's no_fault was cleared)
    assert c.resolved == 1  # N1
    assert (c.close_done, c.close_met) == (6, 5)  # N1-N6's first closes; N3 late
    assert (c.revisited, c.satisfied) == (3, 2)  # N1, N2, N4 answered; N3 unreachable
    assert (c.assign_done, c.assign_met) == (7, 7)
    assert c.redone == 1  # N6


def test_no_fault_closes_leave_the_resolution_rate_only(total: Measures) -> None:
    # resolved / (closed - no fault) = N1 / (N1, N4, N5, N6) = 1 / 4;
    # counting N2 and N3 against the unit (the old rule) would give 1 / 6
    assert total.resolution_rate == pytest.approx(1 / 4)
    # on time: 5 of 6 closes; N3's late 不属实 close counts as late
    assert total.on_time_rate == pytest.approx(5 / 6)
    # satisfaction: N1 satisfied, N4 basically, N2 (no fault) dissatisfied: 2 / 3
    assert total.satisfaction_rate == pytest.approx(2 / 3)
    # revisit rate: 3 answers (N1, N2, N4) of 6 closed
    assert total.revisit_rate == pytest.approx(3 / 6)
    assert total.response_rate == 1.0  # 7 / 7
    assert total.redo_rate == pytest.approx(1 / 6)  # N6


def test_a_cohort_of_no_fault_closes_only_has_no_resolution_rate() -> None:
    # nothing a unit could resolve: "—", neither 0 % nor 100 %
    only = Measures(None, Counts(None, accepted=2, closed=2, no_fault=2, close_done=2))
    assert only.resolution_rate is None
    assert only.on_time_rate == 0.0  # both closes counted, neither met
    mixed = Measures(None, Counts(None, accepted=3, closed=3, no_fault=1, resolved=1))
    assert mixed.resolution_rate == pytest.approx(1 / 2)
