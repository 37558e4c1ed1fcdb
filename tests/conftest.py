"""Fixtures shared by the whole suite: the lab PKI and the real peers."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.tls.lab import LabFiles, write_lab
from tests.peers.common import free_port
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio

LAB_NAME = "sip.example.test"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabFiles:
    """A lab PKI: root → intermediate → server leaf for sip.example.test, 127.0.0.1, ::1."""
    return write_lab(tmp_path_factory.mktemp("lab"), server_names=(LAB_NAME,))


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory: pytest.TempPathFactory, lab: LabFiles) -> Iterator[Kamailio]:
    profiles = [
        TlsProfile("tls", lab.server, lab.server_key),
        TlsProfile("mtls", lab.server, lab.server_key, ca=lab.ca, require_client_cert=True),
    ]
    instance = start_kamailio(tmp_path_factory.mktemp("kamailio"), profiles)
    yield instance
    instance.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback TCP port with nothing listening (connections are refused)."""
    return free_port()


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP (the kernel completes the handshake) and never speaks."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.fixture
def lab_dir(lab: LabFiles) -> Path:
    return lab.directory
