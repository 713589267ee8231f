"""The handheld (`keyun handheld`): a seat allotment lent to a device, sold from offline with the
gateway really unreachable (a TCP relay cut), and settled through gRPC against a real server:
tickets issued once per sale, unused seats back in the pool, bad lines refused; a restart keeps
allotments."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from keyun.app.cli import main
from keyun.engine.identity import id_check_char
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient, KeyunError, walk_in
from keyun.v1 import audit_pb2, audit_pb2_grpc, handheld_pb2

from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .test_counter_app import Relay
from .waiting import wait_until


def resident_id(age: int, serial: int) -> str:
    born = dt.date(dt.datetime.now(CHINA).year - age, 3, 7)
    first17 = f"130102{born:%Y%m%d}{serial:03d}"
    return first17 + id_check_char(first17)


@pytest.fixture(scope="module")
def sysadmin(keyun):
    """The system administrator, logged in once for the module: a TOTP code serves one login."""
    with logged_in(KeyunClient(keyun.target), "sysadmin", clock=keyun.clock) as admin:
        yield admin


@pytest.fixture(scope="module")
def auditor(keyun):
    """The audit administrator, logged in once for the module, as `sysadmin`."""
    with logged_in(KeyunClient(keyun.target), "auditor", clock=keyun.clock) as reader:
        yield reader


def _logged_in(client: KeyunClient) -> bool | None:
    try:
        client.login("handheld1", DEMO_PASSWORD)
    except KeyunError as error:
        if error.reason:
            raise
        return None
    return True


class Handheld:
    """`keyun handheld ...` run in this process, as the device account handheld1, through `target`."""

    def __init__(self, target: str, store, capsys):
        self.target, self.store, self.capsys = target, store, capsys

    def __call__(self, *args: str, ok: bool = True):
        code = main(
            ["handheld", *args, "--server", self.target, "--user", "handheld1", "--store", str(self.store), "--json"]
        )
        out = self.capsys.readouterr().out
        assert (code == 0) is ok, out
        return json.loads(out)


def test_a_handheld_sells_offline_from_its_allotment_and_settles(
    keyun, sysadmin, auditor, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    trip = keyun.trip(dt.timedelta(days=2))
    with KeyunClient(keyun.target) as hand:  # registered, the handheld reports its unsettled sales
        hand.login("handheld1", DEMO_PASSWORD)
        registered = sysadmin.register_device(3, "AAA", "bus-1", hand.account.account_id)
    relay = Relay(keyun.target)
    device = Handheld(relay.target, tmp_path / "handheld.sqlite", capsys)
    try:
        lent = device("lend", trip, "AAA", "DDD", "--seats", "4")
        seats = lent["seat_numbers"]
        assert len(seats) == 4 and lent["allotment_id"] == f"{trip}-A1"
        # Nobody else can sell the lent seats.
        with pytest.raises(KeyunError) as taken:
            keyun.client.sell(trip, "AAA", "BBB", seat_numbers=(seats[0],))
        assert taken.value.reason == "SEAT_TAKEN"

        relay.cut_off()  # the gateway is unreachable from here on
        sold = [
            device("sell", trip, "BBB", "DDD", "--passenger", f"full,{resident_id(30 + k, k)},王{k}明")
            for k in range(3)
        ]
        assert [s["online"] for s in sold] == [False] * 3
        assert [s["price_fen"] for s in sold] == [3000] * 3  # BBB→DDD by the fare table lent with the allotment
        assert len({s["seat"] for s in sold}) == 3
        # Beyond the allotment, refused on the device: a seat-leg it sold, a seat it was not lent.
        outside_seat = next(str(n) for n in range(1, 13) if str(n) not in seats)
        for seat in (sold[0]["seat"], outside_seat):
            refused = device(
                "sell", trip, "BBB", "CCC", "--seat", seat, "--passenger", f"full,{resident_id(51, 8)},赵五", ok=False
            )
            assert refused["error"]["reason"] == "NOT_ENOUGH_SEATS" and refused["error"]["reason_code"] == 3002
        status = device("status")
        assert status[0]["sold"] == 3 and status[0]["unsettled"] == 3 and not status[0]["settled"]
    finally:
        relay.restore()

    # Back online.
    with KeyunClient(relay.target) as hand:
        # gRPC may still be backing off from the cut connection for a moment: log in once it reconnects.
        wait_until(lambda: _logged_in(hand), 30, "the handheld back online")
        from keyun.terminals import handheld as hh

        journal = hh.Journal(tmp_path / "handheld.sqlite")
        rows = journal.sales(lent["allotment_id"])
        by_seat = {row["seat"]: row for row in rows}
        lines = [hh.sale_message(journal, by_seat[s["seat"]]) for s in sold]
        journal.close()
        assert all(line.passenger.name.startswith("王") for line in lines)  # kept until settled...
        stored = b"".join(path.read_bytes() for path in tmp_path.glob("handheld.sqlite*") if path.suffix != ".key")
        numbers = [line.passenger.document_number.encode() for line in lines]
        assert stored and not any(number in stored for number in numbers)  # ...sealed, never in clear

        # A line outside the allotment is refused with a stable reason, and changes nothing.
        outside = handheld_pb2.AllotmentSale()
        outside.CopyFrom(lines[0])
        outside.sale_id, outside.seat_number = "outside-1", outside_seat
        with pytest.raises(KeyunError) as wrong:
            hand.settle_allotment(trip, lent["allotment_id"], [*lines, outside])
        assert wrong.value.reason == "OUTSIDE_ALLOTMENT" and wrong.value.facts["field"] == "sales[3]"
        assert not hand.allotment(trip, lent["allotment_id"]).HasField("settled_at")

        # `keyun handheld settle` sends the journal's sales.
        (settled_json,) = device("settle")
        assert settled_json["issued"] == 3
        settled = hand.settle_allotment(trip, lent["allotment_id"], lines)  # and a retry, with a new request id
        assert settled.issued == 0 and settled.returned
        assert sorted(settled.unused_seats) == sorted(set(seats) - {s["seat"] for s in sold})
        for line, sale in zip(settled.lines, sold):
            assert line.ticket.seat_number == sale["seat"] and line.ticket.price_fen == 3000
            assert line.ticket.holder.name.startswith("王") and "*" in line.ticket.holder.name
            assert not line.price_mismatch and line.already_settled
            assert line.ticket.credential.startswith("KY1")
        assert [line["ticket"]["ticket_id"] for line in settled_json["lines"]] == [
            line.ticket.ticket_id for line in settled.lines
        ]  # the retry issued nothing twice
        assert device("settle") == []  # nothing left to settle
        status = device("status")
        assert status[0]["settled"] and status[0]["unsettled"] == 0
        reported = sysadmin.device(registered.device_id)
        assert reported.version == "keyun-handheld 1" and reported.queue_depth == 0
        assert reported.HasField("last_sync")
        journal = hh.Journal(tmp_path / "handheld.sqlite")
        assert all(row["passenger"] is None for row in journal.sales(lent["allotment_id"]))  # erased once settled
        journal.close()

    # The unused seat, and the unsold leg AAA→BBB of a sold seat, are sellable again by others.
    unused = settled.unused_seats[0]
    keyun.client.sell(trip, "AAA", "DDD", seat_numbers=(unused,))
    keyun.client.sell(trip, "AAA", "BBB", seat_numbers=(sold[0]["seat"],))
    manifest = keyun.client.manifest(trip)
    issued = {line.ticket.ticket_id for line in settled.lines}
    assert issued <= {t.ticket_id for t in manifest.tickets}

    # Lending and settling are in the audit log, the refused settlement too.
    def audited():
        records = auditor.call(
            audit_pb2_grpc.AuditStub(auditor.channel).ListRecords, audit_pb2.ListRecordsRequest(page_size=500)
        ).records
        actions = [(r.action, r.target, r.reason) for r in records if "Handheld/" in r.action and r.target == trip]
        return actions if len(actions) >= 4 else None

    actions = wait_until(audited, 30, "the handheld's calls audited")
    assert ("keyun.v1.Handheld/LendAllotment", trip, "") in actions
    assert ("keyun.v1.Handheld/SettleAllotment", trip, "OUTSIDE_ALLOTMENT") in actions
    assert actions.count(("keyun.v1.Handheld/SettleAllotment", trip, "")) == 2


def test_a_handheld_sells_online_at_an_intermediate_stop_on_its_trips_only(keyun):
    trip = keyun.trip(dt.timedelta(days=2))
    with KeyunClient(keyun.target) as hand:
        hand.login("handheld1", DEMO_PASSWORD)
        sold = hand.sell(trip, "CCC", "DDD", passengers=(walk_in(resident_id(40, 21), "周六"),))
        assert sold.tickets[0].from_stop.code == "CCC" and sold.tickets[0].holder.name == "周*"
        with pytest.raises(KeyunError) as denied:  # a handheld lends nothing but to itself, and settles its own
            hand.settle_allotment(trip, f"{trip}-A9", [])
        assert denied.value.reason == "UNKNOWN_ALLOTMENT"
    # A counter seller without a shift is no handheld: the Handheld service is refused.
    with KeyunClient(keyun.target) as seller:
        logged_in(seller, "seller")
        with pytest.raises(KeyunError) as refused:
            seller.lend_allotment(trip, "AAA", "DDD", seat_count=1)
        assert refused.value.reason == "PERMISSION_DENIED"


def test_a_restart_keeps_allotments(ray_session, tmp_path):
    first = ServerThread(tmp_path, shards=2)
    with logged_in(KeyunClient(first.target)) as admin:
        trip = schedule_trip(admin, "HH", dt.timedelta(days=2))
    with KeyunClient(first.target) as hand:
        hand.login("handheld1", DEMO_PASSWORD)
        lent = hand.lend_allotment(trip, "AAA", "CCC", seat_numbers=("1", "2"))
    first.stop()

    second = ServerThread(tmp_path, shards=2)
    try:
        with KeyunClient(second.target) as hand:
            hand.login("handheld1", DEMO_PASSWORD)
            assert hand.allotment(trip, lent.allotment_id).seat_numbers == ["1", "2"]
            with pytest.raises(KeyunError) as taken:
                hand.sell(trip, "BBB", "CCC", seat_numbers=("2",), passengers=(walk_in(resident_id(33, 5), "吴七"),))
            assert taken.value.reason == "SEAT_TAKEN"
            settled = hand.settle_allotment(trip, lent.allotment_id, [])
            assert settled.issued == 0 and sorted(settled.unused_seats) == ["1", "2"]
    finally:
        second.stop()


def _handheld_accounts(admin: KeyunClient, target: str, clock, scopes: dict[str, list[str]]) -> dict[str, KeyunClient]:
    """New device accounts with the handheld role, each scoped to its stations, logged in (each
    administrator logs in once: a TOTP code serves one login)."""
    from keyun.v1 import accounts_pb2, staff_pb2

    made = {}
    for login_name in scopes:
        request = staff_pb2.CreateAccountRequest(
            request_id=f"make-{login_name}", kind=accounts_pb2.ACCOUNT_KIND_DEVICE, login_name=login_name
        )
        made[login_name] = admin.call(admin.staff.CreateAccount, request)
    with logged_in(KeyunClient(target), "secadmin", clock=clock) as security:
        for login_name, stations in scopes.items():
            request = staff_pb2.GrantRolesRequest(
                request_id=f"grant-{login_name}",
                account_id=made[login_name].account.account_id,
                roles=["handheld_device"],
                stations=stations,
            )
            security.call(security.staff.GrantRoles, request)
    devices = {}
    for login_name, reply in made.items():
        devices[login_name] = KeyunClient(target)
        devices[login_name].login(login_name, reply.device_secret)
    return devices


def test_a_handhelds_sale_is_scoped_to_the_trips_that_stop_at_its_stations(keyun, sysadmin):
    trip = keyun.trip(dt.timedelta(days=2))  # AAA → BBB → CCC → DDD
    devices = _handheld_accounts(sysadmin, keyun.target, keyun.clock, {"hh.ccc": ["CCC"], "hh.far": ["ZZZ"]})
    on_route, elsewhere = devices["hh.ccc"], devices["hh.far"]
    try:
        # Scoped to CCC: it sells on the trip from any of its stops, BBB included, which a counter at CCC may not.
        passenger = (walk_in(resident_id(44, 31), "郑八"),)
        assert on_route.sell(trip, "BBB", "CCC", passengers=passenger).tickets[0].from_stop.code == "BBB"
        assert on_route.lend_allotment(trip, "BBB", "DDD", seat_count=1).allotment_id == f"{trip}-A1"
        # Scoped to a station the trip does not stop at: nothing on it.
        for call in (
            lambda: elsewhere.sell(trip, "CCC", "DDD", passengers=(walk_in(resident_id(45, 32), "钱九"),)),
            lambda: elsewhere.lend_allotment(trip, "AAA", "DDD", seat_count=1),
        ):
            with pytest.raises(KeyunError) as denied:
                call()
            assert denied.value.reason == "PERMISSION_DENIED"
    finally:
        on_route.close()
        elsewhere.close()


def test_a_settled_sale_to_a_document_that_holds_a_ticket_is_issued_and_reported(keyun, auditor):
    """The counter's one-ticket-per-document rule at settlement: the offline sale happened, so it is
    issued; the line names the ticket the document held, the inspectors' report and the audit log
    list the conflict."""
    trip = keyun.trip(dt.timedelta(days=2))
    document = resident_id(35, 61)
    with KeyunClient(keyun.target) as hand:
        hand.login("handheld1", DEMO_PASSWORD)
        (held,) = hand.sell(trip, "AAA", "CCC", passengers=(walk_in(document, "钱七"),)).tickets
        allotment = hand.lend_allotment(trip, "AAA", "DDD", seat_count=2)
        sold_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        lines = []
        for sale_id, seat, passenger in [
            ("conflicted-1", allotment.seat_numbers[0], walk_in(document, "钱七")),
            ("clean-1", allotment.seat_numbers[1], walk_in(resident_id(36, 62), "孙八")),
        ]:
            line = handheld_pb2.AllotmentSale(
                sale_id=sale_id, seat_number=seat, from_station="BBB", to_station="DDD", charged_fen=3000
            )
            line.sold_at.FromDatetime(sold_at)
            line.passenger.CopyFrom(passenger)
            lines.append(line)
        settled = hand.settle_allotment(trip, allotment.allotment_id, lines)
        conflicted, clean = settled.lines
        assert settled.issued == 2 and conflicted.ticket.ticket_id and clean.ticket.ticket_id
        assert conflicted.document_conflict == held.ticket_id
        assert "*" in conflicted.document_masked and document not in conflicted.document_masked
        assert not clean.document_conflict and not clean.document_masked
        again = hand.settle_allotment(trip, allotment.allotment_id, lines)  # a retry: the same answer
        assert again.issued == 0 and again.lines[0].document_conflict == held.ticket_id

    with KeyunClient(keyun.target) as inspector:
        inspector.login("inspector", DEMO_PASSWORD)
        (reported,) = inspector.conflicts(trip)
    assert reported.reason == "DOCUMENT_HAS_TICKET" and reported.ticket_id == conflicted.ticket.ticket_id
    assert reported.other_ticket_id == held.ticket_id and reported.gate_id == hand.account.account_id
    assert reported.scanned_at.ToDatetime(dt.UTC) == sold_at.replace(microsecond=sold_at.microsecond // 1000 * 1000)

    def audited():
        records = auditor.call(
            audit_pb2_grpc.AuditStub(auditor.channel).ListRecords,
            audit_pb2.ListRecordsRequest(action="keyun.v1.Handheld/SettleAllotment", target=trip),
        ).records
        return [r.detail for r in records if "DOCUMENT_HAS_TICKET" in r.detail] or None

    (detail, *_) = wait_until(audited, 30, "the settlement's conflict audited")
    assert held.ticket_id in detail and conflicted.ticket.ticket_id in detail and document not in detail


def test_the_device_refuses_a_second_offline_sale_to_one_document_on_an_overlapping_segment(
    keyun, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    trip = keyun.trip(dt.timedelta(days=2))
    device = Handheld(keyun.target, tmp_path / "handheld.sqlite", capsys)
    lent = device("lend", trip, "AAA", "DDD", "--seats", "3")
    assert lent["fare_rules"]["one_ticket_per_document"] == "overlapping"  # the station's rule, lent along
    document = resident_id(44, 71)
    first = device("sell", trip, "BBB", "DDD", "--offline", "--passenger", f"full,{document},郑九")
    refused = device("sell", trip, "CCC", "DDD", "--offline", "--passenger", f"full,{document},郑九", ok=False)
    assert refused["error"]["reason"] == "DOCUMENT_HAS_TICKET" and refused["error"]["sale_id"] == first["sale_id"]
    assert document not in json.dumps(refused)
    device("sell", trip, "AAA", "BBB", "--offline", "--passenger", f"full,{document},郑九")  # before it: fine
    # A free child is not sold offline: it takes no seat, and rides with an adult's online sale.
    child = device(
        "sell", trip, "AAA", "BBB", "--offline", "--passenger", f"free_child,{resident_id(3, 72)},郑小", ok=False
    )
    assert child["error"]["reason"] == "INVALID_FIELD"
    assert device("status")[0]["unsettled"] == 2
    (settled,) = device("settle")
    assert settled["issued"] == 2 and not any(line.get("document_conflict") for line in settled["lines"])
