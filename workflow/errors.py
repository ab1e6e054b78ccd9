"""Errors a user can cause. Each carries a one-line message a dispatcher understands.

The CLI and the flows print `str(error)`; none of these should ever surface as a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class GrievanceError(Exception):
    """Base class of every error caused by input, permissions or concurrent use."""


class InvalidInput(GrievanceError):
    """Input that fails validation (bad phone number, empty description, unknown category...)."""


class NotFound(GrievanceError):
    """A grievance or unit that does not exist (or that the actor may not see)."""


class Duplicate(GrievanceError):
    """Something that must be unique already exists (a unit code, a channel reference)."""


class PermissionDenied(GrievanceError):
    """The actor's role or unit does not allow this operation."""


class Conflict(GrievanceError):
    """Someone else changed the grievance between reading and writing it."""


class IllegalTransition(GrievanceError):
    """The event is not allowed in the grievance's current state."""

    def __init__(self, number: str, state: str, event: str, allowed: Iterable[str]) -> None:
        self.number, self.state, self.event = number, state, event
        self.allowed = sorted(allowed)
        # what a person may do: the engine's own records (see machine.SYSTEM_EVENTS) aside
        moves = [a for a in self.allowed if a not in ("recalculate", "sla_step")]
        allowed_text = ", ".join(moves) if moves else "none (the case is finished)"
        super().__init__(
            f"grievance {number}: can't {event} when {state}; allowed now: {allowed_text}"
        )


class GuardFailed(GrievanceError):
    """The event is allowed in this state, but one of its conditions does not hold."""

    def __init__(self, number: str, event: str, guard: str, reason: str) -> None:
        self.number, self.event, self.guard, self.reason = number, event, guard, reason
        super().__init__(f"grievance {number}: can't {event}: {reason}")
