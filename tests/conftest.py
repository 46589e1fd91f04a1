"""Fixtures shared by every test: where the repo and ../shared are, free ports, a CLI runner."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
#: ../shared beside the project root: the fixtures and bench corpus nobody here wrote.
SHARED_DIR = Path(os.environ.get("TICKETSCAN_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED_DIR / "fixtures").is_dir():
        pytest.fail(f"../shared is missing (looked in {SHARED_DIR}); set TICKETSCAN_SHARED_DIR")
    return SHARED_DIR


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


def run_cli(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``ticketscan`` CLI in a fresh process (as an Argo step would)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop(
        "TICKETSCAN_CONFIG", None
    ) if env is None or "TICKETSCAN_CONFIG" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "ticketscan", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def cli():
    return run_cli
