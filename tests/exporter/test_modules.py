"""The exporter's modules: TOML tables whose keys are the command line's long option
names, checked as a run checks its settings, every problem at once with line and key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from probe.exporter.modules import (
    ConfigError,
    ModuleTable,
    check_targets,
    load_config,
    parse_config,
)
from probe.settings import Settings
from probe.tls.lab import LabFiles


def problems(text: str, base_dir: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), source="x.toml", base_dir=base_dir)
    return str(caught.value).splitlines()


def test_a_module_becomes_settings_through_the_flat_names(tmp_path: Path, lab: LabFiles) -> None:
    (tmp_path / "ca.pem").write_bytes(lab.ca.read_bytes())
    config = parse_config(
        textwrap.dedent(
            """
            [modules.sbc]
            kind = "options"
            ca = "ca.pem"
            min_tls = 1.3
            warn_days = 21
            critical_days = 3
            resolve = ["sbc.example.test:5061:127.0.0.1"]
            deadline = ["handshake=2"]
            timeout = 3
            accept = "2xx,405"
            enumerate = true
            """
        ),
        source="x.toml",
        base_dir=tmp_path,
    )
    module = config.modules["sbc"]
    expected = Settings.from_flat(
        ca=tmp_path / "ca.pem",
        min_tls="1.3",
        warn_days=21,
        critical_days=3,
        pins=("sbc.example.test:5061:127.0.0.1",),
        deadlines=("handshake=2",),
        timeout=3.0,
        accept="2xx,405",
        enumerate_tls=True,
    )
    assert module.kind == "options"
    assert module.settings == expected
    assert module.max_time is None


def test_a_key_left_out_keeps_the_command_lines_default() -> None:
    config = parse_config('[modules.plain]\nkind = "failover"\n', source="x.toml")
    assert config.modules["plain"].settings == Settings()


def test_an_invite_module_carries_its_call_and_its_interval() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            [modules.call]
            kind = "invite"
            allow_calls = true
            to = "+15550100"
            from = "sip:probe@example.test"
            offer = "sdes"
            suite = ["AES_CM_128_HMAC_SHA1_80"]
            hangup = "immediately"
            answer_timeout = 4
            min_call_interval = 300
            """
        ),
        source="x.toml",
    )
    module = config.modules["call"]
    assert module.settings.call is not None
    assert module.settings.call.to == "+15550100"
    assert module.settings.call.from_ == "sip:probe@example.test"
    assert tuple(module.settings.call.suites) == ("AES_CM_128_HMAC_SHA1_80",)
    assert module.settings.call.hangup == "immediately"
    assert module.settings.call.answer_timeout == 4.0
    assert module.min_call_interval == 300.0


def test_a_failover_module_carries_priorities_weights_and_order() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            [modules.trunk]
            kind = "failover"
            priority = [10, 10, 20]
            weight = [60, 40, 0]
            """
        ),
        source="x.toml",
    )
    module = config.modules["trunk"]
    assert (module.priorities, module.weights, module.order) == ((10, 10, 20), (60, 40, 0), None)


def test_every_settings_key_of_a_module_names_a_setting() -> None:
    # A key added to the table must reach Settings (or be one of the exporter's own).
    own = {"kind", "allow_calls", "min_call_interval", "priority", "weight", "order"}
    own |= {"reuse", "full_check_interval"}
    call = {"to", "from", "offer", "suite", "hangup", "answer_timeout", "auth_file"}
    call |= {"allow_cleartext_keys", "verify_media"}
    renamed = {"resolve": "pins", "deadline": "deadlines", "enumerate": "enumerate_tls"}
    keys = {info.alias or name for name, info in ModuleTable.model_fields.items()}
    for key in keys - own - call:
        assert renamed.get(key, key) in Settings.flat_names(), key


BAD = """\
[modules.good]
kind = "options"

[modules.bad]
kind = "options"
warn_days = -1
to = "sip:someone@example.test"
resolve = [
    "sbc.example.test:5061:127.0.0.1",
    "not-a-pin",
]
timeout = "5"
minn_tls = "1.2"

[modules.call]
kind = "invite"
to = "+15550100"

[modules.rules]
kind = "failover"
critical_days = 40
key = "{key}"
weight = [1, 2]
password = "hunter2"

[modules."bad name!"]
kind = "options"

[modules.what]
kind = "ping"
"""


def test_a_bad_file_reports_every_problem_with_line_and_key(tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("not a key\n")
    path = tmp_path / "exporter.toml"
    path.write_text(BAD.format(key=key))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    where = str(path)
    assert str(caught.value).splitlines() == [
        f"{where}:6 modules.bad.warn_days: Input should be greater than or equal to 0",
        f"{where}:7 modules.bad.to: to is not an option of `sipprobe options`",
        f"{where}:10 modules.bad.resolve[1]: 'not-a-pin': expected NAME:PORT:ADDRESS",
        f"{where}:12 modules.bad.timeout: Input should be a valid number",
        f"{where}:13 modules.bad.minn_tls: unknown key 'minn_tls'; did you mean 'min_tls'?",
        f"{where}:16 modules.call.kind: an invite module places a real call on every scrape: "
        "enable it with allow_calls = true",
        f"{where}:21 modules.rules.critical_days: critical_days must be between 0 and warn_days",
        f"{where}:22 modules.rules.key: key needs cert",
        f"{where}:23 modules.rules.weight: weight needs priority (weights share traffic within "
        "a priority)",
        f"{where}:24 modules.rules.password: refused: a configuration file is shared and "
        "versioned, so it never holds a password; use auth_file = PATH (username= and "
        "password= lines, kept out of version control) or SIPPROBE_AUTH_USER and "
        "SIPPROBE_AUTH_PASSWORD in the exporter's environment",
        f"{where}:26 modules.\"bad name!\": a module name is 1-64 letters, digits, '_', '.' or '-'",
        f"{where}:30 modules.what.kind: Input should be 'options', 'failover' or 'invite'",
    ]
    assert [problem.line for problem in caught.value.problems] == [
        6, 7, 10, 12, 13, 16, 21, 22, 23, 24, 26, 30,
    ]  # fmt: skip


def test_files_a_module_names_must_exist_each_at_its_key(tmp_path: Path) -> None:
    assert problems(
        """
        [modules.mtls]
        kind = "options"
        ca = "missing-ca.pem"
        cert = "missing-client.pem"
        key = "missing-client.key"
        """,
        base_dir=tmp_path,
    ) == [
        f"x.toml:4 modules.mtls.ca: {tmp_path}/missing-ca.pem does not exist",
        f"x.toml:5 modules.mtls.cert: {tmp_path}/missing-client.pem does not exist",
        f"x.toml:6 modules.mtls.key: {tmp_path}/missing-client.key does not exist",
    ]


def test_a_trust_store_that_is_no_pem_is_refused_at_its_key(tmp_path: Path) -> None:
    (tmp_path / "empty.pem").write_text("nothing here\n")
    assert problems(
        """
        [modules.sbc]
        kind = "options"
        trust = "empty.pem"
        """,
        base_dir=tmp_path,
    ) == [f"x.toml:4 modules.sbc.trust: {tmp_path}/empty.pem is neither PEM nor a DER certificate"]


def test_keys_of_another_kinds_command_are_refused_and_invite_needs_to() -> None:
    assert problems(
        """
        [modules.call]
        kind = "invite"
        allow_calls = true
        accept = "2xx"
        priority = [1]

        [modules.ping]
        kind = "failover"
        count = 3
        """
    ) == [
        "x.toml:2 modules.call.to: an invite module needs to: who is called",
        "x.toml:5 modules.call.accept: accept is not an option of `sipprobe invite`",
        "x.toml:6 modules.call.priority: priority is not an option of `sipprobe invite`",
        "x.toml:10 modules.ping.count: count is not an option of `sipprobe failover`",
    ]


def test_syntax_errors_and_empty_files_say_where() -> None:
    assert problems("[modules.x\nkind = 1\n") == [
        "x.toml:1:11 TOML syntax error: Expected ']' at the end of a table declaration"
    ]
    assert problems("# nothing yet\n") == ["x.toml: no [modules.NAME] table: nothing to probe"]
    assert problems("[module.x]\nkind = 'options'\n") == [
        "x.toml:1 module: unknown key 'module'; did you mean 'modules'?",
    ]


def test_an_unreadable_file_is_one_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml")
    assert str(caught.value) == f"{tmp_path}/absent.toml: cannot read: No such file or directory"


def test_the_targets_of_a_scrape_are_checked_before_anything_waits() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            [modules.one]
            kind = "options"
            [modules.trunk]
            kind = "failover"
            priority = [10, 20]
            [modules.call]
            kind = "invite"
            allow_calls = true
            to = "+15550100"
            """
        ),
        source="x.toml",
    )
    one, trunk, call = (config.modules[name] for name in ("one", "trunk", "call"))
    check_targets(one, ["sips:sbc.example.test"])
    check_targets(trunk, ["sips:a.example.test", "sips:b.example.test"])
    check_targets(call, ["sips:sbc.example.test"])
    cases = [
        (one, ["sip:user:secret@sbc.example.test"], "password"),
        (one, ["sips:a.example.test", "sips:b.example.test"], "a list is for failover modules"),
        (one, ["not a uri"], "target 'not a uri'"),
        (trunk, ["sips:a.example.test"], "--priority given 2 times for 1 endpoints"),
        (call, ["sip:sbc.example.test;transport=udp"], "test calls run over TLS or TCP"),
    ]
    from probe.errors import SettingsError

    for module, targets, words in cases:
        with pytest.raises(SettingsError) as refused:
            check_targets(module, targets)
        assert words in str(refused.value), (targets, str(refused.value))


def test_an_options_module_may_keep_its_connections() -> None:
    config = parse_config(
        textwrap.dedent(
            """
            [modules.kept]
            kind = "options"
            reuse = "connection"
            full_check_interval = 120

            [modules.default_interval]
            kind = "options"
            reuse = "connection"

            [modules.fresh]
            kind = "options"
            reuse = "none"

            [modules.call]
            kind = "invite"
            allow_calls = true
            to = "+15550100"
            """
        ),
        source="x.toml",
    )
    modules = config.modules
    assert (modules["kept"].reuse, modules["kept"].full_check_interval) == (True, 120.0)
    assert (modules["default_interval"].reuse, modules["default_interval"].full_check_interval) == (
        True,
        300.0,
    )
    assert modules["fresh"].reuse is False
    # What every scrape's run starts from is prepared as the module loads: its trust
    # anchors (the system store here) are read then, once.
    prepared = modules["kept"].prepared
    assert prepared is not None
    assert prepared.policy.anchors is not None
    assert modules["call"].prepared is None  # a test call is prepared at each call


def test_only_an_options_module_keeps_connections_and_the_interval_is_bounded() -> None:
    assert problems(
        """
        [modules.list]
        kind = "failover"
        reuse = "connection"

        [modules.call]
        kind = "invite"
        allow_calls = true
        to = "+15550100"
        full_check_interval = 60

        [modules.half]
        kind = "options"
        full_check_interval = 60

        [modules.redirected]
        kind = "options"
        reuse = "connection"
        follow_redirects = true

        [modules.slow]
        kind = "options"
        reuse = "connection"
        full_check_interval = 7200

        [modules.other]
        kind = "options"
        reuse = "session"
        """
    ) == [
        "x.toml:4 modules.list.reuse: reuse is for options modules: every failover scrape is "
        "a full probe",
        "x.toml:10 modules.call.full_check_interval: full_check_interval is for options "
        "modules: every invite scrape is a full probe",
        "x.toml:14 modules.half.full_check_interval: full_check_interval needs "
        'reuse = "connection"',
        "x.toml:18 modules.redirected.reuse: a kept connection goes to one target; "
        "follow_redirects probes others: choose one",
        "x.toml:24 modules.slow.full_check_interval: Input should be less than or equal to 3600",
        "x.toml:28 modules.other.reuse: Input should be 'none' or 'connection'",
    ]
