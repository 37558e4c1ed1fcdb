"""The run as a whole: --max-time, Ctrl-C, one connection per target, against scripted
servers on loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from probe.evidence.file import dumps_evidence, loads_evidence
from probe.report.model import exit_code
from probe.run.collect import RunControls, collect_run
from probe.run.commands import OptionsRequest, prepare
from probe.settings import Settings
from probe.sip import Request
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.verdict.checks import OptionsPolicy
from probe.verdict.findings import CheckId, Status, Verdict
from probe.verdict.judging import judge_run
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.net.scripted import response_bytes, scripted_server, tls_server_context
from tests.signal_child import finish, start_sipprobe, wait_until

NEVER = 3600.0


async def answer_ok(request: Request, writer: asyncio.StreamWriter) -> None:
    writer.write(response_bytes(request, 200, "OK"))


async def stay_silent(request: Request, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(NEVER)


def uri(port: int, user: str = "") -> str:
    return f"sip:{user + '@' if user else ''}{LAB_NAME}:{port};transport=tls"


def pins(*ports: int) -> tuple[str, ...]:
    return tuple(f"{LAB_NAME}:{port}:127.0.0.1" for port in ports)


async def test_max_time_ends_the_run_and_names_the_unfinished_target(lab: LabFiles) -> None:
    context = tls_server_context(lab.server, lab.server_key)
    async with (
        scripted_server(answer_ok, context) as healthy,
        scripted_server(stay_silent, context) as silent,
    ):
        request = OptionsRequest(
            targets=[uri(healthy), uri(silent)],
            settings=Settings.from_flat(
                pins=pins(healthy, silent), ca=lab.ca, timeout=5.0, max_time=0.6
            ),
        )
        run = prepare(request, no_usage_error)
        began = time.monotonic()
        evidence = await collect_run(run.uris, run.settings, controls=run.controls)
        elapsed = time.monotonic() - began
    assert elapsed < 1.5, "the run deadline, not the 5 s phase deadline, ended the run"
    assert evidence.stopped == "max_time"
    report = judge_run(evidence, run.policy)
    healthy_result, silent_result = report.results
    options = {f.check: f for f in healthy_result.findings}[CheckId.SIP_OPTIONS]
    assert options.status is Status.PASS
    unfinished = {f.check: f for f in silent_result.findings}[CheckId.SIP_OPTIONS]
    assert unfinished.status is Status.INCOMPLETE
    assert unfinished.summary == "not finished within the run's --max-time of 0.6 s"
    # One target healthy, one cut off: work undone is never a pass.
    assert report.verdict is Verdict.INCOMPLETE
    assert exit_code(report) == 4
    assert "run stopped at --max-time 0.6 s: 1 of 2 targets finished" in report.notes[-1]
    assert not report.interrupted
    # The saved evidence is judged again to the same findings.
    again = judge_run(loads_evidence(dumps_evidence(evidence)), run.policy)
    assert again.findings == report.findings


async def test_cancelling_a_run_keeps_what_finished_when_asked(lab: LabFiles) -> None:
    context = tls_server_context(lab.server, lab.server_key)
    async with (
        scripted_server(answer_ok, context) as healthy,
        scripted_server(stay_silent, context) as silent,
    ):
        run = prepare(
            OptionsRequest(
                targets=[uri(healthy), uri(silent)],
                settings=Settings.from_flat(pins=pins(healthy, silent)),
            ),
            no_usage_error,
        )
        task = asyncio.create_task(
            collect_run(run.uris, run.settings, controls=RunControls(keep_partial_on_cancel=True))
        )
        await asyncio.sleep(0.5)
        task.cancel()
        evidence = await task
    assert evidence.stopped == "interrupted"
    stopped = [target.stopped for target in evidence.probed()]
    assert stopped == [None, "interrupted"]
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca))
    report = judge_run(evidence, policy)
    assert report.interrupted
    last = {f.check: f for f in report.results[1].findings}[CheckId.SIP_OPTIONS]
    assert (last.status, last.summary) == (
        Status.INCOMPLETE,
        "not finished: the run was interrupted",
    )
    assert report.verdict is Verdict.INCOMPLETE


async def test_without_keep_partial_a_cancellation_propagates(lab: LabFiles) -> None:
    context = tls_server_context(lab.server, lab.server_key)
    async with scripted_server(stay_silent, context) as silent:
        run = prepare(
            OptionsRequest(targets=[uri(silent)], settings=Settings.from_flat(pins=pins(silent))),
            no_usage_error,
        )
        task = asyncio.create_task(collect_run(run.uris, run.settings, controls=RunControls()))
        await asyncio.sleep(0.3)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the cancellation was swallowed")


@pytest.mark.parametrize(
    ("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
async def test_a_signal_prints_the_partial_report_and_exits_128_plus_its_number(
    lab: LabFiles, tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    context = tls_server_context(lab.server, lab.server_key)
    saved = tmp_path / "evidence.json"
    answered, asked = asyncio.Event(), asyncio.Event()

    async def answer_and_say(request: Request, writer: asyncio.StreamWriter) -> None:
        await answer_ok(request, writer)
        answered.set()

    async def hear_and_stay_silent(request: Request, writer: asyncio.StreamWriter) -> None:
        asked.set()
        await stay_silent(request, writer)

    async with (
        scripted_server(answer_and_say, context) as healthy,
        scripted_server(hear_and_stay_silent, context) as silent,
    ):
        args = [uri(healthy), uri(silent), "--ca", str(lab.ca), "--format", "console,json"]
        args += ["--output", f"json={tmp_path / 'report.json'}", "--evidence-out", str(saved)]
        for pin in pins(healthy, silent):
            args += ["--resolve", pin]
        # One target at a time, in list order: once the silent one has its OPTIONS, the
        # healthy one is done.
        process = await start_sipprobe("options", *args, "--concurrency", "1")
        await wait_until(lambda: answered.is_set() and asked.is_set(), "both OPTIONS arrive")
        process.send_signal(stop)
        returncode, text, errors = await finish(process)
    assert returncode == code, text + errors
    assert "Traceback" not in errors
    assert f"interrupted by {stop.name}: the report is partial" in errors
    assert f"not finished: the run was interrupted by {stop.name}" in text
    assert f"run interrupted by {stop.name}: 1 of 2 targets finished" in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["interrupted_by"] == stop.name
    skipped = [f for f in report["findings"] if f["summary"].startswith("not finished")]
    assert [(f["check"], f["status"]) for f in skipped] == [("sip.options", "incomplete")]
    assert report["verdict"] == "incomplete"  # one target passed; the other was not done
    evidence = loads_evidence(saved.read_text())
    assert (evidence.stopped, evidence.stop_signal) == ("interrupted", stop)
    if stop is not signal.SIGINT:
        return
    # Judged again later, the saved run keeps its note but is no interrupted command.
    judged = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "probe",
        "judge",
        str(saved),
        "--ca",
        str(lab.ca),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    judged_out, _ = await asyncio.wait_for(judged.communicate(), 20)
    assert judged.returncode == 4, judged_out.decode()  # still incomplete
    assert "run interrupted by SIGINT: 1 of 2 targets finished" in judged_out.decode()


async def test_sigterm_during_a_ping_run_writes_the_partial_report(lab: LabFiles) -> None:
    answered = 0

    async def answer_and_count(request: Request, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        await answer_ok(request, writer)
        answered += 1

    context = tls_server_context(lab.server, lab.server_key)
    async with scripted_server(answer_and_count, context) as port:
        args = [uri(port), "--ca", str(lab.ca), "--format", "json", "--resolve", *pins(port)]
        process = await start_sipprobe("options", *args, "--count", "1000", "--interval", "0.05")
        await wait_until(lambda: answered >= 3, "the first pings are answered")
        process.send_signal(signal.SIGTERM)
        returncode, out, errors = await finish(process)
    assert returncode == 143, out + errors
    report = json.loads(out)
    assert report["interrupted_by"] == "SIGTERM"
    assert report["verdict"] == "incomplete"
    assert "run interrupted by SIGTERM: 0 of 1 targets finished" in report["notes"][-1]


async def test_targets_sharing_an_address_are_probed_one_at_a_time(lab: LabFiles) -> None:
    inside = peak = 0

    async def slow_ok(request: Request, writer: asyncio.StreamWriter) -> None:
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        await asyncio.sleep(0.1)
        inside -= 1
        writer.write(response_bytes(request, 200, "OK"))

    context = tls_server_context(lab.server, lab.server_key)
    peaks = {}
    async with scripted_server(slow_ok, context) as port:
        for per_target in (1, 4):
            peak = 0
            request = OptionsRequest(
                targets=[uri(port, f"u{n}") for n in range(4)],
                settings=Settings.from_flat(
                    pins=pins(port), ca=lab.ca, concurrency=10, per_target=per_target
                ),
            )
            run = prepare(request, no_usage_error)
            evidence = await collect_run(run.uris, run.settings, controls=run.controls)
            assert all(t.evidence and t.evidence.exchanges for t in evidence.probed())
            peaks[per_target] = peak
    assert peaks[1] == 1
    assert peaks[4] >= 2


async def test_a_silent_dns_server_fails_the_lookup_on_the_dns_deadline() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        request = OptionsRequest(
            targets=["sip:trunk.example.test;transport=tls"],
            settings=Settings.from_flat(
                dns_server=f"127.0.0.1:{port}", timeout=5.0, deadlines=["dns=0.3"]
            ),
        )
        run = prepare(request, no_usage_error)
        began = time.monotonic()
        evidence = await collect_run(run.uris, run.settings, where=run.where)
        elapsed = time.monotonic() - began
    assert elapsed < 2.0, "the 5 s --timeout was used instead of --deadline dns=0.3"
    report = judge_run(evidence, run.policy)
    located = {f.check: f for f in report.findings}[CheckId.DNS_RESOLVE]
    assert located.status is Status.FAIL
    assert "within 0.3 s" in located.summary


async def test_requests_carry_an_identifying_user_agent(lab: LabFiles) -> None:
    seen: list[str | None] = []

    async def record(request: Request, writer: asyncio.StreamWriter) -> None:
        seen.append(request.headers.get("User-Agent"))
        writer.write(response_bytes(request, 200, "OK"))

    context = tls_server_context(lab.server, lab.server_key)
    async with scripted_server(record, context) as port:
        run = prepare(
            OptionsRequest(
                targets=[uri(port)], settings=Settings.from_flat(pins=pins(port), ca=lab.ca)
            ),
            no_usage_error,
        )
        await collect_run(run.uris, run.settings, controls=run.controls)
    from probe import __version__

    assert seen == [f"sipprobe/{__version__}"]


async def test_a_failover_cut_short_leaves_the_trunk_unjudged(lab: LabFiles) -> None:
    from probe.run.collect import collect_failover_run
    from probe.run.commands import FailoverRequest, build_endpoints
    from probe.verdict.checks.policy import FailoverPolicy

    context = tls_server_context(lab.server, lab.server_key)
    async with (
        scripted_server(answer_ok, context) as healthy,
        scripted_server(stay_silent, context) as silent,
    ):
        common = OptionsRequest(
            targets=[uri(healthy), uri(silent)],
            settings=Settings.from_flat(
                pins=pins(healthy, silent), ca=lab.ca, timeout=5.0, max_time=0.6
            ),
        )
        run = prepare(common, no_usage_error)
        endpoints, mode = build_endpoints(FailoverRequest(common), run.uris, no_usage_error)
        evidence = await collect_failover_run(
            endpoints, run.settings, FailoverPolicy(mode=mode), controls=run.controls
        )
    report = judge_run(evidence, run.policy)
    assert report.trunk_findings
    # The silent endpoint was never judged: "primary down" or "no failover path" would
    # be claims about a target nobody finished probing.
    assert {f.status for f in report.trunk_findings} == {Status.INCOMPLETE}
    assert all("did not finish" in f.summary for f in report.trunk_findings)


async def test_a_name_not_yet_located_when_the_run_stops_is_not_a_dns_failure() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        request = OptionsRequest(
            targets=["sip:trunk.example.test;transport=tls"],
            settings=Settings.from_flat(
                dns_server=f"127.0.0.1:{silent.getsockname()[1]}", timeout=5.0, max_time=0.3
            ),
        )
        run = prepare(request, no_usage_error)
        evidence = await collect_run(run.uris, run.settings, where=run.where, controls=run.controls)
    report = judge_run(evidence, run.policy)
    (result,) = report.results
    (finding,) = result.findings
    assert finding.check == CheckId.SIP_OPTIONS
    assert (finding.status, finding.summary) == (
        Status.INCOMPLETE,
        "not finished within the run's --max-time of 0.3 s",
    )
    assert "0 of 1 targets finished" in report.notes[-1]


async def test_targets_judged_as_they_finish_give_the_report_of_the_whole_evidence(
    lab: LabFiles,
) -> None:
    """The run of `sipprobe options` without --evidence-out: each target judged as it
    finishes and only its target kept; the report is the one the whole evidence gives,
    the stopped target included."""
    context = tls_server_context(lab.server, lab.server_key)
    async with (
        scripted_server(answer_ok, context) as healthy,
        scripted_server(stay_silent, context) as silent,
    ):
        targets = [uri(healthy, "a"), uri(healthy, "b"), uri(silent)]
        request = OptionsRequest(
            targets=targets,
            settings=Settings.from_flat(
                pins=pins(healthy, silent), ca=lab.ca, timeout=5.0, max_time=0.8
            ),
        )
        slim = prepare(request, no_usage_error)
        kept = prepare(
            dataclasses.replace(
                request, settings=request.settings.with_flat({"follow_redirects": True})
            ),
            no_usage_error,
        )
        assert not slim.judge.keep_evidence
        assert kept.judge.keep_evidence
        light = await collect_run(
            slim.uris, slim.settings, controls=slim.controls, judge=slim.judge
        )
        whole = await collect_run(
            kept.uris, kept.settings, controls=kept.controls, judge=kept.judge
        )
    assert sorted(slim.judge.results) == [(0, 0), (1, 0)]  # the silent one never finished
    for probed in light.probed()[:2]:
        assert probed.evidence is not None
        assert probed.evidence.exchanges == ()
        assert probed.evidence.tls is None
    assert all(probed.evidence and probed.evidence.exchanges for probed in whole.probed()[:2])
    early = judge_run(light, slim.policy, judged=slim.judge.results)
    late = judge_run(whole, kept.policy)
    assert [r.target.uri for r in early.results] == [r.target.uri for r in late.results]
    assert [[(f.check, f.status) for f in r.findings] for r in early.results] == [
        [(f.check, f.status) for f in r.findings] for r in late.results
    ]
    assert early.verdict == late.verdict
    assert early.notes == late.notes
