"""Every lab certificate variant, served by a real Kamailio, judged end to end.

One Kamailio instance, one TLS listener per variant (per-`ip:port` TLS profiles), plus a
TLS-1.2-only listener with the four suites Microsoft Teams allows, a listener that still
accepts TLS 1.0/1.1 and anonymous suites, and one that requires a client certificate. The
ground-truth table says, for each listener, which checks do not pass and which words the
summary must contain; every other check must pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probe.report.model import Report
from probe.run.commands import OptionsRequest, run_options_command
from probe.settings import Settings
from probe.tls.lab import VARIANT_NAMES, LabFiles, write_lab
from probe.verdict.findings import Finding, Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

pytestmark = pytest.mark.peer

TEAMS_SUITES = (
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA256"
)

# listener → {check: (status, words the summary must contain)}; unlisted checks pass.
GROUND_TRUTH: dict[str, dict[str, tuple[Status, str]]] = {
    "good": {},
    "good-via-intermediate": {},
    "missing-intermediate": {
        "tls.chain": (Status.FAIL, "did not send the intermediate certificate"),
    },
    "expired": {
        "tls.chain": (Status.FAIL, "expired"),
        "tls.validity": (Status.FAIL, "expired 10 days ago"),
    },
    "not-yet-valid": {
        "tls.chain": (Status.FAIL, "not valid before"),
        "tls.validity": (Status.FAIL, "not valid until"),
    },
    "expiring-3-days": {"tls.validity": (Status.FAIL, "7-day critical window")},
    "wrong-host": {"tls.identity": (Status.FAIL, "not for sip.example.test")},
    "self-signed": {"tls.chain": (Status.FAIL, "self-signed")},
    "cn-only": {"tls.identity": (Status.WARN, "Common Name")},
    "wildcard": {"tls.identity": (Status.FAIL, "RFC 5922")},
    "rsa-1024": {"tls.key": (Status.FAIL, "1024-bit RSA key")},
    "sha1-signed": {
        "tls.chain": (Status.FAIL, "sha1"),
        "tls.signature": (Status.FAIL, "SHA-1"),
    },
    "no-server-auth": {
        "tls.chain": (Status.FAIL, "serverAuth"),
        "tls.eku": (Status.FAIL, "only clientAuth"),
    },
    "sip-domain-only": {},
    "mtls": {
        "tls.client_cert": (Status.FAIL, "requires a client certificate and none was sent"),
        "sip.options": (Status.FAIL, "certificate required"),
        "sip.response": (Status.SKIP, "no response"),
    },
}
ENUMERATED_TRUTH: dict[str, dict[str, tuple[Status, str]]] = {
    "tls12-only": {},
    "legacy": {
        "tls.versions": (Status.WARN, "TLS 1.0, 1.1 still accepted"),
        "tls.ciphers": (Status.FAIL, "anonymous"),
    },
}
ALWAYS = (
    "net.connect",
    "tls.handshake",
    "tls.version",
    "tls.chain",
    "tls.identity",
    "tls.validity",
    "tls.key",
    "tls.signature",
    "tls.eku",
    "tls.client_cert",
    "sip.options",
    "sip.response",
)


@pytest.fixture(scope="module")
def variant_lab(tmp_path_factory: pytest.TempPathFactory) -> LabFiles:
    return write_lab(tmp_path_factory.mktemp("variant-lab"), server_names=(LAB_NAME,))


@pytest.fixture(scope="module")
def variant_server(
    tmp_path_factory: pytest.TempPathFactory, variant_lab: LabFiles
) -> Iterator[Kamailio]:
    lab = variant_lab
    profiles = [TlsProfile(name, files.chain, files.key) for name, files in lab.variants.items()]
    profiles += [
        TlsProfile(
            "tls12-only", lab.server, lab.server_key, method="TLSv1.2", cipher_list=TEAMS_SUITES
        ),
        TlsProfile(
            "legacy", lab.server, lab.server_key, method="TLSv1+", cipher_list="ALL:@SECLEVEL=0"
        ),
        TlsProfile("mtls", lab.server, lab.server_key, ca=lab.ca, require_client_cert=True),
    ]
    instance = start_kamailio(
        tmp_path_factory.mktemp("kamailio-variants"), profiles, allow_weak=True
    )
    yield instance
    instance.stop()
    assert not instance.crashed(), "Kamailio crashed (signal 11) during the variant tests"


def probe(server: Kamailio, lab: LabFiles, names: list[str], **options: Any) -> Report:
    ports = [server.ports[name] for name in names]
    return run_options_command(
        OptionsRequest(
            targets=[f"sip:{LAB_NAME}:{port};transport=tls" for port in ports],
            settings=Settings.from_flat(
                options,
                pins=[f"{LAB_NAME}:{port}:127.0.0.1" for port in ports],
                ca=lab.ca,
                concurrency=2,
            ),
        ),
        on_usage_error=no_usage_error,
    )


def by_listener(server: Kamailio, report: Report) -> dict[str, dict[str, Finding]]:
    names = {port: name for name, port in server.ports.items()}
    return {
        names[result.target.port]: {finding.check: finding for finding in result.findings}
        for result in report.results
    }


def assert_table(
    truth: dict[str, dict[str, tuple[Status, str]]], seen: dict[str, dict[str, Finding]]
) -> None:
    problems = []
    for listener, expected in truth.items():
        checks = seen[listener]
        for check in ALWAYS:
            if check not in checks:
                problems.append(f"{listener}: no {check} finding")
        for check, finding in checks.items():
            status, words = expected.get(check, (Status.PASS, ""))
            if finding.status is not status or words not in finding.summary:
                problems.append(
                    f"{listener}: {check} is {finding.status.value} ({finding.summary!r}); "
                    f"expected {status.value} with {words!r}"
                )
    assert not problems, "\n".join(problems)


def test_ground_truth_table(variant_server: Kamailio, variant_lab: LabFiles) -> None:
    assert set(VARIANT_NAMES) <= set(GROUND_TRUTH)
    report = probe(variant_server, variant_lab, list(GROUND_TRUTH))
    assert_table(GROUND_TRUTH, by_listener(variant_server, report))


def test_enumerated_ground_truth(variant_server: Kamailio, variant_lab: LabFiles) -> None:
    report = probe(variant_server, variant_lab, list(ENUMERATED_TRUTH), enumerate_tls=True)
    seen = by_listener(variant_server, report)
    assert_table(ENUMERATED_TRUTH, seen)
    assert seen["tls12-only"]["tls.versions"].details["accepted"] == ["1.2"]
    teams = seen["tls12-only"]["tls.ciphers"].details["accepted"]
    assert sorted(name for names in teams.values() for name in names) == sorted(
        TEAMS_SUITES.split(":")
    )
    assert {"1.0", "1.1"} <= set(seen["legacy"]["tls.versions"].details["accepted"])


def test_missing_intermediate_names_the_issuer(
    variant_server: Kamailio, variant_lab: LabFiles
) -> None:
    chain = by_listener(
        variant_server, probe(variant_server, variant_lab, ["missing-intermediate"])
    )["missing-intermediate"]["tls.chain"]
    assert "sipprobe lab intermediate CA" in chain.summary
    assert chain.details["leaf_issuer_presented"] is False
    assert chain.details["presented_count"] == 1


def test_policy_decides_wildcards_and_windows(
    variant_server: Kamailio, variant_lab: LabFiles
) -> None:
    seen = by_listener(
        variant_server,
        probe(
            variant_server,
            variant_lab,
            ["wildcard", "expiring-3-days"],
            accept_wildcard=True,
            critical_days=1,
        ),
    )
    identity = seen["wildcard"]["tls.identity"]
    assert identity.status is Status.PASS
    assert identity.details["rfc5922_ok"] is False
    assert identity.details["rfc2818_ok"] is True
    assert seen["expiring-3-days"]["tls.validity"].status is Status.WARN


@pytest.mark.parametrize(
    ("client", "status", "words"),
    [
        ("good", Status.PASS, "accepted ours"),
        ("untrusted", Status.FAIL, "rejected our client certificate (TLS alert 'unknown ca')"),
    ],
)
def test_mutual_tls_outcomes(
    variant_server: Kamailio, variant_lab: LabFiles, client: str, status: Status, words: str
) -> None:
    cert: Path = variant_lab.client if client == "good" else variant_lab.untrusted_client
    key: Path = variant_lab.client_key if client == "good" else variant_lab.untrusted_client_key
    seen = by_listener(
        variant_server, probe(variant_server, variant_lab, ["mtls"], cert=cert, key=key)
    )
    finding = seen["mtls"]["tls.client_cert"]
    assert finding.status is status, finding.summary
    assert words in finding.summary
    assert finding.details["sent"] is True
