"""`grievance partner add|list|rotate|disable`: the partner systems that push grievances over
the partner API (/partner/v1) and receive signed status callbacks.

An API key and the callback signing secret are printed once; the database keeps the key's
SHA-256 and the secret encrypted under $GRIEVANCE_PARTNER_KEY. As with `grievance user`, the
command line is the operator's and records who ran it in the security log."""

from __future__ import annotations

from typing import Any

import click

from cli.context import cli, emit, make_ctx
from service import partners

_JSON = click.option("--json", "json_out", is_flag=True, default=None, help="Print JSON.")


def _shown_once(issued: partners.Issued) -> str:
    lines = [
        f"partner 合作方 {issued.code}",
        f"API key 接口密钥 (shown once 仅显示一次): {issued.key}",
    ]
    if issued.webhook_secret is not None:
        lines.append(
            f"callback signing secret 回调签名密钥 (shown once 仅显示一次): {issued.webhook_secret}"
        )
    return "\n".join(lines)


@cli.group()
def partner() -> None:
    """Partner systems (合作方): 12328, freight platforms, the mini-program."""


@partner.command("add")
@click.argument("code")
@click.option("--name", required=True, metavar="TEXT", help="The partner's name.")
@click.option(
    "--channel",
    required=True,
    type=click.Choice([c.value for c in partners.CHANNELS]),
    help="The channel its grievances come from.",
)
@click.option("--callback-url", metavar="URL", help="Where status callbacks are POSTed.")
@_JSON
def partner_add(
    code: str, name: str, channel: str, callback_url: str | None, json_out: bool | None
) -> None:
    """Add a partner; prints its API key and callback signing secret once."""
    ctx = make_ctx(json_out, None, None, None, None)
    issued = partners.add_partner(
        ctx.engine, ctx.stamp, code=code, name=name, channel=channel, callback_url=callback_url
    )
    emit(ctx, issued.as_dict(), _shown_once(issued))


@partner.command("list")
@_JSON
def partner_list(json_out: bool | None) -> None:
    """The partners, disabled ones included (no keys or secrets)."""
    ctx = make_ctx(json_out, None, None, None, None)
    rows = partners.listing(ctx.engine, ctx.stamp.recorded_at)

    def line(row: dict[str, Any]) -> str:
        state = "" if row["enabled"] else "  DISABLED 已停用"
        return (
            f"{row['code']:<16} {row['channel']:<14} keys={row['keys']} "
            f"callback={row['callback'] or '-'}  {row['name']}{state}"
        )

    emit(ctx, rows, "\n".join(line(r) for r in rows) or "no partners yet 尚无合作方")


@partner.command("rotate")
@click.argument("code")
@click.option("--secret", is_flag=True, help="Also a new callback signing secret (in use at once).")
@_JSON
def partner_rotate(code: str, secret: bool, json_out: bool | None) -> None:
    """A new API key; the old ones keep working for 24 hours, then stop."""
    ctx = make_ctx(json_out, None, None, None, None)
    issued = partners.rotate(ctx.engine, ctx.stamp, code, secret=secret)
    hours = int(partners.GRACE.total_seconds() // 3600)
    data = issued.as_dict() | {"old_keys_valid_hours": hours}
    emit(ctx, data, _shown_once(issued) + f"\nold keys work for {hours} h 旧密钥{hours}小时后失效")


@partner.command("disable")
@click.argument("code")
@_JSON
def partner_disable(code: str, json_out: bool | None) -> None:
    """Disable a partner: its keys stop working (401) and no more callbacks go out."""
    ctx = make_ctx(json_out, None, None, None, None)
    partners.disable(ctx.engine, ctx.stamp, code)
    emit(ctx, {"code": code.upper(), "enabled": False}, f"partner {code.upper()} disabled 已停用")
