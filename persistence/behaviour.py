"""Passenger-behaviour analysis (用户行为分析) in the reporting store (docs/reporting.md, "Behaviour
analysis"): the gateway's sampled funnel events, and the funnel and behaviour reports.

Searches and seat-map views are no owner's events: the gateway records them (gateway/funnel.py)
and sends them in batches to the report projector, which appends them here (`funnel_events`,
bounded to `max_rows`, the oldest pruned first).  Holds, orders, payments and abandonment are the
owners' events, projected exactly from their logs (`holds`, `orders`): the funnel takes those
steps from there, unsampled.  Each funnel event carries the rate it was sampled at, so a count
of them is scaled back (1 / rate each) to an estimate of all of them; at rate 1 it is exact.

No personal data: a session is the keyed pseudonym of its account (the same as `orders.buyer`),
or of the caller's address when nobody is logged in.
"""

from __future__ import annotations

import duckdb

FUNNEL_KINDS = ("searched", "seat_map")
FUNNEL_COLUMNS = (
    "at_ms kind channel session from_station to_station travel_date trip_id results sold_out sample_rate".split()
)
FUNNEL_STEPS = ("searched", "seat_map", "held", "ordered", "paid")

HOUR_MS = 3_600_000
# Booking lead time: how long before departure a ticket was sold, [from, to) in hours.
LEAD_BUCKETS = (
    ("0-2h", 0, 2),
    ("2-6h", 2, 6),
    ("6-24h", 6, 24),
    ("1-3d", 24, 72),
    ("3-7d", 72, 168),
    ("7d+", 168, None),
)
SECTIONS = ("lead_time", "heat_map", "od_demand", "refund_change", "repeat")
TOP_PAIRS = 50


def record_funnel(db: duckdb.DuckDBPyConnection, batch: list[tuple], max_rows: int) -> int:
    """Append a batch of funnel events in one transaction; prune the oldest beyond `max_rows`
    (the stream's bound).  Return the rows pruned."""
    rows = [tuple(row) for row in batch if len(row) == len(FUNNEL_COLUMNS) and row[1] in FUNNEL_KINDS]
    if not rows:
        return 0
    values = {f"c{n}": list(column) for n, column in enumerate(zip(*rows))}
    unnested = ", ".join(f"unnest($c{n})" for n in range(len(FUNNEL_COLUMNS)))
    db.execute("BEGIN TRANSACTION")
    try:
        db.execute(f"INSERT INTO funnel_events ({', '.join(FUNNEL_COLUMNS)}) SELECT {unnested}", values)
        pruned = _prune(db, max_rows)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return pruned


def _prune(db: duckdb.DuckDBPyConnection, max_rows: int) -> int:
    (count,) = db.execute("SELECT count(*) FROM funnel_events").fetchone() or (0,)
    if count <= max_rows:
        return 0
    excess = int(count) - max_rows
    db.execute(
        "DELETE FROM funnel_events WHERE rowid IN (SELECT rowid FROM funnel_events ORDER BY at_ms, rowid LIMIT ?)",
        [excess],
    )
    return excess


def _day(column: str, offset_ms: int) -> str:
    return f"strftime(epoch_ms({column} + {int(offset_ms)}), '%Y-%m-%d')"


def funnel_report(
    db: duckdb.DuckDBPyConnection, from_ms: int, to_ms: int, offset_ms: int, channel: str = ""
) -> list[dict]:
    """By local day and channel: searched → seat map → held → ordered → paid, and abandoned.
    Each step counts on the day it happened.  Searches and seat maps are the gateway's sampled
    events scaled back by their rate; the rest are the owners' events, exact."""
    steps = """
        SELECT at_ms, channel, kind AS step, 1.0 / sample_rate AS weight FROM funnel_events
        UNION ALL SELECT placed_ms, channel, 'held', 1 FROM holds WHERE for_move = ''
        UNION ALL SELECT created_ms, channel, 'ordered', 1 FROM orders
        UNION ALL SELECT ticketed_ms, channel, 'paid', 1 FROM orders WHERE ticketed_ms IS NOT NULL
        UNION ALL SELECT coalesce(cancelled_ms, expired_ms), channel, 'abandoned', 1 FROM orders
            WHERE ticketed_ms IS NULL AND coalesce(cancelled_ms, expired_ms) IS NOT NULL
        UNION ALL SELECT h.expired_ms, h.channel, 'abandoned', 1 FROM holds h
            WHERE h.expired_ms IS NOT NULL AND h.for_move = '' AND h.order_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.hold_id = h.hold_id)
    """
    counts = ", ".join(
        f"round(coalesce(sum(weight) FILTER (WHERE step = '{step}'), 0))" for step in (*FUNNEL_STEPS, "abandoned")
    )
    sql = f"""
        SELECT {_day("at_ms", offset_ms)} AS day, channel, {counts}
        FROM ({steps}) s
        WHERE at_ms >= ? AND at_ms < ? AND (? = '' OR channel = ?)
        GROUP BY day, channel ORDER BY day, channel
    """
    result = db.execute(sql, [from_ms, to_ms, channel, channel]).fetchall()
    lines = []
    for day, line_channel, *counts in result:
        line = {"day": day, "channel": line_channel or "other"}
        line.update({step: int(n) for step, n in zip((*FUNNEL_STEPS, "abandoned"), counts)})
        # The share of each step's count that did not reach the next (negative where more came in
        # at a later step than the earlier one counted, e.g. a counter holding without a search).
        for earlier, later in zip(FUNNEL_STEPS, FUNNEL_STEPS[1:]):
            before = line[earlier]
            line[f"{later}_drop_pct"] = round(100.0 * (before - line[later]) / before, 2) if before else 0.0
        lines.append(line)
    return lines


def _lead_bucket_sql(sold: str, departs: str) -> str:
    cases = " ".join(
        f"WHEN {departs} - {sold} < {upper * HOUR_MS} THEN '{name}'" for name, _, upper in LEAD_BUCKETS if upper
    )
    return f"CASE {cases} ELSE '{LEAD_BUCKETS[-1][0]}' END"


def behaviour_report(
    db: duckdb.DuckDBPyConnection, from_ms: int, to_ms: int, offset_ms: int, sections: tuple[str, ...]
) -> dict:
    """The sections asked for, each a list of rows (the numbers behind each chart)."""
    wanted = sections or SECTIONS
    answer: dict[str, list[dict]] = {}
    sold = "WHERE t.sold_ms >= ? AND t.sold_ms < ?"
    bucket = _lead_bucket_sql("t.sold_ms", "r.departs_at_ms")
    period = [from_ms, to_ms]
    if "lead_time" in wanted:
        rows = db.execute(
            f"SELECT {bucket} AS b, count(*) FROM tickets t JOIN trips r USING (trip_id) {sold} GROUP BY b", period
        ).fetchall()
        counts = dict(rows)
        answer["lead_time"] = [{"bucket": name, "tickets": int(counts.get(name, 0))} for name, _, _ in LEAD_BUCKETS]
    if "heat_map" in wanted:
        local = f"epoch_ms(t.sold_ms + {int(offset_ms)})"
        rows = db.execute(
            f"SELECT isodow({local}) AS dow, hour({local}) AS h, count(*) FROM tickets t {sold} "
            "GROUP BY dow, h ORDER BY dow, h",
            period,
        ).fetchall()
        answer["heat_map"] = [{"day_of_week": int(d), "hour": int(h), "tickets": int(n)} for d, h, n in rows]
    if "od_demand" in wanted:
        answer["od_demand"] = _od_demand(db, from_ms, to_ms)
    if "refund_change" in wanted:
        rows = db.execute(
            f"SELECT {bucket} AS b, count(*), count(t.refunded_ms), count(t.changed_ms) "
            f"FROM tickets t JOIN trips r USING (trip_id) {sold} GROUP BY b",
            period,
        ).fetchall()
        by_bucket = {b: (n, refunded, changed) for b, n, refunded, changed in rows}
        answer["refund_change"] = []
        for name, _, _ in LEAD_BUCKETS:
            n, refunded, changed = by_bucket.get(name, (0, 0, 0))
            answer["refund_change"].append(
                {
                    "bucket": name,
                    "tickets": int(n),
                    "refunds": int(refunded),
                    "changes": int(changed),
                    "refund_pct": round(100.0 * refunded / n, 2) if n else 0.0,
                    "change_pct": round(100.0 * changed / n, 2) if n else 0.0,
                }
            )
    if "repeat" in wanted:
        answer["repeat"] = _repeat(db, from_ms, to_ms, offset_ms)
    return answer


def _od_demand(db: duckdb.DuckDBPyConnection, from_ms: int, to_ms: int) -> list[dict]:
    """Origin-destination pairs by searches (scaled by their sample rate), with the searches that
    found nothing or only full coaches (unmet demand), and the tickets sold for the pair."""
    rows = db.execute(
        f"""
        WITH s AS (
            SELECT from_station, to_station, sum(1.0 / sample_rate) AS searches,
                coalesce(sum(1.0 / sample_rate) FILTER (WHERE results = 0), 0) AS no_results,
                coalesce(sum(1.0 / sample_rate) FILTER (WHERE sold_out), 0) AS sold_out
            FROM funnel_events WHERE kind = 'searched' AND at_ms >= ? AND at_ms < ?
            GROUP BY from_station, to_station
        ), t AS (
            SELECT from_station, to_station, count(*) AS tickets FROM tickets
            WHERE sold_ms >= ? AND sold_ms < ? GROUP BY from_station, to_station
        )
        SELECT coalesce(s.from_station, t.from_station), coalesce(s.to_station, t.to_station),
            round(coalesce(s.searches, 0)), round(coalesce(s.no_results, 0)), round(coalesce(s.sold_out, 0)),
            coalesce(t.tickets, 0)
        FROM s FULL JOIN t ON s.from_station = t.from_station AND s.to_station = t.to_station
        ORDER BY 3 DESC, 6 DESC, 1, 2 LIMIT {TOP_PAIRS}
        """,
        [from_ms, to_ms, from_ms, to_ms],
    ).fetchall()
    return [
        {
            "from_station": a,
            "to_station": b,
            "searches": int(searches),
            "no_results": int(none),
            "sold_out": int(full),
            "unmet": int(none) + int(full),
            "tickets": int(tickets),
        }
        for a, b, searches, none, full, tickets in rows
    ]


def _repeat(db: duckdb.DuckDBPyConnection, from_ms: int, to_ms: int, offset_ms: int) -> list[dict]:
    """Per local month: how many pseudonymous passengers travelled N times (tickets kept: not
    voided, not rebooked away; anonymous tickets left out)."""
    month = f"strftime(epoch_ms(sold_ms + {int(offset_ms)}), '%Y-%m')"
    rows = db.execute(
        f"""
        WITH p AS (
            SELECT {month} AS month, passenger, count(*) AS trips FROM tickets
            WHERE passenger <> '' AND voided_ms IS NULL AND changed_ms IS NULL AND sold_ms >= ? AND sold_ms < ?
            GROUP BY month, passenger
        )
        SELECT month, trips, count(*) FROM p GROUP BY month, trips ORDER BY month, trips
        """,
        [from_ms, to_ms],
    ).fetchall()
    return [{"month": m, "trips": int(n), "passengers": int(count)} for m, n, count in rows]
