"""The contenders' command lines, their target lists, and the checks of their output.

A run counts only if the contender did the whole job: every target judged and green for
sipprobe (read back from its JSON report), every probe answered 2xx for the floor loops
and sipsak. Otherwise `InvalidMeasurement` is raised and the harness stops, saying why.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import InvalidMeasurement, Sample
from bench.servers import NAME, Fleet, Listener

REQUIRED_CHECKS = ("net.connect", "tls.handshake", "tls.chain", "tls.identity", "sip.options")
"""Checks every target of a sweep must have been judged by (each exactly once)."""


@dataclass(frozen=True, slots=True)
class Tools:
    python: Path
    """The project's interpreter (.venv/bin/python): sipprobe's and the floor's."""
    sipprobe: Path
    """The console script, run as a user runs it."""
    sipsak: Path | None
    root: Path
    """The repository root (the floor runs as `python -m bench.floor` from here)."""


def target_uris(fleet: Fleet, kind: str, count: int) -> list[tuple[str, Listener]]:
    """`count` distinct target URIs over the fleet's `kind` listeners, round-robin.

    Each URI has its own user part (`sip:t00042@NAME:PORT;transport=tls`) so no two lines
    are the same URI, whatever a tool might do with duplicates; the host is the one lab
    name, pinned to the listener's address with --resolve (one pin per listener)."""
    listeners = fleet.listeners(kind)
    return [
        (f"sip:t{index:05d}@{NAME}:{listener.port};transport=tls", listener)
        for index in range(count)
        for listener in (listeners[index % len(listeners)],)
    ]


def write_sipprobe_targets(path: Path, targets: Sequence[tuple[str, Listener]]) -> Path:
    path.write_text("".join(f"{uri}\n" for uri, _ in targets))
    return path


def write_floor_targets(path: Path, targets: Sequence[tuple[str, Listener]]) -> Path:
    path.write_text("".join(f"{uri} {NAME} {lsn.address} {lsn.port}\n" for uri, lsn in targets))
    return path


def write_sipsak_args(path: Path, listeners: Sequence[Listener], count: int) -> Path:
    """One xargs line per probe: sipsak dials the IP literal (with a host name it would ask
    the system resolver, and it cannot be pinned), the port separately (`-r`: with a
    five-digit port in the URI sipsak 0.9.8.1 truncates it)."""
    lines = []
    for index in range(count):
        listener = listeners[index % len(listeners)]
        lines.append(f"-s sip:{listener.address} -r {listener.port}\n")
    path.write_text("".join(lines))
    return path


def sipprobe_sweep(
    tools: Tools, fleet: Fleet, kind: str, targets: Path, report: Path, concurrency: int
) -> list[str]:
    pins = [arg for pin in fleet.pins(kind) for arg in ("--resolve", pin)]
    return [
        str(tools.sipprobe),
        "options",
        "--targets",
        str(targets),
        "--concurrency",
        str(concurrency),
        "--ca",
        str(fleet.lab.ca),
        *pins,
        "--format",
        "json",
        "--output",
        f"json={report}",
    ]


def sipprobe_ping(tools: Tools, fleet: Fleet, count: int, report: Path) -> list[str]:
    return sipprobe_single(
        tools,
        fleet,
        *("--count", str(count), "--interval", "0"),
        *("--format", "json", "--output", f"json={report}"),
    )


def sipprobe_single(tools: Tools, fleet: Fleet, *extra: str) -> list[str]:
    """One probe of one target, as typed at a prompt (console report unless `extra`)."""
    listener = fleet.listeners("tls")[0]
    return [
        str(tools.sipprobe),
        "options",
        f"sip:{NAME}:{listener.port};transport=tls",
        "--resolve",
        listener.pin,
        "--ca",
        str(fleet.lab.ca),
        *extra,
    ]


_THIRD_PARTY = """
import atexit, runpy, sys
listing = sys.argv[1]
def _write():
    own = {"probe", "bench"}
    names = sorted(
        name
        for name in sys.modules
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in own
        and not name.startswith("_")
    )
    with open(listing, "w") as out:
        out.write("\\n".join(names))
atexit.register(_write)
sys.argv = ["sipprobe", *sys.argv[2:]]
runpy.run_module("probe", run_name="__main__")
"""


def third_party_modules(tools: Tools, fleet: Fleet, workdir: Path) -> Path:
    """A file naming every module outside the standard library and sipprobe that one
    console probe (`sipprobe_single`) loads, read from a run of it, one per line, in
    import-safe (sorted) order."""
    listing = workdir / "third-party-modules.txt"
    argv = sipprobe_single(tools, fleet)[1:]
    done = subprocess.run(
        [str(tools.python), "-c", _THIRD_PARTY, str(listing), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
    )
    if done.returncode != 0 or not listing.exists():
        raise InvalidMeasurement(f"the probe listing its modules failed: {done.stderr[-300:]!r}")
    return listing


def floor(
    tools: Tools, fleet: Fleet, mode: str, targets: Path, out: Path, **opts: int | str | Path
) -> list[str]:
    options = [arg for key, value in opts.items() for arg in (f"--{key}", str(value))]
    return [
        str(tools.python),
        "-m",
        "bench.floor",
        mode,
        "--targets",
        str(targets),
        "--ca",
        str(fleet.lab.ca),
        "--out",
        str(out),
        *options,
    ]


def sipsak_base(tools: Tools, ca: Path) -> list[str]:
    """sipsak's fixed arguments: TLS with the lab CA, `-vvv` (sipsak 0.9.8.1 verifies the
    server certificate only when verbosity is above 2: `else if (verbose > 2)` around
    `verify_certificate_simple` in transport.c; below that any chain is accepted), and
    the Via host given so it never looks its own name up. Output goes to /dev/null."""
    if tools.sipsak is None:
        raise InvalidMeasurement("sipsak is not installed (`make peers` installs it)")
    return [
        str(tools.sipsak),
        "-vvv",
        "--transport=tls",
        f"--tls-ca-cert={ca}",
        "-H",
        "127.0.0.1",
    ]


def xargs(tools: Tools, ca: Path, parallel: int) -> list[str]:
    """`xargs -P parallel -L 1 sipsak …`: one sipsak process per line, as a shell user
    fans a list out (P=1 is the plain sequential loop)."""
    return ["xargs", "-P", str(parallel), "-L", "1", *sipsak_base(tools, ca)]


# --- checking what a run did ---------------------------------------------------------


def check_exit(what: str, sample: Sample, expected: int = 0) -> None:
    if sample.exit_code != expected:
        raise InvalidMeasurement(f"{what} exited with {sample.exit_code}, expected {expected}")


def load_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidMeasurement(f"{what}: no readable JSON in {path}: {exc}") from exc


def check_sweep_report(path: Path, uris: Sequence[str]) -> dict[str, float]:
    """Every input URI judged once, every target green, each with every required check."""
    report = load_json(path, "sipprobe")
    targets = report.get("targets", [])
    if report.get("verdict") != "pass":
        raise InvalidMeasurement(f"sipprobe verdict {report.get('verdict')}: {report['counts']}")
    if sorted(t["uri"] for t in targets) != sorted(uris):
        raise InvalidMeasurement(
            f"sipprobe judged {len(targets)} targets for {len(uris)} input URIs"
        )
    if any(t.get("verdict") != "pass" for t in targets):
        raise InvalidMeasurement("sipprobe: a target is not green")
    # Findings name their target by label (name, address, port), shared by the URIs that
    # lead to one listener: per label, each required check once per target.
    per_label = Counter(t["target"] for t in targets)
    checks: dict[str, Counter[str]] = {}
    for finding in report.get("findings", []):
        if finding["status"] != "pass":
            raise InvalidMeasurement(f"sipprobe finding not green: {finding['summary']}")
        checks.setdefault(finding["target"], Counter())[finding["check"]] += 1
    for label, multiplicity in per_label.items():
        seen = checks.get(label, Counter())
        missing = [c for c in REQUIRED_CHECKS if seen[c] != multiplicity]
        if missing:
            raise InvalidMeasurement(f"sipprobe: {label} not judged by {', '.join(missing)}")
    findings = len(report.get("findings", []))
    return {
        "targets": float(len(targets)),
        "findings_per_target": findings / len(targets),
        "inner_s": float(report.get("duration_ms", 0.0)) / 1000,
    }


def check_ping_report(path: Path, count: int) -> dict[str, float]:
    report = load_json(path, "sipprobe")
    if report.get("verdict") != "pass":
        raise InvalidMeasurement(f"sipprobe ping verdict {report.get('verdict')}")
    options = [f for f in report.get("findings", []) if f["check"] == "sip.options"]
    if len(options) != 1:
        raise InvalidMeasurement("sipprobe ping: no single sip.options finding")
    details = options[0].get("details", {})
    if not details.get("sent") == details.get("answered") == details.get("healthy") == count:
        raise InvalidMeasurement(f"sipprobe ping: {options[0]['summary']} (wanted {count})")
    return {"inner_s": float(report.get("duration_ms", 0.0)) / 1000}


def check_floor(path: Path, probes: int, sample: Sample) -> dict[str, float]:
    summary = load_json(path, "floor")
    if summary.get("ok") != probes or sample.exit_code != 0:
        errors = summary.get("errors", [])
        raise InvalidMeasurement(f"floor: {summary.get('ok')}/{probes} ok; {errors[:3]}")
    return {"inner_s": float(summary.get("inner_s", 0.0))}


def tool_version(argv: Sequence[str]) -> str:
    import subprocess

    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"
