"""The lab's STI PKI: an STI-CA and a SHAKEN certificate, for signing test calls.

SHAKEN certificates (ATIS-1000080 §6) are end-entity certificates on P-256 keys with the
TNAuthList extension (RFC 8226 §9) naming the service provider code (SPC), issued under
an STI-CA that verifiers trust. `build_sti_lab` issues root → intermediate → SHAKEN leaf
with the primitives of `probe.tls.pki`; `shaken_certificate` makes the variants a
verifier must refuse (no TNAuthList, numbers that exclude the caller);
`probe.tls.lab.write_sti_lab` puts the set on disk (`sipprobe certs lab` writes it under
`sti/`), where `sipprobe invite --identity-key` and an `x5u` server find it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from probe.stir.tnauthlist import OID as TN_AUTH_LIST_OID
from probe.stir.tnauthlist import encode_tn_auth_list
from probe.tls.pki import (
    Issued,
    PrivateKey,
    RawExtension,
    aware_utc,
    make_intermediate_ca,
    make_leaf,
    make_root_ca,
)

DEFAULT_SPC = "1234"
"""The lab's service provider code (an OCN-like four characters)."""


@dataclass(frozen=True, slots=True)
class StiLab:
    root: Issued
    """The STI-CA root: what a verifier's STI trust list (`--sti-trust`) holds."""
    intermediate: Issued
    shaken: Issued
    """The SHAKEN leaf: TNAuthList with `spc`, P-256 key, keyUsage digitalSignature."""
    spc: str

    def chain_pem(self, leaf: Issued | None = None) -> bytes:
        """What an x5u serves: the leaf (the SHAKEN one by default) and the intermediate."""
        return (leaf or self.shaken).cert_pem() + self.intermediate.cert_pem()


@dataclass(frozen=True, slots=True)
class StiLabFiles:
    directory: Path
    ca: Path
    """The STI-CA root (`--sti-trust`)."""
    chain: Path
    """SHAKEN leaf + intermediate: the file to serve at the `x5u` URL."""
    key: Path
    """The SHAKEN leaf's key (`--identity-key`)."""


def shaken_certificate(
    issuer: Issued,
    *,
    spc: str | None = DEFAULT_SPC,
    tns: Sequence[str] = (),
    ranges: Sequence[tuple[str, int]] = (),
    tn_auth_list: bool = True,
    critical: bool = False,
    key: PrivateKey | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Issued:
    """A SHAKEN end-entity certificate from `issuer`; `tn_auth_list=False` leaves the
    extension out (a certificate a verifier must refuse)."""
    extensions: list[RawExtension] = []
    if tn_auth_list:
        value = encode_tn_auth_list(
            spcs=(spc,) if spc else (), tns=tuple(tns), ranges=tuple(ranges)
        )
        extensions.append(RawExtension(x509.ObjectIdentifier(TN_AUTH_LIST_OID), value, critical))
    return make_leaf(
        issuer,
        # US SHAKEN CP §3.1.1: the subject's CN reads "SHAKEN <SPC>".
        common_name=f"SHAKEN {spc or 'lab'}",
        server_auth=False,
        key_type="ec",
        key=key,
        not_before=not_before,
        not_after=not_after,
        now=now,
        raw_extensions=extensions,
    )


def build_sti_lab(*, spc: str = DEFAULT_SPC, now: dt.datetime | None = None) -> StiLab:
    """STI-CA root → intermediate → SHAKEN leaf for `spc`, all on P-256 keys."""
    now = aware_utc(now)
    root = make_root_ca("sipprobe lab STI-CA root", key_type="ec", now=now)
    intermediate = make_intermediate_ca(root, "sipprobe lab STI-CA", key_type="ec", now=now)
    return StiLab(root, intermediate, shaken_certificate(intermediate, spc=spc, now=now), spc)
