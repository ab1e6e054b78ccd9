"""Documents: the 复盘报告 (review report) and 无责说明 (no-fault statement) as HTML, Markdown
and Word, stored with their SHA-256 and who rendered them; `grievance document`.

The facts come from `workflow.documents` (pure, masked). Rendering is deterministic: the same
facts give the same bytes (the Word file's zip entries carry a fixed time), so the hash names
the content and a document is stored once per (number, kind, format, language, hash). A
review, and a close as 无责 or 不属实, store their document automatically (`auto_render`, in
the same transaction as the record).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import click
from jinja2 import Environment
from sqlmodel import Session, col, select

import templates
from flows.engine import Engine
from models import repo
from models.tables import Document, GrievanceEvent, Unit
from workflow.actor import Actor
from workflow.calendar import BusinessCalendar
from workflow.case import Case, Record
from workflow.commands import NO_FAULT_RESULTS
from workflow.documents import KINDS, NO_FAULT, REVIEW, no_fault_facts, review_facts
from workflow.errors import InvalidInput, PermissionDenied
from workflow.machine import can_see
from workflow.policies import Policy
from workflow.sla import Timer
from workflow.timeutil import iso, to_utc
from workflow.vocab import Event, Role

FORMATS = ("html", "md", "docx")
AUTO_FORMATS = ("html", "docx")  # what a review or a no-fault close stores by itself
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
) -> dict[str, Any]:
    """The document's facts (DocumentIncomplete if one it needs is missing)."""
    if kind == REVIEW:
        return review_facts(case, records, timers, policy, calendar, unit_names)
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
    from docxtpl import DocxTemplate  # ~0.2 s to import: only when a Word file is wanted

    patched: dict[str, str] = {}

    class Template(DocxTemplate):  # type: ignore[misc]
        def build_xml(self, context: dict[str, Any], jinja_env: Environment | None = None) -> str:
            key = str(self.template_file)
            if key not in patched:
                patched[key] = self.patch_xml(self.get_xml())
            return str(self.render_xml_part(patched[key], self.docx._part, context, jinja_env))

    return Template


def _docx(kind: str, lang: str, context: Mapping[str, Any]) -> bytes:
    from templates.documents.make_docx import stable_zip

    document = _docx_template_class()(str(TEMPLATES / f"{kind}.{lang}.docx"))
    document.render(dict(context), jinja_env=_docx_environment(lang), autoescape=True)
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
    return [repo.record_from_event(event) for event in events]


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
    from flows import usecases  # usecases calls auto_render: imported here, not at the top

    _check(kind, fmt)
    chosen = templates.language(lang)
    view = usecases.show(engine, number, actor)
    if not can_see(actor, view.case):
        raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")
    with engine.db.read() as session:
        names = _unit_names(session)
    policy = engine.policies.get(view.case.policy)
    context = facts(
        kind, view.case, _records(view.events), view.timers, policy, engine.calendar, names
    )
    rendered = _rendered(kind, fmt, chosen, context)
    if before_store is not None:
        before_store(rendered)
    if store:
        with engine.db.transaction() as session:
            row = repo.get_row(session, number)
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


def auto_render(
    engine: Engine,
    session: Session,
    row_id: int,
    case: Case,
    record: Record,
    recorded_at: datetime,
) -> list[Rendered]:
    """The documents a record issues, stored in the caller's transaction: a review stores the
    review report, a close as 无责 or 不属实 the no-fault statement (HTML and Word each, in the
    deployment's language, rendered by the record's actor). `case` is the case after it."""
    if record.event is Event.REVIEW:
        kind = REVIEW
    elif record.event is Event.CLOSE and case.result in NO_FAULT_RESULTS:
        kind = NO_FAULT
    else:
        return []
    events = repo.events_of(session, case.number)
    timers = [repo.timer_from_row(t) for t in repo.timers_of(session, row_id)]
    policy = engine.policies.get(case.policy)
    context = facts(
        kind, case, _records(events), timers, policy, engine.calendar, _unit_names(session)
    )
    version = max(event.seq for event in events)
    lang = engine.notify.language
    done = []
    for fmt in AUTO_FORMATS:
        rendered = _rendered(kind, fmt, lang, context)
        _store(
            session,
            row_id,
            rendered,
            number=case.number,
            version=version,
            by=record.actor.name,
            at=recorded_at,
        )
        done.append(rendered)
    return done


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


# ----------------------------------------------------------------------------- CLI
def write_file(out: Path, content: bytes) -> None:
    """Write `content` to `out` (folders created); a path that can't be written is the
    user's error, named in one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise InvalidInput(f"--out {str(out)[:200]!r}: can't write the file: {reason}") from None


_ROLES = [role.value for role in Role if role is not Role.SYSTEM]


@click.command("document")
@click.argument("number")
@click.argument("kind", type=click.Choice(["review", "no-fault"]))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (overwritten; missing folders are created).",
)
@click.option(
    "--lang",
    type=click.Choice(templates.LANGUAGES),
    default=None,
    help="zh (default) or en [GRIEVANCE_LANGUAGE].",
)
@click.option("--json", "json_out", is_flag=True, default=None, help="Print JSON.")
@click.option("--at", "at_text", metavar="ISO8601", help="When it is rendered (default now).")
@click.option("--actor", "actor_name", metavar="NAME", help="Who renders [GRIEVANCE_ACTOR].")
@click.option("--role", "role_name", type=click.Choice(_ROLES), help="Their role.")
@click.option("--actor-unit", "actor_unit", metavar="CODE", help="Their unit (unit staff).")
def document(number: str, kind: str, fmt: str, out: Path, lang: str | None, **who: Any) -> None:
    """复盘报告 / 无责说明: render the review report or no-fault statement of a grievance to a
    file (HTML, Markdown or Word) and store it with its hash."""
    from flows.cli import _ctx  # flows.cli adds this command: imported here, not at the top

    ctx = _ctx(**who)
    rendered = render(
        ctx.engine,
        number,
        kind.replace("-", "_"),
        fmt,
        ctx.actor,
        ctx.stamp.at,
        lang=lang,
        before_store=lambda done: write_file(out, done.content),
    )
    data = {
        "path": str(out),
        "format": fmt,
        "language": rendered.language,
        "sha256": rendered.sha256,
        "bytes": len(rendered.content),
    }
    if ctx.json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(
            f"{out}  {fmt} ({rendered.language})  {len(rendered.content)} bytes  "
            f"sha256 {rendered.sha256}"
        )
