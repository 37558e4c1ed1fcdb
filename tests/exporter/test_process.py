"""`sipprobe exporter` as a process: ready when it says where it listens (read from its
line, never a sleep), reloading on SIGHUP and by HTTP (a bad file refused with every
problem on stderr, the old one kept), refusing a bad start in a sentence, and stopping on
SIGTERM with the call in flight ended, seen from the far end (SIPp)."""

from __future__ import annotations

import asyncio
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.exporter.helpers import ExporterProcess, exporter_process, get, samples
from tests.peers.kamailio import Kamailio
from tests.peers.sbc import relaying_to_sipp
from tests.peers.sipp import Sipp
from tests.signal_child import finish, start_sipprobe, wait_until


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


FIRST = """
    [modules.first]
    kind = "options"
    """
BOTH = (
    FIRST
    + """
    [modules.second]
    kind = "failover"
    """
)
BROKEN = """
    [modules.first]
    kind = "options"
    warn_days = -1

    [modules.third]
    kind = "invite"
    to = "+15550100"
    """


async def knows(running: ExporterProcess, module: str) -> bool:
    """Whether the exporter has `module`: a probe of no target names the module's
    problem (the target), an unknown module is refused for itself."""
    answer = await get(running.url(f"/probe?module={module}"))
    assert answer.status == 400, answer.body
    return answer.body == "target= is missing: the SIP URI to probe\n"


async def test_sighup_and_reload_take_a_good_file_and_refuse_a_bad_one(tmp_path: Path) -> None:
    config = write(tmp_path / "exporter.toml", FIRST)
    async with exporter_process(config) as running:
        assert await knows(running, "first")
        assert not await knows(running, "second")
        write(config, BOTH)
        running.process.send_signal(signal.SIGHUP)
        await running.says("configuration reloaded (SIGHUP): modules first, second")
        assert await knows(running, "second")
        write(config, BROKEN)
        running.process.send_signal(signal.SIGHUP)
        refused = await running.says("configuration refused (SIGHUP), the old one is kept:")
        assert refused[1:3] == [
            f"{config}:4 modules.first.warn_days: Input should be greater than or equal to 0",
            f"{config}:7 modules.third.kind: an invite module places a real call on every "
            "scrape: enable it with allow_calls = true",
        ]
        assert await knows(running, "second")  # the old configuration still serves
        answer = await get(running.url("/-/reload"), method="POST")
        assert answer.status == 500
        assert answer.body.splitlines()[1:] == refused[1:3]
        own = samples((await get(running.url("/metrics"))).body)
        assert own['sipprobe_exporter_config_reloads_total{result="success"}'] == 1
        assert own['sipprobe_exporter_config_reloads_total{result="failure"}'] == 2
        assert own["sipprobe_exporter_config_last_reload_successful"] == 0
        # The process and platform collectors are in the exporter's own registry.
        assert own["process_open_fds"] > 0
        assert any(name.startswith("python_info{") for name in own)
        write(config, FIRST)
        answer = await get(running.url("/-/reload"), method="POST")
        assert answer.status == 200
        assert not await knows(running, "second")
        code = await running.stopped(signal.SIGTERM)
    assert code == 143
    assert "sipprobe exporter: stopping (SIGTERM): ending the probes in flight" in running.said
    assert not any("Traceback" in line for line in running.said)


async def test_a_bad_configuration_at_start_is_refused_with_every_problem(tmp_path: Path) -> None:
    config = write(tmp_path / "exporter.toml", BROKEN)
    process = await start_sipprobe("exporter", "--config", str(config))
    code, out, err = await finish(process)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"sipprobe: exporter: {config}:4 modules.first.warn_days: Input should be greater "
        "than or equal to 0",
        f"{config}:7 modules.third.kind: an invite module places a real call on every "
        "scrape: enable it with allow_calls = true",
    ]


async def test_a_port_in_use_is_refused_in_a_sentence(tmp_path: Path) -> None:
    config = write(tmp_path / "exporter.toml", FIRST)
    async with exporter_process(config) as running:
        process = await start_sipprobe(
            "exporter", "--config", str(config), "--listen", f"127.0.0.1:{running.port}"
        )
        code, out, err = await finish(process)
    assert (code, out) == (2, "")
    assert err == f"sipprobe: exporter: cannot listen on 127.0.0.1:{running.port}: " + (
        "Address already in use\n"
    )
    bad = await start_sipprobe("exporter", "--config", str(config), "--listen", "nowhere")
    code, _out, err = await finish(bad)
    assert code == 2
    assert (
        err == "sipprobe: exporter: --listen 'nowhere': expected HOST:PORT, e.g. 127.0.0.1:9753\n"
    )


@pytest.fixture
def ringing_sbc(tmp_path: Path, lab: LabFiles) -> Iterator[tuple[Kamailio, Sipp]]:
    """Kamailio's TLS listener in front of a SIPp UAS that rings and never answers."""
    with relaying_to_sipp(tmp_path, lab, "uas_no_answer.xml") as pair:
        yield pair


@pytest.mark.peer
async def test_sigterm_ends_the_call_in_flight_and_answers_its_scrape(
    tmp_path: Path, lab: LabFiles, ringing_sbc: tuple[Kamailio, Sipp]
) -> None:
    kamailio, sipp = ringing_sbc
    port = kamailio.tls_port
    config = write(
        tmp_path / "exporter.toml",
        f"""
        [modules.call]
        kind = "invite"
        allow_calls = true
        to = "sip:+15550100@{LAB_NAME}"
        ca = "{lab.ca}"
        resolve = ["{LAB_NAME}:{port}:127.0.0.1"]
        answer_timeout = 30
        """,
    )
    target = quote(f"sip:{LAB_NAME}:{port};transport=tls", safe="")

    def rings() -> bool:
        log = "".join(p.read_text(errors="replace") for p in sipp.workdir.glob("*_messages.log"))
        return "\nSIP/2.0 180" in log

    async with exporter_process(config) as running:
        scrape = asyncio.create_task(
            get(
                running.url(f"/probe?module=call&target={target}"),
                headers={"X-Prometheus-Scrape-Timeout-Seconds": "25"},
            )
        )
        await wait_until(rings, "the far end rings")
        running.process.send_signal(signal.SIGTERM)
        answer = await scrape
        async with asyncio.timeout(30):
            code = await running.process.wait()
    assert code == 143
    assert answer.status == 200, answer.body
    found = samples(answer.body)
    assert found["probe_success"] == 0
    assert found['sipprobe_verdict{verdict="incomplete"}'] == 1, answer.body
    assert sipp.wait() == 0, f"the call was not ended\n{sipp.errors()}"  # CANCEL, 487, ACK


async def test_sigint_stops_it_as_sigterm_does(tmp_path: Path) -> None:
    config = write(tmp_path / "exporter.toml", FIRST)
    async with exporter_process(config) as running:
        assert (await get(running.url("/-/healthy"))).status == 200
        code = await running.stopped(signal.SIGINT)
    assert code == 130
    assert running.said == ["sipprobe exporter: stopping (SIGINT): ending the probes in flight"]
