"""Settings from `CALSYNC_*` environment variables, with defaults that work on one machine."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the product; each has a default so `make run` needs none of them."""

    model_config = SettingsConfigDict(env_prefix="CALSYNC_", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    max_body_bytes: int = 1_000_000
    sync_interval_seconds: int = 300
    sync_debounce_seconds: float = 1.0
    # external CalDAV servers cannot push: their accounts are polled this often (spread out)
    caldav_poll_seconds: int = 60
    # after this long a sync run takes no new items and ends as "partial"; the next run goes on
    sync_run_budget_seconds: int = 300
    # occurrences of one recurring series taken in per sync window (the rest is left out, logged)
    max_occurrences_per_series: int = 500
    embedded_dav: bool = True
    runner: str = "embedded"  # "embedded" or "none"
    # Embedded runner: accounts synced at once, and at most this many at once per provider.
    runner_threads: int = 4
    provider_concurrency: str = "google=4,microsoft=4,caldav=4"
    # Scale-out (docs/deploy.md): a Redis URL here makes web processes only enqueue; `calsync worker`
    # runs the syncs and `calsync scheduler` enqueues due accounts and channel renewals.
    broker_url: str = ""
    # Requests per second per provider, shared by every worker (a token bucket in Redis).
    provider_rate_limits: str = "google=50,microsoft=50,caldav=50"
    log_level: str = "info"  # `calsync serve`: debug, info, warning or error (see calsync.logsetup)
    login_max_failures: int = 5
    login_lock_seconds: int = 300
    # Google Calendar: the OAuth client from Google's console; the URLs point at the emulator in tests.
    google_client_id: str = ""
    google_client_secret: str = ""
    google_api_url: str = "https://www.googleapis.com"
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    # Microsoft 365 / Outlook: the app registered in Microsoft Entra; the URLs point at the emulator in tests.
    microsoft_client_id: str = ""
    microsoft_client_secret: str = ""
    microsoft_tenant: str = "common"
    microsoft_graph_url: str = "https://graph.microsoft.com"
    microsoft_login_url: str = "https://login.microsoftonline.com"
    # Where users' browsers (and Google's redirects) reach this app; default: the served address.
    public_url: str = ""
    session_idle_seconds: int = 8 * 3600  # a signed-in browser idle this long must sign in again
    # Self-hosters whose calendar server is on their own network turn this on (see docs/security.md).
    allow_private_calendar_hosts: bool = False

    def provider_numbers(self, field: str) -> dict[str, float]:
        """`provider_concurrency` or `provider_rate_limits` as {provider: number} ("google=4,caldav=8")."""
        numbers: dict[str, float] = {}
        for part in str(getattr(self, field)).split(","):
            name, _, value = part.partition("=")
            if name.strip() and value.strip():
                numbers[name.strip()] = float(value)
        return numbers

    def resolved_database_url(self) -> str:
        """The configured URL, or SQLite in the var directory."""
        if self.database_url:
            return self.database_url
        self.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return f"sqlite:///{(self.var_dir / 'calsync.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the var directory (mode 600)."""
        if self.secret_key:
            return self.secret_key
        self.var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.var_dir / "secret_key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def secure_files(self) -> None:
        """Private modes for the var folder and the SQLite database (see calsync.filemodes)."""
        from calsync.filemodes import secure_var_dir, sqlite_file

        database = sqlite_file(self.resolved_database_url())
        secure_var_dir(self.var_dir, [database] if database else [])

    def resolved_base_url(self) -> str:
        return self.base_url or f"http://{self.host}:{self.port}"

    def resolved_public_url(self) -> str:
        """The address Google redirects back to (`<public url>/oauth/google/callback`)."""
        return (self.public_url or self.resolved_base_url()).rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
