"""``ticketscan plugins``: every installed plugin, its components and load errors."""

from __future__ import annotations

import json

import click

from ticketscan.cli.main import State
from ticketscan.plugins import BUILTINS_KEY, PLUGIN_API_VERSION

pass_state = click.make_pass_decorator(State)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--requirements",
    is_flag=True,
    help="Pins of every plugin distribution (for a derived container image).",
)
@pass_state
def plugins(state: State, as_json: bool, requirements: bool) -> None:
    """List installed plugins: key, distribution, version, kinds, components, load errors."""
    loaded = state.plugins()
    errors = {e.plugin.key: e.error for e in loaded.errors}
    rows = []
    for key, specs in sorted(loaded.by_plugin().items()):
        info = loaded.infos[key]
        rows.append(
            {
                "key": key,
                "distribution": info.distribution,
                "version": info.version,
                "module": info.module,
                "kinds": sorted({s.kind for s in specs}),
                "components": [
                    {"kind": s.kind, "name": s.name, "target": s.target_name} for s in specs
                ],
                "error": errors.get(key),
            }
        )
    if requirements:
        pins = sorted(
            {
                f"{r['distribution']}=={r['version']}"
                for r in rows
                if r["key"] != BUILTINS_KEY and r["distribution"] != "unknown"
            }
        )
        click.echo("\n".join(pins))
        return
    if as_json:
        click.echo(
            json.dumps({"plugin_api_version": PLUGIN_API_VERSION, "plugins": rows}, indent=2)
        )
        return
    click.echo(f"plugin API {PLUGIN_API_VERSION}")
    header = f"{'key':18} {'distribution':28} {'version':10} {'kinds':26} components"
    click.echo(header)
    click.echo("-" * len(header))
    for r in rows:
        comps = ", ".join(f"{c['kind']}:{c['name']}" for c in r["components"]) or "-"
        click.echo(
            f"{r['key']:18} {r['distribution']:28} {r['version']:10} "
            f"{','.join(r['kinds']) or '-':26} {comps}"
        )
        if r["error"]:
            click.echo(f"{'':18} ERROR: {r['error']}")
