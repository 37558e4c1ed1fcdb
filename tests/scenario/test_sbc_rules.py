"""The pieces of the SBC-side provider rules: the Contact we sent, RFC 2818 §3.1 name
matching as Microsoft quotes it, and the certificate a run offered for mutual TLS."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from probe.run.collect import client_certificate
from probe.scenario.sbc_rules import covers, sent_contact
from probe.tls.lab import LabFiles


def request(*headers: str) -> bytes:
    lines = ["OPTIONS sip:sip.pstnhub.microsoft.com:5061 SIP/2.0", *headers, "", ""]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    ("headers", "host"),
    [
        (["Contact: <sip:sbc1.adatum.biz:5061;transport=tls>"], "sbc1.adatum.biz"),
        (["contact: sip:+17168712781@SBC1.Adatum.biz:5058;transport=tls"], "sbc1.adatum.biz"),
        (["m: <sip:sbc1.adatum.biz>"], "sbc1.adatum.biz"),  # the compact form (§7.3.3)
        # Only the first value counts (direct-routing-protocols-sip.md).
        (['Contact: "a, b" <sip:first.example>, <sip:second.example>'], "first.example"),
        (["Contact: <sip:sipprobe@127.0.0.1:40000;transport=tls>"], "127.0.0.1"),
        (["Via: SIP/2.0/TLS 127.0.0.1"], None),
    ],
)
def test_the_contact_host_we_sent(headers: list[str], host: str | None) -> None:
    assert sent_contact(request(*headers)) == host


def test_a_contact_in_the_body_is_not_the_header() -> None:
    sent = request("Content-Type: text/plain") + b"Contact: <sip:body.example>\r\n"
    assert sent_contact(sent) is None


@pytest.mark.parametrize(
    ("pattern", "host", "covered"),
    [
        # RFC 2818 §3.1's own examples, as Teams' SIP protocol page quotes them.
        ("*.a.com", "foo.a.com", True),
        ("*.a.com", "bar.foo.a.com", False),
        ("f*.com", "foo.com", True),
        ("f*.com", "bar.com", False),
        ("sbc1.adatum.biz", "SBC1.adatum.biz", True),
        ("sbc1.adatum.biz", "sbc2.adatum.biz", False),
        ("*.adatum.biz", "adatum.biz", False),
    ],
)
def test_rfc_2818_name_matching(pattern: str, host: str, covered: bool) -> None:
    assert covers(pattern, host) is covered


def test_the_client_certificate_offered_is_read_from_the_chain_file(lab: LabFiles) -> None:
    from cryptography import x509

    der = client_certificate(lab.client)
    leaf = x509.load_pem_x509_certificate(lab.client.read_bytes())
    assert der == leaf.public_bytes(Encoding.DER)
    assert client_certificate(None) is None


def test_an_unreadable_client_certificate_is_not_recorded(tmp_path: Path) -> None:
    assert client_certificate(tmp_path / "missing.pem") is None
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    assert client_certificate(garbage) is None
