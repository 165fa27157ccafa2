"""Clickjacking, injected script and offline docs (issue points 7 and 13): every answer carries a
strict Content-Security-Policy (our own script files only), X-Frame-Options / frame-ancestors,
nosniff and a Referrer-Policy; no page holds inline script or handler attributes; Chromium refuses
to show a page inside another site's frame; /docs renders with every other host unreachable."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from tests.conftest import People
from tests.security.conftest import Served, sign_in_http
from tests.security.test_csrf import other_site  # noqa: F401  (fixture)
from tests.web.conftest import CHROMIUM_ARGS, sign_in
from tests.web.helpers import add_activity

PAGES = ["/login", "/calendar", "/activities", "/activities/new", "/settings/calendar-sync",
         "/admin/activity-types", "/deals", "/deals/new", "/persons", "/persons/new", "/organizations",
         "/organizations/new", "/logout", "/docs"]


@pytest.fixture
def ann(people: People, served: Served) -> int:
    ann_id = people.add("ann@example.com", admin=True)
    add_activity(served.context, ann_id, subject="Call", start="2030-01-07T10:00:00+00:00", end="2030-01-07T11:00:00+00:00")
    return ann_id


def _check_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = {part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";") if part.strip()}
    assert directives.get("script-src") == "script-src 'self'", (response.url, csp)
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (response.url, csp)
    assert directives.get("object-src") == "object-src 'none'", (response.url, csp)
    assert response.headers.get("x-frame-options") == "DENY", response.url
    assert response.headers.get("x-content-type-options") == "nosniff", response.url
    assert response.headers.get("referrer-policy") in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")


def test_every_answer_carries_the_security_headers(served: Served, ann: int, people: People) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        _check_headers(client.get("/login"))
        assert sign_in_http(client, "ann@example.com").status_code == 303
        for path in PAGES[1:] + ["/activities/1", "/api/v1/users/me", "/openapi.json", "/static/app.css"]:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            _check_headers(response)
        _check_headers(client.get("/no-such-page"))
        _check_headers(client.get("/api/v1/activities", params={"limit": "x"}))


def test_no_page_holds_inline_script_or_handlers(served: Served, ann: int) -> None:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        assert sign_in_http(client, "ann@example.com").status_code == 303
        for path in PAGES + ["/activities/1"]:
            html = client.get(path).text
            for tag in re.findall(r"<script\b[^>]*>", html, re.I):
                assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
            handlers = re.findall(r"<[^>]*\son[a-z]+\s*=", html, re.I)
            assert not handlers, (path, handlers)
            assert "javascript:" not in html.lower(), path


def test_chromium_runs_the_pages_under_the_policy_and_refuses_framing(
        page: Page, served: Served, ann: int, other_site: tuple[str, dict[str, str]]) -> None:  # noqa: F811
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, served.url, "ann@example.com")
    page.goto(served.url + "/activities")
    # The "select all" box and the delete confirmation work without inline handlers.
    page.get_by_label("Select all").check()
    assert page.locator("input[name=selected]").first.is_checked()
    page.goto(served.url + "/activities/1")
    dismissed: list[str] = []
    page.once("dialog", lambda dialog: (dismissed.append(dialog.message), dialog.dismiss()))
    page.locator("#delete").click()
    assert dismissed and "trash" in dismissed[0]
    assert page.url.endswith("/activities/1")
    page.goto(served.url + "/calendar")
    page.locator(".fc-view-harness").first.wait_for()  # FullCalendar ran
    assert not violations, violations
    # Another site (another port of this host) frames the calendar: Chromium shows nothing of it.
    evil, pages = other_site
    pages["/frame"] = f'<!doctype html><title>game</title><iframe id="x" src="{served.url}/calendar"></iframe>'
    page.goto(evil + "/frame")
    page.wait_for_load_state("load")
    framed = [f for f in page.frames if f != page.main_frame]
    assert framed
    for frame in framed:
        assert not frame.url.startswith(served.url) or "Times in" not in frame.content()


def test_docs_render_with_no_other_host_reachable(browser: Browser, served: Served) -> None:
    html = httpx.get(served.url + "/docs").text
    assert not re.search(r"(src|href)=\"(https?:)?//", html), html
    ctx = browser.new_context()
    try:
        outside: list[str] = []

        def only_this_host(route: Route) -> None:
            if route.request.url.startswith(served.url):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        ctx.route("**/*", only_this_host)
        page = ctx.new_page()
        page.goto(served.url + "/docs")
        page.get_by_text("/api/v1/activities", exact=True).first.wait_for(timeout=15_000)
        assert not outside, outside
    finally:
        ctx.close()
