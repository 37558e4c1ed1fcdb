"""Responders for the tests in this folder, always stopped; and the real UAC to call them."""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from probe.evidence.model import ProbeEvidence, Target, Transport
from probe.net.call import CallSettings
from probe.net.options import ProbeSettings, collect_options
from probe.serve import Responder, ResponderConfig
from probe.sip import parse_uri
from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.serve.sip_client import CALLEE

StartResponder = Callable[..., Awaitable[Responder]]


@pytest.fixture(autouse=True)
def no_resource_leaks() -> Iterator[None]:
    """Every socket and transport a test's responders opened is closed by them, not by
    the garbage collector: a ResourceWarning anywhere in the test fails it."""
    gc.collect()  # what earlier tests left for the collector is not this test's doing
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, leaks


@pytest.fixture
async def start_responder(lab: LabFiles) -> AsyncIterator[StartResponder]:
    """`await start_responder(media=..., answer_delay=...)`: a TLS+TCP+UDP responder on
    127.0.0.1 with the lab's server certificate, stopped when the test ends."""
    started: list[Responder] = []

    async def start(**options: Any) -> Responder:
        config = ResponderConfig(
            transports=("tls", "tcp", "udp"),
            cert_file=lab.server,
            key_file=lab.server_key,
            **options,
        )
        responder = Responder(config)
        await responder.start()
        started.append(responder)
        return responder

    yield start
    for responder in started:
        await responder.stop()


async def probe(
    responder: Responder, transport: Transport = "tls", *, call: bool = False, **call_options: Any
) -> ProbeEvidence:
    """OPTIONS, or with `call=True` a test call through our own UAC (`place_call`)."""
    port = responder.port_of(transport)
    text = f"sip:{LAB_NAME}:{port};transport={transport}"
    target = Target(
        uri=text,
        host=LAB_NAME,
        port=port,
        transport=transport,
        address="127.0.0.1",
    )
    settings = ProbeSettings(
        timeout=3.0, call=CallSettings(to=parse_uri(CALLEE), **call_options) if call else None
    )
    return await collect_options(parse_uri(text), target, settings)
