"""Alembic, driven from code: `calsync db upgrade`, and the check that refuses an un-migrated DB."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from calsync.store.db import normalise_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def is_up_to_date(engine: Engine) -> bool:
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current == head_revision()


class NotMigrated(RuntimeError):
    """The database is older than the code: the message names the command that fixes it."""


def require_up_to_date(engine: Engine) -> None:
    if not is_up_to_date(engine):
        raise NotMigrated(
            "the database is not migrated to this version of calsync: run `calsync db upgrade` "
            "(or `make run`, which does it) and start again"
        )
