"""`grievance audit verify|anchor|seal`: the audit chain checked end to end (chain, replay,
row, timers, documents, seals, anchors), the head hash anchored, pending events sealed."""

from __future__ import annotations

import sys
from typing import Any

import click

from cli.context import acting, cli, emit, make_ctx
from service import audit
from service.acting import require_bureau, require_desk
from workflow.errors import InvalidInput
from workflow.timeutil import iso


@cli.group("audit")
def audit_group() -> None:
    """Audit log (审计日志): verify the chain and every grievance against it, anchor its head."""


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None

    def show(result: audit.Verification) -> None:
        click.echo(
            f"\rverify: {result.checked} grievances, {result.events} events, "
            f"{len(result.findings)} finding(s)",
            nl=False,
            err=True,
        )

    return show


@audit_group.command("verify")
@click.option("--number", metavar="NUMBER", help="Only this grievance.")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="HASH",
    help="A head hash kept outside the database: it must be in the log of seals (repeatable).",
)
@click.option(
    "--incremental", is_flag=True, help="Only grievances with events since the last clean run."
)
@click.option("--batch", default=audit.BATCH, show_default=True, help="Grievances per batch.")
@acting
def audit_verify(
    number: str | None, anchors: tuple[str, ...], incremental: bool, batch: int, **who: Any
) -> None:
    """Replay every grievance's events and compare with what is stored; exit 1 on a finding."""
    ctx = make_ctx(**who)
    require_bureau(ctx.actor, "audit verify")
    if not 1 <= batch <= 10_000:
        raise InvalidInput("--batch must be between 1 and 10000")
    for digest in anchors:
        if len(digest.strip()) != 64:
            raise InvalidInput(f"--anchor {digest[:20]!r} is not a SHA-256 hash (64 hex digits)")
    result = audit.verify(
        ctx.engine,
        ctx.stamp.recorded_at,
        number=number,
        anchors=anchors,
        incremental=incremental,
        record=False,  # a look, not the watchdog's bookkeeping: the command writes nothing
        batch=batch,
        progress=_progress(),
    )
    if sys.stderr.isatty():
        click.echo("", err=True)
    lines = [f"{f.number or '(log)'} {f.kind}: {f.detail}" for f in result.findings]
    lines.append(
        f"checked {result.checked} grievance(s), {result.events} event(s): "
        + ("ok" if result.ok else f"{len(result.findings)} finding(s)")
        + (f"; {result.unsealed} event(s) not sealed yet" if result.unsealed else "")
    )
    emit(ctx, result.as_dict(), "\n".join(lines))
    if not result.ok:
        click.echo(f"error: the audit check found {len(result.findings)} finding(s)", err=True)
        sys.exit(1)


@audit_group.command("anchor")
@click.option("--purpose", default="anchor", show_default=True, help="Where it goes (noted).")
@click.option(
    "--send", is_flag=True, help="Also send it to the bureau's leadership through the outbox."
)
@acting
def audit_anchor(purpose: str, send: bool, **who: Any) -> None:
    """Seal what is pending and print the head hash with its time, to keep out of reach."""
    ctx = make_ctx(**who)
    require_desk(ctx.actor, "anchors the audit log")
    made = audit.anchor(
        ctx.engine, ctx.stamp.recorded_at, by=ctx.actor.name, purpose=purpose, send=send
    )
    data = {"hash": made.hash, "seal": made.seal_id, "at": iso(made.at), "anchor": made.id}
    emit(ctx, data, made.text)


@audit_group.command("seal")
@acting
def audit_seal(**who: Any) -> None:
    """Seal the audit events appended since the last seal (the watchdog does it every tick)."""
    ctx = make_ctx(**who)
    require_desk(ctx.actor, "seals the audit log")
    sealed = audit.seal(ctx.engine, ctx.stamp.recorded_at)
    data = {"seals": sealed.seals, "events": sealed.events, "hash": sealed.head}
    emit(
        ctx, data, f"sealed {sealed.events} event(s) in {sealed.seals} seal(s); head {sealed.head}"
    )
