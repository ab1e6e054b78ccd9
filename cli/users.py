"""`grievance user add|list|disable|enable|passwd`: the accounts people sign in with at the gate.

The command line is the operator's: whoever can run it can open the database, so it asks for
no login; it records who ran it (`--actor`, $GRIEVANCE_ACTOR or the OS user) in the security
log. Passwords are read from standard input (`--password-stdin`), never from an argument that
`ps` or the shell history would show."""

from __future__ import annotations

import sys
from typing import Any

import click

from cli.context import cli, emit, make_ctx
from service import accounts
from workflow.accounts import AccountRole
from workflow.errors import InvalidInput

_JSON = click.option("--json", "json_out", is_flag=True, default=None, help="Print JSON.")
_PASSWORD_STDIN = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (one line; the trailing newline dropped).",
)


def _stdin_password() -> str:
    text = sys.stdin.read()
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    if not text:
        raise InvalidInput("no password on standard input")
    return text


def _line(view: accounts.AccountView) -> str:
    unit = f"@{view.unit}" if view.unit else ""
    state = "  DISABLED 已停用" if view.disabled else ""
    return f"{view.name:<20} {view.role.value}{unit} ({view.role.zh})  {view.display_name}{state}"


@cli.group()
def user() -> None:
    """Accounts for the gate (账号): who may sign in, with which role and unit."""


@user.command("add")
@click.argument("name")
@click.option(
    "--role",
    "role",
    required=True,
    type=click.Choice([r.value for r in AccountRole]),
    help="What the account is for.",
)
@click.option("--unit", metavar="CODE", help="The unit of a handler or unit supervisor.")
@click.option("--display-name", metavar="TEXT", help="The name shown (default: NAME).")
@_PASSWORD_STDIN
@_JSON
def user_add(
    name: str,
    role: str,
    unit: str | None,
    display_name: str | None,
    password_stdin: bool,
    json_out: bool | None,
) -> None:
    """Add an account. Without --password-stdin a strong password is generated and printed
    once; only its hash is kept."""
    ctx = make_ctx(json_out, None, None, None, None)
    password = _stdin_password() if password_stdin else None
    view, generated = accounts.add_user(
        ctx.engine,
        ctx.stamp,
        name=name,
        role=role,
        unit=unit,
        display=display_name,
        password=password,
    )
    data: dict[str, Any] = view.as_dict()
    text = f"account added 已添加账号: {_line(view)}"
    if generated is not None:
        data["password"] = generated
        text += f"\npassword 初始密码 (shown once, 仅显示一次): {generated}"
    emit(ctx, data, text)


@user.command("list")
@_JSON
def user_list(json_out: bool | None) -> None:
    """The accounts, disabled ones included."""
    ctx = make_ctx(json_out, None, None, None, None)
    views = accounts.list_users(ctx.engine)
    emit(
        ctx,
        [v.as_dict() for v in views],
        "\n".join(_line(v) for v in views) or "no accounts yet 尚无账号 (grievance user add)",
    )


def _toggle(name: str, json_out: bool | None, disabled: bool) -> None:
    ctx = make_ctx(json_out, None, None, None, None)
    view, changed = accounts.set_disabled(ctx.engine, ctx.stamp, name, disabled)
    what = ("disabled 已停用" if disabled else "enabled 已启用") if changed else "unchanged 未变"
    emit(ctx, view.as_dict(), f"{what}: {_line(view)}")


@user.command("disable")
@click.argument("name")
@_JSON
def user_disable(name: str, json_out: bool | None) -> None:
    """Disable an account: no more logins, its sessions and stamps stop working."""
    _toggle(name, json_out, True)


@user.command("enable")
@click.argument("name")
@_JSON
def user_enable(name: str, json_out: bool | None) -> None:
    """Enable a disabled account again."""
    _toggle(name, json_out, False)


@user.command("passwd")
@click.argument("name")
@_PASSWORD_STDIN
@_JSON
def user_passwd(name: str, password_stdin: bool, json_out: bool | None) -> None:
    """Set an account's password (from standard input; without --password-stdin a strong one
    is generated and printed once)."""
    ctx = make_ctx(json_out, None, None, None, None)
    password = _stdin_password() if password_stdin else accounts.generate_password()
    view = accounts.set_password(ctx.engine, ctx.stamp, name, password)
    data: dict[str, Any] = view.as_dict()
    text = f"password changed 密码已修改: {_line(view)}"
    if not password_stdin:
        data["password"] = password
        text += f"\npassword 新密码 (shown once, 仅显示一次): {password}"
    emit(ctx, data, text)
