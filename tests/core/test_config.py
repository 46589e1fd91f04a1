"""Configuration: file + env + flags, secrets by reference, errors naming file/section/key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from ticketscan.components import ComponentSettings, Sink
from ticketscan.config import load_config
from ticketscan.errors import ConfigError


class TokenSink(Sink):
    name = "token-sink"

    class Settings(ComponentSettings):
        url: str = "http://localhost"
        token: SecretStr
        batch: int = 10

    def _publish(self, findings, context, report):  # type: ignore[no-untyped-def]
        pass


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ticketscan.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(env={})
    assert config.path is None
    assert config.pipeline.scanners == ["auto"]


def test_secret_from_env_reference(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MY_TOKEN", "tok-123456789")
    config = load_config(
        _write(tmp_path, '[sinks.token-sink]\ntoken = { env = "MY_TOKEN" }\n'), env={}
    )
    settings = config.settings_for(TokenSink)
    assert settings.token.get_secret_value() == "tok-123456789"  # type: ignore[attr-defined]


def test_secret_from_file_reference_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("tok-from-file\n")
    config = load_config(
        _write(tmp_path, '[sinks.token-sink]\ntoken = { file = "token.txt" }\n'), env={}
    )
    assert config.settings_for(TokenSink).token.get_secret_value() == "tok-from-file"  # type: ignore[attr-defined]


def test_missing_env_reference_names_the_variable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    config = load_config(
        _write(tmp_path, '[sinks.token-sink]\ntoken = { env = "NOPE_TOKEN" }\n'), env={}
    )
    with pytest.raises(ConfigError, match="NOPE_TOKEN is not set"):
        config.settings_for(TokenSink)


def test_literal_secret_is_refused(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, '[sinks.token-sink]\ntoken = "in-clear"\n'), env={})
    with pytest.raises(ConfigError, match="by reference") as exc:
        config.settings_for(TokenSink)
    assert "in-clear" not in str(exc.value)


def test_validation_error_names_file_section_and_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("T", "x")
    path = _write(tmp_path, '[sinks.token-sink]\ntoken = { env = "T" }\nbatch = "many"\n')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={}).settings_for(TokenSink)
    assert exc.value.file == str(path)
    assert exc.value.section == "sinks.token-sink"
    assert exc.value.key == "batch"


def test_unknown_key_in_a_section_is_an_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("T", "x")
    config = load_config(
        _write(tmp_path, '[sinks.token-sink]\ntoken = { env = "T" }\nbatchh = 3\n'), env={}
    )
    with pytest.raises(ConfigError, match="batchh"):
        config.settings_for(TokenSink)


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown section"):
        load_config(_write(tmp_path, "[pipelines]\n"), env={})


def test_env_overrides_file_and_flags_override_env(tmp_path: Path) -> None:
    path = _write(tmp_path, '[pipeline]\nscanners = ["a"]\n[sinks.jsonl]\npath = "x.jsonl"\n')
    env = {
        "TICKETSCAN__PIPELINE__SCANNERS": '["b", "c"]',
        "TICKETSCAN__SINKS__JSONL__PATH": "y.jsonl",
        "TICKETSCAN__SCANNERS__DETECT_SECRETS__BASE64_LIMIT": "5.0",
    }
    config = load_config(path, env=env)
    assert config.pipeline.scanners == ["b", "c"]
    assert config.section("sink", "jsonl")["path"] == "y.jsonl"
    assert config.section("scanner", "detect-secrets")["base64_limit"] == 5.0
    flagged = load_config(path, env=env, overrides={"scanners": ["d"]})
    assert flagged.pipeline.scanners == ["d"]


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = _write(tmp_path, '[pipeline]\nscanners = ["z"]\n')
    assert load_config(env={"TICKETSCAN_CONFIG": str(path)}).pipeline.scanners == ["z"]


def test_dump_masks_literal_secrets_and_keeps_references(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[sources.jira]\ntoken = { env = "JIRA_TOKEN" }\n'
        '[sinks.webhook]\nsecret = "should-not-print"\nurl = "https://x"\n',
    )
    dumped = load_config(path, env={}).redacted()
    assert dumped["sources"]["jira"]["token"] == {"env": "JIRA_TOKEN"}
    assert dumped["sinks"]["webhook"]["secret"] == "**********"
    assert dumped["sinks"]["webhook"]["url"] == "https://x"


def test_config_show_never_prints_a_resolved_secret(cli, tmp_path: Path) -> None:
    path = _write(tmp_path, '[sources.jira]\ntoken = { env = "JIRA_TOKEN" }\n')
    result = cli(["--config", str(path), "config", "show"], env={"JIRA_TOKEN": "zz-very-secret-zz"})
    assert result.returncode == 0, result.stderr
    assert "JIRA_TOKEN" in result.stdout
    assert "zz-very-secret-zz" not in result.stdout + result.stderr
