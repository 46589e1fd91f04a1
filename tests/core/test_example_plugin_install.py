"""The example third-party plugin installs on its own into a fresh environment and shows up.

This is what a plugin author does: build core and the plugin from source into a new virtual
environment (no workspace), then run `ticketscan plugins`. uv resolves against the versions
already in the workspace venv (as constraints), so the run is quick and repeatable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_example_plugin_installs_alone_and_is_listed(repo_root: Path, tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed (scripts/setup installs it)")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    frozen = subprocess.run(
        [uv, "pip", "freeze", "--python", sys.executable, "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(
        "\n".join(line for line in frozen.splitlines() if not line.startswith(("-e", "ticketscan")))
    )
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", str(venv), "--python", sys.executable], check=True, env=env)
    python = venv / "bin" / "python"
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "-c",
            str(constraints),
            str(repo_root / "core"),
            str(repo_root / "examples" / "ticketscan-example"),
        ],
        check=True,
        env=env,
        timeout=600,
    )
    out = subprocess.run(
        [str(venv / "bin" / "ticketscan"), "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    plugins = {p["key"]: p for p in json.loads(out.stdout)["plugins"]}
    assert set(plugins) == {"builtins", "example"}
    assert plugins["example"]["distribution"] == "ticketscan-example"
    assert plugins["example"]["error"] is None
    requirements = subprocess.run(
        [str(venv / "bin" / "ticketscan"), "plugins", "--requirements"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert "ticketscan-example==0.1.0" in requirements
