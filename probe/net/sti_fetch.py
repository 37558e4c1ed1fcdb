"""Fetch the certificate a PASSporT's `x5u` names: HTTPS, bounded, cached for the run.

The URL comes from the far end, so the fetch trusts it no more than a SIP peer:

- https only (RFC 8225 §4.3 and ATIS-1000074 §5.3.1 want an integrity-protected
  resource), the server's certificate verified against the system store or the CA given;
- one deadline for the whole fetch, redirects included: a server that never answers, or
  answers a byte a second, ends as `timeout`;
- at most `max_bytes` of body (a SHAKEN chain is 2-3 KiB; 64 KiB by default): a larger
  Content-Length is refused before the body is read, a longer body is cut off;
- at most `max_redirects` redirects, each to https, none to a URL seen before;
- HTTP/1.1 parsed and framed by h11, its head bounded like the exporter's.

A body may be reused within the run as Cache-Control allows (RFC 9111 §5.2.2: max-age,
no-store, no-cache); the `CertificateCache` belongs to its caller, never to the module,
and is bounded. `cert_dir` replaces the network altogether (`--sti-cert-dir`): the file
is found under the URL's host and path, or by its last path segment.

Every outcome, failures included, is a `CertificateFetch`; nothing raises for what the
far end does.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urljoin

import h11

from probe.errors import ProbeError
from probe.net.options import USER_AGENT
from probe.stir.model import CertificateFetch

MAX_CERTIFICATE_BYTES = 64 * 1024
MAX_HEAD_BYTES = 16 * 1024
MAX_REDIRECTS = 3
DEFAULT_FETCH_TIMEOUT = 2.0
"""Seconds for a whole fetch: a verifier sits in the call's setup path (ATIS-1000074
§5.3.1 leaves the figure to policy; 2 s keeps a call from ringing on a dead x5u)."""
MAX_CACHE_ENTRIES = 256
MAX_CACHE_SECONDS = 24 * 3600
"""The longest a body is reused, whatever max-age says."""
READ_CHUNK = 16 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ACCEPT = "application/pem-certificate-chain, application/x-pem-file, application/pkix-cert"


@dataclass(frozen=True, slots=True)
class FetchSettings:
    timeout: float = DEFAULT_FETCH_TIMEOUT
    max_bytes: int = MAX_CERTIFICATE_BYTES
    max_redirects: int = MAX_REDIRECTS
    ca: Path | None = None
    """Trust anchors for the x5u servers' own TLS certificates; None: the system store."""
    cert_dir: Path | None = None
    """Offline: read certificates from this directory and never open a connection."""
    pins: Mapping[tuple[str, int], str] = field(default_factory=dict)
    """(host, port) → address: connect there instead of resolving the host."""
    user_agent: str = USER_AGENT


class CertificateCache:
    """x5u bodies a run may reuse, by URL, until their max-age ends; bounded, oldest out."""

    def __init__(self, max_entries: int = MAX_CACHE_ENTRIES) -> None:
        self._entries: OrderedDict[str, tuple[bytes, float, int]] = OrderedDict()
        self._max_entries = max_entries

    def get(self, url: str, now: float) -> tuple[bytes, int] | None:
        """(body, max-age) when `url` is cached and still fresh at `now` (monotonic)."""
        entry = self._entries.get(url)
        if entry is None:
            return None
        body, expires, max_age = entry
        if now >= expires:
            del self._entries[url]
            return None
        return body, max_age

    def put(self, url: str, body: bytes, max_age: int, now: float) -> None:
        self._entries[url] = (body, now + max_age, max_age)
        self._entries.move_to_end(url)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def cache_lifetime(cache_control: str | None) -> int | None:
    """Seconds a response may be reused (RFC 9111 §5.2.2), or None when it may not be."""
    if cache_control is None:
        return None
    max_age: int | None = None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return None
        if name == "max-age":
            text = value.strip().strip('"')
            if not text.isdigit():
                return None  # RFC 9111 §4.2.1: an invalid max-age means stale
            max_age = min(int(text), MAX_CACHE_SECONDS)
    return max_age if max_age else None


class _Failed(ProbeError):
    def __init__(self, cause: str, problem: str, status: int | None = None) -> None:
        super().__init__(problem)
        self.cause = cause
        self.problem = problem
        self.status = status


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes


class CertificateFetcher:
    """Fetches x5u certificates for one run (or one listener's lifetime), with its cache."""

    def __init__(
        self,
        settings: FetchSettings | None = None,
        *,
        cache: CertificateCache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or FetchSettings()
        if not 0 < self.settings.timeout < math.inf:
            raise ValueError("the fetch timeout must be a number of seconds above 0")
        self.cache = cache if cache is not None else CertificateCache()
        self._clock = clock
        # Built now, so that an unusable CA file is the caller's error before any call.
        self._context = (
            None if self.settings.cert_dir is not None else _client_context(self.settings.ca)
        )

    async def fetch_all(self, urls: Iterable[str]) -> dict[str, CertificateFetch]:
        """Each URL's outcome; the fetches run side by side, each under its deadline."""
        unique = list(dict.fromkeys(urls))
        results = await asyncio.gather(*(self.fetch(url) for url in unique))
        return dict(zip(unique, results, strict=True))

    async def fetch(self, url: str) -> CertificateFetch:
        started = self._clock()
        if self.settings.cert_dir is not None:
            return self._from_directory(url, self.settings.cert_dir, started)
        cached = self.cache.get(url, started)
        if cached is not None:
            return CertificateFetch(url, "cache", cached[0], max_age=cached[1], elapsed_ms=0.0)
        redirects: list[str] = []
        try:
            async with asyncio.timeout(self.settings.timeout):
                answer = await self._follow(url, redirects)
        except TimeoutError:
            return self._failure(
                url,
                "timeout",
                f"no complete answer within {self.settings.timeout:g} s",
                started,
                redirects,
            )
        except _Failed as failed:
            return self._failure(
                url, failed.cause, failed.problem, started, redirects, failed.status
            )
        max_age = cache_lifetime(answer.headers.get("cache-control"))
        if max_age is not None:
            self.cache.put(url, answer.body, max_age, self._clock())
        return CertificateFetch(
            url,
            "https",
            answer.body,
            status=answer.status,
            redirects=tuple(redirects),
            elapsed_ms=(self._clock() - started) * 1000,
            max_age=max_age,
        )

    def _failure(
        self,
        url: str,
        cause: str,
        problem: str,
        started: float,
        redirects: list[str],
        status: int | None = None,
    ) -> CertificateFetch:
        return CertificateFetch(
            url,
            "https" if cause not in ("not_https", "bad_url") or redirects else "none",
            None,
            cause=cause,
            problem=problem,
            status=status,
            redirects=tuple(redirects),
            elapsed_ms=(self._clock() - started) * 1000,
        )

    async def _follow(self, url: str, redirects: list[str]) -> _Answer:
        seen = {url}
        current = url
        while True:
            parts = _https_url(current, redirected=bool(redirects))
            answer = await self._get(parts)
            if answer.status not in _REDIRECTS:
                if answer.status != 200:
                    raise _Failed(
                        "http_status",
                        f"the server answered HTTP {answer.status}, not 200",
                        answer.status,
                    )
                return answer
            location = answer.headers.get("location")
            if not location:
                raise _Failed(
                    "redirect_without_location",
                    f"HTTP {answer.status} without a Location",
                    answer.status,
                )
            target = urljoin(current, location.strip())
            if target in seen:
                raise _Failed(
                    "redirect_loop",
                    f"the redirects loop back to {target[:120]}",
                    answer.status,
                )
            if len(redirects) >= self.settings.max_redirects:
                raise _Failed(
                    "too_many_redirects",
                    f"more than {self.settings.max_redirects} redirects",
                    answer.status,
                )
            redirects.append(target)
            seen.add(target)
            current = target

    async def _get(self, parts: SplitResult) -> _Answer:
        host = parts.hostname or ""
        port = parts.port or 443
        address = self.settings.pins.get((host, port), host)
        if self._context is None:  # offline (cert_dir): never a connection, never without TLS
            raise _Failed("offline", "certificates are read from a directory, not fetched")
        try:
            reader, writer = await asyncio.open_connection(
                address, port, ssl=self._context, server_hostname=host
            )
        except ssl.SSLCertVerificationError as exc:
            raise _Failed(
                "tls", f"the server's certificate is not trusted: {exc.verify_message}"
            ) from None
        except ssl.SSLError as exc:
            raise _Failed("tls", f"TLS with the x5u server failed: {exc.reason or exc}") from None
        except OSError as exc:
            raise _Failed(
                "connect", f"cannot connect to {host}:{port}: {exc.strerror or exc}"
            ) from None
        try:
            return await self._exchange(reader, writer, parts)
        except h11.ProtocolError as exc:
            raise _Failed(
                "http_malformed", f"the server's HTTP answer is malformed: {exc}"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            raise _Failed("connect", f"the connection broke: {exc}") from None
        finally:
            # Everything wanted has arrived (or never will): no close handshake to wait for,
            # which a hostile server could stall.
            writer.transport.abort()

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, parts: SplitResult
    ) -> _Answer:
        connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        request = h11.Request(
            method="GET",
            target=target,
            headers=[
                ("Host", host),
                ("User-Agent", self.settings.user_agent),
                ("Accept", _ACCEPT),
                ("Connection", "close"),
            ],
        )
        writer.write(connection.send(request) + connection.send(h11.EndOfMessage()))
        await writer.drain()
        limit = self.settings.max_bytes
        status = 0
        headers: dict[str, str] = {}
        body = bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(READ_CHUNK))
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = {
                    name.decode("latin-1").lower(): value.decode("latin-1")
                    for name, value in event.headers
                }
                if status in _REDIRECTS:
                    return _Answer(status, headers, b"")
                length = headers.get("content-length", "")
                if length.isdigit() and int(length) > limit:
                    raise _Failed(
                        "too_large",
                        f"the server announces {int(length)} bytes; a certificate may have {limit}",
                        status,
                    )
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > limit:
                    raise _Failed("too_large", f"the server sent more than {limit} bytes", status)
            elif isinstance(event, h11.EndOfMessage):
                return _Answer(status, headers, bytes(body))
            elif isinstance(event, h11.ConnectionClosed):
                raise _Failed("http_malformed", "the server closed before a whole answer")
            # InformationalResponse (1xx): wait for the final one.

    def _from_directory(self, url: str, directory: Path, started: float) -> CertificateFetch:
        elapsed = (self._clock() - started) * 1000
        path = directory_path(url, directory)
        if path is None:
            return CertificateFetch(
                url,
                "directory",
                None,
                cause="not_in_directory",
                problem=f"no file for this x5u in {directory} (looked for its host/path and "
                "its last path segment)",
                elapsed_ms=elapsed,
            )
        try:
            with path.open("rb") as handle:
                body = handle.read(self.settings.max_bytes + 1)
        except OSError as exc:
            return CertificateFetch(
                url,
                "directory",
                None,
                cause="unreadable_file",
                problem=f"{path}: {exc.strerror}",
                elapsed_ms=elapsed,
            )
        if len(body) > self.settings.max_bytes:
            return CertificateFetch(
                url,
                "directory",
                None,
                cause="too_large",
                problem=f"{path} is larger than {self.settings.max_bytes} bytes",
                elapsed_ms=elapsed,
            )
        return CertificateFetch(url, "directory", body, elapsed_ms=elapsed)


def _client_context(ca: Path | None) -> ssl.SSLContext:
    """TLS 1.2 or later, the server's certificate verified for the x5u host against `ca`
    (a PEM file or a directory of them) or the system store; ValueError when `ca` cannot
    be loaded."""
    try:
        if ca is not None and ca.is_dir():
            context = ssl.create_default_context()
            context.load_verify_locations(cafile=None, capath=str(ca))
            for pem in sorted(ca.iterdir()):
                if pem.suffix in (".pem", ".crt") and pem.is_file():
                    context.load_verify_locations(cafile=str(pem))
        else:
            context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{ca}: {getattr(exc, 'strerror', None) or exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _https_url(url: str, *, redirected: bool) -> SplitResult:
    what = "a redirect to" if redirected else "x5u"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        raise _Failed("bad_url", f"{what} {url[:120]!r} is not a URL") from None
    if parts.scheme.lower() != "https":
        raise _Failed(
            "not_https",
            f"{what} {url[:120]!r} is not https: a certificate fetched without TLS could "
            "be replaced on the way (RFC 8225 §4.3, ATIS-1000074 §5.3.1)",
        )
    if not parts.hostname:
        raise _Failed("bad_url", f"{what} {url[:120]!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise _Failed("bad_url", f"{what} carries user information, which x5u never needs")
    return parts


def directory_path(url: str, directory: Path) -> Path | None:
    """The file standing for `url` under `directory`: `HOST/PATH` first, then the last
    path segment; never a path outside the directory."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(segment in (".", "..") or "\\" in segment for segment in segments):
        return None
    root = directory.resolve()
    candidates = []
    if parts.hostname and segments:
        candidates.append(root / parts.hostname / Path(*segments))
    if segments:
        candidates.append(root / segments[-1])
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.is_relative_to(root) and resolved.is_file():
            return resolved
    return None
