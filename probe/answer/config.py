"""What an answer run is told: where to listen, which certificate to present, what to ask
of a caller's TLS, and what to wait for (the shared InboundExpectation)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from probe import __version__
from probe.errors import ProbeError
from probe.evidence.inbound import InboundExpectation, InboundTransport
from probe.evidence.model import TLS_TRANSPORTS
from probe.sip import TimerConfig

__all__ = ["AnswerConfig", "AnswerConfigError", "ListenerSpec"]


class AnswerConfigError(ProbeError):
    """An answer run that cannot start as configured (nothing was bound)."""


@dataclass(frozen=True, slots=True)
class ListenerSpec:
    """One socket to listen on; port 0 picks a free one (`ready` says which)."""

    transport: InboundTransport
    host: str = "127.0.0.1"
    port: int = 0


@dataclass(frozen=True, slots=True)
class AnswerConfig:
    listeners: tuple[ListenerSpec, ...]
    cert_file: Path | None = None
    """Our certificate chain, leaf first (PEM): what a TLS or WSS listener presents."""
    key_file: Path | None = None
    client_ca: Path | None = None
    """Anchors a caller's client certificate is verified against. Python's ssl cannot ask
    for a client certificate without verifying it; with None, the system's anchors are
    used. Whatever the verification concludes, the chain presented is recorded."""
    request_client_cert: bool = False
    """Ask every TLS caller for a client certificate (mutual TLS, RFC 8446 §4.3.2)."""
    expectation: InboundExpectation = field(default_factory=InboundExpectation)
    server_header: str = f"sipprobe/{__version__}"
    """Our Server header in responses and User-Agent in our own requests (BYE)."""
    ring_s: float = 0.0
    """Seconds between 180 Ringing and the 200, during which a caller may CANCEL."""
    timers: TimerConfig = field(default_factory=TimerConfig)
    """T1 and T2 pace our 2xx and BYE retransmissions; 64*T1 is how long a 2xx waits for
    its ACK (RFC 3261 §13.3.1.4)."""

    @property
    def runs_tls(self) -> bool:
        """A listener runs TLS (tls, or wss: TLS under the WebSocket, RFC 7118 §5.2.1)."""
        return any(spec.transport in TLS_TRANSPORTS for spec in self.listeners)

    def check(self) -> None:
        """Raise AnswerConfigError for what would stop the run before it listens."""
        if not self.listeners:
            raise AnswerConfigError("an answer run needs at least one listener")
        for spec in self.listeners:
            if spec.transport not in ("tls", "tcp", "udp", "ws", "wss"):
                raise AnswerConfigError(f"unknown transport {spec.transport!r}")
            if not 0 <= spec.port <= 65535:
                raise AnswerConfigError(f"port {spec.port} is not 0-65535")
        if self.runs_tls and self.cert_file is None:
            raise AnswerConfigError("a TLS listener needs a certificate (cert_file)")
        expectation = self.expectation
        if expectation.calls < 1:
            raise AnswerConfigError("at least one call must be expected")
        for name, value in (
            ("within_s", expectation.within_s),
            ("hold_s", expectation.hold_s),
            ("ring_s", self.ring_s),
        ):
            if not 0 <= value < math.inf:
                raise AnswerConfigError(f"{name} must be a finite number of seconds >= 0")
