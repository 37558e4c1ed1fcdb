"""TLS handshakes captured by tcpdump on loopback: sipprobe's OPTIONS over TLS 1.2 and 1.3
to Kamailio presenting a good, an expired and a wrong-host chain. Each session the audit
reads is cross-checked against tshark's dissection of the same file (SNI, version,
suite, the certificates), and each TLS 1.2 chain's verdict against the live probe's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.evidence.capture import CaptureEvidence, TlsSessionSeen
from probe.pcap.audit import audit_capture
from probe.report.model import Report
from probe.run.commands import OptionsRequest, run_options_command
from probe.settings import Settings
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.verdict.capture import judge_capture
from probe.verdict.checks.policy import OptionsPolicy
from probe.verdict.findings import CaptureResult, Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.capture import capturing, tshark_fields
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

# listener → (variant, Kamailio's method)
LISTENERS = {
    "good13": ("good-via-intermediate", "TLSv1.2+"),
    "good12": ("good-via-intermediate", "TLSv1.2"),
    "expired12": ("expired", "TLSv1.2"),
    "wronghost12": ("wrong-host", "TLSv1.2"),
    "expired13": ("expired", "TLSv1.2+"),
}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[Kamailio]:
    profiles = []
    for name, (variant, method) in LISTENERS.items():
        chain, key = (
            (lab.server, lab.server_key)
            if variant == "good-via-intermediate"
            else (lab.variants[variant].chain, lab.variants[variant].key)
        )
        profiles.append(TlsProfile(name, chain, key, method=method))
    instance = start_kamailio(tmp_path_factory.mktemp("kamailio-tls-capture"), profiles)
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def captured(
    tmp_path_factory: pytest.TempPathFactory, servers: Kamailio, lab: LabFiles
) -> tuple[Path, Report]:
    """One OPTIONS run to every listener, captured on lo."""
    path = tmp_path_factory.mktemp("tls-capture") / "tls.pcap"
    ports = list(servers.ports.values())
    with capturing(path, " or ".join(f"tcp port {port}" for port in ports)):
        report = run_options_command(
            OptionsRequest(
                targets=[f"sip:{LAB_NAME}:{port};transport=tls" for port in ports],
                settings=Settings.from_flat(
                    pins=[f"{LAB_NAME}:{port}:127.0.0.1" for port in ports],
                    ca=lab.ca,
                    timeout=5,
                    concurrency=1,
                ),
            ),
            on_usage_error=no_usage_error,
        )
    return path, report


def by_listener(servers: Kamailio, evidence: CaptureEvidence) -> dict[str, TlsSessionSeen]:
    names = {f"127.0.0.1:{port}": name for name, port in servers.ports.items()}
    assert evidence.tls is not None
    sessions = {names[s.server]: s for s in evidence.tls.sessions}
    assert len(sessions) == len(evidence.tls.sessions) == len(LISTENERS)
    return sessions


def findings_by_listener(
    servers: Kamailio, result: CaptureResult, check: str
) -> dict[str, Finding]:
    found = {}
    for finding in result.findings:
        if finding.check != check:
            continue
        for name, port in servers.ports.items():
            if f"127.0.0.1:{port} " in finding.summary:
                found[name] = finding
    assert len(found) == len(LISTENERS), [f.summary for f in result.findings]
    return found


def test_each_session_is_read_as_tshark_reads_it(
    captured: tuple[Path, Report], servers: Kamailio
) -> None:
    path, _report = captured
    evidence = audit_capture(path)
    sessions = by_listener(servers, evidence)
    decode = [f"tcp.port=={port},tls" for port in servers.ports.values()]
    hellos = {
        int(port): (name, versions)
        for port, name, versions in tshark_fields(
            path,
            "tls.handshake.type == 1",
            ["tcp.dstport", "tls.handshake.extensions_server_name",
             "tls.handshake.extensions.supported_version"],
            *decode,
        )
    }  # fmt: skip
    answers = {
        int(port): (version, chosen, cipher)
        for port, version, chosen, cipher in tshark_fields(
            path,
            "tls.handshake.type == 2",
            ["tcp.srcport", "tls.handshake.version",
             "tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite"],
            *decode,
        )
    }  # fmt: skip
    certificates = {
        int(port): chain.split(",")
        for port, chain in tshark_fields(
            path, "tls.handshake.type == 11", ["tcp.srcport", "tls.handshake.certificate"], *decode
        )
    }
    for name, session in sessions.items():
        port = servers.ports[name]
        sni, offered = hellos[port]
        assert session.sni == sni == LAB_NAME
        assert [f"0x{v:04x}" for v in session.offered_versions] == [
            v for v in offered.split(",") if v and int(v, 16) & 0x0F0F != 0x0A0A
        ]
        legacy, chosen, cipher = answers[port]
        assert session.version == int(chosen or legacy, 16)
        assert session.cipher == int(cipher, 16)
        expected = 0x0304 if name.endswith("13") else 0x0303
        assert session.version == expected, name
        if expected == 0x0303:
            assert [der.hex() for der in session.presented_chain] == [
                c.replace(":", "") for c in certificates[port]
            ]
        else:
            assert session.presented_chain == ()
            assert port not in certificates  # tshark sees no Certificate in the clear either


def test_tls12_chains_get_the_live_probes_verdicts_and_tls13_ones_are_skipped(
    captured: tuple[Path, Report], servers: Kamailio, lab: LabFiles
) -> None:
    path, report = captured
    evidence = audit_capture(path)
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca)).at(dt.datetime.now(dt.UTC))
    result = judge_capture(evidence, policy)
    sessions = findings_by_listener(servers, result, "pcap.tls")
    chains = findings_by_listener(servers, result, "pcap.tls_chain")
    assert {name: f.status for name, f in sessions.items()} == dict.fromkeys(LISTENERS, Status.PASS)
    assert "TLS 1.3" in sessions["good13"].summary
    assert "TLS 1.2, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" in sessions["good12"].summary
    assert {name: f.status for name, f in chains.items()} == {
        "good13": Status.SKIP,
        "good12": Status.PASS,
        "expired12": Status.FAIL,
        "wronghost12": Status.FAIL,
        "expired13": Status.SKIP,
    }
    assert "expired 10 days ago" in chains["expired12"].summary
    assert f"not for {LAB_NAME}" in chains["wronghost12"].summary
    # The same checks as the live probe, with the same outcome, for every TLS 1.2 chain.
    live = {
        result.target.port: {f.check: f.status.value for f in result.findings}
        for result in report.results
    }
    for name in ("good12", "expired12", "wronghost12"):
        from_capture = {c["check"]: c["status"] for c in chains[name].details["checks"]}
        from_probe = live[servers.ports[name]]
        assert from_capture == {check: from_probe[check] for check in from_capture}, name
    # The TLS 1.3 listener with an expired chain: the probe saw it, the capture cannot.
    assert live[servers.ports["expired13"]]["tls.validity"] == "fail"
    assert "cannot be judged from a capture" in chains["expired13"].summary
    assert result.verdict.value == "fail"
    assert set(result.required) >= {"pcap.tls", "pcap.tls_chain"}


def test_a_tls13_only_capture_passes_with_its_chains_said_to_be_unseen(
    tmp_path: Path, servers: Kamailio, lab: LabFiles
) -> None:
    path = tmp_path / "tls13.pcapng"
    port = servers.ports["good13"]
    with capturing(path, f"tcp port {port}", tool="dumpcap"):
        run_options_command(
            OptionsRequest(
                targets=[f"sip:{LAB_NAME}:{port};transport=tls"],
                settings=Settings.from_flat(
                    pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, timeout=5
                ),
            ),
            on_usage_error=no_usage_error,
        )
    result = judge_capture(audit_capture(path), OptionsPolicy(anchors=load_trust_anchors(lab.ca)))
    assert result.verdict.value == "pass"
    assert "pcap.tls_chain" not in result.required
    assert [f.status for f in result.findings if f.check == "pcap.tls_chain"] == [Status.SKIP]
