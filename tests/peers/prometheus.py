"""A real Prometheus (Debian's `prometheus`) on loopback, for integration tests: started
with a scrape configuration of the test's, a temporary TSDB, and asked through its HTTP
query API (/api/v1/query)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.peers.common import free_port, require_binary, stop, tail


@dataclass
class Prometheus:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, **query: str) -> Any:
        """`GET /api/v1/PATH?QUERY`'s data; a failed answer fails the test."""
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=10) as answer:
            document = json.load(answer)
        assert document["status"] == "success", document
        return document["data"]

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """An instant query's vector: (labels, value) per series."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return [(item["metric"], float(item["value"][1])) for item in data["result"]]

    def wait_for(
        self,
        expr: str,
        ready: Callable[[list[tuple[dict[str, str], float]]], bool],
        *,
        timeout: float = 60.0,
    ) -> list[tuple[dict[str, str], float]]:
        """Query `expr` until `ready` holds for its answer; fail after `timeout` seconds
        with the last answer and Prometheus's log."""
        deadline = time.monotonic() + timeout
        found = self.query(expr)
        while not ready(found):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(
                    f"{expr}: not ready within {timeout:g} s: {found}\n{tail(self.log)}"
                )
            time.sleep(0.2)
            found = self.query(expr)
        return found

    def stop(self) -> None:
        stop(self.process)


def start_prometheus(workdir: Path, config: Mapping[str, Any], timeout: float = 30.0) -> Prometheus:
    """Prometheus with `config` (written as JSON, which YAML reads) on a free loopback
    port, once it says it is ready (/-/ready)."""
    binary = require_binary("prometheus")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "prometheus.yml").write_text(json.dumps(config, indent=2))
    port = free_port()
    log = workdir / "prometheus.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{tail(log)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as ready:
                if ready.status == 200:
                    return Prometheus(port, process, log)
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"prometheus was not ready within {timeout:g} s:\n{tail(log)}")
        time.sleep(0.1)
