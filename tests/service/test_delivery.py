"""Delivery of the outbox: retries, backoff, dead letters, leases, business hours, masking.

Time is always explicit (`now` instants handed to `sweep` and `deliver`); nothing waits for
the clock. Channels are local: an HTTP server on 127.0.0.1, the `inbox://` plug-in, a port
nobody listens on, or a fake `send` callable.
"""

from __future__ import annotations

import json
import re
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from models.tables import Notification, NotificationAttempt
from service import cases as uc
from service import delivery, watchdog
from service.engine import Engine
from service.outbox import DEAD, PENDING, SENDING, SENT
from service.reading import show
from service.units import set_unit_targets
from tests.conftest import DESK, Driver
from workflow.errors import InvalidInput

# Monday 2026-11-30 09:00 Asia/Shanghai: the feedback limit (due Tue 11-24) is past its
# supervision step, the close limit (due Fri 11-27) past its red card.
MON_0900 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
# Saturday 2026-11-28 03:00 Asia/Shanghai, and the next opening: Monday 08:30.
SAT_0300 = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)
MON_0830 = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)

# What a sweep at MON_0900 fires for a grievance assigned to UA on Mon 11-23 (2142).
FIRED_AT_MON_0900 = {
    ("feedback", "warning", "unit"),
    ("feedback", "red_card", "unit"),
    ("feedback", "red_card", "supervisor"),
    ("feedback", "supervision", "leadership"),
    ("close", "warning", "unit"),
    ("close", "red_card", "unit"),
    ("close", "red_card", "supervisor"),
}

MOBILE = re.compile(r"1[3-9]\d{9}")


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    """Fail, rather than hang, if a regression makes `deliver` loop on the same rows."""

    def expired(signum: int, frame: object) -> None:
        # pytest.fail raises a BaseException: `deliver` catching a plug-in's errors cannot
        # swallow it
        pytest.fail("the test ran for more than 30 s: does deliver() loop on the same rows?")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(30)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def rows(engine: Engine) -> list[Notification]:
    with engine.db.read() as session:
        return list(session.exec(select(Notification).order_by(col(Notification.id))).all())


def attempts(engine: Engine) -> list[NotificationAttempt]:
    with engine.db.read() as session:
        query = select(NotificationAttempt).order_by(
            col(NotificationAttempt.notification_id), col(NotificationAttempt.attempt)
        )
        return list(session.exec(query).all())


def inbox_lines(inbox: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(inbox.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


def targets(driver: Driver, unit: str, supervisor: str, leadership: str) -> None:
    """Give UA handler and supervisor targets and the bureau a leadership target."""
    engine = driver.engine
    driver.units("UA", "UB")
    set_unit_targets(
        engine, driver.stamp(DESK, 0), code="UA", notify=[unit], supervisor_notify=[supervisor]
    )
    engine.notify = replace(engine.notify, leadership=(leadership,))


def overdue_grievance(driver: Driver, **overrides: Any) -> str:
    """A grievance assigned to UA on Mon 11-23 whose steps a sweep at MON_0900 fires."""
    return driver.to("assigned", **overrides).number


@dataclass
class Recorder:
    """A fake `send`: records each row it is given, answers with `outcome(row)`."""

    outcome: Callable[[Notification], str | None] = lambda row: None
    calls: list[Notification] = field(default_factory=list)

    def __call__(self, row: Notification) -> str | None:
        self.calls.append(row)
        return self.outcome(row)


# ----------------------------------------------------------------------------- receiver
@dataclass
class Receiver:
    """A local webhook that refuses every other POST (500) and records what it accepts."""

    base: str = ""
    accepted: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)
    refused: int = 0
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def json_url(self, path: str) -> str:
        # `rto`/`cto`: short read and connect timeouts, so a broken receiver fails fast.
        return f"json://{self.base}/{path}?cto=2&rto=2"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.count += 1
                refuse = state.count % 2 == 1  # the 1st, 3rd, 5th... request fail
                if refuse:
                    state.refused += 1
                else:
                    state.accepted.append((self.headers.get("X-Grievance-Key"), json.loads(body)))
            self.send_response(500 if refuse else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt: str, *args: Any) -> None:  # keep pytest's output clean
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------- 1. flaky
def test_a_flaky_channel_still_delivers_every_row_exactly_once(
    driver: Driver, receiver: Receiver
) -> None:
    engine = driver.engine
    hook = receiver.json_url("hook")
    targets(driver, unit=hook, supervisor=hook, leadership=receiver.json_url("lead"))
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    queued = rows(engine)
    assert {(r.target, r.step, r.audience) for r in queued} == FIRED_AT_MON_0900
    assert all(r.status == PENDING for r in queued)

    now = MON_0900
    for _ in range(20):
        # `limit`: a run that kept re-claiming rows would fail here instead of hanging
        result = delivery.deliver(engine, now, limit=10 * len(queued))
        assert result.dead == 0
        if not any(r.status in (PENDING, SENDING) for r in rows(engine)):
            break
        now += timedelta(hours=2)  # past any backoff
    final = rows(engine)
    assert all(r.status == SENT for r in final), [(r.id, r.status) for r in final]
    assert all(r.last_error is None and r.sent_at is not None for r in final)

    # the receiver accepted each row once: one key per row, none twice, none missing
    keys = [key for key, _ in receiver.accepted]
    assert len(keys) == len(final)
    assert sorted(keys, key=str) == sorted(r.dedupe_key for r in final)
    by_key = {r.dedupe_key: r for r in final}
    for key, payload in receiver.accepted:
        assert payload["title"] == by_key[str(key)].title
    assert receiver.refused > 0  # the channel really was flaky

    # every request is one recorded attempt; the refused ones carry their error
    recorded = attempts(engine)
    assert len(recorded) == len(receiver.accepted) + receiver.refused
    failed = [a for a in recorded if a.ok is False]
    assert len(failed) == receiver.refused
    assert all(a.error and a.finished_at is not None for a in failed)
    assert all(a.error is None for a in recorded if a.ok)
    for row in final:
        mine = [a for a in recorded if a.notification_id == row.id]
        assert [a.attempt for a in mine] == list(range(1, row.attempts + 1))
        assert [a.ok for a in mine] == [False] * (row.attempts - 1) + [True]


# ----------------------------------------------------------------------------- 2. backoff
def test_backoff_doubles_up_to_an_hour_then_the_row_is_dead_lettered(driver: Driver) -> None:
    engine = driver.engine
    nowhere = "json://127.0.0.1:1/x?cto=2&rto=2"  # nothing listens on port 1
    targets(driver, unit=nowhere, supervisor=nowhere, leadership=nowhere)
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    ids = [r.id for r in rows(engine)]
    assert len(ids) == len(FIRED_AT_MON_0900)
    max_attempts = engine.notify.max_attempts
    assert max_attempts == 8

    expected_delays = [1, 2, 4, 8, 16, 32, 60]  # minutes; the 7th (64) is capped at an hour
    now = MON_0900
    for attempt, minutes in enumerate(expected_delays, start=1):
        result = delivery.deliver(engine, now)
        assert (result.sent, result.retried, result.dead) == (0, len(ids), 0)
        for row in rows(engine):
            assert row.status == PENDING
            assert row.attempts == attempt
            assert row.next_attempt_at == now + timedelta(minutes=minutes)
            assert row.last_error
        # a run just before the retry is due does not retry
        early = now + timedelta(minutes=minutes) - timedelta(seconds=1)
        result = delivery.deliver(engine, early)
        assert (result.sent, result.retried, result.dead) == (0, 0, 0)
        assert all(r.attempts == attempt for r in rows(engine))
        now += timedelta(minutes=minutes)

    result = delivery.deliver(engine, now)  # the 8th and last attempt
    assert (result.sent, result.retried, result.dead) == (0, 0, len(ids))
    assert len(result.errors) == len(ids)
    dead = delivery.listing(engine, status="dead")
    assert [d["id"] for d in dead] == ids
    assert all(d["attempts"] == max_attempts and d["last_error"] for d in dead)
    assert all(d["next_attempt_at"] is None for d in dead)
    assert len(attempts(engine)) == len(ids) * max_attempts
    assert all(a.ok is False and a.error for a in attempts(engine))
    # dead letters stay dead: a much later run does not touch them
    later = now + timedelta(days=30)
    assert delivery.deliver(engine, later).dead == 0
    assert all(r.attempts == max_attempts for r in rows(engine))

    # requeue one: it gets a whole new round of attempts, the others stay dead
    assert delivery.requeue(engine, later, [ids[0]]) == 1
    requeued = next(r for r in rows(engine) if r.id == ids[0])
    assert (requeued.status, requeued.next_attempt_at) == (PENDING, later)
    assert requeued.give_up_after == 2 * max_attempts
    failing = Recorder(lambda row: "still down")
    now = later
    for attempt in range(max_attempts + 1, 2 * max_attempts + 1):
        result = delivery.deliver(engine, now, send=failing)
        row = next(r for r in rows(engine) if r.id == ids[0])
        assert row.attempts == attempt
        if attempt < 2 * max_attempts:
            assert (row.status, result.retried) == (PENDING, 1)
            assert row.next_attempt_at == now + engine.notify.delay(attempt)
            now = row.next_attempt_at
        else:
            assert (row.status, result.dead, row.last_error) == (DEAD, 1, "still down")
    assert [r.id for r in failing.calls] == [ids[0]] * max_attempts

    # requeue all, and this time the channel works
    assert delivery.requeue(engine, now) == len(ids)
    working = Recorder()
    result = delivery.deliver(engine, now, send=working)
    assert result.sent == len(ids)
    assert sorted(r.id for r in working.calls) == ids
    assert all(r.status == SENT and r.last_error is None for r in rows(engine))
    assert delivery.listing(engine, status="dead") == []


def test_a_channel_that_raises_does_not_stop_the_others(driver: Driver) -> None:
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)

    def outcome(row: Notification) -> str | None:
        if row.audience == "leadership":
            raise RuntimeError("plug-in crashed")
        return None

    send = Recorder(outcome)
    result = delivery.deliver(engine, MON_0900, send=send)
    assert len(send.calls) == len(FIRED_AT_MON_0900)
    assert (result.sent, result.retried) == (len(FIRED_AT_MON_0900) - 1, 1)
    (crashed,) = [r for r in rows(engine) if r.audience == "leadership"]
    assert crashed.status == PENDING
    assert crashed.last_error == "RuntimeError: plug-in crashed"
    assert crashed.next_attempt_at == MON_0900 + timedelta(minutes=1)


def test_requeue_of_an_unknown_or_live_id_is_refused(driver: Driver) -> None:
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    pending = rows(engine)[0].id
    assert pending is not None
    with pytest.raises(Exception, match="no dead notification"):
        delivery.requeue(engine, MON_0900, [pending, 9999])
    assert all(r.status == PENDING for r in rows(engine))


def test_rows_without_a_target_are_dead_at_once_and_never_dropped(driver: Driver) -> None:
    engine = driver.engine
    overdue_grievance(driver)  # UA has no targets; desk, supervisors, leadership unset
    watchdog.sweep(engine, MON_0900)
    queued = rows(engine)
    assert {(r.target, r.step, r.audience) for r in queued} == FIRED_AT_MON_0900
    assert all(r.status == DEAD and r.url is None for r in queued)
    assert all("no notification target is configured" in str(r.last_error) for r in queued)
    assert {d["id"] for d in delivery.listing(engine, status="dead")} == {r.id for r in queued}
    never = Recorder()
    assert delivery.deliver(engine, MON_0900).sent == 0
    assert delivery.deliver(engine, MON_0900, send=never).sent == 0
    assert never.calls == []
    assert delivery.requeue(engine, MON_0900) == 0  # still nobody to send to
    assert all(r.status == DEAD for r in rows(engine))


# ----------------------------------------------------------------------------- 3. lease
def test_a_delivery_that_died_is_retried_after_its_lease(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("GRIEVANCE_INBOX_DIR", str(inbox))
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    count = len(rows(engine))

    # a delivery process claims everything, then dies before sending or recording
    claimed = delivery._claim(engine, MON_0900, delivery.BATCH)
    assert len(claimed) == count
    assert all(r.status == SENDING and r.attempts == 1 for r in rows(engine))
    assert all(r.lease_until == MON_0900 + engine.notify.lease for r in rows(engine))

    # within the lease nobody touches them
    result = delivery.deliver(engine, MON_0900 + timedelta(minutes=1))
    assert (result.sent, result.retried, result.dead) == (0, 0, 0)
    assert all(r.status == SENDING and r.attempts == 1 for r in rows(engine))
    assert not inbox.exists()

    # after the lease they are sent, and the lost attempt is on record as such
    later = MON_0900 + timedelta(minutes=6)
    result = delivery.deliver(engine, later)
    assert result.sent == count
    final = rows(engine)
    assert all(r.status == SENT and r.attempts == 2 and r.sent_at == later for r in final)
    assert all(r.lease_until is None for r in final)
    recorded = attempts(engine)
    assert len(recorded) == 2 * count
    lost = [a for a in recorded if a.attempt == 1]
    assert all(a.ok is False and "no outcome recorded" in str(a.error) for a in lost)
    assert all(a.finished_at == later for a in lost)
    assert all(a.ok is True for a in recorded if a.attempt == 2)
    lines = inbox_lines(inbox)
    assert sorted(line["title"] for line in lines) == sorted(r.title for r in final)


def test_a_lost_last_attempt_dead_letters_the_row_instead_of_trying_again(
    driver: Driver,
) -> None:
    engine = driver.engine
    engine.notify = replace(engine.notify, max_attempts=1)
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    assert delivery._claim(engine, MON_0900, delivery.BATCH)  # attempt 1 of 1, then it dies
    never = Recorder()
    result = delivery.deliver(engine, MON_0900 + timedelta(minutes=6), send=never)
    assert never.calls == [] and result.sent == 0
    final = rows(engine)
    assert all(r.status == DEAD and r.attempts == 1 for r in final)
    assert all("no outcome recorded" in str(r.last_error) for r in final)


# ----------------------------------------------------------------------------- 4. hours
def test_messages_decided_out_of_hours_wait_for_the_next_opening(driver: Driver) -> None:
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    normal = overdue_grievance(driver)
    urgent = overdue_grievance(driver, urgent=True)
    assert show(engine, urgent, DESK).case.policy.startswith("urgent@")
    watchdog.sweep(engine, SAT_0300)
    held = [r for r in rows(engine) if r.number == normal]
    at_once = [r for r in rows(engine) if r.number == urgent]
    assert held and at_once
    assert all(r.not_before == MON_0830 and r.next_attempt_at == MON_0830 for r in held)
    assert all(r.not_before == SAT_0300 and r.next_attempt_at == SAT_0300 for r in at_once)
    assert all(r.created_at == SAT_0300 for r in held + at_once)

    send = Recorder()
    result = delivery.deliver(engine, SAT_0300, send=send)
    assert result.sent == len(at_once)
    assert {r.number for r in send.calls} == {urgent}
    assert delivery.deliver(engine, MON_0830 - timedelta(seconds=1), send=send).sent == 0
    assert len(send.calls) == len(at_once)

    result = delivery.deliver(engine, MON_0830, send=send)
    assert result.sent == len(held)
    assert [r.number for r in send.calls[len(at_once) :]] == [normal] * len(held)
    assert all(r.status == SENT for r in rows(engine))
    assert {r.sent_at for r in rows(engine) if r.number == normal} == {MON_0830}


def test_a_step_fired_in_business_hours_is_not_held(driver: Driver) -> None:
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    assert all(r.not_before == MON_0900 == r.next_attempt_at for r in rows(engine))


# ----------------------------------------------------------------------------- 5. masking
def test_personal_numbers_are_masked_in_every_message(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("GRIEVANCE_INBOX_DIR", str(inbox))
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    description = "司机13812345678反映：身份证510104199001011234，车牌川B12345，运费被拖欠"
    number = overdue_grievance(driver, description=description)
    watchdog.sweep(engine, MON_0900)
    assert delivery.deliver(engine, MON_0900).sent == len(FIRED_AT_MON_0900)
    assert show(engine, number, DESK).case.description == description  # stored whole

    files = sorted(inbox.glob("*.jsonl"))
    assert [f.name for f in files] == ["lead.jsonl", "sup.jsonl", "ua.jsonl"]
    written = "".join(f.read_text(encoding="utf-8") for f in files)
    lines = [json.loads(line) for line in written.splitlines()]
    assert len(lines) == len(FIRED_AT_MON_0900)
    texts = [written, *(line["title"] + line["body"] for line in lines)]
    texts += [r.title + r.body for r in rows(engine)]
    for text in texts:
        assert MOBILE.search(text) is None, text
        for raw in ("13812345678", "510104199001011234", "川B12345"):
            assert raw not in text
    for line in lines:
        assert "138****5678" in line["body"]
        assert "510104********1234" in line["body"]
        assert "川B***45" in line["body"]
    assert all("138****5678" in r.body for r in rows(engine))


# ----------------------------------------------------------------------------- 6. language
@pytest.mark.parametrize(
    ("language", "red_card", "overdue"), [("zh", "红牌", "已超时"), ("en", "Red card", "overdue")]
)
def test_messages_are_in_the_configured_language(
    driver: Driver, language: str, red_card: str, overdue: str
) -> None:
    engine = driver.engine
    if language != "zh":
        engine.notify = replace(engine.notify, language=language)
    assert engine.notify.language == language
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    queued = rows(engine)
    assert all(r.language == language for r in queued)
    reds = [r for r in queued if r.step == "red_card"]
    assert len(reds) == 4
    for row in reds:
        assert red_card in row.title and overdue in row.title
        assert red_card in row.body
    other = ("Red card", "overdue") if language == "zh" else ("红牌", "已超时")
    assert not any(word in r.title for r in queued for word in other)


# ----------------------------------------------------------------------------- 7. secrets
def test_check_url_refuses_what_apprise_cannot_send_to() -> None:
    with pytest.raises(InvalidInput, match="not a notification URL"):
        delivery.check_url("nope://x")
    with pytest.raises(InvalidInput):
        delivery.check_url("   ")
    assert delivery.check_url(" inbox://desk ") == "inbox://desk"
    assert delivery.check_url("json://127.0.0.1:9/hook") == "json://127.0.0.1:9/hook"


def test_set_unit_targets_refuses_a_bad_url(driver: Driver) -> None:
    driver.units("UA")
    with pytest.raises(InvalidInput):
        set_unit_targets(driver.engine, driver.stamp(DESK, 0), code="UA", notify=["nope://x"])


def test_redact_hides_a_token_in_a_webhook_path() -> None:
    shown = delivery.redact("json://hooks.example.cn:8443/hooks/SECRET-TOKEN?+X-Key=abc")
    assert shown == "json://hooks.example.cn:8443/…"


def test_redact_hides_passwords_and_tokens() -> None:
    shown = delivery.redact("json://user:secret@host/path")
    assert shown is not None and "secret" not in shown
    assert shown.startswith("json://") and "host" in shown
    shown = delivery.redact("json://user:pw@host:8080/path?token=tok123&+X-Auth=hdrsecret")
    assert shown is not None
    assert not any(s in shown for s in (":pw@", "tok123", "hdrsecret"))
    shown = delivery.redact("dingtalk://dingtalksecrettoken0123")
    assert shown is not None and "dingtalksecrettoken0123" not in shown
    shown = delivery.redact("nope://user:secret@host/path")
    assert shown is not None and "secret" not in shown
    assert delivery.redact(None) is None
    assert delivery.redact("inbox://desk") == "inbox://desk"


def test_listing_never_shows_a_configured_secret(driver: Driver) -> None:
    engine = driver.engine
    secrets = ("s3cr3tpass", "t0ken-s3cret", "hdr-s3cret", "dingtalksecrettoken0123")
    unit = "json://user:s3cr3tpass@127.0.0.1:1/x?token=t0ken-s3cret&+X-Auth=hdr-s3cret&cto=2"
    targets(
        driver,
        unit=unit,
        supervisor="dingtalk://dingtalksecrettoken0123",
        leadership="wecombot://t0ken-s3cret",
    )
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)

    def offline(row: Notification) -> str | None:  # never reach the internet from a test
        assert row.url is not None
        return delivery.send_with_apprise(row) if row.url.startswith("json") else "offline"

    result = delivery.deliver(engine, MON_0900, send=offline)
    assert result.retried == len(FIRED_AT_MON_0900)
    listed = delivery.listing(engine)
    assert len(listed) == len(FIRED_AT_MON_0900)
    assert all(item["last_error"] and item["channel"] for item in listed)
    text = json.dumps(listed, ensure_ascii=False)
    for secret in secrets:
        assert secret not in text
    assert all(secret not in str(r.recipient) for r in rows(engine) for secret in secrets)
    with pytest.raises(InvalidInput, match="unknown status"):
        delivery.listing(engine, status="lost")


# ----------------------------------------------------------------------------- 8. revisit
def test_a_dissatisfied_revisit_notifies_the_unit_supervisor(driver: Driver) -> None:
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    number = driver.to("closed").number
    assert rows(engine) == []
    uc.revisit(
        engine,
        number,
        driver.stamp(DESK),
        satisfaction="dissatisfied",
        note="司机说钱没到账，回电13812345678",
    )
    queued = delivery.listing(engine, number=number)
    assert len(queued) == 1
    (row,) = queued
    assert (row["kind"], row["audience"], row["unit"]) == (
        "revisit_dissatisfied",
        "supervisor",
        "UA",
    )
    assert row["status"] == PENDING and row["channel"] == "inbox://sup"
    stored = rows(engine)[0]
    assert "13812345678" not in stored.body and "138****5678" in stored.body
    send = Recorder()
    assert delivery.deliver(engine, driver.now, send=send).sent == 1
    assert [r.url for r in send.calls] == ["inbox://sup"]


def test_a_satisfied_revisit_notifies_nobody(driver: Driver) -> None:
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    number = driver.to("revisited").number
    assert delivery.listing(engine, number=number) == []


def test_the_inbox_keeps_a_message_once_when_a_retry_sends_it_again(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery killed after the channel took the message but before it was recorded is
    sent again; the inbox channel knows the dedupe key and writes the message once."""
    inbox = tmp_path / "inbox"
    monkeypatch.setenv("GRIEVANCE_INBOX_DIR", str(inbox))
    engine = driver.engine
    targets(driver, unit="inbox://ua", supervisor="inbox://sup", leadership="inbox://lead")
    overdue_grievance(driver)
    watchdog.sweep(engine, MON_0900)
    for row in rows(engine):
        assert delivery.send_with_apprise(row) is None
        assert delivery.send_with_apprise(row) is None  # the retry after a crash
    lines = inbox_lines(inbox)
    keys = [line["key"] for line in lines]
    assert sorted(keys) == sorted(r.dedupe_key for r in rows(engine))
    assert delivery.inbox_keys(inbox / "ua.jsonl") == {
        r.dedupe_key for r in rows(engine) if r.url == "inbox://ua"
    }
