"""`grievance report daily|weekly|monthly`: the digests of `service.digests` written to files
(the clock is read here, once). `daily --out DIR` writes one file per unit into DIR
(daily-2026-11-23-ROAD.zh.html); `weekly`/`monthly --out FILE` write FILE, or the standard
name inside FILE when it is an existing directory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from service.digest_data import FORMATS, Digest
from service.digests import daily, monthly, render_digest, weekly
from service.engine import Engine
from workflow.errors import InvalidInput
from workflow.measures import Period, month_of, week_of
from workflow.timeutil import local, parse_instant

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_day(text: str) -> date:
    """2026-11-23 -> that date; anything else is InvalidInput."""
    raw = text.strip()
    if _DAY.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise InvalidInput(f"--period {text!r}: give a day such as 2026-11-23")


def parse_week(text: str) -> Period:
    """2026-W48 (ISO week) or any date inside the week -> that week."""
    raw = text.strip()
    match = _WEEK.match(raw)
    if match:
        try:
            return week_of(date.fromisocalendar(int(match[1]), int(match[2]), 1))
        except ValueError:
            raise InvalidInput(
                f"--period {text!r}: {match[1]} has no ISO week {int(match[2])}"
            ) from None
    if _DAY.match(raw):
        return week_of(parse_day(raw))
    raise InvalidInput(f"--period {text!r}: give an ISO week such as 2026-W48 or a date in it")


def parse_month(text: str) -> Period:
    """2026-11 -> that month."""
    match = _MONTH.match(text.strip())
    if match and 1 <= int(match[2]) <= 12:
        return month_of(date(int(match[1]), int(match[2]), 1))
    raise InvalidInput(f"--period {text!r}: give a month such as 2026-11")


def _options(period_help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option("--period", "period_text", metavar="PERIOD", help=period_help),
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                default="html",
                show_default=True,
                help="Output format.",
            ),
            click.option(
                "--lang",
                type=click.Choice(["zh", "en"]),
                help="Language (default $GRIEVANCE_LANGUAGE, else zh).",
            ),
            click.option(
                "--now",
                "now_text",
                metavar="ISO8601",
                help="The instant the figures are taken at (default now; no offset = "
                "Asia/Shanghai).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _now(text: str | None) -> datetime:
    """--now, or the clock (the only clock read of a report command)."""
    return parse_instant(text) if text is not None else datetime.now(UTC)


def _write(path: Path, digest: Digest, fmt: str, lang: str | None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render_digest(digest, fmt, lang))
    return path


def _single(digest: Digest, out: str, fmt: str, lang: str | None) -> None:
    target = Path(out)
    if target.is_dir():
        target = target / digest.filename(fmt, lang)
    click.echo(f"wrote {_write(target, digest, fmt, lang)}: {digest.title_in(lang)}")


@click.group("report")
def report() -> None:
    """Digests: 日提醒 daily reminders, 周汇总 weekly summary, 月通报 monthly bulletin."""


@report.command("daily")
@_options("The day, e.g. 2026-11-23 (default today).")
@click.option(
    "--out",
    required=True,
    metavar="DIR",
    help="Directory for the reminders: one file per unit, e.g. daily-2026-11-23-ROAD.zh.html.",
)
@click.option("--unit", metavar="CODE", help="Only this unit's reminder.")
def daily_command(
    period_text: str | None,
    fmt: str,
    lang: str | None,
    now_text: str | None,
    out: str,
    unit: str | None,
) -> None:
    """日提醒: per unit, what is due today, due soon and overdue (working days only)."""
    as_of = _now(now_text)
    day = parse_day(period_text) if period_text else None
    engine = Engine.open()
    day = day or local(as_of, engine.calendar.zone).date()
    digests = daily(engine, day, as_of)
    if not digests:
        reason = (
            "not a working day"
            if not engine.calendar.is_working_day(day)
            else "no unit has open work"
        )
        click.echo(f"no daily reminder for {day.isoformat()}: {reason}")
        return
    if unit is not None:
        digests = [d for d in digests if d.unit == unit]
        if not digests:
            raise InvalidInput(f"unit {unit!r} has no open work (or does not exist)")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"--out {out}: daily reminders go to a directory (one file per unit)")
    for digest in digests:
        path = _write(folder / digest.filename(fmt, lang), digest, fmt, lang)
        click.echo(f"wrote {path}: {digest.title_in(lang)}")


@report.command("weekly")
@_options("The week: 2026-W48, or any date in it (default this week).")
@click.option(
    "--out", required=True, metavar="FILE", help="The file to write (or a directory for it)."
)
def weekly_command(
    period_text: str | None, fmt: str, lang: str | None, now_text: str | None, out: str
) -> None:
    """周汇总: the week's measures, total and by unit, against the previous week."""
    as_of = _now(now_text)
    period = parse_week(period_text) if period_text else None
    engine = Engine.open()
    period = period or week_of(local(as_of, engine.calendar.zone).date())
    _single(weekly(engine, period, as_of), out, fmt, lang)


@report.command("monthly")
@_options("The month, e.g. 2026-11 (default the last complete month).")
@click.option(
    "--out", required=True, metavar="FILE", help="The file to write (or a directory for it)."
)
def monthly_command(
    period_text: str | None, fmt: str, lang: str | None, now_text: str | None, out: str
) -> None:
    """月通报: the monthly bulletin (figures, ranking, overdue list, trends, repeats)."""
    as_of = _now(now_text)
    period = parse_month(period_text) if period_text else None
    engine = Engine.open()
    period = period or month_of(local(as_of, engine.calendar.zone).date()).previous()
    _single(monthly(engine, period, as_of), out, fmt, lang)
