"""``ticketscan schema``: the JSON Schemas of the models that cross step boundaries."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ticketscan.schema import schemas


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one <Model>.schema.json per model into this folder.",
)
@click.argument("model", required=False)
def schema(out_dir: Path | None, model: str | None) -> None:
    """Print a model's JSON Schema, or write all of them with --out."""
    all_schemas = schemas()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in all_schemas.items():
            (out_dir / f"{name}.schema.json").write_text(
                json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
        click.echo(f"wrote {len(all_schemas)} schemas to {out_dir}")
        return
    if model is None:
        click.echo("\n".join(all_schemas))
        return
    if model not in all_schemas:
        raise click.UsageError(f"unknown model {model!r}; one of: {', '.join(all_schemas)}")
    click.echo(json.dumps(all_schemas[model], indent=2, sort_keys=True))
