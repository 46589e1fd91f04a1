"""``ticketscan config``: show the merged configuration (secrets masked) or check it."""

from __future__ import annotations

import json

import click

from ticketscan.cli.main import State
from ticketscan.steps import resolve_scanners

pass_state = click.make_pass_decorator(State)


@click.group()
def config() -> None:
    """Show or check the configuration."""


@config.command()
@pass_state
def show(state: State) -> None:
    """Print the merged configuration; secrets show as references or **********."""
    cfg = state.config()
    data = cfg.redacted()
    data["pipeline"] = cfg.pipeline.model_dump()
    click.echo(f"# file: {cfg.path or '(none: defaults and environment)'}")
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@config.command()
@pass_state
def check(state: State) -> None:
    """Validate every configured component's section against its Settings model."""
    cfg = state.config()
    plugins = state.plugins()
    checked = cfg.validate_sections(plugins, strict=True)  # an unknown name is an error
    for name in resolve_scanners(plugins, cfg.pipeline.scanners):
        cfg.settings_for(plugins.get("scanner", name))
    for name in cfg.pipeline.sinks:
        cfg.settings_for(plugins.get("sink", name))
    from ticketscan.delivery import delivery_settings, state_store_for

    for name in set(cfg.pipeline.sinks) | set(cfg.data.get("sinks", {})):
        delivery_settings(cfg, name)
    store = state_store_for(plugins, cfg)
    if store is not None:
        store.close()
    click.echo(f"configuration ok ({checked} component sections)")
