"""Settings › Calendar sync. The page lists the providers one can connect (each entry is either a
form, as CalDAV's, or an OAuth button, as Google's and Microsoft's: adding one is a new
`ProviderEntry`, or for OAuth a registered factory with `oauth()`, not a new page), and its script drives the calendar-sync REST API
(/api/v1/calendar-sync: state, settings saved on change, start/stop/sync/disconnect, log,
deletion confirmation). The trash (activities deleted by sync or by hand) is rendered here and
restored through `crm.services.activities.restore_activity`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from calsync.crm.errors import CrmError
from calsync.crm.services import activities as activity_service
from calsync.crm.services.accounts import company_users
from calsync.crm.services.activity_queries import present, trash
from calsync.store.tables import User
from calsync.sync import accounts
from calsync.sync import repository as repo
from calsync.web.api.calendar_sync import builtin_available
from calsync.web.api.params import ItemId
from calsync.web.context import AppContext
from calsync.web.deps import get_context, get_session
from calsync.web.i18n import N_, _l, _ln
from calsync.web.pages.rendering import page_user, render
from calsync.web.pages.run_chart import Chart, last_day_chart
from calsync.web.pages.views import lookups

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ProviderEntry:
    """One way to connect a calendar. `kind` "form" renders templates/connect/<key>.html;
    "oauth" renders a button that sends the browser to `start_url`."""

    key: str
    name: str
    blurb: str
    kind: str = "form"
    start_url: str = ""
    presets: list[tuple[str, str]] = field(default_factory=list)
    blurb_args: dict[str, str] = field(default_factory=dict)  # %(name)s values of the translated blurb
    notes: list[str] = field(default_factory=list)  # further translated remarks, with the same values


BUILTIN = ProviderEntry(
    key="builtin",
    name=N_("Built-in calendar"),
    blurb=N_("Your own calendar on this calsync server: nothing to type, one click. Calendar apps (Thunderbird, "
             "Apple Calendar, DAVx5) can show it too at %(dav_url)s with your calsync e-mail and password."),
    kind="builtin",
)

PROVIDERS: list[ProviderEntry] = [
    ProviderEntry(
        key="caldav",
        name="CalDAV",
        blurb=N_("iCloud, Fastmail, Nextcloud, Radicale and any other CalDAV calendar server."),
        presets=[
            ("iCloud", "https://caldav.icloud.com/"),
            ("Fastmail", "https://caldav.fastmail.com/dav/"),
            ("Nextcloud", "https://YOUR-SERVER/remote.php/dav"),
        ],
    ),
]

OAUTH_BLURB = N_("Sign in with %(name)s and allow calsync to see and edit the events of your calendars.")
NO_PUSH = N_("%(name)s cannot reach this server (CALSYNC_PUBLIC_URL is not a public https address), so changes "
             "made there arrive with the next scheduled sync instead of within seconds.")
NO_ATTENDEES = N_("When invitations are off, attendees are not written as attendees to %(name)s calendars (it would "
                  "mail them): they stay in the CRM and, with details on, in the event's description.")


def oauth_entries() -> list[ProviderEntry]:
    """One button per registered provider that connects through OAuth and has a client set up
    on this server (its factory's `configured`); its notes say what this server cannot do."""
    from calsync.sync import registry
    from calsync.web.oauth import oauth_factory

    entries = []
    for name in registry.names():
        factory = oauth_factory(name)
        if factory is None or not getattr(factory, "configured", False):
            continue
        label = str(getattr(factory, "label", name))
        notes = []
        reaches = getattr(factory, "push_reaches", None)
        public = factory.settings().resolved_public_url() if hasattr(factory, "settings") else ""
        if reaches is not None and not reaches(public + "/webhooks/calendar/0"):
            notes.append(NO_PUSH)
        if getattr(factory, "attendees_need_invitations", False):
            notes.append(NO_ATTENDEES)
        entries.append(ProviderEntry(key=name, name=label, blurb=OAUTH_BLURB, kind="oauth",
                                     start_url=f"/oauth/{name}/start", blurb_args={"name": label},
                                     notes=notes))
    return entries


def offered(context: AppContext | None = None) -> list[ProviderEntry]:
    """The entries to show: the built-in calendar first when this server serves one, then the
    forms, then the OAuth providers set up on this server."""
    entries = list(PROVIDERS)
    if context is not None and builtin_available(context):
        dav_url = context.settings.resolved_public_url() + "/dav/"
        entries.insert(0, replace(BUILTIN, blurb_args={"dav_url": dav_url}))
    return [*entries, *oauth_entries()]


PRIVATE_CHOICES = [
    ("everyone", N_("Visible to everyone"), N_("Imported as ordinary activities: colleagues who can see your activities see their details.")),
    ("busy_block", N_("Visible only to you"), N_("Colleagues see a “Busy” block with the time only — no subject, place, people or notes.")),
    ("skip", N_("Do not sync"), N_("Private events stay in your calendar and never enter the CRM.")),
]


TRASH_PAGE = 200  # the trash shows the newest deletions; "Restore all" restores every one


def _trash_values(session: Session, user: User) -> dict:
    page = trash(session, user, owner=user, limit=TRASH_PAGE)
    items = present(session, user, page.activities)
    deleters = {u.id: u.name for u in company_users(session, user)}
    return dict(trash_items=items, trash_more=page.next_cursor is not None, trash_deleters=deleters)


def _run_chart(session: Session, user: User, context: AppContext) -> Chart:
    account = repo.account_of_user(session, user.id)
    return last_day_chart(session, account.id, context.clock()) if account is not None else Chart((), 1)


@router.get("/settings/calendar-sync/run-chart")
def run_chart(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session),
              context: AppContext = Depends(get_context)) -> HTMLResponse:
    """The chart alone (htmx reloads it when a run ends)."""
    return render(request, "_run_chart.html", user, run_chart=_run_chart(session, user, context))


@router.get("/settings/calendar-sync")
def settings_page(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session),
                  context: AppContext = Depends(get_context)) -> HTMLResponse:
    look = lookups(session, user)
    account = repo.account_of_user(session, user.id)
    import_notice = accounts.import_type_state(session, account)["import_type_notice"] if account is not None else None
    return render(
        request, "sync_settings.html", user, providers=offered(context), private_choices=PRIVATE_CHOICES,
        types=[t for t in look.types.values()], import_notice=import_notice, run_chart=_run_chart(session, user, context),
        **_trash_values(session, user),
    )


@router.post("/settings/calendar-sync/trash/{activity_id}/restore")
def restore(request: Request, activity_id: ItemId, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    """Restores one activity from the trash (htmx) and answers with the trash list."""
    message, error = None, None
    try:
        restored = activity_service.restore_activity(session, user, activity_id)
        session.commit()
        message = _l("Restored: %(subject)s", subject=present(session, user, [restored])[0].subject)
    except CrmError as exc:
        session.rollback()
        error = exc.message
    return render(request, "_trash.html", user, trash_message=message, trash_error=error, **_trash_values(session, user))


@router.post("/settings/calendar-sync/trash/restore")
async def restore_many(request: Request, user: User = Depends(page_user), session: Session = Depends(get_session)) -> HTMLResponse:
    """"Restore selected" (the checked `ids`) and "Restore all" (`all`): answers with the trash
    list, saying how many came back and why any did not."""
    form = await request.form()
    message, error = None, None
    if form.get("all"):
        ids = activity_service.restorable_ids(session, user)
    else:
        ids = [int(v) for v in form.getlist("ids") if str(v).isdigit() and 0 < int(v) < 2**63]
    if not ids:
        error = _l("Nothing restored: tick the activities to restore first.") if not form.get("all") else _l("There is nothing in the trash to restore.")
    else:
        names = {a.id: a.subject for a in _trash_values(session, user)["trash_items"]}
        restored, refused = activity_service.restore_activities(session, user, ids)
        session.commit()
        if restored:
            message = _ln("Restored %(n)s activity.", "Restored %(n)s activities.", len(restored))
        if refused:
            error = _l("Not restored: %(list)s", list="; ".join(f"{names.get(activity_id, activity_id)}: {why}" for activity_id, why in refused))
    return render(request, "_trash.html", user, trash_message=message, trash_error=error, **_trash_values(session, user))
