"""Reading expositions in tests: `promtool check metrics` (Debian's prometheus package)
and the samples of the text format."""

from __future__ import annotations

import subprocess

from prometheus_client.parser import text_string_to_metric_families

from tests.peers.common import require_binary

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def promtool_finds_no_problem(text: str) -> None:
    """`promtool check metrics` reads the exposition and reports nothing."""
    promtool = require_binary("promtool")
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", ""), text


def parsed(text: str) -> Series:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def one(series: Series, name: str, **labels: str) -> float:
    found = [v for (n, ls), v in series.items() if n == name and set(labels.items()) <= ls]
    assert len(found) == 1, (name, labels, found)
    return found[0]
