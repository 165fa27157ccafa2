"""Every mapped field survives a trip through each provider:
`to_crm(get(create(to_event(f)))) == f`, for fields drawn by Hypothesis, except the fields a
provider declares it cannot carry (`unmapped_fields`, e.g. Google's read-only conference link,
and the attendees of a provider that mails them when written: created here with invitations off)."""

from __future__ import annotations

import datetime as dt
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.sync.apply import unmapped_fields
from calsync.sync.mapping import Attendee, mapped, SyncedFields, normalise, to_crm, to_event
from tests.support.harness import Harness

UTC = dt.timezone.utc
words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
zones = st.sampled_from(["Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"])
emails = st.from_regex(r"[a-z]{1,8}@[a-z]{2,8}\.(com|org|de)", fullmatch=True)
people = st.lists(st.builds(Attendee, emails, st.from_regex(r"[A-Za-z]{0,10}( [A-Za-z]{1,10})?", fullmatch=True),
                            st.sampled_from(["needs_action", "accepted", "declined", "tentative"])),
                  max_size=3, unique_by=lambda a: a.email)


@st.composite
def synced(draw: st.DrawFn) -> SyncedFields:
    base = dt.datetime.now(UTC).replace(microsecond=0, second=0) + dt.timedelta(days=draw(st.integers(1, 300)),
                                                                               minutes=draw(st.integers(0, 1440)))
    common = dict(subject=draw(words), location=draw(words), description=draw(words), busy=draw(st.booleans()),
                  private=draw(st.booleans()), attendees=tuple(draw(people)),
                  conference_url=draw(st.sampled_from(["", "https://meet.example.com/abc-defg-hij"])))
    if draw(st.booleans()):
        day = base.date()
        return normalise(SyncedFields(all_day=True, start_date=day, end_date=day + dt.timedelta(days=draw(st.integers(1, 5))),
                                      **common))  # type: ignore[arg-type]
    return normalise(SyncedFields(all_day=False, start_at=base, end_at=base + dt.timedelta(minutes=draw(st.integers(1, 600))),
                                  timezone=draw(zones), **common))  # type: ignore[arg-type]


def carried(provider: object, fields: SyncedFields) -> SyncedFields:
    """The fields a provider carries when written with invitations off (the engine's own rule)."""
    return mapped(fields, unmapped_fields(provider, False))


@given(fields=synced())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
def test_every_mapped_field_survives_the_provider(harness: Harness, fields: SyncedFields) -> None:
    provider = harness.provider
    event = to_event(fields, calendar_id=harness.calendar_id, activity_uuid=str(uuid.uuid4()))
    created = provider.create_event(event, send_invitations=False)
    [read] = provider.get_event(harness.calendar_id, created.event_id)
    assert carried(provider, to_crm(read, "busy_block")) == carried(provider, fields)
