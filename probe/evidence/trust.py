"""The trust anchors of a run ↔ the `TrustRecord` its evidence keeps. No I/O: loading a
store is the caller's business; this only describes anchors and rebuilds them from PEM."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from probe.errors import ProbeError
from probe.evidence.run import RunEvidence, TrustRecord, TrustStoreKind

if TYPE_CHECKING:
    from cryptography import x509

    from probe.tls.trust import TrustAnchors
    from probe.tls.verify import ChainPurpose

__all__ = ["anchors_from_record", "missing_anchors", "record_trust"]

# RFC 7468 §5.1: the textual encoding of one certificate.
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)


def _sha256(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


def _anchors_reached(run: RunEvidence, anchors: TrustAnchors) -> tuple[str, ...]:
    """The fingerprint of the anchor each presented chain verifies to, once per chain,
    judged at the run's start as the run itself judged them."""
    from probe.tls.verify import verify_chain
    from probe.verdict.checks.certificate import load_presented

    now = dt.datetime.fromisoformat(run.started_at)
    chains = dict.fromkeys(
        probed.evidence.tls.presented_chain
        for probed in run.probed()
        if probed.evidence is not None
        and probed.evidence.tls is not None
        and probed.evidence.tls.ok
        and probed.evidence.tls.presented_chain
    )
    # The client certificates of the calls an answer run received, judged for that role.
    client_chains = dict.fromkeys(
        call.tls.client_chain
        for call in (run.inbound.calls if run.inbound is not None else ())
        if call.tls is not None and call.tls.client_chain
    )
    judged: list[tuple[tuple[bytes, ...], ChainPurpose]] = [
        *((chain, "server") for chain in chains),
        *((chain, "client") for chain in client_chains),
    ]
    reached: dict[str, None] = {}
    for chain, purpose in judged:
        certificates, error = load_presented(chain)
        if error is not None or not certificates:
            continue
        try:
            verdict = verify_chain(certificates, anchors, now=now, purpose=purpose)
        # A hostile certificate can make cryptography raise more than ValueError; the
        # record is a description of the run and must never stop its evidence being saved.
        except Exception:
            continue
        if verdict.ok and verdict.verified_path:
            reached[_sha256(verdict.verified_path[-1])] = None
    return tuple(reached)


def record_trust(
    anchors: TrustAnchors, store: TrustStoreKind, run: RunEvidence | None
) -> TrustRecord:
    """What the evidence keeps of `anchors`: the store, the fingerprints of the anchors the
    run's chains reached (none without a run: a capture audit's), and for a PEM file or
    directory its certificates (public data; a private key in the same file is never
    read into `anchors` in the first place)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    pem = None
    if store == "path":
        pem = "".join(
            cert.public_bytes(Encoding.PEM).decode("ascii") for cert in anchors.certificates
        )
    return TrustRecord(
        store=store,
        source=anchors.source,
        used_sha256=() if run is None else _anchors_reached(run, anchors),
        pem=pem,
    )


class RecordError(ProbeError, ValueError):
    """A recorded set of anchors that cannot be used; the message says why."""


def anchors_from_record(record: TrustRecord) -> TrustAnchors:
    """The anchors of a `path` record, rebuilt from the PEM it keeps."""
    from cryptography import x509

    from probe.tls.trust import TrustAnchors

    blocks = _PEM_BLOCK.findall(record.pem or "")
    if not blocks:
        raise RecordError("settings.trust.pem holds no certificate")
    certificates = []
    for number, block in enumerate(blocks, start=1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block.encode("ascii")))
        # Whatever cryptography raises on a damaged file is a sentence, not a traceback.
        except Exception as exc:
            raise RecordError(f"settings.trust.pem certificate #{number}: {exc}") from None
    # The run's own name for them: judging again gives the run's findings, details and all.
    return TrustAnchors(tuple(certificates), record.source)


def missing_anchors(record: TrustRecord, anchors: Iterable[x509.Certificate]) -> list[str]:
    """The recorded anchors the run reached that `anchors` no longer holds."""
    present = {_sha256(cert) for cert in anchors}
    return [sha256 for sha256 in record.used_sha256 if sha256 not in present]
