"""Graph's event JSON read into neutral events: HTML bodies, zone names, sensitivity, showAs."""

from __future__ import annotations

import datetime as dt

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsync.providers.microsoft import wire

OUTLOOK_HTML = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    '<style type="text/css" style="display:none">P {margin-top:0;margin-bottom:0;} .x{color:red}</style></head>'
    '<body dir="ltr"><div class="elementToProof" style="font-family: Aptos">Agenda:<br>- prices &amp; terms</div>'
    '<div><img src="cid:image001.png@01DA" alt="logo" width="120"></div><p>See you</p></body></html>'
)


def resource(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "AAMk1", "@odata.etag": 'W/"ck1"', "subject": "Call", "isAllDay": False, "type": "singleInstance",
        "start": {"dateTime": "2027-03-01T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2027-03-01T10:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "UTC", "sensitivity": "normal", "showAs": "busy",
        "body": {"contentType": "text", "content": ""},
    }
    base.update(changes)
    return base


def test_html_bodies_read_as_text_without_style_head_or_images() -> None:
    event = wire.to_event("cal", resource(body={"contentType": "html", "content": OUTLOOK_HTML}))
    assert event.description.split("\n") == ["Agenda:", "- prices & terms", "", "See you"]
    for markup in ("<", "margin-top", "color:red", "logo", "image001", "Content-Type"):
        assert markup not in event.description


def test_every_windows_zone_name_maps_to_an_iana_zone_and_back() -> None:
    """The full table icalendar ships (not a dozen names): none silently becomes UTC."""
    assert len(WINDOWS_TO_OLSON) > 130
    for windows, iana in WINDOWS_TO_OLSON.items():
        assert wire.iana_zone(windows) == ("UTC" if iana == "Etc/UTC" else iana)
    assert wire.iana_zone("Tokyo Standard Time") == "Asia/Tokyo"
    assert wire.iana_zone("Europe/Lisbon") == "Europe/Lisbon"
    assert wire.iana_zone("Mars Standard Time") is None
    assert wire.graph_zone("Europe/Berlin") == "W. Europe Standard Time"
    event = wire.to_event("cal", resource(originalStartTimeZone="AUS Eastern Standard Time"))
    assert event.timezone == "Australia/Sydney"
    assert event.start == dt.datetime(2027, 3, 1, 9, tzinfo=dt.timezone.utc)


def test_sensitivity_and_show_as_tables() -> None:
    read = {s: wire.to_event("cal", resource(sensitivity=s)).privacy
            for s in ("normal", "personal", "private", "confidential")}
    assert read == {"normal": "public", "personal": "private", "private": "private", "confidential": "confidential"}
    shown = {s: (e.busy, e.status) for s in ("free", "tentative", "busy", "oof", "workingElsewhere")
             for e in [wire.to_event("cal", resource(showAs=s))]}
    assert shown == {"free": (False, "confirmed"), "tentative": (True, "tentative"), "busy": (True, "confirmed"),
                     "oof": (True, "confirmed"), "workingElsewhere": (True, "confirmed")}
    oof = wire.to_event("cal", resource(showAs="oof", sensitivity="personal"))
    body = wire.to_body(oof, previous=oof.raw)
    assert (body["showAs"], body["sensitivity"]) == ("oof", "personal")  # kept while still busy and private
    oof.busy = False
    assert wire.to_body(oof, previous=oof.raw)["showAs"] == "free"


def test_all_day_events_are_written_midnight_to_midnight() -> None:
    event = wire.to_event("cal", resource(isAllDay=True, start={"dateTime": "2027-03-01T00:00:00.0000000", "timeZone": "UTC"},
                                          end={"dateTime": "2027-03-03T00:00:00.0000000", "timeZone": "UTC"}))
    assert event.all_day and (event.start_date, event.end_date) == (dt.date(2027, 3, 1), dt.date(2027, 3, 3))
    body = wire.to_body(event)
    assert body["isAllDay"] is True
    assert (body["start"]["dateTime"], body["end"]["dateTime"]) == ("2027-03-01T00:00:00.0000000", "2027-03-03T00:00:00.0000000")
