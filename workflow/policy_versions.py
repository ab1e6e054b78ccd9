"""Policy versions: a grievance keeps the policy version it was accepted under
(`Policy.key`), each version stored the first time it is used as the canonical JSON of
`policy_json` (and its hash); the registry of every version known, the built-in ones plus
the custom ones of a TOML text, retired versions kept for their cases.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from workflow.errors import InvalidInput
from workflow.policies import BUILT_IN, Audience, Clock, LadderStep, Limit, Policy, Target, Warning
from workflow.policy_toml import policies_from_toml
from workflow.vocab import Event


@dataclass(frozen=True)
class Registry:
    """Every known policy version; `latest(name)` is what new grievances get.

    `retired` are versions no longer configured (a policy file that moved on to a new
    version) but still in use by grievances accepted under them: they resolve for those
    grievances (`get`) and are never given to new ones (`latest`, `names`).
    """

    policies: Mapping[str, Policy] = field(default_factory=dict)  # key -> policy
    retired: frozenset[str] = frozenset()

    @classmethod
    def of(cls, policies: Iterable[Policy]) -> Registry:
        table: dict[str, Policy] = {}
        for policy in policies:
            if policy.key in table:
                raise InvalidInput(f"policy {policy.key} is defined twice")
            table[policy.key] = policy
        return cls(table)

    def get(self, key: str) -> Policy:
        try:
            return self.policies[key]
        except KeyError:
            raise InvalidInput(f"unknown policy version {key!r}") from None

    def _current(self) -> list[Policy]:
        return [p for p in self.policies.values() if p.key not in self.retired]

    def latest(self, name: str) -> Policy:
        versions = [p for p in self._current() if p.name == name]
        if not versions:
            known = ", ".join(sorted({p.name for p in self._current()}))
            raise InvalidInput(f"unknown policy {name!r} (known: {known})")
        return max(versions, key=lambda p: p.version)

    def names(self) -> list[str]:
        return sorted({p.name for p in self._current()})

    def with_retired(self, policy: Policy) -> Registry:
        """This registry and a stored version it does not configure (kept for its cases)."""
        if policy.key in self.policies:
            return self
        table = {**self.policies, policy.key: policy}
        return Registry(table, self.retired | {policy.key})


def check_unchanged(policy: Policy, stored_sha256: str) -> None:
    """InvalidInput if `policy` is not the content stored (and used) under its version."""
    if policy_sha256(policy) != stored_sha256:
        raise InvalidInput(
            f"policy {policy.key} ({policy.source}) differs from the {policy.key} already in "
            "use: a changed policy needs a new version number (bump `version`)"
        )


def registry(custom_toml: str | None = None) -> Registry:
    """The built-in policies plus the custom ones of a TOML text."""
    custom = policies_from_toml(custom_toml) if custom_toml else ()
    return Registry.of((*BUILT_IN, *custom))


# ----------------------------------------------------------------------------- stored form
POLICY_FORMAT = 1  # of `policy_json`: a stored definition says which one it is written in


def _limit_data(limit: Limit | None) -> dict[str, Any] | None:
    if limit is None:
        return None
    seconds = limit.span.total_seconds()
    return {
        "clock": limit.clock.value,
        "seconds": int(seconds) if seconds == int(seconds) else seconds,
        "days": limit.days,
    }


def _limit_of(data: Any) -> Limit | None:
    if data is None:
        return None
    return Limit(Clock(data["clock"]), timedelta(seconds=data["seconds"]), int(data["days"]))


def _events_data(events: frozenset[Event]) -> list[str]:
    return sorted(e.value for e in events)


def policy_data(policy: Policy) -> dict[str, Any]:
    """The policy as plain JSON data: every field that decides a deadline, a step or a
    message (all but `source`, which says where this copy came from)."""
    return {
        "format": POLICY_FORMAT,
        "name": policy.name,
        "version": policy.version,
        "title": policy.title,
        "max_extensions": policy.max_extensions,
        "notify_in_business_hours": policy.notify_in_business_hours,
        "targets": [
            {
                "name": t.name,
                "title_zh": t.title_zh,
                "limit": _limit_data(t.limit),
                "starts_on": _events_data(t.starts_on),
                "stops_on": _events_data(t.stops_on),
                "cancels_on": _events_data(t.cancels_on),
                "pauses": t.pauses,
                "extends": t.extends,
                "warning": None
                if t.warning is None
                else {"share": t.warning.share, "before": _limit_data(t.warning.before)},
                "warn_notify": [a.value for a in t.warn_notify],
                "ladder": [
                    {
                        "name": s.name,
                        "title_zh": s.title_zh,
                        "after": _limit_data(s.after),
                        "notify": [a.value for a in s.notify],
                    }
                    for s in t.ladder
                ],
            }
            for t in policy.targets
        ],
    }


def policy_json(policy: Policy) -> str:
    """The canonical serialization: sorted keys, no spaces, UTF-8 text (hashed and stored)."""
    return json.dumps(
        policy_data(policy), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def policy_sha256(policy: Policy) -> str:
    return hashlib.sha256(policy_json(policy).encode("utf-8")).hexdigest()


def policy_from_json(text: str, source: str = "stored") -> Policy:
    """A policy back from `policy_json` (InvalidInput if the text is not one)."""
    try:
        data = json.loads(text)
        if data.get("format") != POLICY_FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        targets = tuple(
            Target(
                name=str(t["name"]),
                title_zh=str(t["title_zh"]),
                limit=_limit_of(t["limit"]) or Limit(Clock.BUSINESS),
                starts_on=frozenset(Event(e) for e in t["starts_on"]),
                stops_on=frozenset(Event(e) for e in t["stops_on"]),
                cancels_on=frozenset(Event(e) for e in t["cancels_on"]),
                pauses=bool(t["pauses"]),
                extends=bool(t["extends"]),
                warning=None
                if t["warning"] is None
                else Warning(t["warning"]["share"], _limit_of(t["warning"]["before"])),
                warn_notify=tuple(Audience(a) for a in t["warn_notify"]),
                ladder=tuple(
                    LadderStep(
                        str(s["name"]),
                        str(s["title_zh"]),
                        _limit_of(s["after"]),
                        tuple(Audience(a) for a in s["notify"]),
                    )
                    for s in t["ladder"]
                ),
            )
            for t in data["targets"]
        )
        return Policy(
            name=str(data["name"]),
            version=int(data["version"]),
            title=str(data["title"]),
            targets=targets,
            max_extensions=int(data["max_extensions"]),
            source=source,
            notify_in_business_hours=bool(data["notify_in_business_hours"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise InvalidInput(f"stored policy definition is not readable: {error}") from None
