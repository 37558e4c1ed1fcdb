"""A real Kamailio with TLS, TCP and UDP listeners on loopback, for integration tests.

Kamailio 5.6 with OpenSSL 3 can crash under concurrent TLS handshakes (upstream issue
3791, fixed by tls_threads_mode in 5.8): one TCP worker (`tcp_children=1`) keeps it
stable. If a test sees resets on the TLS port, look for `signal 11` in the log.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers.common import free_port_both, require_binary, stop, wait_for_tcp

MODULE_DIRS = (
    Path("/usr/lib/x86_64-linux-gnu/kamailio/modules"),
    Path("/usr/lib/aarch64-linux-gnu/kamailio/modules"),
    Path("/usr/lib/kamailio/modules"),
)

CONFIG = """#!KAMAILIO
debug=2
log_stderror=yes
fork=yes
children=1
tcp_children=1
auto_aliases=no
dns=no
rev_dns=no
enable_tls=yes
tcp_connection_lifetime=60
listen=tls:{host}:{tls_port}
listen=tls:{host}:{mtls_port}
listen=tcp:{host}:{plain_port}
listen=udp:{host}:{plain_port}
server_header="Server: kamailio-sipprobe-test"
mpath="{module_dir}/"
loadmodule "tls.so"
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
modparam("tls", "config", "{tls_cfg}")

request_route {{
    if (is_method("OPTIONS")) {{
        append_to_reply("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\\r\\n");
        append_to_reply("Accept: application/sdp\\r\\n");
        append_to_reply("Supported: path, outbound\\r\\n");
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("ACK")) {{
        exit;
    }}
    sl_send_reply("501", "Not Implemented");
}}
"""

TLS_CONFIG = """[server:default]
method = TLSv1.2+
verify_certificate = no
require_certificate = no
certificate = {cert}
private_key = {key}

[server:{host}:{mtls_port}]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
certificate = {cert}
private_key = {key}
ca_list = {ca}

[client:default]
verify_certificate = no
require_certificate = no
"""


def module_dir() -> Path:
    for candidate in MODULE_DIRS:
        if (candidate / "tls.so").exists():
            return candidate
    raise RuntimeError("kamailio's tls.so not found: install kamailio-tls-modules")


@dataclass
class Kamailio:
    """One running instance. `tls_port` carries TLS; `plain_port` TCP and UDP;
    `mtls_port` is TLS that requires a client certificate issued under the lab CA."""

    host: str
    tls_port: int
    plain_port: int
    mtls_port: int
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        stop(self.process)


def start_kamailio(
    workdir: Path, cert: Path, key: Path, ca: Path, host: str = "127.0.0.1"
) -> Kamailio:
    binary = require_binary("kamailio")
    workdir.mkdir(parents=True, exist_ok=True)
    tls_port, plain_port, mtls_port = (free_port_both(host) for _ in range(3))
    tls_cfg = workdir / "tls.cfg"
    tls_cfg.write_text(TLS_CONFIG.format(cert=cert, key=key, ca=ca, host=host, mtls_port=mtls_port))
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(
        CONFIG.format(
            host=host,
            tls_port=tls_port,
            plain_port=plain_port,
            mtls_port=mtls_port,
            module_dir=module_dir(),
            tls_cfg=tls_cfg,
        )
    )
    runtime = workdir / "run"
    runtime.mkdir(exist_ok=True)
    log = workdir / "kamailio.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                "-f",
                str(cfg),
                "-DD",
                "-E",
                "-Y",
                str(runtime),
                "-w",
                str(workdir),
                "-m",
                "64",
                "-M",
                "8",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_tcp(host, tls_port, process, log)
        wait_for_tcp(host, plain_port, process, log)
        wait_for_tcp(host, mtls_port, process, log)
    except BaseException:
        stop(process)
        raise
    return Kamailio(host, tls_port, plain_port, mtls_port, process, log)
