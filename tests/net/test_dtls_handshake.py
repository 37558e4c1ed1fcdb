"""DTLS-SRTP on the media port, without a phone: the key layout of RFC 5764 §4.2, the
fingerprint check of RFC 8122 §5, the plan an answer asks for, and our handshake run
against itself on loopback sockets (the client side, which baresip never asks of us)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from probe.evidence.file import dumps_evidence, loads_evidence, redact_run
from probe.evidence.model import DtlsHandshake, MediaEvidence
from probe.net.dtls import (
    DTLS_PROFILES,
    DtlsOutcome,
    dtls_handshake,
    match_fingerprint,
    new_dtls_identity,
    split_keying_material,
)
from probe.net.media import DtlsMediaPlan, plan_dtls_media
from probe.sdp import Fingerprint, parse_sdp
from probe.verdict.checks.call import check_media
from tests.evidence import sample

pytest.importorskip("OpenSSL")


def test_keying_material_is_split_as_rfc_5764_lays_it_out() -> None:
    profile = DTLS_PROFILES["SRTP_AES128_CM_SHA1_80"]
    # client key (16) | server key (16) | client salt (14) | server salt (14)
    material = bytes([1] * 16 + [2] * 16 + [3] * 14 + [4] * 14)
    client, server = split_keying_material(material, profile)
    assert client == bytes([1] * 16 + [3] * 14)
    assert server == bytes([2] * 16 + [4] * 14)


@pytest.mark.parametrize(
    ("name", "key", "salt"),
    [
        ("SRTP_AEAD_AES_256_GCM", 32, 12),
        ("SRTP_AEAD_AES_128_GCM", 16, 12),
        ("SRTP_AES128_CM_SHA1_80", 16, 14),
        ("SRTP_AES128_CM_SHA1_32", 16, 14),
    ],
)
def test_each_profile_keys_its_sdes_suite_at_the_right_length(
    name: str, key: int, salt: int
) -> None:
    from probe.sdp import SUITE_KEY_BYTES

    profile = DTLS_PROFILES[name]
    assert (profile.key_bytes, profile.salt_bytes) == (key, salt)
    assert SUITE_KEY_BYTES[profile.suite] == key + salt
    client, server = split_keying_material(bytes(range(2 * (key + salt))), profile)
    assert len(client) == len(server) == key + salt
    with pytest.raises(ValueError, match="bytes of keying material"):
        split_keying_material(bytes(2 * (key + salt) + 1), profile)


@pytest.fixture(scope="module")
def certificate() -> bytes:
    return new_dtls_identity().issued.cert.public_bytes(Encoding.DER)


def fingerprint_of(der: bytes, name: str, algorithm: hashes.HashAlgorithm) -> Fingerprint:
    from cryptography import x509

    return Fingerprint.of(name, x509.load_der_x509_certificate(der).fingerprint(algorithm))


def test_a_matching_fingerprint_matches(certificate: bytes) -> None:
    right = fingerprint_of(certificate, "sha-256", hashes.SHA256())
    ok, actual = match_fingerprint(certificate, [right])
    assert ok
    assert actual == right


def test_another_certificates_fingerprint_does_not(certificate: bytes) -> None:
    wrong = Fingerprint("sha-256", ":".join(["AB"] * 32))
    ok, actual = match_fingerprint(certificate, [wrong])
    assert not ok
    assert actual is not None
    assert actual != wrong


def test_the_strongest_offered_hash_decides(certificate: bytes) -> None:
    """RFC 8122 §5: check with the most preferred hash offered; a right SHA-1 beside a
    wrong SHA-256 is a mismatch, not a match."""
    right_sha1 = fingerprint_of(certificate, "sha-1", hashes.SHA1())
    wrong_sha256 = Fingerprint("sha-256", ":".join(["CD"] * 32))
    ok, actual = match_fingerprint(certificate, [right_sha1, wrong_sha256])
    assert not ok
    assert actual is not None
    assert actual.hash_function == "sha-256"


def test_only_weak_hashes_cannot_be_checked(certificate: bytes) -> None:
    md5 = fingerprint_of(certificate, "md5", hashes.MD5())
    assert match_fingerprint(certificate, [md5]) == (False, None)


def answer_with(setup: str, address: str = "127.0.0.1", fingerprint: bool = True) -> bytes:
    lines = [
        "v=0",
        f"o=- 1 1 IN IP4 {address}",
        "s=-",
        f"c=IN IP4 {address}",
        "t=0 0",
        "m=audio 30000 UDP/TLS/RTP/SAVP 0",
        f"a=setup:{setup}",
    ]
    if fingerprint:
        lines.append("a=fingerprint:sha-256 " + ":".join(["AB"] * 32))
    return ("\r\n".join(lines) + "\r\n").encode()


def test_an_active_answer_makes_us_the_server() -> None:
    plan = plan_dtls_media(parse_sdp(answer_with("active", "203.0.113.5")))
    assert isinstance(plan, DtlsMediaPlan)
    assert (plan.role, plan.address, plan.port) == ("server", "203.0.113.5", 30000)


def test_a_passive_answer_on_loopback_makes_us_the_client() -> None:
    plan = plan_dtls_media(parse_sdp(answer_with("passive")))
    assert isinstance(plan, DtlsMediaPlan)
    assert plan.role == "client"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (answer_with("passive", "203.0.113.5"), "media is only sent to a loopback address"),
        (answer_with("actpass"), "a=setup:actpass, not active or passive"),
        (answer_with("active", fingerprint=False), "no a=fingerprint"),
    ],
)
def test_answers_whose_handshake_cannot_run_say_why(body: bytes, reason: str) -> None:
    plan = plan_dtls_media(parse_sdp(body))
    assert isinstance(plan, str)
    assert reason in plan


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    first = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    second = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    first.bind(("127.0.0.1", 0))
    second.bind(("127.0.0.1", 0))
    yield first, second
    first.close()
    second.close()


async def both_sides(
    sockets: tuple[socket.socket, socket.socket], *, server_shows: Fingerprint | None = None
) -> tuple[DtlsOutcome, DtlsOutcome]:
    """Our client against our server; `server_shows` replaces the server's fingerprint in
    what the client expects (a signalling path that swapped it)."""
    client_socket, server_socket = sockets
    client_identity, server_identity = new_dtls_identity(), new_dtls_identity()
    server_address = server_socket.getsockname()
    return await asyncio.gather(
        dtls_handshake(
            client_socket,
            identity=client_identity,
            role="client",
            fingerprints=[server_shows or server_identity.fingerprint],
            remote=(server_address[0], server_address[1]),
        ),
        dtls_handshake(
            server_socket,
            identity=server_identity,
            role="server",
            fingerprints=[client_identity.fingerprint],
        ),
    )


async def test_our_client_and_server_agree_on_keys(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    client, server = await both_sides(sockets)
    assert client.ok, client.error
    assert server.ok, server.error
    assert client.profile == server.profile == "SRTP_AEAD_AES_256_GCM"
    assert client.fingerprint_match
    assert server.fingerprint_match
    assert client.ours is not None
    assert server.theirs is not None
    # What one side sends with, the other authenticates with (RFC 5764 §4.2).
    assert client.ours.key_salt == server.theirs.key_salt
    assert client.theirs is not None
    assert server.ours is not None
    assert client.theirs.key_salt == server.ours.key_salt
    assert client.ours.key_salt != client.theirs.key_salt
    assert server.peer == sockets[0].getsockname()


async def test_a_swapped_fingerprint_is_never_keyed(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    swapped = Fingerprint("sha-256", ":".join(["AB"] * 32))
    client, _server = await both_sides(sockets, server_shows=swapped)
    assert not client.ok
    assert client.fingerprint_match is False
    assert client.ours is None
    assert client.theirs is None
    assert "does not match the answer's a=fingerprint" in (client.error or "")


async def test_a_silent_far_end_ends_at_the_deadline(
    sockets: tuple[socket.socket, socket.socket],
) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    outcome = await dtls_handshake(
        sockets[1],
        identity=new_dtls_identity(),
        role="server",
        fingerprints=[Fingerprint("sha-256", ":".join(["AB"] * 32))],
        seconds=0.3,
    )
    assert loop.time() - started < 2.0
    assert not outcome.ok
    assert outcome.error == (
        "the DTLS handshake did not finish within 0.3 s (no DTLS from the far end)"
    )


def dtls_media(**dtls: object) -> MediaEvidence:
    record = DtlsHandshake(
        role="server",
        peer="127.0.0.1:30000",
        version="DTLSv1.2",
        profile="SRTP_AEAD_AES_128_GCM",
        expected_fingerprints=("sha-256 " + ":".join(["AB"] * 32),),
        peer_fingerprint="sha-256 " + ":".join(["AB"] * 32),
        fingerprint_match=True,
        elapsed_ms=12.0,
    )
    record = dataclasses.replace(record, **dtls)  # type: ignore[arg-type]
    authenticated = 0 if record.error else 10
    return MediaEvidence(
        "AEAD_AES_128_GCM",
        10,
        authenticated,
        authenticated,
        "127.0.0.1:30000",
        keying="dtls",
        dtls=record,
    )


def test_dtls_media_that_authenticates_passes_naming_the_profile() -> None:
    from probe.evidence.model import CallEvidence

    call = CallEvidence(offer_kind="dtls", offer=b"", media=dtls_media())
    finding = check_media(call, "t")
    assert finding is not None
    assert finding.status.value == "pass"
    assert "AEAD_AES_128_GCM, keyed by DTLS SRTP_AEAD_AES_128_GCM" in finding.summary
    assert finding.details["dtls"]["fingerprint_match"] is True  # type: ignore[index]


def test_a_fingerprint_mismatch_fails_the_media() -> None:
    from probe.evidence.model import CallEvidence

    media = dtls_media(fingerprint_match=False, error="the certificate ... does not match")
    finding = check_media(CallEvidence(offer_kind="dtls", offer=b"", media=media), "t")
    assert finding is not None
    assert finding.status.value == "fail"
    assert finding.summary.startswith("DTLS-SRTP not established (server side):")


def test_dtls_media_evidence_survives_a_file_round_trip() -> None:
    run = sample.run()
    call_target = next(
        t for uri in run.uris for t in uri.targets if t.evidence is not None and t.evidence.call
    )
    assert call_target.evidence is not None
    assert call_target.evidence.call is not None
    call = dataclasses.replace(call_target.evidence.call, media=dtls_media())
    evidence = dataclasses.replace(call_target.evidence, call=call)
    changed = dataclasses.replace(call_target, evidence=evidence)
    uris = tuple(
        dataclasses.replace(
            uri, targets=tuple(changed if t is call_target else t for t in uri.targets)
        )
        for uri in run.uris
    )
    run = dataclasses.replace(run, uris=uris)
    loaded = loads_evidence(dumps_evidence(run))
    assert loaded == redact_run(run)
    media = next(
        t.evidence.call.media
        for uri in loaded.uris
        for t in uri.targets
        if t.evidence is not None and t.evidence.call is not None
    )
    assert media is not None
    assert media.dtls is not None
    assert media.keying == "dtls"
    assert media.dtls.profile == "SRTP_AEAD_AES_128_GCM"


def test_verify_media_needs_srtp_to_check() -> None:
    """Refused before any packet: plain RTP has no keys to authenticate with."""
    import socket as sockets

    from click.testing import CliRunner

    from probe.cli.commands import cli

    with sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            [
                "invite",
                f"sip:127.0.0.1:{port};transport=tls",
                "--to",
                "sip:bob@127.0.0.1",
                "--offer",
                "rtp",
                "--verify-media",
            ],
        )
        assert result.exit_code == 2, result.output
        assert "--verify-media checks SRTP: use it with --offer sdes or --offer dtls" in (
            result.output
        )
        with pytest.raises(BlockingIOError):
            server.accept()


def test_a_dtls_call_carries_a_fresh_identity_whose_fingerprint_is_offered() -> None:
    from probe.run.commands import OptionsRequest
    from probe.run.invite import InviteRequest, build_call
    from probe.settings import CallSettings, Settings
    from tests.helpers import refuse

    request = InviteRequest(
        OptionsRequest(targets=["sip:127.0.0.1:5061;transport=tls"], settings=Settings()),
        CallSettings(to="sip:bob@127.0.0.1", offer="dtls", verify_media=True),
    )
    first, second = build_call(request, refuse), build_call(request, refuse)
    assert first.dtls_identity is not None
    assert second.dtls_identity is not None
    assert first.dtls_identity.fingerprint != second.dtls_identity.fingerprint
    digest = first.dtls_identity.issued.cert.fingerprint(hashes.SHA256())
    assert first.dtls_identity.fingerprint == Fingerprint.of("sha-256", digest)
    assert "PRIVATE" not in repr(first)
