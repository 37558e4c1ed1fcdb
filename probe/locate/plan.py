"""RFC 3263 server location as a sans-I/O planner.

Modelled on dnspython's ``resolver._Resolution``: the planner holds all of the "business
logic" and never touches the network or a clock.  A driver asks :meth:`next_query` what
to look up, performs the lookup however it likes, and hands the outcome back through
:meth:`receive`; when nothing is left to ask, :meth:`result` is the ordered plan.

The walk (RFC 3263 §4.1 transport, §4.2 port and address; RFC 2782 SRV order)::

    IP literal ─────────────────────────────────────────────► one target, no DNS
    name + explicit port ───────────────────────────────────► A/AAAA of the name
    name + transport=… ──► SRV _sip(s)._<proto>.<name> ─────► A/AAAA of each SRV target
                           └ no SRV: A/AAAA of the name, default port
    name ──► NAPTR ──► usable record ──► SRV <replacement> ─► A/AAAA of each SRV target
             │         └ its SRV is empty: next NAPTR record
             └ none: SRV _sips._tcp, _sip._tcp, _sip._udp (first that exists)
                     └ none: A/AAAA of the name, UDP 5060 (sip:) / TLS 5061 (sips:)

The address queries of one step are independent, so they are all offered at once: a
driver may ask them concurrently and answer them in any order.  :meth:`next_query`
returning ``None`` therefore means "nothing to ask until outstanding answers arrive";
a driver that answers each query before asking the next sees ``None`` only at the end.
"""

from __future__ import annotations

import ipaddress
import random
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from probe.errors import ProbeError
from probe.evidence.model import DEFAULT_PORTS, Transport
from probe.locate.pins import Pin, PinTable, find_pin
from probe.sip.errors import SipParseError
from probe.sip.uri import SipUri, parse_host

from .order import order_srv, usable_naptrs
from .records import (
    DnsAnswer,
    DnsQuery,
    LocatedTarget,
    LocateResult,
    NaptrRecord,
    RecordType,
    SrvRecord,
    normalise_name,
)

__all__ = ["MAX_ADDRESS_NAMES", "MAX_NAPTR_FOLLOWED", "LocatePlanner"]

MAX_NAPTR_FOLLOWED = 8
"""Usable NAPTR records followed at most.  RFC 3263 defines three services a client here
can use; a zone offering more than a handful is broken, and each costs an SRV query."""

MAX_ADDRESS_NAMES = 32
"""Distinct SRV target names whose addresses are looked up (two queries each).  Real
trunks publish a few; the bound keeps a hostile zone from making a plan of thousands."""

# A server that does not answer at all will not answer the next question either: going
# on would only multiply the wait by the number of remaining steps.
_UNREACHABLE = frozenset({"timeout", "no_nameservers"})

_NAME: dict[Transport, str] = {"tls": "TLS", "tcp": "TCP", "udp": "UDP", "ws": "WS", "wss": "WSS"}
_PARAM_TRANSPORT: dict[str, Transport] = {
    "tls": "tls",
    "tcp": "tcp",
    "udp": "udp",
    "ws": "ws",
    "wss": "wss",
}

# RFC 3263 §4.2 SRV names per transport: `_sips` for a secure transport, `_sip` for the
# others, then the protocol label. "_sips._tcp" is TLS over TCP; for WebSocket the label
# is the protocol IANA's NAPTR services registry gives both D2W services (RFC 7118): WS.
_SRV_PREFIX: dict[Transport, str] = {
    "tls": "_sips._tcp",
    "tcp": "_sip._tcp",
    "udp": "_sip._udp",
    "ws": "_sip._ws",
    "wss": "_sips._ws",
}
_WSS_SRV_SPELLING = "_sips._wss"
"""The SRV name some deployments publish secure WebSocket under instead of `_sips._ws`:
tried after it, and said when it is the one that exists."""

# §4.1: a SIPS URI only ever uses TLS; a SIP URI may use any of the three, most secure
# first (the order RFC 3263 §4.1 lists them for a client that prefers TLS).
_SIPS_FALLBACK: tuple[Transport, ...] = ("tls",)
_SIP_FALLBACK: tuple[Transport, ...] = ("tls", "tcp", "udp")

# AAAA before A: see LocatePlanner._addresses_of.
_ADDRESS_TYPES: tuple[RecordType, ...] = ("AAAA", "A")

AddressFamily = Literal["ipv4", "ipv6"]
"""`-4` / `-6`: only addresses of one family are looked up and become targets."""
_FAMILY_TYPES: dict[AddressFamily, tuple[RecordType, ...]] = {"ipv4": ("A",), "ipv6": ("AAAA",)}
_FAMILY_NAME: dict[AddressFamily, str] = {"ipv4": "IPv4 (-4)", "ipv6": "IPv6 (-6)"}


def family_of(address: str) -> AddressFamily:
    """The family of an IP address literal (bare, as targets hold them)."""
    return "ipv6" if ipaddress.ip_address(address).version == 6 else "ipv4"


Phase = Literal["naptr", "srv", "address", "done"]


def _percent(share: float) -> str:
    text = f"{share:.0%}"
    return "<1%" if text == "0%" and share > 0 else text


class _Unusable(ProbeError):
    """The URI cannot be located at all; ``problem`` is the sentence to report."""

    def __init__(self, problem: str, reason: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _SrvStep:
    """One SRV name to try, with what led to it."""

    name: str
    transport: Transport
    via: tuple[str, ...]
    reason: str
    from_naptr: bool
    note: str | None = None
    """Said as a problem when this SRV name is the one that has records."""


@dataclass(frozen=True, slots=True)
class _Slot:
    """A name (and port) whose addresses become targets, in plan order."""

    name: str
    port: int
    transport: Transport
    via: tuple[str, ...]
    srv: SrvRecord | None = None
    share: float | None = None


class LocatePlanner:
    """Plans the RFC 3263 lookups for ``uri`` and orders what they return.

    ``pins`` (``--resolve NAME:PORT:ADDRESS``) replace the A/AAAA step for that name and
    port; NAPTR and SRV still come from DNS.  ``rng`` makes the RFC 2782 weighted choice
    reproducible.  ``family`` asks only A (ipv4) or only AAAA (ipv6), and leaves out, with
    a problem that says so, a pinned address or an IP literal of the other family.
    """

    def __init__(
        self,
        uri: SipUri,
        *,
        pins: Sequence[Pin] = (),
        rng: random.Random,
        family: AddressFamily | None = None,
    ) -> None:
        self._uri = uri
        self._family = family
        self._address_types = _ADDRESS_TYPES if family is None else _FAMILY_TYPES[family]
        self._pins = pins if isinstance(pins, PinTable) else PinTable(pins)
        self._rng = rng
        self._sips = uri.scheme == "sips"
        self._answers: list[DnsAnswer] = []
        self._problems: list[str] = []
        self._targets: list[LocatedTarget] = []
        self._queue: deque[DnsQuery] = deque()
        self._outstanding: set[DnsQuery] = set()
        self._asked: set[DnsQuery] = set()
        self._phase: Phase = "done"
        self._transport_reason = ""
        self._srv_steps: deque[_SrvStep] = deque()
        self._srv_current: _SrvStep | None = None
        self._refused: set[Transport] = set()
        self._fallback: Transport = "tls" if self._sips else "udp"
        self._slots: list[_Slot] = []
        self._address_answers: dict[DnsQuery, DnsAnswer] = {}
        self._lookup_host = uri.host
        self._naptr_seen = False
        self._via_prefix: tuple[str, ...] = ()
        try:
            self._start()
        except _Unusable as exc:
            self._problem(exc.problem)
            self._transport_reason = exc.reason
            self._phase = "done"

    # --- driver interface --------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the plan is complete and :meth:`result` may be called."""
        return self._phase == "done"

    def next_query(self) -> DnsQuery | None:
        """The next question to ask, or ``None`` (done, or waiting for answers)."""
        if not self._queue:
            return None
        query = self._queue.popleft()
        self._outstanding.add(query)
        return query

    def receive(self, answer: DnsAnswer) -> None:
        """Feed the outcome of a query returned by :meth:`next_query`."""
        if answer.query not in self._outstanding:
            raise ValueError(f"{answer.query} was not asked, or was already answered")
        self._outstanding.discard(answer.query)
        self._answers.append(answer)
        if self._phase == "naptr":
            self._on_naptr(answer)
        elif self._phase == "srv":
            self._on_srv(answer)
        else:
            self._address_answers[answer.query] = answer
            if answer.source == "dns":
                # The system resolver's failures are said once per name, with what it
                # found, in _addresses_of: its A and AAAA come from one lookup.
                self._failed(answer, may_stop=False)
            if not self._outstanding and not self._queue:
                self._build_targets()

    def result(self) -> LocateResult:
        """The plan; only once :attr:`done`."""
        if not self.done:
            raise RuntimeError("LocatePlanner.result() called before the plan is complete")
        return LocateResult(
            # Evidence gets printed and saved: never the URI's password (RFC 3261 §19.1.1
            # deprecates it, but someone will still type one).
            # Interned, as the URIs read from --targets: the same text, held once.
            uri=sys.intern(str(replace(self._uri, password=None))),
            transport_reason=self._transport_reason,
            targets=tuple(self._targets),
            answers=tuple(self._answers),
            problems=tuple(self._problems),
        )

    # --- start: RFC 3263 §4.1 ---------------------------------------------------------

    def _start(self) -> None:
        host, kind = self._uri.host, self._uri.host_kind
        maddr = self._uri.param("maddr")
        if maddr is not None:
            # RFC 3263 §4: with maddr the TARGET is maddr; the identity stays the host.
            try:
                host, kind = parse_host(maddr)
            except SipParseError as exc:
                raise _Unusable(f"maddr {maddr!r} is not a host: {exc}", "unknown") from None
            self._via_prefix = (f"maddr {host}",)
        self._lookup_host = host = normalise_name(host)
        via = self._via_prefix

        transport = self._explicit_transport()
        numeric = kind != "name"
        if transport is None and (numeric or self._uri.port is not None):
            # §4.1: no transport parameter and a numeric TARGET or an explicit port:
            # UDP for sip:, TLS (over TCP) for sips:; no NAPTR.
            transport = self._fallback
            why = "IP literal" if numeric else f"explicit port {self._uri.port}"
            self._transport_reason = (
                f"{why} in a {self._uri.scheme}: URI → {_NAME[transport]} (RFC 3263 §4.1)"
            )

        if numeric:
            assert transport is not None
            if not self._in_family(str(ipaddress.ip_address(host)), "IP literal"):
                return
            self._targets.append(
                LocatedTarget(
                    host=self._uri.host,
                    address=str(ipaddress.ip_address(host)),
                    port=DEFAULT_PORTS[transport] if self._uri.port is None else self._uri.port,
                    transport=transport,
                    via=(*via, "IP literal"),
                )
            )
        elif self._uri.port is not None:
            assert transport is not None
            # Interned, as the other plan texts below: a sweep plans thousands of URIs
            # with the same few explanations.
            note = sys.intern(
                f"explicit port {self._uri.port}: A/AAAA only, no NAPTR/SRV (RFC 3263 §4.2)"
            )
            self._begin_addresses([_Slot(host, self._uri.port, transport, (*via, note))])
        elif transport is not None:
            # §4.2: a transport but no port: the SRV of that transport only.
            self._fallback = transport
            self._srv_steps.append(self._standard_step(transport))
            if transport == "wss":
                self._srv_steps.append(self._wss_spelling_step())
            self._next_srv()
        else:
            self._phase = "naptr"
            self._ask(DnsQuery(host, "NAPTR"))

    def _explicit_transport(self) -> Transport | None:
        """The transport a ``transport`` parameter fixes, or None without one."""
        param = self._uri.transport
        if param is None:
            return None
        where = f"transport={param}"
        if self._sips and param == "udp":
            # RFC 3261 §26.2.2: SIPS means TLS on every hop, which UDP cannot carry.
            raise _Unusable(
                "a sips: URI cannot use transport=udp: SIPS needs TLS over TCP",
                f"{where} in a sips: URI (impossible)",
            )
        chosen = _PARAM_TRANSPORT.get(param)
        if chosen is None:
            raise _Unusable(
                f"transport={param} is not supported (only tls, tcp, udp, ws and wss)",
                f"{where} (not supported)",
            )
        # RFC 3263 §4.1: a SIPS URI with transport=tcp means TLS over TCP; RFC 7118
        # §5.2.2: with transport=ws it means WebSocket over TLS (WSS).
        transport: Transport = chosen
        extra = ""
        if self._sips and chosen == "tcp":
            transport, extra = "tls", " (TLS, as the URI is sips:)"
        elif self._sips and chosen == "ws":
            transport, extra = "wss", " (WSS, as the URI is sips:)"
        self._transport_reason = sys.intern(f"{where} in the URI{extra} (RFC 3263 §4.1)")
        return transport

    def _standard_step(self, transport: Transport) -> _SrvStep:
        name = f"{_SRV_PREFIX[transport]}.{self._lookup_host}"
        reason = f"SRV {name} exists → {_NAME[transport]} (RFC 3263 §4.1)"
        return _SrvStep(name, transport, self._via_prefix, reason, from_naptr=False)

    def _wss_spelling_step(self) -> _SrvStep:
        name = f"{_WSS_SRV_SPELLING}.{self._lookup_host}"
        derived = f"{_SRV_PREFIX['wss']}.{self._lookup_host}"
        reason = f"SRV {name} exists → WSS ({derived}, the name RFC 3263 §4.2 derives, has none)"
        note = (
            f"the WSS service is published as SRV {name}, not {derived} (RFC 3263 §4.2 "
            "derives the service label from the scheme, the protocol label from the "
            "transport, WS for both RFC 7118 NAPTR services): clients that derive the name "
            "will not find it"
        )
        return _SrvStep(name, "wss", self._via_prefix, reason, from_naptr=False, note=note)

    # --- NAPTR (RFC 3263 §4.1, RFC 3403) ---------------------------------------------

    def _on_naptr(self, answer: DnsAnswer) -> None:
        if self._failed(answer):
            return
        records = [r for r in answer.records if isinstance(r, NaptrRecord)]
        self._naptr_seen = bool(records)
        usable, ignored = usable_naptrs(records, sips=self._sips)
        if records and not usable:
            self._problem(
                f"NAPTR {answer.query.name} has no record this client can use "
                f"({'; '.join(ignored)})"
            )
        if len(usable) > MAX_NAPTR_FOLLOWED:
            self._problem(
                f"NAPTR {answer.query.name} has {len(usable)} usable records; "
                f"only the first {MAX_NAPTR_FOLLOWED} are followed"
            )
        prefix = (*self._via_prefix, *self._cname_line(answer))
        for choice in usable[:MAX_NAPTR_FOLLOWED]:
            r = choice.record
            line = f'NAPTR {r.order} {r.preference} "{r.flags}" {r.service} → {r.replacement}'
            reason = (
                f"NAPTR {r.service.upper()} (order {r.order}, preference {r.preference}) "
                f"→ {_NAME[choice.transport]} (RFC 3263 §4.1)"
            )
            self._srv_steps.append(
                _SrvStep(r.replacement, choice.transport, (*prefix, line), reason, True)
            )
        # §4.1: without a usable NAPTR the client queries the SRV names of the transports
        # it supports.  We also try them after NAPTR records whose SRV names are empty: a
        # zone with a mistyped replacement but correct SRV records still gets a plan (and
        # the mistake is reported).  Names already asked are not asked again.
        for transport in _SIPS_FALLBACK if self._sips else _SIP_FALLBACK:
            self._srv_steps.append(self._standard_step(transport))
        self._next_srv()

    # --- SRV (RFC 3263 §4.2, RFC 2782) ----------------------------------------------

    def _next_srv(self) -> None:
        self._phase = "srv"
        while self._srv_steps:
            step = self._srv_steps.popleft()
            query = DnsQuery(step.name, "SRV")
            if query in self._asked:
                continue
            self._srv_current = step
            self._ask(query)
            return
        self._srv_current = None
        self._address_fallback()

    def _on_srv(self, answer: DnsAnswer) -> None:
        step = self._srv_current
        assert step is not None
        if self._failed(answer):
            return
        records = [r for r in answer.records if isinstance(r, SrvRecord)]
        usable = [r for r in records if r.target != "."]
        if records and not usable:
            # RFC 2782: a target of "." means "decidedly not available at this domain";
            # the next choice (another service) may still exist.
            self._problem(f"SRV {step.name} points to '.' (service not offered)")
            self._refused.add(step.transport)
            self._next_srv()
            return
        if len(usable) < len(records):
            self._problem(f"SRV {step.name} mixes '.' with real targets; '.' ignored")
        if not usable:
            if step.from_naptr and answer.error_kind in (None, "nxdomain", "nodata"):
                self._problem(
                    f"NAPTR points to {step.name}, which has no SRV records "
                    f"({answer.outcome}); trying the next choice"
                )
            self._next_srv()
            return
        if step.note is not None:
            self._problem(step.note)
        # A transport parameter already explains the transport; otherwise this SRV does.
        self._transport_reason = self._transport_reason or step.reason
        via = (*step.via, *self._cname_line(answer))
        slots: list[_Slot] = []
        for ordered in order_srv(usable, self._rng):
            r = ordered.record
            line = (
                f"SRV {r.priority} {r.weight} {r.port} {r.target} "
                f"({_percent(ordered.share)} of priority {r.priority})"
            )
            slots.append(_Slot(r.target, r.port, step.transport, (*via, line), r, ordered.share))
        self._begin_addresses(slots)

    def _address_fallback(self) -> None:
        """RFC 3263 §4.2: no SRV records: the name's A/AAAA, default port."""
        transport = self._fallback
        if transport in self._refused:
            # The SRV of this very transport said "not offered": no A/AAAA guess.
            self._transport_reason = f"{_NAME[transport]} is not offered (SRV target '.')"
            self._phase = "done"
            return
        port = DEFAULT_PORTS[transport]
        if not self._transport_reason:
            found = "no SRV records behind the NAPTR" if self._naptr_seen else "no NAPTR or SRV"
            self._transport_reason = (
                f"{found} records → {_NAME[transport]}, the default for "
                f"{self._uri.scheme}: (RFC 3263 §4.1)"
            )
        # RFC 7118 names no SIP port for WebSocket: the WebSocket one (RFC 6455 §3).
        source = "RFC 6455 §3" if transport in ("ws", "wss") else "§4.2"
        note = f"no SRV records: A/AAAA of {self._lookup_host}, default port {port} ({source})"
        self._begin_addresses(
            [_Slot(self._lookup_host, port, transport, (*self._via_prefix, note))]
        )

    # --- addresses (RFC 3263 §4.2) ------------------------------------------------

    def _begin_addresses(self, slots: list[_Slot]) -> None:
        self._phase = "address"
        names = list(dict.fromkeys(slot.name for slot in slots))
        if len(names) > MAX_ADDRESS_NAMES:
            self._problem(
                f"{len(names)} SRV targets; addresses are looked up for the first "
                f"{MAX_ADDRESS_NAMES} only"
            )
            kept = set(names[:MAX_ADDRESS_NAMES])
            slots = [slot for slot in slots if slot.name in kept]
        self._slots = slots
        for slot in slots:
            if find_pin(self._pins, slot.name, slot.port) is not None:
                continue
            for rdtype in self._address_types:
                query = DnsQuery(slot.name, rdtype)
                if query not in self._asked:
                    self._ask(query)
        if not self._queue:
            self._build_targets()

    def _build_targets(self) -> None:
        for slot in self._slots:
            pin = find_pin(self._pins, slot.name, slot.port)
            found: list[tuple[str, tuple[str, ...]]]
            if pin is not None:
                found = [(pin.address, (sys.intern(f"pinned by --resolve {pin}"),))]
                if not self._in_family(pin.address, f"--resolve {pin}"):
                    found = []
            else:
                found = self._addresses_of(slot.name)
            for address, lines in found:
                self._targets.append(
                    LocatedTarget(
                        host=self._uri.host,
                        address=address,
                        port=slot.port,
                        transport=slot.transport,
                        srv_target=slot.srv.target if slot.srv else None,
                        priority=slot.srv.priority if slot.srv else None,
                        weight=slot.srv.weight if slot.srv else None,
                        share=slot.share,
                        via=(*slot.via, *lines),
                    )
                )
        self._phase = "done"

    def _addresses_of(self, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """Addresses of ``name``, each with its derivation lines.

        IPv6 first, as RFC 6724 §6 (the default address selection policy) and RFC 8305
        §4 (Happy Eyeballs) order a dual-stack host's addresses; within a family sorted
        numerically, so the plan does not depend on the order the server listed them.
        """
        found: list[tuple[str, tuple[str, ...]]] = []
        answers = [self._address_answers.get(DnsQuery(name, t)) for t in self._address_types]
        for answer in answers:
            if answer is None:
                continue
            lines = self._cname_line(answer)
            addresses = sorted({str(r) for r in answer.records}, key=ipaddress.ip_address)
            source = " (system resolver)" if answer.source == "system" else ""
            found.extend(
                (address, (*lines, f"{answer.query.rdtype} {address}{source}"))
                for address in addresses
            )
        if not found:
            asked = [answer for answer in answers if answer is not None]
            kinds = {answer.error_kind for answer in asked}
            system = [answer for answer in asked if answer.source == "system"]
            if system:
                self._problem(self._not_found_by_system(name, system))
            elif kinds == {"nxdomain"}:
                self._problem(f"NXDOMAIN for {name}")
            elif kinds <= {None, "nxdomain", "nodata"}:
                self._problem(f"no {self._asked_types} for {name}")
            else:
                self._problem(f"no {self._asked_types} for {name} (the lookups failed)")
        return found

    @staticmethod
    def _not_found_by_system(name: str, answers: list[DnsAnswer]) -> str:
        """One sentence for a name the system resolver gave no address for: getaddrinfo
        has no NXDOMAIN, only "name not found" (EAI_NONAME) and its other errors."""
        failures = [a for a in answers if a.error_kind not in (None, "nxdomain", "nodata")]
        if failures:
            why = failures[0].error or failures[0].outcome
        elif {answer.error_kind for answer in answers} == {"nxdomain"}:
            why = "name not found"
        else:
            why = "no address"
        return f"{name}: {why}, according to the {answers[0].server}"

    # --- bookkeeping ------------------------------------------------------------------

    @property
    def _asked_types(self) -> str:
        return "/".join(reversed(self._address_types))

    def _in_family(self, address: str, what: str) -> bool:
        """Whether `address` may become a target; if not, the problem says why."""
        if self._family is None or family_of(address) == self._family:
            return True
        self._problem(f"{what}: {address} left out: only {_FAMILY_NAME[self._family]} asked")
        return False

    def _ask(self, query: DnsQuery) -> None:
        self._asked.add(query)
        self._queue.append(query)

    @staticmethod
    def _cname_line(answer: DnsAnswer) -> tuple[str, ...]:
        canonical = answer.canonical_name
        if canonical and canonical != answer.query.name:
            return (f"CNAME {answer.query.name} → {canonical}",)
        return ()

    def _failed(self, answer: DnsAnswer, *, may_stop: bool = True) -> bool:
        """Note a server failure; True when the walk must stop (server unreachable)."""
        if answer.error_kind in (None, "nxdomain", "nodata"):
            return False
        detail = f": {answer.error}" if answer.error else ""
        if may_stop and answer.error_kind in _UNREACHABLE:
            self._problem(
                f"{answer.outcome} for {answer.query}{detail}; the RFC 3263 walk stops here"
            )
            if not self._transport_reason:
                self._transport_reason = "unknown: DNS did not answer"
            self._queue.clear()
            self._phase = "done"
            return True
        self._problem(f"{answer.outcome} for {answer.query}{detail}")
        return False

    def _problem(self, text: str) -> None:
        if text not in self._problems:
            self._problems.append(text)
