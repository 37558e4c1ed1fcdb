"""A real caller for inbound tests: SIPp as the UAC behind Kamailio, its INVITEs carrying
STIR/SHAKEN Identity headers signed at run time with the lab's STI PKI.

    SIPp (UDP or TCP, loopback) → Kamailio (record-routes, relays over TLS) → the listener

The listener is whatever the test points Kamailio at: `sipprobe answer`, or a test's own
TLS server. Kamailio relays the INVITE with its Identity unchanged, presents a client
certificate when asked (`client_identity`), and carries the dialog's ACK and BYE either
way (double Record-Route), so the call can be ended by either side.

    async with IdentityPki.serving(served, sti) as pki:           # x5u server on loopback
        with identity_caller(tmp_path, lab, ("127.0.0.1", port)) as caller:
            call = caller.place(pki.identity("good"))                  # one SIPp process
            outcome = await call.ended()                               # CallOutcome

`pki.identity(case)` signs a PASSporT now for one of `CASES`: "good" or one of the hostile
set of issue 19 (`HOSTILE`), whose expected verdict is `EXPECTED[case]`. The SDP offer
carries a fresh SDES key (AES_CM_128_HMAC_SHA1_80), or plain RTP with `srtp=False`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template

from probe.stir.passport import shaken_claims
from probe.stir.tn import http_date
from probe.tls.lab import LabFiles
from probe.tls.pki import Issued
from probe.tls.sti_lab import StiLab, shaken_certificate
from tests.peers.common import free_port, stop
from tests.peers.kamailio import Kamailio, TlsProfile, start_kamailio
from tests.peers.sipp import SCENARIOS, Sipp, launch_sipp
from tests.stir.kit import (
    Served,
    X5uServer,
    endless,
    header,
    identity,
    ok,
    redirect,
    silent,
    token,
)

CALLER = "+15550123"
CALLEE = "+15550100"
DOMAIN = "example.test"
SUITE = "AES_CM_128_HMAC_SHA1_80"

HOSTILE = (
    "bad_signature",
    "alg_none",
    "wrong_ppt",
    "stale_iat",
    "orig_not_from",
    "no_tnauthlist",
    "x5u_silent",
    "x5u_10mb",
    "x5u_redirect_loop",
)
"""Issue 19's hostile Identity headers: none may hang, crash or pass."""
CASES = ("good", *HOSTILE)


@dataclass(frozen=True)
class Expected:
    """What a verifier must conclude about a case: the failing check, its cause, and the
    response RFC 8224 §6.2.2 has a verifier answer."""

    check: str
    cause: str
    response: int


EXPECTED = {
    "bad_signature": Expected("stir.signature", "signature_invalid", 438),
    "alg_none": Expected("stir.identity", "alg_none", 438),
    "wrong_ppt": Expected("stir.identity", "ppt_not_shaken", 428),
    "stale_iat": Expected("stir.claims", "iat_stale", 403),
    "orig_not_from": Expected("stir.claims", "orig_mismatch", 438),
    "no_tnauthlist": Expected("stir.certificate", "tnauthlist_missing", 437),
    "x5u_silent": Expected("stir.certificate", "x5u_timeout", 436),
    "x5u_10mb": Expected("stir.certificate", "x5u_too_large", 436),
    "x5u_redirect_loop": Expected("stir.certificate", "x5u_redirect_loop", 436),
}

REFUSALS = (400, 403, 404, 408, 415, 420, 428, 436, 437, 438, 480, 486, 488, 500, 503, 603)
"""Final responses the caller takes as a refusal (any other ends its call in error)."""


def _tn(number: str) -> str:
    """The TN of a `+1...` user part: digits only (ATIS-1000074 §5.3.2.2 canonical form)."""
    return number.lstrip("+")


@dataclass
class IdentityPki:
    """The lab STI PKI behind an x5u server on loopback: the good chain, a chain whose
    leaf lacks TNAuthList, and the hostile servers (silent, 10 MB, a redirect loop)."""

    sti: StiLab
    server: X5uServer
    bare: Issued
    """A SHAKEN leaf of the same STI-CA without TNAuthList (RFC 8226 §9)."""

    @classmethod
    @contextlib.asynccontextmanager
    async def serving(cls, served: Served, sti: StiLab) -> AsyncIterator[IdentityPki]:
        """The x5u routes on a server of `served` (stopped with it)."""
        bare = shaken_certificate(sti.intermediate, tn_auth_list=False)
        server = await served.start({})
        server.routes.update(
            {
                "/shaken.pem": ok(sti.chain_pem()),
                "/bare.pem": ok(sti.chain_pem(bare)),
                "/silent.pem": silent(),
                "/huge.pem": endless(announce=False),
                "/loop.pem": redirect(server.url("/loop.pem")),
            }
        )
        yield cls(sti, server, bare)

    def trust_list(self, directory: Path) -> Path:
        """The lab STI-CA root written as a trust list (`--sti-trust`)."""
        path = directory / "sti-ca.pem"
        path.write_bytes(self.sti.root.cert_pem())
        return path

    def x5u(self, case: str = "good") -> str:
        path = {
            "no_tnauthlist": "/bare.pem",
            "x5u_silent": "/silent.pem",
            "x5u_10mb": "/huge.pem",
            "x5u_redirect_loop": "/loop.pem",
        }.get(case, "/shaken.pem")
        return self.server.url(path)

    def identity(
        self,
        case: str = "good",
        *,
        caller: str = CALLER,
        callee: str = CALLEE,
        attest: str = "A",
        now: float | None = None,
    ) -> str:
        """An Identity header value for a call from `caller` to `callee`, signed now (or
        at `now`), as `case` has it."""
        if case not in CASES:
            raise ValueError(f"no identity case {case!r}: {', '.join(CASES)}")
        issued = int(time.time() if now is None else now)
        x5u = self.x5u(case)
        claims = shaken_claims(
            attest=attest,
            orig_tn=_tn(caller),
            dest_tns=[_tn(callee)],
            iat=issued - 600 if case == "stale_iat" else issued,
            origid=str(uuid.uuid4()),
        )
        if case == "orig_not_from":
            claims["orig"] = {"tn": "12025550199"}
        key = (self.bare if case == "no_tnauthlist" else self.sti.shaken).key
        if case == "alg_none":
            passport = token(key, header(x5u, alg="none"), claims, signature=b"\0")
            return identity(passport, x5u, alg="none")
        if case == "wrong_ppt":
            return identity(token(key, header(x5u, ppt="rph"), claims), x5u, ppt="rph")
        passport = token(key, header(x5u), claims)
        if case == "bad_signature":
            # A signature, valid in form, over other claims: what a tampered call carries.
            other = token(key, header(x5u), {**claims, "attest": "B" if attest != "B" else "C"})
            passport = passport.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1]
        return identity(passport, x5u)


@dataclass(frozen=True)
class CallOutcome:
    """How SIPp's one call went."""

    exit_code: int
    """0: the scenario ran to its end (answered and hung up, or refused and ACKed)."""
    final_status: int | None
    """The final response the INVITE got, as SIPp logged it."""
    hangup: str | None
    """`caller` (we sent BYE) or `callee` (the listener did); None when not answered."""
    errors: str
    """SIPp's log and its error and message traces, for assertion messages."""


class PlacedCall:
    """One SIPp process placing one call; `ended()` waits for it within a deadline."""

    def __init__(self, sipp: Sipp, deadline_s: float) -> None:
        self.sipp = sipp
        self.deadline_s = deadline_s

    async def ended(self, timeout: float | None = None) -> CallOutcome:
        """The call's outcome once SIPp exits; past `timeout` (default: the call's own
        deadline and a margin) SIPp is stopped and the outcome says so (-1)."""
        limit = timeout if timeout is not None else self.deadline_s + 5
        # In a thread, so the event loop (and a listener on it) keeps running meanwhile.
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(self.sipp.process.wait, limit)
        return self._outcome()

    def wait(self, timeout: float | None = None) -> CallOutcome:
        """`ended()` for code without an event loop."""
        self.sipp.wait(timeout if timeout is not None else self.deadline_s + 5)
        return self._outcome()

    def _outcome(self) -> CallOutcome:
        if self.sipp.process.poll() is None:
            stop(self.sipp.process)
            code = -1
        else:
            code = self.sipp.process.returncode
        final, hangup = None, None
        for log in sorted(self.sipp.workdir.glob("*_logs.log")):
            for line in log.read_text(errors="replace").splitlines():
                words = line.split()
                if len(words) == 2 and words[0] == "final" and words[1].isdigit():
                    final = int(words[1])
                elif len(words) == 2 and words[0] == "hangup":
                    hangup = words[1]
        return CallOutcome(code, final, hangup, self.sipp.errors())

    def stop(self) -> None:
        self.sipp.stop()


@dataclass
class IdentityCaller:
    """Kamailio relaying to the listener; `place` starts one SIPp call through it."""

    workdir: Path
    kamailio: Kamailio
    transport: str
    """How SIPp reaches Kamailio: `udp` or `tcp` (Debian's SIPp has no TLS)."""
    calls: list[PlacedCall]

    def place(
        self,
        identity: str | None,
        *,
        caller: str = CALLER,
        callee: str = CALLEE,
        domain: str = DOMAIN,
        srtp: bool = True,
        date: str | None = "now",
        pai: str | None = None,
        extra_headers: Sequence[tuple[str, str]] = (),
        hold_s: float = 5.0,
        timeout_s: float = 20.0,
    ) -> PlacedCall:
        """Start SIPp placing one call, its INVITE carrying `identity` (None: no Identity
        header), a Date (now; a string as given; None: none), `pai` as
        P-Asserted-Identity, and an SDES offer (`srtp`) or plain RTP. Answered, it waits
        `hold_s` for the listener's BYE, then sends its own; `timeout_s` bounds the
        whole call (every wait of SIPp's has a deadline)."""
        number = len(self.calls) + 1
        workdir = self.workdir / f"call-{number}"
        workdir.mkdir(parents=True, exist_ok=True)
        fields: list[tuple[str, str]] = []
        if date == "now":
            fields.append(("Date", http_date(time.time())))
        elif date is not None:
            fields.append(("Date", date))
        if pai is not None:
            fields.append(("P-Asserted-Identity", pai))
        if identity is not None:
            fields.append(("Identity", identity))
        fields += extra_headers
        scenario = workdir / "uac_identity.xml"
        scenario.write_text(
            Template((SCENARIOS / "uac_identity.xml").read_text()).substitute(
                caller=caller,
                callee=callee,
                domain=domain,
                hold_ms=str(max(1, round(hold_s * 1000))),
                headers="".join(f"      {name}: {value}\n" for name, value in fields),
                media=_offer(srtp),
                refusals="\n".join(_refusal(code) for code in REFUSALS),
            )
        )
        kind = socket.SOCK_DGRAM if self.transport == "udp" else socket.SOCK_STREAM
        sipp = launch_sipp(
            workdir,
            scenario,
            port=free_port(kind),
            remote=f"127.0.0.1:{self.kamailio.plain_port}",
            transport="u1" if self.transport == "udp" else "t1",
            timeout_s=max(1, round(timeout_s)),
            # A reply that never comes ends the call rather than the test's patience.
            options=(
                "-recv_timeout",
                str(max(1000, round((timeout_s - hold_s) * 1000) - 1000)),
                "-trace_logs",
            ),
        )
        call = PlacedCall(sipp, timeout_s)
        self.calls.append(call)
        return call


def _offer(srtp: bool) -> str:
    """The offer's media lines: SDES keys drawn fresh for this call, or plain RTP."""
    port = free_port(socket.SOCK_DGRAM)
    lines = [f"m=audio {port} RTP/{'SAVP' if srtp else 'AVP'} 0", "a=rtpmap:0 PCMU/8000"]
    if srtp:
        key = base64.b64encode(os.urandom(30)).decode("ascii")  # 16-byte key + 14-byte salt
        lines.append(f"a=crypto:1 {SUITE} inline:{key}")
    return "\n".join(f"      {line}" for line in lines)


def _refusal(code: int) -> str:
    return (
        f'  <recv response="{code}" optional="true" next="refused">\n'
        f'    <action><log message="final {code}"/></action>\n'
        "  </recv>"
    )


@contextlib.contextmanager
def identity_caller(
    workdir: Path,
    lab: LabFiles,
    target: tuple[str, int],
    *,
    transport: str = "udp",
    client_identity: tuple[Path, Path] | None = None,
) -> Iterator[IdentityCaller]:
    """Kamailio relaying over TLS to `target` (host, port), presenting `client_identity`
    (certificate, key; e.g. the lab's client) when the listener asks for one; SIPp reaches
    it over `transport`. Every SIPp call and Kamailio are stopped when the block ends."""
    if transport not in ("udp", "tcp"):
        raise ValueError("SIPp reaches Kamailio over udp or tcp")
    kamailio = start_kamailio(
        workdir / "kamailio",
        [TlsProfile("tls", lab.server, lab.server_key)],
        relay_to=target,
        relay_transport="tls",
        client_identity=client_identity,
    )
    caller = IdentityCaller(workdir / "sipp", kamailio, transport, [])
    try:
        yield caller
    finally:
        for call in caller.calls:
            call.stop()
        kamailio.stop()
