"""The emulator's clock (shared with the Microsoft emulator)."""

from calsync.emulators.common.clock import Clock

__all__ = ["Clock"]
