"""Console rendering of a large sweep, against judging it: `python -m bench.console_render`.

One real probe of each kind is collected on loopback (the embedded responder over TLS
with a lab PKI, and a TCP port where nothing listens), then tiled into a run of
`--targets` targets (`--failing` of them refused), which is judged (`judge_run`: TLS chain,
identity, OPTIONS, ...) and rendered by the console renderer, plain and verbose. The
ratio printed is rendering time over judging time, each the best of `--rounds`. The tiles
share their evidence (one certificate chain, one answer), as the many endpoints of one
provider do; judging them is real work all the same (every target judged afresh).

```
.venv/bin/python -m bench.console_render                  # 1000 targets, 20 failing
.venv/bin/python -m bench.console_render --targets 5000 --rounds 3
```
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from probe.evidence.run import RunEvidence
from probe.locate.pins import parse_pin
from probe.net.options import ProbeSettings
from probe.report.console import render_console
from probe.report.model import Report
from probe.run.collect import collect_run
from probe.serve import Responder, ResponderConfig
from probe.sip import parse_uri
from probe.tls.lab import write_lab
from probe.tls.trust import load_trust_anchors
from probe.verdict.checks import OptionsPolicy

NAME = "bench.example.test"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _collect(directory: Path) -> tuple[RunEvidence, OptionsPolicy]:
    lab = write_lab(directory, server_names=(NAME,))
    config = ResponderConfig(cert_file=lab.server, key_file=lab.server_key)
    async with Responder(config) as responder:
        port = responder.port_of("tls")
        texts = [
            f"sip:{NAME}:{port};transport=tls",
            f"sip:127.0.0.1:{_closed_port()};transport=tcp",
        ]
        settings = ProbeSettings(timeout=2.0, pins=[parse_pin(f"{NAME}:{port}:127.0.0.1")])
        run = await collect_run([(text, parse_uri(text)) for text in texts], settings)
    return run, OptionsPolicy(anchors=load_trust_anchors(lab.ca))


def _tiled(run: RunEvidence, targets: int, failing: int) -> RunEvidence:
    healthy, refused = run.uris
    every = max(1, targets // failing) if failing else targets + 1
    uris = [refused if number % every == every - 1 else healthy for number in range(targets)]
    return replace(run, uris=tuple(uris))


def _best(rounds: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _render(report: Report, *, verbose: bool) -> None:
    render_console(report, io.StringIO(), color=False, verbose=verbose)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console_render", description=__doc__)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--failing", type=int, default=20, help="targets refused, of --targets")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from probe.verdict.judging import judge_run

    with tempfile.TemporaryDirectory() as scratch:
        run, policy = asyncio.run(_collect(Path(scratch)))
    run = _tiled(run, args.targets, args.failing)
    reports: list[Report] = []
    judging = _best(args.rounds, lambda: reports.append(judge_run(run, policy)))
    report = reports[-1]
    plain = _best(args.rounds, lambda: _render(report, verbose=False))
    verbose = _best(args.rounds, lambda: _render(report, verbose=True))
    counts = report.status_counts()
    print(
        f"{len(report.results)} targets ({counts['fail']} failing findings), best of {args.rounds}:"
    )
    print(f"  judge_run           {judging * 1000:9.1f} ms")
    print(f"  console             {plain * 1000:9.1f} ms   ratio {plain / judging:5.2f}")
    print(f"  console --verbose   {verbose * 1000:9.1f} ms   ratio {verbose / judging:5.2f}")


if __name__ == "__main__":
    main()
