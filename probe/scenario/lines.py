"""Where a key sits in a TOML file: `tomllib` parses without positions, so the lines are
found again by a light scan of the text (TOML 1.0: tables, arrays of tables, dotted keys,
multi-line strings and arrays).

Best effort by design: the file has already parsed, so the scan only needs to recognise
structure, not to validate it. A key it cannot place falls back to its closest enclosing
table or key; with nothing to fall back on the line is unknown (None).
"""

from __future__ import annotations

from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _read_key(text: str, pos: int) -> tuple[list[str], int] | None:
    """A (dotted) key starting at `pos`: its parts and the position after it, or None."""
    parts: list[str] = []
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            return None
        quote = text[pos]
        if quote in "\"'":
            end = text.find(quote, pos + 1)
            while quote == '"' and end > 0 and text[end - 1] == "\\":
                end = text.find(quote, end + 1)
            if end < 0:
                return None
            parts.append(text[pos + 1 : end])
            pos = end + 1
        else:
            start = pos
            while pos < len(text) and text[pos] in _BARE:
                pos += 1
            if pos == start:
                return None
            parts.append(text[start:pos])
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


class _ValueScanner:
    """Tracks what spans lines (multi-line strings, open brackets) and where each element
    of a key's array starts, so that `resolve[1]` finds its own line."""

    def __init__(self, index: dict[KeyPath, int]) -> None:
        self.index = index
        self.depth = 0
        self.open_string: str | None = None
        self.path: KeyPath = ()
        self.elements = 0
        self.expect = False

    @property
    def busy(self) -> bool:
        return self.depth > 0 or self.open_string is not None

    def start(self, path: KeyPath) -> None:
        self.path, self.elements, self.expect = path, 0, False

    def _element(self, number: int) -> None:
        if self.expect and self.depth == 1:
            self.index.setdefault((*self.path, self.elements), number)
            self.elements += 1
            self.expect = False

    def feed(self, text: str, number: int) -> None:
        pos = 0
        while pos < len(text):
            if self.open_string is not None:
                end = text.find(self.open_string, pos)
                if end < 0:
                    return
                pos = end + len(self.open_string)
                self.open_string = None
                continue
            char = text[pos]
            if char == "#":
                return
            if char in " \t":
                pos += 1
                continue
            if char not in ",]":
                self._element(number)
            if text.startswith(('"""', "'''"), pos):
                self.open_string = text[pos : pos + 3]
                pos += 3
            elif char in "\"'":
                end = pos + 1
                while end < len(text) and text[end] != char:
                    end += 2 if char == '"' and text[end] == "\\" else 1
                pos = end + 1
            else:
                if char in "[{":
                    self.depth += 1
                    self.expect = char == "[" and self.depth == 1
                elif char in "]}":
                    self.depth = max(0, self.depth - 1)
                elif char == "," and self.depth == 1:
                    self.expect = True
                pos += 1


def index_keys(text: str) -> dict[KeyPath, int]:
    """Map every table, array-of-tables element and key to its (1-based) line."""
    index: dict[KeyPath, int] = {}
    counts: dict[tuple[str, ...], int] = {}
    table: KeyPath = ()
    value = _ValueScanner(index)

    def element_path(names: Sequence[str]) -> KeyPath:
        # A sub-table of an array of tables belongs to its latest element.
        path: list[str | int] = []
        for depth in range(1, len(names) + 1):
            path.append(names[depth - 1])
            count = counts.get(tuple(names[:depth]))
            if count is not None and depth < len(names):
                path.append(count)
        return tuple(path)

    for number, line in enumerate(text.splitlines(), start=1):
        if value.busy:
            value.feed(line, number)
            continue
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            read = _read_key(stripped, 2)
            if read is not None:
                names = tuple(read[0])
                counts[names] = counts.get(names, -1) + 1
                base = element_path(names)
                index.setdefault(base, number)
                table = (*base, counts[names])
                index.setdefault(table, number)
            continue
        if stripped.startswith("["):
            read = _read_key(stripped, 1)
            if read is not None:
                table = element_path(read[0])
                # `[modules.sbc]` defines `modules` too (TOML: a super-table is implied).
                for length in range(1, len(table) + 1):
                    index.setdefault(table[:length], number)
            continue
        read = _read_key(stripped, 0)
        if read is None or not stripped[read[1] :].startswith("="):
            continue
        parts, pos = read
        index.setdefault((*table, *parts), number)
        value.start((*table, *parts))
        value.feed(stripped[pos + 1 :], number)
    return index


def find_line(index: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of `path`, else of its closest enclosing key or table, else None."""
    for length in range(len(path), 0, -1):
        line = index.get(path[:length])
        if line is not None:
            return line
    return None


def _quoted(key: str) -> str:
    """`key` as a TOML basic string with every unprintable character escaped (`\\n`,
    `\\u0085`), so a problem naming a strange key stays on its own line."""
    out = []
    for char in key:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def format_path(path: KeyPath) -> str:
    """`("endpoint", 1, "priority")` → `endpoint[1].priority` (quoting keys TOML must)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        name = part if part and set(part) <= _BARE else _quoted(part)
        text += f".{name}" if text else name
    return text
