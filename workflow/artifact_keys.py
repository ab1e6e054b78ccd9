"""Artifact keys named after a party, the desk or a unit: `sla-board-<unit>`,
`worklist-<unit>`. The gate lets a unit's staff read their own keys although no run of the
unit made those artifacts (`gateway.narrowing`), so two parties must never map to one key:
a code that is not all capitals, digits and dashes (Prefect keys are lowercase) gets a digest
of itself (`ROAD` is `road`, `road` is `road-<digest>`), and so does a unit whose code would
read as the desk's."""

from __future__ import annotations

DESK_SLUG = "desk"


def digest(text: str) -> str:
    """Six hex digits of FNV-1a over the text (stable across processes, unlike `hash`)."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"[:6]


def unit_key(prefix: str, unit: str) -> str:
    """`<prefix>-<unit, lowercased, _ as ->`, with the unit's digest where that is ambiguous."""
    slug = unit.lower().replace("_", "-")
    if unit != unit.upper() or "_" in unit or slug == DESK_SLUG:
        slug += "-" + digest(unit)
    return f"{prefix}-{slug}"


WORKLIST_PREFIX = "worklist"
WORKLIST_DESK = "desk"  # the worklist's name for the desk (`service.worklist.Snapshot.party`)


def worklist_key(party: str) -> str:
    """The key of a party's worklist table: `worklist-desk`, `worklist-<unit>`."""
    if party == WORKLIST_DESK:
        return f"{WORKLIST_PREFIX}-{DESK_SLUG}"
    return unit_key(WORKLIST_PREFIX, party)
