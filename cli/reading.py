"""`grievance show` and `grievance list`: a grievance with its events and timers, and lists;
`grievance find`: the grievances of one number, channel reference, phone or plate;
`grievance reveal`: a driver's number in full, to call back (each reveal logged)."""

from __future__ import annotations

from typing import Any

import click

from cli import present
from cli.context import acting, choice, cli, emit, make_ctx
from service import disclosure, finding, reading
from workflow.errors import InvalidInput
from workflow.privacy import mask_value
from workflow.vocab import State


@cli.command()
@click.argument("number")
@click.option("--explain", is_flag=True, help="Explain each deadline: days skipped and why.")
@acting
def show(number: str, explain: bool, **who: Any) -> None:
    """One grievance with its audit events and SLA timers (personal data masked), and who saw
    the driver's number in full or downloaded an evidence file (from the security log)."""
    ctx = make_ctx(**who)
    view = reading.show(ctx.engine, number, ctx.actor, explain=explain)
    now = ctx.stamp.recorded_at
    data = present.case_dict(view.case, version=view.version)
    data["policy"] = view.case.policy
    # every string of a payload masked, also a level down (a close's findings)
    data["events"] = [mask_value(present.event_dict(e)) for e in view.events]
    data["timers"] = [present.timer_dict(t, now) for t in view.timers]
    data["disclosures"] = [mask_value(present.disclosure_dict(d)) for d in view.disclosures]
    if explain:
        for item, timer in zip(data["timers"], view.timers, strict=True):
            item["explanation"] = view.explanations.get(timer.key, [])
    lines = [
        present.case_text(view.case, version=view.version, events=view.events),
        f"  时限 SLA timers (policy {view.case.policy}):",
    ]
    for timer in view.timers:
        lines += present.timer_text(timer, now, view.explanations.get(timer.key, ()))
    if data["disclosures"]:
        lines.append("  查看记录 Who saw personal data or files:")
        lines += [present.disclosure_line(d) for d in data["disclosures"]]
    emit(ctx, data, "\n".join(lines))


@cli.command("list")
@click.option("--state", type=choice(State, exclude=["new"]), help="Only this state.")
@click.option("--unit", metavar="CODE", help="Only this lead unit.")
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--offset", type=int, default=0)
@acting
def list_(state: str | None, unit: str | None, limit: int, offset: int, **who: Any) -> None:
    """Grievances in order of acceptance (unit staff see their unit's only)."""
    ctx = make_ctx(**who)
    cases = reading.list_cases(
        ctx.engine,
        ctx.actor,
        state=State(state) if state else None,
        unit=unit,
        limit=limit,
        offset=offset,
    )
    emit(
        ctx,
        [present.case_dict(c) for c in cases],
        "\n".join(present.case_line(c) for c in cases) or "no grievances",
    )


@cli.command("find")
@click.option("--number", metavar="NUMBER", help="A grievance number (20261123-0001).")
@click.option("--ref", metavar="REF", help="The channel's reference (渠道编号), exactly.")
@click.option("--plate", metavar="PLATE", help="A plate number (川B12345), in full.")
@click.option("--phone", metavar="PHONE", help="A phone number, in full (+86 and '-' allowed).")
@acting
def find_command(
    number: str | None, ref: str | None, plate: str | None, phone: str | None, **who: Any
) -> None:
    """查找: the grievances of one exact number, channel reference, plate or phone, oldest
    first, personal data masked (as `list --json`); unit staff find their unit's only.
    Nothing found is an empty list, not an error."""
    given = {"number": number, "ref": ref, "plate": plate, "phone": phone}
    keys = [key for key, value in given.items() if value is not None]
    if len(keys) != 1:
        raise InvalidInput("give exactly one of --number, --ref, --plate, --phone")
    ctx = make_ctx(**who)
    cases = finding.find_cases(ctx.engine, ctx.actor, keys[0], given[keys[0]] or "")
    emit(
        ctx,
        [present.case_dict(c) for c in cases],
        "\n".join(present.case_line(c) for c in cases) or "no grievances found",
    )


@cli.command("reveal")
@click.argument("number")
@click.option("--why", required=True, metavar="TEXT", help="Why you need it (回访, 核实...).")
@acting
def reveal_command(number: str, why: str, **who: Any) -> None:
    """Show a driver's name, phone and plate in full, to call back (the desk and the lead
    unit only); each reveal is written to the security log."""
    ctx = make_ctx(**who)
    shown = disclosure.reveal(ctx.engine, ctx.stamp, number, why)
    plate = f"  车牌 plate {shown.plate}" if shown.plate else ""
    emit(ctx, shown.as_dict(), f"{shown.number}: {shown.name}  电话 phone {shown.phone}{plate}")
