"""``ticketscan baseline``: record today's findings so later runs report only new ones."""

from __future__ import annotations

from pathlib import Path

import click

from ticketscan import steps
from ticketscan.suppress import write_baseline


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_path", required=True, type=click.Path(path_type=Path),
              help="Baseline file to write (point [suppress] baseline at it).")
@click.option("--update", is_flag=True,
              help="Keep the fingerprints already in OUT and add these (default: replace).")
def baseline(inputs: tuple[Path, ...], out_path: Path, update: bool) -> None:
    """Record the fingerprints of the findings in INPUTS (findings JSONL) into a baseline.

    The baseline holds fingerprints only (no secret, no secret hash). With
    `[suppress] baseline = "FILE"` in ticketscan.toml, scan, merge and run report only
    findings whose fingerprint is not in it.
    """
    findings = steps.merge(list(inputs))
    total = write_baseline(out_path, findings, update=update)
    click.echo(f"{len(findings)} findings recorded; baseline {out_path} holds {total}")
