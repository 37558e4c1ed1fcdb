"""DTLS on a media port (RFC 5764: DTLS-SRTP), summarised as its records go by: each
record's type and version (RFC 6347 §4.1), the cleartext handshake messages, the SRTP
protection profiles offered and chosen (RFC 5764 §4.1.1), and whether records of a
later epoch went both ways (the handshake completed)."""

from __future__ import annotations

from collections import Counter

from probe.evidence.capture_counts import Count
from probe.evidence.capture_media import DtlsSeen
from probe.pcap.rtp import DTLS_CONTENT_TYPES, HANDSHAKE_TYPES, dtls_hello, dtls_records

__all__ = ["DtlsState"]

_MAX_VERSIONS = 4


class DtlsState:
    """The DTLS of one flow."""

    __slots__ = ("alerts", "chosen", "handshake", "later_epoch", "offered", "records", "versions")

    def __init__(self) -> None:
        self.records: Counter[str] = Counter()
        self.handshake: Counter[str] = Counter()
        self.versions: set[str] = set()
        self.offered: tuple[str, ...] = ()
        self.chosen: str | None = None
        self.alerts = 0
        self.later_epoch = [False, False]

    def add(self, payload: bytes, direction: int, *, unified: bool) -> bool:
        """One datagram's records; False when it holds none (`unified`: read DTLS 1.3's
        unified header too, once a handshake was seen)."""
        records = dtls_records(payload, unified=unified)
        if records is None:
            return False
        for record in records:
            self.records[DTLS_CONTENT_TYPES.get(record.content_type, "other")] += 1
            if len(self.versions) < _MAX_VERSIONS:
                self.versions.add(record.version)
            if record.epoch:
                self.later_epoch[direction] = True
            if record.content_type == 21:
                self.alerts += 1
            if record.content_type == 22 and not record.epoch:
                self._handshake(record.body)
        return True

    def _handshake(self, body: bytes) -> None:
        """Each handshake message of a cleartext record (RFC 6347 §4.2.2: a 12-byte
        header, then the fragment)."""
        offset = 0
        while offset + 12 <= len(body):
            fragment = int.from_bytes(body[offset + 9 : offset + 12], "big")
            message = body[offset : offset + 12 + fragment]
            self.handshake[HANDSHAKE_TYPES.get(message[0], "other")] += 1
            hello = dtls_hello(message)
            if hello is not None and hello.kind == "client_hello" and hello.srtp_profiles:
                self.offered = hello.srtp_profiles
            elif hello is not None and hello.srtp_profiles:
                self.chosen = hello.srtp_profiles[0]
            offset += 12 + fragment

    def seen(self) -> DtlsSeen:
        return DtlsSeen(
            records=tuple(Count(name, count) for name, count in self.records.most_common()),
            handshake=tuple(Count(name, count) for name, count in self.handshake.most_common()),
            versions=tuple(sorted(self.versions)),
            offered_profiles=self.offered,
            chosen_profile=self.chosen,
            alerts=self.alerts,
            encrypted_both_ways=all(self.later_epoch),
        )
