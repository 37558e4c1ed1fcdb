"""The runtime's floor: the least a Python client must do for the same probes as sipprobe.

Run as its own process with the same interpreter as sipprobe (`python -m bench.floor`), so
both contenders pay the same interpreter start; this module imports only the standard
library (asyncio, ssl) and nothing from `probe`.

sweep  one fresh TLS connection per target: connect, full handshake with a verifying
       SSLContext (the lab CA, check_hostname on, SNI = the name), one OPTIONS, read the
       response to the end of its headers and Content-Length body, close; at most
       `--concurrency` at once (a semaphore), like sipprobe's `--concurrency`.
ping   one TLS connection, `--count` OPTIONS sent one after another, each answer read in
       full before the next request, like `sipprobe options --count N --interval 0`.

`--preload FILE` first imports the modules FILE lists, one per line (sipprobe's
third-party libraries, say), to tell the part of a cold start that the libraries cost from
the part that is sipprobe's.

Each target line of `--targets` is `URI NAME ADDRESS PORT`. The outcome goes to `--out` as
JSON (`ok`, `failed`, first errors), so the harness can refuse a run that did not probe
everything; the exit code is 0 only when every probe got a 2xx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import ssl
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

HEADER_END = b"\r\n\r\n"
MAX_HEADER = 65536
DEADLINE_S = 10.0


@dataclass(frozen=True, slots=True)
class Target:
    uri: str
    name: str
    address: str
    port: int


def read_targets(path: Path) -> list[Target]:
    targets = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            uri, name, address, port = line.split()
            targets.append(Target(uri, name, address, int(port)))
    return targets


def options_request(target: Target, local: tuple[str, int], cseq: int, call_id: str) -> bytes:
    """A complete out-of-dialog OPTIONS (RFC 3261 §11), the headers sipprobe sends too."""
    host, port = local
    branch = "z9hG4bK" + uuid.uuid4().hex[:16]
    return (
        f"OPTIONS {target.uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS {host}:{port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:floor@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
        f"To: <{target.uri}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} OPTIONS\r\n"
        "Accept: application/sdp\r\n"
        "User-Agent: bench-floor\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def read_response(reader: asyncio.StreamReader) -> int:
    """One response: headers up to the blank line, then Content-Length bytes. Its code."""
    head = await reader.readuntil(HEADER_END)
    if len(head) > MAX_HEADER:
        raise ValueError("response headers too large")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"content-length", b"l"):
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    status_line = head.split(b"\r\n", 1)[0]
    return int(status_line.split(b" ", 2)[1])


async def open_tls(
    target: Target, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        target.address, target.port, ssl=context, server_hostname=target.name
    )


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


async def probe_once(target: Target, context: ssl.SSLContext) -> int:
    reader, writer = await open_tls(target, context)
    try:
        local = writer.get_extra_info("sockname")
        writer.write(options_request(target, local[:2], 1, uuid.uuid4().hex))
        await writer.drain()
        return await read_response(reader)
    finally:
        await close(writer)


async def sweep(targets: list[Target], context: ssl.SSLContext, concurrency: int) -> list[str]:
    """Errors, one per failed probe (an empty list: every probe got a 2xx)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> str | None:
        async with gate:
            try:
                code = await asyncio.wait_for(probe_once(target, context), DEADLINE_S)
            except (OSError, ssl.SSLError, ValueError, TimeoutError) as exc:
                return f"{target.uri}: {exc!r}"
            return None if 200 <= code < 300 else f"{target.uri}: {code}"

    outcomes = await asyncio.gather(*(one(target) for target in targets))
    return [error for error in outcomes if error is not None]


async def ping(target: Target, context: ssl.SSLContext, count: int) -> list[str]:
    """`count` OPTIONS over one connection, strictly one after another."""
    errors = []
    reader, writer = await open_tls(target, context)
    try:
        local = writer.get_extra_info("sockname")[:2]
        call_id = uuid.uuid4().hex
        for cseq in range(1, count + 1):
            writer.write(options_request(target, local, cseq, call_id))
            await writer.drain()
            code = await asyncio.wait_for(read_response(reader), DEADLINE_S)
            if not 200 <= code < 300:
                errors.append(f"CSeq {cseq}: {code}")
    finally:
        await close(writer)
    return errors


def client_context(ca: Path) -> ssl.SSLContext:
    """Verifying, as a real client: the lab CA only, hostname checked, TLS 1.2 at least."""
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("mode", choices=("sweep", "ping"))
    parser.add_argument("--targets", type=Path, required=True)
    parser.add_argument("--ca", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preload", type=Path, help="a file of modules to import first")
    args = parser.parse_args(argv)
    for module in args.preload.read_text().split() if args.preload else ():
        importlib.import_module(module)
    targets = read_targets(args.targets)
    context = client_context(args.ca)
    started = time.perf_counter()
    if args.mode == "sweep":
        errors = asyncio.run(sweep(targets, context, args.concurrency))
        probes = len(targets)
    else:
        errors = asyncio.run(ping(targets[0], context, args.count))
        probes = args.count
    inner = time.perf_counter() - started
    summary = {
        "probes": probes,
        "ok": probes - len(errors),
        "failed": len(errors),
        "inner_s": inner,
    }
    args.out.write_text(json.dumps(summary | {"errors": errors[:10]}))
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
