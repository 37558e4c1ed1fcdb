"""Loading trust anchors from files, directories and the system store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.tls import pki
from probe.tls.lab import write_lab
from probe.tls.trust import TrustAnchors, TrustStoreError, load_trust_anchors

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def roots() -> tuple[pki.Issued, pki.Issued, pki.Issued]:
    return tuple(pki.make_root_ca(f"Root {n}", now=NOW, key_type="ec") for n in range(3))  # type: ignore[return-value]


def test_file_with_several_certificates(tmp_path: Path, roots: tuple[pki.Issued, ...]) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"# comment lines are fine\n" + b"".join(root.cert_pem() for root in roots))
    anchors = load_trust_anchors(bundle)
    assert anchors.certificates == tuple(root.cert for root in roots)
    assert anchors.source == f"file {bundle} (3 certificates)"


def test_duplicates_are_dropped(tmp_path: Path, roots: tuple[pki.Issued, ...]) -> None:
    bundle = tmp_path / "twice.pem"
    bundle.write_bytes(roots[0].cert_pem() * 2)
    anchors = load_trust_anchors(bundle)
    assert anchors.certificates == (roots[0].cert,)
    assert anchors.source.endswith("(1 certificate)")


def test_der_file(tmp_path: Path, roots: tuple[pki.Issued, ...]) -> None:
    der = tmp_path / "root.crt"
    der.write_bytes(roots[0].cert.public_bytes(serialization.Encoding.DER))
    assert load_trust_anchors(der).certificates == (roots[0].cert,)


def test_directory(tmp_path: Path, roots: tuple[pki.Issued, ...]) -> None:
    (tmp_path / "a.pem").write_bytes(roots[0].cert_pem())
    (tmp_path / "b.crt").write_bytes(roots[1].cert_pem() + roots[2].cert_pem())
    (tmp_path / "notes.txt").write_text("not a certificate, not read")
    (tmp_path / "sub.pem").mkdir()  # a directory named like a certificate is skipped
    anchors = load_trust_anchors(tmp_path)
    assert set(anchors.certificates) == {root.cert for root in roots}
    assert anchors.source == f"directory {tmp_path} (3 certificates)"


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError, match="does not exist"):
        load_trust_anchors(tmp_path / "nope.pem")


def test_garbage_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"\x00\x01 this is not a certificate")
    with pytest.raises(TrustStoreError, match="neither PEM nor a DER certificate"):
        load_trust_anchors(garbage)


def test_broken_pem_block(tmp_path: Path, roots: tuple[pki.Issued, ...]) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_bytes(
        roots[0].cert_pem() + b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    with pytest.raises(TrustStoreError, match=r"certificate #2 in .*broken.pem cannot be parsed"):
        load_trust_anchors(broken)


def test_pem_without_certificates(tmp_path: Path, roots: tuple[pki.Issued, ...]) -> None:
    key_only = tmp_path / "key.pem"
    key_only.write_bytes(roots[0].key_pem())
    with pytest.raises(TrustStoreError, match="no CERTIFICATE block") as caught:
        load_trust_anchors(key_only)
    assert "PRIVATE" not in str(caught.value)


def test_empty_file_and_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")
    with pytest.raises(TrustStoreError):
        load_trust_anchors(empty)
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(TrustStoreError, match=r"no \*.pem or \*.crt files"):
        load_trust_anchors(folder)


def test_lab_ca_file(tmp_path: Path) -> None:
    files = write_lab(tmp_path, now=NOW)
    anchors = load_trust_anchors(files.ca)
    assert [cert.subject.rfc4514_string() for cert in anchors.certificates] == [
        "CN=sipprobe lab root CA,O=sipprobe lab"
    ]


def test_system_store_loads() -> None:
    anchors = load_trust_anchors("system")
    assert isinstance(anchors, TrustAnchors)
    assert len(anchors.certificates) > 0
    assert all(isinstance(cert, x509.Certificate) for cert in anchors.certificates)
    assert anchors.source.startswith("system store ")


def test_system_store_honours_ssl_cert_file(
    tmp_path: Path, roots: tuple[pki.Issued, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "custom.pem"
    bundle.write_bytes(roots[0].cert_pem())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    anchors = load_trust_anchors("system")
    assert anchors.certificates == (roots[0].cert,)
    assert str(bundle) in anchors.source


def test_system_store_with_dangling_ssl_cert_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(TrustStoreError, match="SSL_CERT_FILE"):
        load_trust_anchors("system")
