"""The embedded responder, serving the lab certificate, in a thread of its own: the
commands under test call asyncio.run themselves, so they cannot share a test's loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe.serve import ResponderConfig
from probe.tls.lab import LabFiles
from tests.lab_responders import serving


@pytest.fixture(scope="module")
def responder_port(lab: LabFiles) -> Iterator[int]:
    config = ResponderConfig(
        host="127.0.0.1", transports=("tls",), cert_file=lab.server, key_file=lab.server_key
    )
    with serving([config]) as (port,):
        yield port
