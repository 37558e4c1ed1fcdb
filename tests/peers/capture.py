"""Packet captures of real traffic on loopback, with tcpdump or dumpcap, for the capture
audit's tests; and tshark's own dissection of them, to cross-check the audit.

A capture is known to hold everything sent while it ran: a marker datagram is sent
before the traffic and another after it, and the block starts only once the first is in
the file (a capturing tool says it is capturing a moment before its filter is live), and
the capture stops only once the second is (the loopback delivers in order). Both come
from one socket: one flow in the capture. Without the privilege to capture, the test is a
failure under CI and a skip elsewhere (tests.peers.common.missing_peer).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.peers.common import free_port, missing_peer, require_binary, stop, tail

_PRIVILEGE_WORDS = ("permission", "operation not permitted", "not permitted")


@dataclass
class Capture:
    path: Path
    log: Path


@contextlib.contextmanager
def capturing(
    path: Path, bpf: str, *, tool: str = "tcpdump", snaplen: int = 262144, interface: str = "lo"
) -> Iterator[Capture]:
    """Capture on `interface` what `bpf` selects, into `path` (pcap with tcpdump, pcapng
    with dumpcap), while the block runs. `any` gives Linux cooked frames (SLL2)."""
    binary = require_binary(tool)
    marker_port = free_port(socket.SOCK_DGRAM)
    token = secrets.token_hex(8)
    start, end = (f"sipprobe-capture-{when}-{token}".encode() for when in ("start", "end"))
    selected = f"({bpf}) or (udp port {marker_port})"
    if tool == "tcpdump":
        # -U: each packet written as captured; -Z root: no switch to the tcpdump user,
        # who could not write into the test's directory.
        command = [binary, "-i", interface, "-n", "-U", "-Z", "root", "-s", str(snaplen)]
        command += ["-w", str(path), selected]
        ready = "listening on"
    else:
        command = [binary, "-i", interface, "-q", "-s", str(snaplen), "-w", str(path)]
        command += ["-f", selected]
        ready = "Capturing on"
    log = path.with_suffix(path.suffix + ".log")
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        _wait_for(process, log, ready, tool)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            _mark(sender, path, start, marker_port, process, log)
            yield Capture(path, log)
            _mark(sender, path, end, marker_port, process, log)
    finally:
        stop(process)


def _wait_for(process: subprocess.Popen[bytes], log: Path, ready: str, tool: str) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if ready in text:
            return
        if process.poll() is not None:
            if any(word in text.lower() for word in _PRIVILEGE_WORDS):
                missing_peer(f"{tool} may not capture on lo (no root, no CAP_NET_RAW): {text}")
            raise RuntimeError(f"{tool} exited with {process.returncode}:\n{tail(log)}")
        time.sleep(0.05)
    raise RuntimeError(f"{tool} did not start capturing within 15 s:\n{tail(log)}")


def _mark(
    sender: socket.socket,
    path: Path,
    marker: bytes,
    port: int,
    process: subprocess.Popen[bytes],
    log: Path,
) -> None:
    """Send `marker` until the capture file holds it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sender.sendto(marker, ("127.0.0.1", port))
        time.sleep(0.1)
        if path.exists() and marker in path.read_bytes():
            return
        if process.poll() is not None:
            break
    raise RuntimeError(f"the capture never recorded its marker {marker!r}:\n{tail(log)}")


def tshark_fields(
    path: Path, display_filter: str, fields: list[str], *decode_as: str
) -> list[list[str]]:
    """tshark's dissection of `path`: one row of `fields` per frame that `display_filter`
    selects (each field's occurrences joined by commas, as tshark writes them)."""
    binary = require_binary("tshark")
    command = [binary, "-r", str(path), "-n", "-Y", display_filter, "-T", "fields"]
    for rule in decode_as:
        command += ["-d", rule]
    for field in fields:
        command += ["-e", field]
    command += ["-E", "occurrence=a", "-E", "separator=\t"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tshark failed ({done.returncode}): {done.stderr}")
    return [line.split("\t") for line in done.stdout.splitlines() if line.strip()]
