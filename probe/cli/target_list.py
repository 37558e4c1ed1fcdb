"""A `--targets` file: one target URI per line, read whole before anything is probed.

Pure: the caller reads the bytes, this decides what they say.  Every line that is not a
target is reported at once, each as ``FILE:LINE: why`` (the form editors and compilers
use), so a list of a hundred endpoints is mended in one pass, not a hundred runs.  Each
line is checked exactly as a target given on the command line is, with the same words.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from probe.errors import ProbeError
from probe.run.locating import TargetError, check_target_uri
from probe.sip import SipError, parse_uri
from probe.sip.uri import redact_uri_text

__all__ = ["TargetList", "TargetListError", "parse_target_list"]

# A comment starts at a "#" that begins the line or follows whitespace.  A "#" inside a
# URI is no comment: RFC 3261 §25.1 does not allow it unescaped, so such a line is
# reported as a bad URI rather than silently cut short.
_COMMENT = re.compile(r"(?:^|\s)#")


@dataclass(frozen=True, slots=True)
class TargetList:
    """The targets in file order, each once, and a note for each repeated line."""

    targets: tuple[str, ...]
    notes: tuple[str, ...]


class TargetListError(ProbeError, ValueError):
    """The file cannot be used: ``summary`` says why in a few words, ``problems`` holds
    one ``FILE:LINE: why`` per problem."""

    def __init__(self, summary: str, problems: list[str]) -> None:
        super().__init__("\n".join([summary, *problems]))
        self.summary = summary
        self.problems = tuple(problems)


def _decode(data: bytes, source: str) -> str:
    try:
        # utf-8-sig: a byte order mark (Windows editors write one) is not part of line 1.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # exc.object is what was decoded: after the byte order mark, when there is one.
        undecoded = bytes(exc.object)
        line = undecoded.count(b"\n", 0, exc.start) + 1
        bad = undecoded[exc.start : exc.start + 1].hex()
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        hint = " (it looks like UTF-16: save it as UTF-8)" if utf16 else ""
        raise TargetListError(
            "not UTF-8 text", [f"{source}:{line}: byte 0x{bad} cannot be decoded{hint}"]
        ) from None


def parse_target_list(data: bytes, source: str) -> TargetList:
    """The targets of a `--targets` file whose content is ``data``; ``source`` names the
    file in messages.  Raises :class:`TargetListError` listing every bad line."""
    text = _decode(data, source)
    targets: list[str] = []
    notes: list[str] = []
    problems: list[str] = []
    first_seen: dict[str, int] = {}
    why_bad: dict[str, str] = {}
    # Lines end at "\n" only (a "\r" before it is stripped): str.splitlines would also
    # break at form feeds and Unicode separators, and number lines unlike an editor.
    for number, raw in enumerate(text.split("\n"), start=1):
        comment = _COMMENT.search(raw)
        line = (raw[: comment.start()] if comment else raw).strip()
        if not line:
            continue
        if line in why_bad:
            problems.append(f"{source}:{number}: {why_bad[line]}")
            continue
        if line in first_seen:
            notes.append(f"{source}:{number} repeats line {first_seen[line]}; probed once")
            continue
        first_seen[line] = number
        try:
            check_target_uri(parse_uri(line), line)
        except (SipError, TargetError) as exc:
            # Worded as for a target on the command line (probe.run.commands.parse_targets).
            # The line is quoted without its password (RFC 3261 §19.1.1): the refusal
            # must not print what it refuses.
            why_bad[line] = f"target {redact_uri_text(line)!r}: {exc}"
            problems.append(f"{source}:{number}: {why_bad[line]}")
            continue
        # Interned: the plan of each URI names it again, and a sweep's file may hold
        # thousands of them.
        targets.append(sys.intern(line))
    if problems:
        count = len(problems)
        summary = "1 line is not a target" if count == 1 else f"{count} lines are not targets"
        raise TargetListError(summary, problems)
    return TargetList(tuple(targets), tuple(notes))
