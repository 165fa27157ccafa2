"""Random sequences of edits on both sides against the Google provider on the Calendar emulator
(the shared machine of tests/sync/stateful_emulated.py). CALSYNC_GOOGLE_STATEFUL_EXAMPLES sets the
number of examples (default 50)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.google_emulator import GoogleEmulator, google_emulator
from tests.support.harness import GoogleHarness
from tests.sync.stateful_emulated import CheckedMachine, run

EXAMPLES = int(os.environ.get("CALSYNC_GOOGLE_STATEFUL_EXAMPLES", "50"))


class GoogleMachine(CheckedMachine):
    provider_name, label, letter = "google", "Google", "g"

    def make_side(self) -> Any:
        return GoogleHarness(self.emu)

    def open_provider(self, credentials: dict[str, Any]) -> Any:
        return self.emu.open(credentials)


@pytest.fixture(scope="module")
def emu() -> Any:
    with google_emulator() as emulator:
        emulator.post("/quota", {"per_user_per_minute": 1_000_000, "per_project_per_minute": 1_000_000})
        yield emulator


@pytest.mark.timeout(max(600, EXAMPLES * 10))
def test_random_sequences_against_google_keep_both_sides_in_step(emu: GoogleEmulator) -> None:
    run(GoogleMachine, emu, EXAMPLES)
