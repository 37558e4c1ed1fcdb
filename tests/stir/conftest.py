"""Fixtures of the STIR tests: the lab's STI PKI and the local x5u server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from probe.tls.lab import LabFiles
from probe.tls.sti_lab import StiLab, build_sti_lab
from tests.stir.kit import Served


@pytest.fixture(scope="session")
def sti() -> StiLab:
    """STI-CA root → intermediate → SHAKEN leaf (TNAuthList SPC 1234), P-256 keys."""
    return build_sti_lab()


@pytest.fixture(scope="session")
def other_sti() -> StiLab:
    """An STI PKI the verifier does not trust."""
    return build_sti_lab(spc="9999")


@pytest.fixture
async def served(lab: LabFiles) -> AsyncIterator[Served]:
    servers = Served(lab)
    yield servers
    await servers.stop()
