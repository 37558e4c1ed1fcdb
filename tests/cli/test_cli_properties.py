"""Property: no user input makes any command end in an internal error.

Every command is run in-process (click's CliRunner on `probe.cli.commands.cli`) with drawn option
values and URIs, valid-looking and garbage alike: unicode, control characters, huge and
negative numbers, empty strings, missing files and directories where files belong, junk
deadlines and --accept lists, --format/--output combinations, --targets files of random
lines, evidence files with values replaced or cut short, scenario files with drawn values.
The exit code must be one of the documented verdicts (0 pass or warn, 1 fail, 2 usage
error, 4 incomplete; docs/exit-codes.md), never 3, and no traceback or "internal error"
may reach the output. A few drawn runs go through a real `python -m probe` process too,
whose stderr is where a traceback would land.

Half the examples draw every option from plausible values only, so that runs get past
option parsing to locating, probing, calling and judging: against the embedded responder
(TLS, TCP and UDP on loopback, the lab PKI) and a closed port. The other half mix in junk.

Every run happens in its own temporary directory (a command such as `certs lab` or
`--evidence-out x` writes into the current one), and the directory the tests started in
must be left as it was. Nothing leaves loopback: IP literals are in 127.0.0.0/8 or ::1,
names are pinned to loopback with --resolve or looked up through a --dns-server on a
closed loopback port, a drawn argument or file naming any other address is discarded,
and while these tests run the system resolver (socket.getaddrinfo) refuses any name that
is not an IP literal and records it, so that a name reaching it fails the test.

The example count comes from SIPPROBE_FUZZ_EXAMPLES (default 30 per command: each example
is a whole command run).
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from probe.cli.commands import cli
from probe.evidence.file import dumps_evidence, write_evidence
from probe.scenario import list_builtins
from probe.tls.lab import LabFiles
from tests.evidence import sample

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("SIPPROBE_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(FUZZ, max_examples=max(1, min(EXAMPLES, 4)))
"""For what costs a process start or RSA keys (`certs lab`) an example."""
ALLOWED_EXIT_CODES = {0, 1, 2, 4}
NAGIOS_EXIT_CODES = {0, 1, 2, 3}
LAB_NAME = "sip.example.test"
SIPPROBE = [sys.executable, "-m", "probe"]


@dataclass(frozen=True)
class Files:
    """Paths the drawn arguments may name, good, bad and missing, and the ports."""

    directory: Path
    lab: LabFiles
    evidence: Path
    garbage: Path
    empty: Path
    targets: Path
    auth: Path
    missing: Path
    runs: Path
    """Where each run gets its own current directory."""
    closed_port: int
    """A loopback port with nothing listening, TCP and UDP: connections are refused and
    DNS queries go unanswered."""
    tls_port: int
    tcp_port: int
    udp_port: int
    """The embedded responder on 127.0.0.1, presenting the lab's server chain."""

    def any_path(self) -> st.SearchStrategy[str]:
        return st.sampled_from(
            [
                str(self.evidence),
                str(self.garbage),
                str(self.empty),
                str(self.targets),
                str(self.auth),
                str(self.missing),
                str(self.directory),
                str(self.missing / "below"),
                str(self.lab.ca),
                str(self.lab.server_key),
                "",
                "/dev/null",
                "drawn",
            ]
        )

    def any_output_path(self) -> st.SearchStrategy[str]:
        """Paths to write to. Never a file another example or test reads (the lab's keys
        and chains, the shared files above), and a full device rather than /dev/null: a
        writer that replaced the node instead of writing through would replace /dev/null
        itself."""
        return st.sampled_from(
            [
                str(self.missing),
                str(self.directory),
                str(self.missing / "below"),
                "",
                "/dev/full",
                "drawn",
                "targets.txt",
                "drawn.json",
            ]
        )


def closed_loopback_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (left closed)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no port free for TCP and UDP")


@pytest.fixture(scope="module")
def responder(lab: LabFiles) -> Iterator[dict[str, int]]:
    """`sipprobe serve` on 127.0.0.1 over TLS, TCP and UDP: transport → port."""
    process = subprocess.Popen(
        [
            *SIPPROBE,
            "serve",
            *("--transport", "tls", "--transport", "tcp", "--transport", "udp"),
            *("--cert", str(lab.server), "--key", str(lab.server_key)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ports: dict[str, int] = {}
        for _ in range(3):
            line = process.stdout.readline()
            assert line.startswith("listening on "), line
            transport, address = line.split()[2:4]
            ports[transport] = int(address.rsplit(":", 1)[1])
        yield ports
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture(scope="module")
def files(lab: LabFiles, responder: dict[str, int]) -> Iterator[Files]:
    # Module-scoped, not tmp_path: hypothesis runs many examples per test function.
    with tempfile.TemporaryDirectory(prefix="sipprobe-cli-properties-") as name:
        directory = Path(name)
        evidence = directory / "evidence.json"
        write_evidence(evidence, sample.run())
        garbage = directory / "garbage.bin"
        garbage.write_bytes(b"\xff\xfe\x00{not json\x1b[31m\n" * 8)
        empty = directory / "empty"
        empty.write_bytes(b"")
        port = closed_loopback_port()
        targets = directory / "targets.txt"
        targets.write_text(
            "\ufeff# loopback only\n\n"
            f"sip:127.0.0.1:{port};transport=tcp\n"
            f"sip:127.0.0.1:{responder['tcp']};transport=tcp\n"
            "sip:bad target\n",
            encoding="utf-8",
        )
        auth = directory / "auth"
        auth.write_text("username=alice\npassword=secret\n", encoding="utf-8")
        runs = directory / "runs"
        runs.mkdir()
        yield Files(
            directory=directory,
            lab=lab,
            evidence=evidence,
            garbage=garbage,
            empty=empty,
            targets=targets,
            auth=auth,
            missing=directory / "missing",
            runs=runs,
            closed_port=port,
            tls_port=responder["tls"],
            tcp_port=responder["tcp"],
            udp_port=responder["udp"],
        )


@dataclass
class ResolverGuard:
    """Names that reached the system resolver while it was guarded (should be none)."""

    asked: list[str] = field(default_factory=list)


def _is_ip_literal(host: object) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module", autouse=True)
def resolver_guard() -> Iterator[ResolverGuard]:
    """socket.getaddrinfo answers IP literals only, and records every other name: the
    machine's DNS resolver is not on loopback, so no drawn name may reach it."""
    guard = ResolverGuard()
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_ip_literal(host):
            guard.asked.append(repr(host))
            raise socket.gaierror(socket.EAI_NONAME, "name lookups are refused in this test")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = guarded
    try:
        yield guard
    finally:
        socket.getaddrinfo = real


@pytest.fixture(scope="module", autouse=True)
def starting_directory_untouched() -> Iterator[None]:
    """No run writes into the directory the tests were started from (a checkout)."""
    here = Path.cwd()
    before = set(os.listdir(here))
    yield
    written = set(os.listdir(here)) - before - {".hypothesis", ".pytest_cache"}
    assert not written, f"written into {here}: {sorted(written)}"


# --- drawn values ---------------------------------------------------------------------

JUNK = [
    "",
    " ",
    "-1",
    "0",
    "-0",
    "1e309",
    "nan",
    "inf",
    "-inf",
    "99999999999999999999999",
    "0x10",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "é",
    "💥",
    "--",
    "=",
    "a=b",
    "2xx,",
    ",",
    "sip:",
]
junk = st.one_of(st.sampled_from(JUNK), st.text(max_size=12))
seconds = st.floats(min_value=0.05, max_value=0.3).map(lambda value: f"{value:.3f}")
bad_seconds = st.sampled_from(["-1", "0", "0.01", "nan", "inf", "abc", "", "1e-9", "1e309"])
integers = st.one_of(
    st.integers(min_value=-3, max_value=5),
    st.sampled_from([65535, 65536, 70000, 99999, 2**31, 2**64, -(2**40)]),
).map(str)


def small(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


def hosts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)).map(
            lambda octets: "127." + ".".join(map(str, octets))
        ),
        st.sampled_from(
            [
                "[::1]",
                "::1",
                "[::ffff:127.0.0.1]",
                "[::1%25lo]",
                "[::1",
                LAB_NAME,
                "localhost",
                "xn--bcher-kva.test",
                "bücher.test",
                "a..b",
                "-a.test",
                "a" * 70 + ".test",
                "127.0.0.1.",
                "127.1",
                "0177.0.0.1",
            ]
        ),
        st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,8}){0,2}\.test", fullmatch=True),
    )


def good_uris(files: Files) -> st.SearchStrategy[str]:
    """Targets that get somewhere: the responder on each transport, the lab name pinned to
    it, a closed port, an unpinned name the closed DNS port never answers."""
    user = st.sampled_from(["", "+15550100@", "bob@"])
    place = st.sampled_from(
        [
            f"sip:{LAB_NAME}:{files.tls_port};transport=tls",
            f"sips:{LAB_NAME}:{files.tls_port}",
            f"sips:127.0.0.1:{files.tls_port}",
            f"sip:127.0.0.1:{files.tcp_port};transport=tcp",
            f"sip:127.0.0.1:{files.udp_port};transport=udp",
            f"sip:127.0.0.1:{files.udp_port}",
            f"sip:127.0.0.1:{files.closed_port};transport=tcp",
            # The wrong protocol on each port: SIP in the clear to TLS, TLS to plain TCP.
            f"sip:127.0.0.1:{files.tls_port};transport=tcp",
            f"sips:127.0.0.1:{files.tcp_port}",
            f"sip:127.0.0.1:{files.tls_port};transport=udp",
            f"sips:[::1]:{files.closed_port}",
            "sip:nowhere.test;transport=tls",
            "sips:nowhere.test",
        ]
    )
    return st.tuples(user, place).map(lambda parts: parts[1].replace(":", ":" + parts[0], 1))


def wild_uris(port: int) -> st.SearchStrategy[str]:
    scheme = st.sampled_from(["sip", "sips", "SIP", "tel", "http", "urn", ""])
    user = st.one_of(
        st.just(""),
        st.sampled_from(
            ["bob@", "+15550100@", "a%00@", "é@", "alice:secret@", "a:@", ":@", "%zz@", "@"]
        ),
    )
    ports = st.one_of(
        st.just(""),
        st.just(f":{port}"),
        st.sampled_from([":0", ":65536", ":99999", ":-1", ":", ":x", ":5061:5061"]),
        integers.map(lambda value: f":{value}"),
    )
    params = st.lists(
        st.sampled_from(
            [
                ";transport=tls",
                ";transport=tcp",
                ";transport=udp",
                ";transport=TLS",
                ";transport=sctp",
                ";transport=ws",
                ";transport=",
                ";transport",
                ";transprot=tls",
                ";trasnport=tcp",
                ";lr",
                ";maddr=127.0.0.1",
                ";maddr=",
                ";ttl=300",
                ";user=phone",
                ";method=INVITE",
                ";x=\x00",
                ";%74ransport=tls",
                ";transport=%74ls",
                ";;",
                ";=",
                "?h=v",
                "?",
                "#frag",
            ]
        ),
        max_size=3,
    ).map("".join)
    built = st.tuples(scheme, user, hosts(), ports, params).map(
        lambda parts: f"{parts[0]}:{parts[1]}{parts[2]}{parts[3]}{parts[4]}"
    )
    return st.one_of(built, built, junk)


def uris(files: Files, wild: bool) -> st.SearchStrategy[str]:
    good = good_uris(files)
    return st.one_of(good, wild_uris(files.closed_port)) if wild else good


def pins(files: Files, wild: bool) -> st.SearchStrategy[str]:
    good = st.sampled_from(
        [
            f"{LAB_NAME}:{files.tls_port}:127.0.0.1",
            f"{LAB_NAME}:{files.tls_port}:::1",
            f"{LAB_NAME}:5061:127.0.0.2",
            "nowhere.test:5061:127.0.0.1",
        ]
    )
    bad = st.one_of(
        st.sampled_from(
            [
                f"{LAB_NAME}:5061:[::1]",
                f"{LAB_NAME}:99999:127.0.0.1",
                f"{LAB_NAME}:0:127.0.0.1",
                f"{LAB_NAME}:5061:not-an-address",
                f"{LAB_NAME}:5061:",
                "nonsense",
                f"{LAB_NAME}::127.0.0.1",
                ":",
                "::",
            ]
        ),
        st.tuples(hosts(), integers).map(lambda parts: f"{parts[0]}:{parts[1]}:127.0.0.1"),
    )
    return st.one_of(good, bad) if wild else good


@dataclass(frozen=True)
class Opt:
    """One option: its plausible values, and the junk mixed in for a wild example (a flag
    has neither)."""

    name: str
    good: st.SearchStrategy[str] | None = None
    bad: st.SearchStrategy[str] | None = None

    def draw(self, wild: bool) -> st.SearchStrategy[list[str]]:
        if self.good is None:
            return st.just([self.name])
        values = st.one_of(self.good, self.bad) if wild and self.bad is not None else self.good
        return values.map(lambda value: [self.name, value])


def output_options(files: Files) -> list[Opt]:
    formats = ["console", "json", "junit", "nagios", "console,json", "json,junit"]
    return [
        Opt("--format", st.sampled_from(formats), st.sampled_from(["JSON", "yaml", "", ","])),
        Opt(
            "--output",
            st.sampled_from(["json=out.json", "junit=out.xml", "nagios=out.txt", "plain.out"]),
            st.sampled_from(
                [
                    f"json={files.missing / 'out.json'}",
                    "json=/dev/full",
                    "/dev/full",
                    f"json={files.directory}",
                    "json=",
                    "json=-",
                    "-",
                    "json=evidence-out.json",
                    "=x",
                    "yaml=x",
                    "",
                ]
            ),
        ),
        Opt("--verbose"),
        Opt("--no-color"),
    ]


def policy_options(files: Files) -> list[Opt]:
    anchors = st.sampled_from([str(files.lab.ca), "system", "mozilla", str(files.lab.other_ca)])
    return [
        Opt("--trust", anchors, files.any_path()),
        Opt("--ca", st.just(str(files.lab.ca)), files.any_path()),
        Opt("--min-tls", st.sampled_from(["1.0", "1.2", "1.3"]), st.sampled_from(["2.0", ""])),
        Opt("--insecure"),
        Opt("--warn-days", small(0, 400), integers),
        Opt("--critical-days", small(0, 30), integers),
        Opt("--accept-wildcard"),
    ]


def connection_options(files: Files) -> list[Opt]:
    phases = ["dns", "connect", "handshake", "first_byte", "message", "transaction"]
    deadline = st.tuples(st.sampled_from(phases), seconds).map("=".join)
    bad_deadline = st.one_of(
        st.tuples(st.sampled_from([*phases, "x", ""]), bad_seconds).map("=".join), junk
    )
    return [
        Opt("--resolve", pins(files, False), pins(files, True)),
        *policy_options(files),
        Opt(
            "--cert",
            st.just(str(files.lab.client)),
            st.one_of(files.any_path(), st.just(str(files.lab.server))),
        ),
        Opt(
            "--key",
            st.just(str(files.lab.client_key)),
            st.one_of(files.any_path(), st.just(str(files.lab.server_key))),
        ),
        Opt("--sni", st.sampled_from([LAB_NAME, "other.test"]), st.one_of(hosts(), junk)),
        Opt("--timeout", seconds, bad_seconds),
        Opt("--deadline", deadline, bad_deadline),
        Opt("--max-time", st.sampled_from(["0.1", "0.3", "1"]), bad_seconds),
        Opt("--enumerate"),
        Opt("--nagios"),
        *output_options(files),
    ]


def probe_options(files: Files) -> list[Opt]:
    accept = st.sampled_from(["2xx", "2xx,405", "405", "200-299", "2xx,2xx"])
    return [
        Opt("--targets", st.just("targets.txt"), files.any_path()),
        *connection_options(files),
        Opt("--seed", integers),
        Opt("--accept", accept, st.one_of(st.sampled_from(["503", "1xx", "999", "x"]), junk)),
        Opt("--concurrency", small(1, 5), integers),
        Opt("--rate", st.sampled_from(["5", "100"]), bad_seconds),
        Opt("--per-target", small(1, 16), integers),
        Opt("--evidence-out", st.just("evidence-out.json"), files.any_output_path()),
    ]


def argv(
    command: list[str],
    positional: Callable[[bool], st.SearchStrategy[list[str]]],
    choices: Sequence[Opt],
    fixed: tuple[str, ...] = (),
) -> st.SearchStrategy[list[str]]:
    """`command`, the positional arguments, `fixed`, then a few of `choices` in drawn order
    (so that a drawn value of a `fixed` option wins). A wild example mixes junk in."""

    def build(wild: bool) -> st.SearchStrategy[list[str]]:
        chosen = st.lists(st.sampled_from(list(choices)), max_size=5).flatmap(
            lambda options: (
                st.tuples(*(one.draw(wild) for one in options)) if options else st.just(())
            )
        )
        return st.tuples(positional(wild), chosen).map(
            lambda parts: [
                *command,
                *parts[0],
                *fixed,
                *(arg for pair in parts[1] for arg in pair),
            ]
        )

    return st.booleans().flatmap(build)


def targets_file(files: Files) -> st.SearchStrategy[bytes]:
    """A --targets file: drawn URIs and junk lines, comments, odd line ends, maybe not
    UTF-8 at all."""
    line = st.one_of(
        uris(files, True),
        st.sampled_from(["# comment", "", "   ", "\t# indented", "\ufeffsip:127.0.0.1"]),
    )
    text = st.tuples(
        st.lists(line, max_size=6), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans()
    ).map(lambda parts: parts[1].join(parts[0]) + (parts[1] if parts[2] else ""))
    return st.one_of(
        text.map(lambda value: value.encode("utf-8", "surrogatepass")),
        text.map(lambda value: value.encode("utf-8", "surrogatepass")),
        st.binary(max_size=64),
    )


# --- evidence files: valid JSON with values replaced, or cut short ----------------------


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*here, key)))
    elif isinstance(value, list):
        for position, child in enumerate(value):
            found.extend(_paths(child, (*here, position)))
    return found


_DELETE = object()


def _at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        if new is _DELETE and not rest:
            return {key: child for key, child in value.items() if key != head}
        return {
            key: (_replaced(child, rest, new) if key == head else child)
            for key, child in value.items()
        }
    copy = list(value)
    if new is _DELETE and not rest:
        del copy[head]
    else:
        copy[head] = _replaced(copy[head], rest, new)
    return copy


JSON_JUNK: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1e308,
    -0.0,
    "",
    "x",
    "é\x00",
    "AAAA",
    "!!not base64",
    "2026-13-01T00:00:00Z",
    "sip:127.0.0.1",
    [],
    [None],
    {},
    {"x": 1},
    _DELETE,
]
# Replacements of the same JSON type, which the evidence reader's type checks let through
# to the judging code.
SAME_TYPE: dict[type, list[Any]] = {
    str: ["", "x", "é\x00💥", "AAAA", "2026-13-01T00:00:00Z", "sip:127.0.0.1", "x" * 5000],
    int: [0, -1, -(2**63), 2**64, 65536, 99999],
    float: [0.0, -1.0, 1e308, -1e-308, math.nan, math.inf, -math.inf],
    bool: [True, False],
    list: [[], _DELETE],
    dict: [{}, _DELETE],
    type(None): [None, _DELETE],
}


def _same_type(document: Any, path: tuple[Any, ...], choice: int) -> Any:
    current = _at(document, path)
    if isinstance(current, list) and current and choice % 3 == 2:
        return current + current  # every item twice
    options = SAME_TYPE[type(current)]
    return options[choice % len(options)]


def evidence_texts() -> st.SearchStrategy[bytes]:
    document = json.loads(dumps_evidence(sample.run()))
    paths = _paths(document)[1:]
    text = json.dumps(document).encode()

    def mutate(changes: list[tuple[tuple[Any, ...], int, bool]]) -> bytes:
        current: Any = document
        for path, choice, same in changes:
            try:
                new = (
                    _same_type(current, path, choice)
                    if same
                    else JSON_JUNK[choice % len(JSON_JUNK)]
                )
                current = _replaced(current, path, new)
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed or retyped this path
        return json.dumps(current).encode()

    change = st.tuples(st.sampled_from(paths), st.integers(0, 1000), st.booleans())
    return st.one_of(
        st.lists(change, min_size=1, max_size=3).map(mutate),
        st.lists(change, min_size=1, max_size=3).map(mutate),
        st.integers(0, len(text) - 1).map(lambda end: text[:end]),
        st.sampled_from(
            [text, b"null", b"[]", b"{}", b'{"schema": "sipprobe.evidence/2"}', b"\xff"]
        ),
    )


# --- scenario files: the scenario's shape with drawn values ------------------------------


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)


def scenario_texts(files: Files) -> st.SearchStrategy[str]:
    number = st.sampled_from(["0", "1", "10", "20", "-1", "70000", "1e400", "nan", '"x"'])
    endpoint = st.tuples(
        uris(files, True), st.sampled_from(["lab-a", "lab-b", "", "é"]), number, number
    ).map(
        lambda parts: (
            "[[endpoint]]\n"
            f"uri = {toml_string(parts[0])}\n"
            f"region = {toml_string(parts[1])}\n"
            f"priority = {parts[2]}\nweight = {parts[3]}\n"
        )
    )
    trust = st.sampled_from(
        [
            str(files.lab.ca),
            "system",
            "mozilla",
            str(files.evidence),
            str(files.missing),
            str(files.directory),
            "",
        ]
    )
    invite = st.one_of(
        st.just(""),
        st.tuples(
            st.one_of(uris(files, True), st.just(f"sip:+15550100@{LAB_NAME}")),
            st.sampled_from(["sdes", "dtls", "rtp", "x"]),
            st.sampled_from(["on-answer", "immediately", "x"]),
            st.sampled_from(["", 'suites = ["AES_CM_128_HMAC_SHA1_80"]', 'suites = ["x", "x"]']),
            st.sampled_from(
                ['"env"', toml_string(str(files.auth)), toml_string(str(files.missing))]
            ),
            st.sampled_from(["lab-a", "nowhere", ""]),
        ).map(
            lambda parts: (
                "[invite]\n"
                f"to = {toml_string(parts[0])}\noffer = {toml_string(parts[1])}\n"
                f"hangup = {toml_string(parts[2])}\n{parts[3]}\ncredentials = {parts[4]}\n"
                f"answer_timeout = 0.2\nvia = {toml_string(parts[5])}\n"
            )
        ),
    )
    return st.tuples(
        st.sampled_from(["generic", "twilio", "teams", "amazon-chime", "x", ""]),
        st.sampled_from(["priority", "list", "fixed", "srv", "x"]),
        st.lists(endpoint, min_size=0, max_size=3),
        trust,
        st.sampled_from(["2xx", "2xx,405", "x", ""]),
        st.sampled_from(["1", "2", "0", "-1"]),
        invite,
        st.lists(pins(files, True), max_size=2),
        st.sampled_from(["lab-a", "nowhere", ""]),
    ).map(
        lambda parts: (
            f'[trunk]\nname = "fuzz"\nprovider = {toml_string(parts[0])}\n\n'
            f"[order]\nmode = {toml_string(parts[1])}\n\n"
            + "\n".join(parts[2])
            + f"\n[tls]\ntrust = {toml_string(parts[3])}\n\n"
            f"[options]\naccept = {toml_string(parts[4])}\ncount = {parts[5]}\ninterval = 0\n\n"
            + parts[6]
            + f"\n[failover]\nprimary = {toml_string(parts[8])}\n\n"
            "[run]\ntimeout = 0.2\n"
            f"resolve = [{', '.join(toml_string(pin) for pin in parts[7])}]\n"
        )
    )


# --- the property ---------------------------------------------------------------------

_ADDRESS = re.compile(r"\[?([0-9A-Fa-f:]*:[0-9A-Fa-f:.]*|\d{1,3}(?:\.\d{1,3}){3})\]?")


def only_loopback(texts: list[str]) -> bool:
    """No argument or drawn file names an IP address outside loopback."""
    for text in texts:
        for candidate in _ADDRESS.findall(text):
            try:
                address = ipaddress.ip_address(candidate)
            except ValueError:
                continue
            if not address.is_loopback and not address.is_unspecified:
                return False
    return True


def _check_outcome(args: list[str], code: int | None, output: str) -> None:
    shown = f"sipprobe {args!r}\nexit {code}\n{output}"
    if currently_in_test_context():
        event(f"exit {code}")
    # Nagios's own codes replace ours when its line goes to stdout (3 is UNKNOWN there);
    # an internal error still shows as a traceback or says so.
    allowed = NAGIOS_EXIT_CODES if any("nagios" in arg for arg in args) else ALLOWED_EXIT_CODES
    assert code in allowed, shown
    assert "Traceback" not in output, shown
    assert "internal error" not in output, shown


def run_and_judge(
    args: list[str],
    files: Files,
    guard: ResolverGuard,
    writes: Mapping[str, bytes] | None = None,
    *,
    offline: bool = False,
    env: Mapping[str, str | None] | None = None,
) -> None:
    """Run `sipprobe ARGS` in a fresh current directory holding `writes` (relative name →
    content) and judge how it ended. An `offline` command sends nothing, so the addresses
    its arguments and files name do not matter."""
    written = dict(writes or {})
    if not offline:
        texts = [*args, *(data.decode("utf-8", "replace") for data in written.values())]
        assume(only_loopback(texts))
    guard.asked.clear()
    started_in = Path.cwd()
    with tempfile.TemporaryDirectory(dir=files.runs) as name:
        for relative, data in written.items():
            (Path(name) / relative).write_bytes(data)
        os.chdir(name)
        try:
            result = CliRunner().invoke(cli, args, env=env)
        finally:
            os.chdir(started_in)
    shown = f"sipprobe {args!r}\nexit {result.exit_code}\n{result.output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(shown) from result.exception
    _check_outcome(args, result.exit_code, result.output)
    assert not guard.asked, f"names reached the system resolver: {guard.asked}\n{shown}"


def lookups(files: Files) -> tuple[str, ...]:
    """Options every locating command gets: names go to a closed loopback DNS port (or
    the lab name's pin), and nothing waits long."""
    return (
        *("--dns-server", f"127.0.0.1:{files.closed_port}"),
        *("--resolve", f"{LAB_NAME}:{files.tls_port}:127.0.0.1"),
        *("--timeout", "0.2", "--max-time", "3"),
    )


def options_argv(files: Files) -> st.SearchStrategy[list[str]]:
    choices = [
        *probe_options(files),
        Opt("--count", st.sampled_from(["1", "2", "3"]), st.sampled_from(["0", "-1", "x"])),
        Opt("--interval", st.sampled_from(["0", "0.01"]), st.sampled_from(["-1", "nan", "x"])),
        Opt("--follow-redirects"),
    ]
    return argv(
        ["options"],
        lambda wild: st.lists(uris(files, wild), max_size=3),
        choices,
        lookups(files),
    )


def failover_argv(files: Files) -> st.SearchStrategy[list[str]]:
    choices = [
        *probe_options(files),
        Opt("--priority", small(0, 20), integers),
        Opt("--priority", small(0, 20), integers),
        Opt("--weight", small(0, 20), integers),
        Opt(
            "--order",
            st.sampled_from(["list", "priority", "fixed"]),
            st.sampled_from(["srv", ""]),
        ),
    ]
    return argv(
        ["failover"],
        lambda wild: st.lists(uris(files, wild), max_size=3),
        choices,
        lookups(files),
    )


def invite_argv(files: Files) -> st.SearchStrategy[list[str]]:
    suites = ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80"]
    choices = [
        *connection_options(files),
        Opt(
            "--to",
            st.sampled_from(["+15550100", "bob", f"sip:+15550100@{LAB_NAME}"]),
            st.one_of(uris(files, True), st.sampled_from(["+1-555", "@", ""]), junk),
        ),
        Opt("--from", st.just(f"sip:probe@{LAB_NAME}"), st.one_of(uris(files, True), junk)),
        Opt("--offer", st.sampled_from(["sdes", "dtls", "rtp"]), st.just("zrtp")),
        Opt(
            "--suite",
            st.sampled_from(suites),
            st.one_of(st.sampled_from(["aes_256_cm_hmac_sha1_80", "AEAD_AES_128_GCM"]), junk),
        ),
        Opt(
            "--hangup",
            st.sampled_from(["on-answer", "on-early-media", "immediately"]),
            st.just("x"),
        ),
        Opt("--answer-timeout", st.sampled_from(["0.1", "0.5"]), bad_seconds),
        Opt("--auth-file", st.just(str(files.auth)), files.any_path()),
        Opt("--allow-cleartext-keys"),
        Opt("--verify-media"),
        Opt("--evidence-out", st.just("evidence-out.json"), files.any_output_path()),
    ]
    return argv(
        ["invite"],
        lambda wild: uris(files, wild).map(lambda uri: [uri]),
        choices,
        (*lookups(files), "--to", "+15550100"),
    )


def resolve_argv(files: Files) -> st.SearchStrategy[list[str]]:
    choices = [
        Opt("--resolve", pins(files, False), pins(files, True)),
        Opt("--timeout", seconds, bad_seconds),
        Opt("--seed", integers),
        Opt("--format", st.sampled_from(["console", "json"]), st.sampled_from(["junit", ""])),
    ]
    fixed = ("--dns-server", f"127.0.0.1:{files.closed_port}", "--timeout", "0.2")
    return argv(["resolve"], lambda wild: st.lists(uris(files, wild), max_size=3), choices, fixed)


def judge_argv(files: Files) -> st.SearchStrategy[list[str]]:
    now = st.sampled_from(
        [
            "2026-11-27T00:00:00Z",
            "2026-11-27T00:00:00+14:00",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59",
            "9999-12-31T23:59:59-12:00",
            "1970-01-01",
        ]
    )
    choices = [
        *policy_options(files),
        Opt("--accept", st.sampled_from(["2xx", "2xx,405"]), st.one_of(st.just("503"), junk)),
        Opt("--now", now, st.one_of(st.sampled_from(["2026-13-01", "now"]), junk)),
        Opt(
            "--format",
            st.sampled_from(["console", "json", "junit", "nagios", "json,nagios"]),
            st.sampled_from(["yaml", "", "json,json"]),
        ),
        Opt("--nagios"),
        Opt(
            "--scenario",
            st.sampled_from(["builtin:teams-direct-routing", "builtin:ibm-voice-agent"]),
            st.one_of(st.sampled_from(["builtin:nope", "missing.toml"]), junk),
        ),
        Opt("--verbose"),
        Opt("--no-color"),
    ]
    evidence = st.sampled_from(["drawn.json", str(files.evidence)])
    return argv(
        ["judge"],
        lambda wild: (st.one_of(evidence, files.any_path()) if wild else evidence).map(
            lambda path: [path]
        ),
        choices,
    )


def diff_argv(files: Files) -> st.SearchStrategy[list[str]]:
    good = st.sampled_from(["drawn.json", "other.json", str(files.evidence)])
    choices = [Opt("--format", st.sampled_from(["console", "json"]), st.just("junit"))]
    return argv(
        ["diff"],
        lambda wild: st.lists(
            st.one_of(good, files.any_path()) if wild else good, min_size=2, max_size=2
        ),
        choices,
    )


def check_argv(files: Files) -> st.SearchStrategy[list[str]]:
    real = sorted(f"builtin:{name}" for name, _description in list_builtins())
    good = st.sampled_from(["drawn.toml", *real])
    bad = st.one_of(
        files.any_path(),
        junk.map(lambda name: f"builtin:{name}"),
        st.sampled_from(["builtin:", "builtin:TWILIO-secure-trunk", "builtin:../lab"]),
    )
    choices = [
        Opt("--to", st.just("+15550100"), st.one_of(uris(files, True), junk)),
        *connection_options(files),
        Opt("--seed", integers),
        Opt("--accept", st.just("2xx,405"), st.one_of(st.just("503"), junk)),
        Opt("--concurrency", small(1, 5), integers),
        Opt("--evidence-out", st.just("evidence-out.json"), files.any_output_path()),
    ]
    # The built-in scenarios name real providers: their names go only to the closed
    # loopback DNS port, and every wait is short.
    return argv(
        ["check"],
        lambda wild: (st.one_of(good, bad) if wild else good).map(lambda name: [name]),
        choices,
        lookups(files),
    )


@FUZZ
@given(data=st.data())
def test_options(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    args = data.draw(options_argv(files))
    writes = {"targets.txt": data.draw(targets_file(files))}
    run_and_judge(args, files, resolver_guard, writes)


@FUZZ
@given(data=st.data())
def test_failover(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    args = data.draw(failover_argv(files))
    writes = {"targets.txt": data.draw(targets_file(files))}
    run_and_judge(args, files, resolver_guard, writes)


@FUZZ
@given(data=st.data())
def test_invite(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    credential = st.one_of(st.none(), st.sampled_from(["alice", "", " ", "a\nb", "é"]), junk)
    env = {
        "SIPPROBE_AUTH_USER": data.draw(credential),
        "SIPPROBE_AUTH_PASSWORD": data.draw(credential),
    }
    # The environment cannot carry NUL.
    assume(all("\x00" not in (value or "") for value in env.values()))
    run_and_judge(data.draw(invite_argv(files)), files, resolver_guard, env=env)


@FUZZ
@given(data=st.data())
def test_resolve(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    run_and_judge(data.draw(resolve_argv(files)), files, resolver_guard)


@FUZZ
@given(data=st.data())
def test_judge(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    args = data.draw(judge_argv(files))
    writes = {"drawn.json": data.draw(evidence_texts())}
    run_and_judge(args, files, resolver_guard, writes, offline=True)


@FUZZ
@given(data=st.data())
def test_diff(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    args = data.draw(diff_argv(files))
    writes = {"drawn.json": data.draw(evidence_texts()), "other.json": data.draw(evidence_texts())}
    run_and_judge(args, files, resolver_guard, writes, offline=True)


@FUZZ
@given(data=st.data())
def test_check(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    args = data.draw(check_argv(files))
    writes = {"drawn.toml": data.draw(scenario_texts(files)).encode()}
    run_and_judge(args, files, resolver_guard, writes)


@FUZZ
@given(extra=st.lists(junk, max_size=2))
def test_scenarios(files: Files, resolver_guard: ResolverGuard, extra: list[str]) -> None:
    run_and_judge(["scenarios", *extra], files, resolver_guard)


@FEW
@given(data=st.data())
def test_certs_lab(files: Files, resolver_guard: ResolverGuard, data: st.DataObject) -> None:
    directory = st.sampled_from(
        ["lab", "", ".", str(files.evidence), str(files.missing / "deeper" / "lab"), "/dev/null"]
    )
    names = st.one_of(
        hosts(), junk, st.sampled_from(["*.example.test", "127.0.0.1", "::1", "[::1]", "a" * 300])
    )
    choices = [Opt("--name", names), Opt("--name", names)]
    args = data.draw(argv(["certs", "lab"], lambda wild: directory.map(lambda d: [d]), choices))
    run_and_judge(args, files, resolver_guard)


@FEW
@given(data=st.data())
def test_unknown_commands_and_global_options(
    files: Files, resolver_guard: ResolverGuard, data: st.DataObject
) -> None:
    command = st.sampled_from(
        ["", "--version", "-h", "optoins", "certs", "certs x", "serve --help", "demo --help"]
    )
    args = data.draw(st.tuples(command, st.lists(junk, max_size=2)))
    run_and_judge([*args[0].split(), *args[1]], files, resolver_guard)


def test_demo(files: Files, resolver_guard: ResolverGuard) -> None:
    """`demo` takes only output options and runs a few seconds of loopback probes: once,
    not drawn."""
    run_and_judge(["demo", "--format", "json", "--no-color"], files, resolver_guard, offline=True)


# --- in a real process: stderr is where a traceback would show --------------------------


@FEW
@given(data=st.data())
def test_in_a_process(files: Files, data: st.DataObject) -> None:
    builders: list[Callable[[Files], st.SearchStrategy[list[str]]]] = [
        options_argv,
        invite_argv,
        judge_argv,
        check_argv,
    ]
    args = data.draw(st.sampled_from(builders).flatmap(lambda build: build(files)))
    writes = {
        "targets.txt": data.draw(targets_file(files)),
        "drawn.json": data.draw(evidence_texts()),
        "drawn.toml": data.draw(scenario_texts(files)).encode(),
    }
    # The evidence file is only read (by judge, offline); the others may be probed.
    probed = [writes["targets.txt"], writes["drawn.toml"]]
    assume(only_loopback([*args, *(value.decode("utf-8", "replace") for value in probed)]))
    # A process's arguments are C strings (execve): no shell or program can pass a NUL,
    # so no command line to run holds one (the in-memory tests above still try them).
    assume(not any("\x00" in arg for arg in args))
    with tempfile.TemporaryDirectory(dir=files.runs) as name:
        for relative, content in writes.items():
            (Path(name) / relative).write_bytes(content)
        finished = subprocess.run(
            [*SIPPROBE, *args],
            cwd=name,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
            check=False,
        )
    _check_outcome(args, finished.returncode, finished.stdout + finished.stderr)


@FEW
@given(data=st.data())
def test_serve(files: Files, data: st.DataObject) -> None:
    """`serve` runs until interrupted: drawn options either refuse at once (exit 2) or
    serve; a serving responder ends on SIGINT with exit 0. Only IP literals are drawn for
    --listen (any other text would be looked up by the system resolver)."""
    choices = [
        Opt("--listen", st.sampled_from(["127.0.0.1", "::1", "127.0.0.2", "127.255.255.254"])),
        Opt("--port", st.just("0"), st.sampled_from(["-1", "65536", "x", ""])),
        Opt("--transport", st.sampled_from(["tls", "tcp", "udp"]), st.sampled_from(["sctp", ""])),
        Opt("--transport", st.sampled_from(["tcp", "udp"])),
        Opt("--cert", st.just(str(files.lab.server)), files.any_path()),
        Opt("--key", st.just(str(files.lab.server_key)), files.any_path()),
    ]
    args = data.draw(argv(["serve"], lambda wild: st.just([]), choices))
    with tempfile.TemporaryDirectory(dir=files.runs) as name:
        process = subprocess.Popen(
            [*SIPPROBE, *args],
            cwd=name,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            if first.startswith("listening on"):
                process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    _check_outcome(args, process.returncode, first + stdout + stderr)
