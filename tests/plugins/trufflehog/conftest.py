"""A STAND-IN for the trufflehog binary, which cannot be installed on these machines.

The script below is not trufflehog. It replays the real trufflehog output samples from
../shared/fixtures/scanners/trufflehog (read in place: some are AGPL-3.0): for every sample
result whose secret occurs in a scanned file, it prints that sample line with its
``SourceMetadata`` rewritten to ``Filesystem{file, line}``, the way ``trufflehog filesystem
--json`` reports. It also records its argv, so tests can check the flags ticketscan passes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import stat
import sys
from pathlib import Path

import pytest

STAND_IN = r'''#!{python}
# STAND-IN for trufflehog v3 (not the real binary): replays recorded trufflehog JSON output.
import base64, json, os, sys
SAMPLES = {samples!r}
with open({argv_log!r}, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\n")
if sys.argv[1:] == ["--version"]:
    print("trufflehog {version}")
    sys.exit(0)
if os.environ.get("STANDIN_CRASH"):
    sys.stderr.write("panic: runtime error with token=AKIA2OGYBAH6STMJ4HJQ\n")
    sys.exit(2)
assert sys.argv[1] == "filesystem" and "--json" in sys.argv, sys.argv
root = sys.argv[2]
for dirpath, _, names in os.walk(root):
    for name in sorted(names):
        path = os.path.join(dirpath, name)
        text = open(path, encoding="utf-8", errors="replace").read()
        for sample in SAMPLES:
            for line in open(sample, encoding="utf-8"):
                if not line.strip():
                    continue
                obj = json.loads(line)
                raw = obj["Raw"]
                forms = [raw]
                try:
                    forms.append(base64.b64decode(raw, validate=True).decode())
                except Exception:
                    pass
                for form in forms:
                    pos = text.find(form)
                    if pos >= 0:
                        obj["SourceMetadata"] = {{"Data": {{"Filesystem": {{
                            "file": path, "line": text.count("\n", 0, pos) + 1}}}}}}
                        obj["SourceType"] = 15
                        obj["SourceName"] = "trufflehog - filesystem"
                        print(json.dumps(obj))
                        break
'''


@pytest.fixture(scope="session")
def trufflehog_samples(fixtures_dir: Path) -> list[Path]:
    folder = fixtures_dir / "scanners" / "trufflehog"
    samples = sorted(folder.glob("*.jsonl"))
    assert samples, f"no trufflehog samples in {folder}"
    return samples


def make_stand_in(tmp_path: Path, samples: list[Path], version: str = "3.88.0") -> Path:
    """Write the stand-in executable into tmp_path; its argv log is tmp_path/argv.jsonl."""
    script = tmp_path / "bin" / "trufflehog"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(STAND_IN.format(
        python=sys.executable, samples=[str(s) for s in samples],
        argv_log=str(tmp_path / "argv.jsonl"), version=version,
    ))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def stand_in(tmp_path: Path, trufflehog_samples: list[Path]) -> Path:
    return make_stand_in(tmp_path, trufflehog_samples)


@pytest.fixture
def stand_in_factory(tmp_path: Path, trufflehog_samples: list[Path]):
    """make(version) -> a stand-in reporting that version."""
    return lambda version="3.88.0": make_stand_in(tmp_path, trufflehog_samples, version)


@pytest.fixture(scope="session")
def secrets_by_detector(trufflehog_samples: list[Path]) -> dict[str, str]:
    return sample_secrets(trufflehog_samples)


def sample_secrets(samples: list[Path]) -> dict[str, str]:
    """DetectorName -> the secret in clear from the samples (old base64 Raw decoded)."""
    out: dict[str, str] = {}
    for sample in samples:
        for line in sample.read_text().splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            raw = obj["Raw"]
            with contextlib.suppress(Exception):
                raw = base64.b64decode(raw, validate=True).decode()
            out.setdefault(obj["DetectorName"], raw)
    return out

