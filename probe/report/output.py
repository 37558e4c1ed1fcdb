"""Where reports go: one or several formats in one run, each to stdout or to a file.

`--format console,json --output json=report.json` prints the console report and writes the
JSON one; so does `--output json=report.json` alone, since naming a format in --output adds
it. `--output FILE` alone is enough when there is a single format. At most one format may
go to stdout. `nagios` is one status line with performance data, and its exit code
follows the Nagios plugin convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
`prometheus` is the run's metrics in Prometheus's text format (probe.exporter.metrics,
docs/prometheus/metrics.md), made from the evidence as well as the report; its file is
replaced atomically (`write_atomically`), as node_exporter's textfile collector needs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from probe.errors import ProbeError
from probe.report.exit_codes import signal_name
from probe.report.model import Report
from probe.verdict.findings import CheckId, JsonValue, Verdict

FORMATS = ("console", "json", "junit", "nagios", "prometheus")
# The plugin API's codes; work not done is UNKNOWN, never OK.
_NAGIOS_CODES = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.FAIL: 2, Verdict.INCOMPLETE: 3}
_NAGIOS_WORDS = {
    Verdict.PASS: "OK",
    Verdict.WARN: "WARNING",
    Verdict.FAIL: "CRITICAL",
    Verdict.INCOMPLETE: "UNKNOWN",
}


class OutputError(ProbeError, ValueError):
    """A `--format`/`--output` combination that cannot be honoured."""


@dataclass(frozen=True, slots=True)
class Destination:
    format: str
    path: Path | None
    """None: standard output."""


def plan_outputs(formats: str, outputs: Sequence[str]) -> tuple[Destination, ...]:
    chosen = [name.strip().lower() for name in formats.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in FORMATS]
    if unknown or not chosen:
        raise OutputError(
            f"--format {formats!r}: choose from {', '.join(FORMATS)} (comma-separated)"
        )
    if len(set(chosen)) != len(chosen):
        raise OutputError(f"--format {formats!r} names a format twice")
    single = chosen[0] if len(chosen) == 1 else None
    paths: dict[str, Path] = {}
    for item in outputs:
        name, sep, path = item.partition("=")
        if sep and name.strip().lower() in FORMATS:
            key = name.strip().lower()
            if key not in chosen:
                # Naming the format is asking for it: `--output json=FILE` adds JSON to
                # whatever --format prints.
                chosen.append(key)
        elif single is not None:
            key, path = single, item
        else:
            raise OutputError(f"--output {item!r}: with several formats write FORMAT=FILE")
        if not path.strip():
            raise OutputError(f"--output {item!r}: no file name")
        if key in paths:
            raise OutputError(f"--output {item!r}: {key} is already written to {paths[key]}")
        paths[key] = _writable(item, Path(path))
    destinations = tuple(Destination(name, paths.get(name)) for name in chosen)
    if sum(d.path is None for d in destinations) > 1:
        raise OutputError(
            "only one format can go to standard output; give the others --output FORMAT=FILE"
        )
    return destinations


def _writable(item: str, path: Path) -> Path:
    """Refuse a report file that cannot be written, before the run rather than after."""
    if path.is_dir():
        raise OutputError(f"--output {item!r}: {path} is a directory")
    if not path.parent.is_dir():
        raise OutputError(f"--output {item!r}: the directory {path.parent} does not exist")
    return path


def nagios(report: Report, *, unwritten: Sequence[str] = ()) -> tuple[str, int]:
    """One Nagios status line with perfdata, and the plugin exit code. A report file in
    `unwritten` was asked for and could not be written: work not done, so the line says
    UNKNOWN unless the run is CRITICAL already."""
    verdict = report.verdict
    failing = [f for f in report.findings if f.status.value in ("fail", "error")]
    unfinished = [f for f in report.findings if f.status.value == "incomplete"]
    missing = [(r.target.label, r.missing) for r in report.results if r.missing]
    missing += [(c.capture, c.missing) for c in report.captures if c.missing]
    warning = [f for f in report.findings if f.status.value == "warn"]
    if failing:
        text = f"{failing[0].check} {failing[0].target}: {failing[0].summary}"
    elif unfinished:
        text = f"{unfinished[0].check} {unfinished[0].target}: {unfinished[0].summary}"
    elif missing:
        label, checks = missing[0]
        text = f"{label}: not verified: {', '.join(checks)}"
    elif verdict is Verdict.INCOMPLETE:
        text = (
            f"interrupted by {signal_name(report.stop_signal)}: the report is partial"
            if report.interrupted
            else "nothing verified"
        )
    elif warning:
        text = f"{warning[0].check} {warning[0].target}: {warning[0].summary}"
    elif report.captures and not report.results:
        text = f"{len(report.captures)} capture(s), {len(report.findings)} checks pass"
    elif report.command == "answer":
        text = f"{len(report.results)} call(s) received, {len(report.findings)} checks pass"
    else:
        text = f"{len(report.results)} target(s), {len(report.findings)} checks pass"
    perf: list[str] = []
    for number, result in enumerate(report.results, start=1):
        for finding in result.findings:
            value = finding.details.get("rtt_ms")
            limits = _thresholds(finding.details)
            if finding.check == CheckId.SIP_OPTIONS and isinstance(value, int | float):
                warn, crit = limits.get("rtt_warn_ms", ""), limits.get("rtt_crit_ms", "")
                perf.append(f"rtt_{number}={value:.3f}ms;{warn};{crit};0;")
            elif finding.check == CheckId.SIP_OPTIONS and "loss_pct" in finding.details:
                perf.extend(_ping_perfdata(number, finding.details, limits))
            if finding.check == CheckId.TLS_VALIDITY:
                days = finding.details.get("earliest_days_left")
                if isinstance(days, int):
                    perf.append(f"days_left_{number}={days};;;")
    word, code = _NAGIOS_WORDS[verdict], _NAGIOS_CODES[verdict]
    if unwritten and code < _NAGIOS_CODES[Verdict.FAIL]:
        word, code = _NAGIOS_WORDS[Verdict.INCOMPLETE], _NAGIOS_CODES[Verdict.INCOMPLETE]
        text = f"report not written to {', '.join(unwritten)}; {text}"
    line = f"SIPPROBE {word} - {text}".replace("|", "/")
    if perf:
        line += " | " + " ".join(perf)
    return line, code


def _thresholds(details: Mapping[str, JsonValue]) -> dict[str, str]:
    """The thresholds a finding was judged by, as perfdata writes them ("" when none)."""
    given = details.get("thresholds")
    if not isinstance(given, dict):
        return {}
    return {k: f"{v:g}" for k, v in given.items() if isinstance(v, int | float)}


def _ping_perfdata(
    number: int, details: Mapping[str, JsonValue], limits: Mapping[str, str]
) -> list[str]:
    """A `--count` run as check_icmp reports one: rta and pl with their warning and
    critical thresholds, rtmin and rtmax ('label'=value[UOM];[warn];[crit];[min];[max],
    Nagios plugin guidelines). pl is the loss the verdict was judged on (of the probes
    sent, when the run was cut short by --max-time or a signal); rta is U (undetermined)
    when nothing was answered."""
    cut_short = details.get("ended") in ("max_time", "interrupted")
    loss = details.get("loss_of_sent_pct") if cut_short else details.get("loss_pct")
    rtt = details.get("rtt_ms")
    spread = rtt if isinstance(rtt, dict) else {}
    rta, low, high = (spread.get(key) for key in ("avg", "min", "max"))
    perf = [
        f"rta_{number}="
        + (f"{rta:.3f}ms" if isinstance(rta, int | float) else "U")
        + f";{limits.get('rtt_warn_ms', '')};{limits.get('rtt_crit_ms', '')};0;"
    ]
    if isinstance(loss, int | float):
        perf.append(
            f"pl_{number}={loss:g}%;{limits.get('loss_warn_pct', '')};"
            f"{limits.get('loss_crit_pct', '')};0;100"
        )
    for label, value in (("rtmin", low), ("rtmax", high)):
        if isinstance(value, int | float):
            perf.append(f"{label}_{number}={value:.3f}ms;;;0;")
    return perf


def write_report(
    report: Report, fmt: str, sink: TextIO, *, color: bool | None, verbose: bool
) -> None:
    """Write the report in `fmt` to `sink` (JSON is streamed, never held whole)."""
    if fmt == "json":
        from probe.report.json import write_json

        write_json(report, sink)
    elif fmt == "junit":
        from probe.report.junit import render_junit

        sink.write(render_junit(report) + "\n")
    elif fmt == "nagios":
        sink.write(nagios(report)[0] + "\n")
    elif fmt == "prometheus":
        # Its metrics read the evidence too (handshake time, chain, RTT): the command
        # that has it writes them (probe.cli.common.emit).
        raise OutputError("the prometheus format is made from the run's evidence as well")
    else:
        from probe.report.console import render_console

        render_console(report, sink, color=color, verbose=verbose)


@contextlib.contextmanager
def private_file(path: Path) -> Iterator[TextIO]:
    """Reports can name internal hosts and addresses: not world-readable by default."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(descriptor, "w", encoding="utf-8") as sink:
        yield sink


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` at once: written to a temporary file in the same
    directory, then renamed over it (rename(2) is atomic within one file system), so a
    reader never sees half a file. node_exporter's textfile collector reads `*.prom`
    whenever it is scraped; the temporary name does not end in `.prom`.

    Readable by all (0644): the collector runs as a user of its own, and it serves what
    it reads to whoever scrapes it; the metrics carry no secret (docs/prometheus)."""
    import tempfile  # only a metrics file needs it: not loaded by every run's start-up

    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as sink:
            sink.write(data)
            sink.flush()
            os.fchmod(sink.fileno(), 0o644)
            os.fsync(sink.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
