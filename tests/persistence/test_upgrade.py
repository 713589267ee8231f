"""`keyun upgrade` on a data directory and a backup written by the release before issue 17
(tests/fixtures/format1-datadir.tar.gz, made by tests/fixtures/make_format1_datadir.py).

Every record reads the same after the upgrade; an interrupted upgrade is put back and runs again;
a second one and one beside a running server are refused; and a real server on the upgraded
directory, and on a restored backup, serves every ticket sold, decrypts personal data and sells.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import msgpack
import msgspec
import pytest

from keyun.engine.policy import DAY_MS, MAX_ARCHIVE_AFTER_DAYS, Policy
from keyun.engine.state import TicketStatus
from keyun.persistence import layout, legacy, small_store, upgrade, wal
from keyun.persistence.layout import DataDirError, read_manifest
from keyun.persistence.lock import DirectoryLock
from keyun.persistence.snapshot import SnapshotStore
from keyun.persistence.upgrade import UpgradeError
from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import accounts_pb2, common_pb2

from ..conftest import ServerThread, logged_in, schedule_trip

FIXTURE = Path(__file__).parent.parent / "fixtures" / "format1-datadir.tar.gz"
KEYUN = str(Path(sys.executable).parent / "keyun")


@pytest.fixture
def old(tmp_path) -> Path:
    """The fixture unpacked: tmp/data, tmp/data-keys, tmp/backup, tmp/expected.json."""
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    (tmp_path / "data-keys").chmod(0o700)  # the filter leaves directories to the umask; keys must be private
    return tmp_path


def expected(old: Path) -> dict:
    return json.loads((old / "expected.json").read_text(encoding="utf-8"))


def keyun(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KEYUN, *args], capture_output=True, text=True, timeout=120)


def every_record(data_dir: Path, read_log, read_trip_snapshot, read_small_snapshot) -> dict:
    """All a data directory holds, as engine values: logs, trip snapshots, the accounts snapshot."""
    found = {}
    for owner in [*layout.shard_directories(data_dir), data_dir / "accounts"]:
        found[owner.name, "wal"] = read_log(owner / "wal")
    for shard in layout.shard_directories(data_dir):
        found[shard.name, "snapshot"] = read_trip_snapshot(shard / "snapshot")
    found["accounts", "snapshot"] = read_small_snapshot(data_dir / "accounts" / small_store.SNAPSHOT_FILE)
    return found


def format1_records(data_dir: Path) -> dict:
    def snapshot(directory: Path):
        s = legacy.read_trip_snapshot(directory)
        return s.lsn, s.now_ms, s.trips, s.requests, s.audit_outbox, sorted(s.archived, key=repr)

    def log(directory: Path):
        return [row for _, rows in legacy.read_log(directory) for row in rows]

    return every_record(data_dir, log, snapshot, legacy.read_small_snapshot)


def current_records(data_dir: Path) -> dict:
    def snapshot(directory: Path):
        store = SnapshotStore(directory, readonly=True)
        try:
            s = store.load()
            requests = {rid: (sequence, receipt) for sequence, rid, receipt in s.requests}
            return s.lsn, s.now_ms, s.trips, requests, s.audit_outbox, sorted(store.archived_trips(), key=repr)
        finally:
            store.close()

    def log(directory: Path):
        return [(r.lsn, r.now_ms, r.entries) for _, _, r in wal.scan(directory)]

    return every_record(data_dir, log, snapshot, small_store.read_snapshot)


pytestmark = pytest.mark.skipif(
    legacy.FORMAT_VERSION == upgrade.codec.FORMAT_VERSION,
    reason="this Keyun writes format 1: nothing to upgrade",
)


def test_every_record_reads_the_same_after_the_upgrade(old):
    before = format1_records(old / "data")
    done = keyun("upgrade", "--data-dir", str(old / "data"))
    assert done.returncode == 0, done.stderr
    assert f"to format {upgrade.codec.FORMAT_VERSION}" in done.stdout and "log records" in done.stdout
    assert read_manifest(old / "data") == {"format": upgrade.codec.FORMAT_VERSION, "shards": 2}
    assert current_records(old / "data") == before
    assert format1_records(old / "data" / upgrade.KEPT) == before  # the old files, kept for the operator to delete
    assert not (old / "data" / upgrade.STAGING).exists()
    again = keyun("upgrade", "--data-dir", str(old / "data"))
    assert again.returncode == 1 and "is already format 2: nothing to upgrade" in again.stderr


def test_an_unupgraded_directory_is_refused_naming_the_upgrade(old):
    with pytest.raises(DataDirError, match=f"keyun upgrade --data-dir {old / 'data'}"):
        layout.prepare(old / "data", 2)


def test_an_upgrade_beside_a_running_owner_is_refused(old):
    lock = DirectoryLock(old / "data" / "shards" / "0001")
    try:
        with pytest.raises(UpgradeError, match="in use by a running Keyun; stop it first"):
            upgrade.upgrade(old / "data")
    finally:
        lock.release()
    assert read_manifest(old / "data")["format"] == legacy.FORMAT_VERSION


def test_an_interrupted_upgrade_is_put_back_and_done_again(old, monkeypatch):
    before = format1_records(old / "data")

    def crash(*_):
        raise OSError("power cut")

    monkeypatch.setattr(upgrade, "_write_manifest", crash)  # after the swap, before the commit
    with pytest.raises(OSError):
        upgrade.upgrade(old / "data")
    assert read_manifest(old / "data")["format"] == legacy.FORMAT_VERSION and (old / "data" / upgrade.KEPT).exists()
    monkeypatch.undo()
    upgrade.upgrade(old / "data")
    assert current_records(old / "data") == before


def test_the_format1_reader_builds_only_engine_values():
    mark = msgpack.ExtType(legacy.MARK_CODE, b"")
    assert legacy.decode(msgpack.packb([mark, "TicketStatus", "refunded"])) is TicketStatus.REFUNDED
    with pytest.raises(legacy.LegacyDataError, match="unknown type 'Popen'"):
        legacy.decode(msgpack.packb([mark, "Popen", ["sh"]]))
    with pytest.raises(legacy.LegacyDataError, match="unknown extension code 5"):
        legacy.decode(msgpack.packb([msgpack.ExtType(5, b""), "TicketStatus", "refunded"]))


def test_trip_records_from_before_orders_read_with_their_later_fields_empty(old):
    shards = layout.shard_directories(old / "data")
    record = next(trip for shard in shards for trip in legacy.read_trip_snapshot(shard / "snapshot").trips)
    before_orders = msgspec.structs.astuple(record)[:9]
    empty = msgspec.structs.replace(record, orders=(), orders_placed=0, delay_ms=0, undone_moves=())
    assert legacy._trip_record(before_orders) == empty


# --- a real server on what was upgraded ---------------------------------------------------------


def serves_everything_sold(data_dir: Path, key_dir: Path, expected: dict) -> None:
    """Start a server; every ticket sold is there with its seat and status, personal data
    decrypts, the archived trip reads, and a new sale works."""
    # The fixture's trips may lie far back by the time this runs: keep them out of the archive.
    policy = Policy(archive_after_ms=MAX_ARCHIVE_AFTER_DAYS * DAY_MS)
    server = ServerThread(data_dir, shards=2, policy=policy, key_dir=key_dir)
    try:
        master = logged_in(KeyunClient(server.target, attempts=1))
        for sold in expected["tickets"]:
            ticket = master.ticket(sold["ticket_id"])
            assert (ticket.seat_number, common_pb2.TicketStatus.Name(ticket.status), ticket.holder.name) == (
                sold["seat"],
                sold["status"],
                sold["holder"],
            ), sold["ticket_id"]
        listed = sum(len(master.manifest(trip_id, page_size=500).tickets) for trip_id in expected["trips"])
        assert listed == len(expected["tickets"])
        assert master.trip(expected["archived_trip"]).trip_id == expected["archived_trip"]
        account = expected["account"]
        passenger = KeyunClient(server.target, attempts=1)
        passenger.login(account["phone"], account["password"])
        profile = passenger.call(passenger.accounts.GetProfile, accounts_pb2.GetProfileRequest()).account
        assert profile.display_name == account["display_name"]
        (saved,) = passenger.call(passenger.accounts.ListPassengers, accounts_pb2.ListPassengersRequest()).passengers
        assert (saved.passenger_id, saved.name) == (account["passenger_id"], "吴**")
        assert saved.document_number.endswith(account["document"][-4:])
        trip_id = schedule_trip(master, "AFTER", dt.timedelta(hours=6))
        assert master.sell(trip_id, "AAA", "BBB", seat_numbers=("7",)).tickets[0].seat_number == "7"
        with pytest.raises(KeyunError):
            master.sell(trip_id, "AAA", "BBB", seat_numbers=("7",))  # and the seat is taken
        passenger.close()
        master.close()
    finally:
        server.stop()


def test_an_upgraded_data_directory_serves_everything_sold(ray_session, old):
    assert keyun("upgrade", "--data-dir", str(old / "data")).returncode == 0
    serves_everything_sold(old / "data", old / "data-keys", expected(old))


def test_a_backup_of_the_old_release_is_restored_upgraded_and_serves(ray_session, old):
    done = keyun("restore", "--from", str(old / "backup"), "--data-dir", str(old / "restored"))
    assert done.returncode == 0, done.stderr
    assert read_manifest(old / "restored")["format"] == upgrade.codec.FORMAT_VERSION
    assert not (old / "restored" / upgrade.KEPT).exists()  # the backup itself is the format-1 copy
    assert format1_records(old / "backup") == current_records(old / "restored")
    serves_everything_sold(old / "restored", old / "data-keys", expected(old))


def test_every_later_trip_record_field_has_its_default_for_older_records():
    """A field added at the end of TripRecord needs its default in TRIP_RECORD_LATER_FIELDS (format 1
    wrote nine fields; the upgrade fills the rest from the end of that tuple)."""
    from keyun.engine.state import TripRecord
    from keyun.persistence.legacy import TRIP_RECORD_LATER_FIELDS

    assert len(TRIP_RECORD_LATER_FIELDS) == len(TripRecord.__struct_fields__) - 9
    defaults = TripRecord.__struct_defaults__  # the fields with defaults are the last ones
    assert TRIP_RECORD_LATER_FIELDS[-len(defaults) :] == defaults
