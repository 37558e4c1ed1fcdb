"""The inbound and STIR settings checked, in one place, before anything listens.

`sipprobe answer`, `sipprobe check` with a scenario's `[inbound]`, and a library caller all
build `Settings.inbound` and `Settings.stir` (probe.settings); `check_inbound` is where they
are judged usable: every problem at once, each naming the option it is about, as one
`InboundSettingsError` (a `SettingsError`: exit 2 on the command line, nothing sent). The
scenario loader reports the same problems at the scenario's keys (`inbound_problems`).

    plan = check_inbound(settings)          # listeners parsed, what the run waits for
    policy = inbound_policy(settings, anchors=load_peer_anchors(settings))

Pure: stdlib only (the trust store is read by `load_peer_anchors`, on demand).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from probe.errors import ProbeError, SettingsError
from probe.evidence.model import DEFAULT_PORTS, TLS_TRANSPORTS
from probe.settings import InboundSettings, Settings, StirSettings
from probe.stir.passport import ATTESTATION_LEVELS

if TYPE_CHECKING:
    import datetime as dt

    from probe.evidence.inbound import InboundExpectation, InboundTransport
    from probe.tls.trust import TrustAnchors
    from probe.verdict.checks.policy import InboundPolicy

LISTEN_TRANSPORTS: tuple[InboundTransport, ...] = ("tls", "tcp", "udp", "ws", "wss")
"""What a listener speaks. Its default port is the transport's (probe.evidence.model.
DEFAULT_PORTS: RFC 3261 §19.1.2 for SIP, RFC 6455 §3 for SIP over WebSocket), and the TLS
ones (TLS_TRANSPORTS) present our certificate and can ask for the caller's."""
_LISTEN_FORM = "TRANSPORT:ADDRESS[:PORT], e.g. tls:0.0.0.0:5061 or tls:[::]:5061"
# A host name as a certificate names it: LDH labels (RFC 1123 §2.1), at most 253 octets.
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?")


MAX_STI_FETCH_TIMEOUT = 20.0
"""The longest `--sti-fetch-timeout`: an answer run gives one INVITE's Identity check 30 s
(probe.answer.call.IDENTITY_SECONDS) while the caller waits after our 100 Trying, and a
fetch that outlasted it would leave the call unverified instead of 436 Bad Identity Info."""


class ListenSpecError(ProbeError, ValueError):
    """A `--listen` value that is not `TRANSPORT:ADDRESS[:PORT]`; the message says why."""


@dataclass(frozen=True, slots=True)
class ListenSpec:
    """One socket to listen on: `tls:[2001:db8::5]:5061` → tls, 2001:db8::5, 5061."""

    transport: InboundTransport
    address: str
    """An IP address of this machine, without brackets; `0.0.0.0` or `::` for all."""
    port: int
    """0 picks a free port (the report says which)."""

    @property
    def stream(self) -> bool:
        """TLS, TCP, WS and WSS listen on a TCP socket; UDP on its own."""
        return self.transport != "udp"

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.address).version

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.transport}:{host}:{self.port}"


def parse_listen(text: str) -> ListenSpec:
    """`tls:0.0.0.0:5061`, `tcp:[::1]:5060`, `udp:192.0.2.7` (the transport's default port),
    `wss:0.0.0.0:443`, `ws:127.0.0.1:8080`."""
    name, colon, rest = text.strip().partition(":")
    transport = name.lower()
    chosen = next((known for known in LISTEN_TRANSPORTS if known == transport), None)
    if not colon or chosen is None:
        raise ListenSpecError(f"not {_LISTEN_FORM} (transport tls, tcp, udp, ws or wss)")
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            raise ListenSpecError("an IPv6 address in brackets needs its closing ]")
        host, tail = rest[1:end], rest[end + 1 :]
        if tail and not tail.startswith(":"):
            raise ListenSpecError(f"after the ] comes :PORT, not {tail!r}")
        port_text = tail[1:] if tail else None
        if ":" not in host:
            raise ListenSpecError(f"{host!r} in brackets is not an IPv6 address")
    else:
        if rest.count(":") > 1:
            raise ListenSpecError(f"an IPv6 address goes in brackets: {transport}:[::1]:5061")
        host, colon, port_text_or_empty = rest.partition(":")
        port_text = port_text_or_empty if colon else None
    if not host:
        raise ListenSpecError(f"no address: {_LISTEN_FORM}")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ListenSpecError(
            f"{host!r} is not an IP address (names are not resolved to listen: give an "
            "address of this machine, 0.0.0.0 or [::] for all)"
        ) from None
    if port_text is None:
        port = DEFAULT_PORTS[chosen]
    elif not port_text.isascii() or not port_text.isdigit():
        raise ListenSpecError(f"port {port_text!r} is not a number")
    else:
        port = int(port_text)
        if port > 65535:
            raise ListenSpecError(f"port {port} out of range 0-65535 (0 picks a free port)")
    return ListenSpec(chosen, str(address), port)


@dataclass(frozen=True, slots=True)
class InboundProblem:
    """One setting that cannot be used: its flat name (`listen`, `sti_trust`), which of a
    repeated setting's values (`listen` twice: 0, 1), the value, and why."""

    setting: str
    message: str
    position: int | None = None
    value: str | None = None

    @property
    def option(self) -> str:
        """The command line's name: `--listen`, `--sti-trust`."""
        return "--" + self.setting.replace("_", "-")

    def __str__(self) -> str:
        shown = f" {self.value}" if self.value is not None else ""
        return f"{self.option}{shown}: {self.message}"


class InboundSettingsError(SettingsError):
    """Inbound or STIR settings that cannot be used, every problem on its own line."""

    def __init__(self, problems: Sequence[InboundProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True, slots=True)
class InboundPlan:
    """Inbound settings found usable: what the answer run listens on and waits for."""

    listen: tuple[ListenSpec, ...]
    settings: InboundSettings
    stir: StirSettings | None
    """The Identity verification's settings; None when Identity is not verified."""
    expectation: InboundExpectation


def identity_verified(settings: Settings) -> bool:
    """Whether each INVITE's Identity is verified: asked for (`--verify-identity`, a
    scenario's `[inbound.stir]`), or implied by any STIR setting given."""
    inbound = settings.inbound or InboundSettings()
    return inbound.verify_identity or settings.stir is not None


def inbound_problems(settings: Settings) -> list[InboundProblem]:
    """Every problem of `settings.inbound` (its defaults when absent) and of the STIR
    settings it verifies with; empty when the run can go."""
    inbound = settings.inbound or InboundSettings()
    problems, listeners = _listen_problems(inbound.listen)
    problems += _number_problems(inbound)
    has_tls = any(spec.transport in TLS_TRANSPORTS for spec in listeners)
    tls_listeners = [str(spec) for spec in listeners if spec.transport in TLS_TRANSPORTS]
    if tls_listeners and inbound.listen_cert is None:
        problems.append(
            InboundProblem(
                "listen_cert",
                f"a TLS listener ({tls_listeners[0]}) needs our certificate chain (and "
                "its key, unless the PEM holds it)",
            )
        )
    if inbound.listen_key is not None and inbound.listen_cert is None:
        problems.append(InboundProblem("listen_key", "a key needs its certificate chain"))
    if listeners and not has_tls:
        for setting, given in (
            ("require_client_cert", inbound.require_client_cert),
            ("expect_peer", bool(inbound.expect_peer)),
            ("peer_ca", inbound.peer_ca is not None),
        ):
            if given:
                problems.append(
                    InboundProblem(
                        setting,
                        "only a TLS caller presents a certificate, and no listener is tls: or wss:",
                    )
                )
        if inbound.require_tls:
            problems.append(
                InboundProblem(
                    "require_tls",
                    "every listener is TCP, UDP or WS, so every call would fail for want of "
                    "TLS: add a tls: or wss: listener, or do not require TLS",
                )
            )
    for position, name in enumerate(inbound.expect_peer):
        if not isinstance(name, str) or _HOST_NAME.fullmatch(name) is None:
            problems.append(
                InboundProblem(
                    "expect_peer",
                    "not a host name (the caller's certificate names it, RFC 5922 §7.1: "
                    "e.g. sip.pstnhub.microsoft.com, without sip: or a port)",
                    position,
                    repr(name),
                )
            )
    if identity_verified(settings):
        problems += stir_problems(settings.stir or StirSettings(), verifying=True)
    elif settings.stir is not None:
        problems += stir_problems(settings.stir)
    return problems


def stir_problems(stir: StirSettings, *, verifying: bool = False) -> list[InboundProblem]:
    """The STIR settings' own problems; `verifying`: Identity will be verified, so the
    STI-CA trust list is needed."""
    problems = []
    if not isinstance(stir.sti_fetch_timeout, int | float) or not (
        0 < stir.sti_fetch_timeout <= MAX_STI_FETCH_TIMEOUT
    ):
        problems.append(
            InboundProblem(
                "sti_fetch_timeout",
                f"a number of seconds above 0, at most {MAX_STI_FETCH_TIMEOUT:g} (the caller "
                "waits for our answer while its certificate is fetched)",
                value=str(stir.sti_fetch_timeout),
            )
        )
    if (
        isinstance(stir.sti_freshness, bool)
        or not isinstance(stir.sti_freshness, int)
        or stir.sti_freshness <= 0
    ):
        problems.append(
            InboundProblem(
                "sti_freshness", "a whole number of seconds above 0", value=str(stir.sti_freshness)
            )
        )
    if stir.sti_min_attest is not None and stir.sti_min_attest not in ATTESTATION_LEVELS:
        problems.append(
            InboundProblem(
                "sti_min_attest", "one of A, B, C (RFC 8588 §4)", value=str(stir.sti_min_attest)
            )
        )
    if verifying and stir.sti_trust is None:
        problems.append(
            InboundProblem(
                "sti_trust",
                "verifying Identity needs the STI-CA trust list (a PEM file or directory of "
                "the roots SHAKEN certificates chain to): without it no certificate can be "
                "trusted and every call would fail",
            )
        )
    return problems


def check_inbound(settings: Settings) -> InboundPlan:
    """The plan of an answer run, or an `InboundSettingsError` with every problem."""
    problems = inbound_problems(settings)
    if problems:
        raise InboundSettingsError(problems)
    inbound = settings.inbound or InboundSettings()
    verified = identity_verified(settings)
    return InboundPlan(
        listen=tuple(parse_listen(text) for text in inbound.listen),
        settings=inbound,
        stir=(settings.stir or StirSettings()) if verified else None,
        expectation=inbound_expectation(settings),
    )


def inbound_expectation(settings: Settings) -> InboundExpectation:
    """What the run waits for, as the evidence records it (probe.evidence.inbound)."""
    from probe.evidence.inbound import InboundExpectation

    inbound = settings.inbound or InboundSettings()
    return InboundExpectation(
        calls=inbound.expect,
        within_s=float(inbound.within),
        verify_media=inbound.verify_media,
        verify_identity=identity_verified(settings),
        hold_s=float(inbound.hold),
    )


def inbound_policy(
    settings: Settings, *, anchors: TrustAnchors | None = None, now: dt.datetime | None = None
) -> InboundPolicy:
    """What the received calls are judged against: the inbound section's demands, and the
    TLS section's judgement of certificates (`--min-tls`, `--warn-days`, `--insecure`...)
    applied to the caller's client certificate."""
    from probe.verdict.checks.policy import InboundPolicy, TlsPolicy

    inbound, tls = settings.inbound or InboundSettings(), settings.tls
    return InboundPolicy(
        expect_peer=tuple(inbound.expect_peer),
        require_client_cert=inbound.require_client_cert,
        require_tls=inbound.require_tls,
        require_srtp=inbound.require_srtp,
        tls=TlsPolicy(
            min_version=tls.min_version,
            warn_days=tls.warn_days,
            critical_days=tls.critical_days,
            accept_wildcards=tls.accept_wildcard,
            insecure=tls.insecure,
        ),
        anchors=anchors,
        now=now,
    )


def load_peer_anchors(settings: Settings) -> TrustAnchors:
    """The anchors the caller's client certificate must chain to: `--peer-ca`, else the
    system store; a `SettingsError` naming `--peer-ca` when they cannot be read."""
    from probe.tls.trust import TrustStoreError, load_trust_anchors

    inbound = settings.inbound or InboundSettings()
    try:
        if inbound.peer_ca is None:
            return load_trust_anchors("system")
        return load_trust_anchors(inbound.peer_ca)
    except TrustStoreError as exc:
        message = str(exc) if inbound.peer_ca is not None else f"not given, and {exc}"
        raise InboundSettingsError([InboundProblem("peer_ca", message)]) from None


def _listen_problems(
    specs: Sequence[str],
) -> tuple[list[InboundProblem], list[ListenSpec]]:
    problems: list[InboundProblem] = []
    parsed: list[tuple[int, ListenSpec]] = []
    if isinstance(specs, str) or not specs:
        problems.append(InboundProblem("listen", f"at least one {_LISTEN_FORM}"))
        return problems, []
    for position, text in enumerate(specs):
        try:
            spec = parse_listen(text)
        except (ListenSpecError, AttributeError) as exc:
            problems.append(InboundProblem("listen", str(exc), position, str(text)))
            continue
        for _earlier_position, earlier in parsed:
            if _clash(earlier, spec):
                kind = "TCP" if spec.stream else "UDP"
                problems.append(
                    InboundProblem(
                        "listen",
                        f"the same {kind} port as {earlier}: one socket cannot listen twice",
                        position,
                        str(text),
                    )
                )
                break
        parsed.append((position, spec))
    return problems, [spec for _position, spec in parsed]


def _clash(first: ListenSpec, second: ListenSpec) -> bool:
    """Two listeners that cannot both bind: one socket type (TLS, TCP, WS and WSS are all
    TCP), one family, one port (0 picks a different one each time), addresses that
    overlap (the unspecified address covers every other of its family)."""
    if (
        first.stream != second.stream
        or first.family != second.family
        or 0
        in (
            first.port,
            second.port,
        )
    ):
        return False
    if first.port != second.port:
        return False
    unspecified = (
        ipaddress.ip_address(first.address).is_unspecified
        or ipaddress.ip_address(second.address).is_unspecified
    )
    return unspecified or first.address == second.address


def _number_problems(inbound: InboundSettings) -> list[InboundProblem]:
    problems = []
    if (
        isinstance(inbound.expect, bool)
        or not isinstance(inbound.expect, int)
        or inbound.expect < 1
    ):
        problems.append(InboundProblem("expect", "at least 1 call", value=str(inbound.expect)))
    for setting, value, lowest in (
        ("within", inbound.within, "above 0"),
        ("hold", inbound.hold, "0 or more"),
    ):
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        usable = number is not None and (
            0 < number < math.inf if setting == "within" else 0 <= number < math.inf
        )
        if not usable:
            problems.append(
                InboundProblem(setting, f"a number of seconds {lowest}", value=str(value))
            )
    return problems
