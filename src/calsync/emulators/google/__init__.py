"""A Google Calendar v3 + Google OAuth emulator: `calsync emulate google`.

It speaks the real wire protocol (JSON resources, multipart batch, OAuth redirects, webhook
notifications) so the Google provider can be tested without Google.
"""

from calsync.emulators.google.app import create_app
from calsync.emulators.google.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
