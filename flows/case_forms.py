"""The case runs' forms: one flat `CaseInput` per wait of `service.worklist.WAITS` (an assign
/merge form while the desk must act, sign/return for the unit, approve/reject for the unit's
supervisor, revisit, redo/review...), built from the action forms' own fields
(`flows.action_forms`), and the pause keys a case run is suspended under
(`<wait>-<party digest>-v<version>-<n>`)."""

# No `from __future__ import annotations`: pydantic builds the forms at runtime.

import copy
import re
from collections.abc import Iterable
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from prefect.input import RunInput
from pydantic import ConfigDict, Field, create_model
from pydantic.fields import FieldInfo
from pydantic.json_schema import SkipJsonSchema

from flows import action_forms
from service.worklist import (
    WAITS,
    Snapshot,
    Wait,
)
from workflow.vocab import Event


# ----------------------------------------------------------------------------- the forms
class CaseInput(RunInput):
    """Base of every case form: the chosen action and its fields. Who acts is the identity
    stamp the gate adds to the input (`stamp`, left out of the form's schema; unknown keys are
    ignored rather than refused, so the server takes the stamped input against that schema)."""

    model_config = ConfigDict(extra="ignore")

    stamp: SkipJsonSchema[str | None] = None

    def event(self) -> Event:
        return Event(str(getattr(self, "action")).split(" ")[-1])  # noqa: B009

    def payload(self) -> dict[str, Any]:
        """The given fields (an empty text or list is not given), without the action."""
        return {
            name: value
            for name in type(self).model_fields
            if name not in ("action", "stamp")
            and (value := getattr(self, name)) not in (None, "", [])
        }


def _plain(annotation: Any) -> Any:
    """The bare type under Annotated/Optional: `str` for a NoteText | None, list for lists."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return list if get_origin(annotation) is list else annotation


def _loose(info: FieldInfo, title: str | None = None) -> tuple[Any, Any]:
    """An optional field as the UI shows it best: a plain text box ("" = not given) or a
    plain list ([] = none), else `X | None`. The action's own form checks the value."""
    help_ = {"title": title or info.title, "description": info.description}
    bare = _plain(info.annotation)
    if bare is str:
        return (str, Field(default="", examples=info.examples, **help_))
    if bare is list:
        return (list[str], Field(default_factory=list, examples=info.examples, **help_))
    return (info.annotation | None, Field(default=None, examples=info.examples, **help_))


def _shared_title(name: str, events: list[Event]) -> str:
    """The title of a field several actions share: its own when they agree, else each
    action's Chinese title and the common English one (改派理由/并单理由 Reason)."""
    titles = list(
        dict.fromkeys(str(action_forms.BY_EVENT[e].form.model_fields[name].title) for e in events)
    )
    if len(titles) == 1:
        return titles[0]
    zh = [title.partition(" ")[0] for title in titles]
    en = {title.partition(" ")[2] for title in titles}
    return f"{'/'.join(zh)} {en.pop()}" if len(en) == 1 else " / ".join(titles)


def _build_form(wait: Wait) -> type[CaseInput]:
    """One form per wait: an action dropdown (`分办 assign`...), the fields of the offered
    actions' forms (optional when several actions share the form; the action's own form
    checks them again) and the effective time. No version field: staleness is by wait (see
    `apply`); no who-acts fields: the identity stamp says who."""
    choice = StrEnum(  # type: ignore[misc]
        f"{wait.name.capitalize()}Action", {e.name: f"{e.zh} {e.value}" for e in wait.events}
    )
    fields: dict[str, Any] = {
        "action": (
            choice,
            Field(
                default=f"{wait.events[0].zh} {wait.events[0].value}",
                title="办理动作 Action",
                description=f"{wait.title}: {wait.offered()}",
            ),
        )
    }
    users: dict[str, list[Event]] = {}
    for event in wait.events:
        for name in action_forms.BY_EVENT[event].form.model_fields:
            if name not in (*action_forms.CONTEXT, "number"):
                users.setdefault(name, []).append(event)
    for name, events in users.items():
        info = action_forms.BY_EVENT[events[0]].form.model_fields[name]
        if len(wait.events) == 1:
            fields[name] = (info.annotation, info) if info.is_required() else _loose(info)
            continue
        used_by = "/".join(f"{e.zh} {e.value}" for e in events)
        fields[name] = _loose(info, f"{_shared_title(name, events)} [{used_by}]")
    fields["at"] = action_forms.copy_field(action_forms.SharedFields, "at")
    model: type[CaseInput] = create_model(  # type: ignore[call-overload]
        f"Case{wait.name.capitalize()}Input",
        __base__=CaseInput,
        __doc__=f"{wait.title}: {wait.offered()}",
        **fields,
    )
    return model


FORMS: dict[str, type[CaseInput]] = {w.name: _build_form(w) for w in WAITS.values() if w.case_run}


def _with_defaults(form: type[CaseInput], description: str, **defaults: Any) -> type[CaseInput]:
    """`form` with other defaults and the markdown shown above it (unlike
    `RunInput.with_initial_data`, the fields keep their titles and descriptions)."""
    fields: dict[str, Any] = {}
    for name, value in defaults.items():
        info = copy.copy(form.model_fields[name])
        info.default = value
        fields[name] = (info.annotation, info)
    model: type[CaseInput] = create_model(form.__name__, __base__=form, **fields)  # type: ignore[call-overload]
    model._description = description  # type: ignore[assignment]  # what RunInput.save reads
    return model


def form_of(snap: Snapshot, refused: str | None = None) -> type[CaseInput]:
    """The form for this snapshot, with what it waits for described on top."""
    assert snap.wait is not None
    return _with_defaults(FORMS[snap.wait.name], snap.description(refused))


# ----------------------------------------------------------------------------- pause keys
_KEY = re.compile(r"^([a-z]+)-([0-9a-f]{8})-v(\d+)-(\d+)$")


def parse_key(key: str | None) -> tuple[str, int, int] | None:
    """(identity, version, n) of a case-run pause key."""
    match = _KEY.match(key or "")
    if not match or match[1] not in FORMS:
        return None
    return f"{match[1]}-{match[2]}", int(match[3]), int(match[4])


def latest_key(keys: Iterable[str]) -> str | None:
    """The newest pause key (versions only grow; n counts suspensions at one version)."""
    parsed = [(p[1], p[2], key) for key in keys if (p := parse_key(key)) is not None]
    return max(parsed)[2] if parsed else None


def next_key(snap: Snapshot, keys: Iterable[str]) -> str:
    used = [
        p[2]
        for key in keys
        if (p := parse_key(key)) and (p[0], p[1]) == (snap.identity, snap.version)
    ]
    return f"{snap.identity}-v{snap.version}-{max(used) + 1 if used else 0}"


def wait_of_key(key: str) -> Wait:
    return WAITS[key.split("-")[0]]
