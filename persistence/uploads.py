"""The upload outbox: what is sent to the transport authority, kept in the reporting store
(docs/authority.md).

Records are made from the store's tables (master data, trips and departures, and every ticket
movement: sale, refund, change, void, check-in), each with a record id that names it for good
(`sale:T123`, `route:R1:<hash of its fields>`).  A batch is made from up to BATCH_RECORDS records
not sent yet, of one category, and gets a deterministic id: the SHA-256 of its record ids.  The
batch (its exact body) and the records it holds are written in ONE DuckDB transaction, so a crash
leaves both or neither; the next try makes the same batch with the same id.  Sending is at least
once: a batch waits in `upload_batches` until the platform acknowledges its id, and the platform
counts a batch id once (and each record id once).

The tables live in the reporting store's DuckDB file but are not projections: a rebuild of the
reports leaves them (reports.TABLES does not name them), and record ids do not change with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from keyun.common.authority_wire import TRANSACTION_TYPES, canonical

from .reports import DAY_MS, UTC_OFFSET_MS, local_date

BATCH_RECORDS = 500  # at most this many records in a near-real-time batch
CATEGORIES = ("master", "trips", "transactions")  # sent in this order: what a record refers to goes first

UPLOAD_SCHEMA = """
CREATE TABLE IF NOT EXISTS upload_batches (
    batch_id VARCHAR PRIMARY KEY,   -- deterministic: the category and the SHA-256 of its record ids
    kind VARCHAR NOT NULL,          -- 'batch' (records) or 'file' (a daily file)
    category VARCHAR NOT NULL,      -- master, trips, transactions; 'daily' for a file
    day VARCHAR,                    -- a file's (and a resent day's) local date
    records INTEGER NOT NULL,
    body VARCHAR NOT NULL,          -- the exact JSON sent, every time
    created_ms BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    next_try_ms BIGINT NOT NULL,
    last_error VARCHAR,
    acked_ms BIGINT,                -- when the platform acknowledged the id; NULL while waiting
    duplicate BOOLEAN               -- the platform had it already (a resend after a lost answer)
);
CREATE TABLE IF NOT EXISTS upload_records (
    record_id VARCHAR PRIMARY KEY,  -- 'sale:T1', 'checkin:T1', 'trip:X', 'operator:O:<hash>', ...
    batch_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS upload_reconciliations (
    day VARCHAR NOT NULL, checked_ms BIGINT NOT NULL, match BOOLEAN NOT NULL,
    station VARCHAR NOT NULL, platform VARCHAR NOT NULL, differences VARCHAR NOT NULL
);
"""


# Every ticket movement, one row each: what the station reports as it happens.
def _transactions_sql() -> str:
    # UNION ALL BY NAME needs the columns named alike in every part.
    parts = [
        ("sale", "sold_ms", "price_fen", "''", ""),
        ("refund", "refunded_ms", "refund_fen", "CAST(refund_fee_fen AS VARCHAR)", "refunded_ms"),
        ("change", "changed_ms", "price_fen", "changed_to", "changed_ms"),
        ("void", "voided_ms", "price_fen", "''", "voided_ms"),
        ("checkin", "checked_in_ms", "0", "gate_id", "checked_in_ms"),
    ]
    selects = [
        f"SELECT '{kind}:' || ticket_id AS record_id, '{kind}' AS type, {at} AS at_ms, {amount} AS amount_fen, "
        f"{detail} AS detail, ticket_id, trip_id, from_station, to_station, seat, ticket_type, price_fen, base_fen, "
        f"service_fee_fen, fuel_surcharge_fen, insurance_fen, free_children, channel, passenger FROM tickets"
        + (f" WHERE {present} IS NOT NULL" if present else "")
        for kind, at, amount, detail, present in parts
    ]
    return "SELECT * FROM (" + " UNION ALL ".join(selects) + ")"


TRANSACTIONS = _transactions_sql()
TRANSACTION_FIELDS = (
    "record_id type at_ms amount_fen detail ticket_id trip_id from_station to_station seat ticket_type price_fen "
    "base_fen service_fee_fen fuel_surcharge_fen insurance_fen free_children channel passenger"
).split()
DETAIL_NAMES = {"refund": "refund_fee_fen", "change": "changed_to", "checkin": "gate_id"}

TRIP_FIELDS = (
    "trip_id schedule_id route_id operator_id vehicle_name departs_at_ms service_date seats stops departed_ms "
    "cancelled_ms delay_ms"
).split()


def transaction_record(row: tuple) -> dict[str, Any]:
    record = dict(zip(TRANSACTION_FIELDS, row, strict=True))
    detail = record.pop("detail")
    if record["type"] in DETAIL_NAMES:
        value = detail or ""
        record[DETAIL_NAMES[record["type"]]] = int(value) if record["type"] == "refund" and value else value
    record["day"] = local_date(record["at_ms"])
    return record


def _digest(document: object) -> str:
    return hashlib.sha256(canonical(document)).hexdigest()[:16]


def master_records(db: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Stations, operators, vehicles, routes and schedules, as the trips name them.  A record's id
    carries a hash of its fields: a changed name is a new record, sent again."""
    records: list[dict[str, Any]] = []

    def add(kind: str, key: str, fields: dict[str, Any]) -> None:
        records.append({"record_id": f"{kind}:{key}:{_digest(fields)}", "type": kind, **fields})

    for operator_id, name in db.execute(
        "SELECT DISTINCT operator_id, operator_name FROM trips WHERE operator_id <> '' ORDER BY ALL"
    ).fetchall():
        add("operator", operator_id, {"operator_id": operator_id, "name": name})
    for route_id, name, stops in db.execute(
        "SELECT route_id, any_value(route_name), any_value(stops) FROM trips GROUP BY route_id ORDER BY route_id"
    ).fetchall():
        add("route", route_id, {"route_id": route_id, "name": name, "stops": (stops or "").split(",")})
    for (vehicle,) in db.execute(
        "SELECT DISTINCT vehicle_name FROM trips WHERE vehicle_name <> '' ORDER BY ALL"
    ).fetchall():
        add("vehicle", vehicle, {"vehicle": vehicle})
    for schedule_id, route_id, operator_id in db.execute(
        "SELECT schedule_id, any_value(route_id), any_value(operator_id) FROM trips WHERE schedule_id <> '' "
        "GROUP BY schedule_id ORDER BY schedule_id"
    ).fetchall():
        add("schedule", schedule_id, {"schedule_id": schedule_id, "route_id": route_id, "operator_id": operator_id})
    stations = sorted(
        {
            code
            for (stops,) in db.execute("SELECT stops FROM trips").fetchall()
            for code in (stops or "").split(",")
            if code
        }
    )
    for code in stations:
        add("station", code, {"station_code": code})
    return records


# Each trip scheduled, and its departure (发车) or cancellation once it happens: one row each, with
# its record id, so what was sent is left out in SQL (a station has many trips).
TRIP_EVENTS = (
    "SELECT 'trip:' || trip_id AS record_id, 'trip' AS type, NULL AS at_ms, * FROM trips "
    "UNION ALL SELECT 'departure:' || trip_id, 'departure', departed_ms, * FROM trips WHERE departed_ms IS NOT NULL "
    "UNION ALL SELECT 'cancellation:' || trip_id, 'cancellation', cancelled_ms, * FROM trips "
    "WHERE cancelled_ms IS NOT NULL"
)


def unsent_trip_records(db: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    columns = ", ".join(f"CAST(t.{name} AS VARCHAR)" if name == "service_date" else f"t.{name}" for name in TRIP_FIELDS)
    rows = db.execute(
        f"SELECT t.record_id, t.type, t.at_ms, {columns} FROM ({TRIP_EVENTS}) t "
        "ANTI JOIN upload_records u ON t.record_id = u.record_id "
        "ORDER BY t.departs_at_ms, t.trip_id, t.type DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [_trip_record(row) for row in rows]


def _trip_record(row: tuple) -> dict[str, Any]:
    record_id, kind, at_ms, *values = row
    trip = dict(zip(TRIP_FIELDS, values, strict=True))
    if kind == "departure":
        return {
            "record_id": record_id,
            "type": kind,
            "trip_id": trip["trip_id"],
            "at_ms": at_ms,
            "delay_ms": trip["delay_ms"] or 0,
        }
    if kind == "cancellation":
        return {"record_id": record_id, "type": kind, "trip_id": trip["trip_id"], "at_ms": at_ms}
    for name in ("departed_ms", "cancelled_ms", "delay_ms"):  # sent as records of their own
        trip.pop(name)
    trip["stops"] = (trip["stops"] or "").split(",")
    return {"record_id": record_id, "type": kind, **trip}


@dataclass(frozen=True)
class Batch:
    batch_id: str
    kind: str
    category: str
    records: int
    body: bytes


class Outbox:
    """The upload tables of one reporting store.  The caller holds the store's lock around each call
    (one DuckDB transaction at a time) and sends outside it."""

    def __init__(self, db: duckdb.DuckDBPyConnection, station_id: str):
        self.db = db
        self.station_id = station_id
        db.execute(UPLOAD_SCHEMA)

    # -- making batches ---------------------------------------------------------------------------

    def _unsent(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not records:
            return []
        ids = [r["record_id"] for r in records]
        sent = {
            row[0]
            for row in self.db.execute(
                "SELECT record_id FROM upload_records WHERE record_id IN (SELECT unnest(?))", [ids]
            ).fetchall()
        }
        return [r for r in records if r["record_id"] not in sent]

    def _unsent_transactions(self, limit: int) -> list[dict[str, Any]]:
        rows = self.db.execute(
            f"SELECT t.* FROM ({TRANSACTIONS}) t ANTI JOIN upload_records u ON t.record_id = u.record_id "
            "ORDER BY t.at_ms, t.record_id LIMIT ?",
            [limit],
        ).fetchall()
        return [transaction_record(row) for row in rows]

    def make_batches(self, now_ms: int, limit: int = BATCH_RECORDS) -> list[str]:
        """Batch what is not sent yet: master data, then trips, then transactions (up to `limit`
        records each).  Returns the new batch ids."""
        made = []
        for category in CATEGORIES:
            if category == "master":
                records = self._unsent(master_records(self.db))[:limit]
            elif category == "trips":
                records = unsent_trip_records(self.db, limit)
            else:
                records = self._unsent_transactions(limit)
            if records:
                made.append(self._queue(category, records, now_ms))
        return made

    def _queue(self, category: str, records: list[dict[str, Any]], now_ms: int, day: str = "", tag: str = "") -> str:
        ids = sorted(r["record_id"] for r in records)
        batch_id = f"{self.station_id}-{category}{tag}-{hashlib.sha256(chr(10).join(ids).encode()).hexdigest()[:24]}"
        document = {"batch_id": batch_id, "station_id": self.station_id, "category": category, "records": records}
        self.db.execute("BEGIN TRANSACTION")
        try:
            self.db.execute(
                "INSERT INTO upload_batches VALUES (?, 'batch', ?, ?, ?, ?, ?, 0, 0, NULL, NULL, NULL) "
                "ON CONFLICT DO NOTHING",
                [batch_id, category, day, len(records), canonical(document).decode(), now_ms],
            )
            self.db.execute("INSERT INTO upload_records SELECT unnest(?), ? ON CONFLICT DO NOTHING", [ids, batch_id])
            self.db.execute("COMMIT")
        except Exception:
            self.db.execute("ROLLBACK")
            raise
        return batch_id

    def day_transactions(self, day: str) -> list[dict[str, Any]]:
        start = day_start_ms(day)
        rows = self.db.execute(
            f"SELECT * FROM ({TRANSACTIONS}) WHERE at_ms >= ? AND at_ms < ? ORDER BY at_ms, record_id",
            [start, start + DAY_MS],
        ).fetchall()
        return [transaction_record(row) for row in rows]

    def queue_daily_file(self, day: str, now_ms: int) -> str:
        """The day's transactions as a file (JSON lines) with its SHA-256.  Its id carries the hash:
        the same day's content is the same file; a day that changed since is a new one."""
        content = "".join(canonical(r).decode() + "\n" for r in self.day_transactions(day))
        checksum = hashlib.sha256(content.encode()).hexdigest()
        file_id = f"{self.station_id}-daily-{day}-{checksum[:16]}"
        document = {
            "file_id": file_id,
            "station_id": self.station_id,
            "date": day,
            "sha256": checksum,
            "content": content,
        }
        self.db.execute(
            "INSERT INTO upload_batches VALUES (?, 'file', 'daily', ?, ?, ?, ?, 0, 0, NULL, NULL, NULL) "
            "ON CONFLICT DO NOTHING",
            [file_id, day, content.count("\n"), canonical(document).decode(), now_ms],
        )
        return file_id

    def days_without_file(self, before_day: str) -> list[str]:
        """Days before `before_day` with transactions and no daily file queued yet."""
        start = day_start_ms(before_day)
        days = {
            local_date(at_ms)
            for (at_ms,) in self.db.execute(
                f"SELECT DISTINCT (at_ms + {UTC_OFFSET_MS}) // {DAY_MS} * {DAY_MS} - {UTC_OFFSET_MS} "
                f"FROM ({TRANSACTIONS}) WHERE at_ms < ?",
                [start],
            ).fetchall()
        }
        filed = {row[0] for row in self.db.execute("SELECT day FROM upload_batches WHERE kind = 'file'").fetchall()}
        return sorted(days - filed)

    def resend_day(self, day: str, now_ms: int) -> list[str]:
        """Every transaction of `day` again, in new batches (the platform counts each record id
        once, so what it has is not doubled and what it lost comes back)."""
        records = self.day_transactions(day)
        resent = self.db.execute(
            "SELECT count(*) FROM upload_batches WHERE day = ? AND kind = 'batch'", [day]
        ).fetchone()
        tag = f"-resend{day.replace('-', '')}n{resent[0] if resent else 0}"
        return [
            self._queue("transactions", records[n : n + BATCH_RECORDS], now_ms, day, tag)
            for n in range(0, len(records), BATCH_RECORDS)
        ]

    # -- sending ----------------------------------------------------------------------------------

    def due(self, now_ms: int) -> list[Batch]:
        """Batches waiting whose next try is due, oldest first."""
        rows = self.db.execute(
            "SELECT batch_id, kind, category, records, body FROM upload_batches "
            "WHERE acked_ms IS NULL AND next_try_ms <= ? ORDER BY created_ms, "
            "list_position(['master', 'trips', 'transactions', 'daily'], category), batch_id",
            [now_ms],
        ).fetchall()
        return [Batch(row[0], row[1], row[2], row[3], row[4].encode()) for row in rows]

    def acknowledged(self, batch_id: str, now_ms: int, duplicate: bool) -> None:
        self.db.execute(
            "UPDATE upload_batches SET acked_ms = ?, duplicate = ?, attempts = attempts + 1, last_error = NULL "
            "WHERE batch_id = ?",
            [now_ms, duplicate, batch_id],
        )

    def failed(self, batch_id: str, error: str, now_ms: int, backoff_s: Callable[[int], float]) -> int:
        """Record a failed try and when to try again (after backoff_s(attempts)); return the attempts."""
        row = self.db.execute("SELECT attempts FROM upload_batches WHERE batch_id = ?", [batch_id]).fetchone()
        attempts = (int(row[0]) if row else 0) + 1
        self.db.execute(
            "UPDATE upload_batches SET attempts = ?, last_error = ?, next_try_ms = ? WHERE batch_id = ?",
            [attempts, error[:500], now_ms + int(backoff_s(attempts) * 1000), batch_id],
        )
        return attempts

    def retry_now(self) -> int:
        waiting = self.db.execute("SELECT count(*) FROM upload_batches WHERE acked_ms IS NULL").fetchone()
        self.db.execute("UPDATE upload_batches SET next_try_ms = 0 WHERE acked_ms IS NULL")
        return int(waiting[0]) if waiting else 0

    # -- reconciliation -----------------------------------------------------------------------------

    def day_totals(self, day: str) -> dict[str, dict[str, int]]:
        """The station's counts and amounts of each transaction type for a day, from the store."""
        start = day_start_ms(day)
        counts = dict.fromkeys(TRANSACTION_TYPES, 0)
        amounts = dict.fromkeys(TRANSACTION_TYPES, 0)
        for kind, count, amount in self.db.execute(
            f"SELECT type, count(*), sum(amount_fen) FROM ({TRANSACTIONS}) "
            "WHERE at_ms >= ? AND at_ms < ? GROUP BY type",
            [start, start + DAY_MS],
        ).fetchall():
            counts[kind], amounts[kind] = int(count), int(amount or 0)
        return {"counts": counts, "amounts": amounts}

    def record_reconciliation(self, day: str, now_ms: int, station: dict, answer: dict) -> None:
        self.db.execute(
            "INSERT INTO upload_reconciliations VALUES (?, ?, ?, ?, ?, ?)",
            [
                day,
                now_ms,
                bool(answer.get("match")),
                json.dumps(station, sort_keys=True),
                json.dumps(answer.get("platform", {}), sort_keys=True),
                json.dumps(answer.get("differences", {}), sort_keys=True, ensure_ascii=False),
            ],
        )

    def days_to_reconcile(self, before_day: str) -> list[str]:
        """Days before `before_day` whose daily file is acknowledged and that were never reconciled."""
        rows = self.db.execute(
            "SELECT DISTINCT day FROM upload_batches WHERE kind = 'file' AND acked_ms IS NOT NULL AND day < ? "
            "AND day NOT IN (SELECT day FROM upload_reconciliations) ORDER BY day",
            [before_day],
        ).fetchall()
        return [row[0] for row in rows]

    # -- status -------------------------------------------------------------------------------------

    def status(self, now_ms: int, limit: int = 50) -> dict[str, Any]:
        waiting = self.db.execute(
            "SELECT batch_id, kind, category, records, attempts, coalesce(last_error, ''), created_ms, next_try_ms "
            "FROM upload_batches WHERE acked_ms IS NULL ORDER BY created_ms, batch_id"
        ).fetchall()
        acked = self.db.execute(
            "SELECT count(*), coalesce(sum(records), 0), max(acked_ms) FROM upload_batches WHERE acked_ms IS NOT NULL"
        ).fetchone()
        latest = self.db.execute(
            "SELECT day, arg_max(checked_ms, checked_ms), arg_max(match, checked_ms), arg_max(differences, checked_ms) "
            "FROM upload_reconciliations GROUP BY day ORDER BY day DESC LIMIT 31"
        ).fetchall()
        return {
            "waiting": [
                {
                    "batch_id": row[0],
                    "kind": row[1],
                    "category": row[2],
                    "records": row[3],
                    "attempts": row[4],
                    "last_error": row[5],
                    "age_s": max(0.0, (now_ms - row[6]) / 1000),
                    "next_try_in_s": max(0.0, (row[7] - now_ms) / 1000),
                }
                for row in waiting[:limit]
            ],
            "waiting_batches": len(waiting),
            "waiting_records": sum(row[3] for row in waiting),
            "oldest_waiting_s": max(0.0, (now_ms - waiting[0][6]) / 1000) if waiting else 0.0,
            "acked_batches": int(acked[0]) if acked else 0,
            "acked_records": int(acked[1]) if acked else 0,
            "last_ack_ms": int(acked[2]) if acked and acked[2] is not None else 0,
            "reconciliations": [
                {"day": row[0], "checked_ms": row[1], "match": bool(row[2]), "differences": row[3]} for row in latest
            ],
        }


def day_start_ms(day: str) -> int:
    """Local midnight (UTC+8) of YYYY-MM-DD in epoch milliseconds."""
    import datetime as dt

    date = dt.date.fromisoformat(day)
    return int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC).timestamp() * 1000) - UTC_OFFSET_MS
