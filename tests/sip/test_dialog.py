"""The UAC dialog (RFC 3261 §12), the ACK for a 2xx (§13.2.2.4) and BYE (§15.1.1)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from probe.sip import (
    Dialog,
    Headers,
    Request,
    Response,
    SipBuildError,
    SipParseError,
    build_invite,
    build_response,
    creates_dialog,
    new_branch,
    parse_message,
    parse_uri,
)

SDP = b"v=0\r\n"
CONTACT = "<sip:uas@198.51.100.20:5061;transport=tls>"
# As the UAS receives them, top first: the proxy nearest to us is last.
RECORD_ROUTE = ("<sip:p2.example.com;lr>", "<sip:p1.example.com;lr;transport=tls>")
LOCAL = {"local_host": "192.0.2.10", "local_port": 40123, "transport": "TLS"}


def invite(target: str = "sip:+15551230000@trunk.example.com", **overrides: Any) -> Request:
    kwargs: dict[str, Any] = {
        "transport": "TLS",
        "local_host": "192.0.2.10",
        "local_port": 40123,
        "branch": new_branch("inv1"),
        "from_tag": "ft1",
        "call_id": "call-1@192.0.2.10",
        "user_agent": "sipprobe/0.1",
        "body": SDP,
    } | overrides
    return build_invite(parse_uri(target), **kwargs)


def answer(
    request: Request,
    code: int = 200,
    *,
    contact: str | None = CONTACT,
    record_route: Sequence[str] = RECORD_ROUTE,
    to_tag: str | None = "uas1",
) -> Response:
    extra = [("Record-Route", value) for value in record_route]
    if contact is not None:
        extra.append(("Contact", contact))
    return build_response(
        request, code, "OK" if code == 200 else "Ringing", to_tag=to_tag, extra_headers=extra
    )


def test_2xx_creates_a_confirmed_dialog():
    request = invite()
    dialog = Dialog.from_response(request, answer(request))
    assert dialog.call_id == "call-1@192.0.2.10"
    assert dialog.local_tag == "ft1"
    assert dialog.remote_tag == "uas1"
    assert str(dialog.local_uri) == "sip:sipprobe@192.0.2.10"
    assert str(dialog.remote_uri) == "sip:+15551230000@trunk.example.com"
    assert str(dialog.remote_target) == "sip:uas@198.51.100.20:5061;transport=tls"
    # §12.1.2: Record-Route in reverse order.
    assert dialog.route_set == tuple(reversed(RECORD_ROUTE))
    assert dialog.local_cseq == 1
    assert dialog.secure is False  # a sip: Request-URI, even over TLS
    assert dialog.early is False
    assert dialog.target_from_contact is True


def test_record_route_in_one_comma_separated_field_is_reversed_too():
    request = invite()
    response = answer(request, record_route=[", ".join(RECORD_ROUTE)])
    assert Dialog.from_response(request, response).route_set == tuple(reversed(RECORD_ROUTE))


def test_sips_over_tls_is_secure():
    request = invite("sips:trunk.example.com")
    dialog = Dialog.from_response(request, answer(request, contact="<sips:uas@198.51.100.20>"))
    assert dialog.secure is True


def test_1xx_with_to_tag_makes_an_early_dialog():
    request = invite(cseq=4)
    ringing = answer(request, 180)
    assert creates_dialog(ringing)
    dialog = Dialog.from_response(request, ringing)
    assert dialog.early is True
    assert dialog.remote_tag == "uas1"
    assert dialog.local_cseq == 4


@pytest.mark.parametrize(
    ("code", "to_tag"), [(100, None), (180, None), (486, "uas1"), (302, "uas1")]
)
def test_responses_that_make_no_dialog_are_refused(code, to_tag):
    request = invite()
    response = build_response(request, code, "X", to_tag=to_tag)
    assert not creates_dialog(response)
    with pytest.raises(SipBuildError, match="does not establish a dialog"):
        Dialog.from_response(request, response)


def test_response_to_another_invite_is_refused():
    request = invite()
    other = invite(call_id="other@192.0.2.10")
    with pytest.raises(SipBuildError, match="does not answer"):
        Dialog.from_response(request, answer(other))


# --- requests in the dialog ----------------------------------------------------------------


def test_ack_for_2xx_with_loose_routing():
    request = invite()
    dialog = Dialog.from_response(request, answer(request))
    assert dialog.loose_routing
    ack = dialog.build_ack(invite=request, branch=new_branch("ack1"), **LOCAL)
    h = ack.headers
    assert ack.method == "ACK"
    # §12.2.1.1 loose routing: Request-URI = remote target, Route = route set.
    assert str(ack.uri) == "sip:uas@198.51.100.20:5061;transport=tls"
    assert h.get_all("Route") == list(reversed(RECORD_ROUTE))
    # §13.2.2.4: its own transaction (new branch), the INVITE's CSeq number.
    assert ack.top_via.branch == "z9hG4bKack1" != request.top_via.branch
    assert h.get("CSeq") == "1 ACK"
    assert h.get("From") == "<sip:sipprobe@192.0.2.10>;tag=ft1"
    assert h.get("To") == "<sip:+15551230000@trunk.example.com>;tag=uas1"
    assert h.get("Call-ID") == request.call_id
    assert h.get("Max-Forwards") == "70"
    assert h.get("Content-Length") == "0"
    assert h.get("Content-Type") is None
    assert parse_message(ack.to_bytes()) == ack


def test_ack_for_2xx_copies_the_invite_credentials_and_can_carry_an_answer():
    request = invite()
    auth = 'Digest username="u", realm="r", nonce="n", uri="sip:x", response="00"'
    request = dataclasses.replace(
        request,
        headers=Headers(
            [
                *request.headers.items()[:-1],
                ("Proxy-Authorization", auth),
                request.headers.items()[-1],
            ]
        ),
    )
    dialog = Dialog.from_response(request, answer(request))
    ack = dialog.build_ack(invite=request, branch=new_branch("ack1"), body=SDP, **LOCAL)
    assert ack.headers.get("Proxy-Authorization") == auth
    assert ack.body == SDP
    assert ack.headers.get("Content-Type") == "application/sdp"
    assert parse_message(ack.to_bytes()) == ack


def test_ack_needs_this_dialogs_invite():
    request = invite()
    dialog = Dialog.from_response(request, answer(request))
    with pytest.raises(SipBuildError, match="this dialog"):
        dialog.build_ack(invite=invite(call_id="x@y"), branch=new_branch("a"), **LOCAL)


def test_strict_router_first_route_becomes_the_request_uri():
    request = invite()
    strict = ("<sip:p2.example.com;lr>", "<sip:strict.example.com;maddr=192.0.2.99;method=BYE>")
    dialog = Dialog.from_response(request, answer(request, record_route=strict))
    assert dialog.route_set[0].startswith("<sip:strict")
    assert not dialog.loose_routing
    bye, _ = dialog.build_bye(branch=new_branch("bye1"), user_agent="ua", **LOCAL)
    # §12.2.1.1 strict routing: Request-URI = first route (without parameters a
    # Request-URI may not carry), Route = the rest, then the remote target.
    assert str(bye.uri) == "sip:strict.example.com;maddr=192.0.2.99"
    assert bye.headers.get_all("Route") == [
        "<sip:p2.example.com;lr>",
        "<sip:uas@198.51.100.20:5061;transport=tls>",
    ]
    ack = dialog.build_ack(invite=request, branch=new_branch("ack1"), **LOCAL)
    assert ack.uri == bye.uri
    assert ack.headers.get_all("Route") == bye.headers.get_all("Route")
    assert parse_message(bye.to_bytes()) == bye


def test_no_route_set_sends_straight_to_the_remote_target():
    request = invite()
    dialog = Dialog.from_response(request, answer(request, record_route=()))
    assert dialog.route_set == ()
    bye, _ = dialog.build_bye(branch=new_branch("b"), user_agent="ua", **LOCAL)
    assert str(bye.uri) == "sip:uas@198.51.100.20:5061;transport=tls"
    assert bye.headers.get("Route") is None


def test_bye_increments_cseq_and_returns_the_new_dialog():
    request = invite(cseq=7)
    dialog = Dialog.from_response(request, answer(request))
    bye, after = dialog.build_bye(branch=new_branch("bye1"), user_agent="sipprobe/0.1", **LOCAL)
    assert bye.method == "BYE"
    assert bye.headers.get("CSeq") == "8 BYE"
    assert after.local_cseq == 8
    assert dialog.local_cseq == 7  # the dialog is a value; the old one is unchanged
    assert bye.headers.get("User-Agent") == "sipprobe/0.1"
    assert bye.headers.get("Via") == "SIP/2.0/TLS 192.0.2.10:40123;branch=z9hG4bKbye1;rport"
    assert bye.to.tag == "uas1"
    assert bye.from_.tag == "ft1"
    bye2, after2 = after.build_bye(branch=new_branch("bye2"), user_agent="ua", **LOCAL)
    assert bye2.cseq.number == 9
    assert after2.local_cseq == 9
    assert parse_message(bye.to_bytes(), stream=True) == bye


def test_bye_cseq_cannot_pass_2_31():
    request = invite(cseq=2**31 - 1)
    dialog = Dialog.from_response(request, answer(request))
    with pytest.raises(SipBuildError, match="cseq"):
        dialog.build_bye(branch=new_branch("b"), user_agent="ua", **LOCAL)


# --- a 2xx without Contact ---------------------------------------------------------------


@pytest.mark.parametrize("contact", [None, "*", "<tel:+1555>"])
def test_2xx_without_usable_contact_raises_naming_it(contact):
    request = invite()
    response = answer(request, contact=contact)
    with pytest.raises(SipParseError, match="Contact"):
        Dialog.from_response(request, response)


def test_fallback_ends_the_call_through_the_invite_request_uri():
    request = invite()
    response = answer(request, contact=None)
    dialog = Dialog.fallback(request, response)
    assert dialog.target_from_contact is False
    assert dialog.remote_target == request.uri
    assert dialog.route_set == tuple(reversed(RECORD_ROUTE))
    bye, _ = dialog.build_bye(branch=new_branch("bye1"), user_agent="ua", **LOCAL)
    assert bye.uri == request.uri
    assert bye.headers.get_all("Route") == list(reversed(RECORD_ROUTE))
    assert bye.to.tag == "uas1"
    assert parse_message(bye.to_bytes()) == bye


def test_fallback_uses_the_contact_when_there_is_one():
    request = invite()
    response = answer(request)
    assert Dialog.fallback(request, response) == Dialog.from_response(request, response)


def test_bad_record_route_is_a_parse_error_at_creation():
    request = invite()
    with pytest.raises(SipParseError, match="Record-Route"):
        Dialog.from_response(request, answer(request, record_route=["<mailto:x@y>"]))


def test_untagged_2xx_from_an_rfc_2543_peer():
    # §12.1.2: no To tag means a null remote tag, for backwards compatibility.
    request = invite()
    dialog = Dialog.from_response(request, answer(request, to_tag=None))
    assert dialog.remote_tag is None
    bye, _ = dialog.build_bye(branch=new_branch("b"), user_agent="ua", **LOCAL)
    assert bye.to.tag is None
