"""`sipprobe demo`: a two-region trunk with a broken third region, probed for real, fast,
and with nothing left running afterwards."""

from __future__ import annotations

import gc
import os
import socket
import time
import warnings
from dataclasses import dataclass

import pytest

from probe.report.model import Report
from probe.run.demo import run_demo
from probe.verdict.findings import CheckId, Finding, Status, Verdict

SOUTH = "us-south.demo.sipprobe.test"
EAST = "us-east.demo.sipprobe.test"
WEST = "us-west.demo.sipprobe.test"


def _open_fds() -> int | None:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


@dataclass(frozen=True)
class DemoRun:
    report: Report
    elapsed: float
    leaks: list[str]
    """ResourceWarnings: sockets or transports nobody closed."""
    fds: tuple[int | None, int | None]
    """Open file descriptors before and after."""


@pytest.fixture(scope="module")
def demo() -> DemoRun:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        before = _open_fds()
        began = time.perf_counter()
        report = run_demo()
        elapsed = time.perf_counter() - began
        gc.collect()
        after = _open_fds()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    return DemoRun(report, elapsed, leaks, (before, after))


def trunk(report: Report) -> dict[str, Finding]:
    return {finding.check: finding for finding in report.trunk_findings}


def call_findings(report: Report) -> dict[str, Finding]:
    (result,) = [
        r for r in report.results if any(f.check == CheckId.SIP_INVITE for f in r.findings)
    ]
    assert result.target.host == SOUTH
    return {finding.check: finding for finding in result.findings}


def test_the_demo_is_fast_and_leaves_nothing_behind(demo: DemoRun) -> None:
    report = demo.report
    assert demo.elapsed < 10
    assert not demo.leaks
    assert demo.fds[0] == demo.fds[1]
    # Nothing listens any more where the responders were.
    for result in report.results:
        target = result.target
        assert target.address is not None
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            assert sock.connect_ex((target.address, target.port)) != 0, target.label


def test_calls_land_on_us_south_with_real_redundancy(demo: DemoRun) -> None:
    report = demo.report
    findings = trunk(report)
    order = findings[CheckId.FAILOVER_ORDER]
    assert order.status is Status.PASS
    assert str(order.details["lands_on"]).startswith(SOUTH)
    assert findings[CheckId.FAILOVER_PRIMARY].status is Status.PASS
    redundancy = findings[CheckId.FAILOVER_REDUNDANCY]
    assert redundancy.status is Status.PASS, redundancy.summary
    assert redundancy.details["healthy_groups"] == sorted([SOUTH, EAST])
    assert redundancy.details["shared_keys"] == {}
    assert redundancy.details["shared_addresses"] == {}


def test_the_test_call_negotiates_srtp_and_ends_every_dialog(demo: DemoRun) -> None:
    report = demo.report
    findings = call_findings(report)
    assert findings[CheckId.SIP_INVITE].status is Status.PASS
    srtp = findings[CheckId.SDP_SRTP]
    assert srtp.status is Status.PASS, srtp.summary
    assert srtp.details["proto"] == "RTP/SAVP"
    teardown = findings[CheckId.SIP_TEARDOWN]
    assert teardown.details["dialogs_left_open"] == 0
    assert any("held 0 open dialog" in note for note in report.notes)


def test_only_the_broken_region_fails(demo: DemoRun) -> None:
    report = demo.report
    assert report.command == "demo"
    assert report.verdict is Verdict.FAIL
    failing = [f for f in report.findings if f.status in (Status.FAIL, Status.ERROR)]
    assert [(f.check, f.target.split(" ")[0]) for f in failing] == [(CheckId.NET_CONNECT, WEST)]
    assert [r.target.host for r in report.results] == [SOUTH, EAST, WEST, SOUTH]
    assert any("IBM Voice Agent" in note and "retired" in note for note in report.notes)
