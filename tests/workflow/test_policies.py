"""Policy versions as stored data: the canonical JSON, its hash, and retired versions."""

from __future__ import annotations

import pytest

from workflow.errors import InvalidInput
from workflow.policies import BUILT_IN
from workflow.policy_toml import policies_from_toml
from workflow.policy_versions import (
    Registry,
    check_unchanged,
    policy_from_json,
    policy_json,
    policy_sha256,
    registry,
)

CUSTOM = """
[[policy]]
name = "tianjin"
version = 1
title = "天津：1小时转办"
max_extensions = 2
notify_in_business_hours = false
[[policy.target]]
name = "assign"
limit = "1.5m"
clock = "natural"
starts_on = ["accept", "return"]
stops_on = ["assign", "reassign"]
warn_before = "25%"
warn_notify = ["desk"]
[[policy.target.ladder]]
name = "red_card"
notify = ["desk", "supervisor"]
[[policy.target.ladder]]
name = "supervision"
after = "1wd"
notify = ["leadership"]
[[policy.target]]
name = "close"
limit = "15wd"
starts_on = ["accept", "redo"]
stops_on = ["close"]
pauses = true
extends = true
warn_before = "1wd"
"""


@pytest.mark.parametrize("policy", [*BUILT_IN, *policies_from_toml(CUSTOM)], ids=str)
def test_a_policy_comes_back_from_its_stored_form_unchanged(policy: object) -> None:
    from workflow.policies import Policy

    assert isinstance(policy, Policy)
    text = policy_json(policy)
    assert policy_from_json(text, source=policy.source) == policy
    assert policy_json(policy_from_json(text)) == text  # canonical: the same bytes again


def test_the_hash_follows_the_content_not_the_source() -> None:
    (policy,) = policies_from_toml(CUSTOM)
    (same,) = policies_from_toml(CUSTOM, source="elsewhere")
    (longer,) = policies_from_toml(CUSTOM.replace('"15wd"', '"16wd"'))
    (retitled,) = policies_from_toml(CUSTOM.replace("1小时转办", "一小时转办"))
    assert policy_sha256(policy) == policy_sha256(same)
    assert len({policy_sha256(p) for p in (policy, longer, retitled)}) == 3
    check_unchanged(policy, policy_sha256(same))
    with pytest.raises(InvalidInput, match=r"tianjin@1 .*needs a new version number"):
        check_unchanged(longer, policy_sha256(policy))


def test_the_built_in_hashes_stay_what_they_were() -> None:
    """A built-in version is stored when first used: its content must never change under
    the same number (change one, and give it a new version)."""
    assert {p.key: policy_sha256(p)[:12] for p in BUILT_IN} == {
        "2142@1": "5c3532c83730",
        "2252@1": "e48a11786ffe",
        "2152@1": "2c677be9ff1d",
        "urgent@1": "294872805ad5",
    }


def test_retired_versions_resolve_but_new_cases_get_the_configured_latest() -> None:
    (v1,) = policies_from_toml(CUSTOM)
    (v3,) = policies_from_toml(CUSTOM.replace("version = 1", "version = 3"))
    (v2,) = policies_from_toml(CUSTOM.replace("version = 1", "version = 2"))
    configured = registry(CUSTOM.replace("version = 1", "version = 2"))
    kept = configured.with_retired(v1).with_retired(v3)
    assert kept.get("tianjin@1") == v1 and kept.get("tianjin@3") == v3
    assert kept.latest("tianjin") == v2  # a stored v3 the file dropped is not handed out
    assert kept.with_retired(v2) is kept
    gone = Registry.of(BUILT_IN).with_retired(v1)
    assert gone.get("tianjin@1") == v1 and "tianjin" not in gone.names()
    with pytest.raises(InvalidInput, match="unknown policy 'tianjin'"):
        gone.latest("tianjin")


@pytest.mark.parametrize(
    "text",
    ["not json", '{"format": 2}', '{"format": 1, "name": "x"}', "[]"],
)
def test_an_unreadable_stored_definition_is_an_input_error(text: str) -> None:
    with pytest.raises(InvalidInput, match="stored policy definition"):
        policy_from_json(text)
