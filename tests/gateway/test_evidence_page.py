"""The gate's evidence pages: the upload form (multipart, acting staff signed in, same origin,
the size limit checked before reading), refusals writing nothing, unit staff their unit's
grievances only, downloads in the security log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import Gate
from gateway.proxy import Upstream
from models import audit_log
from service import accounts, security
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.units import add_unit
from tests.conftest import accept_command
from workflow.actor import Actor
from workflow.timeutil import parse_instant
from workflow.vocab import Event, Role

PASSWORD = "gate pass 123"
T0 = parse_instant("2026-12-07T09:00")
ORIGIN = {"origin": "http://127.0.0.1:4200"}
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "evidence"
    monkeypatch.setenv("GRIEVANCE_ATTACHMENTS_DIR", str(folder))
    monkeypatch.setenv("GRIEVANCE_ATTACHMENT_MAX_MB", "1")
    monkeypatch.delenv("GRIEVANCE_ATTACHMENT_TYPES", raising=False)
    return folder


@pytest.fixture
def numbers(engine: Engine) -> tuple[str, str]:
    desk = Stamp(actor=Actor("ops", Role.DISPATCHER), at=T0, recorded_at=T0)
    add_unit(engine, desk, code="ROAD", name="道路运输管理处")
    add_unit(engine, desk, code="LAW", name="执法支队")
    for name, role, unit in (("zhang", "dispatcher", None), ("li", "handler", "ROAD")):
        accounts.add_user(engine, desk, name=name, role=role, unit=unit, password=PASSWORD)
    accounts.add_user(engine, desk, name="ana", role="analyst", unit=None, password=PASSWORD)
    a = uc.accept(engine, accept_command(ref="E-1"), desk).number
    b = uc.accept(engine, accept_command(ref="E-2"), desk).number
    uc.assign(engine, a, desk, unit="ROAD")
    uc.assign(engine, b, desk, unit="LAW")
    return a, b


@pytest.fixture
def gate(engine: Engine, numbers: tuple[str, str], store: Path) -> Iterator[TestClient]:
    made = Gate(
        engine,
        Upstream("http://prefect.internal", "x"),
        b"k" * 32,
        clock=lambda: T0,
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )
    with TestClient(made.app(), base_url="http://127.0.0.1:4200") as client:
        yield client


def _login(client: TestClient, name: str) -> None:
    answer = client.post(
        "/login", data={"username": name, "password": PASSWORD}, follow_redirects=False
    )
    assert answer.status_code == 303


def _attach(
    client: TestClient, number: str, data: bytes, name: str = "运单.jpg", **headers: str
) -> httpx.Response:
    return client.post(
        "/gate/attach",
        data={"number": number, "note": "货物照片"},
        files={"file": (name, data, "image/jpeg")},
        headers={**ORIGIN, **headers},
    )


def _files(store: Path) -> list[Path]:
    return sorted(p for p in store.rglob("*") if p.is_file()) if store.exists() else []


def _events(engine: Engine, number: str) -> list[Event]:
    with engine.db.read() as session:
        return [e.event for e in audit_log.events_of(session, number)]


def test_signed_in_acting_staff_only(
    gate: TestClient, engine: Engine, numbers: tuple[str, str], store: Path
) -> None:
    a, _ = numbers
    before = _events(engine, a)
    page = gate.get(f"/gate/attachments?number={a}", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    signed_out = gate.post(
        "/gate/attach",
        data={"number": a},
        files={"file": ("a.jpg", JPEG, "image/jpeg")},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert signed_out.status_code == 303
    assert (
        gate.get(
            "/gate/attachment", params={"number": a, "sha256": "0" * 64}, follow_redirects=False
        ).status_code
        == 303
    )
    _login(gate, "ana")  # an analyst does not act on grievances
    assert _attach(gate, a, JPEG).status_code == 403
    gate.post("/logout", headers=ORIGIN)
    _login(gate, "zhang")
    cross = _attach(gate, a, JPEG, origin="http://evil.example")
    assert cross.status_code == 403
    assert _files(store) == [] and _events(engine, a) == before


def test_the_desk_attaches_and_downloads(
    gate: TestClient, engine: Engine, numbers: tuple[str, str], store: Path
) -> None:
    a, _ = numbers
    _login(gate, "zhang")
    form = gate.get(f"/gate/attachments?number={a}")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    assert "1.0 MB" in form.text  # the configured limit is shown
    done = _attach(gate, a, JPEG, name="C:\\fakepath\\运单 13812345678.jpg")
    assert done.status_code == 200, done.text
    sha = hashlib.sha256(JPEG).hexdigest()
    assert "运单 138****5678.jpg" in done.text and "13812345678" not in done.text
    assert sha[:12] in done.text and done.headers["cache-control"] == "no-store"
    assert _files(store) == [store / sha[:2] / sha]
    assert _events(engine, a)[-1] is Event.ATTACH
    got = gate.get("/gate/attachment", params={"number": a, "sha256": sha})
    assert got.status_code == 200 and got.content == JPEG
    assert got.headers["content-type"] == "image/jpeg"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "13812345678" not in got.headers["content-disposition"]
    logged = security.listing(engine, account="zhang")
    assert any(entry.kind == "attachment_read" for entry in logged)
    with engine.db.read() as session:  # what `grievance show` lists of the grievance
        read = security.about_grievance(session, a)
    assert [(e.kind, e.by, e.detail["sha256"]) for e in read] == [("attachment_read", "zhang", sha)]
    missing = gate.get("/gate/attachment", params={"number": a, "sha256": "0" * 64})
    assert missing.status_code == 404


def test_refusals_write_nothing(
    gate: TestClient, engine: Engine, numbers: tuple[str, str], store: Path
) -> None:
    a, b = numbers
    _login(gate, "li")  # a ROAD handler
    before_a, before_b = _events(engine, a), _events(engine, b)
    program = _attach(gate, a, b"MZ\x90\x00" + bytes(500), name="photo.jpg")
    assert program.status_code == 400 and "not a photo or PDF" in program.text
    too_big = _attach(gate, a, b"%PDF-1.7\n" + bytes(2 * 1024 * 1024), name="big.pdf")
    assert too_big.status_code == 413 and "larger than the limit" in too_big.text
    # within the envelope's allowance but past the limit: refused while reading
    just_over = _attach(gate, a, b"%PDF-1.7\n" + bytes(1024 * 1024), name="over.pdf")
    assert just_over.status_code == 400 and "larger than the limit" in just_over.text
    other_unit = _attach(gate, b, JPEG)
    assert other_unit.status_code == 400 and "does not concern unit ROAD" in other_unit.text
    listing = gate.get(f"/gate/attachments?number={b}")
    assert listing.status_code == 403
    assert _files(store) == []
    assert (_events(engine, a), _events(engine, b)) == (before_a, before_b)
    # the same file twice: the second refused, one file
    assert _attach(gate, a, JPEG).status_code == 200
    again = _attach(gate, a, JPEG, name="again.jpg")
    assert again.status_code == 400 and "already attached" in again.text
    assert len(_files(store)) == 1 and _events(engine, a).count(Event.ATTACH) == 1
