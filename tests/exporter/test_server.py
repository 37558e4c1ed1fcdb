"""The exporter over HTTP, in process, against real Kamailio endpoints and the embedded
responder: one probe per scrape, judged; the scrape deadline honoured; bad requests
refused in a line; a black hole delaying nothing else; reloads; invite spacing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from probe.serve import ResponderConfig
from probe.tls.lab import LabFiles, write_lab
from tests.exporter.conftest import BlackHole, Endpoints
from tests.exporter.expositions import promtool_finds_no_problem
from tests.exporter.helpers import get, running_exporter, samples
from tests.lab_responders import serving

SCRAPE_TIMEOUT = "X-Prometheus-Scrape-Timeout-Seconds"


def lab_modules(endpoints: Endpoints, extra: str = "") -> str:
    pins = ", ".join(f'"{pin}"' for pin in endpoints.pins())
    return f"""
        [modules.lab]
        kind = "options"
        ca = "{endpoints.ca}"
        resolve = [{pins}]
        timeout = 3

        [modules.trunk]
        kind = "failover"
        ca = "{endpoints.ca}"
        resolve = [{pins}]
        timeout = 3
        {extra}
        """


def not_after(chain: Path) -> float:
    """The leaf's notAfter, in Unix seconds."""
    from cryptography import x509

    leaf = x509.load_pem_x509_certificates(chain.read_bytes())[0]
    return leaf.not_valid_after_utc.timestamp()


def probe_url(module: str, target: str) -> str:
    return f"/probe?module={module}&target={quote(target, safe='')}"


@pytest.mark.peer
async def test_each_kamailio_endpoint_is_judged_as_it_is(
    tmp_path: Path, endpoints: Endpoints, closed_port: int, lab: LabFiles
) -> None:
    expected = {
        endpoints.good: ("pass", 1),
        endpoints.wrong_host: ("fail", 0),
        endpoints.expired: ("fail", 0),
        endpoints.busy: ("fail", 0),
        closed_port: ("fail", 0),
    }
    expiry: dict[int, float | None] = {}
    async with running_exporter(tmp_path, lab_modules(endpoints)) as run:
        for port, (verdict, success) in expected.items():
            answer = await get(run.url(probe_url("lab", endpoints.uri(port))))
            assert answer.status == 200, answer.body
            assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
            promtool_finds_no_problem(answer.body)
            found = samples(answer.body)
            assert found["probe_success"] == success, (port, answer.body)
            assert found[f'sipprobe_verdict{{verdict="{verdict}"}}'] == 1, (port, answer.body)
            expiry[port] = found.get("probe_ssl_earliest_cert_expiry")
        metrics = await get(run.url("/metrics"))
        promtool_finds_no_problem(metrics.body)
        own = samples(metrics.body)
    assert expiry[endpoints.good] == not_after(lab.server)
    assert expiry[endpoints.expired] == not_after(lab.variants["expired"].chain) < time.time()
    assert expiry[closed_port] is None  # no TLS, no chain
    assert own['sipprobe_exporter_probes_total{module="lab",result="success"}'] == 1
    assert own['sipprobe_exporter_probes_total{module="lab",result="failure"}'] == 4
    assert own['sipprobe_exporter_probe_duration_seconds_count{module="lab"}'] == 5
    assert own["sipprobe_exporter_probes_in_flight"] == 0


async def test_a_failover_target_is_the_ordered_endpoint_list(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, closed_port: int
) -> None:
    names = ("sip.example.test", "sip2.example.test")
    two = write_lab(tmp_path_factory.mktemp("two-names"), server_names=names)
    configs = [
        ResponderConfig(host=host, cert_file=two.server, key_file=two.server_key)
        for host in ("127.0.0.1", "127.0.0.2")
    ]
    with serving(configs) as (first, second):
        pins = [f"{names[0]}:{first}:127.0.0.1", f"{names[1]}:{second}:127.0.0.2"]
        modules = f"""
            [modules.trunk]
            kind = "failover"
            ca = "{two.ca}"
            resolve = {pins!r}
            timeout = 3
            """.replace("'", '"')
        both = f"sip:{names[0]}:{first};transport=tls,sip:{names[1]}:{second};transport=tls"
        async with running_exporter(tmp_path, modules) as run:
            redundant = await get(run.url(probe_url("trunk", both)))
            alone = await get(run.url(probe_url("trunk", both.split(",")[0])))
            broken = await get(
                run.url(probe_url("trunk", f"{both.split(',')[0]},sip:127.0.0.1:{closed_port}"))
            )
    # Two independent healthy endpoints: the list reached the run whole and in order (one
    # endpoint alone has no failover path, and a closed second one is none either).
    found = samples(redundant.body)
    assert found["probe_success"] == 1, redundant.body
    assert found["sipprobe_failover_landing_position"] == 1
    assert found["sipprobe_failover_working_endpoints"] == 2
    assert found["sipprobe_failover_redundant"] == 1
    assert samples(alone.body)["probe_success"] == 0, alone.body
    found = samples(broken.body)
    assert found["probe_success"] == 0, broken.body
    assert found["sipprobe_failover_working_endpoints"] == 1
    assert found["sipprobe_failover_redundant"] == 0


@pytest.mark.peer
async def test_a_black_hole_is_cut_off_at_the_scrape_deadline_and_says_so(
    tmp_path: Path, endpoints: Endpoints, black_hole: BlackHole
) -> None:
    # The phases' own deadline (3 s) is longer than the scrape's: the scrape's wins.
    target = f"sip:127.0.0.1:{black_hole.port};transport=tls"
    async with running_exporter(tmp_path, lab_modules(endpoints)) as run:
        started = time.monotonic()
        answer = await get(run.url(probe_url("lab", target)), headers={SCRAPE_TIMEOUT: "2"})
        took = time.monotonic() - started
        found = samples(answer.body)
        assert answer.status == 200
        assert found["probe_success"] == 0
        assert found['sipprobe_verdict{verdict="incomplete"}'] == 1, answer.body
        assert 1.0 <= took < 2.0, took  # within 2 s less the margin, not at the 3 s phase
        assert black_hole.accepted == 1
        own = samples((await get(run.url("/metrics"))).body)
        assert own['sipprobe_exporter_probes_total{module="lab",result="failure"}'] == 1
        # Its connection was closed when the run stopped, not left for the next scrape.
        await black_hole.emptied(within=0.5)


@pytest.mark.peer
async def test_the_modules_max_time_caps_the_scrapers_deadline(
    tmp_path: Path, endpoints: Endpoints, black_hole: BlackHole
) -> None:
    target = f"sip:127.0.0.1:{black_hole.port};transport=tls"
    capped = lab_modules(endpoints, '[modules.quick]\nkind = "options"\nmax_time = 0.8\n')
    async with running_exporter(tmp_path, capped) as run:
        started = time.monotonic()
        answer = await get(run.url(probe_url("quick", target)), headers={SCRAPE_TIMEOUT: "30"})
        took = time.monotonic() - started
    assert samples(answer.body)['sipprobe_verdict{verdict="incomplete"}'] == 1, answer.body
    assert took < 1.5, took


@pytest.mark.peer
async def test_a_black_hole_does_not_delay_a_good_probe(
    tmp_path: Path, endpoints: Endpoints, black_hole: BlackHole
) -> None:
    hole = f"sip:127.0.0.1:{black_hole.port};transport=tls"
    async with running_exporter(tmp_path, lab_modules(endpoints), concurrency=4) as run:
        stuck = [
            asyncio.create_task(get(run.url(probe_url("lab", hole)), headers={SCRAPE_TIMEOUT: "6"}))
            for _ in range(3)
        ]
        await black_hole.holds_one()
        started = time.monotonic()
        good = await get(run.url(probe_url("lab", endpoints.uri(endpoints.good))))
        took = time.monotonic() - started
        healthy = await get(run.url("/-/healthy"))
        assert not any(task.done() for task in stuck)
        answers = await asyncio.gather(*stuck)
    assert samples(good.body)["probe_success"] == 1
    assert took < 2.0, took
    assert healthy.status == 200
    # One target, one probe at a time: the other two scrapes waited their turn (and ran
    # out of time), they never opened connections beside the first.
    assert black_hole.most_at_once == 1
    assert [samples(a.body)["probe_success"] for a in answers] == [0, 0, 0]


@pytest.mark.peer
async def test_a_scrape_waits_for_the_probe_of_its_target_within_its_deadline(
    tmp_path: Path, endpoints: Endpoints
) -> None:
    good = endpoints.uri(endpoints.good)
    async with running_exporter(tmp_path, lab_modules(endpoints)) as run:
        release = await run.exporter.gates.acquire([good])  # a probe of it is running
        started = time.monotonic()
        waited = await get(run.url(probe_url("lab", good)), headers={SCRAPE_TIMEOUT: "1.5"})
        took = time.monotonic() - started
        release()
        turn = asyncio.create_task(get(run.url(probe_url("lab", good))))
        release = await run.exporter.gates.acquire([good])
        release()
        after = await turn
    assert (
        waited.headers["x-sipprobe-unfinished"] == "another probe of this target was still running"
    )
    assert samples(waited.body)['sipprobe_verdict{verdict="incomplete"}'] == 1
    assert 0.9 <= took < 1.5, took
    assert samples(after.body)["probe_success"] == 1
    assert len(run.exporter.gates) == 0  # nothing kept per target once its probes end


@pytest.mark.peer
async def test_probes_beyond_the_concurrency_wait_and_say_the_exporter_was_busy(
    tmp_path: Path, endpoints: Endpoints, black_hole: BlackHole
) -> None:
    hole = f"sip:127.0.0.1:{black_hole.port};transport=tls"
    async with running_exporter(tmp_path, lab_modules(endpoints), concurrency=1) as run:
        first = asyncio.create_task(
            get(run.url(probe_url("lab", hole)), headers={SCRAPE_TIMEOUT: "3"})
        )
        await black_hole.holds_one()
        good = await get(
            run.url(probe_url("lab", endpoints.uri(endpoints.good))), headers={SCRAPE_TIMEOUT: "1"}
        )
        await first
    assert samples(good.body)['sipprobe_verdict{verdict="incomplete"}'] == 1, good.body
    assert samples(good.body)["probe_success"] == 0
    assert good.headers["x-sipprobe-unfinished"] == "the exporter was busy: 1 probes running"
    promtool_finds_no_problem(good.body)


@pytest.mark.peer
async def test_bad_requests_are_refused_in_one_line(tmp_path: Path, endpoints: Endpoints) -> None:
    good = endpoints.uri(endpoints.good)
    cases = [
        (probe_url("nope", good), 400, "no module 'nope'; modules: lab, trunk"),
        (f"/probe?target={quote(good)}", 400, "module= is missing; modules: lab, trunk"),
        ("/probe?module=lab", 400, "target= is missing: the SIP URI to probe"),
        ("/probe?module=lab&module=trunk&target=x", 400, "module= is given 2 times; give it once"),
        (probe_url("lab", "sip:user:secret@sip.example.test"), 400, "target"),
        (probe_url("lab", "mailto:someone"), 400, "target 'mailto:someone'"),
        # Only a failover module's target is a list: for the others a comma is the URI's.
        (probe_url("lab", f"{good},{good}"), 400, "invalid URI parameter 'transport=tls,sip:"),
        ("/nowhere", 404, "no such page: '/nowhere'"),
    ]
    async with running_exporter(tmp_path, lab_modules(endpoints)) as run:
        for path, status, words in cases:
            answer = await get(run.url(path))
            assert answer.status == status, (path, answer.body)
            assert words in answer.body, (path, answer.body)
            assert answer.body.count("\n") == 1, answer.body
            assert "secret" not in answer.body
        header = await get(run.url(probe_url("lab", good)), headers={SCRAPE_TIMEOUT: "soon"})
        assert header.status == 400
        assert header.body == ("x-prometheus-scrape-timeout-seconds 'soon': not seconds above 0\n")
        post = await get(run.url(probe_url("lab", good)), method="POST")
        assert (post.status, post.headers["allow"]) == (405, "GET, HEAD")
        reload_by_get = await get(run.url("/-/reload"))
        assert (reload_by_get.status, reload_by_get.headers["allow"]) == (405, "POST, PUT")
        own = samples((await get(run.url("/metrics"))).body)
    assert own['sipprobe_exporter_probes_total{module="lab",result="error"}'] == 5
    # No module named: no label (Prometheus reads an empty label as none).
    assert own['sipprobe_exporter_probes_total{module="",result="error"}'] == 3


@pytest.mark.peer
async def test_a_reload_takes_a_good_file_and_keeps_the_old_one_for_a_bad(
    tmp_path: Path, endpoints: Endpoints
) -> None:
    good = endpoints.uri(endpoints.good)
    async with running_exporter(tmp_path, lab_modules(endpoints)) as run:
        run.config.write_text(
            run.config.read_text() + '\n[modules.fresh]\nkind = "options"\n'
            f'ca = "{endpoints.ca}"\nresolve = ["sip.example.test:{endpoints.good}:127.0.0.1"]\n'
        )
        taken = await get(run.url("/-/reload"), method="POST")
        assert (taken.status, taken.body) == (200, f"configuration reloaded from {run.config}\n")
        assert samples((await get(run.url(probe_url("fresh", good)))).body)["probe_success"] == 1
        run.config.write_text('[modules.lab]\nkind = "options"\nwarn_days = -1\ntimeot = 2\n')
        refused = await get(run.url("/-/reload"), method="POST")
        assert refused.status == 500
        assert refused.body.splitlines() == [
            "configuration refused (/-/reload), the old one is kept:",
            f"{run.config}:3 modules.lab.warn_days: Input should be greater than or equal to 0",
            f"{run.config}:4 modules.lab.timeot: unknown key 'timeot'; did you mean 'timeout'?",
        ]
        kept = await get(run.url(probe_url("fresh", good)))
        assert samples(kept.body)["probe_success"] == 1
        own = samples((await get(run.url("/metrics"))).body)
    assert own['sipprobe_exporter_config_reloads_total{result="success"}'] == 1
    assert own['sipprobe_exporter_config_reloads_total{result="failure"}'] == 1
    assert own["sipprobe_exporter_config_last_reload_successful"] == 0
    assert own["sipprobe_exporter_config_last_reload_success_timestamp_seconds"] > 1.7e9


async def test_an_invite_module_calls_a_target_at_most_once_per_interval(
    tmp_path: Path, lab: LabFiles
) -> None:
    config = ResponderConfig(transports=("tls",), cert_file=lab.server, key_file=lab.server_key)
    modules = f"""
        [modules.call]
        kind = "invite"
        allow_calls = true
        to = "+15550100"
        ca = "{lab.ca}"
        timeout = 3
        min_call_interval = 120
        """
    with serving([config, config]) as (first, second):
        async with running_exporter(tmp_path, modules) as run:
            targets = [f"sip:127.0.0.1:{port};transport=tls" for port in (first, second)]
            called = await get(run.url(probe_url("call", targets[0])))
            again = await get(run.url(probe_url("call", targets[0])))
            other = await get(run.url(probe_url("call", targets[1])))
            own = samples((await get(run.url("/metrics"))).body)
    assert samples(called.body)["probe_success"] == 1, called.body
    assert again.status == 429
    assert again.body.startswith(f"module call: {targets[0]} was called less than 120 s ago")
    assert 118 <= int(again.headers["retry-after"]) <= 120
    assert samples(other.body)["probe_success"] == 1, other.body  # another target: its own
    assert own['sipprobe_exporter_probes_total{module="call",result="success"}'] == 2
    assert own['sipprobe_exporter_probes_total{module="call",result="error"}'] == 1


async def test_a_probe_that_breaks_is_a_500_in_a_line_and_said_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import probe.exporter.server as server

    async def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(server, "run_probe", broken)
    async with running_exporter(tmp_path, '[modules.plain]\nkind = "options"\n') as run:
        said: list[str] = []
        run.exporter.say = said.append
        answer = await get(run.url(probe_url("plain", "sip:127.0.0.1:5061;transport=tls")))
        own = samples((await get(run.url("/metrics"))).body)
    assert (answer.status, answer.body) == (500, "internal error: RuntimeError: a bug\n")
    assert own['sipprobe_exporter_probes_total{module="plain",result="error"}'] == 1
    assert said == ["a probe ended with an internal error: RuntimeError: a bug"]
