"""Secrets a run needs, read from a file or the environment and never from the command
line, where `ps` and shell history would show them: digest credentials (RFC 3261 §22)
and the password of an encrypted client key. A secret that cannot be used is a usage
error before any packet; no message ever quotes one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from probe.sip.digest import DigestCredentials

UsageError = Callable[[str], NoReturn]

AUTH_USER_VARIABLE = "SIPPROBE_AUTH_USER"
AUTH_PASSWORD_VARIABLE = "SIPPROBE_AUTH_PASSWORD"


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
