"""Hypothesis strategies for the SIP codec, reusable by a later ``make fuzz``.

The example count comes from ``SIPPROBE_FUZZ_EXAMPLES`` (default 300) so the normal
suite stays fast and a fuzzing run can simply raise it.
"""

from __future__ import annotations

import itertools
import os
import string

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from probe.sip import (
    Request,
    Response,
    SipUri,
    build_options,
    new_branch,
)
from probe.sip.uri import parse_host

from .samples import REQUEST_LINES, RESPONSE_LINES, response_to, wire

DEFAULT_FUZZ_EXAMPLES = 300


def fuzz_examples() -> int:
    """Examples per property test: $SIPPROBE_FUZZ_EXAMPLES, default 300."""
    return int(os.environ.get("SIPPROBE_FUZZ_EXAMPLES", DEFAULT_FUZZ_EXAMPLES))


def fuzz_settings() -> settings:
    return settings(
        max_examples=fuzz_examples(),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


TOKEN_CHARS = string.ascii_letters + string.digits + "-.!%*_+`'~"

tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
# Tokens that random_token() could produce, for tags and branches.
url_tokens = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=16)

_LDH = string.ascii_lowercase + string.digits + "-"


def _labels(first: str) -> st.SearchStrategy[str]:
    """§25.1 domainlabel / toplabel: ``first`` char, then letters/digits/'-', no '-' last."""
    alnum = string.ascii_lowercase + string.digits
    tail = st.builds(str.__add__, st.text(alphabet=_LDH, max_size=6), st.sampled_from(alnum))
    return st.builds(str.__add__, st.sampled_from(first), st.just("") | tail)


hostnames = st.builds(
    lambda labels, top: ".".join([*labels, top]),
    st.lists(_labels(string.ascii_lowercase + string.digits), max_size=3),
    _labels(string.ascii_lowercase),
)
ipv4s = st.ip_addresses(v=4).map(str)
ipv6s = st.ip_addresses(v=6).map(lambda a: str(a).lower())
# Hosts as a socket API would hand them over: IPv6 without brackets.
hosts = st.one_of(hostnames, ipv4s, ipv6s)
ports = st.integers(min_value=1, max_value=65535)
transports = st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS", "WSS"])

_USER_CHARS = string.ascii_letters + string.digits + "-_.!~*'()&=+$,;?/ %@:é"


# pname / pvalue characters (§25.1 paramchar without escapes).
_PARAM_CHARS = string.ascii_letters + string.digits + "-_.!~*'()[]/:&+$"
_param_names = st.text(alphabet=_PARAM_CHARS, min_size=1, max_size=8).map(str.lower)
_param_values = st.text(alphabet=_PARAM_CHARS, min_size=1, max_size=8)


@st.composite
def sip_uris(draw: st.DrawFn) -> SipUri:
    """Valid SipUri values, built field by field (their str() must parse back)."""
    text = draw(hosts)
    host, kind = parse_host(f"[{text}]" if ":" in text else text)
    user = draw(st.none() | st.text(alphabet=_USER_CHARS, min_size=1, max_size=10))
    password = draw(st.none() | st.text(alphabet=_USER_CHARS, max_size=6)) if user else None
    params = draw(st.lists(st.tuples(_param_names, st.none() | _param_values), max_size=3))
    return SipUri(
        draw(st.sampled_from(["sip", "sips"])),
        user,
        password,
        host,
        kind,
        draw(st.none() | st.integers(0, 65535)),
        tuple(params),
    )


@st.composite
def options_requests(draw: st.DrawFn) -> Request:
    """OPTIONS requests as build_options makes them, from generated inputs."""
    return build_options(
        draw(sip_uris()),
        transport=draw(transports),
        local_host=draw(hosts),
        local_port=draw(ports),
        branch=new_branch(draw(url_tokens)),
        from_tag=draw(url_tokens),
        call_id=draw(url_tokens) + "@" + draw(hostnames),
        cseq=draw(st.integers(0, 2**31 - 1)),
        user_agent=draw(
            st.text(alphabet=string.printable.strip() + " é", min_size=1, max_size=20)
            .map(str.strip)
            .filter(bool)
        ),
    )


@st.composite
def responses(draw: st.DrawFn) -> Response:
    request = draw(options_requests())
    body = draw(st.binary(max_size=40))
    return response_to(
        request,
        draw(st.integers(100, 699)),
        draw(st.sampled_from(["OK", "", "Trying", "Très bien"])),
        body,
    )


messages = st.one_of(options_requests(), responses())

keepalive = st.sampled_from([b"", b"\r\n", b"\r\n\r\n"])


@st.composite
def message_streams(draw: st.DrawFn) -> tuple[list[bytes], bytes]:
    """Several messages with keep-alives between them: (each message's bytes, stream)."""
    parts = [draw(messages).to_bytes() for _ in range(draw(st.integers(1, 3)))]
    stream = b""
    for part in parts:
        stream += draw(keepalive) + part
    return parts, stream + draw(keepalive)


@st.composite
def chunkings(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut at arbitrary points."""
    cuts = sorted(draw(st.sets(st.integers(0, len(data)), max_size=12)))
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges)]


# --- junk for the "only SipError escapes" properties ---------------------------------

_SIP_FRAGMENTS = [
    "sip:",
    "sips:",
    "tel:",
    "@",
    ":",
    ";",
    "=",
    "?",
    "&",
    "[",
    "]",
    "<",
    ">",
    '"',
    "\\",
    " ",
    "\t",
    ",",
    "/",
    "%",
    "%4",
    "%41",
    "%ff",
    "::1",
    "1.2.3.4",
    "256.1.1.1",
    "a",
    "Z9",
    "example.com",
    "-",
    ".",
    "tag",
    "lr",
    "transport=tls",
    "branch=z9hG4bK",
    "rport",
    "received",
    "SIP/2.0/UDP",
    "SIP",
    "2.0",
    "99999999999",
    "0",
    "\x00",
    "\r",
    "\n",
    "é",
    "\ud800",
    "\x7f",
]
sip_ish_text = st.lists(st.sampled_from(_SIP_FRAGMENTS), max_size=20).map("".join)
junk_text = st.one_of(st.text(max_size=60), sip_ish_text)

_valid_samples = [wire(RESPONSE_LINES), wire(REQUEST_LINES)]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A valid message with a few bytes inserted, deleted or overwritten."""
    data = bytearray(draw(st.sampled_from(_valid_samples) | messages.map(lambda m: m.to_bytes())))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        junk = draw(
            st.binary(min_size=1, max_size=4)
            | st.sampled_from([b"\r\n", b"\n", b":", b" ", b",", b"\x00", b"\xff"])
        )
        if op == "insert":
            data[pos:pos] = junk
        elif op == "delete":
            del data[pos : pos + len(junk)]
        else:
            data[pos : pos + len(junk)] = junk
    return bytes(data)


junk_bytes = st.one_of(st.binary(max_size=200), mutated_messages())


# --- authentication challenges (WWW-Authenticate / Proxy-Authenticate) ----------------

_CHALLENGE_FRAGMENTS = [
    "Digest ",
    "digest",
    "Basic ",
    " ",
    "\t",
    ",",
    "=",
    '"',
    "\\",
    '\\"',
    "\\\x00",
    "\\\x7f",
    "realm",
    "nonce",
    "opaque",
    "qop",
    "stale",
    "algorithm",
    "domain",
    "userhash",
    '"auth"',
    '"auth,auth-int"',
    '"auth-conf"',
    "auth",
    "MD5",
    "md5-SESS",
    "SHA-256",
    "SHA-512-256",
    "TRUE",
    "maybe",
    '"x"',
    '""',
    "abc",
    "é",
    "\x00",
    "\r\n",
]
challenge_text = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(_CHALLENGE_FRAGMENTS), max_size=24).map("".join),
)
