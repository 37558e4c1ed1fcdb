"""A fake far end and a fake clock around the call's state machine (probe.sip.outgoing_call):
the tests feed events as the driver in probe.net.call would, and read what was sent."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from probe.sip import Request, Response, build_invite, build_response, new_branch, parse_uri
from probe.sip.outgoing_call import (
    CallAction,
    CallPlan,
    CheckMedia,
    LocalEnd,
    OutgoingCall,
    Send,
)

CONTACT = ("Contact", "<sip:uas@192.0.2.20;transport=tls>")
CHALLENGE = ("WWW-Authenticate", 'Digest realm="trunk", nonce="n0nce", algorithm=MD5')
EARLY_SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.20\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"


def make_invite(transport: str = "TLS") -> Request:
    return build_invite(
        parse_uri("sip:+15550100@trunk.example.com"),
        transport=transport,
        local_host="192.0.2.10",
        local_port=5061,
        branch=new_branch("inv1"),
        from_tag="ft",
        call_id="call-1",
        user_agent="sipprobe/test",
        body=b"v=0\r\n",
    )


def counter_tokens() -> Callable[[int], str]:
    """Deterministic tokens in place of randomness (the machine takes them injected)."""
    numbers = itertools.count(1)
    return lambda nbytes: f"t{next(numbers)}x{nbytes}"


@dataclass
class Harness:
    """One call, a clock at `now`, and every action the call asked for, in order."""

    call: OutgoingCall
    now: float = 0.0
    actions: list[CallAction] = field(default_factory=list)

    @classmethod
    def start(cls, transport: str = "TLS", **plan: object) -> Harness:
        call = OutgoingCall(
            make_invite(transport),
            plan=CallPlan(**plan),  # type: ignore[arg-type]
            local=LocalEnd(transport, "192.0.2.10", 5061, "sipprobe/test"),
            new_token=counter_tokens(),
        )
        harness = cls(call)
        harness.take(call.start(harness.now))
        return harness

    def take(self, actions: list[CallAction]) -> list[CallAction]:
        self.actions.extend(actions)
        return actions

    # --- what was sent ------------------------------------------------------------------

    @property
    def sent(self) -> list[Request]:
        return [a.message for a in self.actions if isinstance(a, Send)]

    def methods(self) -> list[str]:
        return [m.method for m in self.sent]

    def last(self, method: str) -> Request:
        return [m for m in self.sent if m.method == method][-1]

    @property
    def media_checks(self) -> list[CheckMedia]:
        return [a for a in self.actions if isinstance(a, CheckMedia)]

    # --- the far end --------------------------------------------------------------------

    def answer(self, request: Request, code: int, reason: str = "", **kw: object) -> Response:
        return build_response(request, code, reason or f"Status {code}", to_tag="uas", **kw)  # type: ignore[arg-type]

    def invite_response(self, code: int, reason: str = "", **kw: object) -> Response:
        extra = kw.pop("extra_headers", (CONTACT,) if 200 <= code < 300 else ())
        return self.answer(self.call.invite, code, reason, extra_headers=extra, **kw)

    def feed(self, response: Response, after: float = 0.01) -> list[CallAction]:
        self.now += after
        return self.take(self.call.receive_response(response, self.now))

    def respond(self, code: int, reason: str = "", **kw: object) -> list[CallAction]:
        """The far end answers the INVITE now pending."""
        return self.feed(self.invite_response(code, reason, **kw))

    def expire(self) -> str:
        """Let the earliest deadline pass; returns its phase."""
        deadline = min(self.call.deadlines(), key=lambda d: d.at)
        self.now = deadline.at
        self.take(self.call.deadline_passed(deadline.phase, f"{deadline.phase} passed", self.now))
        return deadline.phase

    def run_out(self, limit: int = 50) -> None:
        """Let every deadline pass until the call waits for nothing."""
        for _ in range(limit):
            if not self.call.deadlines():
                return
            self.expire()
        raise AssertionError("the call kept waiting")
