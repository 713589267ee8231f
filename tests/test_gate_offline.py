"""Boarding without a network, end to end (issue 20, "Done when"): a real server and two gate
programs (`keyun gate run`) as processes; passengers board online; the whole server is killed
(kill -9); both lanes keep boarding from signed credentials and an identity card, refusing a
ticket refunded before the link dropped; the server restarts on the same data; the lanes upload
every offline scan exactly once, the ticket let through at both gates is reported as a conflict,
and the manifest is complete."""

from __future__ import annotations

import json
import os
import queue
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from keyun.gateway.credentials import totp_code
from keyun.gateway.demo_accounts import DEMO_PASSWORD, DEMO_TOTP_SECRET
from keyun.terminals.client import KeyunClient, walk_in
from keyun.v1 import audit_pb2, audit_pb2_grpc, devices_pb2

from .test_boarding_core import resident_id
from .test_cli import KEYUN, START_TIMEOUT_S
from .test_durability import ServerProcess, free_port
from .waiting import wait_until

CARD_E = resident_id("13010219900307001")  # boards offline by identity card
CARD_F = resident_id("13010219850511002")  # boards online by identity card
SYNC_S = 0.3


class GateProcess:
    """`keyun gate run` for one lane, answering scans on a local socket."""

    def __init__(self, gate_id: str, target: str, journal, user: str = "inspector"):
        self.journal = journal
        lane = ("--gate", gate_id, "--station", "SJZ", "--server", target, "--journal", str(journal))
        often = ("--sync-every", str(SYNC_S), "--heartbeat-every", "0.5")
        self.process = subprocess.Popen(
            [KEYUN, "gate", "run", *lane, "--listen", "127.0.0.1:0", *often, "--user", user],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "KEYUN_PASSWORD": DEMO_PASSWORD},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.process.stdout], daemon=True).start()
        while not (line := self.lines.get(timeout=START_TIMEOUT_S)).startswith("ready"):
            assert self.process.poll() is None, line
        host, _, port = line.split()[-1].rpartition(":")
        self.socket = socket.create_connection((host, int(port)), timeout=30)
        self.reader = self.socket.makefile("r", encoding="utf-8")

    def ask(self, line: str) -> dict:
        self.socket.sendall((line + "\n").encode("utf-8"))
        return json.loads(self.reader.readline())

    def status(self) -> dict:
        return self.ask("!status")

    def stop(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def boarding_trip(client: KeyunClient) -> tuple[str, str]:
    """A trip boarding at SJZ now (the demo's shuttle leaves it every hour, boarding opens an hour
    before), delayed when it would leave within the test.  Returns the trip id and the next stop."""
    now = time.time()
    for boarding in client.boarding_trips("SJZ").trips:
        if 0 < boarding.departs_at.seconds - now <= 60 * 60:
            trip_id, codes = boarding.trip.trip_id, [stop.code for stop in boarding.trip.stops]
            if boarding.departs_at.seconds - now < 20 * 60:
                client.delay(trip_id, 30)  # announced before the gates fetch their copy
            return trip_id, codes[codes.index("SJZ") + 1]
    raise AssertionError("no demo trip boarding at SJZ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="kills a process session via /proc")
def test_two_gates_keep_boarding_through_a_server_kill_and_upload_once(tmp_path):
    port, data_dir = free_port(), tmp_path / "data"
    target = f"127.0.0.1:{port}"
    server = ServerProcess(data_dir, port)
    gates: list[GateProcess] = []
    try:
        client = KeyunClient(target)
        client.login("master", DEMO_PASSWORD)
        trip_id, to_stop = boarding_trip(client)
        a, b, c, d = client.sell(trip_id, "SJZ", to_stop, seat_count=4).tickets
        e, f = client.sell(
            trip_id, "SJZ", to_stop, passengers=(walk_in(CARD_E, "吴小明"), walk_in(CARD_F, "李四"))
        ).tickets
        # G1 runs as the registered gate device `gate1` (it reports heartbeats); G2 as an inspector.
        admin = KeyunClient(target)
        admin.login("sysadmin", DEMO_PASSWORD, totp_code(DEMO_TOTP_SECRET, int(time.time() * 1000)))
        with KeyunClient(target) as device:
            gate_account = device.login("gate1", DEMO_PASSWORD).account.account_id
        registered = admin.register_device(devices_pb2.DEVICE_KIND_GATE, "SJZ", "G1", gate_account)
        g1 = GateProcess("G1", target, tmp_path / "g1", user="gate1")
        g2 = GateProcess("G2", target, tmp_path / "g2")
        gates += [g1, g2]
        for gate in gates:
            wait_until(lambda gate=gate: gate.status()["tickets_known"] >= 6, 60, f"{gate} has the boarding set")

        # Online: by credential, and by identity card (found by its digest, checked in by the server).
        on_a = g1.ask(a.credential)
        assert on_a["passed"] and on_a["online"] and on_a["seat"] == a.seat_number
        on_f = g2.ask(CARD_F)
        assert on_f["passed"] and on_f["online"] and on_f["ticket_id"] == f.ticket_id and on_f["holder_name"]

        # A refund before the link drops: both lanes learn of it from the revocation stream.
        client.refund(b.ticket_id)
        for gate in gates:
            wait_until(lambda gate=gate: gate.status()["revoked"] >= 1, 60, "the refund reached the lane")
        client.close()

        server.kill_everything()  # the whole server: gateway, Ray and owners, kill -9

        refused = g1.ask(b.credential)
        assert not refused["passed"] and refused["reason"] == "CREDENTIAL_REVOKED" and not refused["online"]
        at_g1, at_g2 = g1.ask(c.credential), g2.ask(c.credential)  # the same ticket at two gates
        assert at_g1["passed"] and at_g2["passed"] and not at_g1["online"] and not at_g2["online"]
        assert g2.ask(d.credential)["passed"]
        assert g2.ask(d.credential)["reason"] == "ALREADY_CHECKED_IN"  # used once locally
        by_card = g1.ask(CARD_E)
        assert by_card["passed"] and by_card["ticket_id"] == e.ticket_id and not by_card["online"]
        assert g1.ask(a.credential)["reason"] == "ALREADY_CHECKED_IN"  # boarded online before the kill
        assert g1.status()["queue_depth"] == 2 and g2.status()["queue_depth"] == 2
        offline_until_ms = int(time.time() * 1000)

        server = ServerProcess(data_dir, port)  # the same data: nothing acknowledged is lost
        for gate in gates:
            wait_until(lambda gate=gate: gate.status()["queue_depth"] == 0, 120, "the lane uploaded its scans")

        conflicts = g1.ask("!conflicts")["conflicts"] + g2.ask("!conflicts")["conflicts"]
        assert [x["ticket_id"] for x in conflicts] == [c.ticket_id]
        assert "ALREADY_CHECKED_IN" in conflicts[0]["result"]
        applied = uploads(g1) + uploads(g2)
        assert sorted(applied) == sorted([c.ticket_id, d.ticket_id, e.ticket_id])

        # A retried upload (the lane lost its answer) applies nothing twice: the scan's id is remembered.
        with sqlite3.connect(g2.journal / "gate.sqlite3") as db:
            db.execute("update scans set uploaded = 0 where ticket_id = ? and passed = 1", (d.ticket_id,))
        wait_until(lambda: g2.status()["queue_depth"] == 0, 60, "the retried upload")
        assert uploads(g2).count(d.ticket_id) == 1

        # The administrator's session outlived the kill; a new channel reaches the new server at once.
        tokens, admin = (admin.access_token, admin.refresh_token), KeyunClient(target)
        admin.access_token, admin.refresh_token = tokens
        reported = wait_until(
            lambda: (d := admin.device(registered.device_id)).last_sync.seconds and not d.queue_depth and d,
            60,
            "G1's heartbeat after the upload",
        )
        assert reported.last_sync.ToMilliseconds() > offline_until_ms
        with KeyunClient(target) as client:
            client.login("master", DEMO_PASSWORD)
            manifest = {t.ticket_id: t for t in client.manifest(trip_id).tickets}
        boarded = {a.ticket_id, c.ticket_id, d.ticket_id, e.ticket_id, f.ticket_id}
        assert {i for i, t in manifest.items() if t.checked_in_at.seconds} == boarded
        assert not manifest[b.ticket_id].checked_in_at.seconds
        # Offline check-ins carry the time of the scan at the lane, not of the upload.
        assert all(manifest[i].checked_in_at.ToMilliseconds() <= offline_until_ms for i in boarded)
        assert manifest[d.ticket_id].gate_id == "G2" and manifest[e.ticket_id].gate_id == "G1"
        # The inspectors' report on the server: the second lane's scan of C, beside the check-in that stands.
        listed_conflicts = client_conflicts(target, trip_id)
        assert len(listed_conflicts) == 1, listed_conflicts
        (reported_conflict,) = listed_conflicts
        assert reported_conflict.ticket_id == c.ticket_id and reported_conflict.reason == "ALREADY_CHECKED_IN"
        assert {reported_conflict.gate_id, reported_conflict.first_gate_id} == {"G1", "G2"}
        assert reported_conflict.first_gate_id == manifest[c.ticket_id].gate_id
        report = subprocess.run(
            [KEYUN, "gate", "conflicts", trip_id, "--server", target, "--user", "inspector"],
            capture_output=True,
            text=True,
            env={**os.environ, "KEYUN_PASSWORD": DEMO_PASSWORD},
        )
        assert c.ticket_id in report.stdout and "ALREADY_CHECKED_IN" in report.stdout, report.stderr
        # ...and in the audit log, as the upload's record.
        auditor = KeyunClient(target)
        auditor.login("auditor", DEMO_PASSWORD, totp_code(DEMO_TOTP_SECRET, int(time.time() * 1000)))
        records = audit_pb2_grpc.AuditStub(auditor.channel)
        wanted = audit_pb2.ListRecordsRequest(action="keyun.v1.Gate/CheckIn", target=c.ticket_id)
        wait_until(
            lambda: any(
                "conflict ALREADY_CHECKED_IN" in r.detail for r in auditor.call(records.ListRecords, wanted).records
            ),
            60,
            "the conflict in the audit log",
        )
        listed = (
            subprocess.run(
                [KEYUN, "gate", "conflicts", "--journal", str(tmp_path / "g1")], capture_output=True, text=True
            ).stdout
            + subprocess.run(
                [KEYUN, "gate", "conflicts", "--journal", str(tmp_path / "g2")], capture_output=True, text=True
            ).stdout
        )
        assert c.ticket_id in listed and "ALREADY_CHECKED_IN" in listed
    finally:
        for gate in gates:
            gate.stop()
        server.stop()


def client_conflicts(target: str, trip_id: str) -> list:
    with KeyunClient(target) as inspector:
        inspector.login("inspector", DEMO_PASSWORD)
        return inspector.conflicts(trip_id)


def uploads(gate: GateProcess) -> list[str]:
    with sqlite3.connect(gate.journal / "gate.sqlite3") as db:
        rows = db.execute("select ticket_id from scans where online = 0 and upload_result = 'applied'").fetchall()
    return [ticket_id for (ticket_id,) in rows]
