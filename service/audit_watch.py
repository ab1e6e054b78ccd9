"""The audit chain watched by the watchdog: each tick seals the new audit events and verifies
incrementally (the grievances with events since the last clean verification, the seals since
it), and once a day everything (a row changed without an event shows only then); what it
finds goes to the bureau's supervisors through the outbox, once per set of findings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from models import audit_seals
from service import audit, outbox
from service.engine import Engine
from workflow.policies import Audience


@dataclass(frozen=True, slots=True)
class Watched:
    sealed: int  # events sealed now
    checked: int  # grievances verified
    findings: int
    full: bool  # everything verified (daily), not only what changed
    notified: int  # outbox rows queued for the supervisors (0 when reported before)


FULL_EVERY = timedelta(hours=24)


def watch(engine: Engine, now: datetime, *, full_every: timedelta = FULL_EVERY) -> Watched:
    """Seal, verify (incrementally, or everything when the last full run is `full_every`
    old), report what is found."""
    sealed = audit.seal(engine, now)
    with engine.db.read() as session:
        last = audit_seals.last_full_check(session)
        full = last is None or now - last.checked_at >= full_every
    result = audit.verify(engine, now, incremental=not full)
    notified = 0
    if result.findings:
        findings = [f.as_dict() for f in result.findings]
        digest = hashlib.sha256(
            json.dumps(findings, sort_keys=True, ensure_ascii=False).encode("utf-8")
        ).hexdigest()
        with engine.db.transaction() as session:
            queued = outbox.queue_audit(
                engine,
                session,
                kind="audit_findings",
                key=f"findings/{digest[:16]}",
                audience=Audience.SUPERVISOR,
                context={"findings": findings[:20], "count": len(findings)},
                now=now,
            )
            notified = len(queued)
    return Watched(sealed.events, result.checked, len(result.findings), full, notified)
