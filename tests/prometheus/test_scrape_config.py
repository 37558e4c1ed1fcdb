"""What docs/prometheus/prometheus.yml makes a real Prometheus do: every probe job's target
reaches its vantage's exporter as `/probe?target=URI&module=KIND`, and every series comes
back named by the URI (`instance`) with its `module` and `vantage`.

Debian's prometheus runs the kit's own file with only what a test must change: the
exporters' addresses (two recording HTTP servers on loopback stand in for the London and
Frankfurt exporters), one-second intervals, and no Alertmanager (its example name would
be looked up in the machine's DNS).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.peers.prometheus import Prometheus, start_prometheus
from tests.prometheus.kit import RULES, SCRAPE_CONFIG, load

pytestmark = pytest.mark.peer

SCRAPES_DEADLINE = 30.0


@dataclass
class StandInExporter:
    """Answers /probe and /metrics as the exporter would, and records each request."""

    vantage: str
    requests: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def seen(self) -> list[tuple[str, dict[str, list[str]]]]:
        with self.lock:
            return list(self.requests)


def handler_for(exporter: StandInExporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            with exporter.lock:
                exporter.requests.append((url.path, urllib.parse.parse_qs(url.query)))
            body = (
                b"probe_success 1\n"
                if url.path == "/probe"
                else b"sipprobe_exporter_config_last_reload_successful 1\n"
            )
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def exporters() -> Iterator[dict[str, StandInExporter]]:
    started: dict[str, StandInExporter] = {}
    threads = []
    try:
        for vantage in ("london", "frankfurt"):
            exporter = StandInExporter(vantage)
            exporter.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(exporter))
            thread = threading.Thread(target=exporter.server.serve_forever, daemon=True)
            thread.start()
            threads.append(thread)
            started[vantage] = exporter
        yield started
    finally:
        for exporter in started.values():
            assert exporter.server is not None
            exporter.server.shutdown()
            exporter.server.server_close()
        for thread in threads:
            thread.join(5)


def localised(config: dict[str, Any], exporters: dict[str, StandInExporter]) -> dict[str, Any]:
    """The kit's config with the exporters on loopback, 1 s intervals, no Alertmanager."""
    config.pop("alerting", None)
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    for job in config["scrape_configs"]:
        job.update(scrape_interval="1s", scrape_timeout="1s")
        for group in job["static_configs"]:
            labels = group["labels"]
            address = exporters[labels["vantage"]].address
            if "__exporter_address" in labels:
                labels["__exporter_address"] = address
            else:
                group["targets"] = [address]
    return config


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, exporters: dict[str, StandInExporter]
) -> Iterator[Prometheus]:
    """One Prometheus for the module's tests, asked once it is ready: its discovery hands
    targets to the scrapers in 5-second batches, so each start costs that much."""
    workdir = tmp_path_factory.mktemp("prometheus")
    (workdir / "rules.yml").write_text(RULES.read_text())
    server = start_prometheus(workdir, localised(load(SCRAPE_CONFIG), exporters))
    try:
        yield server
    finally:
        server.stop()


def kit_targets() -> dict[str, list[tuple[str, str]]]:
    """Per probe job: (target, vantage) pairs as prometheus.yml lists them."""
    targets: dict[str, list[tuple[str, str]]] = {}
    for job in load(SCRAPE_CONFIG)["scrape_configs"]:
        if job.get("metrics_path") == "/probe":
            targets[job["job_name"]] = [
                (target, group["labels"]["vantage"])
                for group in job["static_configs"]
                for target in group["targets"]
            ]
    return targets


def wait_for_every_target_scraped(prometheus: Prometheus) -> list[dict[str, Any]]:
    deadline = time.monotonic() + SCRAPES_DEADLINE
    while True:
        active = prometheus.api("targets", state="active")["activeTargets"]
        if active and all(target["health"] == "up" for target in active):
            return list(active)
        if time.monotonic() > deadline:
            raise AssertionError(f"targets not all scraped within {SCRAPES_DEADLINE} s: {active}")
        time.sleep(0.2)


def test_each_probe_reaches_its_vantages_exporter_with_target_and_module(
    prometheus: Prometheus, exporters: dict[str, StandInExporter]
) -> None:
    wait_for_every_target_scraped(prometheus)
    expected = kit_targets()
    assert set(expected) == {"sipprobe-options", "sipprobe-failover", "sipprobe-invite"}
    for vantage, exporter in exporters.items():
        asked = {
            (query["target"][0], query["module"][0])
            for path, query in exporter.seen()
            if path == "/probe"
        }
        # Each of this vantage's targets with its job's module, and nothing of another's.
        assert asked == {
            (target, job.removeprefix("sipprobe-"))
            for job, pairs in expected.items()
            for target, where in pairs
            if where == vantage
        }
        # Its own metrics are scraped at /metrics, without a target.
        assert ("/metrics", {}) in exporter.seen()


def test_the_failover_list_arrives_whole(
    prometheus: Prometheus, exporters: dict[str, StandInExporter]
) -> None:
    """A comma-separated endpoint list is one `target`, its order kept."""
    wait_for_every_target_scraped(prometheus)
    (failover_list, _), *_ = kit_targets()["sipprobe-failover"]
    assert "," in failover_list
    probed = {
        query["target"][0]
        for exporter in exporters.values()
        for path, query in exporter.seen()
        if path == "/probe" and query.get("module") == ["failover"]
    }
    assert probed == {failover_list}


def test_every_probe_series_is_named_by_its_target_module_and_vantage(
    prometheus: Prometheus, exporters: dict[str, StandInExporter]
) -> None:
    active = wait_for_every_target_scraped(prometheus)
    series = {
        (s["job"], s["instance"], s["module"], s["vantage"])
        for s in (
            result["metric"] for result in prometheus.api("query", query="probe_success")["result"]
        )
    }
    assert series == {
        (job, target, job.removeprefix("sipprobe-"), vantage)
        for job, pairs in kit_targets().items()
        for target, vantage in pairs
    }
    # The exporter's address is where the scrape went, not a label of the series.
    for target in active:
        assert not any(name.startswith("__") for name in target["labels"])
        assert "exporter_address" not in json.dumps(target["labels"])
    exporter_series = prometheus.api(
        "query", query="sipprobe_exporter_config_last_reload_successful"
    )["result"]
    assert {(s["metric"]["instance"], s["metric"]["vantage"]) for s in exporter_series} == {
        (exporter.address, vantage) for vantage, exporter in exporters.items()
    }
