"""Workload 10: `sipprobe pcap` auditing a large trunk capture, against tshark.

The capture is written by the harness (`bench.capture`, not committed): calls with SIP
and SDP over UDP, their RTP and SRTP-like media both ways, SIP over TCP split across
segments, TLS handshakes. Every contender reads the same file, which is in the page
cache from being written; rounds are interleaved as everywhere else.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import contenders as c
from bench.capture import CaptureFacts, CaptureSpec, write_capture
from bench.measure import GNU_TIME, InvalidMeasurement, Sample
from bench.model import Bench, Comparison, Contender, WorkloadResult, time_ratio

TSHARK = "/usr/bin/tshark"
RSS_BOUND_MB = 150.0
"""sipprobe's peak RSS, whatever the capture's size: flows are summarised as they go
(issue 17, "Bounded"), so a 1 GB capture needs no more than a small one."""


def _sipprobe_check(report: Path, facts: CaptureFacts) -> Callable[[Sample], dict[str, float]]:
    """sipprobe read every record to the end and found what the capture holds: its SIP
    in the clear (exit 1, verdict fail, as a capture with cleartext SIP must give) and
    every SDES key."""

    def check(sample: Sample) -> dict[str, float]:
        c.check_exit("sipprobe", sample, expected=1)
        data = c.load_json(report, "sipprobe")
        captures = data.get("captures") or [{}]
        read = captures[0].get("facts", {})
        if data.get("verdict") != "fail" or read.get("read") != "complete":
            raise InvalidMeasurement(
                f"sipprobe: verdict {data.get('verdict')!r}, read {read.get('read')!r} "
                f"({read.get('problem')!r}); expected fail, complete"
            )
        if read.get("records") != facts.records:
            raise InvalidMeasurement(
                f"sipprobe read {read.get('records')} records of {facts.records}"
            )
        findings = _by_check(data)
        messages = findings.get("pcap.sip_cleartext", {}).get("details", {}).get("messages")
        wanted = facts.udp_sip_messages + facts.tcp_sip_messages
        if messages != wanted:
            raise InvalidMeasurement(f"sipprobe found {messages} SIP messages of {wanted}")
        keyed = findings.get("pcap.sdes_exposed", {}).get("details", {}).get("messages_with_keys")
        if keyed != facts.crypto_lines or findings["pcap.sdes_exposed"].get("status") != "fail":
            raise InvalidMeasurement(
                f"sipprobe found {keyed} messages with SDES keys of {facts.crypto_lines}"
            )
        return {
            "records": float(read["records"]),
            "checks": float(len(captures[0].get("required", []))),
            "media_judged": float("pcap.media" in findings),
        }

    return check


def _by_check(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {finding.get("check"): finding for finding in report.get("findings", [])}


def _stream_rows(text: str) -> int:
    """Rows of tshark's `rtp,streams` table: each names its stream's SSRC (0x…)."""
    return sum(
        1
        for line in text.splitlines()
        if any(word.startswith("0x") and len(word) == 10 for word in line.split())
    )


def _tshark_check(
    name: str, out: Path, count: Callable[[str], int], wanted: int, what: str
) -> Callable[[Sample], dict[str, float]]:
    def check(sample: Sample) -> dict[str, float]:
        c.check_exit(name, sample)
        found = count(out.read_text(errors="replace"))
        if found != wanted:
            raise InvalidMeasurement(f"{name} found {found} {what} of {wanted}")
        return {"found": float(found)}

    return check


def capture_audit(bench: Bench) -> WorkloadResult:
    plan = bench.plan
    if not Path(TSHARK).exists():
        raise InvalidMeasurement(f"{TSHARK} is not installed (`make peers` installs it)")
    if not GNU_TIME.exists():
        raise InvalidMeasurement(f"peak RSS needs GNU time ({GNU_TIME}, Debian package `time`)")
    spec = CaptureSpec(calls=plan.capture_calls, seconds=plan.capture_seconds)
    capture = bench.workdir / "trunk.pcap"
    bench.log(f"    writing {capture.name}: {spec.calls} calls × {spec.seconds} s")
    facts = write_capture(capture, spec)
    bench.log(f"    {facts.records} records, {facts.bytes / 1e6:.0f} MB")
    # A run reads the whole file: allow 100 µs a record on a loaded machine.
    timeout = 60 + facts.records * 100e-6

    report = bench.workdir / "capture-report.json"
    sipprobe_argv = [
        str(bench.tools.sipprobe),
        "pcap",
        str(capture),
        "--format",
        "json",
        "--output",
        f"json={report}",
    ]
    streams_out = bench.workdir / "tshark-streams.txt"
    streams_argv = [
        TSHARK, "-n", "-r", str(capture), "-q", "--enable-heuristic", "rtp_udp",
        "-z", "rtp,streams",
    ]  # fmt: skip
    sip_out = bench.workdir / "tshark-sip.txt"
    sip_argv = [TSHARK, "-n", "-r", str(capture), "-Y", "sip"]
    sip_messages = facts.udp_sip_messages + facts.tcp_sip_messages
    steps = {
        "sipprobe": bench.step(
            "sipprobe-pcap",
            sipprobe_argv,
            _sipprobe_check(report, facts),
            timeout=timeout,
            fresh=[report],
        ),
        "tshark-rtp": bench.step(
            "tshark-rtp",
            streams_argv,
            _tshark_check(
                "tshark -z rtp,streams", streams_out, _stream_rows, facts.media_flows, "RTP streams"
            ),
            timeout=timeout,
            stdout=streams_out,
        ),
        "tshark-sip": bench.step(
            "tshark-sip",
            sip_argv,
            _tshark_check(
                "tshark -Y sip",
                sip_out,
                lambda text: len(text.splitlines()),
                sip_messages,
                "SIP messages",
            ),
            timeout=timeout,
            stdout=sip_out,
        ),
    }
    # No warm-up run: the capture was just written, so it is in the page cache for every
    # contender alike, and a warm-up would read the whole file three more times.
    series = bench.rounds(steps, plan.capture_rounds, warmup=[])
    ours, rtp, sip = series["sipprobe"], series["tshark-rtp"], series["tshark-sip"]
    rss = {key: s.rss_mb() for key, s in series.items()}
    if any(value is None for value in rss.values()):
        raise InvalidMeasurement("peak RSS was not measured")
    peak = max(sample.maxrss_kib for sample in ours.samples) * 1024 / 1e6
    checks = statistics.median(x["checks"] for x in ours.extra)
    media = any(x["media_judged"] for x in ours.extra)

    def rate(key: str) -> float:
        return facts.records / series[key].wall().median

    def rss_text(key: str) -> str:
        stats = rss[key]
        assert stats is not None
        return f"{stats.median:.0f} MB"

    megabytes = facts.bytes / 1e6
    return WorkloadResult(
        key="capture",
        title=f"10. Capture audit: a {megabytes:,.0f} MB trunk capture, versus tshark",
        what=(
            f"A capture written by the harness (`bench/capture.py`, classic pcap, Ethernet): "
            f"{spec.calls} calls over {spec.seconds} s, each set up by an INVITE and a 200 "
            "with SDP over UDP (one in two `RTP/SAVP` with an `a=crypto` line), with media "
            "both ways every 20 ms (160-byte payloads: PCMU-like RTP for the plain calls, "
            "high-entropy payloads with an 80-bit tag for the SRTP ones), an OPTIONS ping "
            f"every second, {facts.tcp_sip_messages // 2} INVITEs over TCP split across "
            f"three segments and {facts.tls_sessions} TLS handshakes on 5061: "
            f"{facts.records:,} records, {facts.bytes:,} bytes, {facts.media_flows} media "
            "streams. Each contender reads the whole file once per round; wall time, CPU "
            "(user + system) and peak RSS (GNU time) of the process."
        ),
        fairness=[
            "`sipprobe pcap` audits every packet in one pass: SIP over UDP and TCP "
            "(reassembled), SDES keys in the SDP, and, where the capture audit has it, "
            f"each media flow's classification (`pcap.media`): {checks:.0f} checks in this "
            f"run, media classification {'included' if media else 'not yet in the audit'}. "
            "Its JSON report must say it read every record to the end, found every SIP "
            "message and every key (verdict fail: the capture holds cleartext SIP and SDES "
            "keys), or the run is refused.",
            "`tshark -z rtp,streams` is tshark's own classification of RTP streams (loss, "
            "delta, jitter per stream), the nearest equivalent of sipprobe's media "
            "classification; `--enable-heuristic rtp_udp` (tshark 4.0's form of the old "
            "`rtp.heuristic_rtp` preference) makes it find RTP without the SDP, as "
            "sipprobe does. It must list every media stream. It dissects every packet "
            "fully, SIP and TCP reassembly included, but cannot tell SRTP from RTP.",
            "`tshark -Y sip` prints one line per SIP message (TCP reassembled); it must "
            "print exactly the capture's SIP messages.",
            "The file is in the page cache for every run (it was just written; no warm-up "
            "run); `-n`: tshark resolves no names.",
        ],
        contenders=[
            Contender("sipprobe", "sipprobe pcap", bench.shown(sipprobe_argv), 1),
            Contender("tshark-rtp", "tshark, RTP streams", bench.shown(streams_argv), 1),
            Contender("tshark-sip", "tshark, SIP filter", bench.shown(sip_argv), 1),
        ],
        series=series,
        comparisons=[
            time_ratio(ours, rtp, "wall time: sipprobe ÷ tshark -z rtp,streams"),
            time_ratio(ours, sip, "wall time: sipprobe ÷ tshark -Y sip"),
            Comparison(
                "CPU: sipprobe ÷ tshark -z rtp,streams",
                ours.cpu().median / rtp.cpu().median,
                tuple(x.cpu_s / y.cpu_s for x, y in zip(ours.samples, rtp.samples, strict=True)),
            ),
            Comparison(
                "sipprobe's highest peak RSS of any run", peak, (), "<=", RSS_BOUND_MB, " MB"
            ),
        ],
        facts=[
            "Records per second (median wall time): "
            f"sipprobe {rate('sipprobe'):,.0f}, tshark -z rtp,streams {rate('tshark-rtp'):,.0f}, "
            f"tshark -Y sip {rate('tshark-sip'):,.0f}.",
            f"Peak RSS (median): sipprobe {rss_text('sipprobe')}, tshark -z rtp,streams "
            f"{rss_text('tshark-rtp')}, tshark -Y sip {rss_text('tshark-sip')}: tshark "
            "keeps state for every frame, sipprobe a summary per flow.",
        ],
        rate_unit=None,
    )
