"""Console rendering with rich: the verdict first, then one block per target.

Colour only when writing to a terminal (rich decides, and honours NO_COLOR); `--no-color`
forces plain text. Facts shown under each target come from the findings' details, so the
console never says anything the JSON does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from probe.evidence.model import InboundTarget
from probe.report.model import CaptureResult, Report, TargetResult
from probe.verdict.findings import CheckId, Finding, JsonValue, Status, Verdict

_STYLE = {
    Status.PASS: "green",
    Status.WARN: "yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.SKIP: "dim",
    Status.INCOMPLETE: "bold cyan",
}
_VERDICT_STYLE = {
    Verdict.PASS: "bold green",
    Verdict.WARN: "bold yellow",
    Verdict.INCOMPLETE: "bold cyan",
    Verdict.FAIL: "bold red",
}


def _details(result: TargetResult, check: str) -> Mapping[str, JsonValue]:
    finding = result_finding(result, check)
    return finding.details if finding is not None else {}


def result_finding(result: TargetResult, check: str) -> Finding | None:
    return next((finding for finding in result.findings if finding.check == check), None)


def _joined(values: JsonValue) -> str:
    if isinstance(values, list):
        return ", ".join(str(value) for value in values)
    return "" if values is None else str(values)


def _facts(result: TargetResult) -> Table | None:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold cyan", no_wrap=True)
    facts.add_column()
    options = _details(result, CheckId.SIP_OPTIONS)
    if options.get("status_code") is not None:
        parts = [f"{options['status_code']} {options.get('reason', '')}".strip()]
        if options.get("rtt_ms") is not None:
            parts.append(f"{float(options['rtt_ms']):.1f} ms")
        facts.add_row("SIP", " · ".join(parts))
        for label, key in (
            ("Server", "server"),
            ("User-Agent", "user_agent"),
            ("Allow", "allow"),
            ("Supported", "supported"),
            ("Retry-After", "retry_after"),
        ):
            value = _joined(options.get(key))
            if value:
                facts.add_row("", f"{label}: {value}")
    rtt = options.get("rtt_ms")
    if isinstance(rtt, dict):
        facts.add_row(
            "RTT",
            "min/avg/max/stdev = {min:.2f}/{avg:.2f}/{max:.2f}/{stdev:.2f} ms".format(**rtt)
            + f" · {options.get('answered')}/{options.get('sent')} answered"
            + f" · {float(options.get('loss_pct') or 0):.0f}% loss"
            + (f" · {options['never_sent']} never sent" if options.get("never_sent") else ""),
        )
    call = _details(result, CheckId.SIP_INVITE)
    if call.get("final_status") is not None:
        facts.add_row("Call", f"{call['final_status']} {call.get('final_reason') or ''}".strip())
    srtp = result_finding(result, CheckId.SDP_SRTP)
    if srtp is not None and call:
        facts.add_row("SRTP", srtp.summary)
    teardown = result_finding(result, CheckId.SIP_TEARDOWN)
    if teardown is not None:
        facts.add_row("Ended", teardown.summary)
    handshake = _details(result, CheckId.TLS_HANDSHAKE)
    if handshake.get("version"):
        cipher = f"{handshake.get('cipher')} ({handshake.get('cipher_bits')} bits)"
        facts.add_row("TLS", f"{handshake['version']} · {cipher}")
    leaf = _details(result, CheckId.TLS_CHAIN).get("leaf")
    if isinstance(leaf, dict):
        facts.add_row("Cert", f"{leaf.get('subject')}")
        facts.add_row("", f"issuer {leaf.get('issuer')}")
        sans = (
            [f"DNS:{name}" for name in leaf.get("dns_names") or []]
            + [f"IP:{address}" for address in leaf.get("ip_addresses") or []]
            + [f"URI:{uri}" for uri in leaf.get("sip_uris") or []]
        )
        if sans:
            facts.add_row("", "SAN " + ", ".join(sans))
        facts.add_row("", f"not after {leaf.get('not_after')} ({_time_left(leaf)})")
    _inbound_facts(result, facts)
    return facts if facts.row_count else None


def _inbound_facts(result: TargetResult, facts: Table) -> None:
    """A received call: who called, over what, with which certificate, what it offered,
    how it ended."""
    invite = _details(result, CheckId.INBOUND_INVITE)
    status = invite.get("final_status")
    if isinstance(status, int):
        answered = f"{status} {invite.get('final_reason') or ''}".strip()
        if invite.get("refusal"):
            answered += f" ({invite['refusal']})"
        facts.add_row("Answered" if 200 <= status < 300 else "Response", answered)
    if invite.get("from"):
        caller = str(invite["from"])
        asserted = _joined(invite.get("p_asserted_identity"))
        facts.add_row("Caller", caller + (f" · asserted {asserted}" if asserted else ""))
    tls = _details(result, CheckId.INBOUND_TLS)
    if tls.get("version"):
        facts.add_row("TLS", f"{tls['version']} · {tls.get('cipher')}")
    leaf = _details(result, CheckId.INBOUND_CLIENT_CERT).get("leaf")
    if isinstance(leaf, dict):
        facts.add_row("Client cert", f"{leaf.get('subject')}")
        facts.add_row("", f"issuer {leaf.get('issuer')}")
        facts.add_row("", f"not after {leaf.get('not_after')} ({_time_left(leaf)})")
    identity = result_finding(result, CheckId.STIR_IDENTITY)
    if identity is not None and "verifier_would_answer" in identity.details:
        # RFC 8224 §6.2.2: what a verification service would have answered the INVITE.
        refusal = identity.details["verifier_would_answer"]
        facts.add_row(
            "Identity",
            f"a verifier would answer {refusal}" if refusal else "a verifier would not refuse it",
        )
    for label, check in (("Offer", CheckId.INBOUND_OFFER), ("Ended", CheckId.INBOUND_TEARDOWN)):
        found = result_finding(result, check)
        if found is not None:
            facts.add_row(label, found.summary)


def _time_left(certificate: Mapping[str, JsonValue]) -> str:
    """`120 days left`, or `expired 3 days ago` once notAfter has passed (never `-3 days`)."""
    ago = certificate.get("expired_days_ago")
    if isinstance(ago, int):
        return "expired less than a day ago" if ago == 0 else f"expired {_days(ago)} ago"
    left = certificate.get("days_left")
    return f"{_days(left)} left" if isinstance(left, int) else "days left unknown"


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def detail_lines(details: Mapping[str, JsonValue], indent: str = "") -> list[str]:
    """Evidence as indented `key: value` lines; nested objects and lists one level deeper."""
    lines: list[str] = []
    for key, value in details.items():
        if value is None or value == [] or value == {}:
            continue
        if isinstance(value, dict):
            lines.append(f"{indent}{key}:")
            lines.extend(detail_lines(value, indent + "  "))
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            lines.append(f"{indent}{key}:")
            for item in value:
                if isinstance(item, dict):
                    nested = detail_lines(item, indent + "    ")
                    lines.append(f"{indent}  - {nested[0].strip()}" if nested else f"{indent}  -")
                    lines.extend(nested[1:])
                else:
                    lines.append(f"{indent}  - {item}")
        else:
            lines.append(f"{indent}{key}: {_joined(value)}")
    return lines


# Details the console shows in their own form (the facts block, the chain tree).
_SHOWN_ELSEWHERE = frozenset({"leaf", "chain"})


def _finding_rows(table: Table, findings: tuple[Finding, ...], verbose: bool) -> None:
    for finding in findings:
        table.add_row(
            Text(finding.status.value.upper(), style=_STYLE[finding.status]),
            finding.check,
            finding.summary,
        )
        if verbose and finding.details:
            shown = {k: v for k, v in finding.details.items() if k not in _SHOWN_ELSEWHERE}
            lines = detail_lines(shown)
            if lines:
                table.add_row("", "", Text("\n".join(lines), style="dim"))


def chain_tree(result: TargetResult) -> Tree | None:
    """The certificate chain, leaf at the root of the tree, each issuer one level down."""
    title, rows = "certificate chain", _details(result, CheckId.TLS_CHAIN).get("chain")
    if not rows:
        # A received call: the chain is the caller's client certificate.
        title = "client certificate chain"
        rows = _details(result, CheckId.INBOUND_CLIENT_CERT).get("chain")
    if not isinstance(rows, list) or not rows:
        return None
    tree = Tree(Text(title, style="bold cyan"))
    node: Tree = tree
    for row in rows:
        if not isinstance(row, dict):
            continue
        label = Text()
        label.append(f"{row.get('role', '?')}: ", style="bold")
        label.append(str(row.get("subject")))
        if not row.get("presented", True):
            label.append("  (from the trust store, not sent)", style="dim")
        label.append(
            f"\nissuer {row.get('issuer')}\n"
            f"not after {row.get('not_after')} ({_time_left(row)}) · "
            f"{row.get('key')} · {row.get('signature')}",
            style="dim",
        )
        node = node.add(label)
    return tree


def _order_table(order: JsonValue) -> Table | None:
    """The provider's try order, one row per target; the target and reason wrap."""
    rows = [row for row in order if isinstance(row, dict)] if isinstance(order, list) else []
    if not rows:
        return None
    weighted = any(row.get("priority") is not None for row in rows)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("#", no_wrap=True)
    table.add_column("target", overflow="fold", ratio=3)
    if weighted:
        table.add_column("prio/weight", no_wrap=True)
    table.add_column("health", no_wrap=True)
    table.add_column("rtt", no_wrap=True)
    table.add_column("why", overflow="fold", ratio=2)
    for row in rows:
        healthy = bool(row.get("healthy"))
        rtt = row.get("rtt_ms")
        cells: list[str | Text] = [str(row.get("rank")), str(row.get("target"))]
        if weighted:
            weights = ""
            if row.get("priority") is not None:
                weights = f"{row['priority']}/{row.get('weight')}"
                if row.get("share") is not None:
                    weights += f" ({float(row['share']) * 100:.0f}%)"
            cells.append(weights)
        cells += [
            Text("up" if healthy else "DOWN", style="green" if healthy else "bold red"),
            f"{float(rtt):.1f} ms" if isinstance(rtt, int | float) else "",
            "" if healthy else str(row.get("reason", "")),
        ]
        table.add_row(*cells)
    return table


def _render_trunk(console: Console, findings: tuple[Finding, ...], verbose: bool) -> None:
    received = tuple(f for f in findings if f.check == CheckId.INBOUND_CALLS)
    findings = tuple(f for f in findings if f.check != CheckId.INBOUND_CALLS)
    if findings:
        _render_failover(console, findings)
    if received:
        console.print()
        console.print(Text("calls received from the trunk", style="bold"))
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
        table.add_column("status", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("summary", overflow="fold")
        _finding_rows(table, received, verbose)
        console.print(table)


def _render_failover(console: Console, findings: tuple[Finding, ...]) -> None:
    console.print()
    console.print(Text("failover, in the order the provider tries", style="bold"))
    for finding in findings:
        if finding.check == CheckId.FAILOVER_ORDER:
            table = _order_table(finding.details.get("order"))
            if table is not None:
                console.print(table)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("summary", overflow="fold")
    _finding_rows(table, findings, verbose=False)
    console.print(table)


def headline_facts(report: Report) -> list[Text]:
    """What a person wants first: where calls land, and whether SRTP was negotiated."""
    lines: list[Text] = []
    for finding in report.trunk_findings:
        if finding.check == CheckId.INBOUND_CALLS:
            arrived, expected = finding.details.get("arrived"), finding.details.get("expected")
            line = Text("  calls received: ")
            line.append(f"{arrived} of {expected} expected", style=_STYLE[finding.status])
            lines.append(line)
        if finding.check == CheckId.FAILOVER_ORDER:
            lands_on = finding.details.get("lands_on")
            line = Text("  calls land on ")
            if lands_on:
                line.append(str(lands_on), style="bold")
            else:
                line.append("no healthy target", style="bold red")
            lines.append(line)
    for finding in report.findings:
        if finding.check != CheckId.SDP_SRTP or finding.status is Status.SKIP:
            continue
        suite = finding.details.get("negotiated_suite")
        if finding.status is Status.PASS and suite:
            line = Text("  SRTP negotiated: ")
            line.append(str(suite), style="bold green")
            line.append(f" ({finding.target})")
        else:
            line = Text("  SRTP: ", style="bold")
            line.append(finding.summary, style=_STYLE[finding.status])
            line.append(f" ({finding.target})")
        lines.append(line)
    return lines


COMPACT_FROM = 50
"""Past this many targets a sweep is listed one line per target, and only the targets that
did not pass get their findings and facts (`--verbose` shows every target in full):
a thousand passing blocks hide the few that matter, and take longer to draw than the
sweep took to run."""


def _one_line(result: TargetResult) -> str:
    """What a target's line says: its worst finding, or for a pass its OPTIONS answer."""
    order = (Status.FAIL, Status.ERROR, Status.INCOMPLETE, Status.WARN)
    for status in order:
        worst = next((f for f in result.findings if f.status is status), None)
        if worst is not None:
            return f"{worst.check}: {worst.summary}"
    if result.missing:
        return f"not verified: {', '.join(result.missing)}"
    # A passing target's line: its OPTIONS answer, or for a received call its offer.
    shown = result_finding(result, CheckId.SIP_OPTIONS) or result_finding(
        result, CheckId.INBOUND_OFFER
    )
    return shown.summary if shown is not None else ""


def _render_compact_list(console: Console, results: tuple[TargetResult, ...]) -> None:
    """One line per target, in input order, as one block (a single print: drawing a
    table per target is what made a large sweep slow to show)."""
    width = max(len(result.target.label) for result in results)
    listing = Text()
    for result in results:
        listing.append("\n")
        listing.append(f"{result.verdict.value.upper():<10}", style=_VERDICT_STYLE[result.verdict])
        listing.append(f" {result.target.label:<{width}}  ")
        listing.append(_one_line(result), style="dim" if result.verdict is Verdict.PASS else "")
    console.print(listing, soft_wrap=True)
    others = sum(1 for result in results if result.verdict is not Verdict.PASS)
    console.print()
    console.print(
        Text(
            f"{len(results)} targets, one line each; the findings of the {others} that did not"
            " pass follow (-v shows every target in full)",
            style="dim",
        )
    )


class _ReportConsole(Console):
    def on_broken_pipe(self) -> None:
        # rich exits with status 1 here; the caller knows the verdict and exits with it.
        self.quiet = True
        raise BrokenPipeError


def render_console(
    report: Report, stream: IO[str], *, color: bool | None = None, verbose: bool = False
) -> None:
    console = _ReportConsole(
        file=stream,
        no_color=color is False,
        force_terminal=True if color else None,
        highlight=False,
        soft_wrap=False,
    )
    verdict = report.verdict
    counts = report.status_counts()
    tally = ", ".join(f"{counts[s.value]} {s.value}" for s in Status if counts[s.value])
    headline = Text()
    headline.append(f"{verdict.value.upper()}", style=_VERDICT_STYLE[verdict])
    calls = sum(1 for result in report.results if isinstance(result.target, InboundTarget))
    probed = len(report.results) - calls
    # An answer run that received nothing still reports calls: "0 call(s) received".
    received = calls or any(f.check == CheckId.INBOUND_CALLS for f in report.trunk_findings)
    subjects = ", ".join(
        [
            *([f"{probed} target(s)"] if probed or not received else []),
            *([f"{calls} call(s) received"] if received else []),
        ]
    )
    if report.captures and not report.results:
        subjects = f"{len(report.captures)} capture(s)"
    headline.append(
        f"  sipprobe {report.command}: {subjects}, {tally} in {report.duration_ms / 1000:.2f} s"
    )
    console.print(headline)
    for line in headline_facts(report):
        console.print(line)
    for note in report.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    if report.trunk_findings:
        _render_trunk(console, report.trunk_findings, verbose)
    results: tuple[TargetResult, ...] | list[TargetResult] = report.results
    if not verbose and len(results) > COMPACT_FROM:
        _render_compact_list(console, report.results)
        results = [result for result in results if result.verdict is not Verdict.PASS]
    for result in results:
        console.print()
        title = Text(result.target.label, style="bold")
        title.append(f"  {result.verdict.value.upper()}", style=_VERDICT_STYLE[result.verdict])
        console.print(title)
        table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
        table.add_column("status", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column("summary", overflow="fold")
        _finding_rows(table, result.findings, verbose)
        console.print(table)
        if result.missing:
            console.print(
                Text(f"not verified: {', '.join(result.missing)}", style=_STYLE[Status.INCOMPLETE])
            )
        facts = _facts(result)
        if facts is not None:
            console.print(facts)
        if verbose:
            tree = chain_tree(result)
            if tree is not None:
                console.print(tree)
    for capture in report.captures:
        _render_capture(console, capture, verbose)


def _render_capture(console: Console, capture: CaptureResult, verbose: bool) -> None:
    """An audited capture: its findings, then what was read."""
    console.print()
    title = Text(capture.capture, style="bold")
    title.append(f"  {capture.verdict.value.upper()}", style=_VERDICT_STYLE[capture.verdict])
    console.print(title)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("summary", overflow="fold")
    _finding_rows(table, capture.findings, verbose)
    console.print(table)
    if capture.missing:
        console.print(
            Text(f"not verified: {', '.join(capture.missing)}", style=_STYLE[Status.INCOMPLETE])
        )
    facts = capture.facts
    read = [f"{facts.get('format')}", f"{facts.get('records')} packets"]
    if isinstance(facts.get("seconds"), int | float):
        read.append(f"{facts['seconds']:.1f} s")
    read.append(f"{facts.get('udp_flows')} UDP and {facts.get('tcp_flows')} TCP flows")
    if facts.get("cut_records"):
        read.append(f"{facts['cut_records']} cut by the snap length")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    grid.add_row("Capture", " · ".join(read))
    if facts.get("read") != "complete":
        grid.add_row("", f"read: {facts.get('read')}: {facts.get('problem') or ''}".rstrip(": "))
    console.print(grid)
