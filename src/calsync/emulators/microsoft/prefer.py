"""The `Prefer` request header: outlook.timezone, IdType, odata.maxpagesize, outlook.body-content-type.

Several preferences may share one header (comma-separated) or come in several headers; names are
case-insensitive, values may be quoted. Applied ones are echoed in `Preference-Applied`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calsync.emulators.microsoft.errors import bad_request
from calsync.emulators.microsoft.times import zone

_PAIR = re.compile(r'([A-Za-z][\w.-]*)\s*(?:=\s*("([^"]*)"|[^,;\s]+))?')


@dataclass(frozen=True)
class Prefer:
    time_zone: str = "UTC"
    immutable_ids: bool = False
    max_page_size: int | None = None
    text_body: bool = False
    time_zone_asked: bool = False

    def applied(self) -> str | None:
        parts = []
        if self.time_zone_asked:
            parts.append(f'outlook.timezone="{self.time_zone}"')
        if self.max_page_size is not None:
            parts.append(f"odata.maxpagesize={self.max_page_size}")
        if self.immutable_ids:
            parts.append('IdType="ImmutableId"')
        return ", ".join(parts) or None


def parse(header: str | None) -> Prefer:
    values: dict[str, str] = {}
    for match in _PAIR.finditer(header or ""):
        raw = match.group(3) if match.group(3) is not None else (match.group(2) or "")
        values[match.group(1).lower()] = raw
    tz = values.get("outlook.timezone")
    if tz is not None:
        zone(tz)   # 400 for a zone Graph does not know
    size = values.get("odata.maxpagesize")
    if size is not None and (not size.isdigit() or int(size) < 1):
        raise bad_request(f"Prefer odata.maxpagesize must be a positive integer (got {size!r}).")
    return Prefer(time_zone=tz or "UTC", immutable_ids=values.get("idtype", "").lower() == "immutableid",
                  max_page_size=int(size) if size else None,
                  text_body=values.get("outlook.body-content-type", "").lower() == "text",
                  time_zone_asked=tz is not None)
