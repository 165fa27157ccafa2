"""The schema migrates on both databases and the app refuses an un-migrated one."""

from __future__ import annotations

from pathlib import Path

import pytest

from calsync.config import Settings
from calsync.store import migrate
from calsync.store.db import make_engine


def test_migrated_database_is_at_head(db_url: str) -> None:
    assert migrate.is_up_to_date(make_engine(db_url))


def test_app_refuses_unmigrated_database(tmp_path: Path) -> None:
    from calsync.web.app import create_app

    settings = Settings(var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'empty.db'}", secret_key="k")
    with pytest.raises(migrate.NotMigrated, match="calsync db upgrade"):
        create_app(settings)


def test_users_get_working_tokens(people) -> None:  # type: ignore[no-untyped-def]
    people.add("ann@example.com", admin=True)
    assert len(people.tokens["ann@example.com"]) == 40
