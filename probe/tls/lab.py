"""The lab PKI on disk: a root, an intermediate, a server and client leaf, and one
server-certificate variant per problem a verifier must recognise.

`build_lab` issues everything in memory with the primitives of `probe.tls.pki`;
`write_lab` puts it under a directory (`sipprobe certs lab DIR`, the tests, the demo).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from probe.tls.certinfo import iso_utc
from probe.tls.pki import (
    CLOCK_SKEW,
    DEFAULT_SERVER_NAME,
    IPAddressLike,
    Issued,
    PrivateKey,
    aware_utc,
    generate_key,
    make_intermediate_ca,
    make_leaf,
    make_root_ca,
)
from probe.tls.sti_lab import DEFAULT_SPC, StiLabFiles, build_sti_lab

# What each variant is, and what a verifier should say about it. {name}, {other} and
# {wildcard} are filled in by `build_variants`.
_VARIANTS = {
    "good": "leaf issued by the root itself, sent alone: all checks pass",
    "good-via-intermediate": "leaf + intermediate, the usual full chain: all checks pass",
    "missing-intermediate": "leaf from the intermediate, sent alone: chain fails",
    "expired": "expired 10 days before generation: chain and validity fail",
    "not-yet-valid": "valid from 10 days after generation: chain and validity fail",
    "expiring-3-days": "expires 3 days after generation: chain ok, validity fails (7-day window)",
    "wrong-host": "SANs for {other} only: chain ok, identity fails for {name}",
    "self-signed": "self-signed leaf: chain fails unless this very certificate is pinned",
    "cn-only": "no subjectAltName, CN {name}: chain ok, identity warns (matched the CN)",
    "wildcard": "only DNS:{wildcard}: chain ok, RFC 5922 identity fails, RFC 2818 ok",
    "rsa-1024": "1024-bit RSA leaf key: key check fails",
    "sha1-signed": "leaf signed with sha1WithRSAEncryption: chain and signature fail",
    "no-server-auth": "EKU clientAuth only: chain and EKU fail",
    "sip-domain-only": "EKU id-kp-sipDomain only (RFC 5924): chain ok, EKU passes with a note",
}
VARIANT_NAMES: tuple[str, ...] = tuple(_VARIANTS)
"""Every server-certificate variant `build_lab` issues, in a stable order."""
_SENT_ALONE = frozenset({"good", "missing-intermediate", "self-signed"})


@dataclass(frozen=True, slots=True)
class Variant:
    """One server set-up: what the server presents, and what a verifier should conclude."""

    name: str
    description: str
    server_name: str
    """The name the leaf was issued for (`*.…` for the wildcard variant)."""
    leaf: Issued
    chain: tuple[x509.Certificate, ...]
    """Exactly what the server should send, leaf first (never the root)."""

    def chain_pem(self) -> bytes:
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.chain)


@dataclass(frozen=True, slots=True)
class Lab:
    """The in-memory lab PKI that `write_lab` puts on disk."""

    root: Issued
    intermediate: Issued
    server: Issued
    client: Issued
    other_root: Issued
    untrusted_client: Issued
    """A clientAuth leaf issued by `other_root`: mutual TLS must refuse it."""
    variants: Mapping[str, Variant]
    """Keyed by name, in `VARIANT_NAMES` order."""


@dataclass(frozen=True, slots=True)
class VariantFiles:
    """Where `write_lab` put one variant: `variants/<name>/chain.pem` and `key.pem`."""

    name: str
    chain: Path
    key: Path
    description: str
    server_name: str


@dataclass(frozen=True, slots=True)
class LabFiles:
    """Paths written by `write_lab`."""

    directory: Path
    ca: Path
    """Root certificate: the trust anchor to give the verifier."""
    intermediate: Path
    server: Path
    """Server leaf followed by the intermediate: the bundle a server presents."""
    server_key: Path
    server_leaf: Path
    """Server leaf alone: for 'missing intermediate' set-ups."""
    client: Path
    """Client leaf followed by the intermediate, for mutual TLS."""
    client_key: Path
    client_key_encrypted: Path
    """The client key again, encrypted with the password in `client_key_password`."""
    client_key_password: Path
    """One line: the password of `client_key_encrypted`, random for each lab."""
    other_ca: Path
    """An unrelated root, for 'wrong CA' tests."""
    readme: Path
    untrusted_client: Path
    """A clientAuth leaf issued by the unrelated root: a server must refuse it."""
    untrusted_client_key: Path
    variants: Mapping[str, VariantFiles]
    """One folder per server-certificate variant, keyed by name in `VARIANT_NAMES` order."""
    sti: StiLabFiles | None = None
    """The STI-CA and SHAKEN certificate for signing test calls (STIR/SHAKEN)."""


# RFC 5280 Appendix A: ub-common-name; the first server name is the leaf's CN.
COMMON_NAME_LIMIT = 64


def server_name_problem(name: str, *, first: bool) -> str | None:
    """Why `name` cannot be a lab server name (None when it can), known before any key is
    generated."""
    if not name:
        return "a server name cannot be empty"
    if not name.isascii():
        # RFC 5280 §4.2.1.6: a dNSName is IA5String, so an IDN is written as its A-label.
        return f"{name!r} is not ASCII: give the A-label (xn--...) of an internationalised name"
    if not name.isprintable():
        return f"{name!r} holds control characters"
    if first and len(name) > COMMON_NAME_LIMIT:
        return (
            f"the first name becomes the leaf's common name, at most {COMMON_NAME_LIMIT} "
            f"characters (RFC 5280 Appendix A); {name[:20]}... has {len(name)}"
        )
    return None


def build_lab(
    *,
    server_names: Sequence[str] = ("sip.example.test",),
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
    now: dt.datetime | None = None,
) -> Lab:
    """Root → intermediate → server and client leaves, plus an unrelated root."""
    if not server_names and not ip_addresses:
        raise ValueError("the server certificate needs at least one name or address")
    now = aware_utc(now)
    root = make_root_ca("sipprobe lab root CA", now=now)
    intermediate = make_intermediate_ca(root, "sipprobe lab intermediate CA", now=now)
    server = make_leaf(
        intermediate,
        common_name=server_names[0] if server_names else str(ip_addresses[0]),
        dns_names=server_names,
        ip_addresses=ip_addresses,
        # RFC 5922 §7.1: a SIP domain identity is best carried as URI:sip:<domain>.
        sip_uris=[f"sip:{name}" for name in server_names],
        # SIP peers open connections in both directions with the same certificate.
        server_auth=True,
        client_auth=True,
        now=now,
    )
    client = make_leaf(
        intermediate,
        common_name="sipprobe-client",
        # cryptography's ClientVerifier (and many SBCs) require a SAN on client certificates.
        dns_names=["sipprobe-client"],
        server_auth=False,
        client_auth=True,
        now=now,
    )
    other_root = make_root_ca("sipprobe unrelated root CA", now=now)
    untrusted_client = make_leaf(
        other_root,
        common_name="sipprobe-untrusted-client",
        dns_names=["sipprobe-untrusted-client"],
        server_auth=False,
        client_auth=True,
        # Same key as the trusted client, so refusing it can only be about the issuer.
        key=client.key,
        now=now,
    )
    variants = build_variants(
        root,
        intermediate,
        server_name=server_names[0] if server_names else DEFAULT_SERVER_NAME,
        ip_addresses=ip_addresses,
        # RSA key generation is the slow part; where the key is not the point, reuse one.
        key=server.key,
        now=now,
    )
    return Lab(root, intermediate, server, client, other_root, untrusted_client, variants)


def build_variants(
    root: Issued,
    intermediate: Issued,
    *,
    server_name: str = DEFAULT_SERVER_NAME,
    ip_addresses: Sequence[IPAddressLike] = ("127.0.0.1", "::1"),
    key: PrivateKey | None = None,
    now: dt.datetime | None = None,
) -> Mapping[str, Variant]:
    """One server certificate per entry of `VARIANT_NAMES`, each broken in one way only.

    Unless a variant is about it, a leaf is issued by `intermediate` for `server_name`
    (SANs `URI:sip:<name>`, `DNS:<name>` and `ip_addresses`), carries serverAuth and
    clientAuth (SIP peers connect both ways with one certificate), is valid from `now` for
    `DEFAULT_LEAF_DAYS`, and uses `key` (RSA-2048, generated once when not given).
    `intermediate` must have an RSA key: the SHA-1 variant is re-signed by hand.
    """
    now = aware_utc(now)
    key = key or generate_key()
    other = "other.example.test" if server_name != "other.example.test" else "wrong.test"
    # RFC 6125 §6.4.3: the wildcard stands for the left-most label of the name it covers.
    wildcard = "*." + (server_name.split(".", 1)[1] if server_name.count(".") > 1 else server_name)
    day = dt.timedelta(days=1)
    base: dict[str, Any] = {
        "issuer": intermediate,
        "common_name": server_name,
        "dns_names": [server_name],
        "ip_addresses": ip_addresses,
        "sip_uris": [f"sip:{server_name}"],
        "client_auth": True,
        "key": key,
        "now": now,
    }
    changes: dict[str, dict[str, Any]] = {
        "good": {"issuer": root},
        "expired": {"not_before": now - 100 * day, "not_after": now - 10 * day},
        "not-yet-valid": {"not_before": now + 10 * day, "not_after": now + 375 * day},
        "expiring-3-days": {"not_after": now + 3 * day},
        "wrong-host": {"dns_names": [other], "sip_uris": [f"sip:{other}"], "ip_addresses": ()},
        "self-signed": {"issuer": None},
        "cn-only": {"include_san": False},
        "wildcard": {"dns_names": [wildcard], "sip_uris": (), "ip_addresses": ()},
        "rsa-1024": {"key": generate_key(rsa_bits=1024)},
        "sha1-signed": {"hash_alg": hashes.SHA1()},
        "no-server-auth": {"server_auth": False},
        "sip-domain-only": {"server_auth": False, "client_auth": False, "sip_domain_eku": True},
    }
    meant_for = {"wrong-host": other, "wildcard": wildcard}
    variants: dict[str, Variant] = {}
    for name, description in _VARIANTS.items():
        options = base | changes.get(name, {})
        options["common_name"] = meant_for.get(name, server_name)
        issued = make_leaf(**options)
        tail = () if name in _SENT_ALONE else (intermediate.cert,)
        text = description.format(name=server_name, other=other, wildcard=wildcard)
        variants[name] = Variant(
            name, text, meant_for.get(name, server_name), issued, (issued.cert, *tail)
        )
    return MappingProxyType(variants)


_README = """\
sipprobe lab PKI (generated by `sipprobe certs lab`; for testing only, never for production).
ca.pem is the root CA, the trust anchor to pass to sipprobe (--ca ca.pem); intermediate.pem
is the CA that signed both leaves; server.pem is the server leaf followed by the
intermediate, the full chain a server should present, with its key in server.key;
server-leaf.pem is the same leaf alone, for reproducing a server that forgets the
intermediate; client.pem (leaf + intermediate) and client.key are a clientAuth certificate
(CN sipprobe-client) for mutual TLS; untrusted-client.pem/.key are a client certificate from
the unrelated root other-ca.pem, which a server must refuse. client-encrypted.key is
client.key encrypted with the password in client-key-password.txt, for
--key-password-file.
Server names: {names}. Valid until {until}. Keys are readable only by you, and unencrypted
but for client-encrypted.key.

sti/ is an STI PKI for STIR/SHAKEN: sti/sti-ca.pem is the STI-CA root (--sti-trust),
sti/shaken.pem the SHAKEN certificate (TNAuthList SPC {spc}, P-256) followed by its
intermediate, the file to serve at the x5u URL, and sti/shaken.key its key
(--identity-key).

variants/<name>/chain.pem is what a server should present (leaf first) and key.pem its key,
for one certificate broken in one way each (dates count from generation, {generated}):
{variants}
"""


def write_lab(
    directory: Path,
    *,
    server_names: Sequence[str] = ("sip.example.test",),
    ip_addresses: Sequence[str] = ("127.0.0.1", "::1"),
    now: dt.datetime | None = None,
) -> LabFiles:
    """Generate a fresh lab PKI into `directory`, replacing any previous one."""
    # The folder first: a path that cannot be one fails before seconds of key generation.
    directory.mkdir(parents=True, exist_ok=True)
    lab = build_lab(server_names=server_names, ip_addresses=ip_addresses, now=now)
    variant_files: dict[str, VariantFiles] = {}
    for name, variant in lab.variants.items():
        folder = directory / "variants" / name
        variant_files[name] = VariantFiles(
            name, folder / "chain.pem", folder / "key.pem", variant.description, variant.server_name
        )
    files = LabFiles(
        directory=directory,
        ca=directory / "ca.pem",
        intermediate=directory / "intermediate.pem",
        server=directory / "server.pem",
        server_key=directory / "server.key",
        server_leaf=directory / "server-leaf.pem",
        client=directory / "client.pem",
        client_key=directory / "client.key",
        client_key_encrypted=directory / "client-encrypted.key",
        client_key_password=directory / "client-key-password.txt",
        other_ca=directory / "other-ca.pem",
        readme=directory / "README.txt",
        untrusted_client=directory / "untrusted-client.pem",
        untrusted_client_key=directory / "untrusted-client.key",
        variants=MappingProxyType(variant_files),
        sti=write_sti_lab(directory / "sti", now=now),
    )
    chain_tail = lab.intermediate.cert_pem()
    _write(files.ca, lab.root.cert_pem())
    _write(files.intermediate, chain_tail)
    _write(files.server, lab.server.cert_pem() + chain_tail)
    _write(files.server_key, lab.server.key_pem(), private=True)
    _write(files.server_leaf, lab.server.cert_pem())
    _write(files.client, lab.client.cert_pem() + chain_tail)
    _write(files.client_key, lab.client.key_pem(), private=True)
    password = secrets.token_urlsafe(18).encode("ascii")
    _write(files.client_key_encrypted, lab.client.key_pem(password), private=True)
    _write(files.client_key_password, password + b"\n", private=True)
    _write(files.other_ca, lab.other_root.cert_pem())
    _write(files.untrusted_client, lab.untrusted_client.cert_pem())
    _write(files.untrusted_client_key, lab.untrusted_client.key_pem(), private=True)
    for name, variant in lab.variants.items():
        written = files.variants[name]
        written.chain.parent.mkdir(parents=True, exist_ok=True)
        _write(written.chain, variant.chain_pem())
        _write(written.key, variant.leaf.key_pem(), private=True)
    names = ", ".join([*server_names, *ip_addresses])
    until = lab.server.cert.not_valid_after_utc.strftime("%Y-%m-%d")
    generated = lab.server.cert.not_valid_before_utc + CLOCK_SKEW
    listing = "\n".join(f"  {v.name:22} {v.description}" for v in lab.variants.values())
    readme = _README.format(
        names=names,
        until=until,
        generated=iso_utc(generated),
        variants=listing,
        spc=DEFAULT_SPC,
    )
    _write(files.readme, readme.encode())
    return files


def write_sti_lab(
    directory: Path, *, spc: str = DEFAULT_SPC, now: dt.datetime | None = None
) -> StiLabFiles:
    """Generate the STI lab (probe.tls.sti_lab) into `directory`: sti-ca.pem, shaken.pem
    (leaf + intermediate, what x5u serves) and shaken.key."""
    directory.mkdir(parents=True, exist_ok=True)
    lab = build_sti_lab(spc=spc, now=now)
    files = StiLabFiles(
        directory, directory / "sti-ca.pem", directory / "shaken.pem", directory / "shaken.key"
    )
    _write(files.ca, lab.root.cert_pem())
    _write(files.chain, lab.chain_pem())
    _write(files.key, lab.shaken.key_pem(), private=True)
    return files


# --- building blocks -------------------------------------------------------------------


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Atomic replace; private files are created 0600 and never exist with wider rights."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, 0o600 if private else 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
