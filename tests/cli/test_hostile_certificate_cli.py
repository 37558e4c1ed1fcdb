"""Hostile certificates served over real TLS on loopback, probed through the command line.

Each target is a `sipprobe serve` process presenting a chain from the project's own PKI
generator. A certificate cryptography cannot read fails that target with a report (exit 1),
never an internal error, and the healthy target of the same run still passes; the healthy
one carries only URI:sip:<domain> (RFC 5922 §7.1's preferred form).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from cryptography import x509

from probe.tls import pki

SIPPROBE = [sys.executable, "-m", "probe"]
HEALTHY = "healthy.example.test"
DUPLICATE = "duplicate.example.test"
X400 = "x400.example.test"
# certificatePolicies (RFC 5280 §4.2.1.4) naming CA/B Forum's domain-validated policy.
DV_POLICY = pki.RawExtension(
    x509.CertificatePolicies.oid,
    pki.der_tlv(0x30, pki.der_tlv(0x30, pki.der_tlv(0x06, bytes.fromhex("67810c010201")))),
)


def write_chain(directory: Path, name: str, leaf: pki.Issued, issuer: pki.Issued) -> Path:
    (directory / f"{name}.pem").write_bytes(leaf.cert_pem() + issuer.cert_pem())
    (directory / f"{name}.key").write_bytes(leaf.key_pem())
    return directory / name


@contextmanager
def serving(files: Path) -> Iterator[int]:
    server = subprocess.Popen(
        [
            *SIPPROBE,
            "serve",
            "--port",
            "0",
            "--cert",
            f"{files}.pem",
            "--key",
            f"{files}.key",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("listening on tls 127.0.0.1:"), line + server.stderr.read()
        yield int(line.rsplit(":", 1)[1])
    finally:
        server.terminate()
        server.wait(10)
        for pipe in (server.stdout, server.stderr):
            if pipe is not None:
                pipe.close()


def test_unreadable_certificates_fail_their_target_only(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    root = pki.make_root_ca("sipprobe hostile-test root", now=now)
    issuer = pki.make_intermediate_ca(root, "sipprobe hostile-test CA", now=now)
    (tmp_path / "ca.pem").write_bytes(root.cert_pem())
    leaves = {
        HEALTHY: pki.make_leaf(
            issuer, common_name=None, sip_uris=[f"sip:{HEALTHY}"], key_type="ec", now=now
        ),
        DUPLICATE: pki.make_leaf(
            issuer,
            common_name=DUPLICATE,
            dns_names=[DUPLICATE],
            key_type="ec",
            now=now,
            # OpenSSL serves a certificate with a repeated certificatePolicies (it refuses
            # to load one with a repeated subjectAltName); cryptography refuses to read it.
            raw_extensions=[DV_POLICY, DV_POLICY],
        ),
        X400: pki.make_leaf(
            issuer,
            common_name=X400,
            include_san=False,
            key_type="ec",
            now=now,
            raw_extensions=[pki.raw_subject_alt_name(pki.X400_ADDRESS, pki.raw_dns_name(X400))],
        ),
    }
    with ExitStack() as stack:
        ports = {
            name: stack.enter_context(serving(write_chain(tmp_path, name, leaf, issuer)))
            for name, leaf in leaves.items()
        }
        args = [*SIPPROBE, "options", "--ca", str(tmp_path / "ca.pem"), "--format", "json"]
        for name, port in ports.items():
            args += [f"sip:{name}:{port};transport=tls", "--resolve", f"{name}:{port}:127.0.0.1"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "fail"
    by_target: dict[str, dict[str, dict[str, object]]] = {}
    for finding in report["findings"]:
        [host] = [name for name in leaves if name in str(finding["target"])]
        by_target.setdefault(host, {})[str(finding["check"])] = finding
    assert set(by_target) == set(leaves)

    healthy = by_target[HEALTHY]
    for check in ("tls.chain", "tls.identity", "tls.validity", "tls.key", "sip.options"):
        assert healthy[check]["status"] == "pass", healthy[check]
    assert "sip:healthy.example.test" in str(healthy["tls.identity"]["summary"])

    hostile = ((DUPLICATE, "DuplicateExtension"), (X400, "UnsupportedGeneralNameType"))
    for name, exception in hostile:
        findings = by_target[name]
        for check in ("tls.chain", "tls.identity", "tls.eku"):
            assert findings[check]["status"] == "fail", (name, check)
            assert exception in str(findings[check]["summary"]), (name, check)
        assert str(findings["tls.chain"]["summary"]).startswith("the leaf certificate #1")
    # The certificate being unreadable does not stop the probe: OPTIONS was still answered.
    assert by_target[DUPLICATE]["sip.options"]["status"] == "pass"
