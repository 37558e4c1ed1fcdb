"""Sans-I/O SIP codec: URIs, headers, messages, stream framing, builders, transactions,
the UAC dialog, digest authentication and the state machine of an outgoing call.

Strict parsing of RFC 3261 (grammar in §25), with every size bound a named
:class:`Limits` field and one error hierarchy rooted at :class:`SipError`.  Nothing in
this package opens a socket, reads a clock or draws randomness on import.
"""

import importlib
from typing import TYPE_CHECKING

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
from .timers import TimerConfig
from .uri import NameAddr, SipUri, parse_name_addr, parse_uri

if TYPE_CHECKING:
    from .dialog import Dialog, creates_dialog
    from .digest import (
        DigestChallenge,
        DigestCredentials,
        UnsupportedChallenge,
        authorize,
        build_authorization,
        challenge_algorithm,
        choose_challenge,
        parse_challenge,
    )
    from .invite import build_ack_non2xx, build_cancel, build_invite
    from .outgoing_call import CallPlan, CallState, LocalEnd, OutgoingCall
    from .transaction import (
        TIMER_D_UNRELIABLE,
        Deliver,
        InviteClientTransaction,
        InviteTransactionAction,
        InviteTransactionState,
        NonInviteClientTransaction,
        Retransmit,
        SendAck,
        TimedOut,
        TransactionAction,
        TransactionState,
    )

# What only test calls and UDP exchanges use (dialogs, digest, INVITE, the call, transactions),
# imported on first use (PEP 562) so that an OPTIONS run over TLS does not pay for it at
# every start.
_ON_FIRST_USE = {
    "Dialog": "dialog",
    "creates_dialog": "dialog",
    "DigestChallenge": "digest",
    "DigestCredentials": "digest",
    "UnsupportedChallenge": "digest",
    "authorize": "digest",
    "build_authorization": "digest",
    "challenge_algorithm": "digest",
    "choose_challenge": "digest",
    "parse_challenge": "digest",
    "build_ack_non2xx": "invite",
    "build_cancel": "invite",
    "build_invite": "invite",
    "CallPlan": "outgoing_call",
    "CallState": "outgoing_call",
    "LocalEnd": "outgoing_call",
    "OutgoingCall": "outgoing_call",
    "TIMER_D_UNRELIABLE": "transaction",
    "Deliver": "transaction",
    "InviteClientTransaction": "transaction",
    "InviteTransactionAction": "transaction",
    "InviteTransactionState": "transaction",
    "NonInviteClientTransaction": "transaction",
    "Retransmit": "transaction",
    "SendAck": "transaction",
    "TimedOut": "transaction",
    "TransactionAction": "transaction",
    "TransactionState": "transaction",
}


def __getattr__(name: str) -> object:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_LIMITS",
    "TIMER_D_UNRELIABLE",
    "CSeq",
    "CallPlan",
    "CallState",
    "Deliver",
    "Dialog",
    "DigestChallenge",
    "DigestCredentials",
    "Headers",
    "InviteClientTransaction",
    "InviteTransactionAction",
    "InviteTransactionState",
    "Limits",
    "LocalEnd",
    "Message",
    "NameAddr",
    "NonInviteClientTransaction",
    "OutgoingCall",
    "Request",
    "Response",
    "ResponseMatch",
    "Retransmit",
    "SendAck",
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
    "UnsupportedChallenge",
    "Via",
    "authorize",
    "build_ack_non2xx",
    "build_authorization",
    "build_cancel",
    "build_invite",
    "build_options",
    "build_response",
    "canonical_name",
    "challenge_algorithm",
    "choose_challenge",
    "creates_dialog",
    "match_response",
    "new_branch",
    "parse_challenge",
    "parse_content_length",
    "parse_cseq",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
    "random_token",
]
