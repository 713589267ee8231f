"""The write-ahead log of one owner: segment files of framed, checksummed records.

A record is one batch: its log sequence number (LSN), its `now`, and its journal entries.  The
owner appends a batch's record with one write and one fsync (group commit) before it replies.

On disk:  segment `<first lsn, 20 digits>.wal` = MAGIC, then frames of
          length (u32 LE) | crc32 of payload (u32 LE) | payload ([lsn, now_ms, entries], engine/codec.py)

Recovery reads every segment in order.  A bad frame at the very end of the last segment is a torn
write from a crash and is cut off; a bad frame anywhere else is corruption and stops recovery with
an error naming the file and offset.  Nothing is ever skipped silently.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keyun.common.platform import O_BINARY, fsync_directory
from keyun.engine import codec
from keyun.engine.values import Journaled

MAGIC = b"KEYUNWAL" + bytes([codec.FORMAT_VERSION, 0, 0, 0])
FRAME = struct.Struct("<II")
# A record's payload: its LSN, its `now` and its journal entries.
decode_payload = codec.decoder(tuple[int, int, tuple[codec.union(Journaled), ...]])

# A new segment starts past this size, so retiring old segments after a snapshot frees space in
# reasonable steps.
SEGMENT_BYTES = 64 * 1024 * 1024

# Beside an owner's wal/: the segments it retired (WriteAheadLog.archive).
ARCHIVE_DIR = "wal-archive"

# One batch of MAX_BATCH commands encodes to well under a megabyte; anything claiming more than
# this is a corrupt length field, not a record.
MAX_RECORD_BYTES = 64 * 1024 * 1024


class WalCorruption(Exception):
    """The log is damaged somewhere other than its torn tail."""

    def __init__(self, path: Path, offset: int, why: str):
        super().__init__(f"{path}: corrupt log record at byte offset {offset}: {why}")
        self.path, self.offset, self.why = path, offset, why


@dataclass(frozen=True)
class Record:
    lsn: int
    now_ms: int
    entries: tuple[Any, ...]


def encode_record(lsn: int, now_ms: int, entries: list) -> bytes:
    payload = codec.encode([lsn, now_ms, entries])
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def write_segment(path: Path, records: list[Record]) -> int:
    """Write a whole segment of `records` at once and fsync it (`keyun upgrade` rewrites logs
    segment by segment); return its size."""
    data = MAGIC + b"".join(encode_record(r.lsn, r.now_ms, list(r.entries)) for r in records)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return len(data)


def segment_name(first_lsn: int) -> str:
    return f"{first_lsn:020d}.wal"


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


def read_segment(path: Path, last: bool) -> tuple[list[tuple[int, Record]], int]:
    """(offset, record) of each record of a segment, and the offset where valid data ends.

    In the last segment a torn tail starts at that offset; recovery cuts it there.
    """
    data = path.read_bytes()
    if data[: len(MAGIC)] != MAGIC:
        if last and len(data) < len(MAGIC) and MAGIC.startswith(data):
            return [], 0  # created but its header never fully reached the disk
        raise WalCorruption(path, 0, "not a Keyun log segment of this format")
    records, offset = [], len(MAGIC)
    while offset < len(data):
        problem, end = _frame_problem(data, offset)
        if problem is not None:
            if last and (end >= len(data) or not data[offset:].strip(b"\0")) and not _frame_follows(data, offset):
                break  # torn write at the end of the log (a crash may also leave it zero-filled)
            raise WalCorruption(path, offset, problem)
        lsn, now_ms, entries = decode_payload(data[offset + FRAME.size : end])
        records.append((offset, Record(lsn, now_ms, entries)))
        offset = end
    return records, offset


def _frame_follows(data: bytes, offset: int) -> bool:
    """Whether a valid frame starts somewhere after `offset`.  A crash tears only the last frame,
    so then the bad frame at `offset` (say, a damaged length field) is damage, not a torn tail."""
    return any(_frame_problem(data, start)[0] is None for start in range(offset + 1, len(data) - FRAME.size))


def _frame_problem(data: bytes, offset: int) -> tuple[str | None, int]:
    """(why the frame at offset is bad or None, where the frame ends)."""
    if offset + FRAME.size > len(data):
        return "truncated frame header", len(data)
    length, checksum = FRAME.unpack_from(data, offset)
    end = offset + FRAME.size + length
    if length == 0:  # every record has a payload; zeroed bytes pass the checksum (crc32 of b"" is 0)
        return "empty record", end
    if length > MAX_RECORD_BYTES:
        return f"implausible record length {length}", max(end, len(data))
    if end > len(data):
        return "record runs past the end of the file", end
    if zlib.crc32(data[offset + FRAME.size : end]) != checksum:
        return "checksum mismatch", end
    return None, end


class WriteAheadLog:
    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES, archive: Path | None = None):
        """`archive`: where retired segments go instead of being deleted (the reports projector
        reads them there, and `keyun report rebuild` reads every record ever written; see
        docs/reporting.md).  Recovery never reads it."""
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.archive = archive
        self.next_lsn = 1
        self.fd: int | None = None
        self.size = 0
        directory.mkdir(parents=True, exist_ok=True)

    def recover(self, after_lsn: int) -> Iterator[Record]:
        """Yield the records after `after_lsn` in order, cutting a torn tail; then open for appending.

        Records up to `after_lsn` are covered by a snapshot, so segments may be missing below it
        (retired, or skipped by an online backup); above it, LSNs must run without a gap.
        """
        self.next_lsn = after_lsn + 1
        paths = segments(self.directory)
        for n, path in enumerate(paths):
            last = n == len(paths) - 1
            records, valid_end = read_segment(path, last)
            for offset, record in records:
                if record.lsn <= after_lsn:
                    continue
                if record.lsn != self.next_lsn:
                    raise WalCorruption(
                        path, offset, f"expected LSN {self.next_lsn}, found {record.lsn}: records are missing"
                    )
                self.next_lsn += 1
                yield record
            if last and valid_end < path.stat().st_size:
                self._cut(path, valid_end)
        self._open_for_append(paths[-1] if paths else None)

    def _cut(self, path: Path, valid_end: int) -> None:
        with open(path, "r+b") as file:
            file.truncate(valid_end)  # 0 for a partial header, which _open_for_append then completes
            file.flush()
            os.fsync(file.fileno())

    def _open_for_append(self, path: Path | None) -> None:
        if path is None or path.stat().st_size >= self.segment_bytes:
            self._start_segment()
            return
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | O_BINARY)
        self.size = path.stat().st_size
        if self.size < len(MAGIC):
            os.write(self.fd, MAGIC[self.size :])
            os.fsync(self.fd)
            self.size = len(MAGIC)

    def _start_segment(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        path = self.directory / segment_name(self.next_lsn)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | O_BINARY, 0o600)
        os.write(self.fd, MAGIC)
        os.fsync(self.fd)
        fsync_directory(self.directory)
        self.size = len(MAGIC)

    def append(self, now_ms: int, entries: list) -> tuple[int, int]:
        """Write one batch's record and fsync it; return (its LSN, bytes written)."""
        assert self.fd is not None, "recover() opens the log before the first append"
        if self.size >= self.segment_bytes:
            self._start_segment()
        lsn = self.next_lsn
        frame = encode_record(lsn, now_ms, entries)
        written = os.write(self.fd, frame)
        assert written == len(frame), "a short write to the log"
        os.fsync(self.fd)
        self.next_lsn += 1
        self.size += written
        return lsn, written

    def next_segment(self) -> None:
        """Append to a new segment from now on, so a snapshot can retire every record before it."""
        if self.size > len(MAGIC):
            self._start_segment()

    def retire(self, upto_lsn: int, delete: bool = False) -> int:
        """Retire segments whose records are all at or below `upto_lsn` (a snapshot covers them):
        move them to the archive (a rename: no copy, no wait), or delete them without one or
        with `delete`."""
        paths = segments(self.directory)
        retired = 0
        keep = self.archive is not None and not delete
        if keep:
            self.archive.mkdir(parents=True, exist_ok=True)
        for path, following in zip(paths, paths[1:]):
            if int(following.stem) - 1 <= upto_lsn:
                if keep:
                    os.replace(path, self.archive / path.name)
                else:
                    path.unlink()
                retired += 1
        if retired:
            fsync_directory(self.directory)
            if keep:
                fsync_directory(self.archive)
        return retired

    def purge_archive(self) -> int:
        """Delete every archived segment (records that must not stay on disk); return how many."""
        if self.archive is None or not self.archive.is_dir():
            return 0
        purged = 0
        for path in segments(self.archive):
            path.unlink()
            purged += 1
        if purged:
            fsync_directory(self.archive)
        return purged

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def copy_segments(source: Path, target: Path) -> int:
    """Copy a live log's segments for a backup; return the bytes copied.  A segment retired by a
    snapshot meanwhile is skipped: the snapshot, copied after the log, covers it."""
    target.mkdir(parents=True, exist_ok=True)
    copied = 0
    for path in segments(source):
        try:
            shutil.copyfile(path, target / path.name)
        except FileNotFoundError:
            continue
        copied += (target / path.name).stat().st_size
    return copied


def scan(directory: Path) -> Iterator[tuple[Path, int, Record]]:
    """Every record of a log, read-only, with its file and offset (for `keyun wal verify|dump`)."""
    paths = segments(directory)
    for n, path in enumerate(paths):
        records, _ = read_segment(path, last=n == len(paths) - 1)
        for offset, record in records:
            yield path, offset, record
