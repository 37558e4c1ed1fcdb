"""STIR/SHAKEN for a run: verify a received request's Identity, sign a test call's.

`StirVerifier` is the verification service a command that receives calls uses: built
once per run from `StirSettings` (the STI-CA trust list loaded, the certificate cache
created, settings checked: a `SettingsError` before anything is received), then
`await verifier.verify(invite.headers, request_uri=...)` for each INVITE. It reads the
Identity header fields (probe.stir.verify), fetches the certificates they name
(probe.net.sti_fetch, under the run's deadline and size limit, cached as the server
allows for as long as the verifier lives), and judges them: the evidence, and the
five `stir.*` findings (probe.verdict.checks.stir). `verify_saved_calls` judges a saved
run's calls again under another policy, offline, from what the evidence kept.

`load_signer` turns `--identity-key`/`--identity-cert` into the `PassportSigner` a test
call signs its INVITE with.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from probe.errors import SettingsError
from probe.inbound_settings import InboundSettingsError, stir_problems
from probe.net.sti_fetch import CertificateCache, CertificateFetcher, FetchSettings
from probe.settings import StirSettings
from probe.sip.headers import Headers
from probe.stir.credential import StiTrust
from probe.stir.model import StirEvidence
from probe.stir.passport import ATTESTATION_LEVELS
from probe.stir.sign import PassportSigner, SigningKeyError, load_signing_key
from probe.stir.verify import StirPolicy, judge_identity, read_identity
from probe.verdict.checks.stir import STIR_CHECKS, stir_findings
from probe.verdict.findings import Finding

if TYPE_CHECKING:
    from probe.evidence.inbound import InboundCall, InboundEvidence

__all__ = [
    "STIR_CHECKS",
    "StirOutcome",
    "StirVerifier",
    "load_signer",
    "stir_policy",
    "verify_saved_calls",
]


@dataclass(frozen=True, slots=True)
class StirOutcome:
    """One request's verification: what was seen, and the findings about it."""

    evidence: StirEvidence
    findings: tuple[Finding, ...]


class StirVerifier:
    """The verification service of one run; it owns the run's certificate cache."""

    def __init__(
        self,
        settings: StirSettings,
        *,
        pins: dict[tuple[str, int], str] | None = None,
        cache: CertificateCache | None = None,
    ) -> None:
        """Check `settings` and load the trust list; a `SettingsError` says what is wrong.
        `pins` connects to an address instead of resolving an x5u host (`--resolve`)."""
        problems = stir_problems(settings)
        if problems:
            raise InboundSettingsError(problems)
        for option, path in (
            ("--sti-cert-dir", settings.sti_cert_dir),
            ("--sti-fetch-ca", settings.sti_fetch_ca),
        ):
            if path is not None and not path.exists():
                raise SettingsError(f"{option} {path}: no such file or directory")
        if settings.sti_cert_dir is not None and not settings.sti_cert_dir.is_dir():
            # Refused now: a file there would leave every call's certificate "not found".
            raise SettingsError(f"--sti-cert-dir {settings.sti_cert_dir}: not a directory")
        self.settings = settings
        self.policy = stir_policy(settings)
        try:
            self.fetcher = CertificateFetcher(
                FetchSettings(
                    timeout=settings.sti_fetch_timeout,
                    ca=settings.sti_fetch_ca,
                    cert_dir=settings.sti_cert_dir,
                    pins=dict(pins or {}),
                ),
                cache=cache,
            )
        except ValueError as exc:
            raise SettingsError(f"--sti-fetch-ca {exc}") from None

    async def verify(
        self,
        headers: Headers | Iterable[tuple[str, str]],
        *,
        request_uri: str | None = None,
        now: float | None = None,
        target: str = "inbound call",
    ) -> StirOutcome:
        """Verify one request's Identity header fields (Identity, From, To,
        P-Asserted-Identity and Date are read from `headers`; `request_uri` is a
        callee `dest` may name). `now` is seconds since the epoch (the clock by default);
        `target` labels the findings. Never raises for what the request or an x5u server
        does: every outcome is in the findings."""
        reading = read_identity(headers, request_uri=request_uri)
        fetched = await self.fetcher.fetch_all(reading.certificate_urls)
        when = time.time() if now is None else now
        evidence = judge_identity(reading, fetched, self.policy, now=when)
        return StirOutcome(evidence, tuple(stir_findings(evidence, target=target)))


def stir_policy(settings: StirSettings) -> StirPolicy:
    """The policy `settings` verify by, the STI-CA trust list loaded (`SettingsError`)."""
    return StirPolicy(
        trust=_load_trust(settings.sti_trust),
        freshness=settings.sti_freshness,
        required=settings.sti_required,
        min_attest=settings.sti_min_attest,
    )


def verify_saved_calls(
    inbound: InboundEvidence, settings: StirSettings
) -> tuple[InboundEvidence, list[str]]:
    """The received calls of a saved run with their Identity verified again under
    `settings`' policy, offline (`sipprobe judge --sti-...`), and notes that say so.

    Each INVITE's Identity is read again and judged with the certificates the run
    fetched for it, kept in the evidence as they came (a body, or why there was none:
    a fetch that failed fails again), at the instant the call was first verified, so that
    `iat` and Date are as fresh as they were then. Verification is then asked for of
    every call: one that was not verified when it arrived (no certificate was fetched
    for it), or whose INVITE the file no longer holds whole, is left without a
    verification, which its `stir.identity` reports as work undone, never as a pass.
    `SettingsError` for a policy that cannot verify (no trust list)."""
    problems = stir_problems(settings, verifying=True)
    if problems:
        raise InboundSettingsError(problems)
    policy = stir_policy(settings)
    calls = tuple(replace(call, stir=_verified_again(call, policy)) for call in inbound.calls)
    attest = policy.min_attest or "none (B and C warn)"
    trust = policy.trust.source if policy.trust is not None else "no STI-CA trust list"
    notes = [
        f"STIR/SHAKEN verified again offline against the {trust}: freshness "
        f"{policy.freshness} s, Identity {'required' if policy.required else 'optional'}, "
        f"minimum attestation {attest}; with the certificates the run fetched, at the "
        "instant each call was first verified"
    ]
    unverified = sum(1 for call in calls if call.stir is None)
    if unverified:
        notes.append(
            f"{unverified} received call{'' if unverified == 1 else 's'} cannot be verified "
            "again: not verified when received (no certificate was fetched), or its INVITE "
            "is not in the file whole"
        )
    expectation = replace(inbound.expectation, verify_identity=True)
    return replace(inbound, calls=calls, expectation=expectation), notes


def _verified_again(call: InboundCall, policy: StirPolicy) -> StirEvidence | None:
    from probe.verdict.checks.inbound_request import read_invite

    saved = call.stir
    request = read_invite(call.invite).request
    if saved is None or request is None:
        return None
    reading = read_identity(request.headers, request_uri=str(request.uri))
    fetched = {check.fetch.url: check.fetch for check in saved.checks if check.fetch is not None}
    return judge_identity(reading, fetched, policy, now=saved.checked_at)


def _load_trust(path: Path | None) -> StiTrust | None:
    if path is None:
        return None
    from probe.tls.trust import TrustStoreError, load_trust_anchors

    try:
        anchors = load_trust_anchors(path)
    except TrustStoreError as exc:
        raise SettingsError(f"--sti-trust: {exc}") from None
    return StiTrust(anchors.certificates, f"STI-CA trust list {anchors.source}")


def load_signer(key_path: Path, cert_url: str, attest: str = "A") -> PassportSigner:
    """The signer of `--identity-key KEY --identity-cert URL [--identity-attest A|B|C]`;
    a `SettingsError` when it cannot sign (the key is never quoted)."""
    if attest not in ATTESTATION_LEVELS:
        raise SettingsError(f"--identity-attest {attest!r}: one of A, B, C (RFC 8588 §4)")
    if not cert_url.startswith("https://") or len(cert_url) > 1024 or not cert_url.isprintable():
        raise SettingsError(
            f"--identity-cert {cert_url[:80]!r}: an https URL where verifiers fetch the "
            "certificate (RFC 8225 §4.3, ATIS-1000074 §5.3.1)"
        )
    try:
        data = key_path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"--identity-key {key_path}: {exc.strerror}") from None
    try:
        key = load_signing_key(data)
    except SigningKeyError as exc:
        raise SettingsError(f"--identity-key {key_path}: {exc}") from None
    return PassportSigner(key, cert_url, attest)
