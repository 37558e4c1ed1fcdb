"""RFC 4475 and RFC 5118 torture messages, each with the verdict its RFC gives it.

A valid message parses and its tortured fields read as the RFC means them; an invalid
one is refused with `SipParseError` (the remote protocol error), never any other
exception. Where this codec refuses a message the RFC calls syntactically valid, the
table says why (it parses SIP and SIPS URIs only; it reads one message per datagram).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from probe.sip import Message, Request, Response, SipParseError, parse_message
from probe.sip.headers import parse_via

TORTURE = Path(__file__).parent / "torture"
_HEX_RE = re.compile("<hex>([0-9A-Fa-f]*)</hex>")


def load(name: str) -> bytes:
    """The message in ``torture/<name>.txt``, its notation expanded (see README.md)."""
    text = (TORTURE / f"{name}.txt").read_text(encoding="ascii")
    assert text.endswith("\n")
    lines = []
    for line in text[:-1].split("\n"):
        raw = b""
        pos = 0
        for match in _HEX_RE.finditer(line):
            raw += line[pos : match.start()].encode("ascii") + bytes.fromhex(match[1])
            pos = match.end()
        lines.append(raw + line[pos:].encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n"


def request(message: Message) -> Request:
    assert isinstance(message, Request)
    return message


def response(message: Message) -> Response:
    assert isinstance(message, Response)
    return message


def _wsinv(m: Message) -> None:
    r = request(m)
    assert str(r.uri) == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert r.from_.display_name == 'J Rosenberg \\"'
    assert r.from_.tag == "98asjd8"
    assert r.to.param("tag") == "1918181833n"
    assert (r.cseq.number, r.cseq.method) == (9, "INVITE")
    assert r.headers.get("Max-Forwards") == "0068"
    vias = [parse_via(v) for v in r.headers.get_all("Via")]
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert r.headers.get("Subject") == ""
    assert r.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert r.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert len(r.body) == 150


def _intmeth(m: Message) -> None:
    r = request(m)
    assert r.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert r.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert r.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    # §25.1 quoted-pair carries BEL, NUL and DEL into the display name.
    assert r.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert r.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert r.from_.tag == "_token~1'+`*%!-."
    assert r.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert r.top_via.branch == "z9hG4bK-.!%66*_+`'~"
    assert r.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def _esc01(m: Message) -> None:
    r = request(m)
    assert r.uri.user == "sips:user@example.com"
    assert r.to.uri.user == "user"  # %75se%72
    assert r.from_.uri.user == "I have spaces"
    contact = r.headers.get("Contact") or ""
    from probe.sip import parse_name_addr

    uri = parse_name_addr(contact).uri
    assert uri.user == "caller"
    assert uri.has_param("lr")
    assert uri.param("name") == "v%61lue%25%34%31"


def _escnull(m: Message) -> None:
    assert request(m).to.uri.user == "null-\x00-null"


def _esc02(m: Message) -> None:
    r = request(m)
    assert r.method == "RE%47IST%45R"  # % is no escape in a method (RFC 4475 §3.1.1.5)
    assert r.to.display_name == "%Z%45"
    assert len(r.headers.get_all("Contact")) == 2  # C%6Fntact is another header
    assert r.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def _lwsdisp(m: Message) -> None:
    assert request(m).from_.display_name == "caller"


def _longreq(m: Message) -> None:
    r = request(m)
    assert r.to.display_name == "I have a user name of " + "extreme" * 10 + " proportion"
    assert len(r.headers.get_all("Via")) == 34
    assert r.call_id == "longreq.one" + "really" * 20 + "longcallid"
    last_via = parse_via(r.headers.get_all("Via")[-1])
    assert last_via.branch == "very" + "long" * 50 + "branchvalue"


def _dblreq(m: Message) -> None:
    r = request(m)  # a datagram is one message: the second request is ignored (§18.3)
    assert r.method == "REGISTER"
    assert r.body == b""


def _semiuri(m: Message) -> None:
    assert request(m).uri.user == "user;par=u@example.net"


def _transports(m: Message) -> None:
    vias = [parse_via(v).transport for v in request(m).headers.get_all("Via")]
    assert vias == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def _mpart01(m: Message) -> None:
    r = request(m)
    assert (r.headers.get("Content-Type") or "").startswith("multipart/mixed;boundary=")
    assert len(r.body) == int(r.headers.get("Content-Length") or "-1")
    assert b"\x00" in r.body  # the binary signature part


def _unreason(m: Message) -> None:
    r = response(m)
    assert r.status_code == 200
    assert r.reason.startswith("= 2**3 * 5**2 но сто")


def _noreason(m: Message) -> None:
    assert (response(m).status_code, response(m).reason) == (100, "")


def _uri_host(host: str, port: int | None = None) -> Callable[[Message], None]:
    def check(m: Message) -> None:
        uri = request(m).uri
        assert (uri.host, uri.host_kind, uri.port) == (host, "ipv6", port)

    return check


def _received(value: str) -> Callable[[Message], None]:
    def check(m: Message) -> None:
        assert request(m).top_via.received == value

    return check


def _mult_ip_in_header(m: Message) -> None:
    vias = [parse_via(v) for v in request(m).headers.get_all("Via")]
    assert [(v.host, v.port) for v in vias] == [
        ("2001:db8::9:1", 6050),
        ("192.0.2.1", None),
        ("2001:db8::9:255", None),
    ]


def _ipv4_mapped(m: Message) -> None:
    r = request(m)
    assert (r.top_via.host, r.top_via.port) == ("::ffff:192.0.2.10", 19823)
    assert r.headers.get("Content-Type") == "application/sdp"


def _parses(m: Message) -> None:
    """Valid; nothing tortured beyond parsing it."""


VALID = "valid"
INVALID = "invalid"
# name: (RFC section, the RFC's verdict, our verdict, the check of a valid message or why
# this codec refuses it)
CASES: dict[str, tuple[str, str, str, Callable[[Message], None] | str]] = {
    # RFC 4475 §3.1.1: valid messages
    "rfc4475/wsinv": ("3.1.1.1", VALID, VALID, _wsinv),
    "rfc4475/intmeth": ("3.1.1.2", VALID, VALID, _intmeth),
    "rfc4475/esc01": ("3.1.1.3", VALID, VALID, _esc01),
    "rfc4475/escnull": ("3.1.1.4", VALID, VALID, _escnull),
    "rfc4475/esc02": ("3.1.1.5", VALID, VALID, _esc02),
    "rfc4475/lwsdisp": ("3.1.1.6", VALID, VALID, _lwsdisp),
    "rfc4475/longreq": ("3.1.1.7", VALID, VALID, _longreq),
    "rfc4475/dblreq": ("3.1.1.8", VALID, VALID, _dblreq),
    "rfc4475/semiuri": ("3.1.1.9", VALID, VALID, _semiuri),
    "rfc4475/transports": ("3.1.1.10", VALID, VALID, _transports),
    "rfc4475/mpart01": ("3.1.1.11", VALID, VALID, _mpart01),
    "rfc4475/unreason": ("3.1.1.12", VALID, VALID, _unreason),
    "rfc4475/noreason": ("3.1.1.13", VALID, VALID, _noreason),
    # RFC 4475 §3.1.2: invalid messages
    "rfc4475/badinv01": ("3.1.2.1", INVALID, INVALID, "empty Via parameters"),
    "rfc4475/clerr": ("3.1.2.2", INVALID, INVALID, "Content-Length beyond the datagram"),
    "rfc4475/ncl": ("3.1.2.3", INVALID, INVALID, "negative Content-Length"),
    "rfc4475/scalar02": ("3.1.2.4", INVALID, INVALID, "CSeq above 2**31"),
    "rfc4475/scalarlg": ("3.1.2.5", INVALID, INVALID, "huge CSeq"),
    "rfc4475/quotbal": ("3.1.2.6", INVALID, INVALID, "unterminated quoted string"),
    "rfc4475/ltgtruri": ("3.1.2.7", INVALID, INVALID, "<> around the Request-URI"),
    "rfc4475/lwsruri": ("3.1.2.8", INVALID, INVALID, "LWS inside the Request-URI"),
    "rfc4475/lwsstart": ("3.1.2.9", INVALID, INVALID, "several SP in the request line"),
    "rfc4475/trws": ("3.1.2.10", INVALID, INVALID, "SP after SIP/2.0"),
    "rfc4475/escruri": ("3.1.2.11", INVALID, INVALID, "headers in the Request-URI"),
    "rfc4475/baddate": ("3.1.2.12", INVALID, INVALID, "Date not in GMT"),
    "rfc4475/regbadct": ("3.1.2.13", INVALID, INVALID, "Contact URI with '?' outside <>"),
    "rfc4475/badaspec": ("3.1.2.14", INVALID, INVALID, "SP inside <> of To"),
    "rfc4475/baddn": ("3.1.2.15", INVALID, INVALID, "unquoted display name with ','"),
    "rfc4475/badvers": ("3.1.2.16", INVALID, INVALID, "SIP/7.0"),
    "rfc4475/mismatch01": ("3.1.2.17", INVALID, INVALID, "CSeq method differs"),
    "rfc4475/mismatch02": ("3.1.2.18", INVALID, INVALID, "CSeq method differs"),
    "rfc4475/bigcode": ("3.1.2.19", INVALID, INVALID, "status code 4294967301"),
    # RFC 4475 §3.2 and §3.3: well-formed, for the transaction and application layers
    "rfc4475/badbranch": ("3.2.1", VALID, VALID, _parses),
    "rfc4475/insuf": ("3.3.1", INVALID, INVALID, "no Call-ID, From or To: §8.1.1 needs them"),
    "rfc4475/unkscm": (
        "3.3.2",
        VALID,
        INVALID,
        "only sip:/sips: Request-URIs are parsed (a UAS answers 416)",
    ),
    "rfc4475/novelsc": ("3.3.3", VALID, INVALID, "only sip:/sips: Request-URIs are parsed"),
    "rfc4475/unksm2": ("3.3.4", VALID, INVALID, "only sip:/sips: URIs in To and From"),
    "rfc4475/bext01": ("3.3.5", VALID, VALID, _parses),
    "rfc4475/invut": ("3.3.6", VALID, VALID, _parses),
    "rfc4475/regaut01": ("3.3.7", VALID, VALID, _parses),
    "rfc4475/multi01": ("3.3.8", INVALID, INVALID, "two CSeq, From, To and Call-ID values"),
    "rfc4475/mcl01": ("3.3.9", INVALID, INVALID, "Content-Length values disagree"),
    "rfc4475/bcast": ("3.3.10", VALID, VALID, _parses),
    "rfc4475/zeromf": ("3.3.11", VALID, VALID, _parses),
    "rfc4475/cparam01": ("3.3.12", VALID, VALID, _parses),
    "rfc4475/cparam02": ("3.3.13", VALID, VALID, _parses),
    "rfc4475/regescrt": ("3.3.14", VALID, VALID, _parses),
    "rfc4475/sdp01": ("3.3.15", VALID, VALID, _parses),
    # RFC 4475 §3.4: RFC 2543 backward compatibility
    "rfc4475/inv2543": ("3.4.1", VALID, VALID, _parses),
    # RFC 5118 §4
    "rfc5118/ipv6-good": ("4.1", VALID, VALID, _uri_host("2001:db8::10")),
    "rfc5118/ipv6-bad": ("4.2", INVALID, INVALID, "IPv6 address without brackets"),
    "rfc5118/port-ambiguous": ("4.3", VALID, VALID, _uri_host("2001:db8::10:5070")),
    "rfc5118/port-unambiguous": ("4.4", VALID, VALID, _uri_host("2001:db8::10", 5070)),
    "rfc5118/via-received-param-with-delim": (
        "4.5",
        VALID,
        VALID,
        _received("[2001:db8::9:255]"),
    ),
    "rfc5118/via-received-param-no-delim": ("4.5", VALID, VALID, _received("2001:db8::9:255")),
    "rfc5118/ipv6-in-sdp": ("4.6", VALID, VALID, _uri_host("2001:db8::10")),
    "rfc5118/mult-ip-in-header": ("4.7", VALID, VALID, _mult_ip_in_header),
    "rfc5118/mult-ip-in-sdp": ("4.8", VALID, VALID, _uri_host("2001:db8::10")),
    "rfc5118/ipv4-mapped-ipv6": ("4.9", VALID, VALID, _ipv4_mapped),
    "rfc5118/ipv6-correct-abnf-2-colons": ("4.10", VALID, VALID, _uri_host("2001:db8::192.0.2.1")),
    "rfc5118/ipv6-bug-abnf-3-colons": ("4.10", INVALID, INVALID, "three colons in an IPv6 address"),
}


def test_every_torture_file_is_in_the_table() -> None:
    files = {f"{p.parent.name}/{p.stem}" for p in TORTURE.glob("rfc*/*.txt")}
    assert files == set(CASES)
    assert len([name for name in CASES if name.startswith("rfc4475/")]) == 49


@pytest.mark.parametrize("name", sorted(CASES))
def test_torture_message_gets_its_verdict(name: str) -> None:
    _section, _rfc_verdict, verdict, check = CASES[name]
    data = load(name)
    if verdict == VALID:
        assert callable(check)
        check(parse_message(data))
        return
    try:
        parse_message(data)
    except SipParseError:
        return  # the remote protocol error, and nothing else
    pytest.fail(f"{name} parsed, but must be refused: {check}")


@pytest.mark.parametrize("name", sorted(n for n, case in CASES.items() if case[2] == VALID))
def test_a_valid_torture_message_also_frames_on_a_stream(name: str) -> None:
    """Over TCP/TLS the same bytes frame to the same message (§18.3)."""
    from probe.sip import StreamFramer

    data = load(name)
    framer = StreamFramer()
    if name == "rfc4475/inv2543":
        # No Content-Length, as RFC 2543 allowed: a stream cannot be framed without it.
        framer.feed(data)
        with pytest.raises(SipParseError, match="Content-Length"):
            framer.next_message()
        return
    if name == "rfc4475/dblreq":
        framer.feed(data)
        first, second = framer.next_message(), framer.next_message()
        assert first == parse_message(data)
        assert isinstance(second, Request)
        assert second.method == "INVITE"
        return
    framer.feed(data)
    assert framer.next_message() == parse_message(data)
    assert framer.next_message() is None


@pytest.mark.parametrize(
    ("to", "accepted"),
    [
        (b'"BEL:\\\x07" <sip:a@example.com>', True),  # quoted-pair of BEL: allowed
        (b'"BEL:\x07" <sip:a@example.com>', False),  # bare in the quoted-string
        (b'"CR:\\\r" <sip:a@example.com>', False),  # §25.1 quoted-pair excludes CR
        (b"a\\\x00 <sip:a@example.com>", False),  # a backslash outside quotes escapes nothing
    ],
)
def test_control_bytes_pass_only_through_a_quoted_pair(to: bytes, accepted: bool) -> None:
    data = load("rfc4475/lwsdisp").replace(b"To: sip:user@example.com", b"To: " + to)
    if accepted:
        assert request(parse_message(data)).to.display_name == "BEL:\x07"
    else:
        with pytest.raises(SipParseError):
            parse_message(data)
