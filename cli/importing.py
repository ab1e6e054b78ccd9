"""`grievance import FILE`: a day's 12328 work orders imported (`service.importing`) with a
progress bar on stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from service.engine import Engine
from service.importing import BATCH, DEFAULT_ACTOR, ImportResult, batches, check_ready, import_ready
from service.work_orders import read, validate
from workflow.actor import Actor
from workflow.errors import GrievanceError
from workflow.privacy import mask_text
from workflow.vocab import Role


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--actor", "actor_name", default=DEFAULT_ACTOR, show_default=True, help="Who imports."
)
@click.option("--json", "json_out", is_flag=True, help="Print machine-readable JSON.")
@click.option("--dry-run", is_flag=True, help="Validate only: write nothing.")
@click.option(
    "--batch", default=BATCH, show_default=True, type=click.IntRange(min=1), help="Rows per batch."
)
def import_(file: Path, actor_name: str, json_out: bool, dry_run: bool, batch: int) -> None:
    """Import a day's 12328 work orders (CSV or JSON Lines); rerunning imports nothing twice.

    Columns: ref 工单编号, type 诉求类型, category 诉求分类, name 诉求人, phone 联系电话,
    description 诉求内容, accepted_at 受理时间 (required); channel 来源渠道 (default
    hotline_12328), plate 车牌号, amount 涉及金额, urgent 是否紧急, respondent 被反映对象.
    Exit code 1 if any row is bad (the good rows are imported all the same).
    """
    recorded_at = datetime.now(UTC)
    try:
        actor = Actor(actor_name, Role.DISPATCHER)
        parsed = read(file)
        ready, problems = validate(parsed.rows, recorded_at)
        result = ImportResult(problems=parsed.problems + problems)
        engine = Engine.open()
        try:
            if dry_run:
                result.merge(check_ready(engine, ready))
            else:
                with click.progressbar(
                    length=len(ready), label=f"importing {file.name}", file=sys.stderr
                ) as bar:
                    for chunk in batches(ready, batch):
                        result.merge(import_ready(engine, chunk, actor, recorded_at, bar.update))
        finally:
            engine.db.dispose()
    except GrievanceError as error:
        _fail(str(error))
        return
    result.problems.sort(key=lambda p: p.line)
    for warning in parsed.warnings:
        click.echo(f"warning: {warning}", err=True)
    if json_out:
        data = {
            "file": file.name,
            "dry_run": dry_run,
            **result.summary(),
            "imported_rows": [{"line": n, "number": num} for n, num in result.imported],
            "existing_rows": [{"line": n, "ref": ref} for n, ref in result.skipped_existing],
            "bad_rows": [{"line": p.line, "reason": mask_text(p.reason)} for p in result.problems],
            "warnings": parsed.warnings,
        }
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        lines = [f"line {p.line}: {mask_text(p.reason)}" for p in result.problems]
        if dry_run:
            lines.append(
                f"dry run {file.name}: would import {len(result.would_import)}, "
                f"already present {len(result.skipped_existing)}, bad {len(result.problems)}"
            )
        else:
            lines.append(
                f"imported {len(result.imported)}, already present "
                f"{len(result.skipped_existing)}, bad {len(result.problems)} from {file.name}"
            )
        click.echo("\n".join(lines))
    if result.problems:
        sys.exit(1)
