"""The reporting store: every owner's committed log projected into DuckDB tables (docs/reporting.md).

The projector reads the owners' write-ahead logs as files, beside the owners, never through them:
a sale never waits for it.  It reads each owner's segments in LSN order (the retired ones from
`wal-archive/`, where owners move them after a snapshot, then the live ones in `wal/`), turns
the events of each record into rows, and commits the rows of a run of records together with the
owner's new position in ONE DuckDB transaction.  A crash before the commit leaves neither rows nor
position, so the records are read again; a crash after leaves both: every event is applied once.

It keeps, per owner, the LSN and checksum of the last record projected.  After a restart, the
record at that LSN must still have that checksum: a record the projector read before the owner's
fsync, and that a power cut then lost, would otherwise stay counted.  On a mismatch, everything is
rebuilt from the logs.

No personal data goes in: passengers and buyers are HMAC pseudonyms under the station's index key
(persistence/keyring.py, context PSEUDONYM_CONTEXT).  Staff and devices appear by account id.
"""

from __future__ import annotations

import logging
import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from keyun.engine import events as ev
from keyun.engine import settlement as st
from keyun.engine.channels import PSEUDONYM_CONTEXT, WALLET_METHODS, channel_of  # noqa: F401  (re-exported)
from keyun.engine.outbox import AuditNote
from keyun.engine.shifts import ShiftClosed, ShiftOpened

from . import settlement
from .keyring import Keyring
from .load_reports import LoadQuery, ShiftQuery, load_report, shift_report
from .wal import ARCHIVE_DIR, FRAME, MAGIC, MAX_RECORD_BYTES, WalCorruption, decode_payload, segments

log = logging.getLogger("keyun.reports")

STORE_DIR = "reports"
STORE_FILE = "reports.duckdb"

# A run of records committed in one transaction: bounded, so a long catch-up commits as it goes.
MAX_RECORDS_PER_COMMIT = 2_000
DAY_MS = 86_400_000

# The audit record of a call follows its entry in the same log record (engine/outbox.py): these
# actions' records say who sold, refunded, voided or checked in, and on which device.
ATTRIBUTED_ACTIONS = ("keyun.v1.Sales/", "keyun.v1.Orders/", "keyun.v1.Shifts/", "keyun.v1.Handheld/", "keyun.v1.Gate/")

SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (
    owner VARCHAR PRIMARY KEY,      -- 'shards/0000', 'accounts'
    lsn BIGINT NOT NULL,            -- the last log record projected
    crc BIGINT NOT NULL,            -- its checksum (checked again after a restart)
    records BIGINT NOT NULL,        -- records projected
    events BIGINT NOT NULL,         -- events projected
    gaps BIGINT NOT NULL,           -- records the projector could not read (retired and not archived)
    updated_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS trips (
    trip_id VARCHAR PRIMARY KEY, schedule_id VARCHAR, route_id VARCHAR, route_name VARCHAR,
    operator_id VARCHAR, operator_name VARCHAR, vehicle_name VARCHAR,
    departs_at_ms BIGINT, service_date DATE, seats INTEGER, stops VARCHAR,
    departed_ms BIGINT, cancelled_ms BIGINT, delay_ms BIGINT,
    stop_km VARCHAR                 -- each stop's km from the first, comma-separated ('' unknown)
);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id VARCHAR PRIMARY KEY, trip_id VARCHAR, from_stop INTEGER, to_stop INTEGER,
    from_station VARCHAR, to_station VARCHAR, seat INTEGER, ticket_type VARCHAR,
    price_fen BIGINT, base_fen BIGINT, service_fee_fen BIGINT, fuel_surcharge_fen BIGINT, insurance_fen BIGINT,
    free_children INTEGER, sold_ms BIGINT, channel VARCHAR, seller VARCHAR, device VARCHAR,
    shift_id VARCHAR, pay_method VARCHAR, hold_id VARCHAR, order_id VARCHAR,
    passenger VARCHAR, buyer VARCHAR, changed_from VARCHAR,
    refunded_ms BIGINT, refund_fen BIGINT, refund_fee_fen BIGINT, refund_shift_id VARCHAR,
    changed_ms BIGINT, changed_to VARCHAR, voided_ms BIGINT, void_shift_id VARCHAR,
    checked_in_ms BIGINT, gate_id VARCHAR,
    km INTEGER                      -- the distance of the ticket's segment (NULL: the trip's unknown)
);
CREATE TABLE IF NOT EXISTS orders (
    order_id VARCHAR PRIMARY KEY, trip_id VARCHAR, method VARCHAR, amount_fen BIGINT, created_ms BIGINT,
    buyer VARCHAR, shift_id VARCHAR, channel VARCHAR, seller VARCHAR, device VARCHAR,
    ticketed_ms BIGINT, expired_ms BIGINT, cancelled_ms BIGINT
);
CREATE TABLE IF NOT EXISTS payments (
    order_id VARCHAR, provider_txn_id VARCHAR, method VARCHAR, amount_fen BIGINT, paid_ms BIGINT
);
CREATE TABLE IF NOT EXISTS refunds (
    refund_no VARCHAR PRIMARY KEY, order_id VARCHAR, method VARCHAR, provider_txn_id VARCHAR,
    tickets INTEGER, amount_fen BIGINT, fee_fen BIGINT, requested_ms BIGINT, why VARCHAR, settled_ms BIGINT
);
CREATE TABLE IF NOT EXISTS shifts (
    shift_id VARCHAR PRIMARY KEY, seller VARCHAR, counter_id VARCHAR, opened_ms BIGINT, closed_ms BIGINT,
    -- the handover slip's totals, as the accounts owner recorded them at close (ShiftClosed)
    sold_count INTEGER, sold_fen BIGINT, refunded_count INTEGER, refunded_fen BIGINT, refund_fees_fen BIGINT,
    voided_count INTEGER, voided_fen BIGINT, changed_count INTEGER, changed_fen BIGINT,
    expected_cash_fen BIGINT, counted_cash_fen BIGINT
);
CREATE TABLE IF NOT EXISTS shift_methods (
    shift_id VARCHAR, method VARCHAR, sold_fen BIGINT, voided_fen BIGINT, refunded_fen BIGINT,
    changed_fen BIGINT, net_fen BIGINT
);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS holds (
    hold_id VARCHAR PRIMARY KEY, trip_id VARCHAR, seats INTEGER, placed_ms BIGINT, buyer VARCHAR,
    channel VARCHAR, seller VARCHAR, device VARCHAR, for_move VARCHAR,
    order_id VARCHAR, released_ms BIGINT, expired_ms BIGINT
);
CREATE TABLE IF NOT EXISTS funnel_events (  -- from the gateway, not the logs (persistence/behaviour.py)
    at_ms BIGINT, kind VARCHAR, channel VARCHAR, session VARCHAR, from_station VARCHAR, to_station VARCHAR,
    travel_date VARCHAR, trip_id VARCHAR, results INTEGER, sold_out BOOLEAN, sample_rate DOUBLE
);
CREATE OR REPLACE VIEW ticket_states AS
    SELECT *, CASE WHEN voided_ms IS NOT NULL THEN 'voided' WHEN changed_ms IS NOT NULL THEN 'changed'
                   WHEN refunded_ms IS NOT NULL THEN 'refunded' WHEN checked_in_ms IS NOT NULL THEN 'checked_in'
                   ELSE 'sold' END AS state
    FROM tickets;
"""
TABLES = (
    "positions",
    "trips",
    "tickets",
    "orders",
    "payments",
    "refunds",
    "shifts",
    "shift_methods",
    "holds",
    *settlement.TABLES,
)
# The store's layout.  A store of an older layout is emptied and projected again from the logs
# when it is opened (2: stop distances, ticket km, the slips' totals; 3: holds).
SCHEMA_VERSION = "3"
# Tables made from the owners' logs are emptied by a rebuild; these are not in the logs and are kept.
KEPT_TABLES = ("funnel_events",)
TICKET_COLUMNS = (
    "ticket_id trip_id from_stop to_stop from_station to_station seat ticket_type price_fen base_fen service_fee_fen "
    "fuel_surcharge_fen insurance_fen free_children sold_ms channel seller device shift_id pay_method hold_id "
    "order_id passenger buyer changed_from km"
).split()


class ReportStoreError(Exception):
    """The reporting store cannot be opened or used (held by a running server, damaged)."""


def store_path(data_dir: Path) -> Path:
    return data_dir / STORE_DIR / STORE_FILE


def owner_directories(data_dir: Path) -> list[tuple[str, Path]]:
    """(name, directory) of every owner whose log is projected: the trip shards and the accounts."""
    owners = [(f"shards/{d.name}", d) for d in sorted((data_dir / "shards").glob("[0-9]" * 4)) if d.is_dir()]
    if (data_dir / "accounts").is_dir():
        owners.append(("accounts", data_dir / "accounts"))
    return owners


# --- reading the logs ---------------------------------------------------------------------------


@dataclass
class LogRecord:
    lsn: int
    crc: int
    now_ms: int
    entries: tuple[Any, ...]


def owner_segments(owner_dir: Path) -> list[Path]:
    """An owner's segments in LSN order: the archived ones, then the live ones (a segment being
    moved meanwhile may appear in both; the live copy is dropped)."""
    by_name = {path.name: path for path in segments(owner_dir / "wal")}
    by_name.update({path.name: path for path in segments(owner_dir / ARCHIVE_DIR)})
    return [by_name[name] for name in sorted(by_name)]


def _tail(path: Path, start: int) -> tuple[int, bytes] | None:
    """The bytes of a segment from `start` (at least past its header), read without the part
    before it: a poll reads only what was appended since.  None for a segment gone or not begun."""
    try:
        with open(path, "rb") as file:
            head = file.read(len(MAGIC))
            if len(head) < len(MAGIC):
                return None
            if head != MAGIC:
                raise WalCorruption(path, 0, "not a Keyun log segment of this format")
            offset = max(start, len(MAGIC))
            file.seek(offset)
            return offset, file.read()
    except FileNotFoundError:
        return None


def _frames(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(start, end, checksum) of each whole frame of `data`; stops at the first incomplete one
    (an owner may be writing it)."""
    offset = 0
    while offset + FRAME.size <= len(data):
        length, checksum = FRAME.unpack_from(data, offset)
        end = offset + FRAME.size + length
        if length == 0 or length > MAX_RECORD_BYTES or end > len(data):
            return
        yield offset + FRAME.size, end, checksum
        offset = end


def read_records(path: Path, start: int = len(MAGIC)) -> Iterator[tuple[int, LogRecord]]:
    """(end offset in the file, record) of each whole, checksummed record of a segment from
    `start`; stops at the first incomplete one."""
    tail = _tail(path, start)
    if tail is None:
        return
    base, data = tail
    for begin, end, checksum in _frames(data):
        payload = data[begin:end]
        if zlib.crc32(payload) != checksum:
            return
        lsn, now_ms, entries = decode_payload(payload)
        yield base + end, LogRecord(lsn, checksum, now_ms, entries)


def count_records(path: Path, start: int = len(MAGIC)) -> int:
    """Whole records of a segment from `start`, counted by their frames without decoding them."""
    tail = _tail(path, start)
    return 0 if tail is None else sum(1 for _ in _frames(tail[1]))


# --- turning events into rows -------------------------------------------------------------------


@dataclass
class Rows:
    """The rows a run of records makes, applied in one transaction."""

    trips: list[tuple] = field(default_factory=list)
    trip_updates: list[tuple[str, str, tuple]] = field(default_factory=list)  # (column set sql, key, values)
    tickets: dict[str, list] = field(default_factory=dict)
    ticket_updates: list[tuple[str, tuple]] = field(default_factory=list)  # (update sql, params)
    orders: dict[str, list] = field(default_factory=dict)
    updates: list[tuple[str, tuple]] = field(default_factory=list)  # any other update, in order
    payments: list[tuple] = field(default_factory=list)
    refunds: list[tuple] = field(default_factory=list)
    shifts: list[tuple] = field(default_factory=list)
    shift_methods: list[tuple] = field(default_factory=list)
    holds: dict[str, list] = field(default_factory=dict)
    events: int = 0


# A trip's stop codes and each stop's km from the first (empty when the trip's spec had none).
TripStops = tuple[tuple[str, ...], tuple[int, ...]]


class Projection:
    """Folds journal entries into Rows.  `stops`: each trip's stop codes and km, kept by the store
    across runs (a sale names its stops by index); `stops_of` looks a trip up in the store otherwise."""

    def __init__(
        self,
        pseudonym: Callable[[str], str],
        stops_of: Callable[[str], TripStops],
        stops: dict[str, TripStops],
    ):
        self.pseudonym = pseudonym
        self.stops_of = stops_of
        self.stops = stops
        self.now_ms = 0  # the time of the record being folded

    def record(self, record: LogRecord, rows: Rows) -> None:
        last: list[tuple[str, str]] = []  # rows the previous entry made: ("ticket"|"order"|"hold", id)
        self.now_ms = record.now_ms  # a hold's events carry no time of their own: the record's
        for entry in record.entries:
            if type(entry) is AuditNote:
                self._attribute(entry.record, last, rows)
                last = []
                continue
            last = []
            for event in getattr(entry, "events", ()):
                rows.events += 1
                self._event(event, entry, rows, last)

    def _attribute(self, values: tuple, made: list[tuple[str, str]], rows: Rows) -> None:
        """The audit record following an entry says who made it: the seller, device and channel."""
        if not made:
            return
        _at, _rid, actor, role, device, _station, _source, action, _target, outcome, *_ = values
        if outcome != "OK" or not action.startswith(ATTRIBUTED_ACTIONS):
            return
        for kind, key in made:
            table, columns = {
                "ticket": (rows.tickets, TICKET_COLUMNS),
                "order": (rows.orders, ORDER_COLUMNS),
                "hold": (rows.holds, HOLD_COLUMNS),
            }[kind]
            row = table.get(key)
            if row is None:
                continue
            method_column = {"ticket": "pay_method", "order": "method"}.get(kind)
            method = (row[columns.index(method_column)] if method_column else "") or ""
            staff = "passenger" not in role.split(",")
            row[columns.index("channel")] = channel_of(role, method)
            row[columns.index("seller")] = actor if staff else ""
            row[columns.index("device")] = device

    def _event(self, event: Any, entry: Any, rows: Rows, made: list[tuple[str, str]]) -> None:
        kind = type(event)
        if kind is ev.TripScheduled:
            spec = event.spec
            codes = tuple(stop.code for stop in spec.stops)
            self.stops[spec.trip_id] = (codes, spec.stop_km)
            rows.trips.append(
                (
                    spec.trip_id,
                    spec.schedule_id,
                    spec.route_id,
                    spec.route_name,
                    spec.operator_id,
                    spec.operator_name,
                    spec.vehicle_name,
                    spec.departs_at_ms,
                    local_date(spec.departs_at_ms),
                    len(spec.seat_labels),
                    ",".join(codes),
                    ",".join(str(km) for km in spec.stop_km),
                )
            )
        elif kind is ev.TicketsIssued:
            self._issued(event, rows, made)
        elif kind in (ev.HoldPlaced, ev.HoldReleased, ev.HoldExpired):
            self._hold_event(event, rows, made)
        elif kind is ev.TicketRefunded:
            rows.ticket_updates.append(
                (
                    "UPDATE tickets SET refunded_ms = ?, refund_fen = ?, refund_fee_fen = ?, refund_shift_id = ? "
                    "WHERE ticket_id = ?",
                    (event.at_ms, event.refund_fen, event.fee_fen, event.shift_id, event.ticket_id),
                )
            )
        elif kind is ev.TicketChanged:
            rows.ticket_updates.append(
                (
                    "UPDATE tickets SET changed_ms = ?, changed_to = ? WHERE ticket_id = ?",
                    (event.at_ms, event.new_ticket_id, event.ticket_id),
                )
            )
            rows.ticket_updates.append((INHERIT_SALE, (event.new_ticket_id,)))
        elif kind is ev.TicketVoided:
            rows.ticket_updates.append(
                (
                    "UPDATE tickets SET voided_ms = ?, void_shift_id = ? WHERE ticket_id = ?",
                    (event.at_ms, event.shift_id, event.ticket_id),
                )
            )
        elif kind is ev.TicketCheckedIn:
            rows.ticket_updates.append(
                (
                    "UPDATE tickets SET checked_in_ms = ?, gate_id = ? WHERE ticket_id = ? AND checked_in_ms IS NULL",
                    (event.at_ms, event.gate_id, event.ticket_id),
                )
            )
        elif kind in (ev.TripDeparted, ev.TripCancelled):
            column = "departed_ms" if kind is ev.TripDeparted else "cancelled_ms"
            rows.updates.append((f"UPDATE trips SET {column} = ? WHERE trip_id = ?", (event.at_ms, event.trip_id)))
        elif kind is ev.TripDelayed:
            rows.updates.append(("UPDATE trips SET delay_ms = ? WHERE trip_id = ?", (event.delay_ms, event.trip_id)))
        elif kind is ev.VehicleChanged:  # another coach (Dispatch/ChangeVehicle): its seats, the tickets' new ones
            rows.updates.append(("UPDATE trips SET seats = ? WHERE trip_id = ?", (event.seat_count, event.trip_id)))
            if event.vehicle_name:
                rows.updates.append(
                    ("UPDATE trips SET vehicle_name = ? WHERE trip_id = ?", (event.vehicle_name, event.trip_id))
                )
            for ticket_id, _, seat in event.reseated:
                rows.ticket_updates.append(("UPDATE tickets SET seat = ? WHERE ticket_id = ?", (seat, ticket_id)))
        else:
            self._order_event(event, rows, made)

    def _issued(self, event: ev.TicketsIssued, rows: Rows, made: list[tuple[str, str]]) -> None:
        stops, stop_km = self.stops.get(event.trip_id) or self.stops_of(event.trip_id)
        km = segment_km(stop_km, event.from_stop, event.to_stop)
        counter = event.counter
        for ticket in event.tickets:
            fare = ticket.fare
            holder = ticket.holder
            row = [
                ticket.ticket_id,
                event.trip_id,
                event.from_stop,
                event.to_stop,
                stops[event.from_stop] if event.from_stop < len(stops) else "",
                stops[event.to_stop] if event.to_stop < len(stops) else "",
                ticket.seat,
                fare.ticket_type if fare else "full",
                ticket.price_fen,
                fare.base_fen if fare else ticket.price_fen,
                fare.service_fee_fen if fare else 0,
                fare.fuel_surcharge_fen if fare else 0,
                fare.insurance_fen if fare else 0,
                1 if fare is not None and fare.free_child is not None else 0,
                event.at_ms,
                "",  # channel, seller, device: from the call's audit record (_attribute)
                "",
                "",
                counter.shift_id if counter else "",
                counter.pay_method if counter else "",
                event.hold_id,
                "",  # order_id: set by OrderTicketed
                self.pseudonym(passenger_key(holder, event.buyer)),
                self.pseudonym(f"account:{event.buyer}") if event.buyer else "",
                event.changed_from,
                km,
            ]
            rows.tickets[ticket.ticket_id] = row
            made.append(("ticket", ticket.ticket_id))
            if event.changed_from:
                rows.ticket_updates.append((INHERIT_SALE, (ticket.ticket_id,)))

    def _hold_event(self, event: Any, rows: Rows, made: list[tuple[str, str]]) -> None:
        """Holds, for the booking funnel (persistence/behaviour.py): placed, by whom (the audit
        record, as for tickets), and whether they ended in an order or expired."""
        kind = type(event)
        if kind is ev.HoldPlaced:
            buyer = self.pseudonym(f"account:{event.buyer}") if event.buyer else ""
            row = [event.hold_id, event.trip_id, len(event.seats), self.now_ms, buyer, "", "", "", event.for_move]
            rows.holds[event.hold_id] = row
            made.append(("hold", event.hold_id))
        else:
            column = "released_ms" if kind is ev.HoldReleased else "expired_ms"
            rows.updates.append((f"UPDATE holds SET {column} = ? WHERE hold_id = ?", (self.now_ms, event.hold_id)))

    def _order_event(self, event: Any, rows: Rows, made: list[tuple[str, str]]) -> None:
        kind = type(event)
        if kind is ev.OrderCreated:
            rows.updates.append(("UPDATE holds SET order_id = ? WHERE hold_id = ?", (event.order_id, event.hold_id)))
            rows.orders[event.order_id] = [
                event.order_id,
                event.trip_id,
                event.method,
                event.amount_fen,
                event.at_ms,
                self.pseudonym(f"account:{event.buyer}") if event.buyer else "",
                event.shift_id,
                "",
                "",
                "",
            ]
            made.append(("order", event.order_id))
        elif kind is ev.PaymentRecorded:
            p = event.payment
            rows.payments.append((event.order_id, p.provider_txn_id, p.method, p.amount_fen, p.paid_at_ms))
        elif kind is ev.OrderTicketed:
            rows.updates.append(("UPDATE orders SET ticketed_ms = ? WHERE order_id = ?", (event.at_ms, event.order_id)))
            # The order's tickets take its method, channel, seller and device (they were sold by its CreateOrder).
            rows.ticket_updates.append(
                (
                    "UPDATE tickets SET order_id = o.order_id, pay_method = o.method, channel = o.channel, "
                    "seller = o.seller, device = o.device, shift_id = CASE WHEN tickets.shift_id = '' "
                    "THEN o.shift_id ELSE tickets.shift_id END FROM orders o WHERE o.order_id = ? "
                    "AND list_contains(?, tickets.ticket_id)",
                    (event.order_id, list(event.ticket_ids)),
                )
            )
        elif kind in (ev.OrderExpired, ev.OrderCancelled):
            column = "expired_ms" if kind is ev.OrderExpired else "cancelled_ms"
            rows.updates.append((f"UPDATE orders SET {column} = ? WHERE order_id = ?", (event.at_ms, event.order_id)))
        elif kind is ev.RefundRequested:
            r = event.refund
            rows.refunds.append(
                (
                    r.refund_no,
                    event.order_id,
                    r.method,
                    r.provider_txn_id,
                    len(r.ticket_ids),
                    r.amount_fen,
                    r.fee_fen,
                    r.requested_at_ms,
                    r.why,
                )
            )
        elif kind is ev.RefundSettled:
            rows.updates.append(
                ("UPDATE refunds SET settled_ms = ? WHERE refund_no = ?", (event.at_ms, event.refund_no))
            )
        elif kind is ShiftOpened:
            rows.shifts.append((event.shift_id, event.account_id, event.counter_id, event.at_ms))
        elif kind is ShiftClosed:
            self._shift_closed(event, rows)
        elif kind in st.SETTLEMENT_EVENTS:  # contracts, locks, adjustments (persistence/settlement.py)
            settlement.project(event, rows.updates)

    def _shift_closed(self, event: ShiftClosed, rows: Rows) -> None:
        """The slip's totals, kept to reconcile against the tickets (the shift report)."""
        slip = event.slip
        rows.updates.append(
            (
                "UPDATE shifts SET closed_ms = ?, sold_count = ?, sold_fen = ?, refunded_count = ?, refunded_fen = ?, "
                "refund_fees_fen = ?, voided_count = ?, voided_fen = ?, changed_count = ?, changed_fen = ?, "
                "expected_cash_fen = ?, counted_cash_fen = ? WHERE shift_id = ?",
                (
                    slip.closed_at_ms,
                    slip.sold_count,
                    slip.sold_fen,
                    slip.refunded_count,
                    slip.refunded_fen,
                    slip.refund_fees_fen,
                    slip.voided_count,
                    slip.voided_fen,
                    slip.changed_count,
                    slip.changed_fen,
                    slip.expected_cash_fen,
                    slip.counted_cash_fen,
                    event.shift_id,
                ),
            )
        )
        for m in slip.methods:
            rows.shift_methods.append(
                (event.shift_id, m.method, m.sold_fen, m.voided_fen, m.refunded_fen, m.changed_fen, m.net_fen)
            )


# A rebooking's new ticket is issued by the saga, whose calls carry no audit record: it counts in
# the channel, and for the seller and device, of the ticket it replaced.  Applied both when the new
# ticket is projected and when the old one's change is, whichever owner's log is read first.
INHERIT_SALE = (
    "UPDATE tickets SET channel = old.channel, seller = old.seller, device = old.device "
    "FROM tickets old WHERE tickets.ticket_id = ? AND old.ticket_id = tickets.changed_from AND tickets.channel = ''"
)
ORDER_COLUMNS = "order_id trip_id method amount_fen created_ms buyer shift_id channel seller device".split()
HOLD_COLUMNS = "hold_id trip_id seats placed_ms buyer channel seller device for_move".split()


def segment_km(stop_km: tuple[int, ...], from_stop: int, to_stop: int) -> int | None:
    """The km between two stops of a trip; None when its spec carried no distances."""
    if not 0 <= from_stop < to_stop < len(stop_km):
        return None
    return stop_km[to_stop] - stop_km[from_stop]


def passenger_key(holder: ev.Holder | None, buyer: str) -> str:
    """What identifies a ticket's passenger, before it is made a pseudonym: the document's blind
    index (the same person whichever account or counter bought), else the frequent passenger, else
    the buying account; "" for an anonymous ticket."""
    if holder is not None:
        if holder.document_index:
            return "document:" + holder.document_index.hex()
        if holder.passenger_id:
            return f"passenger:{holder.account_id}:{holder.passenger_id}"
    return f"account:{buyer}" if buyer else ""


UTC_OFFSET_MS = 8 * 3_600_000  # the station's local time (Beijing) for dates


def local_date(at_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime((at_ms + UTC_OFFSET_MS) // 1000))


# --- the store ----------------------------------------------------------------------------------


@dataclass
class OwnerPosition:
    owner: str
    lsn: int = 0
    crc: int = 0
    records: int = 0
    events: int = 0
    gaps: int = 0
    # Where reading goes on: the segment and the offset after the last record read (not durable).
    segment: Path | None = None
    offset: int = 0


@dataclass
class CatchUp:
    records: int = 0
    events: int = 0
    behind: dict[str, int] = field(default_factory=dict)  # owner -> records on disk not yet projected


class ReportStore:
    """The DuckDB reporting store of one data directory; one process writes it at a time."""

    def __init__(self, data_dir: Path, keyring: Keyring | None, read_only: bool = False):
        self.data_dir = data_dir
        path = store_path(data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            raise ReportStoreError(
                f"{path} is in use ({error}); stop the server first, or ask it (keyun report status)"
            ) from None
        if not read_only:
            os.chmod(path, 0o600)
            self._upgrade()
            self.db.execute(SCHEMA)
            self.db.execute(settlement.SCHEMA)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", [SCHEMA_VERSION])
        self.keyring = keyring
        self.positions = self._load_positions()
        self.stops: dict[str, TripStops] = {}  # trip id -> stop codes and km (Projection)

    def close(self) -> None:
        self.db.close()

    def pseudonym(self, key: str) -> str:
        if not key:
            return ""
        if self.keyring is None:
            raise ReportStoreError("the station's keys are needed to project passengers as pseudonyms")
        return self.keyring.blind_index(key, PSEUDONYM_CONTEXT)[:12].hex()

    def _upgrade(self) -> None:
        """A store of an older layout lacks columns its rows could not fill: drop its tables, so
        that the projector reads every log again from the start (as `keyun report rebuild`)."""
        tables = {row[0] for row in self.db.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "positions" not in tables:
            return  # a new store
        version = None
        if "meta" in tables:
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            version = row[0] if row else None
        if version == SCHEMA_VERSION:
            return
        log.warning("reports: the store's layout is older (%s): projecting every log again", version or "1")
        self.db.execute("DROP VIEW IF EXISTS ticket_states")
        for table in (*TABLES, "meta"):
            self.db.execute(f"DROP TABLE IF EXISTS {table}")

    def _load_positions(self) -> dict[str, OwnerPosition]:
        rows = self.db.execute("SELECT owner, lsn, crc, records, events, gaps FROM positions").fetchall()
        return {row[0]: OwnerPosition(*row) for row in rows}

    def _stops_of(self, trip_id: str) -> TripStops:
        """A trip's stop codes and km from the store, remembered: one query per trip, not per sale."""
        row = self.db.execute("SELECT stops, stop_km FROM trips WHERE trip_id = ?", [trip_id]).fetchone()
        codes = tuple(row[0].split(",")) if row and row[0] else ()
        kms = tuple(int(km) for km in row[1].split(",")) if row and row[1] else ()
        if codes:
            self.stops[trip_id] = (codes, kms)
        return codes, kms

    # -- projecting ------------------------------------------------------------------------

    def catch_up(
        self, limit: int = MAX_RECORDS_PER_COMMIT, progress: Callable[[str, int], None] | None = None
    ) -> CatchUp:
        """Project every owner's records written since the last call, committing runs of at most
        `limit` records; return what was done and how far each owner is still behind."""
        done = CatchUp()
        for owner, directory in owner_directories(self.data_dir):
            position = self.positions.setdefault(owner, OwnerPosition(owner))
            while True:
                run = self._read_run(position, directory, limit)
                if not run:
                    break
                events = self._commit(position, run)
                done.records += len(run)
                done.events += events
                if progress is not None:
                    progress(owner, position.lsn)
                if len(run) < limit:
                    break
        return done

    def behind(self) -> dict[str, int]:
        """Records each owner has on disk that are not projected yet: counted from where reading
        stopped, by their frames (what was appended since, not the whole log)."""
        result = {}
        for owner, directory in owner_directories(self.data_dir):
            position = self.positions.get(owner, OwnerPosition(owner))
            paths = owner_segments(directory)
            if position.segment is None or not _same_segment_exists(position.segment, paths):
                position.segment, position.offset = self._locate(position, paths)
            if position.segment is None:
                result[owner] = 0
                continue
            later = [p for p in paths if p.name > position.segment.name]
            current = _current_path(position.segment, directory)
            result[owner] = count_records(current, position.offset) + sum(count_records(p) for p in later)
        return result

    def _read_run(self, position: OwnerPosition, directory: Path, limit: int) -> list[tuple[Path, int, LogRecord]]:
        """Up to `limit` records after the owner's position, in order, with where each ends."""
        paths = owner_segments(directory)
        if position.segment is None or not _same_segment_exists(position.segment, paths):
            position.segment, position.offset = self._locate(position, paths)
        if position.segment is None:
            return []
        run: list[tuple[Path, int, LogRecord]] = []
        later = [p for p in paths if p.name > position.segment.name]
        current, offset = position.segment, position.offset
        expected = position.lsn + 1
        while len(run) < limit:
            for end, record in read_records(_current_path(current, directory), offset):
                if record.lsn < expected:
                    offset = end
                    continue
                if record.lsn > expected:  # records retired before they were read
                    self._gap(position, expected, record.lsn)
                    expected = record.lsn
                run.append((current, end, record))
                expected += 1
                offset = end
                if len(run) >= limit:
                    break
            if len(run) >= limit or not later:
                break
            # The segment is done only once a later one exists (the owner writes the last).
            current, offset = later.pop(0), len(MAGIC)
        return run

    def _gap(self, position: OwnerPosition, expected: int, found: int) -> None:
        """Records retired and not archived (a log compacted, a data directory restored from a
        backup): counted and logged, never skipped silently."""
        position.gaps += found - expected
        log.error(
            "reports: %s's log has no records %d..%d (retired before they were projected); "
            "they are missing from the reports",
            position.owner,
            expected,
            found - 1,
        )

    def _locate(self, position: OwnerPosition, paths: list[Path]) -> tuple[Path | None, int]:
        """Where reading goes on after the position: the segment and the offset just past the
        projected record, whose checksum is checked on the way (a power cut may have lost it from
        the log: then rebuild).  Past a gap, the offset of the first record after it."""
        if not paths:
            return None, 0
        if not position.lsn:
            return paths[0], len(MAGIC)
        firsts = [int(p.stem) for p in paths]
        index = max((n for n, first in enumerate(firsts) if first <= position.lsn), default=0)
        for path in paths[index:]:
            previous_end = len(MAGIC)
            for end, record in read_records(path):
                if record.lsn == position.lsn:
                    if record.crc != position.crc:
                        raise ProjectedRecordLost(position.owner, position.lsn)
                    return path, end
                if record.lsn > position.lsn:
                    return path, previous_end
                previous_end = end
        return paths[-1], len(MAGIC)  # every record on disk is older: reading skips them

    def _commit(self, position: OwnerPosition, run: list[tuple[Path, int, LogRecord]]) -> int:
        rows = Rows()
        projection = Projection(self.pseudonym, self._stops_of, self.stops)
        for _, _, record in run:
            projection.record(record, rows)
        last_path, last_end, last = run[-1]
        self.db.execute("BEGIN TRANSACTION")
        try:
            self._apply(rows)
            self.db.execute(
                "INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    position.owner,
                    last.lsn,
                    last.crc,
                    position.records + len(run),
                    position.events + rows.events,
                    position.gaps,
                    int(time.time() * 1000),
                ],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            position.segment = None  # read the run again from the durable position
            raise
        position.lsn, position.crc = last.lsn, last.crc
        position.records += len(run)
        position.events += rows.events
        position.segment, position.offset = last_path, last_end
        return rows.events

    def _apply(self, rows: Rows) -> None:
        _insert(self.db, "trips", rows.trips)
        _insert(self.db, "tickets", [tuple(r) for r in rows.tickets.values()])
        _insert(self.db, "orders", [tuple(r) for r in rows.orders.values()])
        _insert(self.db, "payments", rows.payments)
        _insert(self.db, "refunds", rows.refunds)
        _insert(self.db, "shifts", rows.shifts)
        _insert(self.db, "shift_methods", rows.shift_methods)
        _insert(self.db, "holds", [tuple(r) for r in rows.holds.values()])
        for sql, params in rows.updates:
            self.db.execute(sql, list(params))
        for sql, params in rows.ticket_updates:
            self.db.execute(sql, list(params))

    def rebuild(self, progress: Callable[[str, int], None] | None = None) -> CatchUp:
        """Empty every table and project every owner's whole log again."""
        self.db.execute("BEGIN TRANSACTION")
        for table in TABLES:
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("COMMIT")
        self.positions = {}
        self.stops = {}
        return self.catch_up(progress=progress)

    def export(self, target: Path) -> list[Path]:
        """Every table as a Parquet file in `target`; return the files written."""
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for table in (*TABLES, *KEPT_TABLES):
            path = target / f"{table}.parquet"
            self.db.execute(f"COPY {table} TO '{_sql_path(path)}' (FORMAT parquet)")
            written.append(path)
        return written

    # -- reading ---------------------------------------------------------------------------

    def status(self) -> list[dict]:
        behind = self.behind()
        return [
            {
                "owner": owner,
                "lsn": position.lsn,
                "records": position.records,
                "events": position.events,
                "gaps": position.gaps,
                "behind": behind.get(owner, 0),
            }
            for owner, position in sorted(self.positions.items())
        ]

    def settlement_sheet(self, operator_id: str, from_date: str, to_date: str, as_of_ms: int | None) -> dict:
        return settlement.sheet(self.db, operator_id, from_date, to_date, as_of_ms)

    def settlement_lines(
        self, operator_id: str, from_date: str, to_date: str, offset: int, limit: int
    ) -> tuple[list[dict], int]:
        return settlement.lines_page(self.db, operator_id, from_date, to_date, offset, limit)

    def sales(self, query: SalesQuery) -> tuple[list[dict], int]:
        """One page of the sales report and the total number of groups."""
        return sales_report(self.db, query)

    def load(self, query: LoadQuery) -> tuple[list[dict], int]:
        """One page of the load report and its number of lines (persistence/load_reports.py)."""
        return load_report(self.db, query)

    def shifts(self, query: ShiftQuery) -> tuple[list[dict], int]:
        """One page of closed shifts reconciled against their tickets, and their count."""
        return shift_report(self.db, query)

    def record_funnel(self, batch: list[tuple], max_rows: int) -> int:
        """Append the gateway's funnel events (persistence/behaviour.py); return rows pruned."""
        from .behaviour import record_funnel

        return record_funnel(self.db, batch, max_rows)

    def funnel(self, from_ms: int, to_ms: int, offset_ms: int, channel: str) -> list[dict]:
        from .behaviour import funnel_report

        return funnel_report(self.db, from_ms, to_ms, offset_ms, channel)

    def behaviour(self, from_ms: int, to_ms: int, offset_ms: int, sections: tuple[str, ...]) -> dict:
        from .behaviour import behaviour_report

        return behaviour_report(self.db, from_ms, to_ms, offset_ms, sections)


class ProjectedRecordLost(Exception):
    def __init__(self, owner: str, lsn: int):
        super().__init__(f"{owner}'s log no longer holds record {lsn} as projected: the reports must be rebuilt")


def _same_segment_exists(segment: Path, paths: list[Path]) -> bool:
    return any(p.name == segment.name for p in paths)


def _current_path(segment: Path, owner_dir_or_wal: Path) -> Path:
    """A segment read from wal/ may have been moved to wal-archive/ since (or back): its current path."""
    if segment.exists():
        return segment
    owner = segment.parent.parent
    for folder in ("wal", ARCHIVE_DIR):
        candidate = owner / folder / segment.name
        if candidate.exists():
            return candidate
    return segment


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


INSERTED_COLUMNS = {
    "trips": "trip_id schedule_id route_id route_name operator_id operator_name vehicle_name departs_at_ms "
    "service_date seats stops stop_km".split(),
    "tickets": TICKET_COLUMNS,
    "orders": ORDER_COLUMNS,
    "payments": "order_id provider_txn_id method amount_fen paid_ms".split(),
    "refunds": "refund_no order_id method provider_txn_id tickets amount_fen fee_fen requested_ms why".split(),
    "shifts": "shift_id seller counter_id opened_ms".split(),
    "shift_methods": "shift_id method sold_fen voided_fen refunded_fen changed_fen net_fen".split(),
    "holds": HOLD_COLUMNS,
}


def _insert(db: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Insert rows as one statement of column lists unnested side by side: DuckDB binds a list
    parameter at once, where executemany or multi-row VALUES bind value by value (projecting
    16,000 sales took 34 s that way, against about 1 s so)."""
    if not rows:
        return
    columns = INSERTED_COLUMNS[table]
    values = {f"c{n}": list(column) for n, column in enumerate(zip(*rows))}
    unnested = ", ".join(f"unnest($c{n})" for n in range(len(columns)))
    db.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {unnested}", values)


# --- the sales report ---------------------------------------------------------------------------

GROUPS = {
    "day": "strftime(epoch_ms(m.at_ms + {offset}), '%Y-%m-%d')",
    "route": "coalesce(r.route_id, '')",
    "trip": "m.trip_id",
    "operator": "coalesce(r.operator_id, '')",
    "seller": "m.seller",
    "device": "m.device",
    "channel": "m.channel",
    "ticket_type": "m.ticket_type",
    "service_date": "coalesce(CAST(r.service_date AS VARCHAR), '')",
}
MEASURES = (
    "tickets",
    "passengers",
    "revenue_fen",
    "base_fen",
    "service_fee_fen",
    "fuel_surcharge_fen",
    "insurance_fen",
    "refunds",
    "refund_fen",
    "refund_fee_fen",
    "changes",
    "changed_fen",
    "voids",
    "voided_fen",
    "checked_in",
    "net_fen",
    "passenger_km",
    "no_shows",
    "no_show_fen",
)


@dataclass(frozen=True)
class SalesQuery:
    group_by: tuple[str, ...]
    from_ms: int  # inclusive
    to_ms: int  # exclusive
    offset: int = 0
    limit: int = 100
    utc_offset_ms: int = UTC_OFFSET_MS


def sales_report(db: duckdb.DuckDBPyConnection, query: SalesQuery) -> tuple[list[dict], int]:
    """Each measure counts what happened in [from, to): sales at their sale time, refunds, changes,
    voids and check-ins at theirs.  Grouped by ticket attributes (the sale's channel and seller)
    and, for `day`, by the local day each movement happened."""
    keys = [GROUPS[name].format(offset=int(query.utc_offset_ms)) for name in query.group_by]
    key_sql = ", ".join(f"{expr} AS k{n}" for n, expr in enumerate(keys)) or "'all' AS k0"
    group_sql = ", ".join(f"k{n}" for n in range(max(1, len(keys))))
    movements = " UNION ALL ".join(
        f"SELECT t.*, '{kind}' AS kind, {column} AS at_ms FROM tickets t WHERE {column} IS NOT NULL"
        for kind, column in (
            ("sale", "sold_ms"),
            ("refund", "refunded_ms"),
            ("change", "changed_ms"),
            ("void", "voided_ms"),
            ("check_in", "checked_in_ms"),
        )
    )
    # A no-show (漏乘): a ticket still only sold when its trip departed, counted at the departure.
    movements += (
        " UNION ALL SELECT t.*, 'no_show' AS kind, r.departed_ms AS at_ms FROM tickets t JOIN trips r "
        "ON r.trip_id = t.trip_id WHERE r.departed_ms IS NOT NULL AND t.voided_ms IS NULL AND t.changed_ms IS NULL "
        "AND t.refunded_ms IS NULL AND t.checked_in_ms IS NULL"
    )
    sql = f"""
        WITH m AS ({movements}),
        g AS (
            SELECT {key_sql},
                count(*) FILTER (WHERE kind = 'sale') AS tickets,
                coalesce(sum(1 + free_children) FILTER (WHERE kind = 'sale'), 0) AS passengers,
                coalesce(sum(price_fen) FILTER (WHERE kind = 'sale'), 0) AS revenue_fen,
                coalesce(sum(base_fen) FILTER (WHERE kind = 'sale'), 0) AS base_fen,
                coalesce(sum(service_fee_fen) FILTER (WHERE kind = 'sale'), 0) AS service_fee_fen,
                coalesce(sum(fuel_surcharge_fen) FILTER (WHERE kind = 'sale'), 0) AS fuel_surcharge_fen,
                coalesce(sum(insurance_fen) FILTER (WHERE kind = 'sale'), 0) AS insurance_fen,
                count(*) FILTER (WHERE kind = 'refund') AS refunds,
                coalesce(sum(refund_fen) FILTER (WHERE kind = 'refund'), 0) AS refund_fen,
                coalesce(sum(refund_fee_fen) FILTER (WHERE kind = 'refund'), 0) AS refund_fee_fen,
                count(*) FILTER (WHERE kind = 'change') AS changes,
                coalesce(sum(price_fen) FILTER (WHERE kind = 'change'), 0) AS changed_fen,
                count(*) FILTER (WHERE kind = 'void') AS voids,
                coalesce(sum(price_fen) FILTER (WHERE kind = 'void'), 0) AS voided_fen,
                count(*) FILTER (WHERE kind = 'check_in') AS checked_in,
                coalesce(sum(coalesce(km, 0) * (1 + free_children)) FILTER (WHERE kind = 'sale'), 0) AS passenger_km,
                count(*) FILTER (WHERE kind = 'no_show') AS no_shows,
                coalesce(sum(price_fen) FILTER (WHERE kind = 'no_show'), 0) AS no_show_fen
            FROM m LEFT JOIN trips r ON r.trip_id = m.trip_id
            WHERE m.at_ms >= ? AND m.at_ms < ?
            GROUP BY {group_sql}
        )
        SELECT *, revenue_fen - refund_fen - changed_fen - voided_fen AS net_fen, count(*) OVER () AS total
        FROM g ORDER BY {group_sql} LIMIT ? OFFSET ?
    """
    cursor = db.execute(sql, [query.from_ms, query.to_ms, query.limit, query.offset])
    columns = [column[0] for column in cursor.description]
    rows, total = [], 0
    for row in cursor.fetchall():
        keyed = dict(zip(columns, row))
        group = {name: str(keyed[f"k{n}"]) for n, name in enumerate(query.group_by)}
        rows.append({"group": group, **{m: int(keyed[m]) for m in MEASURES}})
        total = int(keyed["total"])
    return rows, total  # a page past the last group has no rows, and says 0
