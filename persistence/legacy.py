"""Reading data format 1 (the release before issue 17), for `keyun upgrade` and nothing else.

Format 1 encoded an engine value as the msgpack array [MARK, class name, field values...], MARK
being the empty extension value ExtType(0, b""), and an enum as [MARK, class name, value]; other
arrays decode as tuples.  The engine's classes keep their names and field order, so a value is
rebuilt by calling its class with the stored fields: a field added later, at the end and with a
default, takes its default.  Only engine classes are built, so nothing in a file can make this
build anything else.

Two values were plain arrays in format 1 and are engine values now: a trip's snapshot record
(state.TripRecord; records written before orders, delays or undone rebookings lack those last
fields) and the accounts owner's snapshot (accounts.AccountsSnapshot; without its audit outbox
before there was one).  The files of format 1 (see upgrade.py for which): log segments, trip
owners' LMDB snapshots and the accounts owner's snapshot.bin.  This module knows nothing of the
current format.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import msgpack

from keyun.engine import accounts, commands, decide, events, network, outbox, reasons, shard, state, views
from keyun.engine.values import Value

FORMAT_VERSION = 1
MAGIC = b"KEYUNWAL" + bytes([FORMAT_VERSION, 0, 0, 0])  # the first bytes of a format-1 log segment
FRAME = struct.Struct("<II")  # length and crc32 of the payload, msgpack [lsn, now_ms, entries]
CRC = struct.Struct("<I")  # snapshot.bin: crc32 of the payload, then msgpack [lsn, now_ms, state]
MARK_CODE = 0
# The trailing fields of a trip record that older records lack: orders, orders_placed, delay_ms,
# undone_moves, revoked, allotments, conflicts, gate (nine fields before orders, eleven before delays,
# twelve before undos, thirteen before revocations, fourteen before handheld allotments, fifteen
# before uploaded scans' conflicts, sixteen before gates, seventeen before seat quotas, blocked
# seats and extra runs, twenty before the crew reported in and the safety check, twenty-two
# before the staff on board and the note of a departure).  Every field
# added at the end of TripRecord needs its default here too, or older records are read askew.
TRIP_RECORD_LATER_FIELDS = ((), 0, 0, (), (), (), (), "", (), (), "", None, None, (), "")
# A trip owner's LMDB snapshot: named databases, and the keys of its meta database.
META, TRIPS, REQUESTS, ARCHIVE = b"meta", b"trips", b"requests", b"archive"
POSITION, AUDIT_OUTBOX = b"position", b"audit_outbox"


class LegacyDataError(Exception):
    """A format-1 file is damaged or holds something format 1 never wrote."""


def _engine_classes() -> dict[str, type]:
    """Engine values and enums by class name: all that format 1 ever encoded."""
    known: dict[str, type] = {}
    for module in (accounts, commands, decide, events, network, outbox, reasons, shard, state, views):
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == module.__name__ and issubclass(value, Value | enum.Enum):
                assert name not in known, f"two engine types are called {name}"
                known[name] = value
    return known


CLASSES = _engine_classes()


class _Mark:
    """What MARK decodes to, told apart by identity in the array hook."""


_MARK = _Mark()


def _ext_hook(code: int, data: bytes) -> Any:
    if code == MARK_CODE and not data:
        return _MARK
    raise LegacyDataError(f"unknown extension code {code} in format-1 data")


def _array_hook(values: tuple) -> Any:
    if not values or values[0] is not _MARK:
        return values
    cls = CLASSES.get(values[1])
    if cls is None:
        raise LegacyDataError(f"unknown type {values[1]!r} in format-1 data")
    if issubclass(cls, enum.Enum):
        try:
            return cls(values[2])
        except ValueError:
            raise LegacyDataError(f"{values[2]!r} is not a {cls.__name__}") from None
    return cls(*values[2:])


def decode(data: bytes) -> Any:
    """One format-1 value (a log record's payload, a snapshot value)."""
    try:
        return msgpack.unpackb(
            data,
            ext_hook=_ext_hook,
            list_hook=_array_hook,
            use_list=False,
            raw=False,
            strict_map_key=False,
        )
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise LegacyDataError(f"not format-1 data: {error}") from None


def read_segment(path: Path, last: bool) -> list[tuple[int, int, tuple]]:
    """The records (lsn, now_ms, entries) of a format-1 log segment.  A torn frame at the end of the
    last segment was never acknowledged and is left out, as recovery would cut it; damage anywhere
    else raises LegacyDataError naming the file and offset."""
    data = path.read_bytes()
    if data[: len(MAGIC)] != MAGIC:
        if last and MAGIC.startswith(data):
            return []  # created, header never fully written
        raise LegacyDataError(f"{path} is not a log segment of format 1")
    records, offset = [], len(MAGIC)
    while offset + FRAME.size <= len(data):
        length, checksum = FRAME.unpack_from(data, offset)
        end = offset + FRAME.size + length
        if length and end <= len(data) and zlib.crc32(data[offset + FRAME.size : end]) == checksum:
            lsn, now_ms, entries = decode(data[offset + FRAME.size : end])
            records.append((lsn, now_ms, entries))
            offset = end
            continue
        break
    if offset < len(data) and not (last and _torn_tail(data, offset)):
        raise LegacyDataError(f"{path}: corrupt log record at byte offset {offset}")
    return records


def _torn_tail(data: bytes, offset: int) -> bool:
    """Whether the bad bytes from `offset` are the end of the file with no valid frame after them."""
    for start in range(offset + 1, len(data) - FRAME.size):
        length, checksum = FRAME.unpack_from(data, start)
        end = start + FRAME.size + length
        if length and end <= len(data) and zlib.crc32(data[start + FRAME.size : end]) == checksum:
            return False
    return True


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


def read_log(directory: Path) -> Iterator[tuple[Path, list[tuple[int, int, tuple]]]]:
    """Each segment of a format-1 log with its records, oldest first."""
    paths = segments(directory)
    for n, path in enumerate(paths):
        yield path, read_segment(path, last=n == len(paths) - 1)


@dataclasses.dataclass
class TripSnapshot:
    """Everything a format-1 trip owner's snapshot holds (its buyer index is derived, not read)."""

    lsn: int
    now_ms: int
    trips: list[state.TripRecord]
    requests: dict[str, tuple[int, Any]]  # request id -> (sequence, receipt)
    audit_outbox: list[tuple]
    archived: list[state.TripRecord]  # the last records of archived trips


def read_trip_snapshot(directory: Path) -> TripSnapshot:
    """A trip owner's snapshot/ directory; an empty snapshot if the owner never wrote one."""
    if not (directory / "data.mdb").exists():
        return TripSnapshot(0, 0, [], {}, [], [])
    # Read-only and without LMDB's reader table: the caller holds the owner's lock.
    env = lmdb.open(str(directory), max_dbs=5, subdir=True, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            meta, trips, requests, archive = (_decoded(env, txn, name) for name in (META, TRIPS, REQUESTS, ARCHIVE))
    finally:
        env.close()
    lsn, now_ms = meta.get(POSITION, (0, 0))
    receipts = {key.decode(): (sequence, receipt) for key, (sequence, receipt) in requests.items()}
    outbox = list(meta.get(AUDIT_OUTBOX, ()))
    records, archived = [_trip_record(r) for r in trips.values()], [_trip_record(r) for r in archive.values()]
    return TripSnapshot(lsn, now_ms, records, receipts, outbox, archived)


def _trip_record(values: tuple) -> state.TripRecord:
    missing = len(state.TripRecord.__struct_fields__) - len(values)
    return state.TripRecord(*values, *TRIP_RECORD_LATER_FIELDS[len(TRIP_RECORD_LATER_FIELDS) - missing :])


def _decoded(env, txn, name: bytes) -> dict[bytes, Any]:
    """A named database's entries, decoded; empty when this snapshot never made it (one written
    before trips were archived).  Meta's other keys (flags, not format-1 values) are skipped."""
    try:
        db = env.open_db(name, txn=txn, create=False)
    except lmdb.NotFoundError:
        return {}
    return {key: decode(value) for key, value in txn.cursor(db=db) if name != META or key in (POSITION, AUDIT_OUTBOX)}


def read_small_snapshot(path: Path) -> tuple[int, int, accounts.AccountsSnapshot]:
    """The accounts owner's snapshot.bin: (lsn, now_ms, state)."""
    data = path.read_bytes()
    if len(data) < CRC.size or CRC.unpack_from(data)[0] != zlib.crc32(data[CRC.size :]):
        raise LegacyDataError(f"{path}: snapshot checksum mismatch")
    lsn, now_ms, (accounts_state, recent, *outbox) = decode(data[CRC.size :])
    return lsn, now_ms, accounts.AccountsSnapshot(accounts_state, recent, outbox[0] if outbox else ())
