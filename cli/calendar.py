"""`grievance calendar load|status|show`: State Council notices and overrides, the years'
status, the working days."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import click

from cli.context import acting, cli, emit, instant, make_ctx
from service import calendars
from workflow.notices import read_calendar
from workflow.timeutil import iso, local


@cli.group()
def calendar() -> None:
    """The working-day calendar (工作日): State Council notices, library data, the law
    minimum for years without a notice, and operator overrides."""


@calendar.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--replace", is_flag=True, help="Replace the notice already loaded for the file's year."
)
@acting
def calendar_load(file: str, replace: bool, **who: Any) -> None:
    """Load a State Council notice ([notice] table: the whole year) or an override file
    (single days); recompute open deadlines, each move written to the audit log."""
    ctx = make_ctx(**who)
    data = read_calendar(file)
    loaded = calendars.load(
        ctx.engine, data, ctx.stamp, source=os.path.basename(file), replace=replace
    )
    notice = loaded.notice
    out = {
        "notice": None
        if notice is None
        else {
            "year": notice.year,
            "document": notice.document,
            "published": notice.published.isoformat(),
            "digest": notice.digest,
        },
        "holidays": loaded.holidays,
        "workdays": loaded.workdays,
        "unchanged": loaded.unchanged,
        "replaced": loaded.replaced,
        "dropped_overrides": [d.isoformat() for d in loaded.dropped_overrides],
        "now_official": loaded.now_official,
        "failed": [{"number": n, "reason": r} for n, r in loaded.failed],
        "moved": [
            {
                "number": m.number,
                "target": m.target,
                "cycle": m.cycle,
                "old_due": iso(m.old_due),
                "new_due": iso(m.new_due),
                "provisional": m.provisional,
            }
            for m in loaded.moved
        ],
    }
    emit(ctx, out, "\n".join(_loaded_lines(loaded)))


def _loaded_lines(loaded: calendars.Loaded) -> list[str]:
    days = f"{loaded.holidays} holiday(s), {loaded.workdays} workday(s)"
    notice = loaded.notice
    if notice is not None and loaded.unchanged:
        return [f"the notice for {notice.year} ({notice.document}) is already loaded: no change"]
    if notice is not None:
        head = f"loaded the notice for {notice.year} ({notice.document}): {days}"
        if loaded.replaced:
            head += f"; replaced {loaded.replaced}"
        lines = [head, f"{notice.year} is official now (正式); its law-minimum days are replaced"]
        if loaded.dropped_overrides:
            dropped = ", ".join(d.isoformat() for d in loaded.dropped_overrides)
            lines.append(f"override days of {notice.year} superseded and removed: {dropped}")
    else:
        lines = [f"loaded {days}"]
    lines.append(
        f"{len(loaded.moved)} deadline(s) moved; "
        f"{loaded.now_official} open deadline(s) no longer provisional"
    )
    lines += [
        f"  {m.number} {m.target}#{m.cycle}: {iso(m.old_due)} -> {iso(m.new_due)}"
        f"{'  (provisional 暂定)' if m.provisional else ''}"
        for m in loaded.moved
    ]
    lines += [
        f"  could not recompute {number} (left as it was; see `sla check`): {reason}"
        for number, reason in loaded.failed
    ]
    return lines


@calendar.command("status")
@acting
def calendar_status(**who: Any) -> None:
    """Each year from the earliest open deadline to next year: where its days come from
    (library, notice, law minimum), official or provisional, open deadlines depending on it."""
    ctx = make_ctx(**who)
    result = calendars.status(ctx.engine, ctx.stamp.at)
    data = {
        "years": [
            {
                "year": y.year,
                "source": y.source,
                "document": y.document,
                "official": y.official,
                "provisional_timers": y.provisional_timers,
                "overrides": y.overrides,
            }
            for y in result.years
        ],
        "earliest_open_due": iso(result.earliest_open_due) if result.earliest_open_due else None,
        "provisional_timers": result.provisional_timers,
    }
    source_text = {"library": "library (chinesecalendar)", "law_minimum": "law minimum"}
    lines = []
    for y in result.years:
        source = f"notice {y.document}" if y.source == "notice" else source_text[y.source]
        state = "official 正式" if y.official else "provisional 暂定"
        line = f"{y.year}  {state:<16} {source}"
        if not y.official:
            line += f"; {y.provisional_timers} open deadline(s) depend on it"
        if y.overrides:
            line += f"; {y.overrides} override day(s)"
        lines.append(line)
    if result.provisional_years:
        lines.append(
            "Load the State Council notice when it is published: "
            "grievance calendar load calendars/notices/YEAR.toml (see calendars/notices/README.md)"
        )
    emit(ctx, data, "\n".join(lines))


@calendar.command("show")
@click.argument("start", metavar="DATE")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 366))
@acting
def calendar_show(start: str, days: int, **who: Any) -> None:
    """Each day from DATE: working or not, and why (holiday name, make-up workday...)."""
    ctx = make_ctx(**who)
    first = local(instant(start)).date()
    infos = [ctx.engine.calendar.day(first + timedelta(days=i)) for i in range(days)]
    data = [
        {
            "date": i.day.isoformat(),
            "working": i.working,
            "reason": i.reason,
            "name": i.name,
            "provisional": i.provisional,
        }
        for i in infos
    ]
    text = [
        f"{i.day.isoformat()} {i.day:%a}  {'work' if i.working else 'rest'}  {i.reason}"
        f"{' ' + i.name if i.name else ''}{'  (provisional)' if i.provisional else ''}"
        for i in infos
    ]
    emit(ctx, data, "\n".join(text))
