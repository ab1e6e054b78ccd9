"""Finding grievances (service layer) and the duplicate hint's window: open ones and those
closed within 30 days are candidates; older closes, merged ones and the new one itself not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service import cases as uc
from service import finding
from tests.conftest import DESK, HANDLER, HANDLER_B, Driver
from workflow.errors import InvalidInput


def test_find_by_each_key_normalised_and_narrowed(driver: Driver) -> None:
    a = driver.to("handling")
    b = driver.accept(phone="13900001111", plate=None)
    engine = driver.engine
    assert [c.number for c in finding.find_cases(engine, DESK, "phone", "139 0000 1111")] == [
        b.number
    ]
    assert [c.number for c in finding.find_cases(engine, DESK, "plate", "川B·12345")] == [a.number]
    assert [c.number for c in finding.find_cases(engine, HANDLER, "ref", a.ref)] == [a.number]
    assert finding.find_cases(engine, HANDLER_B, "number", a.number) == []
    assert finding.find_cases(engine, HANDLER, "number", b.number) == []
    with pytest.raises(InvalidInput, match="find by one of"):
        finding.find_cases(engine, DESK, "name", "王建国")


def test_duplicates_are_open_or_closed_within_30_days(driver: Driver) -> None:
    engine = driver.engine
    closed = driver.to("closed")
    closed_at = closed.closed_at
    assert closed_at is not None
    open_one = driver.accept(plate="川A11111")  # same phone
    other = driver.accept(phone="13700000000", plate="川A22222")
    merged = driver.accept(phone="13700000000", plate="川A11111")
    uc.merge(engine, merged.number, driver.stamp(DESK), into=open_one.number, reason="重复来电")

    new = driver.accept(phone="13812345678", plate="川A11111")
    found = finding.duplicate_candidates(engine, new, closed_at + timedelta(days=30))
    assert [(c.number, c.same, c.open) for c in found] == [
        (closed.number, ("phone",), False),
        (open_one.number, ("phone", "plate"), True),
    ]
    later = finding.duplicate_candidates(engine, new, closed_at + timedelta(days=30, seconds=1))
    assert [c.number for c in later] == [open_one.number]
    hint = finding.duplicate_hint(later)
    assert hint is not None and f"--into {open_one.number}" in hint
    assert finding.duplicate_hint([]) is None
    assert other.number not in {c.number for c in found}
