"""`sipprobe serve -v`: a line for each request the responder answers (and each ping),
naming the request, the client and the answer; in process over TCP, TLS and UDP with a
whole call, and as a process whose stderr a person reads."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from probe.evidence.model import Target
from probe.net.options import ProbeSettings, collect_options
from probe.serve import Responder, ResponderConfig
from probe.serve.log import MAX_REMEMBERED, AnswerLog
from probe.sip import build_options, build_response, new_branch, parse_uri
from tests.serve.conftest import StartResponder, probe

LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (tls|tcp|udp) 127\.0\.0\.1:\d+ (.*)$")


def logged(lines: list[str]) -> list[tuple[str, str]]:
    """(transport, what) of each line, every line in the documented shape."""
    found = []
    for line in lines:
        match = LINE.match(line)
        assert match is not None, line
        found.append((match.group(1), match.group(2)))
    return found


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_an_options_gets_one_line(start_responder: StartResponder, transport: str) -> None:
    lines: list[str] = []
    responder = await start_responder(log=lines.append)
    evidence = await probe(responder, transport)  # type: ignore[arg-type]
    assert evidence.exchanges[0].final_status == 200
    ((where, what),) = logged(lines)
    assert where == transport
    assert re.fullmatch(rf"OPTIONS sip:sip\.example\.test:\d+;transport={transport} → 200 OK", what)


async def test_a_call_is_logged_request_by_request(start_responder: StartResponder) -> None:
    lines: list[str] = []
    responder = await start_responder(log=lines.append)
    evidence = await probe(responder, "tls", call=True)
    assert evidence.call is not None
    assert evidence.call.teardown == "bye"
    whats = [what for where, what in logged(lines) if where == "tls"]
    invite = "INVITE sip:+15550100@sip.example.test"
    assert whats[:3] == [f"{invite} → 100 Trying", f"{invite} → 180 Ringing", f"{invite} → 200 OK"]
    assert whats[3].startswith("ACK sip:")
    assert whats[3].endswith("(not answered: RFC 3261 §17.1.1.3)")
    assert whats[4].startswith("BYE sip:")
    assert whats[4].endswith(" → 200 OK")


async def test_a_keepalive_ping_is_logged(start_responder: StartResponder) -> None:
    lines: list[str] = []
    responder = await start_responder(log=lines.append)
    port = responder.port_of("tcp")
    text = f"sip:127.0.0.1:{port};transport=tcp"
    target = Target(uri=text, host="127.0.0.1", port=port, transport="tcp", address="127.0.0.1")
    await collect_options(parse_uri(text), target, ProbeSettings(timeout=2.0, keepalive=True))
    assert [what for _where, what in logged(lines)][-1] == (
        "CRLF CRLF ping → CRLF pong (RFC 5626 §4.4.1)"
    )


def test_the_log_remembers_a_bounded_number_of_unanswered_requests() -> None:
    lines: list[str] = []
    log = AnswerLog(lines.append)
    requests = [
        build_options(
            parse_uri("sip:a.example.test"),
            transport="TCP",
            local_host="127.0.0.1",
            local_port=5060,
            branch=new_branch(f"b{number}"),
            from_tag="t",
            call_id=f"c{number}",
            user_agent="test",
        )
        for number in range(MAX_REMEMBERED + 1)
    ]
    for request in requests:
        log.request("tcp", "127.0.0.1:1", request)
    assert len(log._asked) == MAX_REMEMBERED
    # The oldest was forgotten: its answer is still said, by its CSeq.
    log.response("tcp", "127.0.0.1:1", build_response(requests[0], 200, "OK", to_tag="x"))
    log.response("tcp", "127.0.0.1:1", build_response(requests[-1], 200, "OK", to_tag="x"))
    assert lines[0].endswith("(1 OPTIONS) → 200 OK")
    assert lines[1].endswith("OPTIONS sip:a.example.test → 200 OK")
    assert len(log._asked) == MAX_REMEMBERED - 1


def test_serve_v_logs_on_stderr_as_a_process() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "probe", "serve", "--transport", "tcp", "-v"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        assert server.stderr is not None
        line = server.stdout.readline()
        assert line.startswith("listening on tcp 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        result = subprocess.run(
            [sys.executable, "-m", "probe", "options", f"sip:127.0.0.1:{port};transport=tcp"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        logged_line = server.stderr.readline()
        assert re.match(
            rf"^\d\d:\d\d:\d\d\.\d{{3}} tcp 127\.0\.0\.1:\d+ "
            rf"OPTIONS sip:127\.0\.0\.1:{port};transport=tcp → 200 OK$",
            logged_line,
        ), logged_line
    finally:
        server.terminate()
        server.wait(10)
        for pipe in (server.stdout, server.stderr):
            if pipe is not None:
                pipe.close()


def test_without_v_nothing_is_logged() -> None:
    assert ResponderConfig().log is None
    assert Responder(ResponderConfig())._log is None
