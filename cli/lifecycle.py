"""The lifecycle commands: `accept` and one command per action (assign, sign, return, feedback,
close, revisit, redo, review, merge...), each a call of its use case in `service.cases`."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import click

from cli import present
from cli.context import Ctx, F, acting, choice, cli, emit, emit_case, instant, make_ctx
from service import cases as uc
from service import documents, finding
from service.acting import Stamp
from service.engine import Engine
from workflow.commands import Accept, parse_command
from workflow.timeutil import iso
from workflow.vocab import Category, Channel, CloseResult, Event, RequestType, Satisfaction


@cli.command()
@click.option("--channel", required=True, type=choice(Channel), help="Source channel (来源渠道).")
@click.option("--ref", required=True, help="The channel's own reference number (渠道编号).")
@click.option("--type", "type_", required=True, type=choice(RequestType), help="诉求类型.")
@click.option("--category", required=True, type=choice(Category), help="诉求分类.")
@click.option("--name", required=True, help="Complainant's name (诉求人).")
@click.option("--phone", required=True, help="Complainant's phone.")
@click.option("--plate", help="Plate number, e.g. 川B12345.")
@click.option("--description", required=True, help="What the driver asks (at most 2000 chars).")
@click.option("--amount", help="Amount in dispute, yuan.")
@click.option("--urgent", is_flag=True, help="Urgent: received, transferred and handled at once.")
@click.option("--respondent", help="Who is complained about (被反映对象): company, platform...")
@acting
def accept(
    channel: str,
    ref: str,
    type_: str,
    category: str,
    name: str,
    phone: str,
    plate: str | None,
    description: str,
    amount: str | None,
    urgent: bool,
    respondent: str | None,
    **who: Any,
) -> None:
    """受理: register a new grievance."""
    ctx = make_ctx(**who)
    data = {
        "channel": channel,
        "ref": ref,
        "type": type_,
        "category": category,
        "name": name,
        "phone": phone,
        "plate": plate,
        "description": description,
        "amount": amount,
        "urgent": urgent,
        "respondent": respondent,
    }
    command = parse_command(Event.ACCEPT, {k: v for k, v in data.items() if v is not None})
    if not isinstance(command, Accept):
        raise TypeError("accept parsed to another command")
    case = uc.accept(ctx.engine, command, ctx.stamp)
    # 疑似重复: the same phone or plate as an open grievance (or one closed lately)
    candidates = finding.duplicate_candidates(ctx.engine, case, ctx.stamp.at)
    hint = finding.duplicate_hint(candidates)
    shown = present.case_dict(case)
    shown["duplicates"] = [c.as_dict() for c in candidates]
    text = f"{Event.ACCEPT.zh} {Event.ACCEPT.value}: {case.number} -> {case.state.value} "
    emit(ctx, shown, text + f"({case.state.zh})" + (f"\n  {hint}" if hint else ""))


def _resync_case_run(ctx: Ctx, number: str) -> None:
    """After a committed action: re-sync the grievance's case run in the Prefect UI
    (`flows.case_sync`), only when PREFECT_API_URL names a server and case runs are on; else
    the watchdog's next tick does it from the audit log. Never fails the command."""
    switch = (os.environ.get("GRIEVANCE_CASE_RUNS") or "1").strip().lower()
    if switch in ("0", "false", "no", "off") or not os.environ.get("PREFECT_API_URL"):
        return
    try:
        from flows import case_sync

        done = case_sync.resync_after_cli(number, engine=ctx.engine)
    except Exception as error:  # noqa: BLE001 - the action is committed whatever happens here
        done = f"failed: {type(error).__name__}"
    if done.startswith("failed"):
        click.echo(f"note: Prefect worklist not re-synced ({done}); the watchdog will", err=True)


def _issue_documents(ctx: Ctx, number: str) -> None:
    """Issue the documents the action just queued (a review's 复盘报告, a no-fault close's
    无责说明), after its commit: a failure is a note, not an error (the action stands; the
    job waits in `grievance documents jobs`)."""
    for job in documents.issue(ctx.engine, ctx.stamp.recorded_at, number=number):
        if job.error is not None:
            click.echo(f"note: document {job.kind} of {number} not issued: {job.error}", err=True)


def _action(
    name: str, event: Event, run: Callable[..., Any], params: Sequence[Callable[[F], F]]
) -> None:
    """Declare one `grievance <name> NUMBER [options]` command that calls use case `run`."""

    def command(number: str, expect_version: int | None, **kwargs: Any) -> None:
        who = {
            k: kwargs.pop(k)
            for k in ("json_out", "at_text", "actor_name", "role_name", "actor_unit")
        }
        ctx = make_ctx(**who)
        case = run(ctx.engine, number, ctx.stamp, expected_version=expect_version, **kwargs)
        _issue_documents(ctx, case.number)
        emit_case(ctx, case, event)
        _resync_case_run(ctx, case.number)

    command.__doc__ = (run.__doc__ or event.zh).splitlines()[0]
    decorated: Any = acting(command)
    for param in reversed(params):
        decorated = param(decorated)
    decorated = click.option(
        "--expect-version",
        type=int,
        metavar="N",
        help="Refuse (conflict) unless the grievance is still at this version.",
    )(decorated)
    decorated = click.argument("number")(decorated)
    cli.command(name)(decorated)


_reason = click.option("--reason", required=True, help="Why (at most 500 chars).")
_note = click.option("--note", help="Note.")
_co = click.option(
    "--co-unit",
    "co_units",
    multiple=True,
    metavar="CODE",
    help="Co-handling unit (协办), repeatable.",
)

_action(
    "assign",
    Event.ASSIGN,
    uc.assign,
    [click.option("--unit", required=True, metavar="CODE", help="Lead unit (主办)."), _co],
)
_action("sign", Event.SIGN, uc.sign, [_note])
_action("return", Event.RETURN, uc.return_to_desk, [_reason])
_action(
    "reassign",
    Event.REASSIGN,
    uc.reassign,
    [
        click.option("--unit", required=True, metavar="CODE", help="New lead unit."),
        _reason,
        click.option(
            "--co-unit",
            "add_co_units",
            multiple=True,
            metavar="CODE",
            help="Co-handling unit to add (协办), repeatable; the current ones stay.",
        ),
        click.option(
            "--remove-co-unit",
            "remove_co_units",
            multiple=True,
            metavar="CODE",
            help="Co-handling unit that no longer helps, repeatable.",
        ),
    ],
)
_action(
    "feedback",
    Event.FEEDBACK,
    uc.feedback,
    [click.option("--note", required=True, help="What the driver was told.")],
)
_action(
    "extend",
    Event.REQUEST_EXTENSION,
    uc.request_extension,
    [click.option("--days", required=True, type=int, help="Working days asked for."), _reason],
)
_action("approve-extension", Event.APPROVE_EXTENSION, uc.approve_extension, [_note])
_action("reject-extension", Event.REJECT_EXTENSION, uc.reject_extension, [_reason])
_action("suspend", Event.SUSPEND, uc.suspend, [_reason])
_action("resume", Event.RESUME, uc.resume, [_note])


def _close(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    verification: str | None,
    facts: str | None,
    basis: str | None,
    explanation: str | None,
    explained_at: str | None,
    evidence: tuple[str, ...],
    **kwargs: Any,
) -> Any:
    """办结: close with a result (no_fault / unsubstantiated: with the findings, by a supervisor)."""
    parts = {
        "verification": verification,
        "facts": facts,
        "basis": basis,
        "explanation": explanation,
        "explained_at": iso(instant(explained_at)) if explained_at else None,
        "evidence": list(evidence) or None,
    }
    findings = {k: v for k, v in parts.items() if v is not None} or None
    return uc.close(engine, number, stamp, findings=findings, **kwargs)


_action(
    "close",
    Event.CLOSE,
    _close,
    [
        click.option("--result", required=True, type=choice(CloseResult), help="办理结果."),
        click.option("--note", required=True, help="How it was handled."),
        click.option("--recovered", metavar="YUAN", help="Amount recovered for the driver."),
        click.option("--verification", help="无责说明: how it was verified (核实经过)."),
        click.option("--facts", help="无责说明: the facts found (查明事实)."),
        click.option("--basis", help="无责说明: the legal or policy basis (依据)."),
        click.option("--explanation", help="无责说明: what was explained to the driver."),
        click.option("--explained-at", metavar="ISO8601", help="无责说明: when it was explained."),
        click.option(
            "--evidence", multiple=True, help="无责说明: one piece of evidence (repeatable)."
        ),
    ],
)
_action(
    "revisit",
    Event.REVISIT,
    uc.revisit,
    [
        click.option(
            "--satisfaction", required=True, type=choice(Satisfaction), help="The driver's answer."
        ),
        _note,
    ],
)
_action("redo", Event.REDO, uc.redo, [_reason])
_action(
    "review",
    Event.REVIEW,
    uc.review,
    [
        click.option("--root-cause", required=True, help="问题根源."),
        click.option("--actions", required=True, help="整改措施 corrective actions."),
        click.option("--lessons", help="举一反三 lessons."),
        click.option("--responsibility", help="责任认定 responsibility finding."),
    ],
)
_action(
    "merge",
    Event.MERGE,
    uc.merge,
    [
        click.option("--into", required=True, metavar="NUMBER", help="The grievance kept."),
        click.option("--reason", required=True, help="并单理由: why it is the same grievance."),
    ],
)
_action(
    "typical",
    Event.TYPICAL,
    uc.mark_typical,
    [
        click.option(
            "--summary",
            required=True,
            help="典型案例: the case and the lesson drawn, in a few lines (the bulletin quotes it).",
        )
    ],
)
_action(
    "amend",
    Event.AMEND,
    uc.amend,
    [
        _reason,
        click.option("--type", "type", type=choice(RequestType), help="Corrected type."),
        click.option("--category", type=choice(Category), help="Corrected category."),
        click.option("--description", help="Corrected description."),
        click.option("--amount", metavar="YUAN", help="Corrected amount."),
        click.option("--respondent", help="Corrected respondent (被反映对象)."),
    ],
)
