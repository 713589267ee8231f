"""One owner's engine: applies a batch of commands and queries at one `now`.

This is the whole sequential core an owner actor wraps.  It answers retries from its idempotency
window, decides, evolves, renders replies, and hands back the journal entries of the batch (the
commands that changed something, with their events, and the refused ones) for the shell to make
durable before replying.
It also keeps track of what changed since the last snapshot, so snapshots can be incremental.

A call the gateway sends as `Audited` carries its audit record: the engine fills in the outcome,
journals the record with the batch, and keeps it in its outbox until the shell reports that the
audit owner has it (engine/outbox.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast, final

from . import seat_plan  # noqa: F401  registers the seat plan's extra run (engine/decide._SCHEDULES)
from .commands import ArchiveTrips, SweepHolds, TripCommand, TripOwnerQuery, same_request
from .decide import TripStatus, archived, decide, segment_status
from .events import TripArchived, TripEvent
from .handheld import SettlementView
from .limits import IDEMPOTENCY_WINDOW, MAX_ARCHIVE, MAX_SWEEP
from .outbox import DETAIL_AT, TARGET_AT, AuditBacklog, Audited, AuditNote, AuditOutbox, with_value
from .policy import Policy
from .reasons import TRANSIENT, Reason, Rejection, reject
from .state import ShardState, TripRecord, check_invariants, evolve, restore_trip, trip_record
from .values import Journaled, Outcome, Query, Reply, Several, Value
from .views import ConflictedScanView, OrderView, answer, render


@final
class Entry(Value, Journaled):
    """A journal entry: a command that changed state, and the events it produced."""

    command: TripCommand
    events: tuple[TripEvent, ...]


@final
class Refusal(Value, Journaled):
    """A journal entry: a command the owner refused.  Journaled so that a retry with the same
    request id gets the same refusal after a restart too, not a fresh decision."""

    command: TripCommand
    rejection: Rejection
    events = ()  # not a field: a refusal changes nothing


def events_in(entries: Iterable[Entry | Refusal | AuditNote]) -> int:
    """How many events a batch's journal entries hold (refusals and audit notes hold none)."""
    return sum(len(entry.events) for entry in entries)


class Receipt(Value):
    """What the idempotency window keeps of a command: enough to answer its retry exactly.

    Events and `now` rather than the rendered reply: they are a fraction of its size, they are
    what the journal holds anyway, and `render` turns them back into the very same reply.
    """

    command: TripCommand
    if TYPE_CHECKING:  # what Several[Outcome] holds here
        outcome: tuple[TripEvent, ...] | Rejection
    else:
        outcome: Several[Outcome]  # its events, or its Rejection
    now_ms: int
    trip_status: TripStatus | None = None  # the trip's status right after the command, if it names one


@dataclass
class Changes:
    """What changed since the previous snapshot: trip records and the idempotency window's moves."""

    trips: list[TripRecord] = field(default_factory=list)
    # The engine's own collections, handed over whole (it starts new ones), so that taking the
    # changes costs the owner no copy of up to a whole idempotency window: request id -> (sequence, receipt).
    requests_added: dict[str, tuple[int, Receipt]] = field(default_factory=dict)
    requests_evicted: set[str] = field(default_factory=set)
    # The whole outbox (AuditRecord values), not a change.
    audit_outbox: list[tuple[Any, ...]] = field(default_factory=list)
    archived: list[TripRecord] = field(
        default_factory=list
    )  # the last records of trips archived since, to move to the archive


def complete_record(record: tuple[Any, ...], reply: Reply) -> tuple[Any, ...]:
    """A trip owner's call's audit record (AuditRecord values) completed from its reply, for calls
    sent Audited(from_reply=True): a new order is named as the target (only the owner knows its id)."""
    if type(reply) is OrderView:
        return with_value(record, TARGET_AT, reply.order_id)
    if type(reply) is ConflictedScanView:  # an uploaded offline scan not applied: the log says so
        first = f", first at gate {reply.first_gate_id}" if reply.first_gate_id else ""
        return with_value(record, DETAIL_AT, f"conflict {reply.reason}: offline scan at gate {reply.gate_id}{first}")
    if type(reply) is SettlementView:  # offline sales issued to a document that held a ticket: the log says so
        conflicts = [
            f"sale {line.sale_id} ({line.ticket_id}, document {line.document_masked}) "
            f"already held {line.document_conflict}"
            for line in reply.lines
            if line.document_conflict and not line.already
        ]
        if conflicts:
            return with_value(record, DETAIL_AT, "conflict DOCUMENT_HAS_TICKET: " + "; ".join(conflicts))
    return record


class ShardEngine:
    def __init__(self, policy: Policy | None = None, check: bool = False):
        self.state = ShardState()
        self.policy = policy or Policy()
        self.check = check  # assert the invariants after every batch (tests and debug runs)
        self.last_now = 0
        self.recent: OrderedDict[str, Receipt] = OrderedDict()
        self.remembered = 0  # numbers remembered requests, so a snapshot keeps their order
        self.dirty_trips: set[str] = set()
        self.requests_added: dict[str, tuple[int, Receipt]] = {}
        self.requests_evicted: set[str] = set()
        self.archiving: dict[str, TripRecord] = {}  # trip id -> its last record, archived since the last snapshot
        # Audit records journaled here that the audit owner may not have yet; the owner's shell
        # sends them on and reports which arrived (audit_outbox.delivered).
        self.audit_outbox = AuditOutbox()

    def execute(
        self, batch: list[TripCommand | TripOwnerQuery | Audited], now: int
    ) -> tuple[list[Reply | Rejection | AuditBacklog], list[Entry | Refusal | AuditNote]]:
        """Apply a batch at `now`; return a reply per item and the entries to journal."""
        now = max(now, self.last_now)  # time never runs backwards inside one owner
        self.last_now = now
        entries: list[Entry | Refusal | AuditNote] = []
        self._command(SweepHolds(MAX_SWEEP), now, entries)
        self._command(ArchiveTrips(MAX_ARCHIVE), now, entries)

        def apply(item: Any) -> Reply | Rejection:
            return self._apply(item, now, entries)

        # Plain items are applied in line, not through the function the outbox needs: two calls fewer each.
        command, state, policy = self._command, self.state, self.policy
        replies = [
            self.audit_outbox.answer(item, apply, entries, complete_record)
            if type(item) is Audited
            else answer(state, item, now, policy)
            if isinstance(item, Query)
            else command(item, now, entries)
            for item in batch
        ]
        if self.check:
            check_invariants(self.state)
        return replies, entries

    def replay(self, now: int, entries: Sequence[Entry | Refusal | AuditNote]) -> None:
        """Rebuild state, the idempotency window and the audit outbox from journaled entries of one batch."""
        self.last_now = max(now, self.last_now)
        for entry in entries:
            if type(entry) is AuditNote:
                self.audit_outbox.replay(entry)
                continue
            if type(entry) is Refusal:
                self._remember(Receipt(entry.command, entry.rejection, now))
                continue
            self._evolve(entry.events)
            self._remember(Receipt(entry.command, entry.events, now, self._trip_status(entry.command, now)))

    def restore(
        self,
        now: int,
        trips: list[TripRecord],
        requests: list[tuple[int, str, Receipt]],
        audit_outbox: Iterable[tuple[Any, ...]] = (),
        archived: Iterable[str] = (),
    ) -> None:
        """Start from a snapshot: its trip records, remembered requests (oldest first), audit outbox
        and the ids of the trips it archived."""
        self.last_now = now
        for record in trips:
            restore_trip(self.state, record)
        self.state.archived = set(archived)
        for sequence, request_id, receipt in requests:
            self.recent[request_id] = receipt
            self.remembered = sequence
        self.audit_outbox = AuditOutbox(audit_outbox)

    def answer_retry(self, request_id: str) -> Reply | Rejection | None:
        """The original reply to a remembered request, or None."""
        receipt = self.recent.get(request_id)
        if receipt is None:
            return None
        if isinstance(receipt.outcome, Rejection):
            return receipt.outcome
        if receipt.command.trip_id in self.state.archived:
            return archived(receipt.command.trip_id)  # its reply would show a trip no longer here
        return render(self.state, receipt.command, receipt.outcome, receipt.now_ms, self.policy, receipt.trip_status)

    def take_changes(self) -> Changes:
        """What changed since the last call, for an incremental snapshot."""
        changes = Changes(
            trips=[trip_record(self.state.trips[trip_id]) for trip_id in sorted(self.dirty_trips)],
            requests_added=self.requests_added,
            requests_evicted=self.requests_evicted,
            audit_outbox=self.audit_outbox.values(),
            archived=list(self.archiving.values()),
        )
        self.dirty_trips, self.requests_added, self.requests_evicted, self.archiving = set(), {}, set(), {}
        return changes

    def _apply(
        self, item: TripCommand | TripOwnerQuery, now: int, entries: list[Entry | Refusal | AuditNote]
    ) -> Reply | Rejection:
        return (
            answer(self.state, item, now, self.policy) if isinstance(item, Query) else self._command(item, now, entries)
        )

    def _command(self, command: TripCommand, now: int, entries: list[Entry | Refusal | AuditNote]) -> Reply | Rejection:
        if command.request_id:
            seen = self.recent.get(command.request_id)
            if seen is not None:
                if not same_request(seen.command, command):
                    return reject(
                        Reason.REQUEST_ID_REUSED, f"request_id {command.request_id} was used for a different request"
                    )
                return cast("Reply | Rejection", self.answer_retry(command.request_id))  # remembered: not None
        outcome = decide(self.state, command, now, self.policy)
        if isinstance(outcome, Rejection):
            if outcome.reason in TRANSIENT:
                return outcome  # "not now": the retry is decided afresh (reasons.TRANSIENT)
            if command.request_id:
                entries.append(Refusal(command, outcome))
            self._remember(Receipt(command, outcome, now))
            return outcome
        self._evolve(outcome)
        status = self._trip_status(command, now)
        if outcome:
            entries.append(Entry(command, outcome))
        self._remember(Receipt(command, outcome, now, status))
        return render(self.state, command, outcome, now, self.policy, status)

    def _trip_status(self, command: TripCommand, now: int) -> TripStatus | None:
        trip = self.state.trips.get(command.trip_id)
        return segment_status(trip, 0, now, self.policy) if trip is not None else None

    def _evolve(self, events: tuple[TripEvent, ...]) -> None:
        for event in events:
            if type(event) is TripArchived:  # its last record goes to the archive at the next snapshot
                self.archiving[event.trip_id] = trip_record(self.state.trips[event.trip_id])
                evolve(self.state, event)
                self.dirty_trips.discard(event.trip_id)
                continue
            evolve(self.state, event)
            self.dirty_trips.add(event.trip_id)

    def _remember(self, receipt: Receipt) -> None:
        rid = receipt.command.request_id
        if not rid:
            return
        self.remembered += 1
        self.recent[rid] = receipt
        self.requests_added[rid] = (self.remembered, receipt)
        self.requests_evicted.discard(rid)
        if len(self.recent) > IDEMPOTENCY_WINDOW:
            oldest, _ = self.recent.popitem(last=False)
            self.requests_added.pop(oldest, None)
            self.requests_evicted.add(oldest)
