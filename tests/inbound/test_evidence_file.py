"""An answer run's evidence file: it round-trips (STIR/SHAKEN verifications by the real
verifier included), holds no key, judges the same as the run it records, and `sipprobe
judge` re-judges it; files written before received calls were recorded still load."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import time
from pathlib import Path
from typing import Any, NoReturn

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from probe.evidence.file import (
    RunEvidence,
    RunSettings,
    dumps_evidence,
    load_evidence,
    loads_evidence,
    redact_run,
    write_evidence,
)
from probe.evidence.inbound import InboundCall
from probe.evidence.trust import record_trust
from probe.run.commands import JudgeRequest, judge_saved, run_judge_command
from probe.settings import Settings
from probe.stir.credential import StiTrust
from probe.stir.model import CertificateFetch, StirEvidence
from probe.stir.verify import StirPolicy, judge_identity, read_identity
from probe.tls.sti_lab import StiLab
from probe.tls.trust import TrustAnchors
from probe.verdict.checks import OptionsPolicy
from probe.verdict.checks.policy import InboundPolicy
from probe.verdict.findings import CheckId, Status, Verdict
from probe.verdict.judging import judge_run
from tests.evidence import sample
from tests.inbound import kit
from tests.stir import kit as stir_kit

X5U = "https://cert.example.test/shaken.pem"


def usage(message: str) -> NoReturn:
    raise AssertionError(message)


def verified(sti: StiLab, *, signature: bytes | None = None) -> tuple[str, StirEvidence]:
    """An Identity header signed with the lab's SHAKEN key (or forged), and what the real
    verifier concludes of it, the certificate handed in as the x5u fetcher would."""
    passport = stir_kit.token(
        sti.shaken.key, stir_kit.header(X5U), stir_kit.claims(), signature=signature
    )
    value = stir_kit.identity(passport, X5U)
    fields = stir_kit.request(value)
    reading = read_identity(fields)
    fetched = {
        url: CertificateFetch(url, "https", sti.chain_pem(), status=200, max_age=60)
        for url in reading.certificate_urls
    }
    trust = StiTrust((sti.root.cert,), "lab STI-CA")
    return value, judge_identity(reading, fetched, StirPolicy(trust=trust), now=time.time())


def signed_call(sti: StiLab, number: int, *, forged: bool = False) -> InboundCall:
    value, stir = verified(sti, signature=b"\x00" * 64 if forged else None)
    invite = kit.invite(headers=(f"Identity: {value}",))
    return kit.good_call(number, invite=invite, stir=stir)


def answer_run(sti: StiLab) -> RunEvidence:
    evidence = kit.evidence(
        signed_call(sti, 1),
        signed_call(sti, 2, forged=True),
        expectation=kit.expectation(calls=2, verify_identity=True),
        connections=(kit.failed_handshake(),),
    )
    anchors = TrustAnchors((sample.lab().root.cert,), "file lab/ca.pem (1 certificate)")
    run = RunEvidence(
        command="answer",
        started_at=kit.STARTED_AT,
        duration_ms=2500.0,
        settings=RunSettings(timeout_s=60.0),
        uris=(),
        inbound=evidence,
    )
    record = record_trust(anchors, "path", run)
    return dataclasses.replace(run, settings=dataclasses.replace(run.settings, trust=record))


def texts(value: Any) -> list[str]:
    """Every string of a JSON document, and the base64-decoded form of each that is."""
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


def test_the_run_round_trips_with_its_stir_verifications(sti: StiLab) -> None:
    run = answer_run(sti)
    loaded = loads_evidence(dumps_evidence(run))
    assert loaded == redact_run(run)
    assert loaded.inbound is not None
    stir = loaded.inbound.calls[1].stir
    assert stir is not None
    assert stir == run.inbound.calls[1].stir  # type: ignore[union-attr]
    # Fixed-length pairs, a fetched body and a nested response come back as they went.
    assert stir.checks[0].not_checked[0][0] == "attestation"
    assert stir.checks[0].fetch is not None
    assert stir.checks[0].fetch.body == sti.chain_pem()
    assert str(stir.response) == "438 Invalid Identity Header"
    # The trust record reached the lab root through the caller's client chain.
    assert loaded.settings.trust is not None
    assert loaded.settings.trust.used_sha256


def test_the_file_holds_no_key_of_any_offer_or_answer(sti: StiLab, tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    write_evidence(path, answer_run(sti))
    document = json.loads(path.read_text())
    assert document["command"] == "answer"
    assert "zero" in document.pop("redacted")  # the note saying what was done
    everything = "\n".join(texts(document))
    for secret in kit.SECRETS:
        assert secret not in everything
    inline = [line for line in everything.splitlines() if "inline:" in line]
    assert inline  # the crypto lines are still there, keyed with zeros
    for line in inline:
        key = line.split("inline:", 1)[1].split("|")[0].strip()
        assert set(key) <= {"A", "="}, line


def test_redacted_evidence_is_judged_as_the_run_was(sti: StiLab) -> None:
    run = answer_run(sti)
    policy = OptionsPolicy(anchors=TrustAnchors((sample.lab().root.cert,), "lab root"))
    inbound = InboundPolicy(expect_peer=(kit.PEER_NAME,), require_client_cert=True)
    fresh = judge_run(run, policy, inbound=inbound)
    again = judge_run(loads_evidence(dumps_evidence(run)), policy, inbound=inbound)
    assert again.to_dict() == fresh.to_dict()
    first, forged = again.results
    assert first.verdict is Verdict.PASS, [(f.check, f.summary) for f in first.findings]
    signature = next(f for f in forged.findings if f.check == CheckId.STIR_SIGNATURE)
    assert signature.status is Status.FAIL
    assert forged.verdict is Verdict.FAIL
    (calls,) = [f for f in again.trunk_findings if f.check == CheckId.INBOUND_CALLS]
    assert calls.status is Status.WARN  # both calls came; one connection failed its handshake


def test_sipprobe_judge_re_judges_the_received_calls(sti: StiLab, tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    write_evidence(path, answer_run(sti))
    report = run_judge_command(JudgeRequest(evidence=path), on_usage_error=usage)
    assert report.command == "answer"
    assert [r.target.label for r in report.results] == [
        "inbound call 1 from 192.0.2.7:5061/tls",
        "inbound call 2 from 192.0.2.7:5061/tls",
    ]
    assert any(f.check == CheckId.INBOUND_CALLS for f in report.trunk_findings)
    first = report.results[0]
    cert = next(f for f in first.findings if f.check == CheckId.INBOUND_CLIENT_CERT)
    # Judged against the anchors the run recorded (the lab root, kept in the file).
    assert cert.status is Status.PASS, cert.summary
    assert report.verdict is Verdict.FAIL  # the forged Identity
    assert any("judged again from" in note for note in report.notes)


def test_judging_again_under_a_stricter_inbound_policy(sti: StiLab, tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    write_evidence(path, answer_run(sti))
    run = load_evidence(path)
    strict = InboundPolicy(expect_peer=("carrier.example.test",), require_client_cert=True)
    report = judge_saved(run, path, Settings(), None, usage, inbound=strict)
    cert = next(f for f in report.results[0].findings if f.check == CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "carrier.example.test" in cert.summary


def test_a_stir_policy_given_to_judge_owes_a_verification_it_cannot_redo(
    sti: StiLab, tmp_path: Path
) -> None:
    # Calls received without verification: no certificate was fetched for them, so judge
    # cannot verify them offline. Asked to (--sti-trust), that is work undone, not a pass.
    run = answer_run(sti)
    assert run.inbound is not None
    unverified = tuple(dataclasses.replace(call, stir=None) for call in run.inbound.calls)
    inbound = dataclasses.replace(
        run.inbound,
        calls=unverified,
        expectation=dataclasses.replace(run.inbound.expectation, verify_identity=False),
    )
    path = tmp_path / "unverified.json"
    write_evidence(path, dataclasses.replace(run, inbound=inbound))
    trust = tmp_path / "sti-trust.pem"
    trust.write_bytes(sti.root.cert.public_bytes(Encoding.PEM))
    report = judge_saved(
        load_evidence(path), path, Settings.from_flat(sti_trust=trust), None, usage
    )
    identities = [
        f.status for result in report.results for f in result.findings if f.check == "stir.identity"
    ]
    assert identities == [Status.INCOMPLETE, Status.INCOMPLETE]
    assert report.verdict is Verdict.INCOMPLETE
    assert any("2 received calls cannot be verified again" in note for note in report.notes)


def test_a_file_written_before_received_calls_were_recorded_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    write_evidence(path, sample.run())
    document = json.loads(path.read_text())
    document.pop("inbound")
    path.write_text(json.dumps(document))
    loaded = load_evidence(path)
    assert loaded.inbound is None
    assert loaded == redact_run(sample.run())


def test_an_inbound_part_that_does_not_fit_names_where(sti: StiLab) -> None:
    document = json.loads(dumps_evidence(answer_run(sti)))
    document["inbound"]["calls"][1]["stir"]["checks"][0]["not_checked"][0] = ["attestation"]
    from probe.evidence.file import EvidenceError

    with pytest.raises(EvidenceError, match=r"inbound\.calls\[1\]\.stir\.checks\[0\]\.not_checked"):
        loads_evidence(json.dumps(document))


@pytest.mark.parametrize("chosen", [5, None, -1])
def test_a_stir_verification_naming_a_field_it_lacks_is_refused(
    sti: StiLab, chosen: int | None
) -> None:
    from probe.evidence.file import EvidenceError

    document = json.loads(dumps_evidence(answer_run(sti)))
    document["inbound"]["calls"][0]["stir"]["chosen"] = chosen
    with pytest.raises(EvidenceError, match=r"inbound\.calls\[0\]\.stir\.chosen"):
        loads_evidence(json.dumps(document))


def test_judge_with_a_scenario_judges_the_calls_under_its_inbound_section(
    sti: StiLab, tmp_path: Path
) -> None:
    path = tmp_path / "answer.json"
    write_evidence(path, answer_run(sti))
    scenario = tmp_path / "trunk.toml"
    scenario.write_text(
        '[trunk]\nname = "lab"\ndescription = "lab trunk"\n\n'
        '[[endpoint]]\nuri = "sip:sbc.example.test:5061;transport=tls"\n\n'
        '[inbound]\nlisten = ["tls:127.0.0.1:5061"]\n'
        'expect_peer = ["carrier.example.test"]\nrequire_client_cert = true\n'
    )
    request = JudgeRequest(evidence=path, scenario=str(scenario))
    report = run_judge_command(request, on_usage_error=usage)
    first = report.results[0]
    cert = next(f for f in first.findings if f.check == CheckId.INBOUND_CLIENT_CERT)
    assert cert.status is Status.FAIL
    assert "not for carrier.example.test" in cert.summary
    invite = next(f for f in first.findings if f.check == CheckId.INBOUND_INVITE)
    assert invite.status is Status.WARN  # its Via and Contact name another peer
