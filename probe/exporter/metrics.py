"""One probe as Prometheus metrics: what the exporter's `/probe` answers and what
`--format prometheus` writes (docs/prometheus/metrics.md lists every metric).

The samples are built from the report and the evidence it was judged from, as plain
data (`probe_samples`, `file_samples`): nothing here opens a socket or reads a clock.
`probe_registry` and `file_registry` put them in a fresh `CollectorRegistry` of their
own (never prometheus_client's global one, which would keep a probe's series for ever),
and `exposition` renders one in the text format. prometheus_client is imported by those
three only, when they are called.

Every metric is a gauge; blackbox_exporter's names are kept where the meaning is the
same (`probe_success`, `probe_duration_seconds`, ...), so its dashboards and alerts work.
Label values are bounded: check ids and statuses, the configured target and endpoint URIs
(which the operator wrote), the address:port/transport of a located target, TLS version
names, SRTP suite names, and certificate subjects cut to 128 characters with control
characters replaced, at most 10 certificates per chain.

Which series carry which labels:

- a failover probe's series about one endpoint or one of its targets carry `endpoint`
  (the URI as configured) and `position` (its place in the provider's order, 1 = the
  primary); its certificate series carry the endpoint's place as `endpoint_position`,
  since their `position` is the certificate's place in its chain (0 = the leaf);
- when a URI (or endpoint) of the probe located more than one target, every per-target
  series carries `address` (`192.0.2.1:5061/tls`), so that each target's has its own;
- `file_samples` (files for node_exporter's textfile collector) adds `target` to every
  series: see its documentation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from probe.evidence.model import InboundTarget
from probe.evidence.run import ProbedTarget, ProbedUri, RunEvidence
from probe.verdict.checks.failover import health
from probe.verdict.findings import CheckId, Finding, Status, TargetResult, Verdict

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

    from probe.evidence.model import ProbeEvidence, SipExchange
    from probe.locate.records import LocateResult
    from probe.report.model import Report

__all__ = [
    "CERTIFICATES_PER_CHAIN",
    "HELP",
    "SUBJECT_LENGTH",
    "Sample",
    "exposition",
    "file_registry",
    "file_samples",
    "probe_registry",
    "probe_samples",
    "reuse_samples",
    "text_exposition",
]

HELP: dict[str, str] = {
    "probe_success": "1 when the probe's verdict is pass or warn, 0 on fail or incomplete",
    "probe_duration_seconds": "How long the probe took, locating to judgement, in seconds",
    "probe_dns_lookup_time_seconds": "Time spent locating the target (RFC 3263), in seconds",
    "probe_ssl_earliest_cert_expiry": "Earliest notAfter of the presented chain, Unix seconds",
    "probe_tls_version_info": "The TLS version negotiated",
    "probe_ip_protocol": "The address family used: 4 or 6",
    "sipprobe_verdict": "The probe's verdict: 1 for it, 0 for the others",
    "sipprobe_check_status": "Each check's status: 1 for it, 0 for the others",
    "sipprobe_options_rtt_seconds": "OPTIONS sent to its final response, in seconds",
    "sipprobe_sip_status_code": "The status code of the final response",
    "sipprobe_tls_handshake_seconds": "The TLS handshake (TCP connect excluded), in seconds",
    "sipprobe_certificate_not_after_timestamp_seconds": (
        "Each presented certificate's notAfter, Unix seconds"
    ),
    "sipprobe_failover_landing_position": (
        "Provider-order position of the endpoint calls land on first; 0 when nowhere"
    ),
    "sipprobe_failover_working_endpoints": "Endpoints with a healthy target",
    "sipprobe_failover_redundant": (
        "1 when a healthy endpoint, not the same machine, comes after the landing one"
    ),
    "sipprobe_srtp_negotiated": "1 when the test call's answer negotiated SRTP, else 0",
    "sipprobe_srtp_suite_info": "The SRTP crypto-suite the answer chose (SDES)",
    "sipprobe_dialogs_left_open": "Dialogs the test call could not close",
    "sipprobe_probe_reused_connection": (
        "1 when the probe sent OPTIONS over a connection kept from the last full check, "
        "0 when it was a full check"
    ),
    "sipprobe_last_full_check_timestamp_seconds": (
        "When the last full check of the target started, Unix seconds"
    ),
}
"""Every metric a probe may expose, with its help text, in exposition order."""

CERTIFICATES_PER_CHAIN = 10
"""Certificates of one presented chain given a not-after series each (leaf first)."""
SUBJECT_LENGTH = 128
"""Characters of a certificate subject kept in its label."""

Labels = tuple[tuple[str, str], ...]

# Worst first: the status a check is given when several findings about one target name it.
_SEVERITY = (Status.FAIL, Status.ERROR, Status.INCOMPLETE, Status.WARN, Status.PASS, Status.SKIP)
_HEALTHY_VERDICTS = (Verdict.PASS, Verdict.WARN)
# The RFC 3263 planner asks NAPTR, then SRV, one at a time; then every A/AAAA at once
# (probe.locate.driver), so the time spent is their sum plus the slowest address query.
_SERIAL_QUERIES = ("NAPTR", "SRV")


@dataclass(frozen=True, slots=True)
class Sample:
    """One series and its value."""

    name: str
    labels: Labels
    value: float


class _Samples:
    """Samples in the making: one per series (the first of a repeated one is kept, so
    the exposition never holds a series twice), each with the labels all share."""

    def __init__(self, common: Labels = ()) -> None:
        self.common = common
        self.samples: dict[tuple[str, Labels], float] = {}
        self.certificates: dict[bytes, tuple[float, str] | None] = {}
        """Certificates read, by DER: the targets behind one name present one chain."""

    def add(self, name: str, value: float, labels: Labels = ()) -> None:
        assert name in HELP, name
        key = (name, tuple((label, _label_text(text)) for label, text in (*self.common, *labels)))
        self.samples.setdefault(key, float(value))

    def result(self) -> list[Sample]:
        order = {name: index for index, name in enumerate(HELP)}
        ranked = sorted(self.samples.items(), key=lambda item: order[item[0][0]])
        return [Sample(name, labels, value) for (name, labels), value in ranked]


def _label_text(text: str) -> str:
    """A label value without control characters: a far end's text (a certificate
    subject) must not bend the exposition or the consoles that show it."""
    if text.isprintable():  # nearly every value: check ids, URIs, addresses
        return text
    return "".join("\ufffd" if unicodedata.category(c) == "Cc" else c for c in text)


def probe_samples(
    report: Report, evidence: RunEvidence | Sequence[RunEvidence], *, labels: Labels = ()
) -> list[Sample]:
    """The series of one probe: `report` and the evidence of the run(s) it judged (the
    runs of a `sipprobe check`: its failover run and its test call), each series with
    `labels` too. An options run of several URIs is labelled per URI as `file_samples`
    does, since each URI's series would otherwise repeat the others'."""
    runs = (evidence,) if isinstance(evidence, RunEvidence) else tuple(evidence)
    if _split_by_uri(runs) and sum(len(run.uris) for run in runs) > 1:
        return file_samples(report, runs, labels=labels)
    out = _Samples(labels)
    _probe(out, report, runs, report.results)
    return out.result()


def file_samples(
    report: Report, evidence: RunEvidence | Sequence[RunEvidence], *, labels: Labels = ()
) -> list[Sample]:
    """The series of a run for a file that node_exporter's textfile collector reads: each
    series also carries `target`, so that one file holds every target of a run and the
    files of several runs (the collector merges its directory) never repeat a series.

    An options or invite run is taken as one probe per target URI, `target` being the URI
    as configured: its verdict, `probe_success` and check statuses are that target's;
    `probe_duration_seconds` is the whole run's (its targets were probed together). A
    failover run or a check is one probe of an endpoint list, named by its first
    configured endpoint."""
    runs = (evidence,) if isinstance(evidence, RunEvidence) else tuple(evidence)
    if not runs or not _split_by_uri(runs) or not any(run.uris for run in runs):
        first = next((entry.uri for run in runs for entry in run.uris), None)
        first = first or _listened_on(runs)
        out = _Samples(labels if first is None else (*labels, ("target", first)))
        _probe(out, report, runs, report.results)
        return out.result()
    out = _Samples(labels)
    paired = _pair(report.results, runs)
    trunk = report.trunk_findings
    for run in runs:
        for entry in run.uris:
            part = replace(run, uris=(entry,))
            results = tuple(r for r in report.results if _uri_of(paired, r) is entry)
            unit = replace(report, results=results, trunk_findings=trunk)
            out.common = (*labels, ("target", entry.uri))
            _probe(out, unit, (part,), results)
            trunk = ()  # said once, with the first target (an options run has none)
    return out.result()


def _listened_on(runs: Sequence[RunEvidence]) -> str | None:
    """An answer run's name, having no URI: where it listened first (`address:port/tls`)."""
    for run in runs:
        for place in run.inbound.listening if run.inbound is not None else ():
            address = f"[{place.address}]" if ":" in place.address else place.address
            return f"{address}:{place.port}/{place.transport}"
    return None


def _split_by_uri(runs: Sequence[RunEvidence]) -> bool:
    return all(run.failover is None for run in runs)


def _uri_of(paired: Mapping[int, tuple[ProbedUri, ProbedTarget]], result: TargetResult) -> object:
    found = paired.get(id(result))
    return None if found is None else found[0]


def _pair(
    results: Sequence[TargetResult], runs: Sequence[RunEvidence]
) -> dict[int, tuple[ProbedUri, ProbedTarget]]:
    """Each result (by identity) beside the URI and the target it judged. Targets compare
    as data (host, address, port, transport, SNI); one probed twice (a URI given twice)
    is paired in the order both sides list it."""
    waiting: dict[object, list[tuple[ProbedUri, ProbedTarget]]] = {}
    for run in runs:
        for entry in run.uris:
            for probed in entry.targets:
                waiting.setdefault(probed.target, []).append((entry, probed))
    paired = {}
    for result in results:
        same = waiting.get(result.target)
        if same:
            paired[id(result)] = same.pop(0)
    return paired


def _probe(
    out: _Samples,
    report: Report,
    runs: Sequence[RunEvidence],
    results: Sequence[TargetResult],
) -> None:
    verdict = report.verdict
    out.add("probe_success", 1 if verdict in _HEALTHY_VERDICTS else 0)
    out.add("probe_duration_seconds", report.duration_ms / 1000)
    for state in Verdict:
        out.add("sipprobe_verdict", 1 if state is verdict else 0, (("verdict", state.value),))
    _check_states(out, report.trunk_findings, (), ())
    paired = _pair(results, runs)
    by_target = {id(paired[id(r)][1]): r for r in results if id(r) in paired}
    # A failover path through endpoints that are one machine is no path (fake
    # redundancy: failover.redundancy fails, probe.verdict.checks.failover).
    fake = any(
        f.check == CheckId.FAILOVER_REDUNDANCY and f.status is Status.FAIL
        for f in report.trunk_findings
    )
    for run in runs:
        _run(out, run, by_target, fake_redundancy=fake)
    for result in results:
        if id(result) not in paired:  # judged, but not from these runs' evidence
            where: Labels = (("address", result.target.endpoint),)
            if isinstance(result.target, InboundTarget):
                # Calls over one connection share the caller's address: their number
                # keeps each call's series apart.
                where = (*where, ("call", str(result.target.call)))
            _check_states(out, result.findings, result.required, where)


def _run(
    out: _Samples,
    run: RunEvidence,
    by_target: Mapping[int, TargetResult],
    *,
    fake_redundancy: bool = False,
) -> None:
    ranks = _endpoint_ranks(run)
    several = any(len(entry.targets) > 1 for entry in run.uris)
    for index, entry in enumerate(run.uris):
        where: Labels = ()
        cert_where: Labels = ()
        if index in ranks:
            endpoint = entry.endpoint.uri if entry.endpoint is not None else entry.uri
            where = (("endpoint", endpoint), ("position", str(ranks[index])))
            cert_where = (("endpoint", endpoint), ("endpoint_position", str(ranks[index])))
        out.add("probe_dns_lookup_time_seconds", locate_seconds(entry.locate), where)
        for probed in entry.targets:
            result = by_target.get(id(probed))
            if result is None:
                continue  # left out of the report: nothing of it is reported
            address: Labels = (("address", probed.target.endpoint),) if several else ()
            _target(out, probed, result, (*where, *address), (*cert_where, *address))
    if run.failover is not None and run.stopped is None:
        # A run cut short leaves targets unfinished, which would read as down: where
        # calls land is then not known (the failover findings say incomplete).
        _failover(out, run, ranks, by_target, fake_redundancy=fake_redundancy)


def _endpoint_ranks(run: RunEvidence) -> dict[int, int]:
    """URI index → the endpoint's place in the provider's order, from 1 (failover)."""
    if run.failover is None:
        return {}
    first_seen = dict.fromkeys(place.uri_index for place in run.failover.order)
    ranks = {index: rank for rank, index in enumerate(first_seen, start=1)}
    # An endpoint the order does not place (none located) still has its series.
    for index in range(len(run.uris)):
        ranks.setdefault(index, len(ranks) + 1)
    return ranks


def locate_seconds(locate: LocateResult) -> float:
    """Time spent locating one URI: NAPTR and SRV answers one after the other, then
    every A/AAAA query at once; 0 for an IP literal or a pinned name (nothing asked)."""
    serial = sum(a.elapsed_ms or 0.0 for a in locate.answers if a.query.rdtype in _SERIAL_QUERIES)
    addresses = [
        a.elapsed_ms or 0.0 for a in locate.answers if a.query.rdtype not in _SERIAL_QUERIES
    ]
    return (serial + max(addresses, default=0.0)) / 1000


def _check_states(
    out: _Samples, findings: Iterable[Finding], required: Iterable[str], where: Labels
) -> None:
    """`sipprobe_check_status`: every check that ran or was required, as a state set. A
    required check nothing concluded about is incomplete (docs/verdicts.md)."""
    worst: dict[str, Status] = {}
    for finding in findings:
        check, status = finding.check, finding.status
        known = worst.get(check)
        if known is None or _SEVERITY.index(status) < _SEVERITY.index(known):
            worst[check] = status
    for check in required:
        worst.setdefault(check, Status.INCOMPLETE)
    for check, status in worst.items():
        for state in Status:
            labels = (*where, ("check", check), ("status", state.value))
            out.add("sipprobe_check_status", 1 if state is status else 0, labels)


def _target(
    out: _Samples, probed: ProbedTarget, result: TargetResult, where: Labels, cert_where: Labels
) -> None:
    _check_states(out, result.findings, result.required, where)
    address = probed.target.address
    if address is not None:
        out.add("probe_ip_protocol", 6 if ":" in address else 4, where)
    evidence = probed.evidence
    if evidence is None:
        return
    tls = evidence.tls
    if tls is not None and tls.ok:
        if tls.elapsed_ms is not None:
            out.add("sipprobe_tls_handshake_seconds", tls.elapsed_ms / 1000, where)
        if tls.version:
            out.add("probe_tls_version_info", 1, (*where, ("version", _version(tls.version))))
        _certificates(out, tls.presented_chain, where, cert_where)
    rtt = _options_rtt_ms(evidence)
    if rtt is not None:
        out.add("sipprobe_options_rtt_seconds", rtt / 1000, where)
    code = _final_status(evidence)
    if code is not None:
        out.add("sipprobe_sip_status_code", code, where)
    if evidence.call is not None:
        _call(out, evidence, result, where)


def _version(name: str) -> str:
    """`TLSv1.3` (OpenSSL's name) as blackbox_exporter labels it: `TLS 1.3`."""
    if name.startswith("TLSv"):
        number = name[4:]
        return f"TLS {'1.0' if number == '1' else number}"
    return name


def _certificates(out: _Samples, chain: Sequence[bytes], where: Labels, cert_where: Labels) -> None:
    expiries = []
    for position, der in enumerate(chain):
        if der not in out.certificates:
            out.certificates[der] = _read_certificate(der)
        read = out.certificates[der]
        if read is None:
            continue  # tls.chain says the certificate cannot be read
        not_after, subject = read
        expiries.append(not_after)
        if position < CERTIFICATES_PER_CHAIN:
            labels = (*cert_where, ("position", str(position)), ("subject", subject))
            out.add("sipprobe_certificate_not_after_timestamp_seconds", not_after, labels)
    if expiries:
        out.add("probe_ssl_earliest_cert_expiry", min(expiries), where)


def _read_certificate(der: bytes) -> tuple[float, str] | None:
    """(notAfter in Unix seconds, subject) of a DER certificate; None when unreadable.
    The subject is RFC 4514 text cut to SUBJECT_LENGTH characters."""
    # Imported here: cryptography's x509 loads the socket module, which a pure package
    # must not load on import (tests/test_layers.py).
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(der)
        not_after = certificate.not_valid_after_utc.timestamp()
    except Exception:
        return None
    try:
        subject = certificate.subject.rfc4514_string()
    except Exception:
        subject = "(unreadable)"
    return not_after, subject[:SUBJECT_LENGTH]


def _options_rtt_ms(evidence: ProbeEvidence) -> float | None:
    """A `--count` run's mean; otherwise the last answered OPTIONS."""
    if evidence.ping is not None:
        return evidence.ping.rtt.mean_ms if evidence.ping.rtt.count else None
    answered = [e.rtt_ms for e in evidence.exchanges if e.method == "OPTIONS" and e.rtt_ms]
    return answered[-1] if answered else None


def _final_status(evidence: ProbeEvidence) -> int | None:
    """The test call's final response; otherwise the last answered request's."""
    if evidence.call is not None:
        return evidence.call.final_status
    for exchange in reversed(evidence.exchanges):
        if exchange.outcome == "answered":
            return exchange.final_status or _status_line(exchange)
    return None


def _status_line(exchange: SipExchange) -> int | None:
    # Evidence saved before exchanges recorded their final status: the last final
    # response's status line (RFC 3261 §7.2: `SIP/2.0 200 OK`).
    for item in reversed(exchange.received):
        parts = item.data[:32].split(b" ", 2)
        if len(parts) >= 2 and parts[0] == b"SIP/2.0" and parts[1].isdigit():
            code = int(parts[1])
            if code >= 200:
                return code
    return None


def _call(out: _Samples, evidence: ProbeEvidence, result: TargetResult, where: Labels) -> None:
    call = evidence.call
    assert call is not None
    out.add("sipprobe_dialogs_left_open", call.dialogs_left_open, where)
    if call.offer_kind not in ("sdes", "dtls"):
        return  # a plain RTP offer asks whether it is refused: sdp.srtp's status says
    srtp = next((f for f in result.findings if f.check == CheckId.SDP_SRTP), None)
    if srtp is None or srtp.status in (Status.SKIP, Status.INCOMPLETE):
        return  # not judged (the call was cut short): neither negotiated nor refused
    negotiated = srtp.status in (Status.PASS, Status.WARN)
    out.add("sipprobe_srtp_negotiated", 1 if negotiated else 0, where)
    suite = srtp.details.get("negotiated_suite")
    if negotiated and isinstance(suite, str):
        out.add("sipprobe_srtp_suite_info", 1, (*where, ("suite", suite)))


def _failover(
    out: _Samples,
    run: RunEvidence,
    ranks: Mapping[int, int],
    by_target: Mapping[int, TargetResult],
    *,
    fake_redundancy: bool,
) -> None:
    """Where calls land first (the provider's order, by endpoint), how many endpoints
    work, and whether one that works comes after it (and is not the same machine):
    healthy as failover.order judges it (probe.verdict.checks.failover.health)."""
    assert run.failover is not None
    working: set[int] = set()
    landing = 0
    for place in run.failover.order:
        probed = run.uris[place.uri_index].targets[place.target_index]
        result = by_target.get(id(probed))
        if result is None or not health(result)[0]:
            continue
        working.add(ranks[place.uri_index])
        landing = landing or ranks[place.uri_index]
    redundant = not fake_redundancy and any(rank > landing for rank in working)
    out.add("sipprobe_failover_landing_position", landing)
    out.add("sipprobe_failover_working_endpoints", len(working))
    out.add("sipprobe_failover_redundant", 1 if redundant else 0)


def _families(samples: Sequence[Sample]) -> Iterator[Metric]:
    from prometheus_client.metrics_core import GaugeMetricFamily
    from prometheus_client.samples import Sample as ClientSample

    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, []).append(sample)
    for name, group in by_name.items():
        family = GaugeMetricFamily(name, HELP[name])
        # Appended as samples: the series of one metric need not share label names (a
        # check's failover run labels its endpoints, its test call has none).
        family.samples.extend(ClientSample(name, dict(s.labels), s.value) for s in group)
        yield family


class _Collector:
    """A probe's samples, as prometheus_client collects them."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        self._samples = tuple(samples)

    def collect(self) -> Iterator[Metric]:
        return _families(self._samples)

    def describe(self) -> Iterator[Metric]:
        # The registry learns the names from here, and refuses a second collector
        # exposing one of them.
        return _families(self._samples)


def _registry(samples: Sequence[Sample]) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(samples))
    return registry


def probe_registry(
    report: Report, evidence: RunEvidence | Sequence[RunEvidence], *, labels: Labels = ()
) -> CollectorRegistry:
    """A fresh registry holding `probe_samples(report, evidence, labels=labels)`."""
    return _registry(probe_samples(report, evidence, labels=labels))


def file_registry(
    report: Report, evidence: RunEvidence | Sequence[RunEvidence], *, labels: Labels = ()
) -> CollectorRegistry:
    """A fresh registry holding `file_samples(report, evidence, labels=labels)`."""
    return _registry(file_samples(report, evidence, labels=labels))


def reuse_samples(reused: bool, full_check_at: float) -> list[Sample]:
    """What a scrape of a module that keeps its connections did: OPTIONS over a kept
    connection (`reused`) or a full check, and when the last full check, whose connect,
    TLS and certificate series a reused scrape carries, started."""
    return [
        Sample("sipprobe_probe_reused_connection", (), 1 if reused else 0),
        Sample("sipprobe_last_full_check_timestamp_seconds", (), full_check_at),
    ]


def text_exposition(samples: Sequence[Sample]) -> bytes:
    """The samples in Prometheus's text format (version 0.0.4), UTF-8: the text
    `exposition(probe_registry(...))` gives for them, byte for byte, written directly
    (the exporter renders one on every scrape, and a registry's collection cost it as
    much as the rest of a scrape over a kept connection). Every metric and label name
    here is a legacy Prometheus name (HELP's keys; label names are plain identifiers), so
    none needs escaping; in label values a backslash, a newline and a double quote are
    escaped, as the format says."""
    from prometheus_client.utils import floatToGoString

    value_text: Callable[[float], str] = floatToGoString  # the format's numbers, as Go's
    lines: list[str] = []
    by_name: dict[str, list[Sample]] = {}
    for sample in samples:
        by_name.setdefault(sample.name, []).append(sample)
    for name, group in by_name.items():
        help_text = HELP[name].replace("\\", r"\\").replace("\n", r"\n")
        lines.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
        for sample in group:
            if sample.labels:
                labels = ",".join(
                    f'{label}="{_escaped(value)}"' for label, value in sorted(sample.labels)
                )
                lines.append(f"{name}{{{labels}}} {value_text(sample.value)}\n")
            else:
                lines.append(f"{name} {value_text(sample.value)}\n")
    return "".join(lines).encode()


def _escaped(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus's text format (version 0.0.4), UTF-8."""
    from prometheus_client import generate_latest

    return generate_latest(registry)
