"""`sip.options` and `sip.response` judged on hand-made evidence: no sockets."""

from __future__ import annotations

import pytest

from probe.sip import build_response
from probe.verdict.checks.options import (
    AcceptedCodes,
    AcceptError,
    PingThresholds,
    check_options,
    check_response,
    parse_accept,
)
from probe.verdict.findings import Status
from tests.checks.evidence_factory import evidence, exchange, options_request, response

ACCEPT_2XX = AcceptedCodes()


def test_200_passes_with_rtt_and_server_facts() -> None:
    request = options_request()
    answer = response(
        request,
        200,
        "OK",
        ("Server", "SBC 1.0"),
        ("Allow", "INVITE, ACK, OPTIONS"),
        ("Supported", "timer"),
        ("Accept", "application/sdp"),
    )
    finding = check_options(evidence(exchange(request, [answer])), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.PASS
    assert finding.summary == "200 OK in 2.5 ms"
    assert finding.details["server"] == "SBC 1.0"
    assert finding.details["allow"] == ["INVITE", "ACK", "OPTIONS"]
    assert finding.details["rtt_ms"] == 2.5


@pytest.mark.parametrize(
    ("code", "accept", "status"),
    [
        (200, "2xx", Status.PASS),
        (202, "2xx", Status.PASS),
        (405, "2xx", Status.FAIL),
        (405, "2xx,405", Status.PASS),
        (404, "2xx,405", Status.FAIL),
        (603, "2xx", Status.FAIL),
        (503, "2xx", Status.FAIL),
    ],
)
def test_accepted_codes_decide(code: int, accept: str, status: Status) -> None:
    request = options_request()
    ev = evidence(exchange(request, [response(request, code, "Reason")]))
    finding = check_options(ev, parse_accept(accept))
    assert finding is not None
    assert finding.status is status


def test_5xx_names_failover_and_retry_after() -> None:
    request = options_request()
    answer = response(request, 503, "Service Unavailable", ("Retry-After", "60"))
    finding = check_options(evidence(exchange(request, [answer])), ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "RFC 3261 §21.5.4" in finding.summary
    assert "Retry-After: 60" in finding.summary


@pytest.mark.parametrize("text", ["5xx", "503", "2xx,500"])
def test_5xx_can_never_be_accepted(text: str) -> None:
    with pytest.raises(AcceptError, match="always unhealthy"):
        parse_accept(text)


@pytest.mark.parametrize("text", ["", "2x", "99", "700", "ok", "2xx,,3xx"])
def test_accept_rejects_nonsense(text: str) -> None:
    with pytest.raises(AcceptError):
        parse_accept(text)


def test_accept_is_printed_back() -> None:
    assert str(parse_accept("2XX, 405,3xx")) == "2xx,3xx,405"


def test_timeout_names_the_last_provisional_and_stall() -> None:
    request = options_request()
    ev = evidence(
        exchange(
            request,
            [response(request, 100, "Trying", to_tag=None), response(request, 180, "Ringing")],
            outcome="timeout",
            error="no final response within 5 s",
            pending_bytes=17,
        )
    )
    finding = check_options(ev, ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.FAIL
    assert "last provisional: 180 Ringing" in finding.summary
    assert "17 bytes of an incomplete message" in finding.summary
    assert finding.details["last_provisional"] == 180


def test_stray_response_is_never_taken_for_the_answer() -> None:
    request = options_request()
    other = options_request(branch="other")
    ev = evidence(
        exchange(request, [response(other, 200, "OK")], outcome="timeout", error="no answer")
    )
    options = check_options(ev, ACCEPT_2XX)
    assert options is not None
    assert options.status is Status.FAIL
    result = check_response(ev)
    assert result is not None
    assert result.status is Status.WARN
    assert "z9hG4bKother does not match z9hG4bKabc" in result.details["stray"][0]


def test_malformed_response_fails_sip_response() -> None:
    request = options_request()
    bad = (b"SIP/2.0 700 Odd\r\n\r\n", "line 1: status code 700 is not 100-699")
    ev = evidence(exchange(request, [bad], outcome="malformed", error=bad[1]))
    result = check_response(ev)
    assert result is not None
    assert result.status is Status.FAIL
    assert "700" in result.summary


def test_missing_to_tag_and_recommended_headers() -> None:
    request = options_request()
    ev = evidence(exchange(request, [response(request, 200, "OK", to_tag=None)]))
    result = check_response(ev)
    assert result is not None
    assert result.status is Status.WARN
    assert "no To tag" in result.summary
    assert result.details["missing_recommended_headers"] == ["Accept", "Allow", "Supported"]


def test_ping_mode_reports_spread_and_loss() -> None:
    exchanges = []
    for number, rtt in enumerate([1.0, 2.0, 3.0], start=1):
        request = options_request(cseq=number, branch=f"b{number}")
        exchanges.append(
            exchange(request, [response(request, 200, "OK")], sent_at=0.0, final_at=rtt)
        )
    lost = options_request(cseq=4, branch="b4")
    exchanges.append(exchange(lost, [], outcome="timeout", error="no final response"))
    # One in four lost: above the default --loss-warn (0%), within a --loss-crit of 30%.
    finding = check_options(evidence(*exchanges), ACCEPT_2XX, PingThresholds(loss_crit_pct=30))
    assert finding is not None
    assert finding.status is Status.WARN
    assert finding.details["sent"] == 4
    assert finding.details["answered"] == 3
    assert finding.details["lost"] == 1
    assert finding.details["loss_pct"] == 25.0
    assert finding.details["codes"] == {"200": 3}
    assert finding.details["rtt_ms"] == {"min": 1.0, "avg": 2.0, "max": 3.0, "stdev": 0.816}
    assert finding.summary.startswith("loss above --loss-warn 0%: 4 sent, 3 answered, 1 lost")
    # Under the default --loss-crit (20%) the same run fails.
    default = check_options(evidence(*exchanges), ACCEPT_2XX)
    assert default is not None
    assert default.status is Status.FAIL
    assert "loss above --loss-crit 20%" in default.summary


def test_ping_mode_with_an_error_answer_fails() -> None:
    first, second = options_request(cseq=1, branch="a1"), options_request(cseq=2, branch="a2")
    ev = evidence(
        exchange(first, [response(first, 200, "OK")]),
        exchange(second, [response(second, 503, "Service Unavailable")]),
    )
    finding = check_options(ev, ACCEPT_2XX)
    assert finding is not None
    assert finding.status is Status.FAIL


def test_sdp_in_the_options_answer_is_summarised_not_judged() -> None:
    from probe.verdict.checks.options import check_answer_sdp

    request = options_request()
    sdp = (
        b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
        b"m=audio 0 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 "
        b"inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
    )
    answer = build_response(
        request, 200, "OK", to_tag="t", body=sdp, content_type="application/sdp"
    ).to_bytes()
    finding = check_answer_sdp(evidence(exchange(request, [answer])))
    assert finding is not None
    assert finding.check == "sdp.srtp"
    assert finding.status is Status.SKIP
    assert "WVNfX19zZW1jdGwg" not in finding.summary + str(finding.details)
    assert check_answer_sdp(evidence(exchange(request, [response(request, 200, "OK")]))) is None
