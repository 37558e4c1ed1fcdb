"""The server side of a caller's TLS handshake, recorded whatever its outcome.

A TLS listener accepts TCP and then runs the handshake itself (StreamWriter.start_tls),
so that a handshake that fails is still seen, with why, rather than dropped inside
asyncio. Each connection gets a context of its own: the recorder on it then hears only
that connection's Certificate message (probe.tls.capture), and the SNI callback only
its ClientHello.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

from probe.answer.config import AnswerConfig, AnswerConfigError
from probe.evidence.inbound import InboundTls
from probe.tls.capture import (
    ClientCertificateRecorder,
    install_client_certificate_recorder,
    remove_recorder,
)

__all__ = ["HANDSHAKE_SECONDS", "accept_tls", "check_server_context", "server_context"]

HANDSHAKE_SECONDS = 10.0
"""Deadline of a caller's TLS handshake: one that never finishes is recorded and closed."""


@dataclass
class HandshakeNotes:
    """What the callbacks of one handshake saw."""

    sni: str | None = None


def server_context(
    config: AnswerConfig,
) -> tuple[ssl.SSLContext, ClientCertificateRecorder, HandshakeNotes]:
    """A fresh server context for one connection, with its recorders."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if config.cert_file is None:
        raise AnswerConfigError("a TLS listener needs a certificate (cert_file)")
    context.load_cert_chain(config.cert_file, config.key_file)
    if config.request_client_cert:
        # Python's ssl sends a CertificateRequest only with verification on; OPTIONAL
        # lets a caller without a certificate through (RFC 8446 §4.4.2: it may send
        # none), while one whose chain does not verify fails the handshake. The chain
        # itself is read from the Certificate message either way.
        context.verify_mode = ssl.CERT_OPTIONAL
        if config.client_ca is not None:
            context.load_verify_locations(cafile=str(config.client_ca))
        else:
            context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    seen = HandshakeNotes()

    def note_server_name(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
        seen.sni = name  # RFC 6066 §3: the name the caller asked for; None without SNI

    context.sni_callback = note_server_name
    recorder = install_client_certificate_recorder(context)
    return context, recorder, seen


def check_server_context(config: AnswerConfig) -> None:
    """Load the certificate, key and anchors once before listening, so that a file that
    cannot be used refuses the run instead of failing every caller's handshake."""
    try:
        server_context(config)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise AnswerConfigError(f"the TLS listener cannot use its certificate: {exc}") from exc


def _handshake_error(exc: BaseException, elapsed: float) -> str:
    if isinstance(exc, TimeoutError | ConnectionAbortedError) and elapsed >= HANDSHAKE_SECONDS:
        # asyncio's ssl_handshake_timeout aborts with ConnectionAbortedError.
        return f"the TLS handshake did not finish within {HANDSHAKE_SECONDS:g} s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the client certificate was refused: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return f"the TLS handshake did not finish within {HANDSHAKE_SECONDS:g} s"
    if isinstance(exc, ConnectionError | OSError):
        return f"the connection failed during the TLS handshake: {exc.strerror or exc}"
    return f"the TLS handshake failed: {type(exc).__name__}: {exc}"


def _client_chain(recorder: ClientCertificateRecorder, ssl_object: object) -> tuple[bytes, ...]:
    """The chain from the Certificate message; should that message not parse, the leaf
    that ssl verified, which is all its public API gives."""
    try:
        return recorder.client_chain()
    except ValueError:
        getter = getattr(ssl_object, "getpeercert", None)
        leaf = getter(binary_form=True) if getter is not None else None
        return (bytes(leaf),) if leaf else ()


async def accept_tls(writer: asyncio.StreamWriter, config: AnswerConfig) -> InboundTls:
    """Run the server handshake on an accepted connection; `error` is set when it failed
    (the caller closes the connection then)."""
    started = time.monotonic()
    context, recorder, seen = server_context(config)
    requested = config.request_client_cert
    try:
        async with asyncio.timeout(HANDSHAKE_SECONDS + 1):
            await writer.start_tls(context, ssl_handshake_timeout=HANDSHAKE_SECONDS)
    except Exception as exc:
        chain: tuple[bytes, ...]
        try:
            chain = recorder.client_chain()
        except ValueError:
            chain = ()
        return InboundTls(
            client_cert_requested=requested,
            client_chain=chain,
            sni=seen.sni,
            error=_handshake_error(exc, time.monotonic() - started),
            elapsed_ms=(time.monotonic() - started) * 1000,
        )
    finally:
        remove_recorder(context)
    ssl_object = writer.get_extra_info("ssl_object")
    cipher = writer.get_extra_info("cipher")
    return InboundTls(
        version=ssl_object.version() if ssl_object is not None else None,
        cipher=cipher[0] if cipher else None,
        client_cert_requested=requested,
        client_chain=_client_chain(recorder, ssl_object),
        sni=seen.sni,
        elapsed_ms=(time.monotonic() - started) * 1000,
    )
