"""Rebooking (改签) across two owners, with a failure injected at every step of the saga: the
passenger ends with exactly one seat whichever step fails, and a retry finishes an interrupted move.
A refund racing the move, before or after a crash, leaves exactly one of the old seat, the new
seat or the refund, and no hold behind."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial

import grpc
import pytest

from keyun.engine.reasons import Reason, reject
from keyun.gateway.owners import OwnerUnavailable
from keyun.gateway.services import MOVE_STALE_MS
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2, sales_pb2

from .conftest import ServerThread, logged_in, schedule_trip

SHARDS = 2


def on_shard(prefix: str, shard: int, day: dt.datetime) -> str:
    """A schedule id whose trip on `day` lives on `shard` (owners are chosen by crc32)."""
    for n in range(1000):
        schedule_id = f"{prefix}{n}"
        if zlib.crc32(f"{schedule_id}-{day:%Y%m%d}".encode()) % SHARDS == shard:
            return schedule_id
    raise AssertionError("no schedule id found")


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    server = ServerThread(tmp_path_factory.mktemp("rebook"), shards=SHARDS)
    client = logged_in(KeyunClient(server.target, attempts=1))
    yield server, client
    server.stop()


TAGS = itertools.count(1)


@pytest.fixture
def trips(station):
    """Two trips of one route, five and six hours out, on different owners."""
    server, client = station
    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(hours=5)
    tag = f"R{next(TAGS)}X"
    first = schedule_trip(client, on_shard(tag, 0, day), dt.timedelta(hours=5))
    second = schedule_trip(client, on_shard(tag + "B", 1, day + dt.timedelta(hours=1)), dt.timedelta(hours=6))
    return first, second


def change(client: KeyunClient, ticket_id: str, new_trip: str, request_id: str):
    return client.call(
        client.sales.ChangeTicket,
        sales_pb2.ChangeTicketRequest(request_id=request_id, ticket_id=ticket_id, new_trip_id=new_trip),
    )


def live_seats(client: KeyunClient, *trip_ids: str) -> list[str]:
    """Every ticket still holding a seat on these trips."""
    seats = []
    for trip_id in trip_ids:
        manifest = client.manifest(trip_id, page_size=500)
        seats += [
            t.ticket_id
            for t in manifest.tickets
            if t.status in (common_pb2.TICKET_STATUS_ISSUED, common_pb2.TICKET_STATUS_CHECKED_IN)
        ]
    return seats


def test_a_ticket_moves_to_another_trip_of_the_route_once(station, trips):
    _, client = station
    first, second = trips
    ticket = client.sell(first, "AAA", "CCC", seat_count=1).tickets[0]
    moved = change(client, ticket.ticket_id, second, "rb-ok")
    assert (
        moved.old_ticket.status == common_pb2.TICKET_STATUS_CHANGED
        and moved.old_ticket.changed_to == moved.new_ticket.ticket_id
    )
    assert moved.new_ticket.changed_from == ticket.ticket_id and moved.new_ticket.price_fen == ticket.price_fen
    assert live_seats(client, first, second) == [moved.new_ticket.ticket_id]
    assert change(client, ticket.ticket_id, second, "rb-ok") == moved  # a retry: the same answer
    with pytest.raises(KeyunError) as again:
        change(client, moved.new_ticket.ticket_id, first, "rb-twice")
    assert again.value.reason == "CHANGE_NOT_ALLOWED"
    with pytest.raises(KeyunError) as used:
        client.refund(ticket.ticket_id)
    assert used.value.reason == "TICKET_CHANGED"


@pytest.mark.parametrize("step", ["hold", "issue", "change"])
def test_a_refusal_at_any_step_leaves_exactly_the_old_seat(station, trips, step):
    server, client = station
    first, second = trips
    ticket = client.sell(first, "AAA", "DDD", seat_count=1).tickets[0]
    server.server.gateway.saga_faults[step] = reject(Reason.SALES_CLOSED, f"injected at {step}")
    with pytest.raises(KeyunError) as refused:
        change(client, ticket.ticket_id, second, f"rb-refused-{step}")
    assert refused.value.reason == "SALES_CLOSED"
    assert live_seats(client, first, second) == [ticket.ticket_id]
    assert (
        client.seat_map(second, "AAA", "DDD").seats_free == client.trip(second).seats_total
    )  # no hold left behind either


@pytest.mark.parametrize("step", ["hold", "issue", "change"])
def test_an_owner_lost_at_any_step_and_a_retry_finish_the_move(station, trips, step):
    server, client = station
    first, second = trips
    ticket = client.sell(first, "BBB", "DDD", seat_count=1).tickets[0]
    server.server.gateway.saga_faults[step] = OwnerUnavailable(f"injected at {step}")
    with pytest.raises(KeyunError) as lost:
        change(client, ticket.ticket_id, second, f"rb-lost-{step}")
    assert lost.value.code is grpc.StatusCode.UNAVAILABLE
    interrupted = live_seats(client, first, second)
    assert ticket.ticket_id in interrupted and 1 <= len(interrupted) <= 2  # never none
    moved = change(client, ticket.ticket_id, second, f"rb-lost-{step}")  # the client retries, same id
    assert live_seats(client, first, second) == [moved.new_ticket.ticket_id]


def test_a_passengers_ticket_moved_at_the_counter_stays_theirs(station, trips):
    from keyun.v1 import accounts_pb2

    server, client = station
    first, second = trips
    passenger = KeyunClient(server.target, attempts=1)
    passenger.call(
        passenger.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="rb-reg", phone="13966667777", password="Rebook-Passw0rd"),
    )
    passenger.login("13966667777", "Rebook-Passw0rd")
    pid = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="rb-pax",
            name="郑改签",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number="E55556666",
        ),
    ).passenger.passenger_id
    hold = passenger.call(
        passenger.sales.Hold,
        sales_pb2.HoldRequest(
            request_id="rb-hold",
            trip_id=first,
            from_station="AAA",
            to_station="CCC",
            seat_count=1,
            passenger_ids=[pid],
        ),
    ).hold
    ticket = client.confirm(hold.hold_id).tickets[0]  # paid at the counter
    moved = change(client, ticket.ticket_id, second, "rb-counter")  # and moved there too
    assert passenger.ticket(moved.new_ticket.ticket_id).holder.passenger_id == pid


def test_a_ticket_cannot_move_to_its_own_trip_or_after_it_was_refunded(station, trips):
    _, client = station
    first, second = trips
    ticket = client.sell(first, "AAA", "BBB", seat_count=1).tickets[0]
    with pytest.raises(KeyunError) as same:
        change(client, ticket.ticket_id, first, "rb-same")
    assert same.value.reason == "CHANGE_NOT_ALLOWED"
    client.refund(ticket.ticket_id)
    with pytest.raises(KeyunError) as gone:
        change(client, ticket.ticket_id, second, "rb-refunded")
    assert gone.value.reason == "CHANGE_NOT_ALLOWED"
    assert live_seats(client, first, second) == []


def test_a_fare_difference_goes_back_to_the_payer_or_is_collected_at_the_counter(station):
    from keyun.v1 import orders_pb2, orders_pb2_grpc

    from .conftest import CHINA, network_with_schedule

    server, client = station
    departs = dt.datetime.now(CHINA) + dt.timedelta(hours=5)
    dear = schedule_trip(client, on_shard("FD", 0, departs), dt.timedelta(hours=5))
    # The same route re-priced for a later trip: 20 instead of 30 fen a kilometre.
    cheap_id = on_shard("FC", 1, departs + dt.timedelta(hours=1))
    later = departs + dt.timedelta(hours=1)
    client.load_network(
        network_with_schedule(cheap_id, later, "mini12").replace("fen_per_km = 30", "fen_per_km = 20"),
        later.date().isoformat(),
        1,
    )
    cheap = f"{cheap_id}-{later:%Y%m%d}"
    orders = orders_pb2_grpc.OrdersStub(client.channel)
    hold = client.hold(dear, "AAA", "CCC", seat_count=1)
    order = client.call(
        orders.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id="fd-o", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    paid = client.call(
        orders.PayAtCounter,
        orders_pb2.PayAtCounterRequest(request_id="fd-p", order_id=order.order_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    moved = change(client, paid.tickets[0].ticket_id, cheap, "fd-cheaper")
    assert moved.fare_difference_fen == moved.new_ticket.price_fen - paid.tickets[0].price_fen < 0
    after = client.call(orders.GetOrder, orders_pb2.GetOrderRequest(order_id=order.order_id)).order
    (refund,) = after.refunds
    assert refund.amount_fen == -moved.fare_difference_fen and refund.provider_refund_id.startswith("cash-")
    back = change(client, client.sell(cheap, "AAA", "CCC", seat_count=1).tickets[0].ticket_id, dear, "fd-dearer")
    assert back.fare_difference_fen > 0  # the counter collects it
    # A passenger moving their own ticket to the dearer trip is sent to a counter, and no hold is left.
    from keyun.v1 import accounts_pb2

    passenger = KeyunClient(server.target, attempts=1)
    passenger.call(
        passenger.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="fd-reg", phone="13944445555", password="Fare-Passw0rd"),
    )
    passenger.login("13944445555", "Fare-Passw0rd")
    pid = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="fd-pax",
            name="钱差价",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number="E33334444",
        ),
    ).passenger.passenger_id
    own_hold = passenger.call(
        passenger.sales.Hold,
        sales_pb2.HoldRequest(
            request_id="fd-own",
            trip_id=cheap,
            from_station="AAA",
            to_station="CCC",
            seat_count=1,
            passenger_ids=[pid],
        ),
    ).hold
    own = client.confirm(own_hold.hold_id).tickets[0]
    free_before = client.seat_map(dear, "AAA", "CCC").seats_free
    with pytest.raises(KeyunError) as dearer:
        change(passenger, own.ticket_id, dear, "fd-own-dearer")
    assert dearer.value.reason == "CHANGE_NOT_ALLOWED"
    assert client.seat_map(dear, "AAA", "CCC").seats_free == free_before
    # A kiosk without a cash acceptor cannot collect the difference either: sent to a counter too.
    kiosk = logged_in(KeyunClient(server.target, attempts=1), "kiosk1")
    sold = client.sell(cheap, "AAA", "CCC", seat_count=1).tickets[0]
    with pytest.raises(KeyunError) as at_kiosk:
        change(kiosk, sold.ticket_id, dear, "fd-kiosk-dearer")
    assert at_kiosk.value.reason == "CHANGE_NOT_ALLOWED" and "collects the difference" in at_kiosk.value.message
    assert client.seat_map(dear, "AAA", "CCC").seats_free == free_before
    assert (
        client.ticket(sold.ticket_id).trip.trip_id == cheap and not client.ticket(sold.ticket_id).changed_to
    )  # still on its own trip


# --- a move raced by a refund, or cut off by a crash (issue 16, item 0) ----------------------------


@contextmanager
def moves_count_as_interrupted(server: ServerThread):
    """Every rebooking a call finds holding its ticket counts as cut off (as once MOVE_STALE_MS has
    passed), so the call undoes it: the owners' clock is the wall clock, and tests do not wait."""
    gateway = server.server.gateway
    gateway.move_stale_ms = 0
    try:
        yield
    finally:
        gateway.move_stale_ms = MOVE_STALE_MS


def refunds_of(client: KeyunClient, ticket_id: str, *trip_ids: str) -> list[str]:
    """The refunded tickets among `ticket_id` and the new tickets issued for its moves."""
    tickets = [t for trip_id in trip_ids for t in client.manifest(trip_id, page_size=500).tickets]
    return [
        t.ticket_id
        for t in tickets
        if (t.ticket_id == ticket_id or t.changed_from == ticket_id) and t.status == common_pb2.TICKET_STATUS_REFUNDED
    ]


def exactly_one(
    client: KeyunClient, ticket_id: str, first: str, second: str, segment: tuple[str, str], others: tuple[str, ...] = ()
) -> str:
    """What the passenger has: "old seat", "new seat" or "refund" (of the old ticket or of a new
    one), and nothing else; and no hold or stray ticket holds a seat on either trip (every seat is
    free or sold to a live ticket).  `others`: other passengers' tickets on these trips."""
    live = [t for t in live_seats(client, first, second) if t not in others]
    refunds = refunds_of(client, ticket_id, first, second)
    assert len(live) + len(refunds) == 1, f"the passenger has {live} and the refunds {refunds}"
    old = client.ticket(ticket_id)
    refunded = bool(refunds)
    for trip_id in (first, second):
        live_here = len(live_seats(client, trip_id))
        assert client.seat_map(trip_id, *segment).seats_free + live_here == client.trip(trip_id).seats_total, (
            f"a stray hold on {trip_id}"
        )
    if refunded:
        return "refund"
    if live == [ticket_id]:
        return "old seat"
    new = client.ticket(live[0])
    assert (
        old.status == common_pb2.TICKET_STATUS_CHANGED
        and old.changed_to == new.ticket_id
        and new.changed_from == ticket_id
    )
    return "new seat"


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as error:
        call()
    return error.value


@pytest.mark.parametrize("step", ["hold", "issue", "change"])
def test_a_move_cut_off_then_refunded_leaves_the_refund_alone_and_its_retry_says_so(station, trips, step):
    """The issue's sequence: the change is cut off (before step 3, or earlier), the old ticket is
    refunded, and the change is retried with its request id."""
    server, client = station
    first, second = trips
    ticket = client.sell(first, "AAA", "CCC", seat_count=1).tickets[0]
    server.server.gateway.saga_faults[step] = OwnerUnavailable(f"cut off before {step}")
    assert (
        refused(lambda: change(client, ticket.ticket_id, second, f"rb-cut-{step}")).code is grpc.StatusCode.UNAVAILABLE
    )
    # A move this young may still be running: the refund is told to come back, and changes nothing.
    waiting = refused(lambda: client.refund(ticket.ticket_id, request_id=f"rb-cut-refund-{step}"))
    assert (waiting.code, waiting.reason, waiting.retry_after_s) == (
        grpc.StatusCode.UNAVAILABLE,
        "CHANGE_IN_PROGRESS",
        0.5,
    )
    assert "saga" not in waiting.facts  # another client's request id stays in the gateway
    assert client.ticket(ticket.ticket_id).status == common_pb2.TICKET_STATUS_ISSUED
    with moves_count_as_interrupted(server):
        refund = client.refund(ticket.ticket_id, request_id=f"rb-cut-refund-{step}")  # the same refund, retried
    assert refund.status == common_pb2.TICKET_STATUS_REFUNDED
    assert exactly_one(client, ticket.ticket_id, first, second, ("AAA", "CCC")) == "refund"
    retried = refused(lambda: change(client, ticket.ticket_id, second, f"rb-cut-{step}"))
    assert retried.reason == "CHANGE_NOT_ALLOWED"
    assert exactly_one(client, ticket.ticket_id, first, second, ("AAA", "CCC")) == "refund"
    assert (
        refused(lambda: change(client, ticket.ticket_id, second, f"rb-cut-{step}")).message == retried.message
    )  # and again


@pytest.mark.parametrize("interrupted", [False, True], ids=["in-flight", "interrupted"])
@pytest.mark.parametrize("step", ["hold", "issue", "change"])
def test_a_refund_racing_a_move_at_any_step_leaves_exactly_one(station, trips, step, interrupted):
    """A refund of the old ticket arrives just before a step of the move: it waits for a move in
    flight (which then finishes), or undoes one that counts as interrupted (whose next step is then
    refused, and the move undone)."""
    server, client = station
    first, second = trips
    ticket = client.sell(first, "BBB", "CCC", seat_count=1).tickets[0]
    racing: dict[str, object] = {}

    async def refund_now():
        try:
            racing["refund"] = await asyncio.get_running_loop().run_in_executor(
                None, lambda: client.refund(ticket.ticket_id)
            )
        except KeyunError as error:
            racing["refund"] = error

    server.server.gateway.saga_faults[step] = refund_now
    with moves_count_as_interrupted(server) if interrupted else contextmanager(lambda: (yield))():
        try:
            racing["change"] = change(client, ticket.ticket_id, second, f"rb-race-{step}-{interrupted}")
        except KeyunError as error:
            racing["change"] = error
    has = exactly_one(client, ticket.ticket_id, first, second, ("BBB", "CCC"))
    if interrupted:
        assert has == "refund" and racing["refund"].status == common_pb2.TICKET_STATUS_REFUNDED
        assert racing["change"].reason == "CHANGE_NOT_ALLOWED"
    else:
        assert has == "new seat" and racing["change"].new_ticket.ticket_id
        assert racing["refund"].reason == "CHANGE_IN_PROGRESS"
        assert refused(lambda: client.refund(ticket.ticket_id)).reason == "TICKET_CHANGED"  # after the move: too late
    # The retry of the change gets the first answer, whatever happened since.
    again = change(client, ticket.ticket_id, second, f"rb-race-{step}-{interrupted}") if not interrupted else None
    if interrupted:
        assert (
            refused(lambda: change(client, ticket.ticket_id, second, f"rb-race-{step}-{interrupted}")).message
            == racing["change"].message
        )
    else:
        assert again == racing["change"]
    assert exactly_one(client, ticket.ticket_id, first, second, ("BBB", "CCC")) == has


def test_a_refused_change_retried_after_a_refund_gets_its_first_answer(station, trips):
    _, client = station
    first, second = trips
    ticket = client.sell(first, "AAA", "BBB", seat_count=1).tickets[0]
    taken = client.sell(second, "AAA", "BBB", seat_numbers=("1",)).tickets[0].ticket_id
    request = sales_pb2.ChangeTicketRequest(
        request_id="rb-first-answer", ticket_id=ticket.ticket_id, new_trip_id=second, seat_number="1"
    )
    first_answer = refused(lambda: client.call(client.sales.ChangeTicket, request))
    assert first_answer.reason == "SEAT_TAKEN"
    client.refund(ticket.ticket_id)
    retried = refused(lambda: client.call(client.sales.ChangeTicket, request))
    assert (retried.reason, retried.message) == (first_answer.reason, first_answer.message)
    assert exactly_one(client, ticket.ticket_id, first, second, ("AAA", "BBB"), others=(taken,)) == "refund"


def test_the_sweep_undoes_a_move_nobody_asks_about_again(station, trips):
    server, client = station
    first, second = trips
    ticket = client.sell(first, "CCC", "DDD", seat_count=1).tickets[0]
    server.server.gateway.saga_faults["change"] = OwnerUnavailable("cut off before the change")
    refused(lambda: change(client, ticket.ticket_id, second, "rb-swept"))
    assert len(live_seats(client, first, second)) == 2  # the new ticket too, for now
    assert server.run(server.server.gateway.resolve_interrupted_moves()) == 0  # young: left to its saga
    with moves_count_as_interrupted(server):
        assert server.run(server.server.gateway.resolve_interrupted_moves()) >= 1
        assert server.run(server.server.gateway.resolve_interrupted_moves()) == 0  # undone once
    assert exactly_one(client, ticket.ticket_id, first, second, ("CCC", "DDD")) == "old seat"
    assert client.refund(ticket.ticket_id).status == common_pb2.TICKET_STATUS_REFUNDED  # the ticket is free again


def test_owners_killed_in_the_middle_of_a_move_then_a_refund_after_the_restart(ray_session, tmp_path):
    """The whole server dies after the new ticket is issued and before the old one is given up;
    the move survives the restart (log and snapshot) and holds the ticket until it is undone."""
    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(hours=5)
    server = ServerThread(tmp_path, shards=SHARDS)
    client = logged_in(KeyunClient(server.target, attempts=1))
    first = schedule_trip(client, on_shard("KX", 0, day), dt.timedelta(hours=5))
    second = schedule_trip(client, on_shard("KY", 1, day + dt.timedelta(hours=1)), dt.timedelta(hours=6))
    ticket = client.sell(first, "AAA", "DDD", seat_count=1).tickets[0]
    other = client.sell(first, "AAA", "DDD", seat_count=1).tickets[0]
    server.server.gateway.saga_faults["change"] = OwnerUnavailable("killed before the change")
    refused(lambda: change(client, ticket.ticket_id, second, "rb-killed"))
    server.run(server.server.pool.snapshot())  # one move in the snapshot, the other only in the log
    server.server.gateway.saga_faults["change"] = OwnerUnavailable("killed before the change")
    refused(lambda: change(client, other.ticket_id, second, "rb-killed-2"))
    client.close()
    server.stop()  # every owner killed for good, the gateway gone

    server = ServerThread(tmp_path, shards=SHARDS)
    try:
        client = logged_in(KeyunClient(server.target, attempts=1))
        for held in (ticket, other):
            assert refused(partial(client.refund, held.ticket_id)).reason == "CHANGE_IN_PROGRESS"
        with moves_count_as_interrupted(server):
            assert client.refund(ticket.ticket_id).status == common_pb2.TICKET_STATUS_REFUNDED
            assert refused(lambda: change(client, ticket.ticket_id, second, "rb-killed")).reason == "CHANGE_NOT_ALLOWED"
            moved = change(client, other.ticket_id, second, "rb-killed-2-again")  # undoes the first try, then moves
        # One passenger has the refund, the other the new seat; neither first try left a seat behind.
        assert live_seats(client, first, second) == [moved.new_ticket.ticket_id]
        assert client.seat_map(first, "AAA", "DDD").seats_free == client.trip(first).seats_total
        assert client.seat_map(second, "AAA", "DDD").seats_free == client.trip(second).seats_total - 1
        client.close()
    finally:
        server.stop()


@pytest.mark.parametrize("interrupted", [False, True], ids=["in-flight", "interrupted"])
def test_changes_and_refunds_of_the_same_tickets_at_the_same_moment(station, trips, interrupted):
    """The natural race: each ticket is rebooked by one client while another refunds it, both
    released at once by a barrier (the race at each step of the saga in turn is the test above,
    with saga_faults).  Every passenger ends with the new seat (and the refund is refused TICKET_CHANGED) or the
    refund (and the change is refused), and nothing else holds a seat."""
    server, client = station
    first, second = trips
    refunder = logged_in(KeyunClient(server.target))  # retries CHANGE_IN_PROGRESS by itself, after the hint
    tickets = [t.ticket_id for t in client.sell(first, "AAA", "DDD", seat_count=8).tickets]

    def attempt(call):
        try:
            return call()
        except KeyunError as error:
            return error

    def together(start: threading.Barrier, call):
        start.wait()
        return attempt(call)

    outcomes = {}
    with moves_count_as_interrupted(server) if interrupted else contextmanager(lambda: (yield))():
        for n, ticket_id in enumerate(tickets):
            start = threading.Barrier(2)
            with ThreadPoolExecutor(2) as pool:
                moving = pool.submit(
                    together, start, partial(change, client, ticket_id, second, f"rb-moment-{n}-{interrupted}")
                )
                refunding = pool.submit(together, start, partial(refunder.refund, ticket_id))
            outcomes[ticket_id] = (moving.result(), refunding.result())
    refunder.close()
    moved = []
    for moving, refunding in outcomes.values():
        if isinstance(moving, KeyunError):
            assert moving.reason == "CHANGE_NOT_ALLOWED" and refunding.status == common_pb2.TICKET_STATUS_REFUNDED, (
                moving,
                refunding,
            )
        else:
            assert (
                refunding.reason == "TICKET_CHANGED" and moving.old_ticket.changed_to == moving.new_ticket.ticket_id
            ), (moving, refunding)
            moved.append(moving.new_ticket.ticket_id)
    assert sorted(live_seats(client, first, second)) == sorted(moved)  # no old seat kept, no new ticket stray
    for trip_id in (first, second):
        assert (
            client.seat_map(trip_id, "AAA", "DDD").seats_free + len(live_seats(client, trip_id))
            == client.trip(trip_id).seats_total
        )


@pytest.mark.parametrize("other_owner", [False, True], ids=["same-owner", "other-owner"])
def test_a_request_id_reused_for_another_ticket_is_a_rebooking_of_its_own(station, trips, other_owner):
    """A client that reuses a rebooking's request id for another ticket gets a rebooking of that
    ticket, and the first rebooking keeps its new ticket.  The steps' ids once came from the request
    id alone: on another ticket's owner the second move began afresh, replayed the first move's hold
    on the new trip, was refused at its issue step, and its undo voided the first move's new ticket
    (or, on the same owner, the undo's assertion failed and the call answered UNKNOWN)."""
    server, client = station
    first, second = trips
    one = client.sell(first, "AAA", "CCC", seat_count=1).tickets[0]
    if other_owner:  # the second old ticket on the new trip's owner, not the first ticket's
        day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(hours=7)
        third = schedule_trip(client, on_shard(f"R{next(TAGS)}Z", 1, day), dt.timedelta(hours=7))
    else:
        third = first
    two = client.sell(third, "AAA", "CCC", seat_count=1).tickets[0]
    request_id = f"rb-same-id-{other_owner}"
    moved = change(client, one.ticket_id, second, request_id)
    moved_too = change(client, two.ticket_id, second, request_id)
    assert moved_too.old_ticket.ticket_id == two.ticket_id and moved_too.new_ticket.changed_from == two.ticket_id
    assert client.ticket(moved.new_ticket.ticket_id).status == common_pb2.TICKET_STATUS_ISSUED
    assert sorted(live_seats(client, first, second, *{third} - {first})) == sorted(
        [moved.new_ticket.ticket_id, moved_too.new_ticket.ticket_id]
    )
    assert change(client, two.ticket_id, second, request_id) == moved_too  # and a retry of each gets its own answer
    assert change(client, one.ticket_id, second, request_id) == moved


# --- the new ticket's end of a move (issue 16, item 0, finished) ---------------------------------


@pytest.fixture
def boarding_trips(station):
    """Two trips of one route, on different owners, boarding now (30 and 45 minutes out)."""
    server, client = station
    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    tag = f"R{next(TAGS)}G"
    first = schedule_trip(client, on_shard(tag, 0, day + dt.timedelta(minutes=30)), dt.timedelta(minutes=30))
    second = schedule_trip(client, on_shard(tag + "B", 1, day + dt.timedelta(minutes=45)), dt.timedelta(minutes=45))
    return first, second


def use(client: KeyunClient, how: str, ticket_id: str, request_id: str):
    """Refund the ticket, or board it at a gate."""
    return (
        client.refund(ticket_id, request_id=request_id)
        if how == "refund"
        else client.check_in(ticket_id, "G1", request_id=request_id)
    )


def new_ticket_of(client: KeyunClient, ticket_id: str, trip_id: str) -> str:
    """The ticket issued on `trip_id` for a move of `ticket_id`, whatever became of it."""
    (new,) = [t.ticket_id for t in client.manifest(trip_id, page_size=500).tickets if t.changed_from == ticket_id]
    return new


def cut_off_before(
    step: str, station, trips: tuple[str, str], segment: tuple[str, str], request_id: str
) -> tuple[str, str]:
    """Sell a ticket on the first trip and move it to the second, cut off (its owner lost) just
    before `step` ("change" or "settle"): return the old ticket and the new one, both issued."""
    server, client = station
    first, second = trips
    ticket = client.sell(first, *segment, seat_count=1).tickets[0].ticket_id
    server.server.gateway.saga_faults[step] = OwnerUnavailable(f"cut off before {step}")
    assert refused(lambda: change(client, ticket, second, request_id)).code is grpc.StatusCode.UNAVAILABLE
    return ticket, new_ticket_of(client, ticket, second)


@pytest.mark.parametrize("how", ["refund", "check-in"])
def test_the_new_ticket_of_a_move_cut_off_before_the_change_waits_then_is_taken_back(station, boarding_trips, how):
    """The move is cut off after its new ticket was issued, and the passenger (who saw it in the
    manifest or their order) refunds or boards the NEW ticket: it waits while the move is young;
    once interrupted, the move is undone (the old owner never gave the old ticket up), the new
    ticket is taken back, and the passenger keeps the old seat and nothing else."""
    server, client = station
    first, second = boarding_trips
    ticket, new = cut_off_before("change", station, boarding_trips, ("AAA", "CCC"), f"rb-new-cut-{how}")
    waiting = refused(lambda: use(client, how, new, f"rb-new-cut-use-{how}"))
    assert (waiting.code, waiting.reason, waiting.retry_after_s) == (
        grpc.StatusCode.UNAVAILABLE,
        "CHANGE_IN_PROGRESS",
        0.5,
    )
    assert "saga" not in waiting.facts
    assert client.ticket(new).status == common_pb2.TICKET_STATUS_ISSUED  # nothing changed
    assert refused(lambda: change(client, new, first, f"rb-new-cut-again-{how}")).reason == "CHANGE_IN_PROGRESS"
    with moves_count_as_interrupted(server):
        taken_back = refused(lambda: use(client, how, new, f"rb-new-cut-use-{how}"))  # the same call, retried
    assert taken_back.reason == "TICKET_CHANGED"
    assert exactly_one(client, ticket, first, second, ("AAA", "CCC")) == "old seat"
    assert use(client, how, ticket, f"rb-new-cut-old-{how}").ticket_id == ticket  # the old ticket is free again


@pytest.mark.parametrize("how", ["refund", "check-in"])
def test_the_new_ticket_of_a_move_cut_off_after_the_change_waits_then_is_settled(station, boarding_trips, how):
    """The move is cut off after the old owner gave the old ticket up and before the new trip's
    owner settled the new ticket: a call on the new ticket waits while the move is young; once
    interrupted, the old owner's decision (the move was made) settles it and the call goes on."""
    server, client = station
    first, second = boarding_trips
    ticket, new = cut_off_before("settle", station, boarding_trips, ("AAA", "CCC"), f"rb-new-made-{how}")
    assert client.ticket(ticket).status == common_pb2.TICKET_STATUS_CHANGED
    assert refused(lambda: use(client, how, new, f"rb-new-made-use-{how}")).reason == "CHANGE_IN_PROGRESS"
    with moves_count_as_interrupted(server):
        used = use(client, how, new, f"rb-new-made-use-{how}")
    assert used.status == (
        common_pb2.TICKET_STATUS_REFUNDED if how == "refund" else common_pb2.TICKET_STATUS_CHECKED_IN
    )
    assert exactly_one(client, ticket, first, second, ("AAA", "CCC")) == ("refund" if how == "refund" else "new seat")


def test_a_change_cut_off_before_its_last_step_is_finished_by_its_retry_with_the_first_answer(station, trips):
    _, client = station
    first, second = trips
    ticket, new = cut_off_before("settle", station, trips, ("BBB", "DDD"), "rb-settle-retry")
    assert refused(lambda: client.refund(new)).reason == "CHANGE_IN_PROGRESS"  # not settled yet
    moved = change(client, ticket, second, "rb-settle-retry")  # the client retries, same id
    assert moved.new_ticket.ticket_id == new and moved.old_ticket.changed_to == new
    assert change(client, ticket, second, "rb-settle-retry") == moved  # and again: the same answer
    assert exactly_one(client, ticket, first, second, ("BBB", "DDD")) == "new seat"
    assert client.refund(new).status == common_pb2.TICKET_STATUS_REFUNDED  # settled: the new ticket is the passenger's


def test_the_sweep_settles_a_move_made_and_not_settled(station, trips):
    server, client = station
    first, second = trips
    ticket, new = cut_off_before("settle", station, trips, ("AAA", "BBB"), "rb-settle-swept")
    assert server.run(server.server.gateway.resolve_interrupted_moves()) == 0  # young: left to its saga
    with moves_count_as_interrupted(server):
        assert server.run(server.server.gateway.resolve_interrupted_moves()) >= 1
        assert server.run(server.server.gateway.resolve_interrupted_moves()) == 0  # settled once
    assert exactly_one(client, ticket, first, second, ("AAA", "BBB")) == "new seat"
    assert client.refund(new).status == common_pb2.TICKET_STATUS_REFUNDED  # without waiting for anything
    assert change(client, ticket, second, "rb-settle-swept").new_ticket.ticket_id == new  # the saga's retry agrees


def test_a_server_killed_before_a_move_settled_keeps_the_new_ticket_waiting_until_the_retry(ray_session, tmp_path):
    """The whole server dies after the old ticket was given up and before the new one settled;
    the new ticket's mark survives the restart (one move from the snapshot, one from the log), and
    the retries finish both moves with their answers."""
    day = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(hours=5)
    server = ServerThread(tmp_path, shards=SHARDS)
    client = logged_in(KeyunClient(server.target, attempts=1))
    trips = (
        schedule_trip(client, on_shard("KS", 0, day), dt.timedelta(hours=5)),
        schedule_trip(client, on_shard("KT", 1, day + dt.timedelta(hours=1)), dt.timedelta(hours=6)),
    )
    snapshotted = cut_off_before("settle", (server, client), trips, ("AAA", "DDD"), "rb-killed-settle")
    server.run(server.server.pool.snapshot())
    logged = cut_off_before("settle", (server, client), trips, ("AAA", "DDD"), "rb-killed-settle-2")
    client.close()
    server.stop()

    server = ServerThread(tmp_path, shards=SHARDS)
    try:
        client = logged_in(KeyunClient(server.target, attempts=1))
        for (ticket, new), request_id in ((snapshotted, "rb-killed-settle"), (logged, "rb-killed-settle-2")):
            assert refused(partial(client.refund, new)).reason == "CHANGE_IN_PROGRESS"
            assert change(client, ticket, trips[1], request_id).new_ticket.ticket_id == new
            assert client.refund(new).status == common_pb2.TICKET_STATUS_REFUNDED
            assert exactly_one(client, ticket, *trips, ("AAA", "DDD"), others=(snapshotted[1], logged[1])) == "refund"
        client.close()
    finally:
        server.stop()
