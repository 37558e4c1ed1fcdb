"""The one settings model: what a run is asked to do, in sections.

The command line, a scenario file and a library caller all build a `Settings`; the run
checks it in one place (probe.run.commands.prepare) before any packet, and a setting that
cannot be used is a `SettingsError` there (exit 2 on the command line). Values are typed
but not yet judged: `accept="2xx"` is parsed, a trust store loaded, a pin read, by that
one check.

    settings = Settings(tls=TlsSettings(ca=Path("ca.pem")), run=RunSettings(timeout=2))
    settings = Settings.from_flat(ca=Path("ca.pem"), timeout=2)   # the CLI's flat names
    settings = Settings.from_flat(listen=["tls:192.0.2.10:5061"], sti_trust=Path("sti.pem"))

The `inbound` and `stir` sections exist only for commands that receive calls: None until
one of their settings is named. `probe.inbound_settings.check_inbound` checks them.

Pure: no I/O, stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """How TLS is spoken and judged."""

    trust: str | None = None
    """`system` (the default), `mozilla`, or a PEM file or directory of trust anchors."""
    ca: Path | None = None
    """Trust anchors from a PEM file or directory: the same as `trust=PATH`."""
    cert: Path | None = None
    """Client certificate chain (PEM), for servers that ask for one."""
    key: Path | None = None
    key_password_file: Path | None = None
    """The password of an encrypted `key`: the file's first line; or SIPPROBE_KEY_PASSWORD
    in the environment. Never on the command line."""
    sni: str | None = None
    """Server name to send; default: the URI's host (never an IP literal, RFC 6066 §3)."""
    min_version: str = "1.2"
    """Lowest TLS version offered and accepted: 1.0, 1.1, 1.2 or 1.3."""
    insecure: bool = False
    """Certificate failures become warnings."""
    warn_days: int = 30
    critical_days: int = 7
    accept_wildcard: bool = False
    """Accept RFC 2818 wildcards, which RFC 5922 §7.2 forbids for SIP."""
    accept_srv_target_identity: bool = False
    """Take a certificate that names the SRV target, not the dialled domain, as a warning
    rather than a failure (RFC 5922 §7.2 says match the domain)."""
    enumerate: bool = False
    """Also try every TLS version and suite the server accepts."""


@dataclass(frozen=True, slots=True)
class SipSettings:
    """What is sent and what answer counts."""

    accept: str = "2xx"
    """Status codes that count as healthy: `2xx`, `200,404`, `2xx,405`."""
    count: int = 1
    """OPTIONS probes per target (ping mode above 1)."""
    interval: float = 1.0
    """Seconds between probes of a `count` run."""
    loss_warn: float | None = None
    loss_crit: float | None = None
    rtt_warn: float | None = None
    rtt_crit: float | None = None
    """Loss (%) and RTT (ms) thresholds; None: the defaults of probe.verdict.checks.options."""
    follow_redirects: bool = False
    """Probe the Contact URIs of a 3xx answer too (one hop)."""
    auth_file: Path | None = None
    """Digest credentials (`username=`, `password=` lines) to answer a challenge to
    OPTIONS with; or SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD in the environment.
    Never on the command line."""
    keepalive: bool = False
    """After the OPTIONS, a keep-alive ping on the same connection: RFC 5626's CRLF CRLF
    over TCP and TLS, a WebSocket Ping over WS and WSS; judged as `sip.keepalive`."""
    headers: Sequence[str] = ()
    """Extra header fields of each OPTIONS, `Name: value` each."""
    from_: str | None = None
    """The From URI of each OPTIONS (default: sip:sipprobe@ the local address)."""
    contact: str | None = None
    """The Contact URI of each OPTIONS (default: sip:sipprobe@ the local address and port)."""
    user_agent: str | None = None
    """The User-Agent of every request and of the WebSocket upgrade (default:
    sipprobe/VERSION)."""
    ws_path: str = "/"
    """The resource the WebSocket upgrade asks for (`GET /ws`), RFC 6455 §3."""


@dataclass(frozen=True, slots=True)
class LocateSettings:
    """How targets are found (RFC 3263) and reached."""

    pins: Sequence[str] = ()
    """`NAME:PORT:ADDRESS` pins, as curl's `--resolve`: no lookup for that name and port."""
    dns_server: str | None = None
    """`ADDRESS[:PORT]`: every query, A/AAAA included, goes there instead of the system's
    resolver and name service."""
    seed: int | None = None
    """Seed of the SRV weighted draw (RFC 2782), for a reproducible order."""
    family: str | None = None
    """`ipv4` or `ipv6`: only addresses of that family are looked up and connected to."""
    source: str | None = None
    """`ADDRESS[:PORT]`: the local address (and port) every connection is bound to."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The run's controls: deadlines, pace, what is kept."""

    timeout: float = 5.0
    """Deadline of each phase, in seconds."""
    deadlines: Sequence[str] = ()
    """`PHASE=SECONDS` overrides of `timeout`, one phase each."""
    concurrency: int = 50
    rate: float | None = None
    """Targets started per second, at most."""
    per_target: int = 1
    """Connections to one address and port at once."""
    max_time: float | None = None
    """Seconds the whole run may take; what is not done by then is incomplete."""
    evidence_out: Path | None = None
    """Where to save the run's evidence (`sipprobe.evidence/1`)."""
    trace: bool = False
    """Every SIP message sent and received, as on the wire (secrets redacted), on stderr."""


@dataclass(frozen=True, slots=True)
class CallSettings:
    """A test call: who is called, what is offered, how it ends."""

    to: str
    """The callee: a SIP URI, or a number or user part called at the target's host."""
    from_: str | None = None
    offer: str = "sdes"
    """`sdes` (RFC 4568 keys in the SDP), `dtls` (RFC 5763) or `rtp` (no SRTP)."""
    suites: Sequence[str] = ()
    """SRTP suites to offer, most preferred first; default: the two SHA1 suites."""
    hangup: str = "on-answer"
    auth_file: Path | None = None
    """Digest credentials (`username=`, `password=` lines); or SIPPROBE_AUTH_USER and
    SIPPROBE_AUTH_PASSWORD in the environment. Never on the command line."""
    auth_source: str = "--auth-file"
    """How the caller named `auth_file`, for messages."""
    allow_cleartext_keys: bool = False
    """Send SDES keys over a hop that is not TLS (RFC 4568 §8.3 says not to)."""
    answer_timeout: float = 30.0
    verify_media: bool = False
    """Send and receive real SRTP media to prove the keys work."""
    identity_key: Path | None = None
    """STIR/SHAKEN: sign the call with this P-256 key (PEM) and add an Identity header."""
    identity_cert: str | None = None
    """The https URL of the signing certificate (the PASSporT's x5u)."""
    identity_attest: str = "A"
    """The attestation level signed: A, B or C (RFC 8588 §4)."""


@dataclass(frozen=True, slots=True)
class StirSettings:
    """Verifying the STIR/SHAKEN Identity of received calls (RFC 8224 §6.2)."""

    sti_trust: Path | None = None
    """The STI-CA trust list: a PEM file or directory of the roots SHAKEN certificates
    must chain to. Without it no certificate can be trusted."""
    sti_cert_dir: Path | None = None
    """Offline: read x5u certificates from this directory (HOST/PATH or the URL's last
    segment) instead of fetching them."""
    sti_fetch_ca: Path | None = None
    """Trust anchors for the x5u servers' TLS certificates; default: the system store."""
    sti_fetch_timeout: float = 2.0
    """Seconds one certificate fetch may take, redirects included."""
    sti_freshness: int = 60
    """Seconds iat and Date may be from the clock and from each other."""
    sti_required: bool = True
    """A call without an Identity header fails (428); otherwise it is only reported."""
    sti_min_attest: str | None = None
    """A, B or C: a lower attestation level fails; default: B and C warn."""


DEFAULT_LISTEN = "tls:0.0.0.0:5061"
"""Where `sipprobe answer` listens unless told: TLS, because the trunks it verifies promise
TLS signalling (and `require_tls` is on); port 5061, the port a `sips:`/TLS URI without one
means (RFC 3261 §19.1.2, §26.2.2), which providers dial by default and which needs no
privilege; every IPv4 address, because the calls come from the provider's network, and a
listener on loopback alone could never receive one (IPv6: `tls:[::]:5061`)."""


@dataclass(frozen=True, slots=True)
class InboundSettings:
    """Receiving a trunk's test calls (`sipprobe answer`, a scenario's `[inbound]`): where
    to listen, what to wait for, what each call must prove. Checked in one place,
    probe.inbound_settings.check_inbound."""

    listen: Sequence[str] = (DEFAULT_LISTEN,)
    """`TRANSPORT:ADDRESS[:PORT]` sockets: transport `tls`, `tcp`, `udp`, `wss` or `ws` (SIP
    over WebSocket, RFC 7118), an IP address of this machine (IPv6 in brackets), the port
    (default 5061 for TLS, 443 for WSS, 80 for WS, 5060 otherwise; 0 picks a free one)."""
    listen_cert: Path | None = None
    """Our certificate chain for the TLS and WSS listeners (PEM, leaf first)."""
    listen_key: Path | None = None
    """Its private key (PEM); default: inside `listen_cert`."""
    peer_ca: Path | None = None
    """Trust anchors (PEM file or directory) the caller's client certificate must chain
    to; default: the system store."""
    expect_peer: Sequence[str] = ()
    """Names the caller's client certificate must prove (RFC 5922 §7.1), any one of them."""
    require_client_cert: bool = False
    """A TLS caller must present a certificate (mutual TLS); we ask for one regardless."""
    require_srtp: bool = True
    """An offer without SRTP fails (the trunk promises encrypted media)."""
    require_tls: bool = True
    """A call over TCP or UDP fails (the trunk promises TLS signalling)."""
    expect: int = 1
    """Calls that must arrive."""
    within: float = 60.0
    """Seconds to wait for them, from the moment the listeners are ready."""
    hold: float = 2.0
    """Seconds an answered call stays up before we send BYE (unless the caller ends it)."""
    verify_media: bool = False
    """Exchange SRTP with every answered call and authenticate the caller's packets."""
    verify_identity: bool = False
    """Verify every INVITE's STIR/SHAKEN Identity; also on whenever `Settings.stir` is set."""


_SECTIONS = {
    "tls": TlsSettings,
    "sip": SipSettings,
    "locate": LocateSettings,
    "run": RunSettings,
    "inbound": InboundSettings,
    "stir": StirSettings,
}
_FLAT_NAMES = {"min_tls": "min_version", "enumerate_tls": "enumerate"}
"""The command line's names where a section's field has a shorter one."""


def _section_of(name: str) -> tuple[str, str]:
    """`ca` → (`tls`, `ca`); `min_tls` → (`tls`, `min_version`); `listen` → (`inbound`,
    `listen`); `sti_trust` → (`stir`, `sti_trust`)."""
    field_name = _FLAT_NAMES.get(name, name)
    for section, kind in _SECTIONS.items():
        if field_name in {f.name for f in fields(kind)}:
            return section, field_name
    raise KeyError(f"no setting is called {name!r}")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of a run, by section; the call section only for a test call, the
    stir section only where calls are received."""

    tls: TlsSettings = field(default_factory=TlsSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    locate: LocateSettings = field(default_factory=LocateSettings)
    run: RunSettings = field(default_factory=RunSettings)
    call: CallSettings | None = None
    inbound: InboundSettings | None = None
    """Receiving calls; only for commands that receive them (`answer`, a scenario's
    `[inbound]`). `from_flat` makes it as soon as one of its settings is named."""
    stir: StirSettings | None = None
    """Verifying received calls' Identity headers; only for commands that receive calls.
    `from_flat` makes it as soon as one `sti_*` setting is named."""

    @staticmethod
    def flat_names() -> frozenset[str]:
        """Every setting's name on the command line (`ca`, `min_tls`, `timeout`, ...)."""
        inverse = {short: flat for flat, short in _FLAT_NAMES.items()}
        return frozenset(
            inverse.get(f.name, f.name) for kind in _SECTIONS.values() for f in fields(kind)
        )

    @classmethod
    def from_flat(cls, values: Mapping[str, Any] | None = None, /, **more: Any) -> Settings:
        """Settings from the command line's flat names; a name that is no setting is a
        KeyError (a programming error, not a user's)."""
        return cls().with_flat({**(values or {}), **more})

    def with_flat(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with the settings named (flat names) changed."""
        by_section: dict[str, dict[str, Any]] = {}
        for name, value in changes.items():
            section, field_name = _section_of(name)
            by_section.setdefault(section, {})[field_name] = value
        updated = {
            section: replace(self._section(section), **values)
            for section, values in by_section.items()
        }
        return replace(self, **updated)

    def flat(self, name: str) -> Any:
        """One setting by its flat name (an absent section's default)."""
        section, field_name = _section_of(name)
        return getattr(self._section(section), field_name)

    def _section(self, section: str) -> Any:
        """A section, or its defaults when it is absent (inbound, stir)."""
        value = getattr(self, section)
        return _SECTIONS[section]() if value is None else value
