"""Loading scenario files: TOML (stdlib `tomllib`) → `Scenario`, or every problem at once.

A `ScenarioError` lists each problem on its own line as `FILE:LINE KEY: MESSAGE`
(`acme.toml:12 endpoint[1].priority: Input should be less than or equal to 65535`);
a TOML syntax error as `FILE:LINE:COLUMN`. Lines come from `probe.scenario.lines`, since
`tomllib` keeps no positions; `?` stands for a line that cannot be found (a missing
section, for one).

The built-in scenarios ship inside the package (`probe/scenario/builtin/*.toml`) and load
as `builtin:NAME`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from probe.errors import ProbeError
from probe.scenario.lines import KeyPath, find_line, format_path, index_keys
from probe.scenario.model import ENV_CREDENTIALS, TRUST_STORES, Scenario

BUILTIN_PREFIX = "builtin:"
SECRET_KEYS = frozenset({"password", "passwd", "secret"})
_SECRET_REASON = (
    "refused: a scenario file is shared and versioned, so it never holds a password. "
    'Use credentials = "env" (SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD) or '
    'credentials = "PATH" to a file with username= and password= lines, kept out of '
    "version control"
)
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a scenario file, where it is, and what to do about it."""

    file: str
    line: int | None
    key: str
    message: str
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None and not self.key:
            return f"{self.file}: {self.message}"
        where = f"{self.file}:{self.line if self.line is not None else '?'}"
        if self.column is not None:
            where += f":{self.column}"
        return f"{where} {self.key}: {self.message}" if self.key else f"{where} {self.message}"


class ScenarioError(ProbeError):
    """A scenario that cannot be used, with every problem found (one per line)."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def load(spec: str) -> Scenario:
    """`builtin:NAME` or a file path, as typed on the command line: a file's scenario must
    also name files that exist (trust anchors, client identity, credentials)."""
    if spec.startswith(BUILTIN_PREFIX):
        return load_builtin(spec.removeprefix(BUILTIN_PREFIX))
    return load_scenario(Path(spec), check_files=True)


def load_scenario(path: Path, *, check_files: bool = False) -> Scenario:
    """Read and validate one scenario file; relative paths in it resolve against its folder.

    With `check_files`, every file the scenario names must exist and be readable, each
    missing one reported at its key.
    """
    text = read_source(path)
    scenario = parse_scenario(text, source=str(path), base_dir=path.resolve().parent)
    if check_files:
        index = index_keys(text)
        problems = [
            Problem(str(path), find_line(index, key), format_path(key), message)
            for key, message in _file_problems(scenario)
        ]
        if problems:
            raise ScenarioError(problems)
    return scenario


def read_source(path: Path) -> str:
    """A TOML file's text, or a ScenarioError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        raise ScenarioError([Problem(str(path), None, "", f"cannot read: {reason}")]) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ScenarioError([Problem(str(path), None, "", f"cannot read: {reason}")]) from None


def _file_problems(scenario: Scenario) -> list[tuple[KeyPath, str]]:
    """(key, what is wrong) for each file the scenario names that cannot be read."""
    named: list[tuple[KeyPath, str | None, bool]] = [
        (
            ("tls", "trust"),
            None if scenario.tls.trust in TRUST_STORES else scenario.tls.trust,
            True,
        ),
        (("tls", "client_cert"), scenario.tls.client_cert, False),
        (("tls", "client_key"), scenario.tls.client_key, False),
    ]
    if scenario.invite is not None and scenario.invite.credentials != ENV_CREDENTIALS:
        named.append((("invite", "credentials"), scenario.invite.credentials, False))
    inbound = scenario.inbound
    if inbound is not None:
        named += [
            (("inbound", "cert"), inbound.cert, False),
            (("inbound", "key"), inbound.key, False),
            (("inbound", "peer_ca"), inbound.peer_ca, True),
        ]
        if inbound.stir is not None:
            named += [
                (("inbound", "stir", "trust"), inbound.stir.trust, True),
                (("inbound", "stir", "cert_dir"), inbound.stir.cert_dir, True),
                (("inbound", "stir", "fetch_ca"), inbound.stir.fetch_ca, True),
            ]
    return unreadable_files(named)


def unreadable_files(
    named: Sequence[tuple[KeyPath, str | None, bool]],
) -> list[tuple[KeyPath, str]]:
    """(key, what is wrong) for each named file that cannot be read; each entry is (key,
    path or None, whether a folder will do)."""
    problems = []
    for key, value, folder_ok in named:
        if value is None:
            continue
        path = Path(value)
        if folder_ok and path.is_dir():
            continue
        try:
            with path.open("rb"):
                pass
        except FileNotFoundError:
            problems.append((key, f"{path} does not exist"))
        except IsADirectoryError:
            problems.append((key, f"{path} is a directory, not a file"))
        except OSError as exc:
            problems.append((key, f"{path} cannot be read: {exc.strerror or exc}"))
    return problems


def parse_scenario(text: str, *, source: str, base_dir: Path | None = None) -> Scenario:
    """Validate scenario text; `source` names it in problems, `base_dir` anchors paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([syntax_problem(source, exc)]) from None
    index = index_keys(text)
    problems = [
        Problem(source, find_line(index, path), format_path(path), _SECRET_REASON)
        for path in pop_secrets(data, ())
    ]
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems.extend(validation_problems(source, index, exc))
    if problems or scenario is None:
        # In file order; problems without a line last, each group as found.
        problems.sort(key=lambda problem: problem.line or 1 << 30)
        raise ScenarioError(problems)
    scenario._source = source
    return scenario


def syntax_problem(source: str, exc: tomllib.TOMLDecodeError) -> Problem:
    message = str(exc)
    line = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    match = _TOML_POSITION.search(message)
    if match is not None:
        line, column = line or int(match[1]), column or int(match[2])
        message = message[: match.start()]
    return Problem(source, line, "", f"TOML syntax error: {message}", column)


def pop_secrets(data: Any, path: KeyPath) -> list[KeyPath]:
    """Remove (and report) every password-like key, at any depth."""
    found: list[KeyPath] = []
    if isinstance(data, dict):
        for key in list(data):
            if key.lower() in SECRET_KEYS:
                del data[key]
                found.append((*path, key))
            else:
                found.extend(pop_secrets(data[key], (*path, key)))
    elif isinstance(data, list):
        for position, item in enumerate(data):
            found.extend(pop_secrets(item, (*path, position)))
    return found


def validation_problems(
    source: str,
    index: dict[KeyPath, int],
    exc: ValidationError,
    *,
    root: type[BaseModel] = Scenario,
    prefix: KeyPath = (),
) -> list[Problem]:
    """Each error of validating `root` as a problem at its key and line; `prefix` is
    where the validated table sits in the file (`("modules", "sbc")`)."""
    problems = []
    for error in exc.errors(include_url=False):
        inner: KeyPath = tuple(error["loc"])
        path = (*prefix, *inner)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = _unknown_key(inner, root)
        elif error["type"] == "missing":
            message = "required key missing"
        problems.append(Problem(source, find_line(index, path), format_path(path), message))
    return problems


def _unknown_key(path: KeyPath, root: type[BaseModel]) -> str:
    """`unknown key 'trsut'; did you mean 'trust'?`, or the keys this table knows."""
    known = _known_keys(path[:-1], root)
    name = str(path[-1])
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key {name!r}; did you mean {close[0]!r}?"
    return f"unknown key {name!r} (this table knows: {', '.join(known) or 'nothing'})"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `X`, `X | None` or `list[X]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def _known_keys(path: KeyPath, root: type[BaseModel] = Scenario) -> list[str]:
    model: type[BaseModel] | None = root
    for part in path:
        if isinstance(part, int) or model is None:
            continue
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        info = fields.get(part)
        model = _model_in(info.annotation) if info is not None else None
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


# --- built-ins --------------------------------------------------------------------------


def _builtin_folder() -> Traversable:
    return resources.files("probe.scenario").joinpath("builtin")


def _builtin_names() -> list[str]:
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in _builtin_folder().iterdir()
        if entry.name.endswith(".toml")
    )


def builtin_source(name: str) -> str:
    """The text of a built-in scenario, e.g. to copy it and edit it."""
    if name not in _builtin_names():
        raise ScenarioError(
            [
                Problem(
                    f"{BUILTIN_PREFIX}{name}",
                    None,
                    "",
                    f"no such built-in scenario; there are: {', '.join(_builtin_names())}",
                )
            ]
        )
    return _builtin_folder().joinpath(f"{name}.toml").read_text(encoding="utf-8")


def load_builtin(name: str) -> Scenario:
    """A scenario shipped with sipprobe (`sipprobe ... builtin:NAME`)."""
    folder = _builtin_folder()
    base_dir = folder if isinstance(folder, Path) else None
    return parse_scenario(builtin_source(name), source=f"{BUILTIN_PREFIX}{name}", base_dir=base_dir)


def list_builtins() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in, for `sipprobe scenarios`."""
    listing = []
    for name in _builtin_names():
        scenario = load_builtin(name)
        description = scenario.trunk.description or scenario.trunk.name
        listing.append((name, description.split("\n", 1)[0].strip()))
    return listing
