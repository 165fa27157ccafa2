"""Opaque, case-sensitive Graph ids that the emulator can still read back.

An id is a prefix plus URL-safe base64 of (mailbox tag, record key, move generation[, occurrence
start]). Default ("REST") ids carry the move generation, so they change when a user moves the event
to another calendar; immutable ids (`Prefer: IdType="ImmutableId"`) do not. An occurrence id is
its series master's id with the occurrence's original start appended, so it differs per
occurrence and stays the same when the occurrence is edited into an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime, timezone

REST_PREFIX = "AAMkAG"
IMMUTABLE_PREFIX = "AAkALg"
_HEAD = struct.Struct(">4s16sB")   # mailbox tag, record key, move generation (0 for immutable ids)
_START = struct.Struct(">q")       # occurrence original start, Unix seconds UTC


def mailbox_tag(user: str) -> bytes:
    return hashlib.sha256(user.lower().encode()).digest()[:4]


def new_key() -> bytes:
    return secrets.token_bytes(16)


@dataclass(frozen=True)
class Parsed:
    immutable: bool
    tag: bytes
    key: bytes
    generation: int
    start: datetime | None


def encode(user: str, key: bytes, generation: int, immutable: bool, start: datetime | None = None) -> str:
    payload = _HEAD.pack(mailbox_tag(user), key, 0 if immutable else generation % 256)
    if start is not None:
        payload += _START.pack(int(start.astimezone(timezone.utc).timestamp()))
    prefix = IMMUTABLE_PREFIX if immutable else REST_PREFIX
    return prefix + base64.urlsafe_b64encode(payload).decode()


def decode(text: str) -> Parsed | None:
    """The parts of an id the emulator minted, or None for anything else (then: 404)."""
    if text.startswith(REST_PREFIX):
        immutable = False
    elif text.startswith(IMMUTABLE_PREFIX):
        immutable = True
    else:
        return None
    try:
        payload = base64.urlsafe_b64decode(text[len(REST_PREFIX):].encode())
    except (binascii.Error, ValueError):
        return None
    if len(payload) not in (_HEAD.size, _HEAD.size + _START.size):
        return None
    if base64.urlsafe_b64encode(payload).decode() != text[len(REST_PREFIX):]:
        return None   # ids are case-sensitive: a re-cased id is another (unknown) id
    tag, key, generation = _HEAD.unpack(payload[:_HEAD.size])
    start = None
    if len(payload) > _HEAD.size:
        (seconds,) = _START.unpack(payload[_HEAD.size:])
        start = datetime.fromtimestamp(seconds, timezone.utc)
    return Parsed(immutable, tag, key, generation, start)


def new_change_key() -> str:
    return base64.b64encode(secrets.token_bytes(18)).decode()


def ical_uid(key: bytes, start: datetime | None = None) -> str:
    """Outlook's iCalUId spelling (hex with the well-known prefix), distinct per occurrence."""
    suffix = key.hex().upper()
    if start is not None:
        suffix += f"{int(start.timestamp()):016X}"
    return "040000008200E00074C5B7101A82E00800000000" + suffix


def calendar_id(user: str, key: bytes) -> str:
    return "AAMkAG" + base64.urlsafe_b64encode(mailbox_tag(user) + b"\x07" + key).decode()
