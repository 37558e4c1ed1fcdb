"""The rule that turns a missing peer into a failure under CI, whatever CI calls itself."""

from __future__ import annotations

import pytest

from tests.peers.common import under_ci


@pytest.mark.parametrize("value", ["true", "1", "yes", "True", "on", "github-actions"])
def test_any_ci_value_means_ci(value: str) -> None:
    assert under_ci(value)


@pytest.mark.parametrize("value", [None, "", "0", "false", "FALSE", "no", "off", " "])
def test_an_empty_or_negative_ci_value_does_not(value: str | None) -> None:
    assert not under_ci(value)
