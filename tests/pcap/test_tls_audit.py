"""TLS handshakes in a capture (probe.pcap.tls_audit through the pure audit loop), and how
pcap.tls and pcap.tls_chain judge them: messages built here byte by byte, and real
handshakes made by OpenSSL in memory with the lab's certificates."""

from __future__ import annotations

import datetime as dt
import functools
import json
import ssl
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given, settings
from hypothesis import strategies as st

from probe.evidence.capture import CaptureEvidence, TlsSessionSeen
from probe.evidence.capture_file import dumps_capture, loads_capture
from probe.pcap import tls_audit
from probe.pcap.analysis import AuditLimits
from probe.pcap.tls_audit import MAX_HANDSHAKE_MESSAGE
from probe.pcap.tls_records import (
    TlsWireError,
    parse_certificate_list,
    parse_client_hello,
    parse_server_hello,
)
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.tls.wire import is_grease, suite_grade, suite_name, version_name
from probe.verdict.capture import judge_capture
from probe.verdict.checks.policy import OptionsPolicy, TlsPolicy
from probe.verdict.findings import CaptureResult, Finding, Status, Verdict
from tests.conftest import LAB_NAME
from tests.pcap.frames import ACK, audit_frames, tcp_frame, udp_frame
from tests.pcap.tls_handshakes import (
    CHANGE_CIPHER_SPEC,
    CLIENT,
    CLIENT_PORT,
    HELLO_RETRY_RANDOM,
    SERVER,
    SERVER_HELLO_DONE,
    SERVER_PORT,
    certificate,
    client_hello,
    connection,
    openssl_handshake,
    record,
    server_hello,
)
from tests.sip.strategies import fuzz_examples


@functools.cache
def tls12_bytes() -> tuple[bytes, bytes]:
    """A real TLS 1.2 handshake with a throw-away certificate, for the fuzz tests."""
    import tempfile

    from probe.tls.lab import write_lab

    with tempfile.TemporaryDirectory() as directory:
        lab = write_lab(Path(directory), server_names=(LAB_NAME,))
        return openssl_handshake(lab.server, lab.server_key, version=ssl.TLSVersion.TLSv1_2)


def der_chain(path: Path) -> tuple[bytes, ...]:
    return tuple(
        cert.public_bytes(Encoding.DER)
        for cert in x509.load_pem_x509_certificates(path.read_bytes())
    )


def policy(lab: LabFiles, **tls: object) -> OptionsPolicy:
    rules = OptionsPolicy(tls=TlsPolicy(**tls), anchors=load_trust_anchors(lab.ca))  # type: ignore[arg-type]
    return rules.at(dt.datetime.now(dt.UTC))


def judged(evidence: CaptureEvidence, rules: OptionsPolicy | None = None) -> CaptureResult:
    return judge_capture(evidence, rules)


def by_check(result: CaptureResult) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for finding in result.findings:
        found.setdefault(finding.check, []).append(finding)
    return found


def only(result: CaptureResult, check: str) -> Finding:
    [finding] = by_check(result)[check]
    return finding


def session_of(evidence: CaptureEvidence) -> TlsSessionSeen:
    assert evidence.tls is not None
    [session] = evidence.tls.sessions
    return session


def tls12_server_flight(chain: tuple[bytes, ...], cipher: int = 0xC030) -> bytes:
    return record(22, server_hello(cipher=cipher) + certificate(chain) + SERVER_HELLO_DONE)


# -- the messages -----------------------------------------------------------------------


def test_a_client_hello_gives_its_name_versions_and_suites_without_grease() -> None:
    hello = parse_client_hello(
        client_hello(
            ciphers=(0x1A1A, 0x1302, 0xC030, 0x00FF),
            versions=(0x2A2A, 0x0304, 0x0303),
            sni="a.test",
        )[4:]
    )
    assert hello.server_name == "a.test"
    assert hello.versions == (0x0304, 0x0303)
    assert hello.ciphers == (0x1302, 0xC030, 0x00FF)
    assert [is_grease(v) for v in (0x1A1A, 0xFAFA, 0x1A1B)] == [True, True, False]


def test_a_client_hello_of_an_old_client_has_no_extensions_at_all() -> None:
    hello = parse_client_hello(client_hello(legacy_version=0x0301, extensions=False)[4:])
    assert (hello.legacy_version, hello.versions, hello.server_name) == (0x0301, (), None)


def test_a_server_hello_says_the_version_chosen_and_a_retry_request_is_told_apart() -> None:
    plain = parse_server_hello(server_hello(cipher=0xC02F)[4:])
    assert (plain.version, plain.cipher, plain.hello_retry) == (0x0303, 0xC02F, False)
    modern = parse_server_hello(server_hello(cipher=0x1301, selected=0x0304)[4:])
    assert (modern.legacy_version, modern.version) == (0x0303, 0x0304)
    retry = parse_server_hello(server_hello(selected=0x0304, random=HELLO_RETRY_RANDOM)[4:])
    assert retry.hello_retry


@pytest.mark.parametrize(
    ("parse", "message", "words"),
    [
        (parse_client_hello, client_hello()[4:20], "ends after 16 bytes"),
        (parse_client_hello, client_hello()[4:] + b"\x00", "follow the extensions"),
        (parse_server_hello, server_hello(selected=0x0304)[4:-1], "ends after"),
    ],
)
def test_a_hello_cut_or_padded_is_refused_with_what_is_wrong(
    parse: Callable[[bytes], object], message: bytes, words: str
) -> None:
    with pytest.raises(TlsWireError, match=words):
        parse(message)


def test_a_certificate_list_is_read_whole_or_refused() -> None:
    chain = (b"leaf-der", b"intermediate-der")
    assert parse_certificate_list(certificate(chain)[4:]) == chain
    with pytest.raises(TlsWireError, match="ends after"):
        parse_certificate_list(certificate(chain)[4:-3])
    with pytest.raises(TlsWireError, match="empty certificate"):
        parse_certificate_list(b"\x00\x00\x03\x00\x00\x00")


def test_versions_and_suites_are_named_and_graded() -> None:
    assert [version_name(v) for v in (0x0300, 0x0301, 0x0303, 0x0304, 0x7F1C, 0x0305)] == [
        "SSL 3.0", "1.0", "1.2", "1.3", "1.3 draft 28", "0x0305",
    ]  # fmt: skip
    assert suite_name(0xC030) == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    assert suite_name(0xEEEE) == "0xEEEE"
    grades = {code: suite_grade(code) for code in (0x1301, 0xC030, 0xC028, 0x009C, 0x0005, 0x0034)}
    assert {code: grade.grade.value for code, grade in grades.items() if grade} == {
        0x1301: "strong",
        0xC030: "strong",
        0xC028: "acceptable",
        0x009C: "weak",
        0x0005: "insecure",  # RC4
        0x0034: "insecure",  # anonymous
    }
    assert suite_grade(0xEEEE) is None


# -- what the audit reads -------------------------------------------------------------


def test_a_tls12_handshake_split_across_records_and_segments_gives_the_chain(
    lab: LabFiles,
) -> None:
    chain = der_chain(lab.server)
    # The server's flight: ServerHello and the first half of the Certificate in one
    # record, the rest of the Certificate and ServerHelloDone in a second, cut into
    # 100-byte segments.
    messages = server_hello() + certificate(chain) + SERVER_HELLO_DONE
    middle = len(messages) // 2
    flight = record(22, messages[:middle]) + record(22, messages[middle:])
    flight += CHANGE_CIPHER_SPEC + record(22, b"\x8e" * 40)  # the encrypted Finished
    evidence = audit_frames(connection(record(22, client_hello(), 0x0301), flight, size=100))
    session = session_of(evidence)
    assert session.presented_chain == chain
    assert (session.sni, session.version, session.cipher) == (LAB_NAME, 0x0303, 0xC030)
    assert (session.client, session.server) == (
        f"{CLIENT}:{CLIENT_PORT}",
        f"{SERVER}:{SERVER_PORT}",
    )
    assert session.ended == "closed"
    assert dict((c.name, c.count) for c in evidence.counts.tcp_streams_claimed) == {"tls": 2}
    assert evidence.sip.messages == 0
    assert [flow.labels for flow in evidence.flows] == [("tls",)]


def test_a_real_tls12_handshake_is_judged_with_the_checks_of_a_live_probe(lab: LabFiles) -> None:
    client_bytes, server_bytes = openssl_handshake(
        lab.server, lab.server_key, version=ssl.TLSVersion.TLSv1_2
    )
    evidence = audit_frames(connection(client_bytes, server_bytes))
    session = session_of(evidence)
    assert session.presented_chain == der_chain(lab.server)
    assert (session.version, session.offered_versions[:1]) == (0x0303, (0x0304,))
    result = judged(evidence, policy(lab))
    tls = only(result, "pcap.tls")
    assert tls.status is Status.PASS
    assert "TLS 1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in tls.summary
    assert f"SNI {LAB_NAME}" in tls.summary
    chain = only(result, "pcap.tls_chain")
    assert chain.status is Status.PASS, chain.summary
    assert "chain verified to a trust anchor" in chain.summary
    assert f"certificate is valid for {LAB_NAME}" in chain.summary
    assert [c["check"] for c in chain.details["checks"]] == [
        "tls.chain", "tls.identity", "tls.validity", "tls.key", "tls.signature", "tls.eku",
    ]  # fmt: skip
    assert result.verdict is Verdict.PASS
    assert set(result.required) == {
        "pcap.sip_cleartext", "pcap.sdes_exposed", "pcap.tls", "pcap.tls_chain", "pcap.media",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "failing", "words"),
    [
        ("expired", {"tls.chain", "tls.validity"}, "expired 10 days ago"),
        ("wrong-host", {"tls.identity"}, f"not for {LAB_NAME}"),
        ("self-signed", {"tls.chain"}, "self-signed"),
    ],
)
def test_a_bad_chain_in_a_tls12_handshake_fails_as_a_live_probe_would(
    lab: LabFiles, variant: str, failing: set[str], words: str
) -> None:
    files = lab.variants[variant]
    evidence = audit_frames(
        connection(*openssl_handshake(files.chain, files.key, version=ssl.TLSVersion.TLSv1_2))
    )
    result = judged(evidence, policy(lab))
    chain = only(result, "pcap.tls_chain")
    assert chain.status is Status.FAIL
    assert words in chain.summary
    assert {c["check"] for c in chain.details["checks"] if c["status"] == "fail"} == failing
    assert only(result, "pcap.tls").status is Status.PASS  # the session itself is fine
    assert result.verdict is Verdict.FAIL
    # --insecure softens certificate failures to warnings, as it does live.
    softened = only(judged(evidence, policy(lab, insecure=True)), "pcap.tls_chain")
    assert softened.status is Status.WARN
    assert "--insecure" in softened.summary


def test_certificates_are_judged_at_the_moment_of_the_handshake_unless_told(
    lab: LabFiles,
) -> None:
    evidence = audit_frames(
        connection(*openssl_handshake(lab.server, lab.server_key, version=ssl.TLSVersion.TLSv1_2))
    )
    # The frames are from November 2023, before the lab's certificates were issued.
    at_capture = replace(policy(lab), now=None)
    chain = only(judged(evidence, at_capture), "pcap.tls_chain")
    assert chain.status is Status.FAIL
    assert "not valid before" in chain.summary
    assert chain.details["judged_at"].startswith("2023-11-14")
    assert chain.details["judged_at_from"] == "the handshake's capture time"
    assert only(judged(evidence, policy(lab)), "pcap.tls_chain").status is Status.PASS


def test_without_sni_the_chain_is_judged_for_the_address_connected_to(lab: LabFiles) -> None:
    files = lab.variants["good"]
    client_bytes, server_bytes = openssl_handshake(
        files.chain, files.key, version=ssl.TLSVersion.TLSv1_2, sni=None
    )
    evidence = audit_frames(connection(client_bytes, server_bytes))
    assert session_of(evidence).sni is None
    chain = only(judged(evidence, policy(lab)), "pcap.tls_chain")
    assert chain.details["judged_for"] == SERVER
    # The lab's leaf names 127.0.0.1 and ::1, not the documentation address.
    assert chain.status is Status.FAIL
    assert "no SNI" in chain.summary


def test_a_tls13_handshake_shows_version_and_suite_and_its_chain_is_skipped_not_owed(
    lab: LabFiles,
) -> None:
    evidence = audit_frames(
        connection(*openssl_handshake(lab.server, lab.server_key, version=ssl.TLSVersion.TLSv1_3))
    )
    session = session_of(evidence)
    assert (session.version, session.presented_chain) == (0x0304, ())
    assert session.cipher in (0x1301, 0x1302, 0x1303)
    result = judged(evidence, policy(lab))
    assert only(result, "pcap.tls").status is Status.PASS
    chain = only(result, "pcap.tls_chain")
    assert chain.status is Status.SKIP
    assert "RFC 8446 §4.4.2" in chain.summary
    assert "pcap.tls_chain" not in result.required
    assert result.verdict is Verdict.PASS


def test_a_hello_retry_request_is_followed_to_the_real_server_hello() -> None:
    client_flight = record(22, client_hello(versions=(0x0304,))) + CHANGE_CIPHER_SPEC
    client_flight += record(22, client_hello(versions=(0x0304,))) + record(23, b"\x17" * 50)
    server_flight = record(22, server_hello(selected=0x0304, random=HELLO_RETRY_RANDOM))
    server_flight += CHANGE_CIPHER_SPEC + record(22, server_hello(cipher=0x1302, selected=0x0304))
    server_flight += record(23, b"\x99" * 300)
    session = session_of(audit_frames(connection(client_flight, server_flight)))
    assert (session.hello_retry, session.version, session.cipher) == (True, 0x0304, 0x1302)


@pytest.mark.parametrize(
    ("server_flight", "status", "words"),
    [
        (
            record(22, server_hello(version=0x0301, cipher=0x002F)),
            Status.FAIL,
            "TLS 1.0 is below the 1.2 minimum",
        ),
        (record(22, server_hello(cipher=0x0005)), Status.FAIL, "RC4"),
        (record(22, server_hello(cipher=0x009C)), Status.WARN, "no forward secrecy"),
        (record(22, server_hello(cipher=0xEEEE)), Status.WARN, "0xEEEE is not one sipprobe knows"),
        (record(21, b"\x02\x46"), Status.WARN, "the server sent the fatal alert protocol_version"),
        (b"", Status.WARN, "closed before the server's ServerHello"),
    ],
)  # fmt: skip
def test_the_session_is_judged_by_its_version_suite_and_outcome(
    server_flight: bytes, status: Status, words: str
) -> None:
    evidence = audit_frames(connection(record(22, client_hello()), server_flight))
    finding = only(judged(evidence), "pcap.tls")
    assert finding.status is status
    assert words in finding.summary


def test_a_minimum_of_13_fails_a_tls12_session() -> None:
    evidence = audit_frames(connection(record(22, client_hello()), record(22, server_hello())))
    rules = OptionsPolicy(tls=TlsPolicy(min_version="1.3"))
    assert "below the 1.3 minimum" in only(judged(evidence, rules), "pcap.tls").summary


def test_a_client_offering_deprecated_versions_is_a_warning() -> None:
    hello = client_hello(versions=(0x0303, 0x0302, 0x0301))
    evidence = audit_frames(connection(record(22, hello), record(22, server_hello())))
    finding = only(judged(evidence), "pcap.tls")
    assert finding.status is Status.WARN
    assert "the client also offered 1.1, 1.0" in finding.summary


def test_a_resumed_session_sends_no_certificate_and_owes_no_chain() -> None:
    resumed = b"\x11" * 32
    client_flight = record(22, client_hello(session_id=resumed))
    server_flight = record(22, server_hello(session_id=resumed)) + CHANGE_CIPHER_SPEC
    evidence = audit_frames(connection(client_flight, server_flight + record(22, b"\x01" * 40)))
    assert session_of(evidence).resumed
    result = judged(evidence)
    chain = only(result, "pcap.tls_chain")
    assert chain.status is Status.SKIP
    assert "resumed" in chain.summary
    assert "pcap.tls_chain" not in result.required
    assert result.verdict is Verdict.PASS


def test_a_handshake_with_bytes_missing_is_incomplete_not_passed(lab: LabFiles) -> None:
    chain = der_chain(lab.server)
    frames = connection(record(22, client_hello()), tls12_server_flight(chain), size=300)
    del frames[5]  # a segment of the server's Certificate
    evidence = audit_frames(frames)
    session = session_of(evidence)
    assert (session.version, session.presented_chain) == (0x0303, ())
    assert "not in the capture" in (session.missing or "")
    result = judged(evidence, policy(lab))
    assert only(result, "pcap.tls").status is Status.PASS  # the hellos were whole
    assert only(result, "pcap.tls_chain").status is Status.INCOMPLETE
    assert result.verdict is Verdict.INCOMPLETE


def test_a_capture_cut_before_the_server_answered_is_incomplete() -> None:
    evidence = audit_frames(connection(record(22, client_hello()), b"", close=False))
    finding = only(judged(evidence), "pcap.tls")
    assert finding.status is Status.INCOMPLETE
    assert "the capture ends before the server's ServerHello" in finding.summary


def test_a_connection_that_began_before_the_capture_is_said_and_not_owed() -> None:
    encrypted = record(23, b"\xaa" * 200) + record(23, b"\xbb" * 90)
    evidence = audit_frames(
        connection(encrypted, record(23, b"\xcc" * 120) + record(23, b"\xdd" * 40), syn=False)
    )
    assert session_of(evidence).mid_stream
    result = judged(evidence)
    assert [f.status for f in result.findings if f.check.startswith("pcap.tls")] == [
        Status.SKIP,
        Status.SKIP,
    ]
    assert "began before the capture" in only(result, "pcap.tls").summary
    assert result.verdict is Verdict.PASS  # no SIP in the clear, and nothing owed of TLS


def test_bytes_that_are_not_tls_are_not_taken_for_it() -> None:
    binary = bytes(range(256)) * 4
    evidence = audit_frames(connection(b"\x16\x03\x03\xff\xff" + binary, binary))
    assert evidence.tls is not None
    assert evidence.tls.sessions_total == 0
    assert evidence.counts.tcp_streams_unclaimed == 2
    assert "pcap.tls" not in judged(evidence).required


def test_a_malformed_hello_is_reported_as_unreadable_and_incomplete() -> None:
    broken = record(22, b"\x01\x00\x00\x10" + b"\x03\x03" + bytes(14))
    finding = only(judged(audit_frames(connection(broken, b""))), "pcap.tls")
    assert finding.status is Status.INCOMPLETE
    assert "could not be read" in finding.summary


def test_a_handshake_message_past_the_bound_is_not_held() -> None:
    huge = b"\x0b" + (MAX_HANDSHAKE_MESSAGE + 1).to_bytes(3, "big")
    flight = record(22, server_hello() + huge + bytes(1000))
    session = session_of(audit_frames(connection(record(22, client_hello()), flight)))
    assert "more than the" in (session.missing or "")


def test_the_tls_streams_together_hold_no_more_than_the_audit_allows() -> None:
    # Two connections whose servers each begin a 60 kB Certificate; 64 kB may be held.
    limits = AuditLimits(max_pending_bytes=64 * 1024)
    flight = record(22, server_hello() + b"\x0b" + (60_000).to_bytes(3, "big"))
    flight += b"".join(record(22, bytes(16_000)) for _ in range(3))
    frames = connection(record(22, client_hello()), flight, close=False)
    frames += connection(record(22, client_hello()), flight, close=False, client_port=40001)
    evidence = audit_frames(frames, limits=limits)
    assert evidence.tls is not None
    missing = [s.missing for s in evidence.tls.sessions]
    assert any(m and "memory bound" in m for m in missing), missing


def test_chains_are_kept_once_per_server_and_within_a_bound(
    monkeypatch: pytest.MonkeyPatch, lab: LabFiles
) -> None:
    chain = der_chain(lab.server)
    other = der_chain(lab.variants["expired"].chain)
    monkeypatch.setattr(tls_audit, "MAX_KEPT_CHAIN_BYTES", sum(map(len, chain)) + 10)
    frames = []
    for port, presented in ((40000, chain), (40001, chain), (40002, other)):
        flight = tls12_server_flight(presented)
        frames += connection(record(22, client_hello()), flight, client_port=port)
    evidence = audit_frames(frames)
    assert evidence.tls is not None
    first, second, third = evidence.tls.sessions
    assert first.presented_chain is second.presented_chain  # one chain, kept once
    assert third.presented_chain == ()
    assert "not kept" in (third.missing or "")
    chains = by_check(judged(evidence, policy(lab)))["pcap.tls_chain"]
    assert [f.status for f in chains] == [Status.PASS, Status.INCOMPLETE]
    assert "2 sessions" in chains[0].summary
    assert "not kept" in chains[1].summary


def test_identical_sessions_are_judged_as_one_finding_that_counts_them() -> None:
    frames = connection(record(22, client_hello()), record(22, server_hello()), client_port=40000)
    frames += connection(record(22, client_hello()), record(22, server_hello()), client_port=40001)
    result = judged(audit_frames(frames))
    finding = only(result, "pcap.tls")
    assert finding.summary.startswith(f"2 TLS sessions to {SERVER}:{SERVER_PORT}")
    assert finding.details["clients"] == [f"{CLIENT}:40000", f"{CLIENT}:40001"]


def test_udp_and_cleartext_sip_are_left_to_the_other_analyses() -> None:
    evidence = audit_frames(
        [
            udp_frame(CLIENT, 5060, SERVER, 5060, b"\x16\x03\x01\x00\x10" + bytes(16)),
            tcp_frame(CLIENT, 40000, SERVER, 5060, 1, b"OPTIONS sip:a@b SIP/2.0\r\n", flags=ACK),
        ]
    )
    assert evidence.tls is not None
    assert evidence.tls.sessions_total == 0
    assert "pcap.tls" not in judged(evidence).required


def test_the_tls_part_is_saved_judged_again_and_older_evidence_still_loads(
    lab: LabFiles,
) -> None:
    evidence = audit_frames(
        connection(*openssl_handshake(lab.server, lab.server_key, version=ssl.TLSVersion.TLSv1_2))
    )
    text = dumps_capture(evidence)
    again = loads_capture(text)
    assert again.tls == evidence.tls
    assert judged(again, policy(lab)).findings == judged(evidence, policy(lab)).findings
    older = json.loads(text)
    del older["tls"]
    before = loads_capture(json.dumps(older))
    assert before.tls is None
    assert "pcap.tls" not in judged(before).required


# -- hostile handshakes -----------------------------------------------------------------


@settings(max_examples=fuzz_examples(), deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 10_000),
    size=st.integers(1, 1500),
)
def test_a_mangled_handshake_gives_a_session_and_findings_never_a_traceback(
    flips: list[tuple[int, int]], cut: int, size: int
) -> None:
    client_bytes, server_bytes = tls12_bytes()
    server = bytearray(server_bytes[: max(cut, 6)])
    for where, value in flips:
        server[where % len(server)] = value
    evidence = audit_frames(connection(client_bytes, bytes(server), size=size))
    assert evidence.tls is not None
    assert evidence.tls.sessions_total == 1
    result = judge_capture(evidence)
    assert "pcap.tls" in {finding.check for finding in result.findings}


@settings(max_examples=fuzz_examples(), deadline=None)
@given(body=st.binary(max_size=600), kind=st.sampled_from([1, 2, 11, 14, 0xFF]))
def test_any_bytes_as_a_handshake_message_are_read_or_reported(body: bytes, kind: int) -> None:
    message = bytes([kind]) + len(body).to_bytes(3, "big") + body
    flight = record(22, server_hello() + message)
    evidence = audit_frames(connection(record(22, client_hello()), flight))
    session = session_of(evidence)
    assert session.problem is None or "handshake" in session.problem
    judge_capture(evidence)
