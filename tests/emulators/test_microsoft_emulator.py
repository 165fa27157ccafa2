"""The Microsoft Graph emulator over real HTTP (Uvicorn on loopback): OAuth, calendars, events.

Every JSON body the emulator answers is parsed into the msgraph-sdk (Kiota) models: nothing but
`@odata.*` annotations may land in a model's `additional_data`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.emulators import graph_models
from tests.emulators.microsoft_helpers import MARCH, WEEKLY, code, conforms, create, when
from tests.support.microsoft_emulator import USERS, MicrosoftEmulator, microsoft_emulator
from tests.support.ports import free_port, wait_for_port

A, B = USERS
REDIRECT = "http://127.0.0.1:8000/oauth/microsoft/callback"
EXT = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name crmActivityId"
CONFLICT = ("The send or update operation could not be performed because the change key passed in the request "
            "does not match the current change key for the item.")


@pytest.fixture
def emu() -> Iterator[MicrosoftEmulator]:
    with microsoft_emulator(hooks=[conforms]) as emulator:
        yield emulator


@pytest.fixture
def api(emu: MicrosoftEmulator) -> httpx.Client:
    return emu.client(A)


# OAuth -------------------------------------------------------------------------------------------
def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_url(emu: MicrosoftEmulator, challenge: str, tenant: str = "common", **extra: str) -> str:
    params = {"client_id": emu.config.client_id, "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "offline_access https://graph.microsoft.com/Calendars.ReadWrite", "state": "st-1",
              "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return str(httpx.URL(f"{emu.base}/{tenant}/oauth2/v2.0/authorize", params=params))


def exchange(emu: MicrosoftEmulator, tenant: str = "common", **form: str) -> httpx.Response:
    return httpx.post(f"{emu.base}/{tenant}/oauth2/v2.0/token",
                      data={"client_id": emu.config.client_id, "client_secret": emu.config.client_secret, **form})


def connect(emu: MicrosoftEmulator, user: str = A) -> dict[str, Any]:
    verifier, challenge = pkce()
    back = parse_qs(urlsplit(emu.consent(authorize_url(emu, challenge), user)).query)
    reply = exchange(emu, grant_type="authorization_code", code=back["code"][0], redirect_uri=REDIRECT,
                     code_verifier=verifier)
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_consent_page_is_plain_html_and_checks_client_redirect_uri_and_tenant(emu: MicrosoftEmulator) -> None:
    _, challenge = pkce()
    page = httpx.get(authorize_url(emu, challenge))
    assert page.status_code == 200 and "set-cookie" not in page.headers and "<script" not in page.text.lower()
    assert page.text.count(">Allow</button>") == len(USERS) and all(u in page.text for u in USERS)
    wrong = httpx.get(authorize_url(emu, challenge, redirect_uri="http://127.0.0.1:9999/evil"))
    assert wrong.status_code == 400 and "AADSTS50011" in wrong.text
    stranger = httpx.get(authorize_url(emu, challenge, client_id="someone-else"))
    assert stranger.status_code == 400 and "AADSTS700016" in stranger.text
    assert httpx.get(authorize_url(emu, challenge, tenant="no-such-tenant")).status_code == 400
    plain = httpx.get(authorize_url(emu, challenge, code_challenge_method="plain"))
    assert plain.status_code == 400
    denied = emu.consent(authorize_url(emu, challenge), A, decision="deny")
    assert parse_qs(urlsplit(denied).query)["error"] == ["access_denied"]


def test_authorization_code_needs_the_pkce_verifier_once_and_refresh_tokens_roll_over(emu: MicrosoftEmulator) -> None:
    verifier, challenge = pkce()
    back = parse_qs(urlsplit(emu.consent(authorize_url(emu, challenge), B)).query)
    assert back["state"] == ["st-1"]
    the_code = back["code"][0]
    wrong = exchange(emu, grant_type="authorization_code", code=the_code, redirect_uri=REDIRECT, code_verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["error_codes"] == [50148] and wrong.json()["error_description"].startswith("AADSTS50148:")
    good = exchange(emu, grant_type="authorization_code", code=the_code, redirect_uri=REDIRECT, code_verifier=verifier)
    tokens = good.json()
    assert good.status_code == 200 and tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    assert "https://graph.microsoft.com/Calendars.ReadWrite" in tokens["scope"].split()
    again = exchange(emu, grant_type="authorization_code", code=the_code, redirect_uri=REDIRECT, code_verifier=verifier)
    assert again.json()["error"] == "invalid_grant" and again.json()["error_codes"] == [54005]
    me = httpx.get(emu.base + "/v1.0/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["mail"] == B
    first = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert first["refresh_token"] != tokens["refresh_token"]          # a new one on every refresh
    second = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert second.status_code == 200                                 # and the old one still works
    bad_secret = httpx.post(f"{emu.base}/common/oauth2/v2.0/token", data={
        "client_id": emu.config.client_id, "client_secret": "nope", "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"]})
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    no_offline = exchange(emu, grant_type="authorization_code", code="nonsense", redirect_uri=REDIRECT)
    assert no_offline.json()["error"] == "invalid_grant"


def test_retiring_old_refresh_tokens_accepts_only_the_newest(emu: MicrosoftEmulator) -> None:
    emu.post("/oauth", {"retire_old_refresh_tokens": True})
    tokens = connect(emu)
    newer = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    old = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    assert exchange(emu, grant_type="refresh_token", refresh_token=newer["refresh_token"]).status_code == 200


def test_revocation_answers_invalid_grant_with_an_aadsts_code_and_ends_access(emu: MicrosoftEmulator) -> None:
    tokens = connect(emu)
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(emu.base + "/v1.0/me/events", headers=auth).status_code == 200
    assert emu.post("/revoke", {"user": A}) == {"revoked_grants": 1}
    refused = exchange(emu, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert refused["error"] == "invalid_grant" and refused["error_codes"] == [50173]
    assert refused["error_description"].startswith("AADSTS50173: The provided grant has expired due to it being revoked")
    gone = httpx.get(emu.base + "/v1.0/me/events", headers=auth)
    assert gone.status_code == 401 and code(gone) == "InvalidAuthenticationToken"
    other = connect(emu)
    emu.post("/revoke", {"user": A, "code": 700082})
    idle = exchange(emu, grant_type="refresh_token", refresh_token=other["refresh_token"]).json()
    assert idle["error_codes"] == [700082] and "inactivity" in idle["error_description"]
    assert emu.control.post("/revoke", json={"user": A, "code": 12345}).status_code == 400


def test_authlib_completes_the_flow_against_the_tenant_endpoints(emu: MicrosoftEmulator) -> None:
    """The OAuth client library the provider may use speaks to the emulator unchanged."""
    from authlib.common.security import generate_token
    from authlib.integrations.httpx_client import OAuth2Client

    client = OAuth2Client(emu.config.client_id, emu.config.client_secret, redirect_uri=REDIRECT,
                          scope="offline_access Calendars.ReadWrite", code_challenge_method="S256")
    verifier = generate_token(48)
    url, state = client.create_authorization_url(f"{emu.base}/common/oauth2/v2.0/authorize", code_verifier=verifier)
    back = parse_qs(urlsplit(emu.consent(url, A)).query)
    assert back["state"] == [state]
    token = client.fetch_token(f"{emu.base}/common/oauth2/v2.0/token", code=back["code"][0], code_verifier=verifier)
    assert token["refresh_token"] and token["expires_at"] > time.time()
    refreshed = client.refresh_token(f"{emu.base}/common/oauth2/v2.0/token", refresh_token=token["refresh_token"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    listed = httpx.get(emu.base + "/v1.0/me/calendars", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert listed.status_code == 200
    assert [g["pkce"] for g in emu.control.get("/grants").json()["grants"]] == [True]


def test_graph_needs_a_live_bearer_token_and_a_write_scope_to_write(emu: MicrosoftEmulator) -> None:
    empty = httpx.get(emu.base + "/v1.0/me/events")
    assert empty.status_code == 401 and code(empty) == "InvalidAuthenticationToken"
    assert empty.json()["error"]["innerError"]["request-id"]
    reader = emu.client(A, scopes=["https://graph.microsoft.com/Calendars.Read"])
    assert reader.get("/me/events").status_code == 200
    refused = reader.post("/me/events", json={"subject": "x", "start": when("2027-03-01T10:00:00"),
                                              "end": when("2027-03-01T11:00:00")})
    assert refused.status_code == 403 and code(refused) == "ErrorAccessDenied"
    api = emu.client(A)
    emu.post("/expire-access-tokens")
    assert api.get("/me/events").status_code == 401
    other = emu.client(A)
    assert other.get(f"/users/{B}/events").status_code == 403
    assert other.get(f"/users/{A}/events").status_code == 200


# calendars -----------------------------------------------------------------------------------------
def test_calendars_lists_the_default_calendar_first_and_added_ones(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    work = emu.add_calendar(A, "Work")
    listed = api.get("/me/calendars").json()["value"]
    assert [(c["name"], c["isDefaultCalendar"]) for c in listed] == [("Calendar", True), ("Work", False)]
    assert listed[1]["id"] == work and listed[0]["owner"]["address"] == A
    assert api.get("/me/calendar").json()["id"] == listed[0]["id"]
    assert api.get(f"/me/calendars/{work}").json()["name"] == "Work"
    assert api.get("/me/calendars/AAMkAGnope").status_code == 404
    assert [c["name"] for c in emu.client(B).get("/me/calendars").json()["value"]] == ["Calendar"]


def test_a_calendar_the_user_cannot_edit_refuses_writes(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    shared = emu.post("/calendars", {"user": A, "name": "Holidays", "can_edit": False})["id"]
    assert api.get(f"/me/calendars/{shared}").json()["canEdit"] is False
    refused = api.post(f"/me/calendars/{shared}/events", json={"subject": "x", "start": when("2027-03-01T10:00:00"),
                                                              "end": when("2027-03-01T11:00:00")})
    assert refused.status_code == 403 and code(refused) == "ErrorAccessDenied"


# events --------------------------------------------------------------------------------------------
def test_create_answers_201_and_every_change_gets_a_new_change_key_and_etag(api: httpx.Client) -> None:
    event = create(api, subject="first")
    assert event["type"] == "singleInstance" and event["seriesMasterId"] is None
    assert event["@odata.etag"] == f'W/"{event["changeKey"]}"'
    assert event["start"] == {"dateTime": "2027-03-01T10:00:00.0000000", "timeZone": "UTC"}
    assert "transactionId" not in event
    path = f"/me/events/{event['id']}"
    renamed = api.patch(path, json={"subject": "second"}).json()
    reminded = api.patch(path, json={"reminderMinutesBeforeStart": 5}).json()
    keys = {event["changeKey"], renamed["changeKey"], reminded["changeKey"]}
    assert len(keys) == 3 and renamed["lastModifiedDateTime"] > event["lastModifiedDateTime"]
    assert api.get(path).json()["changeKey"] == reminded["changeKey"]
    assert api.get(f"/me/events/{event['id'].swapcase()}").status_code == 404   # ids are case-sensitive


def test_a_retried_create_with_the_same_transaction_id_returns_the_first_event(api: httpx.Client) -> None:
    first = create(api, subject="once", transactionId="7E163156-7762-4BEB-A1C6-729EA81755A7")
    again = create(api, subject="once, retried", transactionId="7E163156-7762-4BEB-A1C6-729EA81755A7")
    assert again["id"] == first["id"] and again["subject"] == "once"
    assert first["transactionId"] == "7E163156-7762-4BEB-A1C6-729EA81755A7"
    assert len(api.get("/me/events").json()["value"]) == 1
    change = api.patch(f"/me/events/{first['id']}", json={"transactionId": "another"})
    assert change.status_code == 400
    assert api.delete(f"/me/events/{first['id']}").status_code == 204
    fresh = create(api, subject="after delete", transactionId="7E163156-7762-4BEB-A1C6-729EA81755A7")
    assert fresh["id"] != first["id"]


def test_patch_is_partial_and_replaces_collections_whole(api: httpx.Client) -> None:
    event = create(api, categories=["Red", "Blue"], location={"displayName": "Room 1"},
                   attendees=[{"emailAddress": {"address": "x@example.org", "name": "X"}, "type": "required"},
                              {"emailAddress": {"address": "y@example.org"}, "type": "optional"}])
    patched = api.patch(f"/me/events/{event['id']}", json={
        "categories": ["Green"], "attendees": [{"emailAddress": {"address": "z@example.org"}, "type": "required"}]}).json()
    assert patched["subject"] == "Call" and patched["location"]["displayName"] == "Room 1"
    assert patched["categories"] == ["Green"]
    assert [a["emailAddress"]["address"] for a in patched["attendees"]] == ["z@example.org"]


def test_if_match_with_a_stale_etag_answers_412_error_irresolvable_conflict(api: httpx.Client) -> None:
    event = create(api)
    path = f"/me/events/{event['id']}"
    newer = api.patch(path, json={"subject": "v2"}).json()
    stale = {"If-Match": event["@odata.etag"]}
    for reply in (api.patch(path, json={"subject": "x"}, headers=stale), api.delete(path, headers=stale)):
        assert reply.status_code == 412
        assert reply.json()["error"]["code"] == "ErrorIrresolvableConflict"
        assert reply.json()["error"]["message"] == CONFLICT
    ok = api.patch(path, json={"subject": "v3"}, headers={"If-Match": newer["@odata.etag"]})
    assert ok.status_code == 200
    assert api.delete(path, headers={"If-Match": ok.json()["@odata.etag"]}).status_code == 204


def test_delete_is_a_hard_delete_and_a_get_then_answers_404(api: httpx.Client) -> None:
    event = create(api)
    path = f"/me/events/{event['id']}"
    assert api.delete(path).status_code == 204
    gone = api.get(path)
    assert gone.status_code == 404 and code(gone) == "ErrorItemNotFound"
    assert api.delete(path).status_code == 404
    assert api.get("/me/events").json()["value"] == []


@pytest.mark.parametrize("body, fragment", [
    ({"subjekt": "typo"}, "does not exist on type 'microsoft.graph.event'"),
    ({"sensitivity": "secret"}, "microsoft.graph.sensitivity"),
    ({"showAs": "away"}, "freeBusyStatus"),
    ({"start": {"dateTime": "2027-03-01T10:00:00+02:00", "timeZone": "UTC"}}, "not an offset"),
    ({"start": {"dateTime": "2027-03-01T10:00:00", "timeZone": "Mars/Olympus"}}, "TimeZone value is not supported"),
    ({"end": {"dateTime": "2027-03-01T09:00:00", "timeZone": "UTC"}}, "cannot be before its start"),
    ({"attendees": [{"emailAddress": {"address": "nobody"}}]}, "not an e-mail address"),
    ({"singleValueExtendedProperties": [{"id": "crmActivityId", "value": "1"}]}, "extended property id"),
    ({"recurrence": {"pattern": {"type": "weekly", "interval": 1}, "range": {"type": "noEnd", "startDate": "2027-03-01"}}},
     "daysOfWeek is required"),
])
def test_bad_event_bodies_answer_400_with_what_to_fix(api: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    full = {"subject": "x", "start": when("2027-03-01T10:00:00"), "end": when("2027-03-01T11:00:00"), **body}
    reply = api.post("/me/events", json=full)
    assert reply.status_code == 400, reply.text
    assert fragment in reply.json()["error"]["message"]


def test_malformed_requests_answer_400_never_500(api: httpx.Client) -> None:
    assert api.post("/me/events", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert api.post("/me/events", json=[1, 2]).status_code == 400
    assert api.get("/me/events", params={"$top": "lots"}).status_code == 400
    assert api.get("/me/events", params={"$filter": "subject eq 'x'"}).status_code == 400
    assert api.get("/me/events", params={"$select": "subjekt"}).status_code == 400
    assert api.get("/me/nothing-here").status_code == 400
    assert api.get("/me/events", headers={"Prefer": 'outlook.timezone="Nowhere/Else"'}).status_code == 400


def test_all_day_events_need_midnight_and_float_in_every_reader_zone(api: httpx.Client) -> None:
    shifted = api.post("/me/events", json={"subject": "x", "isAllDay": True, "start": when("2027-03-01T10:00:00"),
                                           "end": when("2027-03-02T00:00:00")})
    assert shifted.status_code == 400 and "midnight" in shifted.json()["error"]["message"]
    day = create(api, isAllDay=True, start=when("2027-03-01T00:00:00", "Pacific Standard Time"),
                 end=when("2027-03-02T00:00:00", "Pacific Standard Time"))
    for zone in ("Tokyo Standard Time", "America/Los_Angeles", "UTC"):
        seen = api.get(f"/me/events/{day['id']}", headers={"Prefer": f'outlook.timezone="{zone}"'}).json()
        assert seen["start"] == {"dateTime": "2027-03-01T00:00:00.0000000", "timeZone": zone}
        assert seen["end"]["dateTime"] == "2027-03-02T00:00:00.0000000"
    assert day["originalStartTimeZone"] == "Pacific Standard Time"


def test_prefer_outlook_timezone_renders_times_in_that_zone_without_an_offset(api: httpx.Client) -> None:
    event = create(api, start=when("2027-07-01T09:30:00", "W. Europe Standard Time"),
                   end=when("2027-07-01T10:15:00.5", "Europe/Berlin"))
    assert event["start"] == {"dateTime": "2027-07-01T07:30:00.0000000", "timeZone": "UTC"}
    assert event["end"] == {"dateTime": "2027-07-01T08:15:00.5000000", "timeZone": "UTC"}
    pacific = api.get(f"/me/events/{event['id']}", headers={"Prefer": 'outlook.timezone="Pacific Standard Time"'})
    assert pacific.json()["start"] == {"dateTime": "2027-07-01T00:30:00.0000000", "timeZone": "Pacific Standard Time"}
    assert pacific.headers["preference-applied"] == 'outlook.timezone="Pacific Standard Time"'
    iana = api.get(f"/me/events/{event['id']}", headers={"Prefer": 'outlook.timezone="Asia/Kolkata"'}).json()
    assert iana["start"] == {"dateTime": "2027-07-01T13:00:00.0000000", "timeZone": "Asia/Kolkata"}
    assert event["originalStartTimeZone"] == "W. Europe Standard Time"


def test_bodies_come_back_as_html_with_head_and_style_unless_text_is_preferred(api: httpx.Client) -> None:
    event = create(api, body={"contentType": "text", "content": "Agenda:\nprices & terms"})
    assert event["body"]["contentType"] == "html"
    assert "<style" in event["body"]["content"] and "prices &amp; terms" in event["body"]["content"]
    assert event["bodyPreview"] == "Agenda: prices & terms"
    text = api.get(f"/me/events/{event['id']}", headers={"Prefer": 'outlook.body-content-type="text"'}).json()
    assert text["body"] == {"contentType": "text", "content": "Agenda:\nprices & terms"}
    html_event = create(api, body={"contentType": "html", "content": "<html><head><style>p{x:y}</style></head>"
                                                                     "<body><p>Hello <b>there</b></p></body></html>"})
    plain = api.get(f"/me/events/{html_event['id']}", headers={"Prefer": 'outlook.body-content-type="text"'}).json()
    assert plain["body"]["content"] == "Hello there"


def test_extended_properties_are_returned_only_when_expanded_and_found_by_filter(api: httpx.Client) -> None:
    mine = create(api, singleValueExtendedProperties=[{"id": EXT, "value": "act-42"}])
    create(api, singleValueExtendedProperties=[{"id": EXT, "value": "act-7"}])
    create(api)
    assert "singleValueExtendedProperties" not in mine
    expand = f"singleValueExtendedProperties($filter=id eq '{EXT}')"
    got = api.get(f"/me/events/{mine['id']}", params={"$expand": expand}).json()
    assert got["singleValueExtendedProperties"] == [{"id": EXT, "value": "act-42"}]

    def find(prop_id: str, value: str) -> list[str]:
        flt = f"singleValueExtendedProperties/Any(ep: ep/id eq '{prop_id}' and ep/value eq '{value}')"
        reply = api.get("/me/events", params={"$filter": flt})
        assert reply.status_code == 200, reply.text
        return [e["id"] for e in reply.json()["value"]]

    assert find(EXT, "act-42") == [mine["id"]]
    assert find(EXT, "ACT-42") == [mine["id"]]                                  # values: case-insensitive
    assert find(EXT.replace("crmActivityId", "CRMACTIVITYID"), "act-42") == []  # names: case-sensitive
    assert find(EXT.replace("66f5a359", "66F5A359"), "act-42") == [mine["id"]]  # GUIDs: either case
    api.patch(f"/me/events/{mine['id']}", json={"singleValueExtendedProperties": [{"id": EXT, "value": "act-43"}]})
    assert find(EXT, "act-42") == [] and find(EXT, "act-43") == [mine["id"]]


def test_immutable_ids_survive_a_move_between_calendars_and_default_ids_do_not(
        emu: MicrosoftEmulator, api: httpx.Client) -> None:
    immutable = emu.client(A, headers={"Prefer": 'IdType="ImmutableId"'})
    event = create(api)
    stable = immutable.get(f"/me/events/{event['id']}").json()["id"]
    assert stable != event["id"]
    work = emu.add_calendar(A, "Work")
    moved = emu.post("/move-event", {"user": A, "event_id": event["id"], "calendar_id": work})
    assert moved["immutable_id"] == stable and moved["id"] != event["id"]
    assert api.get(f"/me/events/{event['id']}").status_code == 404
    assert immutable.get(f"/me/events/{stable}").json()["id"] == stable
    assert api.get(f"/me/calendars/{work}/events/{moved['id']}").status_code == 200


# recurrence ----------------------------------------------------------------------------------------
def test_a_series_expands_into_occurrences_in_calendar_view_but_not_in_events(api: httpx.Client) -> None:
    master = create(api, subject="Weekly", start=when("2027-03-01T09:00:00", "W. Europe Standard Time"),
                    end=when("2027-03-01T09:30:00", "W. Europe Standard Time"), recurrence=WEEKLY)
    single = create(api, subject="Once", start=when("2027-03-03T12:00:00"), end=when("2027-03-03T13:00:00"))
    assert master["type"] == "seriesMaster" and master["recurrence"]["pattern"]["daysOfWeek"] == ["monday"]
    assert master["recurrence"]["range"]["recurrenceTimeZone"] == "W. Europe Standard Time"
    listed = api.get("/me/events").json()["value"]
    assert sorted(e["type"] for e in listed) == ["seriesMaster", "singleInstance"]
    view = api.get("/me/calendarView", params={**MARCH, "$top": "50"}).json()["value"]
    occurrences = [e for e in view if e["type"] == "occurrence"]
    assert len(occurrences) == 4 and single["id"] in [e["id"] for e in view]
    assert {e["seriesMasterId"] for e in occurrences} == {master["id"]}
    assert [e["originalStart"] for e in occurrences] == ["2027-03-01T08:00:00Z", "2027-03-08T08:00:00Z",
                                                         "2027-03-15T08:00:00Z", "2027-03-22T08:00:00Z"]
    assert len({e["iCalUId"] for e in occurrences}) == 4 and len({e["id"] for e in occurrences}) == 4
    assert occurrences[0]["recurrence"] is None
    after_dst = api.get("/me/calendarView", params={"startDateTime": "2027-03-29T00:00:00Z",
                                                    "endDateTime": "2027-03-30T00:00:00Z"}).json()["value"]
    assert after_dst == []   # numbered: 4 occurrences only
    instances = api.get(f"/me/events/{master['id']}/instances", params=MARCH).json()["value"]
    assert [i["id"] for i in instances] == [e["id"] for e in occurrences]


def test_editing_an_occurrence_makes_an_exception_and_deleting_one_cancels_it(api: httpx.Client) -> None:
    master = create(api, subject="Weekly", start=when("2027-03-01T09:00:00"), end=when("2027-03-01T09:30:00"),
                    recurrence=WEEKLY)
    first, second, third, _ = api.get("/me/calendarView", params=MARCH).json()["value"]
    moved = api.patch(f"/me/events/{second['id']}", json={"subject": "Moved", "start": when("2027-03-09T15:00:00"),
                                                          "end": when("2027-03-09T16:00:00")}).json()
    assert moved["type"] == "exception" and moved["id"] == second["id"] and moved["seriesMasterId"] == master["id"]
    assert moved["originalStart"] == "2027-03-08T09:00:00Z"
    assert api.delete(f"/me/events/{third['id']}").status_code == 204
    view = api.get("/me/calendarView", params=MARCH).json()["value"]
    assert [(e["type"], e["subject"]) for e in view] == [("occurrence", "Weekly"), ("exception", "Moved"),
                                                         ("occurrence", "Weekly")]
    assert view[0]["changeKey"] == first["changeKey"]   # untouched occurrences keep their etag
    series = api.get(f"/me/events/{master['id']}",
                     params={"$select": "subject,cancelledOccurrences,exceptionOccurrences"}).json()
    assert series["cancelledOccurrences"] == [f"OID.{master['id']}.2027-03-15"]
    assert series["exceptionOccurrences"] == [f"OID.{master['id']}.2027-03-08"]
    assert set(series) == {"@odata.context", "@odata.etag", "id", "subject", "cancelledOccurrences",
                           "exceptionOccurrences"}
    assert api.get(f"/me/events/{third['id']}").status_code == 404
    assert api.delete(f"/me/events/{master['id']}").status_code == 204
    assert api.get("/me/calendarView", params=MARCH).json()["value"] == []
    assert api.get(f"/me/events/{second['id']}").status_code == 404


def test_calendar_view_needs_both_ends_and_pages_with_next_links(api: httpx.Client) -> None:
    for params in ({}, {"startDateTime": "2027-03-01T00:00:00Z"}, {"endDateTime": "2027-03-01T00:00:00Z"}):
        reply = api.get("/me/calendarView", params=params)
        assert reply.status_code == 400 and code(reply) == "ErrorInvalidParameter"
    for day in range(1, 13):
        create(api, start=when(f"2027-03-{day:02d}T10:00:00"), end=when(f"2027-03-{day:02d}T11:00:00"))
    seen: list[str] = []
    url: str | None = "/me/calendarView?" + "&".join(f"{k}={v}" for k, v in MARCH.items())
    pages = 0
    while url:
        body = api.get(url).json()
        seen += [e["start"]["dateTime"][:10] for e in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 2 and seen == [f"2027-03-{d:02d}" for d in range(1, 13)]
    window = api.get("/me/calendarView", params={"startDateTime": "2027-03-02T11:00:00",
                                                 "endDateTime": "2027-03-03T10:00:00"}).json()["value"]
    assert window == []   # the end is exclusive on both sides
    small = api.get("/me/calendarView", params=MARCH, headers={"Prefer": "odata.maxpagesize=5"}).json()
    assert len(small["value"]) == 5 and "@odata.nextLink" in small


# the mail Graph would send -------------------------------------------------------------------------
def test_the_mail_log_shows_what_graph_would_send_to_attendees(emu: MicrosoftEmulator, api: httpx.Client) -> None:
    quiet = create(api, subject="no attendees")
    api.patch(f"/me/events/{quiet['id']}", json={"subject": "still none"})
    invited = create(api, subject="with guests", attendees=[{"emailAddress": {"address": "x@example.org"}}])
    api.patch(f"/me/events/{invited['id']}", json={"subject": "moved"})
    api.delete(f"/me/events/{invited['id']}")
    mail = emu.control.get("/mail").json()["mail"]
    assert [(m["kind"], m["to"]) for m in mail] == [("invitation", ["x@example.org"]), ("update", ["x@example.org"]),
                                                    ("cancellation", ["x@example.org"])]


# the request log and the model check ---------------------------------------------------------------
def test_the_request_log_records_graph_calls_only_in_the_google_emulators_shape(
        emu: MicrosoftEmulator, api: httpx.Client) -> None:
    create(api, subject="logged")
    api.get("/me/events", params={"$top": "5"})
    log = emu.requests()
    assert [(e["method"], e["path"], e["status"]) for e in log] == [("POST", "/v1.0/me/events", 201),
                                                                    ("GET", "/v1.0/me/events", 200)]
    assert log[0]["body"]["subject"] == "logged" and log[1]["query"] == {"$top": ["5"]}
    assert set(log[0]) == {"seq", "method", "path", "query", "status", "headers", "body", "parts"}
    assert [e["seq"] for e in emu.requests(since=1)] == [2]


def test_the_model_check_catches_unknown_fields() -> None:
    assert graph_models.check({"@odata.context": "x/events", "id": "1", "iCalUId": "u", "subjekt": "x"}) == ["[0].subjekt"]
    assert graph_models.check({"@odata.context": "x/events", "id": "1", "iCalUId": "u", "@odata.etag": "W/\"x\""}) == []


# the command ---------------------------------------------------------------------------------------
def test_emulate_microsoft_prints_flushed_exports_before_serving(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", "from calsync.cli import app; app()", "emulate", "microsoft",
                             "--port", str(port), "--users", f"{A},{B}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(5)]
        values = dict(line.removeprefix("export ").split("=", 1) for line in lines)
        base = f"http://127.0.0.1:{port}"
        assert values == {"CALSYNC_MICROSOFT_CLIENT_ID": "00000000-0000-4000-8000-00000000ca15",
                          "CALSYNC_MICROSOFT_CLIENT_SECRET": "calsync-emulator-secret",
                          "CALSYNC_MICROSOFT_TENANT": "common",
                          "CALSYNC_MICROSOFT_GRAPH_URL": base, "CALSYNC_MICROSOFT_LOGIN_URL": base}
        wait_for_port(port)
        token = httpx.post(base + "/_emulator/token", json={"user": B}).json()["access_token"]
        me = httpx.get(values["CALSYNC_MICROSOFT_GRAPH_URL"] + "/v1.0/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["mail"] == B
        page = httpx.get(values["CALSYNC_MICROSOFT_LOGIN_URL"] + "/common/oauth2/v2.0/authorize", params={
            "client_id": values["CALSYNC_MICROSOFT_CLIENT_ID"], "redirect_uri": REDIRECT, "response_type": "code",
            "scope": "offline_access Calendars.ReadWrite"})
        assert page.status_code == 200 and A in page.text and B in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    bad = subprocess.run([sys.executable, "-c", "from calsync.cli import app; app()", "emulate", "microsoft",
                          "--users", "not-an-address"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == 1 and "--users takes comma-separated e-mail addresses" in bad.stdout
