"""`sipprobe serve` and `sipprobe demo`: the embedded responder, alone or probed.

The demo is a small SIP trunk on loopback, built fresh for each run: two "regions"
(us-south on 127.0.0.2, us-east on 127.0.0.3), each an embedded responder with its own
certificate from a throw-away lab PKI, and a third region (us-west, 127.0.0.4) where
nothing listens, broken on purpose.  Names are pinned, so no DNS query leaves the machine.
It runs the failover check over the three in list order, places a test call with an
SDES-SRTP offer through the primary, and returns one report of both.  Every responder
is stopped and every socket closed before it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from probe.evidence.run import Endpoint
from probe.locate.pins import Pin
from probe.net.options import ProbeSettings
from probe.report.model import Report, combine_reports
from probe.run.collect import run_failover, run_options
from probe.sip import SipUri, parse_uri
from probe.verdict.checks import OptionsPolicy
from probe.verdict.checks.policy import FailoverPolicy
from probe.verdict.findings import CheckId, Status

if TYPE_CHECKING:
    from probe.net.call import CallSettings
    from probe.serve import Responder
    from probe.tls.pki import Issued

DEMO_DOMAIN = "demo.sipprobe.test"
CALLEE = "+15550100"
DEMO_TIMEOUT = 3.0
"""Deadline of each probe phase: everything is on loopback, so this is generous."""


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    address: str
    listening: bool

    @property
    def host(self) -> str:
        return f"{self.name}.{DEMO_DOMAIN}"


REGIONS = (
    Region("us-south", "127.0.0.2", listening=True),
    Region("us-east", "127.0.0.3", listening=True),
    Region("us-west", "127.0.0.4", listening=False),
)
"""In the provider's list order: us-south is the primary; us-west is the broken one."""


def run_serve_command(
    host: str,
    port: int,
    transports: Sequence[str],
    cert: Path | None,
    key: Path | None,
    *,
    verbose: bool = False,
) -> int:
    from probe.serve import Responder, ResponderConfig

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    config = ResponderConfig(
        host=host,
        port=port,
        transports=tuple(transports),  # type: ignore[arg-type]
        cert_file=cert,
        key_file=key,
        log=log if verbose else None,
    )

    async def serve_forever() -> None:
        async with Responder(config) as responder:
            for listener in responder.listeners:
                print(
                    f"listening on {listener.transport} {listener.host}:{listener.port}", flush=True
                )
            await asyncio.Event().wait()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_forever())
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        # A bad --cert/--key or a port in use is the user's to fix, not an internal error.
        what = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        print(
            f"sipprobe serve: cannot serve on {host}:{port} with --cert {cert} --key {key}: {what}",
            file=sys.stderr,
        )
        return 2
    return 0


def run_demo() -> Report:
    """The demo trunk, probed: failover over three regions and a test call (see above)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sipprobe-demo-") as directory:
        # Keys are made before the event loop starts: RSA generation would stall it.
        pki = _make_pki(Path(directory))
        return asyncio.run(_demo(pki, started))


@dataclass(frozen=True, slots=True)
class _Pki:
    ca: Path
    """The lab root: the demo's only trust anchor."""
    leaves: dict[str, tuple[Path, Path]]
    """Per listening region: its chain (leaf first) and key."""


def _make_pki(directory: Path) -> _Pki:
    from probe.tls.lab import build_lab

    lab = build_lab(server_names=(DEMO_DOMAIN,))
    ca = directory / "ca.pem"
    ca.write_bytes(lab.root.cert_pem())
    leaves = {
        region.name: _issue(lab.intermediate, region, directory)
        for region in REGIONS
        if region.listening
    }
    return _Pki(ca, leaves)


def _issue(intermediate: Issued, region: Region, directory: Path) -> tuple[Path, Path]:
    """A leaf of the region's own (own key, so the regions are really separate), issued by
    the lab intermediate; written as chain (leaf first) and key."""
    from probe.tls.pki import make_leaf

    leaf = make_leaf(
        intermediate,
        common_name=region.host,
        dns_names=[region.host],
        ip_addresses=[region.address],
        # RFC 5922 §7.1: the SIP domain as URI:sip:<name> first, DNS:<name> as well.
        sip_uris=[f"sip:{region.host}"],
        server_auth=True,
        client_auth=True,
    )
    chain, key = directory / f"{region.name}.pem", directory / f"{region.name}.key"
    chain.write_bytes(leaf.cert_pem() + intermediate.cert_pem())
    key.touch(mode=0o600)
    key.write_bytes(leaf.key_pem())
    return chain, key


def _unused_port(address: str, preferred: int) -> int:
    """A TCP port on `address` where nothing listens: `preferred` if it is free there."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError(f"no free port on {address}")


async def _start(region: Region, port: int, chain: Path, key: Path) -> Responder:
    """A TLS responder answering calls with SDES-SRTP, on `port` if it is free, else any."""
    from probe.serve import Responder, ResponderConfig

    for candidate in dict.fromkeys((port, 0)):
        config = ResponderConfig(
            host=region.address,
            port=candidate,
            transports=("tls",),
            cert_file=chain,
            key_file=key,
            media="srtp",
        )
        responder = Responder(config)
        try:
            await responder.start()
        except OSError:
            if candidate == 0:
                raise
            continue
        return responder
    raise AssertionError("unreachable")  # pragma: no cover


def _uri(region: Region, port: int) -> tuple[str, SipUri]:
    text = f"sip:{region.host}:{port};transport=tls"
    return text, parse_uri(text)


async def _demo(pki: _Pki, started: float) -> Report:
    from probe.tls.trust import load_trust_anchors

    policy = OptionsPolicy(anchors=load_trust_anchors(pki.ca), now=dt.datetime.now(dt.UTC))
    responders: list[Responder] = []
    try:
        # One port number for every region where possible, as a real trunk uses 5061
        # everywhere; the broken region gets a port on its address where nothing listens.
        ports: dict[str, int] = {}
        for region in REGIONS:
            preferred = next(iter(ports.values()), 0)
            if region.listening:
                chain, key = pki.leaves[region.name]
                responders.append(await _start(region, preferred, chain, key))
                ports[region.name] = responders[-1].port_of("tls")
            else:
                ports[region.name] = _unused_port(region.address, preferred)
        pins = tuple(Pin(r.host, ports[r.name], r.address) for r in REGIONS)
        settings = ProbeSettings(pins=pins, timeout=DEMO_TIMEOUT)
        uris = [_uri(region, ports[region.name]) for region in REGIONS]
        endpoints = [
            (Endpoint(uri=text, host=uri.host, position=position), uri)
            for position, (text, uri) in enumerate(uris)
        ]
        failover = await run_failover(endpoints, settings, policy, FailoverPolicy(mode="list"))
        primary = REGIONS[0]
        call = await run_options([uris[0]], replace(settings, call=_call_settings(primary)), policy)
        left_open = sum(responder.open_dialogs for responder in responders)
    finally:
        for responder in responders:
            await responder.stop()
    notes = _notes(ports, left_open)
    report = combine_reports((failover, call), command="demo", notes=notes)
    # The whole demo's time, lab PKI included, rather than the sum of the two runs.
    return replace(report, duration_ms=(time.perf_counter() - started) * 1000)


def _call_settings(primary: Region) -> CallSettings:
    from probe.net.call import CallSettings

    return CallSettings(to=parse_uri(f"sip:{CALLEE}@{primary.host}"), answer_timeout=DEMO_TIMEOUT)


def _notes(ports: dict[str, int], left_open: int) -> tuple[str, ...]:
    pinned = ", ".join(f"{r.host} → {r.address}:{ports[r.name]}" for r in REGIONS)
    broken = REGIONS[-1]
    return (
        "demo: sipprobe's embedded SIP responders on loopback, each presenting its own"
        " certificate from a throw-away lab PKI made for this run (its root CA is the only"
        " trust anchor)",
        "the IBM Voice Agent endpoints that inspired this are retired; this demo runs locally",
        f"names pinned, no DNS query leaves the machine: {pinned}",
        f"failover: the three regions in list order; {broken.host} is broken on purpose"
        f" (nothing listens on {broken.address}:{ports[broken.name]}), so the verdict is FAIL"
        " by design",
        f"test call: INVITE to {CALLEE} with an SDES-SRTP offer through the primary"
        f" {REGIONS[0].host}",
        f"far side: the responders held {left_open} open dialog(s) after the call",
    )


def demo_as_designed(report: Report) -> list[str]:
    """What the demo must show; an empty list means it did.

    The demo fails on purpose (us-west listens nowhere), so its exit status follows these
    expectations rather than the report's verdict: `make demo` fails only when sipprobe
    itself does not behave as designed.
    """
    problems: list[str] = []
    by_check = {finding.check: finding for finding in report.trunk_findings}
    order = by_check.get(CheckId.FAILOVER_ORDER)
    if order is None or "us-south" not in str(order.details.get("lands_on")):
        problems.append("calls should land on us-south")
    redundancy = by_check.get(CheckId.FAILOVER_REDUNDANCY)
    if redundancy is None or redundancy.status is not Status.PASS:
        problems.append("us-south and us-east should give a real failover path")
    checks = [finding for finding in report.findings if finding.check == CheckId.SDP_SRTP]
    if not checks or any(finding.status is not Status.PASS for finding in checks):
        problems.append("the test call should negotiate SRTP")
    for finding in report.findings:
        if finding.check == CheckId.SIP_TEARDOWN and finding.details.get("dialogs_left_open"):
            problems.append("the test call should leave no dialog open")
        failed = finding.status in (Status.FAIL, Status.ERROR)
        if failed and finding.target != "trunk" and "us-west" not in finding.target:
            problems.append(f"unexpected failure: {finding.check} {finding.target}")
    return problems
