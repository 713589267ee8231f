"""Operator settlement (结算) from the reporting store: the sheet, its ticket lines, locks and
adjustments (docs/settlement.md).

Contracts, locks and manual adjustments are accounts-owner events (engine/settlement.py); the
projector copies them into three tables here, as it copies every other event.  The sheet is worked
out per ticket, from the tickets of the operator's trips departing in the period, and summed: every
figure of the sheet is the sum of the same figure of its ticket lines, to the fen.  Shares (the
agency fee, a split refund fee, a no-show's station share) are rounded half up **per ticket**, so
a ticket's line is what it contributes, and nothing is left over for the sheet to round.

A locked period shows the totals its lock recorded.  Movements of its tickets after the lock's
`as_of_ms` (a late refund) show apart, as the "late" adjustment: the change of every figure since
the lock, with the tickets that changed.  Manual adjustments follow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import duckdb

from keyun.engine import settlement as st

SCHEMA = """
CREATE TABLE IF NOT EXISTS contracts (
    operator_id VARCHAR, effective_from VARCHAR, agency_fee_bp INTEGER, operator_keeps_service_fee BOOLEAN,
    refund_fee_station_bp INTEGER, no_show_station_bp INTEGER,
    deductions VARCHAR,             -- JSON [[name, fen], ...]
    set_by VARCHAR, set_at_ms BIGINT,
    PRIMARY KEY (operator_id, effective_from)
);
CREATE TABLE IF NOT EXISTS settlement_locks (
    lock_id VARCHAR PRIMARY KEY, operator_id VARCHAR, from_date VARCHAR, to_date VARCHAR, as_of_ms BIGINT,
    totals VARCHAR,                 -- JSON {figure: value} as the sheet said when locked
    deductions_fen BIGINT, amount_payable_fen BIGINT, locked_by VARCHAR, locked_at_ms BIGINT
);
CREATE TABLE IF NOT EXISTS settlement_adjustments (
    adjustment_id VARCHAR PRIMARY KEY, lock_id VARCHAR, reason VARCHAR, amount_fen BIGINT,
    added_by VARCHAR, added_at_ms BIGINT
);
"""
TABLES = ("contracts", "settlement_locks", "settlement_adjustments")

# Every figure of a sheet, a ticket line or an adjustment, in the proto's order (SettlementFigures).
FIGURES = (
    "tickets revenue_fen base_fen service_fee_fen fuel_surcharge_fen insurance_fen refunds refund_fen "
    "refund_fee_fen refund_fee_station_fen refund_fee_operator_fen refund_retained_fen changes changed_fen "
    "voids voided_fen station_service_fee_fen insurance_held_fen agency_fee_fen no_shows no_show_fen "
    "no_show_station_fen payable_fen trip_cancelled trip_cancelled_fen"
).split()
# What the station keeps, or passes on, out of the revenue: payable is the revenue less these.
KEPT = (
    "refund_fen changed_fen voided_fen station_service_fee_fen insurance_held_fen agency_fee_fen "
    "refund_fee_station_fen refund_retained_fen no_show_station_fen trip_cancelled_fen"
).split()


def share(amount_fen: int, basis_points: int) -> int:
    """basis_points / 10,000 of an amount, rounded half up to the fen (amounts are never negative)."""
    return (amount_fen * basis_points + 5_000) // 10_000


# --- projecting the accounts owner's settlement events ------------------------------------------


def project(event: Any, updates: list[tuple[str, tuple]]) -> None:
    """The statements that copy one settlement event into the store (applied in log order)."""
    if isinstance(event, st.ContractSet):
        c = event.contract
        deductions = json.dumps([[d.name, d.fen] for d in c.deductions], ensure_ascii=False)
        updates.append(
            (
                "INSERT OR REPLACE INTO contracts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    c.operator_id,
                    c.effective_from,
                    c.agency_fee_bp,
                    c.operator_keeps_service_fee,
                    c.refund_fee_station_bp,
                    c.no_show_station_bp,
                    deductions,
                    c.set_by,
                    c.set_at_ms,
                ),
            )
        )
    elif isinstance(event, st.SettlementLocked):
        lock = event.lock
        updates.append(
            (
                "INSERT OR REPLACE INTO settlement_locks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    lock.lock_id,
                    lock.operator_id,
                    lock.from_date,
                    lock.to_date,
                    lock.as_of_ms,
                    json.dumps(dict(lock.totals)),
                    lock.deductions_fen,
                    lock.amount_payable_fen,
                    lock.locked_by,
                    lock.locked_at_ms,
                ),
            )
        )
    elif isinstance(event, st.AdjustmentAdded):
        a = event.adjustment
        updates.append(
            (
                "INSERT OR REPLACE INTO settlement_adjustments VALUES (?, ?, ?, ?, ?, ?)",
                (a.adjustment_id, a.lock_id, a.reason, a.amount_fen, a.added_by, a.added_at_ms),
            )
        )


# --- the sheet ------------------------------------------------------------------------------------


class NoContract(Exception):
    """No contract of the operator is in effect on the period's first day."""


@dataclass(frozen=True)
class Terms:
    """A contract as the sheet uses it."""

    operator_id: str
    effective_from: str
    agency_fee_bp: int
    operator_keeps_service_fee: bool
    refund_fee_station_bp: int
    no_show_station_bp: int
    deductions: tuple[tuple[str, int], ...]
    set_by: str
    set_at_ms: int

    def as_dict(self) -> dict:
        return {**self.__dict__, "deductions": [list(d) for d in self.deductions]}


TICKET_SQL = """
    SELECT t.ticket_id, t.trip_id, CAST(r.service_date AS VARCHAR), t.ticket_type, t.price_fen, t.base_fen,
        t.service_fee_fen, t.fuel_surcharge_fen, t.insurance_fen, t.sold_ms, t.refunded_ms, t.refund_fen,
        t.refund_fee_fen, t.changed_ms, t.voided_ms, t.checked_in_ms, r.departed_ms,
        r.cancelled_ms
    FROM tickets t JOIN trips r ON r.trip_id = t.trip_id
    WHERE r.operator_id = ? AND r.service_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
    ORDER BY t.ticket_id
"""


def contract_for(db: duckdb.DuckDBPyConnection, operator_id: str, first_day: str) -> Terms:
    row = db.execute(
        "SELECT * FROM contracts WHERE operator_id = ? AND effective_from <= ? ORDER BY effective_from DESC LIMIT 1",
        [operator_id, first_day],
    ).fetchone()
    if row is None:
        raise NoContract(f"{operator_id} has no contract in effect on {first_day}: set one (keyun report contract set)")
    deductions = tuple((name, int(fen)) for name, fen in json.loads(row[6]))
    return Terms(row[0], row[1], row[2], bool(row[3]), row[4], row[5], deductions, row[7], row[8])


def _happened(at_ms: int | None, as_of_ms: int | None) -> bool:
    return at_ms is not None and (as_of_ms is None or at_ms <= as_of_ms)


def ticket_line(row: tuple, terms: Terms, as_of_ms: int | None = None) -> dict | None:
    """One ticket's share of every figure, as its movements up to `as_of_ms` (None: all) make it;
    None for a ticket not sold by then."""
    (ticket_id, trip_id, service_date, ticket_type, price, base, service_fee, fuel, insurance, sold_ms) = row[:10]
    refunded_ms, refund_fen, refund_fee_fen, changed_ms, voided_ms, checked_in_ms, departed_ms, cancelled_ms = row[10:]
    if not _happened(sold_ms, as_of_ms):
        return None
    f = dict.fromkeys(FIGURES, 0)
    f.update(
        tickets=1,
        revenue_fen=price,
        base_fen=base,
        service_fee_fen=service_fee,
        fuel_surcharge_fen=fuel,
        insurance_fen=insurance,
    )
    if _happened(voided_ms, as_of_ms):
        state = "voided"
        f.update(voids=1, voided_fen=price)
    elif _happened(changed_ms, as_of_ms):
        state = "changed"  # its new ticket counts on its own trip's sheet
        f.update(changes=1, changed_fen=price)
    elif _happened(refunded_ms, as_of_ms):
        state = "refunded"
        fee = refund_fee_fen or 0
        station = share(fee, terms.refund_fee_station_bp)
        f.update(
            refunds=1,
            refund_fen=refund_fen or 0,
            refund_fee_fen=fee,
            refund_fee_station_fen=station,
            refund_fee_operator_fen=fee - station,
            # Components a refund gives no part of back (the policy's `refundable`) stay with the station.
            refund_retained_fen=price - (refund_fen or 0) - fee,
        )
    elif _happened(cancelled_ms, as_of_ms) and not _happened(checked_in_ms, as_of_ms):
        state = "trip_cancelled"  # the coach did not run: the price waits for the passenger's refund
        f.update(trip_cancelled=1, trip_cancelled_fen=price)
    else:
        transport = base + fuel
        f.update(
            station_service_fee_fen=0 if terms.operator_keeps_service_fee else service_fee,
            insurance_held_fen=insurance,
            agency_fee_fen=share(transport, terms.agency_fee_bp),
        )
        if _happened(checked_in_ms, as_of_ms):
            state = "checked_in"
        elif _happened(departed_ms, as_of_ms):
            state = "no_show"
            f.update(no_shows=1, no_show_fen=transport, no_show_station_fen=share(transport, terms.no_show_station_bp))
        else:
            state = "sold"
    f["payable_fen"] = f["revenue_fen"] - sum(f[name] for name in KEPT)
    return {
        "ticket_id": ticket_id,
        "trip_id": trip_id,
        "service_date": service_date,
        "state": state,
        "ticket_type": ticket_type,
        "figures": f,
    }


def _sum(lines: list[dict]) -> dict[str, int]:
    total = dict.fromkeys(FIGURES, 0)
    for line in lines:
        for name, value in line["figures"].items():
            total[name] += value
    return total


def _minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {name: a.get(name, 0) - b.get(name, 0) for name in FIGURES}


def ticket_lines(
    db: duckdb.DuckDBPyConnection, terms: Terms, from_date: str, to_date: str, as_of_ms: int | None = None
) -> list[dict]:
    rows = db.execute(TICKET_SQL, [terms.operator_id, from_date, to_date]).fetchall()
    return [line for row in rows if (line := ticket_line(row, terms, as_of_ms)) is not None]


def _lock_of(db: duckdb.DuckDBPyConnection, operator_id: str, from_date: str, to_date: str) -> dict | None:
    row = db.execute(
        "SELECT * FROM settlement_locks WHERE operator_id = ? AND from_date = ? AND to_date = ?",
        [operator_id, from_date, to_date],
    ).fetchone()
    if row is None:
        return None
    names = "lock_id operator_id from_date to_date as_of_ms totals deductions_fen amount_payable_fen locked_by "
    lock = dict(zip((names + "locked_at_ms").split(), row))
    lock["totals"] = {name: int(json.loads(row[5]).get(name, 0)) for name in FIGURES}
    return lock


def sheet(
    db: duckdb.DuckDBPyConnection, operator_id: str, from_date: str, to_date: str, as_of_ms: int | None = None
) -> dict:
    """An operator's settlement sheet for the trips departing from_date..to_date (local days).
    `as_of_ms`: as the tickets' movements up to then made it (what a lock records)."""
    terms = contract_for(db, operator_id, from_date)
    deductions_fen = sum(fen for _, fen in terms.deductions)
    lock = None if as_of_ms is not None else _lock_of(db, operator_id, from_date, to_date)
    lines = ticket_lines(db, terms, from_date, to_date, as_of_ms)
    adjustments: list[dict] = []
    if lock is None:
        totals = _sum(lines)
    else:
        totals = lock["totals"]
        deductions_fen = lock["deductions_fen"]
        adjustments = _adjustments(db, terms, lock, lines, from_date, to_date)
    adjusted = sum(a["amount_fen"] for a in adjustments)
    return {
        "operator_id": operator_id,
        "from_date": from_date,
        "to_date": to_date,
        "contract": terms.as_dict(),
        "totals": totals,
        "deductions": [list(d) for d in terms.deductions],
        "deductions_fen": deductions_fen,
        "lock": lock,
        "adjustments": adjustments,
        "adjustments_fen": adjusted,
        "amount_payable_fen": totals["payable_fen"] - deductions_fen + adjusted,
    }


def _adjustments(
    db: duckdb.DuckDBPyConnection, terms: Terms, lock: dict, lines: list[dict], from_date: str, to_date: str
) -> list[dict]:
    """A locked period's adjustments: the late one (every figure's change since the lock, and the
    tickets that changed), then the manual ones, oldest first."""
    found = []
    then = {line["ticket_id"]: line for line in ticket_lines(db, terms, from_date, to_date, lock["as_of_ms"])}
    changed = sorted(
        line["ticket_id"] for line in lines if then.get(line["ticket_id"], {}).get("figures") != line["figures"]
    )
    late = _minus(_sum(lines), lock["totals"])
    if changed or any(late.values()):
        found.append(
            {
                "kind": "late",
                "adjustment_id": "",
                "reason": "movements of the period's tickets after the lock",
                "amount_fen": late["payable_fen"],
                "ticket_ids": changed,
                "figures": late,
                "added_by": "",
                "added_at_ms": 0,
                "lock_id": lock["lock_id"],
            }
        )
    for adjustment_id, lock_id, reason, amount_fen, added_by, added_at_ms in db.execute(
        "SELECT * FROM settlement_adjustments WHERE lock_id = ? ORDER BY adjustment_id", [lock["lock_id"]]
    ).fetchall():
        found.append(
            {
                "kind": "manual",
                "adjustment_id": adjustment_id,
                "reason": reason,
                "amount_fen": amount_fen,
                "ticket_ids": [],
                "figures": None,
                "added_by": added_by,
                "added_at_ms": added_at_ms,
                "lock_id": lock_id,
            }
        )
    return found


def lines_page(
    db: duckdb.DuckDBPyConnection, operator_id: str, from_date: str, to_date: str, offset: int, limit: int
) -> tuple[list[dict], int]:
    """One page of the sheet's ticket lines (as of now), by ticket id, and how many there are."""
    terms = contract_for(db, operator_id, from_date)
    lines = ticket_lines(db, terms, from_date, to_date)
    return lines[offset : offset + limit], len(lines)
