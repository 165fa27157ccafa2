"""The Graph emulator for the Microsoft provider's tests, and a fresh calendar per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.harness import MicrosoftHarness
from tests.support.microsoft_emulator import MicrosoftEmulator, microsoft_emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[MicrosoftEmulator]:
    with microsoft_emulator() as emulator:
        yield emulator


@pytest.fixture
def outlook(emu: MicrosoftEmulator) -> Iterator[MicrosoftHarness]:
    side = MicrosoftHarness(emu)
    yield side
    side.close()
    emu.control.delete("/faults")
    emu.post("/throttle", {"concurrent": 4, "latency_ms": 0, "requests_per_ten_minutes": 10000})
    emu.post("/delta", {"left_window_reason": "changed"})
