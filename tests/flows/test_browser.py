"""Browser check: the served Prefect UI shows the assign deployment's bilingual run form.

A real Prefect server with its UI (`flows.prefect_server`, as `grievance serve` starts it, on
a free port, `PREFECT_HOME` in the test's temporary folder) and Debian's headless Chromium:
one screenshot of Deployments → assign → Run (saved as `assign-form.png` in the test's
temporary folder) and the rendered DOM, which must hold the form's bilingual field titles.

Needs the Debian packages `chromium` (the browser) and `fonts-noto-cjk` (so the screenshot
shows Chinese, not boxes). Without Chromium the test is skipped, except in CI (`CI=true`),
where it fails: CI installs both.
"""

from __future__ import annotations

import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

TITLES = (
    "分办 Assign",
    "工单编号 Grievance number",
    "主办单位 Lead unit",
    "协办单位 Co-handling units",
    "生效时间 Effective time",
    "版本 Version",
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
    # a still picture: the UI fades its form in, and headless draws on virtual time
    "--run-all-compositor-stages-before-draw",
    "--force-prefers-reduced-motion",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def assign_form_url(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the assign deployment's run form on a served Prefect UI."""
    from flows import actions, prefect_server

    patch = pytest.MonkeyPatch()
    patch.setenv("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    patch.delenv("PREFECT_API_URL", raising=False)  # start our own server, with the UI
    try:
        with prefect_server.prefect_api(port=_free_port(), say=lambda _: None) as api_url:
            deployment = actions.assign.to_deployment(name="assign", tags=["grievance", "action"])
            deployment_id = deployment.apply()
            yield f"{api_url.removesuffix('/api')}/deployments/deployment/{deployment_id}/run"
    finally:
        patch.undo()


def _browse(chromium: str, profile: Path, url: str, *args: str, budget: int) -> str:
    """Run headless Chromium once on `url` with a fresh profile; its stdout."""
    done = subprocess.run(  # noqa: S603 - a fixed browser and flags, a local URL
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget}",
            *args,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_assign_run_form_shows_its_bilingual_fields(
    chromium: str, assign_form_url: str, tmp_path: Path
) -> None:
    missing: list[str] = list(TITLES)
    for attempt, budget in enumerate((30_000, 90_000)):  # a slow machine gets a second go
        dom = _browse(
            chromium,
            tmp_path / f"profile-dom-{attempt}",
            assign_form_url,
            "--dump-dom",
            budget=budget,
        )
        missing = [title for title in TITLES if title not in dom]
        if not missing:
            break
    assert missing == [], f"not in the rendered form: {missing}"
    for asked in ("姓名", "角色 Role", "所属单位", "stamp"):  # who acts is the signed-in person
        assert asked not in dom
    shot = tmp_path / "assign-form.png"
    _browse(
        chromium, tmp_path / "profile-shot", assign_form_url, f"--screenshot={shot}", budget=30_000
    )
    assert shot.is_file() and shot.stat().st_size > 20_000  # a rendered page, not a blank one
    assert _png_size(shot) == (1400, 1800)
