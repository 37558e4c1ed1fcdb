"""Where a call's messages travel: the stream connection it arrived on, or the UDP
socket and the address it came from.

Everything a call sends goes back the way its INVITE came: over TLS, TCP, WS and WSS on
the same connection (RFC 3261 §18.2.2; a WebSocket client is reached only over the
connection it opened, RFC 7118), over UDP to the source address and port (RFC 3581 §4),
in-dialog requests (our BYE) included, as a UA reached through its provider's edge does.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol

from probe.evidence.inbound import InboundTls, InboundTransport
from probe.evidence.model import WebSocketUpgrade

__all__ = ["DatagramLink", "Link", "StreamLink", "media_address", "where"]


def where(address: tuple[str, int]) -> str:
    """`address:port`, an IPv6 address in brackets."""
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Link(Protocol):
    transport: InboundTransport
    reliable: bool
    peer: tuple[str, int]
    local: tuple[str, int]
    """Our address and the listener's port: what Via and Contact name."""
    tls: InboundTls | None
    websocket: WebSocketUpgrade | None
    """The upgrade that opened the WebSocket the link runs on (ws, wss)."""

    @property
    def closed(self) -> bool: ...

    def send(self, data: bytes) -> bool:
        """Queue `data`; False when the link is gone and nothing was sent."""
        ...


class StreamLink:
    """One accepted TLS or TCP connection."""

    reliable = True
    websocket: WebSocketUpgrade | None = None

    def __init__(
        self,
        transport: InboundTransport,
        writer: asyncio.StreamWriter,
        peer: tuple[str, int],
        local: tuple[str, int],
        tls: InboundTls | None,
    ) -> None:
        self.transport = transport
        self.writer = writer
        self.peer = peer
        self.local = local
        self.tls = tls
        self._lost = False

    @property
    def closed(self) -> bool:
        return self._lost or self.writer.is_closing()

    def lose(self) -> None:
        self._lost = True

    def send(self, data: bytes) -> bool:
        if self.closed:
            return False
        try:
            self.writer.write(data)
        except (OSError, RuntimeError):
            self._lost = True
            return False
        return True


class DatagramLink:
    """A caller over UDP: our listening socket and the caller's source address."""

    reliable = False

    def __init__(
        self,
        transport: asyncio.DatagramTransport,
        peer: tuple[str, int],
        local: tuple[str, int],
    ) -> None:
        self.transport: InboundTransport = "udp"
        self.tls: InboundTls | None = None
        self.websocket: WebSocketUpgrade | None = None
        self.socket = transport
        self.peer = peer
        self.local = local

    @property
    def closed(self) -> bool:
        return self.socket.is_closing()

    def send(self, data: bytes) -> bool:
        if self.closed:
            return False
        try:
            self.socket.sendto(data, self.peer)
        except OSError:
            return False
        return True


def media_address(listen_host: str, peer: tuple[str, int]) -> str:
    """The local address to put in our answer's c= line: the listener's own address, or
    for a wildcard listener the one the kernel would use to reach the caller (a UDP
    `connect` sends nothing; it only picks the route)."""
    if listen_host not in ("", "0.0.0.0", "::"):
        return listen_host
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(peer)
            return str(probe.getsockname()[0])
        except OSError:
            return "::1" if family == socket.AF_INET6 else "127.0.0.1"
