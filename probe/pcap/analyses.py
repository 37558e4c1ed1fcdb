"""The analyses an audit runs: the one place a new analysis is plugged in.

Each TCP stream is offered to them in this order (the first to claim it keeps it), and
every UDP datagram goes to each. Adding an analysis (see probe.pcap's description):

1. its module in probe/pcap/, implementing probe.pcap.analysis.Analysis;
2. its line in `build_analyses` (and its listeners wired there);
3. its part of the evidence: an optional field named after it in
   probe.evidence.capture.CaptureEvidence (`None` by default, so older files load);
4. its checks in probe/verdict/checks/, listed in CAPTURE_CHECKS
   (probe.verdict.checks.registry).
"""

from __future__ import annotations

from probe.pcap.analysis import Analysis, AuditLimits
from probe.pcap.media_audit import MediaAnalysis, MediaOptions
from probe.pcap.sip_audit import SipAnalysis
from probe.pcap.tls_audit import TlsAnalysis

__all__ = ["build_analyses"]


def build_analyses(limits: AuditLimits, media: MediaOptions | None = None) -> list[Analysis]:
    """A fresh set of analyses for one audit: they hold that audit's state. `media`:
    the keys and expectations the media analysis is given."""
    sip = SipAnalysis(limits)
    tls = TlsAnalysis(limits)
    media_analysis = MediaAnalysis(limits, media)
    sip.sdp_listeners.append(media_analysis)
    return [sip, tls, media_analysis]
