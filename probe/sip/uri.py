"""SIP and SIPS URIs (RFC 3261 §19.1, grammar in §25.1) and name-addr values (§20.10).

Parsing is strict: anything outside the §25.1 grammar is a :class:`SipParseError`
naming the URI and the offset of the offending part.  Only ``sip:`` and ``sips:`` are
accepted; a verifier of SIP trunks has no use for ``tel:`` or ``http:`` and treating
them as errors keeps the ``SipUri`` type honest.

Normalisation done while parsing (so that equal URIs compare equal as dataclasses):
the scheme, host and parameter *names* are lowercased (§19.1.4 compares them
case-insensitively), escapes in the user and password are resolved, an escape in a
parameter name that stands for a character a name may carry plainly is resolved too
(§19.1.4: such a character and its escape are equivalent, so ``;%6C%72`` is ``;lr``),
and an IPv4 address with leading zeros in an octet is written without them.  Parameter
values and URI headers are kept exactly as received, escapes included.

A password in the userinfo is parsed (peers send them, RFC 4475 §3.1.1.2) but never
shown: :meth:`SipUri.redacted` and :func:`redact_uri_text` replace it with ``***``
(RFC 3261 §19.1.1 deprecates passwords in URIs), and ``repr`` leaves it out.
"""

from __future__ import annotations

import ipaddress
import re
import string
import sys
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from typing import Literal

from . import _abnf
from .errors import SipBuildError, SipParseError

__all__ = [
    "HostKind",
    "NameAddr",
    "SipUri",
    "parse_host",
    "parse_name_addr",
    "parse_uri",
    "redact_uri_text",
]

HostKind = Literal["name", "ipv4", "ipv6"]
Params = tuple[tuple[str, str | None], ...]

# Error messages quote the offending text; cap it so an 8 KiB junk line does not end
# up verbatim in a report.
_EXCERPT = 80


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= _EXCERPT else text[:_EXCERPT] + "...")


def _uri_error(text: str, offset: int, why: str) -> SipParseError:
    # The URI is quoted without its password: the message may reach a report.
    return SipParseError(
        f"invalid SIP URI {_excerpt(redact_uri_text(text))}: {why} at offset {offset}"
    )


def _find_param(params: Params, name: str) -> str | None:
    name = name.lower()
    for key, value in params:
        if key == name:
            return value
    return None


def _has_param(params: Params, name: str) -> bool:
    name = name.lower()
    return any(key == name for key, _ in params)


def _format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def _format_host(host: str) -> str:
    # §25.1 IPv6reference: an IPv6 address is bracketed wherever it is followed by a port.
    return f"[{host}]" if ":" in host else host


# --- host and port -----------------------------------------------------------------


def parse_host(text: str) -> tuple[str, HostKind]:
    """Parse ``host = hostname / IPv4address / IPv6reference`` (§25.1).

    Returns the normalised host (lowercased; IPv6 without brackets) and its kind.
    """
    if text.startswith("["):
        inner = text[1:-1] if text.endswith("]") else ""
        # Zone ids ("fe80::1%eth0") are not part of RFC 3261's IPv6reference, so only
        # hex digits, colons and dots (for an embedded IPv4 tail) are allowed through.
        if not _abnf.IPV6_CHARS_RE.fullmatch(inner):
            raise SipParseError(f"invalid IPv6 reference {_excerpt(text)}")
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise SipParseError(f"invalid IPv6 address {_excerpt(inner)}") from None
        return inner.lower(), "ipv6"
    match = _abnf.IPV4_RE.fullmatch(text)
    if match:
        octets = match.groups()
        # Digit strings of one length compare as their numbers: no int() per octet.
        if any(len(octet) == 3 and octet > "255" for octet in octets):
            raise SipParseError(f"invalid IPv4 address {_excerpt(text)}: octet above 255")
        if any(len(octet) > 1 and octet[0] == "0" for octet in octets):
            return ".".join(str(int(octet)) for octet in octets), "ipv4"  # leading zeros
        return text, "ipv4"
    if _abnf.HOSTNAME_RE.fullmatch(text):
        # Interned (as parameter names and values below): a sweep's thousands of URIs
        # name the same few hosts and parameters, and the parsed URIs live all run long.
        return sys.intern(text.lower()), "name"
    # §25.1: labels of letters, digits and inner '-', the last starting with a letter.
    raise SipParseError(f"invalid host {_excerpt(text)}: not a hostname, IPv4 or [IPv6]")


def parse_port(text: str) -> int:
    """Parse ``port = 1*DIGIT`` and check it is 0-65535; leading zeros are allowed."""
    if not _abnf.DIGITS_RE.fullmatch(text):
        raise SipParseError(f"invalid port {_excerpt(text)}: digits expected")
    # Strip zeros before int() so a run of thousands of digits is refused cheaply and
    # never reaches Python's int-from-string length limit.
    significant = text.lstrip("0")
    if len(significant) > 5 or (significant and int(significant) > 65535):
        raise SipParseError(f"invalid port {_excerpt(text)}: above 65535")
    return int(significant or "0")


# --- escapes (§19.1.2) ---------------------------------------------------------------


def _unescape(text: str, what: str) -> str:
    if "%" not in text:
        return text
    raw = bytearray()
    i = 0
    while i < len(text):
        if text[i] == "%":
            raw.append(int(text[i + 1 : i + 3], 16))
            i += 3
        else:
            raw += text[i].encode("ascii")
            i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError(f"escaped {what} {_excerpt(text)} is not valid UTF-8") from None


def _escape(text: str, safe: frozenset[str]) -> str:
    if safe.issuperset(text):  # the common case: nothing to escape
        return text
    return "".join(
        ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        for ch in text
    )


_PARAM_SAFE = frozenset(string.ascii_letters + string.digits + "-_.!~*'()[]/:&+$")
"""paramchar without escapes (§25.1): what a parameter may carry unescaped."""
_ESCAPE_RE = re.compile("%([0-9A-Fa-f]{2})")


def _normal_param_text(text: str) -> str:
    """``text`` with each escape of a character it could carry plainly resolved, the rest
    kept: §19.1.4 makes a character and its escape equivalent unless it is reserved."""
    if "%" not in text:
        return text

    def plain(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return char if char in _PARAM_SAFE else match[0].upper()

    return _ESCAPE_RE.sub(plain, text)


def _normal_param_name(name: str) -> str:
    """A parameter name as compared (§19.1.4): case folded, plain characters unescaped."""
    return _normal_param_text(name).lower()


# A password between the scheme and the '@' (§19.1.1 userinfo = user [":" password] "@").
_USERINFO_PASSWORD_RE = re.compile(r"(?i)\b(sips?:[^:@<>\s\"]*):([^@<>\s\"]*)@")


def redact_uri_text(text: str) -> str:
    """``text`` with the password of every ``sip:user:password@host`` in it replaced by
    ``***``: for messages that quote what a user typed, even when it did not parse."""
    return _USERINFO_PASSWORD_RE.sub(r"\1:***@", text)


# --- SipUri ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SipUri:
    """A parsed ``sip:`` or ``sips:`` URI (§19.1.1)."""

    scheme: str
    user: str | None
    # Left out of repr: a URI may reach a log or a traceback (§19.1.1: deprecated, secret).
    password: str | None = field(repr=False)
    host: str
    host_kind: HostKind
    port: int | None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()
    _checked: InitVar[bool] = False
    """True only from `parse_uri`, which has checked every part against the grammar and
    normalised it: the checks below would repeat its work."""

    def __post_init__(self, _checked: bool) -> None:
        if _checked:
            return
        # Light checks only: enough that __str__ cannot emit something unparseable.
        if self.scheme not in ("sip", "sips"):
            raise SipBuildError(f"SipUri scheme must be 'sip' or 'sips', got {self.scheme!r}")
        if self.user == "":
            raise SipBuildError("SipUri user must be None or non-empty")
        if self.host_kind not in ("name", "ipv4", "ipv6"):
            raise SipBuildError(f"SipUri host_kind {self.host_kind!r} is not name/ipv4/ipv6")
        try:
            host, kind = parse_host(f"[{self.host}]" if self.host_kind == "ipv6" else self.host)
        except SipParseError as exc:
            raise SipBuildError(f"SipUri host: {exc}") from None
        if (host, kind) != (self.host, self.host_kind):
            raise SipBuildError(
                f"SipUri host {self.host!r} is not in normal form {host!r} (kind {kind})"
            )
        if self.port is not None and not 0 <= self.port <= 65535:
            raise SipBuildError(f"SipUri port {self.port} is outside 0-65535")
        for name, value in self.params:
            # Names in normal (lower) case, as parse_uri produces them, so that a built
            # URI and its parsed wire form compare equal.
            if not _abnf.PARAMCHARS_RE.fullmatch(name) or name != _normal_param_name(name):
                raise SipBuildError(
                    f"SipUri parameter name {name!r} is invalid or not in normal form "
                    f"{_normal_param_name(name)!r}"
                )
            if value is not None and not _abnf.PARAMCHARS_RE.fullmatch(value):
                raise SipBuildError(f"SipUri parameter {name}: invalid value {value!r}")
        for name, value in self.headers:
            if not _abnf.HNAME_RE.fullmatch(name) or not _abnf.HVALUE_RE.fullmatch(value):
                raise SipBuildError(f"SipUri header {name!r}={value!r} is invalid")

    @property
    def transport(self) -> str | None:
        """The lowercased ``transport`` URI parameter, if any (§19.1.1), escapes of
        plain characters resolved (§19.1.4: ``transport=%74ls`` is ``transport=tls``)."""
        value = _find_param(self.params, "transport")
        return _normal_param_text(value).lower() if value is not None else None

    @property
    def is_secure(self) -> bool:
        """True when the URI asks for TLS: ``sips:`` (§19.1), the deprecated but still
        common ``transport=tls`` (RFC 5630 §3.1.3) on a ``sip:`` URI, or ``transport=wss``,
        secure WebSocket (RFC 7118 §5.2.1 names it WSS)."""
        return self.scheme == "sips" or self.transport in ("tls", "wss")

    def param(self, name: str) -> str | None:
        """Value of the first URI parameter called ``name`` (None also for flags)."""
        return _find_param(self.params, name)

    def has_param(self, name: str) -> bool:
        """Whether a URI parameter called ``name`` is present, with or without value."""
        return _has_param(self.params, name)

    @property
    def host_port(self) -> str:
        """``host[:port]`` with IPv6 bracketed, e.g. ``[::1]:5061``."""
        host = _format_host(self.host)
        return host if self.port is None else f"{host}:{self.port}"

    def __str__(self) -> str:
        return format_uri(
            self.scheme, self.user, self.password, self.host, self.port, self.params, self.headers
        )

    def redacted(self) -> str:
        """The wire form with the password, if any, shown as ``***``: what a message,
        a report or an evidence file may quote."""
        if self.password is None:
            return str(self)
        text = format_uri(self.scheme, self.user, None, self.host, self.port, self.params)
        userinfo_end = text.index("@")
        text = f"{text[:userinfo_end]}:***{text[userinfo_end:]}"
        if self.headers:
            text += "?" + "&".join(f"{k}={v}" for k, v in self.headers)
        return text

    def without_password(self) -> SipUri:
        """The same URI without its password: what may be put on the wire (§19.1.1)."""
        if self.password is None:
            return self
        return SipUri(
            self.scheme,
            self.user,
            None,
            self.host,
            self.host_kind,
            self.port,
            self.params,
            self.headers,
        )


def format_uri(
    scheme: str,
    user: str | None,
    password: str | None,
    host: str,
    port: int | None,
    params: Params = (),
    headers: tuple[tuple[str, str], ...] = (),
) -> str:
    """The wire form of a URI made of parts already valid for a `SipUri` (a request
    builder's variations on a parsed URI), without building and checking one."""
    userinfo = ""
    if user is not None:
        userinfo = _escape(user, _abnf.USER_SAFE)
        if password is not None:
            userinfo += ":" + _escape(password, _abnf.PASSWORD_SAFE)
        userinfo += "@"
    host_port = _format_host(host) if port is None else f"{_format_host(host)}:{port}"
    text = f"{scheme}:{userinfo}{host_port}{_format_params(params)}"
    if headers:
        text += "?" + "&".join(f"{k}={v}" for k, v in headers)
    return text


def _first_of(text: str, chars: str, start: int) -> int:
    """Index of the first of ``chars`` in ``text`` at or after ``start``, else len."""
    hits = [i for i in (text.find(c, start) for c in chars) if i != -1]
    return min(hits, default=len(text))


_NOT_URI_CHAR_RE = re.compile("[^!-~]")
"""Anything but the printable ASCII characters SP excluded (0x21-0x7E)."""


def parse_uri(text: str) -> SipUri:
    """Parse a SIP or SIPS URI (§25.1 ``SIP-URI`` / ``SIPS-URI``)."""
    # Catch whitespace, controls and raw non-ASCII first for a precise message; none of
    # them can appear unescaped anywhere in a SIP URI (§19.1.2).
    bad = _NOT_URI_CHAR_RE.search(text)
    if bad is not None:
        raise _uri_error(text, bad.start(), f"character {bad.group()!r} is not allowed")
    colon = text.find(":")
    if colon <= 0:
        raise _uri_error(text, 0, "no 'sip:' or 'sips:' scheme")
    scheme = text[:colon].lower()
    if scheme not in ("sip", "sips"):
        raise _uri_error(text, 0, f"scheme {text[:colon]!r} is not sip or sips")

    pos = colon + 1
    user = password = None
    at = text.find("@", pos)
    if at != -1:
        # '@' is legal nowhere but as the end of userinfo, so there is at most one.
        if text.find("@", at + 1) != -1:
            raise _uri_error(text, text.find("@", at + 1), "second '@'")
        user_text, has_password, password_text = text[pos:at].partition(":")
        if not _abnf.USER_RE.fullmatch(user_text):
            raise _uri_error(text, pos, f"invalid user part {_excerpt(user_text)}")
        if has_password and not _abnf.PASSWORD_RE.fullmatch(password_text):
            raise _uri_error(text, pos + len(user_text) + 1, "invalid password")
        try:
            user = _unescape(user_text, "user")
            password = _unescape(password_text, "password") if has_password else None
        except SipParseError as exc:
            raise _uri_error(text, pos, exc.detail) from None
        pos = at + 1

    # hostport = host [":" port]
    if text.startswith("[", pos):
        close = text.find("]", pos)
        if close == -1:
            raise _uri_error(text, pos, "'[' without ']'")
        host_end = close + 1
    else:
        host_end = _first_of(text, ":;?", pos)
    if host_end == pos:
        raise _uri_error(text, pos, "empty host")
    try:
        host, host_kind = parse_host(text[pos:host_end])
    except SipParseError as exc:
        raise _uri_error(text, pos, exc.detail) from None
    pos = host_end
    port = None
    if text.startswith(":", pos):
        port_end = _first_of(text, ";?", pos + 1)
        try:
            port = parse_port(text[pos + 1 : port_end])
        except SipParseError as exc:
            raise _uri_error(text, pos + 1, exc.detail) from None
        pos = port_end

    # uri-parameters = *(";" uri-parameter)
    params: list[tuple[str, str | None]] = []
    params_end = _first_of(text, "?", pos)
    if pos < params_end and text[pos] != ";":
        raise _uri_error(text, pos, f"unexpected {text[pos]!r} after host")
    offset = pos + 1
    for piece in text[pos + 1 : params_end].split(";") if pos < params_end else ():
        name, has_value, value = piece.partition("=")
        if not _abnf.PARAMCHARS_RE.fullmatch(name) or (
            has_value and not _abnf.PARAMCHARS_RE.fullmatch(value)
        ):
            raise _uri_error(text, offset, f"invalid URI parameter {_excerpt(piece)}")
        name = _normal_param_name(name)
        params.append((sys.intern(name), sys.intern(value) if has_value else None))
        offset += len(piece) + 1

    # headers = "?" header *("&" header)
    headers: list[tuple[str, str]] = []
    offset = params_end + 1
    for piece in text[params_end + 1 :].split("&") if params_end < len(text) else ():
        name, has_value, value = piece.partition("=")
        if (
            not has_value
            or not _abnf.HNAME_RE.fullmatch(name)
            or not _abnf.HVALUE_RE.fullmatch(value)
        ):
            raise _uri_error(text, offset, f"invalid URI header {_excerpt(piece)}")
        headers.append((name, value))
        offset += len(piece) + 1

    return SipUri(
        scheme, user, password, host, host_kind, port, tuple(params), tuple(headers), True
    )


# --- name-addr (§20.10, §25.1) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameAddr:
    """``(name-addr / addr-spec) *(SEMI generic-param)`` as in From, To and Contact.

    ``params`` are the header parameters (``tag``, ``expires``...), never the URI's
    own; quoted parameter values are kept with their quotes.
    """

    display_name: str | None
    uri: SipUri
    params: Params = ()

    def __post_init__(self) -> None:
        if self.display_name is not None:
            if "\r" in self.display_name or "\n" in self.display_name:
                raise SipBuildError("display name must not contain CR or LF")
            try:
                self.display_name.encode("utf-8")
            except UnicodeEncodeError:
                raise SipBuildError("display name is not encodable as UTF-8") from None

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (§19.3), used to identify dialogs."""
        return _find_param(self.params, "tag")

    def param(self, name: str) -> str | None:
        """Value of the first header parameter called ``name``."""
        return _find_param(self.params, name)

    def __str__(self) -> str:
        # Always the name-addr form: in a bare addr-spec a URI with parameters would be
        # misread, since its parameters would become header parameters (§20.10).
        text = f"<{self.uri}>{_format_params(self.params)}"
        if self.display_name is None:
            return text
        return f'"{_quote(self.display_name)}" {text}'


def _quote(text: str) -> str:
    # qdtext covers SP, HTAB and printable characters except '"' and '\'; everything
    # else that quoted-pair allows is sent escaped (§25.1).
    return "".join(
        "\\" + ch if ch in '"\\' or (ch < " " and ch != "\t") or ch == "\x7f" else ch for ch in text
    )


_BACKSLASH_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_DISPLAY_THEN_LAQUOT_RE = re.compile(
    f"(?:({_abnf.TOKEN}(?:{_abnf.LWS}{_abnf.TOKEN})*){_abnf.SWS})?<"
)
_ADDR_SPEC_END = frozenset(" \t;")
_LINE_BREAK_OR_NUL_RE = re.compile("[\r\n\x00]")


def unquote(quoted: str) -> str:
    """Strip the quotes of a §25.1 quoted-string and resolve its quoted-pairs."""
    return _BACKSLASH_PAIR_RE.sub(r"\1", quoted[1:-1])


def parse_params(
    text: str,
    pos: int,
    *,
    what: str | Callable[[], str],
    pattern: re.Pattern[str] = _abnf.GENERIC_PARAM_RE,
) -> Params:
    """Parse ``*(SEMI generic-param)`` from ``text[pos:]`` to the end of ``text``.

    ``what`` names the value in an error; a callable is asked only then."""
    params: list[tuple[str, str | None]] = []
    while pos < len(text):
        match = pattern.match(text, pos)
        if not match:
            name = what() if callable(what) else what
            raise SipParseError(
                f"invalid parameter in {name} at offset {pos}: {_excerpt(text[pos:])}"
            )
        params.append((match[1].lower(), match[2]))
        pos = match.end()
    return tuple(params)


def parse_name_addr(text: str) -> NameAddr:
    """Parse a From/To/Contact style value: name-addr or bare addr-spec, then params."""
    value = text.strip(" \t")

    def where() -> str:  # only an error needs the excerpt
        return f"address {_excerpt(value)}"

    if not value:
        raise SipParseError("empty address: expected name-addr or addr-spec")
    quoted = _abnf.QUOTED_STRING_RE.match(value) if value.startswith('"') else None
    # A quoted display name may carry NUL through a quoted-pair (§25.1, RFC 4475
    # §3.1.1.2); nowhere else may CR, LF or NUL appear.
    bad = _LINE_BREAK_OR_NUL_RE.search(value, quoted.end() if quoted else 0)
    if bad is not None:
        raise SipParseError(f"{where()}: character {bad.group()!r} is not allowed")

    display: str | None = None
    if value.startswith('"'):
        if not quoted:
            raise SipParseError(f"{where()}: unterminated or invalid quoted display name")
        display = unquote(quoted.group())
        laquot = len(value) - len(value[quoted.end() :].lstrip(" \t"))
        if not value.startswith("<", laquot):
            raise SipParseError(f"{where()}: expected '<' after the display name")
    elif match := _DISPLAY_THEN_LAQUOT_RE.match(value):
        # display-name = *(token LWS): runs of white space count as one separator.
        display = " ".join(match[1].split()) if match[1] else None
        laquot = match.end() - 1
    else:
        # Bare addr-spec (§20.10): the URI ends at the first ';' or white space, and
        # whatever follows are header parameters.  Such a URI cannot carry ',' or '?'.
        end = next((i for i, ch in enumerate(value) if ch in _ADDR_SPEC_END), len(value))
        uri_text = value[:end]
        for ch in ",?":
            if ch in uri_text:
                raise SipParseError(f"{where()}: {ch!r} in a URI outside '<...>' (§20.10)")
        return NameAddr(None, parse_uri(uri_text), parse_params(value, end, what=where))

    raquot = value.find(">", laquot)
    if raquot == -1:
        raise SipParseError(f"{where()}: '<' without '>'")
    uri = parse_uri(value[laquot + 1 : raquot])
    return NameAddr(display, uri, parse_params(value, raquot + 1, what=where))
