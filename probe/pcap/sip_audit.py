"""Cleartext SIP in a capture: every message over UDP or TCP, and every `a=crypto` line.

A UDP datagram is SIP when it begins with a SIP start line (RFC 3261 §7.1 Request-Line,
§7.2 Status-Line); one datagram carries one message (§18.1.1). A TCP direction is SIP
when its reassembled bytes begin with one (or, when the start of the stream was not
captured, hold one at the start of a line): its bytes go through the project's stream
framer (probe.sip.framing, §18.3), so several messages in one segment and one message
over many segments come out the same.

What makes a message SIP is its start line, not its conformance: a malformed message is
still cleartext SIP, counted with what was wrong. A stream that stops framing (a
message without Content-Length, garbage) is searched forward for the next start line,
and the bytes skipped are still searched for `a=crypto` lines: an SRTP key in the clear
is exposed whether or not the message around it parses (RFC 4568 §8.3: SDES needs a
secure signalling channel). Keys never leave this module: an exposure keeps the line
with its key replaced by zeros of the same length, as evidence files hold keys.

A message only partly captured (a snap length, TCP segments missing) is counted as cut:
an `a=crypto` line in the missing part cannot be seen, which the judgement must know.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Literal

from probe.evidence.capture import (
    Count,
    SdesExposure,
    SipCapture,
    SipFlow,
    SipMessageSeen,
)
from probe.evidence.redact import mask_text
from probe.pcap.analysis import UNDECIDED, AuditLimits, Datagram, SdpListener, SdpSeen, Undecided
from probe.pcap.flows import Flow
from probe.sip import SipError, StreamFramer, parse_message
from probe.sip.uri import redact_uri_text

__all__ = ["SipAnalysis", "SipStream", "looks_like_sip", "summarise"]

NAME = "sip"

# RFC 3261 §25.1: Method = token; Request-URI has no SP; SIP-Version is "SIP/2.0"
# (matched without regard to case, §7.1). A Status-Line is SIP-Version SP 3DIGIT SP.
_TOKEN = rb"[A-Za-z0-9!%'*+\-._`~]{1,64}"
_START = re.compile(
    rb"(?:" + _TOKEN + rb" [^ \r\n]{1,4096} SIP/2\.0|SIP/2\.0 [1-9][0-9][0-9](?: [^\r\n]*)?)\r?\n",
    re.IGNORECASE,
)
# A start line cut off by the capture before its end: the beginning is enough to tell.
_START_PREFIX = re.compile(rb"(?:" + _TOKEN + rb" (?:sips?|tel):|SIP/2\.0 [1-9][0-9][0-9])", re.I)
_LINE_START = re.compile(
    rb"\n(?=(?:" + _TOKEN + rb" [^ \r\n]{1,4096} SIP/2\.0|SIP/2\.0 [1-9][0-9][0-9])"
    rb"(?: [^\r\n]*)?\r?\n)",
    re.IGNORECASE,
)
_CRYPTO = re.compile(rb"^a=crypto:[^\r\n]*", re.MULTILINE | re.IGNORECASE)
_CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*([^\r\n]{1,256})", re.MULTILINE | re.I)
_CSEQ = re.compile(rb"^cseq[ \t]*:[ \t]*([0-9]{1,10})[ \t]+(" + _TOKEN + rb")", re.MULTILINE | re.I)
_CONTENT_TYPE = re.compile(
    rb"^(?:content-type|c)[ \t]*:[^\r\n]*application/sdp", re.MULTILINE | re.I
)
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_FIRST_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_LONGEST_START_LINE = 4200
"""A start line is at most this long here (the 4096 of a Request-URI and its words)."""
_MAX_NAMES = 64
"""Distinct methods or status codes counted by name; the rest as `other` (a hostile
capture could invent a method per packet)."""


def looks_like_sip(payload: bytes, cut: bool = False) -> bool:
    """Whether a datagram begins with a SIP start line (a prefix of one, when `cut`)."""
    if not payload or payload[0] not in _FIRST_BYTES:
        return False  # RTP, STUN, DTLS and most else start with a byte no method does
    if _START.match(payload, 0, _LONGEST_START_LINE) is not None:
        return True
    return cut and b"\n" not in payload[:_LONGEST_START_LINE] and bool(_START_PREFIX.match(payload))


def summarise(
    data: bytes,
    *,
    frame: int,
    time: float,
    transport: Literal["udp", "tcp"],
    source: str,
    destination: str,
    cut: bool = False,
    problem: str | None = None,
    fragment: bool = False,
) -> SipMessageSeen:
    """What a message is, read leniently from its bytes (they may not parse); with
    `fragment`, bytes of a message whose start line was not captured."""
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).rstrip(b"\r").decode("utf-8", "replace")
    head_end = _HEAD_END.search(data)
    head = data if head_end is None else data[: head_end.start()]
    body = b"" if head_end is None else data[head_end.end() :]
    call_id = _CALL_ID.search(head)
    cseq = _CSEQ.search(head)
    cseq_method = cseq.group(2).decode("ascii").upper() if cseq else ""
    status: int | None = None
    uri: str | None = None
    kind: Literal["request", "response", "fragment"]
    if fragment:
        kind, method = "fragment", cseq_method
    elif first[:8].upper() == "SIP/2.0 ":
        kind, method = "response", cseq_method
        status = int(first[8:11]) if first[8:11].isdigit() else None
    else:
        kind = "request"
        words = first.split(" ")
        method = words[0].upper()
        uri = redact_uri_text(words[1])[:512] if len(words) > 1 else None
    return SipMessageSeen(
        frame=frame,
        time=time,
        transport=transport,
        source=source,
        destination=destination,
        kind=kind,
        method=method,
        status=status,
        request_uri=uri,
        call_id=call_id.group(1).strip().decode("utf-8", "replace") if call_id else None,
        cseq=int(cseq.group(1)) if cseq else None,
        has_sdp=bool(_CONTENT_TYPE.search(head)) or body.lstrip().startswith(b"v=0"),
        crypto_lines=len(_CRYPTO.findall(data)),
        cut=cut,
        problem=mask_text(problem),
    )


def _masked_lines(data: bytes) -> tuple[str, ...]:
    lines = (line.decode("utf-8", "replace") for line in _CRYPTO.findall(data))
    return tuple(mask_text(line) or "" for line in lines)


class _Names:
    """Counts by name, at most `_MAX_NAMES` names (the rest under `other`)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, name: str) -> None:
        if name not in self.counts and len(self.counts) >= _MAX_NAMES:
            name = "other"
        self.counts[name] += 1

    def listed(self) -> tuple[Count, ...]:
        return tuple(Count(name, count) for name, count in self.counts.most_common())


class _FlowSip:
    """One flow's SIP, while the flow is open."""

    __slots__ = ("exposures", "first_time", "last_time", "messages", "requests", "responses")

    def __init__(self, time: float) -> None:
        self.messages = 0
        self.requests = _Names()
        self.responses = _Names()
        self.first_time = time
        self.last_time = time
        self.exposures = 0


class SipAnalysis:
    """Finds cleartext SIP; `sdp_listeners` hear of every SDP body it sees."""

    name = NAME

    def __init__(self, limits: AuditLimits) -> None:
        self.limits = limits
        self.sdp_listeners: list[SdpListener] = []
        self.messages = 0
        self.by_transport = {"udp": 0, "tcp": 0}
        self.requests = _Names()
        self.responses = _Names()
        self.samples: list[SipMessageSeen] = []
        self.exposures: list[SdesExposure] = []
        self.exposures_total = 0
        self.malformed = 0
        self.malformed_samples: list[SipMessageSeen] = []
        self.cut_messages = 0
        self.stream_gap_bytes = 0
        self.unframed_bytes = 0
        self.streams = 0
        self.held = 0
        """Bytes the SIP streams hold between them (partial messages, a line being
        searched): at most `limits.max_pending_bytes`."""
        self.overflows = 0
        self.flows: list[SipFlow] = []
        self.flows_omitted = 0

    # -- UDP --------------------------------------------------------------------------

    def datagram(self, datagram: Datagram) -> None:
        payload = datagram.payload
        if not looks_like_sip(payload, datagram.cut):
            return
        problem = None
        if not datagram.cut:
            try:
                parse_message(payload)
            except SipError as exc:
                problem = str(exc)
        self.record(
            payload,
            flow=datagram.flow,
            direction=datagram.direction,
            frame=datagram.frame,
            time=datagram.time,
            cut=datagram.cut,
            problem=problem,
        )

    # -- TCP --------------------------------------------------------------------------

    def claim_stream(
        self, flow: Flow, direction: int, head: bytes, *, mid_stream: bool, final: bool
    ) -> SipStream | Undecided | None:
        start = head.lstrip(b"\r\n")
        if not start:
            return UNDECIDED if len(head) < self.limits.claim_window else None
        if _START.match(start, 0, _LONGEST_START_LINE) is not None or (
            final and looks_like_sip(start, cut=True)  # a start line the capture cut short
        ):
            return SipStream(self, flow, direction, resync=False)
        if b"\x00" in head[:512]:
            return None  # no start line, and not text: TLS records, binary protocols
        complete_line = b"\n" in start[:_LONGEST_START_LINE]
        if not (mid_stream or NAME in flow.labels):
            if complete_line or start[0] not in _FIRST_BYTES:
                return None
            return UNDECIDED if len(start) < _LONGEST_START_LINE else None
        if _LINE_START.search(head) is not None:
            return SipStream(self, flow, direction, resync=True)
        return UNDECIDED if len(head) < self.limits.claim_window else None

    # -- what both transports share -----------------------------------------------------

    def record(
        self,
        data: bytes,
        *,
        flow: Flow,
        direction: int,
        frame: int,
        time: float,
        cut: bool = False,
        problem: str | None = None,
        fragment: bool = False,
    ) -> SipMessageSeen:
        """Count one message (or, with `fragment`, bytes of one whose start line was not
        seen: only their crypto lines count); returns what it was taken for."""
        source, destination = flow.endpoints(direction)
        transport: Literal["udp", "tcp"] = "tcp" if flow.transport == "tcp" else "udp"
        seen = summarise(
            data,
            frame=frame,
            time=time,
            transport=transport,
            source=source,
            destination=destination,
            cut=cut,
            problem=problem,
            fragment=fragment,
        )
        state = flow.state.get(NAME)
        if state is None:
            state = flow.state[NAME] = _FlowSip(time)
            flow.labels.add(NAME)
        state.last_time = time
        if seen.crypto_lines:
            state.exposures += 1
            self.exposures_total += 1
            if len(self.exposures) < self.limits.max_listed:
                self.exposures.append(SdesExposure(seen, _masked_lines(data)))
        if cut:
            self.cut_messages += 1
        if fragment:
            return seen
        self.messages += 1
        self.by_transport[transport] += 1
        state.messages += 1
        if seen.kind == "request":
            self.requests.add(seen.method)
            state.requests.add(seen.method)
        else:
            status = str(seen.status) if seen.status is not None else "?"
            self.responses.add(status)
            state.responses.add(status)
        if len(self.samples) < self.limits.max_listed:
            self.samples.append(seen)
        if problem is not None:
            self.malformed += 1
            if len(self.malformed_samples) < self.limits.max_listed:
                self.malformed_samples.append(seen)
        if seen.has_sdp and self.sdp_listeners:
            head_end = _HEAD_END.search(data)
            body = b"" if head_end is None else data[head_end.end() :]
            sdp = SdpSeen(
                frame,
                time,
                flow,
                direction,
                seen.kind,
                seen.method,
                seen.status,
                seen.call_id,
                body,
            )
            for listener in self.sdp_listeners:
                listener.sdp_seen(sdp)
        return seen

    def flow_closed(self, flow: Flow, why: str) -> None:
        state = flow.state.pop(NAME, None)
        if state is None:
            return
        if len(self.flows) >= self.limits.max_listed:
            self.flows_omitted += 1
            return
        client, server = flow.endpoints(0)
        self.flows.append(
            SipFlow(
                transport="tcp" if flow.transport == "tcp" else "udp",
                client=client,
                server=server,
                messages=state.messages,
                requests=state.requests.listed(),
                responses=state.responses.listed(),
                first_time=state.first_time,
                last_time=state.last_time,
                exposures=state.exposures,
            )
        )

    def result(self) -> SipCapture:
        return SipCapture(
            messages=self.messages,
            udp_messages=self.by_transport["udp"],
            tcp_messages=self.by_transport["tcp"],
            requests=self.requests.listed(),
            responses=self.responses.listed(),
            flows=tuple(self.flows),
            flows_omitted=self.flows_omitted,
            samples=tuple(self.samples),
            exposures=tuple(self.exposures),
            exposures_total=self.exposures_total,
            malformed=self.malformed,
            malformed_samples=tuple(self.malformed_samples),
            cut_messages=self.cut_messages,
            stream_gap_bytes=self.stream_gap_bytes,
            unframed_bytes=self.unframed_bytes,
            streams=self.streams,
            overflows=self.overflows,
        )


_MAX_SKIPPED_LINE = 8 * 1024
"""While looking for the next start line, a line longer than this is searched for
`a=crypto` and dropped rather than held."""


class SipStream:
    """One TCP direction of SIP: framed into messages; past a framing error or a gap,
    searched forward for the next start line."""

    __slots__ = (
        "_analysis",
        "_buffer",
        "_direction",
        "_flow",
        "_frame",
        "_framer",
        "_holding",
        "_time",
    )

    def __init__(self, analysis: SipAnalysis, flow: Flow, direction: int, *, resync: bool) -> None:
        self._analysis = analysis
        self._flow = flow
        self._direction = direction
        self._framer: StreamFramer | None = None if resync else StreamFramer()
        self._buffer = bytearray()  # bytes searched for a start line (resync)
        self._frame = 0
        self._time = 0.0
        self._holding = 0  # what this stream counts in analysis.held
        analysis.streams += 1
        flow.labels.add(NAME)

    def data(self, chunk: bytes, frame: int, time: float) -> None:
        self._frame, self._time = frame, time
        if self._framer is None:
            self._buffer += chunk
            self._resync()
        else:
            self._framer.feed(chunk)
            self._frame_messages()
        self._account()

    def _account(self) -> None:
        """Count what this stream holds; past the bound shared by every SIP stream, the
        message being framed is given up on (judged as cut) rather than held."""
        holding = self._framer.buffered_bytes if self._framer is not None else len(self._buffer)
        analysis = self._analysis
        analysis.held += holding - self._holding
        self._holding = holding
        if analysis.held > analysis.limits.max_pending_bytes and holding:
            if self._framer is not None and self._framer.buffered().strip():
                analysis.overflows += 1
            self._lose_partial()
            self._framer = None
            analysis.held -= self._holding
            self._holding = 0

    def _frame_messages(self) -> None:
        framer = self._framer
        assert framer is not None
        while True:
            try:
                message = framer.next_message()
            except SipError as exc:
                self._framing_failed(framer.buffered(), str(exc))
                return
            if message is None:
                return
            self._record(framer.last_frame)

    def _record(
        self,
        data: bytes,
        *,
        cut: bool = False,
        problem: str | None = None,
        fragment: bool = False,
    ) -> None:
        self._analysis.record(
            data,
            flow=self._flow,
            direction=self._direction,
            frame=self._frame,
            time=self._time,
            cut=cut,
            problem=problem,
            fragment=fragment,
        )

    def _framing_failed(self, waiting: bytes, problem: str) -> None:
        """The message at the head of `waiting` does not frame: count it as malformed
        SIP (up to the next start line), then look for the next message after it."""
        waiting = waiting.lstrip(b"\r\n")
        following = _LINE_START.search(waiting)
        end = following.start() + 1 if following is not None else len(waiting)
        self._analysis.unframed_bytes += end
        if _START.match(waiting, 0, _LONGEST_START_LINE) is not None:
            self._record(waiting[:end], problem=problem)
        elif _CRYPTO.search(waiting, 0, end):
            self._record(waiting[:end], fragment=True)
        self._framer = None
        self._buffer = bytearray(waiting[end:])
        self._resync()

    def _resync(self) -> None:
        """Skip to the next start line (searching what is skipped for crypto lines), and
        frame again from there."""
        buffer = self._buffer
        start = 0 if _START.match(buffer, 0, _LONGEST_START_LINE) else None
        if start is None:
            found = _LINE_START.search(buffer)
            start = found.start() + 1 if found is not None else None
        if start is None:
            # Keep the last, unfinished line: it may be the start line, or half a
            # crypto line.
            keep = len(buffer) - (buffer.rfind(b"\n") + 1)
            if keep > _MAX_SKIPPED_LINE:
                keep = 0
            self._skipped(bytes(buffer[: len(buffer) - keep]))
            del buffer[: len(buffer) - keep]
            return
        self._skipped(bytes(buffer[:start]))
        rest = bytes(buffer[start:])
        self._buffer = bytearray()
        self._framer = StreamFramer()
        self._framer.feed(rest)
        self._frame_messages()

    def _skipped(self, data: bytes) -> None:
        if not data:
            return
        self._analysis.unframed_bytes += len(data)
        if _CRYPTO.search(data):
            self._record(data, fragment=True)

    def gap(self, missing: int, frame: int, time: float) -> None:
        self._frame, self._time = frame, time
        self._analysis.stream_gap_bytes += missing
        self._lose_partial()
        self._framer = None
        self._account()

    def _lose_partial(self) -> None:
        """The message being framed (or the bytes being searched) will never be whole."""
        if self._framer is None:
            tail = bytes(self._buffer)
            self._buffer = bytearray()
            self._skipped(tail)
            return
        waiting = self._framer.buffered().lstrip(b"\r\n")
        if not waiting:
            return
        if _START.match(waiting, 0, _LONGEST_START_LINE) is not None or looks_like_sip(
            waiting, cut=True
        ):
            self._record(waiting, cut=True)
        else:
            self._analysis.unframed_bytes += len(waiting)
            self._record(waiting, cut=True, fragment=True)

    def end(self) -> None:
        self._lose_partial()
        self._framer = None
        self._account()
