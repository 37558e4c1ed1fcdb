"""Failover verdicts over hand-made target results: order, primary, redundancy."""

from __future__ import annotations

from dataclasses import replace

import pytest

from probe.evidence.model import Target
from probe.evidence.run import Endpoint
from probe.verdict.checks.failover import (
    OrderedTarget,
    judge_failover,
    provider_order,
    weight_shares,
)
from probe.verdict.findings import Finding, Status, TargetResult


def target_result(
    host: str,
    address: str,
    *,
    healthy: bool = True,
    why: str = "connection refused",
    key: str = "",
    rtt: float = 2.0,
) -> TargetResult:
    target = Target(
        uri=f"sip:{host};transport=tls",
        host=host,
        port=5061,
        transport="tls",
        address=address,
        sni=host,
    )
    label = target.label
    findings = [
        Finding(
            "net.connect",
            Status.PASS if healthy else Status.FAIL,
            label,
            "connected" if healthy else why,
        )
    ]
    if healthy:
        findings.append(
            Finding(
                "tls.chain",
                Status.PASS,
                label,
                "ok",
                {"leaf": {"public_key_sha256": key or f"key-{host}"}},
            )
        )
        findings.append(Finding("sip.options", Status.PASS, label, "200 OK", {"rtt_ms": rtt}))
    else:
        findings.append(Finding("sip.options", Status.SKIP, label, "OPTIONS not sent"))
    return TargetResult(target, tuple(findings))


def ordered(
    *items: tuple[str, str, bool], keys: dict[str, str] | None = None
) -> list[OrderedTarget]:
    out = []
    for position, (host, address, healthy) in enumerate(items):
        endpoint = Endpoint(uri=f"sip:{host};transport=tls", host=host, position=position)
        result = target_result(host, address, healthy=healthy, key=(keys or {}).get(host, ""))
        out.append(OrderedTarget(endpoint, result, group=host))
    return out


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


def test_both_up_calls_land_on_the_primary() -> None:
    checks = by_check(
        judge_failover(
            ordered(("us-south.test", "127.0.0.2", True), ("us-east.test", "127.0.0.3", True)),
            mode="list",
        )
    )
    assert checks["failover.order"].status is Status.PASS
    assert checks["failover.order"].summary.startswith("calls land on us-south.test")
    assert checks["failover.primary"].status is Status.PASS
    assert checks["failover.redundancy"].status is Status.PASS
    assert [row["rank"] for row in checks["failover.order"].details["order"]] == [1, 2]


def test_primary_down_names_where_calls_land() -> None:
    checks = by_check(
        judge_failover(
            ordered(("us-south.test", "127.0.0.2", False), ("us-east.test", "127.0.0.3", True)),
            mode="list",
        )
    )
    primary = checks["failover.primary"]
    assert primary.status is Status.FAIL
    assert "us-south.test is down (connection refused)" in primary.summary
    assert "calls land on us-east.test (127.0.0.3:5061/tls)" in primary.summary
    assert checks["failover.redundancy"].status is Status.FAIL
    assert "only us-east.test is healthy" in checks["failover.redundancy"].summary


def test_secondary_down_leaves_no_failover_path() -> None:
    checks = by_check(
        judge_failover(
            ordered(("us-south.test", "127.0.0.2", True), ("us-east.test", "127.0.0.3", False)),
            mode="list",
        )
    )
    assert checks["failover.primary"].status is Status.PASS
    assert checks["failover.redundancy"].status is Status.FAIL


def test_everything_down() -> None:
    checks = by_check(
        judge_failover(
            ordered(("a.test", "127.0.0.2", False), ("b.test", "127.0.0.3", False)), mode="list"
        )
    )
    assert checks["failover.order"].status is Status.FAIL
    assert "calls fail everywhere" in checks["failover.order"].summary
    assert checks["failover.primary"].status is Status.FAIL


def test_two_regions_on_one_address_is_fake_redundancy() -> None:
    checks = by_check(
        judge_failover(
            ordered(("us-south.test", "127.0.0.2", True), ("us-east.test", "127.0.0.2", True)),
            mode="list",
        )
    )
    redundancy = checks["failover.redundancy"]
    assert redundancy.status is Status.FAIL
    assert "fake redundancy" in redundancy.summary
    assert "127.0.0.2" in redundancy.summary


def test_shared_certificate_key_is_flagged() -> None:
    checks = by_check(
        judge_failover(
            ordered(
                ("a.test", "127.0.0.2", True),
                ("b.test", "127.0.0.3", True),
                keys={"a.test": "K", "b.test": "K"},
            ),
            mode="list",
        )
    )
    assert checks["failover.redundancy"].status is Status.WARN
    assert "same certificate key" in checks["failover.redundancy"].summary


def test_primary_with_a_second_address_up_is_a_warning() -> None:
    endpoint = Endpoint(uri="sip:a.test;transport=tls", host="a.test", position=0)
    first = OrderedTarget(endpoint, target_result("a.test", "127.0.0.2", healthy=False), "a.test")
    second = OrderedTarget(endpoint, target_result("a.test", "127.0.0.4"), "a.test")
    other = ordered(("b.test", "127.0.0.3", True))[0]
    other = replace(other, endpoint=replace(other.endpoint, position=1))
    checks = by_check(judge_failover([first, second, other], mode="list"))
    assert checks["failover.primary"].status is Status.WARN
    assert "first address is down" in checks["failover.primary"].summary


def test_a_5xx_endpoint_is_unhealthy() -> None:
    items = ordered(("a.test", "127.0.0.2", True), ("b.test", "127.0.0.3", True))
    result = items[0].result
    busy = tuple(
        replace(f, status=Status.FAIL, summary="answered 503 Service Unavailable")
        if f.check == "sip.options"
        else f
        for f in result.findings
    )
    items[0] = replace(items[0], result=replace(result, findings=busy))
    checks = by_check(judge_failover(items, mode="list"))
    assert checks["failover.primary"].status is Status.FAIL
    assert "503" in checks["failover.primary"].summary


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("list", ["a", "b", "c", "d"]),
        ("fixed", ["a", "b", "c", "d"]),
        ("priority", ["c", "b", "d", "a"]),
    ],
)
def test_provider_order(mode: str, expected: list[str]) -> None:
    endpoints = [
        Endpoint("sip:a", "a", 0, priority=20, weight=10),
        Endpoint("sip:b", "b", 1, priority=10, weight=10),
        Endpoint("sip:c", "c", 2, priority=0, weight=1),
        Endpoint("sip:d", "d", 3, priority=10, weight=5),
    ]
    assert [e.host for e in provider_order(endpoints, mode)] == expected  # type: ignore[arg-type]


def test_weight_shares_within_a_priority() -> None:
    endpoints = [
        Endpoint("sip:a", "a", 0, priority=10, weight=60),
        Endpoint("sip:b", "b", 1, priority=10, weight=40),
        Endpoint("sip:c", "c", 2, priority=20, weight=0),
    ]
    assert weight_shares(endpoints) == {0: 0.6, 1: 0.4, 2: 1.0}


def test_one_endpoint_has_no_failover_path() -> None:
    checks = by_check(judge_failover(ordered(("a.test", "127.0.0.2", True)), mode="list"))
    assert checks["failover.redundancy"].status is Status.FAIL
    assert "only one endpoint is configured" in checks["failover.redundancy"].summary
