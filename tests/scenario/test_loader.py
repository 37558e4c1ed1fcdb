"""Loading: built-ins, every problem at once with its line and key, syntax errors, secrets,
relative paths."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from probe.run.commands import prepare
from probe.scenario import (
    ScenarioError,
    builtin_source,
    list_builtins,
    load,
    load_builtin,
    load_scenario,
)
from probe.scenario.__main__ import main
from probe.scenario.lines import find_line, format_path, index_keys
from probe.tls.lab import LabFiles
from tests.scenario.helpers import load_text, problems, toml

BUILTINS = [
    "amazon-chime",
    "dialogflow-cx",
    "ibm-voice-agent",
    "ibm-voice-agent-srtp",
    "teams-direct-routing",
    "twilio-secure-trunk",
]
REPO = Path(__file__).resolve().parents[2]


def refuse(message: str) -> NoReturn:
    raise AssertionError(f"probe.run.commands refused the scenario's request: {message}")


def test_list_builtins() -> None:
    listing = list_builtins()
    assert [name for name, _ in listing] == BUILTINS
    assert all(description and "\n" not in description for _, description in listing)


@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_loads_and_produces_requests_probe_app_accepts(name: str) -> None:
    scenario = load(f"builtin:{name}")
    assert scenario.source == f"builtin:{name}"
    requests = scenario.to_requests()
    assert list(requests.options.targets) == [e.uri for e in scenario.endpoints]
    run = prepare(requests.options, refuse)  # targets, pins, TLS settings, trust anchors
    assert len(run.uris) == len(scenario.endpoints)
    if requests.invite is not None:
        prepare(requests.invite.common, refuse)


def test_ibm_builtins_list_order_and_retired() -> None:
    for name in ("ibm-voice-agent", "ibm-voice-agent-srtp"):
        scenario = load_builtin(name)
        assert [e.uri for e in scenario.endpoints] == [
            "sip:us-south.voiceagent.cloud.ibm.com;transport=tls",
            "sip:us-east.voiceagent.cloud.ibm.com;transport=tls",
        ]
        assert scenario.order_mode == "list"
        assert scenario.trunk.provider == "ibm-voice-agent"
        assert "2021" in (scenario.trunk.retired or "")
    srtp = load_builtin("ibm-voice-agent-srtp")
    assert srtp.invite is not None
    assert srtp.invite.is_placeholder


def test_teams_builtin_fixed_order() -> None:
    scenario = load_builtin("teams-direct-routing")
    assert [e.sip_uri.host for e in scenario.endpoints] == [
        "sip.pstnhub.microsoft.com",
        "sip2.pstnhub.microsoft.com",
        "sip3.pstnhub.microsoft.com",
    ]
    assert all(e.sip_uri.port == 5061 for e in scenario.endpoints)
    assert scenario.order_mode == "fixed"
    assert scenario.to_requests().failover.order == "fixed"


def test_builtin_files_cite_their_sources() -> None:
    for name in BUILTINS:
        text = builtin_source(name)
        assert text.count("#") > 10, name
    assert "secure-trunking.md" in builtin_source("ibm-voice-agent")
    assert "origination-urls" in builtin_source("twilio-secure-trunk")
    assert "direct-routing-plan.md" in builtin_source("teams-direct-routing")
    assert "OriginationRoute" in builtin_source("amazon-chime")


def test_unknown_builtin_names_the_existing_ones() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_builtin("nope")
    assert "builtin:nope: no such built-in scenario; there are: amazon-chime" in str(caught.value)


def test_lab_scenario_with_a_real_lab_pki(tmp_path: Path, lab: LabFiles) -> None:
    (tmp_path / "lab").symlink_to(lab.ca.parent)
    copy = tmp_path / "lab.toml"
    copy.write_text((REPO / "scenarios" / "lab.toml").read_text(encoding="utf-8"))
    scenario = load_scenario(copy)
    assert scenario.tls.trust == str(tmp_path / "lab" / "ca.pem")
    assert all(e.sip_uri.host.endswith(".test") for e in scenario.endpoints)
    assert all(pin.split(":")[2].startswith("127.0.0.") for pin in scenario.run.resolve)
    requests = scenario.to_requests()
    run = prepare(requests.failover.common, refuse)
    assert run.policy.anchors is not None
    assert requests.failover.priorities == (10, 20)


def test_scenarios_readme_documents_every_key() -> None:
    from probe.scenario.loader import _known_keys

    readme = (REPO / "scenarios" / "README.md").read_text(encoding="utf-8")
    for section in ("trunk", "order", "endpoint", "tls", "options", "invite", "failover", "run"):
        for key in _known_keys((section,)):
            assert f"| `{key}` |" in readme, f"{section}.{key} is not documented"


# --- problems, with their lines -----------------------------------------------------------

BAD = """
[trunk]
name = "acme-us"
provider = "generic"

[[endpoint]]
uri = "sip:a.example.net:5061;transport=tls"
priority = 10

[[endpoint]]
uri = "sip:b.example.net;transport=tls"
priority = 70000
wieght = 5

[tls]
min_version = "1.4"
warn_days = -1

[options]
count = 0

[run]
resolve = [
    "a.example.net:5061:127.0.0.1",
    "not-a-pin",
]
"""


def test_a_bad_file_reports_every_problem_with_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(toml(BAD))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    lines = str(caught.value).splitlines()
    where = str(path)
    assert lines == [
        f"{where}:11 endpoint[1].priority: Input should be less than or equal to 65535",
        f"{where}:12 endpoint[1].wieght: unknown key 'wieght'; did you mean 'weight'?",
        f"{where}:15 tls.min_version: Input should be '1.0', '1.1', '1.2' or '1.3'",
        f"{where}:16 tls.warn_days: Input should be greater than or equal to 0",
        f"{where}:19 options.count: Input should be greater than or equal to 1",
        f"{where}:24 run.resolve[1]: 'not-a-pin': expected NAME:PORT:ADDRESS",
    ]
    assert [p.line for p in caught.value.problems] == [11, 12, 15, 16, 19, 24]


def test_unknown_key_without_a_close_match_lists_the_known_ones() -> None:
    assert problems(
        """
        [trunk]
        name = "x"
        colour = "blue"
        [[endpoint]]
        uri = "sip:a.example.net"
        """
    ) == [
        "t.toml:3 trunk.colour: unknown key 'colour' (this table knows: name, provider, "
        "description, retired)"
    ]


def test_unknown_section_and_missing_required_keys() -> None:
    assert problems(
        """
        [trunkk]
        name = "x"
        """
    ) == [
        "t.toml:1 trunkk: unknown key 'trunkk'; did you mean 'trunk'?",
        "t.toml:? trunk: required key missing",
        "t.toml:? endpoint: required key missing",
    ]


def test_missing_key_points_at_its_table() -> None:
    assert problems(
        """
        [trunk]
        name = "x"

        [[endpoint]]
        region = "a"
        """
    ) == ["t.toml:4 endpoint[0].uri: required key missing"]


def test_wrong_types_are_errors_not_coercions() -> None:
    lines = problems(
        """
        [trunk]
        name = "x"
        [[endpoint]]
        uri = "sip:a.example.net"
        priority = "10"
        [tls]
        accept_wildcard = "yes"
        """
    )
    assert lines == [
        "t.toml:5 endpoint[0].priority: Input should be a valid integer",
        "t.toml:7 tls.accept_wildcard: Input should be a valid boolean",
    ]


def test_toml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "syn.toml"
    path.write_text('[trunk]\nname = "x"\n[tls\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (3, 5)
    assert (
        str(problem)
        == f"{path}:3:5 TOML syntax error: Expected ']' at the end of a table declaration"
    )


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "missing.toml")
    assert (
        str(caught.value) == f"{tmp_path / 'missing.toml'}: cannot read: No such file or directory"
    )


HEAD = '[trunk]\nname = "x"\n\n[[endpoint]]\nuri = "sip:a.example.net"\n'


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        (HEAD + '[invite]\nto = "sip:+1@x.example"\npassword = "hunter2"\n', "invite.password", 8),
        (HEAD + '[run]\nSecret = "hunter2"\n', "run.Secret", 7),
        ('password = "hunter2"\n' + HEAD, "password", 1),
        (HEAD.replace('"x"', '"x"\npasswd = "hunter2"'), "trunk.passwd", 3),
    ],
)
def test_a_password_key_is_refused_with_the_reason(text: str, key: str, line: int) -> None:
    (message,) = problems(text)
    assert message.startswith(f"t.toml:{line} {key}: refused: a scenario file is shared")
    assert 'credentials = "env"' in message
    assert "hunter2" not in message


def test_a_password_in_a_uri_is_refused() -> None:
    (message,) = problems('[trunk]\nname = "x"\n[[endpoint]]\nuri = "sip:u:pw@a.example.net"\n')
    assert message.startswith("t.toml:4 endpoint[0].uri: the endpoint URI carries a password")
    assert "pw@" not in message.split(":", 2)[2].replace("user:password@", "")


def test_relative_paths_resolve_against_the_scenario_folder(tmp_path: Path) -> None:
    folder = tmp_path / "trunks"
    folder.mkdir()
    path = folder / "acme.toml"
    path.write_text(
        toml(
            """
            [trunk]
            name = "x"
            [[endpoint]]
            uri = "sip:a.example.net"
            [tls]
            trust = "pki/ca.pem"
            client_cert = "pki/c.pem"
            client_key = "/abs/c.key"
            [invite]
            to = "sip:+15550100@a.example.net"
            credentials = "secrets/auth"
            """
        )
    )
    scenario = load_scenario(path)
    assert scenario.tls.trust == str(folder / "pki" / "ca.pem")
    assert scenario.tls.client_cert == str(folder / "pki" / "c.pem")
    assert scenario.tls.client_key == "/abs/c.key"
    assert scenario.invite is not None
    assert scenario.invite.credentials == str(folder / "secrets" / "auth")
    mozilla = load_text(
        '[trunk]\nname = "x"\n[[endpoint]]\nuri = "sip:a.example.net"\n[tls]\ntrust = "mozilla"\n',
        base_dir=folder,
    )
    assert mozilla.tls.trust == "mozilla"


def test_min_version_written_as_a_number_is_understood() -> None:
    scenario = load_text(
        '[trunk]\nname = "x"\n[[endpoint]]\nuri = "sip:a.example.net"\n[tls]\nmin_version = 1.3\n'
    )
    assert scenario.tls.min_version == "1.3"


def test_module_entry_point(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["list"]) == 0
    assert "builtin:teams-direct-routing" in capsys.readouterr().out
    assert main(["show", "amazon-chime"]) == 0
    assert capsys.readouterr().out == builtin_source("amazon-chime")
    bad = tmp_path / "bad.toml"
    bad.write_text("[trunk]\n")
    assert main(["check", str(bad)]) == 2
    assert "trunk.name: required key missing" in capsys.readouterr().err
    assert main([]) == 2


# --- the line finder ----------------------------------------------------------------------


def test_line_index_covers_tables_arrays_dotted_keys_and_multiline_values() -> None:
    text = toml(
        '''
        title = "a # not a comment"
        tls.trust = "x"
        [trunk]
        description = """
        name = "inside a string"
        """
        name = "x"   # a comment
        "quoted key" = 1

        [[endpoint]]
        uri = "a"
        [[endpoint]]
        uri = "b"
        [endpoint.extra]
        k = [
            1,  # one
            [2, 3], 4,
            { a = 1 },
        ]
        '''
    )
    index = index_keys(text)
    assert index[("title",)] == 1
    assert index[("tls", "trust")] == 2
    assert index[("trunk", "description")] == 4
    assert index[("trunk", "name")] == 7
    assert index[("trunk", "quoted key")] == 8
    assert index[("endpoint", 0)] == 10
    assert index[("endpoint", 1, "uri")] == 13
    assert index[("endpoint", 1, "extra", "k")] == 15
    assert [index[("endpoint", 1, "extra", "k", i)] for i in range(4)] == [16, 17, 17, 18]
    assert find_line(index, ("endpoint", 1, "missing")) == 12
    assert find_line(index, ("nothing",)) is None
    assert format_path(("endpoint", 1, "a.b")) == 'endpoint[1]."a.b"'
