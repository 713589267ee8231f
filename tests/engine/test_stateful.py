"""A Hypothesis state machine drives a checking ShardEngine against a tiny reference model.

The model keeps who owns each seat-leg ((trip, seat label, leg) -> hold or ticket id), the holds and
tickets, and which trips left or were cancelled.  It predicts each command's outcome (success or the
rejection reason) from the station rules written out plainly, and after every step the engine's
seat maps, holds and tickets must match it.  Replaying the journal so far into a fresh engine must
rebuild the same state and the same remembered replies.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from keyun.engine import commands as c
from keyun.engine.commands import SweepHolds
from keyun.engine.events import HoldExpired
from keyun.engine.network import AISLE
from keyun.engine.policy import HOUR_MS, MINUTE_MS, Policy
from keyun.engine.reasons import Reason, Rejection
from keyun.engine.shard import ShardEngine
from keyun.engine.state import TicketStatus
from keyun.engine.views import HoldView, ReleasedView, TicketsView, TicketView, TripView

from .conftest import DEPARTS_MS, MINI_ROWS, NOW, STOPS, trip_specs

POLICY = Policy()
SPECS = {spec.trip_id: spec for spec in trip_specs(rows=MINI_ROWS, days=1)}  # 08:00 and 14:00
TRIPS = sorted(SPECS)
SEATS = [label for row in MINI_ROWS for label in row if label != AISLE]
SEGMENTS = [(i, j) for i in range(len(STOPS)) for j in range(i + 1, len(STOPS))]
LEGS = range(len(STOPS) - 1)


def departs(trip_id: str, stop: int) -> int:
    spec = SPECS[trip_id]
    return spec.departs_at_ms + spec.stops[stop].offset_min * MINUTE_MS


def runs_in_rows(count: int, free: set[str]) -> list[tuple[str, ...]]:
    """Every run of `count` free seats side by side (no aisle between) in one row."""
    runs = []
    for row in MINI_ROWS:
        for start in range(len(row) - count + 1):
            window = row[start : start + count]
            if all(label != AISLE and label in free for label in window):
                runs.append(tuple(window))
    return runs


@dataclass
class ModelHold:
    trip_id: str
    labels: tuple[str, ...]
    from_stop: int
    to_stop: int
    fare_fen: int
    expires_at_ms: int


@dataclass
class ModelTicket:
    trip_id: str
    label: str
    from_stop: int
    to_stop: int
    price_fen: int
    status: TicketStatus = TicketStatus.ISSUED
    gate_id: str = ""
    checked_in_at_ms: int = 0
    fee_fen: int = 0


@dataclass
class Model:
    owner: dict[tuple[str, str, int], str] = field(default_factory=dict)  # (trip, seat, leg) -> hold/ticket id
    holds: dict[str, ModelHold] = field(default_factory=dict)
    expired: dict[str, int] = field(default_factory=dict)  # hold id -> expires_at_ms
    closed: set[str] = field(default_factory=set)  # confirmed or released hold ids
    holds_placed: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, ModelTicket] = field(default_factory=dict)
    departed: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)

    def free(self, trip_id: str, label: str, i: int, j: int) -> bool:
        return all((trip_id, label, leg) not in self.owner for leg in range(i, j))

    def take(self, trip_id: str, label: str, i: int, j: int, who: str) -> None:
        for leg in range(i, j):
            assert (trip_id, label, leg) not in self.owner
            self.owner[(trip_id, label, leg)] = who

    def give_back(self, trip_id: str, label: str, i: int, j: int, who: str) -> None:
        for leg in range(i, j):
            assert self.owner.pop((trip_id, label, leg)) == who

    def drop_hold(self, hold_id: str) -> ModelHold:
        hold = self.holds.pop(hold_id)
        for label in hold.labels:
            self.give_back(hold.trip_id, label, hold.from_stop, hold.to_stop, hold_id)
        return hold

    # The station rules, written out plainly.

    def gone(self, trip_id: str, stop: int, now: int) -> bool:
        return (stop == 0 and trip_id in self.departed) or now > departs(trip_id, stop) + POLICY.boarding_closes_ms

    def sales_refusal(self, trip_id: str, stop: int, now: int) -> Reason | None:
        if trip_id in self.cancelled:
            return Reason.TRIP_CANCELLED
        if self.gone(trip_id, stop, now) or now >= departs(trip_id, stop) - POLICY.sales_close_ms:
            return Reason.SALES_CLOSED
        return None

    def hold_refusal(self, hold_id: str) -> Reason | None:
        if hold_id in self.holds:
            return None
        if hold_id in self.expired:
            return Reason.HOLD_EXPIRED
        if hold_id in self.closed:
            return Reason.HOLD_CLOSED
        return Reason.UNKNOWN_HOLD

    def refund_fee(self, ticket: ModelTicket, now: int) -> Reason | int:
        if ticket.status is TicketStatus.REFUNDED:
            return Reason.ALREADY_REFUNDED
        if ticket.trip_id in self.cancelled:
            return 0  # the station cancelled: everyone gets everything back, boarded or not
        if ticket.status is TicketStatus.CHECKED_IN:
            return Reason.TICKET_CHECKED_IN
        before = departs(ticket.trip_id, ticket.from_stop) - now
        if self.gone(ticket.trip_id, ticket.from_stop, now) or before <= 0:
            return Reason.REFUND_NOT_ALLOWED
        percent = 10 if before > 2 * HOUR_MS else 20
        return (ticket.price_fen * percent * 100 + 5000) // 10_000

    def check_in_refusal(self, ticket: ModelTicket, now: int) -> Reason | None:
        if ticket.status is TicketStatus.REFUNDED:
            return Reason.ALREADY_REFUNDED
        if ticket.status is TicketStatus.CHECKED_IN:
            return Reason.ALREADY_CHECKED_IN
        if ticket.trip_id in self.cancelled:
            return Reason.TRIP_CANCELLED
        if self.gone(ticket.trip_id, ticket.from_stop, now):
            return Reason.BOARDING_CLOSED
        if now < departs(ticket.trip_id, ticket.from_stop) - POLICY.boarding_opens_ms:
            return Reason.NOT_YET_BOARDING
        return None


def fare(trip_id: str, i: int, j: int) -> int:
    return {(a, b): fen for a, b, fen in SPECS[trip_id].fares}[(i, j)]


trips = st.sampled_from(TRIPS)
segments = st.sampled_from(SEGMENTS)
ttls = st.sampled_from([1000, 60_000, 10 * MINUTE_MS, 30 * MINUTE_MS])
steps = st.sampled_from([1000, 59_000, 4 * MINUTE_MS, 10 * MINUTE_MS, 30 * MINUTE_MS, HOUR_MS, 3 * HOUR_MS])
seat_choice = st.one_of(
    st.integers(1, len(SEATS) + 1).map(lambda n: ((), n)),
    st.lists(st.sampled_from(SEATS), min_size=1, max_size=4, unique=True).map(lambda labels: (tuple(labels), 0)),
)


class Inventory(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = ShardEngine(policy=POLICY, check=True)
        self.model = Model()
        self.journal: list[tuple[int, list]] = []
        self.journaled: set[str] = set()  # request ids whose command was journaled
        self.history: list[tuple[object, object]] = []  # (command, reply) for retries
        self.originals: dict[str, tuple[object, object]] = {}  # request id -> (command, first reply)
        self.now = NOW
        self.n = 0

    # --- driving ---------------------------------------------------------------------------------

    def rid(self) -> str:
        self.n += 1
        return f"q{self.n}"

    def execute(self, batch: list, now: int | None = None) -> list:
        """Run a batch at self.now, after the model sweeps what the engine should sweep."""
        self.now = now if now is not None else self.now
        due = sorted(
            (h.expires_at_ms, h.trip_id, hold_id)
            for hold_id, h in self.model.holds.items()
            if h.expires_at_ms <= self.now
        )
        replies, entries = self.engine.execute(batch, self.now)
        self.journal.append((self.now, entries))
        for item, reply in zip(batch, replies):
            if getattr(item, "request_id", "") and item.request_id not in self.originals:
                self.originals[item.request_id] = (item, reply)
        swept = [e for e in entries if isinstance(e.command, SweepHolds)]
        if due:
            assert swept and swept[0] is entries[0], "the sweep runs first"
            assert swept[0].events == tuple(HoldExpired(trip_id, hold_id) for _, trip_id, hold_id in due)
        else:
            assert not swept
        for _, _, hold_id in due:
            self.model.expired[hold_id] = self.model.drop_hold(hold_id).expires_at_ms
        for entry in entries:
            if entry.command.request_id:
                self.journaled.add(entry.command.request_id)
        return replies

    def command(self, command, expected: Reason | None):
        (reply,) = self.execute([command])
        self.history.append((command, reply))
        event(f"{type(command).__name__}: {reply.reason.name if isinstance(reply, Rejection) else 'ok'}")
        if expected is None:
            assert not isinstance(reply, Rejection), (command, reply)
        else:
            assert isinstance(reply, Rejection), (command, reply, expected)
            assert reply.reason is expected, (command, reply, expected)
        return reply

    # --- rules -----------------------------------------------------------------------------------

    # Start a day ahead, a few hours ahead (refund tiers change), or just before boarding opens.
    @initialize(start=st.sampled_from([NOW, DEPARTS_MS - 3 * HOUR_MS, DEPARTS_MS - 70 * MINUTE_MS]))
    def schedule(self, start):
        replies = self.execute([c.ScheduleTrip(f"s-{trip_id}", SPECS[trip_id]) for trip_id in TRIPS], start)
        assert all(reply.created for reply in replies)
        self.model.holds_placed = {trip_id: 0 for trip_id in TRIPS}

    @rule(trip_id=trips, segment=segments, seats=seat_choice, ttl_ms=ttls)
    def place_hold(self, trip_id, segment, seats, ttl_ms):
        self.claim(c.PlaceHold(self.rid(), trip_id, STOPS[segment[0]], STOPS[segment[1]], seats[0], seats[1], ttl_ms))

    @rule(trip_id=trips, segment=segments, seats=seat_choice)
    def sell(self, trip_id, segment, seats):
        self.claim(c.Sell(self.rid(), trip_id, STOPS[segment[0]], STOPS[segment[1]], seats[0], seats[1]))

    def claim(self, command: c.PlaceHold | c.Sell) -> None:
        m, trip_id = self.model, command.trip_id
        i, j = STOPS.index(command.from_station), STOPS.index(command.to_station)
        self.nothing_due()
        free = [label for label in SEATS if m.free(trip_id, label, i, j)]
        expected = m.sales_refusal(trip_id, i, self.now)
        if expected is None:
            if command.seat_numbers:
                if any(label not in free for label in command.seat_numbers):
                    expected = Reason.SEAT_TAKEN
            elif command.seat_count > len(free):
                expected = Reason.NOT_ENOUGH_SEATS
        reply = self.command(command, expected)
        if expected is not None:
            if expected is Reason.NOT_ENOUGH_SEATS:
                assert reply.fact("seats_free") == str(len(free))
            return
        if isinstance(command, c.PlaceHold):
            assert isinstance(reply, HoldView)
            chosen = reply.seat_labels
            m.holds_placed[trip_id] += 1
            assert reply.hold_id == f"{trip_id}-H{m.holds_placed[trip_id]}"
            assert reply.expires_at_ms == self.now + command.ttl_ms and reply.fare_fen == fare(trip_id, i, j)
            m.holds[reply.hold_id] = ModelHold(trip_id, chosen, i, j, reply.fare_fen, reply.expires_at_ms)
            for label in chosen:
                m.take(trip_id, label, i, j, reply.hold_id)
        else:
            assert isinstance(reply, TicketsView)
            chosen = tuple(t.seat_label for t in reply.tickets)
            self.issue(reply, trip_id, i, j, fare(trip_id, i, j))
        if command.seat_numbers:
            assert chosen == command.seat_numbers
        else:
            assert len(chosen) == command.seat_count and set(chosen) <= set(free)
            runs = runs_in_rows(command.seat_count, set(free))
            if runs:  # together in one row whenever some row has room
                assert chosen == runs[0], (chosen, runs)

    def issue(self, reply: TicketsView, trip_id: str, i: int, j: int, price_fen: int) -> None:
        for ticket in reply.tickets:
            assert ticket.ticket_id not in self.model.tickets
            assert ticket.price_fen == price_fen and (ticket.from_stop.code, ticket.to_stop.code) == (
                STOPS[i],
                STOPS[j],
            )
            assert ticket.status is TicketStatus.ISSUED and ticket.issued_at_ms == self.now
            self.model.tickets[ticket.ticket_id] = ModelTicket(trip_id, ticket.seat_label, i, j, price_fen)
            self.model.take(trip_id, ticket.seat_label, i, j, ticket.ticket_id)

    def hold_ids(self):
        """Mostly holds placed so far (live, expired or closed), sometimes one not placed yet."""
        m = self.model
        known = sorted(set(m.holds) | set(m.expired) | m.closed)
        unknown = st.sampled_from([f"{trip_id}-H{m.holds_placed[trip_id] + 1}" for trip_id in TRIPS])
        live = sorted(m.holds)
        return st.one_of(st.sampled_from(live or known), st.sampled_from(known), unknown)

    def ticket_ids(self):
        """Any ticket, or one that can board now, or one that has boarded, or one never issued."""
        m = self.model
        tickets = sorted(m.tickets)
        boardable = [tid for tid in tickets if m.check_in_refusal(m.tickets[tid], self.now) is None]
        boarded = [tid for tid in tickets if m.tickets[tid].status is TicketStatus.CHECKED_IN]
        choices = [st.sampled_from(tickets)] * 2 + [st.sampled_from(ids) for ids in (boardable, boarded) if ids]
        return st.one_of(*choices, st.just(f"{TRIPS[0]}-9999"))

    def has_holds(self) -> bool:
        return bool(self.model.holds or self.model.expired or self.model.closed)

    @precondition(has_holds)
    @rule(data=st.data())
    def confirm(self, data):
        hold_id = data.draw(self.hold_ids())
        m = self.model
        self.nothing_due()
        expected = m.hold_refusal(hold_id)
        hold = m.holds.get(hold_id)
        if expected is None:
            expected = m.sales_refusal(hold.trip_id, hold.from_stop, self.now)
        reply = self.command(c.ConfirmHold(self.rid(), hold_id), expected)
        if expected is None:
            m.drop_hold(hold_id)
            m.closed.add(hold_id)
            assert tuple(t.seat_label for t in reply.tickets) == hold.labels
            self.issue(reply, hold.trip_id, hold.from_stop, hold.to_stop, hold.fare_fen)

    @precondition(has_holds)
    @rule(data=st.data())
    def release(self, data):
        hold_id = data.draw(self.hold_ids())
        self.nothing_due()
        expected = self.model.hold_refusal(hold_id)
        reply = self.command(c.ReleaseHold(self.rid(), hold_id), expected)
        if expected is None:
            assert reply == ReleasedView(hold_id)
            self.model.drop_hold(hold_id)
            self.model.closed.add(hold_id)

    def nothing_due(self) -> None:
        """Every batch sweeps first and time only moves in batches, so no live hold is past its time."""
        assert all(h.expires_at_ms > self.now for h in self.model.holds.values())

    @precondition(lambda self: self.model.tickets)
    @rule(data=st.data())
    def refund(self, data):
        ticket_id = data.draw(self.ticket_ids())
        ticket = self.model.tickets.get(ticket_id)
        outcome = Reason.UNKNOWN_TICKET if ticket is None else self.model.refund_fee(ticket, self.now)
        reply = self.command(c.Refund(self.rid(), ticket_id), outcome if isinstance(outcome, Reason) else None)
        if isinstance(outcome, Reason):
            return
        assert isinstance(reply, TicketView) and reply.status is TicketStatus.REFUNDED
        assert (reply.refund_fee_fen, reply.refunded_fen) == (outcome, ticket.price_fen - outcome)
        ticket.status, ticket.fee_fen = TicketStatus.REFUNDED, outcome
        self.model.give_back(ticket.trip_id, ticket.label, ticket.from_stop, ticket.to_stop, ticket_id)

    @precondition(lambda self: self.model.tickets)
    @rule(data=st.data(), gate_id=st.sampled_from(["east-1", "west-2"]))
    def check_in(self, data, gate_id):
        ticket_id = data.draw(self.ticket_ids())
        ticket = self.model.tickets.get(ticket_id)
        expected = Reason.UNKNOWN_TICKET if ticket is None else self.model.check_in_refusal(ticket, self.now)
        reply = self.command(c.CheckIn(self.rid(), ticket_id, gate_id), expected)
        if expected is Reason.ALREADY_CHECKED_IN:
            assert reply.fact("gate_id") == ticket.gate_id
            assert reply.fact("checked_in_at_ms") == str(ticket.checked_in_at_ms)
        if expected is None:
            assert reply.status is TicketStatus.CHECKED_IN and reply.gate_id == gate_id
            ticket.status, ticket.gate_id, ticket.checked_in_at_ms = TicketStatus.CHECKED_IN, gate_id, self.now

    # Dispatch marks a coach gone around its departure time, not hours ahead.
    @precondition(lambda self: self.now >= DEPARTS_MS - 30 * MINUTE_MS)
    @rule(trip_id=trips)
    def depart(self, trip_id):
        if trip_id in self.model.cancelled:
            expected = Reason.TRIP_CANCELLED
        elif self.now < departs(trip_id, 0) - Policy().boarding_opens_ms:
            expected = Reason.NOT_YET_BOARDING
        else:
            expected = None
        reply = self.command(c.DepartTrip(self.rid(), trip_id), expected)
        if expected is None:
            assert isinstance(reply, TripView) and reply.trip_id == trip_id
            self.model.departed.add(trip_id)

    # Cancel one trip at most, after some trading, so the other trip keeps selling.
    @precondition(lambda self: len(self.history) >= 8 and not self.model.cancelled)
    @rule(trip_id=trips)
    def cancel(self, trip_id):
        m = self.model
        # Cancelling a cancelled trip is a no-op whatever the time; otherwise not once it has left.
        gone = trip_id in m.departed or self.now > departs(trip_id, 0) + POLICY.boarding_closes_ms
        expected = Reason.TRIP_DEPARTED if gone and trip_id not in m.cancelled else None
        self.command(c.CancelTrip(self.rid(), trip_id), expected)
        if expected is None:
            m.cancelled.add(trip_id)

    @rule(step=steps)
    def advance_time(self, step):
        self.execute([], self.now + step)

    @precondition(lambda self: self.history)
    @rule(data=st.data())
    def retry(self, data):
        """A retried request gets the very same reply and changes nothing (apart from the sweep)."""
        command, reply = data.draw(st.sampled_from(self.history))
        self.nothing_due()
        before = copy.deepcopy(self.engine.state)
        (again,) = self.execute([command])
        assert again == reply
        assert self.engine.state == before
        assert self.journal[-1][1] == []

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def seat_maps_match_the_model(self):
        if not self.engine.state.trips:
            return
        queries = [c.GetSeatMap(trip_id, STOPS[i], STOPS[j]) for trip_id in TRIPS for i, j in SEGMENTS]
        replies = self.execute(queries)
        m = self.model
        for query, seat_map in zip(queries, replies):
            i, j = STOPS.index(query.from_station), STOPS.index(query.to_station)
            free = {seat.label for row in seat_map.rows for seat in row if seat.label != AISLE and seat.free}
            assert free == {label for label in SEATS if m.free(query.trip_id, label, i, j)}, query
            assert seat_map.seats_free == len(free)

    @invariant()
    def holds_and_tickets_match_the_model(self):
        m = self.model
        holds = {hold_id: hold for trip in self.engine.state.trips.values() for hold_id, hold in trip.holds.items()}
        assert set(holds) == set(m.holds)
        for hold_id, hold in holds.items():
            trip = self.engine.state.trips[m.holds[hold_id].trip_id]
            assert tuple(trip.seat_labels[s] for s in hold.seats) == m.holds[hold_id].labels
            assert hold.expires_at_ms == m.holds[hold_id].expires_at_ms
        tickets = {tid: t for trip in self.engine.state.trips.values() for tid, t in trip.tickets.items()}
        assert set(tickets) == set(m.tickets)
        for ticket_id, ticket in tickets.items():
            expected = m.tickets[ticket_id]
            assert ticket.status is expected.status and ticket.refund_fee_fen == expected.fee_fen
            assert ticket.refund_fee_fen + ticket.refunded_fen == (
                ticket.price_fen if ticket.status is TicketStatus.REFUNDED else 0
            )

    @invariant()
    def every_leg_adds_up(self):
        """held + sold + free = capacity on every leg, and no seat-leg is held or sold twice."""
        for trip_id, trip in self.engine.state.trips.items():
            for leg in LEGS:
                held = [s for h in trip.holds.values() if h.from_stop <= leg < h.to_stop for s in h.seats]
                sold = [
                    t.seat
                    for t in trip.tickets.values()
                    if t.status is not TicketStatus.REFUNDED and t.from_stop <= leg < t.to_stop
                ]
                free = [s for s, bits in enumerate(trip.occupied) if not bits >> leg & 1]
                assert len(set(held + sold + free)) == len(held) + len(sold) + len(free) == len(SEATS), (trip_id, leg)
                owners = [who for (t, _, on_leg), who in self.model.owner.items() if t == trip_id and on_leg == leg]
                assert len(owners) == len(held) + len(sold)

    @invariant()
    def replay_rebuilds_the_same_engine(self):
        replayed = ShardEngine(policy=POLICY, check=True)
        for now, entries in self.journal:
            replayed.replay(now, entries)
        assert replayed.state.trips == self.engine.state.trips
        assert replayed.state.expiry == self.engine.state.expiry
        assert replayed.last_now == self.engine.last_now
        # Retried against the rebuilt engine, every journaled request gets its original reply.
        commands = [self.originals[rid][0] for rid in sorted(self.journaled)]
        replies, entries = replayed.execute(commands, replayed.last_now)
        assert entries == []
        for command, reply in zip(commands, replies):
            assert reply == self.originals[command.request_id][1], command


Inventory.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    report_multiple_bugs=False,
)
TestInventory = Inventory.TestCase
