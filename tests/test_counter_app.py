"""The counter workstation (terminals/counter_app.py) driven with Textual's Pilot against a real
server: a counter seller's whole shift (open, walk-in passengers of each ticket type, cash with
change, tickets printed with components, paper numbers and QR codes, a void, a refund at the quoted
fee, a reprint on a new paper number, the close and its handover slip), and a duty manager's sales
without a shift: search, seat map, refund, reprint, rebooking, card, outages."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import socket
import threading
import urllib.request
from pathlib import Path

import pytest

from keyun.common.payments_wire.formats import DECLINE_REASONS
from keyun.engine.identity import id_check_char
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals import cli as terminal_cli
from keyun.terminals import printing, ticket_print
from keyun.terminals.client import KeyunClient
from keyun.terminals.counter_app import CounterApp, DeskScreen
from keyun.terminals.counter_widgets import OFFER_COLUMNS, Ask, Confirm, Info, PassengerDialog, SeatGrid, TripPicker
from keyun.terminals.ticket_print import mask_documents
from keyun.v1 import common_pb2

from .conftest import ServerThread, logged_in, schedule_trip
from .payments.conftest import start_sandbox, stop_sandbox
from .waiting import wait_until_async

SIZE = (200, 56)


def _iso(trip_id: str) -> str:
    """The Beijing date in a trip id (T1-20261208) as the date a seller types."""
    return dt.datetime.strptime(trip_id.rsplit("-", 1)[1], "%Y%m%d").date().isoformat()


async def _settled(app: CounterApp, pilot, what: str, predicate) -> None:
    """Let the workers (gRPC calls) finish and the screen catch up, until `predicate` holds."""

    async def check():
        await app.workers.wait_for_complete()
        await pilot.pause()
        return predicate()

    await wait_until_async(check, 30, what)


async def _log_in(app: CounterApp, pilot, login_name: str = "seller") -> DeskScreen:
    await pilot.press(*login_name, "enter", *DEMO_PASSWORD, "enter")
    await _settled(app, pilot, "the desk after logging in", lambda: isinstance(app.screen, DeskScreen))
    return app.screen  # type: ignore[return-value]


def _pages(pdf: Path) -> int:
    return pdf.read_bytes().count(b"/Type /Page\n") + pdf.read_bytes().count(b"/Type /Page ")


def test_a_seller_sells_for_cash_prints_refunds_reprints_and_changes(keyun, tmp_path):
    trip = keyun.trip(dt.timedelta(days=1))
    later = keyun.trip(dt.timedelta(days=1, hours=1))  # the same route, an hour later: where a ticket moves
    date = _iso(trip)
    printer = tmp_path / "ticket-printer.txt"
    app = CounterApp(keyun.target, tmp_path / "pdf", printer)

    async def shift():
        async with app.run_test(size=SIZE) as pilot:
            desk = await _log_in(app, pilot)
            assert "seller" in app.sub_title

            # Search by destination and date, from the keyboard: from, Tab, to, Tab, date, Enter.
            assert app.focused.id == "from"  # a seller of every station starts with the from field
            await pilot.press(*"aaa", "tab", *"ddd", "tab", *date, "enter")
            await _settled(app, pilot, "the trips", lambda: trip in desk.offers)
            assert later in desk.offers and "(UTC+8)" in str(desk.query_one("#offers").get_row(trip)[1])

            # Enter on the first trip shows its seats and the free seats of each leg.
            await pilot.press("enter")
            grid = desk.query_one(SeatGrid)
            await _settled(app, pilot, "the seat map", lambda: grid.seat_map is not None)
            assert desk.offer.trip.trip_id == trip
            assert "AAA→BBB 12" in str(desk.query_one("#legs").render())

            # Seats 1 and 2 (arrows and Enter), and a click on seat 4 then again to put it back.
            await pilot.press("enter", "right", "enter")
            assert grid.picked == ["1", "2"]
            await pilot.click(SeatGrid, offset=(2, 1))  # seat 4: row 2, first column
            await pilot.pause()
            assert grid.picked == ["1", "2", "4"], (grid.cursor_coordinate, grid.region, desk.messages[-1])
            await pilot.click(SeatGrid, offset=(2, 1))
            await pilot.pause()
            assert grid.picked == ["1", "2"]

            # Cash: ¥100 given for 2 × ¥40 shows ¥20 change; Enter sells and prints.
            await pilot.press("f4", *"100")
            await pilot.pause()
            assert "CHANGE ¥20.00" in str(desk.query_one("#change").render())
            await pilot.press("enter")
            await _settled(app, pilot, "the sale", lambda: len(desk.tickets) == 2 and not desk.busy)
            assert "change ¥20.00" in desk.messages[-1], desk.messages
            sold = list(desk.tickets)
            for ticket_id in sold:
                pdf = tmp_path / "pdf" / f"{ticket_id}.pdf"
                assert pdf.is_file() and _pages(pdf) == 1
                assert ticket_id in printer.read_text(encoding="utf-8")
            assert desk.desk.totals.sold_fen == {"cash": 8000} and desk.desk.totals.tickets_sold == 2
            assert "cash in drawer  ¥80.00" in str(desk.query_one("#shift").render())
            shot = Path(app.save_screenshot("after-sale.svg", str(tmp_path)))
            assert sold[0] in shot.read_text(encoding="utf-8")  # the screen shows the sale
            await _settled(app, pilot, "the seats shown taken", lambda: grid.free and "1" not in grid.free)
            assert desk.query_one("#offers").get_row(trip)[OFFER_COLUMNS.index("free")] == "10"

            # Refund the second ticket: the fee is shown before confirming (10 % of ¥40, a day ahead).
            await pilot.press("f11", "f7")
            await _settled(
                app,
                pilot,
                "the refund question",
                lambda: "fee ¥4.00" in str(app.screen.query("Static").first().render()),
            )
            await pilot.press("enter")
            await _settled(app, pilot, "the refund", lambda: desk.desk.totals.tickets_refunded == 1)
            assert "pay back ¥36.00 in cash, fee kept ¥4.00" in desk.messages[-1], desk.messages
            assert "cash in drawer  ¥44.00" in str(desk.query_one("#shift").render())
            await pilot.press("f7")  # again: the desk says so, and asks nothing
            await _settled(app, pilot, "the answer", lambda: "refunded already" in desk.messages[-1])
            assert isinstance(app.screen, DeskScreen) and desk.desk.totals.tickets_refunded == 1

            # Reprint the first ticket: a PDF marked as a reprint, and the printer gets it again.
            await pilot.press("up", "f9")
            await _settled(app, pilot, "the reprint", lambda: desk.desk.totals.reprints == 1)
            assert (tmp_path / "pdf" / f"{sold[0]}-reprint.pdf").is_file()
            assert printer.read_text(encoding="utf-8").count(sold[0]) == 2

            # Change (改签) the first ticket to the later trip: day, then the trip, then confirm.
            await pilot.press("f8")
            await pilot.pause()
            await pilot.press(*date, "enter")
            await _settled(
                app,
                pilot,
                "the trips to move to " + repr(desk.messages[-3:]),
                lambda: isinstance(app.screen, TripPicker),
            )
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("enter")
            await _settled(app, pilot, "the change", lambda: desk.desk.totals.tickets_changed == 1)
            new_ids = [t for t in desk.tickets if t.startswith(later.split("-")[0])]
            assert len(new_ids) == 1 and "changed to " + new_ids[0] in desk.messages[-1], desk.messages
            assert (tmp_path / "pdf" / f"{new_ids[0]}.pdf").is_file()
            assert keyun.client.ticket(sold[0]).changed_to == new_ids[0]

    asyncio.run(shift())


def _resident_id(travel: dt.date, age: int, serial: int) -> str:
    """A valid resident ID of someone `age` on the travel date."""
    born = dt.date(travel.year - age, travel.month, min(travel.day, 28))
    first17 = f"110101{born:%Y%m%d}{serial:03d}"
    return first17 + id_check_char(first17)


async def _passenger(app, pilot, ticket_type: str, number: str, name: str, insurance: str = "", proof=("", "")):
    """F12 and the passenger dialog from the keyboard; the number typed as a scanner does, with Enter."""
    await pilot.press("f12")
    await _settled(app, pilot, "the passenger dialog", lambda: isinstance(app.screen, PassengerDialog))
    dialog = app.screen
    await pilot.press(*ticket_type, "enter", "enter", *number, "enter")
    shown = dialog.query_one("#document_number").value
    assert number not in shown and shown == number[:6] + "********" + number[-4:], shown  # masked once entered
    await pilot.press(*name, "enter", *insurance, "enter", *proof[0], "enter", *proof[1], "enter")
    await _settled(app, pilot, "the passenger added", lambda: not isinstance(app.screen, PassengerDialog))


def test_a_counter_sellers_whole_shift_with_each_ticket_type_a_void_a_refund_a_reprint_and_the_handover(
    keyun, tmp_path
):
    """counter1 (a counter seller): the stock keeper issues paper numbers; the seller opens a shift,
    sells a full fare (with insurance) carrying a free child, a child and a concession ticket to
    walk-in passengers for cash, voids one, refunds one at the quoted fee, reprints one, closes with
    the counted cash, and the slip matches the sales to the fen."""
    trip = keyun.trip(dt.timedelta(days=1, hours=2))
    travel = dt.date.fromisoformat(_iso(trip))
    with logged_in(KeyunClient(keyun.target), "stock", clock=keyun.clock) as stock:
        code = f"CT{dt.datetime.now().microsecond}"
        batch = stock.receive_stock("00002000", "00002999", batch_code=code).batches[0]
        stock.issue_stock(batch.batch_id, "counter1", "00002000", "00002009")
    numbers = [f"{code}{2000 + k:08d}" for k in range(10)]
    adult, infant, child, veteran = (_resident_id(travel, age, 100 + age) for age in (40, 3, 8, 60))
    printer = tmp_path / "ticket-printer.txt"
    app = CounterApp(keyun.target, tmp_path / "pdf", printer)

    async def shift():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"counter1", "enter", *DEMO_PASSWORD, "enter")
            # No open shift: the counter seller is asked for a counter, and the shift opens.
            await _settled(app, pilot, "the open-shift question", lambda: isinstance(app.screen, Ask))
            await pilot.press(*"W07", "enter")
            desk = app.screen
            assert isinstance(desk, DeskScreen)
            await _settled(
                app, pilot, f"the shift {desk.messages[-3:]}", lambda: "open at counter W07" in desk.messages[-1]
            )
            panel = str(desk.query_one("#shift").render())
            assert "counter W07" in panel and "left 10" in panel and numbers[0] in panel, (panel, desk.messages)

            await pilot.press(*"AAA", "tab", *"DDD", "tab", *_iso(trip), "enter")
            await _settled(app, pilot, "the trips", lambda: trip in desk.offers)
            await pilot.press(*["down"] * list(desk.offers).index(trip), "enter")
            grid = desk.query_one(SeatGrid)
            await _settled(app, pilot, "the seat map", lambda: grid.seat_map is not None)
            await pilot.press("enter", "right", "enter", "down", "left", "enter")
            assert grid.picked == ["1", "2", "4"]

            # Each seat's passenger: a full fare with insurance and a free child on her lap, a child,
            # and a disabled serviceman's concession with his proof.
            await _passenger(app, pilot, "", adult, "王芳", insurance="y")
            await _passenger(app, pilot, "free_child", infant, "王小宝")
            await _passenger(app, pilot, "child", child, "李小明")
            await _passenger(app, pilot, "concession", veteran, "赵刚", proof=("残疾军人证", "JR2020-001234"))
            rows = str(desk.query_one("#rows").render())
            assert "王芳" in rows and "free child" in rows and "concession" in rows, rows

            # ¥200 in cash: the server prices the types; the change is given from its total.
            await pilot.press("f4", *"200")
            await pilot.pause()
            app.save_screenshot("before-sale.svg", str(tmp_path))  # docs/counter-screenshot.svg is this one
            await pilot.press("f5")
            await _settled(app, pilot, "the sale", lambda: len(desk.tickets) == 3 and not desk.busy)
            full, kid, concession = (desk.tickets[t] for t in desk.tickets)
            assert [t.fare.ticket_type for t in (full, kid, concession)] == [
                common_pb2.TICKET_TYPE_FULL,
                common_pb2.TICKET_TYPE_CHILD,
                common_pb2.TICKET_TYPE_CONCESSION,
            ]
            assert full.fare.insurance_fen > 0 and full.HasField("free_child")
            total = full.price_fen + kid.price_fen + concession.price_fen
            assert f"change {printing.yuan(20000 - total)}" in desk.messages[-1], desk.messages
            assert [desk.desk.paper_numbers[t] for t in desk.tickets] == numbers[:3]
            rows = str(desk.query_one("#rows").render())
            assert f"total {printing.yuan(total)}" in rows and "Base fare" in rows and "Insurance" in rows, rows

            # Printed: the paper number, the components, the masked names and the credential's QR code.
            stream = printer.read_text(encoding="utf-8")
            for ticket, number in zip((full, kid, concession), numbers, strict=False):
                pdf = (tmp_path / "pdf" / f"{ticket.ticket_id}.pdf").read_bytes()
                assert b"/Subtype /Image" in pdf  # the QR code
                assert number in stream and ticket.credential and f"QR: {ticket.credential}" in stream
            assert "乘意险 Insurance" in stream and "免票儿童 Free child" in stream and "优待票" in stream
            assert "王**" in stream or "王*" in stream
            shot = Path(app.save_screenshot("counter-shift.svg", str(tmp_path))).read_text(encoding="utf-8")
            for number in (adult, infant, child, veteran, "JR2020-001234"):
                assert number not in stream and number not in shot and not any(number in m for m in desk.messages)

            # Void the child's ticket: the seat is free again, its paper number spoiled.
            await pilot.press("f11", "up", "ctrl+w")
            await _settled(app, pilot, "the void question", lambda: isinstance(app.screen, Confirm))
            await pilot.press("enter")
            await _settled(app, pilot, "the void", lambda: desk.desk.totals.tickets_voided == 1 and not desk.busy)
            assert f"paper number {numbers[1]} spoiled" in desk.messages[-1], desk.messages
            assert keyun.client.ticket(kid.ticket_id).status == common_pb2.TICKET_STATUS_VOID

            # Refund the concession at the fee the server quotes before the seller confirms.
            quote = keyun.client.quote_refund(concession.ticket_id)
            await pilot.press("f11", "down", "f7")
            await _settled(app, pilot, "the refund question", lambda: isinstance(app.screen, Confirm))
            question = str(app.screen.query("Static").first().render())
            assert f"fee {printing.yuan(quote.fee_fen)}" in question, question
            assert f"pay back {printing.yuan(quote.refund_fen)}" in question, question
            await pilot.press("enter")
            await _settled(app, pilot, "the refund", lambda: desk.desk.totals.tickets_refunded == 1 and not desk.busy)
            refunded = keyun.client.ticket(concession.ticket_id)
            assert (refunded.refund_fee_fen, refunded.refunded_fen) == (quote.fee_fen, quote.refund_fen)

            # Reprint the full fare: a new paper number, the old one spoiled.
            await pilot.press("f11", "up", "up", "f9")
            await _settled(app, pilot, "the reprint", lambda: desk.desk.totals.reprints == 1 and not desk.busy)
            assert f"paper number {numbers[3]}, {numbers[0]} spoiled" in desk.messages[-1], desk.messages
            assert numbers[3] in printer.read_text(encoding="utf-8")
            assert (tmp_path / "pdf" / f"{full.ticket_id}-reprint.pdf").is_file()
            panel = str(desk.query_one("#shift").render())
            assert "printed 2, spoiled 2, left 6" in panel, panel
            expected_cash = total - kid.price_fen - quote.refund_fen
            # The panel's money is the server's slip so far (GetShift's `running`), not the desk's own count.
            assert f"cash in drawer  {printing.yuan(expected_cash)}" in panel and "voided    1 ticket(s)" in panel, (
                panel
            )

            # Close with the counted cash, a yuan short: the slip, to the fen.
            counted = expected_cash - 100
            await pilot.press("ctrl+e")
            await _settled(app, pilot, "the counted-cash question", lambda: isinstance(app.screen, Ask))
            await pilot.press(*f"{counted // 100}.{counted % 100:02d}", "enter")
            await _settled(app, pilot, "the slip", lambda: isinstance(app.screen, Info))
            slip_shown = str(app.screen.query_one("#info").render())
            assert f"short {printing.yuan(100)}" in slip_shown, slip_shown
            (closed,) = keyun.client.shifts_page(account_id="").shifts[:1]
            slip = closed.slip
            assert (slip.sold_count, slip.sold_fen) == (3, total)
            assert (slip.voided_count, slip.voided_fen) == (1, kid.price_fen)
            assert (slip.refunded_count, slip.refunded_fen, slip.refund_fees_fen) == (
                1,
                quote.refund_fen,
                quote.fee_fen,
            )
            assert slip.reprinted_count == 1
            assert (slip.expected_cash_fen, slip.counted_cash_fen, slip.over_short_fen) == (
                expected_cash,
                counted,
                -100,
            )
            assert list(slip.numbers_used) == [numbers[2], numbers[3]]
            assert [(s.number, s.reason) for s in slip.spoiled] == [(numbers[0], "reprint"), (numbers[1], "void")]
            assert expected_cash == desk.desk.totals.cash_in_drawer_fen()
            assert (tmp_path / "pdf" / f"slip-{closed.shift_id}.pdf").read_bytes().startswith(b"%PDF")
            await pilot.press("enter")
            assert desk.desk.shift is None and "no open shift" in str(desk.query_one("#shift").render())

    asyncio.run(shift())


def test_cash_short_sells_nothing_and_a_printer_that_is_missing_does_not_undo_a_sale(keyun, tmp_path):
    trip = keyun.trip(dt.timedelta(days=2))
    app = CounterApp(keyun.target, tmp_path / "pdf", tmp_path / "unplugged" / "lp0")

    async def short():
        async with app.run_test(size=SIZE) as pilot:
            desk = await _log_in(app, pilot)
            assert app.focused.id == "from"  # a seller of every station starts with the from field
            await pilot.press(*"AAA", "tab", *"BBB", "tab", *_iso(trip), "enter")
            await _settled(app, pilot, "the trips", lambda: trip in desk.offers)
            await pilot.press(*["down"] * list(desk.offers).index(trip), "enter")
            await _settled(app, pilot, "the seat map", lambda: desk.query_one(SeatGrid).seat_map is not None)
            await pilot.press("enter", "f4", *"10", "f5")
            await _settled(app, pilot, "the refusal", lambda: "must cover ¥15.00" in desk.messages[-1])
            assert not desk.tickets and desk.desk.totals.tickets_sold == 0
            assert keyun.client.seat_map(trip, "AAA", "BBB").seats_free == 12

            # A refusal from the server reaches the status line with its reason.
            await pilot.press("f10")
            await pilot.pause()
            await pilot.press(*"NOPE9-20990101-0001", "enter")
            await _settled(app, pilot, "the refusal", lambda: "UNKNOWN_TRIP" in desk.messages[-1])

            # Exact cash; the ticket printer is not there: sold all the same, and the seller is told.
            await pilot.press("f4", "ctrl+u", "f5")
            await _settled(app, pilot, "the sale", lambda: len(desk.tickets) == 1 and not desk.busy)
            assert "NOT printed (FileNotFoundError" in desk.messages[-1] and "F9" in desk.messages[-1], desk.messages
            assert desk.desk.totals.sold_fen == {"cash": 1500}

    asyncio.run(short())


def test_a_wrong_password_is_refused_on_the_login_screen(keyun, tmp_path):
    app = CounterApp(keyun.target, tmp_path / "pdf")

    async def refused():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press(*"seller", "enter", *"not-the-password", "enter")
            status = app.screen.query_one("#login_status")
            await _settled(app, pilot, "the refusal", lambda: "BAD_CREDENTIALS" in str(status.render()))
            assert not isinstance(app.screen, DeskScreen)

    asyncio.run(refused())


def test_resident_ids_are_masked_in_whatever_the_counter_shows():
    assert mask_documents("holder 11010119900307123X seat 3") == "holder 110101********123X seat 3"
    assert mask_documents("110101********123X") == "110101********123X"
    assert mask_documents("T1-20261208-0001") == "T1-20261208-0001"


class Relay:
    """A TCP relay between the app and the server that can be cut: while cut, it drops every open
    connection and closes new ones at once, as a server that went away does (gRPC: UNAVAILABLE)."""

    def __init__(self, target: str):
        host, port = target.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.target = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.cut = threading.Event()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if self.cut.is_set():
                client.close()
                continue
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open += [client, server]
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut_off(self) -> None:
        self.cut.set()
        with self.lock:
            for end in self.open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def restore(self) -> None:
        self.cut.clear()

    def close(self) -> None:
        self.cut_off()
        self.listener.close()


def test_a_sale_rides_out_the_server_going_away_with_the_same_request_id(keyun, tmp_path):
    trip = keyun.trip(dt.timedelta(days=3))
    relay = Relay(keyun.target)
    app = CounterApp(relay.target, tmp_path / "pdf", tmp_path / "printer.txt")

    async def outage():
        async with app.run_test(size=SIZE) as pilot:
            desk = await _log_in(app, pilot)
            assert app.focused.id == "from"  # a seller of every station starts with the from field
            await pilot.press(*"AAA", "tab", *"CCC", "tab", *_iso(trip), "enter")
            await _settled(app, pilot, "the trips", lambda: trip in desk.offers)
            await pilot.press(*["down"] * list(desk.offers).index(trip), "enter")
            await _settled(app, pilot, "the seat map", lambda: desk.query_one(SeatGrid).seat_map is not None)
            await pilot.press("enter")  # seat 1

            relay.cut_off()
            await pilot.press("f5")  # exact cash
            # The desk keeps trying and says so; the sale's request id is kept meanwhile.
            await wait_until_async(
                lambda: any("trying again with the same request id" in m for m in desk.messages), 30, "the retry notice"
            )
            (pending,) = desk.desk.pending.values()
            request_id = pending.ids["sell"]
            relay.restore()
            await _settled(app, pilot, "the sale", lambda: len(desk.tickets) == 1 and not desk.busy)
            assert any("server reached again" in m for m in desk.messages), desk.messages
            assert not desk.desk.pending

            # The sale the server recorded is the one of that request id: repeating it returns the same ticket.
            (ticket_id,) = desk.tickets
            again = keyun.client.sell(trip, "AAA", "CCC", ("1",), request_id=request_id)
            assert [t.ticket_id for t in again.tickets] == [ticket_id]
            assert keyun.client.seat_map(trip, "AAA", "CCC").seats_free == 11

    try:
        asyncio.run(outage())
    finally:
        relay.close()


def test_an_account_with_a_second_factor_logs_in_with_its_totp_code(keyun, tmp_path):
    from keyun.gateway.credentials import totp_code
    from keyun.gateway.demo_accounts import DEMO_TOTP_SECRET

    app = CounterApp(keyun.target, tmp_path / "pdf")

    async def second_factor():
        async with app.run_test(size=SIZE) as pilot:
            code = totp_code(DEMO_TOTP_SECRET, keyun.clock.now_ms())
            await pilot.press(*"sysadmin", "tab", *DEMO_PASSWORD, "tab", *code, "enter")
            await _settled(app, pilot, "the desk", lambda: isinstance(app.screen, DeskScreen))
            assert "sysadmin" in app.sub_title

    asyncio.run(second_factor())


def test_a_sold_ticket_prints_as_escpos_and_as_a_pdf_without_a_cjk_font(keyun, tmp_path):
    trip = keyun.trip(dt.timedelta(days=4))
    (ticket,) = keyun.client.sell(trip, "BBB", "DDD", ("5",)).tickets
    view = ticket_print.layout(ticket, ticket_print.PrintExtras(seller="seller"))

    stream = tmp_path / "lp0"
    ticket_print.write_stream([view], stream, escpos=True)
    data = stream.read_bytes()
    assert data.startswith(ticket_print.ESCPOS_INIT) and data.endswith(ticket_print.ESCPOS_CUT)
    assert ticket.ticket_id.encode() in data and "乙站".encode("gb18030") in data and "¥30.00".encode("gb18030") in data

    pdf = ticket_print.pdf_tickets([view, view], tmp_path / "two.pdf", cjk_font=None)  # Helvetica, English labels
    assert _pages(pdf) == 2


@pytest.fixture(scope="module")
def card_station(ray_session, tmp_path_factory):
    """A server that takes cards: the payment sandbox plays the acquirer."""
    directory = tmp_path_factory.mktemp("counter-card")
    sandbox = start_sandbox(directory / "pay-keys", directory / "pay-state.json")
    server = ServerThread(directory / "data", shards=2, payments_dir=sandbox.keys_dir)
    master = logged_in(KeyunClient(server.target), clock=server.clock)
    yield server, sandbox, master
    master.close()
    server.stop()
    stop_sandbox(sandbox)


def test_a_card_sale_is_refunded_through_its_order_and_a_declined_card_frees_the_seats(card_station, tmp_path):
    server, sandbox, master = card_station
    trip = schedule_trip(master, "CARD1", dt.timedelta(days=1))
    app = CounterApp(server.target, tmp_path / "pdf", tmp_path / "printer.txt", terminal_id="POS01")

    async def card():
        async with app.run_test(size=SIZE) as pilot:
            desk = await _log_in(app, pilot)
            assert app.focused.id == "from"  # a seller of every station starts with the from field
            await pilot.press(*"AAA", "tab", *"DDD", "tab", *_iso(trip), "enter")
            await _settled(app, pilot, "the trips", lambda: trip in desk.offers)
            await pilot.press("enter")
            grid = desk.query_one(SeatGrid)
            await _settled(app, pilot, "the seat map", lambda: grid.seat_map is not None)

            # A declined card: the refusal is shown, and the order is cancelled so the seat is free again.
            control_sandbox(sandbox, "/sandbox/card/decline-next", {"reason": DECLINE_REASONS[0]})
            await pilot.press("enter", "f6")
            await _settled(app, pilot, "the decline", lambda: not desk.busy and "PAYMENT_REFUSED" in desk.messages[-1])
            assert not desk.tickets and master.seat_map(trip, "AAA", "DDD").seats_free == 12

            await pilot.press("f6")
            await _settled(app, pilot, "the card sale", lambda: len(desk.tickets) == 1 and not desk.busy)
            assert desk.desk.totals.sold_fen == {"card": 4000} and "card, order " in desk.messages[-1]
            (ticket_id,) = desk.tickets

            # Refunded back through the order's card payment, not in cash from the drawer.
            await pilot.press("f11", "f7")
            await _settled(app, pilot, "the refund question", lambda: isinstance(app.screen, Confirm))
            await pilot.press("enter")
            await _settled(app, pilot, "the refund", lambda: desk.desk.totals.tickets_refunded == 1)
            assert "back through order " in desk.messages[-1], desk.messages
            assert desk.desk.totals.cash_in_drawer_fen() == 0
            assert master.ticket(ticket_id).status == common_pb2.TICKET_STATUS_REFUNDED

    asyncio.run(card())


def control_sandbox(sandbox, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{sandbox.base_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_keyun_counter_with_no_verb_is_the_workstation_and_the_verbs_stay():
    parser = argparse.ArgumentParser()
    terminal_cli.add_counter(parser.add_subparsers(dest="verb"))
    workstation = parser.parse_args(["counter", "--printer", "/dev/usb/lp0", "--printer-format", "escpos"])
    assert workstation.run is terminal_cli._workstation and workstation.action is None
    assert workstation.printer == Path("/dev/usb/lp0") and workstation.printer_format == "escpos"
    search = parser.parse_args(["counter", "search", "aaa", "bbb", "--date", "tomorrow"])
    assert search.run is not terminal_cli._workstation and search.from_station == "AAA"
