"""A command's run: its inputs validated into settings, the targets located (RFC 3263)
and collected (probe.net) under the run's controls, the evidence handed to probe.verdict.
The commands that build on it (check, the demo) live here too."""
