"""The responder's call state, driven message by message with a bare client (over TCP):
what it holds mid-call, what it refuses, and that it lets go of everything."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from dataclasses import replace

import pytest

import probe.serve.calls
from probe.serve import Responder, ResponderConfig
from probe.sip import (
    Dialog,
    Headers,
    Request,
    build_cancel,
    build_options,
    new_branch,
    parse_message,
    random_token,
)
from probe.tls.lab import LabFiles
from tests.serve.conftest import StartResponder
from tests.serve.sip_client import (
    RawClient,
    connect,
    make_invite,
    media_port,
    sdes_offer,
    udp_port_is_free,
)


async def nothing_arrives(client: RawClient, within: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await client.receive(within)


def with_header(request: Request, name: str, value: str) -> Request:
    items = [*request.headers.items()]
    items.insert(-1, (name, value))  # before Content-Length
    return replace(request, headers=Headers(items))


async def test_a_dialog_is_held_from_the_200_until_the_bye(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        _invite, dialog, ok = await client.call()
        await nothing_arrives(client)  # the ACK is absorbed, never answered
        assert responder.open_dialogs == 1
        assert not udp_port_is_free(media_port(ok))  # the port the answer names is held
        bye, dialog = client.bye(dialog)
        await client.send(bye)
        assert (await client.receive()).status_code == 200
        assert responder.open_dialogs == 0
        assert udp_port_is_free(media_port(ok))
        # The dialog is forgotten: a second BYE is for a dialog that does not exist.
        again, dialog = client.bye(dialog)
        await client.send(again)
        response = await client.receive()
        assert (response.status_code, response.cseq.method) == (481, "BYE")


async def test_requests_for_unknown_dialogs_and_transactions_get_481(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        invite = client.invite(sdes_offer())
        # §9.2: a CANCEL that matches no INVITE transaction.
        await client.send(build_cancel(invite))
        assert (await client.receive()).status_code == 481
        # §12.2.2: an in-dialog request (To tag) for a dialog never made.
        host, port = client.local
        options = build_options(
            invite.uri,
            transport="TCP",
            local_host=host,
            local_port=port,
            branch=new_branch(random_token()),
            from_tag="ours",
            call_id=random_token(),
            user_agent="t",
        )
        to = options.headers.get("To") or ""
        in_dialog = replace(
            options,
            headers=Headers(
                [(n, f"{to};tag=nobody" if n == "To" else v) for n, v in options.headers.items()]
            ),
        )
        await client.send(in_dialog)
        assert (await client.receive()).status_code == 481
        assert responder.open_dialogs == 0


async def test_a_bye_while_ringing_ends_the_invite_with_487(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder(answer_delay=5.0)
    async with connect(responder.port_of("tcp")) as client:
        invite = client.invite(sdes_offer())
        await client.send(invite)
        trying, ringing = await client.receive(), await client.receive()
        assert (trying.status_code, ringing.status_code) == (100, 180)
        assert responder.open_dialogs == 1  # an early dialog
        early = Dialog.from_response(invite, ringing)
        bye, _ = client.bye(early)
        await client.send(bye)
        answers = {
            (r.cseq.method, r.status_code) for r in (await client.receive(), await client.receive())
        }
        assert answers == {("BYE", 200), ("INVITE", 487)}
        assert responder.open_dialogs == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"v=0\r\no=broken\r\n", 400),
        # An SDES offer whose only crypto-suite the responder cannot key.
        (
            sdes_offer()
            .replace(b"AES_CM_128_HMAC_SHA1_80 inline:", b"FUTURE_SUITE_9 inline:")
            .replace(b"AES_CM_128_HMAC_SHA1_32 inline:", b"FUTURE_SUITE_8 inline:"),
            488,
        ),
    ],
)
async def test_offers_it_cannot_answer(
    start_responder: StartResponder, body: bytes, status: int
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        invite = client.invite(body)
        await client.send(invite)
        responses = await client.until_final()
        assert [r.status_code for r in responses] == [100, status]
        assert (responses[-1].headers.get("Warning") or "").startswith("3")
        # The ACK for the refusal is absorbed (RFC 3261 §17.1.1.3), nothing is held.
        from probe.sip import build_ack_non2xx

        await client.send(build_ack_non2xx(invite, responses[-1]))
        await nothing_arrives(client)
        assert responder.open_dialogs == 0


async def test_an_unsupported_required_extension_gets_420(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        await client.send(with_header(client.invite(sdes_offer()), "Require", "100rel"))
        final = (await client.until_final())[-1]
        assert (final.status_code, final.headers.get("Unsupported")) == (420, "100rel")


@pytest.fixture
def fast_timers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe.serve.calls, "T1", 0.02)
    monkeypatch.setattr(probe.serve.calls, "T2", 0.08)


@pytest.mark.usefixtures("fast_timers")
async def test_the_200_is_retransmitted_until_the_ack(start_responder: StartResponder) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        invite = client.invite(sdes_offer())
        await client.send(invite)
        ok = (await client.until_final())[-1]
        again = await client.receive(1.0)  # §13.3.1.4: no ACK yet, so the 2xx comes again
        assert (again.status_code, again.to.tag, again.body) == (200, ok.to.tag, ok.body)
        dialog = Dialog.from_response(invite, ok)
        await client.send(client.ack(dialog, invite))
        while True:  # drain what was in flight when the ACK arrived, then silence
            try:
                await client.receive(0.3)
            except TimeoutError:
                break
        assert responder.open_dialogs == 1


@pytest.mark.usefixtures("fast_timers")
async def test_without_an_ack_the_dialog_is_given_up(start_responder: StartResponder) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        await client.send(client.invite(sdes_offer()))
        await client.until_final()
        await asyncio.sleep(64 * 0.02 + 0.3)
        assert responder.open_dialogs == 0


async def test_a_closed_connection_takes_its_calls_with_it(
    start_responder: StartResponder,
) -> None:
    responder = await start_responder()
    async with connect(responder.port_of("tcp")) as client:
        _invite, _dialog, ok = await client.call()
        assert responder.open_dialogs == 1
    port = media_port(ok)
    for _ in range(100):
        if responder.open_dialogs == 0 and udp_port_is_free(port):
            break
        await asyncio.sleep(0.01)
    assert responder.open_dialogs == 0
    assert udp_port_is_free(port)


async def test_invite_over_udp_stays_unimplemented(start_responder: StartResponder) -> None:
    responder = await start_responder()
    loop = asyncio.get_running_loop()
    received: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if not received.done():
                received.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Client, remote_addr=("127.0.0.1", responder.port_of("udp"))
    )
    try:
        host, port = transport.get_extra_info("sockname")[:2]
        invite = make_invite(sdes_offer(), local=(host, port), transport="UDP")
        transport.sendto(invite.to_bytes())
        async with asyncio.timeout(2):
            response = parse_message(await received)
    finally:
        transport.close()
    assert getattr(response, "status_code", None) == 501


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_stop_leaves_no_task_and_no_socket(lab: LabFiles) -> None:
    """Stopped with one call answered and one ringing, on connections still open."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        before = _open_fds()
        base = ResponderConfig(
            transports=("tls", "tcp", "udp"), cert_file=lab.server, key_file=lab.server_key
        )
        answering = Responder(base)
        slow = Responder(replace(base, answer_delay=30.0))
        try:
            await answering.start()
            await slow.start()
            async with (
                connect(answering.port_of("tcp")) as up,
                connect(slow.port_of("tcp")) as ringing,
            ):
                await up.call()  # answered: its media socket is bound
                await ringing.send(ringing.invite(sdes_offer()))
                assert [(await ringing.receive()).status_code for _ in range(2)] == [100, 180]
                assert (answering.open_dialogs, slow.open_dialogs) == (1, 1)
                await answering.stop()
                await slow.stop()
                assert (answering.open_dialogs, slow.open_dialogs) == (0, 0)
                assert asyncio.all_tasks() == {asyncio.current_task()}
        finally:
            await answering.stop()
            await slow.stop()
        gc.collect()
        assert _open_fds() == before
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]
