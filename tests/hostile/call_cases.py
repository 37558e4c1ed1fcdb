"""The hostile behaviours of a test call (INVITE), and the finding each must produce.

Whatever the far end does, the call must end (`sip.teardown`: no dialog left open) and
the fault must be named.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from probe.net.deadlines import Deadlines
from probe.sip import Request
from probe.verdict.findings import Status
from tests.hostile.cases import FAST
from tests.hostile.server import Behaviour, StreamPeer, compose

ANSWER_S = 0.6
"""The call's ring time (CallSettings.answer_timeout) in these cases."""

KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"  # 30 bytes: AES_CM_128 key ‖ salt
SDP_HEAD = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 20000 RTP/SAVP 0\r\n"
)
GOOD_SDP = SDP_HEAD + f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"
MALFORMED_CRYPTO_SDP = SDP_HEAD + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:@@not*base64@@\r\n"
TWO_CRYPTO_SDP = GOOD_SDP + f"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{KEY}\r\n"
CONTACT = ("Contact", "<sip:uas@127.0.0.1;transport=tls>")

OnInvite = Callable[[StreamPeer, Request], Awaitable[None]]


@dataclass(frozen=True)
class CallCase:
    id: str
    behaviour: Behaviour
    check: str
    status: Status
    fragment: str
    deadline: str
    bound_s: float
    """The longest the whole call may take: its deadlines plus the teardown's."""
    expires: bool = False
    also: Mapping[str, Status] = field(default_factory=dict)
    what: str = ""
    deadlines: Deadlines = FAST


def far_end(on_invite: OnInvite, *, answer_cancel: bool = True) -> Behaviour:
    """A UAS that handles the INVITE with `on_invite` and answers BYE (and CANCEL) 200."""

    async def behaviour(peer: StreamPeer) -> None:
        while (request := await peer.request()) is not None:
            if request.method == "INVITE":
                await on_invite(peer, request)
            elif request.method == "BYE" or (request.method == "CANCEL" and answer_cancel):
                await peer.send(compose(request))

    return behaviour


def answer_200(sdp: str | None, *, contact: bool = True) -> OnInvite:
    async def on_invite(peer: StreamPeer, request: Request) -> None:
        extra: list[tuple[str, str]] = [CONTACT] if contact else []
        body = b""
        if sdp is not None:
            extra.append(("Content-Type", "application/sdp"))
            body = sdp.encode()
        await peer.send(compose(request, extra=extra, body=body))

    return on_invite


async def silent(peer: StreamPeer, request: Request) -> None:
    await peer.hold()


async def trying_only(peer: StreamPeer, request: Request) -> None:
    await peer.send(compose(request, 100, "Trying"))


async def stray_then_200(peer: StreamPeer, request: Request) -> None:
    await peer.send(compose(request, 180, "Ringing", branch="z9hG4bKsomeoneelse"))
    await asyncio.sleep(0.01)
    await answer_200(GOOD_SDP)(peer, request)


F, P, W = Status.FAIL, Status.PASS, Status.WARN
TEARDOWN_OK = {"sip.teardown": P}

CALL_CASES: tuple[CallCase, ...] = (
    CallCase("invite-sdp-malformed-crypto", far_end(answer_200(MALFORMED_CRYPTO_SDP)),
             "sdp.srtp", F, "the SDP answer in the 200 OK is malformed", "transaction",
             FAST.transaction + 0.3, also={"sip.invite": P, **TEARDOWN_OK},
             what="answers 200 with an a=crypto line whose key is not base64"),
    CallCase("invite-two-crypto-lines", far_end(answer_200(TWO_CRYPTO_SDP)), "sdp.srtp", F,
             "the answer has 2 a=crypto lines for one m-line", "transaction",
             FAST.transaction + 0.3, also=TEARDOWN_OK,
             what="answers 200 with two a=crypto lines for the one audio m-line"),
    CallCase("invite-200-without-sdp", far_end(answer_200(None)), "sdp.srtp", F,
             "no SDP in any response: the 200 OK carried no answer", "transaction",
             FAST.transaction + 0.3, also=TEARDOWN_OK, what="answers 200 with no SDP body"),
    CallCase("invite-2xx-without-contact", far_end(answer_200(GOOD_SDP, contact=False)),
             "sip.invite", W, "the 200 response has no Contact header", "transaction",
             FAST.transaction + 0.3, also={"sdp.srtp": P, **TEARDOWN_OK},
             what="answers 200 without Contact: ACK and BYE still go out (to the"
             " Request-URI)"),
    CallCase("invite-stray-then-200", far_end(stray_then_200), "sip.invite", W,
             "ignored a stray 180 Ringing", "transaction", FAST.transaction + 0.3,
             also={"sdp.srtp": P, **TEARDOWN_OK},
             what="sends a 180 for another branch, then the real 200"),
    CallCase("invite-silent", far_end(silent), "sip.invite", F,
             "no first byte within 0.5 s (first_byte deadline)", "first_byte",
             FAST.first_byte + 0.3, expires=True, also=TEARDOWN_OK,
             what="reads the INVITE and never answers: nothing to CANCEL"),
    CallCase("invite-trying-then-nothing", far_end(trying_only, answer_cancel=False),
             "sip.teardown", F,
             "CANCEL sent but no final response within 0.8 s (transaction deadline)",
             "transaction",
             ANSWER_S + FAST.transaction + 0.3, expires=True, also={"sip.invite": F},
             what="100 Trying, then nothing, and the CANCEL unanswered"),
)  # fmt: skip
