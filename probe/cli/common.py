"""Options and helpers shared by the `sipprobe` commands (probe.cli.commands)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from probe.settings import CallSettings, InboundSettings, Settings, StirSettings

if TYPE_CHECKING:
    from probe.cli.target_list import TargetList
    from probe.evidence.run import RunEvidence
    from probe.report.model import Report

from probe.report.exit_codes import EXIT_FAIL as EXIT_FAIL
from probe.report.exit_codes import EXIT_INCOMPLETE, EXIT_USAGE
from probe.report.exit_codes import EXIT_INTERNAL as EXIT_INTERNAL
from probe.report.exit_codes import EXIT_OK as EXIT_OK

F = TypeVar("F", bound=Callable[..., Any])

DEFAULTS = Settings()
"""The options' defaults are the settings' own: one place says what an unset option means."""


INBOUND_DEFAULTS = InboundSettings()
STIR_DEFAULTS = StirSettings()
"""The receiving sections' defaults (Settings() has neither: they exist only where calls
are received)."""


def call_default(name: str) -> Any:
    """A call setting's default (CallSettings needs `to`, so it has no default instance)."""
    return next(f.default for f in dataclasses.fields(CallSettings) if f.name == name)


def usage_error(message: str) -> NoReturn:
    click.echo(f"sipprobe: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _apply(function: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def policy_options(function: F) -> F:
    """How certificates and TLS are judged: for probing and for re-judging evidence."""
    return _apply(
        function,
        [
            click.option(
                "--trust",
                metavar="system|mozilla|PATH",
                help="Trust anchors: the system store (default), Mozilla's (certifi), or a "
                "PEM file or directory.",
            ),
            click.option(
                "--ca",
                type=click.Path(path_type=Path),
                help="Trust anchors from a PEM file or directory (same as --trust PATH).",
            ),
            click.option(
                "--min-tls",
                type=click.Choice(["1.0", "1.1", "1.2", "1.3"]),
                default=DEFAULTS.tls.min_version,
                show_default=True,
                help="Lowest TLS version offered and accepted.",
            ),
            click.option(
                "--insecure",
                is_flag=True,
                help="Report certificate failures as warnings and carry on.",
            ),
            click.option(
                "--warn-days",
                type=click.IntRange(min=0),
                default=DEFAULTS.tls.warn_days,
                show_default=True,
                help="Warn when a certificate expires within this many days.",
            ),
            click.option(
                "--critical-days",
                type=click.IntRange(min=0),
                default=DEFAULTS.tls.critical_days,
                show_default=True,
                help="Fail when a certificate expires within this many days.",
            ),
            click.option(
                "--accept-wildcard",
                is_flag=True,
                help="Accept RFC 2818 wildcard certificates (RFC 5922 forbids them for SIP).",
            ),
            click.option(
                "--accept-srv-target-identity",
                is_flag=True,
                help="A certificate for the SRV target, not the dialled domain, warns instead "
                "of failing (RFC 5922 §7.2 says match the domain).",
            ),
        ],
    )


def connection_options(function: F) -> F:
    """Options shared by every command that connects to a SIP server."""
    return _apply(
        function,
        [
            click.option(
                "--resolve",
                "pins",
                multiple=True,
                metavar="NAME:PORT:ADDRESS",
                help="Connect to ADDRESS for NAME:PORT; SNI and identity still use NAME.",
            ),
            policy_options,
            # Existence and readability are checked by the TLS layer, whose one-line
            # messages name the file and the problem (click's would take three lines).
            click.option(
                "--cert",
                type=click.Path(path_type=Path, readable=False),
                help="Client certificate (PEM).",
            ),
            click.option(
                "--key",
                type=click.Path(path_type=Path, readable=False),
                help="Client private key (PEM).",
            ),
            click.option(
                "--key-password-file",
                type=click.Path(path_type=Path, readable=False),
                metavar="FILE",
                help="The password of an encrypted --key: the first line of FILE (or set "
                "SIPPROBE_KEY_PASSWORD); never given on the command line.",
            ),
            click.option("--sni", help="Server name to send (default: the URI host)."),
            click.option(
                "--source",
                metavar="ADDRESS[:PORT]",
                help="Bind every connection to this local address (and port): an IP "
                "literal of this machine; its family is the only one located (as -4/-6).",
            ),
            click.option(
                "-4",
                "--ipv4",
                "family",
                flag_value="ipv4",
                help="Locate and connect to IPv4 addresses only (A records).",
            ),
            click.option(
                "-6",
                "--ipv6",
                "family",
                flag_value="ipv6",
                help="Locate and connect to IPv6 addresses only (AAAA records).",
            ),
            click.option(
                "--user-agent",
                metavar="TEXT",
                help="The User-Agent of every request and WebSocket upgrade "
                "(default: sipprobe/VERSION).",
            ),
            click.option(
                "--ws-path",
                default=DEFAULTS.sip.ws_path,
                show_default=True,
                metavar="PATH",
                help="The resource the WebSocket upgrade asks for (ws and wss targets), "
                "e.g. /ws for Asterisk.",
            ),
            click.option(
                "--timeout",
                type=click.FloatRange(min=0.05),
                default=DEFAULTS.run.timeout,
                show_default=True,
                help="Deadline of each phase, in seconds (DNS query, connect, handshake, "
                "first byte, message, transaction).",
            ),
            click.option(
                "--deadline",
                "deadlines",
                multiple=True,
                metavar="PHASE=SECONDS",
                help="Deadline of one phase instead of --timeout: dns, connect, handshake, "
                "first_byte, message, transaction or pong (--keepalive); repeatable.",
            ),
            click.option(
                "--max-time",
                type=click.FloatRange(min=0.1),
                metavar="SECONDS",
                help="Deadline of the whole run: targets not finished by then are reported "
                "as such (calls in progress are still ended).",
            ),
            click.option(
                "--trace",
                is_flag=True,
                help="Show every SIP message sent and received, as on the wire, on stderr "
                "(credentials and SDES keys redacted).",
            ),
            click.option(
                "--enumerate",
                "enumerate_tls",
                is_flag=True,
                help="Also try each TLS version and TLS 1.2 suite, one handshake each.",
            ),
            output_options,
        ],
    )


def output_options(function: F) -> F:
    """How the report is written, the same for every command that renders one: the
    formats of probe.report.output (FORMATS), to standard output or to files."""
    from probe.report.output import FORMATS

    names = ", ".join(FORMATS[:-1]) + f" or {FORMATS[-1]}"
    return _apply(
        function,
        [
            click.option(
                "--format",
                "output_format",
                metavar="FORMAT[,FORMAT]",
                default="console",
                show_default=True,
                help=f"{names}; several, comma-separated, in one run.",
            ),
            click.option(
                "--nagios",
                is_flag=True,
                help="Same as --format nagios: one status line with perfdata, Nagios exit codes.",
            ),
            click.option(
                "--output",
                "outputs",
                multiple=True,
                metavar="[FORMAT=]FILE",
                help="Write a format to FILE instead of standard output; FORMAT=FILE also "
                "adds a format --format did not name; repeatable.",
            ),
            click.option(
                "-v", "--verbose", is_flag=True, help="Show the evidence behind each finding."
            ),
            click.option("--no-color", is_flag=True, help="Plain text even on a terminal."),
        ],
    )


OUTPUT_KEYS = ("output_format", "nagios", "outputs", "verbose", "no_color")
"""The parameters `output_options` adds."""


def take_output(values: dict[str, Any]) -> dict[str, Any]:
    """The output options, taken out of `values` and checked before anything runs (a bad
    --format or --output must not waste a run): what `emit_and_exit` takes."""
    from probe.report.output import OutputError, plan_outputs

    output = {key: values.pop(key) for key in OUTPUT_KEYS if key in values}
    if output.pop("nagios", False):
        output["output_format"] = "nagios"
    try:
        plan_outputs(output["output_format"], output.get("outputs", ()))
    except OutputError as exc:
        usage_error(str(exc))
    return output


def read_targets_file(path: Path) -> TargetList:
    """`--targets FILE`, or one usage error listing every line that is not a target."""
    from probe.cli.target_list import TargetListError, parse_target_list

    try:
        data = path.read_bytes()
    except OSError as exc:
        usage_error(f"--targets {path}: {exc.strerror or exc}")
    try:
        return parse_target_list(data, str(path))
    except TargetListError as exc:
        usage_error("\n".join([f"--targets {path}: {exc.summary}", *exc.problems]))


def stdout_gone() -> None:
    """The reader of stdout went away (`| head -1`): the verdict stands. stdout now points
    at /dev/null so that the flush at exit cannot fail again (the Python documentation's
    advice, signal module, "Note on SIGPIPE")."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def asks_for_metrics(values: dict[str, Any]) -> bool:
    """Whether `--format`/`--output` ask for the prometheus format: the run must then
    keep every target's evidence, which its metrics read (probe.exporter.metrics)."""
    from probe.report.output import OutputError, plan_outputs

    try:
        destinations = plan_outputs(values["output_format"], values.get("outputs", ()))
    except OutputError:
        return False  # refused with its reason before the run (take_output)
    return any(destination.format == "prometheus" for destination in destinations)


def metrics_of(report: Report, runs: Sequence[RunEvidence]) -> Callable[[], bytes]:
    """The prometheus format of a run, made when it is written: prometheus_client is
    imported only by a command asked for it."""

    def render() -> bytes:
        from probe.exporter.metrics import exposition, file_registry

        return exposition(file_registry(report, runs))

    return render


def emit(
    report: Report,
    output_format: str,
    *,
    verbose: bool,
    no_color: bool,
    outputs: Sequence[str] = (),
    metrics: Callable[[], bytes] | None = None,
) -> int:
    """Render the report in every asked format; the exit code of the run. `metrics`
    makes the prometheus format (`metrics_of`), for a command that has the evidence."""
    from probe.report.model import exit_code
    from probe.report.output import (
        OutputError,
        nagios,
        plan_outputs,
        private_file,
        write_atomically,
        write_report,
    )

    def exposition() -> bytes:
        if metrics is None:
            raise OutputError("this command cannot write the prometheus format")
        return metrics()

    try:
        destinations = plan_outputs(output_format, outputs)
    except OutputError as exc:
        usage_error(str(exc))
    unwritten: list[Path] = []
    # Files first: a Nagios line on standard output must know whether they were written.
    for destination in destinations:
        path = destination.path
        if path is None:
            continue
        try:
            if destination.format == "prometheus":
                write_atomically(path, exposition())
            else:
                with private_file(path) as sink:
                    write_report(report, destination.format, sink, color=False, verbose=verbose)
        except OSError as exc:  # a full disk or a failing device, found only now
            click.echo(f"sipprobe: cannot write {path}: {exc.strerror}", err=True)
            unwritten.append(path)
    not_written = [str(path) for path in unwritten]
    for destination in (d for d in destinations if d.path is None):
        color = (False if no_color else None) if destination.format == "console" else False
        try:
            if destination.format == "nagios":
                sys.stdout.write(nagios(report, unwritten=not_written)[0] + "\n")
            elif destination.format == "prometheus":
                sys.stdout.write(exposition().decode("utf-8"))
            else:
                write_report(report, destination.format, sys.stdout, color=color, verbose=verbose)
            sys.stdout.flush()
        except BrokenPipeError:
            stdout_gone()
        except OSError as exc:  # stdout on a full disk or a failing device
            click.echo(f"sipprobe: cannot write standard output: {exc.strerror}", err=True)
            stdout_gone()
            unwritten.append(Path("-"))
    if report.interrupted:
        from probe.report.exit_codes import signal_name

        # Every call in flight was ended before this report was made.
        name = signal_name(report.stop_signal)
        click.echo(f"sipprobe: interrupted by {name}: the report is partial", err=True)
    if any(d.format == "nagios" and d.path is None for d in destinations):
        # A report asked for and not written is work not done: UNKNOWN unless CRITICAL.
        return nagios(report, unwritten=[str(path) for path in unwritten])[1]
    code = exit_code(report)
    # Not an internal error (docs/exit-codes.md): incomplete, never a pass; a failure
    # or a signal keeps its own code.
    return EXIT_INCOMPLETE if unwritten and code == EXIT_OK else code


def location_options(function: F) -> F:
    """How names are located (RFC 3263): the DNS server and the SRV weighting seed."""
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--dns-server",
            metavar="ADDRESS[:PORT]",
            help="Ask this DNS server for NAPTR, SRV and A/AAAA (default: A/AAAA through "
            "the system's name service, /etc/hosts included).",
        ),
        click.option(
            "--seed",
            type=int,
            help="Seed for the RFC 2782 weighted SRV order, to reproduce it.",
        ),
    ]
    return _apply(function, decorators)


def probe_options(function: F) -> F:
    """Options of the commands that send OPTIONS to the targets given (options, failover)."""
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--targets",
            "targets_file",
            type=click.Path(path_type=Path),
            help="File with one target URI per line (# starts a comment).",
        ),
        connection_options,
        location_options,
        run_options,
        click.option(
            "--auth-file",
            type=click.Path(path_type=Path),
            help="Digest credentials to answer a 401/407 to OPTIONS: a file with username= "
            "and password= lines (or set SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD).",
        ),
        click.option(
            "--header",
            "headers",
            multiple=True,
            metavar="'NAME: VALUE'",
            help="Add a header field to each OPTIONS; repeatable (the fields that make the "
            "transaction or frame the message are refused).",
        ),
        click.option("--from", "from_", metavar="URI", help="The From URI of each OPTIONS."),
        click.option("--contact", metavar="URI", help="The Contact URI of each OPTIONS."),
        click.option(
            "--keepalive",
            is_flag=True,
            help="After the OPTIONS, send a keep-alive ping and judge its pong (sip.keepalive): "
            "CRLF CRLF over TCP and TLS (RFC 5626), a WebSocket Ping over WS and WSS.",
        ),
    ]
    return _apply(function, decorators)


def run_options(function: F) -> F:
    """What answer counts as healthy and how hard a run goes: for every command that
    probes a list of targets (options, failover, check)."""
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--accept",
            default=DEFAULTS.sip.accept,
            show_default=True,
            help="Final responses that count as healthy, e.g. 2xx,405 (5xx never does).",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1),
            default=DEFAULTS.run.concurrency,
            show_default=True,
            help="Targets probed at once (lowered if the file-descriptor limit is smaller).",
        ),
        click.option(
            "--rate",
            type=click.FloatRange(min=0.01),
            metavar="PER_SECOND",
            help="Start at most this many targets a second (a token bucket).",
        ),
        click.option(
            "--per-target",
            type=click.IntRange(min=1, max=16),
            default=DEFAULTS.run.per_target,
            show_default=True,
            help="Connections to one address:port at once (targets sharing one wait).",
        ),
    ]
    return _apply(function, decorators)


def evidence_option(function: F) -> F:
    """`--evidence-out FILE`: save what the run collected, to judge again or diff later."""
    decorator = click.option(
        "--evidence-out",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help="Also save the run's evidence to FILE (JSON, mode 0600, keys and credentials "
        "redacted), whatever the verdict; see `sipprobe judge` and `sipprobe diff`.",
    )
    return decorator(function)


_OUTPUT_KEYS = ("output_format", "verbose", "no_color", "outputs")


def options_request(command: str, targets: Sequence[str], values: dict[str, Any]) -> Any:
    """An OptionsRequest from the shared options; output options are left in `values`."""
    from probe.run.commands import OptionsRequest
    from probe.settings import Settings

    targets_file = values.pop("targets_file", None)
    listed = read_targets_file(targets_file) if targets_file else None
    all_targets = list(targets) + (list(listed.targets) if listed is not None else [])
    if listed is not None and not all_targets:
        usage_error(f"--targets {targets_file}: no target in it (only blank lines and comments)")
    if not all_targets:
        usage_error(f"{command}: give at least one TARGET or --targets FILE")
    from probe.report.output import OutputError, plan_outputs

    if values.pop("nagios", False):
        values["output_format"] = "nagios"
    try:  # before any probe runs: a bad --format/--output must not waste one
        plan_outputs(values["output_format"], values.get("outputs", ()))
    except OutputError as exc:
        usage_error(str(exc))
    shared = {k: v for k, v in values.items() if k not in _OUTPUT_KEYS}
    notes = listed.notes if listed is not None else ()
    return OptionsRequest(
        targets=all_targets, settings=Settings.from_flat(shared), target_notes=notes
    )


def emit_and_exit(
    report: Report, values: dict[str, Any], runs: Sequence[RunEvidence] | None = None
) -> NoReturn:
    """Emit the report (and, from `runs`, the evidence it judged, its metrics) and exit
    with the run's code."""
    sys.exit(
        emit(
            report,
            values["output_format"],
            verbose=values["verbose"],
            no_color=values["no_color"],
            outputs=values.get("outputs", ()),
            metrics=None if runs is None else metrics_of(report, runs),
        )
    )


def inbound_options(function: F) -> F:
    """Where a command that receives calls listens, what it waits for, and what each call
    must prove (Settings.inbound; checked by probe.inbound_settings.check_inbound)."""
    defaults = INBOUND_DEFAULTS
    # Numbers are plain int and float here: their limits are checked with every other
    # inbound setting in one place, whichever way the settings were built.
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--listen",
            multiple=True,
            default=tuple(defaults.listen),
            show_default=True,
            metavar="TRANSPORT:ADDRESS[:PORT]",
            help="Listen for calls there: tls, tcp, udp, or SIP over WebSocket wss (ws "
            "plain); an IP address of this machine (0.0.0.0 for all; IPv6 in brackets, "
            "tls:[::]:5061); the port (default 5061 for tls, 443 for wss, 80 for ws, 5060 "
            "otherwise; 0 picks a free one, printed). Repeatable.",
        ),
        click.option(
            "--listen-cert",
            type=click.Path(path_type=Path, readable=False),
            metavar="PEM",
            help="Our certificate chain for the tls: and wss: listeners, leaf first: the name the "
            "provider's trunk dials must be in it.",
        ),
        click.option(
            "--listen-key",
            type=click.Path(path_type=Path, readable=False),
            metavar="PEM",
            help="The private key of --listen-cert (default: inside --listen-cert).",
        ),
        click.option(
            "--expect",
            type=int,
            default=defaults.expect,
            show_default=True,
            metavar="N",
            help="Calls that must arrive; the run ends once N have arrived and ended.",
        ),
        click.option(
            "--within",
            type=float,
            default=defaults.within,
            show_default=True,
            metavar="SECONDS",
            help="How long to wait for them once listening; calls that have not arrived "
            "by then are reported missing.",
        ),
        click.option(
            "--hold",
            type=float,
            default=defaults.hold,
            show_default=True,
            metavar="SECONDS",
            help="How long an answered call stays up before we hang up (BYE), if the "
            "caller has not hung up first.",
        ),
        click.option(
            "--verify-media",
            is_flag=True,
            help="Exchange SRTP with each answered call and authenticate the caller's "
            "packets with the keys its offer gave (needs sipprobe[srtp]).",
        ),
        click.option(
            "--verify-identity",
            is_flag=True,
            help="Verify each INVITE's STIR/SHAKEN Identity (RFC 8224); on whenever a "
            "--sti-* option is given; needs --sti-trust.",
        ),
        inbound_policy_options,
    ]
    return _apply(function, decorators)


def inbound_policy_options(function: F) -> F:
    """What each received call must prove: for receiving calls and for judging saved
    ones again (`sipprobe judge`)."""
    defaults = INBOUND_DEFAULTS
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--peer-ca",
            type=click.Path(path_type=Path, readable=False),
            metavar="PATH",
            help="Trust anchors (PEM file or directory) the caller's client certificate "
            "must chain to (default: the system store).",
        ),
        click.option(
            "--expect-peer",
            multiple=True,
            metavar="NAME",
            help="A name the caller's client certificate must carry (RFC 5922 §7.1: SAN "
            "URI sip:NAME or dNSName), e.g. sip.pstnhub.microsoft.com; repeatable, any "
            "one will do.",
        ),
        click.option(
            "--require-client-cert/--no-require-client-cert",
            default=defaults.require_client_cert,
            show_default=True,
            help="A TLS caller that presents no certificate fails (mutual TLS). A "
            "certificate is asked for with this, --expect-peer or --peer-ca.",
        ),
        click.option(
            "--require-srtp/--no-require-srtp",
            default=defaults.require_srtp,
            show_default=True,
            help="An offer without SRTP (plain RTP/AVP) fails: the trunk promises encrypted media.",
        ),
        click.option(
            "--require-tls/--no-require-tls",
            default=defaults.require_tls,
            show_default=True,
            help="A call over TCP or UDP fails: the trunk promises TLS signalling.",
        ),
    ]
    return _apply(function, decorators)


def stir_options(function: F) -> F:
    """How a received call's STIR/SHAKEN Identity is verified (Settings.stir): how its
    certificate is obtained, then the policy it is judged by. None of them has a default
    here: a STIR option that is given turns verification on (`take_inbound` leaves the
    others out, so Settings.stir keeps its own defaults)."""
    defaults = STIR_DEFAULTS
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--sti-cert-dir",
            type=click.Path(path_type=Path, readable=False),
            metavar="DIR",
            help="Offline: read each x5u certificate from DIR (HOST/PATH, or the URL's "
            "last segment) instead of fetching it.",
        ),
        click.option(
            "--sti-fetch-ca",
            type=click.Path(path_type=Path, readable=False),
            metavar="PATH",
            help="Trust anchors for the x5u servers' HTTPS certificates (default: the "
            "system store).",
        ),
        click.option(
            "--sti-fetch-timeout",
            type=float,
            metavar="SECONDS",
            help="How long one certificate fetch may take, redirects included "
            f"(default {defaults.sti_fetch_timeout:g}, at most 20).",
        ),
        stir_policy_options,
    ]
    return _apply(function, decorators)


def stir_policy_options(function: F) -> F:
    """The policy a STIR/SHAKEN Identity is judged by: for receiving calls and for
    verifying saved ones again (`sipprobe judge`). No defaults here (see stir_options)."""
    defaults = STIR_DEFAULTS
    decorators: list[Callable[[F], F]] = [
        click.option(
            "--sti-trust",
            type=click.Path(path_type=Path, readable=False),
            metavar="PATH",
            help="The STI-CA trust list: a PEM file or directory of the roots SHAKEN "
            "certificates must chain to (in the US, the STI-PA's list). Needed to "
            "verify Identity.",
        ),
        click.option(
            "--sti-freshness",
            type=int,
            metavar="SECONDS",
            help="How far the PASSporT's iat and the Date header may be from the clock and "
            f"from each other (default {defaults.sti_freshness}).",
        ),
        click.option(
            "--sti-required/--sti-optional",
            default=None,
            help="A call without an Identity header fails, as a verifier answering 428 "
            "would (default) / is only reported.",
        ),
        click.option(
            "--sti-min-attest",
            type=click.Choice(["A", "B", "C"]),
            help="The lowest attestation level that passes (RFC 8588 §4); default: A "
            "passes, B and C warn.",
        ),
    ]
    return _apply(function, decorators)


INBOUND_KEYS = tuple(f.name for f in dataclasses.fields(InboundSettings))
"""The parameters `inbound_options` adds: the inbound section's flat names."""
STIR_KEYS = tuple(f.name for f in dataclasses.fields(StirSettings))
"""The parameters `stir_options` adds: the STIR section's flat names."""


def take_stir_policy(values: dict[str, Any]) -> dict[str, Any]:
    """The STIR policy options given, taken out of `values` (those not given are dropped:
    `Settings.stir` then exists only when one was)."""
    taken = {key: values.pop(key) for key in STIR_POLICY_KEYS if key in values}
    return {key: value for key, value in taken.items() if value is not None}


STIR_POLICY_KEYS = ("sti_trust", "sti_freshness", "sti_required", "sti_min_attest")
"""The parameters `stir_policy_options` adds."""


def take_inbound(values: dict[str, Any]) -> dict[str, Any]:
    """The inbound and STIR options taken out of `values`, as `Settings.from_flat` names.
    A STIR option that was not given is left out, so `Settings.stir` exists only when
    one was (verification then on)."""
    taken = {key: values.pop(key) for key in INBOUND_KEYS if key in values}
    for key in STIR_KEYS:
        value = values.pop(key, None)
        if value is not None:
            taken[key] = value
    for key in ("listen", "expect_peer"):
        if key in taken:
            taken[key] = tuple(taken[key])
    return taken
