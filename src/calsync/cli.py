"""The `calsync` command: database, users, demo data, serving, syncing."""

from __future__ import annotations

import datetime as dt
import sys

import typer
from rich.console import Console

import calsync.providers  # noqa: F401  (registers the built-in calendar providers)
from calsync import logredact
from calsync.config import get_settings
from calsync.crm.errors import CrmError
from calsync.crm.services import accounts
from calsync.crm.services import users as users_service
from calsync.crypto import SecretBox
from calsync.store import migrate
from calsync.store.db import make_engine, make_session_factory, session_scope

app = typer.Typer(help="calsync: CRM activities and external calendars kept in step.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
console = Console()
# How long `calsync sync` waits for another process's run of the same account. A live run renews its
# lease, a dead one's lease lapses after a minute; this covers a long first import too.
CLI_WAIT_SECONDS = 30 * 60.0


@app.callback()
def _start() -> None:
    """Runs before every command: no secret reaches a log line, and files are made private."""
    logredact.install()
    get_settings().secure_files()


def _sessions():  # type: ignore[no-untyped-def]
    settings = get_settings()
    engine = make_engine(settings.resolved_database_url())
    migrate.require_up_to_date(engine)
    return make_session_factory(engine), SecretBox(settings.resolved_secret_key())


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code=1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Creates or migrates the database to this version."""
    url = get_settings().resolved_database_url()
    migrate.upgrade(url)
    console.print(f"database is at revision {migrate.head_revision()}")


@user_app.command("add")
def user_add(
    email: str,
    password: str = typer.Option(..., "--password", help="at least 8 characters"),
    company: str = typer.Option("Default", "--company"),
    admin: bool = typer.Option(False, "--admin"),
    name: str = typer.Option(None, "--name"),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA zone, e.g. Europe/Berlin"),
) -> None:
    """Adds a user (and the company, if new) and prints the user's API token."""
    factory, box = _sessions()
    try:
        with session_scope(factory) as session:
            user, token = accounts.add_user(
                session, box, email=email, password=password, company_name=company, name=name,
                is_admin=admin, timezone=timezone,
            )
            console.print(f"added {user.email} (company {company}{', admin' if admin else ''})")
            console.print(f"API token: {token}")
    except CrmError as exc:
        fail(exc.message)


@user_app.command("token")
def user_token(email: str, rotate: bool = typer.Option(False, "--rotate", help="issue a new token")) -> None:
    """Prints the user's API token."""
    factory, box = _sessions()
    try:
        with session_scope(factory) as session:
            user = accounts.user_by_email(session, email)
            token = accounts.rotate_api_token(session, box, user) if rotate else accounts.api_token(box, user)
            typer.echo(token)
    except CrmError as exc:
        fail(exc.message)


@user_app.command("password")
def user_password(
    email: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the new password from standard input"),
) -> None:
    """Sets a user's password; the user's signed-in browsers must sign in again."""
    if not password_stdin:
        fail("pass the new password on standard input with --password-stdin (it is never taken as an argument)")
    password = sys.stdin.readline().rstrip("\r\n")
    factory, _box = _sessions()
    try:
        with session_scope(factory) as session:
            accounts.set_password(session, accounts.user_by_email(session, email), password)
            console.print(f"password of {email} changed; its web sessions have ended")
    except CrmError as exc:
        fail(exc.message)


@user_app.command("deactivate")
def user_deactivate(email: str) -> None:
    """Removes a user's access (sign-in, API token, web sessions, built-in calendar); data stays."""
    factory, _box = _sessions()
    try:
        with session_scope(factory) as session:
            users_service.set_active(session, accounts.user_by_email(session, email), False)
            console.print(f"{email} can no longer sign in")
    except CrmError as exc:
        fail(exc.message)


users_app = typer.Typer(help="The users of a company: list, add or invite, deactivate, admin rights, passwords.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


def _now():  # type: ignore[no-untyped-def]
    import datetime as dt

    return dt.datetime.now(dt.timezone.utc)


def _link(token: str) -> str:
    return get_settings().resolved_base_url().rstrip("/") + users_service.link_path(token)


def _stdin_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("no password on standard input")
    return password


@users_app.command("list")
def users_list(company: str = typer.Option(None, "--company", help="only this company's users")) -> None:
    """Lists users: e-mail, name, company, admin, status (active, invited, reset, deactivated)."""
    from sqlalchemy import select

    from calsync.store.tables import Company, User

    factory, _box = _sessions()
    with session_scope(factory) as session:
        query = select(User, Company.name).join(Company, Company.id == User.company_id).order_by(Company.name, User.email)
        if company:
            query = query.where(Company.name == company)
        rows = session.execute(query).all()
        if company and not rows:
            fail(f"no company called {company!r}")
        for user, company_name in rows:
            typer.echo("\t".join([user.email, user.name, company_name, "admin" if user.is_admin else "-",
                                  users_service.status(user)]))


@users_app.command("add")
def users_add(
    email: str,
    name: str = typer.Option(None, "--name"),
    company: str = typer.Option("Default", "--company"),
    admin: bool = typer.Option(False, "--admin"),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA zone, e.g. Europe/Berlin"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the initial password from standard input"),
    invite: bool = typer.Option(False, "--invite", help="print a link with which the user sets a password"),
) -> None:
    """Adds a user with an initial password (--password-stdin) or an invite link (--invite)."""
    if password_stdin == invite:
        fail("choose one: --password-stdin (an initial password) or --invite (a link to set one)")
    password = _stdin_password() if password_stdin else None
    factory, box = _sessions()
    try:
        with session_scope(factory) as session:
            added = users_service.add_to_company(session, box, company, email=email, name=name, timezone=timezone,
                                                 is_admin=admin, password=password, now=_now())
            console.print(f"added {added.user.email} (company {company}{', admin' if admin else ''})", highlight=False)
            console.print(f"API token: {added.api_token}", highlight=False)
            if added.link_token:
                typer.echo(f"invite link (valid 7 days): {_link(added.link_token)}")
    except CrmError as exc:
        fail(exc.message)


@users_app.command("deactivate")
def users_deactivate(email: str, undo: bool = typer.Option(False, "--undo", help="reactivate the user")) -> None:
    """Ends a user's sign-in, API token and sessions at once (their data stays); --undo reactivates."""
    factory, _box = _sessions()
    try:
        with session_scope(factory) as session:
            users_service.set_active(session, accounts.user_by_email(session, email), undo)
            console.print(f"{email} can sign in again" if undo else f"{email} is deactivated and can no longer sign in",
                          highlight=False)
    except CrmError as exc:
        fail(exc.message)


@users_app.command("make-admin")
def users_make_admin(email: str, undo: bool = typer.Option(False, "--undo", help="take admin rights away")) -> None:
    """Makes a user admin of their company (--undo: no longer admin; never the company's last admin)."""
    factory, _box = _sessions()
    try:
        with session_scope(factory) as session:
            users_service.set_admin(session, accounts.user_by_email(session, email), not undo)
            console.print(f"{email} is {'no longer' if undo else 'now'} an admin", highlight=False)
    except CrmError as exc:
        fail(exc.message)


@users_app.command("reset-password")
def users_reset_password(
    email: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the new password from standard input"),
) -> None:
    """Resets a password: the old one and every session end; a new one from standard input, or a link."""
    password = _stdin_password() if password_stdin else None
    factory, box = _sessions()
    try:
        with session_scope(factory) as session:
            target = accounts.user_by_email(session, email)
            token = users_service.reset_password(session, box, target, password=password, now=_now())
            if token:
                hours = int(users_service.LINK_LIFETIME[users_service.status(target)].total_seconds() // 3600)
                typer.echo(f"password of {email} reset; link to set a new one (valid {hours} hours): {_link(token)}")
            else:
                console.print(f"password of {email} changed; its web sessions have ended", highlight=False)
    except CrmError as exc:
        fail(exc.message)


@app.command("demo")
def demo() -> None:
    """Seeds the demo company (once) and prints the demo logins and API tokens."""
    from calsync.demo import seed_demo

    factory, box = _sessions()
    try:
        with session_scope(factory) as session:
            seed_demo(session, box, get_settings(), console)
    except CrmError as exc:
        fail(f"cannot seed the demo: {exc.message}")


@app.command("serve")
def serve(
    host: str = typer.Option(None, "--host"),
    port: int = typer.Option(None, "--port"),
    log_level: str = typer.Option(None, "--log-level",
                                  help="debug, info (default: a line per client request and per sync run), warning, error"),
) -> None:
    """Serves the web app and API (and the embedded CalDAV server and sync runner)."""
    import uvicorn

    from calsync import logsetup
    from calsync.web.app import create_app

    settings = get_settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    try:
        level = logsetup.check_level(log_level or settings.log_level)
    except ValueError as exc:
        fail(f"{exc}; set it with --log-level or CALSYNC_LOG_LEVEL")
        return
    logsetup.configure(level)
    try:
        application = create_app(settings)
    except migrate.NotMigrated as exc:
        fail(str(exc))
        return
    console.print(f"calsync is serving on [bold]{settings.resolved_base_url()}[/bold]")
    if settings.broker_url:
        console.print("scale-out (CALSYNC_BROKER_URL): this process only queues syncs; `calsync worker` runs them "
                      "and `calsync scheduler` hands them out")
    from calsync.web.runtime import settle_heap

    settle_heap()
    uvicorn.run(application, host=settings.host, port=settings.port, log_level=level)


@app.command("sync")
def sync(
    user: str = typer.Option(None, "--user", help="sync only this user's calendar (e-mail)"),
    full: bool = typer.Option(False, "--full", help="list the whole calendar again instead of changes only"),
    wait: bool = typer.Option(True, "--wait/--no-wait",
                              help="wait for a sync of the same account that is already running (--no-wait: report it busy)"),
) -> None:
    """Runs calendar sync now (every connected user, or one) and prints a one-line summary each.

    A sync of the same account already running (the app's runner, another `calsync sync`) is waited
    for, as the API's `sync?wait=true` does, so a scheduled command never fails just for overlapping."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from calsync.store.tables import SyncAccount
    from calsync.sync.credentials import opener_with_store
    from calsync.sync.engine import SyncEngine

    factory, box = _sessions()
    with session_scope(factory) as session:
        if user:
            try:
                owner = accounts.user_by_email(session, user)
            except CrmError as exc:
                fail(exc.message)
                return
            found = session.query(SyncAccount).filter(SyncAccount.user_id == owner.id).all()
            if not found:
                fail(f"{user} has no calendar connected")
        else:
            found = session.query(SyncAccount).filter(SyncAccount.enabled.is_(True)).all()
        targets = [(a.id, a.account_name) for a in found]
    if not targets:
        console.print("no calendar connections to sync")
        return
    engine = SyncEngine(factory, opener_with_store(box, factory), base_url=get_settings().resolved_base_url(),
                        run_budget=dt.timedelta(seconds=get_settings().sync_run_budget_seconds))
    failed = False
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as bar:
        for account_id, name in targets:
            task = bar.add_task(f"syncing {name}", total=None)
            summary = engine.run(account_id, trigger="cli", full=full, wait=CLI_WAIT_SECONDS if wait else 0.0,
                                 progress=lambda done, total, t=task: bar.update(t, completed=done, total=total))
            while summary.status == "partial":  # out of its time budget: the next run goes on
                console.print(f"{name}: {summary.line()}", highlight=False, soft_wrap=True)
                summary = engine.run(account_id, trigger="cli", wait=CLI_WAIT_SECONDS if wait else 0.0,
                                     progress=lambda done, total, t=task: bar.update(t, completed=done, total=total))
            bar.remove_task(task)
            console.print(f"{name}: {summary.line()}", highlight=False, soft_wrap=True)
            failed = failed or summary.status not in ("ok",)
    if failed:
        raise typer.Exit(code=1)


def _scale_out_settings():  # type: ignore[no-untyped-def]
    settings = get_settings()
    if not settings.broker_url:
        fail("set CALSYNC_BROKER_URL (redis://host:6379/0) and CALSYNC_DATABASE_URL (postgresql://...) first")
    return settings


@app.command("worker")
def worker(
    concurrency: int = typer.Option(None, "--concurrency", min=1,
                                    help="accounts synced at once by this process (default: CALSYNC_RUNNER_THREADS)"),
    log_level: str = typer.Option(None, "--log-level", help="debug, info, warning or error"),
) -> None:
    """Runs a Celery worker that syncs accounts (scale-out: CALSYNC_BROKER_URL; any number, any machine)."""
    from calsync import logsetup
    from calsync.jobs import tasks
    from calsync.jobs.celery_app import QUEUE, make_app

    settings = _scale_out_settings()
    try:
        level = logsetup.check_level(log_level or settings.log_level)
    except ValueError as exc:
        fail(f"{exc}; set it with --log-level or CALSYNC_LOG_LEVEL")
        return
    logsetup.configure(level)
    if level != "debug":  # one line per run is ours ("account 7 (change): ok"); not Celery's two more
        import logging

        for name in ("celery.app.trace", "celery.worker.strategy"):
            logging.getLogger(name).setLevel(logging.WARNING)
    _sessions()  # the database answers and is migrated, before taking work
    from calsync.jobs import ratelimit

    ratelimit.install(settings)  # the provider rate limits shared by all workers
    celery = make_app(settings)
    tasks.register(celery)
    threads = concurrency or settings.runner_threads
    console.print(f"calsync worker: {threads} threads on {QUEUE}", highlight=False)
    celery.Worker(pool="threads", concurrency=threads, queues=[QUEUE], loglevel=level.upper(),
                  without_mingle=True, without_gossip=True, without_heartbeat=True, quiet=True).start()


@app.command("scheduler")
def scheduler(log_level: str = typer.Option(None, "--log-level", help="debug, info, warning or error")) -> None:
    """Enqueues due syncs and channel renewals for the workers (run one or two; one is active)."""
    import signal

    from calsync import logsetup
    from calsync.jobs.celery_app import QUEUE, make_app
    from calsync.jobs.queue import connect
    from calsync.jobs.scheduler import Scheduler
    from calsync.web.context import AppContext

    settings = _scale_out_settings()
    try:
        level = logsetup.check_level(log_level or settings.log_level)
    except ValueError as exc:
        fail(f"{exc}; set it with --log-level or CALSYNC_LOG_LEVEL")
        return
    logsetup.configure(level)
    _sessions()
    celery = make_app(settings)

    def send(name: str, args: list[object]) -> None:
        celery.send_task(name, args=args, queue=QUEUE)

    runner = Scheduler(AppContext.build(settings), connect(settings.broker_url), send)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stopping.set())
    console.print(f"calsync scheduler {runner.identity}: active or standing by", highlight=False)
    runner.run_forever()


connect_app = typer.Typer(help="Connect a user's calendar account.", no_args_is_help=True)
app.add_typer(connect_app, name="connect")


@connect_app.command("caldav")
def connect_caldav(
    user: str = typer.Option(..., "--user", help="the calsync user (e-mail) whose calendar this is"),
    url: str = typer.Option(..., "--url", help="CalDAV server address, e.g. https://caldav.fastmail.com/"),
    username: str = typer.Option(..., "--username", help="user name at the calendar server"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the (app) password from standard input"),
    calendar: str = typer.Option(None, "--calendar", help="calendar name or URL (default: the first writable)"),
) -> None:
    """Connects a CalDAV calendar two-way (discovery, password check, writable calendar)."""
    from calsync.sync import accounts as sync_accounts

    if not password_stdin:
        fail("pass the password on standard input with --password-stdin (it is never taken as an argument)")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("no password on standard input")
    params = {"url": url, "username": username, "password": password}
    if calendar:
        params["calendar"] = calendar
    factory, box = _sessions()
    try:
        with session_scope(factory) as session:
            owner = accounts.user_by_email(session, user)
            account = sync_accounts.connect(session, box, owner, "caldav", params)
            console.print(f"connected {owner.email} to {account.account_name}, calendar "
                          f"'{account.calendar_name}' ({account.calendar_id}); run `calsync sync --user {owner.email}`",
                          highlight=False, soft_wrap=True)
    except CrmError as exc:
        fail(exc.message)


emulate_app = typer.Typer(help="Stand-ins for hosted calendar services (tests, benchmarks, offline work).",
                          no_args_is_help=True)
app.add_typer(emulate_app, name="emulate")


@emulate_app.command("google")
def emulate_google(
    port: int = typer.Option(8765, "--port", min=1, max=65535),
    host: str = typer.Option("127.0.0.1", "--host"),
    users: str = typer.Option("a@example.com", "--users", help="comma-separated e-mails; each gets a primary calendar"),
    redirect_uri: str = typer.Option("http://127.0.0.1:8000/oauth/google/callback", "--redirect-uri",
                                     help="the OAuth redirect URI registered for the client"),
    client_id: str = typer.Option("calsync-emulator-client", "--client-id"),
    client_secret: str = typer.Option("calsync-emulator-secret", "--client-secret"),
    rotate_refresh_tokens: bool = typer.Option(False, "--rotate-refresh-tokens",
                                               help="every refresh answers a new refresh token and retires the old"),
    max_batch_parts: int = typer.Option(1000, "--max-batch-parts", min=1),
    time_zone: str = typer.Option("UTC", "--time-zone", help="the users' calendar time zone (IANA name)"),
) -> None:
    """Serves a Google Calendar v3 + OAuth emulator; prints the `export` lines that point calsync at it."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    import uvicorn

    from calsync.emulators.google import EmulatorConfig, create_app
    from calsync.emulators.google.app import exports

    emails = [u.strip() for u in users.split(",") if u.strip()]
    bad = [u for u in emails if "@" not in u]
    if not emails or bad:
        fail(f"--users takes comma-separated e-mail addresses (got {users!r})")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--time-zone takes an IANA zone name such as Europe/Berlin (got {time_zone!r})")
    config = EmulatorConfig(users=emails, client_id=client_id, client_secret=client_secret,
                            redirect_uris=[redirect_uri], rotate_refresh_tokens=rotate_refresh_tokens,
                            max_batch_parts=max_batch_parts, time_zone=time_zone)
    for line in exports(config, f"http://{host}:{port}"):
        typer.echo(line)
    sys.stdout.flush()
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


@emulate_app.command("microsoft")
def emulate_microsoft(
    port: int = typer.Option(8766, "--port", min=1, max=65535),
    host: str = typer.Option("127.0.0.1", "--host"),
    users: str = typer.Option("a@example.com", "--users", help="comma-separated e-mails; each gets a mailbox"),
    redirect_uri: str = typer.Option("http://127.0.0.1:8000/oauth/microsoft/callback", "--redirect-uri",
                                     help="the OAuth redirect URI registered for the app"),
    client_id: str = typer.Option("00000000-0000-4000-8000-00000000ca15", "--client-id"),
    client_secret: str = typer.Option("calsync-emulator-secret", "--client-secret"),
    tenant: str = typer.Option("common", "--tenant", help="common, organizations, consumers or a tenant id"),
    retire_old_refresh_tokens: bool = typer.Option(False, "--retire-old-refresh-tokens",
                                                   help="a refresh token works once (Microsoft keeps old ones valid)"),
    max_batch_requests: int = typer.Option(20, "--max-batch-requests", min=1),
) -> None:
    """Serves a Microsoft Graph (calendar) + identity platform emulator; prints the `export` lines that point calsync at it."""
    import uvicorn

    from calsync.emulators.microsoft import EmulatorConfig, create_app
    from calsync.emulators.microsoft.app import exports

    emails = [u.strip() for u in users.split(",") if u.strip()]
    bad = [u for u in emails if "@" not in u]
    if not emails or bad:
        fail(f"--users takes comma-separated e-mail addresses (got {users!r})")
    config = EmulatorConfig(users=emails, client_id=client_id, client_secret=client_secret, tenant=tenant,
                            redirect_uris=[redirect_uri], retire_old_refresh_tokens=retire_old_refresh_tokens,
                            max_batch_requests=max_batch_requests)
    for line in exports(config, f"http://{host}:{port}"):
        typer.echo(line)
    sys.stdout.flush()
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")


def main() -> None:  # pragma: no cover
    sys.exit(app())
