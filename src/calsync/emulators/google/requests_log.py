"""The request log (shared with the Microsoft emulator)."""

from calsync.emulators.common.requests_log import RequestLog

__all__ = ["RequestLog"]
