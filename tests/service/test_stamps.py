"""Identity stamps: signed by the gate, checked by a run before it acts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from service import accounts, security, stamps
from service.acting import Stamp
from service.engine import Engine
from tests.conftest import DESK, T0, Driver, account_for, stamp_as
from workflow.actor import Actor
from workflow.errors import PermissionDenied
from workflow.stamps import Claim, InvalidStamp, sign, verify
from workflow.vocab import Role

PARAMS = {"params": {"number": "20261123-0001", "unit": "UA"}}


def _check(engine: Engine, token: object, **kw: object) -> Actor:
    args: dict[str, object] = {"target": "action:assign", "at": T0, "run_id": "run-1"} | kw
    return stamps.check(engine, token, **args)  # type: ignore[arg-type]


def test_a_stamp_names_the_account_it_was_issued_for(driver: Driver) -> None:
    token = stamp_as(driver.engine, DESK, "action:assign", PARAMS, at=T0)
    assert _check(driver.engine, token, parameters=PARAMS) == DESK
    assert verify(token, stamps.key()).name == "desk"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": "action:close"}, "another run or action"),
        ({"parameters": {"params": {"number": "20261123-0001", "unit": "UB"}}}, "parameters"),
        ({"at": T0 + timedelta(hours=1, seconds=1)}, "expired"),
        ({"at": T0 - timedelta(minutes=6)}, "expired"),
    ],
)
def test_a_stamp_for_something_else_is_refused_and_logged(
    driver: Driver, change: dict[str, object], message: str
) -> None:
    token = stamp_as(driver.engine, DESK, "action:assign", PARAMS, at=T0)
    with pytest.raises(InvalidStamp, match=message):
        _check(driver.engine, token, **({"parameters": PARAMS} | change))
    assert security.listing(driver.engine)[0].kind == "refused"


def test_a_stamp_acts_for_one_run_only(driver: Driver) -> None:
    token = stamp_as(driver.engine, DESK, "action:assign", at=T0)
    _check(driver.engine, token)
    _check(driver.engine, token)  # the same run again (a retry): fine
    with pytest.raises(InvalidStamp, match="already used"):
        _check(driver.engine, token, run_id="run-2")
    resume = stamp_as(driver.engine, DESK, "flow_run:r", at=T0)
    _check(driver.engine, resume, target="flow_run:r", run_id="r", use="key-1")
    with pytest.raises(InvalidStamp, match="already used"):
        _check(driver.engine, resume, target="flow_run:r", run_id="r", use="key-2")


@pytest.mark.parametrize("token", [None, "", "x", "a.b", "a.b.c", 42, "x" * 5000], ids=repr)
def test_a_missing_or_malformed_stamp_is_refused(driver: Driver, token: object) -> None:
    with pytest.raises(InvalidStamp):
        _check(driver.engine, token)


def test_an_altered_or_foreign_stamp_is_refused(driver: Driver) -> None:
    account_for(driver.engine, DESK)
    claim = Claim("desk", "supervisor", None, "action:assign", None, int(T0.timestamp()), "n1")
    with pytest.raises(InvalidStamp, match="another key"):
        _check(driver.engine, sign(claim, b"not the gate's key, but long"))
    token = stamp_as(driver.engine, DESK, "action:assign", at=T0)
    body, mac = token.split(".")
    forged = sign(claim, stamps.key()).split(".")[0] + "." + mac  # role changed, old MAC
    with pytest.raises(InvalidStamp, match="altered"):
        _check(driver.engine, forged)


def test_a_disabled_changed_or_non_acting_account_is_refused(driver: Driver) -> None:
    engine = driver.engine
    token = stamp_as(engine, DESK, "action:assign", at=T0)
    ops = Stamp(actor=DESK, at=T0, recorded_at=T0)
    accounts.set_disabled(engine, ops, "desk", True)
    with pytest.raises(InvalidStamp, match="disabled"):
        _check(engine, token)
    accounts.set_disabled(engine, ops, "desk", False)
    analyst = accounts.add_user(engine, ops, name="ana", role="analyst", password="pass word 12")
    token = stamps.issue(analyst[0].identity, "action:assign", T0)
    with pytest.raises(PermissionDenied, match="does not act"):
        _check(engine, token)


def test_without_a_key_nothing_is_accepted(driver: Driver, monkeypatch: pytest.MonkeyPatch) -> None:
    token = stamp_as(driver.engine, DESK, "action:assign", at=T0)
    monkeypatch.delenv("GRIEVANCE_STAMP_KEY")
    with pytest.raises(InvalidStamp, match="GRIEVANCE_STAMP_KEY"):
        _check(driver.engine, token)
    stamps.ensure_key()
    assert len(stamps.key()) >= 32


def test_the_role_of_a_stamp_is_the_account_s(driver: Driver) -> None:
    handler = Actor("handler-x", Role.HANDLER, "UA")
    driver.units("UA")
    token = stamp_as(driver.engine, handler, "action:sign", at=T0)
    assert _check(driver.engine, token, target="action:sign") == handler
