"""Digest authentication against a real Kamailio (its auth module, 5.6) challenging OPTIONS
and INVITE with each algorithm it supports: MD5 (named, or left out of the challenge)
and SHA-256, with qop auth or none, as a 401 or a 407.

What Kamailio 5.6 cannot show is proven against the scripted far end of
tests/net/test_digest_auth.py instead: it knows no SHA-512-256 and no -sess variant (its
`algorithm` parameter takes "", MD5 or SHA-256, and it says so below), and although it
challenges with qop=auth-int it never hashes the body it checks against (its
auth_check_response hands calc_response an H(entity-body) it never computed), so it
refuses every auth-int answer, right or wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.report.model import Report
from probe.run.commands import OptionsRequest, run_options_command
from probe.run.invite import InviteRequest, run_invite_command
from probe.settings import CallSettings, Settings
from probe.tls.lab import LabFiles
from probe.verdict.findings import Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.kamailio import DigestAuth, Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

VARIANTS = {
    "md5-implicit": DigestAuth(algorithm="", qop="auth"),
    "md5-rfc2069": DigestAuth(algorithm="MD5", qop=""),
    "sha256": DigestAuth(algorithm="SHA-256", qop="auth"),
    "sha256-407": DigestAuth(algorithm="SHA-256", qop="auth", proxy=True),
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def challenging(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, lab: LabFiles
) -> Iterator[tuple[Kamailio, DigestAuth]]:
    auth = VARIANTS[request.param]
    profiles = [TlsProfile("tls", lab.server, lab.server_key)]
    instance = start_kamailio(tmp_path_factory.mktemp("kamailio-auth"), profiles, auth=auth)
    try:
        yield instance, auth
    finally:
        instance.stop()


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth"
    path.write_text("username=alice\npassword=s3cret\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def options(target: str, lab: LabFiles, port: int, **more: Any) -> Report:
    settings = Settings.from_flat(
        {"ca": lab.ca, "pins": [f"{LAB_NAME}:{port}:127.0.0.1"], "timeout": 2.0, **more}
    )
    return run_options_command(
        OptionsRequest(targets=[target], settings=settings), on_usage_error=no_usage_error
    )


def checks(report: Report) -> dict[str, Any]:
    return {finding.check: finding for finding in report.findings}


def expected_algorithm(auth: DigestAuth) -> str:
    return auth.algorithm or "MD5"  # no algorithm in a challenge means MD5 (RFC 7616 §3.3)


@pytest.mark.parametrize("transport", ["tls", "tcp", "udp"])
def test_options_answer_each_algorithm_kamailio_offers(
    challenging: tuple[Kamailio, DigestAuth], lab: LabFiles, auth_file: Path, transport: str
) -> None:
    kamailio, auth = challenging
    port = kamailio.tls_port if transport == "tls" else kamailio.plain_port
    target = f"sip:{LAB_NAME}:{port};transport={transport}"
    report = options(target, lab, port, auth_file=auth_file)
    found = checks(report)
    assert found["sip.options"].status is Status.PASS, found["sip.options"].summary
    assert "(with digest authentication)" in found["sip.options"].summary
    sip_auth = found["sip.auth"]
    assert sip_auth.details["status"] == (407 if auth.proxy else 401)
    assert sip_auth.details["offered"] == [f"Digest {expected_algorithm(auth)}"]
    assert sip_auth.details["answered_with"] == expected_algorithm(auth)
    assert sip_auth.details["qop"] == (auth.qop or None)
    assert sip_auth.details["answer_status"] == 200
    # An MD5-only challenge warns (RFC 8760 §3); SHA-256 passes.
    md5 = expected_algorithm(auth) == "MD5"
    assert sip_auth.status is (Status.WARN if md5 else Status.PASS), sip_auth.summary
    assert report.verdict == ("warn" if md5 else "pass"), [f.summary for f in report.findings]


def test_refused_credentials_fail_and_no_credentials_are_named(
    challenging: tuple[Kamailio, DigestAuth], lab: LabFiles, tmp_path: Path
) -> None:
    kamailio, _auth = challenging
    target = f"sip:{LAB_NAME}:{kamailio.tls_port};transport=tls"
    wrong = tmp_path / "wrong"
    wrong.write_text("username=alice\npassword=not-it\n", encoding="utf-8")
    refused = checks(options(target, lab, kamailio.tls_port, auth_file=wrong))
    assert refused["sip.auth"].status is Status.FAIL
    assert "credentials were refused" in refused["sip.auth"].summary
    assert refused["sip.options"].status is Status.FAIL
    silent = checks(options(target, lab, kamailio.tls_port))
    assert silent["sip.options"].status is Status.FAIL
    assert "no credentials were given" in silent["sip.auth"].summary
    assert silent["sip.auth"].details["authenticated"] is False


def test_an_invite_is_authenticated_by_kamailio(
    challenging: tuple[Kamailio, DigestAuth], lab: LabFiles, auth_file: Path
) -> None:
    kamailio, auth = challenging
    settings = Settings.from_flat(
        {"ca": lab.ca, "pins": [f"{LAB_NAME}:{kamailio.tls_port}:127.0.0.1"], "timeout": 2.0}
    )
    request = InviteRequest(
        OptionsRequest([f"sip:{LAB_NAME}:{kamailio.tls_port};transport=tls"], settings),
        CallSettings(to="+15550100", auth_file=auth_file, answer_timeout=3.0),
    )
    found = checks(run_invite_command(request, on_usage_error=no_usage_error))
    invite = found["sip.invite"]
    # Kamailio takes the credentials (auth-int: the SDP offer's hash too), then refuses the
    # call itself with 480: authenticated, and rejected for another reason.
    assert invite.details["final_status"] == 480, invite.summary
    assert "(with digest authentication)" in invite.summary
    assert invite.details["authenticated"] is True
    assert found["sip.auth"].details["answered_with"] == expected_algorithm(auth)
    assert found["sip.auth"].details["answer_status"] == 480
    assert found["sip.teardown"].details["dialogs_left_open"] == 0


def test_the_command_line_answers_a_challenge_from_its_auth_file(
    challenging: tuple[Kamailio, DigestAuth], lab: LabFiles, auth_file: Path
) -> None:
    kamailio, _auth = challenging
    port = kamailio.plain_port
    result = CliRunner().invoke(
        cli,
        [
            "options",
            f"sip:127.0.0.1:{port};transport=tcp",
            "--auth-file",
            str(auth_file),
            "--format",
            "json",
            "--timeout",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"sip.auth"' in result.output
    assert "s3cret" not in result.output


def test_environment_credentials_answer_too(
    challenging: tuple[Kamailio, DigestAuth], monkeypatch: pytest.MonkeyPatch, lab: LabFiles
) -> None:
    kamailio, _auth = challenging
    monkeypatch.setenv("SIPPROBE_AUTH_USER", "alice")
    monkeypatch.setenv("SIPPROBE_AUTH_PASSWORD", "s3cret")
    target = f"sip:{LAB_NAME}:{kamailio.tls_port};transport=tls"
    found = checks(options(target, lab, kamailio.tls_port))
    assert found["sip.options"].status is Status.PASS, found["sip.options"].summary
    assert found["sip.auth"].details["answer_status"] == 200


def test_kamailio_5_6_refuses_every_auth_int_answer_and_sipprobe_says_so(
    tmp_path: Path, lab: LabFiles, auth_file: Path
) -> None:
    # sipprobe's auth-int answer is checked by an independent verifier in
    # tests/net/test_digest_auth.py; here the point is that a server refusing it is
    # reported as refusing the credentials, never as authenticated.
    profiles = [TlsProfile("tls", lab.server, lab.server_key)]
    auth = DigestAuth(algorithm="SHA-256", qop="auth-int")
    kamailio = start_kamailio(tmp_path / "k", profiles, auth=auth)
    try:
        target = f"sip:{LAB_NAME}:{kamailio.plain_port};transport=tcp"
        found = checks(options(target, lab, kamailio.plain_port, auth_file=auth_file))
    finally:
        kamailio.stop()
    assert found["sip.auth"].details["qop"] == "auth-int"
    assert found["sip.auth"].status is Status.FAIL
    assert "credentials were refused (401 again)" in found["sip.auth"].summary
    assert "(digest credentials refused)" in found["sip.options"].summary
    assert found["sip.options"].status is Status.FAIL


@pytest.mark.parametrize("algorithm", ["SHA-512-256", "SHA-256-sess", "MD5-sess"])
def test_kamailio_5_6_offers_no_sha_512_256_and_no_sess_variant(
    tmp_path: Path, lab: LabFiles, algorithm: str
) -> None:
    # What the real peer cannot show; should a newer Kamailio accept one, add it above.
    profiles = [TlsProfile("tls", lab.server, lab.server_key)]
    with pytest.raises(RuntimeError, match='Possible values are "", "MD5" or "SHA-256"'):
        start_kamailio(tmp_path / "k", profiles, auth=DigestAuth(algorithm=algorithm))
