"""Configuration: one TOML file, environment variables and flags, validated before any work.

Precedence (last wins): built-in defaults < ``ticketscan.toml`` < ``TICKETSCAN__...`` env vars
< command-line flags. The file is found from ``--config``, else ``$TICKETSCAN_CONFIG``, else
``./ticketscan.toml`` if present.

Layout::

    [pipeline]
    scanners = ["detect-secrets"]
    sinks = ["stdout", "jsonl", "sarif"]

    [sources.jira]
    url = "https://example.atlassian.net"
    token = { env = "JIRA_TOKEN" }          # secrets only by reference: env or file

    [sinks.jsonl]
    path = "findings.jsonl"

    [attachments]                           # limits for archives/office/PDF/mail extraction
    max_total_uncompressed = 2147483648
    max_depth = 5

Env overrides: ``TICKETSCAN__PIPELINE__SCANNERS='["gitleaks"]'``,
``TICKETSCAN__SINKS__JSONL__PATH=out.jsonl`` (sections and names case-insensitive; ``_``
matches ``-`` in component names; values are parsed as JSON when they parse, else strings).

Fields typed ``SecretStr`` in a component's Settings must be given by reference
(``{env = "NAME"}`` or ``{file = "/path"}``); ``ticketscan config show`` prints the references,
never their values.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from .attachments import AttachmentSettings
from .components import Component, ComponentSettings
from .errors import ConfigError
from .kinds import KINDS, Kind

if TYPE_CHECKING:
    from .plugins import Plugins

log = logging.getLogger("ticketscan")

__all__ = [
    "Config",
    "PipelineSettings",
    "load_config",
    "resolve_refs",
]

ENV_PREFIX = "TICKETSCAN__"
SECTION_OF: dict[Kind, str] = {
    "source": "sources",
    "scanner": "scanners",
    "sink": "sinks",
    "transport": "transports",
    "state_store": "state",
}


class PipelineSettings(BaseModel):
    """The ``[pipeline]`` section: what runs by default."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(default="auto", description="Source for events; 'auto' asks each.")
    scanners: list[str] = Field(
        default_factory=lambda: ["auto"],
        description="Scanners to run; 'auto' = the recommended set among those installed "
        "(fastscan + kingfisher, else the first installed of gitleaks, detect-secrets).",
    )
    sinks: list[str] = Field(default_factory=lambda: ["stdout"])
    scanner_timeout: float = Field(default=900.0, gt=0, description="Seconds per scanner.")
    scanner_memory_mb: int = Field(
        default=4096, gt=0, description="Resident-memory cap per scanner process group (MB)."
    )
    allow_partial: bool = False
    fail_on_findings: bool = False
    decode: bool = Field(default=True, description="Give scanners decoded views (entities, ...).")


@dataclass
class Config:
    """Merged configuration. Component sections stay raw until validated on use."""

    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    #: The ``[attachments]`` section: extraction limits for every source's files.
    attachments: AttachmentSettings = field(default_factory=AttachmentSettings)

    def section(self, kind: Kind, name: str) -> dict[str, Any]:
        raw = self.data.get(SECTION_OF[kind], {})
        value = raw.get(name, {}) if isinstance(raw, dict) else {}
        return dict(value) if isinstance(value, dict) else {}

    def settings_for(self, component: type[Component]) -> ComponentSettings:
        """Validate the component's section; errors name file, section and key."""
        section = f"{SECTION_OF[component.kind]}.{component.name}"
        raw = self.section(component.kind, component.name)
        if component.kind == "sink":
            raw.pop("delivery", None)  # routing/batching/retries: see ticketscan.delivery
        _require_refs(component.Settings, raw, self, section)
        resolved = resolve_refs(raw, file=self.path, section=section)
        try:
            return component.Settings.model_validate(resolved)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or None
            raise ConfigError(err["msg"], file=self._file(), section=section, key=key) from None

    def validate_sections(self, plugins: Plugins, *, strict: bool) -> int:
        """Validate every configured section of a component; returns how many were checked.

        A section naming a component that is not installed is an error when ``strict`` (config
        check), else a warning (a run validates what it can before doing any work).
        """
        checked = 0
        for kind, section in SECTION_OF.items():
            for name, value in self.data.get(section, {}).items():
                if not isinstance(value, dict):  # e.g. [state] store = "sqlite"
                    continue
                if not strict and name not in plugins.components[kind]:
                    log.warning(
                        "[%s.%s] configures a %s that is not installed", section, name, kind
                    )
                    continue
                self.settings_for(plugins.get(kind, name))
                checked += 1
        return checked

    def from_env(self, section: str, key: str) -> bool:
        """True if ``section.key`` was set by a ``TICKETSCAN__`` environment variable."""
        return f"{section}.{key}" in self.data.get("__env_keys__", ())

    def _file(self) -> str:
        return str(self.path) if self.path else "<defaults/env>"

    def redacted(self) -> dict[str, Any]:
        """The merged config with every literal secret value masked (refs shown as-is)."""
        masked: dict[str, Any] = _mask({k: v for k, v in self.data.items() if k != "__env_keys__"})
        return masked


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if set(value) <= {"env", "file"} and value:
            return dict(value)
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    lowered = key.lower()
    if isinstance(value, str) and any(
        word in lowered for word in ("token", "secret", "password", "key", "credential")
    ):
        return "**********"
    return value


def _is_secret_annotation(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_secret_annotation(arg) for arg in typing.get_args(annotation))
    if origin is list:
        return any(_is_secret_annotation(arg) for arg in typing.get_args(annotation))
    return False


def _require_refs(
    model: type[BaseModel], raw: Mapping[str, Any], config: Config, section: str
) -> None:
    for name, info in model.model_fields.items():
        if not _is_secret_annotation(info.annotation):
            continue
        value = raw.get(name, raw.get(info.alias or name))
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and not config.from_env(section, name):
                raise ConfigError(
                    "secrets must be given by reference, not in clear",
                    file=config._file(),
                    section=section,
                    key=name,
                    hint=f'write {name} = {{ env = "VAR" }} or {name} = {{ file = "/path" }}',
                )


def resolve_refs(value: Any, *, file: Path | None = None, section: str = "") -> Any:
    """Replace ``{env = NAME}`` and ``{file = PATH}`` with what they point at."""
    if isinstance(value, dict):
        if value and set(value) <= {"env", "file"} and len(value) == 1:
            if "env" in value:
                name = value["env"]
                if name not in os.environ:
                    raise ConfigError(
                        f"environment variable {name} is not set",
                        file=str(file) if file else None,
                        section=section or None,
                        hint=f"export {name}=...",
                    )
                return os.environ[name]
            path = Path(str(value["file"])).expanduser()
            if not path.is_absolute() and file is not None:
                path = file.parent / path
            try:
                return path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read secret file {path}: {exc.strerror}",
                    file=str(file) if file else None,
                    section=section or None,
                ) from None
        return {k: resolve_refs(v, file=file, section=section) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, file=file, section=section) for v in value]
    return value


def _parse_env_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _env_overrides(data: dict[str, Any], env: Mapping[str, str]) -> list[str]:
    keys: list[str] = []
    for name, raw in sorted(env.items()):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        node = data
        for i, part in enumerate(parts[:-1]):
            # match existing keys where '_' stands for '-'
            match = next((k for k in node if k.lower().replace("-", "_") == part), None)
            key = match if match is not None else (part.replace("_", "-") if i == 1 else part)
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
            parts[i] = key
        node[parts[-1]] = _parse_env_value(raw)
        keys.append(".".join(parts))
    return keys


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Load, merge and validate the pipeline section. Component sections validate on use."""
    env = os.environ if env is None else env
    file: Path | None = None
    if path is None and env.get("TICKETSCAN_CONFIG"):
        path = env["TICKETSCAN_CONFIG"]
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {file} does not exist")
    elif Path("ticketscan.toml").is_file():
        file = Path("ticketscan.toml")
    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", file=str(file)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read: {exc}", file=str(file)) from None
    known = {
        "pipeline", "logging", "suppress", "state", "receiver", "worker", "routes", "delivery",
        "attachments",
    }
    known |= set(SECTION_OF.values())
    for section in data:
        if section not in known:
            raise ConfigError(
                "unknown section",
                file=str(file),
                section=section,
                hint="known sections: " + ", ".join(sorted(known)),
            )
    env_keys = _env_overrides(data, env)
    data["__env_keys__"] = env_keys
    for key, value in (overrides or {}).items():
        if value is not None:
            data.setdefault("pipeline", {})[key] = value
    for kind in KINDS:
        section = data.get(SECTION_OF[kind], {})
        if not isinstance(section, dict):
            raise ConfigError("must be a table", file=str(file), section=SECTION_OF[kind])
    try:
        pipeline = PipelineSettings.model_validate(data.get("pipeline", {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            err["msg"],
            file=str(file) if file else "<defaults/env>",
            section="pipeline",
            key=".".join(str(p) for p in err["loc"]) or None,
        ) from None
    try:
        attachments = AttachmentSettings.model_validate(data.get("attachments", {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(
            err["msg"],
            file=str(file) if file else "<defaults/env>",
            section="attachments",
            key=".".join(str(p) for p in err["loc"]) or None,
        ) from None
    return Config(path=file, data=data, pipeline=pipeline, attachments=attachments)
