"""A/AAAA through the system's name service (getaddrinfo) → :class:`DnsAnswer`.

Without ``--dns-server`` a name is looked up the way every other program on the machine
looks it up: ``/etc/hosts`` first, then DNS, or whatever ``/etc/nsswitch.conf`` says, so
``localhost`` and lab names in ``/etc/hosts`` are found.  NAPTR and SRV have no such
interface and stay with the DNS client.

getaddrinfo blocks and cannot be cancelled.  Each lookup runs in a daemon thread of its
own, so a name service that hangs costs the caller only the deadline, and cannot keep the
process alive at exit either (the threads of asyncio's default executor are joined when
the loop and the interpreter shut down).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from .records import DnsAnswer, DnsErrorKind, DnsQuery

__all__ = [
    "NSSWITCH",
    "AddressLookup",
    "SystemAsker",
    "describe_system_resolver",
    "getaddrinfo_addresses",
]

AddressLookup = Callable[[str], Sequence[tuple[int, str]]]
"""A blocking lookup: a name → ``(address family, address)`` pairs, in the order the name
service gives them; failures raise :class:`socket.gaierror` as getaddrinfo does."""

NSSWITCH = Path("/etc/nsswitch.conf")

# What the "hosts:" sources of nsswitch.conf are, in words a network engineer knows.
_NSS_SOURCES = {
    "files": "/etc/hosts",
    "dns": "DNS",
    "resolve": "systemd-resolved",
    "myhostname": "the local host name",
    "mymachines": "local containers",
}


def getaddrinfo_addresses(name: str) -> list[tuple[int, str]]:
    """The system's addresses of ``name``, both families in one call.

    One AF_UNSPEC call rather than one per family: glibc answers it from ``/etc/hosts``
    alone when the name is there, where an AF_INET6 call for a name listed with an IPv4
    address only would go on to ask DNS.  SOCK_STREAM keeps one entry per address.
    """
    infos = socket.getaddrinfo(name, None, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM)
    return [(int(family), str(sockaddr[0])) for family, _, _, _, sockaddr in infos]


def describe_system_resolver(nsswitch: str | None) -> str:
    """``system resolver (getaddrinfo: /etc/hosts, DNS)``, from nsswitch.conf's text.

    Only the sources are named; the ``[NOTFOUND=return]`` actions between them are not.
    Without a ``hosts:`` line (no nsswitch.conf, or not glibc) the sources are unknown.
    """
    for line in (nsswitch or "").splitlines():
        key, colon, value = line.split("#", 1)[0].partition(":")
        if colon and key.strip() == "hosts":
            sources = [
                word
                for word in value.replace("[", " [").replace("]", "] ").split()
                if not word.startswith("[") and not word.endswith("]") and "=" not in word
            ]
            if sources:
                named = ", ".join(_NSS_SOURCES.get(word, word) for word in sources)
                return f"system resolver (getaddrinfo: {named})"
    return "system resolver (getaddrinfo)"


def _read_nsswitch() -> str | None:
    try:
        return NSSWITCH.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _gai_failure(exc: socket.gaierror) -> tuple[DnsErrorKind, str]:
    """getaddrinfo's error codes (POSIX ``netdb.h``) → our kinds, in words."""
    code = exc.errno
    text = exc.strerror or str(exc)
    if code == socket.EAI_NONAME:
        return "nxdomain", f"name not found (EAI_NONAME: {text})"
    if code == getattr(socket, "EAI_NODATA", None):
        # glibc: the name exists and has no address (DNS NODATA, or a hosts-less name).
        return "nodata", f"the name has no address (EAI_NODATA: {text})"
    if code == socket.EAI_AGAIN:
        return (
            "temporary",
            f"temporary failure in name resolution (EAI_AGAIN: {text}); "
            "asking again later may succeed",
        )
    if code == socket.EAI_FAIL:
        return "error", f"non-recoverable failure in name resolution (EAI_FAIL: {text})"
    return "error", f"getaddrinfo failed: {text}"


def _normal_address(address: str) -> str | None:
    """The address in ``ipaddress`` normal form, so answers compare and sort as text;
    None for anything that is not an IP address."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    return str(parsed)


_Outcome = list[tuple[int, str]] | BaseException


class SystemAsker:
    """Answers A and AAAA queries through an :data:`AddressLookup` (getaddrinfo).

    The A and AAAA queries of one name share one lookup (see
    :func:`getaddrinfo_addresses`); each answer keeps the addresses of its family, in the
    name service's order, without repeats.
    """

    def __init__(
        self,
        timeout: float,
        lookup: AddressLookup = getaddrinfo_addresses,
        description: str | None = None,
    ) -> None:
        self._timeout = timeout
        self._lookup = lookup
        self._description = description
        self._pending: dict[str, asyncio.Future[_Outcome]] = {}

    @property
    def description(self) -> str:
        """Which name service answers, read from nsswitch.conf when first needed."""
        if self._description is None:
            self._description = describe_system_resolver(_read_nsswitch())
        return self._description

    def _start(self, name: str) -> asyncio.Future[_Outcome]:
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[_Outcome] = loop.create_future()

        def settle(value: _Outcome) -> None:
            if not outcome.done():
                outcome.set_result(value)

        def work() -> None:
            value: _Outcome
            try:
                value = list(self._lookup(name))
            except Exception as exc:  # handed over as evidence, not raised in a thread
                value = exc
            # A RuntimeError: the loop closed while the lookup hung; nobody waits for it.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, value)

        threading.Thread(target=work, name=f"getaddrinfo {name}", daemon=True).start()
        return outcome

    async def __call__(self, query: DnsQuery) -> DnsAnswer:
        if query.rdtype not in ("A", "AAAA"):
            raise ValueError(f"{query}: the system resolver answers A and AAAA only")
        loop = asyncio.get_running_loop()
        started = loop.time()
        server = self.description
        pending = self._pending.get(query.name)
        if pending is None:
            pending = self._pending[query.name] = self._start(query.name)

        def failed(kind: DnsErrorKind, error: str) -> DnsAnswer:
            elapsed = (loop.time() - started) * 1000
            return DnsAnswer(
                query,
                server=server,
                elapsed_ms=elapsed,
                error_kind=kind,
                error=error,
                source="system",
            )

        try:
            # Shielded: the other family's query waits on the same lookup.
            async with asyncio.timeout(self._timeout):
                outcome = await asyncio.shield(pending)
        except TimeoutError:
            return failed(
                "timeout",
                f"no answer within {self._timeout:g} s; the lookup was abandoned "
                "(getaddrinfo cannot be cancelled)",
            )
        if isinstance(outcome, socket.gaierror):
            return failed(*_gai_failure(outcome))
        if isinstance(outcome, BaseException):
            return failed("error", f"getaddrinfo failed: {type(outcome).__name__}: {outcome}")
        family = socket.AF_INET if query.rdtype == "A" else socket.AF_INET6
        found = (_normal_address(address) for kind, address in outcome if kind == family)
        records = tuple(dict.fromkeys(address for address in found if address is not None))
        elapsed = (loop.time() - started) * 1000
        if not records:
            return DnsAnswer(
                query, server=server, elapsed_ms=elapsed, error_kind="nodata", source="system"
            )
        return DnsAnswer(query, records=records, server=server, elapsed_ms=elapsed, source="system")
