"""`grievance document` (render one to a file) and `grievance documents jobs|issue`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

import templates
from cli.context import acting, choice, cli, emit, make_ctx, now_from
from service import document_jobs, documents
from service.acting import require_bureau, require_desk
from workflow.errors import InvalidInput
from workflow.vocab import Role


@cli.group("documents")
def documents_group() -> None:
    """Document jobs (出具文书): the documents reviews and no-fault closes issue."""


@documents_group.command("jobs")
@click.option("--status", type=click.Choice(document_jobs.JOB_STATUSES), help="Only these.")
@click.option("--limit", default=100, show_default=True, help="At most this many.")
@acting
def documents_jobs(status: str | None, limit: int, **who: Any) -> None:
    """Document jobs, newest first: pending, done, or failed with the reason."""
    ctx = make_ctx(**who)
    require_bureau(ctx.actor, "the list of document jobs")
    if not 1 <= limit <= 100_000:
        raise InvalidInput("--limit must be between 1 and 100000")
    rows = document_jobs.jobs(ctx.engine, status=status, limit=limit)
    text = [
        f"{r['id']:>6} {r['status']:<8} {r['number']} {r['kind']:<9} v{r['version']}"
        f"  attempts {r['attempts']}" + (f"  ({r['last_error']})" if r["last_error"] else "")
        for r in rows
    ]
    emit(ctx, rows, "\n".join(text) or "no document jobs")


@documents_group.command("issue")
@click.option("--retry-failed", is_flag=True, help="Also try the failed ones again.")
@click.option("--now", "now_text", metavar="ISO8601", help="As of this instant (default now).")
@acting
def documents_issue(retry_failed: bool, now_text: str | None, **who: Any) -> None:
    """Render and store the documents still pending (the watchdog does it every tick)."""
    ctx = make_ctx(**who)
    require_desk(ctx.actor, "issues pending documents")
    done = documents.issue(
        ctx.engine, now_from(now_text, ctx), limit=100_000, retry_failed=retry_failed
    )
    failed = [job for job in done if job.error is not None]
    data = {
        "issued": len(done) - len(failed),
        "failed": [
            {"number": j.number, "kind": j.kind, "version": j.version, "error": j.error}
            for j in failed
        ],
    }
    text = [f"issued {data['issued']}, failed {len(failed)}"]
    text += [f"  {j.number} {j.kind} v{j.version}: {j.error}" for j in failed]
    emit(ctx, data, "\n".join(text))


def write_file(out: Path, content: bytes) -> None:
    """Write `content` to `out` (folders created); a path that can't be written is the
    user's error, named in one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(content)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise InvalidInput(f"--out {str(out)[:200]!r}: can't write the file: {reason}") from None


@cli.command("document")
@click.argument("number")
@click.argument("kind", type=click.Choice(["review", "no-fault"]))
@click.option(
    "--format", "fmt", type=click.Choice(documents.FORMATS), default="html", show_default=True
)
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
@click.option(
    "--role", "role_name", type=choice(Role, exclude=(Role.SYSTEM.value,)), help="Their role."
)
@click.option("--actor-unit", "actor_unit", metavar="CODE", help="Their unit (unit staff).")
def document(number: str, kind: str, fmt: str, out: Path, lang: str | None, **who: Any) -> None:
    """复盘报告 / 无责说明: render the review report or no-fault statement of a grievance to a
    file (HTML, Markdown or Word) and store it with its hash."""
    ctx = make_ctx(**who)
    rendered = documents.render(
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
