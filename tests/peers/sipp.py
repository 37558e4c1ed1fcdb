"""SIPp (Debian's sip-tester, built without TLS) as a UAS behind a Kamailio TLS listener,
or as a UAC placing one call (over UDP or TCP itself, over TLS through Kamailio).

The scenario files live beside this module. SIPp exits 0 only when its scenario completed,
BYE or CANCEL included: that is how the tests prove from the far side that the call ended.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers.common import free_port, require_binary, stop, tail

SCENARIOS = Path(__file__).parent / "sipp"


@dataclass
class Sipp:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    workdir: Path

    def wait(self, timeout: float = 15.0) -> int:
        """SIPp's exit code once its one call is over (0: the scenario completed)."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(self.process)
            return -1

    def errors(self) -> str:
        found = sorted(self.workdir.glob("*_errors.log")) + sorted(
            self.workdir.glob("*_messages.log")
        )
        parts = [tail(self.log, 40)] + [tail(path, 60) for path in found]
        return "\n".join(parts)

    def stop(self) -> None:
        stop(self.process)


def launch_sipp(
    workdir: Path,
    scenario: Path,
    *,
    port: int,
    remote: str | None = None,
    transport: str = "u1",
    timeout_s: int = 20,
    options: tuple[str, ...] = (),
) -> Sipp:
    """Run SIPp on 127.0.0.1:`port` for exactly one call of `scenario`, logging to
    `workdir`: a UAS without `remote`, a UAC calling `remote` (`host:port`) with it;
    `options` are SIPp's own (e.g. `-s SERVICE`, `-trace_logs`)."""
    binary = require_binary("sipp")
    workdir.mkdir(parents=True, exist_ok=True)
    control = free_port(socket.SOCK_DGRAM)
    log = workdir / "sipp.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                *([remote] if remote is not None else []),
                "-sf",
                str(scenario),
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-ci",
                "127.0.0.1",
                "-cp",
                str(control),
                "-t",
                transport,
                "-m",
                "1",
                "-timeout",
                f"{timeout_s}s",
                "-timeout_error",
                "-nostdin",
                "-trace_err",
                "-trace_msg",
                *options,
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
        )
    return Sipp(port, process, log, workdir)


def start_sipp(
    workdir: Path, scenario: str, *, timeout_s: int = 20, extra: tuple[str, ...] = ()
) -> Sipp:
    """Start a UAS for exactly one call on a free UDP port of 127.0.0.1."""
    return launch_sipp(
        workdir,
        SCENARIOS / scenario,
        port=free_port(socket.SOCK_DGRAM),
        timeout_s=timeout_s,
        options=extra,
    )


def start_sipp_uac(
    workdir: Path,
    scenario: str,
    remote: tuple[str, int],
    *,
    transport: str = "u1",
    service: str = "answer",
    timeout_s: int = 30,
    extra: tuple[str, ...] = (),
) -> Sipp:
    """Place exactly one call to `remote` (`transport`: u1 for UDP, t1 for TCP) from a
    free port of 127.0.0.1, the Request-URI's user being `service`."""
    kind = socket.SOCK_STREAM if transport.startswith("t") else socket.SOCK_DGRAM
    return launch_sipp(
        workdir,
        SCENARIOS / scenario,
        port=free_port(kind),
        remote=f"{remote[0]}:{remote[1]}",
        transport=transport,
        timeout_s=timeout_s,
        options=("-s", service, "-mi", "127.0.0.1", *extra),
    )
