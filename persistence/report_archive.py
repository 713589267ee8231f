"""Pruning `wal-archive/` (`keyun report prune-archive`, docs/reporting.md "Pruning the archive").

Owners move the log segments a snapshot covers to `wal-archive/` so that the report projector, and
`keyun report rebuild`, can read every record ever written.  That archive grows with the station's
history.  An archived segment may go once the reports no longer need to read it again:

- every record in it is projected (at or below its owner's position in the store); and
- a trip owner's segment: every trip its records touch departs in a period locked in settlement
  for the trip's operator, or departs before the retention date the station gives (`--before`);
- the accounts owner's segment (shifts, contracts, locks, accounts): every record in it was
  written before the retention date.

Anything else is kept, and the reason said.  The store then holds the only copy of what the pruned
records said: a later `keyun report rebuild` counts them as a gap, so back the store up with
`keyun backup` (which carries it) rather than rebuild.  Pruning runs on a stopped server's data
directory (it takes the store's lock as rebuild does); an owner that retires more segments
meanwhile only adds to the archive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from keyun.common.platform import fsync_directory

from .reports import ReportStore, owner_directories, read_records
from .wal import ARCHIVE_DIR, segments

CHINA = dt.timezone(dt.timedelta(hours=8))
ACCOUNTS = "accounts"
# Trips named in a reason at most (a segment may touch thousands).
NAMED = 3


@dataclass(frozen=True)
class Verdict:
    """What happens to one archived segment, and why."""

    owner: str
    path: Path
    first_lsn: int
    last_lsn: int
    records: int
    delete: bool
    why: str
    bytes: int


@dataclass(frozen=True)
class Segment:
    records: int
    first_lsn: int
    last_lsn: int
    last_ms: int
    trip_ids: frozenset[str]


def read_segment(path: Path) -> Segment:
    """An archived segment's records: their LSNs, the last record's time, and the trips they touch."""
    lsns: list[int] = []
    last_ms = 0
    trips: set[str] = set()
    for _end, record in read_records(path):
        lsns.append(record.lsn)
        last_ms = max(last_ms, record.now_ms)
        for entry in record.entries:
            for event in getattr(entry, "events", ()):
                trip_id = getattr(event, "trip_id", "") or getattr(getattr(event, "spec", None), "trip_id", "")
                if trip_id:
                    trips.add(trip_id)
    return Segment(len(lsns), min(lsns, default=0), max(lsns, default=0), last_ms, frozenset(trips))


class Settled:
    """Which trips' periods are settled: locked for their operator, or departed before `before`."""

    def __init__(self, store: ReportStore, before: dt.date | None):
        self.before = before.isoformat() if before else ""
        # Dates as YYYY-MM-DD text, compared as text (the store keeps some as DATE, some as text).
        self.trips = {
            trip_id: (operator, str(day))
            for trip_id, operator, day in store.db.execute(
                "SELECT trip_id, operator_id, service_date FROM trips"
            ).fetchall()
        }
        self.locks: dict[str, list[tuple[str, str]]] = {}
        for operator, first, last in store.db.execute(
            "SELECT operator_id, from_date, to_date FROM settlement_locks"
        ).fetchall():
            self.locks.setdefault(operator, []).append((str(first), str(last)))

    def unsettled(self, trip_id: str) -> str:
        """Why a trip's records must stay, or "" when they may go."""
        if trip_id not in self.trips:
            return f"{trip_id} is not in the reporting store"
        operator, day = self.trips[trip_id]
        if any(first <= day <= last for first, last in self.locks.get(operator, ())):
            return ""
        if self.before and day < self.before:
            return ""
        after = f" and departs on or after {self.before}" if self.before else ""
        return f"{trip_id} ({operator}, {day}) is in no locked settlement period{after}"


def plan(store: ReportStore, data_dir: Path, before: dt.date | None) -> list[Verdict]:
    """A verdict for every archived segment of every owner, oldest first; nothing is deleted."""
    settled = Settled(store, before)
    before_ms = int(dt.datetime.combine(before, dt.time(), CHINA).timestamp() * 1000) if before is not None else 0
    verdicts = []
    for owner, directory in owner_directories(data_dir):
        position = store.positions.get(owner)
        projected = position.lsn if position else 0
        for path in segments(directory / ARCHIVE_DIR):
            segment = read_segment(path)
            why = _why_kept(owner, segment, projected, settled, before_ms)
            verdicts.append(
                Verdict(
                    owner,
                    path,
                    segment.first_lsn,
                    segment.last_lsn,
                    segment.records,
                    not why,
                    why or _why_deleted(owner, segment, settled),
                    path.stat().st_size,
                )
            )
    return verdicts


def _why_kept(owner: str, segment: Segment, projected: int, settled: Settled, before_ms: int) -> str:
    if not segment.records:
        return ""
    if segment.last_lsn > projected:
        return f"not all projected yet (records up to {segment.last_lsn}, the store has up to {projected})"
    if owner == ACCOUNTS:
        if before_ms and segment.last_ms < before_ms:
            return ""
        return "the accounts log (shifts, contracts, locks) goes only when older than --before"
    reasons = sorted(filter(None, map(settled.unsettled, segment.trip_ids)))
    if not reasons:
        return ""
    more = f" (and {len(reasons) - NAMED} more trips)" if len(reasons) > NAMED else ""
    return "; ".join(reasons[:NAMED]) + more


def _why_deleted(owner: str, segment: Segment, settled: Settled) -> str:
    if not segment.records:
        return "no records"
    if owner == ACCOUNTS:
        return f"projected, and written before {settled.before}"
    return f"projected, and its {len(segment.trip_ids)} trips are settled (locked, or before the retention date)"


def prune(data_dir: Path, before: dt.date | None, dry_run: bool = False) -> list[Verdict]:
    """Decide for every archived segment, and delete those that may go (not with `dry_run`)."""
    store = ReportStore(data_dir, None)  # the lock: no projector may run meanwhile
    try:
        verdicts = plan(store, data_dir, before)
    finally:
        store.close()
    if not dry_run:
        for verdict in verdicts:
            if verdict.delete:
                verdict.path.unlink()
        for directory in {verdict.path.parent for verdict in verdicts if verdict.delete}:
            fsync_directory(directory)
    return verdicts
