"""`python -m probe.scenario list | show NAME | check FILE...`: the built-ins and validation,
without the network (useful until, and alongside, the `sipprobe` commands)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from probe.scenario.loader import ScenarioError, builtin_source, list_builtins, load

USAGE = "usage: python -m probe.scenario list | show NAME | check FILE|builtin:NAME..."


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["list"] and len(argv) == 1:
        for name, description in list_builtins():
            print(f"builtin:{name:24} {description}")
        return 0
    try:
        if argv[:1] == ["show"] and len(argv) == 2:
            sys.stdout.write(builtin_source(argv[1]))
            return 0
        if argv[:1] == ["check"] and len(argv) > 1:
            for spec in argv[1:]:
                scenario = load(spec)
                print(f"{spec}: ok ({scenario.trunk.name}, {len(scenario.endpoints)} endpoints)")
            return 0
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
