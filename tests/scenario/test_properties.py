"""Property tests: the scenario loader raises nothing but ScenarioError, whatever it reads.

Three kinds of input: arbitrary bytes in a file (load_scenario), arbitrary and TOML-like
text (parse_scenario), and structured fuzz, TOML that parses into the scenario's shape
(its sections, `[[endpoint]]` tables, known and unknown keys) with values of every TOML
type, so that pydantic's validators and the scenario rules see strange values rather than
syntax errors. Every problem a ScenarioError lists names the file it came from.

The example count comes from SIPPROBE_FUZZ_EXAMPLES (default 300).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe.scenario import Scenario, ScenarioError, load_scenario, parse_scenario
from probe.scenario.model import Endpoint as EndpointSection
from probe.scenario.model import Failover, Invite, Options, Order, Run, Tls, Trunk
from tests.sip.strategies import fuzz_settings

pytestmark = pytest.mark.fuzz

SOURCE = "fuzz.toml"

SECTIONS: dict[str, type[Any]] = {
    "trunk": Trunk,
    "order": Order,
    "tls": Tls,
    "options": Options,
    "invite": Invite,
    "failover": Failover,
    "run": Run,
}


def _keys(model: type[Any]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    # Module-scoped, not tmp_path: hypothesis runs many examples per test function.
    with tempfile.TemporaryDirectory(prefix="sipprobe-scenario-fuzz-") as name:
        yield Path(name)


def assert_named(error: ScenarioError, source: str) -> None:
    assert error.problems, "a ScenarioError without a problem says nothing"
    for line in str(error).splitlines():
        assert line.startswith(source), line


def loads_or_says_why(text: str, base_dir: Path | None = None) -> Scenario | None:
    try:
        scenario = parse_scenario(text, source=SOURCE, base_dir=base_dir)
    except ScenarioError as exc:
        assert_named(exc, SOURCE)
        return None
    assert scenario.endpoints, "a loaded scenario always has an endpoint"
    assert scenario.source == SOURCE
    return scenario


# --- unstructured -------------------------------------------------------------------------

TOML_PIECES = st.sampled_from(
    [
        *"[]{}=,.\"'#\n\t :-+_",
        "[[endpoint]]",
        "[trunk]",
        "[tls]",
        "[invite]",
        "[run]",
        'name = "t"',
        'uri = "sip:a.example.net"',
        "priority = ",
        "1979-05-27T07:32:00Z",
        '"""',
        "'''",
        "true",
        "nan",
        "-inf",
        "0x1F",
        "1e308",
        "password",
        "\\u00e9",
        "\\",
        "é",
        "\x00",
        "\ufeff",
    ]
)
toml_like_text = st.lists(TOML_PIECES, max_size=80).map("".join)


@fuzz_settings()
@given(st.binary(max_size=400))
def test_any_file_content_gives_a_scenario_or_a_scenario_error(folder: Path, data: bytes) -> None:
    path = folder / "fuzz.toml"
    path.write_bytes(data)
    try:
        load_scenario(path, check_files=True)
    except ScenarioError as exc:
        assert_named(exc, str(path))


@fuzz_settings()
@given(st.one_of(st.text(max_size=300), toml_like_text))
def test_any_text_gives_a_scenario_or_a_scenario_error(text: str) -> None:
    loads_or_says_why(text)


# --- structured: the scenario's shape, any values ---------------------------------------

_scalars = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "sip:a.example.net:5061;transport=tls",
            "sips:b.example.net",
            "sip:+15550100@a.example.net",
            "sip:user:pw@a.example.net",
            "a.example.net:5061:127.0.0.1",
            "system",
            "mozilla",
            "1.2",
            "2xx,405",
            "AES_CM_128_HMAC_SHA1_80",
            "env",
            "twilio",
            "teams",
            "priority",
            "primary",
            "",
            " ",
        ]
    ),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.times(),
)
values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3)
    ),
    max_leaves=4,
)
junk_keys = st.text(min_size=1, max_size=12)


def section_tables(model: type[Any]) -> st.SearchStrategy[dict[str, Any]]:
    keys = st.sampled_from(_keys(model)) | junk_keys
    return st.dictionaries(keys, values, max_size=4)


scenario_shapes = st.fixed_dictionaries(
    {"endpoint": st.lists(section_tables(EndpointSection), max_size=2)},
    optional={name: section_tables(model) for name, model in SECTIONS.items()}
    | {"password": values, "extra": values},
)


def toml_value(value: Any) -> str:
    """A TOML 1.0 value for `value` (strings through JSON: its escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_key(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        text = value.isoformat()
        return text.replace("+00:00", "Z")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_key(key: str) -> str:
    """A TOML basic string: JSON's escapes, and DEL escaped too (TOML 1.0 forbids it raw)."""
    return json.dumps(key, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_document(shape: dict[str, Any]) -> str:
    lines: list[str] = []
    tables = {name: value for name, value in shape.items() if isinstance(value, dict)}
    for name, value in shape.items():
        if name != "endpoint" and name not in tables:
            lines.append(f"{toml_key(name)} = {toml_value(value)}")
    for name, table in tables.items():
        lines.append(f"[{toml_key(name)}]")
        lines.extend(f"{toml_key(key)} = {toml_value(value)}" for key, value in table.items())
    for table in shape["endpoint"]:
        lines.append("[[endpoint]]")
        lines.extend(f"{toml_key(key)} = {toml_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"


@fuzz_settings()
@given(scenario_shapes)
def test_scenario_shaped_toml_gives_a_scenario_or_a_scenario_error(
    folder: Path, shape: dict[str, Any]
) -> None:
    text = toml_document(shape)
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pytest.fail(f"the fuzz writer made invalid TOML:\n{text}")
    scenario = loads_or_says_why(text, base_dir=folder)
    if scenario is not None:
        # What loads can be turned into the runner's requests: the CLI's next step.
        scenario.to_requests()


def test_the_structured_fuzz_reaches_a_valid_scenario() -> None:
    """The writer's output for a known-good shape loads: the fuzz is not all errors."""
    shape = {
        "trunk": {"name": "t", "provider": "twilio"},
        "tls": {"min_version": 1.2, "warn_days": 10, "critical_days": 3},
        "run": {"resolve": ["a.example.net:5061:127.0.0.1"], "timeout": 2.5},
        "endpoint": [
            {"uri": "sip:a.example.net:5061;transport=tls", "priority": 10, "weight": 1},
            {"uri": "sip:b.example.net:5061;transport=tls", "priority": 20, "weight": 1},
        ],
    }
    scenario = loads_or_says_why(toml_document(shape))
    assert scenario is not None
    assert [endpoint.priority for endpoint in scenario.endpoints] == [10, 20]
