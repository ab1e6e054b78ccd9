"""Evidence attachments (证据附件): a photo or PDF attached to a grievance, stored once by its
content hash in the configured folder, each attachment an audit event (上传证据).

Configuration: `GRIEVANCE_ATTACHMENTS_DIR` (default: `attachments/` beside the SQLite
database file, else in the working directory), `GRIEVANCE_ATTACHMENT_MAX_MB` (default 10)
and `GRIEVANCE_ATTACHMENT_TYPES` (default `jpeg png webp heic pdf`).

Order of an attach: the bytes are read up to the limit (never more), their type told from
their first bytes, then the command is decided in the grievance's transaction (who may, in
which state, not the same file twice on one grievance), then the file is written (temporary
file, fsync, rename to its SHA-256) and only then the event commits. A refusal at any step
writes nothing; a crash between the rename and the commit leaves a file no event names,
which is harmless (the next attach of the same bytes reuses it). Files are shared: the same
bytes attached to two grievances are one file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.engine import make_url

from models import audit_log, case_rows
from service import security
from service.acting import Stamp, check_number
from service.cases import execute
from service.engine import Engine
from workflow.actor import Actor
from workflow.attachments import (
    DEFAULT_MAX_BYTES,
    SNIFF_BYTES,
    Attachment,
    AttachmentRules,
    attachments_of,
    is_sha256,
    parse_types,
)
from workflow.case import Record
from workflow.commands import parse_command
from workflow.errors import InvalidInput, NotFound, PermissionDenied
from workflow.machine import can_see
from workflow.vocab import Event

ENV_DIR = "GRIEVANCE_ATTACHMENTS_DIR"
ENV_MAX_MB = "GRIEVANCE_ATTACHMENT_MAX_MB"
ENV_TYPES = "GRIEVANCE_ATTACHMENT_TYPES"
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class AttachmentConfig:
    """Where the files go and what is accepted."""

    directory: Path
    rules: AttachmentRules = AttachmentRules()

    @classmethod
    def from_env(cls, engine: Engine) -> AttachmentConfig:
        raw_dir = os.environ.get(ENV_DIR)
        if raw_dir is not None and not raw_dir.strip():
            raise InvalidInput(f"{ENV_DIR} is set but empty: name a folder or unset it")
        directory = Path(raw_dir) if raw_dir else _default_directory(engine)
        max_bytes = DEFAULT_MAX_BYTES
        raw_max = os.environ.get(ENV_MAX_MB)
        if raw_max is not None:
            if not raw_max.strip().isascii() or not raw_max.strip().isdigit():
                raise InvalidInput(f"{ENV_MAX_MB} must be a whole number of megabytes")
            max_bytes = int(raw_max) * 1024 * 1024
        raw_types = os.environ.get(ENV_TYPES)
        types = parse_types(raw_types) if raw_types is not None else AttachmentRules().types
        return cls(directory, AttachmentRules(types, max_bytes))

    def path_of(self, sha256: str) -> Path:
        """A file's place: `<folder>/<first two hex digits>/<sha256>`."""
        if not is_sha256(sha256):
            raise InvalidInput("not a SHA-256 (64 lowercase hex digits)")
        return self.directory / sha256[:2] / sha256


def _default_directory(engine: Engine) -> Path:
    url = make_url(engine.db.url)
    if engine.db.is_sqlite and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).resolve().parent / "attachments"
    return Path.cwd() / "attachments"


def read_limited(stream: BinaryIO, rules: AttachmentRules) -> bytes:
    """The stream's bytes, read in chunks and refused as soon as they pass the limit (a
    1 GB upload is never read whole)."""
    parts: list[bytes] = []
    size = 0
    while chunk := stream.read(CHUNK):
        size += len(chunk)
        reason = rules.too_big(size)
        if reason is not None:
            raise InvalidInput(reason)
        parts.append(chunk)
    return b"".join(parts)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store(config: AttachmentConfig, sha256: str, data: bytes) -> Path:
    """Write the file under its hash atomically (temporary file, fsync, rename); a file
    already there with the right content is kept (one file per content)."""
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("the data does not hash to the name given")
    path = config.path_of(sha256)
    if path.exists() and _hash_file(path) == sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o444)  # evidence is never changed in place
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def attach(
    engine: Engine,
    number: str,
    stamp: Stamp,
    *,
    data: bytes | BinaryIO,
    name: str,
    note: str | None = None,
    expected_version: int | None = None,
    config: AttachmentConfig | None = None,
) -> Attachment:
    """上传证据: attach a file to grievance `number`; return it as recorded. Refused (with
    nothing written) when too large, of a type not accepted, the same file already attached
    to this grievance, or when the actor may not act on the grievance."""
    config = config or AttachmentConfig.from_env(engine)
    check_number(number)
    content = data if isinstance(data, bytes) else read_limited(data, config.rules)
    media_type = config.rules.check(content[:SNIFF_BYTES], len(content))
    sha256 = hashlib.sha256(content).hexdigest()
    fields = {"sha256": sha256, "media_type": media_type, "size": len(content), "name": name}
    if note is not None:
        fields["note"] = note
    command = parse_command(Event.ATTACH, fields)
    written: list[Record] = []

    def write_file(record: Record) -> None:
        store(config, sha256, content)
        written.append(record)

    execute(
        engine,
        number,
        command,
        stamp,
        expected_version=expected_version,
        before_commit=write_file,
    )
    return attachments_of(written)[0]


def _visible(engine: Engine, number: str, actor: Actor) -> list[Attachment]:
    check_number(number)
    with engine.db.read() as session:
        row_id, _, case = case_rows.load_case(session, number)
        if not can_see(actor, case):
            raise PermissionDenied(f"grievance {number} does not concern unit {actor.unit}")
        events = audit_log.attach_events(session, row_id)
        return attachments_of(audit_log.record_from_event(e) for e in events)


def list_attachments(engine: Engine, number: str, actor: Actor) -> list[Attachment]:
    """The attachments of grievance `number`, oldest first, for someone who may see it."""
    return _visible(engine, number, actor)


def open_attachment(
    engine: Engine,
    number: str,
    sha256: str,
    actor: Actor,
    *,
    config: AttachmentConfig | None = None,
) -> tuple[Attachment, Path]:
    """One attachment of grievance `number` and the path of its file, for someone who may see
    the grievance (NotFound when it is not this grievance's, or its file is missing)."""
    config = config or AttachmentConfig.from_env(engine)
    found = [a for a in _visible(engine, number, actor) if a.sha256 == sha256]
    if not found:
        raise NotFound(f"grievance {number} has no attachment {sha256[:12]}")
    path = config.path_of(sha256)
    if not path.is_file():
        raise NotFound(f"the file of attachment {sha256[:12]} is missing from the store")
    return found[-1], path


def read_attachment(
    engine: Engine,
    number: str,
    sha256: str,
    stamp: Stamp,
    *,
    remote: str | None = None,
    config: AttachmentConfig | None = None,
) -> tuple[Attachment, Path]:
    """`open_attachment` for a download: who read which file is recorded in the security
    log first (`attachment_read`)."""
    found, path = open_attachment(engine, number, sha256, stamp.actor, config=config)
    actor = stamp.actor
    with engine.db.transaction() as session:
        security.record(
            session,
            "attachment_read",
            stamp.recorded_at,
            account=actor.name,
            by=actor.name,
            remote=remote,
            number=number,
            sha256=sha256,
            role=actor.role.value,
            unit=actor.unit,
        )
    return found, path


@dataclass(frozen=True, slots=True)
class FileProblem:
    """An attachment whose stored file is missing or does not hash to its name."""

    number: str
    sha256: str
    kind: str  # "missing" or "altered"


class FileChecker:
    """Checks stored files against their names (SHA-256), each file once per checker."""

    def __init__(
        self, config: AttachmentConfig, hash_file: Callable[[Path], str] | None = None
    ) -> None:
        self.config = config
        self.hash_file = hash_file or _hash_file
        self.verdicts: dict[str, str | None] = {}

    def problem(self, sha256: str) -> str | None:
        """None when the file is there with its content; else "missing" or "altered"."""
        if sha256 not in self.verdicts:
            path = self.config.path_of(sha256)
            if not path.is_file():
                self.verdicts[sha256] = "missing"
            else:
                same = self.hash_file(path) == sha256
                self.verdicts[sha256] = None if same else "altered"
        return self.verdicts[sha256]


def check_files(
    engine: Engine, *, config: AttachmentConfig | None = None
) -> tuple[int, list[FileProblem]]:
    """Every attachment's file: there, and hashing to its name? (files checked once each)"""
    checker = FileChecker(config or AttachmentConfig.from_env(engine))
    with engine.db.read() as session:
        named = [(e.number, str(e.payload["sha256"])) for e in audit_log.attachment_events(session)]
    problems = [
        FileProblem(number, sha256, kind)
        for number, sha256 in named
        if (kind := checker.problem(sha256)) is not None
    ]
    return len(checker.verdicts), problems
