"""`grievance partner add|list|rotate|disable`: the key and the callback secret printed once,
only a hash and a ciphertext stored, rotation with a grace period, disabling, one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from models.access_tables import SecurityEvent
from models.partner_tables import Partner, PartnerKey
from service import partners
from service.engine import Engine
from tests.conftest import database_url_for
from tests.conftest import run_cli as run
from workflow.errors import InvalidInput


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    database = database_url_for(tmp_path)
    monkeypatch.setenv("GRIEVANCE_DATABASE_URL", database)
    monkeypatch.setenv("GRIEVANCE_ACTOR", "运维")
    return database


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_add_prints_the_key_and_secret_once_and_stores_neither(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    added = _json(
        capsys,
        "partner",
        "add",
        "hll",
        "--name",
        "货拉拉",
        "--channel",
        "platform",
        "--callback-url",
        "https://partner.example.com/cb?token=abc",
    )
    assert set(added) == {"code", "key", "webhook_secret"} and added["code"] == "HLL"
    assert added["key"].startswith("gpk_") and added["webhook_secret"].startswith("whsec_")
    engine = Engine.open(url)
    try:
        with engine.db.read() as session:
            partner = session.exec(select(Partner)).one()
            key = session.exec(select(PartnerKey)).one()
        assert key.key_hash == partners.key_hash(added["key"]) != added["key"]
        assert added["webhook_secret"] not in partner.webhook_secret
        assert partners.unseal(partner.webhook_secret) == added["webhook_secret"]
        now = datetime.now(UTC)
        assert partners.authenticate(engine, added["key"], now) is not None
        listed = _json(capsys, "partner", "list")
        assert listed[0]["callback"] == "https://partner.example.com/…"  # no token shown
        assert "key" not in json.dumps(listed).replace('"keys"', "")
        rotated = _json(capsys, "partner", "rotate", "HLL")
        assert set(rotated) == {"code", "key", "old_keys_valid_hours"}
        later = now + timedelta(hours=25)
        assert partners.authenticate(engine, added["key"], now) is not None
        assert partners.authenticate(engine, added["key"], later) is None
        assert partners.authenticate(engine, rotated["key"], later) is not None
        assert _json(capsys, "partner", "disable", "HLL")["enabled"] is False
        assert partners.authenticate(engine, rotated["key"], now) is None
        assert _json(capsys, "partner", "list")[0]["enabled"] is False
        with engine.db.read() as session:
            kinds = [e.kind for e in session.exec(select(SecurityEvent)).all()]
        assert kinds == ["partner_added", "partner_rotated", "partner_disabled"]
    finally:
        engine.db.dispose()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("BAD CODE", "--name", "x", "--channel", "platform"), "partner code"),
        (("OK", "--name", "x", "--channel", "platform", "--callback-url", "ftp://x"), "http"),
        (("OK", "--name", " ", "--channel", "platform"), "partner name"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    url: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, "partner", "add", *args)
    assert code != 0 and message in err and "Traceback" not in err
    assert _json(capsys, "partner", "list") == []


def test_duplicate_unknown_and_missing_key(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    add = ("partner", "add", "P1", "--name", "x", "--channel", "mini_program")
    assert run(capsys, *add)[0] == 0
    code, _, err = run(capsys, *add)
    assert code != 0 and "exists already" in err
    code, _, err = run(capsys, "partner", "rotate", "NOPE")
    assert code != 0 and "no partner" in err
    monkeypatch.setenv("GRIEVANCE_PARTNER_KEY", "short")
    code, _, err = run(capsys, "partner", "add", "P2", "--name", "x", "--channel", "platform")
    assert code != 0 and "GRIEVANCE_PARTNER_KEY" in err


def test_without_the_variable_the_key_file_is_made_once_and_shared(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "partner.key"
    monkeypatch.delenv("GRIEVANCE_PARTNER_KEY")
    monkeypatch.setenv("GRIEVANCE_PARTNER_KEY_FILE", str(key_file))
    with pytest.raises(InvalidInput, match="does not exist"):
        partners.unseal("gAAAA")  # no key to read a sealed secret with
    assert not key_file.exists()
    sealed = partners.seal("whsec_abc")  # the first secret sealed makes the file
    assert key_file.exists() and key_file.stat().st_mode & 0o777 == 0o600
    text = key_file.read_text()
    assert partners.unseal(sealed) == "whsec_abc"
    partners.seal("whsec_def")
    assert key_file.read_text() == text  # made once, then only read
    monkeypatch.setenv("GRIEVANCE_PARTNER_KEY", "another-key-entirely-0123456789")
    with pytest.raises(InvalidInput, match="changed"):
        partners.unseal(sealed)
