"""An exclusive lock on a data directory, so two processes never write the same owner's files.

A killed owner's lock is released by the operating system with its process, so a restarted owner
gets it as soon as the old one is really gone.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from keyun.common.platform import try_lock

LOCK_FILE = "owner.lock"
POLL_S = 0.1


class DirectoryLocked(Exception):
    pass


class DirectoryLock:
    def __init__(self, directory: Path, wait_s: float = 30.0):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / LOCK_FILE
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while not try_lock(self.fd):
            if time.monotonic() > deadline:
                os.close(self.fd)
                raise DirectoryLocked(f"{directory} is in use by another process")
            time.sleep(POLL_S)

    def release(self) -> None:
        os.close(self.fd)  # closing the descriptor drops the lock on every platform


def is_locked(directory: Path) -> bool:
    """True while some process holds the directory's lock (used to refuse an offline restore)."""
    if not (directory / LOCK_FILE).exists():
        return False
    try:
        DirectoryLock(directory, wait_s=0).release()
    except DirectoryLocked:
        return True
    return False
