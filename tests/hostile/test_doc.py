"""docs/hostile-peers.md lists every hostile behaviour the tests run, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from tests.hostile.call_cases import CALL_CASES, CallCase
from tests.hostile.cases import CASES, Case

DOC = Path(__file__).resolve().parents[2] / "docs" / "hostile-peers.md"


def behaviour_tables() -> str:
    """The doc from its first table of behaviours on (the deadline table comes before)."""
    text = DOC.read_text()
    return text[text.index("## OPTIONS") :]


def documented_ids() -> set[str]:
    """The ids in the first column of the doc's tables of behaviours."""
    return set(re.findall(r"^\| `([a-z0-9.-]+)` \|", behaviour_tables(), flags=re.MULTILINE))


def test_every_behaviour_is_documented_and_nothing_else() -> None:
    tested = {case.id for case in CASES} | {case.id for case in CALL_CASES}
    documented = documented_ids()
    assert tested - documented == set(), "add these to docs/hostile-peers.md"
    assert documented - tested == set(), "docs/hostile-peers.md lists behaviours never tested"


def test_each_documented_row_names_its_check_and_status() -> None:
    text = behaviour_tables()
    cases: list[Case | CallCase] = [*CASES, *CALL_CASES]
    for case in cases:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{case.id}` |"))
        assert f"| {case.check} | {case.status.value} |" in row, row


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES] + [case.id for case in CALL_CASES]
    assert len(ids) == len(set(ids))
