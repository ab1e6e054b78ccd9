"""Shared fixtures: a fresh database per test, actors, and a driver for the lifecycle."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flows import usecases as uc
from flows.engine import Engine
from workflow.actor import Actor
from workflow.case import Case
from workflow.commands import Accept, parse_command
from workflow.vocab import Event, Role

# Monday 2026-11-23 09:00 Asia/Shanghai: a normal working day.
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

DESK = Actor("desk", Role.DISPATCHER)
HANDLER = Actor("handler-a", Role.HANDLER, "UA")
HANDLER_B = Actor("handler-b", Role.HANDLER, "UB")
SUPERVISOR = Actor("supervisor-a", Role.SUPERVISOR, "UA")
REVIEWER = Actor("reviewer", Role.REVIEWER)


def database_url_for(tmp_path: Path) -> str:
    """SQLite in the test's own folder, unless GRIEVANCE_TEST_DATABASE_URL names another."""
    return os.environ.get("GRIEVANCE_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    opened = Engine.open(database_url_for(tmp_path))
    yield opened
    opened.db.dispose()


def accept_command(**overrides: Any) -> Accept:
    data: dict[str, Any] = {
        "channel": "hotline_12328",
        "ref": "R-1",
        "type": "complaint",
        "category": "freight_unpaid",
        "name": "王建国",
        "phone": "13812345678",
        "plate": "川B12345",
        "description": "货主拖欠运费3500元",
        "amount": "3500",
    }
    data.update(overrides)
    command = parse_command(Event.ACCEPT, data)
    assert isinstance(command, Accept)
    return command


@dataclass
class Driver:
    """Moves grievances through the lifecycle with explicit, increasing times."""

    engine: Engine
    now: datetime = T0
    refs: int = 0
    units_added: set[str] = field(default_factory=set)

    def stamp(self, actor: Actor, minutes: int = 10) -> uc.Stamp:
        self.now += timedelta(minutes=minutes)
        return uc.Stamp(actor=actor, at=self.now, recorded_at=self.now)

    def units(self, *codes: str) -> None:
        for code in codes:
            if code not in self.units_added:
                uc.add_unit(self.engine, self.stamp(DESK, 0), code=code, name=f"单位{code}")
                self.units_added.add(code)

    def accept(self, **overrides: Any) -> Case:
        self.refs += 1
        overrides.setdefault("ref", f"R-{self.refs}")
        return uc.accept(self.engine, accept_command(**overrides), self.stamp(DESK))

    def to(self, state: str, **overrides: Any) -> Case:
        """A new grievance driven to `state` along the main path (lead unit UA)."""
        self.units("UA", "UB")
        case = self.accept(**overrides)
        n = case.number
        path: list[tuple[str, Any]] = [
            ("assigned", lambda: uc.assign(self.engine, n, self.stamp(DESK), unit="UA")),
            ("handling", lambda: uc.sign(self.engine, n, self.stamp(HANDLER))),
            (
                "closed",
                lambda: uc.close(
                    self.engine, n, self.stamp(HANDLER), result="resolved", note="done"
                ),
            ),
            (
                "revisited",
                lambda: uc.revisit(self.engine, n, self.stamp(DESK), satisfaction="satisfied"),
            ),
            (
                "reviewed",
                lambda: uc.review(
                    self.engine, n, self.stamp(REVIEWER), root_cause="rc", actions="acts"
                ),
            ),
        ]
        if state == "accepted":
            return case
        for name, step in path:
            case = step()
            if name == state:
                return case
        raise ValueError(f"no main-path state {state}")


@pytest.fixture
def driver(engine: Engine) -> Driver:
    return Driver(engine)
