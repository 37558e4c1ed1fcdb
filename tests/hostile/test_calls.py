"""Test calls against hostile far ends: the fault named, the call ended, on time."""

from __future__ import annotations

import pytest

from probe.net.call import CallSettings
from probe.sip import parse_uri
from probe.tls.lab import LabFiles
from probe.verdict.findings import Status
from tests.conftest import LAB_NAME
from tests.hostile.call_cases import ANSWER_S, CALL_CASES, CallCase
from tests.hostile.probing import probe_hostile


@pytest.mark.parametrize("case", CALL_CASES, ids=[case.id for case in CALL_CASES])
async def test_hostile_far_end(case: CallCase, lab: LabFiles) -> None:
    call = CallSettings(to=parse_uri(f"sip:+15550100@{LAB_NAME}"), answer_timeout=ANSWER_S)
    outcome = await probe_hostile(case.behaviour, "tls", lab, case.deadlines, call=call)
    findings = outcome.findings
    finding = findings[case.check]
    assert finding.status is case.status, finding.summary
    assert case.fragment in finding.summary
    for check, status in case.also.items():
        assert findings[check].status is status, findings[check].summary
    for each in findings.values():
        assert each.status is not Status.ERROR, each.summary
    call_evidence = outcome.evidence.call
    assert call_evidence is not None
    assert call_evidence.dialogs_left_open == 0
    assert outcome.elapsed <= case.bound_s + 0.5, outcome.elapsed
    if case.expires:
        assert call_evidence.expired == case.deadline
