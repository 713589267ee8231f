"""The shift book's pure core (engine/shifts.py), as the accounts owner runs it, and the trip
owner's side of a shift: counter voids and the tickets of a shift (engine/counter_sales.py)."""

from __future__ import annotations

import pytest

from keyun.engine import accounts as ac
from keyun.engine import codec
from keyun.engine import shifts as sh
from keyun.engine.counter_sales import ShiftTickets, VoidSale
from keyun.engine.reasons import Reason, Rejected, Rejection

T0 = 1_800_000_000_000
SELLER, KEEPER = "A000013", "A000014"


def run(engine: ac.AccountsEngine, item, now=T0):
    (reply,), _ = engine.execute([item], now)
    return reply


def reason(reply) -> Reason:
    assert isinstance(reply, Rejection), reply
    return reply.reason


@pytest.fixture
def engine() -> ac.AccountsEngine:
    engine = ac.AccountsEngine()
    run(engine, sh.ReceiveStock("r1", KEEPER, "ZJ", 1000, 1999, 8))
    run(engine, sh.IssueStock("r2", KEEPER, "B000001", SELLER, 1000, 1004))
    return engine


def ticket(ticket_id, price, status="issued", method="cash", sold=True, refunded=False, fee=0, back=0):
    return sh.ShiftTicket(ticket_id, price, status, method, sold, refunded, fee, back, T0)


def test_numbers_go_in_order_once_and_run_out(engine):
    shift = run(engine, sh.OpenShift("o1", SELLER, "W01"))
    assert (shift.numbers_left, shift.next_number) == (5, "ZJ00001000")
    sold = run(engine, sh.RecordSale("s1", shift.shift_id, "s1", ("K1-20261201-0001", "K1-20261201-0002")))
    assert sold.numbers == (("K1-20261201-0001", "ZJ00001000"), ("K1-20261201-0002", "ZJ00001001"))
    # The same sale again (a retry with a new owner request id) takes nothing more.
    assert (
        run(engine, sh.RecordSale("s1-again", shift.shift_id, "s1", ("K1-20261201-0001", "K1-20261201-0002"))).numbers
        == sold.numbers
    )
    reprinted = run(engine, sh.Reprint("p1", SELLER, "K1-20261201-0001"))
    assert [(u.number, u.ticket_id, u.spoiled) for u in reprinted.numbers] == [
        ("ZJ00001000", "K1-20261201-0001", "reprint"),
        ("ZJ00001001", "K1-20261201-0002", ""),
        ("ZJ00001002", "K1-20261201-0001", ""),
    ]
    run(engine, sh.SpoilNumber("j1", SELLER, "jam"))
    left = run(engine, sh.CurrentShift(SELLER))
    assert (left.numbers_left, left.next_number) == (1, "ZJ00001004")
    run(engine, sh.Reprint("p3", SELLER, "K1-20261201-0002"))
    assert reason(run(engine, sh.SpoilNumber("j2", SELLER, "skip"))) is Reason.NO_PAPER_NUMBERS
    numbers = [u.number for u in run(engine, sh.CurrentShift(SELLER)).numbers]
    assert numbers == [f"ZJ{n:08d}" for n in range(1000, 1005)]  # each once, no gap


def test_stock_never_overlaps(engine):
    assert reason(run(engine, sh.ReceiveStock("r3", KEEPER, "ZJ", 1999, 2100, 8))) is Reason.STOCK_OVERLAP
    assert not isinstance(run(engine, sh.ReceiveStock("r4", KEEPER, "HB", 1000, 1999, 8)), Rejection)
    assert reason(run(engine, sh.IssueStock("r5", KEEPER, "B000001", SELLER, 1004, 1010))) is Reason.STOCK_OVERLAP
    assert reason(run(engine, sh.IssueStock("r6", KEEPER, "B000001", SELLER, 1990, 2010))) is Reason.UNKNOWN_STOCK
    assert reason(run(engine, sh.IssueStock("r7", KEEPER, "B000009", SELLER, 1, 2))) is Reason.UNKNOWN_STOCK
    with pytest.raises(Rejected):
        sh.ReceiveStock("r8", KEEPER, "ZJ", 5, 4, 8)


def test_one_open_shift_a_seller_and_the_slip_to_the_fen(engine):
    shift = run(engine, sh.OpenShift("o1", SELLER, "W01"))
    assert reason(run(engine, sh.OpenShift("o2", SELLER, "W02"))) is Reason.SHIFT_ALREADY_OPEN
    run(engine, sh.RecordSale("s1", shift.shift_id, "s1", ("K1-20261201-0001", "K1-20261201-0002", "K1-20261201-0003")))
    run(engine, sh.RecordVoid("v1", shift.shift_id, "K1-20261201-0001"))
    tickets = (
        ticket("K1-20261201-0001", 4000, "void"),
        ticket("K1-20261201-0002", 4000, "refunded", refunded=True, fee=400, back=3600),
        ticket("K1-20261201-0003", 1500, method="card"),
        ticket("K1-20261201-0004", 2500),  # sold here, its number never taken (the gateway died)
        ticket("K9-20261201-0001", 3000, "refunded", method="", sold=False, refunded=True, fee=300, back=2700),
    )
    closed = run(engine, sh.CloseShift("c1", SELLER, shift.shift_id, 0, tickets), T0 + 5)
    slip = closed.slip
    assert (slip.sold_count, slip.sold_fen, slip.voided_count, slip.voided_fen) == (4, 12000, 1, 4000)
    assert (slip.refunded_count, slip.refunded_fen, slip.refund_fees_fen) == (2, 6300, 700)
    assert [(m.method, m.sold_fen, m.voided_fen, m.refunded_fen, m.net_fen) for m in slip.methods] == [
        ("card", 1500, 0, 0, 1500),
        ("cash", 10500, 4000, 6300, 200),
    ]
    assert slip.spoiled == (("ZJ00001000", "void"),)
    assert slip.numbers_used == ("ZJ00001001", "ZJ00001002")
    assert slip.unnumbered == ("K1-20261201-0004",)
    assert (slip.expected_cash_fen, slip.over_short_fen) == (200, -200)
    assert reason(run(engine, sh.CloseShift("c2", SELLER, shift.shift_id, 0))) is Reason.SHIFT_CLOSED
    assert reason(run(engine, sh.CurrentShift(SELLER))) is Reason.NO_OPEN_SHIFT
    deposited = run(engine, sh.ConfirmDeposit("d1", shift.shift_id, "A000004", 0))
    assert deposited.status is sh.ShiftStatus.DEPOSITED


def test_the_book_replays_from_its_journal_through_the_codec():
    engine, journal = ac.AccountsEngine(), []
    items = [
        sh.ReceiveStock("r1", KEEPER, "", 1, 100, 6),
        sh.IssueStock("r2", KEEPER, "B000001", SELLER, 1, 10),
        sh.OpenShift("o1", SELLER, "W01"),
        sh.RecordSale("s1", "S000001", "s1", ("K1-20261201-0001", "K1-20261201-0002")),
        sh.Reprint("p1", SELLER, "K1-20261201-0002"),
        sh.SpoilNumber("j1", SELLER, "skip"),
        sh.CloseShift(
            "c1", SELLER, "S000001", 1000, (ticket("K1-20261201-0001", 1000), ticket("K1-20261201-0002", 500))
        ),
    ]
    for item in items:
        replies, entries = engine.execute([item], T0)
        assert not isinstance(replies[0], Rejection), replies[0]
        journal.extend(codec.decode(codec.encode(entry), ac.AccountEntry) for entry in entries)
    again = ac.AccountsEngine()
    again.replay(T0, journal)
    assert again.state.shifts == engine.state.shifts
    assert again.state.shifts.shifts["S000001"].slip.over_short_fen == -500
    # A retried command is answered from the replayed window, as before the restart.
    assert run(again, items[3]) == run(engine, items[3])


def test_void_and_shift_tickets_validate_their_fields():
    with pytest.raises(Rejected):
        VoidSale("v1", "K1-20261201-0001", "nope")
    with pytest.raises(Rejected):
        ShiftTickets("S1")
    assert VoidSale("v1", "K1-20261201-0001", "S000001").trip_id == "K1-20261201"
