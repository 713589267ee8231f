"""`keyun handheld board`: the gate's lane program on a handheld, logged in as the device account
handheld1 (role handheld_device, scoped to its stations). It boards online, keeps boarding from the
signed credential with the server unreachable (a TCP relay cut), and uploads the scan exactly once
when the link is back."""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import socket
import sqlite3
import subprocess
import threading
import time

from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient

from .test_cli import KEYUN, START_TIMEOUT_S
from .test_counter_app import Relay
from .waiting import wait_until


class HandheldLane:
    """`keyun handheld board` as handheld1, answering scans on a local socket."""

    def __init__(self, station: str, target: str, journal):
        self.journal = journal
        self.process = subprocess.Popen(
            [KEYUN, "handheld", "board", "--station", station, "--journal", str(journal), "--server", target]
            + ["--listen", "127.0.0.1:0", "--sync-every", "0.3", "--deadline", "2", "--user", "handheld1"],
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

    def applied(self) -> list[str]:
        with sqlite3.connect(self.journal / "gate.sqlite3") as db:
            rows = db.execute("select ticket_id from scans where online = 0 and upload_result = 'applied'")
            return [ticket_id for (ticket_id,) in rows.fetchall()]

    def stop(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def test_a_handheld_device_boards_online_then_offline_and_uploads_once(keyun, tmp_path):
    trip = keyun.trip(dt.timedelta(minutes=40))  # boarding at AAA, a station of handheld1's scope
    a, b = keyun.client.sell(trip, "AAA", "BBB", seat_count=2).tickets
    relay = Relay(keyun.target)
    lane = HandheldLane("AAA", relay.target, tmp_path / "lane")
    try:
        wait_until(lambda: lane.status()["tickets_known"] >= 2, 60, "the handheld has the boarding set")
        online = lane.ask(a.credential)
        assert online["passed"] and online["online"] and online["seat"] == a.seat_number, online

        relay.cut_off()
        offline = lane.ask(b.credential)
        assert offline["passed"] and not offline["online"], offline
        assert lane.ask(b.credential)["reason"] == "ALREADY_CHECKED_IN"  # used once on this device
        assert lane.status()["queue_depth"] == 1
        scanned_by_ms = int(time.time() * 1000)

        relay.restore()
        wait_until(lambda: lane.status()["queue_depth"] == 0, 60, "the handheld uploaded its scan")
        assert lane.applied() == [b.ticket_id]
        manifest = {t.ticket_id: t for t in keyun.client.manifest(trip).tickets}
        assert manifest[a.ticket_id].gate_id == manifest[b.ticket_id].gate_id == "H-handheld1"
        # The offline check-in carries the time of the scan, not of the upload.
        assert 0 < manifest[b.ticket_id].checked_in_at.ToMilliseconds() <= scanned_by_ms

        # A second upload (the device lost its answer) applies nothing: the scan's id is remembered.
        with sqlite3.connect(lane.journal / "gate.sqlite3") as db:
            db.execute("update scans set uploaded = 0 where ticket_id = ? and passed = 1", (b.ticket_id,))
        wait_until(lambda: lane.status()["queue_depth"] == 0, 60, "the retried upload")
        assert lane.applied() == [b.ticket_id]  # answered "applied" again, not a conflict
        again = {t.ticket_id: t for t in keyun.client.manifest(trip).tickets}[b.ticket_id]
        assert again.checked_in_at == manifest[b.ticket_id].checked_in_at
        with KeyunClient(keyun.target) as inspector:
            inspector.login("inspector", DEMO_PASSWORD)
            assert not list(inspector.conflicts(trip))
    finally:
        lane.stop()
        relay.close()
