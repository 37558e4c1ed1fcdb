"""`sipprobe serve` and `sipprobe demo`: the embedded responder, alone or probed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
from collections.abc import Sequence
from pathlib import Path

from probe.checks import OptionsPolicy
from probe.locate.pins import Pin
from probe.net.options import ProbeSettings
from probe.report.model import Report
from probe.runner import run_options
from probe.sip import parse_uri

DEMO_NAME = "sip.example.test"


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
            settings = ProbeSettings(pins=(Pin(DEMO_NAME, port, "127.0.0.1"),), timeout=5.0)
            policy = OptionsPolicy(anchors=load_trust_anchors(lab.ca), now=dt.datetime.now(dt.UTC))
            return await run_options(
                [(text, parse_uri(text))],
                settings,
                policy,
                notes=[
                    f"demo: sipprobe's embedded responder on 127.0.0.1:{port}, presenting a"
                    f" throw-away lab PKI; {DEMO_NAME} pinned to 127.0.0.1, lab root CA trusted"
                ],
            )

    with tempfile.TemporaryDirectory(prefix="sipprobe-demo-") as directory:
        return asyncio.run(demo(Path(directory)))
