"""Shared plumbing for real-peer fixtures: free ports, readiness, the CI rule."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import pytest


def under_ci(value: str | None) -> bool:
    """Whether a `CI` environment value means a CI run: CI systems set it to `true`,
    `1`, `yes` or other words; empty, `0`, `false` and `no` mean not."""
    return (value or "").strip().lower() not in ("", "0", "false", "no", "off")


IN_CI = under_ci(os.environ.get("CI"))


def missing_peer(message: str) -> NoReturn:
    """What a test cannot do without: under CI a failure, elsewhere a skip."""
    if IN_CI:
        pytest.fail(f"{message}; under CI a missing peer is a failure")
    pytest.skip(f"{message}; not under CI, so skipping")


def require_binary(name: str) -> str:
    """Path of `name`; under CI a missing peer fails the test, elsewhere it skips."""
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )
    if path is None:
        missing_peer(f"{name} is not installed (make test installs it)")
    return path


def bracketed(host: str) -> str:
    """An IPv6 literal in brackets, as URIs and listen lines want it."""
    return f"[{host}]" if ":" in host else host


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on `host` (TCP by default)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def free_port_both(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP (SIP listens on both)."""
    for _ in range(50):
        port = free_port(socket.SOCK_STREAM, host)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind((host, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for both TCP and UDP")


def wait_for_tcp(
    host: str, port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"peer exited with {process.returncode} before listening:\n{tail(log)}"
            )
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"peer did not listen on {host}:{port} within {timeout} s:\n{tail(log)}")


def wait_for_sip_udp(
    host: str, port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 15.0
) -> None:
    """Until an OPTIONS over UDP gets any SIP response: the server's workers are up."""
    where = bracketed(host)
    request = (
        f"OPTIONS sip:{where}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {where}:9;branch=z9hG4bKready;rport\r\nMax-Forwards: 70\r\n"
        f"From: <sip:ready@{where}>;tag=r\r\nTo: <sip:{where}>\r\nCall-ID: ready\r\n"
        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    deadline = time.monotonic() + timeout
    with socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM
    ) as udp:
        udp.settimeout(0.2)
        udp.connect((host, port))
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"peer exited with {process.returncode}:\n{tail(log)}")
            try:
                udp.send(request)
                if udp.recv(65536).startswith(b"SIP/2.0 "):
                    return
            except OSError:
                time.sleep(0.05)
    raise RuntimeError(f"peer did not answer OPTIONS on {host}:{port}/udp:\n{tail(log)}")


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
