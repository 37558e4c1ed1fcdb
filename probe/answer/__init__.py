"""The collect layer of `sipprobe answer`: a listener that takes the calls a trunk
places to it and records them as probe.evidence.inbound's InboundEvidence.

    config.py      AnswerConfig: listeners, our certificate, mutual TLS, the expectation
    listen.py      answer_calls(): sockets, connections, dispatch, the run's end
    tls_accept.py  the server side of a caller's TLS handshake, recorded whatever happens
    websocket_accept.py  a caller's WebSocket upgrade (ws, wss), then SIP one per message
    call.py        one call from its INVITE to its end (RFC 3261 §13.3, §17.2.1)
    call_state.py  what a call holds and records, and the InboundCall it becomes
    dialog.py      the UAS's dialog messages: Contact, Record-Route, our BYE
    sdp_answer.py  the answer to the caller's offer: SDES, DTLS-SRTP, plain RTP or 488
    media.py       the caller's SRTP authenticated, ours sent (probe.net.media's pieces)
    link.py        where a call's messages go back: its connection or UDP source
"""

from probe.answer.call import IdentityCheck
from probe.answer.config import AnswerConfig, AnswerConfigError, ListenerSpec
from probe.answer.listen import ReadyCallback, answer_calls

__all__ = [
    "AnswerConfig",
    "AnswerConfigError",
    "IdentityCheck",
    "ListenerSpec",
    "ReadyCallback",
    "answer_calls",
]
