"""A probe's report and evidence as metrics (probe.exporter.metrics), without a socket:
every metric of the contract from evidence built by hand, judged as a run is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from probe.evidence.model import ConnectEvidence, ProbeEvidence, Target, TlsEvidence
from probe.evidence.run import (
    Endpoint,
    FailoverEvidence,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunEvidence,
    RunSettings,
)
from probe.exporter.metrics import (
    CERTIFICATES_PER_CHAIN,
    HELP,
    SUBJECT_LENGTH,
    Sample,
    exposition,
    file_registry,
    file_samples,
    locate_seconds,
    probe_registry,
    probe_samples,
)
from probe.locate.records import DnsAnswer, DnsQuery, LocateResult
from probe.report.model import Report
from probe.tls.trust import TrustAnchors
from probe.verdict.checks import OptionsPolicy, TlsPolicy
from probe.verdict.findings import Finding, Status, TargetResult, Verdict
from probe.verdict.judging import judge_run
from tests.checks.evidence_factory import TARGET, exchange, options_request, response
from tests.evidence import sample

STATUSES = ("pass", "warn", "skip", "incomplete", "fail", "error")
VERDICTS = ("pass", "warn", "incomplete", "fail")


def anchors() -> TrustAnchors:
    return TrustAnchors((sample.lab().root.cert,), "the lab root")


def policy(**tls: object) -> OptionsPolicy:
    return OptionsPolicy(anchors=anchors(), tls=TlsPolicy(**tls))  # type: ignore[arg-type]


def plain_locate(uri: str, *answers: DnsAnswer) -> LocateResult:
    return LocateResult(uri, "pinned", (), answers, ())


def single(
    evidence: ProbeEvidence,
    *,
    uri: str | None = None,
    command: str = "options",
    stopped: str | None = None,
) -> RunEvidence:
    text = uri or evidence.target.uri
    entry = ProbedUri(
        text,
        plain_locate(text),
        (ProbedTarget(evidence=evidence, stopped=stopped),),  # type: ignore[arg-type]
    )
    return run_of(entry, command=command, stopped=stopped)


def run_of(*entries: ProbedUri, command: str = "options", **more: object) -> RunEvidence:
    return RunEvidence(
        command=command,  # type: ignore[arg-type]
        started_at=sample.STARTED_AT,
        duration_ms=250.0,
        settings=RunSettings(timeout_s=5.0),
        uris=entries,
        **more,  # type: ignore[arg-type]
    )


def judged(run: RunEvidence, rules: OptionsPolicy | None = None) -> Report:
    return judge_run(run, rules or policy())


def series(samples: Sequence[Sample], name: str) -> dict[frozenset[tuple[str, str]], float]:
    return {frozenset(s.labels): s.value for s in samples if s.name == name}


def value(samples: Sequence[Sample], name: str, **labels: str) -> float:
    """The one series of `name` whose labels include `labels`."""
    found = [s.value for s in samples if s.name == name and set(labels.items()) <= set(s.labels)]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def state(samples: Sequence[Sample], name: str, label: str, **labels: str) -> str:
    """Of a state set, the one state at 1; every state must be there."""
    states = {
        dict(s.labels)[label]: s.value
        for s in samples
        if s.name == name and set(labels.items()) <= set(s.labels)
    }
    assert set(states) == set(STATUSES if label == "status" else VERDICTS), states
    on = [name for name, number in states.items() if number == 1]
    assert len(on) == 1, states
    assert sum(states.values()) == 1, states
    return on[0]


def no_repeated_series(samples: Sequence[Sample]) -> None:
    keys = [(s.name, frozenset(s.labels)) for s in samples]
    assert len(keys) == len(set(keys))


def tls_options(status: int = 200, reason: str = "OK", **more: object) -> ProbeEvidence:
    request = options_request()
    answer = response(request, status, reason)
    base = sample.tls_evidence(TARGET)
    sent = replace(exchange(request, [answer]), final_status=status)
    return replace(base, exchanges=(sent,), enumeration=None, **more)  # type: ignore[arg-type]


def test_a_passing_tls_probe_has_every_figure_of_its_evidence() -> None:
    evidence = tls_options()
    run = single(evidence)
    report = judged(run)
    assert report.verdict is Verdict.PASS, [f.summary for f in report.findings]
    samples = probe_samples(report, run)
    no_repeated_series(samples)
    assert value(samples, "probe_success") == 1
    assert value(samples, "probe_duration_seconds") == pytest.approx(0.25)
    assert value(samples, "probe_dns_lookup_time_seconds") == 0  # pinned: nothing asked
    assert state(samples, "sipprobe_verdict", "verdict") == "pass"
    assert value(samples, "probe_ip_protocol") == 4
    assert value(samples, "sipprobe_options_rtt_seconds") == pytest.approx(0.0025)
    assert value(samples, "sipprobe_sip_status_code") == 200
    assert value(samples, "sipprobe_tls_handshake_seconds") == pytest.approx(0.00325)
    assert series(samples, "probe_tls_version_info") == {frozenset({("version", "TLS 1.3")}): 1}
    leaf, intermediate = sample.lab().server.cert, sample.lab().intermediate.cert
    not_after = series(samples, "sipprobe_certificate_not_after_timestamp_seconds")
    assert not_after == {
        frozenset({("position", "0"), ("subject", leaf.subject.rfc4514_string())}): (
            leaf.not_valid_after_utc.timestamp()
        ),
        frozenset({("position", "1"), ("subject", intermediate.subject.rfc4514_string())}): (
            intermediate.not_valid_after_utc.timestamp()
        ),
    }
    assert value(samples, "probe_ssl_earliest_cert_expiry") == min(not_after.values())
    # Every check of the report, as a state set at its finding's status.
    for finding in report.findings:
        assert state(samples, "sipprobe_check_status", "status", check=finding.check) == (
            finding.status.value
        )
    # No failover and no call: none of their metrics.
    names = {s.name for s in samples}
    assert not names & {n for n in HELP if "failover" in n or "srtp" in n or "dialogs" in n}


def test_a_warning_is_a_success_and_says_which_check_warned() -> None:
    run = single(tls_options())
    # Every certificate of the lab expires within ten years: a warning, not a failure.
    report = judged(run, policy(warn_days=3650))
    assert report.verdict is Verdict.WARN
    samples = probe_samples(report, run)
    assert value(samples, "probe_success") == 1
    assert state(samples, "sipprobe_verdict", "verdict") == "warn"
    assert state(samples, "sipprobe_check_status", "status", check="tls.validity") == "warn"


def test_a_503_is_a_failure_with_its_status_code() -> None:
    run = single(tls_options(503, "Service Unavailable"))
    report = judged(run)
    samples = probe_samples(report, run)
    assert value(samples, "probe_success") == 0
    assert state(samples, "sipprobe_verdict", "verdict") == "fail"
    assert value(samples, "sipprobe_sip_status_code") == 503
    assert state(samples, "sipprobe_check_status", "status", check="sip.options") == "fail"
    # The handshake and the chain still have their figures: the failure is SIP's.
    assert state(samples, "sipprobe_check_status", "status", check="tls.chain") == "pass"
    assert value(samples, "sipprobe_tls_handshake_seconds") > 0


def test_an_expired_chain_fails_with_its_expiry_in_the_past() -> None:
    run = single(tls_options())
    later = dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    report = judged(run, replace(policy(), now=later))
    samples = probe_samples(report, run)
    assert value(samples, "probe_success") == 0
    assert state(samples, "sipprobe_check_status", "status", check="tls.validity") == "fail"
    assert value(samples, "probe_ssl_earliest_cert_expiry") < later.timestamp()


def test_an_interrupted_probe_is_incomplete_never_a_success() -> None:
    target_only = ProbeEvidence(target=TARGET, started_at=sample.STARTED_AT, timeout_s=5.0)
    run = replace(single(target_only, stopped="interrupted"), stopped="interrupted")
    report = judged(run)
    assert report.verdict is Verdict.INCOMPLETE
    samples = probe_samples(report, run)
    assert value(samples, "probe_success") == 0
    assert state(samples, "sipprobe_verdict", "verdict") == "incomplete"
    assert state(samples, "sipprobe_check_status", "status", check="sip.options") == "incomplete"
    # Nothing was measured: no figure is made up.
    assert series(samples, "sipprobe_options_rtt_seconds") == {}
    assert series(samples, "sipprobe_sip_status_code") == {}


def test_a_required_check_nothing_concluded_is_incomplete() -> None:
    run = single(tls_options())
    report = judged(run)
    result = report.results[0]
    # The report of a target whose tls.chain finding is missing, though it was required.
    kept = tuple(f for f in result.findings if f.check != "tls.chain")
    cut = replace(report, results=(replace(result, findings=kept),))
    assert "tls.chain" in cut.results[0].required
    samples = probe_samples(cut, run)
    assert state(samples, "sipprobe_check_status", "status", check="tls.chain") == "incomplete"
    assert value(samples, "probe_success") == 0


def test_tcp_without_tls_has_no_tls_metric() -> None:
    target = Target("sip:sbc.example.test;transport=tcp", "sbc.example.test", 5060, "tcp", "::1")
    evidence = replace(tls_options(), target=target, tls=None)
    run = single(evidence)
    report = judged(run)
    assert report.verdict is Verdict.PASS, [f.summary for f in report.findings]
    samples = probe_samples(report, run)
    names = {s.name for s in samples}
    assert not names & {
        "probe_ssl_earliest_cert_expiry",
        "probe_tls_version_info",
        "sipprobe_tls_handshake_seconds",
        "sipprobe_certificate_not_after_timestamp_seconds",
    }
    assert value(samples, "probe_ip_protocol") == 6
    assert value(samples, "sipprobe_sip_status_code") == 200
    assert value(samples, "probe_success") == 1


def test_locating_time_adds_the_serial_queries_to_the_slowest_address_query() -> None:
    def answer(name: str, rdtype: str, ms: float) -> DnsAnswer:
        return DnsAnswer(DnsQuery(name, rdtype), (), elapsed_ms=ms)  # type: ignore[arg-type]

    located = plain_locate(
        "sips:sbc.example.test",
        answer("sbc.example.test", "NAPTR", 1.5),
        answer("_sips._tcp.sbc.example.test", "SRV", 2.0),
        answer("a.example.test", "A", 3.0),
        answer("a.example.test", "AAAA", 5.0),
    )
    assert locate_seconds(located) == pytest.approx(0.0085)
    run = replace(
        single(tls_options()), uris=(replace(single(tls_options()).uris[0], locate=located),)
    )
    assert value(probe_samples(judged(run), run), "probe_dns_lookup_time_seconds") == (
        pytest.approx(0.0085)
    )


def certificate(subject: x509.Name, not_after: dt.datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - dt.timedelta(days=30))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return built.public_bytes(Encoding.DER)


def test_certificate_subjects_are_bounded_and_a_chain_gives_at_most_ten() -> None:
    when = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    noisy = x509.Name(
        [x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "x" * 60) for _ in range(3)]
        + [x509.NameAttribute(x509.NameOID.COMMON_NAME, "bell\x07\nname")]
    )
    plain = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "plain")])
    chain = [certificate(noisy, when)] + [
        certificate(plain, when + dt.timedelta(days=day)) for day in range(1, 12)
    ]
    # The earliest is the last one sent: past the tenth, it still counts for the expiry.
    chain.append(certificate(plain, when - dt.timedelta(days=5)))
    evidence = replace(
        tls_options(),
        tls=replace(tls_options().tls, presented_chain=tuple(chain)),  # type: ignore[type-var]
    )
    run = single(evidence)
    samples = probe_samples(judged(run), run)
    not_after = [s for s in samples if s.name == "sipprobe_certificate_not_after_timestamp_seconds"]
    assert len(not_after) == CERTIFICATES_PER_CHAIN
    subjects = [dict(s.labels)["subject"] for s in not_after]
    assert all(len(subject) <= SUBJECT_LENGTH for subject in subjects)
    assert len(subjects[0]) == SUBJECT_LENGTH
    assert all(ord(c) >= 0x20 for subject in subjects for c in subject)
    assert value(samples, "probe_ssl_earliest_cert_expiry") == (
        (when - dt.timedelta(days=5)).timestamp()
    )
    # The exposition of such a subject is still well-formed text.
    text = exposition(probe_registry(judged(run), run)).decode()
    parsed = {f.name for f in text_string_to_metric_families(text)}
    assert "sipprobe_certificate_not_after_timestamp_seconds" in parsed


def endpoint_entry(
    uri: str, position: int, *evidence: ProbeEvidence, priority: int | None = None
) -> ProbedUri:
    host = uri.split(":", 1)[1].split(";")[0]
    return ProbedUri(
        uri,
        plain_locate(uri),
        tuple(ProbedTarget(evidence=one) for one in evidence),
        endpoint=Endpoint(uri, host, position, priority=priority),
    )


def at(address: str, status: int = 200) -> ProbeEvidence:
    evidence = tls_options(status, "OK" if status == 200 else "Service Unavailable")
    return replace(evidence, target=replace(TARGET, address=address))


def failover_run(
    entries: Sequence[ProbedUri], order: Sequence[tuple[int, int]], mode: str = "list"
) -> RunEvidence:
    places = tuple(Placement(uri, target, f"group{uri}") for uri, target in order)
    return run_of(
        *entries,
        command="failover",
        failover=FailoverEvidence(mode, places),  # type: ignore[arg-type]
    )


def test_a_failover_run_labels_each_endpoint_by_its_place_in_the_providers_order() -> None:
    # Configured as [backup, primary], tried by priority: the primary (priority 1) first.
    backup = endpoint_entry("sips:b.example.test", 0, at("192.0.2.2"), priority=2)
    primary = endpoint_entry("sips:a.example.test", 1, at("192.0.2.1", 503), priority=1)
    run = failover_run([backup, primary], [(1, 0), (0, 0)], mode="priority")
    report = judged(run)
    samples = probe_samples(report, run)
    no_repeated_series(samples)
    # The primary is down: calls land on the second endpoint of the order.
    assert value(samples, "sipprobe_failover_landing_position") == 2
    assert value(samples, "sipprobe_failover_working_endpoints") == 1
    assert value(samples, "sipprobe_failover_redundant") == 0
    assert state(samples, "sipprobe_check_status", "status", check="failover.primary") == "fail"
    assert (
        value(samples, "sipprobe_sip_status_code", endpoint="sips:a.example.test", position="1")
        == 503
    )
    assert (
        value(samples, "sipprobe_sip_status_code", endpoint="sips:b.example.test", position="2")
        == 200
    )
    assert (
        state(samples, "sipprobe_check_status", "status", check="sip.options", position="1")
        == "fail"
    )
    # Whole-list series carry no endpoint; the certificates name the endpoint's place apart.
    assert series(samples, "probe_success") == {frozenset(): 0}
    certificates = series(samples, "sipprobe_certificate_not_after_timestamp_seconds")
    assert {dict(k)["endpoint_position"] for k in certificates} == {"1", "2"}
    assert {dict(k)["position"] for k in certificates} == {"0", "1"}


def test_a_healthy_failover_path_is_redundant() -> None:
    first = endpoint_entry("sips:a.example.test", 0, at("192.0.2.1"))
    second = endpoint_entry("sips:b.example.test", 1, at("192.0.2.2"))
    run = failover_run([first, second], [(0, 0), (1, 0)])
    samples = probe_samples(judged(run), run)
    assert value(samples, "sipprobe_failover_landing_position") == 1
    assert value(samples, "sipprobe_failover_working_endpoints") == 2
    assert value(samples, "sipprobe_failover_redundant") == 1
    assert value(samples, "probe_success") == 1


def test_two_endpoints_on_one_address_are_not_redundant() -> None:
    first = endpoint_entry("sips:a.example.test", 0, at("192.0.2.1"))
    second = endpoint_entry("sips:b.example.test", 1, at("192.0.2.1"))
    run = failover_run([first, second], [(0, 0), (1, 0)])
    samples = probe_samples(judged(run), run)
    assert value(samples, "sipprobe_failover_working_endpoints") == 2
    assert value(samples, "sipprobe_failover_redundant") == 0
    assert state(samples, "sipprobe_check_status", "status", check="failover.redundancy") == (
        "fail"
    )


def test_a_failover_list_that_works_nowhere_lands_at_zero() -> None:
    first = endpoint_entry("sips:a.example.test", 0, at("192.0.2.1", 503))
    second = endpoint_entry("sips:b.example.test", 1, at("192.0.2.2", 503))
    run = failover_run([first, second], [(0, 0), (1, 0)])
    samples = probe_samples(judged(run), run)
    assert value(samples, "sipprobe_failover_landing_position") == 0
    assert value(samples, "sipprobe_failover_working_endpoints") == 0
    assert value(samples, "sipprobe_failover_redundant") == 0


def test_a_failover_run_cut_short_says_nothing_of_where_calls_land() -> None:
    first = endpoint_entry("sips:a.example.test", 0, at("192.0.2.1"))
    second = endpoint_entry("sips:b.example.test", 1, at("192.0.2.2"))
    run = failover_run([first, second], [(0, 0), (1, 0)])
    run = replace(run, stopped="max_time", max_time_s=1.0)
    samples = probe_samples(judged(run), run)
    assert not {s.name for s in samples} & {n for n in HELP if n.startswith("sipprobe_failover")}
    assert state(samples, "sipprobe_check_status", "status", check="failover.order") == (
        "incomplete"
    )
    assert value(samples, "probe_success") == 0


def test_an_endpoint_with_two_addresses_labels_each() -> None:
    run = sample.run()
    samples = probe_samples(judged(run), run)
    no_repeated_series(samples)
    protocols = series(samples, "probe_ip_protocol")
    assert {dict(k)["address"]: v for k, v in protocols.items()} == {
        "192.0.2.1:5061/tls": 4,
        "[2001:db8::1]:5061/tls": 6,
    }


def test_a_test_call_with_srtp_has_its_suite_and_no_dialog_left() -> None:
    evidence = sample.call_evidence(TARGET)
    run = single(evidence, command="invite")
    report = judged(run)
    samples = probe_samples(report, run)
    assert value(samples, "sipprobe_srtp_negotiated") == 1
    assert series(samples, "sipprobe_srtp_suite_info") == {
        frozenset({("suite", "AES_CM_128_HMAC_SHA1_80")}): 1
    }
    assert value(samples, "sipprobe_dialogs_left_open") == 0
    assert value(samples, "sipprobe_sip_status_code") == 200  # the INVITE's final response
    assert series(samples, "sipprobe_options_rtt_seconds") == {}  # no OPTIONS was sent
    assert state(samples, "sipprobe_check_status", "status", check="sdp.srtp") == "pass"


def test_a_plain_rtp_answer_is_srtp_not_negotiated() -> None:
    evidence = sample.call_evidence(TARGET)
    assert evidence.call is not None
    plain = evidence.call.answer.replace(b"RTP/SAVP", b"RTP/AVP")  # type: ignore[union-attr]
    call = replace(evidence.call, answer=plain, dialogs_left_open=1, media=None)
    run = single(replace(evidence, call=call), command="invite")
    samples = probe_samples(judged(run), run)
    assert value(samples, "sipprobe_srtp_negotiated") == 0
    assert series(samples, "sipprobe_srtp_suite_info") == {}
    assert value(samples, "sipprobe_dialogs_left_open") == 1
    assert value(samples, "probe_success") == 0


def test_a_plain_rtp_offer_has_no_srtp_metric() -> None:
    evidence = sample.call_evidence(TARGET)
    assert evidence.call is not None
    call = replace(evidence.call, offer_kind="rtp", media=None)
    run = single(replace(evidence, call=call), command="invite")
    samples = probe_samples(judged(run), run)
    assert series(samples, "sipprobe_srtp_negotiated") == {}
    assert value(samples, "sipprobe_dialogs_left_open") == 0


def two_targets_run() -> RunEvidence:
    good = single(at("192.0.2.1")).uris[0]
    down = single(at("192.0.2.2", 503), uri="sip:down.example.test;transport=tls").uris[0]
    return run_of(good, down)


def test_a_file_labels_every_series_with_its_target() -> None:
    run = two_targets_run()
    report = judged(run)
    samples = file_samples(report, run)
    no_repeated_series(samples)
    assert all("target" in dict(s.labels) for s in samples)
    good, down = TARGET.uri, "sip:down.example.test;transport=tls"
    assert value(samples, "probe_success", target=good) == 1
    assert value(samples, "probe_success", target=down) == 0
    assert state(samples, "sipprobe_verdict", "verdict", target=good) == "pass"
    assert state(samples, "sipprobe_verdict", "verdict", target=down) == "fail"
    assert value(samples, "sipprobe_sip_status_code", target=down) == 503
    # The exporter's form of the same run: one probe per URI too, since the series of
    # one would repeat the other's.
    assert probe_samples(report, run) == samples


def test_a_file_names_a_failover_list_by_its_first_endpoint() -> None:
    first = endpoint_entry("sips:a.example.test", 0, at("192.0.2.1"))
    second = endpoint_entry("sips:b.example.test", 1, at("192.0.2.2"))
    run = failover_run([first, second], [(0, 0), (1, 0)])
    samples = file_samples(judged(run), run)
    assert {dict(s.labels)["target"] for s in samples} == {"sips:a.example.test"}
    assert value(samples, "sipprobe_failover_working_endpoints") == 2


def test_each_probe_has_a_registry_of_its_own() -> None:
    run = two_targets_run()
    report = judged(run)
    before = {m.name for m in REGISTRY.collect()}
    one, two = probe_registry(report, run), file_registry(report, run)
    assert one is not two
    assert REGISTRY not in (one, two)
    assert {m.name for m in REGISTRY.collect()} == before
    # The text format reads back to the samples it was made of.
    text = exposition(one).decode()
    read = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert read == {(s.name, frozenset(s.labels)): s.value for s in probe_samples(report, run)}
    assert all(f"# TYPE {name} gauge" in text for name in {n for n, _ in read})


def test_a_report_without_evidence_still_gives_its_verdict_and_checks() -> None:
    finding = Finding("sip.options", Status.FAIL, TARGET.label, "down")
    report = Report("options", sample.STARTED_AT, 10.0, (TargetResult(TARGET, (finding,)),))
    for samples in (probe_samples(report, ()), file_samples(report, ())):
        assert value(samples, "probe_success") == 0
        assert state(samples, "sipprobe_check_status", "status", check="sip.options") == "fail"


def test_a_far_end_with_unreadable_certificates_gives_no_certificate_figure() -> None:
    evidence = replace(
        tls_options(), tls=TlsEvidence(ok=True, sni="x", presented_chain=(b"\x30\x03junk",))
    )
    run = single(evidence)
    samples = probe_samples(judged(run), run)
    assert series(samples, "sipprobe_certificate_not_after_timestamp_seconds") == {}
    assert series(samples, "probe_ssl_earliest_cert_expiry") == {}
    assert value(samples, "probe_success") == 0  # tls.chain fails it


def test_connect_evidence_alone_gives_the_address_family() -> None:
    refused = ProbeEvidence(
        target=TARGET,
        started_at=sample.STARTED_AT,
        timeout_s=5.0,
        connect=ConnectEvidence(ok=False, error_kind="refused", error="refused"),
    )
    run = single(refused)
    samples = probe_samples(judged(run), run)
    assert value(samples, "probe_ip_protocol") == 4
    assert state(samples, "sipprobe_check_status", "status", check="net.connect") == "fail"
    assert value(samples, "probe_success") == 0
