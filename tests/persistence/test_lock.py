"""The directory lock: one owner process per data directory, released when its process dies."""

from __future__ import annotations

import subprocess
import sys

import pytest

from keyun.persistence.lock import LOCK_FILE, DirectoryLock, DirectoryLocked, is_locked
from keyun.persistence.store import OwnerStore

HOLD_LOCK = """
import sys
from pathlib import Path
from keyun.persistence.lock import DirectoryLock
lock = DirectoryLock(Path(sys.argv[1]), wait_s=0)
print("locked", flush=True)
sys.stdin.readline()
lock.release()
"""


def test_a_second_lock_is_refused_until_the_first_is_released(tmp_path):
    first = DirectoryLock(tmp_path, wait_s=0)
    assert (tmp_path / LOCK_FILE).exists()
    with pytest.raises(DirectoryLocked, match=str(tmp_path)):
        DirectoryLock(tmp_path, wait_s=0)
    with pytest.raises(DirectoryLocked):
        DirectoryLock(tmp_path, wait_s=0.25)  # waiting does not help while it is held
    first.release()
    second = DirectoryLock(tmp_path, wait_s=0)
    second.release()


def test_is_locked_reflects_the_lock(tmp_path):
    assert not is_locked(tmp_path)  # no lock file at all
    lock = DirectoryLock(tmp_path / "d", wait_s=0)
    assert is_locked(tmp_path / "d")
    assert is_locked(tmp_path / "d")  # asking does not take or break the lock
    with pytest.raises(DirectoryLocked):
        DirectoryLock(tmp_path / "d", wait_s=0)
    lock.release()
    assert (tmp_path / "d" / LOCK_FILE).exists()  # the file stays; only the lock on it matters
    assert not is_locked(tmp_path / "d")


def test_the_lock_creates_its_directory(tmp_path):
    lock = DirectoryLock(tmp_path / "a" / "b", wait_s=0)
    assert (tmp_path / "a" / "b").is_dir()
    lock.release()


def test_owner_stores_exclude_each_other(tmp_path):
    store = OwnerStore(tmp_path / "owner", wait_for_lock_s=0)
    try:
        assert is_locked(tmp_path / "owner")
        with pytest.raises(DirectoryLocked):
            OwnerStore(tmp_path / "owner", wait_for_lock_s=0)
    finally:
        store.close()
    assert not is_locked(tmp_path / "owner")
    OwnerStore(tmp_path / "owner", wait_for_lock_s=0).close()


@pytest.fixture
def other_process(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "owner")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def test_a_lock_held_by_another_process(tmp_path, other_process):
    assert is_locked(tmp_path / "owner")
    with pytest.raises(DirectoryLocked):
        DirectoryLock(tmp_path / "owner", wait_s=0)


def test_a_killed_process_releases_its_lock(tmp_path, other_process):
    other_process.kill()
    other_process.wait(timeout=30)
    assert not is_locked(tmp_path / "owner")
    DirectoryLock(tmp_path / "owner", wait_s=0).release()


def test_a_waiting_lock_gets_it_once_the_holder_lets_go(tmp_path, other_process):
    other_process.stdin.write("release\n")
    other_process.stdin.flush()
    lock = DirectoryLock(tmp_path / "owner", wait_s=60)  # polls until the other process has released
    assert other_process.wait(timeout=30) == 0
    lock.release()
