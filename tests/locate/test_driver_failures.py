"""The driver's promise, without a network: every failure becomes a DnsAnswer."""

from __future__ import annotations

import asyncio
import random
import time

import dns.asyncresolver
import dns.exception
import dns.message
import dns.resolver
import pytest

from probe.locate import dns_client
from probe.locate.dns_client import _classify_no_nameservers
from probe.locate.driver import locate
from probe.sip.uri import parse_uri

SERVER = "127.0.0.1:5353"


def no_nameservers(*outcomes: object) -> dns.resolver.NoNameservers:
    request = dns.message.make_query("x.test", "A")
    errors = [("Do53:127.0.0.1@5353", False, 5353, outcome, None) for outcome in outcomes]
    return dns.resolver.NoNameservers(request=request, errors=errors)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("outcomes", "kind", "error"),
    [
        (("SERVFAIL",), "servfail", f"{SERVER} answered SERVFAIL"),
        (("SERVFAIL", "SERVFAIL"), "servfail", f"{SERVER} answered SERVFAIL"),
        (("REFUSED",), "refused", f"{SERVER} answered REFUSED"),
        (("REFUSED", "SERVFAIL"), "servfail", f"{SERVER} answered SERVFAIL"),
        (
            (ConnectionRefusedError(111, "Connection refused"),),
            "no_nameservers",
            f"no answer from {SERVER}: [Errno 111] Connection refused",
        ),
        (("NOTIMP",), "no_nameservers", f"no answer from {SERVER}: NOTIMP"),
    ],
)
def test_no_nameservers_is_told_apart(outcomes: tuple[object, ...], kind: str, error: str) -> None:
    assert _classify_no_nameservers(no_nameservers(*outcomes), SERVER) == (kind, error)


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        (dns.resolver.NXDOMAIN(), "nxdomain"),  # type: ignore[no-untyped-call]
        (dns.resolver.LifetimeTimeout(timeout=1.0, errors=[]), "timeout"),  # type: ignore[no-untyped-call]
        (dns.exception.Timeout(), "timeout"),  # type: ignore[no-untyped-call]
        (no_nameservers("SERVFAIL"), "servfail"),
        (dns.resolver.YXDOMAIN(), "error"),  # type: ignore[no-untyped-call]
        (OSError("network is unreachable"), "error"),
        (RuntimeError("a bug below us"), "error"),
    ],
)
async def test_every_failure_becomes_an_answer(
    monkeypatch: pytest.MonkeyPatch, exception: Exception, kind: str
) -> None:
    async def fail(*args: object, **kwargs: object) -> None:
        raise exception

    monkeypatch.setattr(dns.asyncresolver.Resolver, "resolve", fail)
    result = await locate(
        parse_uri("sip:x.test:5060"), dns_server=("127.0.0.1", 5353), rng=random.Random(1)
    )
    assert [a.error_kind for a in result.answers] == [kind, kind]
    assert {a.server for a in result.answers} == {SERVER}
    assert result.targets == ()
    assert result.problems


async def test_missing_resolver_configuration_is_an_answer_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unconfigured(self: object, *args: object, **kwargs: object) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")  # type: ignore[no-untyped-call]

    monkeypatch.setattr(dns.asyncresolver.Resolver, "__init__", unconfigured)
    result = await locate(parse_uri("sip:x.test"))
    (answer,) = result.answers
    assert answer.error_kind == "no_nameservers"
    assert answer.error == "no DNS resolver configured: no nameservers"
    assert "the RFC 3263 walk stops here" in result.problems[0]


async def test_a_hanging_resolver_is_cut_off_by_the_safety_net(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def hang(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(60)

    monkeypatch.setattr(dns.asyncresolver.Resolver, "resolve", hang)
    monkeypatch.setattr(dns_client, "SAFETY_MARGIN", 0.05)
    started = time.monotonic()
    result = await locate(parse_uri("sip:x.test"), dns_server=("127.0.0.1", 5353), timeout=0.1)
    assert time.monotonic() - started < 1.0
    (answer,) = result.answers
    assert answer.error_kind == "timeout"
