"""The `sipprobe` command: parsing and wiring only.

Heavy modules (cryptography, rich, asyncio machinery) are imported inside the commands that
need them, so `sipprobe --version` and `--help` start fast.

Exit codes (docs/exit-codes.md, probe.report.exit_codes): 0 pass or warn, 1 something failed,
2 usage or input error, 3 internal error, 4 incomplete, 128+N ended by signal N. A
traceback is never the answer to bad network input.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from probe import __version__
from probe.cli.signals import StoppedBySignal
from probe.report.exit_codes import EXIT_SIGNAL_BASE

if TYPE_CHECKING:
    pass

from probe.cli.common import (
    DEFAULTS,
    EXIT_FAIL,
    EXIT_INTERNAL,
    EXIT_OK,
    asks_for_metrics,
    call_default,
    connection_options,
    emit,
    emit_and_exit,
    evidence_option,
    inbound_options,
    inbound_policy_options,
    location_options,
    options_request,
    output_options,
    policy_options,
    probe_options,
    stir_options,
    stir_policy_options,
    take_inbound,
    take_output,
    take_stir_policy,
    usage_error,
)
from probe.cli.scenario import check, given_options, scenarios

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sipprobe", message="%(prog)s %(version)s")
def cli() -> None:
    """Verify SIP trunks end to end: TLS, certificates, OPTIONS, failover, SRTP."""


@cli.command()
@click.argument("targets", nargs=-1)
@probe_options
@evidence_option
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=DEFAULTS.sip.count,
    show_default=True,
    help="Probes per target over one connection (ping mode).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=DEFAULTS.sip.interval,
    show_default=True,
    help="Seconds between probes with --count.",
)
@click.option(
    "--loss-warn",
    type=click.FloatRange(0, 100),
    metavar="PCT",
    help="Warn when more than PCT% of the probes go unanswered.  [default: 0: any loss]",
)
@click.option(
    "--loss-crit",
    type=click.FloatRange(0, 100),
    metavar="PCT",
    help="Fail when more than PCT% of the probes go unanswered.  [default: 20]",
)
@click.option(
    "--rtt-warn",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MS",
    help="Warn when the average RTT of a --count run is above MS (a single probe's RTT: "
    "only when this or --rtt-crit is given).  [default: 300]",
)
@click.option(
    "--rtt-crit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MS",
    help="Fail when the average RTT of a --count run is above MS (a single probe's RTT: "
    "only when given).  [default: 500, SIP's T1]",
)
@click.option(
    "-w",
    "icmp_warn",
    metavar="RTT,PCT%",
    help="check_icmp's form of --rtt-warn and --loss-warn, e.g. 300,0%.",
)
@click.option(
    "-c",
    "icmp_crit",
    metavar="RTT,PCT%",
    help="check_icmp's form of --rtt-crit and --loss-crit, e.g. 500,20%.",
)
@click.option(
    "--live/--no-live",
    default=None,
    help="A line per reply on stderr, as ping prints (default: with --count, when stderr "
    "is a terminal and the console report goes to stdout).",
)
@click.option(
    "--follow-redirects",
    is_flag=True,
    help="Also probe the Contact URIs of a 3xx answer (one hop); by default a redirect "
    "is reported, not followed.",
)
def options(targets: Sequence[str], **values: Any) -> None:
    """Send SIP OPTIONS to each TARGET (sip:host[:port];transport=tls|tcp|udp|ws|wss or sips:host).

    Each name is located per RFC 3263 (NAPTR, SRV, A/AAAA) and every address is probed on
    its own connection; TLS targets have their handshake, chain and identity judged before
    OPTIONS is sent.
    """
    from probe.run.commands import options_run
    from probe.run.progress import live_replies

    live = values.pop("live")
    _icmp_thresholds(values)
    request = options_request("options", targets, values)
    if live is None:
        live = request.settings.sip.count > 1 and sys.stderr.isatty() and _console_on_stdout(values)
    metrics = asks_for_metrics(values)
    with live_replies(live):
        evidence, report = options_run(request, on_usage_error=usage_error, keep_evidence=metrics)
    emit_and_exit(report, values, (evidence,) if metrics else None)


def _icmp_thresholds(values: dict[str, Any]) -> None:
    """check_icmp's `-w RTT,PCT%` and `-c RTT,PCT%` as the four thresholds; one form each."""
    from probe.verdict.checks.options import ThresholdError, parse_icmp_pair

    for option, pair, rtt, loss in (
        ("-w", "icmp_warn", "rtt_warn", "loss_warn"),
        ("-c", "icmp_crit", "rtt_crit", "loss_crit"),
    ):
        text = values.pop(pair)
        if text is None:
            continue
        if values[rtt] is not None or values[loss] is not None:
            long_forms = f"--{rtt.replace('_', '-')}/--{loss.replace('_', '-')}"
            usage_error(f"{option} and {long_forms} set the same thresholds; give one form")
        try:
            values[rtt], values[loss] = parse_icmp_pair(option, text)
        except ThresholdError as exc:
            usage_error(str(exc))


def _console_on_stdout(values: dict[str, Any]) -> bool:
    """Whether the report on stdout is the console's (not JSON, JUnit or Nagios, which a
    program reads and a line per reply on stderr would only clutter)."""
    from probe.report.output import plan_outputs

    destinations = plan_outputs(values["output_format"], values.get("outputs", ()))
    return any(d.path is None and d.format == "console" for d in destinations)


@cli.command()
@click.argument("targets", nargs=-1)
@probe_options
@evidence_option
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
    from probe.run.commands import FailoverRequest, failover_run

    request = FailoverRequest(
        options_request("failover", targets, values),
        priorities=priorities,
        weights=weights,
        order=order,
    )
    metrics = asks_for_metrics(values)
    evidence, report = failover_run(request, on_usage_error=usage_error, keep_evidence=metrics)
    emit_and_exit(report, values, (evidence,) if metrics else None)


@cli.command()
@click.argument("target")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="URI",
    help="Who is called (Request-URI and To): a SIP URI, or a number or user called at the "
    "target's host (+15550100 is sip:+15550100@HOST;user=phone). Required.",
)
@click.option("--from", "from_", metavar="URI", help="The From URI (default: sipprobe@local).")
@connection_options
@location_options
@evidence_option
@click.option(
    "--offer",
    type=click.Choice(["sdes", "dtls", "rtp"]),
    default=call_default("offer"),
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
    default=call_default("hangup"),
    show_default=True,
    help="End the call after the answer (ACK then BYE), as soon as a 183 carries "
    "SDP (CANCEL), or right after the first provisional response.",
)
@click.option(
    "--answer-timeout",
    type=click.FloatRange(min=0.1),
    default=call_default("answer_timeout"),
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
    "its answered key, or with the keys a DTLS-SRTP handshake on the media port exports "
    "(--offer dtls) (needs the srtp extra; sends only to loopback).",
)
@click.option(
    "--identity-key",
    type=click.Path(path_type=Path),
    help="STIR/SHAKEN: sign the call's PASSporT with this P-256 key (PEM) and add an "
    "Identity header (orig from the --from number, dest from the --to number).",
)
@click.option(
    "--identity-cert",
    metavar="URL",
    help="The https URL of the signing certificate, where verifiers fetch it (x5u).",
)
@click.option(
    "--identity-attest",
    type=click.Choice(["A", "B", "C"]),
    default=call_default("identity_attest"),
    show_default=True,
    help="The attestation level signed (RFC 8588).",
)
@click.option(
    "--capture",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Record the call's packets (signalling and media) into FILE with tcpdump while it "
    "runs, then audit them as `sipprobe pcap` does (needs the pcap extra, and root or "
    "CAP_NET_RAW; without them the call still runs).",
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
    identity_key: Path | None,
    identity_cert: str | None,
    identity_attest: str,
    capture: Path | None,
    **values: Any,
) -> None:
    """Place one test call through TARGET (the next hop, as for `options`) to --to.

    The INVITE carries an SDP offer (SRTP keys by default); the answer says whether SRTP
    was really negotiated. The call is always ended: ACK and BYE after an answer, CANCEL
    before one. Keys and passwords are never printed.
    """
    from probe.run.invite import InviteRequest, invite_run
    from probe.settings import CallSettings

    call = CallSettings(
        to=to,
        from_=from_,
        offer=offer,
        suites=suites,
        hangup=hangup,
        auth_file=auth_file,
        allow_cleartext_keys=allow_cleartext_keys,
        answer_timeout=answer_timeout,
        verify_media=verify_media,
        identity_key=identity_key,
        identity_cert=identity_cert,
        identity_attest=identity_attest,
    )
    request = InviteRequest(options_request("invite", [target], values), call, capture)
    metrics = asks_for_metrics(values)
    evidence, report = invite_run(request, on_usage_error=usage_error, keep_evidence=metrics)
    emit_and_exit(report, values, (evidence,) if metrics else None)


@cli.command()
@click.argument("evidence", type=click.Path(path_type=Path))
@click.option(
    "--scenario",
    metavar="FILE|builtin:NAME",
    help="Judge as `sipprobe check` does: under the scenario's [tls] and [options] policy "
    "(an option given here replaces its setting), with its expectations (scenario.*) and "
    "its provider's rules (policy.<provider>.*); the test call's evidence saved beside "
    "EVIDENCE (NAME.call.json) is judged with it.",
)
@click.option(
    "--accept",
    default=DEFAULTS.sip.accept,
    show_default=True,
    help="Final responses that count as healthy, e.g. 2xx,405 (5xx never does).",
)
@policy_options
@inbound_policy_options
@stir_policy_options
@click.option(
    "--now",
    metavar="ISO8601",
    help="Judge certificates at this instant (default: when the run started).",
)
@output_options
@click.pass_context
def judge(ctx: click.Context, /, evidence: Path, **values: Any) -> None:
    """Judge saved EVIDENCE (from --evidence-out) again under another policy, offline.

    Nothing is sent: the same evidence with the same options gives the same findings as
    the run that collected it. Chains are judged with the trust anchors the run used (the
    evidence records them) unless --ca or --trust names others. Received calls' STIR/SHAKEN
    findings are the run's unless a --sti-* option is given: each Identity is then
    verified again under it, with the certificates the run fetched.
    """
    from probe.run.commands import JudgeRequest, judge_runs
    from probe.settings import Settings

    output = take_output(values)
    now, scenario = values.pop("now"), values.pop("scenario")
    given = frozenset(given_options(ctx, values))
    stir = take_stir_policy(values)
    request = JudgeRequest(
        evidence=evidence,
        settings=Settings.from_flat({**values, **stir}),
        now=now,
        scenario=scenario,
        given=given,
    )
    runs, report = judge_runs(request, on_usage_error=usage_error)
    emit_and_exit(report, output, runs)


@cli.command()
@inbound_options
@stir_options
@policy_options
@click.option(
    "--resolve",
    "pins",
    multiple=True,
    metavar="NAME:PORT:ADDRESS",
    help="Fetch a PASSporT's x5u certificate from ADDRESS for NAME:PORT, without DNS.",
)
@evidence_option
@output_options
def answer(**values: Any) -> None:
    """Receive a trunk's test calls and judge each one.

    Listens (--listen tls:0.0.0.0:5061 by default; TCP, UDP, WSS, WS too) with --listen-cert and
    waits --within seconds for --expect calls. Each call is answered (SRTP with fresh keys
    to an SRTP offer, plain RTP otherwise), held --hold seconds unless the caller hangs up
    first, and always ended. Judged per call: the TLS session and the caller's client
    certificate (--expect-peer, --peer-ca), the INVITE, the SDP offer (plain RTP fails while
    --require-srtp), media with --verify-media, the teardown, and with --sti-trust the
    STIR/SHAKEN Identity. Keys are never printed.
    """
    from probe.run.answer import answer_run
    from probe.settings import Settings

    output = take_output(values)
    inbound = take_inbound(values)
    settings = Settings.from_flat({**inbound, **values})
    evidence, report = answer_run(settings, on_usage_error=usage_error, say=say_on_stderr)
    emit_and_exit(report, output, (evidence,) if asks_for_metrics(output) else None)


def say_on_stderr(text: str) -> None:
    """A progress line for the person at the terminal (and for a test waiting on it)."""
    click.echo(f"sipprobe: {text}", err=True)


@cli.command()
@click.argument("capture", type=click.Path(path_type=Path))
@click.option(
    "--evidence-out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also save the audit's evidence to FILE (JSON, mode 0600, no payload, SDES keys "
    "as zeros), whatever the verdict, to judge again with `sipprobe judge`.",
)
@click.option(
    "--max-flows",
    type=click.IntRange(min=1),
    default=100_000,
    show_default=True,
    help="Flows tracked at once; past it the quietest is closed first (memory stays bounded).",
)
@click.option(
    "--expect-srtp",
    is_flag=True,
    help="The trunk promises SRTP: plain RTP on any flow fails (otherwise it warns, and "
    "fails only where its SDP negotiated SRTP).",
)
@click.option(
    "--srtp-keys",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="SRTP keys to authenticate media with, one `ADDRESS:PORT a=crypto-value` a line "
    "(the c= address and m= port of the SDP each came in); never printed or saved. SDES "
    "keys seen in cleartext SIP in the capture are used too. Needs the srtp extra.",
)
@policy_options
@click.option(
    "--now",
    metavar="ISO8601",
    help="Judge certificates at this instant (default: when each handshake was captured).",
)
@output_options
def pcap(
    capture: Path,
    evidence_out: Path | None,
    max_flows: int,
    expect_srtp: bool,
    srtp_keys: Path | None,
    **values: Any,
) -> None:
    """Audit a packet CAPTURE (pcap or pcapng; - reads standard input): SIP in the clear,
    SDES keys exposed, media RTP or SRTP, TLS handshakes.

    The file is read once, in bounded memory: SIP over UDP and over TCP (reassembled) is
    found whatever its ports, and any a=crypto line in it is reported (key redacted);
    each RTP-like UDP flow is classified as RTP, SRTP or DTLS-SRTP and tied to the SDP
    that set it up. Each TLS session shows its SNI, versions and cipher; a TLS 1.2
    server's certificates are judged as a live probe judges them (--ca/--trust; TLS 1.3
    encrypts them). Needs the pcap extra: pip install 'sipprobe[pcap]'.
    """
    from probe.pcap.analysis import AuditLimits
    from probe.run.pcap import PcapRequest, run_pcap_command
    from probe.settings import Settings

    output = take_output(values)
    now = values.pop("now")
    request = PcapRequest(
        capture,
        AuditLimits(max_flows=max_flows),
        evidence_out,
        Settings.from_flat(values),
        now,
        expect_srtp=expect_srtp,
        srtp_keys=srtp_keys,
    )
    emit_and_exit(run_pcap_command(request, on_usage_error=usage_error), output)


@cli.command()
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["console", "json"]),
    default="console",
    show_default=True,
)
def diff(before: Path, after: Path, output_format: str) -> None:
    """Compare two evidence files target by target: verdict, health (down or up),
    certificate, TLS, answer, RTT; and where calls land first, the failover order and
    the trust anchors; received calls call by call (client certificate, TLS, STIR). Each
    run is judged with the anchors it used. One line per change; exit 0 when nothing
    changed, 1 when something did, 2 when a file cannot be used."""
    import json

    from probe.run.commands import run_diff_command
    from probe.verdict.diff import diff_document

    changes = run_diff_command(before, after, on_usage_error=usage_error)
    if output_format == "json":
        click.echo(json.dumps(diff_document(changes), indent=2, ensure_ascii=False))
    else:  # like diff(1): nothing at all when nothing changed; the exit code says so
        for change in changes:
            click.echo(change.summary)
    sys.exit(EXIT_FAIL if changes else EXIT_OK)


@cli.command()
@click.argument("targets", nargs=-1, required=True)
@location_options
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
    default=DEFAULTS.run.timeout,
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

    from probe.locate import format_plan
    from probe.run.commands import OptionsRequest, run_resolve_command
    from probe.settings import Settings

    settings = Settings.from_flat(pins=pins, timeout=timeout, dns_server=dns_server, seed=seed)
    request = OptionsRequest(targets=list(targets), settings=settings)
    results = run_resolve_command(request, on_usage_error=usage_error)
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
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="A line on stderr for each request answered (and each keep-alive ping).",
)
def serve(
    listen: str,
    port: int,
    transports: Sequence[str],
    cert: Path | None,
    key: Path | None,
    verbose: bool,
) -> None:
    """Run the embedded responder: answers OPTIONS with 200 until interrupted."""
    from probe.run.demo import run_serve_command

    if "tls" in transports and cert is None:
        usage_error("serve: a TLS listener needs --cert (and --key unless the PEM holds it)")
    sys.exit(run_serve_command(listen, port, list(transports), cert, key, verbose=verbose))


@cli.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The modules, in TOML ([modules.NAME] tables; docs/prometheus/README.md).",
)
@click.option(
    "--listen",
    default="127.0.0.1:9753",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to serve /probe, /metrics, /-/healthy and /-/reload (port 0 picks one).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Probes running at once; a scrape beyond them waits, within its deadline.",
)
def exporter(config_path: Path, listen: str, concurrency: int) -> None:
    """Serve probes to Prometheus: GET /probe?target=URI&module=NAME runs one probe with a
    module's settings and answers with its judgement as metrics, within the scrape's
    timeout. SIGHUP (or POST /-/reload) reads the configuration again; SIGINT or SIGTERM
    stops, ending the calls in flight."""
    from probe.exporter.server import run_exporter

    sys.exit(run_exporter(config_path, listen, concurrency))


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
    from probe.tls.lab import server_name_problem, write_lab

    for position, name in enumerate(names):
        if (problem := server_name_problem(name, first=position == 0)) is not None:
            usage_error(f"certs lab: --name: {problem}")
    try:
        files = write_lab(directory, server_names=tuple(names))
    except OSError as exc:
        usage_error(f"certs lab: cannot write to {directory}: {exc.strerror or exc}")
    except ValueError as exc:  # a name cryptography refuses for a certificate
        usage_error(f"certs lab: {exc}")
    click.echo(f"lab PKI written to {files.directory}")
    for label, path in (
        ("trust anchor", files.ca),
        ("server chain", files.server),
        ("server key", files.server_key),
        ("client chain", files.client),
        ("client key", files.client_key),
        ("encrypted key", files.client_key_encrypted),
        ("its password", files.client_key_password),
        ("untrusted client", files.untrusted_client),
        ("unrelated CA", files.other_ca),
    ):
        click.echo(f"  {label:17} {path}")
    click.echo("  variants (chain.pem + key.pem each; see certs/README.md):")
    for variant in files.variants.values():
        click.echo(f"    {variant.name:22} {variant.description}")


@cli.command()
@output_options
def demo(**values: Any) -> None:
    """Start local TLS endpoints with a lab PKI, probe them, print the report.

    The third endpoint fails on purpose; the exit status says whether the demo showed what
    it is designed to show (0) or not (1).
    """
    from probe.run.demo import demo_as_designed, run_demo

    output = take_output(values)
    if asks_for_metrics(output):
        usage_error("demo: the prometheus format is for options, failover, invite, check and judge")
    report = run_demo()
    emit(
        report,
        output["output_format"],
        verbose=output["verbose"],
        no_color=output["no_color"],
        outputs=output["outputs"],
    )
    problems = demo_as_designed(report)
    for problem in problems:
        click.echo(f"sipprobe demo: {problem}", err=True)
    sys.exit(EXIT_FAIL if problems else EXIT_OK)


cli.add_command(check)
cli.add_command(scenarios)


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
        # Ctrl-C outside a run (a run handles its signals itself, probe.cli.signals):
        # say so plainly and exit as an interrupted command does.
        click.echo("sipprobe: interrupted by SIGINT", err=True)
        sys.exit(EXIT_SIGNAL_BASE + signal.SIGINT)
    except StoppedBySignal as stopped:  # a run stopped before it had anything to report
        click.echo(f"sipprobe: {stopped}", err=True)
        sys.exit(EXIT_SIGNAL_BASE + stopped.number)
    except Exception as exc:  # the last line of defence: say what broke, exit 3
        click.echo(f"sipprobe: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
