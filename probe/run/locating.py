"""The first step of every run: the URIs as typed, checked, then located (RFC 3263).

`locate_all` looks every URI up, bounded like the probes that follow, and hands each
result over as it comes so a run cut short still knows what it had located.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.evidence.model import DEFAULT_PORTS, Target, Transport
from probe.locate import LocatedTarget, LocateResult
from probe.locate.driver import locate
from probe.net.options import ProbeSettings
from probe.sip import SipUri


class TargetError(ProbeError, ValueError):
    """A target URI that cannot be probed (unsupported transport...)."""


PASSWORD_REFUSED = (
    "a password in a URI is refused: RFC 3261 §19.1.1 deprecates it (it would travel in "
    "clear in every request); give credentials with --auth-file or "
    "SIPPROBE_AUTH_USER/SIPPROBE_AUTH_PASSWORD"
)

SUPPORTED_TRANSPORTS = ("tls", "tcp", "udp", "ws", "wss")
_SUPPORTED_TEXT = f"{', '.join(SUPPORTED_TRANSPORTS[:-1])} or {SUPPORTED_TRANSPORTS[-1]}"

# The URI parameters of RFC 3261 §19.1.1 that change what is probed or how, and the values
# they are known to take (§25.1 transport-param, user-param; RFC 7118 ws/wss).
_KNOWN_PARAMS = ("transport", "user", "maddr", "ttl", "lr", "method")
_KNOWN_VALUES = {
    "transport": ("udp", "tcp", "tls", "sctp", "tls-sctp", "ws", "wss"),
    "user": ("phone", "ip", "dialstring"),
}
# Registered extension parameters (IANA "SIP/SIPS URI Parameters"): never taken for a
# misspelling of the parameters above, however close (ob is one edit from lr).
_REGISTERED_EXTENSIONS = frozenset(
    ("comp", "gr", "ob", "sigcomp-id", "aai", "bnc", "cause", "ccxml", "sg", "pn-provider")
)


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance counting a swap of neighbours as one edit, the commonest
    typing slip (``transprot``)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                best = min(best, previous2[j - 2] + 1)
            current.append(best)
        previous2, previous = previous, current
    return previous[-1]


def _close_to(text: str, candidates: tuple[str, ...]) -> str | None:
    """The candidate ``text`` is most likely a misspelling of: two edits at most, one for
    names of four letters or fewer (else every short extension would look like ``lr``)."""
    best: tuple[int, str] | None = None
    for candidate in candidates:
        limit = 2 if len(candidate) > 4 else 1
        distance = _edit_distance(text, candidate)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, candidate)
    return best[1] if best is not None else None


def _shown(name: str, value: str | None) -> str:
    return f";{name}" if value is None else f";{name}={value}"


def check_uri_params(uri: SipUri, text: str) -> list[str]:
    """Refuse a parameter that looks like a misspelt known one, or a transport that cannot
    be probed (a slip must not silently change the probe: `;transprot=tls` would probe
    UDP); return a note for each other unknown parameter, which is allowed (§19.1.1
    lets a URI carry extension parameters) but ignored."""
    notes = []
    for name, value in uri.params:
        if name in _KNOWN_PARAMS:
            known = _KNOWN_VALUES.get(name)
            if known is None or value is None:
                continue
            plain = uri.transport if name == "transport" else value.lower()
            if plain is not None and plain not in known + SUPPORTED_TRANSPORTS:
                # Only a value that can be probed is suggested for transport.
                guess = _close_to(plain, SUPPORTED_TRANSPORTS if name == "transport" else known)
                if guess is not None:
                    raise TargetError(
                        f"unknown URI parameter value {_shown(name, value)}: "
                        f"did you mean {_shown(name, guess)}?"
                    )
                if name == "transport":
                    raise TargetError(f"transport={value} is not supported; use {_SUPPORTED_TEXT}")
            continue
        guess = None if name in _REGISTERED_EXTENSIONS else _close_to(name, _KNOWN_PARAMS)
        if guess is not None:
            suggestion = guess if value is None else f"{guess}={value}"
            if guess in _KNOWN_VALUES and value is not None:
                values = SUPPORTED_TRANSPORTS if guess == "transport" else _KNOWN_VALUES[guess]
                value_guess = _close_to(value.lower(), values)
                if value_guess is not None:
                    suggestion = f"{guess}={value_guess}"
            raise TargetError(
                f"unknown URI parameter {_shown(name, value)}: did you mean ;{suggestion}?"
            )
        notes.append(f"{text}: unknown URI parameter {_shown(name, value)} ignored")
    return notes


def check_target_uri(uri: SipUri, text: str) -> Transport:
    """Refuse what cannot be probed before any lookup; the transport RFC 3263 §4.1 implies
    without DNS (TLS for `sips:`/`transport=tls`, WebSocket for `transport=ws`/`wss`, else
    the parameter, else UDP).

    ``text`` is quoted in errors; pass it through `redact_uri_text` if it may hold a
    password."""
    if uri.password is not None:
        raise TargetError(f"{uri.redacted()}: {PASSWORD_REFUSED}")
    transport = uri.transport
    if uri.scheme == "sips" and transport not in (None, "tls", "tcp", "ws", "wss"):
        raise TargetError(f"{text}: a sips: URI needs TLS, not transport={transport}")
    if transport in ("ws", "wss"):
        return websocket_transport(uri)
    if uri.is_secure:
        return "tls"
    if transport is None or transport == "udp":
        return "udp"
    if transport == "tcp":
        return "tcp"
    raise TargetError(f"{text}: transport={transport} is not supported; use {_SUPPORTED_TEXT}")


def websocket_transport(uri: SipUri) -> Transport:
    """WSS or plain WS for a URI with `transport=ws` or `transport=wss`: RFC 7118 §5.2.2
    defines `ws` only, and a `sips:` URI with it means WebSocket over TLS (SIPS asks TLS
    of every hop, RFC 3261 §26.2.2); `transport=wss` is the spelling many deployments
    use for the same."""
    return "wss" if uri.scheme == "sips" or uri.transport == "wss" else "ws"


def known_transport(uri: SipUri) -> Transport | None:
    """The transport a URI means before any DNS lookup, or None when NAPTR decides:
    RFC 3263 §4.1 — `sips:` is TLS, an explicit `transport=` is that, and an IP literal or
    an explicit port with no `transport=` means UDP (TCP for `sips:`, which is TLS)."""
    if uri.transport is not None:
        return check_target_uri(uri, str(uri))
    if uri.is_secure:
        return "tls"
    if uri.port is not None or uri.host_kind != "name":
        return "udp"
    return None


def unresolved_target(uri: SipUri, text: str) -> Target:
    """A target for a URI that located nothing: named, but with no address."""
    transport = check_target_uri(uri, text)
    port = uri.port if uri.port is not None else DEFAULT_PORTS[transport]
    return Target(uri=text, host=uri.host, port=port, transport=transport)


@dataclass(frozen=True, slots=True)
class LocateSettings:
    dns_server: tuple[str, int] | None = None
    """Asked every question; None: NAPTR/SRV go to the system's DNS servers and A/AAAA
    to its name service (getaddrinfo, so /etc/hosts is honoured)."""
    seed: int | None = None
    """Seed for the RFC 2782 weighted choice, so an SRV order can be reproduced."""


@dataclass(frozen=True, slots=True)
class Located:
    """One URI and where it led."""

    text: str
    uri: SipUri
    result: LocateResult

    def targets(self) -> list[tuple[LocatedTarget, Target]]:
        return [
            (
                found,
                Target(
                    uri=self.text,
                    host=found.host,
                    port=found.port,
                    transport=found.transport,
                    address=found.address,
                    srv_target=found.srv_target,
                ),
            )
            for found in self.result.targets
        ]


async def locate_all(
    uris: Sequence[tuple[str, SipUri]],
    settings: ProbeSettings,
    where: LocateSettings,
    *,
    into: dict[int, Located] | None = None,
    concurrency: int = 50,
) -> list[Located]:
    """Locate every URI, at most `concurrency` at a time (each lookup holds a socket);
    each result also lands in `into` as it comes, so a run cut short still knows what
    was located."""
    rng = random.Random(where.seed)
    seeds = [rng.random() for _ in uris]  # drawn up front: the order of answers cannot matter
    found = into if into is not None else {}
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(index: int, text: str, uri: SipUri) -> Located:
        async with gate:
            result = await locate(
                uri,
                pins=settings.pins,
                dns_server=where.dns_server,
                timeout=settings.phases.dns,
                rng=random.Random(seeds[index]),
                family=settings.family,
            )
        found[index] = Located(text, uri, result)
        return found[index]

    return list(
        await asyncio.gather(*(one(index, text, uri) for index, (text, uri) in enumerate(uris)))
    )
