"""The deadline of each phase of a probe, and how the command line names them.

One `--timeout` sets them all; `--deadline PHASE=SECONDS` changes one. Each is a separate
wait, so a slow phase is named by the evidence rather than hidden in a total:

- `dns`: each DNS query of the RFC 3263 location;
- `connect`: the TCP connection (or the UDP socket);
- `handshake`: the TLS handshake;
- `first_byte`: from the request sent to the first byte of any answer;
- `message`: from the first byte of a message to its last (a server dripping bytes or
  stalling mid-message fails here, not at the end of the transaction);
- `transaction`: from the request sent to its final response (RFC 3261 §17.1.2.2 Timer F
  plays this part for non-INVITE requests; a `100 Trying` does not extend it);
- `pong`: with `--keepalive`, from the ping sent to its pong (RFC 5626 §4.4.1 gives a
  client 10 seconds before it takes the flow for failed).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from probe.errors import ProbeError

PHASES = ("dns", "connect", "handshake", "first_byte", "message", "transaction", "pong")


class DeadlineError(ProbeError, ValueError):
    """A `--deadline` the user typed that cannot be used."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds allowed for each phase."""

    dns: float = 5.0
    connect: float = 5.0
    handshake: float = 5.0
    first_byte: float = 5.0
    message: float = 5.0
    transaction: float = 5.0
    pong: float = 5.0

    @classmethod
    def uniform(cls, seconds: float) -> Deadlines:
        return cls(**{phase: seconds for phase in PHASES})

    def with_overrides(self, overrides: dict[str, float]) -> Deadlines:
        unknown = sorted(set(overrides) - set(PHASES))
        if unknown:
            raise DeadlineError(f"unknown phase {unknown[0]!r} (phases: {', '.join(PHASES)})")
        return replace(self, **overrides)

    def longest(self) -> float:
        return max(float(getattr(self, f.name)) for f in fields(self))


def parse_deadline(text: str) -> tuple[str, float]:
    """`PHASE=SECONDS` → (phase, seconds)."""
    phase, sep, value = text.partition("=")
    phase = phase.strip().replace("-", "_")
    if not sep:
        raise DeadlineError(f"{text!r}: expected PHASE=SECONDS, e.g. handshake=2")
    if phase not in PHASES:
        raise DeadlineError(f"{text!r}: unknown phase {phase!r} (phases: {', '.join(PHASES)})")
    try:
        seconds = float(value)
    except ValueError:
        raise DeadlineError(f"{text!r}: {value!r} is not a number of seconds") from None
    if not 0.01 <= seconds <= 3600:
        raise DeadlineError(f"{text!r}: seconds must be between 0.01 and 3600")
    return phase, seconds
