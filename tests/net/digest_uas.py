"""A scripted far end that challenges (RFC 3261 §22) and checks the credentials with the
tests' own digest verifier (tests.sip.digest_verifier), not with sipprobe's code."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from probe.sip import Request
from tests.net.scripted import Script, answer_bytes, response_bytes
from tests.sip.digest_verifier import server_expects, server_params

SDP_ANSWER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 20000 RTP/AVP 0\r\n"
)


def challenge(algorithm: str | None, nonce: str, qop: str | None = "auth") -> str:
    """A Digest challenge for realm `sipprobe.test`: `algorithm` None leaves it out."""
    parts = ['Digest realm="sipprobe.test"', f'nonce="{nonce}"']
    if algorithm is not None:
        parts.append(f"algorithm={algorithm}")
    if qop is not None:
        parts.append(f'qop="{qop}"')
    return ", ".join(parts)


@dataclass
class DigestUas:
    """Challenges every request without credentials with `challenges` (a 401, or a 407
    when `status` says so); a request whose credentials check out gets a 200."""

    challenges: Sequence[str]
    status: int = 401
    username: str = "alice"
    password: str = "s3cret"
    received: list[Request] = field(default_factory=list)
    verdicts: list[bool] = field(default_factory=list)
    """One per request that carried credentials: did they check out?"""

    @property
    def credentials_header(self) -> str:
        return "Authorization" if self.status == 401 else "Proxy-Authorization"

    def checks_out(self, request: Request) -> bool | None:
        """None without credentials; else whether they are right for our challenge."""
        value = request.headers.get(self.credentials_header)
        if value is None:
            return None
        params = server_params(value)
        nonces = {server_params(text)["nonce"] for text in self.challenges}
        return (
            params.get("username") == self.username
            and params.get("realm") == "sipprobe.test"
            and params.get("nonce") in nonces
            and params.get("uri") == str(request.uri)
            and params.get("response")
            == server_expects(params, self.password, request.method, request.body)
        )

    def script(self) -> Script:
        async def answer(request: Request, writer: asyncio.StreamWriter) -> None:
            self.received.append(request)
            if request.method == "ACK":
                return
            if request.method == "BYE":
                writer.write(response_bytes(request, 200, "OK"))
                return
            verdict = self.checks_out(request)
            if verdict is not None:
                self.verdicts.append(verdict)
            if verdict:
                if request.method == "INVITE":
                    writer.write(answer_bytes(request, SDP_ANSWER))
                else:
                    writer.write(response_bytes(request, 200, "OK"))
                return
            header = "WWW-Authenticate" if self.status == 401 else "Proxy-Authenticate"
            reason = "Unauthorized" if self.status == 401 else "Proxy Authentication Required"
            headers = [(header, text) for text in self.challenges]
            writer.write(response_bytes(request, self.status, reason, *headers))

        return answer
