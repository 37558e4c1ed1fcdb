"""The exporter's configuration: probe modules in TOML, one `[modules.NAME]` table each.

    [modules.sbc_tls]
    kind = "options"
    ca = "lab/ca.pem"
    warn_days = 21

A module's keys are the long option names of the command its kind runs (`sipprobe
options`, `failover` or `invite`), spelt with underscores: `ca`, `trust`, `cert`, `key`,
`sni`, `min_tls`, `resolve` (a list of `NAME:PORT:ADDRESS`), `dns_server`, `timeout`,
`deadline` (a list of `PHASE=SECONDS`), `max_time`, `accept`, `to`, `offer`, `suite` (a
list), and so on; relative paths are taken from the configuration file's folder. The
values become a `probe.settings.Settings` through `Settings.from_flat`, and are checked
as a run checks them (`probe.run.commands.prepare`), so a module that loads is one a
probe can use.

An `invite` module places a real call on every scrape: it must say `allow_calls = true`,
and it calls one target at most once every `min_call_interval` seconds (default 60).

An `options` module may keep each target's connection between scrapes
(`reuse = "connection"`, probe.exporter.reuse): a scrape then sends OPTIONS over it, and a
full check (locate, connect, handshake, the chain judged) runs at least every
`full_check_interval` seconds (default 300) and on any change.

A file that cannot be used is refused with every problem at once, each at its line and
key (`exporter.toml:7 modules.sbc.warn_days: Input should be greater than or equal to 0`),
as scenario files are (probe.scenario.loader).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from probe.errors import SettingsError
from probe.evidence.run import OrderMode
from probe.scenario.lines import KeyPath, find_line, format_path, index_keys
from probe.scenario.loader import (
    Problem,
    ScenarioError,
    pop_secrets,
    read_source,
    syntax_problem,
    unreadable_files,
    validation_problems,
)
from probe.scenario.model import (
    TRUST_STORES,
    U16,
    HangupName,
    OfferName,
    Pin,
    SrtpSuite,
    Text,
    TlsVersionName,
    parse_sip_uri,
    resolve_path,
)
from probe.settings import CallSettings, Settings

if TYPE_CHECKING:
    from probe.run.commands import Prepared

ModuleKind = Literal["options", "failover", "invite"]
DEFAULT_CALL_INTERVAL = 60.0
"""Seconds between two calls to one target by `invite` modules, unless a module says."""
DEFAULT_FULL_CHECK_INTERVAL = 300.0
"""Seconds a kept connection's last full check stands for (`reuse = "connection"`)."""
LONGEST_FULL_CHECK_INTERVAL = 3600.0
"""No module's full check is further apart: what only a full check sees (a new
certificate, a changed DNS answer) is seen within the hour whatever a module says."""
MODULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""Module names go into URLs and metric labels: short, and nothing to escape."""
STAND_IN_TARGET = "sips:module-check.invalid"
"""The target a module is checked against when it loads: TLS, so that its trust anchors
are loaded too; under `.invalid` (RFC 6761 §6.4), so it can never be reached."""
_SECRET_REASON = (
    "refused: a configuration file is shared and versioned, so it never holds a password; "
    "use auth_file = PATH (username= and password= lines, kept out of version control) or "
    "SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD in the exporter's environment"
)


class ConfigError(ScenarioError):
    """An exporter configuration that cannot be used, with every problem (one per line)."""


def _custom(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{message}", {"message": message})


def _check_accept(value: str) -> str:
    from probe.verdict.checks.options import AcceptError, parse_accept

    try:
        parse_accept(value)
    except AcceptError as exc:
        raise _custom("accept", str(exc).removeprefix("--accept: ")) from None
    return value


def _check_deadline(value: str) -> str:
    from probe.net.deadlines import DeadlineError, parse_deadline

    try:
        parse_deadline(value)
    except DeadlineError as exc:
        raise _custom("deadline", str(exc)) from None
    return value


def _check_dns_server(value: str) -> str:
    from probe.locate import parse_dns_server

    try:
        parse_dns_server(value)
    except ValueError as exc:
        raise _custom("dns_server", str(exc)) from None
    return value


Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

# Only the keys options, failover or invite take on the command line; the kinds whose
# command lacks one refuse it (check_kind below).
OPTIONS_ONLY = ("count", "interval", "loss_warn", "loss_crit", "rtt_warn", "rtt_crit")
FAILOVER_ONLY = ("priority", "weight", "order")
INVITE_ONLY = (
    "to",
    "from",
    "offer",
    "suite",
    "hangup",
    "answer_timeout",
    "auth_file",
    "allow_cleartext_keys",
    "verify_media",
    "allow_calls",
    "min_call_interval",
)
NOT_INVITE = ("accept", "per_target", "follow_redirects")
"""Keys of `options` (and `failover`, but `follow_redirects`) that `invite` lacks."""
REUSE_KEYS = ("reuse", "full_check_interval")
"""The exporter's own keys of an `options` module that keeps its connections."""


class ModuleTable(BaseModel):
    """One `[modules.NAME]` table as written; a key left out takes the command line's
    default (probe.settings)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, str_strip_whitespace=True
    )

    kind: ModuleKind
    # TLS: how it is spoken and judged.
    trust: Text | None = None
    ca: Text | None = None
    cert: Text | None = None
    key: Text | None = None
    sni: Text | None = None
    min_tls: TlsVersionName | None = None
    insecure: bool | None = None
    warn_days: Annotated[int, Field(ge=0)] | None = None
    critical_days: Annotated[int, Field(ge=0)] | None = None
    accept_wildcard: bool | None = None
    enumerate: bool | None = None
    # What is sent and what answer counts.
    accept: Annotated[str, AfterValidator(_check_accept)] | None = None
    count: Annotated[int, Field(ge=1, le=100)] | None = None
    interval: Annotated[float, Field(ge=0, le=60, allow_inf_nan=False)] | None = None
    loss_warn: Annotated[float, Field(ge=0, le=100)] | None = None
    loss_crit: Annotated[float, Field(ge=0, le=100)] | None = None
    rtt_warn: Seconds | None = None
    rtt_crit: Seconds | None = None
    follow_redirects: bool | None = None
    # How targets are found (RFC 3263).
    resolve: list[Pin] | None = None
    dns_server: Annotated[str, AfterValidator(_check_dns_server)] | None = None
    seed: int | None = None
    # Deadlines and politeness.
    timeout: Annotated[float, Field(ge=0.05, allow_inf_nan=False)] | None = None
    deadline: list[Annotated[str, AfterValidator(_check_deadline)]] | None = None
    max_time: Annotated[float, Field(ge=0.1, allow_inf_nan=False)] | None = None
    per_target: Annotated[int, Field(ge=1, le=16)] | None = None
    # Failover: how the provider orders the endpoints of the target list.
    priority: list[U16] | None = None
    weight: list[U16] | None = None
    order: Literal["list", "priority", "fixed"] | None = None
    # The test call.
    to: Text | None = None
    from_: Text | None = Field(default=None, alias="from")
    offer: OfferName | None = None
    suite: list[SrtpSuite] | None = None
    hangup: HangupName | None = None
    answer_timeout: Annotated[float, Field(ge=0.1, allow_inf_nan=False)] | None = None
    auth_file: Text | None = None
    allow_cleartext_keys: bool | None = None
    verify_media: bool | None = None
    allow_calls: bool = False
    min_call_interval: Annotated[float, Field(ge=1, allow_inf_nan=False)] | None = None
    # Keeping each target's connection between scrapes (options modules).
    reuse: Literal["none", "connection"] = "none"
    full_check_interval: (
        Annotated[float, Field(ge=1, le=LONGEST_FULL_CHECK_INTERVAL, allow_inf_nan=False)] | None
    ) = None

    @field_validator("min_tls", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # `min_tls = 1.2` (a TOML float) is a common slip for the string "1.2".
        if isinstance(value, float) and f"{value:.1f}" in ("1.0", "1.1", "1.2", "1.3"):
            return f"{value:.1f}"
        return value

    @field_validator("trust")
    @classmethod
    def _trust_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value in TRUST_STORES:
            return value
        return resolve_path(value, info)

    @field_validator("ca", "cert", "key", "auth_file")
    @classmethod
    def _paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_path(value, info)

    @field_validator("to", "from_")
    @classmethod
    def _uri(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A bare number or user part is called at the target's host, as on the command
        # line; anything with a scheme must be a SIP URI without a password.
        if value is not None and ":" in value:
            parse_sip_uri(value, what="from" if info.field_name == "from_" else "to")
        return value


def kind_problems(table: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, problem) for each key the kind's command does not take, and for an invite
    module without its callee or its consent; read from the table as written, so that
    they are found beside any other problem of the table."""
    kind = table.get("kind")
    if kind not in ("options", "failover", "invite"):
        return []  # the model says what is wrong with the kind itself
    foreign = {
        "options": (*FAILOVER_ONLY, *INVITE_ONLY),
        "failover": (*OPTIONS_ONLY, *INVITE_ONLY, "follow_redirects"),
        "invite": (*OPTIONS_ONLY, *FAILOVER_ONLY, *NOT_INVITE),
    }[kind]
    problems = [
        (key, f"{key} is not an option of `sipprobe {kind}`") for key in table if key in foreign
    ]
    problems.extend(_reuse_problems(kind, table))
    if kind == "invite":
        if "to" not in table:
            problems.append(("to", "an invite module needs to: who is called"))
        if table.get("allow_calls") is not True:
            problems.append(
                (
                    "kind",
                    "an invite module places a real call on every scrape: enable it with "
                    "allow_calls = true",
                )
            )
    return problems


def _reuse_problems(kind: str, table: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A kept connection is an options module's: a failover probe judges the whole list
    at once and a test call is a call; a redirect followed would be another target."""
    problems: list[tuple[str, str]] = []
    keeps = table.get("reuse") == "connection"
    if kind != "options":
        problems.extend(
            (key, f"{key} is for options modules: every {kind} scrape is a full probe")
            for key in REUSE_KEYS
            if key in table
        )
    elif "full_check_interval" in table and not keeps:
        problems.append(("full_check_interval", 'full_check_interval needs reuse = "connection"'))
    elif keeps and table.get("follow_redirects") is True:
        problems.append(
            (
                "reuse",
                "a kept connection goes to one target; follow_redirects probes others: choose one",
            )
        )
    return problems


class ConfigFile(BaseModel):
    """The file: `[modules.NAME]` tables, nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True)

    modules: dict[str, dict[str, Any]] = Field(default_factory=dict)


# --- from a table to settings --------------------------------------------------------------

_FLAT_NAME = {"resolve": "pins", "deadline": "deadlines", "enumerate": "enumerate_tls"}
"""A module key → its `Settings.from_flat` name, where the option's name and the
setting's differ (`--resolve` sets `pins`)."""
_CALL_FIELD = {
    "to": "to",
    "from": "from_",
    "offer": "offer",
    "suite": "suites",
    "hangup": "hangup",
    "answer_timeout": "answer_timeout",
    "auth_file": "auth_file",
    "allow_cleartext_keys": "allow_cleartext_keys",
    "verify_media": "verify_media",
}
_PATHS = frozenset({"ca", "cert", "key", "auth_file"})
_EXPORTER_KEYS = frozenset(
    {"kind", "allow_calls", "min_call_interval", *REUSE_KEYS, *FAILOVER_ONLY}
)
"""Keys that are the exporter's own or go to the failover call, not into Settings."""


@dataclass(frozen=True, slots=True)
class Module:
    """A module ready to probe with: its settings (the call's too, for `invite`)."""

    name: str
    kind: ModuleKind
    settings: Settings
    priorities: tuple[int, ...] = ()
    weights: tuple[int, ...] = ()
    order: OrderMode | None = None
    min_call_interval: float = DEFAULT_CALL_INTERVAL
    """Seconds between two calls to one target (invite modules)."""
    reuse: bool = False
    """Keep each target's connection between scrapes (options modules)."""
    full_check_interval: float = DEFAULT_FULL_CHECK_INTERVAL
    """Seconds a kept connection's last full check stands for, at most."""
    given: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The keys as written (paths resolved), for messages."""
    prepared: Prepared | None = field(default=None, compare=False, repr=False)
    """What every run of an options or failover module starts from, prepared when the
    module loads (its trust anchors and TLS client settings read once per configuration
    load, not per scrape): probe.run.commands.prepare_targets."""

    @property
    def max_time(self) -> float | None:
        """The module's own cap on one probe (`max_time`), if it has one."""
        return self.settings.run.max_time


def build_module(name: str, kind: ModuleKind, given: Mapping[str, Any]) -> Module:
    """The module of a table's keys (as validated: the types are right, paths resolved)."""
    flat: dict[str, Any] = {}
    call: dict[str, Any] = {}
    for key, value in given.items():
        if key in _EXPORTER_KEYS:
            continue
        if key in _PATHS:
            value = Path(value)
        elif isinstance(value, list):
            value = tuple(value)
        if key in _CALL_FIELD:
            call[_CALL_FIELD[key]] = value
        else:
            flat[_FLAT_NAME.get(key, key)] = value
    settings = Settings.from_flat(flat)
    if kind == "invite":
        settings = replace(settings, call=CallSettings(**call, auth_source="--auth-file"))
    return Module(
        name=name,
        kind=kind,
        settings=settings,
        priorities=tuple(given.get("priority", ())),
        weights=tuple(given.get("weight", ())),
        order=given.get("order"),
        min_call_interval=given.get("min_call_interval", DEFAULT_CALL_INTERVAL),
        reuse=given.get("reuse") == "connection",
        full_check_interval=given.get("full_check_interval", DEFAULT_FULL_CHECK_INTERVAL),
        given=dict(given),
    )


def _refuse(message: str) -> NoReturn:
    raise SettingsError(message)


def check_module(module: Module, targets: Sequence[str]) -> Prepared | None:
    """What a run of `module` over `targets` refuses before any packet, raised as a
    SettingsError: checked where a run checks its settings (probe.run.commands.prepare,
    and prepare_call for a test call), with the failover list's shape. Loads the trust
    anchors: for a module as it loads, not for every scrape. The run prepared, for an
    options or failover module (what its scrapes' runs start from)."""
    from probe.run.commands import FailoverRequest, OptionsRequest, build_endpoints, prepare
    from probe.run.invite import InviteRequest, prepare_call

    request = OptionsRequest(targets=tuple(targets), settings=module.settings)
    if module.kind == "invite":
        assert module.settings.call is not None
        prepare_call(InviteRequest(request, module.settings.call), _refuse)
        return None
    run = prepare(request, _refuse)
    if module.kind == "failover":
        shape = FailoverRequest(request, module.priorities, module.weights, module.order)
        build_endpoints(shape, run.uris, _refuse)
    return run


def check_targets(module: Module, targets: Sequence[str]) -> None:
    """The targets of one scrape, checked before it waits for anything: each a SIP URI
    a probe can take (no password, a known transport), one for `options` and `invite`,
    as many as `priority` says for a failover module with priorities; a SettingsError
    otherwise."""
    from probe.run.commands import FailoverRequest, OptionsRequest, build_endpoints, parse_targets
    from probe.run.invite import InviteRequest, refuse_before_sending

    if not targets:
        _refuse("no target")
    if module.kind != "failover" and len(targets) > 1:
        _refuse(f"a {module.kind} module probes one target; a list is for failover modules")
    uris = parse_targets(targets, _refuse)
    request = OptionsRequest(targets=tuple(targets), settings=module.settings)
    if module.kind == "failover":
        shape = FailoverRequest(request, module.priorities, module.weights, module.order)
        build_endpoints(shape, uris, _refuse)
    elif module.kind == "invite":
        assert module.settings.call is not None
        for text, uri in uris:
            refuse_before_sending(uri, text, InviteRequest(request, module.settings.call), _refuse)


_OPTION = re.compile(r"--([a-z][a-z-]*)")


def _in_module_terms(message: str) -> tuple[str | None, str]:
    """The key a run's refusal is about (the first option it names), and the message
    with every `--option` written as the module's key (`--warn-days` → `warn_days`)."""
    names = [match.replace("-", "_") for match in _OPTION.findall(message)]
    key = next((name for name in names if name in ModuleTable.model_fields or name == "from"), None)
    return key, _OPTION.sub(lambda match: match[1].replace("-", "_"), message)


def _run_problems(
    name: str, kind: ModuleKind, given: dict[str, Any]
) -> tuple[list[tuple[str, str]], Module]:
    """(key or "", message) for everything a run would refuse in this module: checked
    as a run checks it, each problem's key then left out to find the next one; and the
    module, with its runs' template when there was no problem."""
    problems: list[tuple[str, str]] = []
    remaining = dict(given)
    while True:
        module = build_module(name, kind, remaining)
        # As many stand-ins as the list of priorities (or weights) is long: its length
        # is checked against each scrape's list.
        stand_ins = [STAND_IN_TARGET] * max(1, len(module.priorities or module.weights))
        try:
            prepared = check_module(module, stand_ins)
        except SettingsError as exc:
            key, message = _in_module_terms(str(exc))
            # `trust: ...` is said at the key already: `modules.x.trust: no certificates...`
            problems.append((key or "", message.removeprefix(f"{key}: ")))
            if key is None or key not in remaining:
                return problems, module
            del remaining[key]
        else:
            return problems, replace(module, prepared=None if problems else prepared)


@dataclass(frozen=True, slots=True)
class ExporterConfig:
    """The modules, by name, and where they came from."""

    modules: Mapping[str, Module]
    source: str


def load_config(path: Path) -> ExporterConfig:
    """Read and check an exporter configuration; a ConfigError lists every problem."""
    try:
        text = read_source(path)
    except ScenarioError as exc:
        raise ConfigError(exc.problems) from None
    return parse_config(text, source=str(path), base_dir=path.resolve().parent)


def parse_config(text: str, *, source: str, base_dir: Path | None = None) -> ExporterConfig:
    """Check configuration text; `source` names it in problems, `base_dir` anchors paths."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([syntax_problem(source, exc)]) from None
    index = index_keys(text)

    def problem(path: KeyPath, message: str) -> Problem:
        return Problem(source, find_line(index, path), format_path(path), message)

    problems = [problem(path, _SECRET_REASON) for path in pop_secrets(data, ())]
    try:
        tables = ConfigFile.model_validate(data).modules
    except ValidationError as exc:
        problems.extend(validation_problems(source, index, exc, root=ConfigFile))
        tables = {}
    if not tables and not problems:
        problems.append(Problem(source, None, "", "no [modules.NAME] table: nothing to probe"))
    modules: dict[str, Module] = {}
    for name, table in tables.items():
        where: KeyPath = ("modules", name)
        if MODULE_NAME.fullmatch(name) is None:
            problems.append(
                problem(where, "a module name is 1-64 letters, digits, '_', '.' or '-'")
            )
            continue
        misfits = kind_problems(table)
        problems.extend(problem((*where, key), message) for key, message in misfits)
        try:
            checked = ModuleTable.model_validate(table, context={"base_dir": base_dir})
        except ValidationError as exc:
            problems.extend(validation_problems(source, index, exc, root=ModuleTable, prefix=where))
            continue
        if misfits:
            continue
        given = {
            ModuleTable.model_fields[field_name].alias or field_name: getattr(checked, field_name)
            for field_name in checked.model_fields_set
        }
        files = [
            ((key,), given.get(key), key in ("ca", "trust"))
            for key in ("ca", "trust", "cert", "key", "auth_file")
            if key != "trust" or given.get(key) not in (None, *TRUST_STORES)
        ]
        unreadable = unreadable_files(files)
        problems.extend(problem((*where, *key), message) for key, message in unreadable)
        if unreadable:
            continue
        run_problems, module = _run_problems(name, checked.kind, given)
        problems.extend(
            problem((*where, key) if key else where, message) for key, message in run_problems
        )
        if not run_problems:
            modules[name] = module
    if problems:
        problems.sort(key=lambda found: found.line or 1 << 30)
        raise ConfigError(problems)
    return ExporterConfig(modules, source)
