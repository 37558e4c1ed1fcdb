"""`sipprobe invite --capture FILE` against real peers: the call's packets recorded by
tcpdump while it runs, audited into the call's report, and cross-checked with tshark;
the capture ended whatever ends sipprobe; and without the privilege to capture (CAP_NET_RAW
dropped from the bounding set) or without tcpdump, the call still runs and says so."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.pcap.audit import audit_capture
from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.baresip import Baresip, start_baresip
from tests.peers.capture import tshark_fields
from tests.peers.common import require_binary
from tests.peers.kamailio import Kamailio
from tests.peers.sbc import relaying_to_sipp
from tests.peers.sipp import Sipp
from tests.signal_child import finish, start_sipprobe, wait_until

pytestmark = pytest.mark.peer

SIPPROBE = (sys.executable, "-m", "probe")
END_MARKER = re.compile(rb"sipprobe-capture-end-[0-9a-f]{16}")
START_MARKER = re.compile(rb"sipprobe-capture-start-[0-9a-f]{16}")


def phone_call(phone: Baresip, lab: LabFiles, capture: Path, *extra: str) -> list[str]:
    return [
        "invite",
        f"sip:{LAB_NAME}:{phone.tls_port};transport=tls",
        "--to",
        "sip:bob@127.0.0.1",
        "--resolve",
        f"{LAB_NAME}:{phone.tls_port}:127.0.0.1",
        "--ca",
        str(lab.ca),
        "--format",
        "json",
        "--capture",
        str(capture),
        *extra,
    ]


def run_sipprobe(
    args: list[str], prefix: tuple[str, ...] = (), **options: Any
) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [*prefix, *SIPPROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **options,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def of_capture(report: dict[str, Any], capture: Path) -> dict[str, dict[str, Any]]:
    """The capture's findings by check (the call's own findings are the target's)."""
    [audited] = report["captures"]
    assert audited["capture"] == str(capture)
    return {f["check"]: f for f in report["findings"] if f["target"] == str(capture)}


def of_call(report: dict[str, Any], capture: Path) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in report["findings"] if f["target"] != str(capture)}


def capturing_processes(capture: Path) -> list[int]:
    """Processes whose command line names the capture file: tcpdump while it runs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(capture).encode() in words and words[0] != sys.executable.encode():
            found.append(int(entry.name))
    return found


@pytest.fixture
def phone(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    instance = start_baresip(tmp_path / "baresip", lab.server, lab.server_key, lab.ca)
    yield instance
    instance.stop()


@pytest.fixture
def ringing_phone(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    instance = start_baresip(
        tmp_path / "baresip", lab.server, lab.server_key, lab.ca, answermode="manual"
    )
    yield instance
    instance.stop()


def test_a_call_to_a_real_phone_is_recorded_and_audited_in_its_report(
    tmp_path: Path, phone: Baresip, lab: LabFiles
) -> None:
    capture = tmp_path / "call.pcap"
    code, report, _ = run_sipprobe(phone_call(phone, lab, capture, "--verify-media"))
    call = of_call(report, capture)
    audit = of_capture(report, capture)
    assert code == 0, {check: f["summary"] for check, f in {**call, **audit}.items()}
    assert call["media.srtp"]["status"] == "pass"
    assert {check: f["status"] for check, f in audit.items()} == {
        "pcap.capture": "pass",
        "pcap.sip_cleartext": "pass",  # SIP went over TLS only
        "pcap.sdes_exposed": "pass",
        "pcap.tls": "pass",
        "pcap.tls_chain": "skip",  # baresip negotiates TLS 1.3
        # baresip sends a few RTCP packets in the clear beside its SRTP (an APP "PING"
        # before its keys are ready, a BYE at hang-up): plain RTCP warns.
        "pcap.media": "warn",
    }
    assert "with tcpdump on lo" in audit["pcap.capture"]["summary"]
    assert f"127.0.0.1:{phone.tls_port}" in audit["pcap.tls"]["summary"]
    assert capture.stat().st_mode & 0o777 == 0o600
    assert END_MARKER.search(capture.read_bytes())  # everything before it was written
    assert capturing_processes(capture) == []
    # tshark agrees: one TLS handshake asking for the lab's name, no SIP in the clear,
    # and the phone's media to the port our offer named.
    decode = f"tcp.port=={phone.tls_port},tls"
    hellos = tshark_fields(
        capture, "tls.handshake.type == 1", ["tls.handshake.extensions_server_name"], decode
    )
    assert hellos == [[LAB_NAME]]
    assert tshark_fields(capture, "sip", ["frame.number"], decode) == []
    media = tshark_fields(
        capture, "udp && udp.srcport != udp.dstport", ["udp.srcport", "udp.dstport"]
    )
    received = call["media.srtp"]["details"]["received"]
    into_our_port: dict[str, int] = {}
    for _source, destination in media:
        into_our_port[destination] = into_our_port.get(destination, 0) + 1
    assert max(into_our_port.values()) >= received >= 1
    evidence = audit_capture(capture)
    # And the markers: the start one before the call, the end one after it (each sent
    # again until the file held it: one datagram each here, a few on a loaded machine).
    written = capture.read_bytes()
    markers = len(START_MARKER.findall(written)) + len(END_MARKER.findall(written))
    assert len(START_MARKER.findall(written)) >= 1
    assert evidence.counts.udp_packets == len(media) + markers


@pytest.fixture
def sbc(tmp_path: Path, lab: LabFiles) -> Iterator[tuple[Kamailio, Sipp]]:
    """Kamailio with TLS towards the caller, relaying over UDP to a SIPp UAS."""
    with relaying_to_sipp(tmp_path, lab, "uas_srtp.xml") as pair:
        yield pair


def test_the_capture_holds_the_calls_own_hop_and_not_the_sbcs_inner_leg(
    tmp_path: Path, lab: LabFiles, sbc: tuple[Kamailio, Sipp]
) -> None:
    kamailio, sipp = sbc
    capture = tmp_path / "sbc.pcap"
    port = kamailio.tls_port
    report = run_invite_command(
        InviteRequest(
            OptionsRequest(
                targets=[f"sip:{LAB_NAME}:{port};transport=tls"],
                settings=Settings.from_flat(
                    pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, timeout=3
                ),
            ),
            CallSettings(to=f"sip:+15550100@{LAB_NAME}"),
            capture=capture,
        ),
        on_usage_error=no_usage_error,
    )
    assert sipp.wait() == 0, sipp.errors()
    [audited] = report.captures
    statuses = {f.check: f.status for f in audited.findings}
    assert statuses["pcap.capture"] is Status.PASS
    assert statuses["pcap.sip_cleartext"] is Status.PASS
    assert statuses["pcap.sdes_exposed"] is Status.PASS
    assert statuses["pcap.tls"] is Status.PASS
    evidence = audit_capture(capture)
    assert evidence.tls is not None
    assert [s.server for s in evidence.tls.sessions] == [f"127.0.0.1:{port}"]
    # Kamailio relayed the INVITE, keys and all, to SIPp over UDP: that leg is not the
    # call's hop, so it is not in the call's capture.
    decode = f"udp.port=={sipp.port},sip"
    assert tshark_fields(capture, "sip", ["frame.number"], decode) == []
    assert all(f"{sipp.port}" not in flow.client + flow.server for flow in evidence.flows)


def test_without_the_privilege_to_capture_the_call_still_runs_and_says_so(
    tmp_path: Path, phone: Baresip, lab: LabFiles
) -> None:
    setpriv = require_binary("setpriv")
    capture = tmp_path / "call.pcap"
    # Root without CAP_NET_RAW (nor CAP_NET_ADMIN): what a container or a locked-down
    # host gives; tcpdump is refused the capture socket.
    code, report, _ = run_sipprobe(
        phone_call(phone, lab, capture), prefix=(setpriv, "--bounding-set", "-net_raw,-net_admin")
    )
    call, audit = of_call(report, capture), of_capture(report, capture)
    assert call["sip.invite"]["status"] == "pass"
    assert call["sip.teardown"]["status"] == "pass"
    assert list(audit) == ["pcap.capture"]  # nothing else to audit
    recorded = audit["pcap.capture"]
    assert recorded["status"] == "incomplete"
    assert "no privilege to capture on lo" in recorded["summary"]
    assert "CAP_NET_RAW" in recorded["summary"]
    assert "the call ran all the same" in recorded["summary"]
    assert report["verdict"] == "incomplete"
    assert code == 4


def test_with_dumpcap_alone_the_capture_holds_the_whole_call(
    tmp_path: Path, phone: Baresip, lab: LabFiles
) -> None:
    # dumpcap says "Capturing on" before it opens the interface: the capture is ready
    # only once its start marker is in the file, so the TLS handshake is in it too.
    only_dumpcap = tmp_path / "bin"
    only_dumpcap.mkdir()
    (only_dumpcap / "dumpcap").symlink_to(require_binary("dumpcap"))
    capture = tmp_path / "call.pcapng"
    code, report, _ = run_sipprobe(
        phone_call(phone, lab, capture), env={**os.environ, "PATH": str(only_dumpcap)}
    )
    audit = of_capture(report, capture)
    assert code == 0, {check: f["summary"] for check, f in audit.items()}
    assert "with dumpcap on lo" in audit["pcap.capture"]["summary"]
    assert audit["pcap.tls"]["status"] == "pass"
    assert f"127.0.0.1:{phone.tls_port}" in audit["pcap.tls"]["summary"]
    assert START_MARKER.search(capture.read_bytes())
    decode = f"tcp.port=={phone.tls_port},tls"
    hellos = tshark_fields(capture, "tls.handshake.type == 1", ["frame.number"], decode)
    assert len(hellos) == 1  # the ClientHello, sent right after the capture started


def test_without_tcpdump_the_call_still_runs_and_says_so(
    tmp_path: Path, phone: Baresip, lab: LabFiles
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    capture = tmp_path / "call.pcap"
    code, report, _ = run_sipprobe(
        phone_call(phone, lab, capture), env={**os.environ, "PATH": str(empty)}
    )
    assert of_call(report, capture)["sip.invite"]["status"] == "pass"
    recorded = of_capture(report, capture)["pcap.capture"]
    assert recorded["status"] == "incomplete"
    assert "neither tcpdump nor dumpcap is installed" in recorded["summary"]
    assert (code, capture.exists()) == (4, False)


def test_a_capture_into_a_missing_directory_is_refused_before_any_packet(
    tmp_path: Path, phone: Baresip, lab: LabFiles
) -> None:
    done = subprocess.run(
        [*SIPPROBE, *phone_call(phone, lab, tmp_path / "nowhere" / "call.pcap")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--capture" in done.stderr
    assert "does not exist" in done.stderr


async def test_sigterm_while_ringing_cancels_the_call_and_still_records_its_end(
    tmp_path: Path, ringing_phone: Baresip, lab: LabFiles
) -> None:
    capture = tmp_path / "ringing.pcap"
    process = await start_sipprobe(*phone_call(ringing_phone, lab, capture))
    log = ringing_phone.log
    await wait_until(lambda: "Incoming call" in log.read_text(errors="replace"), "the phone rings")
    process.send_signal(signal.SIGTERM)
    code, out, err = await finish(process)
    assert code == 143, out + err
    report = json.loads(out)
    assert of_call(report, capture)["sip.teardown"]["status"] == "pass"  # CANCEL sent
    audit = of_capture(report, capture)
    assert audit["pcap.capture"]["status"] == "pass", audit["pcap.capture"]["summary"]
    assert audit["pcap.tls"]["status"] == "pass"
    assert END_MARKER.search(capture.read_bytes())
    assert capturing_processes(capture) == []


async def test_tcpdump_dies_with_sipprobe_when_it_is_killed(
    tmp_path: Path, ringing_phone: Baresip, lab: LabFiles
) -> None:
    capture = tmp_path / "killed.pcap"
    process = await start_sipprobe(*phone_call(ringing_phone, lab, capture))
    log = ringing_phone.log
    await wait_until(lambda: "Incoming call" in log.read_text(errors="replace"), "the phone rings")
    assert capturing_processes(capture)  # tcpdump runs while the phone rings
    process.kill()  # no handler runs: only the kernel can stop tcpdump now
    await process.wait()
    await wait_until(lambda: not capturing_processes(capture), "tcpdump exits", timeout=10)
    evidence = audit_capture(capture)
    assert evidence.source.read == "complete"  # tcpdump flushed and closed the file
    assert evidence.tls is not None
    assert evidence.tls.sessions_total == 1


async def test_a_capture_that_dies_during_the_call_is_reported_incomplete(
    tmp_path: Path, ringing_phone: Baresip, lab: LabFiles
) -> None:
    capture = tmp_path / "lost.pcap"
    process = await start_sipprobe(*phone_call(ringing_phone, lab, capture))
    log = ringing_phone.log
    await wait_until(lambda: "Incoming call" in log.read_text(errors="replace"), "the phone rings")
    [tcpdump] = capturing_processes(capture)
    os.kill(tcpdump, signal.SIGKILL)
    await wait_until(lambda: not capturing_processes(capture), "tcpdump is gone")
    process.send_signal(signal.SIGINT)
    code, out, err = await finish(process)
    assert code == 130, out + err
    recorded = of_capture(json.loads(out), capture)["pcap.capture"]
    assert recorded["status"] == "incomplete"
    assert "tcpdump stopped during the call" in recorded["summary"]
    assert "the call's last packets may be missing" in recorded["summary"]
