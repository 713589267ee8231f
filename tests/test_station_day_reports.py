"""Issue 22's acceptance test: a small station day on a real server with its report projector,
uploading to a real `keyun sandbox-authority` process (docs/reporting.md, "How this is tested").

The day: counter sales of several ticket types (walk-in adults with insurance, children, a free
child, anonymous seats), refunds, a rebooking, a seller's shift with a void, check-ins, and a
departure that leaves no-shows.  Mid-day the report projector is killed, the platform refuses
uploads for a while, and the whole server is stopped and started again.  At the end:

- the sales report (whole day; by route, channel and ticket type), the load report (per trip) and
  the shift report equal what this test recomputes itself from the tickets as GetTicket and the
  manifests show them, and from its own record of what it did;
- the settlement sheet equals, to the fen, the sheet worked out here from the tickets and the
  contract, and agrees with the sales report;
- the platform received every sale, refund, change, void and check-in exactly once, with its
  amount, and the day's reconciliation matches.
"""

from __future__ import annotations

import datetime as dt
import threading
import tomllib
from collections import defaultdict

import pytest
import ray

from keyun.engine.policy import parse_policy
from keyun.terminals.client import KeyunClient, walk_in
from keyun.v1 import accounts_pb2, common_pb2, orders_pb2, reports_pb2, sales_pb2

from .authority_sandbox import start_authority_sandbox, stop_authority_sandbox
from .conftest import CHINA, STATIONS, ServerThread, logged_in, schedule_trip
from .payments.conftest import start_sandbox, stop_sandbox
from .test_authority import arrived_exactly_once, expected_records
from .test_payments import control
from .test_reports_load import as_dict, expected_load
from .test_settlement import FARES, FIGURES, contract, expected_line, figures, resident_id, total
from .waiting import wait_until

BOARDING = dt.timedelta(minutes=30)  # inside the check-in window, so that dispatch can send it off
KM = {stop["station"]: stop["km"] for stop in tomllib.loads(STATIONS)["routes"][0]["stops"]}
COMPONENTS = ("base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen")
SOLD = common_pb2.TICKET_STATUS_ISSUED
LIVE = (SOLD, common_pb2.TICKET_STATUS_CHECKED_IN)
# TESTOP's contract for the day: the terms test_settlement's expected_line works out a line with.
DEDUCTIONS = (("站台租金", 5000), ("清洁费", 1234))


def today() -> str:
    return dt.datetime.now(CHINA).date().isoformat()


def start(state: dict) -> tuple[ServerThread, KeyunClient]:
    server = ServerThread(
        state["data_dir"],
        shards=2,
        reports=True,
        authority=("", state["sandbox"].key_file),
        payments_dir=state["pay"].keys_dir,
        policy=parse_policy({"fares": FARES}),
    )
    return server, logged_in(KeyunClient(server.target), clock=server.clock)


def caught_up(client: KeyunClient) -> bool:
    status = client.projection_status()
    return bool(status.owners) and not status.failure and all(owner.behind == 0 for owner in status.owners)


def ticket_type(ticket) -> str:
    return common_pb2.TicketType.Name(ticket.fare.ticket_type).removeprefix("TICKET_TYPE_").lower()


# --- what the reports should say, recomputed from the tickets as the API shows them ---


def expected_sales(tickets: list, departed: set[str]) -> dict[str, int]:
    """A sales line's measures for these tickets (all sold today), from GetTicket."""

    def of(status: int) -> list:
        return [t for t in tickets if t.status == status]

    refunded, changed, voided = (
        of(common_pb2.TICKET_STATUS_REFUNDED),
        of(common_pb2.TICKET_STATUS_CHANGED),
        of(common_pb2.TICKET_STATUS_VOID),
    )
    absent = [t for t in of(SOLD) if t.trip.trip_id in departed]  # 漏乘: never checked in, coach gone
    line = {
        "tickets": len(tickets),
        "passengers": len(tickets) + sum(1 for t in tickets if t.HasField("free_child")),
        "revenue_fen": sum(t.price_fen for t in tickets),
        **{name: sum(getattr(t.fare, name) for t in tickets) for name in COMPONENTS},
        "refunds": len(refunded),
        "refund_fen": sum(t.refunded_fen for t in refunded),
        "refund_fee_fen": sum(t.refund_fee_fen for t in refunded),
        "changes": len(changed),
        "changed_fen": sum(t.price_fen for t in changed),
        "voids": len(voided),
        "voided_fen": sum(t.price_fen for t in voided),
        "checked_in": sum(1 for t in tickets if t.checked_in_at.seconds),
        "passenger_km": sum(
            (KM[t.to_stop.code] - KM[t.from_stop.code]) * (2 if t.HasField("free_child") else 1) for t in tickets
        ),
        "no_shows": len(absent),
        "no_show_fen": sum(t.price_fen for t in absent),
    }
    line["net_fen"] = line["revenue_fen"] - line["refund_fen"] - line["changed_fen"] - line["voided_fen"]
    return line


def sales_lines(client: KeyunClient, group_by: tuple[str, ...]) -> dict[tuple[str, ...], dict[str, int]]:
    lines = client.sales_report_lines(group_by, today(), today())
    return {tuple(line.group): as_dict(line) for line in lines}


def expected_sales_by(tickets: list, departed: set[str], key) -> dict[tuple[str, ...], dict[str, int]]:
    groups = defaultdict(list)
    for ticket in tickets:
        groups[key(ticket)].append(ticket)
    return {group: expected_sales(members, departed) for group, members in groups.items()}


def expected_shift(client: KeyunClient, shift: dict[str, list[str]]) -> dict[str, int]:
    """A counter shift's totals from what the seller did in it (the test's record) and the tickets
    as GetTicket shows them: its sales, the refunds it paid out (whoever sold the ticket), the
    voids of its sales, its rebookings by their fare difference."""
    sold = [client.ticket(ticket_id) for ticket_id in shift["sold"]]
    refunded = [client.ticket(ticket_id) for ticket_id in shift["refunded"]]
    voided = [client.ticket(ticket_id) for ticket_id in shift["voided"]]
    changes = [(client.ticket(old), client.ticket(new)) for old, new in shift["changed"]]
    return {
        "sold_count": len(sold),
        "sold_fen": sum(t.price_fen for t in sold),
        "refunded_count": len(refunded),
        "refunded_fen": sum(t.refunded_fen for t in refunded),
        "refund_fees_fen": sum(t.refund_fee_fen for t in refunded),
        "voided_count": len(voided),
        "voided_fen": sum(t.price_fen for t in voided),
        "changed_count": len(changes),
        "changed_fen": sum(new.price_fen - old.price_fen for old, new in changes),
    }


def day_loads(client: KeyunClient) -> dict[tuple[str, ...], dict]:
    """The load report's lines of the trips that carried passengers, departing today or tomorrow
    (the later trip leaves tomorrow when the test starts late in the evening; the timetable's roll
    may have added trips of the same schedule, with nobody on them)."""
    tomorrow = (dt.date.fromisoformat(today()) + dt.timedelta(days=1)).isoformat()
    lines = client.load_report_lines(("trip",), today(), tomorrow)
    return {tuple(line.group): as_dict(line) for line in lines if line.tickets or line.no_shows or line.checked_in}


def report_snapshot(client: KeyunClient) -> dict:
    """Every report's lines for today, once the projector has read every log."""
    wait_until(lambda: caught_up(client), 60, "the projector caught up")
    return {
        "sales": sales_lines(client, ()),
        "by_type": sales_lines(client, ("route", "channel", "ticket_type")),
        "load": day_loads(client),
        "shifts": [as_dict(line) for line in client.shift_report_lines(today(), today())],
    }


# --- the day ---


@pytest.fixture(scope="module")
def day(ray_session, tmp_path_factory):
    """Runs the station's day (with a projector kill, an upload failure window and a server
    restart in it) and returns what the test did: tickets sold, the shift's tickets, the trips
    that departed, the report totals seen before each disruption."""
    sandbox = start_authority_sandbox(tmp_path_factory.mktemp("day-authority"))
    payments = tmp_path_factory.mktemp("day-pay")
    pay = start_sandbox(payments / "keys", payments / "state.json")
    state = {"sandbox": sandbox, "pay": pay, "data_dir": tmp_path_factory.mktemp("day-data")}
    state["server"], state["client"] = start(state)
    state |= {"tickets": set(), "departed": set(), "snapshots": []}
    # The test's own record of what it did to the tickets, to hold GetTicket's statuses against.
    state["did"] = {"refunded": set(), "changed": set(), "voided": set(), "checked_in": set()}
    try:
        morning(state)
        checkpoint(state, "before the projector was killed")
        projector_killed_while_selling(state)
        uploads_failing_while_selling(state)
        checkpoint(state, "before the server restart")
        restart(state)
        checkpoint(state, "after the server restart")
        afternoon(state)
        yield state
    finally:
        state["client"].close()
        state["server"].stop()
        assert (stop_authority_sandbox(sandbox), stop_sandbox(pay)) == (0, 0)


def checkpoint(state: dict, label: str) -> None:
    """Every report's lines now, and the day's sales recomputed from the tickets sold so far
    (compared in test_the_day_was_what_the_test_meant, so that every check still runs)."""
    client = state["client"]
    snapshot = report_snapshot(client)
    tickets = [client.ticket(ticket_id) for ticket_id in sorted(state["tickets"])]
    state["snapshots"].append((label, snapshot, {(): expected_sales(tickets, state["departed"])}))


def morning(state: dict) -> None:
    client, server = state["client"], state["server"]
    travel = dt.datetime.now(CHINA).date()
    first = schedule_trip(client, "DAY1", BOARDING)  # leaves in half an hour: departs today
    later = schedule_trip(client, "DAY2", BOARDING + dt.timedelta(hours=2), vehicle="coach45")
    state["trips"] = [first, later]
    family = client.sell(
        first,
        "AAA",
        "DDD",
        passengers=(
            walk_in(resident_id(travel, 35), "张三", insurance=True),
            walk_in(resident_id(travel, 9), "张小三", "child", insurance=True),
            walk_in(resident_id(travel, 4), "张小小", "free_child"),
        ),
    ).tickets
    anonymous = client.sell(first, "AAA", "CCC", seat_numbers=("5", "6", "7")).tickets
    short = client.sell(first, "BBB", "DDD", seat_numbers=("8",)).tickets
    child = client.sell(later, "AAA", "BBB", passengers=(walk_in(resident_id(travel, 12), "李小四", "child"),))
    did = state["did"]
    client.refund(family[1].ticket_id)  # the insured child: insurance back, the service fee kept
    did["refunded"].add(family[1].ticket_id)
    for boarding in (family[0], anonymous[2]):
        client.check_in(boarding.ticket_id, "G1")
        did["checked_in"].add(boarding.ticket_id)
    state["tickets"] |= {t.ticket_id for t in (*family, *anonymous, *short, *child.tickets)}
    state["wallet"] = {online_order(state, later)}
    state["tickets"] |= state["wallet"]
    # A counter seller's shift: sales, refunds (of its own sale and of the master's), a void (废票)
    # and a rebooking of the master's sale, closed with the cash counted.
    with logged_in(KeyunClient(server.target), "stock", clock=server.clock) as stock:
        batch = stock.receive_stock("00000001", "00000099", batch_code="DAY").batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00000001", "00000030")
    with logged_in(KeyunClient(server.target), "counter1", clock=server.clock) as seller:
        state["shift_id"] = seller.open_shift("W05").shift_id
        sold = list(seller.sell(first, "AAA", "BBB", seat_numbers=("9", "10", "11")).tickets)
        sold += seller.sell(later, "CCC", "DDD", passengers=(walk_in(resident_id(travel, 50), "王五"),)).tickets
        for refunded in (sold[0], anonymous[0]):
            seller.refund(refunded.ticket_id)
        seller.void_ticket(sold[1].ticket_id)
        changed = seller.change_ticket(anonymous[1].ticket_id, later)  # a rebooking onto the later coach
        slip = seller.close_shift(counted_cash_fen=0).slip
    state["slip"] = slip
    state["shift"] = {
        "sold": [t.ticket_id for t in sold],
        "refunded": [sold[0].ticket_id, anonymous[0].ticket_id],
        "voided": [sold[1].ticket_id],
        "changed": [(anonymous[1].ticket_id, changed.new_ticket.ticket_id)],
    }
    did["refunded"] |= set(state["shift"]["refunded"])
    did["voided"].add(sold[1].ticket_id)
    did["changed"].add(anonymous[1].ticket_id)
    state["tickets"] |= {t.ticket_id for t in sold} | {changed.new_ticket.ticket_id}


def online_order(state: dict, trip_id: str) -> str:
    """A passenger's order, held online and paid by wallet through the payment sandbox (channel
    `wallet` in the reports); its ticket's id."""
    from keyun.gateway.demo_accounts import DEMO_PASSENGER_PHONE, DEMO_PASSWORD

    with KeyunClient(state["server"].target) as passenger:
        passenger.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
        added = accounts_pb2.AddPassengerRequest(
            request_id="day-passenger",
            name="钱包客",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number="E12345678",
        )
        passenger_id = passenger.call(passenger.accounts.AddPassenger, added).passenger.passenger_id
        held = sales_pb2.HoldRequest(
            request_id="day-hold",
            trip_id=trip_id,
            from_station="AAA",
            to_station="CCC",
            seat_count=1,
            passenger_ids=[passenger_id],
        )
        hold = passenger.call(passenger.sales.Hold, held).hold
        order_id = passenger.create_order(hold.hold_id, orders_pb2.PAY_METHOD_WEPAY).order.order_id
        control(state["pay"], "/sandbox/pay", {"provider": "wepay", "merchant_order_no": order_id})
        order = wait_until(
            lambda: (o := passenger.order(order_id)).status == orders_pb2.ORDER_STATUS_TICKETED and o,
            30,
            "the wallet's payment ticketed the order",
        )
    (ticket,) = order.tickets
    state["order_id"] = order_id
    return ticket.ticket_id


def projector_killed_while_selling(state: dict) -> None:
    """ray.kill of the projector while sales go on (as tests/test_reports.py does)."""
    client, later = state["client"], state["trips"][1]
    sold: list[str] = []
    selling = threading.Thread(
        target=lambda: sold.extend(
            client.sell(later, "AAA", "DDD", seat_count=1).tickets[0].ticket_id for _ in range(12)
        )
    )
    selling.start()
    projector = state["server"].server.owners.reports
    old = ray.get(projector.ready.remote())["pid"]
    wait_until(lambda: len(sold) >= 3, 30, "some sales went through")
    ray.kill(projector, no_restart=False)  # Ray starts it again; it goes on from its positions
    selling.join()
    wait_until(lambda: _pid(projector) not in (None, old), 60, "the projector restarted")
    client.refund(sold[-1])
    state["did"]["refunded"].add(sold[-1])
    state["tickets"] |= set(sold)


def _pid(projector) -> int | None:
    try:
        return ray.get(projector.ready.remote(), timeout=30)["pid"]
    except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError):
        return None


def uploads_failing_while_selling(state: dict) -> None:
    """The platform answers the next uploads with errors; the sales go on meanwhile."""
    client, sandbox, later = state["client"], state["sandbox"], state["trips"][1]
    sandbox.control("/sandbox/fail", {"count": 3})
    sold = [t.ticket_id for t in client.sell(later, "BBB", "CCC", seat_count=2).tickets]
    client.refund(sold[0])
    state["did"]["refunded"].add(sold[0])
    state["tickets"] |= set(sold)
    wait_until(lambda: sandbox.received()["failures"], 60, "the platform refused an upload")


def restart(state: dict) -> None:
    """The whole server stopped and started again on its data, the platform down meanwhile."""
    state["sandbox"].control("/sandbox/down", {"down": True})
    try:
        state["client"].close()
        state["server"].stop()
        state["server"], state["client"] = start(state)
    finally:
        state["sandbox"].control("/sandbox/down", {"down": False})


def afternoon(state: dict) -> None:
    client = state["client"]
    # The passenger refunds the wallet order: the money goes back through the wallet.
    from keyun.gateway.demo_accounts import DEMO_PASSENGER_PHONE, DEMO_PASSWORD

    with KeyunClient(state["server"].target) as passenger:
        passenger.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
        refunded = passenger.refund_order(state["order_id"])
    assert refunded.status == orders_pb2.ORDER_STATUS_REFUNDED, refunded
    state["did"]["refunded"] |= state["wallet"]
    first, later = state["trips"]
    late = client.sell(first, "AAA", "DDD", seat_count=2).tickets
    client.check_in(late[0].ticket_id, "G2")
    state["did"]["checked_in"].add(late[0].ticket_id)
    state["tickets"] |= {t.ticket_id for t in late}
    client.depart(first)  # its sold tickets never checked in are no-shows (漏乘)
    state["departed"].add(first)


# --- the checks ---


def test_the_day_was_what_the_test_meant(day):
    tickets = [day["client"].ticket(ticket_id) for ticket_id in day["tickets"]]
    did = day["did"]

    def whose(status: int) -> set[str]:
        return {t.ticket_id for t in tickets if t.status == status}

    # The server holds the tickets as this test left them.
    assert whose(common_pb2.TICKET_STATUS_REFUNDED) == did["refunded"] and len(did["refunded"]) == 6
    assert whose(common_pb2.TICKET_STATUS_CHANGED) == did["changed"] and len(did["changed"]) == 1
    assert whose(common_pb2.TICKET_STATUS_VOID) == did["voided"] and len(did["voided"]) == 1
    assert {t.ticket_id for t in tickets if t.checked_in_at.seconds} == did["checked_in"]
    assert len(did["checked_in"]) == 3
    assert {ticket_type(t) for t in tickets} == {"full", "child"}
    assert sum(1 for t in tickets if t.HasField("free_child")) == 1
    no_shows = [t for t in tickets if t.status == SOLD and t.trip.trip_id in day["departed"]]
    assert len(no_shows) == 3  # seat 8 (BBB→DDD), the shift's seat 11 and an afternoon sale
    # Every total seen before the restart is still every total after it (nothing moved between);
    # at each checkpoint the day's sales equalled the tickets sold so far (day's fixture).
    labels = [label for label, _, _ in day["snapshots"]]
    assert labels == ["before the projector was killed", "before the server restart", "after the server restart"]
    for label, snapshot, expected in day["snapshots"]:
        assert snapshot["sales"] == expected, label
    (_, before_restart, _), (_, after_restart, _) = day["snapshots"][1:]
    assert before_restart == after_restart


def test_the_sales_report_equals_the_tickets(day):
    client = day["client"]
    tickets = [client.ticket(ticket_id) for ticket_id in sorted(day["tickets"])]
    whole = expected_sales(tickets, day["departed"])
    channel = {ticket_id: "wallet" if ticket_id in day["wallet"] else "counter" for ticket_id in day["tickets"]}
    by_type = expected_sales_by(tickets, day["departed"], lambda t: ("LINE", channel[t.ticket_id], ticket_type(t)))
    assert set(by_type) == {("LINE", "counter", "full"), ("LINE", "counter", "child"), ("LINE", "wallet", "full")}
    # Exact figures, worked out by hand from the network (30 fen a km, rounded to yuan; AAA→DDD
    # 40 yuan) and the policy's fares (a 1 yuan service fee, a 2 yuan fuel surcharge, 3 yuan
    # insurance; children half the base): 14 tickets AAA→DDD at 43 yuan and an insured one at 46,
    # an insured child AAA→DDD at 26, five AAA→CCC (one the wallet's) and one BBB→DDD at 33, six
    # AAA→BBB, BBB→CCC or CCC→DDD at 18, a child AAA→BBB at 10.50.
    assert whole["tickets"] == len(day["tickets"]) == 29 and whole["passengers"] == 30
    assert whole["revenue_fen"] == 14 * 4300 + 4600 + 2600 + 6 * 3300 + 6 * 1800 + 1050 == 99_050
    # Refunds: the fee is 20 % of the refundable base and fuel surcharge under two hours before
    # departure (DAY1), 10 % further off (DAY2); insurance comes back whole, the service fee not:
    # the child 22.00 - 4.40 + 3.00, AAA→CCC 32.00 - 6.40, AAA→BBB 17.00 - 3.40 on DAY1;
    # AAA→DDD 42.00 - 4.20, BBB→CCC 17.00 - 1.70 and the wallet's AAA→CCC 32.00 - 3.20 on DAY2.
    assert (whole["refund_fen"], whole["refund_fee_fen"]) == (
        2060 + 2560 + 1360 + 3780 + 1530 + 2880,
        440 + 640 + 340 + 420 + 170 + 320,
    )
    assert (whole["changed_fen"], whole["voided_fen"]) == (3300, 1800)
    assert (whole["no_shows"], whole["no_show_fen"]) == (3, 3300 + 1800 + 4300)  # BBB→DDD, AAA→BBB, AAA→DDD
    assert whole["net_fen"] == 99_050 - 14_170 - 3300 - 1800 == 79_780
    assert whole["passenger_km"] == 16 * 150 + 150 + 6 * 100 + 7 * 50  # a free child rides AAA→DDD
    snapshot = report_snapshot(client)
    assert snapshot["sales"] == {(): whole}, (snapshot["sales"], whole)
    assert snapshot["by_type"] == by_type, (snapshot["by_type"], by_type)
    # The lines add up to the day.
    for name in whole:
        assert sum(line[name] for line in snapshot["by_type"].values()) == whole[name], name
    # Each dimension on its own.
    for dimension, key in (
        ("route", lambda t: ("LINE",)),
        ("channel", lambda t: (channel[t.ticket_id],)),
        ("ticket_type", lambda t: (ticket_type(t),)),
        ("trip", lambda t: (t.trip.trip_id,)),
    ):
        assert sales_lines(client, (dimension,)) == expected_sales_by(tickets, day["departed"], key), dimension


def test_the_load_report_equals_the_manifests_and_tickets(day):
    client = day["client"]
    tickets = [client.ticket(ticket_id) for ticket_id in day["tickets"]]
    expected = {
        (trip,): expected_load(
            client, trip, [t.ticket_id for t in tickets if t.trip.trip_id == trip], trip in day["departed"]
        )
        for trip in day["trips"]
    }
    # The manifest lists exactly the tickets this test holds as live on each trip.
    for trip in day["trips"]:
        listed = {t.ticket_id for t in manifest_tickets(client, trip) if t.status in LIVE}
        assert listed == {t.ticket_id for t in tickets if t.trip.trip_id == trip and t.status in LIVE}, trip
    assert report_snapshot(client)["load"] == expected


def manifest_tickets(client: KeyunClient, trip_id: str) -> list:
    tickets, token = [], ""
    while True:
        page = client.manifest(trip_id, page_token=token)
        tickets.extend(page.tickets)
        token = page.next_page_token
        if not token:
            return tickets


def test_the_shift_report_equals_the_slip_and_the_shifts_tickets(day):
    client = day["client"]
    expected = expected_shift(client, day["shift"])
    # By hand: four sales at 18 yuan; refunds of AAA→BBB (17.00 - 3.40) and of the master's
    # AAA→CCC (32.00 - 6.40); a void; a rebooking at the same fare.
    assert (expected["sold_fen"], expected["refunded_fen"], expected["refund_fees_fen"]) == (7200, 3920, 980)
    assert (expected["voided_fen"], expected["changed_count"], expected["changed_fen"]) == (1800, 1, 0)
    (line,) = [line for line in report_snapshot(client)["shifts"] if line["shift_id"] == day["shift_id"]]
    assert line["reconciled"] and not line["differences"] and line["difference_fen"] == 0
    assert {name: line["tickets"][name] for name in expected} == expected
    assert {name: line["slip"][name] for name in expected} == expected
    # As the slip printed at the close said, method by method.
    printed = as_dict(day["slip"])
    assert {name: printed[name] for name in expected} == expected
    assert line["slip"]["methods"] == printed["methods"]


def test_the_settlement_sheet_reconciles_to_the_fen(day):
    client = day["client"]
    finance = logged_in(KeyunClient(day["server"].target), "finance", clock=day["server"].clock)
    try:
        # The period: the trips' departure days (one day, or two across midnight).
        dates = sorted(f"{trip[-8:-4]}-{trip[-4:-2]}-{trip[-2:]}" for trip in day["trips"])
        period = (dates[0], dates[-1])
        finance.set_contract(
            contract(
                "TESTOP",
                dt.date.fromisoformat(period[0]) - dt.timedelta(days=30),
                833,
                refund_fee_station_bp=5000,
                no_show_station_bp=3000,
                deductions=DEDUCTIONS,
            )
        )
        tickets = [client.ticket(ticket_id) for ticket_id in day["tickets"]]
        # expected_line's `departed`: the coach left without this ticket's passenger (漏乘).
        lines = {
            t.ticket_id: expected_line(
                t, "TESTOP", t.trip.trip_id in day["departed"] and not t.checked_in_at.seconds, False
            )
            for t in tickets
        }
        wait_until(lambda: caught_up(client), 60, "the projector caught up")
        sheet = finance.settlement_sheet("TESTOP", *period)
        assert figures(sheet.totals) == total(lines.values())
        deductions = sum(fen for _, fen in DEDUCTIONS)
        assert sheet.amount_payable_fen == total(lines.values())["payable_fen"] - deductions
        traced = finance.all_settlement_lines("TESTOP", *period)
        assert {line.ticket_id: figures(line.figures) for line in traced} == lines
        # Each line's state is what this test did to its ticket.
        assert {line.ticket_id: line.state for line in traced} == {
            ticket_id: settlement_state(day, ticket_id) for ticket_id in day["tickets"]
        }
        # Revenue less what the station keeps or passes on is what the operator gets.
        t = sheet.totals
        kept = (
            t.refund_fen + t.changed_fen + t.voided_fen + t.station_service_fee_fen + t.insurance_held_fen
            + t.agency_fee_fen + t.refund_fee_station_fen + t.refund_retained_fen + t.no_show_station_fen
            + t.trip_cancelled_fen
        )  # fmt: skip
        assert t.revenue_fen - kept == t.payable_fen
        # The sheet and the sales report count the same money.
        whole = expected_sales([client.ticket(i) for i in day["tickets"]], day["departed"])
        (sales,) = sales_lines(client, ()).values()
        assert sales == whole
        for name in ("tickets", "revenue_fen", *COMPONENTS, "refunds", "refund_fen", "refund_fee_fen"):
            assert getattr(t, name) == sales[name], name
        for name in ("changes", "changed_fen", "voids", "voided_fen", "no_shows"):
            assert getattr(t, name) == sales[name], name
        assert t.no_show_fen == sum(
            lines[i]["no_show_fen"] for i in lines if lines[i]["no_shows"]
        )  # transport fare of the no-shows
        assert set(FIGURES) == set(lines[next(iter(lines))])
    finally:
        finance.close()


def settlement_state(day: dict, ticket_id: str) -> int:
    """A ticket's state on the sheet, from the test's own record of what it did."""
    did, states = day["did"], reports_pb2.SettlementTicketState
    for done, state in (("voided", "VOIDED"), ("changed", "CHANGED"), ("refunded", "REFUNDED")):
        if ticket_id in did[done]:
            return states.Value(f"SETTLEMENT_TICKET_STATE_{state}")
    if ticket_id in did["checked_in"]:
        return reports_pb2.SETTLEMENT_TICKET_STATE_CHECKED_IN
    if ticket_id.rsplit("-", 1)[0] in day["departed"]:
        return reports_pb2.SETTLEMENT_TICKET_STATE_NO_SHOW
    return reports_pb2.SETTLEMENT_TICKET_STATE_SOLD


def test_the_platform_received_every_sale_once_and_the_day_reconciles(day):
    client = day["client"]
    received = arrived_exactly_once(day, timeout_s=90)
    assert received["failures"], "the failure window happened"
    sales = sorted(r["record_id"] for r in received["records"] if r["type"] == "sale")
    assert sales == sorted(f"sale:{ticket_id}" for ticket_id in day["tickets"])
    assert {f"departure:{trip}" for trip in day["departed"]} <= {r["record_id"] for r in received["records"]}
    expected = expected_records(client, day["tickets"])
    answer = client.reconcile_uploads(today())
    assert answer.reachable and answer.match, answer
    assert answer.station.counts["sale"] == len(day["tickets"])
    for kind in ("sale", "refund", "change", "void"):
        assert answer.station.amounts_fen[kind] == sum(v for r, v in expected.items() if r.startswith(f"{kind}:"))
    assert dict(answer.platform.counts) == dict(answer.station.counts)
    assert dict(answer.platform.amounts_fen) == dict(answer.station.amounts_fen)
