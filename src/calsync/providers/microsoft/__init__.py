"""Microsoft 365 and Outlook.com calendars through Microsoft Graph; registered as "microsoft"."""

from calsync.providers.microsoft.factory import MicrosoftFactory
from calsync.sync import registry

registry.register(MicrosoftFactory())
