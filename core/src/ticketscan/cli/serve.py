"""``ticketscan serve``, ``ticketscan worker`` and ``ticketscan demo``.

``serve`` with no ``[receiver]`` configuration is the one-machine mode: the receiver on
127.0.0.1, the embedded SQLite queue and a worker process, with the stdout and jsonl sinks, all
state in one folder (``--data``, default ``./ticketscan-data``). ``/hooks/jira`` then accepts
the documented demo secret, so the bundled signed sample can be posted with curl.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path
from typing import Any

import click

from ticketscan.cli.main import State
from ticketscan.errors import ConfigError, UsageError

pass_state = click.make_pass_decorator(State)
log = logging.getLogger("ticketscan.serve")

SAMPLE_BODY = "jira-comment-created.json"
SAMPLE_SIGNATURE = "jira-comment-created.sig"
SAMPLE_DELIVERY_ID = "demo-0001"


def _one_machine_env(data_dir: Path) -> dict[str, str]:
    """Config overrides (TICKETSCAN__ env) of the one-machine mode; the user's env wins."""
    data_dir = data_dir.resolve()
    return {
        "TICKETSCAN__PIPELINE__SINKS": '["stdout", "jsonl"]',
        "TICKETSCAN__SINKS__JSONL__PATH": str(data_dir / "findings.jsonl"),
        "TICKETSCAN__TRANSPORTS__EMBEDDED__PATH": str(data_dir / "queue.db"),
        "TICKETSCAN__WORKER__WORK_DIR": str(data_dir / "work"),
    }


def _apply_env(extra: dict[str, str]) -> None:
    for key, value in extra.items():
        os.environ.setdefault(key, value)


@click.command()
@click.option("--host", default=None, help="Address to listen on (default: [receiver] host).")
@click.option("--port", type=int, default=None,
              help="Port (default: $PORT, else [receiver] port, else 8080).")
@click.option("--transport", "transport_name", default=None,
              help="Transport to publish to (default: [receiver] transport, else embedded).")
@click.option("--workers", type=int, default=None,
              help="Worker processes to run alongside (default: 1 in one-machine mode, else 0).")
@click.option("--data", "data_dir", default="ticketscan-data", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="One-machine mode: folder for the queue, work folders and findings.jsonl.")
@pass_state
def serve(state: State, host: str | None, port: int | None, transport_name: str | None,
          workers: int | None, data_dir: Path) -> None:
    """Run the webhook receiver (and, with no configuration, the whole one-machine mode)."""
    import uvicorn

    from ticketscan.log import register_secret
    from ticketscan.receiver import DEMO_JIRA_SECRET, SourceAuth, create_app, receiver_settings

    config = state.config()
    one_machine = "receiver" not in config.data
    if one_machine:
        data_dir.mkdir(parents=True, exist_ok=True)
        _apply_env(_one_machine_env(data_dir))
        if "scanners" not in config.data.get("pipeline", {}) and (
            "fastscan" in state.plugins().names("scanner")
        ):
            # real time on one worker: fastscan takes ~30 ms for a typical ticket, while an
            # engine started per event (Kingfisher, gitleaks: ~0.5 s each) caps a worker at ~2
            # events/s; [pipeline] scanners adds them back
            _apply_env({"TICKETSCAN__PIPELINE__SCANNERS": '["fastscan"]'})
        state._config = None
        config = state.config()
    settings = receiver_settings(config)
    if one_machine:
        settings.sources.setdefault(
            "jira", SourceAuth.model_validate({"auth": "jira-hmac", "secrets": [DEMO_JIRA_SECRET]})
        )
        log.warning(
            "one-machine mode: no [receiver] configuration; /hooks/jira accepts the documented "
            "DEMO secret and listens on 127.0.0.1 only — configure [receiver] before exposing it"
        )
    for source_name, auth in settings.sources.items():
        if auth.scheme(source_name) != "none" and not auth.secrets:
            raise ConfigError("needs at least one secret", key="secrets",
                              section=f"receiver.sources.{source_name}",
                              hint='secrets = [{ env = "VAR" }]')
        for secret in auth.secrets:
            register_secret(secret.get_secret_value())
    if host is None:
        host = "127.0.0.1" if one_machine else settings.host
    if port is None:
        port = int(os.environ["PORT"]) if os.environ.get("PORT") else settings.port
    if one_machine and host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("the one-machine mode (demo secret) only listens on 127.0.0.1",
                         hint="write a [receiver] section with your own secrets")
    name = transport_name or settings.transport
    plugins = state.plugins()
    transport_cls = plugins.transport(name)
    transport = transport_cls(config.settings_for(transport_cls))
    if workers is None:
        workers = 1 if one_machine else 0
    ready_dir = data_dir.resolve() / "run"
    if workers:
        ready_dir.mkdir(parents=True, exist_ok=True)
    children = [_spawn_worker(state, name, ready_dir / f"worker-{i}.ready")
                for i in range(workers)]

    def workers_ready() -> str | None:
        for i, child in enumerate(children):
            if child.poll() is not None:
                return f"worker {i} exited with code {child.returncode}"
            if not (ready_dir / f"worker-{i}.ready").exists():
                return f"worker {i} is starting"
        return None

    app = create_app(transport, settings, plugins.names("source"),
                     ready_check=workers_ready if children else None)
    server = uvicorn.Server(uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False,
        timeout_graceful_shutdown=30, lifespan="on", server_header=False,
    ))
    click.echo(f"ticketscan receiver on http://{host}:{port}/hooks/{{source}} "
               f"(transport {name}, {workers} worker(s))", err=True)
    # uvicorn re-raises SIGTERM/SIGINT once it has drained; a Python handler makes that a
    # no-op so the workers below are stopped (each finishes its current event) before exit
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run()
    finally:
        _stop_children(children)


def _spawn_worker(state: State, transport: str, ready_file: Path) -> subprocess.Popen[bytes]:
    ready_file.unlink(missing_ok=True)
    args = [sys.executable, "-m", "ticketscan"]
    if state.config_path:
        args += ["--config", state.config_path]
    args += ["--log-level", state.log_level, "worker", "--transport", transport]
    env = {**os.environ, "TICKETSCAN_WORKER_PARENT": str(os.getpid()),
           "TICKETSCAN_WORKER_READY_FILE": str(ready_file)}
    return subprocess.Popen(args, env=env)


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@click.command()
@click.option("--transport", "transport_name", default=None,
              help="Transport to consume (default: [receiver] transport, else embedded).")
@click.option("--scanner", "scanner_names", multiple=True, help="Scanner (repeatable).")
@click.option("--sink", "sink_names", multiple=True, help="Sink (repeatable).")
@click.option("--max-attempts", type=int, default=None, help="Deliveries before dead-letter.")
@click.option("--max-events", type=int, default=None, help="Stop after this many events.")
@click.option("--idle-exit", type=float, default=None,
              help="Stop after this many seconds without an event.")
@pass_state
def worker(state: State, transport_name: str | None, scanner_names: tuple[str, ...],
           sink_names: tuple[str, ...], max_attempts: int | None, max_events: int | None,
           idle_exit: float | None) -> None:
    """Consume events from a transport and run the pipeline for each (ack after success)."""
    from ticketscan.worker import Worker, worker_settings

    config = state.config()
    raw = config.data.get("receiver", {})
    name = transport_name or (raw.get("transport") if isinstance(raw, dict) else None) or "embedded"
    plugins = state.plugins()
    cls = plugins.transport(name)
    transport = cls(config.settings_for(cls))
    runner = Worker(plugins, config, transport, worker_settings(config, max_attempts=max_attempts),
                    scanner_names=scanner_names, sink_names=sink_names)

    def stop(signum: int, frame: Any) -> None:
        log.info("signal %d: finishing the current event, then stopping", signum)
        runner.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    parent = os.environ.get("TICKETSCAN_WORKER_PARENT")
    if parent and parent.isdigit():
        runner.parent_pid = int(parent)  # started by `serve`: stop if it dies
    runner.warm_up()
    ready_file = os.environ.get("TICKETSCAN_WORKER_READY_FILE")
    if ready_file:
        Path(ready_file).touch()
    log.info("worker consuming %s", name)
    try:
        runner.run(max_events=max_events, idle_timeout=idle_exit)
    finally:
        transport.close()


def sample_paths() -> tuple[Path, Path]:
    """The bundled signed sample Jira event and its signature file."""
    base = resources.files("ticketscan") / "samples"
    return Path(str(base / SAMPLE_BODY)), Path(str(base / SAMPLE_SIGNATURE))


def post_sample(port: int, host: str = "127.0.0.1", delivery_id: str = SAMPLE_DELIVERY_ID) -> int:
    body_path, sig_path = sample_paths()
    request = urllib.request.Request(
        f"http://{host}:{port}/hooks/jira", data=body_path.read_bytes(), method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature": sig_path.read_text().strip(),
            "X-Atlassian-Webhook-Identifier": delivery_id,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (127.0.0.1)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UsageError(f"ticketscan serve exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.05)
    raise UsageError("ticketscan serve did not become ready in time")


@click.command()
@click.option("--port", type=int, default=None, help="Port (default: a free one).")
@click.option("--data", "data_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the one-machine state (default: a fresh temporary folder).")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for the finding.")
def demo(port: int | None, data_dir: Path | None, timeout: float) -> None:
    """Start the one-machine mode, post the bundled signed Jira event, show the finding, stop."""
    import socket
    import tempfile

    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="ticketscan-demo-")
        data_dir = Path(tmp.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TICKETSCAN__") and k not in ("TICKETSCAN_CONFIG", "PORT")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ticketscan", "--log-level", "warning", "serve", "--port",
         str(port), "--data", str(data_dir)],
        cwd=data_dir, env=env,
    )
    findings_path = data_dir / "findings.jsonl"
    try:
        _wait_ready(port, proc)
        body_path, sig_path = sample_paths()
        click.echo(f"$ curl -sS -X POST http://127.0.0.1:{port}/hooks/jira \\\n"
                   "    -H 'Content-Type: application/json' \\\n"
                   f"    -H \"X-Hub-Signature: $(cat {sig_path})\" \\\n"
                   f"    --data-binary @{body_path}")
        started = time.monotonic()
        status = post_sample(port)
        click.echo(f"-> HTTP {status}")
        if status != 202:
            raise UsageError(f"the receiver answered {status}, expected 202")
        lines: list[str] = []
        while time.monotonic() - started < timeout:
            if findings_path.is_file():
                lines = [ln for ln in findings_path.read_text().splitlines() if ln.strip()]
                if lines:
                    break
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        if not lines:
            raise UsageError(f"no finding arrived within {timeout:g} s")
        time.sleep(0.2)  # let the stdout sink's table flush before the summary
        click.echo(f"\n{len(lines)} finding(s) in {findings_path} "
                   f"{elapsed * 1000:.0f} ms after the POST:")
        for line in lines:
            f = json.loads(line)
            click.echo(f"  {f['severity']:8} {f['type']:24} {f['redacted']:24} "
                       f"{f['ticket']['key']} {f['location']['path']}:{f['location']['line']}")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if tmp is not None:
            tmp.cleanup()
