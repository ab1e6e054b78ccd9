"""`workflow.values.replace` gives what `dataclasses.replace` gives, errors included."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.case import Case
from workflow.timers import Timer, TimerState
from workflow.values import replace
from workflow.vocab import Category, Channel, RequestType, State

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
CASE = Case(
    number="20261123-0001",
    state=State.ACCEPTED,
    channel=Channel.HOTLINE_12328,
    ref="R-1",
    type=RequestType.COMPLAINT,
    category=Category.FREIGHT_UNPAID,
    name="张三",
    phone="13800000000",
    plate=None,
    description="运费被拖欠",
    amount_fen=None,
    urgent=False,
    accepted_at=T0,
    last_event_at=T0,
    policy="2142@1",
)
TIMER = Timer(
    target="close",
    cycle=1,
    state=TimerState.RUNNING,
    started_at=T0,
    due_at=T0 + timedelta(days=4),
    provisional=False,
)

_CASE_CHANGES = st.fixed_dictionaries(
    {},
    optional={
        "state": st.sampled_from(list(State)),
        "lead_unit": st.none() | st.text(max_size=5),
        "co_units": st.lists(st.text(max_size=3), max_size=3).map(tuple),
        "feedback_count": st.integers(0, 9),
        "closed_at": st.none() | st.just(T0 + timedelta(hours=5)),
        "urgent": st.booleans(),
    },
)


@given(_CASE_CHANGES)
def test_a_case_replaced_equals_the_standard_replace(changes: dict[str, object]) -> None:
    assert replace(CASE, **changes) == dataclasses.replace(CASE, **changes)


@given(st.integers(0, 5), st.sampled_from(list(TimerState)), st.none() | st.just(T0))
def test_a_timer_replaced_equals_the_standard_replace(
    fired: int, state: TimerState, stopped: datetime | None
) -> None:
    changes = {"fired": fired, "state": state, "stopped_at": stopped}
    got = replace(TIMER, **changes)
    assert got == dataclasses.replace(TIMER, **changes)
    assert TIMER.fired == 0  # the original is untouched


def test_an_unknown_field_is_refused_as_the_standard_replace_refuses_it() -> None:
    with pytest.raises(TypeError, match="nonsense"):
        replace(CASE, nonsense=1)


def test_a_class_with_post_init_still_runs_it() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int
        b: int = 0

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    assert replace(Checked(1), b=2) == Checked(1, 2)
    with pytest.raises(ValueError, match="negative"):
        replace(Checked(1), a=-1)
