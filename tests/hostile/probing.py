"""Probing a hostile server the way the CLI does: collect, then judge."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

from probe.evidence.model import ProbeEvidence, Target, Transport
from probe.net.call import CallSettings
from probe.net.deadlines import Deadlines
from probe.net.options import ProbeSettings, collect_options
from probe.sip import parse_uri
from probe.tls.lab import LabFiles
from probe.tls.trust import load_trust_anchors
from probe.verdict.checks import OptionsPolicy, judge_options
from probe.verdict.findings import Finding
from tests.conftest import LAB_NAME
from tests.hostile.server import Behaviour, DatagramBehaviour, Layer, hostile_server

TRANSPORT: dict[str, Transport] = {"raw": "tls", "tls": "tls", "tcp": "tcp", "udp": "udp"}


@dataclass(frozen=True)
class Outcome:
    evidence: ProbeEvidence
    findings: dict[str, Finding]
    elapsed: float
    """Seconds from the start of the probe to its evidence."""


async def probe_hostile(
    behaviour: Behaviour | DatagramBehaviour,
    layer: Layer,
    lab: LabFiles,
    deadlines: Deadlines,
    *,
    call: CallSettings | None = None,
) -> Outcome:
    async with hostile_server(behaviour, layer, lab) as port:
        transport = TRANSPORT[layer]
        text = f"sip:{LAB_NAME}:{port};transport={transport}"
        target = Target(
            uri=text, host=LAB_NAME, port=port, transport=transport, address="127.0.0.1"
        )
        settings = ProbeSettings(deadlines=deadlines, call=call)
        loop = asyncio.get_running_loop()
        started = loop.time()
        evidence = await collect_options(parse_uri(text), target, settings)
        elapsed = loop.time() - started
    policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
    findings = {finding.check: finding for finding in judge_options(evidence, policy)}
    return Outcome(evidence, findings, elapsed)
