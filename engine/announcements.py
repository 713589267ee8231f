"""Station announcements for the departure board (信息发布), hosted by the accounts owner.

Authorised staff (Permission.ANNOUNCE) publish a notice, a weather warning or a road closure, in
Chinese and optionally English, for some stations (or every station) between a start and an end
time, and may withdraw it early.  Publishing and withdrawing are events in the accounts owner's
write-ahead log, like the device registry's (engine/devices.py): one owner holds the records
that are the station's rather than a trip's, and they are replayed after a restart and kept in
every backup.  Whether an announcement is in effect is not stored: it is computed from its times
and the clock when asked, so it never goes stale (the board's feed watches the transitions).
"""

from __future__ import annotations

import re
from enum import Enum

import msgspec

from .reasons import Reason, Rejected, Rejection, invalid, reject
from .values import Command, Event, Query, Reply, Value

ANNOUNCEMENT_ID = re.compile(r"N[0-9]{6,}")
STATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")  # as engine.devices.STATION
MAX_TEXT_CHARS = 500  # a board shows a few lines; a longer text is a document, not a notice
MAX_STATIONS = 64
# An announcement runs at most 90 days: a standing notice is published again each season, so the
# board never shows something nobody remembers publishing.
MAX_SPAN_MS = 90 * 24 * 60 * 60 * 1000
# Withdrawn and ended announcements are kept (the log has them anyway); listing shows the newest.
MAX_LISTED = 200
EVERY_STATION = "*"


class AnnouncementKind(Enum):
    NOTICE = "notice"
    WEATHER = "weather"
    ROAD_CLOSURE = "road_closure"


KIND_BY_NAME = {kind.value: kind for kind in AnnouncementKind}


class Announcement(Value, frozen=False):
    announcement_id: str
    kind: AnnouncementKind
    text_zh: str
    text_en: str
    starts_at_ms: int
    ends_at_ms: int
    stations: tuple[str, ...]  # ("*",) for every station
    published_by: str  # the account that published it
    published_at_ms: int
    withdrawn_at_ms: int = 0  # 0: not withdrawn
    withdrawn_by: str = ""

    def in_effect(self, now_ms: int) -> bool:
        return not self.withdrawn_at_ms and self.starts_at_ms <= now_ms < self.ends_at_ms

    def shown_at(self, station: str) -> bool:
        return EVERY_STATION in self.stations or station in self.stations


class AnnouncementBook(Value, frozen=False):
    announcements: dict[str, Announcement] = msgspec.field(default_factory=dict)
    published: int = 0  # numbers announcement ids


def _request(value: str) -> None:
    from .commands import check_request_id  # the trip commands' rule for request ids

    check_request_id(value)


def _text(field_name: str, value: str, required: bool) -> None:
    if required and not value.strip():
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name}: the announcement's text", field=field_name))
    if len(value) > MAX_TEXT_CHARS:
        raise invalid(field_name, f"at most {MAX_TEXT_CHARS} characters")
    if any(ord(ch) < 32 and ch not in "\n" for ch in value):
        raise invalid(field_name, "no control characters")


def check_announcement_id(value: str) -> None:
    if not ANNOUNCEMENT_ID.fullmatch(value):
        raise invalid("announcement_id", "an announcement id like N000001")


def check_stations(stations: tuple[str, ...]) -> None:
    if not stations:
        raise Rejected(reject(Reason.MISSING_FIELD, "stations: one station code or more, or '*'", field="stations"))
    if len(stations) > MAX_STATIONS:
        raise invalid("stations", f"at most {MAX_STATIONS}")
    for code in stations:
        if code != EVERY_STATION and not STATION.fullmatch(code):
            raise invalid("stations", "station codes: 1 to 16 letters, digits, '_' or '-', or '*'")
    if len(set(stations)) != len(stations):
        raise invalid("stations", "a station named twice")


# ---------------------------------------------------------------------------------------------
# Commands, queries, events and replies.


class PublishAnnouncement(Value, Command):
    request_id: str
    kind: AnnouncementKind
    text_zh: str
    text_en: str
    starts_at_ms: int
    ends_at_ms: int
    stations: tuple[str, ...]
    account_id: str  # who publishes (set by the gateway from the caller)

    def __post_init__(self) -> None:
        _request(self.request_id)
        _text("text_zh", self.text_zh, required=True)
        _text("text_en", self.text_en, required=False)
        check_stations(self.stations)
        if self.starts_at_ms <= 0:
            raise invalid("starts_at", "a time after 1970")
        if not 0 < self.ends_at_ms - self.starts_at_ms <= MAX_SPAN_MS:
            raise invalid("ends_at", "after starts_at, by at most 90 days")


class WithdrawAnnouncement(Value, Command):
    request_id: str
    announcement_id: str
    account_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_announcement_id(self.announcement_id)


class ListAnnouncements(Value, Query):
    """Announcements for a station ("" for all), newest first; with `in_effect_at_ms`, only those
    in effect then (the board's feed), otherwise every one not ended before `now` minus a day."""

    station: str = ""
    in_effect_at_ms: int = 0
    include_past: bool = False

    def __post_init__(self) -> None:
        if self.station and not STATION.fullmatch(self.station):
            raise invalid("station", "1 to 16 letters, digits, '_' or '-'")
        if self.in_effect_at_ms < 0:
            raise invalid("at", "a time after 1970")


class AnnouncementPublished(Value, Event):
    announcement: Announcement


class AnnouncementWithdrawn(Value, Event):
    announcement_id: str
    account_id: str
    at_ms: int


class AnnouncementView(Value, Reply):
    announcement: Announcement


class AnnouncementsView(Value, Reply):
    announcements: tuple[Announcement, ...]


ANNOUNCEMENT_COMMANDS = (PublishAnnouncement, WithdrawAnnouncement)
ANNOUNCEMENT_QUERIES = (ListAnnouncements,)
ANNOUNCEMENT_EVENTS = (AnnouncementPublished, AnnouncementWithdrawn)


# ---------------------------------------------------------------------------------------------
# The rules.


def next_id(book: AnnouncementBook) -> str:
    return f"N{book.published + 1:06d}"


def _find(book: AnnouncementBook, announcement_id: str) -> Announcement | Rejection:
    found = book.announcements.get(announcement_id)
    if found is None:
        return reject(
            Reason.UNKNOWN_ANNOUNCEMENT, f"no announcement {announcement_id}", announcement_id=announcement_id
        )
    return found


def decide(book: AnnouncementBook, command: Command, now_ms: int) -> tuple[Event, ...] | Rejection:
    match command:
        case PublishAnnouncement(_, kind, text_zh, text_en, starts_at_ms, ends_at_ms, stations, account_id):
            if ends_at_ms <= now_ms:
                return reject(Reason.INVALID_FIELD, "ends_at: already past", field="ends_at")
            announcement = Announcement(
                next_id(book), kind, text_zh, text_en, starts_at_ms, ends_at_ms, stations, account_id, now_ms
            )
            return (AnnouncementPublished(announcement),)
        case WithdrawAnnouncement(_, announcement_id, account_id):
            found = _find(book, announcement_id)
            if isinstance(found, Rejection):
                return found
            return () if found.withdrawn_at_ms else (AnnouncementWithdrawn(announcement_id, account_id, now_ms),)
    raise AssertionError(f"not an announcement command: {command!r}")


def evolve(book: AnnouncementBook, event: Event) -> None:
    match event:
        case AnnouncementPublished(announcement):
            book.announcements[announcement.announcement_id] = msgspec.structs.replace(announcement)
            book.published += 1
        case AnnouncementWithdrawn(announcement_id, account_id, at_ms):
            found = book.announcements[announcement_id]
            found.withdrawn_at_ms, found.withdrawn_by = at_ms, account_id


def render(book: AnnouncementBook, command: Command, events: tuple[Event, ...]) -> AnnouncementView:
    match command:
        case PublishAnnouncement():
            announcement_id = events[0].announcement.announcement_id  # type: ignore[attr-defined]
        case WithdrawAnnouncement(_, announcement_id):
            pass
        case _:
            raise AssertionError(f"not an announcement command: {command!r}")
    return AnnouncementView(_frozen(book.announcements[announcement_id]))


def _frozen(announcement: Announcement) -> Announcement:
    """A copy: replies leave the owner and must not change with its state."""
    return msgspec.structs.replace(announcement)


def answer(book: AnnouncementBook, query: Query, now_ms: int) -> AnnouncementsView:
    assert isinstance(query, ListAnnouncements), f"not an announcement query: {query!r}"
    found = []
    for announcement in book.announcements.values():
        if query.station and not announcement.shown_at(query.station):
            continue
        if query.in_effect_at_ms:
            if not announcement.in_effect(query.in_effect_at_ms):
                continue
        elif not query.include_past and (announcement.withdrawn_at_ms or announcement.ends_at_ms <= now_ms):
            continue
        found.append(announcement)
    found.sort(key=lambda a: (a.starts_at_ms, a.announcement_id), reverse=True)
    return AnnouncementsView(tuple(_frozen(a) for a in found[:MAX_LISTED]))
