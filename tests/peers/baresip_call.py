"""Two baresip phones calling each other over SIP on UDP, for real media in captures:
plain RTP, SDES-SRTP (the keys in the cleartext SDP) or DTLS-SRTP (RFC 5764), chosen by
the accounts' `mediaenc`.

The caller is driven through baresip's ctrl_tcp module (netstring-framed JSON commands,
`dial` and `hangup`, and the call events it reports); the callee answers on its own.
`net_interface 127.0.0.1` keeps media on loopback (baresip otherwise puts the machine's
own address in its SDP); `ausine` is the microphone and `aubridge` a null player, or a
call never gets past 180 (research/peers.md).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.peers.baresip import Control
from tests.peers.common import free_port, free_port_both, require_binary, stop, tail, wait_for_tcp

CONFIG = """poll_method		epoll
sip_listen		127.0.0.1:{port}
net_interface		127.0.0.1
rtp_ports		{low}-{high}
sip_transports		udp,tcp
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
{control}
"""
_CONTROL = "module_app		ctrl_tcp.so\nctrl_tcp_listen		127.0.0.1:{port}"


@dataclass
class Phone:
    user: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    control: int | None
    rtp_ports: tuple[int, int]

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop(self.process)


def start_phone(
    workdir: Path, user: str, mediaenc: str | None, *, control: bool, rtp_ports: tuple[int, int]
) -> Phone:
    """A phone answering calls on its own, its RTP and RTCP on `rtp_ports` (a range);
    `control`: listening for ctrl_tcp commands."""
    binary = require_binary("baresip")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port_both()
    control_port = free_port() if control else None
    (workdir / "config").write_text(
        CONFIG.format(
            port=port,
            low=rtp_ports[0],
            high=rtp_ports[1],
            control=_CONTROL.format(port=control_port) if control_port else "",
        )
    )
    encryption = f";mediaenc={mediaenc}" if mediaenc else ""
    (workdir / "accounts").write_text(
        f"<sip:{user}@127.0.0.1:{port}>;answermode=auto;regint=0{encryption}\n"
    )
    log = workdir / "baresip.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [binary, "-f", str(workdir)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_tcp("127.0.0.1", control_port or port, process, log)
    except BaseException:
        stop(process)
        raise
    return Phone(user, port, process, log, control_port, rtp_ports)


@contextlib.contextmanager
def phones(workdir: Path, mediaenc: str | None) -> Iterator[tuple[Phone, Phone]]:
    """A caller (alice, under control) and a callee (bob), both with `mediaenc`, their
    media on one range of ports a capture filter can name."""
    ports = _media_ports()
    callee = start_phone(workdir / "bob", "bob", mediaenc, control=False, rtp_ports=ports)
    try:
        caller = start_phone(workdir / "alice", "alice", mediaenc, control=True, rtp_ports=ports)
    except BaseException:
        callee.stop()
        raise
    try:
        yield caller, callee
    finally:
        caller.stop()
        callee.stop()


_MEDIA_RANGE = 40


def _media_ports() -> tuple[int, int]:
    """A range of free UDP ports below the ephemeral ones (Linux: from 32768), so that
    no other test's sockets land in it while the phones use it."""
    for _ in range(100):
        low = secrets.randbelow((32000 - 21000) // 2) * 2 + 21000
        try:
            for port in range(low, low + _MEDIA_RANGE):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return low, low + _MEDIA_RANGE - 1
    raise RuntimeError("no free range of UDP ports for the phones' media")


def call(caller: Phone, callee: Phone, seconds: float) -> None:
    """Caller dials callee, the call lasts `seconds` once established, caller hangs up."""
    assert caller.control is not None
    control = Control(caller.control)
    try:
        control.send("dial", callee.uri)
        try:
            control.wait_for("CALL_ESTABLISHED", time.monotonic() + 15)
        except RuntimeError as exc:
            raise RuntimeError(
                f"{exc}\ncaller:\n{tail(caller.log)}\ncallee:\n{tail(callee.log)}"
            ) from None
        time.sleep(seconds)
        control.send("hangup")
        control.wait_for("CALL_CLOSED", time.monotonic() + 10)
    finally:
        control.close()
