"""Logging: JSON lines off a terminal, each carrying the delivery id; registered secrets masked."""

from __future__ import annotations

import json
import logging

from ticketscan.log import configure_logging, delivery_context, register_secret


def test_json_lines_carry_the_delivery_id(capsys) -> None:
    configure_logging("info", json_lines=True)
    with delivery_context("abc-123"):
        logging.getLogger("ticketscan.test").info("fetched %d documents", 3)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["delivery_id"] == "abc-123"
    assert line["msg"] == "fetched 3 documents"
    assert line["level"] == "info"


def test_registered_secrets_are_masked_in_any_line(capsys) -> None:
    configure_logging("info", json_lines=False)
    register_secret("s3cr3t-value-xyz")
    logging.getLogger("ticketscan.test").warning("remote said: bad token s3cr3t-value-xyz")
    err = capsys.readouterr().err
    assert "s3cr3t-value-xyz" not in err
    assert "**********" in err


def test_run_logs_are_json_with_delivery_ids(cli, tmp_path) -> None:
    result = cli(["run", "--sample", "--out", str(tmp_path / "o")])
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all("msg" in line for line in lines)
    assert any(line.get("delivery_id") for line in lines)
