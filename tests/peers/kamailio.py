"""A real Kamailio with TLS, TCP and UDP listeners on loopback, for integration tests.

Each TLS listener gets its own per-`ip:port` profile in tls.cfg (certificate, versions,
ciphers, client-certificate demands), so one instance serves every certificate variant.

Kamailio 5.6 with OpenSSL 3 can crash under concurrent TLS handshakes (upstream issue
3791, fixed by tls_threads_mode in 5.8): one TCP worker (`tcp_children=1`) keeps it
stable. If a test sees resets on a TLS port, look for `signal 11` in the log.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers.common import (
    bracketed,
    free_port_both,
    missing_peer,
    require_binary,
    stop,
    wait_for_sip_udp,
    wait_for_tcp,
)

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
{ws_globals}{listens}
listen=tcp:{bracketed}:{plain_port}
listen=udp:{bracketed}:{plain_port}
server_header="Server: kamailio-sipprobe-test"
mpath="{module_dir}/"
loadmodule "tls.so"
{relay_modules}loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"
{ws_modules}modparam("tls", "config", "{tls_cfg}")
{ws_route}
request_route {{{relay_route}{auth_route}
    if (is_method("OPTIONS")) {{
        append_to_reply("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\\r\\n");
        append_to_reply("Accept: application/sdp\\r\\n");
        append_to_reply("Supported: path, outbound\\r\\n");{extra_reply}
        sl_send_reply("{reply_code}", "{reply_reason}");
        exit;
    }}
    if (is_method("ACK")) {{
        exit;
    }}
    sl_send_reply("501", "Not Implemented");
}}
{reply_route}"""

# For a lab server that must be able to *present* weak certificates (RSA-1024, SHA-1):
# OpenSSL 3 refuses to load them at security level 1 and above, whatever the profile's
# cipher_list says, so such an instance runs with this configuration.
WEAK_OPENSSL_CONF = """openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_section
[ssl_section]
system_default = system_default_section
[system_default_section]
CipherString = DEFAULT:@SECLEVEL=0
MinProtocol = TLSv1
"""

# As an SBC in front of a media server: TLS towards sipprobe, UDP towards a SIPp UAS, with
# double Record-Route so in-dialog requests (ACK, BYE) come back through it.
RELAY_MODULES = """loadmodule "tm.so"
loadmodule "siputils.so"
loadmodule "rr.so"
modparam("rr", "enable_double_rr", 1)
"""
RELAY_ROUTE = """
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{
                t_relay();
            }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("INVITE|BYE")) {{
        record_route();
        $du = "sip:{relay_host}:{relay_port};transport={relay_transport}";{on_reply}
        t_relay();
        exit;
    }}"""
# A relay that rewrites the bodies of the replies it relays (textops' subst_body, a sed-like
# expression): a man in the middle of the signalling, e.g. one that swaps a fingerprint.
REPLY_REWRITE = """
onreply_route[REWRITE] {{
    if (has_body("application/sdp")) {{
        subst_body("{expression}");
    }}
}}
"""

# SIP over WebSocket (RFC 7118) on the same listeners: an HTTP GET on the TCP port is WS,
# on a TLS port WSS; the xhttp module hands it to the event route below, whose
# ws_handle_handshake() answers the upgrade (101 with the `sip` subprotocol). HTTP
# requests carry no Content-Length, which Kamailio's TCP reader must be told to accept.
# Any other HTTP request, or an upgrade to another resource than the ones asked for ("/"
# by default), is answered 404.
WS_GLOBALS = "tcp_accept_no_cl=yes\n"
WS_MODULES = """loadmodule "xhttp.so"
loadmodule "websocket.so"
"""
WS_ROUTE = """
event_route[xhttp:request] {
    set_reply_close();
    set_reply_no_connect();
    if (({ws_paths}) && $hdr(Upgrade) =~ "websocket" && $hdr(Connection) =~ "Upgrade"
            && $rm == "GET") {
        if (ws_handle_handshake()) {
            exit;
        }
    }
    xhttp_reply("404", "Not Found", "", "");
}
"""

# Digest authentication with the auth module (RFC 3261 §22): OPTIONS and INVITE are
# challenged until their credentials check out; an authenticated INVITE is then refused
# with 480, which is enough to prove the credentials were taken (no media server here).
AUTH_MODULES = """loadmodule "auth.so"
modparam("auth", "algorithm", "{algorithm}")
"""
AUTH_ROUTE = """
    if (is_method("OPTIONS|INVITE")) {{
        if (!{check}("{realm}", "{password}", "0") || $au != "{username}") {{
            {challenge}("{realm}", "{flags}");
            exit;
        }}
        if (is_method("INVITE")) {{
            sl_send_reply("480", "Authenticated, Temporarily Unavailable");
            exit;
        }}
    }}"""


@dataclass(frozen=True)
class DigestAuth:
    """How the auth module challenges (Kamailio 5.6's auth module, admin guide)."""

    algorithm: str = ""
    """The module's `algorithm` parameter: "" (no algorithm in the challenge: MD5),
    "MD5" or "SHA-256"; 5.6 knows no other (no SHA-512-256, no -sess variants)."""
    qop: str = "auth"
    """`auth` (flags 1), `auth-int` (flags 2) or "" (no qop: RFC 2069 mode)."""
    proxy: bool = False
    """407 with Proxy-Authenticate (proxy_challenge) instead of 401 (www_challenge)."""
    realm: str = "sipprobe.test"
    username: str = "alice"
    password: str = "s3cret"

    def render(self) -> tuple[str, str]:
        flags = {"auth": 1, "auth-int": 2, "": 0}[self.qop]
        check, challenge = (
            ("pv_proxy_authenticate", "proxy_challenge")
            if self.proxy
            else ("pv_www_authenticate", "www_challenge")
        )
        route = AUTH_ROUTE.format(
            check=check,
            challenge=challenge,
            realm=self.realm,
            password=self.password,
            username=self.username,
            flags=flags,
        )
        return AUTH_MODULES.format(algorithm=self.algorithm), route


CLIENT_PROFILE = """[client:default]
verify_certificate = no
require_certificate = no
"""
CLIENT_CERTIFICATE = """certificate = {cert}
private_key = {key}
"""


@dataclass(frozen=True)
class TlsProfile:
    """One TLS listener: what it presents and what it demands."""

    name: str
    cert: Path
    key: Path
    method: str = "TLSv1.2+"
    ca: Path | None = None
    require_client_cert: bool = False
    cipher_list: str | None = None

    def render(self, host: str, port: int) -> str:
        lines = [
            f"[server:{bracketed(host)}:{port}]",
            f"method = {self.method}",
            f"certificate = {self.cert}",
            f"private_key = {self.key}",
            f"verify_certificate = {'yes' if self.require_client_cert else 'no'}",
            f"require_certificate = {'yes' if self.require_client_cert else 'no'}",
        ]
        if self.ca is not None:
            lines.append(f"ca_list = {self.ca}")
        if self.cipher_list is not None:
            lines.append(f"cipher_list = {self.cipher_list}")
        return "\n".join(lines) + "\n"


def module_dir() -> Path:
    for candidate in MODULE_DIRS:
        if (candidate / "tls.so").exists():
            return candidate
    raise RuntimeError("kamailio's tls.so not found: install kamailio-tls-modules")


def require_module(name: str, package: str) -> None:
    """A Kamailio module the test needs; under CI its absence fails the test."""
    if not (module_dir() / name).exists():
        missing_peer(f"kamailio's {name} is not installed ({package})")


@dataclass
class Kamailio:
    """One running instance: `ports[name]` per TLS profile; `plain_port` for TCP and UDP."""

    host: str
    plain_port: int
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def tls_port(self) -> int:
        return self.ports["tls"]

    @property
    def mtls_port(self) -> int:
        return self.ports["mtls"]

    def stop(self) -> None:
        stop(self.process)

    def crashed(self) -> bool:
        return "signal 11" in self.log.read_text(errors="replace")


def start_kamailio(
    workdir: Path,
    profiles: Sequence[TlsProfile],
    host: str = "127.0.0.1",
    *,
    allow_weak: bool = False,
    options_reply: tuple[int, str] = (200, "OK"),
    reply_headers: Sequence[str] = (),
    relay_to: tuple[str, int] | None = None,
    shared_memory_mb: int = 64,
    websocket: bool = False,
    auth: DigestAuth | None = None,
    reply_rewrite: str | None = None,
    ws_paths: Sequence[str] = ("/",),
    relay_transport: str = "udp",
    client_cert: tuple[Path, Path] | None = None,
) -> Kamailio:
    """Start an instance; `allow_weak` lets it load and offer weak keys, hashes, versions;
    `options_reply` and `reply_headers` choose its answer to OPTIONS (e.g. 503 and
    `Retry-After: 120`); `relay_to` makes it relay INVITE dialogs to a UDP UAS there;
    `websocket` makes it accept SIP over WebSocket too (WS on the TCP port, WSS on the
    TLS ones), upgrading requests for the resources in `ws_paths` only; `auth` makes it
    challenge OPTIONS and INVITE; `reply_rewrite`, with `relay_to`, is a `subst_body`
    expression applied to the SDP of every reply it relays; `relay_transport` is how it
    relays (`tls` makes it a caller over TLS towards `relay_to`); `client_cert` (chain,
    key) is what it presents when a server it connects to asks for a certificate."""
    binary = require_binary("kamailio")
    if websocket:
        require_module("websocket.so", "kamailio-websocket-modules")
        require_module("xhttp.so", "kamailio")
    workdir.mkdir(parents=True, exist_ok=True)
    # Free ports are found one at a time, so one can be handed out twice: ask until all
    # differ (Kamailio refuses two TLS profiles on one address).
    chosen: set[int] = set()
    while len(chosen) < len(profiles) + 1:
        chosen.add(free_port_both(host))
    *listen_ports, plain_port = sorted(chosen)
    ports = {profile.name: port for profile, port in zip(profiles, listen_ports, strict=True)}
    # The default server profile is required by Kamailio; it is never listened on alone.
    first = profiles[0]
    default = f"[server:default]\nmethod = TLSv1.2+\ncertificate = {first.cert}\n"
    default += f"private_key = {first.key}\n"
    tls_cfg = workdir / "tls.cfg"
    tls_cfg.write_text(
        default
        + "\n".join(profile.render(host, ports[profile.name]) for profile in profiles)
        + CLIENT_PROFILE
        + (
            CLIENT_CERTIFICATE.format(cert=client_cert[0], key=client_cert[1])
            if client_cert
            else ""
        )
    )
    auth_modules, auth_route = auth.render() if auth is not None else ("", "")
    cfg = workdir / "kamailio.cfg"
    cfg.write_text(
        CONFIG.format(
            listens="\n".join(f"listen=tls:{bracketed(host)}:{port}" for port in ports.values()),
            bracketed=bracketed(host),
            plain_port=plain_port,
            module_dir=module_dir(),
            tls_cfg=tls_cfg,
            ws_globals=WS_GLOBALS if websocket else "",
            ws_modules=WS_MODULES if websocket else "",
            ws_route=(
                WS_ROUTE.replace("{ws_paths}", " || ".join(f'$hu == "{path}"' for path in ws_paths))
                if websocket
                else ""
            ),
            relay_modules=(RELAY_MODULES if relay_to else "") + auth_modules,
            relay_route=(
                RELAY_ROUTE.format(
                    relay_host=relay_to[0],
                    relay_port=relay_to[1],
                    relay_transport=relay_transport,
                    on_reply='\n        t_on_reply("REWRITE");' if reply_rewrite else "",
                )
                if relay_to
                else ""
            ),
            auth_route=auth_route,
            reply_route=(
                REPLY_REWRITE.format(expression=reply_rewrite) if relay_to and reply_rewrite else ""
            ),
            reply_code=options_reply[0],
            reply_reason=options_reply[1],
            extra_reply="".join(
                f'\n        append_to_reply("{header}\\r\\n");' for header in reply_headers
            ),
        )
    )
    runtime = workdir / "run"
    runtime.mkdir(exist_ok=True)
    log = workdir / "kamailio.log"
    environment = dict(os.environ)
    if allow_weak:
        openssl_conf = workdir / "openssl-weak.cnf"
        openssl_conf.write_text(WEAK_OPENSSL_CONF)
        environment["OPENSSL_CONF"] = str(openssl_conf)
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
                # Every TLS connection and every TLS profile (an SSL_CTX per process) lives
                # in shared memory; when it runs low, Kamailio's OpenSSL workaround fails
                # handshakes on purpose (resets), so many listeners need more of it.
                "-m",
                str(shared_memory_mb),
                "-M",
                "8",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
        )
    try:
        for port in (*ports.values(), plain_port):
            wait_for_tcp(host, port, process, log)
        # Listening sockets exist before the workers start; an answered OPTIONS proves the
        # workers (and the TLS module's per-profile set-up) came up.
        wait_for_sip_udp(host, plain_port, process, log)
    except BaseException:
        stop(process)
        raise
    return Kamailio(host, plain_port, process, log, ports)
