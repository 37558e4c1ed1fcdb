"""Cancellations that carry what was collected before them.

When a run is stopped (a signal, `--max-time`), its probes are cancelled. A probe that
was midway still ends what it started (a call gets its CANCEL or BYE, probe.net.call) and
then raises one of these instead of the bare cancellation: they are cancellations all the
same (asyncio and task groups treat them so), and the runner reads the partial evidence
from them for the report (probe.run.collect).
"""

from __future__ import annotations

import asyncio

from probe.evidence.model import CallEvidence, ProbeEvidence

__all__ = ["CallInterrupted", "ProbeInterrupted"]


class CallInterrupted(asyncio.CancelledError):
    """A test call cancelled midway; `evidence` is what it saw and how it was ended."""

    def __init__(self, evidence: CallEvidence) -> None:
        super().__init__("the call was interrupted")
        self.evidence = evidence


class ProbeInterrupted(asyncio.CancelledError):
    """A probe cancelled midway; `evidence` holds what it saw until then (the handshake,
    an interrupted call's evidence), its connection already closed."""

    def __init__(self, evidence: ProbeEvidence) -> None:
        super().__init__("the probe was interrupted")
        self.evidence = evidence
