"""The hostile behaviours of OPTIONS probes, and the finding each must produce.

Every row is one behaviour: the layer it runs on, what the server does, and the finding
that must come out (check id, status, a fragment of the summary naming the fault), plus
the deadline that bounds it (and whether that deadline is what ends the probe). The same
ids appear in docs/hostile-peers.md; a test keeps the two in step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from probe.net.deadlines import Deadlines
from probe.verdict.findings import Status
from tests.hostile.server import (
    ALERTS,
    Behaviour,
    DatagramBehaviour,
    DatagramPeer,
    Layer,
    StreamPeer,
    alert_record,
    compose,
    server_context,
)

FAST = Deadlines(dns=1.0, connect=1.0, handshake=0.5, first_byte=0.5, message=0.5, transaction=0.8)
"""Short deadlines so that the whole suite stays fast (each ≤ 1 s)."""

REDIRECT_TARGET = "sip:other@192.0.2.7:5061;transport=tls"


@dataclass(frozen=True)
class Case:
    id: str
    layer: Layer
    behaviour: Behaviour | DatagramBehaviour
    check: str
    status: Status
    fragment: str
    deadline: str
    """The phase whose deadline bounds this case (`answer`: the call's ring time)."""
    expires: bool = False
    """True when that deadline passing is what ends the probe."""
    deadlines: Deadlines = FAST
    also: Mapping[str, Status] = field(default_factory=dict)
    details: Mapping[str, object] = field(default_factory=dict)
    what: str = ""
    """The behaviour in words, for the table in docs/hostile-peers.md."""


# --- before TLS ------------------------------------------------------------------------


async def never_answer_client_hello(peer: StreamPeer) -> None:
    await peer.raw()
    await peer.hold()


def send_alert(name: str) -> Behaviour:
    async def behaviour(peer: StreamPeer) -> None:
        await peer.raw()
        await peer.send(alert_record(ALERTS[name]))
        await peer.hold()

    return behaviour


async def require_client_cert(peer: StreamPeer) -> None:
    await peer.tls_by_hand(server_context(peer.lab, require_client_cert=True))
    await peer.hold()


async def garbage_instead_of_tls(peer: StreamPeer) -> None:
    await peer.raw()
    await peer.send(b"HELLO? this is a modem, not TLS\r\n" * 4)
    await peer.hold()


# --- after the handshake ---------------------------------------------------------------


async def close_after_handshake(peer: StreamPeer) -> None:
    await peer.close()


async def close_after_request(peer: StreamPeer) -> None:
    await peer.request()
    await peer.close()


async def non_sip_bytes(peer: StreamPeer) -> None:
    await peer.request()
    await peer.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    await peer.hold()


async def silent_after_request(peer: StreamPeer) -> None:
    await peer.request()
    await peer.hold()


def drip(interval: float, every: int = 1) -> Behaviour:
    async def behaviour(peer: StreamPeer) -> None:
        request = await peer.request()
        assert request is not None
        await peer.drip(compose(request), interval, every)
        await peer.hold()

    return behaviour


def answer_with(*parts: object, then_hold: bool = True, **options: object) -> Behaviour:
    """Answer the request with `compose(request, *parts, **options)`."""

    async def behaviour(peer: StreamPeer) -> None:
        request = await peer.request()
        assert request is not None
        await peer.send(compose(request, *parts, **options))  # type: ignore[arg-type]
        if then_hold:
            await peer.hold()

    return behaviour


def answer_raw(build: object) -> Behaviour:
    """Answer with `build(request)`: bytes a test makes by hand."""

    async def behaviour(peer: StreamPeer) -> None:
        request = await peer.request()
        assert request is not None
        await peer.send(build(request))  # type: ignore[operator]
        await peer.hold()

    return behaviour


async def endless_header_line(peer: StreamPeer) -> None:
    await peer.request()
    await peer.send(b"SIP/2.0 200 OK\r\nX-Endless: " + b"a" * 9000)
    await peer.hold()


async def header_block_past_limit(peer: StreamPeer) -> None:
    request = await peer.request()
    assert request is not None
    filler = [f"X-Filler-{n}: {'b' * 1000}".encode() for n in range(40)]
    await peer.send(compose(request, extra=filler))
    await peer.hold()


async def body_past_limit(peer: StreamPeer) -> None:
    request = await peer.request()
    assert request is not None
    await peer.send(compose(request, body=b"x" * 70_000))
    await peer.hold()


async def stray_then_right(peer: StreamPeer) -> None:
    request = await peer.request()
    assert request is not None
    await peer.send(compose(request, 486, "Busy Here", branch="z9hG4bKsomeoneelse"))
    await asyncio.sleep(0.01)  # a record of its own
    await peer.send(compose(request))
    await peer.hold()


async def stray_cseq_then_right(peer: StreamPeer) -> None:
    request = await peer.request()
    assert request is not None
    await peer.send(compose(request, cseq=f"{request.cseq.number + 7} OPTIONS"))
    await asyncio.sleep(0.01)
    await peer.send(compose(request))
    await peer.hold()


async def two_in_one_record(peer: StreamPeer) -> None:
    request = await peer.request()
    assert request is not None
    # One write, one TLS record: the answer, then a second final for the same request.
    await peer.send(compose(request) + compose(request, 200, "OK again"))
    await peer.hold()


async def late_final(peer: StreamPeer) -> None:
    request = await peer.request()
    assert request is not None
    await asyncio.sleep(0.8)
    await peer.send(compose(request))
    await peer.hold()


async def provisional_then_final(peer: StreamPeer) -> None:
    request = await peer.request()
    assert request is not None
    await peer.send(compose(request, 199, "Early Dialog Terminated"))
    await peer.send(compose(request))
    await peer.hold()


def cut_mid_response(how: str) -> Behaviour:
    async def behaviour(peer: StreamPeer) -> None:
        request = await peer.request()
        assert request is not None
        await peer.send(compose(request)[:60])
        await asyncio.sleep(0.05)
        if how == "reset":
            peer.reset()
        else:
            await peer.close()

    return behaviour


# --- UDP ---------------------------------------------------------------------------------


async def udp_silent(peer: DatagramPeer) -> None:
    await peer.request()
    await peer.hold()


async def udp_garbage(peer: DatagramPeer) -> None:
    await peer.request()
    await peer.send(b"\x00\x01 definitely not SIP\r\n\r\n")
    await peer.hold()


async def udp_trying_then_nothing(peer: DatagramPeer) -> None:
    request = await peer.request()
    assert request is not None
    await peer.send(compose(request, 100, "Trying"))
    await peer.hold()


def _swap(old: bytes, new: bytes, **options: object) -> object:
    def build(request: object) -> bytes:
        return compose(request, **options).replace(old, new, 1)  # type: ignore[arg-type]

    return build


def _row(
    id: str,
    layer: Layer,
    behaviour: Behaviour | DatagramBehaviour,
    check: str,
    status: Status,
    fragment: str,
    deadline: str,
    what: str,
    **more: object,
) -> Case:
    return Case(id, layer, behaviour, check, status, fragment, deadline, what=what, **more)  # type: ignore[arg-type]


F, P, W = Status.FAIL, Status.PASS, Status.WARN
OPTIONS = "sip.options"
HANDSHAKE = "tls.handshake"
RESPONSE = "sip.response"

CASES: tuple[Case, ...] = (
    _row("no-server-hello", "raw", never_answer_client_hello, HANDSHAKE, F,
         "did not complete the TLS handshake within 0.5 s (handshake deadline)", "handshake",
         "accepts TCP, never answers the ClientHello", expires=True),
    _row("close-after-handshake", "tls", close_after_handshake, OPTIONS, F,
         "the server closed the connection|the server reset the connection", "first_byte",
         "completes the TLS handshake, then closes (close_notify)"),
    *(
        _row(f"alert-{name.replace(' ', '-')}", "raw", send_alert(name), HANDSHAKE, F,
             f"the server sent TLS alert '{name}'", "handshake",
             f"answers the ClientHello with a fatal '{name}' alert ({code})")
        for name, code in ALERTS.items()
    ),
    _row("mtls-no-client-cert", "raw", require_client_cert, OPTIONS, F,
         "TLS alert 'certificate required' (the server requires a client certificate",
         "first_byte", "requires a client certificate; on TLS 1.3 the alert comes after the"
         " client's handshake has finished"),
    _row("garbage-not-tls", "raw", garbage_instead_of_tls, HANDSHAKE, F,
         "the server did not answer with TLS", "handshake", "sends text instead of a ServerHello"),
    _row("non-sip-after-tls", "tls", non_sip_bytes, OPTIONS, F,
         "the answer to OPTIONS is not valid SIP", "first_byte",
         "answers TLS, then sends an HTTP response", also={RESPONSE: F}),
    _row("silent-after-request", "tls", silent_after_request, OPTIONS, F,
         "no first byte within 0.5 s (first_byte deadline)", "first_byte",
         "reads the OPTIONS and never answers", expires=True),
    _row("slow-drip-in-time", "tls", drip(0.01, every=32), OPTIONS, P, "200 OK", "message",
         "sends the 200 one byte per TLS record, pausing 10 ms every 32 bytes: it ends"
         " inside the message deadline",
         deadlines=Deadlines(handshake=0.5, first_byte=0.5, message=1.0, transaction=1.0)),
    _row("slow-drip-too-slow", "tls", drip(0.01), OPTIONS, F,
         "message incomplete after 0.5 s", "message",
         "sends the 200 one byte per TLS record, 10 ms apart: too slow", expires=True,
         deadlines=Deadlines(handshake=0.5, first_byte=0.5, message=0.5, transaction=1.0)),
    _row("endless-header-line", "tls", endless_header_line, OPTIONS, F,
         "max_line_bytes=8192 exceeded", "first_byte",
         "sends a header line that never ends", also={RESPONSE: F}),
    _row("header-block-past-limit", "tls", header_block_past_limit, OPTIONS, F,
         "max_header_bytes=32768 exceeded", "first_byte",
         "sends a 40 KiB header section", also={RESPONSE: F}),
    _row("body-past-limit", "tls", body_past_limit, OPTIONS, F,
         "max_body_bytes=65536 exceeded", "first_byte",
         "declares and sends a 70 000-byte body", also={RESPONSE: F}),
    _row("content-length-larger-then-stall", "tls",
         answer_with(body=b"v=0\r\n", content_length="100"), OPTIONS, F,
         "message incomplete after 0.5 s", "message",
         "declares Content-Length 100, sends 5 bytes of body and stalls", expires=True,
         deadlines=Deadlines(handshake=0.5, first_byte=0.5, message=0.5, transaction=1.0)),
    _row("content-length-negative", "tls", answer_with(content_length="-1"), OPTIONS, F,
         "Content-Length '-1': digits expected", "first_byte", "sends Content-Length: -1"),
    _row("content-length-non-numeric", "tls", answer_with(content_length="ten"), OPTIONS, F,
         "Content-Length 'ten': digits expected", "first_byte", "sends Content-Length: ten"),
    _row("stray-branch-then-right", "tls", stray_then_right, OPTIONS, P, "200 OK",
         "transaction", "answers another branch first (486), then ours (200)",
         also={RESPONSE: W}, details={"stray": 1}),
    _row("stray-cseq-then-right", "tls", stray_cseq_then_right, OPTIONS, P, "200 OK",
         "transaction", "answers another CSeq first, then ours", also={RESPONSE: W},
         details={"stray": 1}),
    _row("two-responses-one-record", "tls", two_in_one_record, OPTIONS, P, "200 OK",
         "transaction", "sends the 200 and a second final response in one TLS record",
         also={RESPONSE: W}),
    _row("trying-then-nothing", "tls", answer_with(100, "Trying"), OPTIONS, F,
         "no final response within 0.8 s (transaction deadline); last provisional: 100 Trying",
         "transaction", "sends 100 Trying, then nothing", expires=True),
    _row("final-after-deadline", "tls", late_final, OPTIONS, F,
         "no final response within 0.5 s (transaction deadline)", "transaction",
         "sends the 200 after the transaction deadline", expires=True,
         deadlines=Deadlines(handshake=0.5, first_byte=1.0, message=0.5, transaction=0.5)),
    _row("status-199", "tls", provisional_then_final, OPTIONS, P, "200 OK", "transaction",
         "sends 199 (a provisional response), then 200", details={"provisional": [199]}),
    _row("status-299", "tls", answer_with(299, "Odd Success"), OPTIONS, P, "299 Odd Success",
         "transaction", "answers 299 (a success of class 2xx)"),
    _row("status-699", "tls", answer_with(699, "Odd Global"), OPTIONS, F,
         "a global failure (6xx, §21.6)", "transaction", "answers 699 (a global failure)"),
    _row("status-700", "tls", answer_raw(_swap(b"SIP/2.0 200", b"SIP/2.0 700")), OPTIONS, F,
         "invalid status code: '700' is not in 100-699", "first_byte", "answers 700",
         also={RESPONSE: F}),
    _row("status-1000", "tls", answer_raw(_swap(b"SIP/2.0 200", b"SIP/2.0 1000")), OPTIONS, F,
         "invalid status code: '1000' is not in 100-699", "first_byte", "answers 1000",
         also={RESPONSE: F}),
    _row("sip-2.1", "tls", answer_raw(_swap(b"SIP/2.0 200", b"SIP/2.1 200")), OPTIONS, F,
         "unsupported SIP version: 'SIP/2.1' is not SIP/2.0", "first_byte",
         "answers with SIP/2.1 in the status line", also={RESPONSE: F}),
    *(
        _row(f"missing-{name.lower()}", "tls", answer_with(drop=(name,)), OPTIONS, F,
             f"missing mandatory {name} header", "first_byte", f"answers without {name}",
             also={RESPONSE: F})
        for name in ("Via", "CSeq", "Call-ID", "From", "To")
    ),
    _row("non-utf8-reason", "tls", answer_raw(_swap(b"200 OK", b"200 Caf\xe9")), OPTIONS, F,
         "the reason phrase is not valid UTF-8 (byte 0xe9", "first_byte",
         "sends a Latin-1 byte in the reason phrase", also={RESPONSE: F}),
    _row("non-utf8-header", "tls", answer_with(extra=[b"Server: Caf\xe9 SBC"]), OPTIONS, F,
         "header Server is not valid UTF-8 (byte 0xe9", "first_byte",
         "sends a Latin-1 byte in a header value", also={RESPONSE: F}),
    _row("nul-byte", "tls", answer_with(extra=[b"Server: SBC\x00 1.0"]), OPTIONS, F,
         "NUL byte at column 12 of the Server header", "first_byte",
         "sends a NUL byte in a header value", also={RESPONSE: F}),
    _row("redirect-302", "tls",
         answer_with(302, "Moved Temporarily", extra=[("Contact", f"<{REDIRECT_TARGET}>")]),
         OPTIONS, F, f"redirected with 302 Moved Temporarily to {REDIRECT_TARGET}; not followed"
         " (use --follow-redirects to probe it)", "transaction",
         "answers 302 with a Contact on another host", details={"redirect_to": [REDIRECT_TARGET]}),
    _row("reset-mid-response", "tls", cut_mid_response("reset"), OPTIONS, F,
         "the server reset the connection in the middle of a message (60 bytes received)",
         "first_byte", "sends 60 bytes of the 200, then a TCP RST (SO_LINGER 0)"),
    _row("close-notify-mid-response", "tls", cut_mid_response("close"), OPTIONS, F,
         "the server closed the connection in the middle of a message (60 bytes received)",
         "first_byte", "sends 60 bytes of the 200, then TLS close_notify"),
    _row("tcp-close-after-request", "tcp", close_after_request, OPTIONS, F,
         "the server closed the connection", "first_byte",
         "plain TCP: reads the OPTIONS, then closes without a word"),
    _row("tcp-stray-then-right", "tcp", stray_then_right, OPTIONS, P, "200 OK", "transaction",
         "plain TCP: a stray response, then the right one", also={RESPONSE: W}),
    _row("udp-silent", "udp", udp_silent, OPTIONS, F,
         "no first byte within 0.5 s (first_byte deadline)", "first_byte",
         "UDP: reads the OPTIONS, never answers", expires=True),
    _row("udp-garbage", "udp", udp_garbage, OPTIONS, F, "the answer to OPTIONS is not valid SIP",
         "first_byte", "UDP: answers with a datagram that is not SIP", also={RESPONSE: F}),
    _row("udp-trying-then-nothing", "udp", udp_trying_then_nothing, OPTIONS, F,
         "no final response within 0.8 s (transaction deadline); last provisional: 100 Trying",
         "transaction", "UDP: 100 Trying, then nothing", expires=True),
)  # fmt: skip
