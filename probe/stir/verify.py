"""The verification service of RFC 8224 §6.2 for SHAKEN (RFC 8588, ATIS-1000074), pure.

It runs in two steps around the one thing that needs the network:

1. `read_identity(headers)` reads every Identity header field of a request (RFC 8224
   §4.1) and its PASSporT (RFC 8225), rebuilding a compact one from the request (RFC
   8224 §4.1.1, RFC 8225 §7), and says which certificates (`x5u`) are needed;
2. the caller fetches them (probe.net.sti_fetch: HTTPS with a deadline and a size limit,
   a cache, or a directory);
3. `judge_identity(reading, fetched, policy, now=...)` judges each field: the
   certificate and its chain to the STI-CA trust list, the TNAuthList, the ES256
   signature, `iat` and Date freshness, `orig`/`dest` against From, P-Asserted-Identity,
   To and the Request-URI (RFC 8224 §6.2.3), and the attestation level.

Every problem names its cause and what a verifier would answer (RFC 8224 §6.2.2). No
I/O, no clock: `now` comes in. Nothing raises for bad input.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from probe.sip.headers import Headers
from probe.stir.claims import judge_attestation, judge_parties, judge_time
from probe.stir.credential import StiTrust, judge_credential
from probe.stir.es256 import verify_es256
from probe.stir.header import IdentityField, excerpt, parse_identity_field
from probe.stir.model import (
    BAD_IDENTITY_INFO,
    Area,
    CertificateFetch,
    IdentityCheck,
    SipIdentities,
    StirEvidence,
    StirProblem,
)
from probe.stir.passport import (
    ATTESTATION_LEVELS,
    PPT_SHAKEN,
    SIGNATURE_BYTES,
    Passport,
    b64url_decode,
    decode_full,
    judge_header,
    problem,
    read_claims,
    signing_input,
)
from probe.stir.tn import address_tn, canonical_tn, date_epoch, uri_tn

MAX_IDENTITY_FIELDS = 4
"""Identity header fields judged per request; more are counted, not read."""
DEFAULT_FRESHNESS = 60
"""Seconds `iat` may be from now and from Date (RFC 8224 §6.2.1 recommends 60 s;
ATIS-1000074 §5.3.1 uses the same default)."""


@dataclass(frozen=True, slots=True)
class StirPolicy:
    """How to judge: the STI-CA trust list, the freshness window, what is required."""

    trust: StiTrust | None = None
    freshness: int = DEFAULT_FRESHNESS
    required: bool = True
    """A request without an Identity header field fails (428); otherwise it is reported."""
    min_attest: str | None = None
    """`A`, `B` or `C`: a lower attestation level fails; None: B and C only warn."""


@dataclass(frozen=True, slots=True)
class ReadField:
    """One Identity header field as read before any certificate is fetched."""

    index: int
    value: str
    field: IdentityField | None
    passport: Passport | None
    problems: tuple[StirProblem, ...]
    not_checked: tuple[tuple[Area, str], ...] = ()


@dataclass(frozen=True, slots=True)
class IdentityReading:
    """What the request says, before any certificate is fetched."""

    sip: SipIdentities
    fields: tuple[ReadField, ...]
    ignored: int = 0

    @property
    def certificate_urls(self) -> tuple[str, ...]:
        """Each distinct x5u the fields name, in order: what the caller fetches."""
        urls: list[str] = []
        for read in self.fields:
            x5u = _x5u(read)
            if x5u is not None and x5u not in urls:
                urls.append(x5u)
        return tuple(urls)


def _x5u(read: ReadField) -> str | None:
    if read.passport is None:
        return None
    x5u = read.passport.header.get("x5u")
    return x5u if isinstance(x5u, str) and x5u else None


def request_identities(
    headers: Headers | Iterable[tuple[str, str]], request_uri: str | None = None
) -> SipIdentities:
    """From, To, P-Asserted-Identity, the Request-URI and Date, canonicalised."""
    headers = headers if isinstance(headers, Headers) else Headers.parsed(tuple(headers))
    from_tn, from_uri = address_tn(headers.get("From") or "")
    to_tn, to_uri = address_tn(headers.get("To") or "")
    pai_tns: list[str] = []
    pai_uris: list[str] = []
    for value in headers.get_all("P-Asserted-Identity")[:4]:  # RFC 3325 §9.1: one or two
        tn, uri = address_tn(value)
        if tn is not None:
            pai_tns.append(tn)
        if uri is not None:
            pai_uris.append(uri)
    date = headers.get("Date")
    return SipIdentities(
        from_tn=from_tn,
        from_uri=from_uri,
        to_tn=to_tn,
        to_uri=to_uri,
        pai_tns=tuple(pai_tns),
        pai_uris=tuple(pai_uris),
        request_uri_tn=uri_tn(request_uri) if request_uri else None,
        date=excerpt(date, 64) if date is not None else None,
        date_epoch=date_epoch(date) if date is not None else None,
    )


def read_identity(
    headers: Headers | Iterable[tuple[str, str]], *, request_uri: str | None = None
) -> IdentityReading:
    """Step 1: the request's Identity header fields read, and what must be fetched."""
    headers = headers if isinstance(headers, Headers) else Headers.parsed(tuple(headers))
    sip = request_identities(headers, request_uri)
    values = headers.fields("Identity")
    fields = tuple(
        _read_field(index, value, sip) for index, value in enumerate(values[:MAX_IDENTITY_FIELDS])
    )
    return IdentityReading(sip, fields, max(0, len(values) - MAX_IDENTITY_FIELDS))


def _read_field(index: int, value: str, sip: SipIdentities) -> ReadField:
    found, problems = parse_identity_field(value)
    if found is None:
        return ReadField(index, value, None, None, tuple(problems))
    if found.form == "full":
        passport, decode_problems = decode_full(found.digest)
        problems += decode_problems
    else:
        passport, rebuild_problems = _rebuild_compact(found, sip)
        problems += rebuild_problems
    if passport is None:
        return ReadField(index, value, found, None, tuple(problems))
    problems += judge_header(passport.header)
    problems += _parameters_agree(found, passport.header)
    return ReadField(index, value, found, passport, tuple(problems))


def _parameters_agree(found: IdentityField, header: Mapping[str, Any]) -> list[StirProblem]:
    """RFC 8224 §4.1: the header field's info, alg and ppt describe the PASSporT."""
    problems: list[StirProblem] = []
    for name, key in (("info", "x5u"), ("alg", "alg"), ("ppt", "ppt")):
        given = getattr(found, name)
        if given is not None and header.get(key) is not None and given != header.get(key):
            problems.append(
                problem(
                    "identity",
                    f"{name}_disagrees",
                    f"the Identity header field's {name} {excerpt(given, 80)!r} differs from "
                    f"the PASSporT's {key} {excerpt(str(header.get(key)), 80)!r} "
                    "(RFC 8224 §4.1)",
                )
            )
    return problems


def _rebuild_compact(
    found: IdentityField, sip: SipIdentities
) -> tuple[Passport | None, list[StirProblem]]:
    """RFC 8224 §4.1.1: the header from the field's parameters, the claims from the request
    (orig from P-Asserted-Identity or From, dest from To, iat from Date)."""
    signature = b64url_decode(found.signature_part)
    if signature is None:
        return None, [
            problem("signature", "unreadable_signature", "the signature is not base64url")
        ]
    if found.ppt == PPT_SHAKEN:
        # RFC 8225 §8: a compact form can carry only claims a verifier can rebuild, and
        # SHAKEN's attest and origid are not in the request: ATIS-1000074 §5.3.3 sends
        # the full form only.
        return None, [
            problem(
                "identity",
                "compact_shaken",
                "the PASSporT is in compact form, which cannot carry SHAKEN's attest and "
                "origid claims: SHAKEN sends the full form (ATIS-1000074 §5.3.3)",
            )
        ]
    if sip.date_epoch is None:
        return None, [
            problem(
                "identity",
                "compact_without_date",
                "a compact PASSporT takes its iat from the Date header field, which is "
                "missing or unreadable (RFC 8224 §4.1.1)",
            )
        ]
    header: dict[str, Any] = {"alg": found.alg or "ES256", "typ": "passport"}
    if found.ppt is not None:
        header["ppt"] = found.ppt
    if found.info is not None:
        header["x5u"] = found.info
    orig_tn = sip.pai_tns[0] if sip.pai_tns else sip.from_tn
    orig_uri = sip.pai_uris[0] if sip.pai_uris else sip.from_uri
    claims: dict[str, Any] = {
        "dest": {"tn": [sip.to_tn]} if sip.to_tn else {"uri": [sip.to_uri or ""]},
        "iat": sip.date_epoch,
        "orig": {"tn": orig_tn} if orig_tn else {"uri": orig_uri or ""},
    }
    rebuilt = Passport(header, claims, signing_input(header, claims), signature, compact=True)
    return rebuilt, []


# --- step 3 ------------------------------------------------------------------------------


def judge_identity(
    reading: IdentityReading,
    fetched: Mapping[str, CertificateFetch],
    policy: StirPolicy,
    *,
    now: float,
) -> StirEvidence:
    """Judge every field read, with the certificates fetched for their x5u."""
    checks = tuple(_judge_field(read, reading.sip, fetched, policy, now) for read in reading.fields)
    return StirEvidence(
        checks=checks,
        chosen=_choose(checks),
        sip=reading.sip,
        checked_at=now,
        freshness=policy.freshness,
        required=policy.required,
        ignored_fields=reading.ignored,
        trust_source=policy.trust.source if policy.trust else None,
    )


def _choose(checks: tuple[IdentityCheck, ...]) -> int | None:
    if not checks:
        return None
    for wanted in (
        lambda check: not check.failed,
        lambda check: check.claims.ppt == PPT_SHAKEN,
    ):
        for check in checks:
            if wanted(check):
                return check.index
    return checks[0].index


def _judge_field(
    read: ReadField,
    sip: SipIdentities,
    fetched: Mapping[str, CertificateFetch],
    policy: StirPolicy,
    now: float,
) -> IdentityCheck:
    base = IdentityCheck(
        index=read.index,
        excerpt=excerpt(read.value),
        form=read.field.form if read.field is not None else "unreadable",
    )
    problems = list(read.problems)
    notes: list[tuple[Area, str]] = []
    not_checked = list(read.not_checked)
    passport = read.passport
    if passport is None:
        why = "the Identity header field could not be read"
        not_checked += [
            (area, why) for area in ("certificate", "signature", "claims", "attestation")
        ]
        return replace(base, problems=tuple(problems), not_checked=tuple(not_checked))

    claims, claim_problems = read_claims(passport.header, passport.claims)
    problems += claim_problems
    orig_tn = canonical_tn(claims.orig_tn) if claims.orig_tn else None
    problems += judge_time(claims, sip, policy.freshness, now, notes)
    problems += judge_parties(claims, sip, notes)

    fetch = fetched.get(claims.x5u) if claims.x5u else None
    key = None
    certificate = base.certificate
    if claims.x5u is None:
        not_checked.append(("certificate", "the PASSporT names no certificate (x5u)"))
    elif fetch is None or fetch.body is None:
        why = fetch.problem if fetch is not None and fetch.problem else "it was not fetched"
        cause = fetch.cause if fetch is not None and fetch.cause else "x5u_not_fetched"
        problems.append(
            problem(
                "certificate",
                f"x5u_{cause}" if not cause.startswith("x5u_") else cause,
                f"the certificate at {excerpt(claims.x5u, 120)} could not be obtained: {why}",
                BAD_IDENTITY_INFO,
            )
        )
    else:
        verdict = judge_credential(
            fetch.body, policy.trust, now=dt.datetime.fromtimestamp(now, dt.UTC), orig_tn=orig_tn
        )
        certificate, key = verdict.facts, verdict.key
        problems += verdict.problems
        notes += [("certificate", note) for note in verdict.notes]

    signature_valid: bool | None = None
    if len(passport.signature) != SIGNATURE_BYTES:
        problems.append(
            problem(
                "signature",
                "signature_length",
                f"the signature has {len(passport.signature)} octets; ES256 is R || S, "
                f"{SIGNATURE_BYTES} octets (RFC 7518 §3.4), never DER",
            )
        )
        signature_valid = False
    elif claims.alg != "ES256":
        not_checked.append(("signature", "the PASSporT does not claim ES256"))
    elif key is None:
        not_checked.append(("signature", "no certificate key to check it with"))
    else:
        signature_valid = verify_es256(key, passport.signing_input, passport.signature)
        if signature_valid:
            rebuilt = " over the PASSporT rebuilt from the request" if passport.compact else ""
            notes.append(
                ("signature", f"the ES256 signature verifies with the certificate's key{rebuilt}")
            )
        else:
            problems.append(
                problem(
                    "signature",
                    "signature_invalid",
                    "the ES256 signature does not verify with the certificate's key: the "
                    "PASSporT was altered or signed with another key (RFC 8224 §6.2.2)",
                )
            )

    problems += judge_attestation(claims, policy.min_attest, notes)
    # An attestation is only as good as the PASSporT carrying it: any failure elsewhere
    # (a verifier rejects the header field) leaves the level claimed, not proven.
    failed = next(
        (item for item in problems if item.severity == "fail" and item.area != "attestation"),
        None,
    )
    unproven = signature_valid is not True or certificate.chain_ok is not True or failed
    if claims.attest in ATTESTATION_LEVELS and unproven:
        why = (
            f"the PASSporT failed ({failed.cause})"
            if failed is not None
            else "the signature or its certificate was not verified"
        )
        not_checked.append(
            ("attestation", f"attestation {claims.attest} is claimed, but {why}: it proves nothing")
        )
    return replace(
        base,
        claims=claims,
        certificate=certificate,
        fetch=fetch,
        signature_valid=signature_valid,
        not_checked=tuple(not_checked),
        problems=tuple(problems),
        notes=tuple(notes),
    )


__all__ = [
    "DEFAULT_FRESHNESS",
    "MAX_IDENTITY_FIELDS",
    "IdentityReading",
    "ReadField",
    "StiTrust",
    "StirPolicy",
    "judge_identity",
    "read_identity",
    "request_identities",
]
