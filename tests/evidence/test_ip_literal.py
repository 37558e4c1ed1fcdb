"""A target's host is a name or an IP literal: the label and SNI depend on which."""

from __future__ import annotations

import pytest

from probe.evidence.model import Target, is_ip_literal


@pytest.mark.parametrize(
    ("host", "literal"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("2001:db8::5", True),
        ("sbc.example.test", False),
        ("host1", False),
        ("10.0.0", False),
        ("1.2.3.4.5", False),
        ("300.1.1.1", False),
        ("1234", False),
        ("", False),
    ],
)
def test_ip_literals_and_names(host: str, literal: bool) -> None:
    assert is_ip_literal(host) is literal


def test_a_name_is_labelled_with_its_address_an_ip_literal_alone() -> None:
    named = Target("sip:sbc.example.test", "sbc.example.test", 5061, "tls", "192.0.2.7")
    assert named.label == "sbc.example.test (192.0.2.7:5061/tls)"
    assert named.name == "sbc.example.test"
    literal = Target("sip:[2001:db8::5]", "2001:db8::5", 5060, "udp", "2001:db8::5")
    assert literal.label == "[2001:db8::5]:5060/udp"
    assert literal.name is None
