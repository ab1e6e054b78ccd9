"""Personal data kept out of Prefect: the gate replaces each phone, plate and ID number typed in
a form by a reference (`pii:` and 12 letters) before the run's parameters or a case run's
input reach Prefect's database (`protect`); the run puts the numbers back from the engine
database before it acts (`resolve`). Whole fields that hold such a number (`phone`, `plate`)
become one reference; free text keeps its words, each number in it a reference."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from models.access_tables import PersonalRef
from service.engine import Engine
from workflow.errors import InvalidInput
from workflow.privacy import REFERENCE, substitute_personal

WHOLE = frozenset({"phone", "plate", "id_number"})  # fields that are nothing but the number
VALUE_MAX = 64


def _new_ref() -> str:
    return "pii:" + "".join(secrets.choice(string.ascii_letters) for _ in range(12))


def protect(engine: Engine, data: Any, at: datetime, by: str) -> Any:
    """`data` (parameters or run input, nested) with every personal number replaced by a
    reference; the numbers stored in one transaction."""
    found: dict[str, str] = {}

    def stash(value: str) -> str:
        if len(value) > VALUE_MAX:
            return value  # not a number anyone types: the form refuses it anyway
        ref = _new_ref()
        found[ref] = value
        return ref

    def walk(value: Any, key: str | None = None) -> Any:
        if isinstance(value, str):
            if REFERENCE.fullmatch(value.strip()):
                return value
            if key in WHOLE and value.strip():
                return stash(value)
            return substitute_personal(value, stash)
        if isinstance(value, Mapping):
            return {k: walk(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    protected = walk(data)
    if found:
        with engine.db.transaction() as session:
            for ref, value in found.items():
                session.add(PersonalRef(ref=ref, value=value, created_at=at, created_by=by))
    return protected


def resolve(engine: Engine, data: Any) -> Any:
    """`data` with every reference replaced by the number it stands for. An unknown reference
    is refused (InvalidInput): nobody can make one up to read another's number."""
    refs: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            refs.update(REFERENCE.findall(value))
        elif isinstance(value, Mapping):
            for item in value.values():
                collect(item)
        elif isinstance(value, list | tuple):
            for item in value:
                collect(item)

    collect(data)
    if not refs:
        return data
    with engine.db.read() as session:
        rows = session.exec(select(PersonalRef).where(col(PersonalRef.ref).in_(sorted(refs))))
        values = {row.ref: row.value for row in rows}
    unknown = refs - values.keys()
    if unknown:
        raise InvalidInput(f"unknown personal-data reference {sorted(unknown)[0]}")

    def put_back(value: Any) -> Any:
        if isinstance(value, str):
            return REFERENCE.sub(lambda m: values[m.group(0)], value)
        if isinstance(value, Mapping):
            return {k: put_back(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [put_back(v) for v in value]
        return value

    return put_back(data)
