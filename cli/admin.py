"""`grievance migrate` and `grievance diagram`."""

from __future__ import annotations

import click

from cli.context import cli
from models.db import Database
from workflow.errors import InvalidInput


@cli.command()
def migrate() -> None:
    """Create or upgrade the grievance database schema (also done on first use)."""
    db = Database(migrate=False)
    applied = db.migrate()
    click.echo(
        f"database at revision {db.current_revision()}"
        + (" (upgraded)" if applied else " (already current)")
    )


@cli.command()
@click.option(
    "--check",
    "check_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Exit 1 unless FILE carries the current diagram.",
)
def diagram(check_file: str | None) -> None:
    """Print the state machine as Mermaid, generated from the transition table."""
    from workflow.diagram import readme_block

    block = readme_block()
    if check_file is None:
        click.echo(block)
        return
    try:
        with open(check_file, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidInput(f"can't read {check_file}: {error}") from None
    if block not in text:
        raise click.ClickException(f"{check_file} does not carry the current state diagram")
