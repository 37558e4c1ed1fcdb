"""`--enumerate`: which TLS versions and TLS 1.2 suites a server accepts.

One fresh connection per question, one question at a time: a burst of parallel failing
handshakes is exactly what knocks over some SIP servers (Kamailio 5.6 with OpenSSL 3
among them), and a verifier must not be the thing that takes a trunk down.
"""

from __future__ import annotations

import asyncio
import ssl
import warnings

from probe.evidence.model import HandshakeAttempt, TlsEnumeration
from probe.net.connect import classify_tls_error, open_tcp
from probe.tls.context import TLS_VERSIONS
from probe.tls.suites import TLS12_SUITES
from probe.tls.versions import TlsVersionName

ENUMERATED_VERSIONS: tuple[TlsVersionName, ...] = ("1.0", "1.1", "1.2", "1.3")


def _attempt_context(version: TlsVersionName, cipher: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Security level 0 so that our side never refuses what we are asking about; the
    # question is what the *server* accepts.
    context.set_ciphers(f"{cipher or 'ALL:COMPLEMENTOFDEFAULT'}:@SECLEVEL=0")
    with warnings.catch_warnings():
        # Asking about TLS 1.0/1.1 is the point here; Python's deprecation note is not.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = TLS_VERSIONS[version]
    return context


async def _attempt(
    address: str,
    port: int,
    sni: str | None,
    *,
    version: TlsVersionName,
    cipher: str | None,
    timeout: float,
    source: tuple[str, int] | None,
) -> HandshakeAttempt:
    label = cipher or f"TLS {version}"
    try:
        context = _attempt_context(version, cipher)
    except ssl.SSLError:
        return HandshakeAttempt(
            label,
            version,
            None,
            accepted=False,
            local_refusal=True,
            error="this client's OpenSSL cannot offer it",
        )
    connection, connected = await open_tcp(address, port, timeout=timeout, source=source)
    if connection is None:
        return HandshakeAttempt(label, version, None, accepted=False, error=connected.error)
    connection.expect_tls()
    try:
        async with asyncio.timeout(timeout):
            await connection.writer.start_tls(
                context, server_hostname=sni, ssl_handshake_timeout=timeout + 5
            )
        ssl_object = connection.writer.get_extra_info("ssl_object")
        cipher = ssl_object.cipher() if ssl_object is not None else None
        return HandshakeAttempt(label, version, cipher[0] if cipher else None, accepted=True)
    except (OSError, TimeoutError, EOFError) as exc:
        connection.handshake_failed = True
        kind, message, _alert = classify_tls_error(exc)
        local = isinstance(exc, ssl.SSLError) and (exc.reason or "") in (
            "NO_CIPHERS_AVAILABLE",
            "NO_PROTOCOLS_AVAILABLE",
        )
        error = message if kind != "timeout" else f"{message} in time"
        return HandshakeAttempt(
            label, version, None, accepted=False, local_refusal=local, error=error
        )
    finally:
        await connection.close()


async def enumerate_tls(
    address: str,
    port: int,
    sni: str | None,
    *,
    timeout: float,
    source: tuple[str, int] | None = None,
) -> TlsEnumeration:
    versions = []
    for version in ENUMERATED_VERSIONS:
        versions.append(
            await _attempt(
                address, port, sni, version=version, cipher=None, timeout=timeout, source=source
            )
        )
    suites = []
    if any(attempt.accepted for attempt in versions if attempt.version == "1.2"):
        for cipher in TLS12_SUITES:
            suites.append(
                await _attempt(
                    address, port, sni, version="1.2", cipher=cipher, timeout=timeout, source=source
                )
            )
    return TlsEnumeration(versions=tuple(versions), tls12_suites=tuple(suites))
