"""Artifact keys named after a party: one key per party, never the desk's for a unit, and
valid Prefect keys (lowercase letters, digits, dashes)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from workflow.artifact_keys import WORKLIST_DESK, unit_key, worklist_key
from workflow.validation import UNIT_CODE_PATTERN

CODES = ["ROAD", "road", "Road", "ROAD_2", "ROAD-2", "desk", "DESK", "Desk", "A_B", "A-B"]


def test_the_worklist_keys_of_the_desk_and_of_units() -> None:
    assert worklist_key(WORKLIST_DESK) == "worklist-desk"
    assert worklist_key("ROAD") == "worklist-road"
    assert worklist_key("LAW-2") == "worklist-law-2"
    keys = [worklist_key(code) for code in CODES if code != WORKLIST_DESK]
    assert len(set(keys)) == len(keys) and "worklist-desk" not in keys  # DESK, Desk too


@given(st.lists(st.from_regex(UNIT_CODE_PATTERN, fullmatch=True), unique=True, max_size=8))
def test_two_units_never_share_a_key_and_keys_are_prefect_keys(codes: list[str]) -> None:
    keys = [unit_key("worklist", code) for code in codes]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[a-z0-9-]+", key) for key in keys)
    assert "worklist-desk" not in keys
