"""`sipprobe answer` run as a user runs it: a child process whose stderr line says where it
listens, callers (`sipprobe invite`, baresip, SIPp behind Kamailio) sent there, and what
it printed read back. Every wait has a deadline; a child that hangs is killed and the
test fails."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import select
import subprocess
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from probe.tls.lab import LabFiles
from tests.conftest import LAB_NAME
from tests.signal_child import start_sipprobe

LISTENING = re.compile(
    r"sipprobe: listening on (?P<transport>tls|tcp|udp):(?P<address>[^ ]+):(?P<port>\d+)[:,]"
)
READY_SECONDS = 20.0
"""How long a child may take to print where it listens (an interpreter starting on a
loaded machine)."""
EXIT_SECONDS = 30.0
"""How long a child may take to exit beyond what its own options promise."""


@dataclass
class Ran:
    """A finished sipprobe child: its exit code and what it wrote."""

    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.out)
        return document

    def findings(self, check: str) -> list[dict[str, Any]]:
        return [item for item in self.json()["findings"] if item["check"] == check]

    def finding(self, check: str) -> dict[str, Any]:
        found = self.findings(check)
        assert len(found) == 1, (check, found, self.out, self.err)
        return found[0]


@dataclass
class AnswerCommand:
    """A running `sipprobe answer`, listening on `port`."""

    process: asyncio.subprocess.Process
    port: int
    ready_line: str
    err_before: list[str] = field(default_factory=list)

    async def result(self, timeout: float = EXIT_SECONDS) -> Ran:
        """Its exit code and output, once it exits; killed (the test failed) past
        `timeout`."""
        try:
            out, err = await asyncio.wait_for(self.process.communicate(), timeout)
        except TimeoutError:
            self.kill()
            await self.process.wait()
            raise AssertionError(f"sipprobe answer did not exit within {timeout:g} s") from None
        assert self.process.returncode is not None
        before = "".join(self.err_before)
        return Ran(self.process.returncode, out.decode(), before + err.decode())

    async def said(self, text: str, timeout: float = 15.0) -> str:
        """The next stderr line holding `text` (lines read on the way are kept for
        `result`); the test fails past `timeout`."""
        stream = self.process.stderr
        assert stream is not None
        try:
            async with asyncio.timeout(timeout):
                while raw := await stream.readline():
                    line = raw.decode()
                    self.err_before.append(line)
                    if text in line:
                        return line
        except TimeoutError:
            pass
        raise AssertionError(f"sipprobe answer never said {text!r}: {''.join(self.err_before)}")

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


async def start_answer(*args: str) -> AnswerCommand:
    """`sipprobe answer ARGS`, returned once it has said where it listens. Fails with
    what it printed when it exits (or stays silent) instead."""
    process = await start_sipprobe("answer", *args)
    assert process.stderr is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(READY_SECONDS):
            while True:
                raw = await process.stderr.readline()
                if not raw:
                    break
                line = raw.decode()
                lines.append(line)
                match = LISTENING.search(line)
                if match:
                    return AnswerCommand(process, int(match["port"]), line, lines)
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    out, err = await asyncio.wait_for(process.communicate(), EXIT_SECONDS)
    raise AssertionError(
        f"sipprobe answer never said where it listens (exit {process.returncode}):\n"
        f"{''.join(lines)}{err.decode()}{out.decode()}"
    )


@contextlib.asynccontextmanager
async def answering(*args: str) -> AsyncIterator[AnswerCommand]:
    """`start_answer`, killed on leaving the block if it is still running."""
    command = await start_answer(*args)
    try:
        yield command
    finally:
        if command.process.returncode is None:
            command.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(command.process.wait(), EXIT_SECONDS)


def listen_tls(
    lab: LabFiles,
    *extra: str,
    within: float = 20,
    hold: float = 1,
    listen: str = "tls:127.0.0.1:0",
) -> list[str]:
    """The arguments of an answer run on a free loopback TLS port (or `listen`) with the
    lab's server certificate."""
    return [
        "--listen",
        listen,
        "--listen-cert",
        str(lab.server),
        "--listen-key",
        str(lab.server_key),
        "--within",
        f"{within:g}",
        "--hold",
        f"{hold:g}",
        *extra,
    ]


def invite_args(lab: LabFiles, port: int, *extra: str, transport: str = "tls") -> list[str]:
    """`sipprobe invite` calling the answer run on `port` as a trunk would: the lab's
    server name, pinned to loopback, trusted through the lab's root."""
    return [
        "invite",
        f"sip:{LAB_NAME}:{port};transport={transport}",
        "--to",
        "+15550100",
        "--from",
        "sip:+15551230001@caller.example.test",
        "--resolve",
        f"{LAB_NAME}:{port}:127.0.0.1",
        "--ca",
        str(lab.ca),
        *extra,
    ]


async def run_sipprobe(*args: str, timeout: float = EXIT_SECONDS) -> Ran:
    """`sipprobe ARGS` to its end."""
    process = await start_sipprobe(*args)
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"sipprobe {args[0]} did not exit within {timeout:g} s") from None
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


INLINE = re.compile(rb"inline:([A-Za-z0-9+/=]+)")
BASE64_FIELD = re.compile(rb'"([A-Za-z0-9+/]{16,}={0,2})"')


def decoded_fields(text: bytes) -> list[bytes]:
    """Every JSON string of `text` that is base64 (the evidence file's messages and
    SDP), decoded: a key could hide in them."""
    found = []
    for match in BASE64_FIELD.finditer(text):
        with contextlib.suppress(binascii.Error, ValueError):
            found.append(base64.b64decode(match[1], validate=True))
    return found


def exposed_keys(texts: Iterable[bytes | str]) -> list[bytes]:
    """SDES key material (`inline:` values that are not all zeros, RFC 4568 §9.1) in
    `texts`, base64 fields of JSON decoded first."""
    exposed = []
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for blob in (data, *decoded_fields(data)):
            for match in INLINE.finditer(blob):
                value = match[1].split(b"|")[0]
                with contextlib.suppress(binascii.Error, ValueError):
                    if set(base64.b64decode(value + b"=" * (-len(value) % 4))) <= {0}:
                        continue
                exposed.append(value)
    return exposed


def assert_no_key(secrets: Sequence[bytes], texts: Iterable[bytes | str]) -> None:
    """None of `secrets` (the inline: values that crossed the wire) appears in any of
    `texts`, as written or inside a base64 field; and no other live key does either."""
    materials = [text.encode() if isinstance(text, str) else text for text in texts]
    for data in materials:
        for blob in (data, *decoded_fields(data)):
            for secret in secrets:
                assert secret not in blob, f"a key appears in the output: {secret!r}"
    assert exposed_keys(materials) == []


def announced_port(process: subprocess.Popen[str], transport: str = "tls") -> int:
    """The port a child (`answer`, `check --inbound`) announced on stderr for its loopback
    `transport` listener, read within READY_SECONDS; the child is killed and the test
    fails when it never says."""
    assert process.stderr is not None
    pattern = re.compile(rf"listening on {transport}:127\.0\.0\.1:(\d+)")
    seen = ""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stderr], [], [], 0.5)
        if not ready:
            if process.poll() is not None:
                break
            continue
        line = process.stderr.readline()
        if not line:
            break
        seen += line
        if match := pattern.search(line):
            return int(match.group(1))
    process.kill()
    pytest.fail(f"the child never said where it listens: {seen!r}")
