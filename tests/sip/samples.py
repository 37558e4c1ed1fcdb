"""Sample messages shared by the SIP codec tests."""

from __future__ import annotations

from probe.sip import Headers, Request, Response

RESPONSE_LINES = (
    "SIP/2.0 200 OK",
    "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc;rport=5061",
    "From: <sip:sipprobe@192.0.2.10>;tag=ft",
    "To: <sip:trunk.example.com>;tag=tt",
    "Call-ID: call-1@192.0.2.10",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
)

REQUEST_LINES = (
    "OPTIONS sip:trunk.example.com;transport=tls SIP/2.0",
    "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKabc;rport",
    "Max-Forwards: 70",
    "From: <sip:sipprobe@192.0.2.10>;tag=ft",
    "To: <sip:trunk.example.com>",
    "Call-ID: call-1@192.0.2.10",
    "CSeq: 1 OPTIONS",
    "Content-Length: 0",
)


def wire(lines: tuple[str, ...] | list[str], body: bytes = b"") -> bytes:
    """Join head lines with CRLF, add the blank line and the body."""
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def replace_header(lines: tuple[str, ...] | list[str], name: str, new: str | None) -> list[str]:
    """Lines with header ``name`` replaced by ``new`` (a whole line, or None to drop).

    A header that is not there yet is added before Content-Length.
    """
    out: list[str] = []
    found = False
    for line in lines:
        if line.split(":", 1)[0].strip().lower() == name.lower():
            found = True
            if new is not None:
                out.append(new)
        else:
            out.append(line)
    if not found and new is not None:
        at = next(
            (i for i, line in enumerate(out) if line.lower().startswith("content-length")),
            len(out),
        )
        out.insert(at, new)
    return out


def response_to(
    request: Request, status: int = 200, reason: str = "OK", body: bytes = b""
) -> Response:
    """A response a well-behaved UAS would send to ``request`` (§8.2.6.2)."""
    copied = [(n, v) for n, v in request.headers if n.lower() in ("via", "from", "call-id", "cseq")]
    to = request.headers.get("To") or ""
    fields = [*copied, ("To", f"{to};tag=uas1"), ("Content-Length", str(len(body)))]
    return Response(status, reason, Headers(fields), body)
