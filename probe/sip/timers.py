"""The transaction timers (RFC 3261 §17.1.1.1), apart from the transactions: probe
settings name them, while only UDP exchanges and test calls run a transaction."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SipBuildError


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """§17.1.1.1 timer values in seconds (defaults from §17, Table 4)."""

    t1: float = 0.5  # RTT estimate; base of Timer E and of Timer F = 64*T1
    t2: float = 4.0  # cap on the non-INVITE retransmit interval
    t4: float = 5.0  # maximum time a message stays in the network; Timer K

    def __post_init__(self) -> None:
        for name in ("t1", "t2", "t4"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value > 0:
                raise SipBuildError(f"TimerConfig.{name} must be a positive number, got {value!r}")
