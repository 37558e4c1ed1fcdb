"""Secrets a run needs, read from a file or the environment and never from the command
line, where `ps` and shell history would show them: digest credentials (RFC 3261 §22)
and the password of an encrypted client key. A secret that cannot be used is a usage
error before any packet; no message ever quotes one."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from probe.sip.digest import DigestCredentials

UsageError = Callable[[str], NoReturn]

AUTH_USER_VARIABLE = "SIPPROBE_AUTH_USER"
AUTH_PASSWORD_VARIABLE = "SIPPROBE_AUTH_PASSWORD"
KEY_VARIABLE = "SIPPROBE_KEY_PASSWORD"
KEY_PASSWORD_LIMIT = 1024
"""The longest key password Python's ssl passes to OpenSSL (its PEM_BUFSIZE)."""


def load_credentials(
    auth_file: Path | None,
    environ: Mapping[str, str],
    usage: UsageError,
    source: str = "--auth-file",
) -> DigestCredentials | None:
    """Digest credentials from a file (`username=` and `password=` lines) or from the
    environment (SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD); None when neither."""
    # Imported only when there are credentials: most runs never load the digest module.
    if auth_file is not None:
        try:
            text = auth_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
            usage(f"{source} {auth_file}: {why or exc}")
        values: dict[str, str] = {}
        for line in text.splitlines():
            name, sep, value = line.partition("=")
            key = name.strip()
            if sep and key in ("username", "password"):
                # Everything after '=' is the password, exactly: it may hold spaces.
                values[key] = value if key == "password" else value.strip()
        if set(values) != {"username", "password"} or not all(values.values()):
            usage(f"{source} {auth_file}: needs a non-empty username= and password= line")
        return _credentials(values["username"], values["password"], f"{source} {auth_file}", usage)
    user, password = environ.get(AUTH_USER_VARIABLE), environ.get(AUTH_PASSWORD_VARIABLE)
    if user and password:
        return _credentials(user, password, AUTH_USER_VARIABLE, usage)
    if user or password:
        usage(f"set both {AUTH_USER_VARIABLE} and {AUTH_PASSWORD_VARIABLE}, or neither")
    return None


def _credentials(user: str, password: str, source: str, usage: UsageError) -> DigestCredentials:
    from probe.sip import DigestCredentials, SipError

    try:
        return DigestCredentials(user, password)
    except SipError as exc:  # a username no Authorization header can quote
        usage(f"{source}: {exc}")


def load_key_password(
    password_file: Path | None, environ: Mapping[str, str], usage: UsageError
) -> bytes | None:
    """The password of an encrypted client key: the first line of `password_file` (as
    OpenSSL's `-passin file:` reads one), else SIPPROBE_KEY_PASSWORD; None when neither.
    Bytes, as OpenSSL takes them: a password need not be text."""
    if password_file is not None:
        option = f"--key-password-file {password_file}"
        try:
            data = password_file.read_bytes()
        except OSError as exc:
            usage(f"{option}: {exc.strerror or exc}")
        password = data.split(b"\n", 1)[0].removesuffix(b"\r")
        if not password:
            usage(f"{option}: the first line is empty; it must hold the key's password")
    else:
        text = environ.get(KEY_VARIABLE)
        if text is None:
            return None
        option = KEY_VARIABLE
        password = os.fsencode(text)
        if not password:
            usage(f"{KEY_VARIABLE} is set but empty; unset it or give the key's password")
    if len(password) > KEY_PASSWORD_LIMIT:
        usage(f"{option}: the password is longer than the {KEY_PASSWORD_LIMIT} bytes OpenSSL takes")
    return password
