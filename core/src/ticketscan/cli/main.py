"""The ``ticketscan`` command: a thin group whose subcommands load only when used.

Exit codes (stable, documented in the README):

* 0 success, with or without findings (``--fail-on-findings`` makes findings exit 1)
* 1 findings found and ``--fail-on-findings`` given
* 2 usage, configuration or input error (fix the input; retrying will not help)
* 3 a plugin or remote system failed (retryable: Argo retries these)
"""

from __future__ import annotations

import importlib
import sys
import traceback
from typing import Any

import click

from ticketscan import __version__

__all__ = ["COMMANDS", "State", "main"]

#: name -> ("module:attr", one-line help). Adding a command is one line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("ticketscan.cli.steps:run", "Fetch, scan, merge and publish one event in one process."),
    "fetch": ("ticketscan.cli.steps:fetch", "Turn a webhook event into a documents directory."),
    "scan": ("ticketscan.cli.steps:scan", "Scan a documents directory with one or more scanners."),
    "merge": ("ticketscan.cli.steps:merge", "Merge findings files into one (and SARIF)."),
    "publish": ("ticketscan.cli.steps:publish", "Deliver findings to sinks."),
    "plugins": ("ticketscan.cli.plugins_cmd:plugins", "List installed plugins and load errors."),
    "schema": (
        "ticketscan.cli.schema_cmd:schema",
        "Print or write the JSON Schemas of the models.",
    ),
    "config": ("ticketscan.cli.config_cmd:config", "Show or check the configuration."),
    "serve": (
        "ticketscan.cli.serve:serve",
        "Run the webhook receiver (no config: one-machine mode).",
    ),
    "worker": ("ticketscan.cli.serve:worker", "Consume events from a transport; run the pipeline."),
    "demo": ("ticketscan.cli.serve:demo", "One-machine mode end to end on a signed sample event."),
    "baseline": (
        "ticketscan.cli.baseline:baseline",
        "Record findings; later runs report new ones only.",
    ),
}


class State:
    """Global options, passed to every subcommand through the click context."""

    def __init__(self, config_path: str | None, debug: bool, log_level: str) -> None:
        self.config_path = config_path
        self.debug = debug
        self.log_level = log_level
        self._plugins: Any = None
        self._config: Any = None

    def config(self, **overrides: Any) -> Any:
        from ticketscan.config import load_config

        if self._config is None or overrides:
            self._config = load_config(self.config_path, overrides=overrides)
        return self._config

    def plugins(self) -> Any:
        from ticketscan.plugins import make_plugin_manager

        if self._plugins is None:
            self._plugins = make_plugin_manager()
        return self._plugins


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target[0].partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ticketscan")
@click.option(
    "--config",
    "config_path",
    envvar="TICKETSCAN_CONFIG",
    type=click.Path(dir_okay=False),
    help="ticketscan.toml to use (default: $TICKETSCAN_CONFIG, else ./ticketscan.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.option(
    "--log-level",
    default="info",
    type=click.Choice(["debug", "info", "warning", "error"]),
    show_default=True,
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool, log_level: str) -> None:
    """Find leaked credentials in support tickets (Jira, Zendesk), in real time.

    Exit codes: 0 ok, 1 findings with --fail-on-findings, 2 usage/config/input error,
    3 a plugin or remote system failed (retryable).
    """
    from ticketscan.log import configure_logging

    configure_logging("debug" if debug else log_level)
    ctx.obj = State(config_path, debug, log_level)
    if config_path is not None and not ctx.resilient_parsing:
        ctx.obj.config()  # a config given explicitly must exist and parse, whatever the command


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning ticketscan errors into one line and an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        code = cli.main(args=argv, prog_name="ticketscan", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        from ticketscan.errors import TicketscanError

        if isinstance(exc, TicketscanError):
            if debug:
                traceback.print_exc()
            click.echo(f"ticketscan: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        if debug:
            raise
        click.echo(
            f"ticketscan: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; run again with --debug for the traceback)",
            err=True,
        )
        sys.exit(70)
    sys.exit(0)
