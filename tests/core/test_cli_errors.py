"""Bad input: one clear line on stderr, the documented exit code, no traceback unless --debug."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

SAMPLE_SECRET_FILE_TEXT = "use AKIA2OGYBAH6STMJ4HJQ for the upload\n"


def _one_clean_line(result, code: int) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors, result.stderr
    return errors[-1]


def _files_event(tmp_path: Path, text: str = SAMPLE_SECRET_FILE_TEXT) -> Path:
    (tmp_path / "ticket").mkdir()
    (tmp_path / "ticket" / "comment.txt").write_text(text)
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"source": "files", "ticket": "T-1", "paths": ["ticket"]}))
    return event


def test_missing_config_file(cli, tmp_path: Path) -> None:
    result = cli(["--config", str(tmp_path / "nope.toml"), "plugins"])
    line = _one_clean_line(result, 2)
    assert "nope.toml does not exist" in line


def test_invalid_toml_names_the_file(cli, tmp_path: Path) -> None:
    config = tmp_path / "ticketscan.toml"
    config.write_text("[pipeline\nscanners = 1\n")
    line = _one_clean_line(
        cli(["--config", str(config), "run", "--sample", "--out", str(tmp_path / "o")]), 2
    )
    assert str(config) in line and "not valid TOML" in line


def test_invalid_key_names_file_section_and_key(cli, tmp_path: Path) -> None:
    config = tmp_path / "ticketscan.toml"
    config.write_text("[scanners.detect-secrets]\nbase64_limit = 'high'\n")
    event = _files_event(tmp_path)
    result = cli(
        ["--config", str(config), "run", "--event", str(event), "--out", str(tmp_path / "o")]
    )
    line = _one_clean_line(result, 2)
    assert "section [scanners.detect-secrets]" in line and "key 'base64_limit'" in line


def test_unknown_pipeline_key(cli, tmp_path: Path) -> None:
    config = tmp_path / "ticketscan.toml"
    config.write_text("[pipeline]\nscaners = ['detect-secrets']\n")
    line = _one_clean_line(cli(["--config", str(config), "config", "show"]), 2)
    assert "section [pipeline]" in line and "scaners" in line


def test_unknown_scanner_lists_installed_ones(cli, tmp_path: Path) -> None:
    event = _files_event(tmp_path)
    result = cli(
        ["run", "--event", str(event), "--scanner", "nosuch", "--out", str(tmp_path / "o")]
    )
    line = _one_clean_line(result, 2)
    assert "unknown scanner 'nosuch'" in line and "detect-secrets" in line


def test_malformed_event_file(cli, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"webhookEvent": "comment_created", ')
    line = _one_clean_line(cli(["fetch", "--event", str(event), "--out", str(tmp_path / "d")]), 2)
    assert "not valid JSON" in line


def test_event_that_is_not_an_object(cli, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("[1, 2]")
    line = _one_clean_line(cli(["fetch", "--event", str(event), "--out", str(tmp_path / "d")]), 2)
    assert "JSON object" in line


def test_files_event_with_bad_field_names_the_field(cli, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"source": "files", "paths": "not-a-list"}))
    line = _one_clean_line(cli(["fetch", "--event", str(event), "--out", str(tmp_path / "d")]), 2)
    assert "paths:" in line


def test_missing_event_file(cli, tmp_path: Path) -> None:
    line = _one_clean_line(
        cli(["fetch", "--event", str(tmp_path / "x.json"), "--out", str(tmp_path)]), 2
    )
    assert "does not exist" in line


def test_directory_that_does_not_exist(cli, tmp_path: Path) -> None:
    result = cli(
        [
            "scan",
            str(tmp_path / "missing"),
            "--scanner",
            "detect-secrets",
            "--out",
            str(tmp_path / "f.jsonl"),
        ]
    )
    line = _one_clean_line(result, 2)
    assert "does not exist" in line


def test_findings_file_with_a_bad_line_names_file_and_line(cli, tmp_path: Path) -> None:
    bad = tmp_path / "f.jsonl"
    bad.write_text('{"nope": 1}\n')
    line = _one_clean_line(cli(["merge", str(bad), "--out", str(tmp_path / "m.jsonl")]), 2)
    assert f"{bad}:1" in line


def test_literal_secret_in_config_is_refused(cli, tmp_path: Path) -> None:
    (tmp_path / "secretsink.py").write_text(
        textwrap.dedent("""
        from pydantic import SecretStr
        from ticketscan import hookimpl, Sink, ComponentSettings
        ticketscan_api_version = ">=1"
        class SecretSink(Sink):
            name = "secret-sink"
            class Settings(ComponentSettings):
                token: SecretStr
            def _publish(self, findings, context, report):
                pass
        @hookimpl
        def register_sinks(register):
            register(SecretSink)
    """)
    )
    config = tmp_path / "ticketscan.toml"
    config.write_text("[sinks.secret-sink]\ntoken = 'hunter2-in-clear'\n")
    env = {"PYTHONPATH": str(tmp_path), "TICKETSCAN_PLUGIN_MODULES": "secretsink"}
    result = cli(["--config", str(config), "config", "check"], env=env)
    line = _one_clean_line(result, 2)
    assert "by reference" in line and "key 'token'" in line
    assert "hunter2-in-clear" not in result.stderr + result.stdout


def _raising_plugin(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "crashplugin.py").write_text(
        textwrap.dedent("""
        from ticketscan import hookimpl, Scanner
        ticketscan_api_version = ">=1"
        class Crash(Scanner):
            name = "crash"
            def _scan(self, batch):
                raise RuntimeError("engine exploded")
        @hookimpl
        def register_scanners(register):
            register(Crash)
    """)
    )
    return {"PYTHONPATH": str(tmp_path), "TICKETSCAN_PLUGIN_MODULES": "crashplugin"}


def test_a_plugin_that_raises_fails_retryably(cli, tmp_path: Path) -> None:
    env = _raising_plugin(tmp_path)
    event = _files_event(tmp_path)
    result = cli(
        ["run", "--event", str(event), "--scanner", "crash", "--out", str(tmp_path / "o")], env=env
    )
    line = _one_clean_line(result, 3)
    assert "crash" in line and "engine exploded" in line


def test_debug_shows_the_traceback(cli, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("[]")
    result = cli(["--debug", "fetch", "--event", str(event), "--out", str(tmp_path / "d")])
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_allow_partial_writes_what_completed(cli, tmp_path: Path) -> None:
    env = _raising_plugin(tmp_path)
    event = _files_event(tmp_path)
    fetch = cli(["fetch", "--event", str(event), "--out", str(tmp_path / "docs")], env=env)
    assert fetch.returncode == 0, fetch.stderr
    out = tmp_path / "f.jsonl"
    result = cli(
        [
            "scan",
            str(tmp_path / "docs"),
            "--scanner",
            "crash",
            "--scanner",
            "detect-secrets",
            "--out",
            str(out),
            "--allow-partial",
        ],
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text().count("\n") == 1
    status = json.loads((tmp_path / "f.jsonl.status.json").read_text())
    assert status["crash"]["ok"] is False and "engine exploded" in status["crash"]["error"]
    assert status["detect-secrets"]["ok"] is True


def test_fail_on_findings_exits_1(cli, tmp_path: Path) -> None:
    event = _files_event(tmp_path)
    result = cli(["run", "--event", str(event), "--out", str(tmp_path / "o"), "--fail-on-findings"])
    assert result.returncode == 1, result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["plugins", "--help"], ["scan", "--help"]])
def test_help_works(cli, argv: list[str]) -> None:
    assert cli(argv).returncode == 0
