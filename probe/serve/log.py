"""`sipprobe serve -v`: a line for each response the responder sends, naming the request
it answers, and for each keep-alive ping it answers.

    14:30:01.123 tcp 127.0.0.1:40000 OPTIONS sip:127.0.0.1:5060 → 200 OK
    14:30:01.130 tls 127.0.0.1:40002 INVITE sip:+15550100@sip.example.test → 180 Ringing
    14:30:01.140 tls 127.0.0.1:40002 ACK sip:+15550100@127.0.0.1:5061 (not answered: §17.1.1.3)
    14:30:02.001 tcp 127.0.0.1:40000 CRLF CRLF ping → CRLF pong (RFC 5626 §4.4.1)

A response names its request by Call-ID and CSeq (RFC 3261 §8.2.6.2 copies both): the
request line is kept from the request until its final response, for a bounded number of
requests, so a late answer (a delayed 200) is still named.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Callable

from probe.sip import Request, Response, SipError

__all__ = ["AnswerLog"]

MAX_REMEMBERED = 1024
"""Requests whose request line is kept until their final response: a client that never
lets a transaction end cannot grow the log's memory beyond this."""


class AnswerLog:
    """One responder's log; `write` takes a line."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._asked: OrderedDict[tuple[str, str], str] = OrderedDict()

    def request(self, transport: str, peer: str, request: Request) -> None:
        """A request came in: remembered until answered; an ACK is said at once."""
        line = f"{request.method} {request.uri}"
        if request.method == "ACK":
            self._line(transport, peer, f"{line} (not answered: RFC 3261 §17.1.1.3)")
            return
        try:
            key = (request.call_id, request.headers.get("CSeq") or "")
        except SipError:
            return
        self._asked[key] = line
        self._asked.move_to_end(key)
        while len(self._asked) > MAX_REMEMBERED:
            self._asked.popitem(last=False)

    def response(self, transport: str, peer: str, response: Response) -> None:
        """A response went out: said with the request it answers."""
        try:
            key = (response.call_id, response.headers.get("CSeq") or "")
        except SipError:
            key = ("", "")
        final = response.status_code >= 200
        asked = self._asked.pop(key, None) if final else self._asked.get(key)
        what = asked or f"({response.headers.get('CSeq') or 'unknown request'})"
        self._line(transport, peer, f"{what} → {response.status_code} {response.reason}")

    def pongs(self, transport: str, peer: str, count: int) -> None:
        for _ in range(count):
            self._line(transport, peer, "CRLF CRLF ping → CRLF pong (RFC 5626 §4.4.1)")

    def _line(self, transport: str, peer: str, text: str) -> None:
        now = dt.datetime.now().strftime("%H:%M:%S.%f")[:-3]
        self._write(f"{now} {transport} {peer} {text}")
