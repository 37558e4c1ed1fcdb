"""The client's Certificate message, read on our server side (probe.tls.capture): both
layouts, and whatever a hostile or broken client could send instead."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.pcap.tls_records import TlsWireError
from probe.tls.capture import ClientCertificateRecorder, client_chain_from_message

TLS12, TLS13 = 0x0303, 0x0304
CHAIN = (b"\x30\x82leaf-der-bytes", b"\x30\x82intermediate-der")


def _length(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def tls12_message(chain: tuple[bytes, ...]) -> bytes:
    """RFC 5246 §7.4.2: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>."""
    body = _length(b"".join(_length(cert, 3) for cert in chain), 3)
    return b"\x0b" + len(body).to_bytes(3, "big") + body


def tls13_message(chain: tuple[bytes, ...], context: bytes = b"", extension: bytes = b"") -> bytes:
    """RFC 8446 §4.4.2: a request context, then CertificateEntry {cert_data, extensions}."""
    entries = b"".join(_length(cert, 3) + _length(extension, 2) for cert in chain)
    body = _length(context, 1) + _length(entries, 3)
    return b"\x0b" + len(body).to_bytes(3, "big") + body


def test_a_tls12_certificate_message_gives_the_chain_leaf_first() -> None:
    assert client_chain_from_message(tls12_message(CHAIN), TLS12) == CHAIN


def test_a_tls13_certificate_message_gives_the_chain_and_skips_each_entrys_extensions() -> None:
    message = tls13_message(CHAIN, context=b"\x01\x02", extension=b"\x00\x05\x00\x01\x00")
    assert client_chain_from_message(message, TLS13) == CHAIN


def test_an_empty_certificate_list_is_no_chain_in_both_layouts() -> None:
    # RFC 8446 §4.4.2 and RFC 5246 §7.4.6: a client without a certificate sends an empty list.
    assert client_chain_from_message(tls12_message(()), TLS12) == ()
    assert client_chain_from_message(tls13_message(()), TLS13) == ()


def test_reading_one_layout_as_the_other_is_refused_not_misread() -> None:
    with pytest.raises(TlsWireError):
        client_chain_from_message(tls13_message(CHAIN, context=b"\x07"), TLS12)
    with pytest.raises(TlsWireError):
        client_chain_from_message(tls12_message(CHAIN), TLS13)


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (b"", "not a Certificate"),
        (b"\x0b\x00", "not a Certificate"),
        (b"\x01\x00\x00\x00", "not a Certificate"),  # a ClientHello's type
        (tls12_message(CHAIN)[:-5], "says"),  # cut inside the last certificate
        (tls12_message(CHAIN) + b"\x00", "says"),  # one byte beyond the declared length
        (b"\x0b\x00\x00\x03\x00\x00\x09", "ends after"),  # a list longer than the message
        (b"\x0b\x00\x00\x06\x00\x00\x03\x00\x00\x00", "empty certificate"),
    ],
)
def test_a_truncated_or_garbage_message_is_refused_with_what_is_wrong(
    message: bytes, words: str
) -> None:
    with pytest.raises(TlsWireError, match=words):
        client_chain_from_message(message, TLS12)


@given(st.binary(max_size=300), st.sampled_from([TLS12, TLS13, None]))
def test_no_bytes_make_the_reader_raise_anything_but_a_wire_error(
    data: bytes, version: int | None
) -> None:
    try:
        chain = client_chain_from_message(b"\x0b" + data, version)
    except TlsWireError:
        return
    assert all(isinstance(cert, bytes) and cert for cert in chain)


def test_the_recorder_keeps_only_the_first_certificate_the_server_reads() -> None:
    recorder = ClientCertificateRecorder()
    connection = object()
    # Our own Certificate (written), another message type, another content type: not it.
    recorder(connection, "write", TLS13, 22, 11, tls13_message((b"ours",)))
    recorder(connection, "read", TLS13, 22, 1, b"\x01\x00\x00\x00")
    recorder(connection, "read", TLS13, 23, 11, b"")
    assert recorder.client_chain() == ()
    recorder(connection, "read", TLS13, 22, 11, tls13_message(CHAIN))
    recorder(connection, "read", TLS13, 22, 11, tls13_message((b"second",)))
    assert recorder.client_chain() == CHAIN


def test_the_recorder_reads_the_layout_of_the_version_it_heard() -> None:
    recorder = ClientCertificateRecorder()
    recorder(object(), "read", TLS12, 22, 11, tls12_message(CHAIN))
    assert recorder.client_chain() == CHAIN
