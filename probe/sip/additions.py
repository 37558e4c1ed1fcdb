"""What a user adds to our OPTIONS (`--header`, `--from`, `--contact`, `--user-agent`),
checked before anything is sent: an addition may change what the request says, never
break how it is framed, matched or routed back.

Header fields that make the transaction (Via, From, To, Call-ID, CSeq, Max-Forwards,
§8.1.1) or frame the message (Content-Length, Content-Type: §18.3, §7.4) are the
builder's; Contact and User-Agent have options of their own; credentials never come
from the command line. Pure: stdlib only.
"""

from __future__ import annotations

import re

from . import _abnf
from .errors import SipBuildError, SipParseError
from .headers import canonical_name
from .uri import SipUri, parse_uri

__all__ = ["check_text_value", "parse_added_header", "parse_added_uri"]

_REFUSED: dict[str, str] = {
    "Via": "the probe's own Via is how the answer finds its way back (RFC 3261 §8.1.1.7)",
    "From": "use --from",
    "To": "the To is the target URI (RFC 3261 §8.1.1.2)",
    "Call-ID": "the probe's Call-ID matches the answers (RFC 3261 §8.1.1.4)",
    "CSeq": "the probe's CSeq matches the answers (RFC 3261 §8.1.1.5)",
    "Max-Forwards": "the probe sends 70 (RFC 3261 §8.1.1.6)",
    "Contact": "use --contact",
    "Content-Length": "the probe's Content-Length frames the message (RFC 3261 §18.3)",
    "Content-Type": "OPTIONS is sent without a body",
    "Content-Encoding": "OPTIONS is sent without a body",
    "User-Agent": "use --user-agent",
    "Authorization": "credentials never come from the command line",
    "Proxy-Authorization": "credentials never come from the command line",
}
"""Header fields `--header` may not add, and why (compact forms included: `v` is Via)."""

# RFC 3261 §25.1: a header value is TEXT-UTF8 and LWS; a CR or LF would end the field (or
# the head) and let the value smuggle in fields of its own. Horizontal tab is white space.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def check_text_value(what: str, value: str) -> None:
    """Refuse a value a header field cannot carry as it is (a control character)."""
    found = _CONTROL.search(value)
    if found is not None:
        raise SipBuildError(
            f"{what}: {value!r} holds the control character {found.group()!r}, which would "
            "break the header field (RFC 3261 §25.1)"
        )


def parse_added_header(text: str) -> tuple[str, str]:
    """`Name: value` → (name, value), or a SipBuildError that says what is wrong."""
    name, colon, value = text.partition(":")
    if not colon:
        raise SipBuildError(f"--header {text!r}: expected 'Name: value'")
    name, value = name.strip(" \t"), value.strip(" \t")
    if _abnf.TOKEN_RE.fullmatch(name) is None:
        raise SipBuildError(
            f"--header {text!r}: {name!r} is not a header name (a token, RFC 3261 §25.1)"
        )
    canonical = canonical_name(name)
    why = _REFUSED.get(canonical)
    if why is not None:
        raise SipBuildError(f"--header {text!r}: {canonical} cannot be added: {why}")
    check_text_value(f"--header {name}", value)
    return name, value


def parse_added_uri(option: str, text: str) -> SipUri:
    """A `sip:` or `sips:` URI for From or Contact; never one with a password (RFC 3261
    §19.1.1), which is refused without being quoted."""
    try:
        uri = parse_uri(text)
    except SipParseError as exc:
        raise SipBuildError(f"{option}: not a SIP URI: {exc}") from None
    if uri.password is not None:
        raise SipBuildError(
            f"{option}: a password in a URI is refused (RFC 3261 §19.1.1 deprecates it)"
        )
    return uri
