"""The responder inspects Require and Accept as RFC 3261 §8.2.2.3 and §8.2.3 say, over real
loopback sockets: an unsupported extension gets 420 Bad Extension with Unsupported, an
INVITE whose Accept rules out the SDP answer gets 406 Not Acceptable."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest

from probe.sip import (
    Headers,
    Request,
    build_options,
    new_branch,
    parse_message,
    parse_uri,
    random_token,
)
from tests.serve.conftest import StartResponder
from tests.serve.sip_client import CALLEE, connect, sdes_offer


def with_headers(request: Request, *fields: tuple[str, str]) -> Request:
    items = [*request.headers.items()]
    items[-1:-1] = fields  # before Content-Length
    return replace(request, headers=Headers(items))


def _options(client_local: tuple[str, int], transport: str) -> Request:
    host, port = client_local
    return build_options(
        parse_uri(CALLEE),
        transport=transport,
        local_host=host,
        local_port=port,
        branch=new_branch(random_token()),
        from_tag=random_token(6),
        call_id=random_token(),
        user_agent="responder-test",
    )


@pytest.mark.parametrize(
    ("required", "unsupported"),
    [(("100rel",), "100rel"), (("100rel, timer", "foo"), "100rel, timer, foo")],
)
async def test_an_invite_requiring_an_extension_gets_420_with_unsupported(
    start_responder: StartResponder, required: tuple[str, ...], unsupported: str
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        invite = with_headers(
            client.invite(sdes_offer()), *(("Require", value) for value in required)
        )
        await client.send(invite)
        responses = await client.until_final()
        assert [r.status_code for r in responses] == [100, 420]
        assert responses[-1].reason == "Bad Extension"
        assert responses[-1].headers.get("Unsupported") == unsupported
        assert responder.open_dialogs == 0


async def test_options_requiring_an_extension_gets_420_over_tcp_and_udp(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        request = with_headers(_options(client.local, "TCP"), ("Require", "gruu"))
        await client.send(request)
        refused = await client.receive()
        assert refused.status_code == 420
        assert refused.headers.get("Unsupported") == "gruu"
        # Without Require the same request is answered 200.
        await client.send(_options(client.local, "TCP"))
        assert (await client.receive()).status_code == 200

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        local = sock.getsockname()
        request = with_headers(_options(local, "UDP"), ("Require", "foo, bar"))
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(sock, request.to_bytes(), ("127.0.0.1", responder.port_of("udp")))
        async with asyncio.timeout(2):
            data = await loop.sock_recv(sock, 65535)
    response = parse_message(data)
    assert getattr(response, "status_code", None) == 420
    assert response.headers.get("Unsupported") == "foo, bar"


@pytest.mark.parametrize(
    "accept",
    ["text/plain", "application/pkcs7-mime, text/html", "application/sdp;q=0", ""],
)
async def test_an_invite_whose_accept_excludes_sdp_gets_406(
    start_responder: StartResponder, accept: str
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        invite = with_headers(client.invite(sdes_offer()), ("Accept", accept))
        await client.send(invite)
        responses = await client.until_final()
        assert [r.status_code for r in responses] == [100, 406]
        assert responses[-1].headers.get("Accept") == "application/sdp"
        assert responder.open_dialogs == 0


@pytest.mark.parametrize(
    "accept", ["application/sdp", "*/*", "Application/*;q=0.5", "text/plain, application/sdp"]
)
async def test_an_invite_whose_accept_allows_sdp_is_answered(
    start_responder: StartResponder, accept: str
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        invite = with_headers(client.invite(sdes_offer()), ("Accept", accept))
        await client.send(invite)
        responses = await client.until_final()
        assert [r.status_code for r in responses] == [100, 180, 200]
        assert responses[-1].headers.get("Content-Type") == "application/sdp"
