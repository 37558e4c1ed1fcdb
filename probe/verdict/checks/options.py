"""Checks on the OPTIONS exchange: `sip.options` (the answer) and `sip.response` (its form).

RFC 3261 §11: the answer to OPTIONS is the one an INVITE would get, so its status code is
the endpoint's health. §21.5.4: a 503 (and, for a trunk, any 5xx) means "try another
server"; it is never healthy, whatever `--accept` says.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.evidence.model import (
    LENGTH_FRAMED_TRANSPORTS,
    PingTally,
    ProbeEvidence,
    Received,
    SipExchange,
    interned,
)
from probe.evidence.ping import stdev_ms, tally_exchanges
from probe.sip import (
    Message,
    Request,
    Response,
    SipError,
    match_response,
    parse_message,
    parse_name_addr,
)
from probe.sip.headers import split_list
from probe.verdict.checks.unit import Check
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, rounded_ms

# RFC 3261 §21: the class of a final response, by its first digit.
_CLASSES = {
    3: "a redirection (3xx, §21.3)",
    4: "a request failure (4xx, §21.4)",
    5: "a server failure (5xx, §21.5)",
    6: "a global failure (6xx, §21.6)",
}


class AcceptError(ProbeError, ValueError):
    """An `--accept` value that cannot be used."""


@dataclass(frozen=True, slots=True)
class AcceptedCodes:
    """Final status codes that count as healthy, e.g. `2xx,405`."""

    classes: frozenset[int] = frozenset({2})
    codes: frozenset[int] = frozenset()

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, int) or 500 <= code <= 599:
            return False
        return code // 100 in self.classes or code in self.codes

    def __str__(self) -> str:
        parts = [f"{c}xx" for c in sorted(self.classes)] + [str(c) for c in sorted(self.codes)]
        return ",".join(parts)


def parse_accept(text: str) -> AcceptedCodes:
    classes: set[int] = set()
    codes: set[int] = set()
    for raw in text.split(","):
        item = raw.strip().lower()
        if len(item) == 3 and item.endswith("xx") and item[0] in "23456":
            classes.add(int(item[0]))
        elif len(item) == 3 and item.isdigit() and 200 <= int(item) <= 699:
            codes.add(int(item))
        else:
            raise AcceptError(f"--accept: {raw.strip()!r} is not a final status code or class")
    if 5 in classes or any(500 <= code <= 599 for code in codes):
        raise AcceptError(
            "--accept: 5xx answers are always unhealthy (RFC 3261 §21.5.4), they cannot be accepted"
        )
    return AcceptedCodes(frozenset(classes), frozenset(codes))


@dataclass(frozen=True, slots=True)
class _Read:
    """One exchange, re-read: the request, its final answer, what else came."""

    request: Request | None
    final: Response | None
    provisional: tuple[Response, ...]
    stray: tuple[tuple[Response, str], ...]
    malformed: tuple[str, ...]
    extra: tuple[Response, ...] = ()
    """Final responses to the request after the first (retransmitted or duplicated)."""


def _parsed(item: Received, stream: bool) -> Message:
    """The message in `item`: as the collector handed it on (parsed the way `stream`
    says, since the transport decides both), or parsed from the evidence of a loaded run."""
    if item.message is not None:
        return item.message
    return parse_message(item.data, stream=stream)


class ExchangeReads:
    """The exchanges of one target's evidence, each read once for every check that looks
    at it: made for one target's judgement and dropped with it."""

    def __init__(self, evidence: ProbeEvidence) -> None:
        self._exchanges = evidence.exchanges
        self._stream = evidence.target.transport in LENGTH_FRAMED_TRANSPORTS
        self._read: dict[int, _Read] = {}

    def __getitem__(self, index: int) -> _Read:
        read = self._read.get(index)
        if read is None:
            read = read_exchange(self._exchanges[index], stream=self._stream)
            self._read[index] = read
        return read


def read_exchange(exchange: SipExchange, *, stream: bool) -> _Read:
    """Read an exchange: its request, its final answer, what else came."""
    only = exchange.received[0] if len(exchange.received) == 1 else None
    if exchange.outcome == "answered" and only is not None and only.error is None:
        # The collector called the exchange answered because this, the only message, is a
        # final response matching the request (§17.1.3): no need to parse the request
        # again to match it.
        try:
            alone = _parsed(only, stream)
        except SipError:
            alone = None
        if isinstance(alone, Response) and alone.status_code >= 200:
            return _Read(None, alone, (), (), ())
    try:
        request = parse_message(exchange.request, stream=False)
    except SipError:
        request = None
    final: Response | None = None
    provisional: list[Response] = []
    stray: list[tuple[Response, str]] = []
    malformed: list[str] = []
    extra: list[Response] = []
    for item in exchange.received:
        if item.error is not None:
            malformed.append(item.error)
            continue
        try:
            message = _parsed(item, stream)
        except SipError as exc:
            malformed.append(str(exc))
            continue
        if not isinstance(message, Response) or not isinstance(request, Request):
            continue
        match = match_response(request, message)
        if not match.matched:
            stray.append((message, match.reason or "does not match the request"))
        elif message.status_code < 200:
            provisional.append(message)
        elif final is None:
            final = message
        else:
            extra.append(message)
    return _Read(
        request if isinstance(request, Request) else None,
        final,
        tuple(provisional),
        tuple(stray),
        tuple(malformed),
        tuple(extra),
    )


def _list_header(response: Response, name: str) -> list[str]:
    """The elements of Allow, Supported or Accept fields, interned: the findings that quote
    them live until the report, and a sweep's servers mostly send the same ones."""
    fields = response.headers.fields(name)
    elements = (item.strip() for field in fields for item in split_list(field))
    return [sys.intern(element) for element in elements if element]


def _answer_details(response: Response) -> dict[str, JsonValue]:
    # Interned: a sweep's servers mostly answer with the same reason, Server and lists,
    # and a finding outlives its response; thousands of targets then hold one copy.
    headers = response.headers
    return {
        "status_code": response.status_code,
        "reason": interned(response.reason),
        "server": interned(headers.get("Server")),
        "user_agent": interned(headers.get("User-Agent")),
        "allow": _list_header(response, "Allow"),
        "supported": _list_header(response, "Supported"),
        "accept": _list_header(response, "Accept"),
        "retry_after": headers.get("Retry-After"),
    }


def _redirect_targets(response: Response) -> list[str]:
    """The Contact URIs of a 3xx (§21.3: where to try instead), as sent."""
    targets: list[str] = []
    for value in response.headers.get_all("Contact"):
        for item in split_list(value):
            try:
                targets.append(str(parse_name_addr(item).uri))
            except SipError:
                targets.append(item.strip())
    return targets


def _why_unanswered(exchange: SipExchange, read: _Read) -> str:
    text = exchange.error or exchange.outcome
    if exchange.outcome == "tls_alert" and "certificate required" in text:
        text += " (the server requires a client certificate: --cert/--key)"
    if exchange.outcome == "timeout":
        # A provisional response does not extend the transaction (§17.1.2.2): say which
        # one the server stopped after.
        if read.provisional:
            last = read.provisional[-1]
            text += f"; last provisional: {last.status_code} {last.reason}"
        # The message deadline's own sentence already counts the bytes.
        if exchange.pending_bytes and exchange.expired != "message":
            text += (
                f"; {exchange.pending_bytes} bytes of an incomplete message were received"
                " and the server stalled"
            )
        elif exchange.retransmissions:
            text += f"; {exchange.retransmissions} retransmissions unanswered"
    return text


def check_options(
    evidence: ProbeEvidence,
    accept: AcceptedCodes,
    thresholds: PingThresholds | None = None,
    reads: ExchangeReads | None = None,
) -> Finding | None:
    target = evidence.target
    exchanges = evidence.exchanges
    thresholds = thresholds if thresholds is not None else PingThresholds()
    reads = reads if reads is not None else ExchangeReads(evidence)
    if evidence.ping is not None or len(exchanges) > 1:
        return _check_ping(evidence, accept, thresholds, reads)
    if not exchanges:
        return None
    exchange = exchanges[0]
    read = reads[0]
    details: dict[str, JsonValue] = {
        "outcome": exchange.outcome,
        "rtt_ms": rounded_ms(exchange.rtt_ms),
        "accepted": sys.intern(str(accept)),
        "retransmissions": exchange.retransmissions,
        "expired": exchange.expired,
        "provisional": [response.status_code for response in read.provisional],
        "stray": [f"{r.status_code} {r.reason}: {why}" for r, why in read.stray],
    }
    if read.final is None:
        details["error"] = exchange.error
        details["last_provisional"] = read.provisional[-1].status_code if read.provisional else None
        if exchange.outcome == "malformed":
            summary = f"the answer to OPTIONS is not valid SIP: {exchange.error}"
        else:
            summary = f"no answer to OPTIONS: {_why_unanswered(exchange, read)}"
        return Finding(CheckId.SIP_OPTIONS, Status.FAIL, target.label, summary, details)
    final = read.final
    details |= _answer_details(final)
    answer = f"{final.status_code} {final.reason}"
    rtt = f" in {exchange.rtt_ms:.1f} ms" if exchange.rtt_ms is not None else ""
    auth = evidence.auth
    if auth is not None and auth.answered_with is not None and auth.answer_status is not None:
        # The answer judged is the one to the OPTIONS sent with credentials (sip.auth).
        refused = auth.answer_status in (401, 407)
        rtt += " (digest credentials refused)" if refused else " (with digest authentication)"
    if 500 <= final.status_code <= 599:
        retry = final.headers.get("Retry-After")
        retry_text = f", Retry-After: {retry}" if retry else ""
        summary = (
            f"answered {answer}{rtt}: the endpoint declares itself unavailable and the "
            f"provider will fail over (RFC 3261 §21.5.4){retry_text}"
        )
        return Finding(CheckId.SIP_OPTIONS, Status.FAIL, target.label, summary, details)
    if 300 <= final.status_code <= 399:
        return _redirected(evidence, final, accept, answer, rtt, details)
    if final.status_code not in accept:
        kind = _CLASSES.get(final.status_code // 100)
        what = f", {kind}," if kind else ""
        summary = f"answered {answer}{rtt}{what} which is not an accepted answer ({accept})"
        return Finding(CheckId.SIP_OPTIONS, Status.FAIL, target.label, summary, details)
    if not thresholds.judge_single_rtt:
        return Finding(CheckId.SIP_OPTIONS, Status.PASS, target.label, f"{answer}{rtt}", details)
    details["thresholds"] = thresholds.as_details()
    status, slow = _rtt_verdict(exchange.rtt_ms, thresholds)
    if slow:
        summary = f"{answer}{rtt}: {slow}"
        return Finding(CheckId.SIP_OPTIONS, status, target.label, summary, details)
    return Finding(CheckId.SIP_OPTIONS, Status.PASS, target.label, f"{answer}{rtt}", details)


def _redirected(
    evidence: ProbeEvidence,
    final: Response,
    accept: AcceptedCodes,
    reason: str,
    rtt: str,
    details: dict[str, JsonValue],
) -> Finding:
    """A 3xx names other places to try (§21.3, §8.1.3.4). The probe reports them and does
    not chase them: a redirect to another host is a new target, probed only when asked."""
    targets = _redirect_targets(final)
    details["redirect_to"] = targets
    where = ", ".join(targets) if targets else "no Contact at all (RFC 3261 §21.3 expects one)"
    summary = (
        f"the server redirected with {reason} to {where}; not followed"
        " (use --follow-redirects to probe it)"
    )
    if rtt:
        summary += f"; answered{rtt}"
    status = Status.PASS if final.status_code in accept else Status.FAIL
    return Finding(CheckId.SIP_OPTIONS, status, evidence.target.label, summary, details)


class ThresholdError(ProbeError, ValueError):
    """Loss or RTT thresholds that cannot be used."""


@dataclass(frozen=True, slots=True)
class PingThresholds:
    """Loss and round-trip thresholds, as check_icmp's `-w`/`-c`: a figure above its
    threshold warns, or fails. RTT thresholds apply to the average of a `--count` run,
    and to the one RTT of a single probe only when `judge_single_rtt` (an RTT threshold
    was given)."""

    loss_warn_pct: float = 0.0
    """Any loss warns: an unanswered OPTIONS on TCP or TLS is no dropped packet (TCP
    retransmits it) but a request the server left unanswered, and on UDP one whose every
    retransmission went unanswered (RFC 3261 §17.1.2.2)."""
    loss_crit_pct: float = 20.0
    """Beyond a fifth unanswered, a provider's OPTIONS keepalive, which takes a trunk out
    of service after a few unanswered probes, would already have done so."""
    rtt_warn_ms: float = 300.0
    """Twice ITU-T G.114's 150 ms one-way delay for conversational voice."""
    rtt_crit_ms: float = 500.0
    """T1, RFC 3261 §17.1.1.1's estimate of the round trip: slower than that, a UDP
    client retransmits before the answer can arrive."""
    judge_single_rtt: bool = False
    """Whether one probe's RTT is judged too. Off by default: a single answer's delay is no
    trend, and in a sweep of thousands it measures the prober's own load as much as the
    far end; a user who states an RTT threshold asks for it."""

    def check(self) -> None:
        """Raise ThresholdError unless each warning is at most its critical value."""
        for name, value in (
            ("--loss-warn", self.loss_warn_pct),
            ("--loss-crit", self.loss_crit_pct),
        ):
            if not 0 <= value <= 100:  # NaN included: it compares false with anything
                raise ThresholdError(f"{name} {value:g}: a loss is a percentage, 0 to 100")
        for name, value in (("--rtt-warn", self.rtt_warn_ms), ("--rtt-crit", self.rtt_crit_ms)):
            if not 0 < value < math.inf:
                raise ThresholdError(f"{name} {value:g}: a round-trip time above 0 ms")
        if self.loss_warn_pct > self.loss_crit_pct:
            raise ThresholdError(
                f"--loss-warn {self.loss_warn_pct:g}% is above --loss-crit"
                f" {self.loss_crit_pct:g}%: the warning must come first"
            )
        if self.rtt_warn_ms > self.rtt_crit_ms:
            raise ThresholdError(
                f"--rtt-warn {self.rtt_warn_ms:g} ms is above --rtt-crit"
                f" {self.rtt_crit_ms:g} ms: the warning must come first"
            )

    def as_details(self) -> dict[str, JsonValue]:
        return {
            "loss_warn_pct": self.loss_warn_pct,
            "loss_crit_pct": self.loss_crit_pct,
            "rtt_warn_ms": self.rtt_warn_ms,
            "rtt_crit_ms": self.rtt_crit_ms,
        }


def parse_icmp_pair(option: str, text: str) -> tuple[float, float]:
    """check_icmp's `-w`/`-c` value, `RTT,PCT%` (milliseconds, then a loss): both."""
    rtt, comma, loss = text.partition(",")
    try:
        if not comma or not loss.strip().endswith("%"):
            raise ValueError
        return float(rtt.strip().removesuffix("ms")), float(loss.strip()[:-1])
    except ValueError:
        raise ThresholdError(
            f"{option} {text!r}: give RTT,LOSS% as check_icmp does, e.g. 300,10%"
        ) from None


def _rtt_verdict(rtt_ms: float | None, thresholds: PingThresholds) -> tuple[Status, str]:
    """Above --rtt-crit fails, above --rtt-warn warns; the sentence says so."""
    if rtt_ms is None:
        return Status.PASS, ""
    if rtt_ms > thresholds.rtt_crit_ms:
        return Status.FAIL, f"RTT above --rtt-crit {thresholds.rtt_crit_ms:g} ms"
    if rtt_ms > thresholds.rtt_warn_ms:
        return Status.WARN, f"RTT above --rtt-warn {thresholds.rtt_warn_ms:g} ms"
    return Status.PASS, ""


def _ping_tally(evidence: ProbeEvidence, reads: ExchangeReads) -> PingTally:
    """The run's figures: as collected, or counted from every exchange of evidence saved
    without them."""
    if evidence.ping is not None:
        return evidence.ping
    codes: list[int | None] = []
    for index in range(len(evidence.exchanges)):
        final = reads[index].final
        codes.append(final.status_code if final is not None else None)
    return tally_exchanges(evidence.exchanges, len(evidence.exchanges), codes)


_LOST_HOW = {
    "reset": "the far end reset the connection",
    "closed": "the far end closed the connection",
    "tls_alert": "a TLS alert ended the connection",
    "malformed": "the far end sent bytes that are not SIP, ending the connection's use",
    "send_failed": "the request could not be written",
    "refused": "the host answered ICMP port unreachable",
}


def _why_never_sent(tally: PingTally) -> str:
    """Why the probes after `ended_at` were never sent, naming the probe and the cause."""
    at = tally.ended_at
    if tally.ended == "connection_lost":
        outcome, _, detail = (tally.ended_detail or "").partition(": ")
        how = _LOST_HOW.get(outcome, outcome or "the connection died")
        return f"{how} at probe {at} of {tally.count}" + (f" ({detail})" if detail else "")
    if tally.ended == "max_time":
        return f"the run hit --max-time after probe {at} of {tally.count}"
    return f"the run was interrupted after probe {at} of {tally.count}"


def _check_ping(
    evidence: ProbeEvidence, accept: AcceptedCodes, thresholds: PingThresholds, reads: ExchangeReads
) -> Finding:
    """Aggregate a `--count` run the way ping does: sent, answered, lost, never sent and
    why, loss over what was asked, the RTT spread over the answers."""
    target = evidence.target
    tally = _ping_tally(evidence, reads)
    count, sent, answered = tally.count, tally.sent, tally.answered
    healthy = sum(number for code, number in tally.codes if code in accept)
    lost = sent - answered
    never_sent = count - sent
    loss = 100.0 * (count - answered) / count if count else 0.0
    loss_of_sent = 100.0 * lost / sent if sent else None
    # A run the user cut short is judged on what the far end had the chance to answer;
    # a run the far end cut short, on everything asked.
    cut_by_us = tally.ended in ("max_time", "interrupted")
    judged_loss = loss_of_sent if cut_by_us else loss
    spread = tally.rtt
    stats: dict[str, float] | None = None
    if spread.count and spread.min_ms is not None and spread.max_ms is not None:
        stats = {
            "min": spread.min_ms,
            "avg": spread.mean_ms,
            "max": spread.max_ms,
            "stdev": stdev_ms(spread),
        }
    details: dict[str, JsonValue] = {
        "count": count,
        "sent": sent,
        "answered": answered,
        "healthy": healthy,
        "lost": lost,
        "never_sent": never_sent,
        "ended": tally.ended,
        "ended_at": tally.ended_at,
        "ended_detail": tally.ended_detail,
        "loss_pct": round(loss, 3),
        "loss_of_sent_pct": None if loss_of_sent is None else round(loss_of_sent, 3),
        "codes": {str(code): number for code, number in tally.codes},
        "rtt_ms": {key: rounded_ms(value) for key, value in stats.items()} if stats else None,
        "thresholds": thresholds.as_details(),
        "accepted": sys.intern(str(accept)),
        "exchanges_kept": tally.exchanges_kept,
    }
    figures = f"{sent} sent, {answered} answered"
    if healthy != answered:
        figures += f" ({healthy} healthy)"
    figures += f", {lost} lost"
    if never_sent:
        figures += f", {never_sent} never sent"
    figures += f"; {loss:.0f}% loss of {count} asked"
    if cut_by_us and loss_of_sent is not None:
        figures += f" ({loss_of_sent:.0f}% of those sent)"
    figures += (
        ", rtt min/avg/max/stdev = {min:.1f}/{avg:.1f}/{max:.1f}/{stdev:.1f} ms".format(**stats)
        if stats
        else ", no RTT"
    )
    failing: list[str] = []
    warning: list[str] = []
    if tally.ended == "connection_lost":
        failing.append(_why_never_sent(tally))
    if answered > healthy:
        failing.append(f"{answered - healthy} answer(s) not accepted ({accept}) or 5xx")
    elif sent and not healthy:
        failing.append("no healthy answer")
    if judged_loss is not None and judged_loss > thresholds.loss_crit_pct:
        failing.append(f"loss above --loss-crit {thresholds.loss_crit_pct:g}%")
    elif judged_loss is not None and judged_loss > thresholds.loss_warn_pct:
        warning.append(f"loss above --loss-warn {thresholds.loss_warn_pct:g}%")
    rtt_status, rtt_text = _rtt_verdict(stats["avg"] if stats else None, thresholds)
    (failing if rtt_status is Status.FAIL else warning).extend([rtt_text] if rtt_text else [])
    if failing:
        status, reasons = Status.FAIL, failing
    elif never_sent and cut_by_us:
        status, reasons = Status.INCOMPLETE, [_why_never_sent(tally)]
    elif warning:
        status, reasons = Status.WARN, warning
    else:
        status, reasons = Status.PASS, []
    summary = "; ".join(reasons) + f": {figures}" if reasons else figures
    return Finding(CheckId.SIP_OPTIONS, status, target.label, summary, details)


def check_response(evidence: ProbeEvidence, reads: ExchangeReads | None = None) -> Finding | None:
    """`sip.response`: was what came back well-formed SIP, addressed to our request?"""
    target = evidence.target
    if not evidence.exchanges:
        return None
    reads = reads if reads is not None else ExchangeReads(evidence)
    malformed: list[str] = []
    stray: list[str] = []
    extra: list[str] = []
    missing_tag = False
    missing_recommended: set[str] = set()
    finals = 0
    for index in range(len(evidence.exchanges)):
        read = reads[index]
        malformed.extend(read.malformed)
        stray.extend(f"{r.status_code} {r.reason}: {why}" for r, why in read.stray)
        extra.extend(f"{r.status_code} {r.reason}" for r in read.extra)
        if read.final is not None:
            finals += 1
            headers = read.final.headers
            # RFC 3261 §8.2.6.2: a UAS MUST add a To tag to a final response.
            if read.final.to.tag is None:
                missing_tag = True
            # RFC 3261 §11.2: a 200 to OPTIONS SHOULD list these.
            if 200 <= read.final.status_code < 300:
                for name in ("Allow", "Accept", "Supported"):
                    if headers.get(name) is None:
                        missing_recommended.add(name)
    details: dict[str, JsonValue] = {
        "malformed": malformed,
        "stray": stray,
        "extra_finals": extra,
        "final_responses": finals,
        "missing_to_tag": missing_tag,
        "missing_recommended_headers": sorted(missing_recommended),
    }
    if malformed:
        return Finding(
            CheckId.SIP_RESPONSE,
            Status.FAIL,
            target.label,
            f"the server sent something that is not valid SIP: {malformed[0]}",
            details,
        )
    if not finals and not stray:
        return Finding(
            CheckId.SIP_RESPONSE,
            Status.SKIP,
            target.label,
            "no response to judge",
            details,
        )
    notes: list[str] = []
    if stray:
        notes.append(
            f"ignored {len(stray)} response(s) that did not match the request ({stray[0]})"
        )
    if extra:
        notes.append(
            f"{len(extra)} more final response(s) to the same request after the first"
            f" ({extra[0]}), ignored (RFC 3261 §17.1.2.2)"
        )
    if missing_tag:
        notes.append("the final response has no To tag (RFC 3261 §8.2.6.2)")
    if notes:
        return Finding(CheckId.SIP_RESPONSE, Status.WARN, target.label, "; ".join(notes), details)
    summary = "well-formed response(s) matching the request's Via branch and CSeq"
    if missing_recommended:
        summary += f" (no {', '.join(sorted(missing_recommended))} header, RFC 3261 §11.2)"
    return Finding(CheckId.SIP_RESPONSE, Status.PASS, target.label, summary, details)


def check_answer_sdp(evidence: ProbeEvidence, reads: ExchangeReads | None = None) -> Finding | None:
    """SDP carried by the final answer to OPTIONS (RFC 3261 §11.2): informational only."""
    if not evidence.exchanges:
        return None
    final = (reads if reads is not None else ExchangeReads(evidence))[0].final
    if final is None or not final.body:
        return None
    from probe.verdict.checks.srtp import check_options_sdp

    return check_options_sdp(
        label=evidence.target.label,
        body=final.body,
        content_type=final.headers.get("Content-Type"),
    )


def not_sent(evidence: ProbeEvidence) -> Finding:
    """`sip.options` (or `sip.invite`) not sent, naming the phase that stopped the probe:
    skipped behind a failed phase (whose finding already fails the target), incomplete
    when nothing failed and the request still never went out."""
    check = CheckId.SIP_INVITE if evidence.method == "INVITE" else CheckId.SIP_OPTIONS
    if evidence.connect is not None and not evidence.connect.ok:
        why = "the connection failed"
    elif evidence.tls is not None and not evidence.tls.ok:
        why = "the TLS handshake failed"
    elif evidence.websocket is not None and not evidence.websocket.ok:
        why = "the WebSocket upgrade failed"
    else:
        return Finding(
            check,
            Status.INCOMPLETE,
            evidence.target.label,
            f"{evidence.method} not sent: the probe ended before it",
        )
    return Finding(check, Status.SKIP, evidence.target.label, f"{evidence.method} not sent: {why}")


def _asked(evidence: ProbeEvidence) -> bool:
    """OPTIONS went out (a single probe, or a ping run's figures)."""
    return evidence.call is None and bool(evidence.exchanges or evidence.ping is not None)


def _never_asked(evidence: ProbeEvidence) -> bool:
    return evidence.call is None and not evidence.exchanges and evidence.ping is None


def _owes_options(evidence: ProbeEvidence) -> tuple[str, ...]:
    return () if evidence.method == "INVITE" else (CheckId.SIP_OPTIONS,)


OPTIONS = Check(
    ids=(CheckId.SIP_OPTIONS,),
    reads=("target", "exchanges", "ping"),
    applies=_asked,
    judge=lambda j: [check_options(j.evidence, j.policy.accept, j.policy.ping, j.reads)],
    owes=_owes_options,
)
RESPONSE = Check(
    ids=(CheckId.SIP_RESPONSE,),
    reads=("target", "exchanges"),
    applies=_asked,
    judge=lambda j: [check_response(j.evidence, j.reads)],
)
ANSWER_SDP = Check(
    ids=(CheckId.SDP_SRTP,),
    reads=("target", "exchanges"),
    applies=_asked,
    judge=lambda j: [check_answer_sdp(j.evidence, j.reads)],
)
NOT_SENT = Check(
    ids=(CheckId.SIP_OPTIONS, CheckId.SIP_INVITE),
    reads=("target", "connect", "tls", "websocket"),
    applies=_never_asked,
    judge=lambda j: [not_sent(j.evidence)],
)
