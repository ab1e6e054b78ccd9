"""Delivery of the outbox through Apprise: retries with backoff, every attempt recorded,
dead letters kept and listed, never dropped.

One run (`deliver(engine, now)`):
1. claims due rows in one short transaction (status `sending`, attempt counted, a lease),
2. sends each through Apprise outside any transaction,
3. records each outcome in its own transaction: `sent`; or `pending` again after a backoff
   (1, 2, 4... minutes, at most an hour); or `dead` once its attempts are used up.

A process killed between 2 and 3 leaves the row `sending`; when its lease runs out the next
run sends it again and records the lost attempt as such. Delivery is therefore at least once;
JSON webhooks get the row's dedupe key in an `X-Grievance-Key` header so a receiver can make
it exactly once, and the local inbox does so itself (bench/crash.py kills deliveries at random
to show it). Channels: every Apprise URL (DingTalk `dingtalk://`, WeCom `wecombot://`,
Feishu/Lark `feishu://`/`lark://`, e-mail `mailto://`, `json://` webhooks...), plus
`inbox://NAME`, which appends to `$GRIEVANCE_INBOX_DIR/NAME.jsonl` (default `./inbox`): a
local channel for the demo and for desks without a chat system.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import apprise
from apprise.decorators import notify as apprise_notify
from sqlmodel import col, select

from models.tables import Notification, NotificationAttempt
from service import callbacks
from service.engine import Engine
from service.outbox import DEAD, PENDING, SENDING, SENT
from workflow.errors import InvalidInput, NotFound
from workflow.timeutil import iso, to_utc

BATCH = 50
_KEYED_SCHEMES = ("json", "jsons", "form", "forms", "xml", "xmls")

Sender = Callable[[Notification], str | None]  # returns None when sent, else the error


@apprise_notify(on="inbox", name="Grievance engine local inbox")  # type: ignore[no-untyped-call, untyped-decorator]  # Apprise is untyped
def _inbox(body: str, title: str, notify_type: str, meta: dict[str, Any], **_: Any) -> bool:
    """`inbox://NAME`: append the message to a JSON-lines file (no network needed).

    The engine adds the row's dedupe key (`?key=...`); a message whose key is already in the
    file is not written again, so a delivery retried after a crash (sent, but killed before
    it was recorded) still lands once. Lines are written whole, under an exclusive lock.
    """
    name = str(meta.get("host") or "inbox")
    key = str((meta.get("qsd") or {}).get("key") or "") or None
    folder = Path(os.environ.get("GRIEVANCE_INBOX_DIR") or "inbox")
    folder.mkdir(parents=True, exist_ok=True)
    record = {"title": title, "body": body, "type": str(notify_type)}
    if key:
        record["key"] = key
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(folder / f"{name}.jsonl", os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if key is None or key not in inbox_keys(folder / f"{name}.jsonl"):
            os.write(fd, line)
    finally:
        os.close(fd)  # also releases the lock
    return True


def inbox_keys(path: Path) -> set[str]:
    """The dedupe keys of the messages in an inbox file (a torn last line is ignored)."""
    keys: set[str] = set()
    if not path.exists():
        return keys
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            key = json.loads(text).get("key")
        except ValueError:
            continue
        if key:
            keys.add(str(key))
    return keys


def check_url(url: str) -> str:
    """Refuse a URL Apprise cannot send to, with a clear message."""
    if not url.strip() or apprise.Apprise.instantiate(url) is None:
        raise InvalidInput(
            f"not a notification URL Apprise can use: {redact(url)!r} (e.g. "
            "dingtalk://TOKEN, wecombot://KEY, feishu://TOKEN, mailto://..., json://HOST/PATH, "
            "inbox://NAME)"
        )
    return url.strip()


def redact(url: str | None) -> str | None:
    """A URL fit to show: Apprise's privacy form (tokens and passwords starred)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() == "inbox":
        return url  # a local file name: nothing secret
    if parts.scheme.lower() in (*_KEYED_SCHEMES, "http", "https"):  # a path may carry a token
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or ''}{port}/…"
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or ''}/…" if parts.scheme else "…"
    return str(plugin.url(privacy=True)).split("?")[0]  # type: ignore[no-untyped-call]


def _keyed(url: str, key: str) -> str:
    """The URL to send one row to: webhooks get the dedupe key as a header, the local inbox
    as a parameter (it refuses a key twice); other channels as they are."""
    scheme = urlsplit(url).scheme.lower()
    joiner = "&" if "?" in url else "?"
    if scheme == "inbox":
        return f"{url}{joiner}key={quote(key, safe='')}"
    if scheme not in _KEYED_SCHEMES:
        return url
    return f"{url}{joiner}+X-Grievance-Key={quote(key, safe='')}"


def send_with_apprise(row: Notification) -> str | None:
    """Send one row; None when the channel accepted it, else what went wrong."""
    if row.url is None:
        return "no target URL"
    client = apprise.Apprise()
    if not client.add(_keyed(row.url, row.dedupe_key)):
        return f"not a valid Apprise URL: {redact(row.url)}"
    with apprise.LogCapture(level=logging.WARNING) as logs:  # type: ignore[no-untyped-call]
        ok = client.notify(
            title=row.title, body=row.body, body_format=apprise.NotifyFormat.MARKDOWN
        )
    if ok:
        return None
    lines = [line for line in logs.getvalue().splitlines() if line.strip()]
    return (lines[-1].split(" - ", 2)[-1] if lines else "the channel refused the message")[:500]


def default_sender(engine: Engine) -> Sender:
    """Partner callbacks signed per Standard Webhooks, every other row through Apprise."""

    def send(row: Notification) -> str | None:
        if row.kind == callbacks.KIND:
            return callbacks.send(engine, row)
        return send_with_apprise(row)

    return send


@dataclass
class DeliveryResult:
    now: datetime
    sent: int = 0
    retried: int = 0  # failed, to be tried again later
    dead: int = 0  # failed for the last time: dead-lettered
    errors: list[str] = field(default_factory=list)


def deliver(
    engine: Engine,
    now: datetime,
    *,
    send: Sender | None = None,
    batch: int = BATCH,
    limit: int | None = None,
    progress: Callable[[DeliveryResult], None] | None = None,
) -> DeliveryResult:
    """Send the notifications due at `now` (and those whose delivery lease ran out).

    `send` sends one row; by default partner callbacks go out signed (`service.callbacks`),
    everything else through Apprise."""
    now = to_utc(now)
    if send is None:
        send = default_sender(engine)
    result = DeliveryResult(now)
    done = 0
    while limit is None or done < limit:
        claimed = _claim(engine, now, batch if limit is None else min(batch, limit - done))
        if not claimed:
            break
        for row_id, version in claimed:
            _send_one(engine, row_id, version, now, send, result)
        done += len(claimed)
        if progress is not None:
            progress(result)
    return result


def _claim(engine: Engine, now: datetime, batch: int) -> list[tuple[int, int]]:
    lease = now + engine.notify.lease
    with engine.db.transaction() as session:
        due = select(Notification).where(
            Notification.status == PENDING, col(Notification.next_attempt_at) <= now
        )
        stale = select(Notification).where(
            Notification.status == SENDING, col(Notification.lease_until) <= now
        )
        rows: list[Notification] = []
        for query in (stale, due):
            query = query.order_by(col(Notification.id)).limit(batch - len(rows))
            if not engine.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            if len(rows) < batch:
                rows += session.exec(query).all()
        claimed: list[tuple[int, int]] = []
        for row in rows:
            if row.id is None:
                continue
            if row.status == SENDING:  # a delivery that never reported back
                lost = "no outcome recorded: the delivery stopped"
                _finish_attempt(session, row, now, lost)
                if row.attempts >= row.give_up_after:  # that was its last attempt
                    row.status, row.last_error, row.lease_until = DEAD, lost, None
                    row.version += 1
                    continue
            row.status = SENDING
            row.attempts += 1
            row.lease_until = lease
            row.version += 1
            session.add(
                NotificationAttempt(notification_id=row.id, attempt=row.attempts, started_at=now)
            )
            claimed.append((row.id, row.version))
        session.flush()
        return claimed


def _finish_attempt(session: Any, row: Notification, now: datetime, error: str | None) -> None:
    attempt = session.exec(
        select(NotificationAttempt).where(
            NotificationAttempt.notification_id == row.id,
            NotificationAttempt.attempt == row.attempts,
        )
    ).first()
    if attempt is not None and attempt.finished_at is None:
        attempt.finished_at, attempt.ok, attempt.error = now, error is None, error


def _send_one(
    engine: Engine, row_id: int, version: int, now: datetime, send: Sender, result: DeliveryResult
) -> None:
    with engine.db.read() as session:
        row = session.get(Notification, row_id)
    if row is None or row.version != version:
        return
    try:
        error = send(row)
    except Exception as exc:  # a channel plug-in failing must not stop the others
        error = f"{type(exc).__name__}: {exc}"[:500]
    with engine.db.transaction() as session:
        row = session.get(Notification, row_id)
        if row is None or row.version != version:  # someone reclaimed it after our lease
            return
        _finish_attempt(session, row, now, error)
        row.version += 1
        row.lease_until = None
        if error is None:
            row.status, row.sent_at, row.last_error = SENT, now, None
            row.next_attempt_at = None
            result.sent += 1
        elif row.attempts >= row.give_up_after:
            row.status, row.last_error, row.next_attempt_at = DEAD, error, None
            result.dead += 1
            result.errors.append(f"{row.number} {row.step} → {row.recipient}: {error}")
        else:
            row.status, row.last_error = PENDING, error
            row.next_attempt_at = now + engine.notify.delay(row.attempts)
            result.retried += 1


def requeue(engine: Engine, now: datetime, ids: list[int] | None = None) -> int:
    """Give dead letters another round of attempts (all of them, or the given ids)."""
    now = to_utc(now)
    with engine.db.transaction() as session:
        query = select(Notification).where(Notification.status == DEAD)
        if ids:
            query = query.where(col(Notification.id).in_(ids))
        rows = session.exec(query).all()
        if ids and len(rows) != len(set(ids)):
            missing = sorted(set(ids) - {r.id for r in rows})
            raise NotFound(f"no dead notification with id {', '.join(map(str, missing))}")
        count = 0
        for row in rows:
            if row.url is None:
                continue  # still nobody to send it to: configure a target first
            row.status, row.next_attempt_at = PENDING, now
            row.give_up_after = row.attempts + engine.notify.max_attempts
            row.version += 1
            count += 1
        return count


def listing(
    engine: Engine, *, status: str | None = None, number: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Outbox rows as plain data for the CLI and the UI (URLs redacted)."""
    if status is not None and status not in (PENDING, SENDING, SENT, DEAD):
        raise InvalidInput(f"unknown status {status!r}: use pending, sending, sent or dead")
    with engine.db.read() as session:
        query = select(Notification)
        if status is not None:
            query = query.where(Notification.status == status)
        if number is not None:
            query = query.where(Notification.number == number)
        rows = session.exec(query.order_by(col(Notification.id)).limit(limit)).all()
        return [listed(row) for row in rows]


def listed(row: Notification) -> dict[str, Any]:
    """One outbox row as `listing` shows it (URL redacted; no body)."""
    return {
        "id": row.id,
        "grievance": row.number,
        "kind": row.kind,
        "target": row.target,
        "cycle": row.cycle,
        "step": row.step,
        "audience": row.audience,
        "unit": row.unit,
        "recipient": row.recipient,
        "channel": redact(row.url),
        "status": row.status,
        "attempts": row.attempts,
        "created_at": iso(row.created_at),
        "not_before": iso(row.not_before),
        "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at),
        "last_error": row.last_error,
        "title": row.title,
    }
