"""The password of an encrypted client key (probe.run.credentials.load_key_password and
probe.tls.context): read from a file's first line or SIPPROBE_KEY_PASSWORD, checked
before any connection, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.run.credentials import load_key_password
from probe.tls.context import TlsClientConfig, TlsConfigError, check_client_config
from probe.tls.lab import LabFiles
from tests.helpers import Refused, refuse


def lab_password(lab: LabFiles) -> bytes:
    return lab.client_key_password.read_bytes().strip()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"s3cret\n", b"s3cret"),
        (b"s3cret\r\nsecond line ignored\n", b"s3cret"),
        (b"no newline", b"no newline"),
        (b" spaces are kept \n", b" spaces are kept "),
        (b"\xffnot-utf8\n", b"\xffnot-utf8"),
    ],
)
def test_the_first_line_of_the_file_is_the_password(
    tmp_path: Path, content: bytes, expected: bytes
) -> None:
    path = tmp_path / "pass"
    path.write_bytes(content)
    assert load_key_password(path, {"SIPPROBE_KEY_PASSWORD": "env"}, refuse) == expected


def test_the_environment_when_there_is_no_file() -> None:
    assert load_key_password(None, {"SIPPROBE_KEY_PASSWORD": "from-env"}, refuse) == b"from-env"
    assert load_key_password(None, {}, refuse) is None


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the first line is empty"),
        (b"\nsecond\n", "the first line is empty"),
        (b"x" * 1025 + b"\n", "longer than the 1024 bytes"),
    ],
)
def test_a_password_that_cannot_be_used_is_refused(
    tmp_path: Path, content: bytes, words: str
) -> None:
    path = tmp_path / "pass"
    path.write_bytes(content)
    with pytest.raises(Refused, match=words):
        load_key_password(path, {}, refuse)
    with pytest.raises(Refused, match="set but empty"):
        load_key_password(None, {"SIPPROBE_KEY_PASSWORD": ""}, refuse)


def test_the_lab_key_loads_with_its_password_and_not_without(lab: LabFiles) -> None:
    encrypted = TlsClientConfig(cert_file=lab.client, key_file=lab.client_key_encrypted)
    with pytest.raises(TlsConfigError, match="is encrypted; give its password with"):
        check_client_config(encrypted)
    check_client_config(
        TlsClientConfig(
            cert_file=lab.client, key_file=lab.client_key_encrypted, key_password=lab_password(lab)
        )
    )
    wrong = b"not-" + lab_password(lab)
    config = TlsClientConfig(
        cert_file=lab.client, key_file=lab.client_key_encrypted, key_password=wrong
    )
    with pytest.raises(TlsConfigError) as caught:
        check_client_config(config)
    assert "does not decrypt" in str(caught.value)
    assert wrong.decode() not in str(caught.value)
    assert wrong.decode() not in repr(config)


def test_a_password_for_a_key_that_needs_none_is_harmless(lab: LabFiles) -> None:
    check_client_config(
        TlsClientConfig(cert_file=lab.client, key_file=lab.client_key, key_password=b"unused")
    )
