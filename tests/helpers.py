"""Small helpers shared by the integration tests."""

from __future__ import annotations

from typing import NoReturn


def no_usage_error(message: str) -> NoReturn:
    """For commands run in-process: a usage error there is a test bug, not a verdict."""
    raise AssertionError(f"unexpected usage error: {message}")


class Refused(Exception):
    """A usage error raised by `refuse`, carrying its message."""


def refuse(message: str) -> NoReturn:
    """For commands run in-process where a usage error is the expected answer."""
    raise Refused(message)
