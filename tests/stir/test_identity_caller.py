"""The Identity caller kit (tests.peers.identity_caller) end to end, without `sipprobe
answer`: SIPp places calls whose Identity headers are signed at run time with the lab STI
PKI, Kamailio relays them over TLS to a small TLS server of this file, and that server runs
the real `StirVerifier` on the headers it received and answers as a verifier would.

The good call verifies and is answered; each hostile one fails with its own `stir.*`
finding and cause, is refused with the response RFC 8224 §6.2.2 names, and nothing hangs:
every wait below has a deadline."""

from __future__ import annotations

import asyncio
import base64
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from probe.run.stir import STIR_CHECKS, StirOutcome, StirVerifier
from probe.settings import StirSettings
from probe.sip import (
    Headers,
    Request,
    Response,
    StreamFramer,
    build_response,
    new_branch,
    parse_name_addr,
    random_token,
)
from probe.sip.errors import SipError
from probe.tls.lab import LabFiles
from probe.tls.sti_lab import StiLab
from probe.verdict.findings import Status, Verdict, overall_verdict
from tests.peers.common import free_port
from tests.peers.identity_caller import (
    CALLEE,
    CALLER,
    EXPECTED,
    HOSTILE,
    CallOutcome,
    IdentityCaller,
    IdentityPki,
    identity_caller,
)
from tests.stir.kit import Served

pytestmark = pytest.mark.peer

FETCH_TIMEOUT = 0.5
DEADLINE = 30.0
"""No test here may take longer: a hang is a failure, not a stuck suite."""

Decide = Callable[[Request], Awaitable[tuple[int, str]]]


@dataclass
class Received:
    """What the target saw of one call."""

    invite: Request
    client_cert: bytes | None
    answered: int | None = None
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by: str | None = None
    """`caller` (its BYE reached us) or `target` (our BYE was answered 200)."""
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class RelayTarget:
    """A TLS server on 127.0.0.1 standing where `sipprobe answer` will: it receives what
    Kamailio relays, answers each INVITE with what `decide` says (a 200 carries an SRTP
    answer with fresh keys and copies the Record-Route, RFC 3261 §12.1.1), answers the
    caller's BYE, or, with `hang_up`, sends its own BYE once the 2xx is acknowledged. It
    asks for a client certificate and records what it got."""

    def __init__(self, lab: LabFiles, port: int, decide: Decide, *, hang_up: bool = False):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(lab.server, lab.server_key)
        context.load_verify_locations(cafile=str(lab.ca))
        context.verify_mode = ssl.CERT_OPTIONAL
        self._context = context
        self.port = port
        self.decide = decide
        self.hang_up = hang_up
        self.calls: asyncio.Queue[Received] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RelayTarget:
        self._server = await asyncio.start_server(
            self._connection, "127.0.0.1", self.port, ssl=self._context
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        ssl_object = writer.get_extra_info("ssl_object")
        client_cert = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        framer = StreamFramer()
        dialogs: dict[str, Received] = {}
        try:
            while data := await reader.read(65536):
                framer.feed(data)
                while (message := framer.next_message()) is not None:
                    await self._handle(message, writer, dialogs, client_cert)
        except (ConnectionError, ssl.SSLError, SipError):
            pass
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _handle(
        self,
        message: Request | Response,
        writer: asyncio.StreamWriter,
        dialogs: dict[str, Received],
        client_cert: bytes | None,
    ) -> None:
        if isinstance(message, Response):
            call = dialogs.get(message.call_id)
            if call is not None and message.cseq.method == "BYE" and message.status_code == 200:
                call.ended_by = "target"
                call.ended.set()
            return
        call = dialogs.get(message.call_id)
        if message.method == "INVITE" and call is None:
            call = Received(message, client_cert)
            dialogs[message.call_id] = call
            self.calls.put_nowait(call)
            writer.write(build_response(message, 100, "Trying", to_tag=None).to_bytes())
            code, reason = await self.decide(message)
            call.answered = code
            writer.write(self._final(message, code, reason, to_tag=self._tag(message)).to_bytes())
        elif message.method == "ACK" and call is not None:
            call.acked.set()
            if self.hang_up and call.answered == 200:
                writer.write(self._bye(call).to_bytes())
        elif message.method == "BYE" and call is not None:
            writer.write(build_response(message, 200, "OK", to_tag=None).to_bytes())
            call.ended_by = "caller"
            call.ended.set()
        await writer.drain()

    @staticmethod
    def _tag(invite: Request) -> str:
        return "target" + invite.call_id.split("-", 1)[0]

    def _final(self, invite: Request, code: int, reason: str, *, to_tag: str) -> Response:
        if code != 200:
            return build_response(invite, code, reason, to_tag=to_tag)
        key = base64.b64encode(os.urandom(30)).decode("ascii")
        answer = (
            "v=0\r\no=target 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {free_port()} RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
            f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}\r\n"
        ).encode("ascii")
        routes = [("Record-Route", value) for value in invite.headers.get_all("Record-Route")]
        contact = ("Contact", f"<sip:target@127.0.0.1:{self.port};transport=tls>")
        return build_response(
            invite,
            200,
            "OK",
            to_tag=to_tag,
            extra_headers=[*routes, contact],
            body=answer,
            content_type="application/sdp",
        )

    def _bye(self, call: Received) -> Request:
        """Our BYE in the dialog the 2xx made (RFC 3261 §12.2.1.1, §15.1.1): to the
        caller's Contact, through the route set the Record-Route gave, in its order."""
        invite = call.invite
        contact = parse_name_addr(invite.headers.get("Contact") or "")
        fields = [
            ("Via", f"SIP/2.0/TLS 127.0.0.1:{self.port};branch={new_branch(random_token())}"),
            ("Max-Forwards", "70"),
            *(("Route", value) for value in invite.headers.get_all("Record-Route")),
            ("From", f"{invite.headers.get('To')};tag={self._tag(invite)}"),
            ("To", invite.headers.get("From") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", "1 BYE"),
            ("Content-Length", "0"),
        ]
        return Request("BYE", contact.uri, Headers(fields))


@pytest.fixture(scope="module")
def sti_trust(tmp_path_factory: pytest.TempPathFactory, sti: StiLab) -> Path:
    path = tmp_path_factory.mktemp("sti") / "sti-ca.pem"
    path.write_bytes(sti.root.cert_pem())
    return path


@pytest.fixture(scope="module")
def target_port() -> int:
    """Where the relay sends calls: each test's target listens there in turn."""
    return free_port()


@pytest.fixture(scope="module")
def relay(
    tmp_path_factory: pytest.TempPathFactory, lab: LabFiles, target_port: int
) -> Iterator[IdentityCaller]:
    """SIPp over UDP → Kamailio → TLS to the target port, shared by the module."""
    with identity_caller(
        tmp_path_factory.mktemp("identity-caller"), lab, ("127.0.0.1", target_port)
    ) as caller:
        yield caller


@pytest.fixture
async def pki(served: Served, sti: StiLab) -> AsyncIterator[IdentityPki]:
    async with IdentityPki.serving(served, sti) as pki:
        yield pki


def verifier(lab: LabFiles, sti_trust: Path) -> StirVerifier:
    return StirVerifier(
        StirSettings(sti_trust=sti_trust, sti_fetch_ca=lab.ca, sti_fetch_timeout=FETCH_TIMEOUT)
    )


def verifying(stir: StirVerifier, outcomes: list[StirOutcome]) -> Decide:
    """Answer as a verifier would: 200 when the Identity holds, else its response."""

    async def decide(invite: Request) -> tuple[int, str]:
        outcome = await stir.verify(invite.headers, request_uri=str(invite.uri), target="call")
        outcomes.append(outcome)
        response = outcome.evidence.response
        return (200, "OK") if response is None else (response.code, response.reason)

    return decide


async def one_call(
    target: RelayTarget, place: Callable[[], Awaitable[CallOutcome]]
) -> tuple[Received, CallOutcome]:
    """Place a call and collect both ends, within the deadline."""

    async def both() -> tuple[Received, CallOutcome]:
        outcome = await place()
        received = await asyncio.wait_for(target.calls.get(), 1)
        return received, outcome

    return await asyncio.wait_for(both(), DEADLINE)


def statuses(outcome: StirOutcome) -> dict[str, Status]:
    return {finding.check: finding.status for finding in outcome.findings}


async def test_a_signed_call_arrives_unchanged_verifies_and_is_answered(
    relay: IdentityCaller, pki: IdentityPki, lab: LabFiles, sti_trust: Path, target_port: int
) -> None:
    identity = pki.identity("good")
    outcomes: list[StirOutcome] = []
    async with RelayTarget(lab, target_port, verifying(verifier(lab, sti_trust), outcomes)) as t:
        received, outcome = await one_call(t, relay.place(identity, hold_s=0.3).ended)
        await asyncio.wait_for(received.ended.wait(), 5)
    assert outcome.exit_code == 0, outcome.errors
    assert (outcome.final_status, outcome.hangup) == (200, "caller")
    assert received.ended_by == "caller"
    assert received.acked.is_set()
    invite = received.invite
    # Kamailio relayed it, Identity untouched: the bytes the test signed.
    assert invite.headers.get_all("Identity") == [identity]
    assert len(invite.headers.get_all("Via")) == 2
    assert invite.headers.get_all("Record-Route")
    assert invite.uri.user == CALLEE
    assert f"sip:{CALLER}@" in (invite.headers.get("From") or "")
    body = invite.body.decode()
    assert "m=audio " in body
    assert " RTP/SAVP " in body
    assert "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" in body
    (verified,) = outcomes
    assert set(statuses(verified).values()) == {Status.PASS}, verified.findings
    assert overall_verdict(verified.findings, STIR_CHECKS) is Verdict.PASS
    claims = verified.evidence.checks[0].claims
    assert (claims.orig_tn, claims.dest_tns, claims.attest) == (
        CALLER.lstrip("+"),
        (CALLEE.lstrip("+"),),
        "A",
    )


async def test_the_target_can_end_the_call_and_the_caller_answers_its_bye(
    relay: IdentityCaller, pki: IdentityPki, lab: LabFiles, tmp_path: Path, target_port: int
) -> None:
    outcomes: list[StirOutcome] = []
    # The kit writes the trust list a listener takes (--sti-trust) itself.
    decide = verifying(verifier(lab, pki.trust_list(tmp_path)), outcomes)
    async with RelayTarget(lab, target_port, decide, hang_up=True) as target:
        received, outcome = await one_call(
            target, relay.place(pki.identity("good"), hold_s=10).ended
        )
        await asyncio.wait_for(received.ended.wait(), 5)
    assert outcome.exit_code == 0, outcome.errors
    assert (outcome.final_status, outcome.hangup) == (200, "callee")
    assert received.ended_by == "target"
    (verified,) = outcomes
    assert overall_verdict(verified.findings, STIR_CHECKS) is Verdict.PASS


@pytest.mark.parametrize("case", HOSTILE)
async def test_hostile_identities_fail_with_their_cause_and_are_refused_without_hanging(
    relay: IdentityCaller,
    pki: IdentityPki,
    lab: LabFiles,
    sti_trust: Path,
    target_port: int,
    case: str,
) -> None:
    expected = EXPECTED[case]
    identity = pki.identity(case)
    outcomes: list[StirOutcome] = []
    started = time.monotonic()
    async with RelayTarget(lab, target_port, verifying(verifier(lab, sti_trust), outcomes)) as t:
        received, outcome = await one_call(t, relay.place(identity).ended)
    elapsed = time.monotonic() - started
    assert received.invite.headers.get_all("Identity") == [identity]
    (verified,) = outcomes
    findings = {finding.check: finding for finding in verified.findings}
    assert findings[expected.check].status is Status.FAIL, verified.findings
    assert findings[expected.check].details["cause"] == expected.cause
    assert overall_verdict(verified.findings, STIR_CHECKS) is Verdict.FAIL
    assert verified.evidence.response is not None
    assert verified.evidence.response.code == expected.response
    # The caller saw the refusal a verifier would send, and its call ended cleanly.
    assert outcome.exit_code == 0, outcome.errors
    assert (outcome.final_status, outcome.hangup) == (expected.response, None)
    # The x5u servers that stall or flood are cut off by the fetch deadline.
    assert elapsed < FETCH_TIMEOUT + 10


async def test_over_tcp_with_a_client_certificate_and_without_identity_or_srtp(
    tmp_path: Path, lab: LabFiles, sti_trust: Path
) -> None:
    port = free_port()
    outcomes: list[StirOutcome] = []
    with identity_caller(
        tmp_path,
        lab,
        ("127.0.0.1", port),
        transport="tcp",
        client_identity=(lab.client, lab.client_key),
    ) as caller:
        async with RelayTarget(lab, port, verifying(verifier(lab, sti_trust), outcomes)) as target:
            received, outcome = await one_call(
                target, caller.place(None, srtp=False, date=None).ended
            )
    # Kamailio presented the lab's client certificate to the target (mutual TLS).
    assert received.client_cert is not None
    leaf = x509.load_pem_x509_certificates(lab.client.read_bytes())[0]
    assert received.client_cert == leaf.public_bytes(serialization.Encoding.DER)
    assert received.invite.headers.get_all("Identity") == []
    assert received.invite.headers.get("Date") is None
    body = received.invite.body.decode()
    assert " RTP/AVP " in body
    assert "a=crypto" not in body
    (verified,) = outcomes
    identity = {f.check: f for f in verified.findings}["stir.identity"]
    assert identity.status is Status.FAIL
    assert identity.details["cause"] == "identity_missing"
    assert verified.evidence.response is not None
    assert verified.evidence.response.code == 428
    assert outcome.exit_code == 0, outcome.errors
    assert outcome.final_status == 428


async def test_every_hostile_case_has_its_expectation_and_an_unknown_case_is_refused(
    pki: IdentityPki,
) -> None:
    assert set(EXPECTED) == set(HOSTILE)
    assert len(HOSTILE) == 9
    with pytest.raises(ValueError, match="no identity case"):
        pki.identity("typo")
