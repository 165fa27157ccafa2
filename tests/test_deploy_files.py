"""The deployment files (deploy/, docs/deploy.md) name only commands and settings that exist,
and the systemd units pass systemd's own check, so the files people copy do not drift from the code."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from calsync.cli import app
from calsync.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
TEXTS = [DEPLOY / "calsync.env.example", DEPLOY / "compose.yaml", DEPLOY / "Dockerfile", ROOT / "docs" / "deploy.md", *UNITS]


def _calsync_commands() -> list[list[str]]:
    """Every `calsync …` command line the deployment files run."""
    found: list[list[str]] = []
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in compose["services"].values():
        command = service.get("command")
        if command and command[0] == "calsync":
            found.append(command[1:])
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            match = re.match(r"Exec\w+=\S*/calsync (.+)", line)
            if match:
                found.append(match.group(1).replace("%i", "8000").split())
    return found


def test_every_setting_named_is_one_calsync_reads() -> None:
    known = {f"CALSYNC_{name.upper()}" for name in Settings.model_fields}
    named = {name for path in TEXTS for name in re.findall(r"CALSYNC_[A-Z_]+[A-Z]", path.read_text())}
    assert named, "the deployment files name no settings"
    assert named - known == set()


@pytest.mark.parametrize("command", _calsync_commands(), ids=" ".join)
def test_every_command_run_exists_with_its_options(command: list[str]) -> None:
    words = [word for word in command if not word.startswith("-")][:2]
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output
    for option in (word for word in command if word.startswith("--")):
        assert option in result.output, f"`calsync {' '.join(words)}` has no {option}"


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_the_systemd_units_pass_systemds_check(unit: Path, tmp_path: Path) -> None:
    calsync = Path(sys.executable).with_name("calsync")
    text = unit.read_text().replace("/opt/calsync/venv/bin/calsync", str(calsync))
    text = text.replace("/etc/calsync/calsync.env", str(DEPLOY / "calsync.env.example"))
    copy = tmp_path / unit.name.replace("@.", "@8000.")
    copy.write_text(text)
    verify = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    result = subprocess.run([verify, "verify", str(copy)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
