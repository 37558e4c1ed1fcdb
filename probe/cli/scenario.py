"""`sipprobe check` and `sipprobe scenarios`: trunks described in scenario files."""

from __future__ import annotations

import sys
from typing import Any

import click

from probe.cli.common import (
    EXIT_OK,
    connection_options,
    emit,
    evidence_option,
    inbound_options,
    location_options,
    metrics_of,
    run_options,
    stir_options,
    take_inbound,
    usage_error,
)

# The output options, which only say how the report is written.
_OUTPUT_KEYS = ("output_format", "nagios", "outputs", "verbose", "no_color")
_GIVEN = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)


def given_options(ctx: click.Context, values: dict[str, Any]) -> dict[str, Any]:
    """The options of `values` the user gave (on the command line or in the environment),
    not those left at their defaults: what replaces a scenario's own settings."""
    return {
        name: value for name, value in values.items() if ctx.get_parameter_source(name) in _GIVEN
    }


@click.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option(
    "--to", metavar="URI", help="Who the scenario's test call dials (for a built-in's placeholder)."
)
@click.option(
    "--contact",
    metavar="URI",
    help="The Contact URI of each OPTIONS: the SBC's FQDN, which its certificate names "
    "(Teams Direct Routing answers 403 to an IP address).",
)
@connection_options
@location_options
@run_options
@evidence_option
@click.option(
    "--inbound",
    is_flag=True,
    help="Check both directions: also receive the trunk's test calls as the scenario's "
    "[inbound] section says (the --listen... options below override it), while the "
    "endpoints are probed and called.",
)
@inbound_options
@stir_options
@click.pass_context
def check(
    ctx: click.Context, /, scenario: str, to: str | None, inbound: bool, **values: Any
) -> None:
    """Run everything a scenario file describes (a path, or builtin:NAME).

    The endpoints are checked in the provider's order (TLS, certificate, OPTIONS,
    failover), a test call is placed when the scenario has an [invite] section, and the
    provider's documented rules are judged as policy.<provider>.* findings. With
    --inbound, the calls the trunk places to us are received and judged too (TLS session
    and client certificate, INVITE, offer, media, teardown, STIR/SHAKEN Identity).

    Every connection option given here overrides the scenario's own setting for this run
    (--ca/--trust replace tls.trust, --timeout run.timeout, ...; --resolve adds pins, and
    replaces the scenario's pin for the same NAME:PORT); the report names each override.
    An option not given keeps the scenario's setting (the defaults shown below are those
    of a scenario that has none). A built-in scenario can so be pointed at a lab:
    --resolve NAME:PORT:ADDRESS --ca CA.
    """
    from probe.report.output import OutputError, plan_outputs
    from probe.run.check import check_runs

    if values.pop("nagios"):
        values["output_format"] = "nagios"
    try:
        plan_outputs(values["output_format"], values["outputs"])
    except OutputError as exc:
        usage_error(str(exc))
    given = {
        name: value
        for name, value in given_options(ctx, values).items()
        if name not in _OUTPUT_KEYS
    }
    given.update(take_inbound(given))
    runs, report = check_runs(
        scenario,
        to=to,
        overrides=given,
        on_usage_error=usage_error,
        inbound=inbound,
        say=_say,
    )
    sys.exit(
        emit(
            report,
            values["output_format"],
            verbose=values["verbose"],
            no_color=values["no_color"],
            outputs=values["outputs"],
            metrics=metrics_of(report, runs),
        )
    )


def _say(text: str) -> None:
    click.echo(f"sipprobe: {text}", err=True)


@click.command()
def scenarios() -> None:
    """List the built-in scenarios (run one with `sipprobe check builtin:NAME`)."""
    from probe.scenario import list_builtins

    for name, description in list_builtins():
        click.echo(f"builtin:{name:24} {description}")
    sys.exit(EXIT_OK)
