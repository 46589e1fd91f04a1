"""fastscan as a ticketscan scanner."""

from __future__ import annotations

import logging
import multiprocessing
import os
import tomllib
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field
from ticketscan.components import ComponentSettings, ScanBatch, ScanInput, Scanner
from ticketscan.errors import ScannerError
from ticketscan.models import RawFinding
from ticketscan.parallel import balanced_shards, file_size

from .engine import Engine, hyperscan_available
from .rules import RuleSet, default_rules, load_rules

__all__ = ["RULE_TYPES", "FastScanner"]

log = logging.getLogger("ticketscan.fastscan")


def _default_rule_types() -> dict[str, str]:
    data = tomllib.loads(
        (resources.files("ticketscan_fastscan") / "data" / "default.toml").read_text("utf-8")
    )
    return {r["id"]: r["type"] for r in data["rules"]}


#: Native rule ids of the default rules -> canonical types (custom rules carry their own).
RULE_TYPES: dict[str, str] = _default_rule_types()


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "ticketscan" / "fastscan"


class FastScanner(Scanner):
    """hyperscan prefilter + full-regex confirmation, rules written for ticket content."""

    name = "fastscan"
    description = (
        "native engine: hyperscan prefilter + regex confirmation, ticket rules, gitleaks TOML "
        "rules (pure-Python fallback without hyperscan)"
    )
    rule_types: ClassVar[dict[str, str]] = RULE_TYPES
    default_confidence: ClassVar[float] = 0.7

    class Settings(ComponentSettings):
        default_rules: bool = Field(default=True, description="Use fastscan's own rules.")
        rules_files: list[str] = Field(
            default_factory=list,
            description="More rule files: fastscan TOML or gitleaks TOML (custom rules and "
            "allowlists work unchanged). Later files override rules with the same id.",
        )
        disabled_rules: list[str] = Field(default_factory=list, description="Rule ids to skip.")
        engine: Literal["auto", "hyperscan", "python"] = Field(
            default="auto",
            description="auto: hyperscan when installed, else the pure-Python path.",
        )
        chunk_size_mb: float = Field(default=4.0, gt=0, description="Chunk size for streaming.")
        overlap_kb: int = Field(default=64, ge=1, description="Overlap between chunks.")
        workers: int = Field(
            default=0,
            ge=0,
            description="Processes scanning documents in parallel (0: one per CPU). Confirming "
            "candidates is Python work, so dense text scales with cores.",
        )
        cache_dir: str | None = Field(
            default=None,
            description="Where compiled hyperscan databases are cached "
            "(default $XDG_CACHE_HOME/ticketscan/fastscan).",
        )

    _engine: Engine | None = None

    def _settings(self) -> FastScanner.Settings:
        assert isinstance(self.settings, FastScanner.Settings)
        return self.settings

    def ruleset(self) -> RuleSet:
        s = self._settings()
        rules = default_rules(compiled=False) if s.default_rules else RuleSet()
        for file in s.rules_files:
            try:
                rules.extend(load_rules(Path(file).expanduser(), compiled=False))
            except ValueError as exc:
                raise ScannerError(str(exc), plugin=self.name) from exc
        if s.disabled_rules:
            off = set(s.disabled_rules)
            rules.rules = [r for r in rules.rules if r.id not in off]
        rules.compile()
        if not rules.rules:
            raise ScannerError("no usable rules", plugin=self.name,
                               hint="check default_rules and rules_files")
        return rules

    def engine(self) -> Engine:
        if self._engine is None:
            s = self._settings()
            if s.engine == "hyperscan" and not hyperscan_available():
                raise ScannerError("hyperscan is not installed", plugin=self.name,
                                   hint="pip install hyperscan, or set engine = \"auto\"")
            use = None if s.engine == "auto" else s.engine == "hyperscan"
            cache = Path(s.cache_dir).expanduser() if s.cache_dir else _cache_dir()
            self._engine = Engine(
                self.ruleset(),
                use_hyperscan=use,
                chunk_size=int(s.chunk_size_mb * 1024 * 1024),
                overlap=s.overlap_kb * 1024,
                cache_dir=cache,
            )
            for problem in self._engine.problems:
                log.warning("fastscan rule skipped or degraded: %s", problem)
            if self._engine.mode == "python":
                log.warning("fastscan: %s; using the pure-Python path (re), much slower",
                            self._engine.fallback_reason)
        return self._engine

    def check(self) -> None:
        """Compile the rules (reporting rules that cannot compile) and say which path runs."""
        self.engine()

    def _scan(self, batch: ScanBatch) -> Iterable[RawFinding]:
        engine = self.engine()
        items = list(batch.inputs)
        workers = self._settings().workers or os.cpu_count() or 1
        if workers > 1 and len(items) > 1:
            sizes = {item.id: file_size(item.path) for item in items}
            if sum(sizes.values()) >= _PARALLEL_MIN_BYTES:
                yield from _parallel(engine, items, sizes, workers)
                return
        for item in items:
            yield from _scan_one(engine, item.id, item.path)


#: Below this much text, forking workers costs more than it saves.
_PARALLEL_MIN_BYTES = 2 * 1024 * 1024
_WORKER_ENGINE: Engine | None = None


def _scan_one(engine: Engine, doc_id: str, path: Path) -> Iterable[RawFinding]:
    for f in engine.scan_file(path, path=path.name):
        yield RawFinding(
            document=doc_id,
            secret=f.secret,
            rule_id=f.rule.id,
            line=f.line,
            column=f.column,
            end_line=f.end_line,
            end_column=f.end_column,
            type=f.rule.type,
            confidence=f.rule.confidence,
        )


def _scan_shard(shard: list[tuple[str, str]]) -> list[RawFinding]:
    assert _WORKER_ENGINE is not None
    return [raw for doc_id, path in shard for raw in _scan_one(_WORKER_ENGINE, doc_id, Path(path))]


def _parallel(
    engine: Engine, items: list[ScanInput], sizes: dict[str, int], workers: int
) -> Iterable[RawFinding]:
    """Scan documents in ``workers`` forked processes sharing the compiled engine.

    Secrets travel from the workers to this process through a pipe only; they are hashed
    and redacted here, as for any scanner. Shards are balanced by size, largest first.
    """
    global _WORKER_ENGINE
    jobs = [(item.id, str(item.path)) for item in items]
    shards = balanced_shards(jobs, [sizes[item.id] for item in items], workers * 4)
    _WORKER_ENGINE = engine
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for found in pool.imap_unordered(_scan_shard, shards):
                yield from found
    finally:
        _WORKER_ENGINE = None
