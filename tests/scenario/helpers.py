"""Small builders for scenario tests: TOML text in, a Scenario or its problems out."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from probe.scenario import Scenario, ScenarioError, parse_scenario

BASE = """
[trunk]
name = "t"
{trunk}

[[endpoint]]
uri = "sip:a.example.net:5061;transport=tls"
region = "a"
{first}

[[endpoint]]
uri = "sip:b.example.net:5061;transport=tls"
region = "b"
{second}
"""


def toml(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def two_endpoints(trunk: str = "", first: str = "", second: str = "", tail: str = "") -> str:
    """A two-endpoint scenario with extra lines in [trunk], each [[endpoint]], and after."""
    return BASE.format(trunk=trunk, first=first, second=second) + toml(tail)


def load_text(text: str, base_dir: Path | None = None) -> Scenario:
    return parse_scenario(toml(text), source="t.toml", base_dir=base_dir)


def problems(text: str) -> list[str]:
    """Every problem line of a scenario that must not load."""
    with pytest.raises(ScenarioError) as caught:
        load_text(text)
    return str(caught.value).splitlines()
