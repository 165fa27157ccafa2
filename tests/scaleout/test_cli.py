"""`calsync worker` and `calsync scheduler` say what is missing when no broker is configured."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from calsync.cli import app
from calsync.config import get_settings


@pytest.mark.parametrize("command", [["worker"], ["scheduler"]])
def test_without_a_broker_the_scale_out_commands_name_the_setting(command: list[str], tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("CALSYNC_BROKER_URL", raising=False)
    monkeypatch.setenv("CALSYNC_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, command)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "CALSYNC_BROKER_URL" in result.output
