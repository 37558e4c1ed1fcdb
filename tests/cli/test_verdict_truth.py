"""The verdict never lies: work interrupted or refused is never PASS (docs/verdicts.md).

Each test runs the real command in a child process against a real loopback peer.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

SIPPROBE = (sys.executable, "-m", "probe")


def _default_sigint() -> None:
    # The suite may run with SIGINT ignored (a background job, nohup); a child would
    # inherit that and never see the Ctrl-C this test sends.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@asynccontextmanager
async def mute_server() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """A TCP server that accepts, reads the request and never answers; the event is set
    once a request has arrived (the probe is then waiting on it)."""
    heard = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        if await reader.read(65536):
            heard.set()
        await reader.read()  # until the client closes

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1]), heard
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def _interrupt_after_request(args: list[str]) -> tuple[int, str, str]:
    async with mute_server() as (port, heard):
        target = f"sip:127.0.0.1:{port};transport=tcp"
        process = await asyncio.create_subprocess_exec(
            *SIPPROBE,
            "options",
            target,
            "--timeout",
            "30",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            preexec_fn=_default_sigint,
        )
        await asyncio.wait_for(heard.wait(), 20)
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_ctrl_c_on_a_silent_server_is_never_a_pass_in_json() -> None:
    code, out, err = await _interrupt_after_request(["--format", "json"])
    assert code == 130, err
    report = json.loads(out)
    assert report["verdict"] == "incomplete"
    (options,) = [f for f in report["findings"] if f["check"] == "sip.options"]
    assert options["status"] == "incomplete"


async def test_ctrl_c_under_nagios_is_unknown_not_ok() -> None:
    code, out, err = await _interrupt_after_request(["--nagios"])
    assert code == 3, out + err  # the plugin API's UNKNOWN
    assert out.startswith("SIPPROBE UNKNOWN - "), out


@pytest.mark.parametrize(
    ("target_form", "extra"),
    [
        ("sip:127.0.0.1:{port};transport=udp", []),
        ("sip:127.0.0.1:{port}", []),  # an explicit port and no transport= means UDP
        ("sip:127.0.0.1:{port};transport=tcp", []),  # SDES keys over cleartext TCP
    ],
)
@pytest.mark.parametrize("nagios", [False, True])
def test_a_call_that_cannot_be_placed_is_refused_before_any_packet(
    target_form: str, extra: list[str], nagios: bool, tmp_path: Path
) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
    ):
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        tcp.bind(("127.0.0.1", port))
        tcp.listen()
        tcp.setblocking(False)
        udp.setblocking(False)
        args = ["invite", target_form.format(port=port), "--to", "sip:+15550100@127.0.0.1"]
        args += ["--timeout", "1", *extra, *(["--nagios"] if nagios else [])]
        result = subprocess.run(
            [*SIPPROBE, *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert "TLS" in result.stderr
        assert result.stdout == ""  # no report that could read as OK
        with pytest.raises(BlockingIOError):
            udp.recv(65535)
        with pytest.raises(BlockingIOError):
            tcp.accept()
