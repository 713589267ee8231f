"""Seat allotments lent to handhelds: lent seats are nobody else's, a settlement issues each sale
once, within the allotment only, and gives the rest back; a snapshot keeps allotments."""

from __future__ import annotations

from keyun.engine import codec
from keyun.engine import commands as c
from keyun.engine import handheld as h
from keyun.engine.events import AllotmentSettled, Holder
from keyun.engine.fares import FareRules
from keyun.engine.policy import Policy
from keyun.engine.reasons import Reason, Rejection
from keyun.engine.shard import Entry, ShardEngine
from keyun.engine.state import TripRecord, trip_record

from .conftest import TRIP, A, B, C, D, Desk, make_engine

DEVICE = "A000042"


def _line(sale_id: str, seat: str, from_stop: str = B, to_stop: str = C, charged: int = 1500) -> h.SaleLine:
    holder = Holder("", "", "张*", "resident_id", "1101**********1234", document_index=sale_id.encode())
    return h.SaleLine(sale_id, seat, from_stop, to_stop, charged, 1, holder)


def _lend(desk: Desk, seats=("1A", "1B", "1C", "1D")):
    return desk.ok(h.LendAllotment("lend", TRIP, A, D, DEVICE, seat_numbers=seats))


def test_lent_seats_are_nobody_elses_and_the_reply_carries_the_fare_table():
    desk = Desk(make_engine())
    lent = _lend(desk)
    assert lent.allotment_id == f"{TRIP}-A1" and lent.seats == ("1A", "1B", "1C", "1D")
    assert lent.stations == (A, B, C, D)
    assert {(f.from_station, f.to_station): f.full_fen for f in lent.fares}[(B, C)] == 1500
    taken = desk.run(c.Sell("s1", TRIP, A, B, seat_numbers=("1A",)))
    assert isinstance(taken, Rejection) and taken.reason is Reason.SEAT_TAKEN
    assert desk.ok(h.GetAllotment(TRIP, lent.allotment_id, DEVICE)).settled_at_ms == 0
    other = desk.run(h.GetAllotment(TRIP, lent.allotment_id, "A000099"))
    assert isinstance(other, Rejection) and other.reason is Reason.UNKNOWN_ALLOTMENT


def test_settle_issues_each_sale_once_and_returns_the_rest():
    desk = Desk(make_engine())
    lent = _lend(desk)
    lines = (_line("s1", "1A"), _line("s2", "1B", A, D, charged=3900), _line("s3", "1C", C, D))
    settled = desk.ok(h.SettleAllotment("settle-1", TRIP, lent.allotment_id, DEVICE, lines))
    assert [line.already for line in settled.lines] == [False, False, False]
    assert [(line.seat, line.price_fen, line.charged_fen) for line in settled.lines] == [
        ("1A", 1500, 1500),
        ("1B", 4000, 3900),
        ("1C", 1500, 1500),
    ]
    assert settled.unused_seats == ("1D",) and settled.returned
    trip = desk.engine.state.trips[TRIP]
    assert trip.tickets[settled.lines[0].ticket_id].holder.name_masked == "张*"
    # The unsold seat, and the unsold legs of a sold seat, are sellable again.
    desk.ok(c.Sell("s-1D", TRIP, A, D, seat_numbers=("1D",)))
    desk.ok(c.Sell("s-1A", TRIP, A, B, seat_numbers=("1A",)))
    # A retry (another request id) issues nothing twice; a late new sale is refused.
    again = desk.ok(h.SettleAllotment("settle-2", TRIP, lent.allotment_id, DEVICE, lines))
    assert [line.already for line in again.lines] == [True, True, True]
    assert [line.ticket_id for line in again.lines] == [line.ticket_id for line in settled.lines]
    late = desk.run(h.SettleAllotment("settle-3", TRIP, lent.allotment_id, DEVICE, (_line("s4", "1D"),)))
    assert isinstance(late, Rejection) and late.reason is Reason.ALLOTMENT_SETTLED


def test_a_line_outside_the_allotment_or_sold_twice_refuses_the_settlement_and_changes_nothing():
    desk = Desk(make_engine())
    lent = desk.ok(h.LendAllotment("lend", TRIP, B, C, DEVICE, seat_count=2))
    seat = lent.seats[0]
    for lines, reason in [
        ((_line("s1", "3E"),), Reason.OUTSIDE_ALLOTMENT),  # not an allotted seat
        ((_line("s1", seat, A, C),), Reason.OUTSIDE_ALLOTMENT),  # a wider segment
        ((_line("s1", seat, B, C), _line("s2", seat, B, C)), Reason.ALLOTMENT_OVERSOLD),
    ]:
        refused = desk.run(
            h.SettleAllotment(
                f"bad-{reason.name}-{len(lines)}-{lines[0].from_station}", TRIP, lent.allotment_id, DEVICE, lines
            )
        )
        assert isinstance(refused, Rejection) and refused.reason is reason, refused
    assert desk.engine.state.trips[TRIP].allotments[lent.allotment_id].settled_at_ms == 0
    wrong_device = desk.run(h.SettleAllotment("x", TRIP, lent.allotment_id, "A000099", ()))
    assert isinstance(wrong_device, Rejection) and wrong_device.reason is Reason.UNKNOWN_ALLOTMENT


def test_a_snapshot_keeps_allotments():
    desk = Desk(make_engine())
    lent = _lend(desk)
    record = codec.decode(codec.encode(trip_record(desk.engine.state.trips[TRIP])), TripRecord)
    restored = ShardEngine(check=True)
    restored.restore(0, [record], [])
    assert restored.state.trips[TRIP].allotments == desk.engine.state.trips[TRIP].allotments
    assert restored.state.trips[TRIP].occupied == desk.engine.state.trips[TRIP].occupied
    assert lent.allotment_id in restored.state.trips[TRIP].allotments


def _passenger(document: bytes) -> Holder:
    return Holder("", "", "王*", "RESIDENT_ID", "1301**********1234", document_index=document)


def test_a_settled_sale_to_a_document_that_holds_a_ticket_is_issued_and_reported():
    """The counter's one-ticket-per-document rule: an offline sale already happened, so the owner
    issues it, and records the conflict (the reply's line, the journal, the inspectors' report)."""
    desk = Desk(make_engine())
    (counter_ticket,) = desk.ok(
        c.Sell("counter", TRIP, A, C, seat_numbers=("2A",), holders=(_passenger(b"doc-1"),))
    ).tickets
    lent = _lend(desk)
    lines = (
        h.SaleLine("s1", "1A", B, D, 2500, 7, _passenger(b"doc-1")),  # overlaps the counter's A-C on B-C
        h.SaleLine("s2", "1B", C, D, 1500, 8, _passenger(b"doc-2")),
        h.SaleLine("s3", "1C", B, D, 2500, 9, _passenger(b"doc-2")),  # overlaps s2 of this settlement
        h.SaleLine("s4", "1D", C, D, 1500, 9, _passenger(b"doc-1")),  # after A-C: no overlap with the counter's
    )
    settled = desk.ok(h.SettleAllotment("settle-1", TRIP, lent.allotment_id, DEVICE, lines))
    by_sale = {line.sale_id: line for line in settled.lines}
    assert all(line.ticket_id for line in settled.lines)  # every sale issued, none dropped
    assert by_sale["s1"].document_conflict == counter_ticket.ticket_id
    assert by_sale["s1"].document_masked == "1301**********1234"
    assert by_sale["s3"].document_conflict == by_sale["s2"].ticket_id
    # s4 overlaps s1 (B-D) of this very settlement
    assert by_sale["s4"].document_conflict == by_sale["s1"].ticket_id
    assert not by_sale["s2"].document_conflict and not by_sale["s2"].document_masked

    # Journaled with the settlement: the sale's conflict is in the AllotmentSettled event.
    events = [event for entry in desk.last_entries if isinstance(entry, Entry) for event in entry.events]
    (settled_event,) = [e for e in events if isinstance(e, AllotmentSettled)]
    assert {s.sale_id: s.document_conflict for s in settled_event.sales}["s1"] == counter_ticket.ticket_id
    conflicts = desk.ok(c.ListConflicts(TRIP)).conflicts
    assert [(x.ticket_id, x.reason, x.gate_id, x.other_ticket_id, x.scanned_at_ms) for x in conflicts] == [
        (by_sale["s1"].ticket_id, "DOCUMENT_HAS_TICKET", DEVICE, counter_ticket.ticket_id, 7),
        (by_sale["s3"].ticket_id, "DOCUMENT_HAS_TICKET", DEVICE, by_sale["s2"].ticket_id, 9),
        (by_sale["s4"].ticket_id, "DOCUMENT_HAS_TICKET", DEVICE, by_sale["s1"].ticket_id, 9),
    ]
    # A retry reports the same lines and records nothing twice.
    again = desk.ok(h.SettleAllotment("settle-2", TRIP, lent.allotment_id, DEVICE, lines))
    assert [line.document_conflict for line in again.lines] == [line.document_conflict for line in settled.lines]
    assert len(desk.ok(c.ListConflicts(TRIP)).conflicts) == 3


def test_no_conflict_when_the_station_allows_several_tickets_per_document_or_the_other_was_refunded():
    desk = Desk(make_engine(policy=Policy(fares=FareRules(one_ticket_per_document="off"))))
    desk.ok(c.Sell("counter", TRIP, A, C, seat_numbers=("2A",), holders=(_passenger(b"doc-1"),)))
    lent = _lend(desk)
    settled = desk.ok(
        h.SettleAllotment(
            "s", TRIP, lent.allotment_id, DEVICE, (h.SaleLine("s1", "1A", B, D, 2500, 7, _passenger(b"doc-1")),)
        )
    )
    assert not settled.lines[0].document_conflict and not desk.ok(c.ListConflicts(TRIP)).conflicts

    desk = Desk(make_engine())
    (ticket,) = desk.ok(c.Sell("counter", TRIP, A, C, seat_numbers=("2A",), holders=(_passenger(b"doc-1"),))).tickets
    desk.ok(c.Refund("refund", ticket.ticket_id))
    lent = _lend(desk)
    settled = desk.ok(
        h.SettleAllotment(
            "s", TRIP, lent.allotment_id, DEVICE, (h.SaleLine("s1", "1A", B, D, 2500, 7, _passenger(b"doc-1")),)
        )
    )
    assert not settled.lines[0].document_conflict
