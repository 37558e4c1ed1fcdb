"""DTLS-SRTP media verified against a real phone: baresip with `mediaenc=dtls_srtp` answers
sipprobe's DTLS offer with `a=setup:active`, runs the handshake on our media port, and
sends SRTP under the keys it exported. Behind a Kamailio that swaps the answer's
fingerprint (a man in the middle of the signalling), the same call must fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.net.dtls import DTLS_PROFILES
from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.baresip import Baresip, start_baresip
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

# Every fingerprint of the answer replaced by one no certificate here has (textops'
# subst_body on the relayed 200; baresip writes the hash name in upper case).
SWAPPED = ":".join(["AB"] * 32)
SWAP_FINGERPRINT = f"/a=fingerprint:SHA-256 [0-9A-F:]+/a=fingerprint:SHA-256 {SWAPPED}/g"


@pytest.fixture
def dtls_phone(tmp_path: Path, lab: LabFiles) -> Iterator[Baresip]:
    pytest.importorskip("pylibsrtp")
    pytest.importorskip("OpenSSL")
    instance = start_baresip(
        tmp_path / "baresip", lab.server, lab.server_key, lab.ca, mediaenc="dtls_srtp"
    )
    yield instance
    instance.stop()


def call(port: int, lab: LabFiles, **options: Any) -> dict[str, Finding]:
    common = OptionsRequest(
        targets=[f"sip:{LAB_NAME}:{port};transport=tls"],
        settings=Settings.from_flat(pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, timeout=3),
    )
    report = run_invite_command(
        InviteRequest(
            common,
            CallSettings(to="sip:bob@127.0.0.1", answer_timeout=10, offer="dtls", **options),
        ),
        on_usage_error=no_usage_error,
    )
    return {finding.check: finding for finding in report.findings}


def test_real_phone_dtls_srtp_media_authenticates(dtls_phone: Baresip, lab: LabFiles) -> None:
    checks = call(dtls_phone.tls_port, lab, verify_media=True)
    assert checks["sdp.srtp"].status is Status.PASS, checks["sdp.srtp"].summary
    media = checks["media.srtp"]
    assert media.status is Status.PASS, media.summary
    dtls = media.details["dtls"]
    assert isinstance(dtls, dict)
    # baresip answers a=setup:active: it is the DTLS client, we the server.
    assert dtls["role"] == "server"
    assert dtls["fingerprint_match"] is True
    assert dtls["profile"] in DTLS_PROFILES
    assert media.details["keying"] == "dtls"
    assert media.details["suite"] == DTLS_PROFILES[str(dtls["profile"])].suite
    assert media.details["authenticated"] >= 1
    assert media.details["authenticated"] == media.details["received"]
    assert checks["sip.teardown"].status is Status.PASS
    # The phone checked our fingerprint too, and keyed SRTP from the same handshake.
    log = dtls_phone.log.read_text(errors="replace")
    assert "verified sha-256 fingerprint OK" in log
    assert "DTLS-SRTP complete" in log


@pytest.fixture
def swapping_sbc(tmp_path: Path, lab: LabFiles, dtls_phone: Baresip) -> Iterator[Kamailio]:
    # baresip takes UDP on the port below its TLS one (tests.peers.baresip).
    instance = start_kamailio(
        tmp_path / "kamailio",
        [TlsProfile("tls", lab.server, lab.server_key)],
        relay_to=("127.0.0.1", dtls_phone.tls_port - 1),
        reply_rewrite=SWAP_FINGERPRINT,
    )
    yield instance
    instance.stop()


def test_a_swapped_fingerprint_fails_the_media_though_the_sdp_looks_right(
    swapping_sbc: Kamailio, lab: LabFiles
) -> None:
    checks = call(swapping_sbc.tls_port, lab, verify_media=True)
    # The answer is well formed: only the handshake can tell.
    assert checks["sdp.srtp"].status is Status.PASS, checks["sdp.srtp"].summary
    media = checks["media.srtp"]
    assert media.status is Status.FAIL, media.summary
    assert "does not match the answer's a=fingerprint" in media.summary
    dtls = media.details["dtls"]
    assert isinstance(dtls, dict)
    assert dtls["fingerprint_match"] is False
    assert dtls["expected_fingerprints"] == [f"sha-256 {SWAPPED}"]
    assert dtls["peer_fingerprint"] != f"sha-256 {SWAPPED}"
    assert media.details["authenticated"] == 0
    assert checks["sip.teardown"].status is Status.PASS, checks["sip.teardown"].summary


def test_cli_dtls_offer_with_verify_media(dtls_phone: Baresip, lab: LabFiles) -> None:
    port = dtls_phone.tls_port
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "probe",
            "invite",
            f"sip:{LAB_NAME}:{port};transport=tls",
            "--to",
            "sip:bob@127.0.0.1",
            "--resolve",
            f"{LAB_NAME}:{port}:127.0.0.1",
            "--ca",
            str(lab.ca),
            "--offer",
            "dtls",
            "--verify-media",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    media = next(f for f in report["findings"] if f["check"] == "media.srtp")
    assert media["status"] == "pass", media["summary"]
    assert "keyed by DTLS SRTP_" in media["summary"]
