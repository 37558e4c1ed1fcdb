"""`--targets FILE`: the pure reading of its lines, then the command line around it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from probe.cli.commands import cli
from probe.cli.target_list import TargetListError, parse_target_list
from probe.run.locating import TargetError, check_target_uri
from probe.sip import SipError, parse_uri

SOURCE = "endpoints.txt"


def targets_of(text: str | bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    data = text.encode() if isinstance(text, str) else text
    listed = parse_target_list(data, SOURCE)
    return listed.targets, listed.notes


def problems_of(text: str | bytes) -> tuple[str, tuple[str, ...]]:
    data = text.encode() if isinstance(text, str) else text
    with pytest.raises(TargetListError) as caught:
        parse_target_list(data, SOURCE)
    return caught.value.summary, caught.value.problems


def command_line_refusal(text: str) -> str:
    """What a target given on the command line is refused with, after `target '...': `."""
    try:
        check_target_uri(parse_uri(text), text)
    except (SipError, TargetError) as exc:
        return str(exc)
    raise AssertionError(f"{text!r} was accepted")


def test_blank_lines_and_comments_are_skipped() -> None:
    text = (
        "# trunk endpoints\n"
        "\n"
        "   \t\n"
        "  # an indented comment\n"
        "sip:a.example.test:5060;transport=tcp   # primary\n"
        "sips:b.example.test\t# secondary\n"
        "sip:127.0.0.1:5062\n"
    )
    assert targets_of(text) == (
        (
            "sip:a.example.test:5060;transport=tcp",
            "sips:b.example.test",
            "sip:127.0.0.1:5062",
        ),
        (),
    )


def test_crlf_line_ends_and_a_missing_final_newline() -> None:
    assert targets_of("sip:a.example.test\r\n\r\nsip:b.example.test")[0] == (
        "sip:a.example.test",
        "sip:b.example.test",
    )


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_line() -> None:
    data = "\ufeffsip:a.example.test\nsip:b.example.test\n".encode()
    assert data.startswith(b"\xef\xbb\xbf")
    assert targets_of(data)[0] == ("sip:a.example.test", "sip:b.example.test")


def test_duplicate_lines_are_probed_once_with_a_note() -> None:
    text = (
        "sip:a.example.test\n"  # 1
        "sip:b.example.test\n"  # 2
        "sip:a.example.test   # again\n"  # 3
        "\n"  # 4
        "sip:b.example.test\n"  # 5
        "sip:a.example.test\n"  # 6
    )
    targets, notes = targets_of(text)
    assert targets == ("sip:a.example.test", "sip:b.example.test")
    assert notes == (
        f"{SOURCE}:3 repeats line 1; probed once",
        f"{SOURCE}:5 repeats line 2; probed once",
        f"{SOURCE}:6 repeats line 1; probed once",
    )


def test_every_bad_line_is_reported_at_once_with_its_number() -> None:
    text = (
        "# endpoints\n"  # 1
        "sip:good.example.test\n"  # 2
        "http://wrong.example.test\n"  # 3
        "sip:x.example.test;transport=sctp\n"  # 4
        "\n"  # 5
        "sip:a#fragment\n"  # 6: "#" without whitespace before it is no comment
        "sips:y.example.test;transport=udp  # a comment does not excuse it\n"  # 7
        "http://wrong.example.test\n"  # 8: a repeated bad line is bad again
    )
    summary, problems = problems_of(text)
    assert summary == "5 lines are not targets"
    numbers = [problem.split(":")[1] for problem in problems]
    assert numbers == ["3", "4", "6", "7", "8"]
    bad = {
        3: "http://wrong.example.test",
        4: "sip:x.example.test;transport=sctp",
        6: "sip:a#fragment",
        7: "sips:y.example.test;transport=udp",
        8: "http://wrong.example.test",
    }
    # The same words as for the same target on the command line.
    assert list(problems) == [
        f"{SOURCE}:{number}: target {line!r}: {command_line_refusal(line)}"
        for number, line in bad.items()
    ]


def test_one_bad_line_is_said_in_the_singular() -> None:
    summary, problems = problems_of("sip:ok.example.test\nsip:a b\n")
    assert summary == "1 line is not a target"
    (problem,) = problems
    assert problem.startswith(f"{SOURCE}:2: target 'sip:a b': ")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"sip:a.example.test\nsip:b\xff.example.test\n", f"{SOURCE}:2: byte 0xff"),
        (b"\xef\xbb\xbf\n\n\xc3(\n", f"{SOURCE}:3: byte 0xc3"),  # counted after the BOM
        (
            "sip:a.example.test\n".encode("utf-16"),
            "(it looks like UTF-16: save it as UTF-8)",
        ),
    ],
)
def test_text_that_is_not_utf8_is_refused_naming_where(data: bytes, where: str) -> None:
    summary, problems = problems_of(data)
    assert summary == "not UTF-8 text"
    (problem,) = problems
    assert where in problem


def test_an_empty_file_has_no_targets() -> None:
    assert targets_of("# nothing yet\n\n") == ((), ())
    assert targets_of(b"") == ((), ())


# --- the command line ------------------------------------------------------------------


def test_the_cli_lists_every_bad_line_in_one_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.txt"
    path.write_text("sip:127.0.0.1:5060\nnot a uri\n\nsip:x.example.test;transport=sctp\n")
    result = CliRunner().invoke(cli, ["options", "--targets", str(path)])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"sipprobe: --targets {path}: 2 lines are not targets"
    assert lines[1].startswith(f"{path}:2: target 'not a uri': ")
    assert lines[2] == (
        f"{path}:4: target 'sip:x.example.test;transport=sctp': "
        "sip:x.example.test;transport=sctp: transport=sctp is not supported; "
        "use tls, tcp, udp, ws or wss"
    )
    assert len(lines) == 3
    assert "Traceback" not in result.output


def test_the_cli_probes_a_repeated_line_once_and_notes_it(tmp_path: Path, closed_port: int) -> None:
    path = tmp_path / "endpoints.txt"
    target = f"sip:127.0.0.1:{closed_port};transport=tcp"
    path.write_bytes(f"\ufeff# lab\n{target}\n\n{target}  # again\n".encode())
    result = CliRunner().invoke(cli, ["options", "--targets", str(path), "--format", "json"])
    assert result.exit_code == 1, result.output  # nothing listens: a failed probe
    report = json.loads(result.stdout)
    assert [t["port"] for t in report["targets"]] == [closed_port]
    assert f"{path}:4 repeats line 2; probed once" in report["notes"]


def test_the_cli_refuses_a_file_without_targets(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.txt"
    path.write_text("# to be filled in\n")
    result = CliRunner().invoke(cli, ["options", "--targets", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"sipprobe: --targets {path}: no target in it (only blank lines and comments)"
    )


def test_the_cli_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "endpoints.txt"
    path.write_bytes("sip:a.example.test\n".encode("utf-16"))
    result = CliRunner().invoke(cli, ["options", "--targets", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"sipprobe: --targets {path}: not UTF-8 text",
        f"{path}:1: byte 0xff cannot be decoded (it looks like UTF-16: save it as UTF-8)",
    ]
