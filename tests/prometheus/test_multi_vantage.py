"""The multi-vantage rules of docs/prometheus/rules.yml, evaluated by a real Prometheus over
two real `sipprobe exporter` processes probing one real Kamailio TLS endpoint.

Both exporters have an `options` module that pins the endpoint's name and port, as a site's
own DNS view would: London's pin is the Kamailio, Frankfurt's another loopback address
where that port is closed. So the endpoint is up from London and down from Frankfurt,
which must raise `SipEndpointDownFromOneVantage` for Frankfurt and not `SipEndpointDown`;
once the Kamailio stops, London fails too and `SipEndpointDown` must fire.

Prometheus runs the kit's own prometheus.yml and rules.yml with only what a test must
change: the options job's targets (the one endpoint) and its groups' exporter addresses,
one-second intervals, no Alertmanager, no failover or invite jobs (these exporters have no
such modules, and an invite scrape places a call), and every alert's `for` read in seconds
where the kit says minutes. The expressions are the kit's, untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.exporter.helpers import exporter_process
from tests.peers.kamailio import TlsProfile, start_kamailio
from tests.peers.prometheus import Prometheus, start_prometheus
from tests.prometheus.kit import RULES, SCRAPE_CONFIG, load

pytestmark = pytest.mark.peer

UNREACHABLE_ADDRESS = "127.0.0.2"
"""Frankfurt's view of the endpoint's name: loopback, so no packet leaves the machine,
but not the address the Kamailio listens on."""

ALERT_DEADLINE = 60.0


@contextlib.contextmanager
def closed_port_at(address: str, port: int) -> Iterator[None]:
    """`address:port` bound and never listened on: nothing else can listen there while
    the block runs, so every connection to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((address, port))
        yield


def module_config(ca: Path, pin: str) -> str:
    """An exporter config with the `options` module the kit's options job asks for."""
    return f'[modules.options]\nkind = "options"\nca = "{ca}"\nresolve = ["{pin}"]\ntimeout = 3\n'


def seconds_for_minutes(rules: dict[str, Any]) -> dict[str, Any]:
    """The rules with each alert's `for` read in seconds instead of minutes: in production
    an alert waits minutes so that one lost probe does not page anyone, a test cannot
    wait that long. The proportions between alerts and every expression stay the kit's."""
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                minutes = re.fullmatch(r"(\d+)m", rule["for"])
                assert minutes, f"{rule['alert']}: `for: {rule['for']}` is not in minutes"
                rule["for"] = f"{minutes.group(1)}s"
    return rules


def localised(config: dict[str, Any], target: str, exporters: dict[str, str]) -> dict[str, Any]:
    """The kit's scrape config probing `target` through the exporters (vantage → address)."""
    config.pop("alerting", None)
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["scrape_configs"] = [
        job
        for job in config["scrape_configs"]
        if job["job_name"] in ("sipprobe-options", "sipprobe-exporter")
    ]
    for job in config["scrape_configs"]:
        job.update(scrape_interval="1s", scrape_timeout="1s")
        for group in job["static_configs"]:
            labels = group["labels"]
            address = exporters[labels["vantage"]]
            if "__exporter_address" in labels:
                labels["__exporter_address"] = address
                group["targets"] = [target]
            else:
                group["targets"] = [address]
    return config


def alerts(prometheus: Prometheus) -> list[dict[str, Any]]:
    """Every alert Prometheus holds, pending or firing, as /api/v1/alerts lists them."""
    return list(prometheus.api("alerts")["alerts"])


def named(found: list[dict[str, Any]], alertname: str, state: str) -> list[dict[str, str]]:
    return [
        alert["labels"]
        for alert in found
        if alert["labels"]["alertname"] == alertname and alert["state"] == state
    ]


def wait_for_alert(prometheus: Prometheus, alertname: str) -> list[dict[str, Any]]:
    """Every alert held once `alertname` is firing (the firing one checked by the caller)."""
    prometheus.wait_for(
        f'ALERTS{{alertname="{alertname}",alertstate="firing"}}',
        lambda firing: len(firing) > 0,
        timeout=ALERT_DEADLINE,
    )
    return alerts(prometheus)


async def test_down_from_one_vantage_then_from_every_vantage(tmp_path: Path, lab: LabFiles) -> None:
    kamailio = start_kamailio(
        tmp_path / "kamailio", [TlsProfile("tls", lab.server, lab.server_key)]
    )
    port = kamailio.tls_port
    target = f"sip:{LAB_NAME}:{port};transport=tls"
    pins = {
        "london": f"{LAB_NAME}:{port}:127.0.0.1",
        "frankfurt": f"{LAB_NAME}:{port}:{UNREACHABLE_ADDRESS}",
    }
    configs = {}
    for vantage, pin in pins.items():
        configs[vantage] = tmp_path / f"{vantage}.toml"
        configs[vantage].write_text(module_config(lab.ca, pin))
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    (workdir / "rules.yml").write_text(json.dumps(seconds_for_minutes(load(RULES))))
    try:
        with closed_port_at(UNREACHABLE_ADDRESS, port):
            async with (
                exporter_process(configs["london"]) as london,
                exporter_process(configs["frankfurt"]) as frankfurt,
            ):
                exporters = {
                    "london": f"127.0.0.1:{london.port}",
                    "frankfurt": f"127.0.0.1:{frankfurt.port}",
                }
                prometheus = await asyncio.to_thread(
                    start_prometheus, workdir, localised(load(SCRAPE_CONFIG), target, exporters)
                )
                try:
                    await check_alerts(prometheus, target, stop_endpoint=kamailio.stop)
                finally:
                    prometheus.stop()
    finally:
        kamailio.stop()


async def check_alerts(
    prometheus: Prometheus, target: str, stop_endpoint: Callable[[], None]
) -> None:
    # Up from London, down from Frankfurt, as each exporter judged it.
    success = await asyncio.to_thread(
        prometheus.wait_for,
        'probe_success{job="sipprobe-options"}',
        lambda found: len(found) == 2,
    )
    assert {labels["vantage"]: value for labels, value in success} == {
        "london": 1.0,
        "frankfurt": 0.0,
    }
    assert {labels["instance"] for labels, _ in success} == {target}

    found = await asyncio.to_thread(wait_for_alert, prometheus, "SipEndpointDownFromOneVantage")
    one_vantage = named(found, "SipEndpointDownFromOneVantage", "firing")
    assert len(one_vantage) == 1, found
    assert one_vantage[0]["instance"] == target
    assert one_vantage[0]["vantage"] == "frankfurt"
    assert one_vantage[0]["module"] == "options"
    assert one_vantage[0]["severity"] == "warning"
    # London passes, so the endpoint is not down: not firing, not even pending.
    assert not [a for a in found if a["labels"]["alertname"] == "SipEndpointDown"], found

    # Now London cannot reach it either.
    await asyncio.to_thread(stop_endpoint)
    found = await asyncio.to_thread(wait_for_alert, prometheus, "SipEndpointDown")
    every_vantage = named(found, "SipEndpointDown", "firing")
    assert len(every_vantage) == 1, found
    assert every_vantage[0]["instance"] == target
    assert every_vantage[0]["module"] == "options"
    assert every_vantage[0]["severity"] == "critical"
    assert "vantage" not in every_vantage[0]  # about the endpoint, not one path to it
    # Down from every vantage is no longer "down from one".
    found = await asyncio.to_thread(
        prometheus.wait_for,
        'ALERTS{alertname="SipEndpointDownFromOneVantage"}',
        lambda still: not still,
        timeout=ALERT_DEADLINE,
    )
    assert found == []
