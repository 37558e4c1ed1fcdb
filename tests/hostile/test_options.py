"""OPTIONS against every hostile behaviour: the right finding, on time, nothing left over."""

from __future__ import annotations

import pytest

from probe.tls.lab import LabFiles
from probe.verdict.findings import Status
from tests.hostile.cases import CASES, Case
from tests.hostile.probing import probe_hostile

SLACK_S = 0.5
"""Loopback connect and handshake, and a busy CI machine, on top of the deadline."""


def bound(case: Case) -> float:
    return float(getattr(case.deadlines, case.deadline))


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_hostile_behaviour(case: Case, lab: LabFiles) -> None:
    outcome = await probe_hostile(case.behaviour, case.layer, lab, case.deadlines)
    findings = outcome.findings
    assert case.check in findings, sorted(findings)
    finding = findings[case.check]
    assert finding.status is case.status, finding.summary
    # `|` separates outcomes that are equally right (a close racing our request may
    # reach us as the close or as the reset our request provokes).
    assert any(part in finding.summary for part in case.fragment.split("|")), finding.summary
    for check, status in case.also.items():
        assert findings[check].status is status, findings[check].summary
    for key, expected in case.details.items():
        value = finding.details[key]
        if isinstance(expected, int) and isinstance(value, list):
            assert len(value) == expected, value
        else:
            assert value == expected
    # Never an internal error, never a traceback in front of the user.
    for each in findings.values():
        assert each.status is not Status.ERROR, each.summary
        assert "Traceback" not in each.summary
    # On time: within the deadline that bounds the case, and not before it when it is
    # that deadline that ends the probe.
    assert outcome.elapsed <= bound(case) + SLACK_S, outcome.elapsed
    if case.expires:
        assert outcome.elapsed >= bound(case) * 0.95, outcome.elapsed
        if case.deadline in ("first_byte", "message", "transaction"):
            assert outcome.evidence.exchanges[-1].expired == case.deadline
