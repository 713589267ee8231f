"""Signed boarding credentials through gRPC against a real server: what a ticket carries, what a
gate verifies offline with the station's public keys (keyun.common.eticket), refusals with stable
reasons, key rotation, revocations streamed from a position, and all of it after a restart."""

from __future__ import annotations

import base64
import datetime as dt

import grpc
import msgspec
import pytest

from keyun.app.cli import main as keyun_main
from keyun.common import eticket
from keyun.common.clock import ManualClock
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.gateway.etickets import KEY_RECHECK_S
from keyun.persistence.credential_keys import CredentialKeys
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import accounts_pb2, common_pb2, dispatch_pb2, orders_pb2, sales_pb2

from .conftest import ServerThread, logged_in, schedule_trip

DOCUMENT = "11010519491231002X"


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    key_dir = tmp_path_factory.mktemp("keys")
    server = ServerThread(tmp_path_factory.mktemp("etickets"), shards=2, clock=ManualClock(), key_dir=key_dir)
    master = logged_in(KeyunClient(server.target, attempts=1), clock=server.clock)
    gate = logged_in(KeyunClient(server.target, attempts=1), "gate1", clock=server.clock)
    yield server, master, gate, key_dir
    gate.close()
    master.close()
    server.stop()


def public_keys(client: KeyunClient) -> dict:
    return {key.key_id: eticket.public_key_from_raw(key.public_key) for key in client.credential_keys().keys}


def now_s(server: ServerThread) -> int:
    return server.clock.now_ms() // 1000


def refusal(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def tampered(text: str, at: int) -> str:
    """The credential with one byte of its payload changed."""
    body = text[len(eticket.PREFIX) :]
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[at] ^= 0x01
    return eticket.PREFIX + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_a_sold_ticket_carries_a_credential_a_gate_verifies_offline(station):
    server, master, gate, _ = station
    trip_id = schedule_trip(master, "EC1", dt.timedelta(minutes=40))
    sold = master.sell(trip_id, "AAA", "CCC", seat_numbers=("3",)).tickets[0]
    assert sold.credential.startswith("KY1") and len(sold.credential) < 400  # fits a small QR code
    assert master.ticket(sold.ticket_id).credential == sold.credential  # the same signature (Ed25519 is deterministic)

    keys = gate.credential_keys()
    assert keys.format_version == 1 and len(keys.document_digest_key) == 32 and len(keys.keys) == 1
    boarding = eticket.verify(sold.credential, public_keys(gate), now_s(server))
    assert (boarding.ticket_id, boarding.trip_id, boarding.seat) == (sold.ticket_id, trip_id, "3")
    assert (boarding.from_stop, boarding.to_stop, boarding.ticket_type) == ("AAA", "CCC", "full")
    assert boarding.key_id == keys.current_key_id
    day = trip_id.rpartition("-")[2]
    assert boarding.travel_date == f"{day[:4]}-{day[4:6]}-{day[6:]}"
    assert boarding.valid_from_s < now_s(server) < boarding.valid_until_s
    assert boarding.holder_name == "" and boarding.document_digest == b""  # sold anonymously

    checked = gate.check_in("", "G1", credential=sold.credential)  # online, by the scanned text
    assert checked.ticket_id == sold.ticket_id and checked.status == common_pb2.TICKET_STATUS_CHECKED_IN
    assert checked.credential == sold.credential  # a checked-in ticket may still show its pass


def test_a_named_ticket_carries_a_masked_name_and_a_document_digest_only(station):
    server, master, gate, _ = station
    pid = master.call(
        master.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="ec-add",
            name="吴乘客",
            document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
            document_number=DOCUMENT,
        ),
    ).passenger.passenger_id
    trip_id = schedule_trip(master, "EC2", dt.timedelta(minutes=40))
    hold = master.hold(trip_id, "AAA", "DDD", seat_count=1, passenger_ids=(pid,))
    ticket = master.confirm(hold.hold_id).tickets[0]
    boarding = eticket.verify(ticket.credential, public_keys(gate), now_s(server))
    digest_key = gate.credential_keys().document_digest_key
    assert boarding.holder_name == "吴**"
    assert boarding.document_digest == eticket.document_digest(digest_key, "RESIDENT_ID", DOCUMENT.lower())
    raw = base64.urlsafe_b64decode(ticket.credential[3:] + "=" * (-len(ticket.credential[3:]) % 4))
    assert DOCUMENT.encode() not in raw and "吴乘客".encode() not in raw  # nothing readable

    # The boarding set a gate keeps: the same digest, found from a scanned card without the number.
    boarding_set = gate.boarding_set(trip_id)
    (entry,) = boarding_set.entries
    assert (entry.ticket_id, entry.holder_name, entry.seat_number) == (ticket.ticket_id, "吴**", ticket.seat_number)
    assert entry.document_digest == eticket.document_digest(digest_key, "RESIDENT_ID", DOCUMENT)
    assert entry.status == common_pb2.TICKET_STATUS_ISSUED and boarding_set.revocation_position == 0


def test_an_order_shows_each_ticket_with_its_credential(station):
    server, master, gate, _ = station
    trip_id = schedule_trip(master, "EC10", dt.timedelta(minutes=40))
    hold = master.hold(trip_id, "AAA", "CCC", seat_count=2)
    created = master.call(
        master.orders.CreateOrder,
        orders_pb2.CreateOrderRequest(request_id="ec-o1", hold_id=hold.hold_id, method=orders_pb2.PAY_METHOD_CASH),
    ).order
    paid = master.call(
        master.orders.PayAtCounter,
        orders_pb2.PayAtCounterRequest(
            request_id="ec-p1", order_id=created.order_id, method=orders_pb2.PAY_METHOD_CASH
        ),
    ).order
    keys = public_keys(gate)
    assert [eticket.verify(t.credential, keys, now_s(server)).ticket_id for t in paid.tickets] == [
        t.ticket_id for t in paid.tickets
    ]
    shown = master.call(master.orders.GetOrder, orders_pb2.GetOrderRequest(order_id=paid.order_id)).order
    assert [t.credential for t in shown.tickets] == [t.credential for t in paid.tickets]


def test_tampered_expired_and_foreign_credentials_are_refused(station, tmp_path):
    server, master, gate, _ = station
    trip_id = schedule_trip(master, "EC3", dt.timedelta(minutes=40))
    sold = master.sell(trip_id, "AAA", "BBB", seat_count=1).tickets[0]
    keys = public_keys(gate)

    for at in (5, 40, 90):  # key id, ticket id or seat, and the times: one byte anywhere
        bad = tampered(sold.credential, at)
        with pytest.raises(eticket.CredentialRefused) as caught:
            eticket.verify(bad, keys, now_s(server))
        assert caught.value.reason.name in ("CREDENTIAL_BAD_SIGNATURE", "CREDENTIAL_UNKNOWN_KEY")
    bad = tampered(sold.credential, len(sold.credential) * 3 // 4 - 10)  # inside the signature
    with pytest.raises(eticket.CredentialRefused) as caught:
        eticket.verify(bad, keys, now_s(server))
    assert caught.value.reason.name == "CREDENTIAL_BAD_SIGNATURE"
    error = refusal(lambda: gate.check_in("", "G1", credential=bad))
    assert error.code == grpc.StatusCode.PERMISSION_DENIED and error.reason == "CREDENTIAL_BAD_SIGNATURE"
    assert gate.boarding_set(trip_id).entries[0].status == common_pb2.TICKET_STATUS_ISSUED  # changed nothing

    boarding = eticket.verify(sold.credential, keys, now_s(server))
    with pytest.raises(eticket.CredentialRefused) as caught:
        eticket.verify(sold.credential, keys, boarding.valid_until_s + 1)
    assert caught.value.reason.name == "CREDENTIAL_EXPIRED"
    with pytest.raises(eticket.CredentialRefused) as caught:
        eticket.verify(sold.credential, keys, boarding.valid_from_s - 1)
    assert caught.value.reason.name == "CREDENTIAL_NOT_YET_VALID"

    # Another station's key signs the very same pass: refused for its key, online and offline.
    foreign = CredentialKeys.open_or_create(tmp_path)
    forged = eticket.sign(msgspec.structs.replace(boarding, key_id=foreign.current_key_id), foreign.signing_key)
    with pytest.raises(eticket.CredentialRefused) as caught:
        eticket.verify(forged, keys, now_s(server))
    assert caught.value.reason.name == "CREDENTIAL_UNKNOWN_KEY"
    error = refusal(lambda: gate.check_in("", "G1", credential=forged))
    assert error.reason == "CREDENTIAL_UNKNOWN_KEY"

    for junk in ("", "KY1", "KY1!!!", "hello", "KY1" + "A" * 2000):
        with pytest.raises(eticket.CredentialRefused):
            eticket.verify(junk, keys, now_s(server))
    assert refusal(lambda: gate.check_in("", "G1", credential="KY1abc")).reason == "CREDENTIAL_MALFORMED"
    error = refusal(lambda: gate.check_in(sold.ticket_id, "G1", credential=sold.credential))
    assert error.reason == "INVALID_FIELD"


def test_after_a_key_rotation_old_credentials_still_board(station):
    server, master, gate, key_dir = station
    trip_id = schedule_trip(master, "EC4", dt.timedelta(minutes=40))
    old, other = master.sell(trip_id, "AAA", "DDD", seat_count=2).tickets
    old_key = gate.credential_keys().current_key_id

    assert keyun_main(["keys", "rotate-credential", "--key-dir", str(key_dir)]) == 0
    rotated = CredentialKeys.open(key_dir).current_key_id

    # The server notices by itself within KEY_RECHECK_S, with no gate asking for the keys.
    server.clock.advance_s(KEY_RECHECK_S + 1)
    fresh = master.ticket(other.ticket_id).credential
    assert eticket.parse(fresh)[0].key_id == rotated != old_key

    keys = gate.credential_keys()
    assert keys.current_key_id != old_key and {k.key_id for k in keys.keys} == {old_key, keys.current_key_id}
    retired = next(k for k in keys.keys if k.key_id == old_key)
    assert retired.HasField("retired_at") and not next(k for k in keys.keys if k.key_id != old_key).HasField(
        "retired_at"
    )
    assert eticket.verify(fresh, public_keys(gate), now_s(server)).key_id == keys.current_key_id
    assert eticket.verify(old.credential, public_keys(gate), now_s(server)).key_id == old_key
    assert gate.check_in("", "G2", credential=old.credential).status == common_pb2.TICKET_STATUS_CHECKED_IN
    assert gate.check_in("", "G2", credential=fresh).status == common_pb2.TICKET_STATUS_CHECKED_IN


def test_revocations_stream_from_a_position_and_resume_without_repeats_or_gaps(station):
    server, master, gate, _ = station
    trip_a = schedule_trip(master, "EC5", dt.timedelta(minutes=50))
    trip_b = schedule_trip(master, "EC6", dt.timedelta(minutes=50))
    a = master.sell(trip_a, "AAA", "DDD", seat_count=4).tickets
    b = master.sell(trip_b, "AAA", "DDD", seat_count=2).tickets
    master.refund(a[0].ticket_id)  # before the gate ever watches

    watch = gate.watch_revocations([trip_a, trip_b], timeout_s=30)
    first = next(watch)
    assert first.caught_up and [(r.trip_id, r.ticket_id, r.reason) for r in first.revocations] == [
        (trip_a, a[0].ticket_id, "refunded")
    ]
    other_lane = gate.watch_revocations([trip_a], first.position, timeout_s=30)  # a second gate, one trip
    assert list(next(other_lane).revocations) == []
    assert master.refund(a[1].ticket_id).credential == ""  # a refunded ticket has no credential
    live = next(watch)
    assert [(r.ticket_id, r.reason) for r in live.revocations] == [(a[1].ticket_id, "refunded")]
    assert [r.ticket_id for r in next(other_lane).revocations] == [a[1].ticket_id]  # both lanes hear it
    position = live.position
    watch.close()
    other_lane.close()

    # While the gate is away: another refund and a cancelled trip.
    master.refund(a[2].ticket_id)
    master.call(master.dispatch.CancelTrip, dispatch_pb2.CancelTripRequest(request_id="ec-cancel", trip_id=trip_b))
    assert master.ticket(b[0].ticket_id).credential == ""  # its trip was cancelled

    resumed = next(gate.watch_revocations([trip_a, trip_b], position, timeout_s=30))
    assert sorted((r.trip_id, r.ticket_id, r.reason) for r in resumed.revocations) == sorted(
        [(trip_a, a[2].ticket_id, "refunded"), (trip_b, "", "trip_cancelled")]
    )
    again = next(gate.watch_revocations([trip_a, trip_b], resumed.position, timeout_s=30))
    assert list(again.revocations) == [] and again.position == resumed.position  # nothing twice

    assert gate.boarding_set(trip_a).revocation_position == 3
    error = refusal(lambda: next(gate.watch_revocations([trip_a], "bogus", timeout_s=10)))
    assert error.reason == "INVALID_FIELD"
    assert refusal(lambda: next(gate.watch_revocations([], timeout_s=10))).reason == "INVALID_FIELD"
    assert refusal(lambda: next(gate.watch_revocations(["NOPE-20200101"], timeout_s=10))).reason in (
        "UNKNOWN_TRIP",
        "TRIP_ARCHIVED",
    )


def test_a_rebooking_revokes_the_old_credential_and_signs_the_new_ticket(station):
    server, master, gate, _ = station
    old_trip = schedule_trip(master, "EC11", dt.timedelta(minutes=50))
    new_trip = schedule_trip(master, "EC12", dt.timedelta(hours=2))
    ticket = master.sell(old_trip, "AAA", "CCC", seat_count=1).tickets[0]
    moved = master.call(
        master.sales.ChangeTicket,
        sales_pb2.ChangeTicketRequest(request_id="ec-move", ticket_id=ticket.ticket_id, new_trip_id=new_trip),
    )
    assert moved.old_ticket.credential == ""
    departs_s = eticket.parse(moved.new_ticket.credential)[0].departs_at_s
    with pytest.raises(eticket.CredentialRefused, match="not valid yet"):  # two hours ahead: boarding opens later
        eticket.verify(moved.new_ticket.credential, public_keys(gate), now_s(server))
    boarding = eticket.verify(moved.new_ticket.credential, public_keys(gate), departs_s)
    assert (boarding.ticket_id, boarding.trip_id) == (moved.new_ticket.ticket_id, new_trip)
    revoked = next(gate.watch_revocations([old_trip, new_trip], timeout_s=30))
    assert [(r.trip_id, r.ticket_id, r.reason) for r in revoked.revocations] == [
        (old_trip, ticket.ticket_id, "changed")
    ]


def test_a_gate_finds_the_trips_it_boards_and_their_boarding_sets(station):
    server, master, gate, _ = station
    soon = schedule_trip(master, "EC8", dt.timedelta(minutes=70))
    later = schedule_trip(master, "EC9", dt.timedelta(hours=5))
    listed = gate.boarding_trips("AAA")  # from now, for three hours
    ids = [t.trip.trip_id for t in listed.trips]
    assert soon in ids and later not in ids
    departs = [t.departs_at.ToMilliseconds() for t in listed.trips]
    assert departs == sorted(departs) and all(server.clock.now_ms() <= d for d in departs)
    assert soon not in [t.trip.trip_id for t in gate.boarding_trips("DDD").trips]  # its last stop boards nobody
    wide = gate.boarding_trips("BBB", server.clock.now_ms(), server.clock.now_ms() + 6 * 3_600_000)
    assert {soon, later} <= {t.trip.trip_id for t in wide.trips}
    now = server.clock.now_ms()
    assert refusal(lambda: gate.boarding_trips("AAA", now, now + 3 * 86_400_000)).reason == "INVALID_FIELD"
    assert refusal(lambda: gate.boarding_trips("aa a")).reason == "INVALID_FIELD"


def test_a_counter_clerk_prints_the_credential_as_a_qr_code(station, tmp_path, monkeypatch, capsys):
    _, master, _, _ = station
    trip_id = schedule_trip(master, "EC7", dt.timedelta(minutes=40))
    sold = master.sell(trip_id, "AAA", "BBB", seat_count=1).tickets[0]
    monkeypatch.setenv("KEYUN_USER", "seller")
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    server = station[0]
    for name in ("ticket.svg", "ticket.png"):
        assert (
            keyun_main(["counter", "ticket", sold.ticket_id, "--qr", str(tmp_path / name), "--server", server.target])
            == 0
        )
    assert (tmp_path / "ticket.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "ticket.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert "written to" in capsys.readouterr().out
    assert keyun_main(["counter", "ticket", sold.ticket_id, "--qr", "-", "--server", server.target]) == 0
    assert "▄" in capsys.readouterr().out  # the code drawn with block characters, under the ticket
    with pytest.raises(SystemExit, match="png or .svg"):
        keyun_main(["counter", "ticket", sold.ticket_id, "--qr", str(tmp_path / "t.gif"), "--server", server.target])

    # A gate's check, as the README shows it: the keys fetched once, the decision local.
    monkeypatch.setenv("KEYUN_USER", "inspector")
    capsys.readouterr()
    assert keyun_main(["gate", "verify", sold.credential, "--server", server.target]) == 0
    assert capsys.readouterr().out.startswith("PASS")
    with pytest.raises(SystemExit, match="STOP CREDENTIAL_BAD_SIGNATURE"):
        keyun_main(["gate", "verify", tampered(sold.credential, 60), "--server", server.target])


def test_revocations_and_credentials_survive_a_restart(ray_session, tmp_path):
    data_dir, key_dir = tmp_path / "data", tmp_path / "keys"
    first = ServerThread(data_dir, shards=2, clock=ManualClock(), key_dir=key_dir)
    with logged_in(KeyunClient(first.target, attempts=1), clock=first.clock) as client:
        trip_id = schedule_trip(client, "ECR", dt.timedelta(minutes=40))
        kept, refunded = client.sell(trip_id, "AAA", "DDD", seat_count=2).tickets
        client.refund(refunded.ticket_id)
    first.stop()

    second = ServerThread(data_dir, shards=2, clock=ManualClock(), key_dir=key_dir)
    try:
        gate = logged_in(KeyunClient(second.target, attempts=1), "gate1", clock=second.clock)
        (after,) = [next(gate.watch_revocations([trip_id], timeout_s=30))]
        assert [(r.ticket_id, r.reason) for r in after.revocations] == [(refunded.ticket_id, "refunded")]
        boarding = eticket.verify(kept.credential, public_keys(gate), now_s(second))
        # Past its validity window the same credential is refused online too.
        second.clock.advance((boarding.valid_until_s + 60) * 1000 - second.clock.now_ms())
        gate.close()
        gate = logged_in(KeyunClient(second.target, attempts=1), "gate1", clock=second.clock)  # idle sessions end
        error = refusal(lambda: gate.check_in("", "G1", credential=kept.credential))
        assert error.reason == "CREDENTIAL_EXPIRED" and error.code == grpc.StatusCode.FAILED_PRECONDITION
        gate.close()
    finally:
        second.stop()
