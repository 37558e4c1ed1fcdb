"""Evidence files: round trip, redaction that leaves the judgement alone, file mode, and
a sentence (never a traceback) for a file that cannot be used."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from probe.evidence.file import (
    EvidenceError,
    RunEvidence,
    dumps_evidence,
    load_evidence,
    loads_evidence,
    redact_run,
    write_evidence,
)
from probe.evidence.redact import mask_credentials, mask_keys
from probe.sdp import parse_sdp
from probe.tls.trust import TrustAnchors
from probe.verdict.checks import OptionsPolicy, judge_options
from probe.verdict.findings import CheckId, Status
from probe.verdict.judging import judge_run
from tests.evidence import sample

EVERY_CLASS = {
    "AuthEvidence",
    "RunEvidence",
    "RunSettings",
    "CallPlan",
    "ProbedUri",
    "ProbedTarget",
    "Endpoint",
    "FailoverEvidence",
    "Placement",
    "LocateResult",
    "LocatedTarget",
    "DnsAnswer",
    "DnsQuery",
    "NaptrRecord",
    "SrvRecord",
    "ProbeEvidence",
    "Target",
    "ConnectEvidence",
    "TlsEvidence",
    "TlsEnumeration",
    "HandshakeAttempt",
    "SipExchange",
    "Received",
    "CallEvidence",
    "WireEvent",
    "MediaEvidence",
}


def classes(value: Any) -> set[str]:
    if isinstance(value, tuple):
        return set().union(*(classes(item) for item in value)) if value else set()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = {type(value).__name__}
        for field in dataclasses.fields(value):
            names |= classes(getattr(value, field.name))
        return names
    return set()


def policy() -> OptionsPolicy:
    anchors = TrustAnchors((sample.lab().root.cert,), "lab root")
    return OptionsPolicy(anchors=anchors)


@pytest.fixture
def written(tmp_path: Path) -> Path:
    path = tmp_path / "evidence.json"
    write_evidence(path, sample.run())
    return path


def test_the_sample_covers_every_evidence_class() -> None:
    assert classes(sample.run()) >= EVERY_CLASS


def test_round_trip_gives_the_same_dataclasses_apart_from_redactions(written: Path) -> None:
    original = sample.run()
    loaded = load_evidence(written)
    assert loaded == redact_run(original)
    assert classes(loaded) >= EVERY_CLASS
    # Only secrets differ: the TLS target (no keys, no credentials) is unchanged.
    assert loaded.uris[0].targets[0] == original.uris[0].targets[0]
    assert loaded.uris[0].targets[0].evidence.tls.presented_chain == sample.chain_der()  # type: ignore[union-attr]


def test_written_as_indented_json_with_the_schema(written: Path) -> None:
    text = written.read_text()
    document = json.loads(text)
    assert document["schema"] == "sipprobe.evidence/1"
    assert document["command"] == "failover"
    assert document["started_at"] == sample.STARTED_AT
    assert text.startswith('{\n  "schema"')
    answers = document["uris"][0]["locate"]["answers"]
    assert answers[0]["query"] == {"name": "sbc.example.test", "type": "NAPTR"}


def test_file_mode_is_0600_even_over_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "evidence.json"
    path.write_text("old")
    path.chmod(0o644)
    write_evidence(path, sample.run())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["evidence.json"]


def texts(value: Any) -> list[str]:
    """Every string in a JSON document, and the base64-decoded form of each that is."""
    if isinstance(value, dict):
        return [t for item in value.values() for t in texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in texts(item)]
    if not isinstance(value, str):
        return []
    found = [value]
    with contextlib.suppress(binascii.Error, ValueError):
        found.append(base64.b64decode(value, validate=True).decode("utf-8", errors="replace"))
    return found


def test_no_key_material_and_no_digest_response_in_the_file(written: Path) -> None:
    document = json.loads(written.read_text())
    assert "zero" in document.pop("redacted")  # the note saying what was done
    everything = "\n".join(texts(document))
    secrets = [*sample.offer_keys(), sample.ANSWER_KEY, sample.DIGEST_RESPONSE]
    assert len(secrets) == 4
    for secret in secrets:
        assert secret not in everything
    assert "response=" not in everything
    assert "Authorization: Digest <redacted>" in everything
    inline = [line for line in everything.splitlines() if "inline:" in line]
    assert inline  # the crypto lines are still there, keyed with zeros
    for line in inline:
        key = line.split("inline:", 1)[1].split("|")[0].strip()
        assert set(key) <= {"A", "="}, line


def test_masked_keys_keep_tag_suite_and_length() -> None:
    real = parse_sdp(sample.offer_bytes()).media[0].crypto
    masked = parse_sdp(mask_keys(sample.offer_bytes())).media[0].crypto
    assert [(c.tag, c.suite, len(c.key_salt)) for c in masked] == [
        (c.tag, c.suite, len(c.key_salt)) for c in real
    ]
    assert all(set(c.key_salt) == {0} for c in masked)
    assert len(mask_keys(sample.invite())) == len(sample.invite())


def test_mask_credentials_takes_folded_values_and_leaves_the_body() -> None:
    message = sample.sip_message(
        "INVITE sip:x@y SIP/2.0",
        [
            'proxy-authorization : Digest username="a",',
            '  response="deadbeef"',
            'Authorization: Digest response="cafe"',
            "Subject: Authorization: kept",
        ],
        b"Authorization: in the body stays",
    )
    masked = mask_credentials(message).decode()
    assert "deadbeef" not in masked
    assert "cafe" not in masked
    assert "proxy-authorization : Digest <redacted>\r\n" in masked
    assert "Subject: Authorization: kept" in masked
    assert masked.endswith("Authorization: in the body stays")


def test_a_call_is_judged_the_same_from_redacted_evidence(written: Path) -> None:
    fresh = sample.run().uris[0].targets[1].evidence
    loaded = load_evidence(written).uris[0].targets[1].evidence
    assert fresh is not None
    assert loaded is not None
    assert loaded.call is not None
    assert loaded.call.offer != fresh.call.offer  # type: ignore[union-attr]
    judged = policy().at(dt.datetime(2026, 11, 27, tzinfo=dt.UTC))
    findings = judge_options(loaded, judged)
    assert findings == judge_options(fresh, judged)
    srtp = next(f for f in findings if f.check == CheckId.SDP_SRTP)
    assert srtp.status is Status.PASS, srtp.summary


def test_the_whole_run_is_judged_the_same_after_a_round_trip(written: Path) -> None:
    fresh = judge_run(sample.run(), policy())
    again = judge_run(load_evidence(written), policy())
    assert again.to_dict() == fresh.to_dict()
    assert again.trunk_findings  # the failover order was judged again too


def test_policy_is_not_in_the_file(written: Path) -> None:
    document = json.loads(written.read_text())
    assert not {"accept", "anchors", "warn_days", "insecure"} & set(document["settings"])


# --- files that cannot be used -------------------------------------------------------


def document() -> dict[str, Any]:
    return json.loads(dumps_evidence(sample.run()))  # type: ignore[no-any-return]


def broken(change: Any) -> str:
    data = document()
    change(data)
    return json.dumps(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not JSON"),
        ("{", "is not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"schema": "sipprobe.report/1"}', "it has schema 'sipprobe.report/1'"),
        ("{}", "it has no schema"),
        (
            broken(lambda d: d["settings"].update(timeout_s="5")),
            "settings.timeout_s should be a number, not the string '5'",
        ),
        (
            broken(lambda d: d["uris"][0]["targets"][0]["evidence"]["target"].update(port=True)),
            "uris[0].targets[0].evidence.target.port should be an integer, not true",
        ),
        (
            broken(lambda d: d["uris"][0]["targets"][0]["evidence"]["tls"].update(version=3)),
            "uris[0].targets[0].evidence.tls.version should be null or a string, not the number 3",
        ),
        (
            broken(
                lambda d: d["uris"][0]["targets"][0]["evidence"]["target"].update(transport="sctp")
            ),
            "transport should be one of 'tls', 'tcp', 'udp', 'ws', 'wss', not the string 'sctp'",
        ),
        (
            broken(
                lambda d: d["uris"][0]["targets"][0]["evidence"]["tls"].update(
                    presented_chain=["not base64!"]
                )
            ),
            "presented_chain[0] should be base64 data",
        ),
        (broken(lambda d: d.pop("uris")), "uris is missing"),
        (broken(lambda d: d.update(extra=1)), "extra is not a known field"),
        (
            broken(lambda d: d["failover"]["order"][0].update(uri_index=9)),
            "failover.order[0] names URI #9",
        ),
        (
            broken(lambda d: d["uris"][0]["locate"]["answers"][2].update(records=["nonsense"])),
            "is not a valid DnsAnswer",
        ),
        (broken(lambda d: d.update(started_at="yesterday")), "'yesterday' is not an ISO 8601"),
        (
            broken(lambda d: d["uris"][1]["targets"][0].update(unresolved=None)),
            "either evidence or an unresolved target",
        ),
        # A placed call's offer is judged again; it must still be SDP.
        (
            broken(lambda d: d["uris"][0]["targets"][1]["evidence"]["call"].update(offer="")),
            "uris[0].targets[1].evidence.call.offer: not an SDP offer",
        ),
        (
            broken(lambda d: d["uris"][0]["targets"][1]["evidence"]["call"].update(offer="AAAA")),
            "uris[0].targets[1].evidence.call.offer: not an SDP offer",
        ),
    ],
)
def test_bad_evidence_is_one_sentence(text: str, message: str) -> None:
    with pytest.raises(EvidenceError) as caught:
        loads_evidence(text, "e.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("e.json ")
    assert "\n" not in str(caught.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="no such file"):
        load_evidence(tmp_path / "absent.json")
    with pytest.raises(EvidenceError, match="is a directory"):
        load_evidence(tmp_path)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(EvidenceError, match="not UTF-8"):
        load_evidence(binary)


def test_a_file_without_secrets_round_trips_exactly(tmp_path: Path) -> None:
    original = sample.run()
    assert original.failover is not None
    plain = dataclasses.replace(
        original,
        uris=(dataclasses.replace(original.uris[0], targets=original.uris[0].targets[:1]),),
        failover=dataclasses.replace(original.failover, order=original.failover.order[:1]),
    )
    path = tmp_path / "plain.json"
    write_evidence(path, plain)
    assert load_evidence(path) == plain
    assert isinstance(load_evidence(path), RunEvidence)
