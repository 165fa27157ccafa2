"""Input and output shapes of CRM objects. Field names follow Pipedrive's API where the concept is
the same; the REST API and the web pages use these directly so validation happens once."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator

Visibility = Literal["owner", "everyone"]
AttendeeStatus = Literal["needs_action", "accepted", "declined", "tentative"]
MAX_ID = 2**31 - 1  # database integer columns; larger ids cannot exist (and would crash PostgreSQL)
# Input types are strict: "1" is not an id and "yes" is not a boolean (JSON true/false only), so a
# client's type mistake is a 422 naming the field instead of a silent guess.
Id = Annotated[StrictInt, Field(ge=1, le=MAX_ID)]
# Loose on purpose: calendars carry addresses on internal or special-use domains (x@host.local).
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    """Input: unknown fields refused, strings trimmed, NUL characters refused (PostgreSQL cannot store them)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("text must not contain NUL (\\u0000) characters")
        return data


class AttendeeIn(Strict):
    email: Email
    name: str = Field(default="", max_length=300)
    status: AttendeeStatus = "needs_action"
    is_organizer: StrictBool = False


class ParticipantIn(Strict):
    person_id: Id
    primary: StrictBool = False


class ActivityCreate(Strict):
    """A new activity. Timed: `start`/`end` date-times (offset or `timezone`). All-day: dates, end exclusive."""

    subject: str = Field(min_length=1, max_length=500)
    type: str = Field(default="task", max_length=40)
    owner_id: Id | None = None
    start: str
    end: str | None = None
    all_day: StrictBool = False
    timezone: str | None = Field(default=None, max_length=64)
    busy: StrictBool = True
    done: StrictBool = False
    location: str = Field(default="", max_length=2000)
    public_description: str = Field(default="", max_length=20000)
    note: str = Field(default="", max_length=50000)
    deal_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None
    participants: list[ParticipantIn] = Field(default_factory=list, max_length=200)
    attendees: list[AttendeeIn] = Field(default_factory=list, max_length=500)
    conference_meeting_url: str = Field(default="", max_length=2000)
    visibility: Visibility = "everyone"
    private: StrictBool = False


class ActivityUpdate(Strict):
    """A partial change: only the fields sent are changed."""

    subject: str | None = Field(default=None, min_length=1, max_length=500)
    type: str | None = Field(default=None, max_length=40)
    owner_id: Id | None = None
    start: str | None = None
    end: str | None = None
    all_day: StrictBool | None = None
    timezone: str | None = Field(default=None, max_length=64)
    busy: StrictBool | None = None
    done: StrictBool | None = None
    location: str | None = Field(default=None, max_length=2000)
    public_description: str | None = Field(default=None, max_length=20000)
    note: str | None = Field(default=None, max_length=50000)
    deal_id: Id | None = None
    person_id: Id | None = None
    org_id: Id | None = None
    participants: list[ParticipantIn] | None = Field(default=None, max_length=200)
    attendees: list[AttendeeIn] | None = Field(default=None, max_length=500)
    conference_meeting_url: str | None = Field(default=None, max_length=2000)
    visibility: Visibility | None = None
    private: StrictBool | None = None


class AttendeeOut(BaseModel):
    email: str
    name: str
    status: str
    is_organizer: bool
    person_id: int | None


class ParticipantOut(BaseModel):
    person_id: int
    primary: bool


class SyncInfo(BaseModel):
    """Where the activity syncs to and how that went, as the list and calendar views show it."""

    status: str  # synced / pending / error / not_synced / no_account / paused / problem (account cannot sync)
    account: str | None = None
    provider: str | None = None
    reason: str | None = None


class ActivityOut(BaseModel):
    """An activity as one viewer may see it; `redacted` means a busy block (time only)."""

    id: int
    uuid: str
    subject: str
    type: str
    owner_id: int
    all_day: bool
    start: str
    end: str
    timezone: str | None
    busy: bool
    done: bool
    location: str
    public_description: str
    note: str
    deal_id: int | None
    person_id: int | None
    org_id: int | None
    participants: list[ParticipantOut]
    attendees: list[AttendeeOut]
    conference_meeting_url: str
    visibility: str
    private: bool
    redacted: bool
    read_only: bool
    series_uid: str | None
    occurrence_id: str | None
    origin: str
    created_at: str
    updated_at: str
    deleted_at: str | None = None
    # in the trash: why (crm.trash: deleted_in_crm / deleted_in_calendar / cancelled_occurrence),
    # and who deleted it when a person did
    deleted_reason: str | None = None
    deleted_by_id: int | None = None
    sync: SyncInfo | None = None


class ActivityTypeIn(Strict):
    key: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1, max_length=100)
    icon: str = Field(default="calendar", max_length=40)
    color: str = Field(default="#4f6bed", pattern=r"^#[0-9a-fA-F]{6}$")


class ActivityTypeUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    icon: str | None = Field(default=None, max_length=40)
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")
    active: StrictBool | None = None


class ActivityTypeOut(BaseModel):
    id: int
    key: str
    name: str
    icon: str
    color: str
    active: bool
    is_custom: bool


class OrganizationIn(Strict):
    name: str = Field(min_length=1, max_length=300)
    address: str = Field(default="", max_length=2000)
    owner_id: Id | None = None
    visibility: Visibility = "everyone"


class OrganizationUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    address: str | None = Field(default=None, max_length=2000)
    owner_id: Id | None = None
    visibility: Visibility | None = None


class OrganizationOut(BaseModel):
    id: int
    name: str
    address: str
    owner_id: int
    visibility: str


class PersonIn(Strict):
    name: str = Field(min_length=1, max_length=300)
    emails: list[Email] = Field(default_factory=list, max_length=20)
    phones: list[str] = Field(default_factory=list, max_length=20)
    org_id: Id | None = None
    owner_id: Id | None = None
    visibility: Visibility = "everyone"

    @field_validator("phones")
    @classmethod
    def _phones_short(cls, value: list[str]) -> list[str]:
        for phone in value:
            if len(phone) > 50:
                raise ValueError("a phone number has at most 50 characters")
        return value


class PersonUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    emails: list[Email] | None = Field(default=None, max_length=20)
    phones: list[str] | None = Field(default=None, max_length=20)
    org_id: Id | None = None
    owner_id: Id | None = None
    visibility: Visibility | None = None


class PersonOut(BaseModel):
    id: int
    name: str
    emails: list[str]
    phones: list[str]
    org_id: int | None
    owner_id: int
    visibility: str


class DealIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    value: StrictInt = Field(default=0, ge=0, le=MAX_ID)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    status: Literal["open", "won", "lost"] = "open"
    person_id: Id | None = None
    org_id: Id | None = None
    owner_id: Id | None = None
    visibility: Visibility = "everyone"


class DealUpdate(Strict):
    title: str | None = Field(default=None, min_length=1, max_length=300)
    value: StrictInt | None = Field(default=None, ge=0, le=MAX_ID)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    status: Literal["open", "won", "lost"] | None = None
    person_id: Id | None = None
    org_id: Id | None = None
    owner_id: Id | None = None
    visibility: Visibility | None = None


class DealOut(BaseModel):
    id: int
    title: str
    value: int
    currency: str
    status: str
    person_id: int | None
    org_id: int | None
    owner_id: int
    visibility: str


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    timezone: str
    is_admin: bool
    active: bool


class ProfileUpdate(Strict):
    """What a user changes of themselves (`PATCH /api/v1/users/me`)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)


class Unstripped(Strict):
    """Input with passwords: taken as typed (spaces are part of a password)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class PasswordChange(Unstripped):
    current_password: str = Field(max_length=200)
    new_password: str = Field(max_length=200)


class UserCreate(Unstripped):
    """An admin adds a user: with an initial `password`, or `invite: true` for a set-password link."""

    email: Email
    name: str | None = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", min_length=1, max_length=64)
    is_admin: StrictBool = False
    password: str | None = Field(default=None, max_length=200)
    invite: StrictBool = False

    @model_validator(mode="after")
    def _one_way_in(self) -> "UserCreate":
        if (self.password is None) == (not self.invite):
            raise ValueError("send either an initial `password` or `invite: true` (a link to set one), not both or neither")
        return self


class UserUpdate(Strict):
    """An admin's changes to a user: admin rights, and deactivation (`active: false`)."""

    is_admin: StrictBool | None = None
    active: StrictBool | None = None


class PasswordReset(Unstripped):
    """An admin's reset: a new `password`, or none for a set-password link."""

    password: str | None = Field(default=None, max_length=200)
