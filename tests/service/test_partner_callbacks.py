"""Status callbacks to a partner: one per audit event, through the outbox, signed per Standard
Webhooks (checked with the `standardwebhooks` verifier) and received on 127.0.0.1; a receiver
failing half the time still gets every event; dead letters listed and sent again; a delivery
SIGKILLed mid-way loses nothing and sends no event under two ids."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

from sqlmodel import select
from standardwebhooks.webhooks import Webhook

from models.tables import Notification
from service import callbacks, delivery, partner_intake, partners, work_orders
from service import cases as uc
from service.acting import Stamp
from service.engine import Engine
from service.partners import PartnerView
from service.units import add_unit
from tests.conftest import DESK, HANDLER, REVIEWER, SUPERVISOR, T0
from tests.gateway.partner_helpers import add_partner, order, receiver
from workflow.commands import Accept

EVENTS = [
    "accept",
    "assign",
    "sign",
    "feedback",
    "request_extension",
    "approve_extension",
    "close",
    "revisit",
    "review",
]


def _partner(engine: Engine, key: str) -> PartnerView:
    found = partners.authenticate(engine, key, T0)
    assert found is not None
    return found


def _lifecycle(engine: Engine, view: PartnerView, ref: str, start: datetime) -> str:
    """Push a work order and take it through every stage; returns its number."""
    at = [start]

    def stamp(actor: object) -> Stamp:
        at[0] += timedelta(minutes=10)
        return Stamp(actor, at[0], at[0])  # type: ignore[arg-type]

    number = partner_intake.submit(engine, view, order(ref), start).number
    uc.assign(engine, number, stamp(DESK), unit="UA")
    uc.sign(engine, number, stamp(HANDLER))
    uc.feedback(engine, number, stamp(HANDLER), note="已联系货主")
    uc.request_extension(engine, number, stamp(HANDLER), days=3, reason="等待对方材料")
    uc.approve_extension(engine, number, stamp(SUPERVISOR))
    uc.close(engine, number, stamp(HANDLER), result="resolved", note="已追回运费")
    uc.revisit(engine, number, stamp(DESK), satisfaction="satisfied")
    uc.review(engine, number, stamp(REVIEWER), root_cause="rc", actions="acts")
    return number


def _command(ref: str, channel: str) -> Accept:
    """The accept command of a work order as the importer makes it."""
    values = order(ref)
    values["accepted_at"] = values.pop("received_at")
    return work_orders.check_order(values, START, channel=channel).command


def _units(engine: Engine) -> None:
    add_unit(engine, Stamp(DESK, T0, T0), code="UA", name="单位UA")


START = T0 + timedelta(hours=1)  # 10:00 Asia/Shanghai, after the order's 09:30


def test_each_event_once_signed_and_verifiable(engine: Engine) -> None:
    _units(engine)
    with receiver() as got:
        issued = add_partner(engine, "HLL", url=got.url)
        view = _partner(engine, issued.key)
        number = _lifecycle(engine, view, "HLL-1", START)
        result = delivery.deliver(engine, START + timedelta(days=30))
        assert result.sent == len(EVENTS) and result.retried == result.dead == 0
    assert issued.webhook_secret is not None
    verifier = Webhook(issued.webhook_secret)
    for headers, body in got.received:
        verifier.verify(body, headers)  # raises on a bad signature or an old timestamp
        assert headers["webhook-signature"].startswith("v1,")
    bodies = got.bodies()
    assert [b["event"] for b in bodies] == EVENTS
    assert [b["seq"] for b in bodies] == list(range(1, len(EVENTS) + 1))
    assert {b["number"] for b in bodies} == {number} and {b["ref"] for b in bodies} == {"HLL-1"}
    assert bodies[-1]["state"] == "reviewed"
    assert set(bodies[0]) == {"number", "ref", "event", "state", "at", "seq"}
    text = b"".join(body for _, body in got.received).decode()
    assert "13812345678" not in text and "王建国" not in text and "川B12345" not in text
    assert len(set(got.ids())) == len(EVENTS)
    # a tampered body is refused by the same verifier
    headers, body = got.received[0]
    try:
        verifier.verify(body.replace(b"accept", b"review"), headers)
    except Exception as error:  # noqa: BLE001 - the verifier's own error type
        assert "signature" in str(error).lower()
    else:
        raise AssertionError("a tampered callback verified")


def test_no_callbacks_without_a_url_nor_for_other_grievances(engine: Engine) -> None:
    _units(engine)
    quiet = add_partner(engine, "QUIET")
    _lifecycle(engine, _partner(engine, quiet.key), "Q-1", START)
    uc.accept(engine, _command("FILE-1", "platform"), Stamp(DESK, START, START))
    with engine.db.read() as session:
        assert (
            session.exec(select(Notification).where(Notification.kind == callbacks.KIND)).all()
            == []
        )


def test_a_receiver_failing_half_the_time_gets_every_event(engine: Engine) -> None:
    _units(engine)
    rng = random.Random(19)
    with receiver(fail=lambda n: rng.random() < 0.5) as got:
        issued = add_partner(engine, "FLAKY", url=got.url)
        view = _partner(engine, issued.key)
        numbers = [_lifecycle(engine, view, f"F-{i}", START) for i in range(3)]
        now = START + timedelta(days=30)
        retried = 0
        for _ in range(40):
            result = delivery.deliver(engine, now)
            retried += result.retried
            if delivery.listing(engine, status="dead"):
                delivery.requeue(engine, now)  # dead letters sent again, as `notifications retry`
            if not delivery.listing(engine, status="pending"):
                break
            now += timedelta(hours=2)
    assert retried > 0  # it did fail
    expected = {(n, e) for n in numbers for e in EVENTS}
    assert {(b["number"], b["event"]) for b in got.bodies()} == expected
    assert len(got.ids()) == len(set(got.ids())) == len(expected)  # only the 2xx ones kept


def test_dead_letters_are_listed_and_sent_again(engine: Engine) -> None:
    _units(engine)
    down = [True]
    with receiver(fail=lambda n: down[0]) as got:
        issued = add_partner(engine, "DOWN", url=got.url)
        view = _partner(engine, issued.key)
        partner_intake.submit(engine, view, order("D-1"), START)
        now = START
        for _ in range(engine.notify.max_attempts):
            delivery.deliver(engine, now)
            now += timedelta(hours=2)
        dead = delivery.listing(engine, status="dead")
        assert [(d["kind"], d["step"], d["recipient"]) for d in dead] == [
            (callbacks.KIND, "accept", "partner/DOWN")
        ]
        assert "HTTP 500" in dead[0]["last_error"]
        down[0] = False
        assert delivery.requeue(engine, now) == 1
        assert delivery.deliver(engine, now).sent == 1
    assert [b["event"] for b in got.bodies()] == ["accept"]


def test_claimed_work_order_calls_back_its_past_events(engine: Engine) -> None:
    """A 12328 work order imported first: when the 12328 system pushes the same ref, it hears
    of what already happened to it."""
    _units(engine)
    case = uc.accept(engine, _command("12328-X", "hotline_12328"), Stamp(DESK, START, START))
    uc.assign(engine, case.number, Stamp(DESK, START, START), unit="UA")
    with receiver() as got:
        issued = add_partner(engine, "H12328", channel="hotline_12328", url=got.url)
        done = partner_intake.submit(engine, _partner(engine, issued.key), order("12328-X"), START)
        assert not done.created and done.number == case.number
        uc.sign(engine, case.number, Stamp(HANDLER, START, START))
        delivery.deliver(engine, START + timedelta(days=1))
    assert [b["event"] for b in got.bodies()] == ["accept", "assign", "sign"]


CHILD = """
import sys
from datetime import datetime
from service import delivery
from service.engine import Engine
engine = Engine.open(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
delivery.deliver(engine, datetime.fromisoformat(sys.argv[2]), batch=1)
"""


def test_sigkill_during_delivery_loses_and_duplicates_nothing(engine: Engine) -> None:
    _units(engine)
    with receiver(delay=0.03) as got:
        issued = add_partner(engine, "KILL", url=got.url)
        view = _partner(engine, issued.key)
        numbers = []
        for i in range(15):
            number = partner_intake.submit(engine, view, order(f"K-{i}"), START).number
            uc.assign(engine, number, Stamp(DESK, START, START), unit="UA")
            numbers.append(number)
        now = START + timedelta(hours=1)
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", CHILD, engine.db.url, now.isoformat()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "ready"
        child.stdin.write("go\n")
        child.stdin.flush()
        deadline = time.monotonic() + 60
        while len(got.received) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert child.returncode == -signal.SIGKILL
        assert 10 <= len(got.received) < 30  # killed mid-way
        # the next round, after the killed one's lease ran out, finishes the work
        delivery.deliver(engine, now + engine.notify.lease + timedelta(minutes=1))
    expected = {(n, e) for n in numbers for e in ("accept", "assign")}
    bodies = got.bodies()
    assert {(b["number"], b["event"]) for b in bodies} == expected  # nothing lost
    by_id: dict[str, set[tuple[str, str]]] = {}
    for headers, body in zip([h for h, _ in got.received], bodies, strict=True):
        by_id.setdefault(headers["webhook-id"], set()).add((body["number"], body["event"]))
    assert len(by_id) == len(expected)  # one id per event: a repeat is dropped by its id
    assert all(len(events) == 1 for events in by_id.values())
    assert len(bodies) - len(by_id) <= 1  # at most the one in flight when killed came twice
    with engine.db.read() as session:
        rows = session.exec(select(Notification).where(Notification.kind == callbacks.KIND)).all()
    assert len(rows) == len(expected) and {r.status for r in rows} == {"sent"}
