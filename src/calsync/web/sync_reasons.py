"""The sync reasons the CRM gives (crm/services/sync_status.py, sync_health.py) in the page's
language. The API keeps them English; the pages translate the known ones here (and the
calendar script with the same patterns, sent by `js_patterns`). A server's own words inside a
reason (a failed write's error) stay as the server wrote them."""

from __future__ import annotations

import re

from calsync.web.i18n import N_, gettext

# (the English reason as a pattern, the message with its named parts); keep in step with the CRM.
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^sync is stopped for this account$"), N_("sync is stopped for this account")),
    (re.compile(r"^activities of type '(?P<type>.+)' are not sent to the calendar$"),
     N_("activities of type '%(type)s' are not sent to the calendar")),
    (re.compile(r"^the last sync of this activity failed$"), N_("the last sync of this activity failed")),
    (re.compile(r"^ended before calendar sync started$"), N_("ended before calendar sync started")),
    (re.compile(r"^was over before it was synced: past items are not sent to the calendar$"),
     N_("was over before it was synced: past items are not sent to the calendar")),
    (re.compile(r"^the calendar refused the sign-in: reconnect the account in Settings › Calendar sync$"),
     N_("the calendar refused the sign-in: reconnect the account in Settings › Calendar sync")),
    (re.compile(r"^sync waits until the owner confirms or cancels deleting (?P<count>\d+) activities$"),
     N_("sync waits until the owner confirms or cancels deleting %(count)s activities")),
    (re.compile(r"^sync waits until the owner confirms or cancels deleting many activities$"),
     N_("sync waits until the owner confirms or cancels deleting many activities")),
    (re.compile(r"^the last (?P<count>\d+) syncs failed: (?P<error>[\s\S]*)$"),
     N_("the last %(count)s syncs failed: %(error)s")),
]


def translate(reason: str | None) -> str:
    """`reason` in the current page's language when it is one the CRM writes; else as it is."""
    if not reason:
        return ""
    for pattern, message in PATTERNS:
        found = pattern.match(reason)
        if found:
            return gettext(message) % found.groupdict()
    return reason


def js_patterns() -> list[list[str]]:
    """[pattern, translated text with {name} parts] for static/js/common.js's `calsync.reason`."""
    return [[p.pattern.replace("(?P<", "(?<"), re.sub(r"%\((\w+)\)s", r"{\1}", gettext(m))] for p, m in PATTERNS]
