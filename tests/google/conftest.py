"""The Google Calendar emulator for the provider's own tests, one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.google_emulator import GoogleEmulator, google_emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[GoogleEmulator]:
    with google_emulator() as emulator:
        yield emulator
