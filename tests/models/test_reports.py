"""Measures, digests' lists and repeats, counted by hand on small data sets built through the
use cases at explicit instants (never the wall clock).

The November 2026 data set (local times, Asia/Shanghai; business hours 08:30-12:00 and
14:00-17:30; policy 2142: assign 2 business hours, feedback 1 working day, close 4 working
days, revisit 2 working days). The report is seen at Tue 2026-12-01 09:00.

| G | unit | category | channel | amount | story |
|---|---|---|---|---|---|
| 1 | UA | freight_unpaid | 12328 | 3500 | Mon 11-02 09:00 accepted, assigned 09:30, closed Wed 11-04 10:00 resolved (3500 recovered), satisfied |
| 2 | UA | toll_etc | mini | 200 | Mon 11-02 09:00 accepted, assigned 14:00 (late: due 11:00), closed Tue 11-03 10:00 partly resolved (100 recovered), basically satisfied |
| 3 | UB | platform_fee | 12328 | - | Tue 11-03 09:00 accepted, assigned 09:30, returned 10:00, reassigned to UB 10:30, closed Wed 11-04 15:00 resolved, satisfied |
| 4 | UA | freight_unpaid | mini | 10000 | Wed 11-04 09:00 accepted, closed Thu 11-05 09:00 unresolved, dissatisfied, redone Fri 11-06 10:00, closed late Mon 11-16 10:00 resolved (8000 recovered), satisfied |
| 5 | UB | toll_etc | 12328 | 500 | Thu 11-05 09:00 accepted, closed no_fault by UB's supervisor Fri 11-06 11:00, dissatisfied |
| 6 | UA | platform_fee | mini | - | Mon 11-09 09:00 accepted, closed 15:00 resolved, driver unreachable |
| 7 | UB | freight_unpaid | mini | 1000 | Mon 11-23 09:00 accepted, assigned 09:30, signed; still open (feedback and close overdue) |
| 8 | - | freight_unpaid | 12328 | 3500 | Tue 11-10 accepted, merged into G7 on 11-24: not in the cohort |
| 9 | - | toll_etc | 12328 | 300 | Mon 11-30 16:30 accepted, never assigned (assign due Tue 12-01 09:30) |

G1 and G4 (and the merged G8) come from the same phone, G2 and G3 from another; G1, G4 and
G7 (and G8) name the respondent 顺达物流, G2 and G5 某ETC公司. October holds P1 (UA) and P2
(UB), both closed and revisited; September holds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from models import group_counts, open_work, repeat_counts, trend_counts
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.reading import show
from service.units import add_unit
from tests.conftest import DESK, HANDLER, REVIEWER, Driver, accept_command, database_url_for
from workflow.actor import Actor
from workflow.errors import InvalidInput
from workflow.measures import Counts, Measures, Overdue, Repeat, TrendPoint, day_of, month_of
from workflow.vocab import Role

SH = ZoneInfo("Asia/Shanghai")
UTC_ZONE = ZoneInfo("UTC")
HANDLER_A = HANDLER  # handler-a of UA
HANDLER_B = Actor("handler-b", Role.HANDLER, "UB")
SUPERVISOR_B = Actor("supervisor-b", Role.SUPERVISOR, "UB")
PHONE_1, PHONE_2 = "13812345678", "13900001111"
NOVEMBER = month_of(date(2026, 11, 1))
AS_OF = datetime(2026, 12, 1, 9, 0, tzinfo=SH)
FINDINGS = {
    "verification": "调取ETC通行记录",
    "facts": "通行费按规定收取",
    "basis": "《收费公路管理条例》",
    "explanation": "已电话告知司机核查结果",
    "explained_at": "2026-11-06T10:30:00+08:00",
    "evidence": ["通行记录"],
}
HOUR = 3600


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


@dataclass
class Builder:
    """Drives grievances through the use cases, each step at the instant it names."""

    engine: Engine
    refs: int = 0
    numbers: dict[str, str] = field(default_factory=dict)

    def stamp(self, actor: Actor, at: datetime) -> Stamp:
        return Stamp(actor=actor, at=at, recorded_at=at)

    def accept(self, name: str, at: datetime, **data: Any) -> str:
        self.refs += 1
        data.setdefault("ref", f"REP-{self.refs}")
        case = uc.accept(self.engine, accept_command(**data), self.stamp(DESK, at))
        self.numbers[name] = case.number
        return case.number

    def handled(self, name: str, at: datetime, unit: str, handler: Actor, **data: Any) -> str:
        """Accepted at `at`, assigned 10 minutes later, signed 10 minutes after that."""
        number = self.accept(name, at, **data)
        uc.assign(self.engine, number, self.stamp(DESK, at + timedelta(minutes=10)), unit=unit)
        uc.sign(self.engine, number, self.stamp(handler, at + timedelta(minutes=20)))
        return number


def build_november(engine: Engine) -> Builder:
    b = Builder(engine)
    e, st = engine, b.stamp
    for code in ("UA", "UB"):
        add_unit(e, st(DESK, local(9, 1, 9)), code=code, name=f"单位{code}")

    # October: P1 (UA) and P2 (UB), closed and revisited the same week.
    for name, unit, handler, day in (("P1", "UA", HANDLER_A, 20), ("P2", "UB", HANDLER_B, 21)):
        n = b.handled(name, local(10, day, 9), unit, handler, phone="13700000000")
        uc.close(e, n, st(handler, local(10, day, 15)), result="resolved", note="已解决")
        uc.revisit(e, n, st(DESK, local(10, day + 1, 10)), satisfaction="satisfied")

    # G1: on time everywhere; feedback, then closed Wed 10:00.
    n = b.accept(
        "G1", local(11, 2, 9), phone=PHONE_1, respondent="顺达物流", amount="3500"
    )  # channel hotline_12328, category freight_unpaid (the defaults)
    uc.assign(e, n, st(DESK, local(11, 2, 9, 30)), unit="UA")
    uc.sign(e, n, st(HANDLER_A, local(11, 2, 9, 40)))
    uc.feedback(e, n, st(HANDLER_A, local(11, 2, 10)), note="已联系货主")
    uc.close(
        e, n, st(HANDLER_A, local(11, 4, 10)), result="resolved", note="已追回", recovered="3500"
    )
    uc.revisit(e, n, st(DESK, local(11, 5, 10)), satisfaction="satisfied")

    # G2: assigned late (3 business hours after acceptance, the limit is 2).
    n = b.accept(
        "G2",
        local(11, 2, 9),
        channel="mini_program",
        category="toll_etc",
        phone=PHONE_2,
        respondent="某ETC公司",
        amount="200",
    )
    uc.assign(e, n, st(DESK, local(11, 2, 14)), unit="UA")
    uc.sign(e, n, st(HANDLER_A, local(11, 2, 14, 10)))
    uc.close(
        e,
        n,
        st(HANDLER_A, local(11, 3, 10)),
        result="partly_resolved",
        note="部分",
        recovered="100",
    )
    uc.revisit(e, n, st(DESK, local(11, 4, 10)), satisfaction="basically_satisfied")

    # G3: returned by UB, reassigned to UB.
    n = b.accept("G3", local(11, 3, 9), category="platform_fee", phone=PHONE_2, amount=None)
    uc.assign(e, n, st(DESK, local(11, 3, 9, 30)), unit="UB")
    uc.return_to_desk(e, n, st(HANDLER_B, local(11, 3, 10)), reason="非本单位职责")
    uc.reassign(e, n, st(DESK, local(11, 3, 10, 30)), unit="UB", reason="经核实属UB")
    uc.sign(e, n, st(HANDLER_B, local(11, 3, 10, 40)))
    uc.close(e, n, st(HANDLER_B, local(11, 4, 15)), result="resolved", note="已解决")
    uc.revisit(e, n, st(DESK, local(11, 5, 10)), satisfaction="satisfied")

    # G4: dissatisfied, redone, closed late in cycle 2 (due Thu 11-12 17:30), then satisfied.
    n = b.handled(
        "G4",
        local(11, 4, 9),
        "UA",
        HANDLER_A,
        channel="mini_program",
        phone=PHONE_1,
        respondent="顺达物流",
        amount="10000",
    )
    uc.close(e, n, st(HANDLER_A, local(11, 5, 9)), result="unresolved", note="货主失联")
    uc.revisit(e, n, st(DESK, local(11, 6, 9)), satisfaction="dissatisfied")
    uc.redo(e, n, st(DESK, local(11, 6, 10)), reason="司机不满意")
    uc.close(
        e, n, st(HANDLER_A, local(11, 16, 10)), result="resolved", note="追回", recovered="8000"
    )
    uc.revisit(e, n, st(DESK, local(11, 17, 10)), satisfaction="satisfied")

    # G5: no fault, closed by UB's supervisor; the driver is dissatisfied (not redone).
    n = b.handled(
        "G5",
        local(11, 5, 9),
        "UB",
        HANDLER_B,
        category="toll_etc",
        phone="13600000005",
        respondent="某ETC公司",
        amount="500",
    )
    uc.close(
        e, n, st(SUPERVISOR_B, local(11, 6, 11)), result="no_fault", note="无责", findings=FINDINGS
    )
    uc.revisit(e, n, st(DESK, local(11, 9, 10)), satisfaction="dissatisfied")

    # G6: the driver could not be reached.
    n = b.handled(
        "G6",
        local(11, 9, 9),
        "UA",
        HANDLER_A,
        channel="mini_program",
        category="platform_fee",
        phone="13600000006",
        amount=None,
    )
    uc.close(e, n, st(HANDLER_A, local(11, 9, 15)), result="resolved", note="已解决")
    uc.revisit(e, n, st(DESK, local(11, 10, 10)), satisfaction="unreachable")

    # G8, a duplicate of G1's driver, merged into G7 later: not in the cohort.
    g8 = b.accept("G8", local(11, 10, 9), phone=PHONE_1, respondent="顺达物流")

    # G7: assigned at 09:30 (business time 30 min), signed; never fed back nor closed.
    n = b.accept(
        "G7",
        local(11, 23, 9),
        channel="mini_program",
        phone="13600000007",
        respondent="顺达物流",
        amount="1000",
    )
    uc.assign(e, n, st(DESK, local(11, 23, 9, 30)), unit="UB")
    uc.sign(e, n, st(HANDLER_B, local(11, 23, 9, 40)))
    uc.merge(e, g8, st(DESK, local(11, 24, 10)), into=n, reason="重复来电")

    # G9: accepted late on Monday, not assigned yet.
    b.accept("G9", local(11, 30, 16, 30), category="toll_etc", phone="13600000009", amount="300")
    return b


@pytest.fixture(scope="module")
def november(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builder]:
    engine = Engine.open(database_url_for(tmp_path_factory.mktemp("reports")))
    try:
        yield build_november(engine)
    finally:
        engine.db.dispose()


def _counts(b: Builder, by: str | None = None, **kw: Any) -> list[Counts]:
    start = kw.pop("start", local(11, 1, 0))
    end = kw.pop("end", local(12, 1, 0))
    with b.engine.db.read() as session:
        return group_counts.counts(session, start, end, kw.pop("as_of", AS_OF), by)


def _measures(b: Builder, period: Any = NOVEMBER, by: str | None = None) -> list[Measures]:
    with b.engine.db.read() as session:
        return group_counts.measures(session, period, AS_OF, by)


# Close timers' business time used (pauses: none), by hand:
#   G1  Mon 09:00-12:00, 14:00-17:30 (6.5 h) + Tue 7 h + Wed 08:30-10:00 (1.5 h)  = 15 h
#   G2  Mon 6.5 h + Tue 08:30-10:00 1.5 h                                         =  8 h
#   G3  Tue 09:00-17:30 6.5 h + Wed 08:30-12:00, 14:00-15:00 4.5 h                = 11 h
#   G4  cycle 1: Wed 6.5 h + Thu 08:30-09:00 0.5 h                                =  7 h
#       cycle 2: Fri 10:00-17:30 5.5 h + Mon-Fri 11-09..13 5 x 7 h + Mon 1.5 h    = 42 h
#   G5  Thu 6.5 h + Fri 08:30-11:00 2.5 h                                         =  9 h
#   G6  Mon 09:00-12:00, 14:00-15:00                                              =  4 h
USED = {"G1": 15, "G2": 8, "G3": 11, "G4": 7 + 42, "G5": 9, "G6": 4}


def test_counts_of_the_whole_cohort_by_hand(november: Builder) -> None:
    assert _counts(november) == [
        Counts(
            key=None,
            accepted=8,  # G1-G7 and G9; G8 is merged
            assign_done=7,  # G1-G7 stopped; G9's is open and due only at 09:30
            assign_met=6,  # all but G2 (assigned at 14:00, due 11:00)
            close_done=7,  # G1, G2, G3, G4 (twice), G5, G6
            close_met=6,  # G4's second close came Mon 11-16, due Thu 11-12 17:30
            closed=6,  # G1-G6
            resolved=4,  # G1, G3, G4 (cycle 2), G6 (G2 partly, G5 no fault)
            no_fault=1,  # G5
            revisited=5,  # G1, G2, G3, G4, G5 (G6 unreachable)
            satisfied=4,  # G1, G2 (basically), G3, G4 (G5 dissatisfied)
            assigned=7,  # all but G9
            returned=1,  # G3
            redone=1,  # G4
            first_handled=7,  # all but G9 were signed
            stayed=7,  # none moved after signing (G3 was returned before UB signed)
            first_contact=2,  # G1, G6 (G2 partly, G3 returned, G4 redone, G5 no fault)
            used_seconds=sum(USED.values()) * HOUR,  # 96 h
            overdue=2,  # G7's feedback (due 11-24) and close (due 11-27)
            amount_fen=(3500 + 200 + 10000 + 500 + 1000 + 300) * 100,
            recovered_fen=(3500 + 100 + 8000) * 100,
        )
    ]


def test_counts_by_unit_put_the_never_assigned_last(november: Builder) -> None:
    assert _counts(november, "unit") == [
        Counts(
            key="UA",  # G1, G2, G4, G6
            accepted=4,
            assign_done=4,
            assign_met=3,
            close_done=5,
            close_met=4,
            closed=4,
            resolved=3,
            revisited=3,
            satisfied=3,
            assigned=4,
            returned=0,
            redone=1,
            first_handled=4,
            stayed=4,
            first_contact=2,  # G1, G6
            used_seconds=(15 + 8 + 49 + 4) * HOUR,
            overdue=0,
            amount_fen=(3500 + 200 + 10000) * 100,
            recovered_fen=(3500 + 100 + 8000) * 100,
        ),
        Counts(
            key="UB",  # G3, G5, G7
            accepted=3,
            assign_done=3,
            assign_met=3,
            close_done=2,
            close_met=2,
            closed=2,
            resolved=1,
            no_fault=1,  # G5
            revisited=2,
            satisfied=1,
            assigned=3,
            returned=1,
            redone=0,
            first_handled=3,
            stayed=3,
            first_contact=0,  # G3 returned, G5 no fault, G7 open
            used_seconds=(11 + 9) * HOUR,
            overdue=2,
            amount_fen=(500 + 1000) * 100,
            recovered_fen=0,
        ),
        Counts(key=None, accepted=1, amount_fen=300 * 100),  # G9
    ]


def test_counts_by_category_and_by_channel(november: Builder) -> None:
    assert _counts(november, "category") == [
        Counts(
            key="freight_unpaid",  # G1, G4, G7
            accepted=3,
            assign_done=3,
            assign_met=3,
            close_done=3,
            close_met=2,
            closed=2,
            resolved=2,
            revisited=2,
            satisfied=2,
            assigned=3,
            redone=1,
            first_handled=3,
            stayed=3,
            first_contact=1,  # G1
            used_seconds=(15 + 49) * HOUR,
            overdue=2,
            amount_fen=(3500 + 10000 + 1000) * 100,
            recovered_fen=(3500 + 8000) * 100,
        ),
        Counts(
            key="platform_fee",  # G3, G6
            accepted=2,
            assign_done=2,
            assign_met=2,
            close_done=2,
            close_met=2,
            closed=2,
            resolved=2,
            revisited=1,
            satisfied=1,
            assigned=2,
            returned=1,
            first_handled=2,
            stayed=2,
            first_contact=1,  # G6
            used_seconds=(11 + 4) * HOUR,
        ),
        Counts(
            key="toll_etc",  # G2, G5, G9
            accepted=3,
            assign_done=2,
            assign_met=1,
            close_done=2,
            close_met=2,
            closed=2,
            resolved=0,
            no_fault=1,  # G5
            revisited=2,
            satisfied=1,
            assigned=2,
            first_handled=2,
            stayed=2,
            used_seconds=(8 + 9) * HOUR,
            amount_fen=(200 + 500 + 300) * 100,
            recovered_fen=100 * 100,
        ),
    ]
    assert _counts(november, "channel") == [
        Counts(
            key="hotline_12328",  # G1, G3, G5, G9
            accepted=4,
            assign_done=3,
            assign_met=3,
            close_done=3,
            close_met=3,
            closed=3,
            resolved=2,
            no_fault=1,  # G5
            revisited=3,
            satisfied=2,
            assigned=3,
            returned=1,
            first_handled=3,
            stayed=3,
            first_contact=1,  # G1
            used_seconds=(15 + 11 + 9) * HOUR,
            amount_fen=(3500 + 500 + 300) * 100,
            recovered_fen=3500 * 100,
        ),
        Counts(
            key="mini_program",  # G2, G4, G6, G7
            accepted=4,
            assign_done=4,
            assign_met=3,
            close_done=4,
            close_met=3,
            closed=3,
            resolved=2,
            revisited=2,
            satisfied=2,
            assigned=4,
            redone=1,
            first_handled=4,
            stayed=4,
            first_contact=1,  # G6
            used_seconds=(8 + 49 + 4) * HOUR,
            overdue=2,
            amount_fen=(200 + 10000 + 1000) * 100,
            recovered_fen=(100 + 8000) * 100,
        ),
    ]


def test_measures_of_the_month_by_hand(november: Builder) -> None:
    [total] = _measures(november)
    assert total.key is None and total.volume == 8
    assert total.response_rate == pytest.approx(6 / 7)
    assert total.on_time_rate == pytest.approx(6 / 7)
    assert total.resolution_rate == pytest.approx(4 / 5)  # G5's no-fault close is left out
    assert total.satisfaction_rate == pytest.approx(4 / 5)
    assert total.revisit_rate == pytest.approx(5 / 6)
    assert total.return_rate == pytest.approx(1 / 7)
    assert total.redo_rate == pytest.approx(1 / 6)
    assert total.average_handling_hours == pytest.approx(96 / 7)
    assert total.overdue == 2
    assert total.previous_accepted == 2  # P1, P2 in October
    assert total.volume_change == pytest.approx((8 - 2) / 2)


def test_measures_by_unit_compare_each_unit_with_its_own_last_month(november: Builder) -> None:
    ua, ub, unassigned = _measures(november, by="unit")
    assert (ua.key, ub.key, unassigned.key) == ("UA", "UB", None)
    assert ua.response_rate == pytest.approx(3 / 4)
    assert ua.on_time_rate == pytest.approx(4 / 5)
    assert ua.resolution_rate == pytest.approx(3 / 4)
    assert ua.satisfaction_rate == 1.0  # 3 / 3: G6 unreachable is no answer
    assert ua.revisit_rate == pytest.approx(3 / 4)
    assert ua.redo_rate == pytest.approx(1 / 4)
    assert ua.average_handling_hours == pytest.approx(76 / 5)
    assert (ua.previous_accepted, ua.volume_change) == (1, 3.0)  # (4 - 1) / 1
    assert ub.response_rate == 1.0 and ub.on_time_rate == 1.0
    assert ub.resolution_rate == 1.0  # G3 out of G3 (G5 no fault is left out, not 1 / 2)
    assert ub.satisfaction_rate == pytest.approx(1 / 2)
    assert ub.return_rate == pytest.approx(1 / 3)
    assert ub.average_handling_hours == pytest.approx(10.0)  # 20 h / 2
    assert (ub.overdue, ub.previous_accepted, ub.volume_change) == (2, 1, 2.0)
    # G9: nothing assigned, closed or revisited yet: every rate has a zero denominator
    assert unassigned.response_rate is None and unassigned.resolution_rate is None
    assert unassigned.return_rate is None and unassigned.average_handling_hours is None
    assert (unassigned.previous_accepted, unassigned.volume_change) == (0, None)


def test_several_groupings_in_one_pass_agree_with_one_at_a_time(november: Builder) -> None:
    bys: list[str | None] = ["unit", "category", None, "channel"]
    with november.engine.db.read() as session:
        together = group_counts.measures_by(session, NOVEMBER, AS_OF, bys)
        alone = {by: group_counts.measures(session, NOVEMBER, AS_OF, by) for by in bys}
        counted = group_counts.counts_by(session, local(11, 1, 0), local(12, 1, 0), AS_OF, bys)
    assert together == alone
    assert counted == {by: [m.counts for m in together[by]] for by in bys}


def test_the_trend_in_one_statement_agrees_with_one_month_at_a_time(november: Builder) -> None:
    # July to December: empty months, September (empty) before October (2), November (8),
    # December (none yet, November before it); in Shanghai and in UTC month boundaries.
    months = [month_of(date(2026, m, 1)) for m in range(7, 13)]
    sent: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    for tz in (SH, UTC_ZONE):
        with november.engine.db.read() as session:
            one_by_one = [
                TrendPoint.of(group_counts.measures(session, m, AS_OF, None, tz)[0]) for m in months
            ]
            event.listen(november.engine.db.engine, "before_cursor_execute", count)
            try:
                together = trend_counts.trend(session, months, tz)
            finally:
                event.remove(november.engine.db.engine, "before_cursor_execute", count)
        assert together == one_by_one
        assert len([s for s in sent if s.lstrip().upper().startswith("SELECT")]) == 1
        sent.clear()
    by_month = dict(zip([m.start.month for m in months], together, strict=True))
    assert (by_month[10].volume, by_month[10].previous_accepted) == (2, 0)
    assert (by_month[11].volume, by_month[11].previous_accepted) == (8, 2)
    assert (by_month[12].volume, by_month[12].previous_accepted) == (0, 8)
    with november.engine.db.read() as session:
        assert trend_counts.trend(session, []) == []
        assert trend_counts.trend(session, months[3:5], UTC_ZONE) == one_by_one[3:5]
        with pytest.raises(InvalidInput, match="follow each other"):
            trend_counts.trend(session, [months[0], months[2]])


def test_a_month_after_an_empty_month_has_no_volume_change(november: Builder) -> None:
    [october] = _measures(november, month_of(date(2026, 10, 1)))
    assert october.volume == 2 and october.satisfaction_rate == 1.0
    assert (october.previous_accepted, october.volume_change) == (0, None)  # September: none
    assert [m.volume_change for m in _measures(november, month_of(date(2026, 10, 1)), "unit")] == [
        None,
        None,
    ]


def test_an_empty_period_counts_zeros_and_has_no_rates(november: Builder) -> None:
    [august] = _measures(november, month_of(date(2026, 8, 1)))
    assert august.counts == Counts(key=None)
    assert august.previous_accepted == 0
    rates = (
        august.response_rate,
        august.on_time_rate,
        august.resolution_rate,
        august.satisfaction_rate,
        august.revisit_rate,
        august.return_rate,
        august.redo_rate,
        august.average_handling_hours,
        august.volume_change,
    )
    assert rates == (None,) * len(rates)
    assert _measures(november, month_of(date(2026, 8, 1)), "unit") == []
    # December so far has no grievance either, but November had 8: down 100 %
    [december] = _measures(november, month_of(date(2026, 12, 1)))
    assert (december.volume, december.previous_accepted, december.volume_change) == (0, 8, -1.0)


def test_the_instant_as_of_decides_what_is_done_and_overdue(november: Builder) -> None:
    # At 10:00 G9's assign timer (due 09:30) is past due: done (not met), and overdue.
    [later] = _counts(november, as_of=local(12, 1, 10))
    assert (later.assign_done, later.assign_met, later.overdue) == (8, 6, 3)
    # On 11-25 only G7's feedback (due 11-24 17:30) was late.
    [earlier] = _counts(november, as_of=local(11, 25, 9))
    assert earlier.overdue == 1


def test_periods_are_local_dates_and_boundaries_instants_in_any_zone(november: Builder) -> None:
    # G9 was accepted Mon 11-30 16:30 in Shanghai, 08:30 UTC: the last November grievance.
    in_utc = _counts(
        november, start=datetime(2026, 10, 31, 16, 0, tzinfo=UTC_ZONE), end=local(11, 30, 16, 30)
    )
    assert in_utc[0].accepted == 7  # [start, end): G9 accepted at `end` is outside
    with november.engine.db.read() as session:
        [day] = group_counts.measures(session, day_of(date(2026, 11, 30)), AS_OF)
        [utc_day] = group_counts.measures(session, day_of(date(2026, 11, 30)), AS_OF, tz=UTC_ZONE)
        honolulu = ZoneInfo("Pacific/Honolulu")  # UTC-10: its 11-29 ends at 11-30 10:00 UTC
        [hawaii_30] = group_counts.measures(session, day_of(date(2026, 11, 30)), AS_OF, tz=honolulu)
        [hawaii_29] = group_counts.measures(session, day_of(date(2026, 11, 29)), AS_OF, tz=honolulu)
    assert (day.volume, utc_day.volume, hawaii_30.volume, hawaii_29.volume) == (1, 1, 0, 1)


def test_an_unknown_grouping_is_refused(november: Builder) -> None:
    with pytest.raises(InvalidInput, match="cannot group by 'respondent'"):
        _counts(november, "respondent")


def test_closed_but_not_revisited_yet_has_no_satisfaction_rate(driver: Driver) -> None:
    driver.to("closed")  # accepted Mon 11-23 09:10, closed at 09:40 the same day
    with driver.engine.db.read() as session:
        [m] = group_counts.measures(session, day_of(date(2026, 11, 23)), driver.now)
    assert (m.volume, m.counts.closed, m.counts.resolved, m.counts.revisited) == (1, 1, 1, 0)
    assert m.resolution_rate == 1.0 and m.revisit_rate == 0.0
    assert m.satisfaction_rate is None
    assert m.counts.used_seconds == 30 * 60  # 09:10-09:40


def test_repeat_complainants_show_masked_phones_only(november: Builder) -> None:
    with november.engine.db.read() as session:
        found = repeat_counts.repeat_complainants(session, local(11, 1, 0), local(12, 1, 0))
        none_thrice = repeat_counts.repeat_complainants(
            session, local(11, 1, 0), local(12, 1, 0), min_count=3
        )
    n = november.numbers
    assert found == [
        Repeat("138****5678", 2, (n["G1"], n["G4"])),  # G8 is merged away
        Repeat("139****1111", 2, (n["G2"], n["G3"])),
    ]
    assert PHONE_1 not in repr(found) and PHONE_2 not in repr(found)
    assert none_thrice == []


def test_repeat_respondents_most_frequent_first(november: Builder) -> None:
    with november.engine.db.read() as session:
        found = repeat_counts.repeat_respondents(session, local(11, 1, 0), local(12, 1, 0))
        top = repeat_counts.repeat_respondents(session, local(11, 1, 0), local(12, 1, 0), limit=1)
    n = november.numbers
    assert found == [
        Repeat("顺达物流", 3, (n["G1"], n["G4"], n["G7"])),
        Repeat("某ETC公司", 2, (n["G2"], n["G5"])),
    ]
    assert top == found[:1]


def test_overdue_list_is_late_in_business_time_across_the_weekend(november: Builder) -> None:
    e = november.engine
    g7 = november.numbers["G7"]
    with e.db.read() as session:
        late = open_work.overdue_list(session, AS_OF, e.calendar, e.policies)
        of_ua = open_work.overdue_list(session, AS_OF, e.calendar, e.policies, unit="UA")
        of_ub = open_work.overdue_list(session, AS_OF, e.calendar, e.policies, unit="UB", limit=1)
    # feedback due Tue 11-24 17:30: Wed, Thu, Fri, Mon 4 x 7 h + Tue 08:30-09:00 = 28.5 h
    # close due Fri 11-27 17:30: the weekend does not count, Mon 7 h + Tue 0.5 h = 7.5 h
    assert late == [
        Overdue(g7, "feedback", 1, "UB", "freight_unpaid", local(11, 24, 17, 30), 28 * HOUR + 1800),
        Overdue(g7, "close", 1, "UB", "freight_unpaid", local(11, 27, 17, 30), 7 * HOUR + 1800),
    ]
    assert of_ua == [] and of_ub == late[:1]


def test_overdue_list_natural_clock_and_most_late_first(engine: Engine) -> None:
    b = Builder(engine)
    urgent = b.accept("U", local(11, 27, 17), urgent=True)  # Fri 17:00, assign 30 min natural
    normal = b.accept("N", local(11, 27, 9))  # Fri 09:00, assign 2 business hours
    as_of = local(11, 30, 9)  # Monday 09:00
    with engine.db.read() as session:
        late = open_work.overdue_list(session, as_of, engine.calendar, engine.policies)
    assert [(o.number, o.target, o.late_seconds) for o in late] == [
        (urgent, "assign", int(timedelta(days=2, hours=15, minutes=30).total_seconds())),
        (urgent, "feedback", 60 * HOUR),  # due Fri 21:00 (4 h natural)
        (normal, "assign", 5 * HOUR),  # due Fri 11:00: Fri 1 h + 3.5 h, Mon 0.5 h
    ]  # the normal one has the earliest deadline but is the least late


def test_due_between_lists_what_falls_due_today(november: Builder) -> None:
    g9 = november.numbers["G9"]
    with november.engine.db.read() as session:
        today = open_work.due_between(session, local(12, 1, 0), local(12, 2, 0))
        soon = open_work.due_between(session, local(12, 2, 0), local(12, 8, 0), unit="UB")
        first = open_work.due_between(session, local(12, 1, 0), local(12, 8, 0), limit=1)
    assert today == [
        Overdue(g9, "assign", 1, None, "toll_etc", local(12, 1, 9, 30), 0),
        Overdue(g9, "feedback", 1, None, "toll_etc", local(12, 1, 17, 30), 0),
    ]
    assert soon == []  # G9's close (Fri 12-04) has no unit yet; UB's G7 is overdue already
    with november.engine.db.read() as session:
        of_ub = open_work.due_between(session, local(11, 20, 0), local(11, 30, 0), unit="UB")
    assert [(o.target, o.due_at) for o in of_ub] == [  # G7's, whatever the instant now
        ("feedback", local(11, 24, 17, 30)),
        ("close", local(11, 27, 17, 30)),
    ]
    assert first == today[:1]


def test_units_with_open_work(november: Builder, engine: Engine) -> None:
    with november.engine.db.read() as session:
        assert open_work.units_with_open_work(session) == ["UB"]  # G7; G9 has no unit yet
    with engine.db.read() as session:
        assert open_work.units_with_open_work(session) == []


def test_reviewed_grievances_stay_closed_and_resolved(driver: Driver) -> None:
    number = driver.to("revisited").number
    uc.review(driver.engine, number, driver.stamp(REVIEWER), root_cause="rc", actions="acts")
    with driver.engine.db.read() as session:
        [c] = group_counts.counts(session, local(11, 23, 0), local(11, 24, 0), driver.now)
        units = open_work.units_with_open_work(session)
    assert (c.accepted, c.closed, c.resolved, c.revisited, c.satisfied) == (1, 1, 1, 1, 1)
    assert (c.assign_done, c.assign_met, c.close_done, c.close_met) == (1, 1, 1, 1)
    assert units == []


def test_the_data_set_itself_is_what_the_table_says(november: Builder) -> None:
    """Guards the hand counts: the close timers used what the comment above says."""
    used: dict[str, int] = {}
    for name in USED:
        view = show(november.engine, november.numbers[name], DESK)
        used[name] = sum(
            int(t.used.total_seconds()) for t in view.timers if t.target == "close" and t.stopped_at
        )
    assert used == {name: hours * HOUR for name, hours in USED.items()}
