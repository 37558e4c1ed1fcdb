"""`python -m probe` and the `sipprobe` console script.

`sipprobe --version` answers before the command-line framework is even imported: monitoring
systems call it to fingerprint the tool, and it should cost what starting Python costs.
"""

from __future__ import annotations

import sys
from typing import NoReturn


def main() -> NoReturn:
    if sys.argv[1:] == ["--version"]:
        from probe import __version__

        sys.stdout.write(f"sipprobe {__version__}\n")
        sys.exit(0)
    from probe.cli.commands import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
