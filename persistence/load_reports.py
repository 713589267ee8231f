"""The load report and the shift reconciliation, read from the reporting store (docs/reporting.md).

Load (客座率): per trip, the seats it offered and the live tickets on it (sold or checked in: not
refunded, rebooked away or voided), passengers on board on each leg between consecutive stops
(segment sales fill a seat on some legs only), and the load factor by seat-km.  Rolled up by
route, operator or day on request.

Shifts (交接班): each closed counter shift's handover slip, as the accounts owner recorded it at
close, beside the same totals recomputed from the store's tickets of the shift, with the
differences in fen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

# The trip's attributes a load report groups by; `day` is the trip's departure day (service_date).
LOAD_GROUPS = {
    "trip": "trip_id",
    "route": "route_id",
    "operator": "operator_id",
    "day": "CAST(service_date AS VARCHAR)",
}
LOAD_MEASURES = (
    "trips",
    "seats",
    "tickets",
    "checked_in",
    "no_shows",
    "no_show_fen",
    "peak_on_board",
    "seat_km_offered",
    "seat_km_sold",
    "passenger_km",
)

# A ticket that fills its seat: not refunded, rebooked away or voided.
LIVE = "k.refunded_ms IS NULL AND k.changed_ms IS NULL AND k.voided_ms IS NULL"


@dataclass(frozen=True)
class LoadQuery:
    group_by: tuple[str, ...]
    first_day: dt.date  # the trips' departure days, inclusive
    last_day: dt.date
    offset: int = 0
    limit: int = 100


def load_report(db: duckdb.DuckDBPyConnection, query: LoadQuery) -> tuple[list[dict], int]:
    """One page of load lines and the number of lines.  Cancelled trips offer nothing and are left
    out.  A trip whose spec had no distances (scheduled before they were recorded) counts 0 seat-km."""
    keys = [LOAD_GROUPS[name] for name in query.group_by]
    key_sql = ", ".join(f"{expr} AS k{n}" for n, expr in enumerate(keys)) or "'all' AS k0"
    group_sql = ", ".join(f"k{n}" for n in range(max(1, len(keys))))
    sql = f"""
        WITH tr AS (
            SELECT *, CASE WHEN coalesce(stop_km, '') = '' THEN 0
                           ELSE CAST(list_last(string_split(stop_km, ',')) AS BIGINT) END AS route_km
            FROM trips WHERE service_date >= ? AND service_date <= ? AND cancelled_ms IS NULL
        ),
        live AS (SELECT k.* FROM tickets k JOIN tr ON tr.trip_id = k.trip_id WHERE {LIVE}),
        legs AS (SELECT {ON_BOARD} FROM ({LEGS_OF_TRIPS}) g LEFT JOIN live k {ON_LEG} GROUP BY g.trip_id, g.leg),
        per_trip AS (
            SELECT tr.*,
                (SELECT count(*) FROM live k WHERE k.trip_id = tr.trip_id) AS tickets,
                (SELECT count(checked_in_ms) FROM live k WHERE k.trip_id = tr.trip_id) AS checked_in,
                CASE WHEN tr.departed_ms IS NULL THEN 0 ELSE (SELECT count(*) FROM live k
                    WHERE k.trip_id = tr.trip_id AND k.checked_in_ms IS NULL) END AS no_shows,
                CASE WHEN tr.departed_ms IS NULL THEN 0 ELSE (SELECT coalesce(sum(price_fen), 0) FROM live k
                    WHERE k.trip_id = tr.trip_id AND k.checked_in_ms IS NULL) END AS no_show_fen,
                coalesce((SELECT max(on_board) FROM legs g WHERE g.trip_id = tr.trip_id), 0) AS peak_on_board,
                tr.seats * tr.route_km AS seat_km_offered,
                (SELECT coalesce(sum(km), 0) FROM live k WHERE k.trip_id = tr.trip_id) AS seat_km_sold,
                (SELECT coalesce(sum(km * (1 + free_children)), 0) FROM live k
                    WHERE k.trip_id = tr.trip_id) AS passenger_km
            FROM tr
        )
        SELECT {key_sql}, count(*) AS trips, sum(seats) AS seats, sum(tickets) AS tickets,
            sum(checked_in) AS checked_in, sum(no_shows) AS no_shows, sum(no_show_fen) AS no_show_fen,
            max(peak_on_board) AS peak_on_board, sum(seat_km_offered) AS seat_km_offered,
            sum(seat_km_sold) AS seat_km_sold, sum(passenger_km) AS passenger_km, count(*) OVER () AS total
        FROM per_trip GROUP BY {group_sql} ORDER BY {group_sql} LIMIT ? OFFSET ?
    """
    cursor = db.execute(sql, [query.first_day, query.last_day, query.limit, query.offset])
    columns = [column[0] for column in cursor.description]
    lines, total = [], 0
    for row in cursor.fetchall():
        keyed = dict(zip(columns, row))
        line = {
            "group": {name: str(keyed[f"k{n}"]) for n, name in enumerate(query.group_by)},
            **{m: int(keyed[m] or 0) for m in LOAD_MEASURES},
        }
        line["load_factor"] = ratio(line["seat_km_sold"], line["seat_km_offered"])
        line["tickets_per_seat"] = ratio(line["tickets"], line["seats"])
        line["legs"] = []
        lines.append(line)
        total = int(keyed["total"])
    if "trip" in query.group_by:
        _add_legs(db, lines)
    return lines, total


# Each trip's legs: leg n runs from stop n to stop n + 1.
LEGS_OF_TRIPS = "SELECT trip_id, unnest(range(len(string_split(stops, ',')) - 1)) AS leg FROM tr"
# A ticket from stop i to stop j holds its seat on legs i .. j - 1.
ON_LEG = "ON k.trip_id = g.trip_id AND k.from_stop <= g.leg AND g.leg < k.to_stop"
ON_BOARD = "g.trip_id, g.leg, count(k.ticket_id) AS on_board, count(k.checked_in_ms) AS checked_in"


def _add_legs(db: duckdb.DuckDBPyConnection, lines: list[dict]) -> None:
    """Passengers on board on each leg, for the page's lines of one trip each."""
    trip_ids = [line["group"]["trip"] for line in lines]
    if not trip_ids:
        return
    sql = f"""
        WITH tr AS (SELECT * FROM trips WHERE list_contains(?, trip_id)),
        live AS (SELECT k.* FROM tickets k JOIN tr ON tr.trip_id = k.trip_id WHERE {LIVE})
        SELECT {ON_BOARD}, any_value(tr.stops) AS stops, any_value(tr.stop_km) AS stop_km
        FROM ({LEGS_OF_TRIPS}) g JOIN tr ON tr.trip_id = g.trip_id LEFT JOIN live k {ON_LEG}
        GROUP BY g.trip_id, g.leg ORDER BY g.trip_id, g.leg
    """
    legs: dict[str, list[dict]] = {}
    for trip_id, leg, on_board, checked_in, stops, stop_km in db.execute(sql, [trip_ids]).fetchall():
        codes = stops.split(",")
        kms = [int(km) for km in stop_km.split(",")] if stop_km else []
        legs.setdefault(trip_id, []).append(
            {
                "from_station": codes[leg],
                "to_station": codes[leg + 1],
                "km": kms[leg + 1] - kms[leg] if kms else 0,
                "on_board": int(on_board),
                "checked_in": int(checked_in),
            }
        )
    for line in lines:
        line["legs"] = legs.get(line["group"]["trip"], [])


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# --- shift reconciliation -----------------------------------------------------------------------

SHIFT_MEASURES = (
    "sold_count",
    "sold_fen",
    "refunded_count",
    "refunded_fen",
    "refund_fees_fen",
    "voided_count",
    "voided_fen",
    "changed_count",
    "changed_fen",
    "net_fen",
)
METHOD_MEASURES = ("sold_fen", "voided_fen", "refunded_fen", "changed_fen", "net_fen")


@dataclass(frozen=True)
class ShiftQuery:
    from_ms: int  # shifts closed in [from, to)
    to_ms: int
    offset: int = 0
    limit: int = 100


def shift_report(db: duckdb.DuckDBPyConnection, query: ShiftQuery) -> tuple[list[dict], int]:
    """One page of closed shifts (by close time) and their count: each slip beside the tickets."""
    total = db.execute(
        "SELECT count(*) FROM shifts WHERE closed_ms >= ? AND closed_ms < ?", [query.from_ms, query.to_ms]
    ).fetchone()[0]
    shifts = db.execute(
        "SELECT shift_id, seller, counter_id, opened_ms, closed_ms, sold_count, sold_fen, refunded_count, "
        "refunded_fen, refund_fees_fen, voided_count, voided_fen, changed_count, changed_fen "
        "FROM shifts WHERE closed_ms >= ? AND closed_ms < ? ORDER BY closed_ms, shift_id LIMIT ? OFFSET ?",
        [query.from_ms, query.to_ms, query.limit, query.offset],
    ).fetchall()
    lines = []
    for row in shifts:
        shift_id, seller, counter_id, opened_ms, closed_ms, *slip_totals = row
        slip = dict(zip(SHIFT_MEASURES, (int(v or 0) for v in slip_totals)))
        slip_methods = _slip_methods(db, shift_id)
        slip["net_fen"] = sum(m["net_fen"] for m in slip_methods.values())
        tickets, ticket_methods = tickets_of_shift(db, shift_id)
        differences = [m for m in SHIFT_MEASURES if slip[m] != tickets[m]]
        for method in sorted(set(slip_methods) | set(ticket_methods)):
            zero = dict.fromkeys(METHOD_MEASURES, 0)
            a, b = slip_methods.get(method, zero), ticket_methods.get(method, zero)
            differences += [f"{method}.{m}" for m in METHOD_MEASURES if a[m] != b[m]]
        lines.append(
            {
                "shift_id": shift_id,
                "seller": seller,
                "counter_id": counter_id,
                "opened_ms": opened_ms,
                "closed_ms": closed_ms,
                "slip": slip,
                "slip_methods": slip_methods,
                "tickets": tickets,
                "ticket_methods": ticket_methods,
                "reconciled": not differences,
                "differences": differences,
                "difference_fen": tickets["net_fen"] - slip["net_fen"],
            }
        )
    return lines, int(total)


def _slip_methods(db: duckdb.DuckDBPyConnection, shift_id: str) -> dict[str, dict[str, int]]:
    rows = db.execute(
        f"SELECT method, {', '.join(METHOD_MEASURES)} FROM shift_methods WHERE shift_id = ?", [shift_id]
    ).fetchall()
    return {row[0]: dict(zip(METHOD_MEASURES, (int(v) for v in row[1:]))) for row in rows}


def tickets_of_shift(db: duckdb.DuckDBPyConnection, shift_id: str) -> tuple[dict[str, int], dict[str, dict]]:
    """The slip's totals recomputed from the store's tickets, by the slip's rules (engine.shifts.handover):
    sold = tickets sold in the shift, a rebooking's new ticket aside; voided = those of them voided;
    refunded = tickets refunded in the shift, whoever sold them; changed = rebookings at the counter
    in the shift, not taken back, by their fare difference.  By method: the ticket's pay method
    ("" counts as cash); net = sold - voided - refunded + changed."""
    rows = db.execute(
        """
        SELECT k.shift_id = ? AS sold_here, k.refund_shift_id = ? AS refunded_here, k.changed_from <> '' AS change,
               k.voided_ms IS NOT NULL AS voided, coalesce(nullif(k.pay_method, ''), 'cash') AS method,
               k.price_fen, coalesce(k.refund_fen, 0), coalesce(k.refund_fee_fen, 0), coalesce(old.price_fen, 0)
        FROM tickets k LEFT JOIN tickets old ON old.ticket_id = k.changed_from
        WHERE k.shift_id = ? OR k.refund_shift_id = ?
        """,
        [shift_id, shift_id, shift_id, shift_id],
    ).fetchall()
    totals = dict.fromkeys(SHIFT_MEASURES, 0)
    methods: dict[str, dict[str, int]] = {}
    for sold_here, refunded_here, change, voided, method, price, refund, fee, old_price in rows:
        by_method = methods.setdefault(method, dict.fromkeys(METHOD_MEASURES, 0))
        if sold_here and not change:
            _add(totals, by_method, "sold", price)
            if voided:
                _add(totals, by_method, "voided", price)
        if sold_here and change and not voided:
            _add(totals, by_method, "changed", price - old_price)
        if refunded_here:
            _add(totals, by_method, "refunded", refund)
            totals["refund_fees_fen"] += fee
    for by_method in methods.values():
        by_method["net_fen"] = (
            by_method["sold_fen"] - by_method["voided_fen"] - by_method["refunded_fen"] + by_method["changed_fen"]
        )
    methods = {name: m for name, m in methods.items() if any(m[k] for k in METHOD_MEASURES[:-1])}
    totals["net_fen"] = sum(m["net_fen"] for m in methods.values())
    return totals, methods


def _add(totals: dict[str, int], by_method: dict[str, int], what: str, fen: int) -> None:
    totals[f"{what}_count"] += 1
    totals[f"{what}_fen"] += fen
    by_method[f"{what}_fen"] += fen
