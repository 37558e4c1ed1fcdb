"""`sipprobe check` and `sipprobe scenarios`: trunks described in scenario files."""

from __future__ import annotations

import sys
from typing import Any

import click

from probe.cli_common import EXIT_OK, emit, usage_error


@click.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option(
    "--to", metavar="URI", help="Who the scenario's test call dials (for a built-in's placeholder)."
)
@click.option(
    "--format",
    "output_format",
    metavar="FORMAT[,FORMAT]",
    default="console",
    show_default=True,
    help="console, json, junit or nagios; several, comma-separated.",
)
@click.option(
    "--output",
    "outputs",
    multiple=True,
    metavar="[FORMAT=]FILE",
    help="Write a format to FILE instead of standard output; repeatable.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show the evidence behind each finding.")
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
def check(scenario: str, to: str | None, **values: Any) -> None:
    """Run everything a scenario file describes (a path, or builtin:NAME).

    The endpoints are checked in the provider's order (TLS, certificate, OPTIONS,
    failover), a test call is placed when the scenario has an [invite] section, and the
    provider's documented rules are judged as policy.<provider>.* findings.
    """
    from probe.check import run_check_command
    from probe.report.output import OutputError, plan_outputs

    try:
        plan_outputs(values["output_format"], values["outputs"])
    except OutputError as exc:
        usage_error(str(exc))
    report = run_check_command(scenario, to=to, on_usage_error=usage_error)
    sys.exit(
        emit(
            report,
            values["output_format"],
            verbose=values["verbose"],
            no_color=values["no_color"],
            outputs=values["outputs"],
        )
    )


@click.command()
def scenarios() -> None:
    """List the built-in scenarios (run one with `sipprobe check builtin:NAME`)."""
    from probe.scenario import list_builtins

    for name, description in list_builtins():
        click.echo(f"builtin:{name:24} {description}")
    sys.exit(EXIT_OK)
