"""Who acts: a name, a role and, for unit staff, the unit they belong to."""

from __future__ import annotations

from dataclasses import dataclass

from workflow.errors import InvalidInput
from workflow.validation import NAME_MAX, has_binary, is_unit_code, nfc
from workflow.vocab import Role


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: Role
    unit: str | None = None

    def __post_init__(self) -> None:
        # counted composed: a name typed with combining accents is as long as it looks
        if not self.name.strip() or len(nfc(self.name)) > NAME_MAX:
            raise InvalidInput(f"actor name must be 1-{NAME_MAX} characters")
        if has_binary(self.name):
            raise InvalidInput("actor name: control characters are not allowed")
        if self.unit is not None and not is_unit_code(self.unit):
            raise InvalidInput(f"actor unit {self.unit!r} is not a valid unit code")
        if self.role is Role.HANDLER and self.unit is None:
            raise InvalidInput("a handler acts for a unit: give --actor-unit CODE")

    @property
    def unit_bound(self) -> bool:
        """Unit staff (handlers, unit supervisors) see and act on their unit's cases only."""
        return self.unit is not None and self.role in (Role.HANDLER, Role.SUPERVISOR)

    def __str__(self) -> str:
        unit = f"@{self.unit}" if self.unit else ""
        return f"{self.name} ({self.role.value}{unit})"
