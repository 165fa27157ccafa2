"""An update reads the event first only when the calendar holds more of some field than the CRM
keeps (docs/sync-engine.md, Stage 2, point 4): every other update is one write, no read."""

from __future__ import annotations

from calsync.sync.mapping import DESCRIPTION_MAX
from tests.sync.harness import Harness, soon

A = "alice@example.com"


def test_an_update_reads_the_event_first_only_while_the_crm_holds_a_cut_copy(h: Harness) -> None:
    h.connect(A)
    text = "".join(f"line {n:05d} of the long agenda\n" for n in range(2000)).strip()
    assert len(text) > DESCRIPTION_MAX
    long_id = h.put_event(A, "Board meeting", start=soon(5), description=text).event_id
    h.put_event(A, "Dentist", start=soon(6))
    h.sync(A)
    board, dentist = sorted(h.activities(A), key=lambda a: a.subject)
    assert len(board.public_description) == DESCRIPTION_MAX

    # unrelated CRM edits of both: only the cut one is read before it is written
    h.edit(A, board.id, subject="Board meeting (moved)")
    h.edit(A, dentist.id, subject="Dentist (moved)")
    h.server.requests.clear()
    assert h.sync(A).status == "ok"
    assert h.server.requests["update_event"] == 2
    assert h.server.requests["get_event"] == 1
    held = {e.event_id: e for e in h.events(A)}
    assert held[long_id].summary == "Board meeting (moved)" and held[long_id].description == text

    # the user rewrites the description in the CRM: the calendar now holds what the CRM holds,
    # so later updates of that pair need no read either
    h.edit(A, board.id, public_description="A short agenda")
    h.sync(A)
    assert {e.event_id: e for e in h.events(A)}[long_id].description == "A short agenda"
    h.edit(A, board.id, subject="Board meeting (again)")
    h.server.requests.clear()
    assert h.sync(A).status == "ok"
    assert h.server.requests["update_event"] == 1 and h.server.requests["get_event"] == 0
