"""Evidence and results paired by the target itself: the order of a report (the provider's
order, for a failover run) is not the order of the evidence, and labels are not keys."""

from __future__ import annotations

from dataclasses import replace

import pytest

from probe.scenario import PairingError, pair_results
from tests.scenario.helpers import A_TARGET, B_TARGET, at, judged_run


def test_results_in_another_order_are_paired_with_their_own_evidence() -> None:
    run = judged_run(at(), at(B_TARGET, version="TLSv1.3"))
    # The report lists B first (as a failover report lists the provider's order).
    reordered = pair_results(run.evidence, [run.targets[1].result, run.targets[0].result])
    assert [t.target for t in reordered.targets] == [B_TARGET, A_TARGET]
    for judged in reordered.targets:
        assert judged.evidence is not None
        assert judged.evidence.target == judged.result.target
    assert reordered.targets[0].evidence is not None
    assert reordered.targets[0].evidence.tls is not None
    assert reordered.targets[0].evidence.tls.version == "TLSv1.3"


def test_two_targets_with_one_label_are_still_two_targets() -> None:
    # Same host, address, port and transport, another SNI: one label, two targets.
    other_sni = replace(A_TARGET, sni="other.example.net")
    assert other_sni.label == A_TARGET.label
    run = judged_run(at(), at(other_sni, version="TLSv1.3"))
    reordered = pair_results(run.evidence, [run.targets[1].result, run.targets[0].result])
    first = reordered.targets[0].evidence
    assert first is not None
    assert first.target.sni == "other.example.net"
    assert first.tls is not None
    assert first.tls.version == "TLSv1.3"


def test_a_result_without_evidence_is_refused() -> None:
    run = judged_run(at(), at(B_TARGET))
    # A target the report does not list is not judged (nor refused).
    (only,) = pair_results(run.evidence, [run.targets[1].result]).targets
    assert only.target == B_TARGET
    stranger = replace(run.targets[0].result, target=replace(A_TARGET, port=5070))
    with pytest.raises(PairingError, match="no evidence of"):
        pair_results(run.evidence, [stranger, run.targets[1].result])
