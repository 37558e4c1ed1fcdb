"""The messages of a call as the UAS builds them: responses that make the dialog, the
stateless answers inside it, and our own BYE (RFC 3261 §12.1.1, §15.1.1)."""

from __future__ import annotations

from probe.answer.link import Link
from probe.sip import (
    Dialog,
    Request,
    SipError,
    SipUri,
    new_branch,
    parse_name_addr,
    parse_uri,
    random_token,
)

__all__ = ["ALLOW", "build_our_bye", "contact_of", "dialog_headers"]

ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
CONTACT_USER = "sipprobe-answer"


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def contact_of(link: Link) -> str:
    """Our Contact: the address the call reached, the listener's port, its transport."""
    host, port = link.local
    return f"<sip:{CONTACT_USER}@{_host(host)}:{port};transport={link.transport}>"


def dialog_headers(invite: Request, link: Link) -> tuple[tuple[str, str], ...]:
    """§12.1.1: a response that makes a dialog carries Contact and the request's
    Record-Route values, in order."""
    routes = tuple(("Record-Route", value) for value in invite.headers.get_all("Record-Route"))
    return (*routes, ("Contact", contact_of(link)), ("Allow", ALLOW))


def _remote_target(invite: Request, link: Link) -> SipUri:
    """The INVITE's Contact URI (§12.1.1: the remote target); without a usable one, the
    address the INVITE came from, where everything of this call goes anyway."""
    contacts = invite.headers.get_all("Contact")
    if contacts and contacts[0].strip() != "*":
        try:
            return parse_name_addr(contacts[0]).uri
        except SipError:
            pass
    host, port = link.peer
    return parse_uri(f"sip:{_host(host)}:{port}")


def build_our_bye(
    invite: Request, *, to_tag: str, link: Link, user_agent: str, cseq: int
) -> Request:
    """A BYE ending the dialog the INVITE made (§15.1.1), from our side: our To tag is
    its local tag, the INVITE's Record-Route in order its route set (§12.1.1)."""
    dialog = Dialog(
        call_id=invite.call_id,
        local_tag=to_tag,
        remote_tag=invite.from_.tag,
        local_uri=invite.to.uri,
        remote_uri=invite.from_.uri,
        remote_target=_remote_target(invite, link),
        route_set=tuple(invite.headers.get_all("Record-Route")),
        local_cseq=cseq - 1,
        secure=False,
    )
    bye, _ = dialog.build_bye(
        branch=new_branch(random_token()),
        local_host=link.local[0],
        local_port=link.local[1],
        transport=link.transport.upper(),
        user_agent=user_agent,
    )
    return bye
