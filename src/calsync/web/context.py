"""What the app holds for its lifetime (settings, database, secret box), built once per app."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from calsync.config import Settings
from calsync.crypto import SecretBox
from calsync.store.db import make_engine, make_session_factory


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    box: SecretBox
    extras: dict[str, Any] = field(default_factory=dict)  # runner, dav app, ... set by their owners
    # "Now" for web sessions' idle expiry; tests replace it instead of waiting.
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.timezone.utc))

    @classmethod
    def build(cls, settings: Settings) -> "AppContext":
        engine = make_engine(settings.resolved_database_url())
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            box=SecretBox(settings.resolved_secret_key()),
        )
