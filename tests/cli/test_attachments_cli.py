"""`grievance attach` and `grievance attachments`: stored by hash in the configured folder,
masked output, refusals with one line and nothing written, unit staff their unit's only."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.cli.test_cli import ACCEPT, Cli
from tests.conftest import database_url_for

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
ROAD = ("--role", "handler", "--actor-unit", "ROAD", "--actor", "road-h")
LAW = ("--role", "handler", "--actor-unit", "LAW", "--actor", "law-h")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database_url_for(tmp_path))
    monkeypatch.setenv("GRIEVANCE_ATTACHMENTS_DIR", str(tmp_path / "evidence"))
    monkeypatch.setenv("GRIEVANCE_ATTACHMENT_MAX_MB", "1")
    for name in (
        "GRIEVANCE_ACTOR",
        "GRIEVANCE_ROLE",
        "GRIEVANCE_ACTOR_UNIT",
        "GRIEVANCE_ATTACHMENT_TYPES",
    ):
        monkeypatch.delenv(name, raising=False)
    run = Cli(capsys)
    run("unit", "add", "ROAD", "--name", "市道路运输管理处")
    run("unit", "add", "LAW", "--name", "执法支队")
    return run


def _stored(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "evidence"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_attach_and_list(cli: Cli, tmp_path: Path) -> None:
    number = cli.json(*ACCEPT)["number"]
    cli("assign", number, "--unit", "ROAD", "--at", "2026-11-23T10:00")
    photo = tmp_path / "运单 13812345678.jpg"  # a phone number in a name is masked on output
    photo.write_bytes(JPEG)
    code, out, _ = cli(
        "attach", number, str(photo), "--note", "货物完好", "--at", "2026-11-23T10:05", *ROAD
    )
    sha = hashlib.sha256(JPEG).hexdigest()
    assert f"SHA-256 {sha[:12]}" in out and "13812345678" not in out
    assert _stored(tmp_path) == [tmp_path / "evidence" / sha[:2] / sha]
    [item] = cli.json("attachments", number)
    assert item == {
        "number": number,
        "sha256": sha,
        "media_type": "image/jpeg",
        "size": len(JPEG),
        "name": "运单 138****5678.jpg",
        "note": "货物完好",
        "at": "2026-11-23T10:05:00+08:00",
        "actor": "road-h",
        "role": "handler",
        "unit": "ROAD",
    }
    events = [e["event"] for e in cli.json("show", number)["events"]]
    assert events[-1] == "attach"
    # another unit neither attaches nor lists
    code, _, err = cli("attach", number, str(photo), *LAW, ok=False)
    assert code != 0 and "does not concern unit LAW" in err and "Traceback" not in err
    code, _, err = cli("attachments", number, *LAW, ok=False)
    assert code != 0 and "does not concern unit LAW" in err
    # the same file again: refused, one file still
    code, _, err = cli("attach", number, str(photo), *ROAD, ok=False)
    assert code != 0 and "already attached" in err
    assert len(_stored(tmp_path)) == 1 and len(cli.json("attachments", number)) == 1


def test_refused_files_write_nothing(cli: Cli, tmp_path: Path) -> None:
    number = cli.json(*ACCEPT)["number"]
    fake = tmp_path / "photo.jpg"  # named like a photo, a program inside
    fake.write_bytes(b"MZ\x90\x00" + bytes(64))
    big = tmp_path / "big.pdf"
    big.write_bytes(b"%PDF-1.7\n" + bytes(1024 * 1024))
    for path, reason in ((fake, "not a photo or PDF"), (big, "larger than the limit of 1.0 MB")):
        code, out, err = cli("attach", number, str(path), ok=False)
        assert code != 0 and reason in err and "Traceback" not in err
    assert _stored(tmp_path) == []
    assert cli.json("attachments", number) == []
    assert [e["event"] for e in cli.json("show", number)["events"]] == ["accept"]
