"""TLS protocol versions by name, without `ssl`: the judgement compares versions, only
the connection needs the `ssl` module's enumeration (probe.tls.context)."""

from __future__ import annotations

from typing import Literal

TlsVersionName = Literal["1.0", "1.1", "1.2", "1.3"]

TLS_WIRE_VERSIONS: dict[str, int] = {"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}
"""`1.2` → 0x0303, the version's number on the wire (RFC 8446 §4.2.1, RFC 5246 §6.2.1):
newer versions compare greater."""
