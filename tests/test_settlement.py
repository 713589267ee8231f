"""Operator settlement (结算) through the gRPC API of a real server with its report projector
(docs/settlement.md): two operators under different contracts, a day of sales of several ticket
types with insurance, refunds with fees, a change, a void and no-shows.  The sheet must equal, to
the fen, what the test works out itself from each ticket as GetTicket shows it and the contract;
its lines must name exactly the tickets; a lock freezes it, and a late refund shows apart."""

from __future__ import annotations

import datetime as dt
import itertools

import grpc
import pytest

from keyun.app.cli import main as keyun_main
from keyun.engine.identity import id_check_char
from keyun.engine.policy import parse_policy
from keyun.terminals.client import KeyunClient, KeyunError, audit_outcome, walk_in
from keyun.v1 import audit_pb2, audit_pb2_grpc, common_pb2, reports_pb2

from .conftest import CHINA, STATIONS, ServerThread, logged_in
from .waiting import wait_until

# A non-refundable service fee (the station keeps it when a ticket is refunded), a refundable fuel
# surcharge, insurance, and child fares.
FARES = {
    "service_fee_fen": 100,
    "fuel_surcharge_fen": 200,
    "insurance_fen": 300,
    "refundable": ["base", "fuel_surcharge"],
}
SERIALS = itertools.count(500)
# SA and SB leave in five hours; SC inside the boarding window, so that dispatch can send it off.
# SD, OTHEROP's, is cancelled with a ticket sold on it.
DEPARTS_IN = {
    "SA": dt.timedelta(hours=5),
    "SB": dt.timedelta(hours=5),
    "SC": dt.timedelta(minutes=30),
    "SD": dt.timedelta(hours=5),
}
OPERATORS = {"SA": "TESTOP", "SB": "OTHEROP", "SC": "TESTOP", "SD": "OTHEROP"}
FIGURES = [field.name for field in reports_pb2.SettlementFigures.DESCRIPTOR.fields]


def network(departs: dict[str, dt.datetime]) -> str:
    text = STATIONS + '\n[[operators]]\nid = "OTHEROP"\nname = "另一客运"\n'
    for schedule_id, operator in OPERATORS.items():
        text += (
            f'\n[[schedules]]\nid = "{schedule_id}"\nroute = "LINE"\noperator = "{operator}"\n'
            f'vehicle = "coach45"\ndeparts = "{departs[schedule_id]:%H:%M}"\n'
        )
    return text


def resident_id(travel: dt.date, age: int) -> str:
    born = dt.date(travel.year - age, travel.month, min(travel.day, 28))
    first17 = f"110101{born:%Y%m%d}{next(SERIALS) % 1000:03d}"
    return first17 + id_check_char(first17)


def contract(operator_id: str, effective_from: dt.date, agency_fee_bp: int, **terms) -> reports_pb2.OperatorContract:
    deductions = [reports_pb2.Deduction(name=name, fen=fen) for name, fen in terms.pop("deductions", ())]
    return reports_pb2.OperatorContract(
        operator_id=operator_id,
        effective_from=effective_from.isoformat(),
        agency_fee_bp=agency_fee_bp,
        deductions=deductions,
        **terms,
    )


# The terms the sheet must use for the day (TESTOP also has an older and a later contract).
TERMS = {
    "TESTOP": {"agency": 833, "operator_keeps_service_fee": False, "refund_station": 5000, "no_show_station": 3000},
    "OTHEROP": {"agency": 1250, "operator_keeps_service_fee": True, "refund_station": 0, "no_show_station": 10000},
}
DEDUCTIONS = {"TESTOP": (("站台租金", 5000), ("清洁费", 1234)), "OTHEROP": ()}


def half_up(amount: int, basis_points: int) -> int:
    """Worked out apart from the server's: with exact decimals."""
    from decimal import ROUND_HALF_UP, Decimal

    return int((Decimal(amount) * basis_points / 10_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def expected_line(ticket, operator: str, departed: bool, cancelled: bool) -> dict[str, int]:
    """One ticket's figures, from GetTicket and the contract (docs/settlement.md)."""
    terms = TERMS[operator]
    f = dict.fromkeys(FIGURES, 0)
    fare = ticket.fare
    f.update(
        tickets=1,
        revenue_fen=ticket.price_fen,
        base_fen=fare.base_fen,
        service_fee_fen=fare.service_fee_fen,
        fuel_surcharge_fen=fare.fuel_surcharge_fen,
        insurance_fen=fare.insurance_fen,
    )
    transport = fare.base_fen + fare.fuel_surcharge_fen
    if ticket.status == common_pb2.TICKET_STATUS_VOID:
        f.update(voids=1, voided_fen=ticket.price_fen)
        payable = 0
    elif ticket.status == common_pb2.TICKET_STATUS_CHANGED:
        f.update(changes=1, changed_fen=ticket.price_fen)
        payable = 0
    elif ticket.status == common_pb2.TICKET_STATUS_REFUNDED:
        station = half_up(ticket.refund_fee_fen, terms["refund_station"])
        f.update(
            refunds=1,
            refund_fen=ticket.refunded_fen,
            refund_fee_fen=ticket.refund_fee_fen,
            refund_fee_station_fen=station,
            refund_fee_operator_fen=ticket.refund_fee_fen - station,
            refund_retained_fen=ticket.price_fen - ticket.refunded_fen - ticket.refund_fee_fen,
        )
        payable = ticket.refund_fee_fen - station
    elif cancelled:
        f.update(trip_cancelled=1, trip_cancelled_fen=ticket.price_fen)
        payable = 0
    else:
        agency = half_up(transport, terms["agency"])
        keeps = terms["operator_keeps_service_fee"]
        f.update(
            station_service_fee_fen=0 if keeps else fare.service_fee_fen,
            insurance_held_fen=fare.insurance_fen,
            agency_fee_fen=agency,
        )
        payable = transport - agency + (fare.service_fee_fen if keeps else 0)
        if departed:
            no_show = half_up(transport, terms["no_show_station"])
            f.update(no_shows=1, no_show_fen=transport, no_show_station_fen=no_show)
            payable -= no_show
    f["payable_fen"] = payable
    return f


def figures(message) -> dict[str, int]:
    return {name: getattr(message, name) for name in FIGURES}


def total(lines) -> dict[str, int]:
    summed = dict.fromkeys(FIGURES, 0)
    for line in lines:
        for name in FIGURES:
            summed[name] += line[name]
    return summed


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    """A day of sales on two operators' trips; what the test knows about them."""
    data_dir = tmp_path_factory.mktemp("settlement")
    server = ServerThread(data_dir, shards=2, reports=True, policy=parse_policy({"fares": FARES}))
    master = logged_in(KeyunClient(server.target), clock=server.clock)
    finance = logged_in(KeyunClient(server.target), "finance", clock=server.clock)
    now = dt.datetime.now(CHINA)
    departs = {name: now + delay for name, delay in DEPARTS_IN.items()}
    # The period: the trips' departure days (one day, or two across midnight).
    day, last = departs["SC"].date(), departs["SA"].date()
    master.load_network(network(departs), day.isoformat(), (last - day).days + 1)
    trip = {name: f"{name}-{at:%Y%m%d}" for name, at in departs.items()}
    state = {"server": server, "master": master, "finance": finance, "day": day, "last": last, "trip": trip}
    state["data_dir"] = data_dir
    state["period"] = (day.isoformat(), last.isoformat())
    state["operator_of"] = {trip[name]: operator for name, operator in OPERATORS.items()}
    yield state
    state["finance"].close()
    state["master"].close()
    state["server"].stop()


def sell_the_day(station) -> set[str]:
    master, trip, day = station["master"], station["trip"], station["day"]
    adult, child = resident_id(day, 35), resident_id(day, 9)
    on_a = master.sell(
        trip["SA"],
        "AAA",
        "DDD",
        passengers=(walk_in(adult, "张三", insurance=True), walk_in(child, "张小三", "child", insurance=True)),
    ).tickets
    anonymous_a = master.sell(trip["SA"], "AAA", "CCC", seat_count=3).tickets
    on_b = master.sell(
        trip["SB"], "BBB", "DDD", passengers=(walk_in(resident_id(day, 40), "李四", insurance=True),)
    ).tickets
    anonymous_b = master.sell(trip["SB"], "AAA", "DDD", seat_count=2).tickets
    on_c = master.sell(trip["SC"], "AAA", "BBB", seat_count=2).tickets
    master.refund(on_a[1].ticket_id)  # a child's insured ticket: the fee, the service fee kept
    master.refund(anonymous_b[0].ticket_id)
    changed = master.change_ticket(anonymous_a[0].ticket_id, trip["SC"])  # onto TESTOP's other trip
    # A counter seller's sale, voided in their shift (废票).
    server = station["server"]
    with logged_in(KeyunClient(server.target), "stock", clock=server.clock) as stock:
        batch = stock.receive_stock("00000001", "00000099", batch_code="STL1").batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00000001", "00000010")
    with logged_in(KeyunClient(server.target), "counter1", clock=server.clock) as seller:
        seller.open_shift("W01")
        counter_sale = seller.sell(trip["SB"], "AAA", "DDD", seat_count=2).tickets
        seller.void_ticket(counter_sale[0].ticket_id)
    master.depart(trip["SC"])  # its tickets, never checked in, are no-shows (漏乘)
    on_d = master.sell(trip["SD"], "AAA", "DDD", seat_count=1).tickets
    master.cancel(trip["SD"])  # its ticket's price waits for its refund
    sold = (*on_a, *anonymous_a, *on_b, *anonymous_b, *on_c, *counter_sale, *on_d)
    return {t.ticket_id for t in sold} | {changed.new_ticket.ticket_id}


def set_contracts(finance, day: dt.date) -> None:
    # TESTOP: an older contract, the one in effect, and one from tomorrow on (not for this day).
    finance.set_contract(contract("TESTOP", day - dt.timedelta(days=60), 500))
    finance.set_contract(
        contract(
            "TESTOP",
            day - dt.timedelta(days=30),
            833,
            refund_fee_station_bp=5000,
            no_show_station_bp=3000,
            deductions=DEDUCTIONS["TESTOP"],
        )
    )
    finance.set_contract(contract("TESTOP", day + dt.timedelta(days=1), 1500))
    finance.set_contract(
        contract(
            "OTHEROP",
            day - dt.timedelta(days=1),
            1250,
            operator_keeps_service_fee=True,
            refund_fee_station_bp=0,
            no_show_station_bp=10000,
        )
    )


def expected_sheets(station, ticket_ids: set[str]) -> dict[str, dict[str, dict[str, int]]]:
    """Per operator: ticket id -> its figures, from GetTicket."""
    master = station["master"]
    departed, cancelled = {station["trip"]["SC"]}, {station["trip"]["SD"]}
    by_operator: dict[str, dict[str, dict[str, int]]] = {"TESTOP": {}, "OTHEROP": {}}
    for ticket_id in sorted(ticket_ids):
        ticket = master.ticket(ticket_id)
        operator = station["operator_of"][ticket.trip.trip_id]
        trip_id = ticket.trip.trip_id
        by_operator[operator][ticket_id] = expected_line(ticket, operator, trip_id in departed, trip_id in cancelled)
    return by_operator


def test_the_sheet_reconciles_to_the_fen_and_its_lines_trace_to_the_tickets(station):
    finance, day = station["finance"], station["day"]
    station["tickets"] = sell_the_day(station)
    set_contracts(finance, day)
    expected = expected_sheets(station, station["tickets"])
    assert sum(1 for f in expected["TESTOP"].values() if f["no_shows"]) == 3  # two sold on SC, one changed onto it
    assert sum(f["refunds"] for lines in expected.values() for f in lines.values()) == 2
    assert sum(f["trip_cancelled"] for f in expected["OTHEROP"].values()) == 1
    period = station["period"]
    for operator, lines in expected.items():
        sheet = finance.settlement_sheet(operator, *period)
        assert sheet.contract.agency_fee_bp == TERMS[operator]["agency"]  # the contract in effect on the day
        assert figures(sheet.totals) == total(lines.values())
        deductions = sum(fen for _, fen in DEDUCTIONS[operator])
        assert sheet.deductions_fen == deductions and not sheet.lock.lock_id
        assert sheet.amount_payable_fen == total(lines.values())["payable_fen"] - deductions
        # Every figure: revenue less what the station keeps or passes on is what the operator gets.
        t = sheet.totals
        kept = (
            t.refund_fen + t.changed_fen + t.voided_fen + t.station_service_fee_fen + t.insurance_held_fen
            + t.agency_fee_fen + t.refund_fee_station_fen + t.refund_retained_fen + t.no_show_station_fen
            + t.trip_cancelled_fen
        )  # fmt: skip
        assert t.revenue_fen - kept == t.payable_fen
        assert t.base_fen + t.service_fee_fen + t.fuel_surcharge_fen + t.insurance_fen == t.revenue_fen
        assert t.insurance_held_fen and t.refund_fee_fen and t.refund_retained_fen  # the non-refundable 站务费
        assert bool(t.station_service_fee_fen) is not TERMS[operator]["operator_keeps_service_fee"]
        # The lines are exactly the operator's tickets, each with its own figures.
        traced = finance.all_settlement_lines(operator, *period)
        assert {line.ticket_id: figures(line.figures) for line in traced} == lines
        no_shows = [line.ticket_id for line in traced if line.state == reports_pb2.SETTLEMENT_TICKET_STATE_NO_SHOW]
        assert len(no_shows) == sum(f["no_shows"] for f in lines.values())
        page = finance.settlement_lines(operator, *period, page_size=2)
        assert len(page.lines) == 2 and page.total_lines == len(lines) and page.next_page_token
    # The sheet's totals equal the sales report's for the same tickets (sold, refunded today).
    today = dt.datetime.now(CHINA).date().isoformat()
    sales = finance.sales_report_lines(("operator", "service_date"), today, max(today, period[1]))
    for operator in expected:
        sheet = finance.settlement_sheet(operator, *period).totals
        mine = [line for line in sales if line.group[0] == operator and period[0] <= line.group[1] <= period[1]]
        line = reports_pb2.SalesLine()
        for each in mine:
            for name in [f.name for f in line.DESCRIPTOR.fields if f.name != "group"]:
                setattr(line, name, getattr(line, name) + getattr(each, name))
        for name in ("revenue_fen", "base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen"):
            assert getattr(sheet, name) == getattr(line, name), name
        for name in ("refunds", "refund_fen", "refund_fee_fen", "changes", "changed_fen", "voids", "voided_fen"):
            assert getattr(sheet, name) == getattr(line, name), name
        assert sheet.tickets == line.tickets


def test_a_locked_period_is_frozen_and_a_late_refund_shows_as_an_adjustment(station):
    finance, master, day = station["finance"], station["master"], station["day"]
    period = station["period"]
    before = finance.settlement_sheet("TESTOP", *period)
    lock = finance.lock_settlement("TESTOP", *period, request_id="lock-testop")
    # A retry (the reply lost) gets the same lock, not a refusal or a second lock.
    assert finance.lock_settlement("TESTOP", *period, request_id="lock-testop") == lock
    assert lock.lock_id and figures(lock.totals) == figures(before.totals)
    assert lock.amount_payable_fen == before.amount_payable_fen and lock.locked_by
    # A refund after the lock: the locked figures stay; the change shows apart, with its ticket.
    late = next(
        ticket_id
        for ticket_id, f in expected_sheets(station, station["tickets"])["TESTOP"].items()
        if f["refunds"] == f["voids"] == f["changes"] == f["no_shows"] == 0
    )
    master.refund(late)
    sheet = finance.settlement_sheet("TESTOP", *period)
    assert figures(sheet.totals) == figures(before.totals) and sheet.lock.lock_id == lock.lock_id
    (adjustment,) = sheet.adjustments
    assert adjustment.kind == reports_pb2.SETTLEMENT_ADJUSTMENT_KIND_LATE and list(adjustment.ticket_ids) == [late]
    now = expected_sheets(station, station["tickets"])["TESTOP"]
    assert figures(adjustment.figures) == {
        name: total(now.values())[name] - getattr(before.totals, name) for name in FIGURES
    }
    assert adjustment.figures.refunds == 1 and adjustment.amount_fen == adjustment.figures.payable_fen
    assert sheet.amount_payable_fen == lock.amount_payable_fen + adjustment.amount_fen
    # A manual adjustment adds to it, never edits the locked figures.
    manual = finance.add_adjustment(lock.lock_id, "短款更正", -500)
    sheet = finance.settlement_sheet("TESTOP", *period)
    assert [a.kind for a in sheet.adjustments] == [
        reports_pb2.SETTLEMENT_ADJUSTMENT_KIND_LATE,
        reports_pb2.SETTLEMENT_ADJUSTMENT_KIND_MANUAL,
    ]
    assert sheet.adjustments[1].adjustment_id == manual.adjustment_id and sheet.adjustments[1].reason == "短款更正"
    assert sheet.amount_payable_fen == lock.amount_payable_fen + adjustment.amount_fen - 500
    assert figures(sheet.totals) == figures(lock.totals)
    # The other operator's period is not locked: its sheet is live.
    assert not finance.settlement_sheet("OTHEROP", *period).lock.lock_id
    listed = finance.contracts("TESTOP")
    assert [k.lock_id for k in listed.locks] == [lock.lock_id] and len(listed.contracts) == 3
    # Locking again, or a period overlapping it, or a contract reaching into it: refused.
    yesterday = (day - dt.timedelta(days=1)).isoformat()
    for call, code, reason in (
        (lambda: finance.lock_settlement("TESTOP", *period), "ALREADY_EXISTS", "SETTLEMENT_ALREADY_LOCKED"),
        (
            lambda: finance.lock_settlement("TESTOP", yesterday, period[0]),
            "FAILED_PRECONDITION",
            "SETTLEMENT_LOCK_OVERLAPS",
        ),
        (
            lambda: finance.set_contract(contract("TESTOP", day, 900)),
            "FAILED_PRECONDITION",
            "SETTLEMENT_PERIOD_LOCKED",
        ),
        (lambda: finance.add_adjustment("L999999", "x", 1), "NOT_FOUND", "SETTLEMENT_UNKNOWN_LOCK"),
    ):
        error = refused(call)
        assert (error.code.name, error.reason) == (code, reason), error
    # The lock and the adjustment are audited, with the finance user as the actor.
    server = station["server"]
    with logged_in(KeyunClient(server.target), "auditor", clock=server.clock) as auditor:
        audit = audit_pb2_grpc.AuditStub(auditor.channel)
        for action, target in (("LockSettlement", "TESTOP"), ("AddAdjustment", lock.lock_id)):
            request = audit_pb2.ListRecordsRequest(action=f"keyun.v1.Reports/{action}", target=target, page_size=50)
            records = auditor.call(audit.ListRecords, request).records
            assert "OK" in {audit_outcome(r) for r in records}, action  # and the refusals above
            assert {r.actor for r in records} == {finance.account.account_id}


def test_a_ticket_seller_may_not_settle_and_bad_inputs_are_refused(station):
    finance, day = station["finance"], station["day"]
    period = station["period"]
    server = station["server"]
    with logged_in(KeyunClient(server.target), "counter1", clock=server.clock) as seller:
        for call in (
            lambda: seller.settlement_sheet("TESTOP", *period),
            lambda: seller.set_contract(contract("TESTOP", day, 100)),
            lambda: seller.lock_settlement("OTHEROP", *period),
        ):
            assert refused(call).code == grpc.StatusCode.PERMISSION_DENIED
    for call, reason in (
        (lambda: finance.settlement_sheet("TESTOP", "yesterday", period[1]), "INVALID_FIELD"),
        (lambda: finance.settlement_sheet("TESTOP", period[0], "2001-01-01"), "INVALID_FIELD"),
        (lambda: finance.settlement_sheet("", *period), "MISSING_FIELD"),
        (lambda: finance.settlement_sheet("BAD OPERATOR", *period), "INVALID_FIELD"),
        (lambda: finance.settlement_lines("TESTOP", *period, page_token="x"), "BAD_PAGE_TOKEN"),
        (lambda: finance.set_contract(contract("OTHEROP", day + dt.timedelta(days=3), 20_000)), "INVALID_FIELD"),
        (
            lambda: finance.set_contract(contract("OTHEROP", day, 100, deductions=(("租金", 1), ("租金", 2)))),
            "INVALID_FIELD",
        ),
        (lambda: finance.add_adjustment("L000001", "", 100), "MISSING_FIELD"),
        (lambda: finance.add_adjustment("L000001", "零", 0), "INVALID_FIELD"),
    ):
        error = refused(call)
        assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, reason), error
    missing = refused(lambda: finance.settlement_sheet("NOCONTRACT", *period))
    assert (missing.code, missing.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SETTLEMENT_NO_CONTRACT")
    # Nothing refused changed anything: OTHEROP still has its one contract.
    assert [c.effective_from for c in finance.contracts("OTHEROP").contracts] == [
        (day - dt.timedelta(days=1)).isoformat()
    ]


def test_keyun_report_settlement_and_contract(station, capsys, monkeypatch):
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    server = ["--server", station["server"].target, "--user", "finance"]
    period = station["period"]
    sheet = station["finance"].settlement_sheet("OTHEROP", *period)
    assert (
        keyun_main(
            [
                "report",
                "settlement",
                "show",
                "--operator",
                "OTHEROP",
                "--from",
                period[0],
                "--to",
                period[1],
                "--format",
                "csv",
                *server,
            ]
        )
        == 0
    )
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["line", "sign", "fen"] and rows[-1] == ["amount payable", "=", str(sheet.amount_payable_fen)]
    assert (
        keyun_main(
            [
                "report",
                "settlement",
                "lines",
                "--operator",
                "OTHEROP",
                "--from",
                period[0],
                "--to",
                period[1],
                "--json",
                *server,
            ]
        )
        == 0
    )
    import json

    lines = json.loads(capsys.readouterr().out)
    assert sum(line["payable_fen"] for line in lines) == sheet.totals.payable_fen
    assert keyun_main(
        ["report", "contract", "set", "--operator", "CLIOP", "--from", period[0], "--agency-fee", "7.5",
         "--refund-fees", "50", "--deduction", "租金=12.34", *server]
    ) == 0  # fmt: skip
    assert "agency fee 7.5 %" in capsys.readouterr().out
    (saved,) = station["finance"].contracts("CLIOP").contracts
    assert (saved.agency_fee_bp, saved.refund_fee_station_bp, saved.deductions[0].fen) == (750, 5000, 1234)
    show = ["report", "settlement", "show", "--operator", "OTHEROP", "--from", period[0], "--to", period[1]]
    assert keyun_main([*show, *server]) == 0  # a table, in yuan
    printed = capsys.readouterr().out
    payable = sheet.amount_payable_fen
    assert "agency fee (客运代理费)" in printed and f"{payable // 100}.{payable % 100:02d}" in printed
    assert keyun_main(["report", "contract", "show", *server]) == 0
    assert "CLIOP" in capsys.readouterr().out
    assert (
        keyun_main(
            ["report", "settlement", "lock", "--operator", "OTHEROP", "--from", period[0], "--to", period[1], *server]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("locked L")
    assert finance_lock_of(station, "OTHEROP").amount_payable_fen == sheet.amount_payable_fen


def finance_lock_of(station, operator: str) -> reports_pb2.SettlementLockInfo:
    (lock,) = station["finance"].contracts(operator).locks
    return lock


def test_contracts_locks_and_adjustments_survive_a_restart_and_a_rebuild(station):
    """They are events in the accounts owner's log: replayed by the owner, projected again."""
    finance = station["finance"]
    period = station["period"]
    before = finance.settlement_sheet("TESTOP", *period)
    terms = finance.contracts()
    station["finance"].close()
    station["master"].close()
    station["server"].stop()
    # With the server stopped, the store is projected again from every log (a projector that is
    # going away may hold it a moment longer).
    rebuild = ["report", "rebuild", "--data-dir", str(station["data_dir"])]
    wait_until(lambda: keyun_main(rebuild) == 0, 30, "the rebuild ran")
    server = ServerThread(station["data_dir"], shards=2, reports=True, policy=parse_policy({"fares": FARES}))
    station["server"] = server
    station["master"] = logged_in(KeyunClient(server.target), clock=server.clock)
    station["finance"] = finance = logged_in(KeyunClient(server.target), "finance", clock=server.clock)
    assert finance.contracts() == terms
    assert finance.settlement_sheet("TESTOP", *period) == before
