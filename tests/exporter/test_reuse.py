"""Modules that keep each target's connection (`reuse = "connection"`): OPTIONS over the
kept connection, a full check at `full_check_interval`, after a lost connection, a changed
answer or a certificate edge, and never for a failing target; a new certificate seen at
the next full check; a reload and the exporter's end closing what was kept. Against real
Kamailio endpoints and a TLS server the test changes while connections stay open."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from probe.tls.lab import LabFiles
from probe.tls.pki import generate_key, make_leaf, make_root_ca
from tests.conftest import LAB_NAME
from tests.exporter.conftest import Endpoints
from tests.exporter.expositions import promtool_finds_no_problem
from tests.exporter.helpers import Running, get, running_exporter, samples
from tests.exporter.switchboard import switchboard
from tests.exporter.test_server import not_after, probe_url

REUSED = "sipprobe_probe_reused_connection"
FULL_CHECK = "sipprobe_last_full_check_timestamp_seconds"
KEPT = "sipprobe_exporter_kept_connections"


def kept_module(ca: Path, ports: list[int], interval: float = 300, extra: str = "") -> str:
    pins = ", ".join(f'"{LAB_NAME}:{port}:127.0.0.1"' for port in ports)
    return f"""
        [modules.kept]
        kind = "options"
        ca = "{ca}"
        resolve = [{pins}]
        timeout = 3
        reuse = "connection"
        full_check_interval = {interval}
        {extra}
        """


def uri(port: int) -> str:
    return f"sip:{LAB_NAME}:{port};transport=tls"


async def scrape(run: Running, port: int, module: str = "kept") -> dict[str, float]:
    answer = await get(run.url(probe_url(module, uri(port))))
    assert answer.status == 200, answer.body
    return samples(answer.body)


async def kept_connections(run: Running) -> float:
    return samples((await get(run.url("/metrics"))).body)[KEPT]


@pytest.mark.peer
async def test_a_kept_kamailio_connection_carries_the_next_scrapes(
    tmp_path: Path, endpoints: Endpoints, lab: LabFiles
) -> None:
    config = kept_module(endpoints.ca, [endpoints.good])
    async with running_exporter(tmp_path, config) as run:
        answers = [await get(run.url(probe_url("kept", uri(endpoints.good)))) for _ in range(3)]
        kept = await kept_connections(run)
    first, *later = [samples(answer.body) for answer in answers]
    for answer in answers:
        promtool_finds_no_problem(answer.body)
    assert first[REUSED] == 0
    assert [found[REUSED] for found in later] == [1, 1]
    assert kept == 1
    for found in (first, *later):
        assert found["probe_success"] == 1
        assert found["sipprobe_sip_status_code"] == 200
        assert found["sipprobe_options_rtt_seconds"] > 0
        # The certificate series of a reused scrape are the full check's, which it names.
        assert found["probe_ssl_earliest_cert_expiry"] == not_after(lab.server)
        assert found[FULL_CHECK] == first[FULL_CHECK]
        assert found['sipprobe_check_status{check="tls.chain",status="pass"}'] == 1
    assert time.time() - 60 < first[FULL_CHECK] <= time.time()
    # Each reused scrape's OPTIONS is its own: its round trip, not the full check's.
    assert len({found["sipprobe_options_rtt_seconds"] for found in (first, *later)}) == 3


@pytest.mark.peer
async def test_failing_kamailio_targets_are_checked_whole_at_every_scrape(
    tmp_path: Path, endpoints: Endpoints
) -> None:
    config = kept_module(endpoints.ca, [endpoints.expired, endpoints.busy])
    async with running_exporter(tmp_path, config) as run:
        found = [await scrape(run, port) for port in (endpoints.expired, endpoints.busy) * 2]
        kept = await kept_connections(run)
    assert [f["probe_success"] for f in found] == [0, 0, 0, 0]
    assert [f[REUSED] for f in found] == [0, 0, 0, 0]
    assert [f["sipprobe_sip_status_code"] for f in found] == [200, 503, 200, 503]
    assert kept == 0
    # Every scrape was a full check of its own.
    assert found[2][FULL_CHECK] > found[0][FULL_CHECK]


async def test_the_full_check_comes_back_at_its_interval(tmp_path: Path, lab: LabFiles) -> None:
    async with switchboard(lab.server, lab.server_key) as board:
        config = kept_module(lab.ca, [board.port], interval=1)
        async with running_exporter(tmp_path, config) as run:
            first, second = await scrape(run, board.port), await scrape(run, board.port)
            await asyncio.sleep(max(0.0, first[FULL_CHECK] + 1.05 - time.time()))
            third, fourth = await scrape(run, board.port), await scrape(run, board.port)
        handshakes = board.handshakes
    assert [f[REUSED] for f in (first, second, third, fourth)] == [0, 1, 0, 1]
    assert second[FULL_CHECK] == first[FULL_CHECK]
    assert third[FULL_CHECK] >= first[FULL_CHECK] + 1
    assert fourth[FULL_CHECK] == third[FULL_CHECK]
    assert all(f["probe_success"] == 1 for f in (first, second, third, fourth))
    assert handshakes == 2  # one per full check; the reused scrapes made no connection


async def test_a_dropped_connection_brings_a_full_check(tmp_path: Path, lab: LabFiles) -> None:
    async with switchboard(lab.server, lab.server_key) as board:
        config = kept_module(lab.ca, [board.port])
        async with running_exporter(tmp_path, config) as run:
            first, second = await scrape(run, board.port), await scrape(run, board.port)
            board.drop()
            await board.holding(0)
            await asyncio.sleep(0.1)  # the exporter reads the end of its connection
            third = await scrape(run, board.port)
            fourth = await scrape(run, board.port)
        handshakes = board.handshakes
    assert [f[REUSED] for f in (first, second, third, fourth)] == [0, 1, 0, 1]
    assert all(f["probe_success"] == 1 for f in (first, second, third, fourth))
    assert third[FULL_CHECK] > first[FULL_CHECK]
    assert handshakes == 2


async def test_a_changed_answer_on_the_kept_connection_brings_a_full_check_at_once(
    tmp_path: Path, lab: LabFiles
) -> None:
    async with switchboard(lab.server, lab.server_key) as board:
        async with running_exporter(tmp_path, kept_module(lab.ca, [board.port])) as run:
            first, second = await scrape(run, board.port), await scrape(run, board.port)
            board.status = (503, "Service Unavailable")
            third = await scrape(run, board.port)
            fourth = await scrape(run, board.port)
            kept = await kept_connections(run)
        handshakes = board.handshakes
    assert [f[REUSED] for f in (first, second, third, fourth)] == [0, 1, 0, 0]
    assert [f["probe_success"] for f in (first, second, third, fourth)] == [1, 1, 0, 0]
    # The 503 seen over the kept connection was checked whole in the same scrape (a new
    # connection, its own handshake), and a failing target is not kept.
    assert third["sipprobe_sip_status_code"] == 503
    assert third[FULL_CHECK] > first[FULL_CHECK]
    assert handshakes == 3
    assert kept == 0


async def test_a_new_certificate_is_seen_at_the_next_full_check(
    tmp_path: Path, lab: LabFiles
) -> None:
    expired = lab.variants["expired"]
    async with switchboard(lab.server, lab.server_key) as board:
        config = kept_module(lab.ca, [board.port], interval=2)
        async with running_exporter(tmp_path, config) as run:
            first = await scrape(run, board.port)
            changed = time.time()
            board.present(expired.chain, expired.key)
            # Until the next full check the kept connection, made with the old
            # certificate, goes on: its scrapes say so, and when that check was.
            second = await scrape(run, board.port)
            await asyncio.sleep(max(0.0, first[FULL_CHECK] + 2.05 - time.time()))
            third = await scrape(run, board.port)
    assert (first[REUSED], second[REUSED], third[REUSED]) == (0, 1, 0)
    assert second["probe_ssl_earliest_cert_expiry"] == not_after(lab.server)
    assert second[FULL_CHECK] == first[FULL_CHECK]
    assert third["probe_success"] == 0
    assert third["probe_ssl_earliest_cert_expiry"] == not_after(expired.chain)
    assert third['sipprobe_check_status{check="tls.validity",status="fail"}'] == 1
    # Seen within the interval of the change.
    assert third[FULL_CHECK] - changed <= 2.0 + 1.0


async def test_a_certificate_entering_its_window_brings_a_full_check(
    tmp_path: Path,
) -> None:
    # A leaf whose last whole day begins in a few seconds: with critical_days = 0 it
    # passes now and fails from then on (probe.tls.quality.judge_validity counts whole
    # days left). The kept connection must not carry its old verdict past that instant.
    root = make_root_ca("sipprobe edge test root")
    key_pair = generate_key()  # made first: the seconds to the edge are the scrapes'
    edge_in = 4.0
    now = dt.datetime.now(dt.UTC)
    leaf = make_leaf(
        root,
        common_name=LAB_NAME,
        dns_names=[LAB_NAME],
        sip_uris=[f"sip:{LAB_NAME}"],
        not_after=now + dt.timedelta(days=1, seconds=edge_in),
        now=now,
        key=key_pair,
    )
    ca = tmp_path / "root.pem"
    ca.write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / "leaf.pem"
    chain.write_bytes(leaf.cert.public_bytes(serialization.Encoding.PEM))
    key = tmp_path / "leaf.key"
    key.write_bytes(
        leaf.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    async with switchboard(chain, key) as board:
        config = kept_module(ca, [board.port], extra="warn_days = 0\ncritical_days = 0")
        async with running_exporter(tmp_path, config) as run:
            first, second = await scrape(run, board.port), await scrape(run, board.port)
            await asyncio.sleep(max(0.0, now.timestamp() + edge_in + 0.2 - time.time()))
            third = await scrape(run, board.port)
    assert [f[REUSED] for f in (first, second, third)] == [0, 1, 0]
    assert [f["probe_success"] for f in (first, second, third)] == [1, 1, 0]
    assert third['sipprobe_check_status{check="tls.validity",status="fail"}'] == 1


async def test_a_reload_and_the_end_close_what_was_kept(tmp_path: Path, lab: LabFiles) -> None:
    async with switchboard(lab.server, lab.server_key) as board:
        async with running_exporter(tmp_path, kept_module(lab.ca, [board.port])) as run:
            first, second = await scrape(run, board.port), await scrape(run, board.port)
            before = await kept_connections(run)
            reloaded = await get(run.url("/-/reload"), method="POST")
            await board.holding(0)
            after = await kept_connections(run)
            third, fourth = await scrape(run, board.port), await scrape(run, board.port)
            await board.holding(1)
        # The exporter stopped: the connection its last full check kept is closed.
        await board.holding(0)
    assert reloaded.status == 200
    assert (before, after) == (1, 0)
    assert [f[REUSED] for f in (first, second, third, fourth)] == [0, 1, 0, 1]
    assert third[FULL_CHECK] > first[FULL_CHECK]
    assert board.handshakes == 2


async def test_a_module_without_reuse_says_nothing_of_it(tmp_path: Path, lab: LabFiles) -> None:
    async with switchboard(lab.server, lab.server_key) as board:
        config = kept_module(lab.ca, [board.port]).replace('reuse = "connection"', "")
        config = config.replace("full_check_interval = 300", "")
        async with running_exporter(tmp_path, config) as run:
            found = [await scrape(run, board.port) for _ in range(2)]
            kept = await kept_connections(run)
        await board.holding(0)
    assert all(REUSED not in f and FULL_CHECK not in f for f in found)
    assert [f["probe_success"] for f in found] == [1, 1]
    assert kept == 0
    assert board.handshakes == 2


async def test_trust_anchors_are_read_as_a_module_loads_not_at_each_scrape(
    tmp_path: Path, lab: LabFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    import probe.tls.trust

    reads: list[object] = []
    load = probe.tls.trust.load_trust_anchors

    def counted(source: object) -> object:
        reads.append(source)
        return load(source)  # type: ignore[arg-type]

    monkeypatch.setattr(probe.tls.trust, "load_trust_anchors", counted)
    async with switchboard(lab.server, lab.server_key) as board:
        fresh = kept_module(lab.ca, [board.port]).replace('reuse = "connection"', "")
        fresh = fresh.replace("full_check_interval = 300", "")
        async with running_exporter(tmp_path, fresh) as run:
            loaded = len(reads)
            found = [await scrape(run, board.port) for _ in range(3)]
            after_scrapes = len(reads)
            assert await run.exporter.reload("test") is None
            after_reload = len(reads)
    assert [f["probe_success"] for f in found] == [1, 1, 1]
    assert (loaded, after_scrapes, after_reload) == (1, 1, 2)


def test_the_edges_are_where_the_validity_verdict_changes() -> None:
    from probe.exporter.reuse import Edges
    from probe.tls.quality import judge_validity

    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    root = make_root_ca("sipprobe edge root", now=now - dt.timedelta(days=400))
    leaf = make_leaf(
        root,
        common_name=LAB_NAME,
        not_before=now - dt.timedelta(days=10),
        not_after=now + dt.timedelta(days=90),
        now=now,
    ).cert
    edges = Edges(warn_days=30, critical_days=7)
    states = []
    for edge in edges.of_certificate(leaf):
        instant = dt.datetime.fromtimestamp(edge, dt.UTC)
        second = dt.timedelta(seconds=1)
        around = [
            judge_validity([leaf], now=when, warn_days=30, critical_days=7).certificates[0].state
            for when in (instant - second, instant + second)
        ]
        states.append(tuple(around))
    # Each edge is where the state of the certificate changes, and nowhere else.
    assert states == [
        ("not_yet_valid", "valid"),
        ("critical", "expired"),
        ("expiring", "critical"),
        ("valid", "expiring"),
    ]
    chain = [leaf.public_bytes(serialization.Encoding.DER)]
    assert sorted(edges.of_chains([chain])) == sorted(edges.of_certificate(leaf))


async def test_a_kept_connection_gone_mute_leaves_the_full_check_time_to_fail(
    tmp_path: Path, lab: LabFiles
) -> None:
    async with switchboard(lab.server, lab.server_key) as board:
        async with running_exporter(tmp_path, kept_module(lab.ca, [board.port])) as run:
            await scrape(run, board.port)
            board.silent = True
            began = time.monotonic()
            answer = await get(
                run.url(probe_url("kept", uri(board.port))),
                headers={"X-Prometheus-Scrape-Timeout-Seconds": "4"},
            )
            took = time.monotonic() - began
        handshakes = board.handshakes
    found = samples(answer.body)
    # Half the 3.5 s the scrape allows went to the mute kept connection, the rest to a
    # full check on a new connection (connected, handshaken), whose OPTIONS was still
    # waiting for its answer when the scrape's time ran out: incomplete, never a pass.
    assert answer.status == 200
    assert took < 4
    assert (found[REUSED], found["probe_success"]) == (0, 0)
    assert found['sipprobe_verdict{verdict="incomplete"}'] == 1
    assert found['sipprobe_check_status{check="tls.chain",status="pass"}'] == 1
    assert found['sipprobe_check_status{check="sip.options",status="incomplete"}'] == 1
    assert handshakes == 2
