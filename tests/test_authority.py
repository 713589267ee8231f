"""Uploads to the transport authority (docs/authority.md), with a real server (its report projector
uploads) and a real `keyun sandbox-authority` process: every sale, refund, change and check-in
arrives exactly once, through failures, a timeout and a server restart; the daily reconciliation
matches (and a mismatch is re-sent); a forged request is refused; a stuck upload shows."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import time
import urllib.error
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from keyun.app.cli import main as keyun_main
from keyun.common.authority_wire import BATCH_PATH, AuthorityConfig, canonical, read_config, signed_headers
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import common_pb2

from .authority_sandbox import AuthoritySandbox, start_authority_sandbox, stop_authority_sandbox
from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .waiting import wait_until

BOARDING = dt.timedelta(minutes=30)  # inside the check-in window
NUMBERS = itertools.count(1)


def today() -> str:
    return dt.datetime.now(CHINA).date().isoformat()


def start(data_dir, sandbox: AuthoritySandbox) -> tuple[ServerThread, KeyunClient]:
    server = ServerThread(data_dir, shards=1, reports=True, authority=("", sandbox.key_file))
    return server, logged_in(KeyunClient(server.target), clock=server.clock)


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    """A server uploading to a sandbox, and the tickets sold on it so far (a test adds to them)."""
    sandbox = start_authority_sandbox(tmp_path_factory.mktemp("sandbox-authority"))
    data_dir = tmp_path_factory.mktemp("authority-data")
    server, client = start(data_dir, sandbox)
    state = {"server": server, "client": client, "data_dir": data_dir, "sandbox": sandbox, "tickets": set()}
    yield state
    state["client"].close()
    state["server"].stop()
    assert stop_authority_sandbox(sandbox) == 0


def expected_records(client: KeyunClient, ticket_ids: set[str]) -> dict[str, int]:
    """record id -> amount in fen, of every movement of these tickets, as GetTicket shows them."""
    records = {}
    for ticket_id in ticket_ids:
        ticket = client.ticket(ticket_id)
        records[f"sale:{ticket_id}"] = ticket.price_fen
        if ticket.status == common_pb2.TICKET_STATUS_REFUNDED:
            records[f"refund:{ticket_id}"] = ticket.refunded_fen
        if ticket.status == common_pb2.TICKET_STATUS_CHANGED:
            records[f"change:{ticket_id}"] = ticket.price_fen
        if ticket.status == common_pb2.TICKET_STATUS_VOID:
            records[f"void:{ticket_id}"] = ticket.price_fen
        if ticket.checked_in_at.seconds:
            records[f"checkin:{ticket_id}"] = 0
    return records


def arrived_exactly_once(station: dict, timeout_s: float = 60) -> dict:
    """Wait until the platform holds every movement of the station's tickets, and nothing waits;
    check that each counts once, with its amount.  Returns what the platform received."""
    client, sandbox = station["client"], station["sandbox"]
    expected = expected_records(client, station["tickets"])

    def delivered() -> dict | None:
        received = sandbox.received()
        ids = {r["record_id"] for r in received["records"]}
        return received if set(expected) <= ids and client.upload_status().waiting_batches == 0 else None

    try:
        received = wait_until(delivered, timeout_s, "every movement reached the platform")
    except AssertionError:
        raise AssertionError((client.upload_status(), sorted(set(expected) - sandbox.record_ids()))) from None
    transactions = [r for r in received["records"] if r["type"] in ("sale", "refund", "change", "void", "checkin")]
    assert len(transactions) == len({r["record_id"] for r in transactions}) == len(expected)
    assert {r["record_id"]: r["amount_fen"] for r in transactions} == expected
    # The platform counted each batch once: new records over all batches are the records it holds.
    assert sum(b["new_records"] for b in received["batches"]) == len(received["records"])
    return received


def sell_some(station: dict, seats: int = 3) -> list[str]:
    client = station["client"]
    trip = schedule_trip(client, f"AU{next(NUMBERS)}", BOARDING)
    sold = [t.ticket_id for t in client.sell(trip, "AAA", "DDD", seat_count=seats).tickets]
    station["tickets"] |= set(sold)
    return sold


def test_sales_refunds_changes_and_check_ins_arrive_exactly_once(station):
    client = station["client"]
    first = schedule_trip(client, f"AU{next(NUMBERS)}", BOARDING)
    later = schedule_trip(client, f"AU{next(NUMBERS)}", BOARDING + dt.timedelta(hours=1))
    sale = client.sell(first, "AAA", "DDD", seat_numbers=("1", "2", "3", "4"))
    client.refund(sale.tickets[0].ticket_id)
    changed = client.change_ticket(sale.tickets[1].ticket_id, later)
    client.check_in(sale.tickets[2].ticket_id, "G1")
    client.depart(first)  # the coach leaves: a departure record (发车)
    station["tickets"] |= {t.ticket_id for t in sale.tickets} | {changed.new_ticket.ticket_id}
    wait_until(lambda: f"departure:{first}" in station["sandbox"].record_ids(), 60, "the departure was sent")
    received = arrived_exactly_once(station)
    kinds = {r["type"] for r in received["records"]}
    # Master data and trips went too, before the movements that refer to them.
    assert {"operator", "route", "vehicle", "schedule", "station", "trip", "departure"} <= kinds
    assert {"sale", "refund", "change", "checkin"} <= kinds
    categories = [b["category"] for b in received["batches"]]
    assert categories.index("master") < categories.index("transactions")
    # Pseudonymous passengers only: no masked name or document reaches the platform.
    text = json.dumps(received["records"], ensure_ascii=False)
    assert "*" not in text and "passenger:" not in text
    status = client.upload_status()
    assert status.connected and status.acked_batches >= 3 and status.waiting_batches == 0
    assert received["pings"] >= 1
    assert "Transport authority sandbox" in station["sandbox"].page()


def test_failures_and_a_timeout_still_deliver_exactly_once_and_a_stuck_upload_shows(station):
    client, sandbox, server = station["client"], station["sandbox"], station["server"].server
    sandbox.control("/sandbox/down", {"down": True})
    try:
        sell_some(station)
        stuck = wait_until(
            lambda: (s := client.upload_status()).waiting_batches and s.waiting[0].attempts >= 2 and s,
            60,
            "the upload shows as stuck",
        )
        assert "503" in stuck.waiting[0].last_error and "503" in stuck.last_error
        port = server.metrics.serve("127.0.0.1", 0)
        wait_until(lambda: oldest_waiting(port) > 0, 30, "the gauge shows the oldest waiting batch")
    finally:
        sandbox.control("/sandbox/down", {"down": False})
    # The next upload is received but answered after the uploader's timeout: it is sent again
    # with the same id, and the platform acknowledges it as a duplicate without counting it twice.
    sandbox.control("/sandbox/delay-next", {"ms": 8000})
    sandbox.control("/sandbox/fail", {"count": 2})
    sell_some(station)
    received = arrived_exactly_once(station, timeout_s=90)
    assert any(b["repeats"] >= 1 for b in received["batches"]), "the timed-out batch was sent again"
    assert received["failures"]
    assert oldest_waiting(server.metrics.serve("127.0.0.1", 0)) == 0


def oldest_waiting(port: int) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    families = {family.name: family.samples for family in text_string_to_metric_families(text)}
    return families["keyun_authority_upload_oldest_waiting_seconds"][0].value


def test_a_server_restart_loses_and_doubles_nothing_waiting(station):
    client, sandbox = station["client"], station["sandbox"]
    sandbox.control("/sandbox/down", {"down": True})
    try:
        sold = sell_some(station, seats=4)
        client.refund(sold[0])
        wait_until(lambda: client.upload_status().waiting_records >= 5, 60, "the movements wait for the platform")
        batches_before = len(sandbox.received()["batches"])
        client.close()
        station["server"].stop()
        # A rebuild of the reports, offline, leaves the outbox: what was sent is not sent again.
        rebuilt = ["report", "rebuild", "--data-dir", str(station["data_dir"])]
        wait_until(lambda: keyun_main(rebuilt) == 0, 30, "the rebuild ran")
    finally:
        sandbox.control("/sandbox/down", {"down": False})
    station["server"], station["client"] = start(station["data_dir"], sandbox)
    received = arrived_exactly_once(station, timeout_s=90)
    after = received["batches"][batches_before:]
    assert after and all(b["new_records"] == b["records"] and not b["repeats"] for b in after), after


def test_the_daily_reconciliation_matches_and_a_mismatch_is_sent_again(station):
    client, sandbox = station["client"], station["sandbox"]
    sell_some(station, seats=2)
    arrived_exactly_once(station)
    expected = expected_records(client, station["tickets"])
    answer = client.reconcile_uploads(today())
    assert answer.reachable and answer.match, answer
    assert answer.station.counts["sale"] == sum(1 for r in expected if r.startswith("sale:"))
    assert answer.station.amounts_fen["refund"] == sum(v for r, v in expected.items() if r.startswith("refund:"))
    assert dict(answer.platform.counts) == dict(answer.station.counts)
    # The day's file arrived with a SHA-256 the platform checked.
    files = [f for f in sandbox.received()["files"] if f["date"] == today()]
    assert files and files[-1]["records"] == len(expected)
    # The platform loses a sale: the reconciliation says so, and a resend of the day repairs it.
    lost = next(r for r in expected if r.startswith("sale:"))
    assert sandbox.control("/sandbox/forget", {"record_ids": [lost]})["forgotten"] == [lost]
    answer = client.reconcile_uploads(today())
    assert answer.reachable and not answer.match and "counts.sale" in answer.differences
    latest = next(r for r in client.upload_status().reconciliations if r.date == today())
    assert not latest.match and "counts.sale" in latest.differences
    assert client.resend_uploads(today()).queued_batch_ids
    wait_until(lambda: client.upload_status().waiting_batches == 0, 60, "the day was sent again")
    answer = client.reconcile_uploads(today())
    assert answer.reachable and answer.match, answer
    arrived_exactly_once(station)


def test_a_forged_or_replayed_request_is_refused(station):
    sandbox = station["sandbox"]
    real = read_config(sandbox.key_file)
    before = sandbox.record_ids()
    body = canonical({"batch_id": "forged-1", "category": "transactions", "records": [{"record_id": "sale:FORGED"}]})
    forger = AuthorityConfig(real.base_url, real.station_id, hashlib.sha256(b"not the key").digest())
    for config in (forger,):
        headers = signed_headers(config, "POST", BATCH_PATH, body, int(time.time() * 1000))
        assert _post(sandbox, body, headers) == (401, "BAD_SIGNATURE")
    # A request signed with the real key goes through once; the same request again is a replay.
    body = canonical({"batch_id": "signed-1", "category": "transactions", "records": []})
    headers = signed_headers(real, "POST", BATCH_PATH, body, int(time.time() * 1000))
    assert _post(sandbox, body, headers)[0] == 200
    assert _post(sandbox, body, headers) == (401, "REPLAYED")
    stale = signed_headers(real, "POST", BATCH_PATH, body, int(time.time() * 1000) - 3_600_000)
    assert _post(sandbox, body, stale) == (401, "STALE_REQUEST")
    assert sandbox.record_ids() == before
    assert {r["why"] for r in sandbox.received()["refused"]} >= {"BAD_SIGNATURE", "REPLAYED", "STALE_REQUEST"}


def _post(sandbox: AuthoritySandbox, body: bytes, headers: dict) -> tuple[int, str]:
    request = urllib.request.Request(sandbox.base_url + BATCH_PATH, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]


def test_keyun_report_upload_and_who_may_ask(station, capsys, monkeypatch):
    from keyun.gateway.demo_accounts import DEMO_PASSENGER_PHONE, DEMO_PASSWORD

    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
    server = ["--server", station["server"].target, "--user", "finance"]
    assert keyun_main(["report", "upload", "status", *server]) == 0
    out = capsys.readouterr().out
    assert "connected" in out and "acknowledged:" in out
    assert keyun_main(["report", "upload", "reconcile", "--date", today(), *server]) == 0
    assert "match" in capsys.readouterr().out
    assert keyun_main(["report", "upload", "resend", *server]) == 0
    with KeyunClient(station["server"].target) as passenger:
        passenger.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
        with pytest.raises(KeyunError) as refused:
            passenger.upload_status()
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(KeyunError) as refused:
        station["client"].reconcile_uploads("yesterday")
    assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELD")
    # The shared key is in no log: not the server's, not the projector's process's.
    secret = read_config(station["sandbox"].key_file).secret.hex()
    assert secret not in station["server"].log_text()


def test_keyun_serve_refuses_a_bad_authority_setting_before_starting(tmp_path, capsys):
    data = ["--data-dir", str(tmp_path / "data"), "--port", "0"]
    assert keyun_main(["serve", *data, "--authority-url", "http://127.0.0.1:1/"]) == 2
    assert "--authority-key-file" in capsys.readouterr().err
    key_file = tmp_path / "authority.json"
    key_file.write_text('{"station_id": "S1", "secret": "00"}')
    assert (
        keyun_main(["serve", *data, "--authority-url", "http://127.0.0.1:1/", "--authority-key-file", str(key_file)])
        == 2
    )
    assert "shorter than 16 bytes" in capsys.readouterr().err
    key_file.write_text(json.dumps({"station_id": "S1", "secret": "ab" * 32}))
    assert (
        keyun_main(
            [
                "serve",
                *data,
                "--no-reports",
                "--authority-url",
                "http://127.0.0.1:1/",
                "--authority-key-file",
                str(key_file),
            ]
        )
        == 2
    )
    assert "--no-reports" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_https_to_the_platform_trusts_the_named_ca_and_nothing_else(tmp_path):
    """The sandbox over https with a private CA: the uploader (on a real, empty reporting store)
    passes its connectivity test with the CA named in the key file, and fails it without."""
    import threading

    from keyun.actors.authority_uploader import AuthorityUploader
    from keyun.gateway.tls import init_station_certs
    from keyun.persistence.reports import ReportStore

    certs = init_station_certs(tmp_path / "certs", "platform", ["127.0.0.1"])
    tls = ["--tls-cert", str(certs.server_cert), "--tls-key", str(certs.server_key), "--tls-ca", str(certs.ca_cert)]
    sandbox = start_authority_sandbox(tmp_path / "sandbox", *tls)
    store = ReportStore(tmp_path / "data", None)
    lock = threading.Lock()  # the store's one connection: one user at a time, as in the projector
    uploaders = []
    try:
        trusted = read_config(sandbox.key_file)
        assert trusted.base_url.startswith("https://") and trusted.ca_file == str(certs.ca_cert.resolve())
        uploaders.append(AuthorityUploader(store, lock, "", str(sandbox.key_file)))
        wait_until(lambda: uploaders[0].connected, 30, "the connectivity test passed over https")
        untrusting = tmp_path / "no-ca.json"
        document = json.loads(sandbox.key_file.read_text()) | {"ca_file": ""}
        untrusting.write_text(json.dumps(document))
        uploaders.append(AuthorityUploader(store, lock, "", str(untrusting)))
        wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in uploaders[1].last_error, 30, "an untrusted certificate")
        assert not uploaders[1].connected
    finally:
        for uploader in uploaders:
            uploader.stop()
            uploader.thread.join(timeout=30)
        store.close()
        assert stop_authority_sandbox(sandbox) == 0
