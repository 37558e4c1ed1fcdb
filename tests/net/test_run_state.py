"""A run owns its state: ten runs in one process leave memory flat, and nothing at module
level (a functools cache, a memo dict) keeps anything a run put there.

The runs go through the library the CLI uses (`run_options_command`), against the embedded
responder on loopback in a thread of its own; each run asks about targets no earlier run
named, so a process-wide memo keyed by URI, label, chain instant or framed bytes would grow
with every run.
"""

from __future__ import annotations

import collections
import gc
import sys
import time
import tracemalloc
import types
from collections.abc import Iterator
from typing import Any

import pytest

from probe.evidence.model import Target
from probe.net.options import ProbeSettings, RunResources, collect_options
from probe.run.commands import OptionsRequest, run_options_command
from probe.serve import ResponderConfig
from probe.settings import Settings
from probe.sip import parse_uri
from probe.tls.lab import LabFiles
from probe.verdict.findings import Status
from tests.conftest import LAB_NAME
from tests.helpers import no_usage_error
from tests.lab_responders import serving

TARGETS_PER_RUN = 12
RUNS = 10
GROWTH_LIMIT_BYTES = 48 * 1024
"""What runs 3 to 10 may leave behind in all: a memo of URIs, labels, parsed answers or
certificate verdicts would keep several kilobytes for each of their 96 targets."""


@pytest.fixture(scope="module")
def responder_port(lab: LabFiles) -> Iterator[int]:
    config = ResponderConfig(transports=("tls",), cert_file=lab.server, key_file=lab.server_key)
    with serving([config]) as ports:
        yield ports[0]


def _one_run(lab: LabFiles, port: int, run: int) -> None:
    """One sweep of targets this process never probed before, judged; all must pass."""
    request = OptionsRequest(
        targets=[
            f"sip:run{run}-target{n}@{LAB_NAME}:{port};transport=tls"
            for n in range(TARGETS_PER_RUN)
        ],
        settings=Settings.from_flat(
            pins=[f"{LAB_NAME}:{port}:127.0.0.1"], ca=lab.ca, timeout=5.0, concurrency=4
        ),
    )
    report = run_options_command(request, on_usage_error=no_usage_error)
    assert len(report.results) == TARGETS_PER_RUN
    failed = [f for f in report.findings if f.status in (Status.FAIL, Status.INCOMPLETE)]
    assert not failed, failed


def _probe_modules() -> list[types.ModuleType]:
    return [
        module
        for name, module in sorted(sys.modules.items())
        if (name == "probe" or name.startswith("probe.")) and isinstance(module, types.ModuleType)
    ]


def _settled_memory() -> int:
    """Traced memory once the responder's thread has let go of the run's connections:
    it closes them on its own loop, a few milliseconds after the client is done, and a
    TLS connection still open holds buffers of 128 KiB. The least of half a second of
    readings: what a run left behind stays in every one of them."""
    readings = []
    for _ in range(10):
        gc.collect()
        readings.append(tracemalloc.get_traced_memory()[0])
        time.sleep(0.05)
    return min(readings)


def test_ten_runs_in_one_process_leave_memory_flat(lab: LabFiles, responder_port: int) -> None:
    tracemalloc.start()
    try:
        used: list[int] = []
        for run in range(RUNS):
            _one_run(lab, responder_port, run)
            used.append(_settled_memory())
            if run == 1:
                before = tracemalloc.take_snapshot()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    growth = used[-1] - used[1]
    top = after.compare_to(before, "lineno")[:8]
    assert growth < GROWTH_LIMIT_BYTES, (
        f"runs 3-{RUNS} left {growth} bytes behind (after each run: {used}); grew most:\n"
        + "\n".join(str(stat) for stat in top)
    )


def _functools_caches() -> list[str]:
    """Every functools cache reachable from a probe module: its functions, and the
    functions and attributes of its classes."""
    found = []
    for module in _probe_modules():
        for name, value in vars(module).items():
            holders: list[tuple[str, Any]] = [(name, value)]
            if isinstance(value, type) and value.__module__ == module.__name__:
                holders += [(f"{name}.{attr}", item) for attr, item in vars(value).items()]
            for where, item in holders:
                function = getattr(item, "__func__", item)  # staticmethod, classmethod
                if hasattr(function, "cache_info") or hasattr(function, "cache_clear"):
                    found.append(f"{module.__name__}.{where}")
    return found


_CONTAINERS = (dict, list, set, bytearray, collections.deque, collections.OrderedDict)


def _module_state() -> dict[str, tuple[Any, Any]]:
    """Every name bound at module level in a probe module: the object, and for a mutable
    container a copy of what it holds now."""
    held: dict[str, tuple[Any, Any]] = {}
    for module in _probe_modules():
        for name, value in vars(module).items():
            if name.startswith("__"):
                continue
            copy = None
            if isinstance(value, _CONTAINERS):
                copy = value.copy() if not isinstance(value, bytearray) else bytes(value)
            held[f"{module.__name__}.{name}"] = (value, copy)
    return held


def _changed(held: dict[str, tuple[Any, Any]]) -> list[str]:
    now = _module_state()
    return [
        name
        for name, (value, copy) in held.items()
        if now.get(name, (None,))[0] is not value or (copy is not None and value != copy)
    ]


def test_no_module_level_state_survives_a_run(lab: LabFiles, responder_port: int) -> None:
    _one_run(lab, responder_port, 100)  # every module a run needs is imported by now
    assert _functools_caches() == [], "a process-wide functools cache outlives every run"
    held = _module_state()
    containers = [name for name, (_, copy) in held.items() if copy is not None]
    assert containers, "no module-level container found: the scan itself is broken"
    _one_run(lab, responder_port, 101)
    assert _changed(held) == [], "a run rebound or changed module-level state"


async def test_a_runs_probes_share_its_tls_contexts_and_the_next_run_does_not(
    lab: LabFiles, responder_port: int
) -> None:
    """Creating an OpenSSL context costs as much as the rest of a probe's client side: a
    run's probes reuse one (one per concurrent handshake), held by the run only."""
    text = f"sip:{LAB_NAME}:{responder_port};transport=tls"
    uri = parse_uri(text)
    target = Target(text, LAB_NAME, responder_port, "tls", "127.0.0.1")
    settings = ProbeSettings(timeout=5.0)
    resources = RunResources()
    for _ in range(3):
        evidence = await collect_options(uri, target, settings, resources=resources)
        assert evidence.tls is not None
        assert evidence.tls.ok
    pool = resources.capture_contexts(settings.tls)
    # Three handshakes one after another: one context, back in the pool after each.
    assert len(pool._idle) == 1
    assert RunResources().capture_contexts(settings.tls) is not pool
