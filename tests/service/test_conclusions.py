"""Closing facts the documents and measures rest on: no-fault findings, respondent, time used."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service import cases as uc
from service.reading import show
from tests.conftest import DESK, HANDLER, SUPERVISOR, Driver
from workflow.errors import GuardFailed, InvalidInput, PermissionDenied
from workflow.timers import TimerState

FINDINGS = {
    "verification": "调取运单、通话记录",
    "facts": "运费已于11月20日结清",
    "basis": "《道路货物运输及站场管理规定》",
    "explanation": "已电话告知司机核查结果",
    "explained_at": "2026-11-23T15:00:00+08:00",
    "evidence": ["运单截图", "转账凭证"],
}


def test_a_no_fault_conclusion_needs_its_findings_and_the_supervisor(driver: Driver) -> None:
    number = driver.to("handling").number
    engine = driver.engine
    with pytest.raises(InvalidInput, match="needs its findings"):
        uc.close(engine, number, driver.stamp(SUPERVISOR), result="no_fault", note="无责")
    with pytest.raises(PermissionDenied, match="closed by the unit supervisor"):
        uc.close(
            engine,
            number,
            driver.stamp(HANDLER),
            result="no_fault",
            note="无责",
            findings=FINDINGS,
        )
    with pytest.raises(InvalidInput, match="findings belong to"):
        uc.close(
            engine,
            number,
            driver.stamp(SUPERVISOR),
            result="resolved",
            note="已解决",
            findings=FINDINGS,
        )
    missing = {k: v for k, v in FINDINGS.items() if k != "evidence"}
    with pytest.raises(InvalidInput, match="evidence"):
        uc.close(
            engine,
            number,
            driver.stamp(SUPERVISOR),
            result="no_fault",
            note="无责",
            findings=missing,
        )
    case = uc.close(
        engine,
        number,
        driver.stamp(SUPERVISOR),
        result="unsubstantiated",
        note="不属实",
        findings=FINDINGS,
    )
    assert case.state.value == "closed"
    close_event = show(engine, number, DESK).events[-1]
    assert close_event.payload["findings"]["evidence"] == ["运单截图", "转账凭证"]
    assert close_event.actor == SUPERVISOR.name


def test_the_respondent_is_registered_and_can_be_corrected(driver: Driver) -> None:
    case = driver.accept(respondent="顺达物流有限公司")
    assert case.respondent == "顺达物流有限公司"
    amended = uc.amend(
        driver.engine, case.number, driver.stamp(DESK), reason="更正名称", respondent="顺达物流"
    )
    assert amended.respondent == "顺达物流"
    with pytest.raises(GuardFailed, match="changes nothing"):
        uc.amend(
            driver.engine, case.number, driver.stamp(DESK), reason="重复", respondent="顺达物流"
        )


def test_a_stopped_timer_knows_the_business_time_it_used(driver: Driver) -> None:
    """Accepted Mon 09:10, suspended 40 min, closed 3 working days later: pauses excluded."""
    number = driver.to("handling").number  # accepted 09:10, assigned 09:20, signed 09:30
    engine = driver.engine
    uc.suspend(engine, number, driver.stamp(SUPERVISOR, 10), reason="等待材料")  # 09:40
    uc.resume(engine, number, driver.stamp(HANDLER, 40))  # 10:20
    driver.now += timedelta(days=2)  # Wed 10:20
    uc.close(engine, number, driver.stamp(HANDLER, 0), result="resolved", note="已解决")
    close = next(t for t in show(engine, number, DESK).timers if t.target == "close")
    assert close.state is TimerState.MET
    # Mon 09:10-12:00 + 14:00-17:30 = 6h20m, Tue 7h, Wed 08:30-10:20 = 1h50m; minus 40 min
    assert close.used == timedelta(hours=14, minutes=30)
