"""The README's "Keep checking: Prometheus" snippets work as printed: its module loads,
its scrape job passes `promtool check config`, and the address they name is the
exporter's default."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from probe.exporter.modules import parse_config
from probe.exporter.server import DEFAULT_LISTEN
from probe.tls.lab import LabFiles
from tests.peers.common import require_binary

README = Path(__file__).parents[2] / "README.md"


def blocks(language: str) -> list[str]:
    section = README.read_text().split("## Keep checking: Prometheus", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def test_the_readmes_module_loads(tmp_path: Path, lab: LabFiles) -> None:
    shutil.copy(lab.ca, tmp_path / "provider-ca.pem")
    (toml,) = blocks("toml")
    config = parse_config(toml, source="README.md", base_dir=tmp_path)
    assert config.modules["sbc"].settings.tls.ca == tmp_path / "provider-ca.pem"


def test_the_readmes_scrape_job_passes_promtool_and_names_the_default_address(
    tmp_path: Path,
) -> None:
    (job,) = blocks("yaml")
    (shell,) = blocks("sh")
    default = f"{DEFAULT_LISTEN[0]}:{DEFAULT_LISTEN[1]}"
    assert f'replacement: "{default}"' in job
    assert f"listens on {default}" in shell
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs:\n" + job)
    checked = subprocess.run(
        [require_binary("promtool"), "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_commands_defaults_are_the_servers() -> None:
    # The command line names them without importing the server (`--help` stays fast).
    from probe.cli.commands import exporter
    from probe.exporter.server import DEFAULT_CONCURRENCY

    defaults = {param.name: param.default for param in exporter.params}
    assert defaults["listen"] == f"{DEFAULT_LISTEN[0]}:{DEFAULT_LISTEN[1]}"
    assert defaults["concurrency"] == DEFAULT_CONCURRENCY
