"""STIR/SHAKEN: the Identity header field of SIP (RFC 8224), its PASSporT (RFC 8225,
RFC 8588 for SHAKEN) and the certificates that sign it (RFC 8226, ATIS-1000080).

A package of its own rather than part of `probe.sip`: the SIP codec is stdlib only,
while verifying and signing a PASSporT needs cryptography (ES256, X.509 paths) and its
rules come from other documents than RFC 3261. It is pure nonetheless: no socket, no
event loop, no clock. The certificate an `x5u` names is fetched by the collect layer
(probe.net.sti_fetch) and handed in; probe.run.stir joins the two for a caller.

- `model`: the evidence (plain data, importable without cryptography);
- `header`, `passport`, `tn`, `tnauthlist`: the readers (stdlib only);
- `es256`, `credential`: the signature and the certificate (cryptography);
- `verify` (with `claims`): the verification service; `sign`: the authentication service.

This module re-exports the evidence model only, so that importing it loads no
cryptography: the judgement of findings (probe.verdict.checks.stir) needs nothing more.
"""

from probe.stir.model import (
    AREAS,
    BAD_IDENTITY_INFO,
    INVALID_IDENTITY_HEADER,
    STALE_DATE,
    UNSUPPORTED_CREDENTIAL,
    USE_IDENTITY_HEADER,
    Area,
    CertificateFacts,
    CertificateFetch,
    ClaimFacts,
    IdentityCheck,
    SipIdentities,
    StirEvidence,
    StirProblem,
    VerifierResponse,
)

__all__ = [
    "AREAS",
    "BAD_IDENTITY_INFO",
    "INVALID_IDENTITY_HEADER",
    "STALE_DATE",
    "UNSUPPORTED_CREDENTIAL",
    "USE_IDENTITY_HEADER",
    "Area",
    "CertificateFacts",
    "CertificateFetch",
    "ClaimFacts",
    "IdentityCheck",
    "SipIdentities",
    "StirEvidence",
    "StirProblem",
    "VerifierResponse",
]
