"""The user-facing error tree of ticketscan.

Every error a user can cause or a remote system can raise is one of these. Anything else that
escapes is a bug and shows its traceback under ``--debug``.

::

    TicketscanError                 exit 1 (never raised directly)
    ├── UsageError                  exit 2  bad flags, bad input files, unknown names
    │   ├── ConfigError             exit 2  ticketscan.toml / env / flags (names file, section, key)
    │   ├── EventError              exit 2  a malformed or unsupported event (names the field)
    │   └── InputError              exit 2  a missing directory, an unreadable findings file
    └── PluginError                 exit 3  a plugin or remote system failed (retryable)
        ├── PluginLoadError                 a plugin could not be imported or is incompatible
        ├── ScannerError                    a scanner crashed, timed out or is missing
        ├── SourceError                     a ticketing system refused or failed
        ├── SinkError                       a sink could not deliver
        └── TransportError                  a queue could not publish or consume

Messages name the thing, state the problem and suggest the fix. They never contain a secret.
"""

from __future__ import annotations

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_RETRYABLE",
    "EXIT_USAGE",
    "ConfigError",
    "EventError",
    "InputError",
    "PluginError",
    "PluginLoadError",
    "ScannerError",
    "SinkError",
    "SourceError",
    "TicketscanError",
    "TransportError",
    "UsageError",
]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_RETRYABLE = 3


class TicketscanError(Exception):
    """Base of every error ticketscan reports to a user."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(TicketscanError):
    """The user asked for something that cannot work: fix the input and run again."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A configuration value is missing or invalid."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        section: str | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"section [{section}]" if section else "",
                f"key '{key}'" if key else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.file = file
        self.section = section
        self.key = key


class EventError(UsageError):
    """A webhook event cannot be parsed; ``field`` names what is wrong."""

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None):
        super().__init__(f"{field}: {message}" if field else message, hint=hint)
        self.field = field


class InputError(UsageError):
    """An input file or directory is missing or unreadable."""


class PluginError(TicketscanError):
    """A plugin or the remote system behind it failed; running again may succeed."""

    exit_code = EXIT_RETRYABLE

    def __init__(self, message: str, *, plugin: str | None = None, hint: str | None = None):
        super().__init__(f"{plugin}: {message}" if plugin else message, hint=hint)
        self.plugin = plugin


class PluginLoadError(PluginError):
    """A plugin could not be imported, registered or is incompatible with this core."""


class ScannerError(PluginError):
    """A scanner crashed, timed out, ran out of memory or is not installed."""


class SourceError(PluginError):
    """A ticketing system refused or failed a request."""


class SinkError(PluginError):
    """A sink could not deliver findings."""


class TransportError(PluginError):
    """A transport could not publish or consume an event."""
