"""Capture audit (`sipprobe pcap FILE`): what a packet capture proves, judged like a probe.

One pass over the file, in bounded memory::

    reader.py     records of a pcap or pcapng file (scapy's raw readers, imported lazily;
       │          how reading ended: complete, truncated, damaged)
    packets.py    link layer → IPv4/IPv6 → UDP/TCP, with struct; tunnels opened (IP in IP,
       │          GRE, ERSPAN, VXLAN); fragments.py reassembles IP fragments
    flows.py      both directions of a conversation as one flow, at most `max_flows` open
       │
    tcp.py        TCP reassembly per direction: order, retransmissions, holes as gaps
       │
    audit.py      the loop: each datagram to every analysis, each TCP stream to the
       │          analysis that claims it → probe.evidence.capture.CaptureEvidence
    analyses      sip_audit.py: cleartext SIP over UDP and TCP, `a=crypto` lines;
       │          media_audit.py: RTP, SRTP, DTLS-SRTP flows (rtp.py reads the packets,
       │          media_stream.py and media_dtls.py summarise them, media_classify.py
       │          classifies them, media_sdp.py ties them to their SDP, srtp_auth.py
       │          authenticates SRTP)
       │          tls_audit.py: TLS handshakes over TCP (tls_records.py reads them)
       ▼
    probe/verdict/checks/capture_sip.py   pcap.sip_cleartext, pcap.sdes_exposed
    probe/verdict/checks/capture_media.py pcap.media
    probe/verdict/checks/capture_tls.py   pcap.tls, pcap.tls_chain

Everything but reader.py is pure (no scapy, no socket) and is fed frames by tests.

The seam for a new analysis (media classification, the TLS handshake audit, ...):

- the contract is probe.pcap.analysis.Analysis: `name`, `datagram(Datagram)`,
  `claim_stream(flow, direction, head, mid_stream=, final=)` → a probe.pcap.tcp.StreamSink,
  `UNDECIDED` or None, `flow_closed(flow, why)` and `result()`; per-flow state goes in
  `flow.state[name]`, and `flow.labels` names the flows it recognised;
- it is plugged in at one place, probe.pcap.analyses.build_analyses, which also wires
  listeners between analyses (SipAnalysis.sdp_listeners hears every SDP body seen in
  cleartext SIP, as probe.pcap.analysis.SdpSeen);
- its `result()` is stored as the CaptureEvidence field named `name` (an optional field,
  None by default, so saved evidence from before it still loads and is re-judged by
  `sipprobe judge`); anything secret in it is masked where the file is written
  (probe.evidence.capture_file.redact_capture), though better never kept at all;
- its checks are probe.verdict.checks.unit.CaptureCheck units listed in
  probe.verdict.checks.registry.CAPTURE_CHECKS (`applies` when its part is not None; the
  part's name added to unit.CapturePart); they receive a CaptureJudging whose `policy`
  (an OptionsPolicy: TLS policy, trust anchors) is what a certificate seen in a capture
  is judged by; the audit's report, console, JSON, JUnit and Nagios follow from the
  findings.

The entry points: probe.pcap.audit.audit_capture(path) → CaptureEvidence (the file read
once; `sipprobe invite --capture` can call it on the file it recorded), judged by
probe.verdict.capture.judge_capture → a CaptureResult that goes in Report.captures
(capture_report makes the whole report of `sipprobe pcap`); probe.audit(path) is the
library's one call for both.
"""
