"""The write-ahead log: records survive, a torn tail is cut, and any other damage stops recovery."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from keyun.engine import events as ev
from keyun.engine.commands import CheckIn, PlaceHold, SweepHolds
from keyun.engine.shard import Entry
from keyun.persistence import wal
from keyun.persistence.wal import MAGIC, Record, WalCorruption, WriteAheadLog, scan, segment_name, segments

from .conftest import NOW, TRIP, A, B

# --- helpers --------------------------------------------------------------------------------------


def entries_for(n: int) -> list[Entry]:
    """Realistic journal entries of varying size for the n-th record."""
    expired = tuple(ev.HoldExpired(TRIP, f"{TRIP}-H{k}") for k in range(1, n % 4 + 1))
    held = ev.HoldPlaced(TRIP, f"{TRIP}-H{n}", tuple(range(n % 5 + 1)), 0, 1, 1500, NOW + n)
    return [
        Entry(SweepHolds(), expired),
        Entry(PlaceHold(f"r{n}", TRIP, A, B, seat_count=n % 5 + 1), (held,)),
        Entry(
            CheckIn(f"k{n}", f"{TRIP}-{n:04d}", "gate-1"),
            (ev.TicketCheckedIn(TRIP, f"{TRIP}-{n:04d}", "gate-1", NOW + n),),
        ),
    ][: 1 + n % 3]


def now_for(n: int) -> int:
    return NOW + 1000 * n


def expected(lsns) -> list[Record]:
    return [Record(n, now_for(n), tuple(entries_for(n))) for n in lsns]


def write_log(directory: Path, count: int, segment_bytes: int = wal.SEGMENT_BYTES, first: int = 1) -> WriteAheadLog:
    """A log holding records first..count, left open for appending."""
    log = WriteAheadLog(directory, segment_bytes)
    assert list(log.recover(after_lsn=0)) == expected(range(1, first))
    for n in range(first, count + 1):
        lsn, written = log.append(now_for(n), entries_for(n))
        assert lsn == n and written > wal.FRAME.size
    return log


def recover(
    directory: Path, after_lsn: int = 0, segment_bytes: int = wal.SEGMENT_BYTES
) -> tuple[list[Record], WriteAheadLog]:
    log = WriteAheadLog(directory, segment_bytes)
    return list(log.recover(after_lsn=after_lsn)), log


def closed_log(directory: Path, count: int, segment_bytes: int = wal.SEGMENT_BYTES) -> None:
    write_log(directory, count, segment_bytes).close()


def frames(directory: Path) -> list[tuple[Path, int, Record]]:
    return list(scan(directory))


# --- records round-trip ---------------------------------------------------------------------------


def test_records_round_trip(tmp_path):
    closed_log(tmp_path, 6)
    records, log = recover(tmp_path)
    log.close()
    assert records == expected(range(1, 7))
    assert [r.lsn for r in records] == [1, 2, 3, 4, 5, 6]
    assert all(isinstance(entry, Entry) for r in records for entry in r.entries)
    assert segments(tmp_path) == [tmp_path / segment_name(1)]
    assert (tmp_path / segment_name(1)).read_bytes().startswith(MAGIC)


def test_an_empty_directory_recovers_nothing_and_starts_a_segment(tmp_path):
    records, log = recover(tmp_path / "new")
    assert records == [] and log.next_lsn == 1
    assert log.append(now_for(1), entries_for(1)) == (1, log.size - len(MAGIC))
    log.close()
    assert recover(tmp_path / "new")[0] == expected([1])


def test_recover_after_lsn_yields_only_later_records(tmp_path):
    closed_log(tmp_path, 6)
    for k in range(0, 8):
        records, log = recover(tmp_path, after_lsn=k)
        log.close()
        assert records == expected(range(k + 1, 7)), k
        assert log.next_lsn == max(k, 6) + 1


def test_appending_continues_after_recovery(tmp_path):
    closed_log(tmp_path, 3)
    records, log = recover(tmp_path)
    assert len(records) == 3 and log.next_lsn == 4
    assert log.append(now_for(4), entries_for(4))[0] == 4
    assert log.append(now_for(5), entries_for(5))[0] == 5
    log.close()
    assert recover(tmp_path)[0] == expected(range(1, 6))


def test_appending_after_a_snapshot_beyond_the_log_continues_from_the_snapshot(tmp_path):
    """A restored backup may hold a snapshot newer than its copied log: LSNs go on from the snapshot."""
    closed_log(tmp_path, 3)
    records, log = recover(tmp_path, after_lsn=10)
    assert records == [] and log.next_lsn == 11
    assert log.append(now_for(11), entries_for(11))[0] == 11
    log.close()
    assert recover(tmp_path, after_lsn=10)[0] == expected([11])


# --- segments -------------------------------------------------------------------------------------

SMALL = 400  # a few records per segment


def test_segments_roll_over_and_recovery_reads_across_them(tmp_path):
    closed_log(tmp_path, 20, SMALL)
    paths = segments(tmp_path)
    assert len(paths) >= 4
    firsts = [int(p.stem) for p in paths]
    assert firsts[0] == 1 and firsts == sorted(firsts)
    for path, first in zip(paths, firsts):
        assert path.read_bytes().startswith(MAGIC)
        assert scan_first_lsn(path) == first
    for path in paths[:-1]:
        assert path.stat().st_size >= SMALL  # a segment only ends once it is full
    records, log = recover(tmp_path, segment_bytes=SMALL)
    assert records == expected(range(1, 21))
    assert log.append(now_for(21), entries_for(21))[0] == 21
    log.close()
    assert recover(tmp_path, after_lsn=19)[0] == expected([20, 21])


def scan_first_lsn(path: Path) -> int:
    records, _ = wal.read_segment(path, last=False)
    return records[0][1].lsn


def test_scan_lists_every_record_with_its_file_and_offset(tmp_path):
    closed_log(tmp_path, 12, SMALL)
    scanned = frames(tmp_path)
    assert [record for _, _, record in scanned] == expected(range(1, 13))
    for path, offset, record in scanned:
        data = path.read_bytes()
        assert data[offset:].startswith(wal.encode_record(record.lsn, record.now_ms, list(record.entries)))


def test_retire_deletes_only_segments_fully_covered(tmp_path):
    log = write_log(tmp_path, 20, SMALL)
    firsts = [int(p.stem) for p in segments(tmp_path)]
    assert len(firsts) >= 4
    upto = firsts[2] - 2  # inside the second segment: only the first is fully covered
    assert log.retire(upto) == 1
    assert [int(p.stem) for p in segments(tmp_path)] == firsts[1:]
    assert log.retire(upto) == 0  # idempotent
    assert log.retire(firsts[2] - 1) == 1  # exactly the end of the second segment
    assert [int(p.stem) for p in segments(tmp_path)] == firsts[2:]
    assert log.retire(10_000) == len(firsts) - 3  # never the last segment, which is being written
    assert [int(p.stem) for p in segments(tmp_path)] == firsts[-1:]
    log.close()


def test_recovery_after_retire(tmp_path):
    log = write_log(tmp_path, 20, SMALL)
    firsts = [int(p.stem) for p in segments(tmp_path)]
    upto = firsts[2]  # a snapshot covering the first two segments and the first record of the third
    covered = sum(1 for following in firsts[1:] if following - 1 <= upto)
    assert covered >= 2
    assert log.retire(upto) == covered
    assert [int(p.stem) for p in segments(tmp_path)] == firsts[covered:]
    log.close()
    records, log = recover(tmp_path, after_lsn=upto, segment_bytes=SMALL)
    assert records == expected(range(upto + 1, 21))
    assert log.append(now_for(21), entries_for(21))[0] == 21
    log.close()
    # Without the snapshot the retired records are missing: that is corruption, never skipped.
    with pytest.raises(WalCorruption, match="records are missing"):
        recover(tmp_path, after_lsn=0)


# --- a torn tail ----------------------------------------------------------------------------------


@pytest.mark.parametrize("segment_bytes", [wal.SEGMENT_BYTES, SMALL], ids=["one-segment", "many-segments"])
def test_a_tail_torn_at_every_offset_is_cut(tmp_path, segment_bytes):
    source = tmp_path / "source"
    closed_log(source, 9, segment_bytes)
    path, start, last = frames(source)[-1]
    size = path.stat().st_size
    assert last.lsn == 9 and start < size
    name = path.name
    for cut in range(start, size):
        copy = tmp_path / f"cut{cut}"
        shutil.copytree(source, copy)
        with open(copy / name, "r+b") as file:
            file.truncate(cut)
        records, log = recover(copy, segment_bytes=segment_bytes)
        assert records == expected(range(1, 9)), cut
        assert (copy / name).stat().st_size == start, cut  # cut back to the last good record
        assert log.append(now_for(9), entries_for(9))[0] == 9, cut
        log.close()
        assert recover(copy, segment_bytes=segment_bytes)[0] == expected(range(1, 10)), cut
        shutil.rmtree(copy)


def test_a_torn_first_record_of_a_new_segment_is_cut(tmp_path):
    log = write_log(tmp_path, 0, SMALL)
    n = 0
    while n < 2 or len(segments(tmp_path)) < 3 or frames(tmp_path)[-1][1] != len(MAGIC):
        n += 1
        log.append(now_for(n), entries_for(n))  # until a record starts a new segment
    log.close()
    path, start, last = frames(tmp_path)[-1]
    assert last.lsn == n and path.name == segment_name(n)
    with open(path, "r+b") as file:
        file.truncate(start + 5)
    records, log = recover(tmp_path, segment_bytes=SMALL)
    assert records == expected(range(1, n))
    assert path.stat().st_size == len(MAGIC)
    assert log.append(now_for(n), entries_for(n))[0] == n
    log.close()
    assert recover(tmp_path)[0] == expected(range(1, n + 1))


def test_garbage_after_the_last_record_is_cut(tmp_path):
    """A crash can leave a frame header promising more than was written."""
    closed_log(tmp_path, 4)
    path = segments(tmp_path)[-1]
    size = path.stat().st_size
    with open(path, "ab") as file:
        file.write(wal.FRAME.pack(1000, 12345) + b"\x93\x05")
    records, log = recover(tmp_path)
    log.close()
    assert records == expected(range(1, 5))
    assert path.stat().st_size == size


# --- corruption -----------------------------------------------------------------------------------


def flip(path: Path, offset: int) -> None:
    with open(path, "r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0x40]))


def assert_corrupt(
    directory: Path, path: Path, offset: int, after_lsn: int = 0, segment_bytes: int = wal.SEGMENT_BYTES
) -> WalCorruption:
    size = path.stat().st_size
    with pytest.raises(WalCorruption) as caught:
        recover(directory, after_lsn, segment_bytes)
    error = caught.value
    assert error.path == path and error.offset == offset
    assert str(path) in str(error) and f"byte offset {offset}" in str(error)
    assert path.stat().st_size == size, "a corrupt log is never cut"
    with pytest.raises(WalCorruption) as scanned:
        frames(directory)
    assert (scanned.value.path, scanned.value.offset) == (path, offset)
    return error


def test_a_flipped_byte_in_the_middle_record_is_corruption(tmp_path):
    closed_log(tmp_path, 5)
    scanned = frames(tmp_path)
    path, offset, record = scanned[2]
    end = scanned[3][1]
    flip(path, (offset + wal.FRAME.size + end) // 2)  # inside its payload
    error = assert_corrupt(tmp_path, path, offset)
    assert "checksum" in error.why
    # Records before the damage are not lost by trying: the file is unchanged and still says so.
    assert_corrupt(tmp_path, path, offset)


def test_a_flipped_checksum_byte_is_corruption(tmp_path):
    closed_log(tmp_path, 5)
    path, offset, _ = frames(tmp_path)[1]
    flip(path, offset + 5)
    assert_corrupt(tmp_path, path, offset)


@pytest.mark.parametrize("which", ["first", "last"])
def test_damage_in_a_segment_that_is_not_the_last_is_corruption(tmp_path, which):
    """Even damage at the very end of an earlier segment: only the log's own tail may be torn."""
    closed_log(tmp_path, 20, SMALL)
    scanned = frames(tmp_path)
    first_segment = segments(tmp_path)[0]
    in_first = [(offset, record) for path, offset, record in scanned if path == first_segment]
    assert len(in_first) >= 2
    offset = in_first[0][0] if which == "first" else in_first[-1][0]
    flip(first_segment, offset + wal.FRAME.size + 2)
    assert_corrupt(tmp_path, first_segment, offset, segment_bytes=SMALL)


def test_a_truncated_segment_that_is_not_the_last_is_corruption(tmp_path):
    closed_log(tmp_path, 20, SMALL)
    first_segment = segments(tmp_path)[0]
    offset = [o for path, o, _ in frames(tmp_path) if path == first_segment][-1]
    with open(first_segment, "r+b") as file:
        file.truncate(offset + 3)
    assert_corrupt(tmp_path, first_segment, offset, segment_bytes=SMALL)


def test_a_missing_middle_segment_is_corruption(tmp_path):
    closed_log(tmp_path, 20, SMALL)
    paths = segments(tmp_path)
    assert len(paths) >= 4
    paths[1].unlink()
    with pytest.raises(WalCorruption, match="records are missing") as caught:
        recover(tmp_path, segment_bytes=SMALL)
    assert caught.value.path == paths[2]
    assert f"expected LSN {int(paths[1].stem)}, found {int(paths[2].stem)}" in str(caught.value)
    # Above a snapshot covering the missing segment, the same files recover fine.
    records, log = recover(tmp_path, after_lsn=int(paths[2].stem) - 1, segment_bytes=SMALL)
    log.close()
    assert records == expected(range(int(paths[2].stem), 21))


def test_a_missing_record_inside_the_log_is_corruption(tmp_path):
    """Records out of sequence within segments (say, a file from another log) stop recovery."""
    closed_log(tmp_path / "a", 3)
    other = tmp_path / "b"
    write_log(other, 7).close()
    shutil.copy(segments(other)[0], tmp_path / "a" / segment_name(5))  # LSNs 1..7 after 1..3
    with pytest.raises(WalCorruption, match="expected LSN 4, found 1"):
        recover(tmp_path / "a")


@pytest.mark.parametrize("position", ["only", "first", "last"])
def test_a_segment_with_a_wrong_magic_is_refused(tmp_path, position):
    closed_log(tmp_path, 20, SMALL if position != "only" else wal.SEGMENT_BYTES)
    paths = segments(tmp_path)
    path = {"only": paths[0], "first": paths[0], "last": paths[-1]}[position]
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WalCorruption, match="not a Keyun log segment") as caught:
        recover(tmp_path, segment_bytes=SMALL)
    assert caught.value.path == path and caught.value.offset == 0


def test_a_segment_of_another_format_version_is_refused(tmp_path):
    closed_log(tmp_path, 2)
    path = segments(tmp_path)[0]
    data = path.read_bytes()
    path.write_bytes(b"KEYUNWAL" + bytes([99, 0, 0, 0]) + data[len(MAGIC) :])
    with pytest.raises(WalCorruption, match="not a Keyun log segment"):
        recover(tmp_path)


@pytest.mark.parametrize("kept", range(0, len(MAGIC)))
def test_a_last_segment_with_a_partial_header_is_empty(tmp_path, kept):
    """A crash right after creating a segment leaves part of its header: that segment is empty."""
    closed_log(tmp_path, 20, SMALL)
    before = segments(tmp_path)
    new = tmp_path / segment_name(21)
    new.write_bytes(MAGIC[:kept])
    records, log = recover(tmp_path, segment_bytes=SMALL)
    assert records == expected(range(1, 21))
    assert segments(tmp_path) == before + [new]
    assert log.append(now_for(21), entries_for(21))[0] == 21
    assert log.append(now_for(22), entries_for(22))[0] == 22
    log.close()
    assert new.read_bytes().startswith(MAGIC)
    records, log = recover(tmp_path, segment_bytes=SMALL)
    log.close()
    assert records == expected(range(1, 23))
    assert [record.lsn for path, _, record in frames(tmp_path) if path == new] == [21, 22]


def test_a_partial_header_as_the_only_segment(tmp_path):
    (tmp_path / segment_name(1)).write_bytes(MAGIC[:7])
    records, log = recover(tmp_path)
    assert records == []
    assert log.append(now_for(1), entries_for(1))[0] == 1
    log.close()
    assert recover(tmp_path)[0] == expected([1])


def test_a_partial_header_in_a_segment_that_is_not_the_last_is_refused(tmp_path):
    closed_log(tmp_path, 20, SMALL)
    paths = segments(tmp_path)
    paths[1].write_bytes(MAGIC[:5])
    with pytest.raises(WalCorruption, match="not a Keyun log segment"):
        recover(tmp_path, segment_bytes=SMALL)


# --- zero-filled tails ------------------------------------------------------------------------------


@pytest.mark.parametrize("zeros", [1, 7, 8, 9, 40, 4096])
def test_a_zero_filled_tail_is_cut(tmp_path, zeros):
    """A crash can leave the end of the file extended with zeros that were never written."""
    closed_log(tmp_path, 4)
    path = segments(tmp_path)[-1]
    size = path.stat().st_size
    with open(path, "ab") as file:
        file.write(bytes(zeros))
    records, log = recover(tmp_path)
    assert records == expected(range(1, 5))
    assert path.stat().st_size == size
    assert log.append(now_for(5), entries_for(5))[0] == 5
    log.close()
    assert recover(tmp_path)[0] == expected(range(1, 6))


def test_a_torn_record_followed_by_zeros_is_cut(tmp_path):
    closed_log(tmp_path, 4)
    path, start, _ = frames(tmp_path)[-1]
    data = path.read_bytes()
    path.write_bytes(data[: start + 10] + bytes(len(data) - start - 10))  # the file is as long as the write
    records, log = recover(tmp_path)
    log.close()
    assert records == expected(range(1, 4))
    assert path.stat().st_size == start


def test_zeros_before_a_good_record_are_corruption(tmp_path):
    closed_log(tmp_path, 4)
    scanned = frames(tmp_path)
    path, offset, _ = scanned[1]
    end = scanned[2][1]
    data = path.read_bytes()
    path.write_bytes(data[:offset] + bytes(end - offset) + data[end:])
    error = assert_corrupt(tmp_path, path, offset)
    assert "empty record" in error.why


def test_a_zero_filled_tail_of_a_segment_that_is_not_the_last_is_corruption(tmp_path):
    closed_log(tmp_path, 20, SMALL)
    first_segment = segments(tmp_path)[0]
    end = first_segment.stat().st_size
    with open(first_segment, "ab") as file:
        file.write(bytes(16))
    assert_corrupt(tmp_path, first_segment, end, segment_bytes=SMALL)


@pytest.mark.parametrize("bit", range(32))
def test_a_damaged_length_in_the_middle_of_the_last_segment_is_corruption(tmp_path, bit):
    """A length pointing past the end of the file looks like a torn write, but records follow it:
    cutting there would silently drop acknowledged records."""
    closed_log(tmp_path, 5)
    path, offset, _ = frames(tmp_path)[1]
    size = path.stat().st_size
    with open(path, "r+b") as file:
        file.seek(offset + bit // 8)
        byte = file.read(1)[0]
        file.seek(offset + bit // 8)
        file.write(bytes([byte ^ (1 << bit % 8)]))
    assert_corrupt(tmp_path, path, offset)
    assert path.stat().st_size == size


@pytest.mark.parametrize("bit", [13, 20, 27, 31])  # bits that are 0 in a small length: it grows past the end
def test_a_damaged_length_in_the_last_record_is_a_torn_tail(tmp_path, bit):
    """Nothing follows the last record, so damage there cannot be told from a torn write: it is cut."""
    closed_log(tmp_path, 5)
    path, offset, _ = frames(tmp_path)[-1]
    with open(path, "r+b") as file:
        file.seek(offset + bit // 8)
        byte = file.read(1)[0]
        file.seek(offset + bit // 8)
        file.write(bytes([byte ^ (1 << bit % 8)]))
    records, log = recover(tmp_path)
    log.close()
    assert records == expected(range(1, 5))
    assert path.stat().st_size == offset
