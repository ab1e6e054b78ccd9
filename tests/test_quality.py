"""The repository's own rules: lint, types (mypy strict), import contracts, the docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow.diagram import readme_block

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False, timeout=600)


def test_ruff_lint_and_format() -> None:
    lint = _run(str(BIN / "ruff"), "check", ".")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_mypy_strict() -> None:
    done = _run(str(BIN / "mypy"))
    assert done.returncode == 0, done.stdout + done.stderr


def test_import_contracts() -> None:
    """The layers, the pure domain and no import cycles (`[tool.importlinter]` in pyproject)."""
    done = _run(str(BIN / "lint-imports"), "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_docs_draw_the_current_state_machine() -> None:
    readme = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    assert readme_block() in readme, "regenerate with: .venv/bin/grievance diagram"


def test_docs_map_every_module() -> None:
    readme = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = [
        p
        for pkg in ("workflow", "models", "service", "flows", "cli", "gateway", "templates")
        for p in sorted((ROOT / pkg).glob("*.py"))
        if p.name != "__init__.py"
    ]
    missing = [
        f"{p.parent.name}/{p.name}" for p in modules if f"`{p.parent.name}/{p.name}`" not in readme
    ]
    assert missing == []
