"""baresip, a real SIP phone: TLS transport, mandatory SRTP, auto-answer, a sine tone as
its microphone. It sends real SRTP to the address our offer names (always 127.0.0.1 here).

Quirks (research/peers.md): `net_interface lo` fails, so it is given an explicit loopback
`sip_listen`; it listens for TLS on that port + 1; the `ausine` source needs 48 kHz stereo
and `aubridge` serves as a null player, or the call never gets past 180.

With `control`, its ctrl_tcp module listens on a loopback port for netstring-framed JSON
commands (`{"command": "dial", "params": "sip:...", "token": "..."}`, `hangup`) and
reports call events (`CALL_ESTABLISHED`, `CALL_CLOSED`...): a real caller for tests.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.peers.common import free_port, require_binary, stop, tail, wait_for_tcp

CONFIG = """poll_method		epoll
sip_listen		{host}:{port}
sip_certificate		{certificate}
sip_cafile		{ca}
sip_transports		udp,tcp,tls
audio_player		aubridge,nil
audio_source		ausine,440
ausrc_srate		48000
ausrc_channels		2
module_path		/usr/lib/baresip/modules
module			g711.so
module			ausine.so
module			aubridge.so
module			srtp.so
module			dtls_srtp.so
module_app		account.so
module_app		menu.so
{net_interface}{control}"""
_CONTROL = "module_app		ctrl_tcp.so\nctrl_tcp_listen		127.0.0.1:{port}\n"
ACCOUNT = "<sip:bob@{host}>;answermode={answermode};mediaenc={mediaenc};regint=0{extra}\n"


@dataclass
class Baresip:
    host: str
    tls_port: int
    process: subprocess.Popen[bytes]
    log: Path
    control_port: int | None = None

    def stop(self) -> None:
        stop(self.process)

    def dial(self, uri: str) -> Control:
        """Make it call `uri`; the open control connection reports the call's events."""
        if self.control_port is None:
            raise RuntimeError("this baresip was started without its ctrl_tcp module")
        control = Control(self.control_port)
        try:
            control.send("dial", uri)
        except BaseException:
            control.close()
            raise
        return control


class Control:
    """ctrl_tcp's netstrings (`length:json,`) over one connection."""

    def __init__(self, port: int) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""
        self.events: list[dict[str, object]] = []

    def send(self, command: str, params: str = "") -> None:
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self.socket.sendall(str(len(body)).encode() + b":" + body + b",")

    def wait_for(self, event: str, deadline: float) -> dict[str, object]:
        """The first event of type `event` (already seen or arriving before `deadline`)."""
        while time.monotonic() < deadline:
            for seen in self.events:
                if seen.get("type") == event:
                    return seen
            self.socket.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                data = self.socket.recv(65536)
            except TimeoutError:
                break
            if not data:
                break
            self.buffer += data
            self._split()
        for seen in self.events:
            if seen.get("type") == event:
                return seen
        raise RuntimeError(f"baresip never reported {event}; it reported {self.events}")

    def _split(self) -> None:
        while b":" in self.buffer:
            length, _, rest = self.buffer.partition(b":")
            size = int(length)
            if len(rest) < size + 1:
                return
            self.events.append(json.loads(rest[:size]))
            self.buffer = rest[size + 1 :]

    def close(self) -> None:
        self.socket.close()


def _free_pair(host: str) -> int:
    """A port p with p (UDP and TCP) and p + 1 (TCP, TLS) free."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        if port >= 65535:
            continue
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tls,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            ):
                tls.bind((host, port + 1))
                udp.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for baresip")


def start_baresip(
    workdir: Path,
    chain: Path,
    key: Path,
    ca: Path,
    host: str = "127.0.0.1",
    *,
    answermode: str = "auto",
    account_params: str = "",
    sip_trace: bool = False,
    mediaenc: str = "srtp-mand",
    control: bool = False,
    net_interface: str | None = None,
) -> Baresip:
    """`answermode` manual leaves calls ringing; `account_params` are added to the account
    line (e.g. `;ptime=60`); `sip_trace` logs every SIP message it sends and receives;
    `mediaenc` chooses the media encryption (`srtp-mand`: SDES keys required;
    `dtls_srtp`: DTLS-SRTP, RFC 5763/5764, from the dtls_srtp module); `control` loads
    ctrl_tcp on a free loopback port (`Baresip.dial`); `net_interface` (an address) is the
    one its SDP names, so that a caller's media stays on loopback."""
    binary = require_binary("baresip")
    workdir.mkdir(parents=True, exist_ok=True)
    certificate = workdir / "cert.pem"  # baresip wants the chain and the key in one file
    certificate.write_bytes(chain.read_bytes() + key.read_bytes())
    certificate.chmod(0o600)
    port = _free_pair(host)
    control_port = free_port() if control else None
    (workdir / "config").write_text(
        CONFIG.format(
            host=host,
            port=port,
            certificate=certificate,
            ca=ca,
            control=_CONTROL.format(port=control_port) if control_port else "",
            net_interface=f"net_interface\t\t{net_interface}\n" if net_interface else "",
        )
    )
    (workdir / "accounts").write_text(
        ACCOUNT.format(host=host, answermode=answermode, mediaenc=mediaenc, extra=account_params)
    )
    log = workdir / "baresip.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [binary, "-f", str(workdir), *(["-s"] if sip_trace else [])],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_tcp(host, port + 1, process, log)
        if control_port is not None:
            wait_for_tcp("127.0.0.1", control_port, process, log)
    except BaseException:
        stop(process)
        raise
    return Baresip(host, port + 1, process, log, control_port)


def log_tail(phone: Baresip) -> str:
    return tail(phone.log, 40)
