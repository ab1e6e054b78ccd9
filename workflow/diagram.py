"""The state machine drawn as a Mermaid diagram, generated from the transition table."""

from __future__ import annotations

from collections import defaultdict

from workflow.case import TERMINAL_STATES
from workflow.machine import SYSTEM_EVENTS, TABLE
from workflow.vocab import Event, State

BEGIN = "<!-- state-diagram:begin (generated from workflow/machine.py) -->"
END = "<!-- state-diagram:end -->"


def mermaid() -> str:
    """A `stateDiagram-v2`: one arrow per (from, to) pair, labelled with its events.

    The engine's own records (recalculate, sla_step) may come in every state and change
    nothing of the case; they are named in a comment instead of drawn on every state.
    """
    edges: dict[tuple[State, State], list[Event]] = defaultdict(list)
    for row in TABLE:
        if row.event in SYSTEM_EVENTS:
            continue
        for source in sorted(row.sources):
            edges[(source, row.target_from(source))].append(row.event)
    system = ", ".join(sorted(e.value for e in SYSTEM_EVENTS))
    lines = ["stateDiagram-v2", f"    %% {system}: recorded in every state after accept, no move"]
    for state in State:
        if state is not State.NEW:
            lines.append(f"    {state.value}: {state.value} {state.zh}")
    order = {state: i for i, state in enumerate(State)}
    for (source, target), events in sorted(
        edges.items(), key=lambda e: (order[e[0][0]], order[e[0][1]])
    ):
        start = "[*]" if source is State.NEW else source.value
        label = ", ".join(sorted(e.value for e in set(events)))
        lines.append(f"    {start} --> {target.value}: {label}")
    for state in sorted(TERMINAL_STATES):
        lines.append(f"    {state.value} --> [*]")
    return "\n".join(lines) + "\n"


def readme_block() -> str:
    """The block the README carries between its markers (a test keeps the two equal)."""
    return f"{BEGIN}\n```mermaid\n{mermaid()}```\n{END}"
