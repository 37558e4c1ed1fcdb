"""Every signal ends every call, seen from the far end: sipprobe runs as a command, places
a call through a real Kamailio to a SIPp UAS, and is stopped with a signal once the far
end shows the call in the state the test is about (never after a fixed sleep). SIPp exits
0 only when its scenario completed, BYE or CANCEL included: that is the far end's word
that the call was ended. The child starts with every stop signal at its default
(tests.signal_child), so the tests hold when the suite itself runs with SIGINT ignored.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.peers.baresip import Baresip, start_baresip
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import Sipp, start_sipp
from tests.signal_child import finish, start_sipprobe, wait_until

pytestmark = pytest.mark.peer

CALLEE = f"sip:+15550100@{LAB_NAME}"


class Sbc:
    """Kamailio's TLS listener in front of a SIPp UAS, as an SBC before a media server."""

    def __init__(self, kamailio: Kamailio, sipp: Sipp, lab: LabFiles) -> None:
        self.kamailio, self.sipp, self.lab = kamailio, sipp, lab

    def invite(self, *extra: str) -> list[str]:
        port = self.kamailio.tls_port
        return [
            "invite",
            f"sip:{LAB_NAME}:{port};transport=tls",
            "--to",
            CALLEE,
            "--resolve",
            f"{LAB_NAME}:{port}:127.0.0.1",
            "--ca",
            str(self.lab.ca),
            "--format",
            "json",
            *extra,
        ]

    def messages(self) -> str:
        """SIPp's message trace so far (every message it sent and received)."""
        return "".join(
            path.read_text(errors="replace") for path in self.sipp.workdir.glob("*_messages.log")
        )

    def received(self, method: str) -> bool:
        return f"\n{method} sip:" in self.messages()

    def sent(self, status: str) -> bool:
        return f"\nSIP/2.0 {status}" in self.messages()

    def assert_call_ended(self) -> None:
        code = self.sipp.wait()
        assert code == 0, f"SIPp exited {code}: the call was not ended\n{self.sipp.errors()}"


@pytest.fixture
def sbc(request: pytest.FixtureRequest, tmp_path: Path, lab: LabFiles) -> Iterator[Sbc]:
    sipp = start_sipp(tmp_path / "sipp", request.param)
    try:
        kamailio = start_kamailio(
            tmp_path / "kamailio",
            [TlsProfile("tls", lab.server, lab.server_key)],
            relay_to=("127.0.0.1", sipp.port),
        )
    except BaseException:
        sipp.stop()
        raise
    yield Sbc(kamailio, sipp, lab)
    sipp.stop()
    kamailio.stop()


@pytest.mark.parametrize("sbc", ["uas_srtp.xml"], indirect=True)
async def test_sigterm_during_an_answered_call_sends_bye_and_keeps_the_answer(sbc: Sbc) -> None:
    process = await start_sipprobe(*sbc.invite("--verify-media"))
    # SIPp got our ACK: the call is up and sipprobe is checking the media (2 s, no
    # media comes from SIPp).
    await wait_until(lambda: sbc.received("ACK"), "the far end receives the ACK")
    process.send_signal(signal.SIGTERM)
    code, out, err = await finish(process)
    assert code == 143, out + err
    assert "Traceback" not in err
    assert "interrupted by SIGTERM: the report is partial" in err
    report = json.loads(out)
    assert report["interrupted_by"] == "SIGTERM"
    assert report["verdict"] == "incomplete"
    found = {(f["check"], f["status"]) for f in report["findings"]}
    summaries = {f["check"]: f["summary"] for f in report["findings"]}
    assert ("sip.invite", "pass") in found, summaries  # the 200 is kept
    assert ("sdp.srtp", "pass") in found, summaries  # so is the SDP verdict
    assert ("sip.teardown", "pass") in found, summaries  # the BYE sent on the way out
    assert ("media.srtp", "incomplete") in found, summaries  # not measured
    assert ("sip.invite", "incomplete") in found, summaries  # the call was cut short
    sbc.assert_call_ended()  # the far end got its BYE


@pytest.mark.parametrize("sbc", ["uas_no_answer.xml"], indirect=True)
@pytest.mark.parametrize(
    ("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
async def test_a_signal_while_ringing_sends_cancel(
    sbc: Sbc, stop: signal.Signals, code: int
) -> None:
    process = await start_sipprobe(*sbc.invite("--answer-timeout", "30"))
    await wait_until(lambda: sbc.sent("180"), "the far end rings")
    process.send_signal(stop)
    returncode, out, err = await finish(process)
    assert returncode == code, out + err
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["interrupted_by"] == stop.name
    checks = {f["check"]: f for f in report["findings"] if f["check"] != "sip.invite"}
    invite = [f for f in report["findings"] if f["check"] == "sip.invite"]
    assert [f["status"] for f in invite] == ["incomplete"]
    assert invite[0]["summary"].startswith(f"not finished: the run was interrupted by {stop.name}")
    assert checks["sdp.srtp"]["status"] == "incomplete"  # no answer: nothing to judge yet
    assert checks["sip.teardown"]["status"] == "pass", checks["sip.teardown"]["summary"]
    assert "cancelled" in checks["sip.teardown"]["summary"]
    assert report["verdict"] == "incomplete"
    sbc.assert_call_ended()  # SIPp saw the CANCEL, answered 200 and 487, and got its ACK
    assert sbc.received("CANCEL")


@pytest.fixture
def ringing_phone(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    """baresip that lets calls ring until told otherwise (`answermode=manual`)."""
    phone = start_baresip(
        tmp_path / "baresip",
        lab.server,
        lab.server_key,
        lab.ca,
        answermode="manual",
        sip_trace=True,
    )
    yield phone
    phone.stop()


@pytest.fixture
def slow_phone(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    """baresip answering at once, with 60 ms audio packets (fewer per second)."""
    phone = start_baresip(
        tmp_path / "baresip",
        lab.server,
        lab.server_key,
        lab.ca,
        account_params=";ptime=60",
        sip_trace=True,
    )
    yield phone
    phone.stop()


def phone_call(phone: Baresip, lab: LabFiles, *extra: str) -> list[str]:
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
        "--answer-timeout",
        "30",
        *extra,
    ]


def phone_log(phone: Baresip) -> str:
    return phone.log.read_text(errors="replace")


async def test_sigterm_while_a_real_phone_rings_sends_cancel(
    ringing_phone: Baresip, lab: LabFiles
) -> None:
    process = await start_sipprobe(*phone_call(ringing_phone, lab))
    await wait_until(lambda: "Incoming call" in phone_log(ringing_phone), "the phone rings")
    process.send_signal(signal.SIGTERM)
    code, out, err = await finish(process)
    assert code == 143, out + err
    report = json.loads(out)
    teardown = [f for f in report["findings"] if f["check"] == "sip.teardown"]
    assert [(f["status"], f["details"]["teardown"]) for f in teardown] == [("pass", "cancel")]
    # The phone's own SIP trace shows the CANCEL arrive, and its 487 answered it.
    trace = phone_log(ringing_phone)
    assert "\nCANCEL sip:bob@127.0.0.1 SIP/2.0" in trace, trace
    assert "\nSIP/2.0 487 Request Terminated" in trace


async def test_sigterm_during_a_call_with_a_real_phone_sends_bye(
    slow_phone: Baresip, lab: LabFiles
) -> None:
    process = await start_sipprobe(*phone_call(slow_phone, lab, "--verify-media"))
    await wait_until(lambda: "Call established" in phone_log(slow_phone), "the phone answers")
    # Held still, the phone sends no more media: sipprobe stays in its media check, the
    # call up, until the signal comes.
    slow_phone.process.send_signal(signal.SIGSTOP)
    try:
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        said = await asyncio.wait_for(process.stderr.readline(), 20)
        assert b"interrupted by SIGTERM: ending calls in progress" in said
    finally:
        slow_phone.process.send_signal(signal.SIGCONT)
    code, out, err = await finish(process)
    assert code == 143, out + err
    report = json.loads(out)
    checks = {f["check"]: f for f in report["findings"]}
    assert checks["sdp.srtp"]["status"] == "pass", checks["sdp.srtp"]["summary"]
    assert checks["media.srtp"]["status"] == "incomplete"
    teardown = checks["sip.teardown"]
    assert teardown["status"] == "pass", teardown["summary"]
    assert teardown["details"]["bye_status"] == 200
    trace = phone_log(slow_phone)
    assert "\nBYE sip:" in trace, trace  # in the phone's own SIP trace
    # ... and the phone's own 200 to it: the call is over on its side too.
    assert re.search(r"\nSIP/2\.0 200 OK\n(?:[^\n]+\n)*?CSeq: \d+ BYE\n", trace), trace
