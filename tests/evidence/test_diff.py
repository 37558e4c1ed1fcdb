"""`sipprobe diff`: changes between two evidence files, target by target."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.serialization import Encoding

from probe.cli.commands import cli
from probe.evidence.file import ProbedTarget, RunEvidence, write_evidence
from probe.evidence.model import ProbeEvidence
from probe.tls.trust import TrustAnchors
from probe.verdict.checks import OptionsPolicy
from probe.verdict.diff import Change, diff_document, diff_runs
from tests.checks.evidence_factory import exchange, options_request, response
from tests.evidence import sample

FIRST = "sbc.example.test (192.0.2.1:5061/tls)"
GONE = "gone.example.test (gone.example.test:5061/tls)"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def save(path: Path, run: RunEvidence) -> str:
    write_evidence(path, run)
    return str(path)


def with_first(run: RunEvidence, evidence: ProbeEvidence) -> RunEvidence:
    """`run` with the evidence of its first target replaced."""
    first = run.uris[0]
    targets = (replace(first.targets[0], evidence=evidence), *first.targets[1:])
    return replace(run, uris=(replace(first, targets=targets), *run.uris[1:]))


def first_evidence(run: RunEvidence) -> ProbeEvidence:
    evidence = run.uris[0].targets[0].evidence
    assert evidence is not None
    return evidence


def answered(code: int, reason: str, rtt_ms: float = 2.5) -> ProbeEvidence:
    """The first target's evidence, answered with `code` after `rtt_ms`."""
    request = options_request()
    evidence = first_evidence(sample.run())
    item = exchange(request, [response(request, code, reason)], final_at=10.0 + rtt_ms)
    return replace(evidence, exchanges=(item,))


def lab_policy() -> OptionsPolicy:
    return OptionsPolicy(anchors=TrustAnchors((sample.lab().root.cert,), "lab root"))


def test_identical_files_report_nothing(tmp_path: Path) -> None:
    a = save(tmp_path / "a.json", sample.run())
    b = save(tmp_path / "b.json", sample.run())
    result = invoke("diff", a, b)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    result = invoke("diff", a, b, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {"schema": "sipprobe.diff/1", "changes": []}


def test_a_changed_certificate_and_status_code(tmp_path: Path) -> None:
    before = with_first(sample.run(), answered(200, "OK"))
    renewed = sample.lab().variants["good"].chain
    after_evidence = answered(503, "Service Unavailable")
    assert after_evidence.tls is not None
    der = tuple(c.public_bytes(Encoding.DER) for c in renewed)
    tls = replace(after_evidence.tls, presented_chain=der)
    after = with_first(sample.run(), replace(after_evidence, tls=tls))
    a, b = save(tmp_path / "a.json", before), save(tmp_path / "b.json", after)
    result = invoke("diff", a, b)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.startswith(f"{FIRST}: certificate changed: sha256 ") for line in lines)
    assert f"{FIRST}: answer 200 → 503" in lines
    document = json.loads(invoke("diff", a, b, "--format", "json").output)
    assert document["schema"] == "sipprobe.diff/1"
    whats = {(c["target"], c["what"]) for c in document["changes"]}
    assert whats == {(FIRST, "certificate"), (FIRST, "sip.status")}
    certificate = next(c for c in document["changes"] if c["what"] == "certificate")
    assert len(certificate["before"]["sha256"]) == 64
    assert certificate["before"]["not_after"].endswith("Z")


def test_health_is_judged_with_one_policy_for_both() -> None:
    before = with_first(sample.run(), answered(200, "OK"))
    after = with_first(sample.run(), answered(503, "Service Unavailable"))
    changes = {c.what: c for c in diff_runs(before, after, lab_policy())}
    assert changes["health"].before is True
    assert changes["health"].after is False
    assert f"{FIRST}: went down: sip.options: answered 503" in changes["health"].summary


@pytest.mark.parametrize(
    ("before_ms", "after_ms", "reported"),
    [
        (2.5, 20.0, True),  # +700 %, +17.5 ms
        (2.5, 7.0, False),  # +180 % but only 4.5 ms
        (100.0, 140.0, False),  # 40 ms but only +40 %
        (100.0, 151.0, True),
        (40.0, 10.0, True),  # faster counts too
    ],
)
def test_rtt_change_only_above_half_and_5_ms(
    before_ms: float, after_ms: float, reported: bool
) -> None:
    before = with_first(sample.run(), answered(200, "OK", before_ms))
    after = with_first(sample.run(), answered(200, "OK", after_ms))
    changes = [c for c in diff_runs(before, after, lab_policy()) if c.what == "sip.rtt"]
    assert bool(changes) is reported
    if reported:
        assert changes[0].before == before_ms
        assert changes[0].after == after_ms


def test_tls_version_cipher_order_and_targets() -> None:
    before = sample.run()
    evidence = first_evidence(before)
    assert evidence.tls is not None
    tls = replace(evidence.tls, version="TLSv1.2", cipher="ECDHE-RSA-AES256-GCM-SHA384")
    assert before.failover is not None
    swapped = replace(
        before.failover,
        order=(before.failover.order[1], before.failover.order[0], *before.failover.order[2:]),
    )
    gone = before.uris[1]
    new_target = ProbedTarget(unresolved=replace(gone.targets[0].target, host="new.example.test"))
    after = replace(
        with_first(before, replace(evidence, tls=tls)),
        failover=swapped,
    )
    after = replace(after, uris=(after.uris[0], replace(gone, targets=(new_target,))))
    changes: list[Change] = diff_runs(before, after, lab_policy())
    whats = [(c.target, c.what) for c in changes]
    assert (FIRST, "tls.version") in whats
    assert (FIRST, "tls.cipher") in whats
    assert ("trunk", "failover.order") in whats
    assert (GONE, "target") in whats
    assert ("new.example.test (new.example.test:5061/tls)", "target") in whats
    summaries = [c.summary for c in changes]
    assert f"{FIRST}: TLS version TLSv1.3 → TLSv1.2" in summaries
    assert any(s.startswith(f"{GONE}: in the first run only (gone; was ") for s in summaries)
    new_line = "new.example.test (new.example.test:5061/tls): in the second run only (new; FAIL)"
    assert new_line in summaries


@pytest.mark.parametrize("content", [None, "[]", '{"schema": "sipprobe.evidence/9"}'])
def test_a_bad_file_is_exit_2_with_a_sentence(tmp_path: Path, content: str | None) -> None:
    good = save(tmp_path / "good.json", sample.run())
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    for args in ((good, str(bad)), (str(bad), good)):
        result = invoke("diff", *args)
        assert result.exit_code == 2, result.output
        assert result.output.startswith(f"sipprobe: {bad}")
        assert "Traceback" not in result.output


def plain(code: int, reason: str) -> ProbeEvidence:
    """`answered` without the --enumerate result (whose refused suites warn): a target
    that passes outright when answered 200."""
    return replace(answered(code, reason), enumeration=None)


def test_a_verdict_change_and_where_calls_land() -> None:
    before = with_first(sample.run(), plain(200, "OK"))
    after = with_first(sample.run(), plain(503, "Service Unavailable"))
    changes = diff_runs(before, after, lab_policy())
    by_what = {(c.target, c.what): c for c in changes}
    verdict = by_what[(FIRST, "verdict")]
    assert (verdict.before, verdict.after) == ("pass", "fail")
    assert verdict.summary == f"{FIRST}: verdict PASS → FAIL"
    # The first target was the only healthy one (the second carries a call, not OPTIONS).
    landing = by_what[("trunk", "calls.land")]
    assert (landing.before, landing.after) == (FIRST, None)
    assert landing.summary == f"trunk: calls land first on {FIRST} → nowhere (no healthy target)"
    # The reverse reads the other way round, one line each.
    back = {(c.target, c.what): c.summary for c in diff_runs(after, before, lab_policy())}
    assert back[(FIRST, "verdict")] == f"{FIRST}: verdict FAIL → PASS"
    assert back[(FIRST, "health")].startswith(f"{FIRST}: came up (was: sip.options: answered 503")
    assert back[("trunk", "calls.land")] == (
        f"trunk: calls land first on nowhere (no healthy target) → {FIRST}"
    )
    document = diff_document(changes)
    assert {"target": FIRST, "what": "verdict", "before": "pass", "after": "fail"}.items() <= next(
        c for c in document["changes"] if c["what"] == "verdict"
    ).items()


def test_landing_moves_to_the_next_healthy_target_in_the_providers_order() -> None:
    second = "sbc.example.test ([2001:db8::1]:5061/tls)"
    both_up = sample.run()
    first_target, call_target = both_up.uris[0].targets
    assert call_target.evidence is not None
    # The second target answers OPTIONS too: both are healthy, the first takes the calls.
    options_second = replace(plain(200, "OK"), target=call_target.evidence.target)
    up = replace(
        both_up,
        uris=(
            replace(
                both_up.uris[0],
                targets=(
                    replace(first_target, evidence=plain(200, "OK")),
                    replace(call_target, evidence=options_second),
                ),
            ),
            *both_up.uris[1:],
        ),
    )
    down = with_first(up, plain(503, "Service Unavailable"))
    landing = [c for c in diff_runs(up, down, lab_policy()) if c.what == "calls.land"]
    assert [(c.before, c.after) for c in landing] == [(FIRST, second)]


def test_each_run_is_judged_with_its_own_anchors() -> None:
    run = with_first(sample.run(), plain(200, "OK"))
    unrelated = OptionsPolicy(
        anchors=TrustAnchors((sample.lab().variants["self-signed"].leaf.cert,), "unrelated")
    )
    # The same evidence: nothing changes under one policy, the verdict does under two.
    assert diff_runs(run, run, lab_policy()) == []
    changes = diff_runs(run, run, lab_policy(), after_policy=unrelated)
    assert [(c.what, c.before, c.after) for c in changes if c.target == FIRST][:2] == [
        ("verdict", "pass", "fail"),
        ("health", True, False),
    ]


def test_a_change_of_trust_anchors_is_named() -> None:
    from probe.evidence.file import TrustRecord

    lab_record = TrustRecord("path", "file lab/ca.pem (1 certificate)", pem="PEM A")
    system = TrustRecord("system", "system store /etc/ssl/certs/ca-certificates.crt")
    run = sample.run()
    before = replace(run, settings=replace(run.settings, trust=lab_record))
    after = replace(run, settings=replace(run.settings, trust=system))
    trust = [c for c in diff_runs(before, after, lab_policy()) if c.what == "trust"]
    assert [c.summary for c in trust] == [
        "trunk: trust anchors file lab/ca.pem (1 certificate) → "
        "system store /etc/ssl/certs/ca-certificates.crt"
    ]
    moved = replace(lab_record, source="file elsewhere/ca.pem (1 certificate)")
    same = replace(run, settings=replace(run.settings, trust=moved))
    assert not [c for c in diff_runs(before, same, lab_policy()) if c.what == "trust"]
