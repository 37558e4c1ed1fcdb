"""`sipprobe judge` and `diff` of an evidence file whose recorded SDP offer was damaged
(edited, truncated): a usage error naming the field, where judging the call once raised
SdpError out of the command (exit 3)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.evidence.file import dumps_evidence
from tests.evidence import sample

OFFER_FIELD = "uris[0].targets[1].evidence.call.offer"


def with_offer(tmp_path: Path, offer: bytes) -> Path:
    document = json.loads(dumps_evidence(sample.run()))
    call = document["uris"][0]["targets"][1]["evidence"]["call"]
    assert call["teardown"] != "not_sent", "the sample's call must have been placed"
    call["offer"] = base64.b64encode(offer).decode()
    path = tmp_path / "damaged.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.mark.parametrize("offer", [b"", b"\x00\x00\x00", b"v=0\r\no=", b"\xff" * 40])
def test_judge_of_a_damaged_offer_is_a_usage_error_naming_the_field(
    tmp_path: Path, offer: bytes
) -> None:
    result = CliRunner().invoke(cli, ["judge", str(with_offer(tmp_path, offer))])
    assert result.exit_code == 2, result.output
    assert f"{OFFER_FIELD}: not an SDP offer" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_diff_with_a_damaged_offer_is_a_usage_error(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(dumps_evidence(sample.run()), encoding="utf-8")
    damaged = with_offer(tmp_path, b"")
    result = CliRunner().invoke(cli, ["diff", str(good), str(damaged)])
    assert result.exit_code == 2, result.output
    assert OFFER_FIELD in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
