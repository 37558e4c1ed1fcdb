"""baresip, a real SIP phone: TLS transport, mandatory SRTP, auto-answer, a sine tone as
its microphone. It sends real SRTP to the address our offer names (always 127.0.0.1 here).

Quirks (research/peers.md): `net_interface lo` fails, so it is given an explicit loopback
`sip_listen`; it listens for TLS on that port + 1; the `ausine` source needs 48 kHz stereo
and `aubridge` serves as a null player, or the call never gets past 180.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers.common import require_binary, stop, wait_for_tcp

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
"""
ACCOUNT = "<sip:bob@{host}>;answermode={answermode};mediaenc={mediaenc};regint=0{extra}\n"


@dataclass
class Baresip:
    host: str
    tls_port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop(self.process)


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
) -> Baresip:
    """`answermode` manual leaves calls ringing; `account_params` are added to the account
    line (e.g. `;ptime=60`); `sip_trace` logs every SIP message it sends and receives;
    `mediaenc` chooses the media encryption (`srtp-mand`: SDES keys required;
    `dtls_srtp`: DTLS-SRTP, RFC 5763/5764, from the dtls_srtp module)."""
    binary = require_binary("baresip")
    workdir.mkdir(parents=True, exist_ok=True)
    certificate = workdir / "cert.pem"  # baresip wants the chain and the key in one file
    certificate.write_bytes(chain.read_bytes() + key.read_bytes())
    certificate.chmod(0o600)
    port = _free_pair(host)
    (workdir / "config").write_text(
        CONFIG.format(host=host, port=port, certificate=certificate, ca=ca)
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
    except BaseException:
        stop(process)
        raise
    return Baresip(host, port + 1, process, log)
