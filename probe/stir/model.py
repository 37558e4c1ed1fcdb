"""What STIR/SHAKEN verification saw and concluded, as plain frozen data.

The verifier (probe.stir.verify) fills these in; the checks (probe.verdict.checks.stir)
turn them into findings. Nothing here imports cryptography or does I/O, so evidence and
findings can be built and judged anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Area = Literal["identity", "certificate", "signature", "claims", "attestation"]
"""Which finding a problem belongs to: `stir.<area>`."""

AREAS: tuple[Area, ...] = ("identity", "certificate", "signature", "claims", "attestation")

FetchSource = Literal["https", "cache", "directory", "none"]


@dataclass(frozen=True, slots=True)
class VerifierResponse:
    """The status a verification service would answer (RFC 8224 §6.2.1, §6.2.2)."""

    code: int
    reason: str

    def __str__(self) -> str:
        return f"{self.code} {self.reason}"


# RFC 8224 §6.2.2: no Identity header field with a supported "ppt" (or none at all).
USE_IDENTITY_HEADER = VerifierResponse(428, "Use Identity Header")
# RFC 8224 §6.2.1: a Date (or, by ATIS-1000074 §5.3.2, an "iat") older than policy allows.
STALE_DATE = VerifierResponse(403, "Stale Date")
# RFC 8224 §6.2.2: the credential named by "info" (x5u) could not be acquired.
BAD_IDENTITY_INFO = VerifierResponse(436, "Bad Identity Info")
# RFC 8224 §6.2.2: the credential was acquired but is not supported or not trusted.
UNSUPPORTED_CREDENTIAL = VerifierResponse(437, "Unsupported Credential")
# RFC 8224 §6.2.2: no Identity header field carries a valid, supported PASSporT.
INVALID_IDENTITY_HEADER = VerifierResponse(438, "Invalid Identity Header")

Severity = Literal["fail", "warn"]


@dataclass(frozen=True, slots=True)
class StirProblem:
    """One thing wrong with an Identity header field, in the finding it belongs to."""

    area: Area
    cause: str
    """A stable name for the cause (`alg_not_es256`, `x5u_timeout`, `iat_stale`...)."""
    text: str
    """One sentence an engineer can act on."""
    response: VerifierResponse | None = None
    """What a verifier would answer for this problem; None for a warning."""
    severity: Severity = "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "cause": self.cause,
            "text": self.text,
            "response": None if self.response is None else str(self.response),
            "severity": self.severity,
        }


@dataclass(frozen=True, slots=True)
class CertificateFetch:
    """How the certificate named by an `x5u` was obtained, or why it was not."""

    url: str
    source: FetchSource
    body: bytes | None = field(default=None, repr=False)
    """What the URL served (or the file held), at most the size limit."""
    cause: str | None = None
    """Why no body: `not_https`, `timeout`, `too_large`, `redirect_loop`, `http_status`..."""
    problem: str | None = None
    """The same, as a sentence."""
    status: int | None = None
    """The HTTP status of the last response."""
    redirects: tuple[str, ...] = ()
    """Each Location followed, in order."""
    elapsed_ms: float | None = None
    max_age: int | None = None
    """Seconds the response may be reused in this run (Cache-Control), when it may."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "source": self.source,
            "bytes": None if self.body is None else len(self.body),
            "cause": self.cause,
            "problem": self.problem,
            "status": self.status,
            "redirects": list(self.redirects),
            "elapsed_ms": None if self.elapsed_ms is None else round(self.elapsed_ms, 3),
            "max_age": self.max_age,
        }


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """The signing certificate as far as it could be read and judged."""

    subject: str | None = None
    issuer: str | None = None
    not_after: str | None = None
    key: str | None = None
    """`EC P-256`, `RSA 2048`..."""
    chain_ok: bool | None = None
    """None when the chain was not judged (nothing to judge, or no trust anchors)."""
    path: tuple[str, ...] = ()
    """Subjects from the leaf to the STI-CA trust anchor, when the chain verified."""
    spc: tuple[str, ...] = ()
    """Service provider codes of the TNAuthList (RFC 8226 §9, ATIS-1000080)."""
    tns: tuple[str, ...] = ()
    """Telephone numbers of the TNAuthList, ranges as `START+COUNT`."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_after": self.not_after,
            "key": self.key,
            "chain_ok": self.chain_ok,
            "path": list(self.path),
            "spc": list(self.spc),
            "tns": list(self.tns),
        }


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """The PASSporT's header and claims as read (none of it trusted unless verified)."""

    alg: str | None = None
    typ: str | None = None
    ppt: str | None = None
    x5u: str | None = None
    attest: str | None = None
    orig_tn: str | None = None
    orig_uri: str | None = None
    dest_tns: tuple[str, ...] = ()
    dest_uris: tuple[str, ...] = ()
    iat: int | None = None
    origid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alg": self.alg,
            "typ": self.typ,
            "ppt": self.ppt,
            "x5u": self.x5u,
            "attest": self.attest,
            "orig_tn": self.orig_tn,
            "orig_uri": self.orig_uri,
            "dest_tns": list(self.dest_tns),
            "dest_uris": list(self.dest_uris),
            "iat": self.iat,
            "origid": self.origid,
        }


Form = Literal["full", "compact", "unreadable"]


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """One Identity header field, judged from its text to its signature."""

    index: int
    """Position among the request's Identity header fields (0 first)."""
    excerpt: str
    """The field's start, for a report (the whole value can be long)."""
    form: Form
    claims: ClaimFacts = field(default_factory=ClaimFacts)
    certificate: CertificateFacts = field(default_factory=CertificateFacts)
    fetch: CertificateFetch | None = None
    signature_valid: bool | None = None
    """None when the signature could not be checked (no key, no signing input)."""
    not_checked: tuple[tuple[Area, str], ...] = ()
    """Areas that could not be judged, and why (an earlier step failed)."""
    problems: tuple[StirProblem, ...] = ()
    notes: tuple[tuple[Area, str], ...] = ()
    """What was checked and held, one sentence each, by the finding it supports."""

    @property
    def failed(self) -> bool:
        return any(problem.severity == "fail" for problem in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "excerpt": self.excerpt,
            "form": self.form,
            "claims": self.claims.to_dict(),
            "certificate": self.certificate.to_dict(),
            "fetch": None if self.fetch is None else self.fetch.to_dict(),
            "signature_valid": self.signature_valid,
            "not_checked": [list(item) for item in self.not_checked],
            "problems": [problem.to_dict() for problem in self.problems],
            "notes": [list(item) for item in self.notes],
        }


@dataclass(frozen=True, slots=True)
class SipIdentities:
    """The identities the request's own header fields name, canonicalised (RFC 8224 §8.3)."""

    from_tn: str | None = None
    from_uri: str | None = None
    to_tn: str | None = None
    to_uri: str | None = None
    pai_tns: tuple[str, ...] = ()
    """Every telephone number among the P-Asserted-Identity values (RFC 3325)."""
    pai_uris: tuple[str, ...] = ()
    request_uri_tn: str | None = None
    date: str | None = None
    """The Date header field as received."""
    date_epoch: int | None = None
    """The Date header field in seconds since the epoch, when it could be read."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_tn": self.from_tn,
            "from_uri": self.from_uri,
            "to_tn": self.to_tn,
            "to_uri": self.to_uri,
            "pai_tns": list(self.pai_tns),
            "pai_uris": list(self.pai_uris),
            "request_uri_tn": self.request_uri_tn,
            "date": self.date,
            "date_epoch": self.date_epoch,
        }


@dataclass(frozen=True, slots=True)
class StirEvidence:
    """STIR/SHAKEN verification of one request: every Identity field, and which one the
    findings judge."""

    checks: tuple[IdentityCheck, ...]
    chosen: int | None
    """Index into `checks` of the field the findings judge: the first that verified,
    else the first SHAKEN one, else the first; None without any Identity field."""
    sip: SipIdentities
    checked_at: float
    """Seconds since the epoch, the `now` the verification used."""
    freshness: int
    """Seconds `iat` and Date may be away from `now` (and from each other)."""
    required: bool = True
    """Whether a missing Identity header field is a failure (428) or only reported."""
    ignored_fields: int = 0
    """Identity fields beyond the limit of fields judged."""
    trust_source: str | None = None
    """Where the STI-CA trust anchors came from; None when there are none."""

    @property
    def judged(self) -> IdentityCheck | None:
        return None if self.chosen is None else self.checks[self.chosen]

    @property
    def response(self) -> VerifierResponse | None:
        """What a verification service would answer: the first failing problem of the
        judged field, in the order a verifier meets them; None when it would accept."""
        if not self.checks:
            return USE_IDENTITY_HEADER if self.required else None
        judged = self.judged
        assert judged is not None
        for problem in sorted(judged.problems, key=_verifier_order):
            if problem.severity == "fail" and problem.response is not None:
                return problem.response
        return None

    def to_dict(self) -> dict[str, Any]:
        response = self.response
        return {
            "checks": [check.to_dict() for check in self.checks],
            "chosen": self.chosen,
            "sip": self.sip.to_dict(),
            "checked_at": self.checked_at,
            "freshness": self.freshness,
            "required": self.required,
            "ignored_fields": self.ignored_fields,
            "trust_source": self.trust_source,
            "response": None if response is None else str(response),
        }


# The order a verification service works in (RFC 8224 §6.2): read the header field and
# its PASSporT, check the Date, acquire the credential, judge it, check the signature, and
# then the claims against the request.
_ORDER: dict[Area, int] = {
    "identity": 0,
    "certificate": 2,
    "signature": 3,
    "claims": 4,
    "attestation": 5,
}


def _verifier_order(problem: StirProblem) -> int:
    if problem.response == STALE_DATE:
        return 1
    return _ORDER[problem.area]
