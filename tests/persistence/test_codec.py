"""The codec round-trips every engine value that goes in the log or a snapshot, and nothing else."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path

import msgpack
import pytest

from keyun.engine import commands as c
from keyun.engine import events as ev
from keyun.engine import views as v
from keyun.engine.decide import TripStatus
from keyun.engine.network import Stop, TripSpec
from keyun.engine.reasons import Reason, Rejection, reject
from keyun.engine.shard import Entry, Refusal, ShardEngine
from keyun.engine.state import Hold, ShardState, Ticket, TicketStatus, check_invariants, restore_trip, trip_record
from keyun.persistence import codec

from .conftest import A, B, C, D, DEPARTS_MS, MINUTE_MS, NEXT_DAY_TRIP, NOW, PM_TRIP, TRIP, assert_identical, schedule_batch

# --- a scenario that makes every kind of value ----------------------------------------------------


@pytest.fixture(scope="module")
def scenario():
    """Drive an engine through every command, event, view and several rejections; keep everything."""
    engine = ShardEngine(check=True)
    seen = {"commands": [], "entries": [], "replies": []}

    def run(batch, now):
        replies, entries = engine.execute(batch, now)
        seen["commands"] += batch
        seen["entries"] += entries
        seen["replies"] += replies
        return replies

    run(schedule_batch(), NOW)
    run(schedule_batch(), NOW)  # already scheduled: ScheduledView(created=False)
    h1, h2, h3 = run(
        [
            c.PlaceHold("h1", TRIP, A, D, seat_count=2, ttl_ms=60_000),
            c.PlaceHold("h2", TRIP, B, D, seat_numbers=("3E",)),
            c.PlaceHold("h3", TRIP, A, B, seat_count=1, ttl_ms=1000),
        ],
        NOW,
    )
    run([c.ConfirmHold("c1", h1.hold_id), c.Sell("s1", TRIP, A, C, seat_count=2), c.ReleaseHold("rl1", h2.hold_id)], NOW + 500)
    # h3 expires: the sweep at the start of this batch journals HoldExpired.
    expired = run([c.ConfirmHold("c3", h3.hold_id), c.Sell("s2", TRIP, C, D, seat_numbers=("1A",))], NOW + 5000)
    assert isinstance(expired[0], Rejection) and expired[0].reason is Reason.HOLD_EXPIRED
    # Rebooking: ticket 0003 moves to a new ticket; the new ticket for 0004's move is taken back.
    h4, h5, h6, h7 = run([
        c.PlaceHold("h4", TRIP, A, C, seat_count=1), c.PlaceHold("h5", TRIP, A, C, seat_count=1),
        c.PlaceHold("h6", TRIP, A, B, seat_count=1, buyer="A000001"), c.PlaceHold("h7", TRIP, A, B, seat_count=1),
    ], NOW + 5200)
    moved, kept = run([c.ConfirmHold("c4", h4.hold_id, changed_from=f"{TRIP}-0003"), c.ConfirmHold("c5", h5.hold_id, changed_from=f"{TRIP}-0004")], NOW + 5300)
    run([c.ChangeTicket("ch1", f"{TRIP}-0003", moved.tickets[0].ticket_id), c.VoidTicket("v1", kept.tickets[0].ticket_id)], NOW + 5400)
    # The rebooking protocol: a new ticket's move to the next day is undone; 0004's is left begun (a Move in the snapshot).
    route = engine.state.trips[TRIP].spec.route_id
    (sold,) = run([c.Sell("s9", TRIP, A, B, seat_count=1)], NOW + 5405)
    undone = sold.tickets[0].ticket_id
    run([c.BeginChange("b1", undone, "sg1", NEXT_DAY_TRIP, route), c.BeginChange("b2", f"{TRIP}-0004", "sg2", NEXT_DAY_TRIP, route)], NOW + 5410)
    (new_hold,) = run([c.PlaceHold("mh1", NEXT_DAY_TRIP, A, B, seat_count=1, for_move="sg1")], NOW + 5420)
    run([c.ConfirmHold("mc1", new_hold.hold_id, changed_from=undone, for_move="sg1"), c.ListMoves(0, 10)], NOW + 5430)
    run([c.AbortChange("sg1-abort", undone, "sg1"), c.UndoMove("sg1-undo", NEXT_DAY_TRIP, undone, "sg1"), c.ClearChange("sg1-clear", undone, "sg1")], NOW + 5440)
    # A move made and settled (step 4); 0004's move gets as far as its new ticket, left pending its move.
    (sold,) = run([c.Sell("s10", TRIP, A, B, seat_count=1)], NOW + 5445)
    made = sold.tickets[0].ticket_id
    run([c.BeginChange("b3", made, "sg3", NEXT_DAY_TRIP, route)], NOW + 5450)
    made_hold, pending_hold = run([
        c.PlaceHold("mh3", NEXT_DAY_TRIP, A, B, seat_count=1, for_move="sg3"), c.PlaceHold("mh2", NEXT_DAY_TRIP, A, C, seat_count=1, for_move="sg2"),
    ], NOW + 5455)
    new, _ = run([
        c.ConfirmHold("mc3", made_hold.hold_id, changed_from=made, for_move="sg3"),
        c.ConfirmHold("mc2", pending_hold.hold_id, changed_from=f"{TRIP}-0004", for_move="sg2"),
    ], NOW + 5460)
    run([c.ChangeTicket("sg3-change", made, new.tickets[0].ticket_id, saga="sg3")], NOW + 5465)
    run([c.SettleMove("sg3-settle", new.tickets[0].ticket_id, "sg3"), c.ListMoves(0, 10)], NOW + 5470)
    # Orders: one paid, partly refunded and settled; one cancelled.
    paid, dropped = run([c.CreateOrder("o1", h6.hold_id, c.PayMethod.WEPAY, "A000001"), c.CreateOrder("o2", h7.hold_id, c.PayMethod.CASH)], NOW + 5500)
    run([c.RecordPayment("p1", paid.order_id, c.PayMethod.WEPAY, "wx-1", paid.amount_fen, NOW + 5550), c.CancelOrder("oc", dropped.order_id)], NOW + 5600)
    refunded = run([c.RefundOrder("or1", paid.order_id, (), "A000001")], NOW + 5700)[0]
    run([c.SettleRefund("os1", paid.order_id, refunded.refunds[0].refund_no, "wx-r-1"), c.GetOrder(paid.order_id), c.ListOrders("A000001")], NOW + 5800)
    run([c.Refund("rf1", f"{TRIP}-0001"), c.CancelTrip("x1", PM_TRIP), c.DelayTrip("dl1", TRIP, 10)], NOW + 6000)
    run(
        [
            c.Sell("bad1", PM_TRIP, A, B, seat_count=1),  # TRIP_CANCELLED
            c.Sell("bad2", "NOPE-1", A, B, seat_count=1),  # UNKNOWN_TRIP with a fact
            c.Sell("s1", TRIP, A, B, seat_count=1),  # REQUEST_ID_REUSED
            c.Refund("bad3", f"{TRIP}-0001"),  # ALREADY_REFUNDED
        ],
        NOW + 7000,
    )
    run([c.CheckIn("k1", f"{TRIP}-0002", "gate-1")], DEPARTS_MS - 30 * MINUTE_MS)
    run([c.DepartTrip("d1", TRIP)], DEPARTS_MS)
    run(
        [
            c.GetTrip(TRIP),
            c.GetSeatMap(TRIP, A, D),
            c.GetTicket(f"{TRIP}-0001"),
            c.GetTicket(f"{TRIP}-0002"),
            c.GetTicket(f"{TRIP}-0003"),
            c.GetManifest(TRIP),
            c.SearchTrips(A, D, NOW, NOW + 10 * 24 * 3600 * 1000),
            c.ListStations(),
        ],
        DEPARTS_MS + 1,
    )
    return engine, seen


def walk(value, found: set[type]) -> None:
    found.add(type(value))
    if dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            walk(getattr(value, f.name), found)
    elif isinstance(value, (tuple, list)):
        for item in value:
            walk(item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            walk(key, found)
            walk(item, found)


def round_trip(value):
    decoded = codec.decode(codec.encode(value))
    assert_identical(decoded, value)
    if not isinstance(value, list):
        assert decoded == value
    return decoded


COMMAND_TYPES = {
    c.ScheduleTrip, c.PlaceHold, c.Sell, c.ConfirmHold, c.ReleaseHold, c.Refund, c.CheckIn, c.DepartTrip, c.CancelTrip, c.SweepHolds,
    c.DelayTrip, c.ChangeTicket, c.VoidTicket, c.CreateOrder, c.RecordPayment, c.CancelOrder, c.RefundOrder, c.SettleRefund,
    c.BeginChange, c.AbortChange, c.UndoMove, c.ClearChange, c.SettleMove,
}
EVENT_TYPES = {
    ev.TripScheduled, ev.HoldPlaced, ev.HoldReleased, ev.HoldExpired, ev.TicketsIssued, ev.IssuedTicket,
    ev.TicketRefunded, ev.TicketCheckedIn, ev.TripDeparted, ev.TripCancelled, ev.TripDelayed, ev.TicketChanged, ev.TicketVoided,
    ev.OrderCreated, ev.PaymentRecorded, ev.OrderTicketed, ev.OrderCancelled, ev.RefundRequested, ev.RefundSettled, ev.Payment, ev.RefundPart,
    ev.ChangeBegun, ev.ChangeAborted, ev.ChangeCleared, ev.MoveUndone, ev.MoveSettled,
}
VIEW_TYPES = {
    v.StopView, v.TripView, v.OfferView, v.SeatView, v.SeatMapView, v.HoldView, v.TicketView, v.TicketsView,
    v.ManifestView, v.ScheduledView, v.ReleasedView, v.OffersView, v.StationsView, v.OrderView, v.OrdersView, Rejection, Reason, TripStatus, TicketStatus,
    v.MovesView,
}


def test_scenario_makes_every_kind_of_value(scenario):
    """Guards the other tests: the scenario really produces every type they claim to cover."""
    engine, seen = scenario
    found: set[type] = set()
    walk(seen, found)
    walk(list(engine.recent.values()), found)
    assert COMMAND_TYPES <= found, COMMAND_TYPES - found
    assert EVENT_TYPES <= found, EVENT_TYPES - found
    assert VIEW_TYPES - {v.SweptView} <= found, VIEW_TYPES - found
    assert {TripSpec, Stop} <= found
    statuses = {t.status for trip in engine.state.trips.values() for t in trip.tickets.values()}
    assert statuses == set(TicketStatus)


def test_commands_round_trip(scenario):
    _, seen = scenario
    for command in seen["commands"]:
        round_trip(command)
    for command in (c.SweepHolds(), c.SweepHolds(7), c.PlaceHold("r", TRIP, A, B, seat_numbers=("1A", "1B"), ttl_ms=5000)):
        round_trip(command)


def test_schedule_trip_with_its_spec_round_trips(scenario):
    _, seen = scenario
    schedules = [command for command in seen["commands"] if isinstance(command, c.ScheduleTrip)]
    assert schedules
    for command in schedules:
        decoded = round_trip(command)
        assert isinstance(decoded.spec, TripSpec) and isinstance(decoded.spec.stops[0], Stop)
        assert decoded.spec.seat_labels == command.spec.seat_labels  # rows keep the aisle markers
        assert decoded.trip_id == command.trip_id


def test_every_event_type_round_trips(scenario):
    _, seen = scenario
    events = [event for entry in seen["entries"] for event in entry.events]
    assert {type(event) for event in events} == EVENT_TYPES - {ev.IssuedTicket, ev.Payment, ev.RefundPart}  # parts of events, not events
    for event in events:
        round_trip(event)


def test_journal_entries_round_trip_as_a_log_record_would(scenario):
    _, seen = scenario
    entries = seen["entries"]
    decoded = round_trip([7, NOW, entries])
    assert all(isinstance(entry, (Entry, Refusal)) for entry in decoded[2])
    assert any(isinstance(entry, Refusal) for entry in decoded[2])  # the scenario has refusals


def test_replies_and_rejections_round_trip(scenario):
    """Replies to commands (and rejections) are what an idempotency window answers retries with.

    Search results (OffersView) answer a query only, are never stored, and are left out.
    """
    _, seen = scenario
    for item, reply in zip(seen["commands"], seen["replies"]):
        if not isinstance(item, c.SearchTrips):
            round_trip(reply)
    round_trip(v.SweptView((f"{TRIP}-H1", f"{TRIP}-H2")))
    round_trip(v.SweptView(()))


def test_every_reason_and_status_keeps_its_enum_type():
    """msgpack writes an IntEnum as a bare int unless the codec takes care: the gateway needs `.name`."""
    for reason in Reason:
        decoded = round_trip(reject(reason, f"because {reason.name}", field="x", limit=3))
        assert decoded.reason is reason and decoded.reason.name == reason.name
        assert decoded.facts == (("field", "x"), ("limit", "3"))
    for status in TicketStatus:
        assert codec.decode(codec.encode(status)) is status
    for status in TripStatus:
        assert codec.decode(codec.encode(status)) is status


def test_remembered_window_round_trips(scenario):
    engine, _ = scenario
    rejections = 0
    for request_id, receipt in engine.recent.items():
        decoded = round_trip([1, receipt])[1]
        rejections += isinstance(decoded.outcome, Rejection)
        assert_identical(decoded.outcome, receipt.outcome)
    assert rejections >= 3


def test_trip_records_round_trip_and_restore(scenario):
    engine, _ = scenario
    restored = ShardState()
    for trip in engine.state.trips.values():
        record = trip_record(trip)
        decoded = round_trip(record)
        assert all(isinstance(hold, Hold) for hold in decoded[2])
        assert all(isinstance(ticket, Ticket) and isinstance(ticket.status, TicketStatus) for ticket in decoded[3])
        restore_trip(restored, decoded)
    assert restored.trips == engine.state.trips
    check_invariants(restored)
    trip = engine.state.trips[TRIP]
    assert trip.expired_holds and trip.departed_at_ms and len(trip.tickets) >= 4
    assert engine.state.trips[PM_TRIP].cancelled_at_ms
    # A rebooking begun and not finished holds both its tickets after a restart, a settled one
    # neither, and an undone one stays undone.
    pending = pending_new_ticket(engine)
    assert restored.moving == engine.state.moving == {f"{TRIP}-0004": TRIP, pending.ticket_id: NEXT_DAY_TRIP}
    assert restored.trips[TRIP].tickets[f"{TRIP}-0004"].move.saga == "sg2"
    assert restored.trips[NEXT_DAY_TRIP].tickets[pending.ticket_id].pending_move()
    settled = [t for t in restored.trips[NEXT_DAY_TRIP].tickets.values() if t.for_move == "sg3"]
    assert len(settled) == 1 and not settled[0].pending_move() and settled[0].status is TicketStatus.ISSUED
    assert restored.trips[NEXT_DAY_TRIP].undone_moves == {"sg1"}


def pending_new_ticket(engine: ShardEngine) -> Ticket:
    """The scenario's new ticket left pending its move (saga sg2)."""
    (pending,) = [t for t in engine.state.trips[NEXT_DAY_TRIP].tickets.values() if t.for_move == "sg2"]
    return pending


def written_before_its_last_field(value) -> bytes:
    """`value` encoded as it was before its class got its last field."""
    fields = msgpack.unpackb(codec.encode(value), raw=False, strict_map_key=False)
    return msgpack.packb(fields[:-1], use_bin_type=True)


def test_tickets_and_issues_written_before_new_tickets_pended_their_move_read_as_settled(scenario):
    """Snapshots (Ticket) and logs (TicketsIssued) from before step 4 existed: a rebooking's new
    ticket there was the passenger's at once, and stays so."""
    engine, seen = scenario
    pending = pending_new_ticket(engine)
    older = codec.decode(written_before_its_last_field(pending))
    assert older == dataclasses.replace(pending, move_pending=False) and not older.pending_move()
    issues = [e for entry in seen["entries"] for e in entry.events if isinstance(e, ev.TicketsIssued) and e.move_pending]
    assert issues
    for issued in issues:
        assert codec.decode(written_before_its_last_field(issued)) == dataclasses.replace(issued, move_pending=False)


def test_a_trip_record_written_before_rebookings_were_undone_restores_with_none(scenario):
    engine, _ = scenario
    record = trip_record(engine.state.trips[PM_TRIP])[:12]  # as snapshots before 2026-12-07 held it
    restored = ShardState()
    restore_trip(restored, codec.decode(codec.encode(record)))
    assert restored.trips[PM_TRIP].undone_moves == set() and restored.moving == {}


def test_a_trip_record_with_live_holds_round_trips():
    engine = ShardEngine(check=True)
    engine.execute(schedule_batch(), NOW)
    engine.execute([c.PlaceHold("h1", TRIP, A, C, seat_count=3), c.PlaceHold("h2", TRIP, B, D, seat_numbers=("1A", "1B"))], NOW)
    record = trip_record(engine.state.trips[TRIP])
    assert len(record[2]) == 2
    restored = ShardState()
    restore_trip(restored, round_trip(record))
    assert restored.trips[TRIP] == engine.state.trips[TRIP]
    assert sorted(restored.expiry) == sorted(engine.state.expiry)


def test_containers_decode_as_tuples_and_plain_values_survive():
    assert codec.decode(codec.encode([1, [2, 3], (4,)])) == (1, (2, 3), (4,))
    value = {"a": 1, "b": (True, False, None), "c": "é字", "d": b"\x00\xff", "e": -(2**40)}
    assert codec.decode(codec.encode(value)) == value


# --- only engine types decode -----------------------------------------------------------------------

# The format (codec.py): an engine value is the array [MARK, class name, field values...], where MARK
# is the empty msgpack extension value of code 0.  Built by hand here, as a damaged or hostile file would be.
MARK = msgpack.ExtType(0, b"")


def packed(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def test_the_format_is_class_name_then_fields():
    assert codec.encode(ev.HoldExpired(TRIP, f"{TRIP}-H1")) == packed([MARK, "HoldExpired", TRIP, f"{TRIP}-H1"])
    assert codec.encode(TicketStatus.REFUNDED) == packed([MARK, "TicketStatus", "refunded"])
    assert codec.decode(packed([MARK, "HoldExpired", TRIP, f"{TRIP}-H1"])) == ev.HoldExpired(TRIP, f"{TRIP}-H1")
    assert codec.decode(packed([MARK, "TicketStatus", "refunded"])) is TicketStatus.REFUNDED
    assert codec.encode(Reason.SEAT_TAKEN) == packed([MARK, "Reason", 3001])  # an IntEnum is not a bare int
    decoded = codec.decode(packed([MARK, "Rejection", [MARK, "Reason", 3001], "taken", [["seat", "1A"]]]))
    assert decoded == reject(Reason.SEAT_TAKEN, "taken", seat="1A") and decoded.reason is Reason.SEAT_TAKEN


@pytest.mark.parametrize(
    "data",
    [
        packed([MARK, "NoSuchType", 1, 2]),
        packed([MARK, "NoSuchEnum", "x"]),
        packed([1, {"k": [MARK, "Popen", "rm -rf /"]}]),  # nested inside containers too
        packed([MARK, "OrderedDict"]),  # a real Python class, but not an engine type
        packed([MARK, "PosixPath", "/etc/passwd"]),
        packed([MARK, "HoldExpired", TRIP, [MARK, "NoSuchType"]]),  # inside a known type
    ],
    ids=["dataclass", "enum", "nested", "stdlib-name", "path", "inside-known"],
)
def test_unknown_types_are_refused(data):
    with pytest.raises(ValueError, match="unknown type"):
        codec.decode(data)


@pytest.mark.parametrize(
    "extension",
    [msgpack.ExtType(9, b""), msgpack.ExtType(1, packed(["HoldExpired", TRIP, f"{TRIP}-H1"])), msgpack.ExtType(0, b"x")],
    ids=["other-code", "other-code-with-payload", "mark-with-payload"],
)
def test_unknown_extension_values_are_refused(extension):
    with pytest.raises(ValueError, match="unknown extension code"):
        codec.decode(packed([extension, "HoldExpired", TRIP, f"{TRIP}-H1"]))


def test_bad_enum_value_is_refused():
    with pytest.raises(ValueError):
        codec.decode(packed([MARK, "TicketStatus", "lost"]))
    with pytest.raises(ValueError):
        codec.decode(packed([MARK, "Rejection", [MARK, "Reason", 99999], "no such reason", []]))


class NotEngine(enum.Enum):
    X = 1


@pytest.mark.parametrize("value", [object(), Path("x"), NotEngine.X, {1, 2}], ids=["object", "path", "foreign-enum", "set"])
def test_encoding_a_foreign_value_fails_loudly(value):
    with pytest.raises(TypeError):
        codec.encode(value)


def test_values_written_before_a_field_was_added_read_with_its_default():
    """Buyer and holders came after the first logs: an older, shorter encoding still decodes."""
    holder = ev.Holder("A000001", "P1", "张*", "RESIDENT_ID", "110105********002X")
    issued = ev.TicketsIssued(TRIP, "", 0, 2, (ev.IssuedTicket(f"{TRIP}-0001", 3, 1500, holder),), NOW, "A000001")
    assert codec.decode(codec.encode(issued)) == issued
    old_ticket = [codec._MARK, "IssuedTicket", f"{TRIP}-0001", 3, 1500]  # as version 1 wrote it
    old = msgpack.packb([codec._MARK, "TicketsIssued", TRIP, "", 0, 2, [old_ticket], NOW], use_bin_type=True)
    decoded = codec.decode(old)
    assert decoded == ev.TicketsIssued(TRIP, "", 0, 2, (ev.IssuedTicket(f"{TRIP}-0001", 3, 1500),), NOW)
    assert decoded.buyer == "" and decoded.tickets[0].holder is None
    old_hold = msgpack.packb([codec._MARK, "Hold", f"{TRIP}-H1", [1], 0, 2, 1500, NOW], use_bin_type=True)
    assert codec.decode(old_hold) == Hold(f"{TRIP}-H1", (1,), 0, 2, 1500, NOW)
