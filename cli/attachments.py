"""`grievance attach` and `grievance attachments`: evidence files (photos, PDFs) attached to a
grievance, stored by content hash (`service.attachments`), names and notes masked in output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.context import acting, cli, emit, make_ctx
from service import attachments
from workflow.attachments import Attachment
from workflow.privacy import mask_text
from workflow.timeutil import iso


def attachment_dict(number: str, item: Attachment) -> dict[str, Any]:
    """An attachment as JSON: masked name and note, never the bytes."""
    return {
        "number": number,
        "sha256": item.sha256,
        "media_type": item.media_type,
        "size": item.size,
        "name": mask_text(item.name),
        "note": mask_text(item.note) if item.note else None,
        "at": iso(item.at),
        "actor": item.actor.name,
        "role": item.actor.role.value,
        "unit": item.actor.unit,
    }


def _line(item: Attachment) -> str:
    return (
        f"  {iso(item.at)}  {item.short}  {item.kind:<4}  {item.size_text:>9}  "
        f"{mask_text(item.name)}  ({item.actor.name}, {item.actor.role.zh})"
    )


@cli.command()
@click.argument("number")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="What the file shows (说明), e.g. 运单照片.")
@click.option(
    "--expect-version",
    type=int,
    metavar="N",
    help="Refuse (conflict) unless the grievance is still at this version.",
)
@acting
def attach(
    number: str, file: Path, note: str | None, expect_version: int | None, **who: Any
) -> None:
    """上传证据: attach a photo or PDF to a grievance (type told from its content; the size
    limit and the types accepted are configured)."""
    ctx = make_ctx(**who)
    with file.open("rb") as stream:
        item = attachments.attach(
            ctx.engine,
            number,
            ctx.stamp,
            data=stream,
            name=file.name,
            note=note,
            expected_version=expect_version,
        )
    emit(
        ctx,
        attachment_dict(number, item),
        f"上传证据 attach: {number} <- {mask_text(item.name)} "
        f"({item.kind}, {item.size_text}, SHA-256 {item.short})",
    )


@cli.command("attachments")
@click.argument("number")
@acting
def list_attachments(number: str, **who: Any) -> None:
    """The evidence attached to a grievance, oldest first (证据清单)."""
    ctx = make_ctx(**who)
    items = attachments.list_attachments(ctx.engine, number, ctx.actor)
    lines = [f"{number}: {len(items)} attachment(s) 附件"] + [_line(i) for i in items]
    emit(ctx, [attachment_dict(number, i) for i in items], "\n".join(lines))
