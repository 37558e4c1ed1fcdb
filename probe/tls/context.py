"""SSLContext building for the capture handshake.

The handshake runs with verification off on purpose: a server with a broken chain still
yields its certificates, version and cipher, and the chain is judged afterwards by
cryptography's verifier (probe.tls.verify). Nothing is trusted on the strength of this
context alone.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from probe.errors import ProbeError
from probe.tls.capture import HandshakeRecorder, install_recorder, remove_recorder
from probe.tls.versions import TlsVersionName

TLS_VERSIONS: dict[str, ssl.TLSVersion] = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class TlsConfigError(ProbeError):
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
    key_password: bytes | None = field(default=None, repr=False)
    """The password of an encrypted key (never shown): from --key-password-file or
    SIPPROBE_KEY_PASSWORD, never from the command line."""
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
        _load_client_identity(context, config.cert_file, config.key_file, config.key_password)
    return context, install_recorder(context)


class CaptureContexts:
    """Capture contexts for one client configuration, reused from one handshake to the
    next: creating an OpenSSL context costs about as much CPU as the rest of a probe's
    client side, so a sweep makes one per concurrent handshake, not one per target.

    A context is held by one handshake at a time because its recorder belongs to that
    connection; once the handshake is over the recorder is removed and the context goes
    back for the next one. The earlier connection keeps using it afterwards (session
    tickets, a TLS 1.2 renegotiation) while a later handshake may have its recorder
    installed, so each recorder hears only the connection that sent the next
    ClientHello (probe.tls.capture). Clients keep no session cache, so every handshake is
    a full one and presents the chain again.
    """

    def __init__(self, config: TlsClientConfig) -> None:
        self.config = config
        self._idle: list[ssl.SSLContext] = []

    @contextlib.contextmanager
    def checkout(self) -> Iterator[tuple[ssl.SSLContext, HandshakeRecorder]]:
        if self._idle:
            context = self._idle.pop()
            recorder = install_recorder(context)
        else:
            context, recorder = build_capture_context(self.config)
        try:
            yield context, recorder
        finally:
            remove_recorder(context)
            self._idle.append(context)


KEY_PASSWORD_SOURCES = "--key-password-file FILE or SIPPROBE_KEY_PASSWORD"
"""Where the password of an encrypted client key comes from, for messages."""


def _load_client_identity(
    context: ssl.SSLContext, cert_file: Path, key_file: Path | None, password: bytes | None
) -> None:
    """Load the client certificate and key, or say which file is wrong and how.

    Messages name the files and the kind of failure only, never key material and never
    the password.
    """
    prefix = f"cannot load client certificate {cert_file}" + (
        f" with key {key_file}" if key_file else ""
    )
    key_path = key_file or cert_file

    def no_passphrase() -> str:
        # Never let OpenSSL prompt on the terminal (or hang in CI) for a pass phrase.
        raise TlsConfigError(f"{prefix}: {_encrypted(key_path)}")

    for path in (cert_file, key_file):
        if path is not None:
            problem = _unreadable(path)
            if problem is not None:
                raise TlsConfigError(f"{prefix}: {problem}")
    try:
        context.load_cert_chain(
            cert_file, key_file, password=password if password is not None else no_passphrase
        )
    except TlsConfigError:
        raise
    except (OSError, ssl.SSLError, ValueError) as exc:
        problem = _identity_problem(cert_file, key_file, password, exc)
        raise TlsConfigError(f"{prefix}: {problem}") from None


def _encrypted(key_path: Path) -> str:
    return f"{key_path} is encrypted; give its password with {KEY_PASSWORD_SOURCES}"


def _unreadable(path: Path) -> str | None:
    """Why `path` cannot be read, or None."""
    try:
        with path.open("rb"):
            return None
    except FileNotFoundError:
        return f"{path} does not exist"
    except IsADirectoryError:
        return f"{path} is a directory, not a PEM file"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"


def _identity_problem(
    cert_file: Path, key_file: Path | None, password: bytes | None, exc: Exception
) -> str:
    """What is wrong with a certificate and key OpenSSL refused, as a clause."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    reason = getattr(exc, "reason", None)
    if reason == "KEY_VALUES_MISMATCH":
        return "the key does not match the certificate"
    try:
        x509.load_pem_x509_certificates(cert_file.read_bytes())
    except (OSError, ValueError):
        return f"{cert_file} holds no PEM certificate"
    key_path = key_file or cert_file
    try:
        key_pem = key_path.read_bytes()
        encrypted = _is_encrypted(key_pem)
        if encrypted and password is None:  # and OpenSSL did not ask (a legacy PEM header)
            return _encrypted(key_path)
        if encrypted and password is not None:
            if len(password) > _OPENSSL_PASSWORD_LIMIT:
                return f"the key password is longer than {_OPENSSL_PASSWORD_LIMIT} bytes"
            try:
                load_pem_private_key(key_pem, password=password)
            except ValueError:
                return f"the password given ({KEY_PASSWORD_SOURCES}) does not decrypt {key_path}"
        else:
            load_pem_private_key(key_pem, password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm):
        if key_file is None:
            return f"{cert_file} holds no private key; name the key file too"
        return f"{key_file} holds no usable PEM private key"
    return str(reason or getattr(exc, "strerror", None) or type(exc).__name__)


_OPENSSL_PASSWORD_LIMIT = 1024
"""The longest password Python's ssl hands OpenSSL for a key (PEM_BUFSIZE)."""


def _is_encrypted(key_pem: bytes) -> bool:
    """Whether a PEM private key needs a password to be read."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        load_pem_private_key(key_pem, password=None)
    except TypeError:  # "Password was not given but private key is encrypted"
        return True
    except (ValueError, UnsupportedAlgorithm):
        return False
    return False


def check_client_config(config: TlsClientConfig) -> None:
    """Fail early, before any connection, when the client certificate cannot be loaded."""
    build_capture_context(config)
