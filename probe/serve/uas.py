"""The responder's configuration and its stateless answers (RFC 3261 §8.2, §11.2).

OPTIONS gets 200 with the header fields §11.2 says a 200 to OPTIONS should carry; a
method the responder does not implement gets 501 (§21.5.2); ACK is never answered
(§17.1.1.3).  Calls (INVITE, CANCEL, BYE and what happens inside a dialog) keep state
per connection and live in :mod:`probe.serve.calls`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from probe import __version__
from probe.serve.offer_answer import MediaMode
from probe.sip import Request, Response, build_response

__all__ = ["ALLOW", "ResponderConfig", "ServeTransport", "answer", "common_headers"]

ServeTransport = Literal["tls", "tcp", "udp"]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


@dataclass(frozen=True, slots=True)
class ResponderConfig:
    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    transports: Sequence[ServeTransport] = ("tls",)
    cert_file: Path | None = None
    """Certificate chain presented to clients, leaf first (PEM)."""
    key_file: Path | None = None
    server_header: str = f"sipprobe-responder/{__version__}"
    extra_headers: Sequence[tuple[str, str]] = field(default=())
    media: MediaMode = "srtp"
    """How an INVITE's offer is answered: SDES-SRTP, plain RTP (a misconfigured trunk),
    or refused with 488 (see probe.serve.offer_answer)."""
    answer_delay: float = 0.0
    """Seconds between 180 Ringing and the 200, during which a CANCEL can arrive."""


def common_headers(config: ResponderConfig) -> tuple[tuple[str, str], ...]:
    return (("Server", config.server_header), *config.extra_headers)


def answer(
    request: Request,
    config: ResponderConfig,
    *,
    to_tag: str,
    source: tuple[str, int] | None = None,
) -> Response | None:
    """The stateless response to `request`, or None where SIP forbids one (ACK)."""
    if request.method == "ACK":
        return None
    common = common_headers(config)
    if request.method == "OPTIONS":
        return build_response(
            request,
            200,
            "OK",
            to_tag=to_tag,
            source=source,
            extra_headers=(
                ("Allow", ALLOW),
                ("Accept", "application/sdp"),
                ("Accept-Encoding", "identity"),
                ("Accept-Language", "en"),
                ("Supported", "replaces, timer"),
                *common,
            ),
        )
    return build_response(
        request,
        501,
        "Not Implemented",
        to_tag=to_tag,
        source=source,
        extra_headers=(("Allow", ALLOW), *common),
    )
