"""A Microsoft Graph (Outlook calendar) + Microsoft identity platform emulator: `calsync emulate microsoft`.

It speaks the real wire protocol (Graph JSON, `$batch`, delta links, OAuth redirects, change
notifications with the validation handshake) so the Microsoft provider can be tested without
Microsoft.
"""

from calsync.emulators.microsoft.app import create_app
from calsync.emulators.microsoft.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
