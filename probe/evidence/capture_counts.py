"""The named count every part of a capture audit's evidence lists things by (its own
module, so each analysis's evidence module can use it without importing the whole)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Count"]


@dataclass(frozen=True, slots=True)
class Count:
    """One named count (a method, a status code, a reason)."""

    name: str
    count: int
