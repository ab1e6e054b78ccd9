"""workflow/ stays pure: no I/O layers imported, no clock read (an AST walk, not a grep)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOW = Path(__file__).resolve().parents[2] / "workflow"
FORBIDDEN_MODULES = {
    "prefect",
    "sqlmodel",
    "sqlalchemy",
    "jinja2",
    "models",
    "service",
    "flows",
    "cli",
    "templates",
}
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "localtime", "gmtime"}
CLOCK_OWNERS = {"datetime", "date", "pendulum", "time", "DateTime", "Date"}


def _sources() -> list[Path]:
    return sorted(WORKFLOW.rglob("*.py"))


def _violations(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] in FORBIDDEN_MODULES:
                found.append(node.module)
            if node.module == "time":  # `from datetime import time` is the class: fine
                found += [f"{node.module}.{a.name}" for a in node.names if a.name in CLOCK_CALLS]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            owner_name = (
                owner.id
                if isinstance(owner, ast.Name)
                else (owner.attr if isinstance(owner, ast.Attribute) else "")
            )
            if node.func.attr in CLOCK_CALLS and owner_name in CLOCK_OWNERS:
                found.append(f"{owner_name}.{node.func.attr}()")
    return found


def test_there_are_sources_to_check() -> None:
    assert len(_sources()) >= 8


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_workflow_module_is_pure(path: Path) -> None:
    assert _violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import prefect",
        "from sqlmodel import Session",
        "import sqlalchemy.orm",
        "from jinja2 import Environment",
        "from models.db import Database",
        "import cli.main",
        "from templates import env",
        "from datetime import datetime\nx = datetime.now()",
        "import datetime\nx = datetime.datetime.utcnow()",
        "import pendulum\nx = pendulum.now()",
        "import time\nx = time.time()",
        "from datetime import date\nx = date.today()",
        "from time import time",
        "from time import monotonic",
    ],
)
def test_checker_catches_violations(snippet: str) -> None:
    assert _violations(snippet), snippet


def test_checker_allows_the_time_class() -> None:
    assert _violations("from datetime import time, timedelta\nx = time(8, 30)") == []
