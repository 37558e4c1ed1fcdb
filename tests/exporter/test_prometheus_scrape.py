"""A real Prometheus scrapes `sipprobe exporter`, configured as blackbox_exporter users
configure theirs (each target URI relabelled into `?target=`, the module into
`?module=`, the exporter as the address), and what it stored is read back through its
query API: `probe_success` and `probe_ssl_earliest_cert_expiry` per target, for real
Kamailio endpoints (good, wrong host, expired, 503), a closed port and a black hole."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from cryptography import x509

from probe.tls.lab import LabFiles
from tests.exporter.conftest import BlackHole, Endpoints
from tests.exporter.helpers import exporter_process
from tests.peers.prometheus import Prometheus, start_prometheus

pytestmark = pytest.mark.peer

SCRAPE_SECONDS = 2


def not_after(chain: Path) -> float:
    leaf = x509.load_pem_x509_certificates(chain.read_bytes())[0]
    return leaf.not_valid_after_utc.timestamp()


def scrape_config(exporter: str, targets: list[str]) -> dict[str, object]:
    """blackbox_exporter's pattern: the target URI and the module become the request's
    parameters, the exporter its address; series are named by the URI."""
    return {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "scrape_timeout": f"{SCRAPE_SECONDS}s"},
        "scrape_configs": [
            {
                "job_name": "sip",
                "metrics_path": "/probe",
                "static_configs": [{"targets": targets, "labels": {"__param_module": "lab"}}],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"source_labels": ["__param_module"], "target_label": "module"},
                    {"target_label": "__address__", "replacement": exporter},
                ],
            },
            {"job_name": "sipprobe-exporter", "static_configs": [{"targets": [exporter]}]},
        ],
    }


def by_instance(found: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    return {labels["instance"]: value for labels, value in found}


async def test_prometheus_stores_each_targets_success_and_certificate_expiry(
    tmp_path: Path,
    endpoints: Endpoints,
    lab: LabFiles,
    closed_port: int,
    black_hole: BlackHole,
) -> None:
    pins = ", ".join(f'"{pin}"' for pin in endpoints.pins())
    config = tmp_path / "exporter.toml"
    config.write_text(
        f'[modules.lab]\nkind = "options"\nca = "{endpoints.ca}"\nresolve = [{pins}]\ntimeout = 5\n'
    )
    uris = {
        "good": endpoints.uri(endpoints.good),
        "wrong-host": endpoints.uri(endpoints.wrong_host),
        "expired": endpoints.uri(endpoints.expired),
        "503": endpoints.uri(endpoints.busy),
        "closed": f"sip:127.0.0.1:{closed_port};transport=tls",
        "black-hole": f"sip:127.0.0.1:{black_hole.port};transport=tls",
    }
    async with exporter_process(config) as running:
        exporter = f"127.0.0.1:{running.port}"
        prometheus: Prometheus = await asyncio.to_thread(
            start_prometheus, tmp_path / "prometheus", scrape_config(exporter, list(uris.values()))
        )
        try:
            success = await asyncio.to_thread(
                prometheus.wait_for,
                'probe_success{job="sip"}',
                lambda found: len(found) == len(uris),
            )
            up = await asyncio.to_thread(prometheus.query, 'up{job="sip"}')
            expiry = await asyncio.to_thread(
                prometheus.query, 'probe_ssl_earliest_cert_expiry{job="sip"}'
            )
            modules = await asyncio.to_thread(prometheus.query, 'probe_success{module="lab"}')
            # Every target's first probe counted: one success, five failures (a second
            # scrape of the good target must not stand in for another target's first).
            own = await asyncio.to_thread(
                prometheus.wait_for,
                'sipprobe_exporter_probes_total{module="lab"}',
                lambda found: (
                    by_result(found)["success"] >= 1
                    and by_result(found)["failure"] >= len(uris) - 1
                ),
            )
        finally:
            prometheus.stop()
        code = await running.stopped()
    assert code == 143
    # Every scrape was answered within its timeout, the black hole's too: `up` is 1 and
    # the probe's own verdict says what happened.
    assert by_instance(up) == dict.fromkeys(uris.values(), 1.0)
    assert by_instance(success) == {
        uris["good"]: 1.0,
        uris["wrong-host"]: 0.0,
        uris["expired"]: 0.0,
        uris["503"]: 0.0,
        uris["closed"]: 0.0,
        uris["black-hole"]: 0.0,
    }
    assert len(modules) == len(uris)  # the module came through as a label too
    assert by_instance(expiry) == {
        uris["good"]: not_after(lab.server),
        uris["wrong-host"]: not_after(lab.variants["wrong-host"].chain),
        uris["expired"]: not_after(lab.variants["expired"].chain),
        uris["503"]: not_after(lab.server),
    }  # no chain, no series: the closed port and the black hole
    assert by_instance(expiry)[uris["expired"]] < time.time()
    results = by_result(own)
    assert results["success"] >= 1, results
    assert results["failure"] >= 5, results
    assert results["error"] == 0


def by_result(found: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    """The exporter's probe counter per `result` (0 for a result not seen yet)."""
    counted = dict.fromkeys(("success", "failure", "error"), 0.0)
    counted.update({labels["result"]: value for labels, value in found})
    return counted
