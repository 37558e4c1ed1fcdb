"""Every SDES suite sipprobe offers, judged against real far ends: baresip for the suites
its `srtp` module carries (AES_CM_128_HMAC_SHA1_80/_32, AEAD_AES_128_GCM and
AEAD_AES_256_GCM, media authenticated with libsrtp), and a SIPp UAS behind Kamailio that
answers with the crypto line a test gives, for the suites baresip lacks (AES-192/256
counter mode, f8, NULL) and for keys of the wrong length.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.baresip import Baresip, start_baresip
from tests.peers.kamailio import TlsProfile, start_kamailio
from tests.peers.sipp import start_sipp

pytestmark = pytest.mark.peer

CALLEE = f"sip:+15550100@{LAB_NAME}"


def key_of(size: int) -> str:
    return base64.b64encode(os.urandom(size)).decode("ascii")


def call_through_sbc(
    tmp_path: Path, lab: LabFiles, answer_crypto: str, **options: Any
) -> tuple[dict[str, Finding], int, str]:
    """One call to a SIPp UAS (behind a Kamailio TLS listener) that answers the first
    offered tag with `answer_crypto`; the findings, SIPp's exit code and its log tail."""
    sipp = start_sipp(
        tmp_path / "sipp", "uas_srtp_answer.xml", extra=("-key", "answer_crypto", answer_crypto)
    )
    try:
        kamailio = start_kamailio(
            tmp_path / "kamailio",
            [TlsProfile("tls", lab.server, lab.server_key)],
            relay_to=("127.0.0.1", sipp.port),
        )
        try:
            common = OptionsRequest(
                targets=[f"sip:{LAB_NAME}:{kamailio.tls_port};transport=tls"],
                settings=Settings.from_flat(
                    pins=[f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"], ca=lab.ca, timeout=3
                ),
            )
            report = run_invite_command(
                InviteRequest(common, CallSettings(to=CALLEE, **options)),
                on_usage_error=no_usage_error,
            )
        finally:
            kamailio.stop()
        code = sipp.wait()
        return {f.check: f for f in report.findings}, code, sipp.errors()
    finally:
        sipp.stop()


@pytest.mark.parametrize(
    ("suite", "size"),
    [
        ("AES_256_CM_HMAC_SHA1_80", 46),
        ("AES_256_CM_HMAC_SHA1_32", 46),
        ("AES_192_CM_HMAC_SHA1_80", 38),
        ("AES_192_CM_HMAC_SHA1_32", 38),
    ],
)
def test_rfc_6188_suites_pass_with_their_own_key_length(
    tmp_path: Path, lab: LabFiles, suite: str, size: int
) -> None:
    checks, code, log = call_through_sbc(
        tmp_path, lab, f"{suite} inline:{key_of(size)}", suites=(suite,)
    )
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.PASS, srtp.summary
    assert srtp.details["negotiated_suite"] == suite
    assert srtp.details["key_bytes"] == size
    assert checks["sip.teardown"].status is Status.PASS
    assert code == 0, log


@pytest.mark.parametrize(
    ("suite", "size", "expected"),
    [
        # The trap both ways: a GCM-256 key (32 + 12) for AES-256-CM, and the reverse.
        ("AES_256_CM_HMAC_SHA1_80", 44, 46),
        ("AEAD_AES_256_GCM", 46, 44),
        ("AEAD_AES_128_GCM", 30, 28),
        ("AES_192_CM_HMAC_SHA1_80", 46, 38),
    ],
)
def test_a_key_of_another_suites_length_fails_naming_both(
    tmp_path: Path, lab: LabFiles, suite: str, size: int, expected: int
) -> None:
    checks, code, log = call_through_sbc(
        tmp_path, lab, f"{suite} inline:{key_of(size)}", suites=(suite,)
    )
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.FAIL
    assert f"{suite} needs {expected} bytes of key||salt, got {size}" in srtp.summary
    # A malformed answer still ends the call it answered.
    assert checks["sip.teardown"].status is Status.PASS, checks["sip.teardown"].summary
    assert code == 0, log


def test_media_of_a_suite_libsrtp_lacks_is_unproven_not_passed(
    tmp_path: Path, lab: LabFiles
) -> None:
    pytest.importorskip("pylibsrtp")
    checks, code, log = call_through_sbc(
        tmp_path,
        lab,
        f"AES_256_CM_HMAC_SHA1_80 inline:{key_of(46)}",
        suites=("AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80"),
        verify_media=True,
    )
    assert checks["sdp.srtp"].status is Status.PASS
    media = checks["media.srtp"]
    assert media.status is Status.INCOMPLETE
    assert "libsrtp cannot do AES_256_CM_HMAC_SHA1_80" in media.summary
    assert code == 0, log


def test_an_f8_answer_warns(tmp_path: Path, lab: LabFiles) -> None:
    checks, code, log = call_through_sbc(
        tmp_path, lab, f"F8_128_HMAC_SHA1_80 inline:{key_of(30)}", suites=("F8_128_HMAC_SHA1_80",)
    )
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.WARN, srtp.summary
    assert "f8-mode" in srtp.summary
    assert code == 0, log


def test_a_null_answer_fails(tmp_path: Path, lab: LabFiles) -> None:
    checks, code, log = call_through_sbc(tmp_path, lab, f"NULL_HMAC_SHA1_80 inline:{key_of(30)}")
    srtp = checks["sdp.srtp"]
    assert srtp.status is Status.FAIL
    assert "the answer picks a NULL suite" in srtp.summary
    assert code == 0, log


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


@pytest.mark.parametrize("suite", ["AEAD_AES_128_GCM", "AEAD_AES_256_GCM"])
def test_real_phone_gcm_media_authenticates(phone: Baresip, lab: LabFiles, suite: str) -> None:
    """baresip's srtp module does both GCM suites (RFC 7714): the answer keeps the
    suite, and its packets authenticate under the answered 28- or 44-byte key."""
    pytest.importorskip("pylibsrtp")
    checks = call_phone(phone, lab, suites=(suite,), verify_media=True)
    srtp, media = checks["sdp.srtp"], checks["media.srtp"]
    assert srtp.status is Status.PASS, srtp.summary
    assert srtp.details["negotiated_suite"] == suite
    assert media.status is Status.PASS, media.summary
    assert media.details["suite"] == suite
    assert media.details["authenticated"] >= 1
    assert media.details["authenticated"] == media.details["received"]
    assert checks["sip.teardown"].status is Status.PASS
