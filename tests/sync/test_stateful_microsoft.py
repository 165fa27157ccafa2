"""Random sequences of edits on both sides against the Microsoft provider on the Graph emulator
(the shared machine of tests/sync/stateful_emulated.py). CALSYNC_MICROSOFT_STATEFUL_EXAMPLES sets
the number of examples (default 50)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.harness import MicrosoftHarness
from tests.support.microsoft_emulator import MicrosoftEmulator, microsoft_emulator
from tests.sync.stateful_emulated import CheckedMachine, run

EXAMPLES = int(os.environ.get("CALSYNC_MICROSOFT_STATEFUL_EXAMPLES", "50"))


class MicrosoftMachine(CheckedMachine):
    provider_name, label, letter = "microsoft", "Outlook", "m"

    def make_side(self) -> Any:
        return MicrosoftHarness(self.emu)

    def open_provider(self, credentials: dict[str, Any]) -> Any:
        return self.side.factory.open(credentials)


@pytest.fixture(scope="module")
def emu() -> Any:
    with microsoft_emulator() as emulator:
        emulator.post("/throttle", {"requests_per_ten_minutes": 1_000_000})
        yield emulator


@pytest.mark.timeout(max(600, EXAMPLES * 10))
def test_random_sequences_against_microsoft_keep_both_sides_in_step(emu: MicrosoftEmulator) -> None:
    run(MicrosoftMachine, emu, EXAMPLES)
