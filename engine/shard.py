"""One owner's engine: applies a batch of commands and queries at one `now`.

This is the whole sequential core an owner actor wraps.  It answers retries from its idempotency
window, decides, evolves, renders replies, and hands back the journal entries of the batch (the
commands that changed something, with their events) for the shell to make durable before replying.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from .commands import Command, Query, SearchTrips, GetManifest, GetSeatMap, GetTicket, GetTrip, ListStations, SweepHolds
from .decide import decide
from .events import Event
from .limits import IDEMPOTENCY_WINDOW, MAX_SWEEP
from .policy import Policy
from .reasons import Reason, Rejection, reject
from .state import ShardState, check_invariants, evolve
from .views import Reply, answer, render

QUERIES = (SearchTrips, GetTrip, GetSeatMap, GetTicket, GetManifest, ListStations)


@dataclass(frozen=True, slots=True)
class Entry:
    """A journal entry: a command that changed state, and the events it produced."""

    command: Command
    events: tuple[Event, ...]


class ShardEngine:
    def __init__(self, policy: Policy | None = None, check: bool = False):
        self.state = ShardState()
        self.policy = policy or Policy()
        self.check = check  # assert the invariants after every batch (tests and debug runs)
        self.last_now = 0
        self.recent: OrderedDict[str, tuple[Command, Reply | Rejection]] = OrderedDict()

    def execute(self, batch: list[Command | Query], now: int) -> tuple[list[Reply | Rejection], list[Entry]]:
        """Apply a batch at `now`; return a reply per item and the entries to journal."""
        now = max(now, self.last_now)  # time never runs backwards inside one owner
        self.last_now = now
        entries: list[Entry] = []
        self._command(SweepHolds(MAX_SWEEP), now, entries)
        replies = [
            answer(self.state, item, now, self.policy) if isinstance(item, QUERIES) else self._command(item, now, entries)
            for item in batch
        ]
        if self.check:
            check_invariants(self.state)
        return replies, entries

    def replay(self, now: int, entries: list[Entry]) -> None:
        """Rebuild state and the idempotency window from journaled entries of one batch."""
        self.last_now = max(now, self.last_now)
        for entry in entries:
            for event in entry.events:
                evolve(self.state, event)
            self._remember(entry.command, render(self.state, entry.command, entry.events, now, self.policy))

    def _command(self, command: Command, now: int, entries: list[Entry]) -> Reply | Rejection:
        if command.request_id:
            seen = self.recent.get(command.request_id)
            if seen is not None:
                earlier, reply = seen
                if earlier != command:
                    return reject(Reason.REQUEST_ID_REUSED, f"request_id {command.request_id} was used for a different request")
                return reply
        outcome = decide(self.state, command, now, self.policy)
        if isinstance(outcome, Rejection):
            reply: Reply | Rejection = outcome
        else:
            for event in outcome:
                evolve(self.state, event)
            reply = render(self.state, command, outcome, now, self.policy)
            if outcome:
                entries.append(Entry(command, outcome))
        self._remember(command, reply)
        return reply

    def _remember(self, command: Command, reply: Reply | Rejection) -> None:
        if not command.request_id:
            return
        self.recent[command.request_id] = (command, reply)
        if len(self.recent) > IDEMPOTENCY_WINDOW:
            self.recent.popitem(last=False)
