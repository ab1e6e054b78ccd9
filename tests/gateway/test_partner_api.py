"""The partner API end to end over HTTP (httpx against the gate served by uvicorn on
127.0.0.1): create, idempotent replay, conflicts, bad input writing nothing, another
partner's ref invisible, keys (unknown, disabled, rotated), the rate limit, batches, and one
grievance whether a work order came by file or by HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from models.access_tables import SecurityEvent
from models.partner_tables import PartnerIntake
from models.tables import Grievance
from service import importing, partners, work_orders
from service.acting import Stamp
from service.engine import Engine
from tests.conftest import DESK, T0
from tests.gateway.partner_helpers import add_partner, order, running_gate
from workflow.actor import Actor
from workflow.vocab import Role


@pytest.fixture
def gate(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GRIEVANCE_PARTNER_RATE", "1000")
    monkeypatch.setenv("GRIEVANCE_PARTNER_BURST", "1000")
    with running_gate(engine) as url:
        yield url


def client(url: str, key: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url + "/partner/v1", headers=headers, timeout=30)


def counts(engine: Engine) -> tuple[int, int]:
    with engine.db.read() as session:
        grievances = session.exec(select(func.count()).select_from(Grievance)).one()
        intakes = session.exec(select(func.count()).select_from(PartnerIntake)).one()
    return int(grievances), int(intakes)


def test_create_replay_conflict_and_status(engine: Engine, gate: str) -> None:
    issued = add_partner(engine, "HLL")
    with client(gate, issued.key) as http:
        created = http.post("/grievances", json=order("HLL-1"))
        assert created.status_code == 201, created.text
        body = created.json()
        number = body["number"]
        assert body["state"] == "accepted" and body["ref"] == "HLL-1"
        assert {d["target"] for d in body["deadlines"]} >= {"assign"}
        # the same order again (keys in another order, text with spaces around): a replay
        again = http.post("/grievances", json=dict(reversed(order("HLL-1").items())))
        assert again.status_code == 200 and again.json()["number"] == number
        # a known ref with another order: 409, nothing written
        other = http.post("/grievances", json=order("HLL-1", description="另一件事"))
        assert other.status_code == 409 and number in other.json()["detail"]
        assert counts(engine) == (1, 1)
        status = http.get("/grievances/HLL-1")
        assert status.status_code == 200
        shown = status.json()
        assert shown["number"] == number and shown["stage"] == "intake"
        assert shown["state"] == "accepted" and shown["result"] is None
        assert shown["phone"] != "13812345678" and "5678" in shown["phone"]
        assert "12345" not in shown["plate"] and "王建国" not in str(shown)
    with engine.db.read() as session:
        row = session.exec(select(Grievance)).one()
    assert row.channel.value == "platform" and row.ref == "HLL-1"


def test_idempotency_key(engine: Engine, gate: str) -> None:
    issued = add_partner(engine, "HLL")
    with client(gate, issued.key) as http:
        first = http.post("/grievances", json=order("K-1"), headers={"Idempotency-Key": "abc"})
        assert first.status_code == 201
        again = http.post("/grievances", json=order("K-1"), headers={"Idempotency-Key": "abc"})
        assert again.status_code == 200 and again.json()["number"] == first.json()["number"]
        other = http.post("/grievances", json=order("K-2"), headers={"Idempotency-Key": "abc"})
        assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    assert counts(engine) == (1, 1)


def test_bad_input_names_each_field_and_writes_nothing(engine: Engine, gate: str) -> None:
    issued = add_partner(engine, "HLL")
    bad = order("B-1", phone="1381234567", category="nonsense", amount="lots", colour="red")
    with client(gate, issued.key) as http:
        answer = http.post("/grievances", json=bad)
        assert answer.status_code == 422
        assert set(answer.json()["errors"]) == {"colour"}  # unknown fields first, alone
        del bad["colour"]
        answer = http.post("/grievances", json=bad)
        assert answer.status_code == 422
        errors = answer.json()["errors"]
        assert set(errors) == {"phone", "category", "amount"}, errors
        assert "1381234567" not in answer.text  # a refused number is not quoted back
        future = http.post("/grievances", json=order("B-2", received_at="2099-01-01T00:00"))
        assert future.status_code == 422 and set(future.json()["errors"]) == {"received_at"}
        channel = http.post("/grievances", json=order("B-3", channel="hotline_12328"))
        assert channel.status_code == 422 and "channel" in channel.json()["errors"]
        assert http.post("/grievances", content=b"{not json").status_code == 422
        assert http.post("/grievances", json=[1, 2]).status_code == 422
        missing = http.post("/grievances", json={"ref": "B-4"})
        assert missing.status_code == 422
        assert {"type", "category", "name", "phone", "description"} <= set(missing.json()["errors"])
    assert counts(engine) == (0, 0)


def test_the_same_rules_as_the_importer(engine: Engine, gate: str) -> None:
    """Chinese labels and headers of the 12328 export, as the importer takes them."""
    issued = add_partner(engine, "H12328", channel="hotline_12328")
    labelled = {
        "工单编号": "12328-L-1",
        "诉求类型": "投诉",
        "诉求分类": "拖欠运费",
        "诉求人": "李师傅",
        "联系电话": "13900001111",
        "诉求内容": "运费拖欠",
        "是否紧急": "否",
        "受理时间": "2026-11-23 09:05",
    }
    with client(gate, issued.key) as http:
        answer = http.post("/grievances", json=labelled)
        assert answer.status_code == 201, answer.text
    with engine.db.read() as session:
        row = session.exec(select(Grievance)).one()
    assert row.category.value == "freight_unpaid" and row.type.value == "complaint"


def test_keys_unknown_disabled_and_another_partners_ref(engine: Engine, gate: str) -> None:
    one, two = add_partner(engine, "ONE"), add_partner(engine, "TWO")
    with client(gate, one.key) as http:
        assert http.post("/grievances", json=order("SHARED")).status_code == 201
    with client(gate, two.key) as http:
        assert http.get("/grievances/SHARED").status_code == 404
        assert http.get("/grievances/NOPE").status_code == 404
    for key in (None, "gpk_unknown", "not-even-a-key"):
        with client(gate, key) as http:
            assert http.post("/grievances", json=order("X")).status_code == 401
            assert http.get("/grievances/SHARED").status_code == 401
    partners.disable(engine, Stamp(DESK, T0, T0), "ONE")
    with client(gate, one.key) as http:
        assert http.get("/grievances/SHARED").status_code == 401
    assert counts(engine) == (1, 1)
    # refused keys in the security log: once a minute per client and key, never the key
    with engine.db.read() as session:
        refused = session.exec(select(SecurityEvent).where(SecurityEvent.kind == "refused")).all()
    # gpk_unknown (twice, one row), not-even-a-key, the disabled key; no key: refused earlier
    assert len(refused) == 3
    assert all("partner API" in (e.detail or "") for e in refused)
    assert one.key not in str([e.detail for e in refused])


def test_rotation_keeps_the_old_key_for_the_grace_period(engine: Engine, gate: str) -> None:
    old = add_partner(engine, "ROT")
    now = datetime.now(UTC)  # the gate reads the wall clock
    rotated = partners.rotate(engine, Stamp(DESK, now, now), "ROT")
    assert rotated.key != old.key and rotated.webhook_secret is None
    for key in (old.key, rotated.key):
        with client(gate, key) as http:
            assert http.get("/grievances/none").status_code == 404  # authenticated
    later = now + partners.GRACE + timedelta(seconds=1)
    assert partners.authenticate(engine, old.key, now + timedelta(hours=23)) is not None
    assert partners.authenticate(engine, old.key, later) is None
    assert partners.authenticate(engine, rotated.key, later) is not None
    # rotating again does not extend the first key's life
    hour = now + timedelta(hours=1)
    partners.rotate(engine, Stamp(DESK, hour, hour), "ROT")
    assert partners.authenticate(engine, old.key, later) is None
    assert partners.authenticate(engine, rotated.key, later) is not None  # its grace runs on


def test_rate_limit_answers_429_with_retry_after(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIEVANCE_PARTNER_RATE", "0.5")
    monkeypatch.setenv("GRIEVANCE_PARTNER_BURST", "3")
    issued, other = add_partner(engine, "FAST"), add_partner(engine, "SLOW")
    with running_gate(engine) as url, client(url, issued.key) as http:
        codes = [http.get("/grievances/none").status_code for _ in range(5)]
        assert codes == [404, 404, 404, 429, 429]
        limited = http.get("/grievances/none")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        with client(url, other.key) as second:  # per key: the other partner is not limited
            assert second.get("/grievances/none").status_code == 404


def test_batch_is_per_item(engine: Engine, gate: str) -> None:
    issued = add_partner(engine, "BAT")
    orders = [order(f"B-{i}") for i in range(5)]
    orders[2]["phone"] = "1"  # bad
    orders[4] = order("B-0")  # the first again
    with client(gate, issued.key) as http:
        answer = http.post("/grievances:batch", json={"orders": orders})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        assert [r["status"] for r in results] == [201, 201, 422, 201, 200]
        assert "phone" in results[2]["errors"]
        assert results[4]["number"] == results[0]["number"]
        too_many = http.post("/grievances:batch", json={"orders": [order("Z")] * 1001})
        assert too_many.status_code == 422
        assert http.post("/grievances:batch", json={"orders": "x"}).status_code == 422
    assert counts(engine) == (3, 3)


def test_a_work_order_by_file_and_by_http_is_one_grievance(
    engine: Engine, gate: str, tmp_path: Path
) -> None:
    issued = add_partner(engine, "P12328", channel="hotline_12328")
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "工单编号,受理时间,诉求类型,诉求分类,诉求人,联系电话,诉求内容\n"
        "12328-F-1,2026-11-23 08:42,投诉,拖欠运费,王建国,13812345678,货主拖欠运费\n",
        encoding="utf-8",
    )
    actor = Actor("12328导入", Role.DISPATCHER)
    imported = importing.import_rows(engine, work_orders.read(csv).rows, actor, T0)
    assert len(imported.imported) == 1
    number = imported.imported[0][1]
    with client(gate, issued.key) as http:
        # the file first, then HTTP: the partner is given the same grievance
        same = http.post(
            "/grievances",
            json=order("12328-F-1", plate=None, amount=None, received_at="2026-11-23 08:42"),
        )
        assert same.status_code == 200 and same.json()["number"] == number
        assert http.get("/grievances/12328-F-1").json()["number"] == number
        # HTTP first, then the file: the importer skips it as present
        pushed = http.post("/grievances", json=order("12328-F-2"))
        assert pushed.status_code == 201
    csv.write_text(
        "工单编号,受理时间,诉求类型,诉求分类,诉求人,联系电话,诉求内容\n"
        "12328-F-2,2026-11-23 08:50,投诉,拖欠运费,王建国,13812345678,货主拖欠运费\n",
        encoding="utf-8",
    )
    again = importing.import_rows(engine, work_orders.read(csv).rows, actor, T0)
    assert again.skipped_existing == [(2, "12328-F-2")] and not again.imported
    assert counts(engine) == (2, 2)
    # another partner of the same channel cannot take the work order over
    second = add_partner(engine, "OTHER12328", channel="hotline_12328")
    with client(gate, second.key) as http:
        assert http.post("/grievances", json=order("12328-F-2")).status_code == 409


def test_openapi_document(engine: Engine, gate: str) -> None:
    with httpx.Client(base_url=gate) as http:
        answer = http.get("/partner/v1/openapi.json")  # no key needed to read the contract
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/partner/v1/grievances",
        "/partner/v1/grievances:batch",
        "/partner/v1/grievances/{ref}",
    }
    fields = doc["components"]["schemas"]["WorkOrder"]["properties"]
    assert "channel" not in fields and "received_at" in fields
    assert fields["phone"]["maxLength"] == 32
