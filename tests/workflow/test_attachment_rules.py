"""Evidence attachments in the domain: types told from the bytes, the size limit, the file
name as recorded, who may attach and the same file twice (workflow/attachments.py, the
ATTACH row of the table)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

import pytest

from tests.workflow.test_machine import make_case
from workflow.actor import Actor
from workflow.attachments import (
    DEFAULT_MAX_BYTES,
    FILE_NAME_MAX,
    AttachmentRules,
    attachments_of,
    file_name,
    parse_types,
    size_label,
    sniff,
)
from workflow.case import Case, evolve
from workflow.commands import Attach, parse_command
from workflow.errors import GuardFailed, IllegalTransition, InvalidInput, PermissionDenied
from workflow.machine import Facts, decide
from workflow.vocab import Event, Role, State

AT = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 10
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00" + b"\x00" * 10


@pytest.mark.parametrize(
    ("head", "media"),
    [
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (PDF, "application/pdf"),
        (WEBP, "image/webp"),
        (HEIC, "image/heic"),
        (b"GIF89a" + b"\x00" * 10, None),
        (b"MZ\x90\x00", None),  # a Windows program
        (b"PK\x03\x04", None),  # a zip (or .docx)
        (b"<html><script>", None),
        (b"", None),
    ],
)
def test_the_type_is_told_from_the_first_bytes(head: bytes, media: str | None) -> None:
    assert sniff(head) == media


def test_the_rules_refuse_with_the_reason() -> None:
    rules = AttachmentRules()
    assert rules.max_bytes == DEFAULT_MAX_BYTES == 10 * 1024 * 1024
    assert rules.check(JPEG, 1000) == "image/jpeg"
    assert rules.check(PDF, DEFAULT_MAX_BYTES) == "application/pdf"  # the limit itself passes
    with pytest.raises(InvalidInput, match="larger than the limit of 10.0 MB"):
        rules.check(JPEG, DEFAULT_MAX_BYTES + 1)
    with pytest.raises(InvalidInput, match="empty"):
        rules.check(b"", 0)
    with pytest.raises(InvalidInput, match="not a photo or PDF.*content was checked"):
        rules.check(b"MZ\x90\x00", 4)
    only_pdf = AttachmentRules(types=frozenset({"application/pdf"}), max_bytes=100)
    with pytest.raises(InvalidInput, match=r"JPEG files are not accepted here \(PDF\)"):
        only_pdf.check(JPEG, 50)
    with pytest.raises(InvalidInput, match="larger than the limit of 100 B"):
        only_pdf.check(PDF, 101)


def test_configured_types_and_limits_are_checked() -> None:
    assert parse_types("jpeg, PDF") == {"image/jpeg", "application/pdf"}
    assert parse_types("image/png jpg") == {"image/png", "image/jpeg"}
    with pytest.raises(InvalidInput, match="unknown attachment type 'exe'"):
        parse_types("pdf exe")
    with pytest.raises(InvalidInput, match="at least one"):
        parse_types(" , ")
    with pytest.raises(InvalidInput, match="size limit"):
        AttachmentRules(max_bytes=0)
    with pytest.raises(InvalidInput, match="attachment types"):
        AttachmentRules(types=frozenset({"text/html"}))


def test_size_labels() -> None:
    assert [size_label(n) for n in (900, 2048, 1_234_567)] == ["900 B", "2.0 KB", "1.2 MB"]


def test_file_names_are_the_last_path_part_composed_and_limited() -> None:
    assert file_name("C:\\Users\\张\\运单.jpg") == "运单.jpg"
    assert file_name("/tmp/../票据.pdf") == "票据.pdf"
    decomposed = unicodedata.normalize("NFD", "é" * FILE_NAME_MAX)
    assert len(decomposed) == 2 * FILE_NAME_MAX
    assert file_name(decomposed) == "é" * FILE_NAME_MAX  # counted after NFC: accepted
    with pytest.raises(ValueError, match="at most 120 characters"):
        file_name("a" * (FILE_NAME_MAX + 1))
    for empty in ("", "  ", "dir/", ".."):
        with pytest.raises(ValueError, match="no name"):
            file_name(empty)
    with pytest.raises(ValueError, match="control characters"):
        file_name("a\x00b.jpg")


def _case(state: State, lead: str | None = "UA", co: tuple[str, ...] = ()) -> Case:
    return make_case(state, lead_unit=lead, co_units=co)


def _attach(sha: str = "ab" * 32) -> Attach:
    command = parse_command(
        Event.ATTACH, {"sha256": sha, "media_type": "image/jpeg", "size": 10, "name": "a.jpg"}
    )
    assert isinstance(command, Attach)
    return command


def test_unit_staff_attach_to_their_units_grievances_only() -> None:
    case = _case(State.HANDLING, lead="UA", co=("UC",))
    for actor in (
        Actor("h", Role.HANDLER, "UA"),
        Actor("c", Role.HANDLER, "UC"),  # a co-handling unit's evidence
        Actor("s", Role.SUPERVISOR, "UA"),
        Actor("boss", Role.SUPERVISOR),  # the bureau
        Actor("desk", Role.DISPATCHER),
        Actor("r", Role.REVIEWER),
    ):
        record = decide("N-1", case, _attach(), actor=actor, at=AT)
        assert record.event is Event.ATTACH and record.to_state is State.HANDLING
        assert evolve(case, record).state is State.HANDLING
    with pytest.raises(PermissionDenied, match="does not concern unit UB"):
        decide("N-1", case, _attach(), actor=Actor("b", Role.HANDLER, "UB"), at=AT)
    with pytest.raises(PermissionDenied, match="only"):
        decide("N-1", case, _attach(), actor=Actor("sys", Role.SYSTEM), at=AT)


def test_the_same_file_twice_on_one_grievance_is_refused() -> None:
    case = _case(State.CLOSED)
    facts = Facts(attached=frozenset({"ab" * 32}))
    desk = Actor("desk", Role.DISPATCHER)
    with pytest.raises(GuardFailed, match="already attached to this grievance"):
        decide("N-1", case, _attach(), actor=desk, at=AT, facts=facts)
    other = decide("N-1", case, _attach("cd" * 32), actor=desk, at=AT, facts=facts)
    assert other.payload["sha256"] == "cd" * 32


def test_a_merged_duplicate_takes_no_evidence() -> None:
    with pytest.raises(IllegalTransition, match="can't attach when merged"):
        decide("N-1", _case(State.MERGED), _attach(), actor=Actor("d", Role.DISPATCHER), at=AT)


def test_attachments_are_read_back_from_the_records() -> None:
    case = _case(State.REVIEWED)
    reviewer = Actor("r", Role.REVIEWER)
    record = decide("N-1", case, _attach(), actor=reviewer, at=AT)
    assert "bytes" not in str(record.payload)
    [attachment] = attachments_of([record])
    assert attachment.short == "ab" * 6
    assert (attachment.kind, attachment.size_text, attachment.name) == ("JPEG", "10 B", "a.jpg")
    assert attachment.actor == reviewer and attachment.at == AT


def test_the_command_refuses_a_bad_hash_type_or_size() -> None:
    good = {"sha256": "ab" * 32, "media_type": "image/jpeg", "size": 10, "name": "a.jpg"}
    for bad in (
        {"sha256": "AB" * 32},
        {"sha256": "ab" * 31},
        {"media_type": "text/html"},
        {"size": 0},
        {"name": "a" * 121},
    ):
        with pytest.raises(InvalidInput):
            parse_command(Event.ATTACH, {**good, **bad})
