"""`keyun backup` and `keyun restore` carry the audit log: copied while its owner appends, checked
file by file, and its hash chain verified up to the head the backup recorded before a restore succeeds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import lmdb
import msgpack

from keyun.persistence.audit_store import AuditStore
from keyun.persistence.store import OwnerStore

from .conftest import data_directory, keyun_elsewhere, make_record


def station(root: Path) -> Path:
    """A data directory with one (empty) trip owner, as `keyun serve --shards 1` leaves it."""
    data_dir = data_directory(root)
    OwnerStore(data_dir / "shards" / "0000").close()
    return data_dir


def backup_while_appending(data_dir: Path, target: Path) -> tuple[int, bytes]:
    """Back up while the audit owner is open and appending; return the head it had at the copy."""
    store = AuditStore(data_dir / "audit")
    try:
        store.append([make_record(n) for n in range(1, 41)])
        head = store.head()
        done = keyun_elsewhere("backup", "--data-dir", str(data_dir), "--to", str(target))
        assert done.returncode == 0, done.stderr
        assert "and the audit log up to record 40" in done.stdout
        store.append([make_record(n) for n in range(41, 51)])  # after the copy: not in the backup
    finally:
        store.close()
    return head


def rewrite_checksums(backup: Path) -> None:
    """What someone who can edit the backup directory would also do."""
    summary = json.loads((backup / "backup.json").read_text())
    for name in summary["files"]:
        summary["files"][name] = hashlib.sha256((backup / name).read_bytes()).hexdigest()
    (backup / "backup.json").write_text(json.dumps(summary))


def test_a_backup_holds_the_audit_log_as_of_the_copy_and_restores_verified(tmp_path):
    data_dir = station(tmp_path / "data")
    head_seq, head_hash = backup_while_appending(data_dir, tmp_path / "backup")
    summary = json.loads((tmp_path / "backup" / "backup.json").read_text())
    assert summary["audit"] == {"head_seq": head_seq, "head_hash": head_hash.hex()}
    assert "audit/data.mdb" in summary["files"] and not (tmp_path / "backup" / "audit" / "lock.mdb").exists()

    done = keyun_elsewhere("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored"))
    assert done.returncode == 0, done.stderr
    assert "audit log verified up to record 40" in done.stdout
    restored = AuditStore(tmp_path / "restored" / "audit", readonly=True)
    try:
        assert restored.head() == (head_seq, head_hash) and restored.count() == 40
        assert [record for _, record in restored.tail(40)] == [make_record(n) for n in range(1, 41)]
    finally:
        restored.close()
    assert keyun_elsewhere("audit", "verify", "--data-dir", str(tmp_path / "restored")).returncode == 0


def test_a_restore_refuses_a_backup_whose_audit_log_was_altered(tmp_path):
    data_dir = station(tmp_path / "data")
    backup_while_appending(data_dir, tmp_path / "backup")
    env = lmdb.open(str(tmp_path / "backup" / "audit"), max_dbs=3)
    with env.begin(write=True) as txn:
        records = env.open_db(b"records", txn=txn, create=False)
        values = msgpack.unpackb(txn.get((12).to_bytes(8, "big"), db=records))
        values[3] = "someone-else"  # the actor
        txn.put((12).to_bytes(8, "big"), msgpack.packb(values), db=records)
    env.close()
    (tmp_path / "backup" / "audit" / "lock.mdb").unlink()
    rewrite_checksums(tmp_path / "backup")
    done = keyun_elsewhere("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored"))
    assert done.returncode == 1
    assert "the restored audit log does not verify: ALTERED at record 12" in done.stderr


def test_a_restore_refuses_a_backup_whose_audit_log_was_cut_short(tmp_path):
    """Cutting the newest records and moving the stored head back leaves a valid chain, but not the
    head the backup recorded."""
    data_dir = station(tmp_path / "data")
    backup_while_appending(data_dir, tmp_path / "backup")
    env = lmdb.open(str(tmp_path / "backup" / "audit"), max_dbs=3)
    with env.begin(write=True) as txn:
        records, meta = env.open_db(b"records", txn=txn, create=False), env.open_db(b"meta", txn=txn, create=False)
        thirty_eighth = msgpack.unpackb(txn.get((38).to_bytes(8, "big"), db=records))
        for seq in (39, 40):
            txn.delete(seq.to_bytes(8, "big"), db=records)
        txn.put(b"head", msgpack.packb([38, thirty_eighth[-1]]), db=meta)
    env.close()
    (tmp_path / "backup" / "audit" / "lock.mdb").unlink()
    rewrite_checksums(tmp_path / "backup")
    done = keyun_elsewhere("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored"))
    assert done.returncode == 1
    assert "ends at record 38, but the backup recorded head 40" in done.stderr


def test_a_damaged_audit_file_fails_the_backup_checksums(tmp_path):
    data_dir = station(tmp_path / "data")
    backup_while_appending(data_dir, tmp_path / "backup")
    with open(tmp_path / "backup" / "audit" / "data.mdb", "r+b") as file:
        file.seek(5000)
        byte = file.read(1)
        file.seek(5000)
        file.write(bytes([byte[0] ^ 0xFF]))
    done = keyun_elsewhere("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored"))
    assert done.returncode == 1 and "audit/data.mdb is damaged" in done.stderr


def test_a_restore_refuses_a_data_directory_whose_audit_log_is_in_use(tmp_path):
    data_dir = station(tmp_path / "data")
    backup_while_appending(data_dir, tmp_path / "backup")
    busy = AuditStore(tmp_path / "busy" / "audit")  # an audit owner running on the target
    try:
        done = keyun_elsewhere("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "busy"))
    finally:
        busy.close()
    assert done.returncode == 1 and "in use by a running Keyun" in done.stderr


def test_a_data_directory_without_an_audit_log_backs_up_and_restores(tmp_path):
    data_dir = station(tmp_path / "data")
    done = keyun_elsewhere("backup", "--data-dir", str(data_dir), "--to", str(tmp_path / "backup"))
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "backup" / "backup.json").read_text())["audit"] is None
    done = keyun_elsewhere("restore", "--from", str(tmp_path / "backup"), "--data-dir", str(tmp_path / "restored"))
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "restored" / "audit").exists()
