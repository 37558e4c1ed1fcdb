"""Digest authentication for our UAC (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

Parsing a challenge (``WWW-Authenticate`` in a 401, ``Proxy-Authenticate`` in a 407),
computing the credentials, and re-sending the challenged request.  The client nonce
comes in as an argument, like every other random value in this package.

Supported: algorithms MD5, SHA-256 and SHA-512-256 (RFC 8760 §2.1 brings RFC 7616's
hashes to SIP) and their ``-sess`` variants; qop ``auth``, ``auth-int``, or none (RFC 2069
compatibility, RFC 2617 §3.2.2.1).  Not supported, and refused as
:class:`UnsupportedChallenge` so the caller can say why it did not authenticate: other
schemes (Basic is forbidden in SIP, §22.1), other algorithms (e.g. AKAv1-MD5), and
challenges offering only unknown qop values.  ``userhash``, ``charset`` and ``domain`` are
accepted and ignored: none changes what we must send (RFC 7616 §3.4.4 lets a client
that does not hash the username leave ``userhash`` out).

The password is only ever hashed.  :class:`DigestCredentials` never shows it in
``repr`` or ``str``, so a credentials object in a log line or a traceback leaks nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from . import _abnf
from .builders import _require, check_branch, check_cseq, match_response
from .errors import SipBuildError, SipParseError
from .headers import Headers, _key, parse_via, split_list
from .message import Request, Response
from .uri import _excerpt, unquote

__all__ = [
    "DigestChallenge",
    "DigestCredentials",
    "UnsupportedChallenge",
    "authorize",
    "build_authorization",
    "challenge_algorithm",
    "choose_challenge",
    "parse_challenge",
]

# RFC 7616 §6.1 (IANA "HTTP Digest Hash Algorithms") names -> hashlib names.  SHA-512-256
# is SHA-512/256 of FIPS 180-4 (RFC 7616 §3.2), which hashlib has only when its OpenSSL
# does: without it the algorithm is unsupported, like any other we cannot compute.
_HASHES = {
    name: hashed
    for name, hashed in (("MD5", "md5"), ("SHA-256", "sha256"), ("SHA-512-256", "sha512_256"))
    if hashed in hashlib.algorithms_available
}
# How strongly we prefer each hash when a server offers several.  RFC 8760 §2.4 has the
# UAC answer the topmost challenge it supports "unless a local policy dictates
# otherwise", and §3 names the reason for a policy: a challenge is not integrity
# protected, so whoever can reorder the header fields can put MD5 on top.  Ours: MD5
# never wins over a SHA-2 hash, whatever the order; between SHA-256 and SHA-512-256
# (both 128-bit collision resistance) the server's order decides, as §2.4 asks.
_STRENGTH = {"MD5": 1, "SHA-256": 2, "SHA-512-256": 2}
_ALGORITHMS = {name.lower(): name for base in _HASHES for name in (base, base + "-sess")}
_REGISTERED = {
    name.lower(): name
    for base in ("MD5", "SHA-256", "SHA-512-256")
    for name in (base, base + "-sess")
}
"""Every algorithm RFC 7616 §6.1 registers, in its spelling, for reports."""
_MAX_NC = 0xFFFFFFFF  # nc-value = 8LHEX (RFC 2617 §3.2.2)


class UnsupportedChallenge(SipParseError):
    """A well-formed challenge sipprobe cannot answer: another scheme, an algorithm or a
    qop it does not implement.  Not the server's fault, so not a malformed answer."""


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One ``Digest`` challenge (RFC 2617 §3.2.1, RFC 7616 §3.3).

    ``algorithm`` is in its registered spelling (``MD5``, ``SHA-256-sess``...); ``qop``
    lists the offered qop values in lower case, empty when the server sent no qop.
    """

    realm: str
    nonce: str
    algorithm: str = "MD5"  # RFC 2617 §3.2.1: absent means MD5
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @property
    def hash_name(self) -> str:
        """The hash under the algorithm: ``MD5``, ``SHA-256`` or ``SHA-512-256``."""
        return self.algorithm.removesuffix("-sess")

    @property
    def session(self) -> bool:
        """True for the ``-sess`` variants (RFC 7616 §3.4.2)."""
        return self.algorithm.endswith("-sess")

    @property
    def answer_qop(self) -> str | None:
        """The qop an answer uses (RFC 7616 §3.4: one of those offered), None without."""
        return _choose_qop(self)


@dataclass(frozen=True, slots=True, repr=False)
class DigestCredentials:
    """A username and password for digest authentication; the password never prints."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.username, str) or not self.username:
            raise SipBuildError("DigestCredentials.username must be a non-empty string")
        if not isinstance(self.password, str):
            raise SipBuildError("DigestCredentials.password must be a string")
        _check_quotable(self.username, "username")

    def __repr__(self) -> str:
        return f"DigestCredentials(username={self.username!r}, password=<redacted>)"

    __str__ = __repr__


# --- parsing -----------------------------------------------------------------------


def _challenge_error(text: str, why: str) -> SipParseError:
    return SipParseError(f"challenge {_excerpt(text)}: {why}")


def _unsupported(text: str, why: str) -> UnsupportedChallenge:
    return UnsupportedChallenge(f"challenge {_excerpt(text)}: {why}")


def _auth_params(text: str) -> tuple[str, dict[str, tuple[str, bool]]]:
    """Split ``scheme param=value, ...`` into the scheme and {name: (value, quoted)}.

    Names are lowercased (RFC 7616 §3.3: case-insensitive); quoted values are
    unquoted.  Empty list elements (``a=1,,b=2``) are skipped, as RFC 7230 §7 asks of
    recipients.  Each parameter may appear once (RFC 7235 §2.1).
    """
    scheme_match = _abnf.AUTH_SCHEME_RE.match(text)
    if not scheme_match:
        raise _challenge_error(text, "expected an authentication scheme such as 'Digest'")
    params: dict[str, tuple[str, bool]] = {}
    pos = scheme_match.end()
    while pos < len(text):
        match = _abnf.AUTH_PARAM_RE.match(text, pos)
        if not match:
            raise _challenge_error(text, f"expected name=value at offset {pos}")
        name, raw = match[1].lower(), match[2]
        if name in params:
            raise _challenge_error(text, f"parameter {name} appears twice")
        quoted = raw.startswith('"')
        value = unquote(raw) if quoted else raw
        # A quoted-pair may smuggle a control character into the value; none has any
        # business in a realm or nonce, and it could not be sent back in a header.
        if _has_control(value):
            raise _challenge_error(text, f"parameter {name} contains a control character")
        params[name] = (value, quoted)
        pos = match.end()
        if pos < len(text):
            if text[pos] != ",":
                raise _challenge_error(text, f"expected ',' at offset {pos}")
            while pos < len(text) and text[pos] in ", \t":
                pos += 1
    return scheme_match[1], params


def parse_challenge(value: str) -> DigestChallenge:
    """Parse a ``WWW-Authenticate`` / ``Proxy-Authenticate`` value (§25.1 challenge).

    Raises :class:`SipParseError` for any other scheme, a missing realm or nonce, an
    unsupported algorithm, or qop offering neither ``auth`` nor ``auth-int``.
    """
    text = value.strip(" \t")
    scheme, params = _auth_params(text)
    if scheme.lower() != "digest":
        raise _unsupported(text, f"scheme {scheme} is not Digest, the only one SIP uses")
    for required in ("realm", "nonce"):
        if required not in params:
            raise _challenge_error(text, f"no {required} parameter (RFC 2617 §3.2.1)")
    algorithm_text = params.get("algorithm", ("MD5", False))[0]
    algorithm = _ALGORITHMS.get(algorithm_text.lower())
    if algorithm is None:
        supported = ", ".join(_ALGORITHMS.values())
        raise _unsupported(
            text, f"algorithm {_excerpt(algorithm_text)} is not supported ({supported})"
        )
    qop: tuple[str, ...] = ()
    if "qop" in params:
        # qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT; RFC 7616
        # §3.9.1 shows white space after the comma, so it is stripped.
        qop = tuple(q.strip(" \t").lower() for q in params["qop"][0].split(",") if q.strip())
        if not {"auth", "auth-int"} & set(qop):
            raise _unsupported(text, "qop offers neither auth nor auth-int")
    stale_text = params.get("stale", ("false", False))[0].lower()
    if stale_text not in ("true", "false"):
        raise _challenge_error(text, f"stale must be true or false, not {_excerpt(stale_text)}")
    opaque = params.get("opaque")
    return DigestChallenge(
        realm=params["realm"][0],
        nonce=params["nonce"][0],
        algorithm=algorithm,
        qop=qop,
        opaque=opaque[0] if opaque is not None else None,
        stale=stale_text == "true",
    )


def choose_challenge(headers: Sequence[str]) -> DigestChallenge:
    """Pick the challenge to answer from every challenge header of one response.

    RFC 8760 §2.4: the UAC ignores challenges it does not understand and answers the
    topmost one it supports, "unless a local policy dictates otherwise".  Ours (see
    ``_STRENGTH``): the strongest hash it supports, and among equally strong ones the
    topmost, the server's preference (RFC 8760 §2.3: it lists them most preferred first).

    Raises :class:`UnsupportedChallenge` when every challenge is well formed but none
    can be answered, :class:`SipParseError` when one is malformed (or there is none).
    """
    best: DigestChallenge | None = None
    problems: list[SipParseError] = []
    for value in headers:
        try:
            challenge = parse_challenge(value)
        except SipParseError as exc:
            problems.append(exc)
            continue
        if best is None or _STRENGTH[challenge.hash_name] > _STRENGTH[best.hash_name]:
            best = challenge
    if best is None:
        why = "; ".join(map(str, problems)) if problems else "the response carries no challenge"
        unsupported = bool(problems) and all(isinstance(p, UnsupportedChallenge) for p in problems)
        kind = UnsupportedChallenge if unsupported else SipParseError
        raise kind(f"no usable Digest challenge: {why}")
    return best


def challenge_algorithm(value: str) -> str:
    """What one challenge header offers, for a report: ``Digest SHA-256``, ``Digest MD5``
    (the default when no algorithm is named, RFC 7616 §3.3), ``Digest AKAv1-MD5``,
    ``Basic``; ``unreadable`` when not even the scheme can be read.  Never raises."""
    text = value.strip(" \t")
    try:
        scheme, params = _auth_params(text)
    except SipParseError:
        match = _abnf.AUTH_SCHEME_RE.match(text)
        return match[1] if match else "unreadable"
    if scheme.lower() != "digest":
        return scheme
    written = params.get("algorithm", ("MD5", False))[0]
    shown = written if len(written) <= 40 and not _has_control(written) else "(unreadable)"
    return "Digest " + _REGISTERED.get(written.lower(), shown)


# --- computing credentials ----------------------------------------------------------


def _has_control(text: str) -> bool:
    return any((ch < " " and ch != "\t") or ch == "\x7f" for ch in text)


def _check_quotable(text: str, what: str) -> None:
    if _has_control(text):
        raise SipBuildError(f"{what} contains a control character")


def _quote(text: str) -> str:
    """``text`` as a §25.1 quoted-string (escaping '"' and '\\')."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _hasher(challenge: DigestChallenge) -> Callable[[str | bytes], str]:
    """H(data) of RFC 7616 §3.4.1 for the challenge's algorithm: lower-case hex."""
    name = _HASHES[challenge.hash_name]

    def digest(data: str | bytes) -> str:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        # MD5 here is protocol-mandated, not a security choice of ours; saying so keeps
        # it usable on FIPS-restricted OpenSSL builds.
        return hashlib.new(name, raw, usedforsecurity=False).hexdigest()

    return digest


def _choose_qop(challenge: DigestChallenge) -> str | None:
    # RFC 7616 §3.4: the client picks one offered qop.  auth is preferred: auth-int
    # hashes the body, which a proxy may legitimately change (SDP rewriting), so it is
    # used only when the server leaves no other choice.  No qop offered means the
    # RFC 2069 computation, which RFC 2617 §3.2.2.1 keeps for compatibility.
    if "auth" in challenge.qop:
        return "auth"
    if "auth-int" in challenge.qop:
        return "auth-int"
    _require(not challenge.qop, f"qop {','.join(challenge.qop)} offers no supported value")
    return None


def build_authorization(
    challenge: DigestChallenge,
    credentials: DigestCredentials,
    *,
    method: str,
    uri: str,
    cnonce: str,
    nc: int = 1,
    body: bytes = b"",
) -> str:
    """The ``Authorization`` / ``Proxy-Authorization`` value answering ``challenge``.

    RFC 2617 §3.2.2 and RFC 7616 §3.4, with RFC 3261 §22.4's SIP reading: ``uri`` is
    the Request-URI as sent and ``method`` the request's method.  ``nc`` counts the
    requests sent with this nonce (1 for a fresh challenge).
    """
    _require(
        isinstance(method, str) and _abnf.TOKEN_RE.fullmatch(method) is not None,
        f"method {method!r} is not a token",
    )
    _check_quotable(uri, "uri")
    _require(bool(cnonce), "cnonce must not be empty")
    _check_quotable(cnonce, "cnonce")
    _require(isinstance(nc, int) and 1 <= nc <= _MAX_NC, f"nc {nc!r} is outside 1..{_MAX_NC:#x}")
    qop = _choose_qop(challenge)
    h = _hasher(challenge)
    nc_text = f"{nc:08x}"

    # RFC 7616 §3.4.2: A1 = user:realm:password; for -sess the hash of that, then the
    # nonce and the cnonce.
    ha1 = h(f"{credentials.username}:{challenge.realm}:{credentials.password}")
    if challenge.session:
        ha1 = h(f"{ha1}:{challenge.nonce}:{cnonce}")
    # RFC 7616 §3.4.3: A2 = method:uri, plus H(body) for auth-int.
    ha2 = h(f"{method}:{uri}:{h(body)}" if qop == "auth-int" else f"{method}:{uri}")
    # RFC 7616 §3.4.1 (with qop) and RFC 2617 §3.2.2.1 (RFC 2069 mode, without).
    if qop is None:
        response = h(f"{ha1}:{challenge.nonce}:{ha2}")
    else:
        response = h(f"{ha1}:{challenge.nonce}:{nc_text}:{cnonce}:{qop}:{ha2}")

    # RFC 7616 §3.4: username, realm, nonce, uri, response, cnonce and opaque are
    # quoted-strings; algorithm, qop and nc are sent bare.
    parts = [
        f"username={_quote(credentials.username)}",
        f"realm={_quote(challenge.realm)}",
        f"nonce={_quote(challenge.nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={challenge.algorithm}",
    ]
    if qop is not None or challenge.session:
        parts.append(f"cnonce={_quote(cnonce)}")
    if qop is not None:
        parts += [f"qop={qop}", f"nc={nc_text}"]
    if challenge.opaque is not None:
        # RFC 2617 §3.2.2: opaque goes back unchanged whenever the server sent it.
        parts.append(f"opaque={_quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)


# --- re-sending a challenged request ---------------------------------------------------

# status -> (challenge header, credentials header), §22.2 and §22.3.
_HEADERS = {
    401: ("WWW-Authenticate", "Authorization"),
    407: ("Proxy-Authenticate", "Proxy-Authorization"),
}


def _realm_of(credentials_value: str) -> str | None:
    try:
        return _auth_params(credentials_value)[1].get("realm", (None, False))[0]
    except SipParseError:
        return None


def authorize(
    request: Request,
    response: Response,
    credentials: DigestCredentials,
    *,
    branch: str,
    cnonce: str,
    cseq: int,
) -> Request:
    """``request`` again, answering the 401/407 ``response`` (§22.2, §22.3).

    Same Request-URI, Call-ID, From (and tag), To and body; the CSeq number becomes
    ``cseq`` (it must go up, §8.1.3.5) and the top Via gets the new ``branch``: it is
    a new transaction.  ``Authorization`` answers a 401, ``Proxy-Authorization`` a
    407; a credentials header already there for the same realm is replaced and one
    for another realm kept (§22.3: a request can carry credentials for several).
    One challenge is answered (:func:`choose_challenge`); nc is 1 since each
    challenge brings a fresh nonce.
    """
    names = _HEADERS.get(response.status_code)
    _require(names is not None, f"a {response.status_code} is not a challenge (401/407)")
    challenge_header, credentials_header = names or ("", "")
    _require(
        request.method not in ("ACK", "CANCEL"),
        f"{request.method} cannot be challenged or re-sent with credentials (§22.1)",
    )
    match = match_response(request, response)
    _require(match.matched, f"the response does not answer this request: {match.reason}")
    check_branch(branch)
    check_cseq(cseq)
    old_cseq = request.cseq
    _require(cseq > old_cseq.number, f"cseq {cseq} must be above {old_cseq.number} (§8.1.3.5)")

    challenge = choose_challenge(response.headers.get_all(challenge_header))
    value = build_authorization(
        challenge,
        credentials,
        method=request.method,
        uri=str(request.uri),
        cnonce=cnonce,
        body=request.body,
    )
    top = parse_via(request.headers.get_all("Via")[0])
    params = tuple((n, branch if n == "branch" else v) for n, v in top.params)
    if top.branch is None:
        params = (("branch", branch), *params)
    new_via = str(replace(top, params=params))

    items: list[tuple[str, str]] = []
    for name, old in request.headers:
        key = _key(name)
        if key == "via" and not any(_key(n) == "via" for n, _ in items):
            # The first Via field starts with our via-parm; a combined "Via: a, b"
            # field keeps its tail.
            items.append((name, ", ".join([new_via, *split_list(old)[1:]])))
        elif key == "cseq":
            items.append((name, f"{cseq} {old_cseq.method}"))
        elif key != _key(credentials_header) or _realm_of(old) != challenge.realm:
            items.append((name, old))
    # Before Content-Length when there is one, so the body stays right after it.
    at = next((i for i, (n, _) in enumerate(items) if _key(n) == "content-length"), len(items))
    items.insert(at, (credentials_header, value))
    return Request(request.method, request.uri, Headers(items), request.body)
