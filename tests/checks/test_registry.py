"""Checks as units (probe.verdict.checks.registry): every finding a target gets comes
from a declared check, the checks a target owes are what the units declare, and a new
unit is judged by adding it to the registry alone."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from probe.evidence.model import ProbeEvidence
from probe.tls.trust import TrustAnchors
from probe.verdict.checks import OptionsPolicy, judge_options, registry, required_checks
from probe.verdict.checks.unit import Check, TargetJudging
from probe.verdict.findings import CheckId, Finding, Status
from tests.evidence.sample import call_evidence, lab, tls_evidence

CAPTURE_LEVEL = {check for check in CheckId if check.startswith("pcap.")}
STIR_LEVEL = {check for check in CheckId if check.startswith("stir.")}
"""Judged per received request (probe.verdict.checks.stir), not per probed target."""
INBOUND_LEVEL = {check for check in CheckId if check.startswith("inbound.")}
"""Judged per received call (`sipprobe answer`, registry.inbound_checks)."""
TRUNK_LEVEL = {
    CheckId.DNS_RESOLVE,
    CheckId.FAILOVER_ORDER,
    CheckId.FAILOVER_PRIMARY,
    CheckId.FAILOVER_REDUNDANCY,
    CheckId.INBOUND_CALLS,
}


def policy() -> OptionsPolicy:
    anchors = TrustAnchors((lab().root.cert,), "lab root")
    return OptionsPolicy(anchors=anchors, now=dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))


def samples() -> list[ProbeEvidence]:
    tls = tls_evidence()
    return [tls, call_evidence(tls.target)]


def test_every_target_check_id_belongs_to_one_declared_unit() -> None:
    declared = [check_id for check in registry.CHECKS for check_id in check.ids]
    per_target = set(CheckId) - TRUNK_LEVEL - CAPTURE_LEVEL - STIR_LEVEL - INBOUND_LEVEL
    assert per_target <= set(declared), per_target - set(declared)


def test_every_inbound_check_id_belongs_to_one_declared_call_unit() -> None:
    declared = [check_id for check in registry.inbound_checks() for check_id in check.ids]
    per_call = (INBOUND_LEVEL - {CheckId.INBOUND_CALLS}) | STIR_LEVEL
    assert sorted(declared) == sorted(per_call)
    assert len(declared) == len(set(declared))


def test_every_stir_check_id_is_one_a_verified_request_owes() -> None:
    from probe.verdict.checks.stir import STIR_CHECKS

    assert sorted(STIR_CHECKS) == sorted(STIR_LEVEL)
    assert len(STIR_CHECKS) == len(set(STIR_CHECKS))


def test_every_capture_check_id_belongs_to_one_declared_capture_unit() -> None:
    declared = [check_id for check in registry.CAPTURE_CHECKS for check_id in check.ids]
    assert sorted(declared) == sorted(CAPTURE_LEVEL)
    assert len(declared) == len(set(declared))


@pytest.mark.parametrize("evidence", samples(), ids=["options over tls", "test call"])
def test_each_finding_comes_from_a_unit_that_declares_it(evidence: ProbeEvidence) -> None:
    findings = judge_options(evidence, policy())
    assert findings
    applying = [check for check in registry.CHECKS if check.applies(evidence)]
    declared = {check_id for check in applying for check_id in check.ids}
    assert {finding.check for finding in findings} <= declared
    # What a target owes comes first from the units that apply.
    owed = required_checks(evidence)
    assert set(owed) <= {finding.check for finding in findings}


def test_what_a_target_owes_is_what_the_units_declare() -> None:
    tls = replace(tls_evidence(), enumeration=None)
    assert required_checks(tls) == (
        CheckId.NET_CONNECT,
        CheckId.TLS_HANDSHAKE,
        CheckId.TLS_CHAIN,
        CheckId.TLS_IDENTITY,
        CheckId.SIP_OPTIONS,
    )
    enumerated = tls_evidence()
    assert enumerated.enumeration is not None  # --enumerate owes its two checks too
    assert required_checks(enumerated)[4:6] == (CheckId.TLS_VERSIONS, CheckId.TLS_CIPHERS)
    call = call_evidence(tls.target)
    owed_by_call = required_checks(call)
    assert owed_by_call[owed_by_call.index(CheckId.SIP_INVITE) :][:3] == (
        CheckId.SIP_INVITE,
        CheckId.SDP_SRTP,
        CheckId.SIP_TEARDOWN,
    )
    assert CheckId.SIP_OPTIONS not in owed_by_call
    tcp = replace(tls, target=replace(tls.target, transport="tcp"), tls=None)
    assert required_checks(tcp) == (CheckId.NET_CONNECT, CheckId.SIP_OPTIONS)
    assert required_checks(None) == (CheckId.SIP_OPTIONS,)  # never reached: never a pass


def test_a_new_unit_is_judged_by_adding_it_to_the_registry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def judge(judging: TargetJudging) -> list[Finding]:
        label = judging.evidence.target.label
        return [Finding("sip.example", Status.WARN, label, "a check added in one place")]

    example = Check(
        ids=("sip.example",),
        reads=("target",),
        applies=lambda _evidence: True,
        judge=judge,
        owes=lambda _evidence: ("sip.example",),
    )
    monkeypatch.setattr(registry, "CHECKS", (*registry.CHECKS, example))
    tls = tls_evidence()
    findings = judge_options(tls, policy())
    assert findings[-1].check == "sip.example"
    assert required_checks(tls)[-1] == "sip.example"


def test_judging_a_probe_without_tls_never_loads_cryptography() -> None:
    # The certificate check imports its judgement on first use: a TCP or UDP run pays
    # nothing for it. A fresh interpreter, so nothing another test loaded hides it.
    import subprocess
    import sys

    script = (
        "import datetime as dt, sys\n"
        "from dataclasses import replace\n"
        "from probe.evidence.model import ConnectEvidence, ProbeEvidence, Target\n"
        "from probe.verdict.checks import OptionsPolicy, judge_options, required_checks\n"
        "target = Target(uri='sip:127.0.0.1;transport=tcp', host='127.0.0.1', port=5060,"
        " transport='tcp', address='127.0.0.1')\n"
        "evidence = ProbeEvidence(target=target, started_at='2026-12-07T00:00:00Z', timeout_s=1.0,"
        " connect=ConnectEvidence(ok=False, error='refused', elapsed_ms=0.1))\n"
        "findings = judge_options(evidence, OptionsPolicy(now=dt.datetime.now(dt.UTC)))\n"
        "assert findings and required_checks(evidence), findings\n"
        "print('cryptography' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_judging_an_options_probe_never_loads_the_sdp_codec() -> None:
    # Only a run that placed a call has SDP to read or redact: an OPTIONS run's start-up
    # does not pay for the codec. A fresh interpreter, as above.
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import probe.run.collect, probe.verdict.checks.registry, probe.verdict.judging\n"
        "print(sorted(name for name in sys.modules if name.startswith('probe.sdp')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_preparing_an_options_run_never_loads_the_websocket_code() -> None:
    # wsproto and h11 cost a start-up that a run without a WebSocket target never needs.
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from probe.settings import Settings\n"
        "from probe.run.sending import sending_settings\n"
        "def refuse(message): raise SystemExit(message)\n"
        "sending_settings(Settings(), refuse)\n"
        "loaded = (n for n in sys.modules if n.startswith(('wsproto', 'probe.net.websocket')))\n"
        "print(sorted(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_capture_checks_load_only_when_a_capture_is_judged() -> None:
    # The registry names them for `sipprobe pcap`; a probe's run never loads them.
    import subprocess
    import sys

    script = (
        "import sys\n"
        "import probe.verdict.checks.registry as registry\n"
        "before = 'probe.evidence.capture' in sys.modules\n"
        "ids = [i for check in registry.CAPTURE_CHECKS for i in check.ids]\n"
        "print(before, 'pcap.media' in ids)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
