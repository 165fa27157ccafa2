"""What the Microsoft emulator is started with (the `calsync emulate microsoft` options)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/oauth/microsoft/callback"


@dataclass
class EmulatorConfig:
    """Mailboxes, the one registered app, and the limits Graph and the identity platform apply."""

    users: list[str] = field(default_factory=lambda: ["a@example.com"])
    client_id: str = "00000000-0000-4000-8000-00000000ca15"
    client_secret: str = "calsync-emulator-secret"
    tenant: str = "common"
    # The directory id Graph reports as `tenantId` (notifications, tokens).
    tenant_id: str = "11111111-2222-4333-8444-555555555555"
    redirect_uris: list[str] = field(default_factory=lambda: [DEFAULT_REDIRECT_URI])
    access_token_seconds: int = 3599
    # Microsoft hands out a new refresh token on every refresh and leaves the old one valid;
    # True retires the old one (stricter, to prove a client stores the newest).
    retire_old_refresh_tokens: bool = False
    max_batch_requests: int = 20
    requests_per_ten_minutes: int = 10_000
    concurrent_requests: int = 4
    # Simulated service time per request (makes the 4-concurrent limit reachable in tests).
    latency_ms: int = 0
    calendar_view_page_size: int = 10
    delta_page_size: int = 100
    # How many delta/skip tokens the token cache keeps (least recently used are evicted).
    delta_token_cache: int = 1000
    # An unbounded series is expanded this far past its start (Graph expands "for ever").
    expansion_horizon_days: int = 1830
    subscription_max_minutes: int = 10_080
    subscription_min_minutes: int = 45
    validation_timeout_seconds: float = 10.0
    notification_timeout_seconds: float = 3.0
    notification_retry_hours: float = 4.0
