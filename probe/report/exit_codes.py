"""The exit codes of every command, in one place (the table is docs/exit-codes.md).

Nagios mode (`--nagios`, `--format nagios`) uses the plugin API's own codes instead:
OK 0, WARNING 1, CRITICAL 2, UNKNOWN 3 (probe.report.output.nagios).
"""

import signal

EXIT_OK = 0
"""Every required check ran; nothing failed (warnings allowed)."""
EXIT_FAIL = 1
"""Something failed."""
EXIT_USAGE = 2
"""Usage or input error, refused before any packet was sent."""
EXIT_INTERNAL = 3
"""A fault of sipprobe itself; a bug to report."""
EXIT_INCOMPLETE = 4
"""Nothing failed, but work that was asked for was not done (cut off by --max-time,
refused after locating, a call that could not be placed)."""
EXIT_SIGNAL_BASE = 128
"""Ended by signal N: 128 + N (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP)."""


def signal_name(number: int) -> str:
    """`SIGTERM` for 15, as reports and messages name the signal that stopped a run; a
    number no signal has is named by its number."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
