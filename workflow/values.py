"""`replace` for this layer's value objects: frozen, slotted dataclasses.

`dataclasses.replace` looks up every field's kind and passes all of them by keyword on each
call; a case has forty fields and `evolve` replaces it once or twice per record, the SLA
timers several times. Here the field names, their order and a getter of all of them at once
are worked out once per class; a replace then reads the values in one call, swaps in the
changes and calls the class's own `__init__` with them in order. Same result, same errors
for an unknown field; a class with `__post_init__` or a field left out of `__init__` goes to
`dataclasses.replace` instead.
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter
from typing import Any, TypeVar

T = TypeVar("T")

_Layout = tuple[Any, dict[str, int]] | None  # (getter of all fields, index by name)
_LAYOUTS: dict[type, _Layout] = {}


def _layout(cls: type) -> _Layout:
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or any(not f.init for f in fields) or not fields:
        return None
    names = [f.name for f in fields]
    return attrgetter(*names) if len(names) > 1 else None, {n: i for i, n in enumerate(names)}


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of `obj` with `changes` (a frozen dataclass instance), as `dataclasses.replace`."""
    cls = type(obj)
    try:
        layout = _LAYOUTS[cls]
    except KeyError:
        layout = _LAYOUTS[cls] = _layout(cls)
    if layout is None or layout[0] is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    getter, index = layout
    values = list(getter(obj))
    for name, value in changes.items():
        position = index.get(name)
        if position is None:
            return dataclasses.replace(obj, **changes)  # type: ignore[type-var]  # it raises
        values[position] = value
    return cls(*values)
