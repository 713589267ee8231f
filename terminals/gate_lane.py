"""The gate program of one lane (`keyun gate run`, 自助检票 / 人工检票): scans in, pass or stop out.

- Scans arrive as lines: from stdin (a barcode scanner or card reader in keyboard mode) or from a
  local TCP socket, which answers each line with a one-line JSON decision.  A line starting with
  `!` is a command of the socket (`!status`), never a scan.
- Online, a ticket is checked in through the gateway (Gate/CheckIn), within a short deadline.
- The lane keeps a durable local copy of what it needs to decide alone (keys, boarding sets,
  revocations: `Journal`), refreshed in the background (`Lane.sync`).
- Offline (the gateway unreachable or slower than the deadline) it decides with the decision core
  (terminals/boarding_core.py), the same rules the handheld will use.
- Every scan is journaled (sqlite, synchronous=FULL: on disk before the lane answers).  Offline
  passes are uploaded when the link returns, each as a check-in whose request id is the scan's id,
  so a retried upload applies nothing twice (the trip owner remembers request ids).  One the
  server refuses (the ticket checked in at another gate, or refunded, meanwhile) is a conflict:
  kept in the journal and shown by `keyun gate conflicts`; the refused check-in is also in the
  server's audit log.
"""

from __future__ import annotations

import json
import socketserver
import sqlite3
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import grpc

from keyun.common import eticket
from keyun.common.clock import SYSTEM_CLOCK
from keyun.v1 import common_pb2, gate_pb2

from . import boarding_core as core
from . import printing
from .client import KeyunClient, KeyunError, new_request_id, open_channel

VERSION = "gate-1"
ONLINE_DEADLINE_S = 1.5  # slower than this, and the lane decides alone
UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
STATUS_NAMES = {
    common_pb2.TICKET_STATUS_ISSUED: "issued",
    common_pb2.TICKET_STATUS_CHECKED_IN: "checked_in",
    common_pb2.TICKET_STATUS_REFUNDED: "refunded",
    common_pb2.TICKET_STATUS_CHANGED: "changed",
    common_pb2.TICKET_STATUS_VOID: "void",
}
# A refusal on upload that means the scan could not be applied as it was: a conflict to report.
# Anything else refused (an unknown ticket, ...) is reported the same way: nothing is dropped.
SCHEMA = """
create table if not exists scans (
    seq integer primary key autoincrement,
    scan_id text unique not null,
    at_ms integer not null,
    gate_id text not null,
    kind text not null,
    ticket_id text not null,
    trip_id text not null,
    passed integer not null,
    reason text not null,
    online integer not null,       -- decided by the server (1) or by the lane alone (0)
    uploaded integer not null,     -- 1 once the server has the scan (online ones at once)
    upload_result text not null    -- "", "applied", or "conflict:REASON: message"
);
create table if not exists local (name text primary key, value text not null);
"""


class Journal:
    """The lane's durable memory: every scan, and the local copy it decides with."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(directory / "gate.sqlite3", check_same_thread=False, isolation_level=None)
        self.db.execute("pragma journal_mode=wal")
        self.db.execute("pragma synchronous=full")  # a commit is on disk (fsync) before it returns
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def record(self, scan_id: str, at_ms: int, gate_id: str, kind: str, decision: core.Decision, online: bool) -> None:
        with self.lock:
            self.db.execute(
                "insert into scans (scan_id, at_ms, gate_id, kind, ticket_id, trip_id, passed, reason, online,"
                " uploaded, upload_result) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    scan_id,
                    at_ms,
                    gate_id,
                    kind,
                    decision.ticket_id,
                    decision.trip_id,
                    int(decision.passed),
                    decision.reason,
                    int(online),
                    int(online or not decision.passed),  # only offline passes need the server
                    "",
                ),
            )

    def pending(self) -> list[tuple[str, int, str, str]]:
        """Offline passes the server does not have yet, in the order they were scanned."""
        with self.lock:
            return self.db.execute(
                "select scan_id, at_ms, gate_id, ticket_id from scans where uploaded = 0 and passed = 1 order by seq"
            ).fetchall()

    def uploaded(self, scan_id: str, result: str) -> None:
        with self.lock:
            self.db.execute("update scans set uploaded = 1, upload_result = ? where scan_id = ?", (result, scan_id))

    def conflicts(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "select scan_id, at_ms, gate_id, ticket_id, upload_result from scans"
                " where upload_result like 'conflict:%' order by seq"
            ).fetchall()
        return [dict(zip(("scan_id", "at_ms", "gate_id", "ticket_id", "result"), row)) for row in rows]

    def oldest_pending_ms(self) -> int:
        with self.lock:
            (oldest,) = self.db.execute("select min(at_ms) from scans where uploaded = 0").fetchone()
        return int(oldest or 0)

    def save(self, name: str, value: Any) -> None:
        with self.lock:
            self.db.execute(
                "insert into local (name, value) values (?, ?) on conflict(name) do update set value = excluded.value",
                (name, json.dumps(value)),
            )

    def load(self, name: str, default: Any) -> Any:
        with self.lock:
            row = self.db.execute("select value from local where name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else default

    def used_here(self) -> dict[str, str]:
        """Tickets this lane let through, from its journal: a restart forgets none."""
        with self.lock:
            rows = self.db.execute("select ticket_id, gate_id from scans where passed = 1 order by seq").fetchall()
        return {ticket_id: gate_id for ticket_id, gate_id in rows}


class Lane:
    """One lane: decides scans (online through the gateway, else alone) and keeps its copy fresh."""

    def __init__(
        self,
        gate_id: str,
        station: str,
        journal: Journal,
        client: KeyunClient,
        login: Callable[[KeyunClient], None],
        require_document_match: bool = False,
        clock: Callable[[], float] = lambda: SYSTEM_CLOCK.now_ms() / 1000,  # the server's time source (tests shift it)
    ):
        self.gate_id = gate_id
        self.journal = journal
        self.clock = clock
        self.client = client  # one session; scans call with their own short deadline
        self.login = login  # when the lane started without the server, it logs in on the first sync
        self.require_document_match = require_document_match  # the lane's own option
        self.state = core.LocalState(station=station, require_document_match=require_document_match)
        self.lock = threading.Lock()
        self.pending: core.Entry | None = None  # real-name boarding: the ticket awaiting its card
        self.online = True
        self.last_sync_ms = 0
        self.heartbeats = True  # until the registry says this account is no registered device
        self.heartbeat_every_s = 15.0
        self.last_heartbeat = 0.0
        self._load()

    # --- the local copy --------------------------------------------------------------------------

    def _load(self) -> None:
        saved = self.journal.load("copy", None)
        if saved is not None:
            self._adopt(saved)
        self.state.used.update(self.journal.used_here())
        self.last_sync_ms = self.journal.load("last_sync_ms", 0)

    def _adopt(self, copy: dict[str, Any]) -> None:
        state = self.state
        state.public_keys = {key_id: eticket.public_key_from_raw(bytes.fromhex(raw)) for key_id, raw in copy["keys"]}
        state.digest_key = bytes.fromhex(copy["digest_key"])
        state.entries = {
            entry["ticket_id"]: core.Entry(**(entry | {"document_digest": bytes.fromhex(entry["document_digest"])}))
            for entry in copy["entries"]
        }
        state.trip_departs_s = dict(copy["departs"])
        state.cancelled_trips = set(copy["cancelled"])
        state.revoked = set(copy["revoked"])
        policy = copy.get("policy")
        if policy is not None:  # the station's rules; the lane's --require-document-match adds to them
            state.require_document_match = self.require_document_match or policy["require_document_match"]
            state.boarding_opens_s, state.boarding_closes_s = policy["opens_s"], policy["closes_s"]
        for entry in state.entries.values():
            if entry.status == "checked_in":
                state.mark_used(entry.ticket_id, "")

    def sync(self) -> None:
        """Fetch keys, boarding trips and sets, and revocations since the last position; then upload.
        Raises KeyunError when the server cannot be reached (the lane is offline)."""
        client = self.client
        if not client.access_token:
            self.login(client)
        keys = client.credential_keys()
        listed = client.boarding_trips(self.state.station)
        trips = listed.trips
        entries: list[dict[str, Any]] = []
        departs: dict[str, int] = {}
        cancelled: list[str] = []
        for boarding in trips:
            trip_id = boarding.trip.trip_id
            departs[trip_id] = boarding.departs_at.seconds
            if boarding.trip.status == common_pb2.TRIP_STATUS_CANCELLED:
                cancelled.append(trip_id)
            entries += [self._entry(trip_id, departs[trip_id], e) for e in client.boarding_set(trip_id).entries]
        revoked, cancelled_whole = self._revocations(client, list(departs))
        cancelled = sorted(set(cancelled) | cancelled_whole)
        copy = {
            "keys": [(key.key_id, key.public_key.hex()) for key in keys.keys],
            "digest_key": keys.document_digest_key.hex(),
            "entries": entries,
            "departs": departs,
            "cancelled": cancelled,
            "revoked": sorted(revoked),
            "policy": {
                "require_document_match": listed.policy.require_document_match,
                "opens_s": listed.policy.boarding_opens_minutes * 60,
                "closes_s": listed.policy.boarding_closes_minutes * 60,
            },
        }
        self.journal.save("copy", copy)
        with self.lock:
            self._adopt(copy)
            self.state.used.update(self.journal.used_here())
            self.online = True
        self.upload()
        self.last_sync_ms = int(self.clock() * 1000)
        self.journal.save("last_sync_ms", self.last_sync_ms)
        self.heartbeat()

    @staticmethod
    def _entry(trip_id: str, departs_s: int, entry: Any) -> dict[str, Any]:
        return asdict(
            core.Entry(
                ticket_id=entry.ticket_id,
                trip_id=trip_id,
                seat=entry.seat_number,
                from_stop=entry.from_stop,
                to_stop=entry.to_stop,
                departs_at_s=departs_s,
                status=STATUS_NAMES.get(entry.status, "void"),
                holder_name=entry.holder_name,
                document_digest=entry.document_digest,
            )
        ) | {"document_digest": entry.document_digest.hex()}

    def _revocations(self, client: KeyunClient, trip_ids: list[str]) -> tuple[set[str], set[str]]:
        """The revoked tickets, and the trips cancelled whole, resumed from the last position kept
        (WatchRevocations' first message is the catch-up; what comes later, the next refresh reads)."""
        kept = self.journal.load("copy", {})
        revoked, cancelled = set(kept.get("revoked", [])), set(kept.get("cancelled", []))
        if not trip_ids:
            return revoked, cancelled
        position = self.journal.load("position", {"trips": [], "position": ""})
        if sorted(position["trips"]) != sorted(trip_ids):
            position = {"trips": trip_ids, "position": ""}  # other trips: watch them from the start
        for message in client.watch_revocations(trip_ids, position["position"], timeout_s=5.0):
            revoked |= {r.ticket_id for r in message.revocations if r.ticket_id}
            cancelled |= {r.trip_id for r in message.revocations if not r.ticket_id}
            position["position"] = message.position
            if message.caught_up:
                break
        self.journal.save("position", position)
        return revoked, cancelled

    # --- upload -------------------------------------------------------------------------------

    def upload(self) -> int:
        """Send the offline passes, oldest first, each once (its scan id is the request id).
        Returns how many were sent; stops at the first the server cannot be reached for."""
        sent = 0
        for scan_id, at_ms, gate_id, ticket_id in self.journal.pending():
            try:
                reply = self.client.upload_scan(ticket_id, gate_id, scan_id, at_ms)
                conflict = reply.conflict
                result = f"conflict:{conflict.reason}: kept by the server" if reply.HasField("conflict") else "applied"
            except KeyunError as error:
                if error.code in UNREACHABLE:
                    raise
                # Refused outright (an unknown ticket, say): kept here as a conflict, never dropped.
                result = f"conflict:{error.reason or error.code.name}: {error.message}"
            self.journal.uploaded(scan_id, result)
            sent += 1
        return sent

    def heartbeat(self) -> None:
        """Report queue depth and last sync to the device registry, when this is a registered device."""
        if not self.heartbeats or self.clock() - self.last_heartbeat < self.heartbeat_every_s:
            return
        self.last_heartbeat = self.clock()
        try:
            self.client.heartbeat(
                VERSION, len(self.journal.pending()), self.last_sync_ms, self.journal.oldest_pending_ms()
            )
        except KeyunError as error:
            if error.code in UNREACHABLE:
                raise
            self.heartbeats = False  # not a registered device (or not allowed): nothing to report to

    # --- scans --------------------------------------------------------------------------------

    def scan(self, text: str) -> core.Decision:
        """Decide one scan, journal it (on disk), then answer."""
        text = text.strip()
        now = self.clock()
        with self.lock:
            decision, online = self._decide(text, int(now))
            if decision.passed:
                self.state.mark_used(decision.ticket_id, self.gate_id)
            self.journal.record(
                f"{self.gate_id}.{uuid.uuid4().hex[:16]}",
                int(now * 1000),
                self.gate_id,
                core.classify(text),
                decision,
                online,
            )
        return decision

    def _decide(self, text: str, now_s: int) -> tuple[core.Decision, bool]:
        state = self.state
        if self.pending is not None:
            pending, self.pending = self.pending, None
            mismatch = core.match_document(state, pending, text)
            if mismatch is not None:
                return mismatch, False
            return self._check_in(pending, pending.ticket_id, "", now_s)
        kind = core.classify(text)
        found = core.identify(state, text, now_s)
        if isinstance(found, core.Decision):
            if self.online and kind == core.ScanKind.TICKET_ID:  # a ticket the lane has not seen yet
                return self._online(found, text, "", now_s)
            if self.online and found.reason == "CREDENTIAL_UNKNOWN_KEY":  # a key newer than the copy
                return self._online(found, "", text, now_s)
            return found, False
        if core.needs_document(state, found):
            checked = core.local_checks(state, found.entry, now_s)
            if not checked.passed:
                return checked, False
            self.pending = found.entry
            return core.awaiting(found.entry), False
        credential = text if kind == core.ScanKind.CREDENTIAL else ""
        return self._check_in(found.entry, "" if credential else found.entry.ticket_id, credential, now_s)

    def _check_in(self, entry: core.Entry, ticket_id: str, credential: str, now_s: int) -> tuple[core.Decision, bool]:
        if self.online:
            decided = self._online(None, ticket_id, credential, now_s, entry)
            if decided is not None:
                return decided
        return core.local_checks(self.state, entry, now_s), False

    def _online(self, fallback, ticket_id, credential, now_s, entry=None):
        """The gateway's answer, or None (or `fallback`) when it did not answer in time."""
        try:
            ticket = self._check_in_online(ticket_id, credential)
        except KeyunError as error:
            if error.code in UNREACHABLE:
                self.online = False  # decide alone until the background refresh reaches it again
                return (fallback, False) if fallback is not None else None
            shown = entry or core.Entry(ticket_id, "", "", "", "", 0)
            return core.stop(_reason(error.reason), error.message, shown), True
        passed = core.Entry(
            ticket.ticket_id,
            ticket.trip.trip_id,
            ticket.seat_number,
            ticket.from_stop.code,
            ticket.to_stop.code,
            0,
            holder_name=entry.holder_name if entry else "",
        )
        return core.board(passed), True

    def _check_in_online(self, ticket_id: str, credential: str) -> Any:
        """One attempt within the lane's deadline (no retries: the passenger is waiting)."""
        if not self.client.access_token:
            raise KeyunError(grpc.StatusCode.UNAVAILABLE, "not logged in yet")
        request = gate_pb2.CheckInRequest(
            request_id=new_request_id(), ticket_id=ticket_id, gate_id=self.gate_id, credential=credential
        )
        for attempt in (1, 2):
            try:
                return self.client.gate.CheckIn(request, timeout=ONLINE_DEADLINE_S).ticket
            except grpc.RpcError as rpc_error:
                error = KeyunError.from_rpc(rpc_error)
                if error.reason != "TOKEN_EXPIRED" or attempt == 2:
                    raise error from None
                self.client.refresh()
        raise AssertionError("unreachable")

    def status(self) -> dict[str, Any]:
        return {
            "gate": self.gate_id,
            "online": self.online,
            "last_sync_ms": self.last_sync_ms,
            "queue_depth": len(self.journal.pending()),
            "tickets_known": len(self.state.entries),
            "revoked": len(self.state.revoked),
            "conflicts": len(self.journal.conflicts()),
        }


def _reason(name: str) -> Any:
    from keyun.engine.reasons import Reason

    return Reason[name] if name in Reason.__members__ else Reason.INVALID_FIELD


def keep_fresh(lane: Lane, every_s: float, stopped: threading.Event) -> None:
    """The background refresh: sync, and after a failure try again on the next round."""
    while not stopped.wait(every_s):
        refresh_once(lane)


def refresh_once(lane: Lane) -> None:
    try:
        lane.sync()
    except KeyunError as error:
        lane.online = False
        if error.code == grpc.StatusCode.UNAUTHENTICATED:
            lane.client.access_token = ""  # the session is gone (ended, or expired): log in again
        if error.code not in UNREACHABLE:
            print(f"gate {lane.gate_id}: refresh refused: {error}", file=sys.stderr, flush=True)
    except Exception as error:  # noqa: BLE001 - a refresh must never end the lane
        print(f"gate {lane.gate_id}: refresh failed: {error!r}", file=sys.stderr, flush=True)
        lane.online = False


def display_line(decision: core.Decision, online: bool = True) -> str:
    """The plain display: PASS or STOP, seat, masked name, reason."""
    mode = "" if online else " [offline]"
    if decision.passed:
        return f"PASS  seat {decision.seat}  {decision.holder_name}  {decision.ticket_id}{mode}"
    return f"STOP  {decision.reason}: {decision.message}  {decision.ticket_id}{mode}".rstrip()


def serve_socket(lane: Lane, host: str, port: int, show: Callable[[core.Decision], None]) -> socketserver.TCPServer:
    """The local line protocol: each line a scan, each answer one line of JSON."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for raw in self.rfile:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                if line.startswith("!"):
                    answer = _command(lane, line)
                else:
                    decision = lane.scan(line)
                    show(decision)
                    answer = decision.as_dict() | {"online": lane.online}
                self.wfile.write((json.dumps(answer, ensure_ascii=False) + "\n").encode("utf-8"))
                self.wfile.flush()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    server = Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _command(lane: Lane, line: str) -> dict[str, Any]:
    if line == "!status":
        return lane.status()
    if line == "!conflicts":
        return {"conflicts": lane.journal.conflicts()}
    return {"error": f"unknown command {line[:20]}: !status or !conflicts"}


# A lane notices the server back within about a second (gRPC's default backoff grows to 2 minutes).
CHANNEL_OPTIONS = (("grpc.initial_reconnect_backoff_ms", 200), ("grpc.max_reconnect_backoff_ms", 1000))


def run(args: Any) -> None:
    """`keyun gate run`: until stdin ends (--stdin) or the process is stopped."""
    import getpass
    import os
    import signal

    from . import sessions

    password = ""
    if args.user:
        password = os.environ.get("KEYUN_PASSWORD") or getpass.getpass(f"password for {args.user}: ")
    saved = None if args.user else sessions.load(args.server)
    if not args.user and saved is None:
        raise SystemExit("keyun gate run: log in first (`keyun login NAME`) or give --user")

    def login(client: KeyunClient) -> None:
        if args.user:
            client.login(args.user, password, args.totp or "")
        elif saved is not None:
            client.access_token, client.refresh_token = saved

    channel = open_channel(args.server, args.ca, args.cert, args.key, options=CHANNEL_OPTIONS)
    client = KeyunClient(args.server, deadline_s=args.deadline, attempts=1, channel=channel)
    lane = Lane(args.gate, args.station, Journal(args.journal), client, login, args.require_document_match)
    lane.heartbeat_every_s = args.heartbeat_every

    def show(decision: core.Decision) -> None:
        print(display_line(decision, lane.online), flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    refresh_once(lane)  # the first scan finds the copy fresh, or the lane known offline
    threading.Thread(target=keep_fresh, args=(lane, args.sync_every, stopped), daemon=True).start()
    if not (args.plain or args.stdin) and sys.stdout.isatty():
        full_screen(lane, args, stopped)
        return
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        server = serve_socket(lane, host or "127.0.0.1", int(port), show)
        print(
            f"ready gate {args.gate} at {args.station}, scans on {server.server_address[0]}:{server.server_address[1]}",
            flush=True,
        )
    if args.stdin:
        for line in sys.stdin:
            if line.strip():
                show(lane.scan(line))
        stopped.set()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass


def conflict_line(conflict: Any) -> str:
    """One line of the server's report (a ScanConflict)."""
    first = (
        f" (checked in at gate {conflict.first_gate_id} {printing.local(conflict.first_checked_in_at, fmt='%H:%M:%S')})"
    )
    return (
        f"{printing.local(conflict.scanned_at, fmt='%Y-%m-%d %H:%M:%S')}  gate {conflict.gate_id}  "
        f"{conflict.ticket_id}  {conflict.reason}{first if conflict.first_gate_id else ''}"
        + (f" (the document held {conflict.other_ticket_id})" if conflict.other_ticket_id else "")
    )


def full_screen(lane: Lane, args: Any, stopped: threading.Event) -> None:
    """The Textual display, scans typed into it (a scanner in keyboard mode) or from the socket."""
    import signal

    from .gate_display import GateDisplay

    app = GateDisplay(lane, f"Keyun gate {args.gate} · {args.station}")
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        serve_socket(lane, host or "127.0.0.1", int(port), app.shown)
    signal.signal(signal.SIGTERM, lambda *_: app.exit())
    try:
        app.run()
    finally:
        stopped.set()


def print_conflicts(args: Any) -> None:
    """`keyun gate conflicts --journal DIR`: offline passes the server refused on upload."""
    conflicts = Journal(args.journal).conflicts()
    if args.json:
        print(json.dumps(conflicts, ensure_ascii=False, indent=2))
        return
    if not conflicts:
        print("no conflicts")
    for conflict in conflicts:
        at = printing.local_ms(conflict["at_ms"])
        print(f"{at}  gate {conflict['gate_id']}  {conflict['ticket_id']}  {conflict['result'][len('conflict:') :]}")
