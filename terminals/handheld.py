"""The handheld (`keyun handheld`, 移动售票): sales from a seat allotment that work offline, and settle.

Staff on a platform, at a roadside stop or on board borrow an allotment of seats for a trip
(`lend`) while they are online.  `sell` sells online through Sales/Sell as a counter does; when
the gateway cannot be reached it sells from the allotment instead, priced by the station's fare
rules that came with the allotment (engine/fares.py, the counter's own code), and writes the sale
to the device's journal before it says "sold".  `settle` sends the journal's sales back: the
server issues a real ticket for each and returns the unsold seats.

The journal is one SQLite file (`--store`), written with `synchronous=FULL` (every commit is on
disk before it returns) and each sale in one `BEGIN IMMEDIATE` transaction, so two `sell`s at once
cannot both take the last seat-leg, and a power cut loses no sale that was reported sold.  A
sale's walk-in passenger is kept until the sale is settled, then erased from the journal.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp

from keyun.engine.fares import FareRules
from keyun.engine.reasons import Reason
from keyun.v1 import common_pb2, handheld_pb2, sales_pb2

from .client import KeyunClient, KeyunError

DEFAULT_STORE = Path(os.environ.get("KEYUN_HANDHELD_STORE") or Path.home() / ".keyun" / "handheld.sqlite")
# The failures that mean "the gateway is not there": sell from the allotment instead.
UNREACHABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

SCHEMA = """
CREATE TABLE IF NOT EXISTS allotments (
    allotment_id TEXT PRIMARY KEY,
    trip_id TEXT NOT NULL,
    allotment TEXT NOT NULL,          -- the Allotment message as JSON: seats, stops, fare table, rules
    settled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sales (
    sale_id TEXT PRIMARY KEY,
    allotment_id TEXT NOT NULL REFERENCES allotments(allotment_id),
    seat TEXT NOT NULL,
    from_station TEXT NOT NULL,
    to_station TEXT NOT NULL,
    charged_fen INTEGER NOT NULL,
    sold_at_ms INTEGER NOT NULL,
    passenger BLOB,                   -- the WalkInPassenger message, sealed (Journal.seal); erased once settled
    ticket_id TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL            -- last_sync_ms: when the device last settled
);
"""
# What the device reports in its heartbeats (Devices/Heartbeat, docs/devices.md).
VERSION = "keyun-handheld 1"


NONCE_BYTES = 12
SEALED_PASSENGER = b"keyun handheld journal: passenger"  # the AEAD's associated data


def _device_key(path: Path) -> bytes:
    """The journal's key: made once, readable by the device's user only."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = AESGCM.generate_key(bit_length=256)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of the device made it meanwhile
        return path.read_bytes()
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
        file.flush()
        os.fsync(file.fileno())
    return key


def refusal(reason: str, message: str, **facts: str) -> KeyunError:
    """A refusal made on the device, shaped as the server's are (same reasons, exit code and JSON)."""
    status = grpc.StatusCode.INVALID_ARGUMENT if reason == "INVALID_FIELD" else grpc.StatusCode.FAILED_PRECONDITION
    return KeyunError(status, message, reason, int(Reason[reason]), dict(facts))


@dataclass(frozen=True)
class LocalSale:
    sale_id: str
    allotment_id: str
    trip_id: str
    seat: str
    from_station: str
    to_station: str
    price_fen: int
    sold_at_ms: int


class Journal:
    """The device's durable copy of its allotments and the sales it made from them."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it returns
        self.db.executescript(SCHEMA)
        os.chmod(path, 0o600)  # it holds passengers' names and documents until they are settled
        # ...sealed with AES-256-GCM under a key of the device's own, kept beside it (0600): the
        # journal alone, copied or backed up, shows no name or document number.
        self.aead = AESGCM(_device_key(path.with_name(path.name + ".key")))

    def seal(self, passenger: sales_pb2.WalkInPassenger) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self.aead.encrypt(nonce, passenger.SerializeToString(), SEALED_PASSENGER)

    def passenger(self, row: sqlite3.Row) -> sales_pb2.WalkInPassenger:
        """The sale's walk-in passenger, unsealed (an empty one once settled)."""
        passenger = sales_pb2.WalkInPassenger()
        if blob := row["passenger"]:
            passenger.ParseFromString(self.aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], SEALED_PASSENGER))
        return passenger

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")  # one writer at a time: no two sales take one seat-leg
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def keep(self, allotment: handheld_pb2.Allotment) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO allotments VALUES (?, ?, ?, ?)",
                (
                    allotment.allotment_id,
                    allotment.trip_id,
                    json_format.MessageToJson(allotment),
                    int(allotment.HasField("settled_at")),
                ),
            )

    def allotments(self, trip_id: str = "", open_only: bool = False) -> list[handheld_pb2.Allotment]:
        rows = self.db.execute(
            "SELECT allotment FROM allotments WHERE (? = '' OR trip_id = ?) AND (? = 0 OR settled = 0) "
            "ORDER BY allotment_id",
            (trip_id, trip_id, int(open_only)),
        ).fetchall()
        return [json_format.Parse(row[0], handheld_pb2.Allotment()) for row in rows]

    def sales(self, allotment_id: str, unsettled_only: bool = False) -> list[sqlite3.Row]:
        self.db.row_factory = sqlite3.Row
        try:
            return self.db.execute(
                "SELECT * FROM sales WHERE allotment_id = ? AND (? = 0 OR ticket_id = '') ORDER BY sold_at_ms, sale_id",
                (allotment_id, int(unsettled_only)),
            ).fetchall()
        finally:
            self.db.row_factory = None

    def sell(
        self, trip_id: str, from_station: str, to_station: str, passenger: sales_pb2.WalkInPassenger, seat: str = ""
    ) -> LocalSale:
        """Sell one seat from a local allotment of the trip, or refuse: never a seat-leg twice, nor a
        second seat to one document on overlapping segments (the counter's one-ticket-per-document)."""
        with self.transaction():
            held = self._document_holds(trip_id, from_station, to_station, passenger)
            if held is not None:
                raise refusal(
                    "DOCUMENT_HAS_TICKET",
                    f"this device sold document {_masked(passenger.document_number)} sale {held} on trip {trip_id} "
                    "already, on an overlapping segment: a passenger sits in one seat at a time",
                    sale_id=held,
                )
            for allotment in self.allotments(trip_id, open_only=True):
                chosen = _free_seat(allotment, self.sales(allotment.allotment_id), from_station, to_station, seat)
                if chosen is None:
                    continue
                price = offline_price(allotment, from_station, to_station, passenger)
                sale = LocalSale(
                    uuid.uuid4().hex,
                    allotment.allotment_id,
                    trip_id,
                    chosen,
                    from_station,
                    to_station,
                    price,
                    int(time.time() * 1000),
                )
                self.db.execute(
                    "INSERT INTO sales (sale_id, allotment_id, seat, from_station, to_station, charged_fen, "
                    "sold_at_ms, passenger) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        sale.sale_id,
                        sale.allotment_id,
                        sale.seat,
                        from_station,
                        to_station,
                        price,
                        sale.sold_at_ms,
                        self.seal(passenger),
                    ),
                )
                return sale
        raise refusal(
            "NOT_ENOUGH_SEATS",
            f"no seat of this device's allotments of trip {trip_id} is free from {from_station} to {to_station}"
            + (f" (seat {seat})" if seat else "")
            + ": the allotment is sold out; sell online when the network is back",
            trip_id=trip_id,
        )

    def _document_holds(
        self, trip_id: str, from_station: str, to_station: str, passenger: sales_pb2.WalkInPassenger
    ) -> str | None:
        """The sale id of an unsettled sale of this device, on the trip, to the same document on a
        segment the station's rule says overlaps (allotment.fare_rules.one_ticket_per_document)."""
        allotments = self.allotments(trip_id, open_only=True)
        if not allotments or not passenger.document_number:
            return None
        rule = allotments[0].fare_rules.one_ticket_per_document or "overlapping"
        if rule == "off":
            return None
        wanted = next((legs for a in allotments if (legs := _leg_codes(a, from_station, to_station))), set())
        document = (passenger.document_type, passenger.document_number.strip().upper())
        for allotment in allotments:
            for row in self.sales(allotment.allotment_id, unsettled_only=True):
                sold_to = self.passenger(row)
                if (sold_to.document_type, sold_to.document_number.strip().upper()) != document:
                    continue
                if rule == "trip" or wanted & _leg_codes(allotment, row["from_station"], row["to_station"]):
                    return str(row["sale_id"])
        return None

    def settled(self, reply: handheld_pb2.SettleAllotmentResponse) -> None:
        """Record a settlement: each sale's ticket, the passenger's data erased, the allotment closed."""
        with self.transaction() as db:
            for line in reply.lines:
                db.execute(
                    "UPDATE sales SET ticket_id = ?, passenger = NULL WHERE sale_id = ?",
                    (line.ticket.ticket_id, line.sale_id),
                )
        self.keep(reply.allotment)

    def synced(self, at_ms: int) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('last_sync_ms', ?)", (at_ms,))

    def last_sync_ms(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_sync_ms'").fetchone()
        return row[0] if row else 0

    def queue(self) -> tuple[int, int]:
        """How many sales wait to be settled, and when the oldest of them was made (0: none)."""
        depth, oldest = self.db.execute("SELECT count(*), min(sold_at_ms) FROM sales WHERE ticket_id = ''").fetchone()
        return depth, oldest or 0


def _legs(allotment: handheld_pb2.Allotment, from_station: str, to_station: str) -> set[int] | None:
    """The legs (by stop index within the allotment) of a segment, or None if it is not within it."""
    stops = list(allotment.stations)
    if from_station not in stops or to_station not in stops:
        return None
    i, j = stops.index(from_station), stops.index(to_station)
    return set(range(i, j)) if i < j else None


def _leg_codes(allotment: handheld_pb2.Allotment, from_station: str, to_station: str) -> set[tuple[str, str]]:
    """The legs of a segment as pairs of stop codes (the same on every allotment of the trip)."""
    stops = list(allotment.stations)
    legs = _legs(allotment, from_station, to_station) or set()
    return {(stops[k], stops[k + 1]) for k in legs}


def _masked(document_number: str) -> str:
    """As replies mask a document: the first four and last four characters kept."""
    text = document_number.strip()
    return text[:4] + "*" * max(len(text) - 8, 0) + text[-4:] if len(text) > 8 else "*" * len(text)


def _free_seat(
    allotment: handheld_pb2.Allotment, sales: list[sqlite3.Row], from_station: str, to_station: str, seat: str
) -> str | None:
    wanted = _legs(allotment, from_station, to_station)
    if wanted is None:
        return None
    taken: dict[str, set[int]] = {}
    for sale in sales:
        taken.setdefault(sale["seat"], set()).update(_legs(allotment, sale["from_station"], sale["to_station"]) or ())
    for label in allotment.seat_numbers:
        if (not seat or label == seat) and not taken.get(label, set()) & wanted:
            return label
    return None


TYPE_NAMES = {value: name.removeprefix("TICKET_TYPE_").lower() for name, value in common_pb2.TicketType.items()}


def fare_rules(allotment: handheld_pb2.Allotment) -> FareRules:
    r = allotment.fare_rules
    return FareRules(
        child_percent=r.child_percent,
        concession_percent=r.concession_percent,
        student_percent=r.student_percent,
        service_fee_fen=r.service_fee_fen,
        fuel_surcharge_fen=r.fuel_surcharge_fen,
        insurance_fen=r.insurance_fen,
        round_to_fen=r.round_to_fen or 1,
        rounding=r.rounding or "half_up",
        minimum_fare_fen=r.minimum_fare_fen,
    )


def offline_price(
    allotment: handheld_pb2.Allotment, from_station: str, to_station: str, passenger: sales_pb2.WalkInPassenger
) -> int:
    """What the counter would charge, by the fare table and rules lent with the allotment."""
    full = {(f.from_station, f.to_station): f.full_fen for f in allotment.fares}[(from_station, to_station)]
    ticket_type = TYPE_NAMES.get(passenger.ticket_type, "full")
    if ticket_type == "unspecified":
        ticket_type = "full"
    if ticket_type == "free_child":
        raise refusal("INVALID_FIELD", "a free child takes no seat: sell the adult's ticket with the child online")
    if ticket_type == "child" and allotment.small_vehicle:
        raise refusal("CHILD_FARE_NOT_OFFERED", "no child fares on this small vehicle: children pay the full fare")
    return fare_rules(allotment).fare(full, ticket_type, passenger.insurance).total_fen


def sale_message(journal: Journal, row: sqlite3.Row) -> handheld_pb2.AllotmentSale:
    sold_at = Timestamp()
    sold_at.FromMilliseconds(row["sold_at_ms"])
    passenger = journal.passenger(row)
    return handheld_pb2.AllotmentSale(
        sale_id=row["sale_id"],
        seat_number=row["seat"],
        from_station=row["from_station"],
        to_station=row["to_station"],
        charged_fen=row["charged_fen"],
        sold_at=sold_at,
        passenger=passenger,
    )


# --- what the verbs do (terminals/handheld_cli.py parses and prints) -----------------------------


def lend(
    client: KeyunClient, journal: Journal, trip_id: str, from_station: str, to_station: str, **seats
) -> handheld_pb2.Allotment:
    allotment = client.lend_allotment(trip_id, from_station, to_station, **seats)
    journal.keep(allotment)
    report(client, journal)
    return allotment


def sell(
    client: KeyunClient,
    journal: Journal,
    trip_id: str,
    from_station: str,
    to_station: str,
    passenger: sales_pb2.WalkInPassenger,
    seat: str = "",
    offline: bool = False,
) -> dict:
    """Sell online (Sales/Sell), or from the allotment when the gateway cannot be reached."""
    if not offline:
        try:
            reply = client.sell(trip_id, from_station, to_station, (seat,) if seat else (), 0, None, (passenger,))
            ticket = reply.tickets[0]
            report(client, journal)
            return {
                "online": True,
                "ticket_id": ticket.ticket_id,
                "seat": ticket.seat_number,
                "from_station": from_station,
                "to_station": to_station,
                "price_fen": reply.total_fen,
            }
        except KeyunError as error:
            if error.code not in UNREACHABLE or error.reason:
                raise
    sale = journal.sell(trip_id, from_station, to_station, passenger, seat)
    return {
        "online": False,
        "sale_id": sale.sale_id,
        "allotment_id": sale.allotment_id,
        "seat": sale.seat,
        "from_station": from_station,
        "to_station": to_station,
        "price_fen": sale.price_fen,
    }


def settle(client: KeyunClient, journal: Journal, allotment_id: str = "") -> list[handheld_pb2.SettleAllotmentResponse]:
    """Settle every open allotment (or the one named) with its journaled sales."""
    replies = []
    for allotment in journal.allotments(open_only=True):
        if allotment_id and allotment.allotment_id != allotment_id:
            continue
        sales = [sale_message(journal, row) for row in journal.sales(allotment.allotment_id, unsettled_only=True)]
        reply = client.settle_allotment(allotment.trip_id, allotment.allotment_id, sales)
        journal.settled(reply)
        replies.append(reply)
    journal.synced(int(time.time() * 1000))
    report(client, journal)
    return replies


def report(client: KeyunClient, journal: Journal) -> None:
    """One heartbeat while the gateway answers: the unsettled sales are the device's offline
    queue.  Best effort: a device the station has not registered is told so, and sells all the
    same."""
    depth, oldest = journal.queue()
    try:
        client.heartbeat(VERSION, depth, journal.last_sync_ms(), oldest)
    except KeyunError:
        pass  # a report, not the sale: DEVICE_NOT_REGISTERED, or the link gone again


def status(journal: Journal) -> list[dict]:
    rows = []
    for allotment in journal.allotments():
        sales = journal.sales(allotment.allotment_id)
        rows.append(
            {
                "allotment_id": allotment.allotment_id,
                "trip_id": allotment.trip_id,
                "from_station": allotment.from_station,
                "to_station": allotment.to_station,
                "seats": list(allotment.seat_numbers),
                "sold": len(sales),
                "unsettled": sum(1 for s in sales if not s["ticket_id"]),
                "settled": allotment.HasField("settled_at"),
                "sales": [
                    {
                        "sale_id": s["sale_id"],
                        "seat": s["seat"],
                        "from_station": s["from_station"],
                        "to_station": s["to_station"],
                        "price_fen": s["charged_fen"],
                        "ticket_id": s["ticket_id"],
                    }
                    for s in sales
                ],
            }
        )
    return rows


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def offline_client(args) -> KeyunClient:
    """A client that is not logged in: an offline sale never reaches it."""
    return KeyunClient(args.server, deadline_s=args.deadline, ca_file=args.ca, cert_file=args.cert, key_file=args.key)
