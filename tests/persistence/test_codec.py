"""The codec (engine/codec.py) round-trips every engine value that crosses a process or reaches a
disk, validates what it decodes, and decodes nothing but engine values of the type asked for."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from keyun.actors.packed import PackedBatches, unpack_replies, unpack_several_replies
from keyun.engine import codec
from keyun.engine import commands as c
from keyun.engine import events as ev
from keyun.engine import handheld as hh
from keyun.engine import seat_plan as sp
from keyun.engine import views as v
from keyun.engine.decide import TripStatus
from keyun.engine.network import Stop, TripSpec
from keyun.engine.reasons import Reason, Rejected, Rejection, reject
from keyun.engine.shard import Entry, Refusal, ShardEngine
from keyun.engine.state import Hold, ShardState, Ticket, TicketStatus, check_invariants, restore_trip, trip_record
from keyun.engine.values import Call, Command, Event, Journaled, Kind, Query, Reply, Value
from keyun.persistence.snapshot import decode_request, decode_trip
from keyun.persistence.wal import decode_payload

from .conftest import (
    DEPARTS_MS,
    MINUTE_MS,
    NEXT_DAY_TRIP,
    NOW,
    PM_TRIP,
    TRIP,
    A,
    B,
    C,
    D,
    assert_identical,
    schedule_batch,
)

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
    run(
        [c.ConfirmHold("c1", h1.hold_id), c.Sell("s1", TRIP, A, C, seat_count=2), c.ReleaseHold("rl1", h2.hold_id)],
        NOW + 500,
    )
    # h3 expires: the sweep at the start of this batch journals HoldExpired.
    expired = run([c.ConfirmHold("c3", h3.hold_id), c.Sell("s2", TRIP, C, D, seat_numbers=("1A",))], NOW + 5000)
    assert isinstance(expired[0], Rejection) and expired[0].reason is Reason.HOLD_EXPIRED
    # Rebooking: ticket 0003 moves to a new ticket; the new ticket for 0004's move is taken back.
    h4, h5, h6, h7 = run(
        [
            c.PlaceHold("h4", TRIP, A, C, seat_count=1),
            c.PlaceHold("h5", TRIP, A, C, seat_count=1),
            c.PlaceHold("h6", TRIP, A, B, seat_count=1, buyer="A000001"),
            c.PlaceHold("h7", TRIP, A, B, seat_count=1),
        ],
        NOW + 5200,
    )
    moved, kept = run(
        [
            c.ConfirmHold("c4", h4.hold_id, changed_from=f"{TRIP}-0003"),
            c.ConfirmHold("c5", h5.hold_id, changed_from=f"{TRIP}-0004"),
        ],
        NOW + 5300,
    )
    run(
        [
            c.ChangeTicket("ch1", f"{TRIP}-0003", moved.tickets[0].ticket_id),
            c.VoidTicket("v1", kept.tickets[0].ticket_id),
        ],
        NOW + 5400,
    )
    # The rebooking protocol: a new ticket's move to the next day is undone; 0004's is left begun
    # (a Move in the snapshot).
    route = engine.state.trips[TRIP].spec.route_id
    (sold,) = run([c.Sell("s9", TRIP, A, B, seat_count=1)], NOW + 5405)
    undone = sold.tickets[0].ticket_id
    run(
        [
            c.BeginChange("b1", undone, "sg1", NEXT_DAY_TRIP, route),
            c.BeginChange("b2", f"{TRIP}-0004", "sg2", NEXT_DAY_TRIP, route),
        ],
        NOW + 5410,
    )
    (new_hold,) = run([c.PlaceHold("mh1", NEXT_DAY_TRIP, A, B, seat_count=1, for_move="sg1")], NOW + 5420)
    run([c.ConfirmHold("mc1", new_hold.hold_id, changed_from=undone, for_move="sg1"), c.ListMoves(0, 10)], NOW + 5430)
    run(
        [
            c.AbortChange("sg1-abort", undone, "sg1"),
            c.UndoMove("sg1-undo", NEXT_DAY_TRIP, undone, "sg1"),
            c.ClearChange("sg1-clear", undone, "sg1"),
        ],
        NOW + 5440,
    )
    # A move made and settled (step 4); 0004's move gets as far as its new ticket, left pending its move.
    (sold,) = run([c.Sell("s10", TRIP, A, B, seat_count=1)], NOW + 5445)
    made = sold.tickets[0].ticket_id
    run([c.BeginChange("b3", made, "sg3", NEXT_DAY_TRIP, route)], NOW + 5450)
    made_hold, pending_hold = run(
        [
            c.PlaceHold("mh3", NEXT_DAY_TRIP, A, B, seat_count=1, for_move="sg3"),
            c.PlaceHold("mh2", NEXT_DAY_TRIP, A, C, seat_count=1, for_move="sg2"),
        ],
        NOW + 5455,
    )
    new, _ = run(
        [
            c.ConfirmHold("mc3", made_hold.hold_id, changed_from=made, for_move="sg3"),
            c.ConfirmHold("mc2", pending_hold.hold_id, changed_from=f"{TRIP}-0004", for_move="sg2"),
        ],
        NOW + 5460,
    )
    run([c.ChangeTicket("sg3-change", made, new.tickets[0].ticket_id, saga="sg3")], NOW + 5465)
    run([c.SettleMove("sg3-settle", new.tickets[0].ticket_id, "sg3"), c.ListMoves(0, 10)], NOW + 5470)
    # A handheld's allotment: lent, two seats sold from it offline to one document, settled (the
    # second sale is issued with a DOCUMENT_HAS_TICKET conflict).
    (lent,) = run([hh.LendAllotment("lend1", NEXT_DAY_TRIP, A, C, "A000042", seat_count=2)], NOW + 5475)
    walk_in = ev.Holder("", "", "王*", "RESIDENT_ID", "1301**********1234", document_index=b"doc-hh")
    lines = tuple(
        hh.SaleLine(f"hs{n}", seat, A, B, lent.fares[0].full_fen, NOW + 5476, walk_in)
        for n, seat in enumerate(lent.seats, 1)
    )
    (settled,) = run([hh.SettleAllotment("settle1", NEXT_DAY_TRIP, lent.allotment_id, "A000042", lines)], NOW + 5480)
    assert settled.lines[1].document_conflict == settled.lines[0].ticket_id
    # 取票: a walk-in's ticket found by their document, picked up (TicketsPrinted), and a second
    # pick-up refused (TICKET_ALREADY_PRINTED).
    document = b"k" * c.DOCUMENT_INDEX_BYTES
    kiosk_walk_in = ev.Holder("", "", "李*", "PASSPORT", "E******78", document_index=document)
    (walked,) = run([c.Sell("s-kiosk", NEXT_DAY_TRIP, A, B, seat_count=1, holders=(kiosk_walk_in,))], NOW + 5481)
    picked = (walked.tickets[0].ticket_id,)
    run(
        [
            c.FindPickUps(document),
            c.PickUpTickets("pk1", NEXT_DAY_TRIP, document, ticket_ids=picked, by="A000006"),
            c.PickUpTickets("pk2", NEXT_DAY_TRIP, document, ticket_ids=picked, by="A000006"),
        ],
        NOW + 5482,
    )
    # Orders: one paid, partly refunded and settled; one cancelled.
    paid, dropped = run(
        [
            c.CreateOrder("o1", h6.hold_id, c.PayMethod.WEPAY, "A000001"),
            c.CreateOrder("o2", h7.hold_id, c.PayMethod.CASH),
        ],
        NOW + 5500,
    )
    run(
        [
            c.RecordPayment("p1", paid.order_id, c.PayMethod.WEPAY, "wx-1", paid.amount_fen, NOW + 5550),
            c.CancelOrder("oc", dropped.order_id),
        ],
        NOW + 5600,
    )
    refunded = run([c.RefundOrder("or1", paid.order_id, (), "A000001")], NOW + 5700)[0]
    run(
        [
            c.SettleRefund("os1", paid.order_id, refunded.refunds[0].refund_no, "wx-r-1"),
            c.GetOrder(paid.order_id),
            c.ListOrders("A000001"),
            c.QuoteRefund(f"{TRIP}-0002"),
            c.CheckChange(f"{TRIP}-0002", NEXT_DAY_TRIP, route),  # a rebooking's quote: its checks...
            c.QuoteHold(NEXT_DAY_TRIP, A, B, seat_count=1),  # ...and its new ticket's price (an unplaced HoldView)
        ],
        NOW + 5800,
    )
    # Dispatch's seat plan on the next day's trip (engine/seat_plan.py): quotas, blocks, an extra run.
    extra = msgspec.structs.replace(engine.state.trips[NEXT_DAY_TRIP].spec, trip_id="S1-X1")
    run(
        [
            sp.SetSeatQuota("q1", NEXT_DAY_TRIP, C, seat_count=2, release_before_min=30),
            sp.ClearSeatQuota("q2", NEXT_DAY_TRIP, C),
            sp.SetSeatQuota("q3", NEXT_DAY_TRIP, B, seat_count=1, shared=True),
            sp.BlockSeats("bk1", NEXT_DAY_TRIP, ("3D",), "crew"),
            sp.UnblockSeats("bk2", NEXT_DAY_TRIP, ("3D",)),
            sp.BlockSeats("bk3", NEXT_DAY_TRIP, ("3D",), "broken"),
            sp.AddExtraRun("x9", extra, NEXT_DAY_TRIP, "5"),
            sp.GetSeatPlan(NEXT_DAY_TRIP),
            sp.GetTripSpec("S1-X1"),
            sp.PlanVehicleChange("S1-X1", 4),  # a smaller coach for the extra run (VehicleChangePlan)
            sp.ChangeVehicle("cv1", "S1-X1", 4, "mini4"),  # VehicleChanged
        ],
        NOW + 5900,
    )
    run(
        [
            c.Refund("rf1", f"{TRIP}-0001"),
            c.CancelTrip("x1", PM_TRIP),
            c.DelayTrip("dl1", TRIP, 10),
            c.AssignGate("gt1", TRIP, "A3"),  # GateAssigned
        ],
        NOW + 6000,
    )
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
    # A gate's offline scan of the same ticket, uploaded: a conflict (ScanConflicted, ConflictedScanView).
    run([c.CheckIn("k1-up", f"{TRIP}-0002", "gate-2", DEPARTS_MS - 31 * MINUTE_MS)], DEPARTS_MS - 29 * MINUTE_MS)
    run([c.DepartTrip("d1", TRIP)], DEPARTS_MS)
    run(
        [
            c.GetTrip(TRIP),
            c.CompareTrip(schedule_batch()[0].spec),  # what a network load would do (TripComparison)
            c.GetSeatMap(TRIP, A, D),
            c.GetTicket(f"{TRIP}-0001"),
            c.GetTicket(f"{TRIP}-0002"),
            c.GetTicket(f"{TRIP}-0003"),
            c.GetManifest(TRIP),
            c.GetRevocations(TRIP),
            c.GetRevocations(PM_TRIP, 0),
            c.ListConflicts(TRIP),
            c.ListBoardingTrips(A, NOW, NOW + 24 * 3600 * 1000),
            c.ListDepartures(A, NOW, NOW + 24 * 3600 * 1000),  # engine.board.DeparturesView
            c.ListFlowCoachesDue(10),  # departure-when-full coaches past their wait (FlowCoachesView)
            c.FindTickets(document_index=b"i" * 32),
            c.SearchTrips(A, D, NOW, NOW + 10 * 24 * 3600 * 1000),
            c.ListStations(),
            c.Ping(),
        ],
        DEPARTS_MS + 1,
    )
    return engine, seen


def walk(value, found: set[type]) -> None:
    found.add(type(value))
    if isinstance(value, msgspec.Struct):
        for f in msgspec.structs.fields(value):
            walk(getattr(value, f.name), found)
    elif isinstance(value, (tuple, list)):
        for item in value:
            walk(item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            walk(key, found)
            walk(item, found)


def round_trip(value, type_=None):
    """Encoded and decoded as `type_` (by default its own class): equal, and of the same types."""
    decoded = codec.decode(codec.encode(value), type_ or type(value))
    assert_identical(decoded, value)
    if not isinstance(value, list):
        assert decoded == value
    return decoded


def members(kind: type, module) -> set[type]:
    """The values of a kind defined in one engine module, as the codec derives them."""
    return {cls for cls in codec.union(kind).__args__ if cls.__module__ == module.__name__}


# Trip-owner values the scenario has no occasion to make.
NOT_IN_SCENARIO = {
    c.ArchiveTrips,
    c.ListMoney,
    v.SweptView,
    v.ArchivedView,
    v.MoneyView,
    v.MoneyLine,
    ev.TripArchived,
    ev.OrderExpired,
}


def test_scenario_makes_every_kind_of_value(scenario):
    """Guards the other tests: the scenario makes every trip command, query, event and reply the
    codec knows of, found from the kinds (nothing lists them), and the values inside them."""
    engine, seen = scenario
    found: set[type] = set()
    walk(seen, found)
    walk(list(engine.recent.values()), found)
    for kind, module in ((Command, c), (Query, c), (Event, ev), (Reply, v)):
        expected = members(kind, module) - NOT_IN_SCENARIO
        assert expected and expected <= found, (kind.__name__, expected - found)
    parts = {TripSpec, Stop, ev.IssuedTicket, ev.Payment, ev.RefundPart, Rejection, Reason, TripStatus, TicketStatus}
    assert parts <= found
    statuses = {t.status for trip in engine.state.trips.values() for t in trip.tickets.values()}
    assert statuses == set(TicketStatus)


def test_every_engine_value_found_in_the_scenario_round_trips_as_itself(scenario):
    engine, seen = scenario
    found: set[type] = set()
    walk(seen, found)
    values = [value for value in (*seen["commands"], *seen["entries"], *seen["replies"], *engine.recent.values())]
    for value in values:
        round_trip(value)
    assert {type(value) for value in values} & found


def test_the_unions_are_every_value_of_each_kind():
    """A new command, event or reply needs no registration: deriving from its kind is enough."""
    import keyun.engine.accounts as ac

    assert ac.CreateAccount in codec.union(Command).__args__ and c.PlaceHold in codec.union(Call).__args__
    assert ac.FindLogin in codec.union(Query).__args__ and ac.AccountCreated in codec.union(Event).__args__
    assert {Entry, Refusal, ac.AccountEntry} <= set(codec.union(Journaled).__args__)
    for kind in (Call, Command, Query, Event, Reply, Journaled):
        assert all(issubclass(cls, Value) and issubclass(cls, kind) for cls in codec.union(kind).__args__)

    class Nothing(Kind):
        __slots__ = ()

    with pytest.raises(TypeError, match="no engine value"):
        codec.union(Nothing)


def test_calls_and_replies_cross_to_an_owner_and_back(scenario):
    _, seen = scenario
    audited = __import__("keyun.engine.outbox", fromlist=["Audited"]).Audited(seen["commands"][5], ("r1", 1), True)
    calls = [*seen["commands"], audited]
    assert PackedBatches.unpack_calls(codec.encode(calls)) == calls
    assert unpack_replies(codec.encode(seen["replies"])) == seen["replies"]
    # The accounts owner answers some calls with a tuple of replies (SetUp, TouchSessions).
    several = [seen["replies"][0], tuple(seen["replies"][:2]), (), seen["replies"][-1]]
    assert unpack_several_replies(codec.encode(several)) == several
    with pytest.raises(codec.DecodeError):
        unpack_replies(codec.encode(several))


def test_schedule_trip_with_its_spec_round_trips(scenario):
    _, seen = scenario
    schedules = [command for command in seen["commands"] if isinstance(command, c.ScheduleTrip)]
    assert schedules
    for command in schedules:
        decoded = round_trip(command, codec.union(Call))
        assert isinstance(decoded.spec, TripSpec) and isinstance(decoded.spec.stops[0], Stop)
        assert decoded.spec.seat_labels == command.spec.seat_labels  # rows keep the aisle markers
        assert decoded.trip_id == command.trip_id


def test_journal_entries_round_trip_as_a_log_record(scenario):
    _, seen = scenario
    entries = seen["entries"]
    decoded = decode_payload(codec.encode([7, NOW, entries]))
    assert decoded == (7, NOW, tuple(entries))
    assert_identical(list(decoded[2]), entries)
    assert all(isinstance(entry, (Entry, Refusal)) for entry in decoded[2])
    assert any(isinstance(entry, Refusal) for entry in decoded[2])  # the scenario has refusals


def test_every_reason_and_status_keeps_its_enum_type():
    """An IntEnum is encoded by its value and decodes as itself: the gateway needs `.name`."""
    for reason in Reason:
        decoded = round_trip(reject(reason, f"because {reason.name}", field="x", limit=3))
        assert decoded.reason is reason and decoded.reason.name == reason.name
        assert decoded.facts == (("field", "x"), ("limit", "3"))
    for status in TicketStatus:
        assert codec.decode(codec.encode(status), TicketStatus) is status
    for status in TripStatus:
        assert codec.decode(codec.encode(status), TripStatus) is status


def test_remembered_window_round_trips(scenario):
    engine, _ = scenario
    rejections = 0
    for receipt in engine.recent.values():
        sequence, decoded = decode_request(codec.encode([1, receipt]))
        assert sequence == 1 and decoded == receipt
        rejections += isinstance(decoded.outcome, Rejection)
        assert_identical(decoded.outcome, receipt.outcome)
    assert rejections >= 3


def test_trip_records_round_trip_and_restore(scenario):
    engine, _ = scenario
    restored = ShardState()
    for trip in engine.state.trips.values():
        record = trip_record(trip)
        decoded = decode_trip(codec.encode(record))
        assert decoded == record
        assert all(isinstance(hold, Hold) for hold in decoded.holds)
        assert all(isinstance(ticket, Ticket) and isinstance(ticket.status, TicketStatus) for ticket in decoded.tickets)
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


def test_a_trip_record_with_live_holds_round_trips():
    engine = ShardEngine(check=True)
    engine.execute(schedule_batch(), NOW)
    engine.execute(
        [c.PlaceHold("h1", TRIP, A, C, seat_count=3), c.PlaceHold("h2", TRIP, B, D, seat_numbers=("1A", "1B"))], NOW
    )
    record = trip_record(engine.state.trips[TRIP])
    assert len(record.holds) == 2
    restored = ShardState()
    restore_trip(restored, round_trip(record))
    assert restored.trips[TRIP] == engine.state.trips[TRIP]
    assert sorted(restored.expiry) == sorted(engine.state.expiry)


# --- the format, and only engine values of the type asked for decode -----------------------------


def packed(value) -> bytes:
    """Built by hand, as a damaged or hostile file or peer would send it."""
    return msgspec.msgpack.encode(value)


def test_the_format_is_class_name_then_fields():
    assert codec.encode(ev.HoldExpired(TRIP, f"{TRIP}-H1")) == packed(["HoldExpired", TRIP, f"{TRIP}-H1"])
    assert codec.encode(TicketStatus.REFUNDED) == packed("refunded")
    expired = ev.HoldExpired(TRIP, f"{TRIP}-H1")
    assert codec.decode(packed(["HoldExpired", TRIP, f"{TRIP}-H1"]), codec.union(Event)) == expired
    assert codec.encode(Reason.SEAT_TAKEN) == packed(3001)
    decoded = codec.decode(packed(["Rejection", 3001, "taken", [["seat", "1A"]]]), Rejection)
    assert decoded == reject(Reason.SEAT_TAKEN, "taken", seat="1A") and decoded.reason is Reason.SEAT_TAKEN


@pytest.mark.parametrize(
    "data, type_",
    [
        (packed(["NoSuchType", 1, 2]), codec.union(Event)),
        (packed(["OrderedDict"]), codec.union(Command)),  # a real Python class, but not an engine type
        (packed(["PosixPath", "/etc/passwd"]), codec.union(Call)),
        (packed(["PlaceHold", "h1", TRIP, A, B]), codec.union(Event)),  # an engine type, not of the kind asked for
        (packed([1, NOW, [["Entry", ["NoSuchType"], []]]]), None),  # inside a known type, as a kind
        (packed([1, NOW, [["Entry", ["HoldExpired", TRIP, "x"], []]]]), None),  # an event where a command goes
    ],
    ids=["unknown", "stdlib-name", "path", "other-kind", "inside-known", "wrong-kind-inside"],
)
def test_unknown_tags_are_refused(data, type_):
    with pytest.raises(codec.DecodeError):
        decode_payload(data) if type_ is None else codec.decode(data, type_)


def test_bad_enum_values_are_refused():
    with pytest.raises(codec.DecodeError):
        codec.decode(packed("lost"), TicketStatus)
    with pytest.raises(codec.DecodeError):
        codec.decode(packed(["Rejection", 99999, "no such reason", []]), Rejection)


def test_values_are_validated_on_decode():
    """What an owner decodes passes the same checks as what the gateway constructs."""
    good = c.PlaceHold("h1", TRIP, A, B, seat_count=1)
    assert codec.decode(codec.encode(good), codec.union(Call)) == good
    bad_trip, same_stations, no_request_id = ("h1", "bad trip", A, B), ("h1", TRIP, A, A), ("", TRIP, A, B)
    for fields in (bad_trip, same_stations, no_request_id):
        bad = ["PlaceHold", *fields, (), 1]
        with pytest.raises(Rejected):
            codec.decode(packed(bad), codec.union(Call))
    with pytest.raises(codec.DecodeError):  # a field of the wrong type
        codec.decode(packed(["PlaceHold", "h1", TRIP, A, B, (), "1"]), codec.union(Call))


@pytest.mark.parametrize("value", [object(), Path("x")], ids=["object", "path"])
def test_encoding_a_foreign_value_fails_loudly(value):
    with pytest.raises(TypeError):
        codec.encode(value)


def test_the_accounts_owner_s_sms_codes_and_notices_round_trip():
    """Every command, query, event and reply of engine/notices.py, made by the accounts owner,
    journaled and snapshotted, round-trips through the codec (the trip scenario above has none)."""
    from keyun.engine import accounts as ac
    from keyun.engine import notices as nt

    engine, seen = ac.AccountsEngine(), []
    phone, client = "ab" * 16, "cd" * 16
    reg = nt.CodePurpose.REGISTER
    deliveries = (nt.NewDelivery("01" * 16, "A000001", b"c1"), nt.NewDelivery("02" * 16, "", b"c2"))
    items = [
        nt.IssueSmsCode(reg, phone, client, b"h" * 32),
        nt.IssueSmsCode(reg, phone, client, b"h" * 32),  # SMS_CODE_THROTTLED
        nt.UseSmsCode(reg, phone, b"x" * 32),
        nt.UseSmsCode(reg, phone, b"h" * 32),
        nt.RecordNotice("trip_delayed:T1:r1", "trip_delayed", "T1", "延误", deliveries),
        nt.RecordDelivery("trip_delayed:T1:r1", "01" * 16, True, "m1"),
        nt.RecordDelivery("trip_delayed:T1:r1", "02" * 16, False, error="DELIVERY_FAILED", final=True),
        nt.DueDeliveries(),
        nt.ListNotices(),
    ]
    for n, item in enumerate(items):
        replies, entries = engine.execute([round_trip(item, codec.union(Call))], NOW + n)
        seen += [*replies, *entries]
    for value in seen:
        round_trip(value)
    found: set[type] = set()
    walk([items, seen], found)
    for kind in (Command, Query, Event, Reply):
        assert members(kind, nt) <= found, (kind.__name__, members(kind, nt) - found)
    restored = codec.decode(codec.encode(engine.snapshot()), ac.AccountsSnapshot)
    assert restored.state.notices == engine.state.notices


def test_the_accounts_owner_s_kept_network_round_trips():
    """Every value of engine/timetable.py, made by the accounts owner, journaled and snapshotted,
    round-trips; a load from a later date keeps both versions, a load from today drops the old."""
    from keyun.engine import accounts as ac
    from keyun.engine import timetable as tt

    engine, seen = ac.AccountsEngine(), []
    today = 740_000
    items = [
        tt.KeepNetwork("k1", "format = 1 # v1", today, today, "A000001"),
        tt.KeepNetwork("k2", "format = 1 # v1", today, today, "A000001"),  # the same: nothing kept
        tt.KeepNetwork("k3", "format = 1 # v2", today + 5, today, "A000001"),
        tt.GetKeptNetwork(),
    ]
    for n, item in enumerate(items):
        replies, entries = engine.execute([round_trip(item, codec.union(Call))], NOW + n)
        seen += [*replies, *entries]
    for value in seen:
        round_trip(value)
    found: set[type] = set()
    walk([items, seen], found)
    for kind in (Command, Query, Event, Reply):
        assert members(kind, tt) <= found, (kind.__name__, members(kind, tt) - found)
    assert [v.effective_from for v in engine.state.timetable.versions] == [today, today + 5]
    engine.execute([tt.KeepNetwork("k4", "format = 1 # v3", today + 1, today + 1, "")], NOW + 9)
    assert [v.text for v in engine.state.timetable.versions] == ["format = 1 # v3"]
    restored = codec.decode(codec.encode(engine.snapshot()), ac.AccountsSnapshot)
    assert restored.state.timetable == engine.state.timetable
    with pytest.raises(Rejected):
        tt.KeepNetwork("k5", "format = 1", today, today + 1, "")  # effective before today
