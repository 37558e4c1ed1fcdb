"""The scrapers of the exporter workloads: a fixed number of HTTP/1.1 clients, each on one
kept-alive connection, asking an exporter for probes one after another, as Prometheus's
scrape loops do (`python -m bench.scrape`).

Standard library only (asyncio), so it costs both exporters the same. Each line of
`--queries` is the query string of one probe (`target=...&module=...`); scrape number i
asks for line i modulo their number, so the probes go round-robin over the targets. Every
answer must be `200` with `probe_success 1` in its body (blackbox_exporter's and
sipprobe's exporter both say so): any other answer, a connection lost or a deadline passed
counts as a failure, and the exit code is 1.

The outcome goes to `--out` as JSON: probes answered, failures (the first few, with why),
the time from the first request to the last answer (`inner_s`, the scrapers' own clock),
latency percentiles (each request sent to its answer read), and how many answers said
`sipprobe_probe_reused_connection 1`.

`--segments K` splits the probes into K runs of equal size; after each, with every scraper
idle, one `GET --metrics` reads the exporter's own metrics (resident memory, open file
descriptors, asyncio tasks, kept connections): the soak's samples, taken at rest so that
probes in flight do not blur them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

SCRAPE_TIMEOUT_S = 10.0
"""What the scrapers tell the exporter (X-Prometheus-Scrape-Timeout-Seconds): Prometheus's
default scrape timeout. The client's own deadline is a little longer."""
CLIENT_DEADLINE_S = SCRAPE_TIMEOUT_S + 5.0
SUCCESS = (b"\nprobe_success 1\n", b"\nprobe_success 1.0\n")
"""`probe_success 1` as blackbox_exporter writes it, and as prometheus_client does."""
REUSED = (b"\nsipprobe_probe_reused_connection 1\n", b"\nsipprobe_probe_reused_connection 1.0\n")
SAMPLED = (
    "process_resident_memory_bytes",
    "process_open_fds",
    "sipprobe_exporter_asyncio_tasks",
    "sipprobe_exporter_kept_connections",
)
KEPT_ERRORS = 5


class ScrapeFailed(Exception):
    """One scrape that did not bring back a successful probe."""


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    reused: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def failure(self, why: str) -> None:
        self.failed += 1
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append(why[:400])


class Connection:
    """One kept-alive HTTP/1.1 connection to the exporter."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, headers: bytes = b"") -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode() + headers + b"\r\n"
        )
        self.writer.write(request)
        try:
            return await _response(self.reader)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (Content-Length or chunked, RFC 9112 §6-7)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        return status, await reader.readexactly(int(fields["content-length"]))
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers are sent to us
                return status, bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    raise ScrapeFailed(f"an answer without its length: {lines[0]}")


async def scrape_all(
    host: str,
    port: int,
    queries: list[str],
    start: int,
    count: int,
    concurrency: int,
    connections: list[Connection],
    tally: Tally,
) -> None:
    """Scrapes number start … start+count-1, `concurrency` at a time."""
    following = start
    end = start + count
    header = f"X-Prometheus-Scrape-Timeout-Seconds: {SCRAPE_TIMEOUT_S:g}\r\n".encode()

    async def scraper(connection: Connection) -> None:
        nonlocal following
        while following < end:
            number = following
            following += 1
            path = "/probe?" + queries[number % len(queries)]
            began = time.perf_counter()
            try:
                async with asyncio.timeout(CLIENT_DEADLINE_S):
                    status, body = await connection.get(path, header)
            except (OSError, EOFError, TimeoutError, ValueError, ScrapeFailed) as exc:
                tally.failure(f"{path}: {type(exc).__name__}: {exc}")
                continue
            tally.latencies.append(time.perf_counter() - began)
            if status != 200 or not any(line in body for line in SUCCESS):
                tally.failure(f"{path}: {status}: {body.decode(errors='replace')[:1500]}")
                continue
            tally.ok += 1
            if any(line in body for line in REUSED):
                tally.reused += 1

    async with asyncio.TaskGroup() as group:
        for connection in connections[:concurrency]:
            group.create_task(scraper(connection))


def own_metrics(body: bytes) -> dict[str, float]:
    found = {}
    for line in body.decode().splitlines():
        name, _, value = line.partition(" ")
        if name in SAMPLED:
            found[name] = float(value)
    return found


def percentile(ordered: list[float], share: float) -> float:
    """The nearest-rank percentile of sorted values."""
    if not ordered:
        return 0.0
    rank = max(1, round(share * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


async def main(args: argparse.Namespace) -> dict[str, object]:
    where = urlsplit(args.base)
    host, port = where.hostname or "127.0.0.1", where.port or 80
    queries = [line for line in args.queries.read_text().splitlines() if line.strip()]
    connections = [Connection(host, port) for _ in range(args.concurrency)]
    tally = Tally()
    samples: list[dict[str, float]] = []
    size = args.count // args.segments
    began = time.perf_counter()
    for segment in range(args.segments):
        count = size if segment < args.segments - 1 else args.count - size * segment
        await scrape_all(
            host, port, queries, segment * size, count, args.concurrency, connections, tally
        )
        if args.metrics:
            status, body = await connections[0].get(args.metrics)
            if status == 200:
                samples.append({"probes": float(segment * size + count), **own_metrics(body)})
    inner = time.perf_counter() - began
    for connection in connections:
        connection.close()
    ordered = sorted(tally.latencies)
    return {
        "ok": tally.ok,
        "failed": tally.failed,
        "errors": tally.errors,
        "reused": tally.reused,
        "inner_s": inner,
        "p50_ms": percentile(ordered, 0.5) * 1000,
        "p90_ms": percentile(ordered, 0.9) * 1000,
        "p99_ms": percentile(ordered, 0.99) * 1000,
        "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
        "samples": samples,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scrape", description=__doc__)
    parser.add_argument("--base", required=True, help="http://HOST:PORT of the exporter")
    parser.add_argument("--queries", type=Path, required=True, help="one query string a line")
    parser.add_argument("--count", type=int, required=True, help="probes in all")
    parser.add_argument("--concurrency", type=int, required=True, help="scrapers at once")
    parser.add_argument("--segments", type=int, default=1)
    parser.add_argument("--metrics", default=None, help="path of the exporter's own metrics")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.count < args.segments or args.concurrency < 1:
        parser.error("--count must be at least --segments, --concurrency at least 1")
    return args


if __name__ == "__main__":
    arguments = parse_args(None)
    outcome = asyncio.run(main(arguments))
    arguments.out.write_text(json.dumps(outcome) + "\n")
    sys.exit(0 if outcome["failed"] == 0 else 1)
