"""Sample SDP descriptions shared by the SDP and SRTP tests.

Keys are fixed strings so a test can check that they never leak; they protect nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

# 30 bytes of key||salt (AES_CM_128_*), 46 (AES_256_CM_*), 28 (AEAD_AES_128_GCM).
KEY30 = "HMv/M+VWJ6UL7KjPXIn3fDFl3LMhgXEwhCPyUPC7"
KEY30_B = "krXco0QRglwErMqtbMs2zSw29tBdmdgXpEYZhQmp"
KEY46 = "nDIRUJqe7oD4gfa2Zmq4Lfa+wiLIS6WDxbtjagoNgR2FBSTprbphlQ4J/NBv+g=="
KEY28 = "7b1IyDb4JrXtjWK0Ac0ZZ07xuGJ7nGikY5gZqA=="
KEY29 = "pkwOmZaWg+ciQTeycmNT/9Yw/BXM7aHHUWna72U="
SHA256_FP = (
    "06:29:84:32:E8:06:6B:29:E2:22:3B:CC:23:AA:95:04:"
    "B5:6A:E5:08:FA:BF:34:35:50:88:69:B9:C3:19:0E:22"
)


def crlf(text: str) -> bytes:
    """Dedented lines joined with CRLF, as on the wire."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def counting_bytes() -> Callable[[int], bytes]:
    """A deterministic stand-in for secrets.token_bytes: each call returns new bytes."""
    calls = itertools.count(1)

    def random_bytes(n: int) -> bytes:
        start = next(calls) * 37
        return bytes((start + i) % 256 for i in range(n))

    return random_bytes


# Twilio Elastic SIP Trunking, Secure Trunking on: one suite, no MKI, lifetime 2^31.
TWILIO_ANSWER = crlf(f"""
    v=0
    o=root 1460184476 1460184476 IN IP4 54.172.60.1
    s=Twilio Media Gateway
    c=IN IP4 54.172.60.1
    t=0 0
    m=audio 15366 RTP/SAVP 0 101
    a=rtpmap:0 PCMU/8000
    a=rtpmap:101 telephone-event/8000
    a=fmtp:101 0-16
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30}|2^31
    a=ptime:20
    a=sendrecv
""")

# Teams Direct Routing style offer: SAVP, tag 0 and 1, lifetimes, rtcp-mux.
TEAMS_OFFER = crlf(f"""
    v=0
    o=- 2904 0 IN IP4 52.114.0.10
    s=session
    c=IN IP4 52.114.0.10
    b=CT:10000000
    t=0 0
    m=audio 52884 RTP/SAVP 111 103 104 9 0 8 106 13 110 112 113 126
    a=rtcp:52884
    a=crypto:0 AES_CM_128_HMAC_SHA1_32 inline:{KEY30}|2^31
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY30_B}|2^31
    a=rtcp-mux
    a=rtpmap:111 SILK/16000
    a=rtpmap:0 PCMU/8000
    a=ptime:20
""")

# Audio plus video, each with its own c=, no session c=.
TWO_MEDIA = crlf(f"""
    v=0
    o=alice 2890844526 2890844527 IN IP4 198.51.100.1
    s=-
    i=A call
    u=http://example.com/
    e=alice@example.com (Alice)
    p=+1 617 555-6011
    b=AS:128
    t=0 0
    a=group:BUNDLE 0
    m=audio 49170 RTP/SAVPF 0 8
    c=IN IP4 198.51.100.1
    b=AS:64
    a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY46}
    a=recvonly
    m=video 0 RTP/AVP 31
    c=IN IP4 198.51.100.2
""")

IPV6_DTLS = crlf(f"""
    v=0
    o=- 1 1 IN IP6 2001:db8::1
    s=-
    c=IN IP6 2001:db8::1
    t=0 0
    a=fingerprint:sha-256 {SHA256_FP}
    m=audio 50000 UDP/TLS/RTP/SAVPF 0
    a=setup:passive
""")

# With repeat and zone lines, several time descriptions and an obsolete k= (discarded).
TIMES = crlf("""
    v=0
    o=- 1 1 IN IP4 192.0.2.1
    s=Seminar
    c=IN IP4 233.252.0.1/127/3
    t=3724394400 3754123200
    r=604800 3600 0 90000
    z=3730928400 -1h 3749680800 0
    t=3724484400 3724488000
    r=7d 1h 0 25h
    k=prompt
    a=tool:test
    m=audio 49170/2 RTP/AVP 0
""")

VALID = {
    "twilio": TWILIO_ANSWER,
    "teams": TEAMS_OFFER,
    "two_media": TWO_MEDIA,
    "ipv6_dtls": IPV6_DTLS,
    "times": TIMES,
    "lf_endings": TWILIO_ANSWER.replace(b"\r\n", b"\n"),
    "no_final_newline": TWILIO_ANSWER.rstrip(b"\r\n"),
    "trailing_blank_line": TWILIO_ANSWER + b"\r\n",
}

# A session head to which tests append lines.
HEAD = ["v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0"]


def sdp(*lines: str, head: list[str] | None = None) -> bytes:
    return "".join(f"{line}\r\n" for line in [*(HEAD if head is None else head), *lines]).encode()
