"""A bare SIP client over TCP for the responder tests that need to act between messages
(mid-call state, malformed offers, a missing ACK): our own builders, no call logic."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

from probe.sdp import build_offer, parse_sdp
from probe.sip import (
    Dialog,
    Request,
    Response,
    StreamFramer,
    build_invite,
    new_branch,
    parse_uri,
    random_token,
)

CALLEE = "sip:+15550100@sip.example.test"


def sdes_offer(port: int = 40000) -> bytes:
    offer = build_offer(
        "sdes",
        address="127.0.0.1",
        port=port,
        session_id=1,
        random_bytes=secrets.token_bytes,
    )
    return offer.to_bytes(reveal_keys=True)


def make_invite(
    body: bytes,
    *,
    local: tuple[str, int],
    transport: str = "TCP",
    content_type: str = "application/sdp",
) -> Request:
    return build_invite(
        parse_uri(CALLEE),
        transport=transport,
        local_host=local[0],
        local_port=local[1],
        branch=new_branch(random_token()),
        from_tag=random_token(6),
        call_id=random_token(),
        user_agent="responder-test",
        body=body,
        content_type=content_type,
    )


@dataclass
class RawClient:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    framer: StreamFramer

    @property
    def local(self) -> tuple[str, int]:
        host, port = self.writer.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def invite(self, body: bytes, *, content_type: str = "application/sdp") -> Request:
        return make_invite(body, local=self.local, content_type=content_type)

    def ack(self, dialog: Dialog, invite: Request) -> Request:
        host, port = self.local
        return dialog.build_ack(
            invite=invite,
            branch=new_branch(random_token()),
            local_host=host,
            local_port=port,
            transport="TCP",
        )

    def bye(self, dialog: Dialog) -> tuple[Request, Dialog]:
        host, port = self.local
        return dialog.build_bye(
            branch=new_branch(random_token()),
            local_host=host,
            local_port=port,
            transport="TCP",
            user_agent="responder-test",
        )

    async def send(self, request: Request) -> None:
        self.writer.write(request.to_bytes())
        await self.writer.drain()

    async def receive(self, timeout: float = 2.0) -> Response:
        async with asyncio.timeout(timeout):
            while (message := self.framer.next_message()) is None:
                data = await self.reader.read(65536)
                assert data, "the responder closed the connection"
                self.framer.feed(data)
        assert isinstance(message, Response), message
        return message

    async def until_final(self, timeout: float = 2.0) -> list[Response]:
        """Every response up to and including the first final one."""
        responses = [await self.receive(timeout)]
        while responses[-1].status_code < 200:
            responses.append(await self.receive(timeout))
        return responses

    async def call(self) -> tuple[Request, Dialog, Response]:
        """INVITE with an SDES offer, answered 200 and ACKed: the dialog is up."""
        invite = self.invite(sdes_offer())
        await self.send(invite)
        responses = await self.until_final()
        assert [r.status_code for r in responses] == [100, 180, 200]
        dialog = Dialog.from_response(invite, responses[-1])
        await self.send(self.ack(dialog, invite))
        return invite, dialog, responses[-1]


def media_port(response: Response) -> int:
    """The UDP port the SDP answer in `response` names."""
    return parse_sdp(response.body).media[0].port


def udp_port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nobody holds `port` any more (the responder closed its media socket)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


@contextlib.asynccontextmanager
async def connect(port: int) -> AsyncIterator[RawClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield RawClient(reader, writer, StreamFramer())
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
