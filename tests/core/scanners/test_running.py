"""Running scanners: crash, timeout, memory cap and missing engine fail the step (exit 3,
scanner named); --allow-partial writes what completed plus the status file; nothing an engine
prints reaches the output in clear."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

AWS = "AKIA2OGYBAH6STMJ4HJQ"

PLUGIN = textwrap.dedent('''
    import os, subprocess, sys, time
    from ticketscan import hookimpl, Scanner
    from ticketscan.engines import run_engine
    ticketscan_api_version = ">=1"

    class Sleeper(Scanner):
        name = "sleeper"
        def _scan(self, batch):
            # an engine subprocess that hangs: the timeout must kill it too
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            open(os.environ["SLEEPER_PID_FILE"], "w").write(str(child.pid))
            child.wait()
            return []

    class Hog(Scanner):
        name = "hog"
        def _scan(self, batch):
            # resident memory grows past the cap (touch every page)
            blocks = []
            for _ in range(64):
                blocks.append(bytearray(b"x" * (16 * 1024 * 1024)))
                time.sleep(0.01)
            time.sleep(30)
            return []

    class Killed(Scanner):
        name = "killed"
        def _scan(self, batch):
            os.kill(os.getpid(), 9)

    class Leaky(Scanner):
        name = "leaky"
        def _scan(self, batch):
            # an engine that fails and prints the secret it saw on stderr
            code = "import sys; sys.stderr.write('fatal: found secret={aws} in file'); sys.exit(4)"
            run_engine(self.name, [sys.executable, "-c", code], cwd=batch.workdir)
            return []

    @hookimpl
    def register_scanners(register):
        for cls in (Sleeper, Hog, Killed, Leaky):
            register(cls)
''').replace("{aws}", AWS)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "runplugin.py").write_text(PLUGIN)
    return {
        "PYTHONPATH": str(tmp_path),
        "TICKETSCAN_PLUGIN_MODULES": "runplugin",
        "SLEEPER_PID_FILE": str(tmp_path / "sleeper.pid"),
    }


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ticket.txt").write_text(f"please use aws_access_key_id={AWS} for the job\n")
    return folder


def _config(tmp_path: Path, **pipeline: object) -> str:
    lines = ["[pipeline]"] + [f"{k} = {json.dumps(v)}" for k, v in pipeline.items()]
    path = tmp_path / "ticketscan.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _one_error(result) -> str:
    assert result.returncode == 3, (result.returncode, result.stderr)
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert errors, result.stderr
    assert AWS not in result.stderr + result.stdout
    return errors[-1]


def test_a_timeout_kills_the_scanner_and_its_engine(tmp_path, docs, env, cli) -> None:
    config = _config(tmp_path, scanner_timeout=2)
    result = cli(["--config", config, "scan", str(docs), "--scanner", "sleeper",
                  "--out", str(tmp_path / "f.jsonl")], env=env)
    line = _one_error(result)
    assert "sleeper" in line and "timed out after 2 s" in line
    pid = int((tmp_path / "sleeper.pid").read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)  # still there? the group kill must have ended it
            import time

            time.sleep(0.1)


def test_the_memory_cap_kills_a_scanner_over_it(tmp_path, docs, env, cli) -> None:
    config = _config(tmp_path, scanner_memory_mb=300, scanner_timeout=60)
    result = cli(["--config", config, "scan", str(docs), "--scanner", "hog",
                  "--out", str(tmp_path / "f.jsonl")], env=env)
    line = _one_error(result)
    assert "hog" in line and "memory cap of 300 MB" in line


def test_a_scanner_killed_by_a_signal_fails_the_step(tmp_path, docs, env, cli) -> None:
    result = cli(["scan", str(docs), "--scanner", "killed", "--out", str(tmp_path / "f.jsonl")],
                 env=env)
    line = _one_error(result)
    assert "killed" in line and "SIGKILL" in line


def test_engine_stderr_is_redacted_in_the_error(tmp_path, docs, env, cli) -> None:
    result = cli(["scan", str(docs), "--scanner", "leaky", "--out", str(tmp_path / "f.jsonl")],
                 env=env)
    line = _one_error(result)
    assert "leaky" in line and "exited with code 4" in line and "[masked]" in line


def test_a_missing_engine_binary_fails_with_exit_3_naming_it(tmp_path, docs, cli) -> None:
    path = tmp_path / "ticketscan.toml"
    path.write_text('[scanners.gitleaks]\nbinary = "/nonexistent/gitleaks"\n')
    result = cli(["--config", str(path), "scan", str(docs), "--scanner", "gitleaks",
                  "--out", str(tmp_path / "f.jsonl")])
    line = _one_error(result)
    assert "gitleaks" in line and "/nonexistent/gitleaks" in line


def test_allow_partial_writes_completed_engines_and_the_status(
    tmp_path, docs, env, cli
) -> None:
    out = tmp_path / "f.jsonl"
    result = cli(["scan", str(docs), "--scanner", "killed", "--scanner", "gitleaks",
                  "--out", str(out), "--allow-partial"], env=env)
    assert result.returncode == 0, result.stderr
    findings = [json.loads(line) for line in out.read_text().splitlines()]
    assert [f["scanners"] for f in findings] == [["gitleaks"]]
    status = json.loads((tmp_path / "f.jsonl.status.json").read_text())
    assert status["gitleaks"]["ok"] is True and status["gitleaks"]["detections"] == 1
    assert status["killed"]["ok"] is False and "SIGKILL" in status["killed"]["error"]
    assert AWS not in out.read_text() + result.stderr


def test_go_engine_runs_under_the_default_memory_cap(tmp_path, docs, cli) -> None:
    """gitleaks reserves 4 GiB of address space at start; the default cap must not break it."""
    result = cli(["scan", str(docs), "--scanner", "gitleaks", "--out", str(tmp_path / "f.jsonl")])
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "f.jsonl").read_text().count("\n") == 1
