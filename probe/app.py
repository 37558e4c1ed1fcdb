"""Command implementations behind the thin click layer: inputs → settings → run → report.

Everything a user typed is validated here before any connection is opened, so bad input
is a usage error (exit 2) with a sentence, never a half-run probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from probe.checks import OptionsPolicy, TlsPolicy
from probe.checks.options import AcceptError, parse_accept
from probe.net.options import ProbeSettings
from probe.net.resolve import Pin, PinError, parse_pin
from probe.report.model import Report
from probe.runner import PlannedProbe, TargetError, run_options, target_of
from probe.sip import SipError, parse_uri
from probe.tls.context import TlsClientConfig, TlsConfigError, TlsVersionName, check_client_config

if TYPE_CHECKING:
    from probe.tls.trust import TrustAnchors

UsageError = Callable[[str], NoReturn]


@dataclass(frozen=True, slots=True)
class OptionsRequest:
    """What the user asked `sipprobe options` for, as typed."""

    targets: Sequence[str]
    pins: Sequence[str] = ()
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    sni: str | None = None
    min_tls: str = "1.2"
    timeout: float = 5.0
    insecure: bool = False
    trust: str | None = None
    """`system`, `mozilla`, or a PEM file or directory; `--ca` is the same as a path."""
    warn_days: int = 30
    critical_days: int = 7
    accept_wildcard: bool = False
    enumerate_tls: bool = False
    accept: str = "2xx"
    count: int = 1
    interval: float = 1.0
    concurrency: int = 50


def plan_probes(targets: Sequence[str], usage: UsageError) -> list[PlannedProbe]:
    planned = []
    for text in targets:
        try:
            uri = parse_uri(text)
            planned.append(PlannedProbe(uri, target_of(uri, text)))
        except (SipError, TargetError) as exc:
            usage(f"target {text!r}: {exc}")
    return planned


def load_anchors(request: OptionsRequest, usage: UsageError) -> TrustAnchors:
    """`--trust system|mozilla|PATH` (or `--ca PATH`) → trust anchors, or a usage error."""
    from probe.tls.trust import TrustStoreError, load_trust_anchors

    if request.ca is not None and request.trust is not None:
        usage("--ca and --trust name the same thing; give one")
    choice = str(request.ca) if request.ca is not None else (request.trust or "system")
    option = "--ca" if request.ca is not None else "--trust"
    try:
        if choice == "system":
            return load_trust_anchors("system")
        if choice == "mozilla":
            import certifi

            anchors = load_trust_anchors(Path(certifi.where()))
            return replace(anchors, source=f"Mozilla (certifi), {anchors.source}")
        return load_trust_anchors(Path(choice))
    except TrustStoreError as exc:
        usage(f"{option}: {exc}")


def build_policy(request: OptionsRequest, needs_tls: bool, usage: UsageError) -> OptionsPolicy:
    try:
        accept = parse_accept(request.accept)
    except AcceptError as exc:
        usage(str(exc))
    if not 0 <= request.critical_days <= request.warn_days:
        usage("--critical-days must be between 0 and --warn-days")
    tls = TlsPolicy(
        min_version=request.min_tls,
        warn_days=request.warn_days,
        critical_days=request.critical_days,
        accept_wildcards=request.accept_wildcard,
        insecure=request.insecure,
    )
    anchors = load_anchors(request, usage) if needs_tls else None
    return OptionsPolicy(accept=accept, tls=tls, anchors=anchors)


def build_settings(request: OptionsRequest, usage: UsageError) -> ProbeSettings:
    pins: list[Pin] = []
    for text in request.pins:
        try:
            pins.append(parse_pin(text))
        except PinError as exc:
            usage(str(exc))
    if request.key is not None and request.cert is None:
        usage("--key needs --cert")
    min_tls: TlsVersionName = request.min_tls  # type: ignore[assignment]
    tls = TlsClientConfig(min_version=min_tls, cert_file=request.cert, key_file=request.key)
    try:
        check_client_config(tls)
    except TlsConfigError as exc:
        usage(str(exc))
    return ProbeSettings(
        timeout=request.timeout,
        tls=tls,
        sni=request.sni,
        pins=tuple(pins),
        count=request.count,
        interval=request.interval,
        enumerate_tls=request.enumerate_tls,
    )


def run_options_command(request: OptionsRequest, *, on_usage_error: UsageError) -> Report:
    probes = plan_probes(request.targets, on_usage_error)
    settings = build_settings(request, on_usage_error)
    needs_tls = any(planned.target.transport == "tls" for planned in probes)
    policy = build_policy(request, needs_tls, on_usage_error)
    notes = []
    if request.insecure:
        notes.append("--insecure: certificate failures are reported as warnings")
    return asyncio.run(
        run_options(probes, settings, policy, concurrency=request.concurrency, notes=notes)
    )


def run_serve_command(
    host: str, port: int, transports: Sequence[str], cert: Path | None, key: Path | None
) -> int:
    from probe.serve import Responder, ResponderConfig

    config = ResponderConfig(
        host=host,
        port=port,
        transports=tuple(transports),  # type: ignore[arg-type]
        cert_file=cert,
        key_file=key,
    )

    async def serve_forever() -> None:
        async with Responder(config) as responder:
            for listener in responder.listeners:
                print(
                    f"listening on {listener.transport} {listener.host}:{listener.port}", flush=True
                )
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever())
    return 0


DEMO_NAME = "sip.example.test"


def run_demo() -> Report:
    """A lab PKI, a local TLS responder, and a real probe of it (with the lab CA)."""
    from probe.serve import Responder, ResponderConfig
    from probe.tls.lab import write_lab
    from probe.tls.trust import load_trust_anchors

    async def demo(directory: Path) -> Report:
        lab = write_lab(directory, server_names=(DEMO_NAME,))
        config = ResponderConfig(
            host="127.0.0.1", transports=("tls",), cert_file=lab.server, key_file=lab.server_key
        )
        async with Responder(config) as responder:
            port = responder.port_of("tls")
            text = f"sip:{DEMO_NAME}:{port};transport=tls"
            uri = parse_uri(text)
            settings = ProbeSettings(pins=(Pin(DEMO_NAME, port, "127.0.0.1"),), timeout=5.0)
            policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
            return await run_options(
                [PlannedProbe(uri, target_of(uri, text))],
                settings,
                policy,
                notes=[
                    f"demo: sipprobe's embedded responder on 127.0.0.1:{port}, presenting a"
                    f" throw-away lab PKI; {DEMO_NAME} pinned to 127.0.0.1, lab root CA trusted"
                ],
            )

    with tempfile.TemporaryDirectory(prefix="sipprobe-demo-") as directory:
        return asyncio.run(demo(Path(directory)))
