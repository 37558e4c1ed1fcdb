"""The codec is sans-I/O: importing it pulls in no networking, clock or randomness."""

from __future__ import annotations

import json
import subprocess
import sys

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
