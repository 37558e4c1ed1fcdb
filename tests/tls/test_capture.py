"""The capture adapter leans on two private CPython hooks: fail loudly if they vanish."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from probe.tls.capture import HandshakeRecorder, install_recorder, private_hooks_available
from probe.tls.context import TlsClientConfig, TlsConfigError, build_capture_context


def test_private_hooks_exist_on_this_python() -> None:
    assert private_hooks_available(), (
        "ssl no longer offers get_unverified_chain or _msg_callback: the TLS capture "
        "adapter (probe/tls/capture.py) must be ported"
    )


def test_recorder_sees_only_a_received_certificate_request() -> None:
    ours = object()
    recorder = HandshakeRecorder()
    recorder(ours, "write", None, 22, 1, b"")  # our ClientHello: the recorder is ours now
    recorder(ours, "write", None, 22, 13, b"")
    recorder(ours, "read", None, 23, 13, b"")
    assert not recorder.client_cert_requested
    recorder(ours, "read", None, 22, 13, b"")
    assert recorder.client_cert_requested


def test_recorder_ignores_the_earlier_connections_of_a_reused_context() -> None:
    earlier, ours = object(), object()
    recorder = HandshakeRecorder()
    # Before our ClientHello, and from any other connection after it: not ours.
    recorder(earlier, "read", None, 22, 13, b"")
    recorder(ours, "write", None, 22, 1, b"")
    recorder(earlier, "read", None, 22, 13, b"")
    assert not recorder.client_cert_requested
    recorder(ours, "read", None, 22, 13, b"")
    assert recorder.client_cert_requested


def test_install_recorder_attaches_to_the_context() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    recorder = install_recorder(context)
    assert context._msg_callback is recorder  # type: ignore[attr-defined]


def test_capture_context_does_not_verify_and_honours_min_version() -> None:
    context, _ = build_capture_context(TlsClientConfig(min_version="1.3"))
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3


def test_unloadable_client_certificate_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(TlsConfigError, match="cannot load client certificate"):
        build_capture_context(TlsClientConfig(cert_file=missing))


def test_capture_contexts_are_reused_one_handshake_at_a_time() -> None:
    from probe.tls.context import CaptureContexts

    pool = CaptureContexts(TlsClientConfig(min_version="1.2"))
    with pool.checkout() as (first, first_recorder):
        first_recorder.client_cert_requested = True
        with pool.checkout() as (second, _):
            assert second is not first, "two handshakes at once shared a context"
    with pool.checkout() as (again, recorder):
        assert again in (first, second)
        assert recorder.client_cert_requested is False, "a recorder outlived its handshake"
        assert again._msg_callback is recorder  # type: ignore[attr-defined]
        assert again.verify_mode is ssl.CERT_NONE
