"""What a connection does beside calls: OPTIONS pings answered 200 and recorded, CRLF
keep-alives ponged, garbage and unknown dialogs answered as SIP says, and a connection
that closes under a call."""

from __future__ import annotations

import asyncio
import socket

from probe.tls.lab import LabFiles
from tests.answer.kit import answering, config, only_call

OFFER = (
    b"v=0\r\no=c 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 5004 RTP/AVP 0\r\n"
)


def request(method: str, port: int, *, to_tag: str = "", body: bytes = b"") -> bytes:
    headers = [
        f"{method} sip:answer@127.0.0.1:{port} SIP/2.0",
        "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKconn1;rport",
        "Max-Forwards: 70",
        "From: <sip:trunk@127.0.0.1>;tag=caller1",
        f"To: <sip:answer@127.0.0.1>{';tag=' + to_tag if to_tag else ''}",
        "Call-ID: connection-test",
        f"CSeq: 1 {method}",
        "Contact: <sip:trunk@127.0.0.1:5999;transport=tcp>",
    ]
    if body:
        headers.append("Content-Type: application/sdp")
    headers.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def read_until(reader: asyncio.StreamReader, marker: bytes) -> bytes:
    data = b""
    async with asyncio.timeout(10):
        while marker not in data:
            chunk = await reader.read(65536)
            if not chunk:
                break
            data += chunk
    return data


async def test_options_is_answered_200_and_crlf_pings_are_ponged(lab: LabFiles) -> None:
    async with answering(config(lab, "tcp")) as run:
        port = run.port("tcp")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # RFC 5626 §4.4.1: a CRLF CRLF ping, answered by one CRLF, before the OPTIONS.
        writer.write(b"\r\n\r\n" + request("OPTIONS", port))
        data = await read_until(reader, b"\r\n\r\n")
        writer.close()
        run.stop.set()
        evidence = await run.evidence()
    assert data.startswith(b"\r\nSIP/2.0 200 OK\r\n")
    assert b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS" in data
    (connection,) = evidence.connections
    assert connection.transport == "tcp"
    assert connection.requests == ("OPTIONS",)
    assert connection.error is None
    assert evidence.calls == ()


async def test_options_over_udp_is_answered_and_recorded_per_source(lab: LabFiles) -> None:
    async with answering(config(lab, "udp")) as run:
        port = run.port("udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(5)
            udp.sendto(request("OPTIONS", port), ("127.0.0.1", port))
            answer = await asyncio.to_thread(udp.recv, 65536)
            udp.sendto(b"this is not SIP\r\n\r\n", ("127.0.0.1", port))
            source = udp.getsockname()
            await asyncio.sleep(0.2)
        run.stop.set()
        evidence = await run.evidence()
    assert answer.startswith(b"SIP/2.0 200 OK\r\n")
    assert f"received=127.0.0.1;rport={source[1]}".encode() in answer  # RFC 3581 §4
    (connection,) = evidence.connections
    assert connection.peer == f"127.0.0.1:{source[1]}"
    assert connection.requests == ("OPTIONS",)
    assert connection.error is not None
    assert connection.error.startswith("sent a datagram that is not SIP")


async def test_garbage_on_a_stream_is_recorded_and_the_connection_closed(lab: LabFiles) -> None:
    async with answering(config(lab, "tcp")) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port("tcp"))
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        async with asyncio.timeout(10):
            assert await reader.read() == b""  # closed on us
        writer.close()
        run.stop.set()
        evidence = await run.evidence()
    (connection,) = evidence.connections
    assert connection.error is not None
    assert connection.error.startswith("sent something that is not SIP")


async def test_a_bye_for_no_dialog_gets_481(lab: LabFiles) -> None:
    async with answering(config(lab, "tcp")) as run:
        port = run.port("tcp")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("BYE", port, to_tag="nosuch"))
        data = await read_until(reader, b"\r\n\r\n")
        writer.close()
        run.stop.set()
        await run.evidence()
    assert data.startswith(b"SIP/2.0 481 Call/Transaction Does Not Exist\r\n")


async def test_a_connection_closing_under_an_answered_call_is_connection_lost(
    lab: LabFiles,
) -> None:
    async with answering(config(lab, "tcp", hold_s=30)) as run:
        port = run.port("tcp")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("INVITE", port, body=OFFER))
        data = await read_until(reader, b"SIP/2.0 200 OK")
        writer.close()  # gone without ACK or BYE
        evidence = await run.evidence(timeout=15)
    assert b"SIP/2.0 180 Ringing" in data
    call = only_call(evidence)
    assert call.final_status == 200
    assert call.teardown == "connection_lost"
    assert call.bye_status is None
    # The caller may still think the call is up: it was never ended by a BYE.
    assert call.dialogs_left_open == 1
    assert evidence.stopped is None


async def test_a_connection_closing_while_a_call_rings_leaves_no_dialog(lab: LabFiles) -> None:
    async with answering(config(lab, "tcp", ring_s=30)) as run:
        port = run.port("tcp")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request("INVITE", port, body=OFFER))
        await read_until(reader, b"SIP/2.0 180 Ringing")
        writer.close()
        evidence = await run.evidence(timeout=15)
    call = only_call(evidence)
    assert call.final_status is None
    assert call.teardown == "connection_lost"
    assert call.dialogs_left_open == 0
