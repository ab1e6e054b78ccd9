"""The `grievance` command line: the entry point (`main`) and the commands guarded by role; each
module of `cli/` adds its own commands to the one group (`cli.context.cli`).

The clock is read here, once per command, and passed down. Errors a user can cause print one
line (`error: ...`) and exit 1; usage errors exit 2; tracebacks only with GRIEVANCE_DEBUG=1.
"""

from __future__ import annotations

import copy
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from cli import (
    admin,
    attachments,
    audit,
    calendar,
    demo,
    documents,
    lifecycle,
    notifications,
    partners,
    reading,
    reports,
    serving,
    sla,
    units,
    users,
)
from cli.context import cli, instant, make_ctx
from cli.importing import import_
from service.acting import require_bureau, require_desk
from workflow.actor import Actor
from workflow.errors import GrievanceError, InvalidInput, PermissionDenied
from workflow.validation import has_binary
from workflow.vocab import Role

# each adds its commands to the group `cli` when imported
COMMAND_MODULES = (
    admin,
    attachments,
    audit,
    calendar,
    documents,
    lifecycle,
    notifications,
    partners,
    reading,
    serving,
    sla,
    units,
    users,
)


def _guarded(command: click.Command, check: Callable[[Actor, dict[str, Any]], None]) -> Any:
    """A copy of `command` (defined elsewhere, without the acting options) that first checks
    the actor given by the global options or the environment (`check` may adjust kwargs)."""
    callback = command.callback
    if callback is None:
        raise TypeError(f"command {command.name} has no callback")

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check(make_ctx(None, None, None, None, None).actor, kwargs)
        return callback(*args, **kwargs)

    copied = copy.copy(command)
    copied.callback = guarded
    return copied


def _report_now(kwargs: dict[str, Any]) -> None:
    """A report's --now, checked as every other time of the command line."""
    if kwargs.get("now_text") is not None:  # an empty --now is refused, not read as now
        instant(kwargs["now_text"])


def _daily_access(actor: Actor, kwargs: dict[str, Any]) -> None:
    """Unit staff get their own unit's daily reminder only."""
    _report_now(kwargs)
    if actor.unit_bound:
        if kwargs.get("unit") not in (None, actor.unit):
            raise PermissionDenied(
                f"unit {actor.unit} staff may not read unit {kwargs['unit']}'s daily reminder"
            )
        kwargs["unit"] = actor.unit


def _bureau_report(what: str) -> Callable[[Actor, dict[str, Any]], None]:
    """A digest across units: for bureau roles, not for unit staff."""

    def check(actor: Actor, kwargs: dict[str, Any]) -> None:
        _report_now(kwargs)
        require_bureau(actor, what)

    return check


def _import_access(actor: Actor, kwargs: dict[str, Any]) -> None:
    if has_binary(str(kwargs.get("file", ""))):
        raise InvalidInput("FILE: the file name contains control characters")
    if actor.role is not Role.DISPATCHER:
        raise PermissionDenied(
            f"a {actor.role.value} may not import work orders (only dispatcher): "
            "importing accepts grievances"
        )


_report = copy.copy(reports.report)
_report.commands = {
    "daily": _guarded(reports.report.commands["daily"], _daily_access),
    "weekly": _guarded(reports.report.commands["weekly"], _bureau_report("the weekly summary")),
    "monthly": _guarded(reports.report.commands["monthly"], _bureau_report("the monthly bulletin")),
}
cli.add_command(_guarded(demo.demo, lambda actor, _: require_desk(actor, "loads demo data")))
cli.add_command(_report)
cli.add_command(_guarded(import_, _import_access))


def _one_line(text: str) -> str:
    """An error message as one line of plain text (user input in it may hold line breaks or
    terminal escapes)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _binary_argument(args: Sequence[str]) -> str | None:
    """The option (or position) of the first argument holding a NUL or bytes that were not
    valid UTF-8: such input is binary data, refused before any command sees it."""
    for index, arg in enumerate(args):
        if "\x00" in arg or any("\ud800" <= c <= "\udfff" for c in arg):
            if arg.startswith("--") and "=" in arg:
                return arg.split("=", 1)[0]
            previous = args[index - 1] if index else ""
            return previous if previous.startswith("-") else f"argument {index + 1}"
    return None


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `grievance` console script."""
    debug = bool(os.environ.get("GRIEVANCE_DEBUG"))
    args = list(argv) if argv is not None else sys.argv[1:]
    bad = _binary_argument(args)
    if bad is not None:
        click.echo(
            f"error: {_one_line(bad)}: contains a NUL byte or bytes that are not UTF-8 text",
            err=True,
        )
        sys.exit(1)
    try:
        cli.main(
            args=args,
            prog_name="grievance",
            standalone_mode=False,
        )
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        click.echo(f"error: {_one_line(error.format_message())}", err=True)
        sys.exit(error.exit_code)
    except GrievanceError as error:
        click.echo(f"error: {_one_line(str(error))}", err=True)
        sys.exit(1)
    except SQLAlchemyError as error:
        if debug:
            raise
        orig = getattr(error, "orig", None)  # a DBAPIError carries the driver's own error
        first = str(orig if orig else error).splitlines()[0]
        click.echo(f"error: database: {_one_line(first)}", err=True)
        sys.exit(1)
    except Exception as error:  # noqa: BLE001 - the last line of defence of a CLI
        if debug:
            raise
        click.echo(
            f"error: internal error ({type(error).__name__}: {_one_line(str(error))}); "
            "rerun with GRIEVANCE_DEBUG=1 for details",
            err=True,
        )
        sys.exit(70)


if __name__ == "__main__":
    main()
