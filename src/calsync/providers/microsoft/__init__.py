"""Microsoft 365 and Outlook.com calendars through Microsoft Graph: delta sync over calendarView,
preconditioned writes, `$batch`, subscriptions; registered as "microsoft"."""

from calsync.providers.microsoft.factory import MicrosoftFactory
from calsync.providers.microsoft.provider import MicrosoftProvider
from calsync.sync import registry

FACTORY = registry.register(MicrosoftFactory())

__all__ = ["FACTORY", "MicrosoftFactory", "MicrosoftProvider"]
