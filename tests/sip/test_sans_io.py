"""The codec is sans-I/O: importing it pulls in no networking, clock or randomness."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import probe.sip

FORBIDDEN = {"asyncio", "socket", "ssl", "selectors", "time", "random", "secrets", "threading"}


def test_importing_the_codec_imports_no_io_modules():
    code = (
        "import json, sys; before = set(sys.modules); import probe.sip; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not loaded & FORBIDDEN


def test_public_api_is_exported():
    for name in probe.sip.__all__:
        assert hasattr(probe.sip, name), name
    assert len(set(probe.sip.__all__)) == len(probe.sip.__all__)


def test_every_public_name_resolves_and_an_options_run_loads_no_call_machinery() -> None:
    """Dialogs, digest, INVITE builders and transactions load on first use: each public
    name still resolves, and importing what an OPTIONS run over TLS needs loads none of
    them (nor tempfile, which only evidence files need)."""
    for name in probe.sip.__all__:
        assert getattr(probe.sip, name) is not None, name
    with pytest.raises(AttributeError):
        probe.sip.no_such_name  # noqa: B018
    script = (
        "import sys, probe.cli.commands, probe.run.commands, probe.verdict.checks.certificate,"
        " probe.report.json\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('probe.sip.')"
        " or m == 'tempfile')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "probe.sip.message" in loaded  # the check sees what it should
    for lazy in ("dialog", "digest", "invite", "outgoing_call", "transaction"):
        assert f"probe.sip.{lazy}" not in loaded
    assert "tempfile" not in loaded
