"""Seller shifts, paper ticket stock and voids, through the gRPC API of a real server (docs/shifts.md)."""

from __future__ import annotations

import datetime as dt
import itertools

import grpc
import pytest

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import audit_pb2, audit_pb2_grpc, common_pb2, orders_pb2, shifts_pb2

from .conftest import ServerThread, logged_in, schedule_trip

CASH, CARD = orders_pb2.PAY_METHOD_CASH, orders_pb2.PAY_METHOD_CARD
BATCHES = itertools.count(1)


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def as_(keyun, login: str) -> KeyunClient:
    return logged_in(KeyunClient(keyun.target), login, clock=keyun.clock)


def free(client: KeyunClient, trip_id: str, seat: str, to: str = "DDD") -> bool:
    rows = client.seat_map(trip_id, "AAA", to).rows
    return next(s for row in rows for s in row.seats if s.seat_number == seat).free


def stock_for(stock: KeyunClient, seller: str, count: int) -> tuple[str, list[str]]:
    """A fresh batch with its own tax code; its first `count` numbers issued to `seller`."""
    code = f"T{next(BATCHES)}X{dt.datetime.now().microsecond}"
    batch = stock.receive_stock("00001000", "00001999", batch_code=code).batches[0]
    last = f"{1000 + count - 1:08d}"
    stock.issue_stock(batch.batch_id, seller, "00001000", last)
    return batch.batch_id, [f"{code}{1000 + k:08d}" for k in range(count)]


@pytest.fixture(scope="module")
def desk(keyun):
    clients = {name: as_(keyun, name) for name in ("counter1", "stock", "finance", "kiosk1")}
    yield clients
    for client in clients.values():
        client.close()


def test_a_sellers_shift_closes_with_totals_to_the_fen(keyun, desk):
    seller, stock, finance = desk["counter1"], desk["stock"], desk["finance"]
    trip = keyun.trip(dt.timedelta(hours=5))
    _, numbers = stock_for(stock, "counter1", 10)

    # No shift: a counter seller's sale is refused and changes nothing.
    error = refused(lambda: seller.sell(trip, "AAA", "DDD", seat_numbers=("1",)))
    assert (error.code, error.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_OPEN_SHIFT")
    assert free(seller, trip, "1")
    assert refused(lambda: seller.shift()).reason == "NO_OPEN_SHIFT"
    # ...but not for the duty manager (ticket_seller, no shifts) nor a kiosk holding seats.
    keyun.client.sell(trip, "AAA", "DDD", seat_numbers=("12",))
    desk["kiosk1"].hold(trip, "AAA", "DDD", seat_numbers=("11",))

    shift = seller.open_shift("W01")
    assert shift.status == shifts_pb2.SHIFT_STATUS_OPEN and shift.counter_id == "W01"
    assert (shift.numbers_left, shift.next_number) == (10, numbers[0])
    assert refused(lambda: seller.open_shift("W02")).reason == "SHIFT_ALREADY_OPEN"

    pair = seller.sell(trip, "AAA", "DDD", seat_numbers=("1", "2"), pay_method=CASH)
    assert [(p.ticket_id, p.number) for p in pair.paper_numbers] == [
        (pair.tickets[0].ticket_id, numbers[0]),
        (pair.tickets[1].ticket_id, numbers[1]),
    ]
    by_card = seller.sell(trip, "AAA", "BBB", seat_numbers=("3",), pay_method=CARD)
    refunded = seller.sell(trip, "AAA", "DDD", seat_numbers=("4",))
    assert [p.number for p in [*by_card.paper_numbers, *refunded.paper_numbers]] == numbers[2:4]
    assert pair.total_fen == 8000 and by_card.total_fen == 1500 and refunded.total_fen == 4000

    back = seller.refund(refunded.tickets[0].ticket_id)
    assert (back.refund_fee_fen, back.refunded_fen) == (400, 3600)

    voided = seller.void_ticket(pair.tickets[0].ticket_id)
    assert voided.ticket.status == common_pb2.TICKET_STATUS_VOID
    assert voided.spoiled_number == numbers[0]
    assert free(seller, trip, "1")  # the seat is on sale again

    reprinted = seller.reprint(pair.tickets[1].ticket_id)
    assert (reprinted.spoiled_number, reprinted.paper_number.number) == (numbers[1], numbers[4])
    jammed = seller.spoil_number("jam: printer 2")
    assert jammed.numbers[-1].number == numbers[5] and jammed.numbers[-1].spoiled == "jam: printer 2"

    # The open shift's slip so far, from the trip owners: what the drawer should hold now.
    running = seller.shift().running
    assert (running.sold_count, running.sold_fen, running.voided_fen, running.refunded_fen) == (4, 13500, 4000, 3600)
    assert (running.reprinted_count, running.expected_cash_fen) == (1, 4400)

    closed = seller.close_shift(counted_cash_fen=4300, request_id="close-day-1")
    assert closed.status == shifts_pb2.SHIFT_STATUS_CLOSED
    assert seller.close_shift(counted_cash_fen=4300, request_id="close-day-1") == closed  # a retry, answered the same
    slip = closed.slip
    assert not closed.HasField("running")  # once closed, the slip is the record
    assert (slip.sold_count, slip.sold_fen) == (4, 13500)
    assert (slip.voided_count, slip.voided_fen) == (1, 4000)
    assert (slip.refunded_count, slip.refunded_fen, slip.refund_fees_fen) == (1, 3600, 400)
    assert slip.reprinted_count == 1
    assert [(m.method, m.sold_fen, m.voided_fen, m.refunded_fen, m.net_fen) for m in slip.methods] == [
        (CARD, 1500, 0, 0, 1500),
        (CASH, 12000, 4000, 3600, 4400),
    ]
    assert list(slip.numbers_used) == numbers[2:5]
    assert [(s.number, s.reason) for s in slip.spoiled] == [
        (numbers[0], "void"),
        (numbers[1], "reprint"),
        (numbers[5], "jam: printer 2"),
    ]
    assert list(slip.unnumbered_ticket_ids) == []
    assert (slip.expected_cash_fen, slip.counted_cash_fen, slip.over_short_fen) == (4400, 4300, -100)

    # Closed: no more sales until the next shift.
    assert refused(lambda: seller.sell(trip, "AAA", "DDD", seat_numbers=("5",))).reason == "NO_OPEN_SHIFT"
    assert free(seller, trip, "5")
    error = refused(lambda: seller.refund(by_card.tickets[0].ticket_id))
    assert error.reason == "NO_OPEN_SHIFT"
    assert seller.ticket(by_card.tickets[0].ticket_id).status == common_pb2.TICKET_STATUS_ISSUED

    pdf = seller.slip_pdf(closed.shift_id)
    assert pdf.pdf.startswith(b"%PDF") and pdf.file_name == f"slip-{closed.shift_id}.pdf"

    # Finance confirms the deposit; a seller may not, and a deposit is confirmed once.
    assert refused(lambda: seller.confirm_deposit(closed.shift_id, 4300)).code is grpc.StatusCode.PERMISSION_DENIED
    deposited = finance.confirm_deposit(closed.shift_id, 4300)
    assert deposited.status == shifts_pb2.SHIFT_STATUS_DEPOSITED and deposited.deposit_fen == 4300
    assert refused(lambda: finance.confirm_deposit(closed.shift_id, 4300)).reason == "SHIFT_CLOSED"
    assert finance.shift(closed.shift_id).slip == slip


def test_a_void_needs_the_same_shift_and_the_window(keyun, desk):
    seller, stock = desk["counter1"], desk["stock"]
    trip = keyun.trip(dt.timedelta(hours=5))
    stock_for(stock, "counter1", 5)
    other = keyun.client.sell(trip, "AAA", "DDD", seat_numbers=("6",))  # the duty manager's sale
    seller.open_shift("W01")
    try:
        error = refused(lambda: seller.void_ticket(other.tickets[0].ticket_id))
        assert (error.reason, error.facts.get("why")) == ("VOID_NOT_ALLOWED", "other_shift")
        sold = seller.sell(trip, "AAA", "DDD", seat_numbers=("7",))
        keyun.clock.advance(11 * 60_000)  # the default window is 10 minutes
        error = refused(lambda: seller.void_ticket(sold.tickets[0].ticket_id))
        assert (error.reason, error.facts.get("why")) == ("VOID_NOT_ALLOWED", "window_passed")
        assert not free(seller, trip, "7")
    finally:
        seller.close_shift(0)


def test_a_number_is_never_used_twice_and_running_out_refuses_the_sale(keyun, desk):
    seller, stock = desk["counter1"], desk["stock"]
    trip = keyun.trip(dt.timedelta(hours=5))
    batch_id, numbers = stock_for(stock, "counter1", 2)
    first = stock.stock_page().batches[0].first
    assert refused(lambda: stock.receive_stock(first, first.replace("1000", "1005"))).reason in (
        "STOCK_OVERLAP",
        "INVALID_FIELD",
    )
    error = refused(lambda: stock.issue_stock(batch_id, "counter1", "00001001", "00001003"))
    assert error.reason == "STOCK_OVERLAP"
    assert refused(lambda: stock.issue_stock(batch_id, "seller", "00001010", "00001011")).reason == "UNKNOWN_ACCOUNT"

    shift = seller.open_shift("W03")
    try:
        # Whatever earlier tests left on the seller's roll comes first: use it up.
        left = shift.numbers_left
        request_id = "retried-sale-1"
        sale = seller.sell(trip, "AAA", "DDD", seat_count=1, request_id=request_id)
        again = seller.sell(trip, "AAA", "DDD", seat_count=1, request_id=request_id)
        assert again.paper_numbers == sale.paper_numbers  # a retry takes its numbers once
        assert seller.shift().numbers_left == left - 1
        for _ in range(left - 1):
            seller.sell(trip, "AAA", "DDD", seat_count=1)
        seats = sum(s.free for row in seller.seat_map(trip, "AAA", "DDD").rows for s in row.seats)
        error = refused(lambda: seller.sell(trip, "AAA", "DDD", seat_count=1))
        assert error.reason == "NO_PAPER_NUMBERS"
        assert seats == sum(s.free for row in seller.seat_map(trip, "AAA", "DDD").rows for s in row.seats)
    finally:
        closed = seller.close_shift(0)
    used = [u.number for u in closed.numbers]
    assert len(used) == len(set(used)) == left
    assert numbers[-1] in used


def test_listing_shifts_and_stock_pages(keyun, desk):
    seller, finance, stock = desk["counter1"], desk["finance"], desk["stock"]
    seller.open_shift("W04")
    seller.close_shift(0)
    first = finance.shifts_page(page_size=1)
    assert len(first.shifts) == 1 and first.next_page_token
    second = finance.shifts_page(page_size=1, page_token=first.next_page_token)
    assert second.shifts[0].shift_id < first.shifts[0].shift_id
    mine = seller.shifts_page(page_size=50)
    assert {s.account_id for s in mine.shifts} == {seller.account.account_id}
    page = stock.stock_page(page_size=1)
    assert len(page.batches) == 1 and page.next_page_token and page.ranges
    assert refused(lambda: seller.stock_page()).code is grpc.StatusCode.PERMISSION_DENIED


def test_a_gateway_dying_between_sale_and_number_loses_and_doubles_nothing(keyun, desk):
    seller, stock = desk["counter1"], desk["stock"]
    trip = keyun.trip(dt.timedelta(hours=5))
    _, numbers = stock_for(stock, "counter1", 40)
    shift = seller.open_shift("W06")
    left = shift.numbers_left
    counter = keyun.server.server.gateway.counter
    # Sold in the trip owner, then the gateway "dies" before the number: the client retries.
    counter.faults.append(RuntimeError("the gateway died"))
    error = refused(lambda: seller.sell(trip, "AAA", "DDD", seat_numbers=("1",), request_id="crash-retried"))
    assert error.code is grpc.StatusCode.INTERNAL
    assert not free(seller, trip, "1")  # the sale is in its trip owner's log
    retried = seller.sell(trip, "AAA", "DDD", seat_numbers=("1",), request_id="crash-retried")
    assert len(retried.paper_numbers) == 1
    # The same, and nobody retries: the slip counts the money and lists the ticket unnumbered.
    counter.faults.append(RuntimeError("the gateway died"))
    refused(lambda: seller.sell(trip, "AAA", "DDD", seat_numbers=("2",), request_id="crash-abandoned"))
    abandoned = seller.ticket(f"{trip}-0002")
    slip = seller.close_shift(counted_cash_fen=8000).slip
    assert (slip.sold_count, slip.sold_fen, slip.expected_cash_fen, slip.over_short_fen) == (2, 8000, 8000, 0)
    assert list(slip.numbers_used) == [retried.paper_numbers[0].number]
    assert list(slip.unnumbered_ticket_ids) == [abandoned.ticket_id]
    assert seller.shift(shift.shift_id).numbers_left == left - 1


def test_a_counter_sellers_order_counts_in_the_shift(keyun, desk):
    seller, stock = desk["counter1"], desk["stock"]
    trip = keyun.trip(dt.timedelta(hours=5))
    stock_for(stock, "counter1", 3)
    hold = seller.hold(trip, "AAA", "DDD", seat_numbers=("1", "2"))
    assert refused(lambda: seller.create_order(hold.hold_id, CASH)).reason == "NO_OPEN_SHIFT"
    shift = seller.open_shift("W07")
    try:
        order = seller.create_order(hold.hold_id, CASH).order
        paid = seller.pay_at_counter(order.order_id, CASH)
        assert len(paid.tickets) == 2
        numbered = {u.ticket_id: u.number for u in seller.shift().numbers}
        assert set(numbered) == {t.ticket_id for t in paid.tickets}
        assert sorted(numbered.values())[0] == shift.next_number
        # A cash order's refund is paid out at the counter: out of this drawer.
        back = seller.refund_order(order.order_id, (paid.tickets[1].ticket_id,))
        assert back.refunds[0].amount_fen == 3600
    finally:
        slip = seller.close_shift(counted_cash_fen=4400).slip
    assert (slip.sold_count, slip.sold_fen, slip.expected_cash_fen, slip.over_short_fen) == (2, 8000, 4400, 0)
    assert (slip.refunded_count, slip.refunded_fen, slip.refund_fees_fen) == (1, 3600, 400)
    assert sorted(slip.numbers_used) == sorted(numbered.values()) and not slip.unnumbered_ticket_ids


def test_a_change_at_the_counter_counts_its_difference(keyun, desk):
    from keyun.v1 import sales_pb2

    from .conftest import CHINA, network_with_schedule

    seller, stock = desk["counter1"], desk["stock"]
    dear = keyun.trip(dt.timedelta(hours=5))
    later = dt.datetime.now(CHINA) + dt.timedelta(hours=6)
    cheap_id = f"TC{next(BATCHES)}"
    # The same route re-priced for a later trip: 20 instead of 30 fen a kilometre.
    network = network_with_schedule(cheap_id, later, "mini12").replace("fen_per_km = 30", "fen_per_km = 20")
    keyun.client.load_network(network, later.date().isoformat(), 1)
    cheap = f"{cheap_id}-{later:%Y%m%d}"
    stock_for(stock, "counter1", 2)
    seller.open_shift("W08")
    try:
        sold = seller.sell(cheap, "AAA", "CCC", seat_count=1)
        request = sales_pb2.ChangeTicketRequest(
            request_id="counter-change-1", ticket_id=sold.tickets[0].ticket_id, new_trip_id=dear
        )
        moved = seller.call(seller.sales.ChangeTicket, request)
        assert moved.fare_difference_fen == 1000 and len(moved.paper_numbers) == 1
    finally:
        slip = seller.close_shift(counted_cash_fen=3000).slip
    assert (slip.sold_count, slip.sold_fen, slip.changed_count, slip.changed_fen) == (1, 2000, 1, 1000)
    assert [(m.method, m.sold_fen, m.changed_fen, m.net_fen) for m in slip.methods] == [(CASH, 2000, 1000, 3000)]
    assert (slip.expected_cash_fen, slip.over_short_fen) == (3000, 0)
    assert list(slip.numbers_used) == [sold.paper_numbers[0].number, moved.paper_numbers[0].number]


def test_shift_calls_are_audited_with_their_targets(keyun, desk):
    seller, stock = desk["counter1"], desk["stock"]
    trip = keyun.trip(dt.timedelta(hours=5))
    stock_for(stock, "counter1", 2)
    shift = seller.open_shift("W05")
    sold = seller.sell(trip, "AAA", "DDD", seat_count=1)
    seller.void_ticket(sold.tickets[0].ticket_id)
    seller.close_shift(0)
    auditor = as_(keyun, "auditor")
    audit = audit_pb2_grpc.AuditStub(auditor.channel)

    def records(action: str, target: str) -> list:
        request = audit_pb2.ListRecordsRequest(action=f"keyun.v1.Shifts/{action}", target=target, page_size=10)
        return list(auditor.call(audit.ListRecords, request).records)

    for action, target in (
        ("OpenShift", shift.shift_id),
        ("CloseShift", shift.shift_id),
        ("VoidTicket", sold.tickets[0].ticket_id),
    ):
        (record,) = records(action, target)
        assert (record.actor, record.outcome) == (seller.account.account_id, audit_pb2.AUDIT_OUTCOME_OK), action
    auditor.close()


def test_a_restart_keeps_shifts_stock_and_slips(ray_session, tmp_path):
    first = ServerThread(tmp_path, shards=2)
    try:
        manager = logged_in(KeyunClient(first.target), clock=first.clock)
        trip = schedule_trip(manager, "RS1", dt.timedelta(hours=5))
        stock = logged_in(KeyunClient(first.target), "stock", clock=first.clock)
        seller = logged_in(KeyunClient(first.target), "counter1", clock=first.clock)
        batch = stock.receive_stock("00000001", "00000100").batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00000001", "00000010")
        opened = seller.open_shift("W09")
        sold = seller.sell(trip, "AAA", "DDD", seat_count=2)
        closed = seller.close_shift(8000)
        seller.open_shift("W09")
        seller.sell(trip, "AAA", "BBB", seat_count=1)
    finally:
        first.stop()

    second = ServerThread(tmp_path, shards=2)
    try:
        seller = logged_in(KeyunClient(second.target), "counter1", clock=second.clock)
        assert seller.shift(opened.shift_id).slip == closed.slip
        assert closed.slip.sold_fen == sold.total_fen and closed.slip.over_short_fen == 0
        still_open = seller.shift()
        assert still_open.numbers_left == 7 and still_open.next_number == "00000004"
        assert [u.number for u in still_open.numbers] == ["00000003"]
    finally:
        second.stop()
