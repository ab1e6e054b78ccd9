"""Evidence attachments (证据附件) as the domain sees them: the kinds of file accepted, told
from their first bytes (never from the name), the size limit, the file name as recorded, and
a grievance's attachments read back from its audit records. No I/O: the bytes are stored by
`service.attachments`; the audit event carries only their SHA-256, type, size and name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from workflow.actor import Actor
from workflow.case import Record
from workflow.errors import InvalidInput
from workflow.validation import clean_text, has_binary, nfc
from workflow.vocab import Event

# what may be attached: photos and PDFs (of waybills, tickets, receipts), each with its label
MEDIA_TYPES: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "application/pdf": "PDF",
}
SHORT_TYPES = {label.lower(): media for media, label in MEDIA_TYPES.items()} | {"jpg": "image/jpeg"}
DEFAULT_MAX_BYTES = 10 * 1024 * 1024  # 10 MB
MAX_BYTES_CEILING = 100 * 1024 * 1024  # what a configuration may raise the limit to
SNIFF_BYTES = 16  # how many leading bytes `sniff` looks at
FILE_NAME_MAX = 120  # characters, after NFC
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file announce (magic numbers), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return "image/heic"
    return None


def is_sha256(value: str) -> bool:
    return _SHA256.fullmatch(value) is not None


def parse_types(text: str) -> frozenset[str]:
    """`image/jpeg,application/pdf` or `jpeg pdf`: the media types a bureau accepts (a subset
    of `MEDIA_TYPES`); anything else is refused with the list of known ones."""
    chosen: set[str] = set()
    for word in re.split(r"[\s,]+", text.strip().lower()):
        if not word:
            continue
        media = word if word in MEDIA_TYPES else SHORT_TYPES.get(word)
        if media is None:
            known = ", ".join(sorted(MEDIA_TYPES))
            raise InvalidInput(f"unknown attachment type {word!r} (known: {known})")
        chosen.add(media)
    if not chosen:
        raise InvalidInput("no attachment type is allowed: name at least one")
    return frozenset(chosen)


def size_label(size: int) -> str:
    """1234567 -> '1.2 MB', 2048 -> '2.0 KB', 900 -> '900 B'."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True, slots=True)
class AttachmentRules:
    """What this bureau accepts: the media types and the size limit in bytes."""

    types: frozenset[str] = frozenset(MEDIA_TYPES)
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        unknown = sorted(self.types - set(MEDIA_TYPES))
        if unknown or not self.types:
            raise InvalidInput(f"attachment types must be some of {sorted(MEDIA_TYPES)}")
        if not 1 <= self.max_bytes <= MAX_BYTES_CEILING:
            raise InvalidInput(
                f"the attachment size limit must be 1 byte to {size_label(MAX_BYTES_CEILING)}"
            )

    def too_big(self, size: int) -> str | None:
        if size > self.max_bytes:
            return f"the file is larger than the limit of {size_label(self.max_bytes)}"
        return None

    def check(self, head: bytes, size: int) -> str:
        """The file's media type, if its first bytes and its size are acceptable; else
        InvalidInput with the reason (an empty file, too large, an unknown or refused type)."""
        if size <= 0:
            raise InvalidInput("the file is empty")
        reason = self.too_big(size)
        if reason is not None:
            raise InvalidInput(reason)
        media = sniff(head[:SNIFF_BYTES])
        accepted = ", ".join(MEDIA_TYPES[t] for t in sorted(self.types))
        if media is None:
            raise InvalidInput(
                f"not a photo or PDF this bureau accepts ({accepted}): its content was "
                "checked, not its name"
            )
        if media not in self.types:
            raise InvalidInput(f"{MEDIA_TYPES[media]} files are not accepted here ({accepted})")
        return media


def file_name(raw: str) -> str:
    """The name a file is recorded under: its last path part (a browser or a shell may send
    a whole path), composed (NFC), at most `FILE_NAME_MAX` characters, no control
    characters; an empty name is refused."""
    name = nfc(raw).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if has_binary(name):
        raise ValueError("contains control characters or binary data")
    name = clean_text(name).strip()
    if not name or name in (".", ".."):
        raise ValueError("the file has no name")
    if len(name) > FILE_NAME_MAX:
        raise ValueError(f"a file name has at most {FILE_NAME_MAX} characters")
    return name


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file as its audit record tells it."""

    sha256: str
    media_type: str
    size: int
    name: str
    note: str | None
    at: datetime
    actor: Actor

    @property
    def short(self) -> str:
        """The first 12 hex digits of the hash: what documents print."""
        return self.sha256[:12]

    @property
    def kind(self) -> str:
        return MEDIA_TYPES.get(self.media_type, self.media_type)

    @property
    def size_text(self) -> str:
        return size_label(self.size)


def attachments_of(records: Iterable[Record]) -> list[Attachment]:
    """The attachments recorded in a grievance's audit records, oldest first."""
    return [
        Attachment(
            sha256=str(r.payload["sha256"]),
            media_type=str(r.payload["media_type"]),
            size=int(r.payload["size"]),
            name=str(r.payload["name"]),
            note=r.payload.get("note"),
            at=r.at,
            actor=r.actor,
        )
        for r in records
        if r.event is Event.ATTACH
    ]
