"""Personal data kept out of Prefect: numbers replaced by references, and put back."""

from __future__ import annotations

import pytest

from service import personal_refs
from service.engine import Engine
from tests.conftest import T0, Driver
from workflow.errors import InvalidInput
from workflow.privacy import REFERENCE


def test_numbers_become_references_and_come_back(engine: Engine) -> None:
    data = {
        "params": {
            "phone": "138 1234 5678",
            "plate": "川B12345",
            "name": "王建国",
            "description": "货主拖欠运费，回电１３９１２３４５６７８或028-66778899，身份证510104199001011234",
            "evidence": ["车牌川A12345的运单"],
            "amount": 3500,
        }
    }
    protected = personal_refs.protect(engine, data, T0, "desk")
    text = str(protected)
    for number in (
        "1234 5678",
        "川B12345",
        "１３９１２３４５６７８",
        "66778899",
        "510104199001011234",
        "川A12345",
    ):
        assert number not in text
    params = protected["params"]
    assert REFERENCE.fullmatch(params["phone"]) and REFERENCE.fullmatch(params["plate"])
    assert params["name"] == "王建国" and params["amount"] == 3500
    assert params["description"].startswith("货主拖欠运费，回电pii:")
    assert not any(ch.isdigit() for ref in REFERENCE.findall(text) for ch in ref)
    assert personal_refs.resolve(engine, protected) == data
    assert personal_refs.protect(engine, protected, T0, "desk") == protected  # already done


def test_text_without_numbers_is_left_alone_and_nothing_stored(engine: Engine) -> None:
    data = {"note": "已联系货主", "days": 3}
    assert personal_refs.protect(engine, data, T0, "desk") == data
    assert personal_refs.resolve(engine, data) is data


def test_an_unknown_reference_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="unknown personal-data reference"):
        personal_refs.resolve(engine, {"phone": "pii:ABCDEFGHIJKL"})


def test_the_desk_and_the_lead_unit_may_reveal_a_number_and_each_reveal_is_logged(
    driver: Driver,
) -> None:
    from service import security
    from service.disclosure import reveal
    from tests.conftest import DESK, HANDLER, HANDLER_B, REVIEWER
    from workflow.errors import PermissionDenied

    number = driver.to("assigned").number  # lead unit UA
    shown = reveal(driver.engine, driver.stamp(DESK), number, "回访司机")
    assert (shown.phone, shown.plate) == ("13812345678", "川B12345")
    assert reveal(driver.engine, driver.stamp(HANDLER), number, "核实情况").phone == "13812345678"
    for who in (HANDLER_B, REVIEWER):
        with pytest.raises(PermissionDenied):
            reveal(driver.engine, driver.stamp(who), number, "想看看")
    with pytest.raises(InvalidInput, match="reason"):
        reveal(driver.engine, driver.stamp(DESK), number, " ")
    logged = [e for e in security.listing(driver.engine) if e.kind == "reveal"]
    assert [(e.account, e.detail["number"], e.detail["why"]) for e in logged] == [
        ("handler-a", number, "核实情况"),
        ("desk", number, "回访司机"),
    ]
