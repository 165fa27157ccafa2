"""What the emulator is started with (the `calsync emulate google` options)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/oauth/google/callback"


@dataclass
class EmulatorConfig:
    """Users, the one registered OAuth client, and the limits Google applies."""

    users: list[str] = field(default_factory=lambda: ["a@example.com"])
    client_id: str = "calsync-emulator-client"
    client_secret: str = "calsync-emulator-secret"
    redirect_uris: list[str] = field(default_factory=lambda: [DEFAULT_REDIRECT_URI])
    time_zone: str = "UTC"
    rotate_refresh_tokens: bool = False
    access_token_seconds: int = 3599
    max_batch_parts: int = 1000
    per_user_per_minute: int = 600
    per_project_per_minute: int = 10_000
    # An unbounded series is expanded this far past "now" (Google expands "for ever"; a cap keeps
    # every listing finite).
    expansion_horizon_days: int = 730
    # How old an updatedMin may be before 410 updatedMinTooLongAgo.
    updated_min_window_days: int = 30
    channel_default_ttl_seconds: int = 604_800
