"""Station rules changed at runtime: policy files scheduled from a stated time (docs/operations.md).

The `--policy` file read at start is the base.  A system administrator may schedule another policy
file from a later time (StationRules/ScheduleStationRules): the change is an event in the accounts
owner's write-ahead log, hosted here like the timetable, so it is replayed after a restart and is in
every backup.  Every trip owner reads the schedule from the accounts owner when it starts and is
sent it again after each change, and decides each command by the rules in force at the command's
time (`policy_at`).

Precedence: a change scheduled later wins from its time.  It replaces the changes that were to take
effect at or after its time; those before it keep their place.
"""

from __future__ import annotations

import msgspec

from .commands import check_request_id
from .policy import Policy
from .reasons import Reason, Rejection, invalid, reject
from .values import Command, Event, Query, Reply, Value

MAX_RULES_TEXT_BYTES = 64 * 1024  # a policy file is a few hundred bytes


class ScheduledRules(Value):
    effective_at_ms: int  # in force from this time
    toml_text: str  # the policy file, as the administrator sent it
    policy: Policy  # ...parsed and validated exactly like the file at start
    scheduled_at_ms: int
    account_id: str  # who scheduled it


class StationRulesBook(Value, frozen=False):
    changes: list[ScheduledRules] = msgspec.field(default_factory=list)  # by effective_at_ms, oldest first
    version: int = 0  # how many changes were ever scheduled: trip owners keep the newest list they are sent


class ScheduleStationRules(Value, Command):
    request_id: str
    toml_text: str
    policy: Policy
    effective_at_ms: int
    account_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        if not self.toml_text.strip() or len(self.toml_text.encode()) > MAX_RULES_TEXT_BYTES:
            raise invalid("toml_text", f"a policy file of 1 to {MAX_RULES_TEXT_BYTES} bytes")


class GetStationRules(Value, Query):
    pass


class StationRulesScheduled(Value, Event):
    change: ScheduledRules


class StationRulesView(Value, Reply):
    changes: tuple[ScheduledRules, ...]
    version: int = 0


STATION_RULES_COMMANDS = (ScheduleStationRules,)
STATION_RULES_QUERIES = (GetStationRules,)
STATION_RULES_EVENTS = (StationRulesScheduled,)


def decide(book: StationRulesBook, command: Command, now_ms: int) -> tuple[Event, ...] | Rejection:
    assert isinstance(command, ScheduleStationRules), f"not a station rules command: {command!r}"
    if command.effective_at_ms <= now_ms:
        # A decision already made by the old rules must stay made by them.
        return reject(
            Reason.STATION_RULES_IN_PAST,
            "effective_at: the new rules must take effect later than now",
            field="effective_at",
        )
    change = ScheduledRules(command.effective_at_ms, command.toml_text, command.policy, now_ms, command.account_id)
    return (StationRulesScheduled(change),)


def evolve(book: StationRulesBook, event: Event) -> None:
    assert isinstance(event, StationRulesScheduled), f"not a station rules event: {event!r}"
    new = event.change
    changes = [c for c in book.changes if c.effective_at_ms < new.effective_at_ms] + [new]
    # Of the changes already in force when this one was scheduled, only the latest still decides.
    in_force = [c for c in changes if c.effective_at_ms <= new.scheduled_at_ms]
    book.changes = [c for c in changes if c.effective_at_ms > new.scheduled_at_ms or c is in_force[-1]]
    book.version += 1


def answer(book: StationRulesBook, query: Query) -> StationRulesView:
    assert isinstance(query, GetStationRules), f"not a station rules query: {query!r}"
    return StationRulesView(tuple(book.changes), book.version)


def render(book: StationRulesBook, command: Command, events: tuple[Event, ...]) -> StationRulesView:
    return StationRulesView(tuple(book.changes), book.version)


def policy_at(base: Policy, changes: tuple[ScheduledRules, ...] | list[ScheduledRules], now_ms: int) -> Policy:
    """The rules in force at `now_ms`: the latest change in force by then, else the base file's."""
    in_force = [c for c in changes if c.effective_at_ms <= now_ms]
    return in_force[-1].policy if in_force else base
