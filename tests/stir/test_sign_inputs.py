"""`sipprobe invite --identity-key KEY --identity-cert URL`: what cannot be signed is refused
before any packet (exit 2), the key is never printed, and what is signed carries the
From and To numbers, iat now, a fresh origid and the attestation asked for."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from probe.cli.commands import cli
from probe.net.call import CallSettings as CallPlan
from probe.net.call import identity_fields
from probe.run.commands import OptionsRequest
from probe.run.invite import InviteRequest, build_call
from probe.settings import CallSettings
from probe.sip import parse_uri
from probe.stir.passport import decode_full
from probe.stir.tn import date_epoch
from probe.tls.lab import LabFiles
from tests.helpers import Refused, refuse

X5U = "https://cert.example.test/shaken.pem"
FROM = "sip:+1-555-0123@example.test"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        server.setblocking(False)
        yield server


def nothing_connected(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except BlockingIOError:
        return True
    connection.close()
    return False


def key_file(
    tmp_path: Path, key: object, name: str = "key.pem", password: bytes | None = None
) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    data = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path = tmp_path / name
    path.write_bytes(data)
    return path


def invite(port: int, *options: str) -> list[str]:
    return [
        "invite",
        f"sip:127.0.0.1:{port};transport=tls",
        "--to",
        "+15550100",
        "--timeout",
        "1",
        *options,
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--identity-cert", X5U], "--identity-key and --identity-cert go together"),
        (["--identity-key", "{key}"], "--identity-key and --identity-cert go together"),
        (["--identity-key", "{key}", "--identity-cert", X5U], "give --from with a telephone"),
        (
            ["--from", "sip:alice@example.test", "--identity-key", "{key}", "--identity-cert", X5U],
            "give --from with a telephone",
        ),
        (
            ["--from", FROM, "--identity-key", "{key}", "--identity-cert", "http://x/c.pem"],
            "an https URL",
        ),
        (
            ["--from", FROM, "--identity-key", "{rsa}", "--identity-cert", X5U],
            "P-256",
        ),
        (
            ["--from", FROM, "--identity-key", "{p384}", "--identity-cert", X5U],
            "P-256",
        ),
        (
            ["--from", FROM, "--identity-key", "{encrypted}", "--identity-cert", X5U],
            "encrypted",
        ),
        (
            ["--from", FROM, "--identity-key", "{missing}", "--identity-cert", X5U],
            "No such file",
        ),
        (
            ["--from", FROM, "--identity-key", "{junk}", "--identity-cert", X5U],
            "no PEM private key",
        ),
    ],
)
def test_a_call_that_cannot_be_signed_is_refused_before_any_packet(
    tmp_path: Path, listener: socket.socket, options: list[str], message: str
) -> None:
    good = ec.generate_private_key(ec.SECP256R1())
    paths = {
        "key": key_file(tmp_path, good),
        "rsa": key_file(tmp_path, rsa.generate_private_key(65537, 2048), "rsa.pem"),
        "p384": key_file(tmp_path, ec.generate_private_key(ec.SECP384R1()), "p384.pem"),
        "encrypted": key_file(tmp_path, good, "enc.pem", password=b"pw"),
        "missing": tmp_path / "missing.pem",
        "junk": tmp_path / "junk.pem",
    }
    paths["junk"].write_text("hello")
    args = [option.format(**{k: str(v) for k, v in paths.items()}) for option in options]
    result = CliRunner().invoke(cli, invite(listener.getsockname()[1], *args))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "PRIVATE KEY" not in result.output
    secret = hex(good.private_numbers().private_value)[2:14]
    assert secret not in result.output
    assert nothing_connected(listener)


def signed_plan(lab: LabFiles, attest: str = "A") -> CallPlan:
    assert lab.sti is not None
    call = CallSettings(
        to="+15550100",
        from_=FROM,
        identity_key=lab.sti.key,
        identity_cert=X5U,
        identity_attest=attest,
    )
    request = InviteRequest(OptionsRequest(targets=["sip:127.0.0.1;transport=tls"]), call)
    return build_call(request, refuse, parse_uri("sip:sbc.example.test;transport=tls"))


def test_the_signed_passport_carries_the_call(lab: LabFiles) -> None:
    plan = signed_plan(lab, attest="B")
    assert plan.identity is not None
    assert "PRIVATE" not in repr(plan)
    assert "key=" not in repr(plan.identity)
    (date_name, date), (identity_name, identity) = identity_fields(plan, now=1_800_000_000.5)
    assert (date_name, identity_name) == ("Date", "Identity")
    assert date_epoch(date) == 1_800_000_000
    token, _, params = identity.partition(";")
    assert params == f"info=<{X5U}>;alg=ES256;ppt=shaken"
    passport, problems = decode_full(token)
    assert passport is not None
    assert problems == []
    assert passport.header == {"alg": "ES256", "ppt": "shaken", "typ": "passport", "x5u": X5U}
    claims = dict(passport.claims)
    assert uuid.UUID(claims.pop("origid")).version == 4
    assert claims == {
        "attest": "B",
        "dest": {"tn": ["15550100"]},
        "iat": 1_800_000_000,
        "orig": {"tn": "15550123"},
    }
    # Each call gets its own origid.
    again = identity_fields(plan, now=1_800_000_000.5)[1][1]
    assert again != identity


def test_an_unsigned_call_adds_nothing(lab: LabFiles) -> None:
    call = CallSettings(to="+15550100")
    request = InviteRequest(OptionsRequest(targets=["sip:127.0.0.1;transport=tls"]), call)
    plan = build_call(request, refuse, parse_uri("sip:sbc.example.test;transport=tls"))
    assert plan.identity is None
    assert identity_fields(plan) == ()


def test_a_callee_without_a_number_cannot_be_signed(lab: LabFiles) -> None:
    assert lab.sti is not None
    call = CallSettings(
        to="sip:alice@example.test", from_=FROM, identity_key=lab.sti.key, identity_cert=X5U
    )
    request = InviteRequest(OptionsRequest(targets=["sip:127.0.0.1;transport=tls"]), call)
    with pytest.raises(Refused, match="names no telephone number"):
        build_call(request, refuse, parse_uri("sip:sbc.example.test;transport=tls"))
