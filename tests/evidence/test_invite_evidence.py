"""A real test call with digest authentication saved with `--evidence-out`: no key and no
digest response reach the file, and judging the file again gives the call's findings.

The far end is SIPp behind Kamailio's TLS listener, as in tests/net/test_invite.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from pathlib import Path
from typing import Any

import pytest

from probe.run.commands import JudgeRequest, OptionsRequest, run_judge_command
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.kamailio import TlsProfile, start_kamailio
from tests.peers.sipp import start_sipp

pytestmark = pytest.mark.peer

SIPP_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"  # the key in uas_auth.xml's answer


def decoded_texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for item in value.values() for t in decoded_texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in decoded_texts(item)]
    if not isinstance(value, str):
        return []
    try:
        return [value, base64.b64decode(value, validate=True).decode("utf-8", errors="replace")]
    except (binascii.Error, ValueError):
        return [value]


def test_a_call_with_credentials_is_saved_without_secrets(
    tmp_path: Path, lab: LabFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIPPROBE_AUTH_USER", "alice")
    monkeypatch.setenv("SIPPROBE_AUTH_PASSWORD", "s3cret")
    sipp = start_sipp(tmp_path / "sipp", "uas_auth.xml")
    try:
        kamailio = start_kamailio(
            tmp_path / "kamailio",
            [TlsProfile("tls", lab.server, lab.server_key)],
            relay_to=("127.0.0.1", sipp.port),
        )
    except BaseException:
        sipp.stop()
        raise
    path = tmp_path / "call.json"
    try:
        port = kamailio.tls_port
        common = OptionsRequest(
            targets=[f"sip:{LAB_NAME}:{port};transport=tls"],
            settings=Settings.from_flat(
                pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, timeout=3, evidence_out=path
            ),
        )
        report = run_invite_command(
            InviteRequest(common, CallSettings(to=f"sip:+15550100@{LAB_NAME}")),
            on_usage_error=no_usage_error,
        )
        assert sipp.wait() == 0, sipp.errors()
    finally:
        sipp.stop()
        kamailio.stop()
    checks = {finding.check: finding for finding in report.findings}
    assert checks["sdp.srtp"].status == "pass", checks["sdp.srtp"].summary
    assert "digest authentication" in checks["sip.invite"].summary

    document = json.loads(path.read_text())
    assert document["command"] == "invite"
    assert document["settings"]["call"]["credentials"] is True
    everything = "\n".join(decoded_texts({k: v for k, v in document.items() if k != "redacted"}))
    assert "Authorization: Digest <redacted>" in everything
    assert "response=" not in everything
    assert "s3cret" not in everything
    assert SIPP_KEY not in everything
    keys = re.findall(r"inline:([^|;\s'\"]+)", everything)
    assert keys  # offer and answer, each keyed with zeros
    assert all(set(key) <= {"A", "="} for key in keys), keys

    again = run_judge_command(
        JudgeRequest(path, settings=Settings.from_flat(ca=lab.ca)), on_usage_error=no_usage_error
    )
    assert [f.to_dict() for f in again.findings] == [f.to_dict() for f in report.findings]
