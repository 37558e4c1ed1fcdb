"""Sans-I/O SIP codec: URIs, headers, messages, stream framing, builders, transactions.

Strict parsing of RFC 3261 (grammar in §25), with every size bound a named
:class:`Limits` field and one error hierarchy rooted at :class:`SipError`.  Nothing in
this package opens a socket, reads a clock or draws randomness on import.
"""

from .builders import (
    ResponseMatch,
    build_options,
    build_response,
    match_response,
    new_branch,
    random_token,
)
from .errors import SipBuildError, SipError, SipLimitError, SipParseError
from .framing import StreamFramer
from .headers import (
    CSeq,
    Headers,
    Via,
    canonical_name,
    parse_content_length,
    parse_cseq,
    parse_via,
)
from .limits import DEFAULT_LIMITS, Limits
from .message import Message, Request, Response, parse_message
from .transaction import (
    Deliver,
    NonInviteClientTransaction,
    Retransmit,
    TimedOut,
    TimerConfig,
    TransactionAction,
    TransactionState,
)
from .uri import NameAddr, SipUri, parse_name_addr, parse_uri

__all__ = [
    "DEFAULT_LIMITS",
    "CSeq",
    "Deliver",
    "Headers",
    "Limits",
    "Message",
    "NameAddr",
    "NonInviteClientTransaction",
    "Request",
    "Response",
    "ResponseMatch",
    "Retransmit",
    "SipBuildError",
    "SipError",
    "SipLimitError",
    "SipParseError",
    "SipUri",
    "StreamFramer",
    "TimedOut",
    "TimerConfig",
    "TransactionAction",
    "TransactionState",
    "Via",
    "build_options",
    "build_response",
    "canonical_name",
    "match_response",
    "new_branch",
    "parse_content_length",
    "parse_cseq",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
    "random_token",
]
