"""Start a real rsyslogd on 127.0.0.1 (UDP, TCP and TLS inputs) writing %rawmsg% to a file."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from siem_tls import TlsFiles, make_tls


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Rsyslog:
    udp_port: int
    tcp_port: int
    tls_port: int
    out: Path
    tls: TlsFiles
    proc: subprocess.Popen[bytes]

    def lines(self) -> list[str]:
        if not self.out.exists():
            return []
        return self.out.read_text(encoding="utf-8", errors="replace").splitlines()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.lines()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"rsyslog wrote {len(self.lines())} lines, expected {count}")

    def reset(self) -> None:
        self.out.write_text("")


CONF = """
global(workDirectory="{work}" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="{ca}"
       DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imtcp" MaxSessions="50")
template(name="raw" type="string" string="%rawmsg%\\n")
ruleset(name="out") {{
  action(type="omfile" file="{out}" template="raw" flushOnTXEnd="on" asyncWriting="off")
}}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="out")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="out")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="out"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
"""


def start_rsyslog(folder: Path) -> Rsyslog:
    binary = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not Path(binary).exists():
        pytest.fail("rsyslogd is not installed: apt-get install -y rsyslog rsyslog-gnutls")
    folder.mkdir(parents=True, exist_ok=True)
    tls = make_tls(folder / "tls")
    work = folder / "work"
    work.mkdir(exist_ok=True)
    out = folder / "received.log"
    out.write_text("")
    udp, tcp, tlsp = _free_port(socket.SOCK_DGRAM), _free_port(), _free_port()
    conf = folder / "rsyslog.conf"
    conf.write_text(
        CONF.format(work=work, ca=tls.ca, cert=tls.cert, key=tls.key, out=out, udp=udp, tcp=tcp,
                    tls=tlsp)
    )
    proc = subprocess.Popen(
        [binary, "-n", "-f", str(conf), "-i", str(folder / "rsyslogd.pid")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"rsyslogd exited: {output}")
        try:
            with socket.create_connection(("127.0.0.1", tcp), timeout=0.2), \
                    socket.create_connection(("127.0.0.1", tlsp), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("rsyslogd did not open its ports")
    return Rsyslog(udp, tcp, tlsp, out, tls, proc)


def stop_rsyslog(server: Rsyslog) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(5)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
