"""Fixtures of the inbound tests: the lab's STI PKI, for Identity headers signed at run
time and verified by the real verifier."""

from __future__ import annotations

import pytest

from probe.tls.sti_lab import StiLab, build_sti_lab


@pytest.fixture(scope="session")
def sti() -> StiLab:
    """STI-CA root → intermediate → SHAKEN leaf (TNAuthList SPC 1234), P-256 keys."""
    return build_sti_lab()
