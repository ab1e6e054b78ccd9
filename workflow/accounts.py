"""Accounts as the domain sees them: the roles a person's account may have, who of them acts
on grievances (and as which `Role`), and the rules for login names, display names and
passwords. No hashing and no storage here (`service/accounts.py`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from workflow.actor import Actor
from workflow.errors import InvalidInput
from workflow.validation import NAME_MAX, has_binary, nfc
from workflow.vocab import Role


class AccountRole(StrEnum):
    """What an account is for. The first four act on grievances under the same `Role`;
    an analyst reads reports and an admin manages accounts, and neither acts on a case."""

    DISPATCHER = "dispatcher"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    REVIEWER = "reviewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def acting(self) -> Role | None:
        """The role this account acts on grievances as (None: it does not act on cases)."""
        return _ACTING.get(self)


_ZH = {
    AccountRole.DISPATCHER: "受理分办员",
    AccountRole.HANDLER: "承办人",
    AccountRole.SUPERVISOR: "督办负责人",
    AccountRole.REVIEWER: "复盘审核人",
    AccountRole.ANALYST: "分析员",
    AccountRole.ADMIN: "系统管理员",
}
_ACTING = {
    AccountRole.DISPATCHER: Role.DISPATCHER,
    AccountRole.HANDLER: Role.HANDLER,
    AccountRole.SUPERVISOR: Role.SUPERVISOR,
    AccountRole.REVIEWER: Role.REVIEWER,
}

# Login names: what people type at the login page and what the audit log records.
LOGIN_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,63}")
PASSWORD_MIN, PASSWORD_MAX = 10, 256


def login_name(text: str) -> str:
    """A login name as typed, folded to lower case; refused unless 2-64 of a-z 0-9 . _ @ -."""
    name = text.strip().lower()
    if not LOGIN_NAME.fullmatch(name):
        raise InvalidInput(
            f"login name {text[:40]!r}: use 2-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def display_name(text: str | None, default: str) -> str:
    """The name shown beside the login name (e.g. 张受理); the login name when not given."""
    shown = nfc(default if text is None else text.strip())
    if not shown or len(shown) > NAME_MAX or has_binary(shown):
        raise InvalidInput(f"display name must be 1-{NAME_MAX} characters of text")
    return shown


def check_password(password: str, name: str) -> None:
    """NIST SP 800-63B's rules, short of a breached-password list: length, not the login
    name, not one character repeated. Any character is allowed, spaces included."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(f"password must be {PASSWORD_MIN}-{PASSWORD_MAX} characters")
    if password.strip().lower() == name or len(set(password)) < 3:
        raise InvalidInput("password is too easy to guess (the login name, or one character)")
    if has_binary(password):
        raise InvalidInput("password: control characters are not allowed")


def check_unit(role: AccountRole, unit: str | None) -> None:
    """Handlers belong to a unit; a supervisor may (a unit's) or may not (the bureau's); the
    others work for the bureau as a whole."""
    if role is AccountRole.HANDLER and unit is None:
        raise InvalidInput("a handler account belongs to a unit: give --unit CODE")
    if unit is not None and role not in (AccountRole.HANDLER, AccountRole.SUPERVISOR):
        raise InvalidInput(
            f"{role.value} accounts work for the bureau, not a unit: only handlers and "
            "unit supervisors take --unit"
        )


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an authenticated request comes from: the account, its role and unit."""

    name: str
    display_name: str
    role: AccountRole
    unit: str | None = None

    @property
    def actor(self) -> Actor | None:
        """The actor this person acts on grievances as (None for analysts and admins). The
        audit log records the login name."""
        role = self.role.acting
        return None if role is None else Actor(name=self.name, role=role, unit=self.unit)
