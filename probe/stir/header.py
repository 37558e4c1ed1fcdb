"""The Identity header field of RFC 8224 §4.1, read strictly and without raising.

    Identity = "Identity" HCOLON signed-identity-digest SEMI ident-info
               *( SEMI ident-info-params )
    signed-identity-digest = 1*(base64-char / ".")
    ident-info     = "info" EQUAL ident-info-uri
    ident-info-uri = LAQUOT absoluteURI RAQUOT
    ident-info-params = ident-info-alg / ident-type / ident-info-extension
    ident-info-alg = "alg" EQUAL token
    ident-type     = "ppt" EQUAL token
    ident-info-extension = generic-param

The digest is a full PASSporT (`header.claims.signature`) or its compact form
(`..signature`, RFC 8224 §4.1.1 and RFC 8225 §7), which carries only the signature: the
header and claims are then rebuilt from the request (probe.stir.verify). `ppt` is read
as a token or a quoted string, since deployed authentication services quote it
(`ppt="shaken"`) as RFC 8224's own examples do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from probe.stir.model import Form, StirProblem
from probe.stir.passport import problem

MAX_IDENTITY_CHARS = 8192
"""Longest Identity field value read: a SHAKEN one is about 700 characters."""
MAX_PARAMS = 16

_DIGEST = re.compile(r"[A-Za-z0-9_\-.+/=]+")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")  # RFC 3261 §25.1 token
_QUOTED = re.compile(r'"((?:[^"\\\r\n]|\\.)*)"')
_ANGLE = re.compile(r"<([^<>\s]*)>")
_WS = " \t"


@dataclass(frozen=True, slots=True)
class IdentityField:
    """One Identity header field's parts, as written."""

    digest: str
    form: Form
    info: str | None
    alg: str | None
    ppt: str | None
    params: tuple[tuple[str, str | None], ...]
    """Every parameter in order, names lowercased (`info` without its angle brackets)."""

    @property
    def signature_part(self) -> str:
        return self.digest.rsplit(".", 1)[-1]


def excerpt(value: str, size: int = 96) -> str:
    return value if len(value) <= size else value[:size] + "..."


def parse_identity_field(value: str) -> tuple[IdentityField | None, list[StirProblem]]:
    """One field value; None and the problems when it cannot be read at all."""
    text = value.strip(_WS)
    if len(text) > MAX_IDENTITY_CHARS:
        return None, [
            problem(
                "identity",
                "field_too_long",
                f"the Identity header field has {len(text)} characters; more than "
                f"{MAX_IDENTITY_CHARS} is not read",
            )
        ]
    end = text.find(";")
    digest = (text if end == -1 else text[:end]).strip(_WS)
    if not digest or _DIGEST.fullmatch(digest) is None:
        return None, [
            problem(
                "identity",
                "digest_malformed",
                "the Identity header field does not start with a PASSporT "
                "(base64url parts separated by dots, RFC 8224 §4.1)",
            )
        ]
    params, why = _parameters(text, len(text) if end == -1 else end)
    if params is None:
        return None, [problem("identity", "params_malformed", f"Identity header field: {why}")]
    parts = digest.split(".")
    form: Form
    if len(parts) == 3 and all(parts):
        form = "full"
    elif len(parts) == 3 and parts[0] == parts[1] == "" and parts[2]:
        form = "compact"
    else:
        return None, [
            problem(
                "identity",
                "digest_malformed",
                "the PASSporT is neither full (header.claims.signature) nor compact "
                "(..signature) (RFC 8225 §7)",
            )
        ]
    problems: list[StirProblem] = []
    names = [name for name, _ in params]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(
            problem(
                "identity",
                "params_repeated",
                f"the Identity header field repeats the parameter {repeated[0]!r}",
            )
        )
    values = dict(params)
    info = values.get("info")
    if "info" not in values:
        # RFC 8224 §4.1: ident-info is not optional; the full form also names the
        # certificate in x5u, but a verifier may rely on either.
        problems.append(
            problem(
                "identity",
                "info_missing",
                "the Identity header field has no info parameter (RFC 8224 §4.1)",
            )
        )
    found = IdentityField(digest, form, info, values.get("alg"), values.get("ppt"), params)
    return found, problems


def _parameters(
    text: str, pos: int
) -> tuple[tuple[tuple[str, str | None], ...] | None, str | None]:
    params: list[tuple[str, str | None]] = []
    while True:
        pos = _skip(text, pos)
        if pos >= len(text):
            return tuple(params), None
        if text[pos] != ";":
            return None, f"expected ';' at offset {pos}"
        pos = _skip(text, pos + 1)
        name_match = _TOKEN.match(text, pos)
        if name_match is None:
            return None, f"expected a parameter name at offset {pos}"
        name = name_match.group().lower()
        pos = _skip(text, name_match.end())
        value: str | None = None
        if pos < len(text) and text[pos] == "=":
            pos = _skip(text, pos + 1)
            value, pos, why = _parameter_value(text, pos, name)
            if why is not None:
                return None, why
        params.append((name, value))
        if len(params) > MAX_PARAMS:
            return None, f"more than {MAX_PARAMS} parameters"


def _parameter_value(text: str, pos: int, name: str) -> tuple[str | None, int, str | None]:
    if name == "info":
        angle = _ANGLE.match(text, pos)
        if angle is None:
            return None, pos, "info must be an absolute URI in angle brackets (RFC 8224 §4.1)"
        return angle.group(1), angle.end(), None
    quoted = _QUOTED.match(text, pos)
    if quoted is not None:
        return re.sub(r"\\(.)", r"\1", quoted.group(1)), quoted.end(), None
    token = _TOKEN.match(text, pos)
    if token is None:
        return None, pos, f"the parameter {name} has no value at offset {pos}"
    return token.group(), token.end(), None


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos
