"""Users over HTTP: your own name, time zone and password (which ends your other sessions but keeps
this one), and an admin's users API (add with a password or an invite link, deactivate, admin
rights, password resets) with its 4xx messages and the company boundary. On SQLite and PostgreSQL,
against the app served by Uvicorn; time moves through the app's clock."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from calsync.config import Settings
from calsync.store.db import session_scope
from calsync.store.tables import Activity
from calsync.web.context import AppContext
from tests.api.conftest import Client, ok, refused
from tests.conftest import People

PASSWORD = "password-123"
USERS = "/api/v1/users"


@dataclass
class Served:
    url: str
    app: FastAPI

    @property
    def context(self) -> AppContext:
        return self.app.state.context


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    """The app under Uvicorn with the app object at hand (to move its clock)."""
    from calsync.web.app import create_app
    from tests.support.live import serve

    app = create_app(settings)
    with serve(app) as url:
        yield Served(url, app)


@pytest.fixture
def live_url(served: Served) -> str:
    return served.url


@pytest.fixture
def acme(people: People) -> People:
    """ann (admin) and bob of Acme; gus (admin) of Globex."""
    people.add("ann@acme.test", admin=True)
    people.add("bob@acme.test")
    people.add("gus@globex.test", company="Globex", admin=True)
    return people


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


class Browser:
    """A browser-like client: signs in through the sign-in form and sends the CSRF header."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=30)
        self.csrf = ""

    def sign_in(self, email: str, password: str = PASSWORD) -> int:
        token = _csrf(self.http.get("/login").text)
        answer = self.http.post("/login", data={"email": email, "password": password, "csrf_token": token,
                                                "next": "/calendar"}, follow_redirects=False)
        if answer.status_code == 303:
            self.csrf = _csrf(self.http.get("/calendar").text)
        return answer.status_code

    def signed_in(self) -> bool:
        return self.http.get(f"{USERS}/me").status_code == 200

    def post(self, path: str, json: object) -> httpx.Response:
        return self.http.post(path, json=json, headers={"X-CSRF-Token": self.csrf})

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def browsers(live_url: str) -> Iterator[list[Browser]]:
    made: list[Browser] = []
    yield made
    for b in made:
        b.close()


def _browser(browsers: list[Browser], url: str) -> Browser:
    b = Browser(url)
    browsers.append(b)
    return b


# ---- your own settings --------------------------------------------------------------------------

def test_you_change_your_name_and_time_zone(acme: People, as_user) -> None:  # type: ignore[no-untyped-def]
    bob: Client = as_user("bob@acme.test")
    data = ok(bob.patch(f"{USERS}/me", {"name": "Bob Builder", "timezone": "Asia/Tokyo"}))
    assert (data["name"], data["timezone"]) == ("Bob Builder", "Asia/Tokyo")
    assert ok(bob.get(f"{USERS}/me"))["timezone"] == "Asia/Tokyo"
    # Lists and days now follow the new zone: 23:30 UTC on 1 Dec is 2 Dec in Tokyo.
    bob.activity(subject="Late call", start="2026-12-01T23:30:00+00:00", end="2026-12-01T23:45:00+00:00")
    assert [a["subject"] for a in ok(bob.get("/api/v1/activities", start_date="2026-12-02", end_date="2026-12-03"))] \
        == ["Late call"]


@pytest.mark.parametrize("body, field, words", [
    ({"timezone": "Moon/Base"}, "timezone", ("'Moon/Base'", "IANA", "Europe/Berlin")),
    ({"timezone": "localtime"}, "timezone", ("IANA",)),
    ({"timezone": "posix/Europe/Berlin"}, "timezone", ("IANA",)),
    ({"timezone": ""}, "timezone", ()),
    ({"name": ""}, "name", ()),
    ({"name": "x" * 201}, "name", ()),
    ({"email": "b@x.test"}, "email", ()),
    ({"is_admin": True}, "is_admin", ()),
])
def test_bad_profile_input_is_a_422_naming_the_field(acme: People, as_user, body, field, words) -> None:  # type: ignore[no-untyped-def]
    bob: Client = as_user("bob@acme.test")
    answer = refused(bob.patch(f"{USERS}/me", body), 422, *words)
    assert answer["field"] == field
    assert ok(bob.get(f"{USERS}/me"))["timezone"] == "UTC" and not ok(bob.get(f"{USERS}/me"))["is_admin"]


def test_password_change_needs_the_current_one_and_ends_only_the_other_sessions(
        acme: People, served: Served, browsers: list[Browser]) -> None:
    here, phone = _browser(browsers, served.url), _browser(browsers, served.url)
    assert here.sign_in("bob@acme.test") == 303 and phone.sign_in("bob@acme.test") == 303
    wrong = refused(here.post(f"{USERS}/me/password", {"current_password": "not-it-999", "new_password": "new-pass-456"}),
                    422, "not your current password")
    assert wrong["field"] == "current_password" and phone.signed_in()
    assert refused(here.post(f"{USERS}/me/password", {"current_password": PASSWORD, "new_password": "short"}),
                   422, "8 characters")["field"] == "new_password"
    refused(here.post(f"{USERS}/me/password", {"current_password": PASSWORD, "new_password": PASSWORD}), 422, "other than")
    ok(here.post(f"{USERS}/me/password", {"current_password": PASSWORD, "new_password": "new-pass-456"}))
    assert here.signed_in(), "the session that changed the password stays signed in"
    assert not phone.signed_in(), "every other session of the user ends"
    # ... and this one goes on working for changes (same cookie, same CSRF token)
    ok(here.http.patch(f"{USERS}/me", json={"name": "Bob B"}, headers={"X-CSRF-Token": here.csrf}))
    again = _browser(browsers, served.url)
    assert again.sign_in("bob@acme.test") == 401
    assert again.sign_in("bob@acme.test", "new-pass-456") == 303


def test_password_change_with_an_api_token_ends_every_web_session(acme: People, served: Served, as_user,  # type: ignore[no-untyped-def]
                                                                   browsers: list[Browser]) -> None:
    web = _browser(browsers, served.url)
    assert web.sign_in("bob@acme.test") == 303
    ok(as_user("bob@acme.test").post(f"{USERS}/me/password", {"current_password": PASSWORD, "new_password": "new-pass-456"}))
    assert not web.signed_in()


# ---- admins -------------------------------------------------------------------------------------

def test_admin_adds_a_user_with_an_initial_password(acme: People, served: Served, as_user, browsers) -> None:  # type: ignore[no-untyped-def]
    ann: Client = as_user("ann@acme.test")
    made = ok(ann.post(USERS, {"email": "Cy@Acme.test", "name": "Cy", "password": "cy-pass-123",
                               "timezone": "Europe/Berlin"}), 201)
    assert made["email"] == "cy@acme.test" and made["status"] == "active" and not made["is_admin"]
    assert "invite_url" not in made
    assert "cy@acme.test" in [u["email"] for u in ok(ann.get(USERS))]
    assert _browser(browsers, served.url).sign_in("cy@acme.test", "cy-pass-123") == 303


def test_admin_invites_a_user_who_sets_a_password_through_the_link_once(acme: People, served: Served, as_user,  # type: ignore[no-untyped-def]
                                                                       browsers: list[Browser]) -> None:
    ann: Client = as_user("ann@acme.test")
    made = ok(ann.post(USERS, {"email": "dee@acme.test", "invite": True, "is_admin": True}), 201)
    assert made["status"] == "invited" and made["is_admin"] and made["name"] == "Dee"
    link = made["invite_url"]
    assert link.startswith(served.url + "/set-password/")
    dee = _browser(browsers, served.url)
    assert dee.sign_in("dee@acme.test", "") == 401  # no password works before the link is used
    path = link[len(served.url):]
    form = dee.http.get(path)
    assert form.status_code == 200 and "dee@acme.test" in form.text
    token = _csrf(form.text)
    differ = dee.http.post(path, data={"password": "dee-pass-123", "password_again": "dee-pass-124", "csrf_token": token})
    assert differ.status_code == 422 and "differ" in differ.text
    done = dee.http.post(path, data={"password": "dee-pass-123", "password_again": "dee-pass-123", "csrf_token": token},
                         follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/calendar"
    assert dee.signed_in()
    assert ok(ann.get(f"{USERS}/{made['id']}"))["status"] == "active"
    used = _browser(browsers, served.url).http.get(path)
    assert used.status_code == 404 and "no longer valid" in used.text
    assert _browser(browsers, served.url).sign_in("dee@acme.test", "dee-pass-123") == 303


def test_an_invite_link_expires_after_seven_days(acme: People, served: Served, as_user, browsers) -> None:  # type: ignore[no-untyped-def]
    now = [dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.timezone.utc)]
    served.context.clock = lambda: now[0]
    made = ok(as_user("ann@acme.test").post(USERS, {"email": "eve@acme.test", "invite": True}), 201)
    path = made["invite_url"][len(served.url):]
    web = _browser(browsers, served.url).http
    now[0] += dt.timedelta(days=6, hours=23)
    assert web.get(path).status_code == 200
    now[0] += dt.timedelta(hours=1)
    late = web.get(path)
    assert late.status_code == 404 and "ask your admin for a new one" in late.text
    forged = path[:-1] + ("0" if path[-1] != "0" else "1")
    now[0] -= dt.timedelta(days=1)
    assert web.get(forged).status_code == 404
    assert web.get("/set-password/garbage").status_code == 404


def test_deactivating_ends_sessions_and_sign_in_but_keeps_the_data(acme: People, served: Served, as_user,  # type: ignore[no-untyped-def]
                                                                   browsers: list[Browser]) -> None:
    ann: Client = as_user("ann@acme.test")
    bob: Client = as_user("bob@acme.test")
    bob.activity(subject="Bob's call")
    web = _browser(browsers, served.url)
    assert web.sign_in("bob@acme.test") == 303
    data = ok(ann.patch(f"{USERS}/{bob.id}", {"active": False}))
    assert data["status"] == "deactivated" and data["active"] is False
    assert not web.signed_in()
    refused(bob.get(f"{USERS}/me"), 401)
    assert _browser(browsers, served.url).sign_in("bob@acme.test") == 401
    with session_scope(served.context.sessions) as s:
        assert s.scalar(select(func.count(Activity.id)).where(Activity.owner_id == bob.id)) == 1
    assert [a["subject"] for a in ok(ann.get("/api/v1/activities", owner_id=bob.id))] == ["Bob's call"]
    ok(ann.patch(f"{USERS}/{bob.id}", {"active": True}))
    assert ok(bob.get(f"{USERS}/me"))["status"] == "active"


def test_admin_rights_given_and_taken_but_never_from_the_last_admin(acme: People, as_user) -> None:  # type: ignore[no-untyped-def]
    ann: Client = as_user("ann@acme.test")
    bob: Client = as_user("bob@acme.test")
    last = refused(ann.patch(f"{USERS}/{ann.id}", {"is_admin": False}), 409, "last admin", "make another user admin")
    assert last["error_info"] == "conflict"
    refused(ann.patch(f"{USERS}/{ann.id}", {"active": False}), 409, "yourself")
    assert ok(ann.patch(f"{USERS}/{bob.id}", {"is_admin": True}))["is_admin"] is True
    assert ok(bob.post(USERS, {"email": "fay@acme.test", "invite": True}), 201)  # bob may manage users now
    assert ok(bob.patch(f"{USERS}/{ann.id}", {"is_admin": False}))["is_admin"] is False
    refused(bob.patch(f"{USERS}/{bob.id}", {"is_admin": False}), 409, "last admin")
    # A deactivated admin does not count: ann (admin again) deactivated leaves bob the last one.
    ok(bob.patch(f"{USERS}/{ann.id}", {"is_admin": True}))
    ok(bob.patch(f"{USERS}/{ann.id}", {"active": False}))
    refused(bob.patch(f"{USERS}/{bob.id}", {"is_admin": False}), 409, "last admin")
    assert ok(bob.get(f"{USERS}/me"))["is_admin"] is True


def test_admin_resets_a_password_with_a_new_one_or_a_link(acme: People, served: Served, as_user,  # type: ignore[no-untyped-def]
                                                          browsers: list[Browser]) -> None:
    ann: Client = as_user("ann@acme.test")
    bob_id = acme.ids["bob@acme.test"]
    web = _browser(browsers, served.url)
    assert web.sign_in("bob@acme.test") == 303
    data = ok(ann.post(f"{USERS}/{bob_id}/reset-password", {"password": "reset-pass-123"}))
    assert "reset_url" not in data and not web.signed_in()
    assert _browser(browsers, served.url).sign_in("bob@acme.test", "reset-pass-123") == 303
    refused(ann.post(f"{USERS}/{bob_id}/reset-password", {"password": "short"}), 422, "8 characters")
    data = ok(ann.post(f"{USERS}/{bob_id}/reset-password", {}))
    assert data["status"] == "reset" and data["reset_url"].startswith(served.url + "/set-password/")
    assert _browser(browsers, served.url).sign_in("bob@acme.test", "reset-pass-123") == 401  # the old one is void
    link = _browser(browsers, served.url)
    path = data["reset_url"][len(served.url):]
    token = _csrf(link.http.get(path).text)
    assert link.http.post(path, data={"password": "linked-pass-123", "password_again": "linked-pass-123",
                                      "csrf_token": token}, follow_redirects=False).status_code == 303
    assert _browser(browsers, served.url).sign_in("bob@acme.test", "linked-pass-123") == 303


@pytest.mark.parametrize("call", ["add", "update", "reset"])
def test_non_admins_get_403_with_a_message(acme: People, as_user, call: str) -> None:  # type: ignore[no-untyped-def]
    bob: Client = as_user("bob@acme.test")
    ann_id = acme.ids["ann@acme.test"]
    answer = {
        "add": lambda: bob.post(USERS, {"email": "x@acme.test", "invite": True}),
        "update": lambda: bob.patch(f"{USERS}/{ann_id}", {"active": False}),
        "reset": lambda: bob.post(f"{USERS}/{ann_id}/reset-password", {}),
    }[call]()
    assert refused(answer, 403, "only an admin can manage users")["error_info"] == "forbidden"
    assert ok(bob.get(f"{USERS}/{ann_id}"))["active"] is True
    assert "x@acme.test" not in [u["email"] for u in ok(bob.get(USERS))]


def test_users_of_one_company_never_see_or_touch_another_companys(acme: People, as_user) -> None:  # type: ignore[no-untyped-def]
    ann: Client = as_user("ann@acme.test")
    gus: Client = as_user("gus@globex.test")
    gus_id, bob_id = acme.ids["gus@globex.test"], acme.ids["bob@acme.test"]
    assert {u["email"] for u in ok(ann.get(USERS))} == {"ann@acme.test", "bob@acme.test"}
    assert {u["email"] for u in ok(gus.get(USERS))} == {"gus@globex.test"}
    for answer in (ann.get(f"{USERS}/{gus_id}"), ann.patch(f"{USERS}/{gus_id}", {"active": False}),
                   ann.patch(f"{USERS}/{gus_id}", {"is_admin": False}),
                   ann.post(f"{USERS}/{gus_id}/reset-password", {"password": "taken-over-1"}),
                   gus.patch(f"{USERS}/{bob_id}", {"is_admin": True})):
        refused(answer, 404, "no user", "in your company")
    assert ok(gus.get(f"{USERS}/me"))["active"] is True
    # A user added by an admin lands in the admin's company, whatever its e-mail says.
    ok(gus.post(USERS, {"email": "newbie@acme.test", "invite": True}), 201)
    assert "newbie@acme.test" not in {u["email"] for u in ok(ann.get(USERS))}


@pytest.mark.parametrize("body, status, words", [
    ({"email": "g@acme.test"}, 422, ("password", "invite")),
    ({"email": "g@acme.test", "password": "pass-word-1", "invite": True}, 422, ("not both",)),
    ({"email": "not-an-address", "invite": True}, 422, ("email",)),
    ({"email": "g@acme.test", "password": "short"}, 422, ("8 characters",)),
    ({"email": "g@acme.test", "invite": True, "timezone": "Mars/Olympus"}, 422, ("IANA",)),
    ({"email": "g@acme.test", "invite": True, "is_admin": "yes"}, 422, ("is_admin",)),
    ({"email": "g@acme.test", "invite": True, "company": "Globex"}, 422, ("company",)),
    ({"email": "BOB@acme.test", "invite": True}, 409, ("exists already",)),
    ({"email": "gus@globex.test", "invite": True}, 409, ("exists already",)),
])
def test_bad_new_users_are_refused_with_a_message(acme: People, as_user, body, status, words) -> None:  # type: ignore[no-untyped-def]
    ann: Client = as_user("ann@acme.test")
    refused(ann.post(USERS, body), status, *words)
    assert len(ok(ann.get(USERS))) == 2


def test_two_admins_removing_each_other_at_once_leave_one_admin(context: AppContext, people: People) -> None:
    """The last-admin rule holds under concurrency: the second change waits for the first (company
    row lock on PostgreSQL, the write lock on SQLite) and then sees it, so one admin always remains."""
    import threading

    from calsync.crm.errors import Conflict
    from calsync.crm.services import users
    from calsync.store.tables import User

    ann, bob = people.add("ann@acme.test", admin=True), people.add("bob@acme.test", admin=True)
    first = context.sessions()
    users.set_admin(first, first.get(User, ann), False)  # not committed yet: bob is still the other admin
    outcome: dict[str, str] = {}

    def second() -> None:
        with context.sessions() as s:
            try:
                users.set_admin(s, s.get(User, bob), False)
                s.commit()
                outcome["bob"] = "removed"
            except Conflict as exc:
                s.rollback()
                outcome["bob"] = exc.message

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=2)  # a bounded look: without the lock the second change would be done by now
    assert thread.is_alive(), f"the second change did not wait for the first: {outcome}"
    first.commit()
    first.close()
    thread.join(timeout=30)
    assert "last admin" in outcome["bob"]
    with session_scope(context.sessions) as s:
        assert [u.email for u in s.scalars(select(User).where(User.is_admin.is_(True)))] == ["bob@acme.test"]


def test_set_password_links_never_reach_the_logs(settings: Settings, acme: People,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A link signs its holder in as the user until it is used: the access log shows it redacted."""
    import logging

    from calsync.web.app import create_app
    from tests.support.live import serve

    caplog.set_level(logging.INFO)
    with serve(create_app(settings), access_log=True) as url, httpx.Client(base_url=url, timeout=30) as client:
        made = ok(client.post(USERS, json={"email": "hal@acme.test", "invite": True},
                              headers=acme.headers("ann@acme.test")), 201)
        secret = made["invite_url"].rsplit("/", 1)[1]
        assert client.get(made["invite_url"][len(url):]).status_code == 200
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any("/set-password/[redacted]" in line for line in access), access
    assert secret not in "\n".join(r.getMessage() for r in caplog.records) + caplog.text
