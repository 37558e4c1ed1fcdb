"""`sipprobe pcap` with media: `--expect-srtp`, `--srtp-keys`, and the library's
`probe.audit` taking the same; saved media evidence judged again by `sipprobe judge`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import probe
from probe.cli.commands import cli
from probe.errors import SettingsError
from probe.verdict.findings import Verdict
from tests.pcap.frames import write_pcap
from tests.pcap.media_frames import (
    CALLER,
    CALLER_KEY,
    CALLER_PORT,
    g711_stream,
    media_frames,
    srtp_stream,
)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def media_check(output: str) -> dict[str, Any]:
    document = json.loads(output)
    return next(f for f in document["findings"] if f["check"] == "pcap.media")


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    return write_pcap(tmp_path / "plain.pcap", media_frames(list(g711_stream(30))), step=0.02)


@pytest.fixture
def keyed(tmp_path: Path) -> Path:
    """SRTP with no SDP in the capture: only a key file can authenticate it."""
    return write_pcap(tmp_path / "srtp.pcap", media_frames(srtp_stream(30, CALLER_KEY)))


def key_file(tmp_path: Path, key: str = CALLER_KEY) -> Path:
    path = tmp_path / "keys.txt"
    path.write_text(
        f"# the offer's c= and m=, and its crypto line\n"
        f"{CALLER}:{CALLER_PORT} a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\n"
    )
    return path


def test_plain_rtp_warns_and_fails_when_srtp_is_expected(plain: Path) -> None:
    code, output = invoke("pcap", str(plain), "--format", "json")
    assert code == 0
    assert media_check(output)["status"] == "warn"
    code, output = invoke("pcap", str(plain), "--format", "json", "--expect-srtp")
    assert code == 1
    finding = media_check(output)
    assert finding["status"] == "fail"
    assert "--expect-srtp" in str(finding["summary"])
    code, output = invoke("pcap", str(plain), "--nagios", "--expect-srtp")
    assert code == 2
    assert output.startswith("SIPPROBE CRITICAL - pcap.media")


def test_a_key_file_authenticates_and_is_never_printed(keyed: Path, tmp_path: Path) -> None:
    saved = tmp_path / "audit.json"
    keys = key_file(tmp_path)
    code, output = invoke(
        "pcap", str(keyed), "--srtp-keys", str(keys), "--format", "json", "--evidence-out",
        str(saved),
    )  # fmt: skip
    assert code == 0, output
    finding = media_check(output)
    assert finding["status"] == "pass"
    assert "30 packets authenticated" in str(finding["summary"])
    assert "key file" in str(finding["summary"])
    for text in (output, saved.read_text()):
        assert CALLER_KEY not in text
    # Judged again from the saved evidence, without the keys: the same verdict.
    code, again = invoke("judge", str(saved), "--format", "json")
    assert code == 0
    assert media_check(again)["summary"] == finding["summary"]


def test_a_wrong_key_in_the_key_file_fails(keyed: Path, tmp_path: Path) -> None:
    wrong = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    code, output = invoke(
        "pcap", str(keyed), "--srtp-keys", str(key_file(tmp_path, wrong)), "--format", "json"
    )
    assert code == 1
    finding = media_check(output)
    assert finding["status"] == "fail"
    assert "does not authenticate" in str(finding["summary"])
    assert wrong not in output


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("", "no key in it"),
        ("192.0.2.10 1 AES_CM_128_HMAC_SHA1_80 inline:" + CALLER_KEY, "line 1"),
        ("192.0.2.10:4000 1 AES_CM_128_HMAC_SHA1_80 inline:" + CALLER_KEY[:-4], "line 1"),
    ],
)
def test_a_bad_key_file_is_a_usage_error_before_any_packet(
    keyed: Path, tmp_path: Path, content: str | None, problem: str
) -> None:
    keys = tmp_path / "keys.txt"
    if content is not None:
        keys.write_text(content + "\n")
    code, output = invoke("pcap", str(keyed), "--srtp-keys", str(keys))
    assert code == 2
    assert problem in output
    assert "--srtp-keys" in output
    assert CALLER_KEY[:-4] not in output


def test_the_library_takes_the_same_options(plain: Path, keyed: Path, tmp_path: Path) -> None:
    assert probe.audit(plain).verdict is Verdict.WARN
    assert probe.audit(plain, expect_srtp=True).verdict is Verdict.FAIL
    report = probe.audit(keyed, srtp_keys=key_file(tmp_path))
    assert report.verdict is Verdict.PASS
    with pytest.raises(SettingsError, match="no such file"):
        probe.audit(keyed, srtp_keys=tmp_path / "missing.txt")
