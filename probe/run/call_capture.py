"""`sipprobe invite --capture FILE`: the test call's packets recorded while it runs, then
audited like `sipprobe pcap FILE`, its findings in the call's report.

- **What is recorded**: the call's signalling (TCP to and from each address the target
  was located at, on its port) and its media (UDP on the port our offer names and the
  one above it, RTCP's, RFC 3550 §11), whoever sends them. The capture starts once the
  target is located (probe.run.collect's `before_probing`), before the first packet to
  it, so the TLS handshake is in it. On loopback when every address is a loopback one,
  else on `any` (Linux cooked frames, which the audit reads).
- **With what**: tcpdump (dumpcap when there is no tcpdump), started in its own session
  so a Ctrl-C at the terminal reaches sipprobe only (which then ends the call, and only
  then the capture), with the kernel told to stop it when sipprobe dies
  (PR_SET_PDEATHSIG), so no signal can leave it running. Ready when it says so on
  standard error ("listening on", "Capturing on") and a first marker datagram (below) is
  in the file, never after a guessed pause: dumpcap says it is capturing before it opens
  the interface, and the call's first packets, its TLS handshake, would be lost.
- **Its end**: once the call is over, sipprobe sends itself one datagram on loopback
  that the filter also selects, and waits (with a deadline) until the file holds it:
  everything the call sent was then written. The tool is then stopped with SIGINT, and
  killed past a deadline. The marker is among the capture's last packets (a far end's
  late ACK may follow it).
- **Without the privilege to capture** (not root, no CAP_NET_RAW) or without the tool,
  the call still runs; `pcap.capture` says why nothing was recorded (incomplete).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from probe.errors import ProbeError

if TYPE_CHECKING:
    from probe.evidence.capture import CaptureEvidence, CaptureRecording
    from probe.evidence.run import RunEvidence
    from probe.net.options import ProbeSettings
    from probe.run.commands import UsageError
    from probe.run.locating import Located
    from probe.verdict.checks.policy import OptionsPolicy
    from probe.verdict.findings import CaptureResult

__all__ = ["CallCapture", "CaptureUnavailable", "capture_filter", "capture_interface"]

READY_WITHIN = 10.0
"""Seconds the tool may take to start capturing."""
MARKER_WITHIN = 3.0
"""Seconds a marker datagram may take to reach the file."""
STOP_WITHIN = 5.0
"""Seconds the tool may take to exit after SIGINT, before it is killed."""
_READY_WORDS = {"tcpdump": b"listening on", "dumpcap": b"Capturing on"}
_PRIVILEGE_WORDS = ("permission", "not permitted")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class CaptureUnavailable(ProbeError):
    """The capture could not be made; the message says why, in a sentence."""


def capture_interface(addresses: Sequence[str]) -> str:
    """`lo` when every address is a loopback one (the call never leaves the host), else
    `any`."""
    loopback = all(ipaddress.ip_address(address).is_loopback for address in addresses)
    return "lo" if addresses and loopback else "any"


def capture_filter(signalling: Sequence[tuple[str, int]], media_port: int, marker_port: int) -> str:
    """The BPF filter of one call: TCP with each located address on its port, UDP on the
    media port and the one above, and the end marker (UDP to 127.0.0.1 on its port).
    Addresses are rewritten from their parsed form, so nothing else can reach the filter."""
    parts = [
        f"(host {ipaddress.ip_address(address)} and tcp port {int(port)})"
        for address, port in dict.fromkeys(signalling)
    ]
    parts.append(f"(udp portrange {int(media_port)}-{int(media_port) + 1})")
    parts.append(f"(udp and dst host 127.0.0.1 and dst port {int(marker_port)})")
    return " or ".join(parts)


def _find_tool() -> tuple[str, str] | None:
    for name in ("tcpdump", "dumpcap"):
        path = shutil.which(name)
        if path is not None:
            return name, path
    return None


def _user_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGINT when sipprobe dies, however
    it dies (Linux; elsewhere nothing is done). tcpdump and dumpcap flush and exit on it."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    """Start the tool. Not asyncio's subprocess: the process must outlive the event loop
    (the loop kills its children when it closes, before the call's end is recorded), and
    it is forked from the thread that runs the loop, the main one, which the kernel's
    parent-death signal is tied to."""
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        umask=0o077,  # the capture may hold what the call carried: ours to read only
    )


def _command(tool: str, binary: str, interface: str, bpf: str, path: Path) -> list[str]:
    if tool == "tcpdump":
        # -U and --immediate-mode: each packet is written as soon as it is seen; -Z: a
        # root tcpdump keeps our user instead of switching to one that may not write here.
        return [
            binary, "-i", interface, "-n", "-U", "--immediate-mode", "-s", "262144",
            "-Z", _user_name(), "-w", str(path), bpf,
        ]  # fmt: skip
    return [binary, "-i", interface, "-q", "-s", "262144", "-w", str(path), "-f", bpf]


def _said(text: bytes) -> str:
    """The tool's own words, on one line."""
    lines = [line.strip() for line in text.decode("utf-8", "replace").splitlines()]
    return "; ".join(line for line in lines if line)[:500]


@dataclass(slots=True)
class _Stats:
    captured: int | None = None
    dropped: int | None = None


def _stats(tool: str, text: str) -> _Stats:
    """What the tool reported when it stopped (tcpdump: `N packets captured`, `N packets
    dropped by kernel`; dumpcap: `Packets captured: N`, `received/dropped ... N/M`)."""
    stats = _Stats()
    if tool == "tcpdump":
        captured = re.search(r"(\d+) packets? captured", text)
        dropped = re.findall(r"(\d+) packets? dropped by (?:kernel|interface)", text)
        stats.captured = int(captured.group(1)) if captured else None
        stats.dropped = sum(int(n) for n in dropped) if dropped else None
    else:
        total = re.search(r"Packets captured: (\d+)", text)
        lost = re.search(r"received/dropped on interface '[^']*': \d+/(\d+)", text)
        stats.captured = int(total.group(1)) if total else None
        stats.dropped = int(lost.group(1)) if lost else None
    return stats


class _MarkerWatch:
    """Looks for a marker datagram in the capture file as it grows, reading only what was
    written since the last look (a call's capture can be large by its end)."""

    def __init__(self, path: Path, token: bytes) -> None:
        self._path = path
        self._token = token
        self._scanned = 0

    def seen(self) -> bool:
        try:
            with self._path.open("rb") as written:
                # A token written across two looks is found by reading its length again.
                written.seek(max(0, self._scanned - len(self._token)))
                tail = written.read()
                self._scanned = written.tell()
        except OSError:
            return False
        return self._token in tail


class CallCapture:
    """One call's capture: planned before the run, started once the target is located,
    stopped after the call, then audited (`result`)."""

    def __init__(self, path: Path, usage: UsageError) -> None:
        import importlib.util

        from probe.pcap.reader import PCAP_EXTRA_MISSING

        if importlib.util.find_spec("scapy") is None:
            usage(f"--capture: {PCAP_EXTRA_MISSING}")
        if path.is_dir():
            usage(f"--capture {path}: is a directory")
        if not path.parent.is_dir():
            usage(f"--capture {path}: the directory {path.parent} does not exist")
        self.path = path
        self.tool: str | None = None
        self.interface: str | None = None
        self.bpf: str | None = None
        self.problem: str | None = None
        self.notes: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._stopped = False
        self._marker_seen = False
        self._killed = False
        self._stats = _Stats()
        token = secrets.token_hex(8)
        self._start_token = f"sipprobe-capture-start-{token}".encode()
        self._token = f"sipprobe-capture-end-{token}".encode()
        # The markers' receiver, bound for the whole call: a datagram then has somewhere
        # to go (no ICMP error in the capture), and its port is in the filter.
        self._marker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._marker.bind(("127.0.0.1", 0))
        self.media_port = self._free_udp_port()

    @staticmethod
    def _free_udp_port() -> int:
        """A UDP port for the call's media, free now: the filter names it, and the call
        offers it (probe.net.call reserves it again, or another port if it was taken)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("", 0))
            return int(probe.getsockname()[1])

    def settings(self, settings: ProbeSettings) -> ProbeSettings:
        """The probe settings with the call's media on the port the capture filters."""
        if settings.call is None:
            return settings
        return replace(settings, call=replace(settings.call, media_port=self.media_port))

    # -- start, once located -------------------------------------------------------------

    async def start(self, located: Sequence[Located]) -> None:
        """Start the capture for the located targets; any failure is kept in `problem`
        (the call goes on either way). A cancellation while waiting stops nothing here:
        `stop` does, whatever happens."""
        signalling = [
            (target.address, target.port)
            for entry in located
            for _, target in entry.targets()
            if target.address is not None
        ]
        if not signalling:
            self.problem = "the target was not located, so no packet of it could be captured"
            return
        found = _find_tool()
        if found is None:
            self.problem = "neither tcpdump nor dumpcap is installed (Debian: apt install tcpdump)"
            return
        self.tool, binary = found
        self.interface = capture_interface([address for address, _ in signalling])
        self.bpf = capture_filter(signalling, self.media_port, self._marker.getsockname()[1])
        command = _command(self.tool, binary, self.interface, self.bpf, self.path)
        try:
            self._process = _spawn(command)
        except OSError as exc:
            self.problem = f"{self.tool} could not be started: {exc.strerror or exc}"
            return
        try:
            await self._wait_until_ready(self._process)
        except CaptureUnavailable as exc:
            self.problem = str(exc)

    async def _wait_until_ready(self, process: subprocess.Popen[bytes]) -> None:
        """Read the tool's standard error until it says it is capturing, or exits."""
        assert process.stderr is not None
        assert self.tool is not None
        ready_word = _READY_WORDS[self.tool]
        loop = asyncio.get_running_loop()
        descriptor = process.stderr.fileno()
        os.set_blocking(descriptor, False)
        said = bytearray()
        outcome: asyncio.Future[bool] = loop.create_future()

        def readable() -> None:
            try:
                chunk = os.read(descriptor, 4096)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            said.extend(chunk)
            if outcome.done():
                return
            if ready_word in said:
                outcome.set_result(True)
            elif not chunk:
                outcome.set_result(False)

        loop.add_reader(descriptor, readable)
        try:
            async with asyncio.timeout(READY_WITHIN):
                ready = await outcome
        except TimeoutError:
            raise CaptureUnavailable(
                f"{self.tool} did not start capturing within {READY_WITHIN:g} s"
                + (f" ({_said(bytes(said))})" if said else "")
            ) from None
        finally:
            loop.remove_reader(descriptor)
            os.set_blocking(descriptor, True)
        if ready and await self._recorded(self._start_token):
            self._ready = True
            return
        if ready:
            raise CaptureUnavailable(
                f"{self.tool} said it was capturing but wrote nothing to {self.path.name} "
                f"within {MARKER_WITHIN:g} s"
            )
        words = _said(bytes(said))
        if any(word in words.lower() for word in _PRIVILEGE_WORDS):
            raise CaptureUnavailable(
                f"no privilege to capture on {self.interface} (run as root, or give "
                f"{self.tool} CAP_NET_RAW): {self.tool} said: {words}"
            )
        raise CaptureUnavailable(f"{self.tool} could not capture: {words or 'it exited'}")

    async def _recorded(self, token: bytes) -> bool:
        """Send `token` to ourselves until the file holds it, within a deadline: the
        tool's filter is then live, whatever it said before."""
        watch = _MarkerWatch(self.path, token)
        deadline = time.monotonic() + MARKER_WITHIN
        while time.monotonic() < deadline:
            self._send(token)
            await asyncio.sleep(0.05)
            if watch.seen():
                return True
        return False

    def _send(self, token: bytes) -> None:
        with contextlib.suppress(OSError):
            self._marker.sendto(token, self._marker.getsockname())

    # -- stop, after the call -------------------------------------------------------------

    def stop(self) -> None:
        """Stop the capture (idempotent): mark the end, then SIGINT, then SIGKILL past a
        deadline. Safe to call whether or not it started."""
        if self._stopped:
            return
        self._stopped = True
        process = self._process
        try:
            if process is None:
                return
            ended_early = process.poll() is not None
            if self._ready and not ended_early:
                self._mark_the_end(process)
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=STOP_WITHIN)
                except subprocess.TimeoutExpired:
                    self._killed = True
                    process.kill()
                    process.wait()
            said = b""
            if process.stderr is not None:
                with contextlib.suppress(OSError):
                    said = process.stderr.read()
                process.stderr.close()
            if self._ready and self.tool is not None:
                self._stats = _stats(self.tool, said.decode("utf-8", "replace"))
                if ended_early and self.problem is None:
                    self.problem = f"{self.tool} stopped during the call: {_said(said)}"
        finally:
            self._marker.close()

    def _mark_the_end(self, process: subprocess.Popen[bytes]) -> None:
        """Send the marker to ourselves until the file holds it (loopback keeps order,
        and the tool writes each packet as it sees it), within a deadline."""
        watch = _MarkerWatch(self.path, self._token)
        deadline = time.monotonic() + MARKER_WITHIN
        while time.monotonic() < deadline and process.poll() is None:
            self._send(self._token)
            resend_at = min(deadline, time.monotonic() + 0.2)
            while time.monotonic() < resend_at:
                if watch.seen():
                    self._marker_seen = True
                    return
                time.sleep(0.02)

    # -- what it recorded -------------------------------------------------------------------

    def recording(self) -> CaptureRecording:
        from probe.evidence.capture import CaptureRecording

        problem = self.problem
        if problem is None and not self._ready:
            problem = "the run ended before the capture had started"
        return CaptureRecording(
            file=str(self.path),
            recorded=self._ready,
            tool=self.tool,
            interface=self.interface,
            bpf=self.bpf,
            problem=problem,
            packets_captured=self._stats.captured,
            packets_dropped=self._stats.dropped,
            end_marker=self._marker_seen,
            killed=self._killed,
        )

    def media_note(self, evidence: RunEvidence) -> str | None:
        """A note when the call offered its media on another port than the one filtered."""
        offered: set[int] = set()
        for probed in evidence.probed():
            call = probed.evidence.call if probed.evidence is not None else None
            if call is not None:
                offered.update(int(p) for p in re.findall(rb"^m=\w+ (\d+)", call.offer, re.M))
        others = sorted(offered - {self.media_port})
        if not others:
            return None
        return (
            f"the call's media went to port {', '.join(map(str, others))}, not the port "
            f"{self.media_port} the capture filters (it was taken): its media is not in "
            f"{self.path}"
        )

    def result(self, evidence: RunEvidence, policy: OptionsPolicy) -> CaptureResult:
        """The capture audited (when it was recorded) and judged under the call's policy."""
        from probe.verdict.capture import judge_capture

        audited = self._audit()
        note = self.media_note(evidence)
        if note is not None:
            self.notes.append(note)
        return judge_capture(audited, policy)

    def _audit(self) -> CaptureEvidence:
        recording = self.recording()
        if recording.recorded:
            from probe.pcap.audit import audit_capture
            from probe.pcap.reader import CaptureError

            try:
                return replace(audit_capture(self.path), recording=recording)
            except CaptureError as exc:
                recording = replace(
                    recording,
                    recorded=False,
                    problem=f"{recording.tool} wrote {self.path}, which cannot be read: {exc}",
                )
        return _nothing_recorded(recording)


def _nothing_recorded(recording: CaptureRecording) -> CaptureEvidence:
    """The evidence of a capture that did not happen: its recording, and nothing read."""
    import datetime as dt

    from probe.evidence.capture import (
        CaptureCounts,
        CaptureEvidence,
        CaptureLimits,
        CaptureSource,
        SipCapture,
    )
    from probe.pcap.analysis import AuditLimits

    limits = AuditLimits()
    return CaptureEvidence(
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        duration_ms=0.0,
        source=CaptureSource(file=recording.file, format="pcap", size_bytes=0, link_types=()),
        counts=CaptureCounts(),
        limits=CaptureLimits(
            max_flows=limits.max_flows,
            max_pending_bytes=limits.max_pending_bytes,
            max_listed=limits.max_listed,
        ),
        sip=SipCapture(),
        recording=recording,
    )
