"""Readers for the structured SDP lines (RFC 8866 §5.2, §5.7-§5.11, §5.14).

Each takes the value after ``<type>=`` and the line number, and returns the parsed
value or raises :class:`SdpError` naming the line.
"""

from __future__ import annotations

import ipaddress
import re
from typing import NamedTuple

from ._grammar import FQDN_RE, NON_WS_RE, PROTO_RE, TOKEN_RE, digits, excerpt
from .errors import SdpError
from .model import PORT_MAX, Origin, Timing

# Numbers in SDP are "arbitrary length" decimals (§5.9); these bound them well above
# anything real (an NTP timestamp has 10 digits, a 64-bit session id 20).
MAX_TIME_DIGITS = 20
MAX_ID_DIGITS = 64
_TYPED_TIME_RE = re.compile(r"[0-9]{1,20}[dhms]?")  # §9 typed-time
_OFFSET_RE = re.compile(r"-?[0-9]{1,20}[dhms]?")
_BANDWIDTH_RE = re.compile(r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+:[0-9]{1,20}")  # §5.8
_DOTTED_RE = re.compile(r"[0-9.]+")


class MediaLine(NamedTuple):
    """The fields of an m= line."""

    media: str
    port: int
    port_count: int | None
    proto: str
    formats: tuple[str, ...]


def _ipv4(host: str, line: int) -> None:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        raise SdpError(f"{excerpt(host)} is not an IPv4 address", line=line) from None


def read_connection(value: str, line: int) -> str:
    """c=<nettype> <addrtype> <connection-address> (§5.7), for IN IP4 and IN IP6."""
    parts = value.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SdpError("c= needs <nettype> <addrtype> <connection-address> (§5.7)", line=line)
    nettype, addrtype, address = parts
    if nettype != "IN" or addrtype not in ("IP4", "IP6"):
        raise SdpError(
            f"c= {nettype} {addrtype} is not IN IP4 or IN IP6 (RFC 8866 §5.7)", line=line
        )
    host, *suffix = address.split("/")
    if addrtype == "IP4" and _DOTTED_RE.fullmatch(host):
        _ipv4(host, line)
        multicast = ipaddress.IPv4Address(host).is_multicast
        # §5.7: IP4 multicast needs /ttl (0-255) and may add /<number of addresses>.
        if multicast and not 1 <= len(suffix) <= 2:
            raise SdpError("an IP4 multicast c= needs a /TTL (RFC 8866 §5.7)", line=line)
        if suffix and digits(suffix[0], "TTL", max_digits=3, line=line) > 255:
            raise SdpError("c= TTL must be 0-255 (RFC 8866 §5.7)", line=line)
    elif addrtype == "IP6" and ":" in host:
        try:
            multicast = ipaddress.IPv6Address(host).is_multicast
        except ValueError:
            raise SdpError(f"{excerpt(host)} is not an IPv6 address", line=line) from None
        # §5.7: no TTL for IP6 multicast, only an optional /<number of addresses>.
        if len(suffix) > 1:
            raise SdpError("an IP6 c= takes no TTL (RFC 8866 §5.7)", line=line)
    elif FQDN_RE.fullmatch(host):
        multicast = False
    else:
        raise SdpError(
            f"c= address {excerpt(host)} is not an {addrtype} address or a domain name",
            line=line,
        )
    if suffix and not multicast:
        raise SdpError("the /<n> notation is for multicast only (RFC 8866 §5.7)", line=line)
    for part in suffix:
        digits(part, "c= address count", max_digits=5, line=line)
    return address


def read_origin(value: str, line: int) -> Origin:
    parts = value.split(" ")
    if len(parts) != 6 or not all(parts):
        raise SdpError(
            "o= needs <username> <sess-id> <sess-version> <nettype> <addrtype> <address>"
            " separated by single spaces (RFC 8866 §5.2)",
            line=line,
        )
    username, sess_id, sess_version, nettype, addrtype, address = parts
    if not NON_WS_RE.fullmatch(username) or not NON_WS_RE.fullmatch(address):
        raise SdpError("o= username and address must be visible characters (§5.2)", line=line)
    if not TOKEN_RE.fullmatch(nettype) or not TOKEN_RE.fullmatch(addrtype):
        raise SdpError("o= nettype and addrtype must be tokens (RFC 8866 §9)", line=line)
    return Origin(
        username=username,
        session_id=digits(sess_id, "o= sess-id", max_digits=MAX_ID_DIGITS, line=line),
        session_version=digits(
            sess_version, "o= sess-version", max_digits=MAX_ID_DIGITS, line=line
        ),
        nettype=nettype,
        addrtype=addrtype,
        address=address,
    )


def read_media_line(value: str, line: int) -> MediaLine:
    """m=<media> <port>[/<number of ports>] <proto> <fmt> ... (§5.14)."""
    parts = value.split(" ")
    if len(parts) < 4 or not all(parts):
        raise SdpError(
            "m= needs <media> <port> <proto> <fmt> ... separated by single spaces (§5.14)",
            line=line,
        )
    media, port_text, proto, *formats = parts
    if not TOKEN_RE.fullmatch(media):
        raise SdpError(f"m= media {excerpt(media)} is not a token", line=line)
    port_part, slash, count_part = port_text.partition("/")
    port = digits(port_part, "m= port", max_digits=5, line=line)
    if port > PORT_MAX:
        raise SdpError(f"m= port {port} is not in 0..{PORT_MAX}", line=line)
    count = digits(count_part, "m= number of ports", max_digits=5, line=line) if slash else None
    if count == 0:
        raise SdpError("m= number of ports must be at least 1 (RFC 8866 §5.14)", line=line)
    if not PROTO_RE.fullmatch(proto):
        raise SdpError(f"m= proto {excerpt(proto)} is not token *(/ token)", line=line)
    rtp = "RTP" in proto.upper().split("/")
    for fmt in formats:
        if not TOKEN_RE.fullmatch(fmt):
            raise SdpError(f"m= format {excerpt(fmt)} is not a token", line=line)
        # RFC 3550 §5.1: an RTP payload type is 7 bits.
        if rtp and (not fmt.isdigit() or len(fmt) > 3 or int(fmt) > 127):
            raise SdpError(
                f"m= format {excerpt(fmt)} is not an RTP payload type 0-127 (RFC 8866 §5.14)",
                line=line,
            )
    return MediaLine(media, port, count, proto, tuple(formats))


def check_repeat(value: str, line: int) -> None:
    parts = value.split(" ")
    if len(parts) < 3 or not all(_TYPED_TIME_RE.fullmatch(p) for p in parts):
        raise SdpError(
            "r= needs <interval> <duration> <offsets> as typed times (RFC 8866 §5.10)", line=line
        )


def check_zone(value: str, line: int) -> None:
    parts = value.split(" ")
    pairs_ok = len(parts) >= 2 and len(parts) % 2 == 0
    if not pairs_ok or not all(
        (p.isascii() and p.isdigit() and len(p) <= 20) if i % 2 == 0 else _OFFSET_RE.fullmatch(p)
        for i, p in enumerate(parts)
    ):
        raise SdpError("z= needs <adjustment time> <offset> pairs (RFC 8866 §5.11)", line=line)


def read_timing(value: str, line: int) -> Timing:
    parts = value.split(" ")
    if len(parts) != 2:
        raise SdpError("t= needs <start-time> <stop-time> (RFC 8866 §5.9)", line=line)
    start, stop = (digits(p, "t= time", max_digits=MAX_TIME_DIGITS, line=line) for p in parts)
    return Timing(start=start, stop=stop)


def read_bandwidth(value: str, line: int) -> str:
    if not _BANDWIDTH_RE.fullmatch(value):
        raise SdpError("b= needs <bwtype>:<bandwidth> (RFC 8866 §5.8)", line=line)
    return value
