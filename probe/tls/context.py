"""SSLContext building for the capture handshake.

The handshake runs with verification off on purpose: a server with a broken chain still
yields its certificates, version and cipher, and the chain is judged afterwards by
cryptography's verifier (probe.tls.verify). Nothing is trusted on the strength of this
context alone.
"""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from probe.tls.capture import HandshakeRecorder, install_recorder

TlsVersionName = Literal["1.0", "1.1", "1.2", "1.3"]

TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class TlsConfigError(Exception):
    """The TLS options given cannot be used (unreadable key, bad version...)."""


@dataclass(frozen=True, slots=True)
class TlsClientConfig:
    """TLS options of the client side of a probe."""

    min_version: TlsVersionName = "1.2"
    """Lowest version offered; below 1.2 is deprecated by RFC 8996."""
    max_version: TlsVersionName | None = None
    cert_file: Path | None = None
    """Client certificate chain (PEM) for servers that require mutual TLS."""
    key_file: Path | None = None
    ciphers: str | None = None
    """OpenSSL cipher string for TLS 1.2 and below; None keeps OpenSSL's default."""


def build_capture_context(config: TlsClientConfig) -> tuple[ssl.SSLContext, HandshakeRecorder]:
    """A fresh client context for one connection, with its handshake recorder."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if config.min_version in ("1.0", "1.1"):
        # OpenSSL 3 refuses TLS < 1.2 at its default security level 1; asking for the old
        # versions explicitly means the user wants to see whether the server accepts them.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        # --min-tls 1.0/1.1 asks for the deprecated versions on purpose.
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = TLS_VERSIONS[config.min_version]
    if config.max_version is not None:
        context.maximum_version = TLS_VERSIONS[config.max_version]
    if config.ciphers is not None:
        try:
            context.set_ciphers(config.ciphers)
        except ssl.SSLError as exc:
            raise TlsConfigError(f"no usable cipher in {config.ciphers!r}") from exc
    if config.cert_file is not None:

        def no_passphrase() -> str:
            # Never let OpenSSL prompt on the terminal (or hang in CI) for a pass phrase.
            raise TlsConfigError(
                f"the private key for {config.cert_file} is encrypted; give an unencrypted key"
            )

        try:
            context.load_cert_chain(config.cert_file, config.key_file, password=no_passphrase)
        except TlsConfigError:
            raise
        except (OSError, ssl.SSLError) as exc:
            # Never echo key material: name the files and the kind of failure only.
            raise TlsConfigError(
                f"cannot load client certificate {config.cert_file}"
                + (f" with key {config.key_file}" if config.key_file else "")
                + f": {getattr(exc, 'strerror', None) or type(exc).__name__}"
            ) from exc
    return context, install_recorder(context)


def check_client_config(config: TlsClientConfig) -> None:
    """Fail early, before any connection, when the client certificate cannot be loaded."""
    build_capture_context(config)
