"""Single-value extended properties: ids, set on create/PATCH, `$filter` lookups and `$expand`.

Id forms (MAPI): `String {GUID} Name crmActivityId`, `String {GUID} Id 0x8001`, `String 0x3A4F`.
The name part matches case-sensitively, the type, GUID and tags case-insensitively; values are
always strings and compare case-insensitively in filters.
"""

from __future__ import annotations

import re
from typing import Any

from calsync.emulators.microsoft.errors import GraphError, bad_request

_TYPES = ("String", "Integer", "Boolean", "SystemTime", "Double", "Float", "Currency", "Binary", "Long", "Short",
          "CLSID", "Object", "ApplicationTime", "Null")
_ID = re.compile(r"^(?P<type>[A-Za-z]+) (?:\{(?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}"
                 r"-[0-9A-Fa-f]{12})\} (?:Name (?P<name>\S.*)|Id (?P<pid>0x[0-9A-Fa-f]{1,8}))|(?P<tag>0x[0-9A-Fa-f]{1,4}))$")
_ANY = re.compile(r"^\s*singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*(.+)\)\s*$", re.I | re.S)
_CLAUSE = re.compile(r"^\s*(\w+)/(id|value)\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)
_EXPAND = re.compile(r"^\s*singleValueExtendedProperties\s*\(\s*\$filter\s*=\s*(.+)\)\s*$", re.I | re.S)
_ID_EQ = re.compile(r"^\s*id\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)


def parse_id(text: Any) -> tuple[str, str]:
    """(match key, canonical id) for a property id; 400 for anything that is not a MAPI id."""
    match = _ID.match(text) if isinstance(text, str) else None
    if match is None or match.group("type").lower() not in {t.lower() for t in _TYPES}:
        raise bad_request(f"The extended property id {text!r} is not valid: use a form such as "
                          f"'String {{66f5a359-4659-4830-9070-00047ec6ac6e}} Name crmActivityId'.",
                          "ErrorInvalidExtendedPropertyValue")
    kind = next(t for t in _TYPES if t.lower() == match.group("type").lower())
    if match.group("tag"):
        tag = match.group("tag").lower()
        return f"{kind.lower()}|{tag}", f"{kind} {tag}"
    guid = match.group("guid").lower()
    if match.group("name") is not None:
        name = match.group("name")
        return f"{kind.lower()}|{guid}|name|{name}", f"{kind} {{{guid}}} Name {name}"
    pid = match.group("pid").lower()
    return f"{kind.lower()}|{guid}|id|{pid}", f"{kind} {{{guid}}} Id {pid}"


def apply(current: dict[str, tuple[str, str]], items: Any) -> dict[str, tuple[str, str]]:
    """Upserts the given properties (others stay), as create and PATCH do."""
    if not isinstance(items, list):
        raise bad_request("singleValueExtendedProperties must be a list of {id, value} objects.")
    out = dict(current)
    for item in items:
        if not isinstance(item, dict) or set(item) - {"id", "value", "@odata.type"}:
            raise bad_request("Each single-value extended property is an object {\"id\": …, \"value\": …}.")
        key, canonical = parse_id(item.get("id"))
        value = item.get("value")
        if not isinstance(value, str):
            raise bad_request(f"The value of extended property {canonical!r} must be a string.",
                              "ErrorInvalidExtendedPropertyValue")
        out[key] = (canonical, value)
    return out


def _unquote(text: str) -> str:
    return text.replace("''", "'")


def parse_filter(text: str) -> tuple[str | None, str | None]:
    """`singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…')` -> (match key, value).

    The emulator filters on extended properties only; any other filter is a clear 400."""
    match = _ANY.match(text)
    if match is None:
        raise GraphError(400, "ErrorInvalidUrlQueryFilter",
                         "The emulator filters events by singleValueExtendedProperties/Any(ep: ep/id eq '…' and "
                         f"ep/value eq '…') only; got {text!r}.")
    var, body = match.group(1), match.group(2)
    key = value = None
    for clause in re.split(r"\s+and\s+", body, flags=re.I):
        part = _CLAUSE.match(clause)
        if part is None or part.group(1) != var:
            raise GraphError(400, "ErrorInvalidUrlQueryFilter", f"Invalid filter clause {clause.strip()!r}.")
        if part.group(2).lower() == "id":
            key = parse_id(_unquote(part.group(3)))[0]
        else:
            value = _unquote(part.group(3))
    if key is None:
        raise GraphError(400, "ErrorInvalidUrlQueryFilter", "An extended property filter must name ep/id.")
    return key, value


def matches(props: dict[str, tuple[str, str]], key: str, value: str | None) -> bool:
    found = props.get(key)
    return found is not None and (value is None or found[1].lower() == value.lower())


def parse_expand(text: str | None) -> list[str] | None:
    """Match keys asked for by `$expand=singleValueExtendedProperties($filter=id eq '…' [or id eq '…'])`."""
    if text is None:
        return None
    match = _EXPAND.match(text)
    if match is None:
        raise bad_request("The emulator expands singleValueExtendedProperties($filter=id eq '…') only "
                          f"(Graph returns no extended property without such a filter); got {text!r}.",
                          "BadRequest")
    keys = []
    for clause in re.split(r"\s+or\s+", match.group(1), flags=re.I):
        part = _ID_EQ.match(clause)
        if part is None:
            raise bad_request(f"Invalid $expand filter clause {clause.strip()!r}: use id eq '…'.", "BadRequest")
        keys.append(parse_id(_unquote(part.group(1)))[0])
    return keys


def render(props: dict[str, tuple[str, str]], keys: list[str]) -> list[dict[str, str]]:
    return [{"id": props[k][0], "value": props[k][1]} for k in keys if k in props]
