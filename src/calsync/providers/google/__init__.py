"""Google Calendar provider (API v3): OAuth with PKCE, incremental sync with sync tokens,
preconditioned writes, split by concern. Importing the package registers the "google" factory."""

from __future__ import annotations

from calsync.sync import registry
from calsync.providers.google.factory import GoogleFactory
from calsync.providers.google.provider import GoogleProvider

FACTORY = registry.register(GoogleFactory())

__all__ = ["FACTORY", "GoogleFactory", "GoogleProvider"]
