"""Documents: the 复盘报告 (review report) and 无责说明 (no-fault statement) as HTML, Markdown
and Word, stored with their SHA-256 and who rendered them (`grievance document` in the CLI).

The facts come from `workflow.review_report` and `workflow.no_fault_statement` (pure,
masked). Rendering is deterministic: the same facts give the same bytes (the Word file's zip
entries carry a fixed time), so the hash names the content and a document is stored once per
(number, kind, format, language, hash). A review, and a close as 无责 or 不属实, issue their
document by themselves: the record's transaction queues a job
(`service.document_jobs.queue`), which `issue` renders and stores after the commit (the
action that recorded it right away, and every watchdog tick for what a crash left pending).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment
from sqlalchemy import update
from sqlmodel import Session, col, select

import templates
from models import audit_log, case_rows
from models.tables import Document, DocumentJob, GrievanceEvent, Unit
from service.document_jobs import DONE, FAILED, PENDING
from service.engine import Engine
from service.reading import show
from workflow.actor import Actor
from workflow.calendar import BusinessCalendar
from workflow.case import Case, Record
from workflow.documents import KINDS, NO_FAULT, REVIEW
from workflow.errors import InvalidInput, PermissionDenied
from workflow.machine import can_see
from workflow.no_fault_statement import no_fault_facts
from workflow.policies import Policy
from workflow.replay import replay
from workflow.review_report import review_facts
from workflow.sla import rebuild
from workflow.timers import Timer
from workflow.timeutil import iso, to_utc

FORMATS = ("html", "md", "docx")
AUTO_FORMATS = ("html", "docx")  # what a review or a no-fault close issues by itself
FILE_STEMS = {REVIEW: ("复盘报告", "review"), NO_FAULT: ("无责说明", "no-fault")}
TEMPLATES = Path(templates.__file__).parent / "documents"


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendered document: its bytes, their hash, and the file name to give it."""

    kind: str
    fmt: str
    language: str
    content: bytes
    sha256: str
    filename: str


def _check(kind: str, fmt: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"unknown document {kind!r}: use one of {', '.join(KINDS)}")
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown document format {fmt!r}: use one of {', '.join(FORMATS)}")


def facts(
    kind: str,
    case: Case,
    records: Sequence[Record],
    timers: Sequence[Timer],
    policy: Policy,
    calendar: BusinessCalendar,
    unit_names: Mapping[str, str],
    merges: Sequence[Record] = (),
) -> dict[str, Any]:
    """The document's facts (DocumentIncomplete if one it needs is missing); `merges`: the
    并单 records of the duplicates merged into the grievance (all made while it was open, so
    before any of its documents)."""
    if kind == REVIEW:
        return review_facts(case, records, timers, policy, calendar, unit_names, merges)
    return no_fault_facts(case, records, unit_names, zone=calendar.zone)


# ----------------------------------------------------------------------------- rendering
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&~])")
_MD_BLOCK_START = re.compile(r"^([ \t]*)([-+=]|\d+(?=[.)]))", re.MULTILINE)


def md_text(text: str) -> str:
    """Text as literal Markdown: no markup, no raw HTML, no list or heading by accident;
    line breaks stay line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_BLOCK_START.sub(
        lambda m: (
            m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit() else "\\" + m.group(2))
        ),
        text,
    )
    return text.replace("\n", "\\\n")


def _md_safe(value: Any, key: str = "") -> Any:
    """Every text of the facts made literal for Markdown (codes, which templates compare,
    stay as they are)."""
    if isinstance(value, str):
        return value if key == "code" else md_text(value)
    if isinstance(value, Mapping):
        return {k: _md_safe(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_md_safe(v) for v in value]
    return value


@cache
def _docx_environment(lang: str) -> Environment:
    """The shared environment's filters, with autoescape always on (docxtpl renders XML).

    docxtpl compiles the Word body (its XML, tags patched) with `from_string` on every
    render: 60 % of issuing a 复盘报告. The XML of a template file is the same every time,
    so each one is compiled once per process (a compiled template renders any context)."""
    env = templates.environment(lang).overlay(
        autoescape=True, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=False
    )
    env.from_string = lru_cache(maxsize=32)(env.from_string)  # type: ignore[method-assign,assignment]
    return env


@cache
def _docx_template_class() -> type[Any]:
    """docxtpl's template, keeping each file's body XML with its tags patched (docxtpl
    re-reads and re-patches it with regular expressions on every render)."""
    from docxtpl import DocxTemplate  # type: ignore[import-untyped]  # ~0.2 s: only for Word

    patched: dict[str, str] = {}

    class Template(DocxTemplate):  # type: ignore[misc]
        def build_xml(self, context: dict[str, Any], jinja_env: Environment | None = None) -> str:
            key = str(self.template_file)
            if key not in patched:
                patched[key] = self.patch_xml(self.get_xml())
            return str(self.render_xml_part(patched[key], self.docx._part, context, jinja_env))

    return Template


def _docx(kind: str, lang: str, context: Mapping[str, Any]) -> bytes:
    from templates.documents.docx_blocks import stable_zip

    document = _docx_template_class()(str(TEMPLATES / f"{kind}.{lang}.docx"))
    facts = {**context, "bureau": templates.bureau_name(), "logo": None}
    logo = templates.bureau_logo()
    if logo is not None:
        from docx.shared import Mm
        from docxtpl import InlineImage

        facts["logo"] = InlineImage(document, io.BytesIO(logo[0]), height=Mm(18))
    document.render(facts, jinja_env=_docx_environment(lang), autoescape=True)
    out = io.BytesIO()
    document.save(out)
    return stable_zip(out.getvalue())


def render_bytes(kind: str, fmt: str, lang: str, context: Mapping[str, Any]) -> bytes:
    """The document's bytes from its facts; the same facts always give the same bytes."""
    _check(kind, fmt)
    chosen = templates.language(lang)
    if fmt == "docx":
        return _docx(kind, chosen, context)
    if fmt == "md":
        context = _md_safe(context)
    return templates.render(f"documents/{kind}.{fmt}", chosen, **context).encode("utf-8")


def _rendered(kind: str, fmt: str, lang: str, context: Mapping[str, Any]) -> Rendered:
    content = render_bytes(kind, fmt, lang, context)
    zh, en = FILE_STEMS[kind]
    return Rendered(
        kind=kind,
        fmt=fmt,
        language=lang,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        filename=f"{zh if lang == 'zh' else en}-{context['number']}.{fmt}",
    )


# ----------------------------------------------------------------------------- storage
def _unit_names(session: Session) -> dict[str, str]:
    return {unit.code: unit.name for unit in session.exec(select(Unit)).all()}


def _store(
    session: Session,
    grievance_id: int,
    rendered: Rendered,
    *,
    number: str,
    version: int,
    by: str,
    at: datetime,
) -> bool:
    """Store the document unless the same content is stored already; True if stored now."""
    same = select(Document.id).where(
        Document.number == number,
        Document.kind == rendered.kind,
        Document.format == rendered.fmt,
        Document.language == rendered.language,
        Document.sha256 == rendered.sha256,
    )
    if session.exec(same).first() is not None:
        return False
    session.add(
        Document(
            grievance_id=grievance_id,
            number=number,
            kind=rendered.kind,
            format=rendered.fmt,
            language=rendered.language,
            sha256=rendered.sha256,
            content=rendered.content,
            version=version,
            rendered_at=to_utc(at),
            rendered_by=by,
        )
    )
    session.flush()
    return True


def _records(events: Sequence[GrievanceEvent]) -> list[Record]:
    return [audit_log.record_from_event(event) for event in events]


def render(
    engine: Engine,
    number: str,
    kind: str,
    fmt: str,
    actor: Actor,
    at: datetime,
    lang: str | None = None,
    store: bool = True,
    before_store: Callable[[Rendered], None] | None = None,
) -> Rendered:
    """Render one document of a grievance the actor may see, and store it (once per content).

    `at` is when it is rendered (stored as `rendered_at`); the content does not depend on it.
    `before_store` (writing the file, say) runs before the document is stored: if it fails,
    nothing is stored.
    """
    _check(kind, fmt)
    chosen = templates.language(lang)
    view = show(engine, number, actor)
    if not can_see(actor, view.case):
        raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")
    with engine.db.read() as session:
        names = _unit_names(session)
        merges = _records(audit_log.merges_into(session, number))
    policy = engine.policy(view.case.policy)
    context = facts(
        kind, view.case, _records(view.events), view.timers, policy, engine.calendar, names, merges
    )
    rendered = _rendered(kind, fmt, chosen, context)
    if before_store is not None:
        before_store(rendered)
    if store:
        with engine.db.transaction() as session:
            row = case_rows.get_row(session, number)
            if row.id is None:
                raise RuntimeError("grievance row without id")
            _store(
                session,
                row.id,
                rendered,
                number=number,
                version=view.version,
                by=actor.name,
                at=at,
            )
    return rendered


@dataclass(frozen=True, slots=True)
class Issued:
    """What `issue` did with one job."""

    number: str
    kind: str
    version: int
    documents: tuple[Rendered, ...] = ()
    error: str | None = None  # why it failed (the job is kept as `failed`)


_PENDING_JOBS = select(DocumentJob).order_by(col(DocumentJob.id))


def _as_of(engine: Engine, session: Session, job: DocumentJob) -> dict[str, Any]:
    """The document's facts as of the job's version: the audit events up to it, replayed
    (the same case and timers the record's transaction wrote; later events don't show)."""
    events = [e for e in audit_log.events_of(session, job.number) if e.seq <= job.version]
    records = _records(events)
    case = replay(records)
    if case is None:
        raise RuntimeError(f"grievance {job.number} has no audit events")
    policy = engine.policy(case.policy, session)
    timers = rebuild(records, policy, engine.calendars)
    names = _unit_names(session)
    merges = _records(audit_log.merges_into(session, job.number))
    return facts(job.kind, case, records, timers, policy, engine.calendar, names, merges)


def issue(
    engine: Engine,
    at: datetime,
    *,
    number: str | None = None,
    limit: int = 100,
    retry_failed: bool = False,
) -> list[Issued]:
    """Render and store the documents of pending jobs (oldest first; one grievance's with
    `number`); with `retry_failed`, failed ones too.

    Each job is rendered outside any write transaction, then stored and marked done in one
    short transaction that first claims it (`status` still what it was read as): two issuers
    at once (the action that queued it and a watchdog tick) store it once. A job that can't
    be rendered is marked `failed` with the reason and the others go on. `at` is when this
    runs (the job's `done_at`); the documents carry the record's actor and time.
    """
    wanted = (PENDING, FAILED) if retry_failed else (PENDING,)
    query = _PENDING_JOBS.where(col(DocumentJob.status).in_(wanted)).limit(max(1, limit))
    if number is not None:
        query = query.where(DocumentJob.number == number)
    with engine.db.read() as session:
        jobs = list(session.exec(query).all())
    done: list[Issued] = []
    for job in jobs:
        try:
            with engine.db.read() as session:
                context = _as_of(engine, session, job)
            rendered = tuple(
                _rendered(job.kind, fmt, job.language, context) for fmt in AUTO_FORMATS
            )
        except Exception as error:  # one job's failure must not stop the others: kept, shown
            reason = f"{type(error).__name__}: {error}"[:2000]
            if _finish(engine, job, FAILED, at, error=reason):
                done.append(Issued(job.number, job.kind, job.version, error=reason))
            continue
        if _finish(engine, job, DONE, at, rendered=rendered):
            done.append(Issued(job.number, job.kind, job.version, documents=rendered))
    return done


def _finish(
    engine: Engine,
    job: DocumentJob,
    status: str,
    at: datetime,
    *,
    rendered: Sequence[Rendered] = (),
    error: str | None = None,
) -> bool:
    """Claim the job and record its outcome (storing `rendered`); False if another issuer
    got there first."""
    with engine.db.transaction() as session:
        claimed = session.connection().execute(
            update(DocumentJob)
            .where(col(DocumentJob.id) == job.id, col(DocumentJob.status) == job.status)
            .values(
                status=status,
                attempts=DocumentJob.attempts + 1,
                last_error=error,
                done_at=to_utc(at) if status == DONE else None,
            )
        )
        if claimed.rowcount != 1:
            return False
        for document in rendered:
            _store(
                session,
                job.grievance_id,
                document,
                number=job.number,
                version=job.version,
                by=job.requested_by,
                at=job.requested_at,
            )
    return True


def stored(engine: Engine, number: str) -> list[dict[str, Any]]:
    """The documents stored for a grievance, oldest first (without their content)."""
    with engine.db.read() as session:
        query = select(Document).where(Document.number == number).order_by(col(Document.id))
        return [
            {
                "id": doc.id,
                "number": doc.number,
                "kind": doc.kind,
                "format": doc.format,
                "language": doc.language,
                "sha256": doc.sha256,
                "bytes": len(doc.content),
                "version": doc.version,
                "rendered_at": iso(doc.rendered_at),
                "rendered_by": doc.rendered_by,
            }
            for doc in session.exec(query).all()
        ]
