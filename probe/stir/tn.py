"""Telephone numbers as STIR compares them (RFC 8224 §8.3), read from SIP header fields.

A PASSporT's `orig` and `dest` carry canonical numbers: digits only, without the leading
'+' and without the visual separators of RFC 3966 §5.1.1 ('-', '.', '(', ')'). The
request's From, To and P-Asserted-Identity name the same parties as URIs; a URI names
a telephone number when it is a `tel:` URI, a SIP URI with `user=phone`, or a SIP URI
whose user part is written as a number (RFC 8224 §8.3 leaves that last reading to
policy; trunks send `sip:+15550100@host` without `user=phone` every day).

Only the stdlib: these readers run on headers as received and never raise.
"""

from __future__ import annotations

import calendar
import re
import time
from urllib.parse import unquote

MAX_TN_DIGITS = 15
"""E.164 §6.1: at most 15 digits; a longer "number" is not one."""
MAX_ADDRESS_CHARS = 1024

_VISUAL_SEPARATORS = str.maketrans("", "", "-.() \t")
_NUMBER_LIKE = re.compile(r"\+?[0-9][0-9().\- ]*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_USER_PHONE = re.compile(r";\s*user\s*=\s*phone(?:[;?\s]|$)", re.IGNORECASE)


def canonical_tn(text: str) -> str | None:
    """RFC 8224 §8.3: the digits of a telephone number, or None when `text` is not one."""
    if len(text) > MAX_ADDRESS_CHARS:
        return None
    digits = text.strip().removeprefix("+").translate(_VISUAL_SEPARATORS)
    if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_TN_DIGITS:
        return None
    return digits


def address_uri(value: str) -> str | None:
    """The URI of a From/To/P-Asserted-Identity value (name-addr or addr-spec, RFC 3261
    §20.10), or None when there is none to be found."""
    text = value.strip(" \t")
    if not text or len(text) > MAX_ADDRESS_CHARS:
        return None
    start = 0
    if text.startswith('"'):
        quoted = _QUOTED.match(text)
        if quoted is None:
            return None
        start = quoted.end()
    opening = text.find("<", start)
    if opening != -1:
        closing = text.find(">", opening)
        return text[opening + 1 : closing].strip() or None if closing != -1 else None
    if start:
        return None  # a quoted display name must be followed by <uri>
    end = next((i for i, ch in enumerate(text) if ch in "; \t"), len(text))
    return text[:end] or None


def uri_tn(uri: str) -> str | None:
    """The canonical telephone number a URI names, or None when it names none."""
    scheme, colon, rest = uri.partition(":")
    if not colon:
        return None
    scheme = scheme.lower()
    if scheme == "tel":
        # RFC 3966 §3: telephone-subscriber, then ;parameters.
        return canonical_tn(unquote(rest.split(";", 1)[0]))
    if scheme not in ("sip", "sips"):
        return None
    user, at, host_part = rest.partition("@")
    if not at:
        return None
    # RFC 3261 §19.1.1 / RFC 3966: a telephone-subscriber user part may carry its own
    # ;parameters (phone-context, isub) before the '@'.
    number = unquote(user.split(":", 1)[0].split(";", 1)[0])
    if _USER_PHONE.search(host_part) is not None or _NUMBER_LIKE.fullmatch(number):
        return canonical_tn(number)
    return None


def address_tn(value: str) -> tuple[str | None, str | None]:
    """(canonical number, URI) of a From/To/P-Asserted-Identity value."""
    uri = address_uri(value)
    return (None, None) if uri is None else (uri_tn(uri), uri)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# RFC 3261 §20.17 / §25.1: rfc1123-date = wkday "," SP date1 SP time SP "GMT", with
# date1 = 2DIGIT SP month SP 4DIGIT. Read by hand: email.utils would load `socket`.
_RFC1123 = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{1,2}) ([A-Z][a-z]{2}) ([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT"
)


def date_epoch(value: str) -> int | None:
    """A Date header field (RFC 3261 §20.17, an RFC 1123 date in GMT) in seconds since the
    epoch, or None when it cannot be read."""
    match = _RFC1123.fullmatch(value.strip(" \t"))
    if match is None or match[2] not in _MONTHS:
        return None
    day, year, hour, minute, second = (int(match[i]) for i in (1, 3, 4, 5, 6))
    month = _MONTHS.index(match[2]) + 1
    if year < 1970 or not (
        1 <= day <= calendar.monthrange(year, month)[1] and hour < 24 and minute < 60
    ):
        return None
    if second > 60:  # 60: a leap second
        return None
    return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))


def http_date(epoch: float) -> str:
    """RFC 3261 §20.17: `Thu, 21 Feb 2002 13:02:03 GMT`."""
    when = time.gmtime(epoch)
    return (
        f"{_WEEKDAYS[when.tm_wday]}, {when.tm_mday:02d} {_MONTHS[when.tm_mon - 1]} "
        f"{when.tm_year:04d} {when.tm_hour:02d}:{when.tm_min:02d}:{when.tm_sec:02d} GMT"
    )
