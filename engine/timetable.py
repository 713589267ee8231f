"""The network the station runs on, kept by the accounts owner so that the timetable rolls by itself.

Every network load (Dispatch/LoadNetwork) keeps the file's text here, as an event in the accounts
owner's write-ahead log (like the device registry and the announcements): it is replayed after a
restart and is in every backup.  The server's daily roll (gateway/timetable.py) reads it and makes
sure each schedule's trips exist for its advance-sale window.

A load may take effect from a later date (`effective_from`): the versions are kept side by side,
each from its date, and a trip's date picks the version in force on it.  A version that a later
one has replaced for every date from today is dropped.
"""

from __future__ import annotations

import re

import msgspec

from .reasons import invalid
from .values import Command, Event, Query, Reply, Value

REQUEST_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
MAX_TEXT_BYTES = 4 * 1024 * 1024  # as MAX_NETWORK_FILE_BYTES: the gateway checked it already


class KeptNetwork(Value):
    text: str  # the network file's text, as loaded
    effective_from: int  # date ordinal (local date) from which it is in force
    kept_at_ms: int
    account_id: str  # who loaded it ("" for the server's own demo load)


class TimetableBook(Value, frozen=False):
    versions: list[KeptNetwork] = msgspec.field(default_factory=list)  # by effective_from, oldest first
    loads: int = 0


class KeepNetwork(Value, Command):
    request_id: str
    text: str
    effective_from: int  # date ordinal
    today: int  # the server's local date, ordinal: versions replaced before it are dropped
    account_id: str

    def __post_init__(self) -> None:
        if not REQUEST_ID.fullmatch(self.request_id):
            raise invalid("request_id", "1 to 64 letters, digits or _.:-")
        if not self.text or len(self.text.encode()) > MAX_TEXT_BYTES:
            raise invalid("network_toml", f"1 to {MAX_TEXT_BYTES} bytes")
        if self.effective_from < self.today or self.today <= 0:
            raise invalid("effective_from", "today or later")


class GetKeptNetwork(Value, Query):
    pass


class NetworkKept(Value, Event):
    version: KeptNetwork
    today: int


class KeptNetworkView(Value, Reply):
    versions: tuple[KeptNetwork, ...]
    loads: int = 0


TIMETABLE_COMMANDS = (KeepNetwork,)
TIMETABLE_QUERIES = (GetKeptNetwork,)
TIMETABLE_EVENTS = (NetworkKept,)


def decide(book: TimetableBook, command: Command, now_ms: int) -> tuple[Event, ...]:
    assert isinstance(command, KeepNetwork), f"not a timetable command: {command!r}"
    latest = _in_force(book, command.effective_from)
    later = [v for v in book.versions if v.effective_from > command.effective_from]
    if latest is not None and latest.text == command.text and not later:
        return ()  # the same file again (the demo at every start): nothing to keep
    version = KeptNetwork(command.text, command.effective_from, now_ms, command.account_id)
    return (NetworkKept(version, command.today),)


def evolve(book: TimetableBook, event: Event) -> None:
    assert isinstance(event, NetworkKept), f"not a timetable event: {event!r}"
    new = event.version
    # A load from a date replaces whatever was to take effect on or after that date.
    versions = [v for v in book.versions if v.effective_from < new.effective_from] + [new]
    # Of the versions already in force today, only the latest still decides any date.
    in_force = [v for v in versions if v.effective_from <= event.today]
    book.versions = [v for v in versions if v.effective_from > event.today or v is in_force[-1]]
    book.loads += 1


def _in_force(book: TimetableBook, day: int) -> KeptNetwork | None:
    found = [v for v in book.versions if v.effective_from <= day]
    return found[-1] if found else None


def answer(book: TimetableBook, query: Query) -> KeptNetworkView:
    assert isinstance(query, GetKeptNetwork), f"not a timetable query: {query!r}"
    return KeptNetworkView(tuple(book.versions), book.loads)


def render(book: TimetableBook, command: Command, events: tuple[Event, ...]) -> KeptNetworkView:
    return KeptNetworkView(tuple(book.versions), book.loads)
