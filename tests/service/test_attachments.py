"""Evidence attachments through the service layer (service/attachments.py): stored by content
hash before the event commits, refusals write nothing, the same bytes are one file."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from models import audit_log
from service import attachments as att
from service.engine import Engine
from tests.conftest import DESK, HANDLER, HANDLER_B, REVIEWER, Driver
from workflow.attachments import AttachmentRules
from workflow.errors import GuardFailed, IllegalTransition, InvalidInput, PermissionDenied
from workflow.vocab import Event

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 20 + b"%%EOF\n"


def _config(tmp_path: Path, **rules: object) -> att.AttachmentConfig:
    return att.AttachmentConfig(tmp_path / "store", AttachmentRules(**rules))  # type: ignore[arg-type]


def _files(config: att.AttachmentConfig) -> list[Path]:
    if not config.directory.exists():
        return []
    return sorted(p for p in config.directory.rglob("*") if p.is_file())


def _events(engine: Engine, number: str) -> list[Event]:
    with engine.db.read() as session:
        return [e.event for e in audit_log.events_of(session, number)]


def test_an_attachment_is_stored_by_hash_and_audited(driver: Driver, tmp_path: Path) -> None:
    config = _config(tmp_path)
    case = driver.to("handling")
    got = att.attach(
        driver.engine,
        case.number,
        driver.stamp(HANDLER),
        data=io.BytesIO(JPEG),
        name="C:\\相册\\运单照片.jpg",
        note="货物完好",
        config=config,
    )
    sha = hashlib.sha256(JPEG).hexdigest()
    assert (got.sha256, got.media_type, got.size, got.name) == (
        sha,
        "image/jpeg",
        len(JPEG),
        "运单照片.jpg",
    )
    assert got.actor == HANDLER and got.note == "货物完好"
    assert _files(config) == [tmp_path / "store" / sha[:2] / sha]
    assert (tmp_path / "store" / sha[:2] / sha).read_bytes() == JPEG
    with driver.engine.db.read() as session:
        last = audit_log.events_of(session, case.number)[-1]
    assert last.event is Event.ATTACH and last.to_state.value == "handling"
    assert last.payload == {
        "sha256": sha,
        "media_type": "image/jpeg",
        "size": len(JPEG),
        "name": "运单照片.jpg",
        "note": "货物完好",
    }
    assert att.list_attachments(driver.engine, case.number, HANDLER) == [got]
    assert att.list_attachments(driver.engine, case.number, DESK) == [got]
    with pytest.raises(PermissionDenied):
        att.list_attachments(driver.engine, case.number, HANDLER_B)
    found, path = att.open_attachment(driver.engine, case.number, sha, DESK, config=config)
    assert found == got and path.read_bytes() == JPEG


@pytest.mark.parametrize(
    ("data", "actor", "rules", "error", "message"),
    [
        (b"MZ\x90\x00" + bytes(100), HANDLER, {}, InvalidInput, "not a photo or PDF"),
        (b"GIF89a" + bytes(100), HANDLER, {}, InvalidInput, "not a photo or PDF"),
        (JPEG, HANDLER, {"max_bytes": 100}, InvalidInput, "larger than the limit"),
        (JPEG, HANDLER, {"types": frozenset({"application/pdf"})}, InvalidInput, "JPEG files"),
        (b"", HANDLER, {}, InvalidInput, "empty"),
        (JPEG, HANDLER_B, {}, PermissionDenied, "does not concern unit UB"),
    ],
)
def test_a_refusal_writes_nothing(
    driver: Driver,
    tmp_path: Path,
    data: bytes,
    actor: object,
    rules: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    config = _config(tmp_path, **rules)
    case = driver.to("handling")
    before = _events(driver.engine, case.number)
    with pytest.raises(error, match=message):
        att.attach(
            driver.engine,
            case.number,
            driver.stamp(actor),  # type: ignore[arg-type]
            data=io.BytesIO(data),
            name="x.jpg",
            config=config,
        )
    assert _files(config) == []  # no file, not even a temporary one
    assert _events(driver.engine, case.number) == before  # no event, no row changed
    assert att.list_attachments(driver.engine, case.number, DESK) == []


def test_a_merged_duplicate_is_refused_with_nothing_written(driver: Driver, tmp_path: Path) -> None:
    from service import cases as uc

    config = _config(tmp_path)
    target = driver.to("handling")
    dup = driver.accept()
    uc.merge(driver.engine, dup.number, driver.stamp(DESK), into=target.number, reason="同一运单")
    with pytest.raises(IllegalTransition, match="can't attach when merged"):
        att.attach(
            driver.engine, dup.number, driver.stamp(DESK), data=PDF, name="a.pdf", config=config
        )
    assert _files(config) == []


def test_the_same_bytes_are_one_file(driver: Driver, tmp_path: Path) -> None:
    """Twice on one grievance: refused (one event per piece of evidence). On another
    grievance: a second event, still one file."""
    config = _config(tmp_path)
    first = driver.to("closed")
    second = driver.to("handling")
    att.attach(
        driver.engine, first.number, driver.stamp(DESK), data=PDF, name="运单.pdf", config=config
    )
    before = _events(driver.engine, first.number)
    with pytest.raises(GuardFailed, match="already attached to this grievance"):
        att.attach(
            driver.engine,
            first.number,
            driver.stamp(HANDLER),
            data=PDF,
            name="again.pdf",
            config=config,
        )
    assert _events(driver.engine, first.number) == before
    att.attach(
        driver.engine,
        second.number,
        driver.stamp(HANDLER),
        data=PDF,
        name="同一运单.pdf",
        config=config,
    )
    sha = hashlib.sha256(PDF).hexdigest()
    assert _files(config) == [config.path_of(sha)]
    assert [a.name for a in att.list_attachments(driver.engine, second.number, DESK)] == [
        "同一运单.pdf"
    ]
    checked, problems = att.check_files(driver.engine, config=config)
    assert (checked, problems) == (1, [])


def test_a_reviewed_grievance_takes_the_reviewers_evidence(driver: Driver, tmp_path: Path) -> None:
    config = _config(tmp_path)
    case = driver.to("reviewed")
    att.attach(
        driver.engine, case.number, driver.stamp(REVIEWER), data=JPEG, name="a.jpg", config=config
    )
    assert _events(driver.engine, case.number)[-1] is Event.ATTACH


def test_a_long_upload_is_not_read_whole(tmp_path: Path) -> None:
    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            size = att.CHUNK if size < 0 else size
            self.served += size
            return b"\xff" * size

    stream = Endless()
    with pytest.raises(InvalidInput, match="larger than the limit of 1.0 MB"):
        att.read_limited(stream, AttachmentRules(max_bytes=1024 * 1024))  # type: ignore[arg-type]
    assert stream.served <= 1024 * 1024 + att.CHUNK


def test_a_failed_write_leaves_no_event(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    case = driver.to("handling")
    before = _events(driver.engine, case.number)

    def disk_full(*args: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(att, "store", disk_full)
    with pytest.raises(OSError, match="No space"):
        att.attach(
            driver.engine,
            case.number,
            driver.stamp(HANDLER),
            data=JPEG,
            name="a.jpg",
            config=config,
        )
    assert _events(driver.engine, case.number) == before


def test_missing_or_altered_files_are_found(
    driver: Driver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check_files` and `grievance audit verify` (service.audit): each file named by an
    event must be in the store and hash to its name."""
    from service import audit

    monkeypatch.setenv(att.ENV_DIR, str(tmp_path / "store"))
    config = _config(tmp_path)
    case = driver.to("handling")
    for data, name in ((JPEG, "a.jpg"), (PDF, "b.pdf")):
        att.attach(
            driver.engine, case.number, driver.stamp(HANDLER), data=data, name=name, config=config
        )
    clean = audit.verify(driver.engine, driver.now, record=False)
    assert clean.ok, clean.findings
    jpeg = config.path_of(hashlib.sha256(JPEG).hexdigest())
    pdf = config.path_of(hashlib.sha256(PDF).hexdigest())
    jpeg.unlink()
    pdf.chmod(0o644)
    pdf.write_bytes(PDF + b"tampered")
    checked, problems = att.check_files(driver.engine, config=config)
    assert checked == 2
    assert sorted((p.number, p.sha256, p.kind) for p in problems) == sorted(
        [
            (case.number, jpeg.name, "missing"),
            (case.number, pdf.name, "altered"),
        ]
    )
    found = audit.verify(driver.engine, driver.now, record=False)
    assert sorted((f.number, f.kind, f.detail) for f in found.findings) == sorted(
        [
            (case.number, "attachment", f"event 4: 'a.jpg' ({jpeg.name[:12]}): file missing"),
            (case.number, "attachment", f"event 5: 'b.pdf' ({pdf.name[:12]}): file altered"),
        ]
    )


def test_the_folder_and_limits_come_from_the_environment(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(att.ENV_DIR, raising=False)
    default = att.AttachmentConfig.from_env(engine)
    if engine.db.is_sqlite:
        assert default.directory == (tmp_path / "attachments").resolve()
    assert default.rules == AttachmentRules()
    monkeypatch.setenv(att.ENV_DIR, str(tmp_path / "evidence"))
    monkeypatch.setenv(att.ENV_MAX_MB, "2")
    monkeypatch.setenv(att.ENV_TYPES, "pdf")
    config = att.AttachmentConfig.from_env(engine)
    assert config.directory == tmp_path / "evidence"
    assert config.rules == AttachmentRules(frozenset({"application/pdf"}), 2 * 1024 * 1024)
    for name, value in ((att.ENV_MAX_MB, "1e3"), (att.ENV_MAX_MB, "0"), (att.ENV_DIR, " ")):
        monkeypatch.setenv(name, value)
        with pytest.raises(InvalidInput):
            att.AttachmentConfig.from_env(engine)
        monkeypatch.setenv(att.ENV_MAX_MB, "2")
        monkeypatch.setenv(att.ENV_DIR, str(tmp_path))


def test_an_attachment_does_not_make_a_form_stale(driver: Driver, tmp_path: Path) -> None:
    """Evidence attached while the lead unit fills in its form changes nothing the form
    decides on: the form's version still holds (a person's action would be a conflict)."""
    from service import cases as uc
    from workflow.errors import Conflict

    config = _config(tmp_path)
    case = driver.to("handling")
    seen = len(_events(driver.engine, case.number))
    att.attach(
        driver.engine, case.number, driver.stamp(DESK), data=PDF, name="a.pdf", config=config
    )
    uc.feedback(
        driver.engine, case.number, driver.stamp(HANDLER), note="进展", expected_version=seen
    )
    with pytest.raises(Conflict):
        uc.feedback(
            driver.engine, case.number, driver.stamp(HANDLER), note="再次", expected_version=seen
        )
