"""Privacy (issue 12, points 1-4): nothing another user may not see reaches a calendar, a filter,
a list or an attendee match. Alice is the admin of Acme and keeps some deals and contacts to
herself (visibility "owner"); Bob is an ordinary user of the same company who syncs his calendar."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Client, ok
from tests.security.conftest import connect_calendar, ids, sync_now
from tests.support.radicale import DavServer

ALICE, BOB = "alice@acme.test", "bob@acme.test"
BUSY_ROW = "Busy <span class=\"tag private\">"  # how the list page shows a busy block
START, END = "2027-01-15T10:00:00+00:00", "2027-01-15T11:00:00+00:00"


def _pair(people: Any, as_user: Any) -> tuple[Client, Client]:
    people.add(ALICE, admin=True)
    people.add(BOB)
    return as_user(ALICE), as_user(BOB)


def _secret_contact(alice: Client) -> dict[str, Any]:
    return ok(alice.post("/api/v1/persons", {
        "name": "Carol Hidden", "emails": ["carol@hiddencorp.com"], "phones": ["+1 555 0199"], "visibility": "owner"}), 201)


# ------------------------------------------------------------------ 1. the deal/contact block


def test_an_admin_giving_bob_an_activity_linked_to_her_hidden_deal_and_contact_writes_none_of_them_to_his_calendar(
        people, as_user, radicale: DavServer) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    calendar = connect_calendar(bob, radicale, "bob", include_details=True)
    deal = ok(alice.post("/api/v1/deals", {"title": "Secret merger", "visibility": "owner"}), 201)
    person = _secret_contact(alice)
    org = ok(alice.post("/api/v1/organizations", {"name": "Hidden Holdings", "visibility": "owner"}), 201)
    shared = ok(alice.post("/api/v1/organizations", {"name": "Open Org"}), 201)
    given = alice.activity(subject="Prepare the call", owner_id=bob.id, start=START, end=END, deal_id=deal["id"],
                           person_id=person["id"], org_id=org["id"])
    also = alice.activity(subject="Visit", owner_id=bob.id, start=START, end=END, org_id=shared["id"])
    assert given["owner_id"] == bob.id and also["owner_id"] == bob.id

    sync_now(bob)

    text = calendar.text()
    assert "Prepare the call" in text and "Open in CRM" in text  # the event and its block are there
    assert "Organization: Open Org" in text  # what Bob may see is still written
    for secret in ("Secret merger", "Carol Hidden", "carol@hiddencorp.com", "555 0199", "Hidden Holdings"):
        assert secret not in text, f"{secret!r} reached Bob's calendar"


def test_a_deal_made_owner_only_and_renamed_leaves_bobs_event_at_the_next_run_and_never_comes_back(
        people, as_user, radicale: DavServer) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    calendar = connect_calendar(bob, radicale, "bob", include_details=True)
    deal = ok(alice.post("/api/v1/deals", {"title": "Open deal"}), 201)
    mine = bob.activity(subject="Call about the deal", start=START, end=END, deal_id=deal["id"])
    sync_now(bob)
    assert "Deal: Open deal" in calendar.text()

    ok(alice.patch(f"/api/v1/deals/{deal['id']}", {"visibility": "owner", "title": "Takeover of Bob's team"}))
    sync_now(bob)  # the visibility change alone re-pushes the event
    text = calendar.text()
    assert "Call about the deal" in text and "Open in CRM" in text
    assert "Open deal" not in text and "Takeover" not in text

    ok(bob.patch(f"/api/v1/activities/{mine['id']}", {"subject": "Call about the deal (moved)"}))
    sync_now(bob)  # Bob's next edit pushes his event again: still nothing of the hidden deal
    text = calendar.text()
    assert "Call about the deal (moved)" in text
    assert "Takeover" not in text and "Open deal" not in text


# ------------------------------------------------------------------ 2. filters and sort orders


def test_filters_on_a_busy_block_use_only_what_the_viewer_sees(people, as_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    secret = alice.activity(subject="Surgery", type="meeting", private=True, done=True, start=START, end=END)
    plain = alice.activity(subject="Team call", type="call", start="2027-01-16T10:00:00+00:00",
                           end="2027-01-16T11:00:00+00:00")
    listing = "/api/v1/activities"

    assert ids(bob.get(listing, owner_id=alice.id)) == [secret["id"], plain["id"]]  # the block itself shows
    assert ids(bob.get(listing, owner_id=alice.id, type="meeting")) == []
    assert ids(bob.get(listing, owner_id=alice.id, type="meeting,call")) == [plain["id"]]
    assert ids(bob.get(listing, owner_id=alice.id, done="1")) == []
    assert ids(bob.get(listing, owner_id=alice.id, done="0")) == [secret["id"], plain["id"]]
    assert ids(bob.get(listing, owner_id="everyone", type="meeting", done="1")) == []
    # with a range (the two-index path) and sorted by update time, the same answers
    window = {"start_date": "2027-01-01", "end_date": "2027-02-01"}
    assert ids(bob.get(listing, owner_id=alice.id, type="meeting", **window)) == []
    assert ids(bob.get(listing, owner_id=alice.id, done="1", **window)) == []
    since = {"updated_since": "2020-01-01T00:00:00Z"}
    assert ids(bob.get(listing, owner_id=alice.id, type="meeting", **since)) == []
    assert ids(bob.get(listing, owner_id=alice.id, done="0", **since)) == [secret["id"], plain["id"]]
    # the owner's own filters still read every field
    assert ids(alice.get(listing, type="meeting", done="1")) == [secret["id"]]


def test_the_list_page_filters_a_busy_block_by_what_the_viewer_sees(people, as_user, live_url: str) -> None:  # type: ignore[no-untyped-def]
    import httpx

    alice, _ = _pair(people, as_user)
    alice.activity(subject="Surgery", type="meeting", private=True, done=True, start=START, end=END)
    with httpx.Client(base_url=live_url, timeout=30) as browser:
        login = browser.get("/login")
        token = _form_token(login.text)
        signed = browser.post("/login", data={"email": BOB, "password": "password-123", "csrf_token": token})
        assert signed.status_code in (200, 303), signed.text
        everything = browser.get("/activities", params={"owner": str(alice.id)})
        assert everything.status_code == 200 and BUSY_ROW in everything.text
        for params in ({"type": "meeting"}, {"done": "done"}):
            page = browser.get("/activities", params={"owner": str(alice.id), **params})
            assert page.status_code == 200
            assert BUSY_ROW not in page.text, f"the busy block matched the hidden filter {params}"


def _form_token(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token"\s+value="([^"]+)"', html) or re.search(r'value="([^"]+)"\s+name="csrf_token"', html)
    assert found, "the login form carries a CSRF token"
    return found.group(1)


# ------------------------------------------------------------------ 3. participants


def test_an_activity_whose_participant_is_a_hidden_contact_is_hidden_like_any_linked_item(
        people, as_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    person = _secret_contact(alice)
    meeting = alice.activity(subject="Board prep", start=START, end=END, participants=[{"person_id": person["id"]}])
    open_one = alice.activity(subject="All hands", start=START, end=END)
    assert alice.get(f"/api/v1/activities/{meeting['id']}").status_code == 200

    assert bob.get(f"/api/v1/activities/{meeting['id']}").status_code == 404
    assert ids(bob.get("/api/v1/activities", owner_id=alice.id)) == [open_one["id"]]
    assert ids(bob.get("/api/v1/activities", owner_id="everyone", start_date="2027-01-01", end_date="2027-02-01")) == [open_one["id"]]
    calendar = ok(bob.get("/api/v1/calendar", start="2027-01-01", end="2027-02-01", owner_id="everyone"))
    assert [a["id"] for a in calendar] == [open_one["id"]]
    ok(alice.delete(f"/api/v1/activities/{meeting['id']}"))
    ok(alice.delete(f"/api/v1/activities/{open_one['id']}"))
    assert ids(bob.get("/api/v1/activities/trash")) == [open_one["id"]]


# ------------------------------------------------------------------ 4. attendee matching


def test_attendees_match_only_contacts_the_activitys_owner_may_see(people, as_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    hidden = _secret_contact(alice)
    shared = ok(alice.post("/api/v1/persons", {"name": "Dan Shared", "emails": ["dan@sharedcorp.com"]}), 201)
    own = ok(bob.post("/api/v1/persons", {"name": "Eve Mine", "emails": ["eve@minecorp.com"], "visibility": "owner"}), 201)
    attendees = [{"email": "carol@hiddencorp.com"}, {"email": "dan@sharedcorp.com"}, {"email": "eve@minecorp.com"}]

    made = bob.activity(subject="Kick-off", start=START, end=END, attendees=attendees)
    matched = {a["email"]: a["person_id"] for a in made["attendees"]}
    assert matched == {"carol@hiddencorp.com": None, "dan@sharedcorp.com": shared["id"], "eve@minecorp.com": own["id"]}

    # an admin creating it for Bob matches what Bob may see, not what the admin may see
    given = alice.activity(subject="Given", owner_id=bob.id, start=START, end=END, attendees=attendees[:1])
    assert given["attendees"][0]["person_id"] is None
    # the same address on Alice's own activity is hers to match
    hers = alice.activity(subject="Hers", start=START, end=END, attendees=attendees[:1])
    assert hers["attendees"][0]["person_id"] == hidden["id"]
    # and a change of the attendee list keeps the rule
    changed = ok(bob.patch(f"/api/v1/activities/{made['id']}", {"attendees": attendees[:1]}))
    assert changed["attendees"][0]["person_id"] is None
    # a contact made owner-only later loses the matches of those who may no longer see it
    with_dan = bob.activity(subject="Dan", start=START, end=END, attendees=[{"email": "dan@sharedcorp.com"}])
    assert with_dan["attendees"][0]["person_id"] == shared["id"]
    ok(alice.patch(f"/api/v1/persons/{shared['id']}", {"visibility": "owner"}))
    assert ok(bob.get(f"/api/v1/activities/{with_dan['id']}"))["attendees"][0]["person_id"] is None


def test_attendees_of_an_imported_event_match_only_contacts_the_calendars_owner_may_see(
        people, as_user, radicale: DavServer) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    _secret_contact(alice)
    shared = ok(alice.post("/api/v1/persons", {"name": "Dan Shared", "emails": ["dan@sharedcorp.com"]}), 201)
    calendar = connect_calendar(bob, radicale, "bob", sync_type="two_way")
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync tests//EN\r\nBEGIN:VEVENT\r\n"
        "UID:import-attendees-1\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20270115T100000Z\r\nDTEND:20270115T110000Z\r\nSUMMARY:Lunch with clients\r\n"
        "ATTENDEE;CN=Carol:mailto:carol@hiddencorp.com\r\nATTENDEE;CN=Dan:mailto:dan@sharedcorp.com\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert radicale.put("bob", calendar.url + "import-attendees-1.ics", ics).status_code in (200, 201, 204)

    sync_now(bob)

    (imported,) = ok(bob.get("/api/v1/activities"))
    assert imported["subject"] == "Lunch with clients"
    matched = {a["email"]: a["person_id"] for a in imported["attendees"]}
    assert matched == {"carol@hiddencorp.com": None, "dan@sharedcorp.com": shared["id"]}


# ------------------------------------------------------------------ 5. attendee links on read


def _attendees_seen(activity: dict[str, Any]) -> dict[str, tuple[str, int | None]]:
    return {a["email"]: (a["name"], a["person_id"]) for a in activity["attendees"]}


def test_another_user_sees_an_attendee_linked_to_a_contact_only_if_they_may_see_that_contact(
        people, as_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    hidden = _secret_contact(alice)
    shared = ok(alice.post("/api/v1/persons", {"name": "Dan Shared", "emails": ["dan@sharedcorp.com"]}), 201)
    attendees = [{"email": "carol@hiddencorp.com", "name": "Carol (as typed)"}, {"email": "dan@sharedcorp.com"}]
    hers = alice.activity(subject="Kick-off", start=START, end=END, attendees=attendees)
    assert _attendees_seen(hers) == {"carol@hiddencorp.com": ("Carol (as typed)", hidden["id"]),
                                     "dan@sharedcorp.com": ("", shared["id"])}  # Alice's own match
    expected = {"carol@hiddencorp.com": ("Carol (as typed)", None), "dan@sharedcorp.com": ("", shared["id"])}
    window = {"start_date": "2027-01-01", "end_date": "2027-02-01"}

    assert _attendees_seen(ok(bob.get(f"/api/v1/activities/{hers['id']}"))) == expected
    for params in ({"owner_id": alice.id}, {"owner_id": "everyone", **window},
                   {"owner_id": alice.id, "updated_since": "2020-01-01T00:00:00Z"}):
        (listed,) = ok(bob.get("/api/v1/activities", **params))
        assert _attendees_seen(listed) == expected, params
    (shown,) = ok(bob.get("/api/v1/calendar", start="2027-01-01", end="2027-02-01", owner_id="everyone"))
    assert _attendees_seen(shown) == expected
    assert "Carol Hidden" not in bob.get(f"/api/v1/activities/{hers['id']}").text
    ok(alice.delete(f"/api/v1/activities/{hers['id']}"))
    (trashed,) = ok(bob.get("/api/v1/activities/trash"))
    assert _attendees_seen(trashed) == expected
    assert _attendees_seen(ok(alice.get("/api/v1/activities/trash"))[0])["carol@hiddencorp.com"][1] == hidden["id"]


def test_an_admin_does_not_see_the_link_of_an_attendee_to_a_users_own_contact(
        people, as_user) -> None:  # type: ignore[no-untyped-def]
    alice, bob = _pair(people, as_user)
    own = ok(bob.post("/api/v1/persons", {"name": "Eve Mine", "emails": ["eve@minecorp.com"], "visibility": "owner"}), 201)
    his = bob.activity(subject="Lunch", start=START, end=END, attendees=[{"email": "eve@minecorp.com", "name": "Eve"}])
    assert _attendees_seen(his) == {"eve@minecorp.com": ("Eve", own["id"])}

    assert _attendees_seen(ok(alice.get(f"/api/v1/activities/{his['id']}"))) == {"eve@minecorp.com": ("Eve", None)}
    (listed,) = ok(alice.get("/api/v1/activities", owner_id=bob.id))
    assert _attendees_seen(listed) == {"eve@minecorp.com": ("Eve", None)}
    # once Bob shares the contact, the link shows
    ok(bob.patch(f"/api/v1/persons/{own['id']}", {"visibility": "everyone"}))
    assert _attendees_seen(ok(alice.get(f"/api/v1/activities/{his['id']}"))) == {"eve@minecorp.com": ("Eve", own["id"])}
