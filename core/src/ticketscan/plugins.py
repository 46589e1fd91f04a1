"""Plugin discovery and the component registry.

``make_plugin_manager()`` imports every module named in the ``ticketscan`` entry-point group
(core's built-ins come through the same group), checks its declared plugin API range,
registers it with pluggy and calls the registration hooks. Component classes registered as
``"module:Class"`` strings are imported only when :meth:`Plugins.get` asks for them.

A plugin that fails to import, or does not fit this core, is recorded as a load error: it is
listed by ``ticketscan plugins`` and becomes fatal only when the pipeline uses one of its
components. ``TICKETSCAN_LOAD_PLUGINS=a,b`` loads only those plugin keys (plus core's
built-ins); ``TICKETSCAN_DISABLE_PLUGINS=a,b`` skips those. ``TICKETSCAN_PLUGIN_MODULES=pkg.mod``
loads plugin modules by import path without installing them (for plugin development).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from . import hookspecs
from .kinds import KINDS, Kind

if TYPE_CHECKING:
    from .components import Component, Scanner, Sink, Source, StateStore, Transport
from .errors import PluginLoadError, UsageError

__all__ = [
    "BUILTINS_KEY",
    "ENTRY_POINT_GROUP",
    "PLUGIN_API_VERSION",
    "ComponentSpec",
    "LoadError",
    "PluginInfo",
    "Plugins",
    "make_plugin_manager",
]

ENTRY_POINT_GROUP = "ticketscan"
#: The plugin API this core implements. Plugins declare ``ticketscan_api_version = ">=1,<2"``.
PLUGIN_API_VERSION = "1.0"
BUILTINS_KEY = "builtins"


def _base_of(class_name: str) -> type[Component]:
    from . import components

    cls: type[Component] = getattr(components, class_name)
    return cls


def _base(kind: Kind) -> type[Component]:
    # imported here: listing plugins must not pay for pydantic and the models
    from . import components

    bases: dict[Kind, type[Component]] = {
        "source": components.Source,
        "scanner": components.Scanner,
        "sink": components.Sink,
        "transport": components.Transport,
        "state_store": components.StateStore,
    }
    return bases[kind]


@dataclass
class PluginInfo:
    """One plugin: an entry point and the distribution that ships it."""

    key: str
    module: str
    distribution: str
    version: str

    def label(self) -> str:
        return f"'{self.key}' ({self.distribution} {self.version})"


@dataclass
class LoadError:
    plugin: PluginInfo
    error: str


@dataclass
class ComponentSpec:
    """A registered component: its kind, name and where it comes from, loaded on demand."""

    kind: Kind
    name: str
    target: str | type[Component]
    plugin: PluginInfo
    _cls: type[Component] | None = field(default=None, repr=False)

    @property
    def target_name(self) -> str:
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{self.target.__qualname__}"

    def load(self) -> type[Component]:
        if self._cls is not None:
            return self._cls
        target = self.target
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            try:
                module = importlib.import_module(module_name)
                target = getattr(module, attr)
            except Exception as exc:
                raise PluginLoadError(
                    f"Error loading {self.kind} '{self.name}' from plugin {self.plugin.label()}: "
                    f"{type(exc).__name__}: {exc}",
                    hint=_install_hint(exc, self.plugin),
                ) from exc
        cls = _check_component(self.kind, self.name, target, self.plugin)
        self._cls = cls
        return cls


def _install_hint(exc: Exception, plugin: PluginInfo) -> str | None:
    if isinstance(exc, ModuleNotFoundError):
        return f"reinstall it: pip install --force-reinstall '{plugin.distribution}'"
    return None


def _check_component(kind: Kind, name: str, target: object, plugin: PluginInfo) -> type[Component]:
    base = _base(kind)
    if not (isinstance(target, type) and issubclass(target, base)):
        raise PluginLoadError(
            f"plugin {plugin.label()} registered {target!r} as {kind} '{name}', "
            f"but it is not a subclass of ticketscan.{base.__name__}"
        )
    declared = getattr(target, "name", None)
    if declared != name:
        raise PluginLoadError(
            f"plugin {plugin.label()} registered {kind} '{name}' but the class says "
            f"name = {declared!r}"
        )
    return target


class Plugins:
    """The loaded plugin set: pluggy manager, components by kind and name, load errors."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.infos: dict[str, PluginInfo] = {}
        self.errors: list[LoadError] = []
        self.components: dict[Kind, dict[str, ComponentSpec]] = {kind: {} for kind in KINDS}

    # -- queries -----------------------------------------------------------------------------

    def names(self, kind: Kind) -> list[str]:
        return sorted(self.components[kind])

    def spec(self, kind: Kind, name: str) -> ComponentSpec:
        try:
            return self.components[kind][name]
        except KeyError:
            pass
        broken = [e for e in self.errors if e.plugin.key == name]
        if broken:
            raise PluginLoadError(broken[0].error)
        known = ", ".join(self.names(kind)) or "none installed"
        raise UsageError(f"unknown {kind} '{name}' (installed: {known})")

    def get(self, kind: Kind, name: str) -> type[Component]:
        return self.spec(kind, name).load()

    def source(self, name: str) -> type[Source]:
        cls = self.get("source", name)
        assert issubclass(cls, _base_of("Source"))
        return cast("type[Source]", cls)

    def scanner(self, name: str) -> type[Scanner]:
        cls = self.get("scanner", name)
        assert issubclass(cls, _base_of("Scanner"))
        return cast("type[Scanner]", cls)

    def sink(self, name: str) -> type[Sink]:
        cls = self.get("sink", name)
        assert issubclass(cls, _base_of("Sink"))
        return cast("type[Sink]", cls)

    def transport(self, name: str) -> type[Transport]:
        cls = self.get("transport", name)
        assert issubclass(cls, _base_of("Transport"))
        return cast("type[Transport]", cls)

    def state_store(self, name: str) -> type[StateStore]:
        cls = self.get("state_store", name)
        assert issubclass(cls, _base_of("StateStore"))
        return cast("type[StateStore]", cls)

    def by_plugin(self) -> dict[str, list[ComponentSpec]]:
        out: dict[str, list[ComponentSpec]] = {key: [] for key in self.infos}
        for kind in KINDS:
            for spec in self.components[kind].values():
                out.setdefault(spec.plugin.key, []).append(spec)
        return out

    # -- loading -----------------------------------------------------------------------------

    def add(self, module: ModuleType, info: PluginInfo) -> None:
        """Check and register one plugin module, then collect its components."""
        if info.key in self.infos:
            other = self.infos[info.key]
            raise PluginLoadError(
                f"two plugins use the key '{info.key}': {other.distribution} {other.version} "
                f"and {info.distribution} {info.version}; uninstall one of them"
            )
        _check_api(module, info)
        self.pm.register(module, name=info.key)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError:
            self.pm.unregister(module)
            raise
        self.infos[info.key] = info
        for kind in KINDS:
            hook = getattr(self.pm.hook, f"register_{kind}s")
            for impl in hook.get_hookimpls():
                if impl.plugin is module:
                    impl.function(register=self._registrar(kind, info))

    def _registrar(self, kind: Kind, info: PluginInfo) -> hookspecs.Register:
        def register(component: object, *, name: str | None = None) -> None:
            if isinstance(component, str):
                if not name:
                    raise PluginLoadError(
                        f"plugin {info.label()} registered {kind} {component!r} without name="
                    )
                if ":" not in component:
                    raise PluginLoadError(
                        f"plugin {info.label()} registered {kind} {component!r}: "
                        "expected 'module:Class'"
                    )
                spec = ComponentSpec(kind, name, component, info)
            else:
                declared = getattr(component, "name", None)
                cname = name or declared
                if not isinstance(cname, str):
                    raise PluginLoadError(
                        f"plugin {info.label()} registered a {kind} with no name: {component!r}"
                    )
                cls = _check_component(kind, cname, component, info)
                spec = ComponentSpec(kind, cname, cls, info, _cls=cls)
            existing = self.components[kind].get(spec.name)
            if existing is not None:
                raise PluginLoadError(
                    f"{kind} '{spec.name}' is registered twice: by {existing.plugin.label()} "
                    f"and by {info.label()}; uninstall or disable one "
                    f"(TICKETSCAN_DISABLE_PLUGINS={info.key})"
                )
            self.components[kind][spec.name] = spec

        return register


def _check_api(module: ModuleType, info: PluginInfo) -> None:
    declared = getattr(module, "ticketscan_api_version", None)
    if not isinstance(declared, str):
        raise PluginLoadError(
            f"plugin {info.label()} does not declare ticketscan_api_version "
            f"(this core implements plugin API {PLUGIN_API_VERSION})"
        )
    try:
        spec = SpecifierSet(declared)
    except InvalidSpecifier as exc:
        raise PluginLoadError(
            f"plugin {info.label()} declares an invalid ticketscan_api_version {declared!r}"
        ) from exc
    if Version(PLUGIN_API_VERSION) not in spec:
        raise PluginLoadError(
            f"plugin {info.label()} supports plugin API {declared}, but this ticketscan "
            f"implements {PLUGIN_API_VERSION}; install a version of {info.distribution} "
            f"whose range includes {PLUGIN_API_VERSION}, or a ticketscan whose plugin API fits "
            f"{declared}"
        )


def _env_list(name: str, env: Mapping[str, str]) -> set[str] | None:
    raw = env.get(name)
    if raw is None:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def make_plugin_manager(
    *,
    entry_points: bool = True,
    extra: Iterable[tuple[ModuleType, PluginInfo]] = (),
    env: Mapping[str, str] | None = None,
) -> Plugins:
    """Build a fresh plugin set: entry points (filtered by env) plus ``extra`` modules."""
    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    only = _env_list("TICKETSCAN_LOAD_PLUGINS", env)
    disabled = _env_list("TICKETSCAN_DISABLE_PLUGINS", env) or set()
    if entry_points:
        for ep in sorted(_entry_points(), key=lambda ep: ep.name):
            if ep.name != BUILTINS_KEY:
                if only is not None and ep.name not in only:
                    continue
                if ep.name in disabled:
                    continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                key=ep.name,
                module=ep.value,
                distribution=dist.name if dist is not None else "unknown",
                version=dist.version if dist is not None else "unknown",
            )
            _load_one(plugins, info, ep.load)
    for name in sorted(_env_list("TICKETSCAN_PLUGIN_MODULES", env) or ()):
        info = PluginInfo(
            key=name.rsplit(".", 1)[-1], module=name, distribution="(not installed)", version="dev"
        )
        _load_one(plugins, info, lambda name=name: importlib.import_module(name))
    for module, info in extra:
        _load_one(plugins, info, lambda module=module: module)
    return plugins


def _load_one(plugins: Plugins, info: PluginInfo, loader: Any) -> None:
    try:
        module = loader()
    except Exception as exc:
        plugins.errors.append(
            LoadError(info, f"Error loading plugin {info.label()}: {type(exc).__name__}: {exc}")
        )
        plugins.infos.setdefault(info.key, info)
        return
    try:
        plugins.add(module, info)
    except PluginLoadError as exc:
        if "registered twice" in exc.message or "two plugins use the key" in exc.message:
            raise
        plugins.errors.append(LoadError(info, exc.message))
        plugins.infos.setdefault(info.key, info)
    except pluggy.PluginValidationError as exc:
        plugins.errors.append(
            LoadError(info, f"Error loading plugin {info.label()}: invalid hook: {exc}")
        )
        plugins.infos.setdefault(info.key, info)
