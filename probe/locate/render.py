"""Plain text for ``sipprobe resolve URI``: the plan first, then the evidence behind it.

Lines only, no styling: the CLI prints them as they are or hands them to a console
renderer; JSON comes from :meth:`LocateResult.to_dict` instead.
"""

from __future__ import annotations

from .records import DnsAnswer, LocatedTarget, LocateResult

__all__ = ["format_plan"]


def _target_line(index: int, target: LocatedTarget) -> str:
    # The share is in the SRV derivation line below; here only what identifies the target.
    line = f"{index}. {target.endpoint}  verify as {target.host}"
    if target.srv_target is not None:
        line += f"  SRV target {target.srv_target}"
    if target.priority is not None:
        line += f" (priority {target.priority}, weight {target.weight})"
    return line


def _answer_lines(answer: DnsAnswer) -> list[str]:
    head = f"{answer.query.rdtype} {answer.query.name}: {answer.outcome}"
    if answer.canonical_name:
        head += f" (CNAME → {answer.canonical_name})"
    if answer.ttl is not None:
        head += f", TTL {answer.ttl} s"
    if answer.server:
        # Which source answered: the system resolver names itself and its sources.
        where = answer.server if answer.source == "system" else f"DNS server {answer.server}"
        head += f", from {where}"
    if answer.elapsed_ms is not None:
        head += f", {answer.elapsed_ms:.1f} ms"
    lines = [head]
    if answer.error:
        lines.append(f"    {answer.error}")
    lines.extend(f"    {record}" for record in answer.records)
    return lines


def format_plan(result: LocateResult) -> list[str]:
    """Ordered targets with their derivation, then the lookups' answers, then problems."""
    lines = [f"{result.uri}", f"transport: {result.transport_reason}"]
    if result.targets:
        lines.append(f"targets, in the order a client tries them ({len(result.targets)}):")
        for index, target in enumerate(result.targets, start=1):
            lines.append("  " + _target_line(index, target))
            lines.extend(f"       {step}" for step in target.via)
    else:
        lines.append("targets: none")
    if result.answers:
        lines.append(f"name lookups ({len(result.answers)}):")
        for answer in result.answers:
            lines.extend("  " + line for line in _answer_lines(answer))
    if result.problems:
        lines.append(f"problems ({len(result.problems)}):")
        lines.extend(f"  - {problem}" for problem in result.problems)
    return lines
