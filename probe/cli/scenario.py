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
    location_options,
    metrics_of,
    run_options,
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
@click.pass_context
def check(ctx: click.Context, /, scenario: str, to: str | None, **values: Any) -> None:
    """Run everything a scenario file describes (a path, or builtin:NAME).

    The endpoints are checked in the provider's order (TLS, certificate, OPTIONS,
    failover), a test call is placed when the scenario has an [invite] section, and the
    provider's documented rules are judged as policy.<provider>.* findings.

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
    runs, report = check_runs(scenario, to=to, overrides=given, on_usage_error=usage_error)
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


@click.command()
def scenarios() -> None:
    """List the built-in scenarios (run one with `sipprobe check builtin:NAME`)."""
    from probe.scenario import list_builtins

    for name, description in list_builtins():
        click.echo(f"builtin:{name:24} {description}")
    sys.exit(EXIT_OK)
