"""The `sipprobe` command: parsing and wiring only.

Heavy modules (cryptography, rich, asyncio machinery) are imported inside the commands that
need them, so `sipprobe --version` and `--help` start fast.

Exit codes: 0 all passed (warnings allowed), 1 something failed, 2 usage or input error,
3 internal error. A traceback is never the answer to bad network input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from probe import __version__

if TYPE_CHECKING:
    from probe.report.model import Report

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

F = TypeVar("F", bound=Callable[..., Any])


def _usage(message: str) -> NoReturn:
    click.echo(f"sipprobe: {message}", err=True)
    sys.exit(EXIT_USAGE)


def connection_options(function: F) -> F:
    """Options shared by every command that connects to a SIP server."""
    decorators = [
        click.option(
            "--resolve",
            "pins",
            multiple=True,
            metavar="NAME:PORT:ADDRESS",
            help="Connect to ADDRESS for NAME:PORT; SNI and identity still use NAME.",
        ),
        click.option(
            "--trust",
            metavar="system|mozilla|PATH",
            help="Trust anchors: the system store (default), Mozilla's (certifi), or a PEM "
            "file or directory.",
        ),
        click.option(
            "--ca",
            type=click.Path(path_type=Path),
            help="Trust anchors from a PEM file or directory (same as --trust PATH).",
        ),
        click.option("--cert", type=click.Path(path_type=Path), help="Client certificate (PEM)."),
        click.option("--key", type=click.Path(path_type=Path), help="Client private key (PEM)."),
        click.option("--sni", help="Server name to send (default: the URI host)."),
        click.option(
            "--min-tls",
            type=click.Choice(["1.0", "1.1", "1.2", "1.3"]),
            default="1.2",
            show_default=True,
            help="Lowest TLS version offered.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.05),
            default=5.0,
            show_default=True,
            help="Deadline of each phase, in seconds.",
        ),
        click.option(
            "--insecure",
            is_flag=True,
            help="Report certificate failures as warnings and carry on.",
        ),
        click.option(
            "--warn-days",
            type=click.IntRange(min=0),
            default=30,
            show_default=True,
            help="Warn when a certificate expires within this many days.",
        ),
        click.option(
            "--critical-days",
            type=click.IntRange(min=0),
            default=7,
            show_default=True,
            help="Fail when a certificate expires within this many days.",
        ),
        click.option(
            "--accept-wildcard",
            is_flag=True,
            help="Accept RFC 2818 wildcard certificates (RFC 5922 forbids them for SIP).",
        ),
        click.option(
            "--enumerate",
            "enumerate_tls",
            is_flag=True,
            help="Also try each TLS version and TLS 1.2 suite, one handshake each.",
        ),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(["console", "json"]),
            default="console",
            show_default=True,
        ),
        click.option(
            "-v", "--verbose", is_flag=True, help="Show the evidence behind each finding."
        ),
        click.option("--no-color", is_flag=True, help="Plain text even on a terminal."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sipprobe", message="%(prog)s %(version)s")
def cli() -> None:
    """Verify SIP trunks end to end: TLS, certificates, OPTIONS, failover, SRTP."""


def read_targets_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _usage(f"--targets {path}: {exc}")
    targets = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            targets.append(line)
    return targets


def emit(report: Report, output_format: str, *, verbose: bool, no_color: bool) -> int:
    from probe.report.model import exit_code

    if output_format == "json":
        from probe.report.json import render_json

        click.echo(render_json(report))
    else:
        from probe.report.console import render_console

        render_console(report, sys.stdout, color=False if no_color else None, verbose=verbose)
    return exit_code(report)


def _location_options(function: F) -> F:
    """How names are located (RFC 3263): the DNS server and the SRV weighting seed."""
    decorators = [
        click.option(
            "--dns-server",
            metavar="ADDRESS[:PORT]",
            help="Ask this DNS server instead of the system's resolver.",
        ),
        click.option(
            "--seed",
            type=int,
            help="Seed for the RFC 2782 weighted SRV order, to reproduce it.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def _probe_options(function: F) -> F:
    """Options of the commands that send OPTIONS (options, failover)."""
    decorators = [
        click.option(
            "--targets",
            "targets_file",
            type=click.Path(path_type=Path),
            help="File with one target URI per line (# starts a comment).",
        ),
        connection_options,
        _location_options,
        click.option(
            "--accept",
            default="2xx",
            show_default=True,
            help="Final responses that count as healthy, e.g. 2xx,405 (5xx never does).",
        ),
        click.option(
            "--concurrency",
            type=click.IntRange(min=1),
            default=50,
            show_default=True,
            help="Targets probed at once.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


_OUTPUT_KEYS = ("output_format", "verbose", "no_color")


def _request(command: str, targets: Sequence[str], values: dict[str, Any]) -> Any:
    """An OptionsRequest from the shared options; output options are left in `values`."""
    from probe.app import OptionsRequest

    targets_file = values.pop("targets_file", None)
    all_targets = list(targets) + (read_targets_file(targets_file) if targets_file else [])
    if not all_targets:
        _usage(f"{command}: give at least one TARGET or --targets FILE")
    shared = {k: v for k, v in values.items() if k not in _OUTPUT_KEYS}
    return OptionsRequest(targets=all_targets, **shared)


def _emit_and_exit(report: Report, values: dict[str, Any]) -> NoReturn:
    sys.exit(
        emit(
            report,
            values["output_format"],
            verbose=values["verbose"],
            no_color=values["no_color"],
        )
    )


@cli.command()
@click.argument("targets", nargs=-1)
@_probe_options
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Probes per target over one connection (ping mode).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds between probes with --count.",
)
def options(targets: Sequence[str], **values: Any) -> None:
    """Send SIP OPTIONS to each TARGET (sip:host[:port];transport=tls|tcp|udp or sips:host).

    Each name is located per RFC 3263 (NAPTR, SRV, A/AAAA) and every address is probed on
    its own connection; TLS targets have their handshake, chain and identity judged before
    OPTIONS is sent.
    """
    from probe.app import run_options_command

    request = _request("options", targets, values)
    _emit_and_exit(run_options_command(request, on_usage_error=_usage), values)


@cli.command()
@click.argument("targets", nargs=-1)
@_probe_options
@click.option(
    "--priority",
    "priorities",
    type=click.IntRange(0, 65535),
    multiple=True,
    help="Priority of each endpoint, in the order given (lowest is tried first).",
)
@click.option(
    "--weight",
    "weights",
    type=click.IntRange(0, 65535),
    multiple=True,
    help="Weight of each endpoint within its priority, in the order given.",
)
@click.option(
    "--order",
    type=click.Choice(["list", "priority", "fixed"]),
    help="How the provider orders the endpoints (default: list, or priority with --priority).",
)
def failover(
    targets: Sequence[str],
    priorities: Sequence[int],
    weights: Sequence[int],
    order: str | None,
    **values: Any,
) -> None:
    """Probe an endpoint list in the order the provider tries it, and judge the failover.

    TARGETS are the origination URIs in configured order. Every address behind every
    endpoint is probed (TLS, certificate, OPTIONS); the report says where calls land,
    whether the intended primary takes them, and whether a real failover path exists.
    """
    from probe.app import FailoverRequest, run_failover_command

    request = FailoverRequest(
        _request("failover", targets, values),
        priorities=priorities,
        weights=weights,
        order=order,
    )
    _emit_and_exit(run_failover_command(request, on_usage_error=_usage), values)


@cli.command()
@click.argument("target")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URI",
    help="Who is called: the Request-URI and To (a number or user). Required.",
)
@click.option("--from", "from_", metavar="URI", help="The From URI (default: sipprobe@local).")
@connection_options
@_location_options
@click.option(
    "--offer",
    type=click.Choice(["sdes", "dtls", "rtp"]),
    default="sdes",
    show_default=True,
    help="SRTP with SDES keys, DTLS-SRTP, or plain RTP (to find endpoints that "
    "accept unencrypted media).",
)
@click.option(
    "--suite",
    "suites",
    multiple=True,
    metavar="NAME",
    help="SDES suite to offer, in preference order (default: AES_CM_128_HMAC_SHA1_80 then _32).",
)
@click.option(
    "--hangup",
    type=click.Choice(["on-answer", "on-early-media", "immediately"]),
    default="on-answer",
    show_default=True,
    help="End the call after the answer (ACK then BYE), as soon as a 183 carries "
    "SDP (CANCEL), or right after the first provisional response.",
)
@click.option(
    "--answer-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    help="Seconds to let it ring before cancelling.",
)
@click.option(
    "--auth-file",
    type=click.Path(path_type=Path),
    help="Digest credentials: a file with username= and password= lines "
    "(or set SIPPROBE_AUTH_USER and SIPPROBE_AUTH_PASSWORD).",
)
@click.option(
    "--allow-cleartext-keys",
    is_flag=True,
    help="Send SDES keys even over a non-TLS hop (they travel in the clear).",
)
@click.option(
    "--verify-media",
    is_flag=True,
    help="While the call is up, exchange SRTP packets and authenticate the far end's with "
    "its answered key (needs the srtp extra; sends only to loopback).",
)
def invite(
    target: str,
    to: str,
    from_: str | None,
    offer: str,
    suites: Sequence[str],
    hangup: str,
    answer_timeout: float,
    auth_file: Path | None,
    allow_cleartext_keys: bool,
    verify_media: bool,
    **values: Any,
) -> None:
    """Place one test call through TARGET (the next hop, as for `options`) to --to.

    The INVITE carries an SDP offer (SRTP keys by default); the answer says whether SRTP
    was really negotiated. The call is always ended: ACK and BYE after an answer, CANCEL
    before one. Keys and passwords are never printed.
    """
    from probe.app import InviteRequest, run_invite_command

    request = InviteRequest(
        _request("invite", [target], values),
        to=to,
        from_=from_,
        offer=offer,
        suites=suites,
        hangup=hangup,
        auth_file=auth_file,
        allow_cleartext_keys=allow_cleartext_keys,
        answer_timeout=answer_timeout,
        verify_media=verify_media,
    )
    _emit_and_exit(run_invite_command(request, on_usage_error=_usage), values)


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@_location_options
@click.option(
    "--resolve",
    "pins",
    multiple=True,
    metavar="NAME:PORT:ADDRESS",
    help="Use ADDRESS for NAME:PORT instead of looking it up.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.05),
    default=5.0,
    show_default=True,
    help="Deadline of each DNS query, in seconds.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
)
def resolve(
    targets: Sequence[str],
    dns_server: str | None,
    seed: int | None,
    pins: Sequence[str],
    timeout: float,
    output_format: str,
) -> None:
    """Show where each TARGET URI leads (RFC 3263), in order, and how each was derived."""
    import json

    from probe.app import OptionsRequest, run_resolve_command
    from probe.locate import format_plan

    request = OptionsRequest(
        targets=list(targets), pins=pins, timeout=timeout, dns_server=dns_server, seed=seed
    )
    results = run_resolve_command(request, on_usage_error=_usage)
    if output_format == "json":
        click.echo(
            json.dumps(
                {"schema": "sipprobe.resolve/1", "results": [r.to_dict() for r in results]},
                indent=2,
            )
        )
    else:
        for number, result in enumerate(results):
            if number:
                click.echo()
            for line in format_plan(result):
                click.echo(line)
    sys.exit(EXIT_OK if all(result.targets for result in results) else EXIT_FAIL)


@cli.command()
@click.option("--listen", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port (0 picks a free one; the choice is printed).",
)
@click.option(
    "--transport",
    "transports",
    multiple=True,
    type=click.Choice(["tls", "tcp", "udp"]),
    default=("tls",),
    show_default=True,
)
@click.option(
    "--cert",
    type=click.Path(exists=True, path_type=Path),
    help="Certificate chain to present, leaf first (PEM).",
)
@click.option("--key", type=click.Path(exists=True, path_type=Path), help="Private key (PEM).")
def serve(
    listen: str, port: int, transports: Sequence[str], cert: Path | None, key: Path | None
) -> None:
    """Run the embedded responder: answers OPTIONS with 200 until interrupted."""
    from probe.demo import run_serve_command

    if "tls" in transports and cert is None:
        _usage("serve: a TLS listener needs --cert (and --key unless the PEM holds it)")
    sys.exit(run_serve_command(listen, port, list(transports), cert, key))


@cli.group()
def certs() -> None:
    """Certificates for labs and tests."""


@certs.command("lab")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--name",
    "names",
    multiple=True,
    default=("sip.example.test",),
    show_default=True,
    help="Server name for the leaf (DNS and sip: URI SANs); repeatable.",
)
def certs_lab(directory: Path, names: Sequence[str]) -> None:
    """Write a lab PKI to DIRECTORY: root and intermediate CA, server and client leaves."""
    from probe.tls.lab import write_lab

    files = write_lab(directory, server_names=tuple(names))
    click.echo(f"lab PKI written to {files.directory}")
    for label, path in (
        ("trust anchor", files.ca),
        ("server chain", files.server),
        ("server key", files.server_key),
        ("client chain", files.client),
        ("client key", files.client_key),
        ("untrusted client", files.untrusted_client),
        ("unrelated CA", files.other_ca),
    ):
        click.echo(f"  {label:17} {path}")
    click.echo("  variants (chain.pem + key.pem each; see certs/README.md):")
    for variant in files.variants.values():
        click.echo(f"    {variant.name:22} {variant.description}")


@cli.command()
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
@click.option("-v", "--verbose", is_flag=True, help="Show the evidence behind each finding.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
)
def demo(no_color: bool, verbose: bool, output_format: str) -> None:
    """Start local TLS endpoints with a lab PKI, probe them, print the report."""
    from probe.demo import run_demo

    report = run_demo()
    sys.exit(emit(report, output_format, verbose=verbose, no_color=no_color))


def main(argv: Sequence[str] | None = None) -> NoReturn:
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        code = cli.main(args=args, prog_name="sipprobe", standalone_mode=False)
    except SystemExit:
        raise
    except click.ClickException as exc:  # usage errors: a sentence and exit 2
        exc.show()
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        # Every call was already ended by the clean-up that ran while the run was
        # cancelled; say so plainly and exit as an interrupted command does.
        click.echo("sipprobe: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: say what broke, exit 3
        click.echo(f"sipprobe: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
