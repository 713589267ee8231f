"""The audit store on real LMDB files: append-only, de-duplicated, paged, purged only from the old end,
and any tampering with the raw bytes found by `verify` and by `keyun audit verify`."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import lmdb
import msgpack
import pytest

from keyun.engine.audit import GENESIS, ChainProblem
from keyun.engine.reasons import Reason, Rejected, Rejection
from keyun.persistence import audit_store, cli
from keyun.persistence.audit_store import MAX_AUDIT_PAGE, AuditStore

from .conftest import DAY_MS, MINUTE_MS, NOW_MS, data_directory, keyun_elsewhere, keyun_in_process, make_record


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return data_directory(tmp_path / "data")


@contextmanager
def opened(directory: Path, **options):
    store = AuditStore(directory, **options)
    try:
        yield store
    finally:
        store.close()


def filled(data_dir: Path, count: int, batch: int = 50) -> Path:
    directory = data_dir / "audit"
    with opened(directory) as store:
        for start in range(1, count + 1, batch):
            store.append([make_record(n) for n in range(start, min(start + batch, count + 1))])
    return directory


@contextmanager
def raw_records(directory: Path):
    """The LMDB environment as an attacker with file access sees it: (transaction, records db, meta db)."""
    env = lmdb.open(str(directory), max_dbs=3, subdir=True)
    try:
        with env.begin(write=True) as txn:
            yield txn, env.open_db(b"records", txn=txn, create=False), env.open_db(b"meta", txn=txn, create=False)
    finally:
        env.close()


def key(seq: int) -> bytes:
    return seq.to_bytes(8, "big")


def verify(directory: Path, **options):
    with opened(directory, readonly=True) as store:
        return store.verify(**options)


# Appending.


def test_records_get_consecutive_seqs_and_a_resent_batch_is_stored_once(tmp_path):
    with opened(tmp_path / "audit") as store:
        assert store.head() == (0, GENESIS) and store.count() == 0
        first = [make_record(n) for n in range(1, 6)]
        assert store.append(first) == [1, 2, 3, 4, 5]
        head = store.head()
        # The gateway resends a batch whose reply it missed: same seqs back, nothing stored twice.
        assert store.append(first) == [1, 2, 3, 4, 5]
        assert store.head() == head and store.count() == 5
        # Old and new records mixed, and a record id repeated inside one batch.
        assert store.append([make_record(6), make_record(3), make_record(6), make_record(7)]) == [6, 3, 6, 7]
        assert store.count() == 7 and store.verify().ok


def test_appends_survive_a_reopen_and_the_chain_continues(tmp_path):
    directory = tmp_path / "audit"
    with opened(directory) as store:
        store.append([make_record(n) for n in range(1, 4)])
        head = store.head()
    with opened(directory) as store:
        assert store.head() == head
        assert store.append([make_record(4)]) == [4]
        report = store.verify(expect_head=head)
        assert report.ok and report.checked == 4 and report.expected_head_checked


def test_the_map_grows_when_full(tmp_path):
    directory = tmp_path / "audit"
    with opened(directory, map_size=256 * 1024) as store:
        for start in range(1, 3001, 500):
            store.append([make_record(n, detail="d" * 400) for n in range(start, start + 500)])
        assert store.env.info()["map_size"] > 256 * 1024
        assert store.count() == 3000 and store.verify().ok
    # A reader opened with the default (smaller) map adopts the file's size.
    assert verify(directory).checked == 3000


def test_a_reader_in_another_process_works_while_the_writer_is_open(data_dir):
    with opened(data_dir / "audit") as store:
        store.append([make_record(n) for n in range(1, 21)])
        head_seq, head_hash = store.head()
        done = keyun_elsewhere("audit", "verify", "--data-dir", str(data_dir))
        assert done.returncode == 0, done.stderr
        assert "20 records checked" in done.stdout and f"head {head_seq}:{head_hash.hex()}" in done.stdout
        tail = keyun_elsewhere("audit", "tail", "--data-dir", str(data_dir), "-n", "3", "--json")
        assert tail.returncode == 0, tail.stderr
        assert [json.loads(line)["seq"] for line in tail.stdout.splitlines()] == [18, 19, 20]
        store.append([make_record(21)])  # the writer goes on after the readers


# Querying.


def test_query_returns_matches_newest_first_and_pages_through_all_of_them(tmp_path):
    with opened(tmp_path / "audit") as store:
        store.append([make_record(n) for n in range(1, 201)])
        rows, after = store.query(page_size=3)
        assert [seq for seq, _ in rows] == [200, 199, 198] and after == 198
        found, before, pages = [], None, 0
        while True:
            rows, before = store.query(actor="clerk-2", outcome="PERMISSION_DENIED", page_size=7, before_seq=before)
            found += rows
            pages += 1
            if before is None:
                break
        expected = [
            n
            for n in range(200, 0, -1)
            if make_record(n).actor == "clerk-2" and make_record(n).outcome == "PERMISSION_DENIED"
        ]
        assert [seq for seq, _ in found] == expected and pages == len(expected) // 7 + 1
        assert all(record == make_record(seq) for seq, record in found)
        rows, _ = store.query(action="login", target="K103-20261126-0002")
        assert {seq for seq, _ in rows} == {n for n in range(1, 201) if n % 4 == 2 and n % 50 == 2}


def test_query_time_range_is_exact_and_skips_newer_records_without_reading_them(tmp_path, monkeypatch):
    with opened(tmp_path / "audit") as store:
        # One record a minute, arriving a little out of order (stamps up to two minutes late).
        stamps = {n: NOW_MS + n * MINUTE_MS - (n % 3) * MINUTE_MS for n in range(1, 1001)}
        store.append([make_record(n, at_ms=stamps[n]) for n in range(1, 1001)])
        since_ms, until_ms = NOW_MS + 300 * MINUTE_MS, NOW_MS + 400 * MINUTE_MS
        expected = sorted((n for n, at in stamps.items() if since_ms <= at < until_ms), reverse=True)
        # With the scan bound at 150 records, the 600 newer records must be skipped, not read.
        monkeypatch.setattr(audit_store, "MAX_AUDIT_SCAN", 150)
        rows, before = store.query(since_ms=since_ms, until_ms=until_ms, page_size=MAX_AUDIT_PAGE)
        assert [seq for seq, _ in rows] == expected and before is None


def test_a_selective_query_stops_at_the_scan_bound_and_continues(tmp_path, monkeypatch):
    monkeypatch.setattr(audit_store, "MAX_AUDIT_SCAN", 40)
    with opened(tmp_path / "audit") as store:
        store.append([make_record(n, actor="root" if n in {7, 130} else "clerk") for n in range(1, 151)])
        calls, found, before = 0, [], None
        while True:
            rows, before = store.query(actor="root", before_seq=before)
            calls, found = calls + 1, found + [seq for seq, _ in rows]
            if before is None:
                break
        assert found == [130, 7] and calls == 4  # 150 records, 40 per call


def test_page_size_is_clamped_and_bad_paging_is_refused(tmp_path):
    with opened(tmp_path / "audit") as store:
        store.append([make_record(n) for n in range(1, 601)])
        assert len(store.query(page_size=10_000)[0]) == MAX_AUDIT_PAGE
        assert len(store.query(page_size=0)[0]) == audit_store.DEFAULT_AUDIT_PAGE
        for bad in ({"page_size": -1}, {"before_seq": 0}):
            with pytest.raises(Rejected) as refused:
                store.query(**bad)
            assert refused.value.rejection.reason is Reason.INVALID_FIELD
        assert store.query(before_seq=1) == ([], None)


# Purging.


def old_and_new(store: AuditStore) -> None:
    """Records 1-10 are 200 days old, 11-20 are 100 days old, and 21 is 200 days old but arrived late."""
    store.append([make_record(n, at_ms=NOW_MS - 200 * DAY_MS + n) for n in range(1, 11)])
    store.append([make_record(n, at_ms=NOW_MS - 100 * DAY_MS + n) for n in range(11, 21)])
    store.append([make_record(21, at_ms=NOW_MS - 200 * DAY_MS)])


def test_a_purge_shorter_than_180_days_is_refused_and_removes_nothing(tmp_path):
    with opened(tmp_path / "audit") as store:
        old_and_new(store)
        refused = store.purge(NOW_MS, 179)
        assert isinstance(refused, Rejection) and refused.reason is Reason.RETENTION_TOO_SHORT
        assert store.count() == 21 and store.anchor() == (0, GENESIS)


def test_a_purge_removes_old_records_from_the_start_only_and_moves_the_anchor(tmp_path):
    with opened(tmp_path / "audit") as store:
        old_and_new(store)
        head = store.head()
        assert store.purge(NOW_MS, 180, limit=4) == 4
        assert store.purge(NOW_MS, 180) == 6
        assert store.purge(NOW_MS, 180) == 0  # record 11 is younger: the purge stops there
        # Record 21 is as old as the purged ones but lies after younger records: it stays, so
        # the chain stays whole.
        assert [seq for seq, _ in store.tail(20)] == list(range(11, 22))
        anchor_seq, anchor_hash = store.anchor()
        assert anchor_seq == 10 and store.head() == head
        report = store.verify(expect_head=head)
        assert report.ok and report.anchor_seq == 10 and report.checked == 11
        # A purged record's id is forgotten with it: resent now, it is a new record.
        assert store.append([make_record(3, at_ms=NOW_MS)]) == [22]


def test_a_purge_keeps_every_record_younger_than_the_retention(tmp_path):
    with opened(tmp_path / "audit") as store:
        boundary_ms = NOW_MS - 180 * DAY_MS
        store.append(
            [
                make_record(1, at_ms=boundary_ms - 1),
                make_record(2, at_ms=boundary_ms),
                make_record(3, at_ms=boundary_ms + 1),
            ]
        )
        assert store.purge(NOW_MS, 180) == 1
        assert [seq for seq, _ in store.tail(10)] == [2, 3]
        assert store.purge(NOW_MS, 365) == 0


def test_a_purge_stops_at_a_tampered_record_to_keep_the_evidence(tmp_path):
    directory = tmp_path / "audit"
    with opened(directory) as store:
        store.append([make_record(n, at_ms=NOW_MS - 300 * DAY_MS + n) for n in range(1, 6)])
    tamper_outcome(directory, 3)
    with opened(directory) as store:
        assert store.purge(NOW_MS, 180) == 2
        report = store.verify()
        assert (report.problem, report.at_seq) == (ChainProblem.ALTERED, 3)


# Tampering with the raw bytes.


def tamper_outcome(directory: Path, seq: int) -> None:
    """Rewrite one field of a stored record, keeping a well-formed value (and its old hash)."""
    with raw_records(directory) as (txn, records, _):
        values = msgpack.unpackb(txn.get(key(seq), db=records))
        values[10] = (
            "OK" if values[10] != "OK" else "PERMISSION_DENIED"
        )  # [seq, at_ms, record_id, actor, …, outcome, detail, hash]
        txn.put(key(seq), msgpack.packb(values), db=records)


def test_an_altered_record_is_found_by_verify_and_by_keyun_audit_verify(data_dir, capsys):
    directory = filled(data_dir, 30)
    tamper_outcome(directory, 17)
    report = verify(directory)
    assert (report.ok, report.problem, report.at_seq, report.checked) == (False, ChainProblem.ALTERED, 17, 16)
    assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir)) == 1
    assert "ALTERED at record 17" in capsys.readouterr().out
    assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir), "--json") == 1
    assert json.loads(capsys.readouterr().out) | {"head_hash": ""} == {
        "ok": False,
        "checked": 16,
        "anchor_seq": 0,
        "head_seq": 16,
        "head_hash": "",
        "problem": "ALTERED",
        "at_seq": 17,
        "message": "record 17 does not match its chain hash",
        "expected_head_checked": False,
    }


def test_a_flipped_byte_is_found(data_dir):
    directory = filled(data_dir, 10)
    with raw_records(directory) as (txn, records, _):
        value = bytearray(txn.get(key(4), db=records))
        value[len(value) // 2] ^= 0x20
        txn.put(key(4), bytes(value), db=records)
    report = verify(directory)
    assert (report.problem, report.at_seq) == (ChainProblem.ALTERED, 4)


def test_a_deleted_record_is_found(data_dir):
    directory = filled(data_dir, 10)
    with raw_records(directory) as (txn, records, _):
        assert txn.delete(key(6), db=records)
    report = verify(directory)
    assert (report.problem, report.at_seq, report.checked) == (ChainProblem.MISSING, 6, 5)
    assert keyun_elsewhere("audit", "verify", "--data-dir", str(data_dir)).returncode == 1


def test_two_swapped_records_are_found(data_dir):
    directory = filled(data_dir, 10)
    with raw_records(directory) as (txn, records, _):
        third, eighth = txn.get(key(3), db=records), txn.get(key(8), db=records)
        txn.put(key(3), eighth, db=records)
        txn.put(key(8), third, db=records)
    report = verify(directory)
    assert (report.problem, report.at_seq) == (ChainProblem.REORDERED, 3)
    assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir)) == 1


def test_a_truncated_tail_is_found_against_the_head_noted_earlier(data_dir, capsys):
    directory = filled(data_dir, 10)
    with opened(directory, readonly=True) as store:
        noted_seq, noted_hash = store.head()
    # The last two records go, and the stored head is set back to match: the log is valid in itself.
    with raw_records(directory) as (txn, records, meta):
        eighth = msgpack.unpackb(txn.get(key(8), db=records))
        txn.delete(key(9), db=records)
        txn.delete(key(10), db=records)
        txn.put(b"head", msgpack.packb([8, eighth[-1]]), db=meta)
    assert verify(directory).ok
    report = verify(directory, expect_head=(noted_seq, noted_hash))
    assert (report.problem, report.at_seq) == (ChainProblem.MISSING, 9)
    noted = f"{noted_seq}:{noted_hash.hex()}"
    assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir)) == 0
    assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir), "--expect-head", noted) == 1
    assert "MISSING at record 9" in capsys.readouterr().out


def test_a_damaged_stored_head_is_reported_not_crashed_on(data_dir, capsys):
    directory = filled(data_dir, 5)
    with raw_records(directory) as (txn, _, meta):
        txn.put(b"head", msgpack.packb([5, b"short"]), db=meta)
    assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir)) == 1
    assert "stored head or purge anchor is damaged" in capsys.readouterr().err


def test_a_truncated_tail_without_a_matching_head_is_found_on_its_own(data_dir):
    directory = filled(data_dir, 10)
    with raw_records(directory) as (txn, records, _):
        txn.delete(key(10), db=records)
    report = verify(directory)
    assert (report.problem, report.at_seq) == (ChainProblem.MISSING, 10)


# The CLI's other paths.


def test_keyun_audit_verify_prints_progress_and_the_head_to_note(data_dir, capsys, monkeypatch):
    directory = filled(data_dir, 25_000, batch=5_000)
    with opened(directory, readonly=True) as store:
        head_seq, head_hash = store.head()
    monkeypatch.setattr(cli, "AUDIT_PROGRESS_EVERY_S", 0.0)
    assert (
        keyun_in_process(
            "audit", "verify", "--data-dir", str(data_dir), "--expect-head", f"{head_seq}:{head_hash.hex()}"
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert f"ok, 25000 records checked after the purge anchor 0, head {head_seq}:{head_hash.hex()}" in out
    assert "matches the head noted earlier" in out
    assert "audit verify: 10000/25000 records checked" in err and "audit verify: 20000/25000 records checked" in err


def test_keyun_audit_tail_prints_the_newest_records_oldest_first(data_dir, capsys):
    filled(data_dir, 30)
    assert keyun_in_process("audit", "tail", "--data-dir", str(data_dir), "-n", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == "29" and lines[1].split()[0] == "30"
    assert "keyun.v1.Sales/Refund" in lines[0] and "actor=clerk-1" in lines[0] and "record 29" in lines[0]


def test_keyun_audit_refuses_a_directory_without_an_audit_log_and_bad_arguments(data_dir, capsys):
    assert keyun_in_process("audit", "verify", "--data-dir", str(data_dir)) == 1
    assert "has no audit log yet" in capsys.readouterr().err
    for bad in (
        ["audit", "verify", "--data-dir", str(data_dir), "--expect-head", "12:abc"],
        ["audit", "tail", "--data-dir", str(data_dir), "-n", "0"],
    ):
        with pytest.raises(SystemExit) as exited:
            keyun_in_process(*bad)
        assert exited.value.code == 2
