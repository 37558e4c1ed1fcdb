"""Received calls in every report format: the console names each call and what it showed,
JSON, JUnit, Nagios and Prometheus carry them through their generic paths, and no key of
any offer or answer appears in any of them."""

from __future__ import annotations

import dataclasses
import io
import json
import xml.etree.ElementTree as ElementTree

import pytest

from probe.evidence.run import RunEvidence, RunSettings
from probe.exporter.metrics import exposition, file_registry
from probe.report.console import COMPACT_FROM, render_console
from probe.report.json import write_json
from probe.report.junit import render_junit
from probe.report.model import Report, exit_code
from probe.report.output import nagios
from probe.tls.trust import TrustAnchors
from probe.verdict.checks import OptionsPolicy
from probe.verdict.checks.policy import InboundPolicy
from probe.verdict.judging import judge_run
from tests.evidence import sample
from tests.inbound import kit


def answer_run(*, calls: int = 2, **changes: object) -> RunEvidence:
    received = tuple(kit.good_call(number) for number in range(1, calls + 1))
    changes.setdefault("expectation", kit.expectation(calls=calls))
    evidence = kit.evidence(*received, **changes)
    return RunEvidence(
        command="answer",
        started_at=kit.STARTED_AT,
        duration_ms=2500.0,
        settings=RunSettings(timeout_s=60.0),
        uris=(),
        inbound=evidence,
    )


def report_of(run: RunEvidence) -> Report:
    anchors = TrustAnchors((sample.lab().root.cert,), "lab root")
    inbound = InboundPolicy(expect_peer=(kit.PEER_NAME,), require_client_cert=True)
    return judge_run(run, OptionsPolicy(anchors=anchors), inbound=inbound)


def console(report: Report, *, verbose: bool = False) -> str:
    sink = io.StringIO()
    render_console(report, sink, color=False, verbose=verbose)
    return sink.getvalue()


def no_secret_in(text: str) -> None:
    for secret in kit.SECRETS:
        assert secret not in text


def test_the_console_shows_each_call_readably() -> None:
    report = report_of(answer_run())
    text = console(report)
    assert text.startswith("PASS  sipprobe answer: 2 call(s) received,")
    assert "calls received: 2 of 2 expected" in text
    assert "calls received from the trunk" in text
    assert "failover" not in text
    assert "inbound call 1 from 192.0.2.7:5061/tls  PASS" in text
    assert "inbound call 2 from 192.0.2.7:5061/tls  PASS" in text
    assert "Caller" in text
    assert "sip:+15550123@sbc.example.test" in text
    assert "TLS" in text
    assert "TLSv1.3 · TLS_AES_256_GCM_SHA384" in text
    assert "Client cert" in text
    assert "Offer" in text
    assert "SRTP offered with SDES" in text
    assert "Ended" in text
    assert "the caller ended the call with BYE" in text
    assert "Answered     200 OK" in text
    no_secret_in(text)


def test_a_run_that_received_nothing_counts_calls_not_targets() -> None:
    run = answer_run(calls=1)
    assert run.inbound is not None
    report = report_of(dataclasses.replace(run, inbound=dataclasses.replace(run.inbound, calls=())))
    assert console(report).startswith("FAIL  sipprobe answer: 0 call(s) received, 1 fail")


def test_nagios_counts_the_calls_received() -> None:
    line, _code = nagios(report_of(answer_run()))
    assert line.startswith("SIPPROBE OK - 2 call(s) received, ")


def test_the_verbose_console_shows_the_client_chain_and_redacted_messages() -> None:
    text = console(report_of(answer_run(calls=1)), verbose=True)
    assert "client certificate chain" in text
    assert "inline:<redacted>" in text
    no_secret_in(text)


def cleartext_run() -> RunEvidence:
    """One call that came over TCP with SDES keys in its offer."""
    return dataclasses.replace(
        answer_run(calls=1), inbound=kit.evidence(kit.good_call(transport="tcp", tls=None))
    )


def test_a_failing_call_reads_as_such_in_the_console() -> None:
    report = report_of(cleartext_run())
    text = console(report)
    assert text.startswith("FAIL")
    assert "inbound call 1 from 192.0.2.7:5061/tcp  FAIL" in text
    assert "came over TCP, not TLS" in text
    assert "in cleartext over TCP" in text
    assert exit_code(report) == 1
    no_secret_in(text)


def test_json_carries_every_call_and_its_findings() -> None:
    sink = io.StringIO()
    write_json(report_of(answer_run()), sink)
    text = sink.getvalue()
    document = json.loads(text)
    assert document["command"] == "answer"
    assert document["verdict"] == "pass"
    targets = document["targets"]
    assert [t["target"] for t in targets] == [
        "inbound call 1 from 192.0.2.7:5061/tls",
        "inbound call 2 from 192.0.2.7:5061/tls",
    ]
    assert targets[0]["address"] == "192.0.2.7"
    assert targets[0]["uri"].startswith("sip:+15550100@probe.example.test")
    assert "inbound.offer" in targets[0]["required"]
    checks = {f["check"] for f in document["findings"]}
    assert {"inbound.calls", "inbound.client_cert", "inbound.teardown"} <= checks
    no_secret_in(text)


def test_junit_has_a_suite_per_call_and_one_for_the_trunk() -> None:
    text = render_junit(report_of(answer_run()))
    root = ElementTree.fromstring(text)
    names = [suite.get("name") for suite in root.iter("testsuite")]
    assert names == [
        "trunk",
        "inbound call 1 from 192.0.2.7:5061/tls",
        "inbound call 2 from 192.0.2.7:5061/tls",
    ]
    assert root.get("failures") == "0"
    no_secret_in(text)


def test_junit_failure_details_carry_no_key() -> None:
    text = render_junit(report_of(cleartext_run()))
    assert "<failure" in text
    no_secret_in(text)


@pytest.mark.parametrize(
    ("run", "word", "code"),
    [
        (answer_run(), "OK", 0),
        (answer_run(calls=1, expectation=kit.expectation(calls=2)), "CRITICAL", 2),
        (answer_run(calls=1, stopped="interrupted"), "UNKNOWN", 3),
    ],
    ids=["all calls", "a call missing", "interrupted"],
)
def test_nagios_reads_the_calls(run: RunEvidence, word: str, code: int) -> None:
    line, status = nagios(report_of(run))
    assert line.startswith(f"SIPPROBE {word} - ")
    assert status == code
    no_secret_in(line)


def test_nagios_names_the_missing_call() -> None:
    line, _code = nagios(report_of(answer_run(calls=1, expectation=kit.expectation(calls=2))))
    assert "inbound.calls trunk: only 1 of 2 expected calls arrived" in line


def test_prometheus_keeps_each_call_s_series_apart() -> None:
    run = answer_run()
    text = exposition(file_registry(report_of(run), (run,))).decode()
    # One run, named by where it listened, as a failover run is by its first endpoint.
    assert 'sipprobe_verdict{target="198.51.100.20:5061/tls",verdict="pass"} 1.0' in text
    for number in (1, 2):
        series = (
            f'sipprobe_check_status{{address="192.0.2.7:5061/tls",call="{number}",'
            'check="inbound.offer",status="pass",target="198.51.100.20:5061/tls"} 1.0'
        )
        assert series in text
    assert 'check="inbound.calls",status="pass",target="198.51.100.20:5061/tls"} 1.0' in text
    no_secret_in(text)


def test_a_long_list_of_calls_is_one_line_each() -> None:
    text = console(report_of(answer_run(calls=COMPACT_FROM + 1)))
    line = next(line for line in text.splitlines() if "inbound call 51 from" in line)
    assert line.startswith("PASS")
    assert "SRTP offered with SDES" in line
    no_secret_in(text)
