"""Pure ordering rules: which NAPTR records a SIP client may follow, and in what order
it tries SRV records.

dnspython's ``processing_order()`` does both, but draws from the global ``random``; a
verifier must be able to replay a run (``--seed``) and to say what happens *on average*,
so the selection is done here with an injected ``random.Random`` and every record also
gets its probability of being tried first.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import groupby

from probe.evidence.model import Transport

from .records import NaptrRecord, SrvRecord

__all__ = [
    "NAPTR_SERVICES",
    "NaptrChoice",
    "OrderedSrv",
    "order_srv",
    "srv_shares",
    "usable_naptrs",
]

NAPTR_SERVICES: dict[str, Transport] = {
    "SIPS+D2T": "tls",
    "SIP+D2T": "tcp",
    "SIP+D2U": "udp",
    "SIPS+D2W": "wss",
    "SIP+D2W": "ws",
}
"""The services this client supports: RFC 3263 §4.1's three, and the two WebSocket ones
RFC 7118 §5.3 defines (IANA's SIP NAPTR services registry: protocol WS for both, secure
for ``SIPS``). SCTP (``D2S``) records are discarded like any service we cannot use."""

_SECURE_SERVICES = frozenset({"tls", "wss"})
"""What a SIPS URI may follow (RFC 3263 §4.1: TLS on every hop): the ``SIPS`` services."""

# When two usable NAPTRs tie on order and preference RFC 3403 §4.1 lets the client pick;
# we prefer the more secure transport (plain SIP framing before WebSocket at the same
# security), then the replacement name, so that the plan does not depend on the order
# the server happened to list the records in.
_TRANSPORT_RANK: dict[Transport, int] = {"tls": 0, "wss": 1, "tcp": 2, "ws": 3, "udp": 4}


@dataclass(frozen=True, slots=True)
class NaptrChoice:
    """A NAPTR record the client may follow, with the transport its service names."""

    record: NaptrRecord
    transport: Transport


def usable_naptrs(
    records: Iterable[NaptrRecord], *, sips: bool
) -> tuple[list[NaptrChoice], list[str]]:
    """The records to follow, in order, and one sentence per record discarded.

    RFC 3263 §4.1: discard services the client does not support; for a SIPS URI keep
    only the ``SIPS`` ones (``SIPS+D2T``, ``SIPS+D2W``).  The flag must be "s" (the
    replacement is an SRV name); "a" or "u" terminal records and regexp rewrites are not
    used for SIP.  Order is RFC 3403
    §4.1: ``order`` ascending, then ``preference`` ascending.
    """
    usable: list[NaptrChoice] = []
    ignored: list[str] = []
    for record in records:
        service = record.service.upper()
        transport = NAPTR_SERVICES.get(service)
        if transport is None:
            ignored.append(f"{record.service or '(empty)'}: service not supported")
        elif sips and transport not in _SECURE_SERVICES:
            ignored.append(
                f"{record.service}: a sips: URI needs SIPS+D2T or SIPS+D2W (RFC 3263 §4.1)"
            )
        elif record.flags.lower() != "s":
            ignored.append(f'{record.service}: flags "{record.flags}" instead of "s"')
        elif record.replacement == ".":
            ignored.append(f"{record.service}: no replacement name")
        else:
            usable.append(NaptrChoice(record, transport))
    usable.sort(
        key=lambda c: (
            c.record.order,
            c.record.preference,
            _TRANSPORT_RANK[c.transport],
            c.record.replacement,
        )
    )
    return usable, ignored


@dataclass(frozen=True, slots=True)
class OrderedSrv:
    """An SRV record in try order, with its chance of being first in its priority."""

    record: SrvRecord
    share: float


def _canonical(group: Iterable[SrvRecord]) -> list[SrvRecord]:
    # RFC 2782 lets the list start in any order; fixing it makes a seed reproduce the
    # same plan whatever order the DNS server returned the records in.
    return sorted(group, key=lambda r: (r.target, r.port, r.weight))


def srv_shares(group: Sequence[SrvRecord]) -> list[float]:
    """Probability that each record of one priority is tried first, by :func:`order_srv`.

    - No weight at all: every record alike, ``1/n``.
    - Weights and no zero: ``weight / total`` (RFC 2782).
    - Weights and some zeros: RFC 2782 gives weight-0 records "a very small chance of
      being selected": the draw is one of ``total + 1`` equally likely points and the
      extra point picks among the zeros, so a zero gets ``1 / (zeros * (total + 1))`` and
      a weighted record ``weight / (total + 1)``.
    """
    total = sum(r.weight for r in group)
    if total == 0:
        return [1 / len(group)] * len(group)
    zeros = sum(1 for r in group if r.weight == 0)
    if zeros == 0:
        return [r.weight / total for r in group]
    return [r.weight / (total + 1) if r.weight else 1 / (zeros * (total + 1)) for r in group]


def _pick(weights: Sequence[int], rng: random.Random) -> int:
    """Index of the next record to try, by RFC 2782's running-sum selection."""
    total = sum(weights)
    if total == 0:
        return rng.randrange(len(weights))
    zeros = [i for i, weight in enumerate(weights) if weight == 0]
    # RFC 2782 draws from 0..total and walks a list with the zeros in front, so 0 lands
    # on a zero-weight record.  Without zeros we draw from 1..total: the literal range
    # would hand the first weighted record one extra point it was never given.
    point = rng.randint(0 if zeros else 1, total)
    if point == 0:
        return zeros[rng.randrange(len(zeros))]
    running = 0
    for index, weight in enumerate(weights):
        running += weight
        if weight and running >= point:
            return index
    raise AssertionError("running sum never reached the drawn point")  # pragma: no cover


def order_srv(records: Iterable[SrvRecord], rng: random.Random) -> list[OrderedSrv]:
    """RFC 2782 order: priority ascending; within a priority, weighted random order."""
    ordered: list[OrderedSrv] = []
    by_priority = sorted(records, key=lambda r: r.priority)
    for _priority, group_iter in groupby(by_priority, key=lambda r: r.priority):
        group = _canonical(group_iter)
        remaining = [
            OrderedSrv(record, share)
            for record, share in zip(group, srv_shares(group), strict=True)
        ]
        while remaining:
            ordered.append(remaining.pop(_pick([o.record.weight for o in remaining], rng)))
    return ordered
