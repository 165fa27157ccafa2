"""CalDAV provider (RFC 4791, 6578): discovery, iCalendar mapping, sync-collection changes and
preconditioned writes, split by concern. Importing the package registers the "caldav" factory."""

from __future__ import annotations

from calsync.sync import registry
from calsync.providers.caldav.factory import CalDavFactory
from calsync.providers.caldav.provider import CalDavProvider

FACTORY = registry.register(CalDavFactory())

__all__ = ["CalDavFactory", "CalDavProvider", "FACTORY"]
