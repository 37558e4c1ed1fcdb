"""The responder's configuration and its stateless answers (RFC 3261 §8.2, §11.2).

OPTIONS gets 200 with the header fields §11.2 says a 200 to OPTIONS should carry (or 420
Bad Extension with Unsupported when it requires an extension, §8.2.2.3); a
method the responder does not implement gets 501 (§21.5.2); ACK is never answered
(§17.1.1.3).  Calls (INVITE, CANCEL, BYE and what happens inside a dialog) keep state
per connection and live in :mod:`probe.serve.calls`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from probe import __version__
from probe.serve.offer_answer import MediaMode
from probe.sip import Request, Response, build_response

__all__ = [
    "ALLOW",
    "ResponderConfig",
    "ServeTransport",
    "accepts_sdp",
    "answer",
    "common_headers",
    "unsupported_required",
]

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
    log: Callable[[str], None] | None = field(default=None, compare=False)
    """`serve -v`: where a line for each answer goes (probe.serve.log)."""


def common_headers(config: ResponderConfig) -> tuple[tuple[str, str], ...]:
    return (("Server", config.server_header), *config.extra_headers)


def unsupported_required(request: Request) -> str | None:
    """The option tags of the request's Require, all unsupported (this responder uses no
    extension), as an Unsupported value; None when nothing is required (§8.2.2.3)."""
    tags = [tag for tag in request.headers.get_all("Require") if tag]
    return ", ".join(tags) if tags else None


def accepts_sdp(request: Request) -> bool:
    """Whether a response body of application/sdp is acceptable to the request's Accept
    (§20.1: no Accept means application/sdp; an empty one accepts no body at all)."""
    if not request.headers.fields("Accept"):
        return True
    for item in request.headers.get_all("Accept"):
        media_range, *params = (part.strip(" \t").lower() for part in item.split(";"))
        if any(param.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for param in params):
            continue  # §20.1 / RFC 2616 §14.1: q=0 means "not acceptable"
        if media_range.replace(" ", "") in ("*/*", "application/*", "application/sdp"):
            return True
    return False


def bad_extension(
    request: Request,
    unsupported: str,
    config: ResponderConfig,
    *,
    to_tag: str,
    source: tuple[str, int] | None = None,
) -> Response:
    """420 Bad Extension listing what is not supported in Unsupported (§8.2.2.3)."""
    return build_response(
        request,
        420,
        "Bad Extension",
        to_tag=to_tag,
        source=source,
        extra_headers=(("Unsupported", unsupported), *common_headers(config)),
    )


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
        # §8.2: the method is known, so the headers are inspected next: a Require naming
        # an extension we do not support is refused (§8.2.2.3).
        unsupported = unsupported_required(request)
        if unsupported is not None:
            return bad_extension(request, unsupported, config, to_tag=to_tag, source=source)
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
