"""Plugin discovery: registration, lazy loading, load errors, API versions, env switches."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib import metadata

import pytest
from ticketscan import hookimpl
from ticketscan.components import ComponentSettings, Scanner
from ticketscan.errors import PluginLoadError, UsageError
from ticketscan.plugins import PLUGIN_API_VERSION, PluginInfo, make_plugin_manager


class _Dist:
    def __init__(self, name: str, version: str) -> None:
        self.name = name
        self.version = version


def _module(name: str, *, api: str | None = ">=1,<2", **hooks: object) -> types.ModuleType:
    module = types.ModuleType(name)
    if api is not None:
        module.ticketscan_api_version = api  # type: ignore[attr-defined]
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, fn)
    return module


def _info(key: str, dist: str = "ticketscan-test", version: str = "9.9") -> PluginInfo:
    return PluginInfo(key=key, module=f"mod_{key}", distribution=dist, version=version)


class DummyScanner(Scanner):
    name = "dummy"

    class Settings(ComponentSettings):
        level: int = 1

    def _scan(self, batch):  # type: ignore[no-untyped-def]
        return []


def _registers(*components: object):  # type: ignore[no-untyped-def]
    @hookimpl
    def register_scanners(register):  # type: ignore[no-untyped-def]
        for component in components:
            if isinstance(component, tuple):
                register(component[0], name=component[1])
            else:
                register(component)

    return register_scanners


def test_builtins_and_in_repo_plugins_are_registered() -> None:
    plugins = make_plugin_manager()
    assert {"files", "payload"} <= set(plugins.names("source"))
    assert {"jsonl", "sarif", "stdout"} <= set(plugins.names("sink"))
    assert "detect-secrets" in plugins.names("scanner")
    assert plugins.infos["builtins"].distribution == "ticketscan"


def test_discovery_does_not_import_heavy_dependencies() -> None:
    code = (
        "import sys; from ticketscan.plugins import make_plugin_manager; "
        "p = make_plugin_manager(); assert 'detect-secrets' in p.names('scanner'); "
        "heavy = ('detect_secrets', 'ticketscan_detect_secrets.scanner'); "
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_class_component_is_registered_with_its_distribution() -> None:
    plugins = make_plugin_manager(
        entry_points=False,
        extra=[(_module("m1", register_scanners=_registers(DummyScanner)), _info("dummy-plugin"))],
    )
    spec = plugins.spec("scanner", "dummy")
    assert spec.plugin.distribution == "ticketscan-test"
    assert plugins.scanner("dummy") is DummyScanner


def test_duplicate_names_are_an_error_naming_both_distributions() -> None:
    first = (_module("m1", register_scanners=_registers(DummyScanner)), _info("a", "dist-a", "1.0"))
    second = (
        _module("m2", register_scanners=_registers(DummyScanner)),
        _info("b", "dist-b", "2.0"),
    )
    with pytest.raises(PluginLoadError) as exc:
        make_plugin_manager(entry_points=False, extra=[first, second])
    assert "dist-a 1.0" in str(exc.value)
    assert "dist-b 2.0" in str(exc.value)


def test_an_incompatible_plugin_is_refused_saying_which_versions_fit() -> None:
    module = _module("old", api=">=0.1,<1", register_scanners=_registers(DummyScanner))
    plugins = make_plugin_manager(entry_points=False, extra=[(module, _info("old"))])
    assert plugins.names("scanner") == []
    (error,) = plugins.errors
    assert ">=0.1,<1" in error.error
    assert PLUGIN_API_VERSION in error.error


def test_a_plugin_without_an_api_declaration_is_refused() -> None:
    module = _module("noapi", api=None, register_scanners=_registers(DummyScanner))
    plugins = make_plugin_manager(entry_points=False, extra=[(module, _info("noapi"))])
    assert "ticketscan_api_version" in plugins.errors[0].error


def test_a_misspelled_hook_is_reported() -> None:
    @hookimpl
    def register_scaners(register):  # type: ignore[no-untyped-def]
        pass

    module = _module("typo", register_scaners=register_scaners)
    plugins = make_plugin_manager(entry_points=False, extra=[(module, _info("typo"))])
    assert "register_scaners" in plugins.errors[0].error


def test_a_plugin_that_fails_to_import_is_listed_with_its_error(monkeypatch) -> None:
    ep = metadata.EntryPoint(name="broken", value="no_such_module_xyz", group="ticketscan")
    ep = ep._for(_Dist("ticketscan-broken", "0.3.1"))  # type: ignore[attr-defined]
    real = metadata.entry_points(group="ticketscan")
    monkeypatch.setattr("ticketscan.plugins._entry_points", lambda: [*real, ep])
    plugins = make_plugin_manager()
    (error,) = [e for e in plugins.errors if e.plugin.key == "broken"]
    assert "Error loading plugin 'broken' (ticketscan-broken 0.3.1)" in error.error
    assert "No module named 'no_such_module_xyz'" in error.error
    # not fatal for the rest ...
    assert "detect-secrets" in plugins.names("scanner")
    # ... but fatal when the pipeline uses it
    with pytest.raises(PluginLoadError, match=r"ticketscan-broken 0\.3\.1"):
        plugins.get("scanner", "broken")


def test_a_lazy_component_that_fails_to_import_fails_only_when_used() -> None:
    module = _module("lazy", register_scanners=_registers(("nope_mod_abc:Scanner", "lazy")))
    plugins = make_plugin_manager(
        entry_points=False, extra=[(module, _info("lazy", "ts-lazy", "1.2"))]
    )
    assert plugins.names("scanner") == ["lazy"]
    with pytest.raises(PluginLoadError, match=r"'lazy' from plugin 'lazy' \(ts-lazy 1.2\)"):
        plugins.get("scanner", "lazy")


def test_registering_something_that_is_not_a_component_is_refused() -> None:
    module = _module("bad", register_scanners=_registers((object, "bad")))
    plugins = make_plugin_manager(entry_points=False, extra=[(module, _info("bad"))])
    assert "not a subclass of ticketscan.Scanner" in plugins.errors[0].error


def test_unknown_component_names_list_what_is_installed() -> None:
    with pytest.raises(UsageError, match=r"unknown scanner 'nope'.*detect-secrets"):
        make_plugin_manager().get("scanner", "nope")


def test_load_and_disable_switches() -> None:
    only = make_plugin_manager(env={"TICKETSCAN_LOAD_PLUGINS": "none-at-all"})
    assert "detect-secrets" not in only.names("scanner")
    assert "files" in only.names("source")  # built-ins always load
    disabled = make_plugin_manager(env={"TICKETSCAN_DISABLE_PLUGINS": "detect-secrets"})
    assert "detect-secrets" not in disabled.names("scanner")


def test_plugin_modules_load_by_import_path(tmp_path, monkeypatch) -> None:
    (tmp_path / "devplugin.py").write_text(
        "from ticketscan import hookimpl\n"
        "ticketscan_api_version = '>=1'\n"
        "@hookimpl\n"
        "def register_sinks(register):\n"
        "    register('devplugin_impl:DevSink', name='dev-sink')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = make_plugin_manager(env={"TICKETSCAN_PLUGIN_MODULES": "devplugin"})
    assert plugins.spec("sink", "dev-sink").plugin.distribution == "(not installed)"
