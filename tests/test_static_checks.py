"""The tree stays lint-clean (ruff) and type-clean (mypy --strict on core and every plugin)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _tool(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def test_ruff_is_clean(repo_root: Path) -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=repo_root, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_mypy_strict_is_clean(repo_root: Path) -> None:
    result = subprocess.run([_tool("mypy")], cwd=repo_root, capture_output=True, text=True,
                            check=False, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:]
