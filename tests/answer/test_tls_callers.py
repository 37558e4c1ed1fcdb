"""A caller's TLS handshake as our server side records it: version, suite, SNI, and the
client chain read from its Certificate message, refused or not (mutual TLS)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from probe.answer import tls_accept
from probe.evidence.inbound import InboundConnection
from probe.tls.lab import LabFiles
from tests.answer.kit import answering, config
from tests.conftest import LAB_NAME


def der_chain(path: Path) -> tuple[bytes, ...]:
    return tuple(
        cert.public_bytes(Encoding.DER)
        for cert in x509.load_pem_x509_certificates(path.read_bytes())
    )


def client_context(
    chain: Path | None = None, key: Path | None = None, version: str = "1.3"
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if chain is not None:
        context.load_cert_chain(chain, key)
    return context


async def connect_and_leave(port: int, context: ssl.SSLContext) -> None:
    """Handshake, then close without a word of SIP (a refusal shows on the first read
    under TLS 1.3, where the client's handshake ends before the server has judged it)."""
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=context, server_hostname=LAB_NAME
            )
            with contextlib.suppress(TimeoutError, OSError, ssl.SSLError):
                await asyncio.wait_for(reader.read(1), 0.5)
            writer.close()
            # Python 3.11.2's SSL transport can raise from its own close after a refusal.
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    except (OSError, ssl.SSLError):
        pass  # a refused handshake: what the server recorded is what the test reads


async def one_connection(
    lab: LabFiles, context: ssl.SSLContext, **options: object
) -> InboundConnection:
    answer_config = config(lab, "tls", within_s=20, **options)  # type: ignore[arg-type]
    async with answering(answer_config) as run:
        await connect_and_leave(run.port("tls"), context)
        for _ in range(100):  # until the server has recorded the connection
            await asyncio.sleep(0.05)
            if run.task.done():
                break
            run.stop.set()
        evidence = await run.evidence()
    assert evidence.calls == ()
    assert len(evidence.connections) == 1, evidence.connections
    return evidence.connections[0]


@pytest.mark.parametrize(("version", "name"), [("1.3", "TLSv1.3"), ("1.2", "TLSv1.2")])
async def test_a_client_chain_that_verifies_is_recorded_leaf_first(
    lab: LabFiles, version: str, name: str
) -> None:
    context = client_context(lab.client, lab.client_key, version)
    connection = await one_connection(lab, context, client_ca=lab.ca, request_client_cert=True)
    tls = connection.tls
    assert tls is not None
    assert tls.error is None
    assert tls.version == name
    assert tls.cipher
    assert tls.client_cert_requested
    assert tls.client_chain == der_chain(lab.client)
    assert len(tls.client_chain) == 2  # the leaf, then the intermediate it was sent with
    assert tls.sni == LAB_NAME
    assert tls.elapsed_ms is not None
    assert connection.error == "the connection closed before any SIP request"


@pytest.mark.parametrize("version", ["1.3", "1.2"])
async def test_a_client_chain_that_does_not_verify_is_refused_and_still_recorded(
    lab: LabFiles, version: str
) -> None:
    context = client_context(lab.untrusted_client, lab.untrusted_client_key, version)
    connection = await one_connection(lab, context, client_ca=lab.ca, request_client_cert=True)
    tls = connection.tls
    assert tls is not None
    assert tls.version is None
    assert tls.error is not None
    assert "client certificate was refused" in tls.error
    assert connection.error == tls.error
    assert tls.client_chain == der_chain(lab.untrusted_client)


async def test_a_caller_without_a_certificate_gets_through_with_no_chain(lab: LabFiles) -> None:
    connection = await one_connection(
        lab, client_context(), client_ca=lab.ca, request_client_cert=True
    )
    assert connection.tls is not None
    assert connection.tls.error is None
    assert connection.tls.client_cert_requested
    assert connection.tls.client_chain == ()


async def test_no_certificate_is_asked_for_unless_requested(lab: LabFiles) -> None:
    connection = await one_connection(lab, client_context(lab.client, lab.client_key))
    assert connection.tls is not None
    assert not connection.tls.client_cert_requested
    assert connection.tls.client_chain == ()
    assert connection.tls.version == "TLSv1.3"


async def test_plain_bytes_on_the_tls_port_are_a_failed_handshake(lab: LabFiles) -> None:
    async with answering(config(lab, "tls")) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port("tls"))
        writer.write(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
        async with asyncio.timeout(10):
            await reader.read()  # the server closes
        writer.close()
        run.stop.set()
        evidence = await run.evidence()
    (connection,) = evidence.connections
    assert connection.tls is not None
    assert connection.tls.error is not None
    assert "handshake failed" in connection.tls.error


async def test_a_caller_that_never_finishes_its_handshake_is_cut_off(
    lab: LabFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tls_accept, "HANDSHAKE_SECONDS", 0.5)
    async with answering(config(lab, "tls")) as run:
        reader, writer = await asyncio.open_connection("127.0.0.1", run.port("tls"))
        async with asyncio.timeout(10):
            await reader.read()  # silence, until the server gives up
        writer.close()
        run.stop.set()
        evidence = await run.evidence()
    (connection,) = evidence.connections
    assert connection.tls is not None
    assert connection.tls.error == "the TLS handshake did not finish within 0.5 s"
