"""An SBC for test calls: Kamailio's TLS listener towards the caller, relaying over UDP
to a SIPp UAS (tests.peers.sipp) that plays a scenario of the test's choosing; or the
other way round, Kamailio relaying a SIPp UAC's calls over TLS to a listener."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from probe.tls.lab import LabFiles
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import Sipp, start_sipp


@contextlib.contextmanager
def relaying_to_sipp(
    workdir: Path, lab: LabFiles, scenario: str
) -> Iterator[tuple[Kamailio, Sipp]]:
    """Kamailio (the lab's server chain) in front of SIPp playing `scenario`; both
    stopped when the block ends, SIPp too when Kamailio cannot start."""
    sipp = start_sipp(workdir / "sipp", scenario)
    try:
        kamailio = start_kamailio(
            workdir / "kamailio",
            [TlsProfile("tls", lab.server, lab.server_key)],
            relay_to=("127.0.0.1", sipp.port),
        )
    except BaseException:
        sipp.stop()
        raise
    try:
        yield kamailio, sipp
    finally:
        sipp.stop()
        kamailio.stop()


@contextlib.contextmanager
def calling_over_tls(
    workdir: Path, lab: LabFiles, port: int, *, client_cert: tuple[Path, Path] | None = None
) -> Iterator[Kamailio]:
    """Kamailio relaying the calls a UAC sends to its UDP port over TLS to
    127.0.0.1:`port` (SIPp cannot speak TLS itself), presenting `client_cert` (chain,
    key) when the far end asks for one."""
    kamailio = start_kamailio(
        workdir / "kamailio",
        [TlsProfile("tls", lab.server, lab.server_key)],
        relay_to=("127.0.0.1", port),
        relay_transport="tls",
        client_identity=client_cert,
    )
    try:
        yield kamailio
    finally:
        kamailio.stop()
