"""The 首办负责 figures in the weekly summary and the monthly bulletin: the hand-counted
November of tests/models/test_first_handler.py, as the digests show it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from service import digests
from service.engine import Engine
from tests.conftest import database_url_for
from tests.models.test_first_handler import AS_OF, build
from workflow.measures import month_of, week_of


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = Engine.open(database_url_for(tmp_path_factory.mktemp("first-handler-digest")))
    try:
        build(engine)
        yield engine
    finally:
        engine.db.dispose()


def test_the_monthly_bulletin_shows_each_first_handler(engine: Engine) -> None:
    monthly = digests.monthly(engine, month_of(date(2026, 11, 1)), AS_OF)
    rows = [
        (r.unit, r.first_handled, r.stayed, r.returns, r.reassigned_away)
        for r in monthly.context["first_handlers"]
    ]
    assert rows == [("UA", 2, 1, 2, 2), ("UB", 2, 2, 1, 0), ("UC", 1, 1, 0, 0)]
    text = digests.render_digest(monthly, "md").decode()
    # UA: stayed 1 of 2, first contact F1 of F1 and F3
    assert "| 单位UA | 2 | 1 | 50.0% | 2 | 2 | 50.0% |" in text
    assert "| 单位UB | 2 | 2 | 100.0% | 1 | 0 | 0.0% |" in text
    assert "无责、不属实办结 1 件" in text  # F4
    english = digests.render_digest(monthly, "html", "en").decode()
    assert "First-contact resolution" in english and "No-fault closes" in english


def test_the_weekly_summary_counts_the_week_only(engine: Engine) -> None:
    # week 45 (11-02 to 11-08) holds F1-F5; F7's return on 11-02 is of an October grievance
    weekly = digests.weekly(engine, week_of(date(2026, 11, 2)), AS_OF)
    rows = [(r.unit, r.returns, r.reassigned_away) for r in weekly.context["first_handlers"]]
    assert rows == [("UA", 2, 2), ("UB", 1, 0), ("UC", 0, 0)]
    later = digests.weekly(engine, week_of(date(2026, 11, 9)), AS_OF)  # F6: assigned, unsigned
    assert later.context["first_handlers"] == []
    assert "本期受理的诉求尚无单位签收。" in digests.render_digest(later, "md").decode()
