"""The kiosk (自助售取票, docs/kiosk.md) through the gRPC API: a real server, real owners and a real
`keyun sandbox-pay` process.

- 取票: tickets bought online picked up by order code and document, or by document alone, once:
  a second pick-up is refused, a retry is given the same tickets, a wrong document or code changes
  nothing, and only kiosks and counter sellers may pick up.
- A kiosk without a cash acceptor sells to walk-in passengers through a wallet order: the counter's
  real-name rules on the hold, the wallet's QR code, the order ticketed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import urllib.request
from dataclasses import dataclass

import pytest

from keyun.engine.identity import id_check_char
from keyun.terminals.client import KeyunClient, KeyunError, walk_in
from keyun.v1 import accounts_pb2, audit_pb2, audit_pb2_grpc, common_pb2, orders_pb2, orders_pb2_grpc, sales_pb2

from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .payments.conftest import start_sandbox, stop_sandbox
from .waiting import wait_until

STRONG = "Kiosk-Passw0rd"
WAIT_S = 20
SERIALS = itertools.count(100)
SCHEDULES = itertools.count(1)


def resident_id(age: int) -> str:
    """A valid resident ID of someone `age` years old on the trips' travel date (tomorrow at most)."""
    today = dt.datetime.now(CHINA).date()
    born = dt.date(today.year - age, 1 if today.month > 6 else 7, 15)
    first17 = f"130102{born:%Y%m%d}{next(SERIALS) % 1000:03d}"
    return first17 + id_check_char(first17)


@dataclass
class Station:
    server: ServerThread
    sandbox: object
    master: KeyunClient
    kiosk: KeyunClient
    passenger: KeyunClient
    documents: dict[str, str]  # frequent passenger id -> their resident ID number

    def trip(self) -> str:
        return schedule_trip(self.master, f"KS{next(SCHEDULES)}", dt.timedelta(hours=6))


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("kiosk")
    sandbox = start_sandbox(directory / "pay-keys", directory / "pay-state.json")
    server = ServerThread(directory / "data", shards=2, payments_dir=sandbox.keys_dir)
    master = logged_in(KeyunClient(server.target, attempts=1), clock=server.clock)
    kiosk = logged_in(KeyunClient(server.target, attempts=1), "kiosk1")
    passenger = KeyunClient(server.target, attempts=1)
    passenger.register("13599991111", STRONG, request_id="reg-kiosk")
    passenger.login("13599991111", STRONG)
    documents = {}
    for name, age in (("取票甲", 35), ("取票乙", 33)):
        number = resident_id(age)
        added = passenger.call(
            passenger.accounts.AddPassenger,
            accounts_pb2.AddPassengerRequest(
                request_id=f"add-{number}",
                name=name,
                document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
                document_number=number,
            ),
        )
        documents[added.passenger.passenger_id] = number
    yield Station(server, sandbox, master, kiosk, passenger, documents)
    for client in (master, kiosk, passenger):
        client.close()
    server.stop()
    stop_sandbox(sandbox)


def control(sandbox, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{sandbox.base_url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
        method="POST" if body is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def ticketed(client: KeyunClient, order_id: str) -> orders_pb2.Order:
    """The order once a wallet's notification has ticketed it."""
    stub = orders_pb2_grpc.OrdersStub(client.channel)

    def reached() -> orders_pb2.Order | None:
        order = client.call(stub.GetOrder, orders_pb2.GetOrderRequest(order_id=order_id)).order
        return order if order.status == orders_pb2.ORDER_STATUS_TICKETED else None

    return wait_until(reached, WAIT_S, f"order {order_id} ticketed", poll_s=0.2)


def online_order(station: Station, trip_id: str) -> tuple[orders_pb2.Order, list[str]]:
    """A passenger's order for both their frequent passengers, paid with a wallet; the order and
    the passengers' document numbers in seat order."""
    ids = list(station.documents)
    hold = station.passenger.hold(trip_id, "AAA", "CCC", seat_count=2, passenger_ids=tuple(ids))
    created = station.passenger.create_order(hold.hold_id, orders_pb2.PAY_METHOD_WEPAY)
    control(station.sandbox, "/sandbox/pay", {"provider": "wepay", "merchant_order_no": created.order.order_id})
    order = ticketed(station.passenger, created.order.order_id)
    by_passenger = {t.holder.passenger_id: t for t in order.tickets}
    return order, [station.documents[by_passenger[pid].holder.passenger_id] for pid in ids]


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def printed(client: KeyunClient, ticket_id: str) -> bool:
    return client.ticket(ticket_id).HasField("printed_at")


def test_an_online_order_is_picked_up_once_by_its_code_and_a_passengers_document(station):
    order, (first, second) = online_order(station, station.trip())
    tickets = station.kiosk.pick_up_tickets(second, order_id=order.order_id, request_id="pick-1")
    assert sorted(t.ticket_id for t in tickets) == sorted(t.ticket_id for t in order.tickets)
    assert all(t.HasField("printed_at") and t.credential for t in tickets)
    assert not any(number in str(tickets) for number in (first, second))  # masked, as every reply
    assert all(printed(station.master, t.ticket_id) for t in order.tickets)

    # A retry of the same request (the kiosk lost the answer) is given the same tickets.
    again = station.kiosk.pick_up_tickets(second, order_id=order.order_id, request_id="pick-1")
    assert [(t.ticket_id, t.printed_at) for t in again] == [(t.ticket_id, t.printed_at) for t in tickets]

    # A second pick-up, by the order or by a document alone, is refused naming the masked ticket.
    for call in (
        lambda: station.kiosk.pick_up_tickets(first, order_id=order.order_id),
        lambda: station.kiosk.pick_up_tickets(first),
    ):
        error = refused(call)
        assert (error.code.name, error.reason) == ("FAILED_PRECONDITION", "TICKET_ALREADY_PRINTED")
        assert any(t.ticket_id in error.message for t in order.tickets) and "*" in error.message
        assert first not in error.message and "counter" in error.message

    # Every pick-up is audited with the document masked, never in full.
    auditor = logged_in(KeyunClient(station.server.target, attempts=1), "auditor", clock=station.server.clock)
    records = auditor.call(
        audit_pb2_grpc.AuditStub(auditor.channel).ListRecords,
        audit_pb2.ListRecordsRequest(action="keyun.v1.Sales/PickUpTickets"),
    ).records
    assert any(r.target == order.order_id and "ticket pick-up by RESIDENT_ID" in r.detail for r in records)
    assert not any(number in str(records) for number in (first, second))
    auditor.close()


def test_a_wrong_document_or_order_code_is_refused_alike_and_prints_nothing(station):
    order, (first, _) = online_order(station, station.trip())
    stranger = resident_id(50)
    wrong_document = refused(lambda: station.kiosk.pick_up_tickets(stranger, order_id=order.order_id))
    trip_id = order.trip.trip_id
    wrong_code = refused(lambda: station.kiosk.pick_up_tickets(first, order_id=f"{trip_id}-O99"))
    assert (wrong_document.code.name, wrong_document.reason) == ("NOT_FOUND", "NOTHING_TO_PICK_UP")
    assert wrong_code.reason == "NOTHING_TO_PICK_UP" and wrong_code.message == wrong_document.message
    assert not any(printed(station.master, t.ticket_id) for t in order.tickets)  # nothing changed
    # A malformed document or none at all is refused as such.
    assert refused(lambda: station.kiosk.pick_up_tickets(first[:-1] + "0")).reason == "INVALID_FIELD"
    assert refused(lambda: station.kiosk.pick_up_tickets("")).reason == "MISSING_FIELD"
    # The right document then picks the order up.
    assert len(station.kiosk.pick_up_tickets(first, order_id=order.order_id)) == 2


def test_by_document_alone_only_that_documents_tickets_are_printed_while_the_trip_runs(station):
    order, (first, second) = online_order(station, station.trip())
    (mine,) = station.kiosk.pick_up_tickets(first)
    assert mine.ticket_id in {t.ticket_id for t in order.tickets}
    assert mine.holder.document_number == first[:6] + "********" + first[-4:]
    other = next(t for t in order.tickets if t.ticket_id != mine.ticket_id)
    assert not printed(station.master, other.ticket_id)  # the other passenger's: not revealed, not printed
    assert refused(lambda: station.kiosk.pick_up_tickets(first)).reason == "TICKET_ALREADY_PRINTED"
    # A counter seller picks up too (the same rule, the same once).
    # (The documents' tickets of the earlier tests' trips were printed there: only this one is left.)
    seller = logged_in(KeyunClient(station.server.target, attempts=1), "seller")
    assert [t.ticket_id for t in seller.pick_up_tickets(second)] == [other.ticket_id]
    seller.close()
    # A cancelled trip's tickets are not picked up.
    cancelled, (first, _) = online_order(station, station.trip())
    station.master.cancel(cancelled.trip.trip_id)
    gone = refused(lambda: station.kiosk.pick_up_tickets(first, order_id=cancelled.order_id))
    assert gone.reason == "NOTHING_TO_PICK_UP" and "cancelled" in gone.message
    assert not any(printed(station.master, t.ticket_id) for t in cancelled.tickets)


def test_only_kiosks_and_counter_sellers_may_pick_tickets_up(station):
    order, (first, _) = online_order(station, station.trip())
    for client in (station.passenger, logged_in(KeyunClient(station.server.target, attempts=1), "gate1")):
        error = refused(lambda c=client: c.pick_up_tickets(first, order_id=order.order_id))
        assert (error.code.name, error.reason) == ("PERMISSION_DENIED", "PERMISSION_DENIED")
    assert not any(printed(station.master, t.ticket_id) for t in order.tickets)


def test_a_kiosk_sells_to_walk_in_passengers_through_a_wallet_order_then_they_pick_up(station):
    trip_id = station.trip()
    kiosk = station.kiosk
    adult, child = resident_id(40), resident_id(9)
    # The counter's real-name rules hold at the kiosk: a child's age is checked...
    too_old = refused(
        lambda: kiosk.hold(trip_id, "AAA", "CCC", passengers=(walk_in(resident_id(20), "成人", "child"),))
    )
    assert too_old.reason == "AGE_NOT_CHILD"
    hold = kiosk.hold(
        trip_id, "AAA", "CCC", passengers=(walk_in(adult, "王大明"), walk_in(child, "王小明", "child")), ttl_seconds=600
    )
    assert [h.document_number for h in hold.holders] == [n[:6] + "********" + n[-4:] for n in (adult, child)]
    # ...and one live ticket (or hold) per document and trip.
    twice = refused(lambda: kiosk.hold(trip_id, "AAA", "CCC", passengers=(walk_in(adult, "王大明"),)))
    assert twice.reason == "DOCUMENT_HAS_TICKET"
    # No cash: the kiosk pays through a wallet order, shown as a QR code.
    assert refused(lambda: kiosk.confirm(hold.hold_id)).reason == "CASH_NOT_ACCEPTED"
    created = kiosk.create_order(hold.hold_id, orders_pb2.PAY_METHOD_ALIPAY)
    assert created.qr_text and created.order.amount_fen == hold.total_fen
    control(station.sandbox, "/sandbox/pay", {"provider": "alipay", "merchant_order_no": created.order.order_id})
    order = ticketed(kiosk, created.order.order_id)
    types = sorted(t.fare.ticket_type for t in order.tickets)
    assert types == [common_pb2.TICKET_TYPE_FULL, common_pb2.TICKET_TYPE_CHILD]
    assert not any(number in str(order) for number in (adult, child))
    # The kiosk prints them through the same pick-up, once.
    tickets = kiosk.pick_up_tickets(child, order_id=order.order_id)
    assert len(tickets) == 2 and all(t.HasField("printed_at") for t in tickets)
    assert refused(lambda: kiosk.pick_up_tickets(adult)).reason == "TICKET_ALREADY_PRINTED"


def test_a_pick_up_request_is_checked_before_anything_is_asked(station):
    stub = station.kiosk.sales
    bad = sales_pb2.PickUpTicketsRequest(
        request_id="bad one", document_type=common_pb2.DOCUMENT_TYPE_PASSPORT, document_number="E12345678"
    )
    assert refused(lambda: station.kiosk.call(stub.PickUpTickets, bad)).reason == "INVALID_FIELD"
    no_type = sales_pb2.PickUpTicketsRequest(request_id="no-type", document_number="E12345678")
    assert refused(lambda: station.kiosk.call(stub.PickUpTickets, no_type)).reason == "INVALID_FIELD"
    bad_order = sales_pb2.PickUpTicketsRequest(
        request_id="bad-order",
        order_id="nonsense",
        document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
        document_number="E12345678",
    )
    assert refused(lambda: station.kiosk.call(stub.PickUpTickets, bad_order)).reason == "INVALID_FIELD"


def test_a_pick_up_survives_a_restart_and_its_retry_is_answered_the_same(ray_session, tmp_path):
    """Printed is a fact in the trip owner's log: after a restart the ticket is still printed, a
    second pick-up is still refused, and the kiosk's retry still gets its tickets."""
    first = ServerThread(tmp_path / "data", shards=2)
    number = resident_id(45)
    with logged_in(KeyunClient(first.target, attempts=1)) as master:
        trip_id = schedule_trip(master, "KSR", dt.timedelta(hours=6))
        sold = master.sell(trip_id, "AAA", "BBB", passengers=(walk_in(number, "赵六"),))
    with logged_in(KeyunClient(first.target, attempts=1), "kiosk1") as kiosk:
        picked = kiosk.pick_up_tickets(number, request_id="restart-pick")
    assert [t.ticket_id for t in picked] == [t.ticket_id for t in sold.tickets]
    first.stop()

    second = ServerThread(tmp_path / "data", shards=2)
    try:
        with logged_in(KeyunClient(second.target, attempts=1), "kiosk1") as kiosk:
            again = kiosk.pick_up_tickets(number, request_id="restart-pick")
            assert [(t.ticket_id, t.printed_at) for t in again] == [(t.ticket_id, t.printed_at) for t in picked]
            assert refused(lambda: kiosk.pick_up_tickets(number)).reason == "TICKET_ALREADY_PRINTED"
            assert printed(kiosk, sold.tickets[0].ticket_id)
    finally:
        second.stop()
