"""Fetching x5u certificates from a real HTTPS server on loopback (the lab CA), and from a
directory. The hostile servers of issue 19 (one that never answers, one that serves
10 MB, a redirect loop) and a plain http:// URL end as a named cause, quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from probe.net.sti_fetch import (
    CertificateCache,
    CertificateFetcher,
    FetchSettings,
    cache_lifetime,
    directory_path,
)
from probe.tls.lab import LabFiles
from probe.tls.sti_lab import StiLab
from tests.stir.kit import Served, endless, ok, redirect, silent, status

TIMEOUT = 0.5


def fetcher(lab: LabFiles, **changes: object) -> CertificateFetcher:
    settings = FetchSettings(timeout=TIMEOUT, ca=lab.ca, **changes)  # type: ignore[arg-type]
    return CertificateFetcher(settings)


async def test_a_certificate_is_fetched_over_https(
    served: Served, lab: LabFiles, sti: StiLab
) -> None:
    server = await served.start({"/shaken.pem": ok(sti.chain_pem())})
    result = await fetcher(lab).fetch(server.url("/shaken.pem"))
    assert result.cause is None, result.problem
    assert (result.source, result.status, result.body) == ("https", 200, sti.chain_pem())
    assert result.max_age is None


async def test_a_body_is_reused_only_as_cache_control_allows(
    served: Served, lab: LabFiles, sti: StiLab
) -> None:
    server = await served.start(
        {
            "/cached.pem": ok(sti.chain_pem(), cache_control="public, max-age=300"),
            "/fresh.pem": ok(sti.chain_pem(), cache_control="no-cache, max-age=300"),
            "/plain.pem": ok(sti.chain_pem()),
        }
    )
    fetch = fetcher(lab)
    for path in ("/cached.pem", "/fresh.pem", "/plain.pem"):
        first = await fetch.fetch(server.url(path))
        again = await fetch.fetch(server.url(path))
        assert first.source == "https"
        assert again.body == first.body
    assert server.hits == {"/cached.pem": 1, "/fresh.pem": 2, "/plain.pem": 2}
    assert (await fetch.fetch(server.url("/cached.pem"))).source == "cache"
    # The cache is the caller's: another fetcher starts empty.
    assert (await fetcher(lab).fetch(server.url("/cached.pem"))).source == "https"


def test_the_cache_expires_and_stays_bounded() -> None:
    cache = CertificateCache(max_entries=2)
    cache.put("a", b"A", 10, now=100.0)
    assert cache.get("a", now=109.0) == (b"A", 10)
    assert cache.get("a", now=110.0) is None
    for name in "bcd":
        cache.put(name, name.encode(), 10, now=200.0)
    assert len(cache) == 2
    assert cache.get("b", now=200.0) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("max-age=60", 60),
        ('public, max-age="60"', 60),
        ("max-age=0", None),
        ("no-store, max-age=60", None),
        ("max-age=abc", None),
        ("max-age=99999999", 24 * 3600),
    ],
)
def test_cache_lifetimes_follow_rfc_9111(header: str | None, seconds: int | None) -> None:
    assert cache_lifetime(header) == seconds


async def test_an_x5u_that_never_answers_ends_at_the_deadline(
    served: Served, lab: LabFiles
) -> None:
    server = await served.start({"/slow.pem": silent()})
    tarpit = await served.tarpit()
    for url in (server.url("/slow.pem"), f"https://127.0.0.1:{tarpit}/shaken.pem"):
        started = time.monotonic()
        result = await fetcher(lab).fetch(url)
        assert time.monotonic() - started < TIMEOUT + 1.0
        assert (result.cause, result.body) == ("timeout", None)
        assert f"{TIMEOUT:g} s" in (result.problem or "")


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "streamed"])
async def test_an_x5u_serving_10_mb_is_cut_at_the_size_limit(
    served: Served, lab: LabFiles, announce: bool
) -> None:
    server = await served.start({"/big.pem": endless(announce=announce)})
    fetch = fetcher(lab, max_bytes=64 * 1024)
    started = time.monotonic()
    result = await fetch.fetch(server.url("/big.pem"))
    assert time.monotonic() - started < TIMEOUT + 1.0
    assert (result.cause, result.body) == ("too_large", None), result.problem
    assert "65536" in (result.problem or "")


async def test_a_body_exactly_at_the_limit_is_accepted(served: Served, lab: LabFiles) -> None:
    server = await served.start({"/edge.pem": ok(b"x" * 1024), "/over.pem": ok(b"x" * 1025)})
    fetch = fetcher(lab, max_bytes=1024)
    assert (await fetch.fetch(server.url("/edge.pem"))).body == b"x" * 1024
    assert (await fetch.fetch(server.url("/over.pem"))).cause == "too_large"


async def test_redirects_are_followed_to_https_only_and_never_in_a_loop(
    served: Served, lab: LabFiles, sti: StiLab
) -> None:
    server = await served.start({})
    server.routes.update(
        {
            "/moved.pem": redirect("/shaken.pem", 301),
            "/shaken.pem": ok(sti.chain_pem()),
            "/ping": redirect(server.url("/pong")),
            "/pong": redirect("/ping", 307),
            "/downgrade": redirect(f"http://127.0.0.1:{server.port}/shaken.pem"),
            "/nowhere": status(302),
            "/1": redirect("/2"),
            "/2": redirect("/3"),
            "/3": redirect("/4"),
            "/4": redirect("/shaken.pem"),
        }
    )
    fetch = fetcher(lab, max_redirects=3)
    moved = await fetch.fetch(server.url("/moved.pem"))
    assert moved.body == sti.chain_pem()
    assert moved.redirects == (server.url("/shaken.pem"),)
    loop = await fetch.fetch(server.url("/ping"))
    assert loop.cause == "redirect_loop"
    assert loop.body is None
    assert server.hits["/ping"] == 1
    assert server.hits["/pong"] == 1
    downgrade = await fetch.fetch(server.url("/downgrade"))
    assert downgrade.cause == "not_https"
    assert "a redirect to" in (downgrade.problem or "")
    assert (await fetch.fetch(server.url("/nowhere"))).cause == "redirect_without_location"
    too_many = await fetch.fetch(server.url("/1"))
    assert too_many.cause == "too_many_redirects"
    assert len(too_many.redirects) == 3


async def test_an_http_x5u_is_never_fetched(served: Served, lab: LabFiles, sti: StiLab) -> None:
    server = await served.start({"/shaken.pem": ok(sti.chain_pem())})
    plain = f"http://127.0.0.1:{server.port}/shaken.pem"
    result = await fetcher(lab).fetch(plain)
    assert (result.cause, result.source, result.body) == ("not_https", "none", None)
    assert server.hits == {}


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("https://user:secret@127.0.0.1:1/x.pem", "bad_url"),
        ("https:///x.pem", "bad_url"),
        ("https://127.0.0.1:99999/x.pem", "bad_url"),
        ("ftp://127.0.0.1/x.pem", "not_https"),
    ],
)
async def test_urls_that_are_no_https_resource_are_refused(
    lab: LabFiles, url: str, cause: str
) -> None:
    result = await fetcher(lab).fetch(url)
    assert result.cause == cause
    assert "secret" not in (result.problem or "")


async def test_failures_of_the_server_are_named(
    served: Served, lab: LabFiles, closed_port: int
) -> None:
    server = await served.start({"/gone.pem": status(404)})
    gone = await fetcher(lab).fetch(server.url("/gone.pem"))
    assert (gone.cause, gone.status) == ("http_status", 404)
    refused = await fetcher(lab).fetch(f"https://127.0.0.1:{closed_port}/x.pem")
    assert refused.cause == "connect"
    untrusted = await CertificateFetcher(FetchSettings(timeout=TIMEOUT)).fetch(
        server.url("/gone.pem")
    )
    assert untrusted.cause == "tls"
    assert "not trusted" in (untrusted.problem or "")


async def test_pins_connect_to_an_address_for_a_name(
    served: Served, lab: LabFiles, sti: StiLab
) -> None:
    server = await served.start({"/shaken.pem": ok(sti.chain_pem())})
    # The lab certificate names sip.example.test: the name is checked, 127.0.0.1 dialled.
    url = f"https://sip.example.test:{server.port}/shaken.pem"
    result = await fetcher(lab, pins={("sip.example.test", server.port): "127.0.0.1"}).fetch(url)
    assert result.body == sti.chain_pem(), result.problem


async def test_offline_certificates_come_from_a_directory(tmp_path: Path, sti: StiLab) -> None:
    (tmp_path / "cert.example.test").mkdir()
    (tmp_path / "cert.example.test" / "shaken.pem").write_bytes(sti.chain_pem())
    (tmp_path / "other.pem").write_bytes(b"x" * 2000)
    fetch = CertificateFetcher(FetchSettings(cert_dir=tmp_path, max_bytes=1024 * 64))
    found = await fetch.fetch("https://cert.example.test/shaken.pem")
    assert (found.source, found.body) == ("directory", sti.chain_pem())
    by_name = await fetch.fetch("https://elsewhere.test/a/b/other.pem")
    assert by_name.body == b"x" * 2000
    small = CertificateFetcher(FetchSettings(cert_dir=tmp_path, max_bytes=1024))
    assert (await small.fetch("https://elsewhere.test/other.pem")).cause == "too_large"
    missing = await fetch.fetch("https://cert.example.test/none.pem")
    assert missing.cause == "not_in_directory"


def test_a_directory_lookup_never_leaves_the_directory(tmp_path: Path) -> None:
    inside = tmp_path / "certs"
    inside.mkdir()
    (tmp_path / "secret.pem").write_text("outside")
    for url in (
        "https://x/../secret.pem",
        "https://x/%2e%2e/secret.pem",
        "https://../secret.pem",
        "https://x/..",
    ):
        found = directory_path(url, inside)
        assert found is None or found.is_relative_to(inside.resolve()), url
    (inside / "link.pem").symlink_to(tmp_path / "secret.pem")
    assert directory_path("https://x/link.pem", inside) is None
