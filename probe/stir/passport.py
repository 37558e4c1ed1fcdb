"""PASSporT (RFC 8225) with the SHAKEN extension (RFC 8588): decode, judge, encode.

A PASSporT is a JWS in compact serialization (RFC 7515 §7.1): BASE64URL(header) '.'
BASE64URL(claims) '.' BASE64URL(signature). Decoding is strict and bounded: base64url
without padding (RFC 7515 §2), UTF-8 JSON objects whose member names appear once
(RFC 7515 §4: a duplicate name is either rejected or read as the last one; rejecting it
leaves no room for two readers to disagree), no NaN or Infinity, limited length and
depth. Whatever is wrong becomes a `StirProblem`; nothing raises for bad input.

Encoding follows the deterministic serialization of RFC 8225 §9 (RFC 7638 §3 step 1:
members in lexicographic order, no white space), which is also what a compact-form
PASSporT is rebuilt with before its signature can be checked (RFC 8225 §7).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from probe.errors import ProbeError
from probe.stir.model import (
    INVALID_IDENTITY_HEADER,
    USE_IDENTITY_HEADER,
    Area,
    ClaimFacts,
    Severity,
    StirProblem,
    VerifierResponse,
)

MAX_PART_CHARS = 4096
"""Longest base64url part accepted: a SHAKEN header is ~150 characters, its claims ~250."""
MAX_JSON_DEPTH = 8
"""Deepest nesting accepted: PASSporT objects nest two levels (`dest` → `tn` → list)."""
MAX_DEST_ENTRIES = 32
"""Most destination identities read from `dest` (RFC 8225 §5.2.1 allows several)."""
SIGNATURE_BYTES = 64
MAX_NUMERIC_DATE = 253402300799
"""9999-12-31T23:59:59Z: the largest `iat` read as a time."""
"""An ES256 signature is R || S, 32 octets each (RFC 7518 §3.4), not DER."""

PPT_SHAKEN = "shaken"
ATTESTATION_LEVELS = ("A", "B", "C")
"""RFC 8588 §4: full, partial and gateway attestation."""

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# RFC 4122 §3: 8-4-4-4-12 hexadecimal digits, what ATIS-1000074 §5.2.3 wants in `origid`.
_UUID = re.compile(r"[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}")


class _Refused(ProbeError, ValueError):
    """Raised inside the JSON reader; turned into a problem at the edge."""


def b64url_encode(data: bytes) -> str:
    """RFC 7515 §2: base64url with the trailing '=' removed."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes | None:
    """The octets of an unpadded base64url string (RFC 7515 §2), or None when it is not
    one: a character outside the alphabet, '=' padding, an impossible length, or unused
    bits that are not zero (RFC 4648 §3.5: another encoder would not produce it)."""
    if len(text) > MAX_PART_CHARS or _BASE64URL.fullmatch(text) is None or len(text) % 4 == 1:
        return None
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return data if b64url_encode(data) == text else None


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """RFC 8225 §9: members sorted by name at every level, no white space, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _pairs_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise _Refused(f"the member {repeated[0]!r} appears more than once (RFC 7515 §4)")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON (RFC 8259 §6)")


def _depth(text: str) -> int:
    """Deepest bracket nesting outside strings, without building anything."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def decode_json_object(part: str, what: str) -> tuple[dict[str, Any] | None, str | None]:
    """One base64url JSON object, or None and why not."""
    data = b64url_decode(part)
    if data is None:
        return None, f"the {what} is not unpadded base64url (RFC 7515 §2)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, f"the {what} is not UTF-8 (RFC 7515 §5.2)"
    if _depth(text) > MAX_JSON_DEPTH:
        return None, f"the {what} nests deeper than {MAX_JSON_DEPTH} levels"
    try:
        value = json.loads(text, object_pairs_hook=_pairs_once, parse_constant=_no_constant)
    except _Refused as exc:
        return None, f"the {what} is refused: {exc}"
    except (ValueError, RecursionError) as exc:
        return None, f"the {what} is not JSON: {str(exc)[:120]}"
    if not isinstance(value, dict):
        return None, f"the {what} is JSON but not an object (RFC 7515 §4, RFC 7519 §7.2)"
    return value, None


@dataclass(frozen=True, slots=True)
class Passport:
    """A decoded PASSporT: what was signed, the signature, and what it says."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    """ASCII(BASE64URL(header) '.' BASE64URL(claims)): what ES256 signed (RFC 7515 §5.1)."""
    signature: bytes
    compact: bool
    """Rebuilt from the request (RFC 8225 §7) rather than carried whole."""


def problem(
    area: Area,
    cause: str,
    text: str,
    response: VerifierResponse | None = INVALID_IDENTITY_HEADER,
    severity: Severity = "fail",
) -> StirProblem:
    return StirProblem(area, cause, text, response if severity == "fail" else None, severity)


def decode_full(token: str) -> tuple[Passport | None, list[StirProblem]]:
    """A full-form PASSporT (three parts), or None and the problems that prevent reading
    it (RFC 7515 §5.2 steps 1-7)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        return None, [problem("identity", "not_jws", "the PASSporT is not header.claims.signature")]
    header, why_header = decode_json_object(parts[0], "PASSporT header")
    claims, why_claims = decode_json_object(parts[1], "PASSporT claims")
    signature = b64url_decode(parts[2])
    problems = [
        problem("identity", "unreadable_header" if why is why_header else "unreadable_claims", why)
        for why in (why_header, why_claims)
        if why is not None
    ]
    if signature is None:
        problems.append(
            problem("signature", "unreadable_signature", "the signature is not base64url")
        )
    if header is None or claims is None or signature is None:
        return None, problems
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    return Passport(header, claims, signing_input, signature, compact=False), problems


def judge_header(header: Mapping[str, Any]) -> list[StirProblem]:
    """RFC 8225 §4 and RFC 8588 §3: `alg` ES256, `typ` passport, `ppt` shaken, `x5u`."""
    problems: list[StirProblem] = []
    alg = header.get("alg")
    if alg != "ES256":
        shown = "absent" if alg is None else repr(alg)
        problems.append(
            problem(
                "identity",
                "alg_none" if isinstance(alg, str) and alg.lower() == "none" else "alg_not_es256",
                f"the PASSporT's alg is {shown}; SHAKEN signs with ES256 only "
                "(RFC 8588 §3, ATIS-1000074 §5.3.1), and an unsigned JWS is never accepted",
            )
        )
    typ = header.get("typ")
    if typ != "passport":
        problems.append(
            problem(
                "identity",
                "typ_not_passport",
                f"the PASSporT's typ is {'absent' if typ is None else repr(typ)}, not "
                '"passport" (RFC 8225 §4.1)',
            )
        )
    ppt = header.get("ppt")
    if ppt != PPT_SHAKEN:
        # RFC 8225 §8.1: an unsupported ppt fails validation; RFC 8224 §6.2.2: without a
        # field of a supported ppt, the verifier answers 428.
        problems.append(
            problem(
                "identity",
                "ppt_not_shaken",
                f"the PASSporT's ppt is {'absent' if ppt is None else repr(ppt)}, not "
                '"shaken" (RFC 8588 §3)',
                USE_IDENTITY_HEADER,
            )
        )
    x5u = header.get("x5u")
    if not isinstance(x5u, str) or not x5u:
        problems.append(
            problem(
                "identity",
                "x5u_missing",
                "the PASSporT header has no x5u naming the certificate (RFC 8225 §4.3)",
            )
        )
    unknown = sorted(set(header) - {"alg", "typ", "ppt", "x5u"})
    if unknown:
        problems.append(
            problem(
                "identity",
                "header_extra",
                f"the PASSporT header carries {', '.join(map(repr, unknown[:4]))}, which "
                "SHAKEN does not define (RFC 8588 §3)",
                severity="warn",
            )
        )
    return problems


def _string_list(value: Any, limit: int = MAX_DEST_ENTRIES) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value or len(value) > limit:
        return None
    if not all(isinstance(item, str) and item for item in value):
        return None
    return tuple(value)


def read_claims(
    header: Mapping[str, Any], claims: Mapping[str, Any]
) -> tuple[ClaimFacts, list[StirProblem]]:
    """The claims as facts, and what is wrong with their form (RFC 8225 §5, RFC 8588 §4,
    ATIS-1000074 §5.2.3). Comparing them with the request is the verifier's part."""
    problems: list[StirProblem] = []

    def bad(cause: str, text: str, severity: Severity = "fail") -> None:
        problems.append(problem("claims", cause, text, severity=severity))

    orig = claims.get("orig")
    orig_tn = orig_uri = None
    if not isinstance(orig, dict) or len(orig) != 1 or not set(orig) <= {"tn", "uri"}:
        bad("orig_malformed", 'orig must be an object with one "tn" or "uri" (RFC 8225 §5.2.1)')
    elif "tn" in orig:
        orig_tn = orig["tn"] if isinstance(orig["tn"], str) and orig["tn"] else None
        if orig_tn is None:
            bad("orig_malformed", "orig.tn is not a non-empty string (RFC 8225 §5.2.1)")
    else:
        orig_uri = orig["uri"] if isinstance(orig["uri"], str) and orig["uri"] else None
        if orig_uri is None:
            bad("orig_malformed", "orig.uri is not a non-empty string (RFC 8225 §5.2.1)")

    dest = claims.get("dest")
    dest_tns: tuple[str, ...] = ()
    dest_uris: tuple[str, ...] = ()
    if not isinstance(dest, dict) or not dest or not set(dest) <= {"tn", "uri"}:
        bad(
            "dest_malformed", 'dest must be an object of "tn" and/or "uri" arrays (RFC 8225 §5.2.1)'
        )
    else:
        for key in ("tn", "uri"):
            if key not in dest:
                continue
            values = _string_list(dest[key])
            if values is None:
                bad(
                    "dest_malformed",
                    f"dest.{key} must be an array of 1 to {MAX_DEST_ENTRIES} non-empty strings "
                    "(RFC 8225 §5.2.1)",
                )
            elif key == "tn":
                dest_tns = values
            else:
                dest_uris = values

    iat = claims.get("iat")
    # A NumericDate beyond year 9999 is no time a call was placed, and a larger integer
    # than a float holds would break the arithmetic of the freshness check.
    if isinstance(iat, bool) or not isinstance(iat, int) or not 0 <= iat <= MAX_NUMERIC_DATE:
        bad("iat_malformed", "iat must be a NumericDate in whole seconds (RFC 8225 §5.1.1)")
        iat = None

    attest = claims.get("attest")  # judged with the attestation (probe.stir.verify)

    origid = claims.get("origid")
    if origid is None:
        bad("origid_missing", "the SHAKEN claim origid is missing (RFC 8588 §5)")
    elif not isinstance(origid, str):
        bad("origid_malformed", "origid is not a string (RFC 8588 §5)")
        origid = None
    elif _UUID.fullmatch(origid) is None:
        bad(
            "origid_not_uuid",
            f"origid {origid[:40]!r} is not a UUID (ATIS-1000074 §5.2.3)",
            severity="warn",
        )

    x5u = header.get("x5u")
    facts = ClaimFacts(
        alg=_text(header.get("alg")),
        typ=_text(header.get("typ")),
        ppt=_text(header.get("ppt")),
        x5u=x5u if isinstance(x5u, str) else None,
        # A value of another type is kept as text, so that it reads as invalid, not absent.
        attest=None if attest is None else str(attest)[:16],
        orig_tn=orig_tn,
        orig_uri=orig_uri,
        dest_tns=dest_tns,
        dest_uris=dest_uris,
        iat=iat,
        origid=origid,
    )
    return facts, problems


def _text(value: Any) -> str | None:
    return value[:64] if isinstance(value, str) else None


def shaken_header(x5u: str) -> dict[str, Any]:
    """RFC 8588 §3: the SHAKEN PASSporT header."""
    return {"alg": "ES256", "ppt": PPT_SHAKEN, "typ": "passport", "x5u": x5u}


def shaken_claims(
    *, attest: str, orig_tn: str, dest_tns: Sequence[str], iat: int, origid: str
) -> dict[str, Any]:
    """RFC 8225 §5 and RFC 8588 §4-5: the claims of a SHAKEN PASSporT; `dest` numbers in
    lexicographic order (RFC 8225 §5.2.1)."""
    return {
        "attest": attest,
        "dest": {"tn": sorted(dest_tns)},
        "iat": iat,
        "orig": {"tn": orig_tn},
        "origid": origid,
    }


def signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    """RFC 7515 §5.1 step 5, with the JSON of RFC 8225 §9."""
    encoded = f"{b64url_encode(canonical_json(header))}.{b64url_encode(canonical_json(claims))}"
    return encoded.encode("ascii")
