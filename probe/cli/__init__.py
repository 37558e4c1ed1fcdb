"""The command line: click commands and the option sets they share, the exit code, signal
handling and terminal progress. No logic beyond parsing and wiring: a command turns what
was typed into a request for probe.run and hands its report to probe.report."""
