"""Test calls through a real Kamailio TLS listener to a SIPp UAS (Debian's SIPp has no TLS,
so Kamailio sits in front of it as an SBC would). Each case checks our verdict, and SIPp's
exit code proves from the far side that the call was ended (it exits 0 only when its
scenario, BYE or CANCEL included, completed).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from probe.report.model import Report
from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import Refused, no_usage_error, refuse
from tests.peers.baresip import Baresip, start_baresip
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import Sipp, start_sipp

pytestmark = pytest.mark.peer

CALLEE = f"sip:+15550100@{LAB_NAME}"
SIPP_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


@dataclass
class Sbc:
    kamailio: Kamailio
    sipp: Sipp
    lab: LabFiles

    @property
    def uri(self) -> str:
        return f"sip:{LAB_NAME}:{self.kamailio.tls_port};transport=tls"

    @property
    def pin(self) -> str:
        return f"{LAB_NAME}:{self.kamailio.tls_port}:127.0.0.1"


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


def call(sbc: Sbc, **options: Any) -> dict[str, Finding]:
    common = OptionsRequest(
        targets=[sbc.uri], settings=Settings.from_flat(pins=[sbc.pin], ca=sbc.lab.ca, timeout=3)
    )
    report: Report = run_invite_command(
        InviteRequest(common, CallSettings(to=CALLEE, **options)), on_usage_error=no_usage_error
    )
    return {finding.check: finding for finding in report.findings}


def assert_far_end_done(sbc: Sbc) -> None:
    code = sbc.sipp.wait()
    assert code == 0, f"SIPp exited {code}: the scenario did not complete\n{sbc.sipp.errors()}"


@pytest.mark.parametrize("sbc", ["uas_srtp.xml"], indirect=True)
def test_srtp_answer_echoing_the_offered_tag_passes(sbc: Sbc) -> None:
    checks = call(sbc)
    assert checks["sip.invite"].status is Status.PASS, checks["sip.invite"].summary
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.PASS, srtp.summary
    assert "AES_CM_128_HMAC_SHA1_80" in srtp.summary
    assert checks["sdp.sdes_transport"].status is Status.PASS
    teardown = checks["sip.teardown"]
    assert teardown.status is Status.PASS, teardown.summary
    assert teardown.details["dialogs_left_open"] == 0
    assert teardown.details["teardown"] == "bye"
    assert teardown.details["bye_status"] == 200
    assert_far_end_done(sbc)


@pytest.mark.parametrize("sbc", ["uas_rtp.xml"], indirect=True)
def test_plain_rtp_answer_fails(sbc: Sbc) -> None:
    checks = call(sbc)
    assert checks["sdp.srtp"].status is Status.FAIL
    assert "RTP/AVP" in checks["sdp.srtp"].summary
    assert checks["sip.teardown"].status is Status.PASS
    assert_far_end_done(sbc)


@pytest.mark.parametrize("sbc", ["uas_488.xml"], indirect=True)
def test_488_fails_and_is_acked(sbc: Sbc) -> None:
    checks = call(sbc)
    assert checks["sdp.srtp"].status is Status.FAIL
    assert "488" in checks["sdp.srtp"].summary
    assert checks["sip.teardown"].details["teardown"] == "rejected"
    assert checks["sip.teardown"].details["dialogs_left_open"] == 0
    assert_far_end_done(sbc)


@pytest.mark.parametrize("sbc", ["uas_auth.xml"], indirect=True)
def test_digest_challenge_then_srtp_answer(sbc: Sbc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIPPROBE_AUTH_USER", "alice")
    monkeypatch.setenv("SIPPROBE_AUTH_PASSWORD", "s3cret")
    checks = call(sbc)
    assert checks["sip.invite"].status is Status.PASS, checks["sip.invite"].summary
    assert "digest authentication" in checks["sip.invite"].summary
    assert checks["sdp.srtp"].status is Status.PASS, checks["sdp.srtp"].summary
    assert_far_end_done(sbc)
    rendered = json.dumps([f.to_dict() for f in checks.values()])
    assert "s3cret" not in rendered


@pytest.mark.parametrize("sbc", ["uas_early_media.xml"], indirect=True)
def test_early_media_is_judged_then_cancelled(sbc: Sbc) -> None:
    checks = call(sbc, hangup="on-early-media")
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.PASS, srtp.summary
    assert "183 Session Progress" in srtp.summary
    teardown = checks["sip.teardown"]
    assert teardown.details["teardown"] == "cancel", teardown.summary
    assert teardown.details["dialogs_left_open"] == 0
    assert_far_end_done(sbc)


@pytest.mark.parametrize("sbc", ["uas_no_answer.xml"], indirect=True)
def test_no_answer_is_cancelled_after_the_deadline(sbc: Sbc) -> None:
    checks = call(sbc, answer_timeout=1.0)
    assert checks["sip.teardown"].details["teardown"] == "cancel"
    assert checks["sdp.srtp"].status is Status.FAIL
    assert "no SDP" in checks["sdp.srtp"].summary
    assert_far_end_done(sbc)


@pytest.mark.parametrize("sbc", ["uas_2xx_after_cancel.xml"], indirect=True)
def test_2xx_after_cancel_is_acked_and_byed(sbc: Sbc) -> None:
    checks = call(sbc, hangup="immediately")
    teardown = checks["sip.teardown"]
    assert teardown.details["teardown"] == "bye", teardown.summary
    assert "raced our CANCEL" in teardown.summary
    assert teardown.details["dialogs_left_open"] == 0
    assert teardown.details["bye_status"] == 200
    assert_far_end_done(sbc)


@pytest.mark.parametrize("sbc", ["uas_srtp.xml"], indirect=True)
def test_no_key_is_ever_printed(sbc: Sbc) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "probe",
            "invite",
            sbc.uri,
            "--to",
            CALLEE,
            "--resolve",
            sbc.pin,
            "--ca",
            str(sbc.lab.ca),
            "--format",
            "json",
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert SIPP_KEY not in output
    assert not re.search(r"inline:[A-Za-z0-9+/]{20,}", output)
    report = json.loads(result.stdout)
    exchange = next(f for f in report["findings"] if f["check"] == "sip.invite")["details"]
    assert any("INVITE" in event["first_line"] for event in exchange["exchange"])
    assert_far_end_done(sbc)


def test_sdes_keys_are_not_sent_over_tcp(kamailio: Kamailio, lab: LabFiles) -> None:
    # The URI alone says TCP: refused before any packet, as a usage error.
    common = OptionsRequest(targets=[f"sip:127.0.0.1:{kamailio.plain_port};transport=tcp"])
    with pytest.raises(Refused, match="cleartext"):
        run_invite_command(InviteRequest(common, CallSettings(to=CALLEE)), on_usage_error=refuse)
    # With the flag the keys go anyway, and the report says so.
    report = run_invite_command(
        InviteRequest(common, CallSettings(to=CALLEE, allow_cleartext_keys=True, answer_timeout=2)),
        on_usage_error=no_usage_error,
    )
    assert any("--allow-cleartext-keys" in note for note in report.notes)
    checks = {finding.check: finding for finding in report.findings}
    assert checks["sdp.sdes_transport"].status is Status.FAIL


def test_invite_over_udp_is_refused_before_any_packet() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.setblocking(False)
        port = listener.getsockname()[1]
        for target in (f"sip:127.0.0.1:{port};transport=udp", f"sip:127.0.0.1:{port}"):
            common = OptionsRequest(targets=[target], settings=Settings.from_flat(timeout=1))
            with pytest.raises(Refused, match=r"TLS or TCP.*UDP"):
                run_invite_command(
                    InviteRequest(common, CallSettings(to=CALLEE)), on_usage_error=refuse
                )
        with pytest.raises(BlockingIOError):
            listener.recv(65535)  # nothing was sent


@pytest.fixture
def phone(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    instance = start_baresip(tmp_path / "baresip", lab.server, lab.server_key, lab.ca)
    yield instance
    instance.stop()


def call_phone(phone: Baresip, lab: LabFiles, **options: Any) -> dict[str, Finding]:
    common = OptionsRequest(
        targets=[f"sip:{LAB_NAME}:{phone.tls_port};transport=tls"],
        settings=Settings.from_flat(
            pins=[f"{LAB_NAME}:{phone.tls_port}:127.0.0.1"], ca=lab.ca, timeout=3
        ),
    )
    report = run_invite_command(
        InviteRequest(common, CallSettings(to="sip:bob@127.0.0.1", answer_timeout=10, **options)),
        on_usage_error=no_usage_error,
    )
    return {finding.check: finding for finding in report.findings}


def test_real_phone_with_mandatory_srtp(phone: Baresip, lab: LabFiles) -> None:
    checks = call_phone(phone, lab)
    assert checks["sip.invite"].status is Status.PASS, checks["sip.invite"].summary
    assert checks["sdp.srtp"].status is Status.PASS, checks["sdp.srtp"].summary
    assert checks["sip.teardown"].details["bye_status"] == 200
    assert checks["sip.teardown"].details["dialogs_left_open"] == 0


def test_real_phone_media_authenticates(phone: Baresip, lab: LabFiles) -> None:
    checks = call_phone(phone, lab, verify_media=True)
    media = checks["media.srtp"]
    assert media.status is Status.PASS, media.summary
    assert media.details["authenticated"] >= 1
    assert media.details["authenticated"] == media.details["received"]
    assert checks["sip.teardown"].status is Status.PASS


def test_real_phone_answering_another_suite_fails_sdp_and_media_says_why(
    phone: Baresip, lab: LabFiles
) -> None:
    """baresip does not do AES_256_CM_HMAC_SHA1_80 and answers its tag with the suite it
    prefers; offered beside one libsrtp does, media is planned and cannot be checked."""
    checks = call_phone(
        phone, lab, suites=("aes_256_cm_hmac_sha1_80", "AES_CM_128_HMAC_SHA1_32"), verify_media=True
    )
    srtp, media = checks["sdp.srtp"], checks["media.srtp"]
    if srtp.details["tag"] == 1:  # the far end answered the first offer with another suite
        assert srtp.status is Status.FAIL
        assert "offered as AES_256_CM_HMAC_SHA1_80" in srtp.summary
        assert "no agreed SRTP suite" in media.summary
    else:  # it chose the second offer, which libsrtp does
        assert srtp.status is Status.PASS, srtp.summary
        assert srtp.details["negotiated_suite"] == "AES_CM_128_HMAC_SHA1_32"
        assert media.status is Status.PASS, media.summary
    assert checks["sip.teardown"].status is Status.PASS


def test_real_phone_answering_the_only_offer_with_another_suite_fails(
    phone: Baresip, lab: LabFiles
) -> None:
    checks = call_phone(phone, lab, suites=("AES_256_CM_HMAC_SHA1_80",))
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.FAIL
    assert "offered as AES_256_CM_HMAC_SHA1_80 but answered as" in srtp.summary
    assert checks["sip.teardown"].status is Status.PASS


def test_real_phone_refuses_plain_rtp(phone: Baresip, lab: LabFiles) -> None:
    checks = call_phone(phone, lab, offer="rtp")
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.PASS, srtp.summary
    assert "488" in srtp.summary
