"""A consistent copy of the reporting store (reports/reports.duckdb) for `keyun backup`.

DuckDB lets one process open the file to write, and a running server's report projector has it
open.  A copy of the file made beside a writer may be torn, so the copy is always made by the
process that holds the store, between two of its transactions, after a CHECKPOINT (which folds
DuckDB's own write-ahead file into the database file):

- no server running (or one started with --no-reports): `keyun backup` opens the store itself;
- a running projector: `keyun backup` asks it by a file, `reports/backup.request` (JSON: an id and
  the copy's path), written atomically.  The projector looks for it on each pass (every 0.2 s),
  makes the copy under its lock (no projecting, report or upload meanwhile) and answers in
  `reports/backup.done` with the same id.  Both live in the data directory, which only the
  station's account may write.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

import duckdb

from .reports import ReportStore, store_path

REQUEST = "backup.request"
DONE = "backup.done"
# How long `keyun backup` waits for a running projector's copy (it is busy at most one catch-up
# run of 2,000 records, or one report query).
ANSWER_WAIT_S = 120.0
POLL_S = 0.1


def copy_store(db: duckdb.DuckDBPyConnection, source: Path, target: Path) -> int:
    """Checkpoint and copy the store `db` has open (its holder writes nothing meanwhile);
    return the copy's size."""
    db.execute("CHECKPOINT")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o600)  # pseudonyms and settlement figures, as the original
    return target.stat().st_size


def backup_store(data_dir: Path, target: Path) -> dict | None:
    """Copy the data directory's store to `target` (the same path under the backup): by itself
    when no one holds the store, else by asking the running projector.  None: no store yet."""
    source = store_path(data_dir)
    if not source.exists():
        return None
    try:
        db = duckdb.connect(str(source))
    except duckdb.IOException:
        return _ask_projector(source.parent, target)
    try:
        return {"copied": True, "by": "backup", "bytes": copy_store(db, source, target)}
    finally:
        db.close()


def _ask_projector(store_dir: Path, target: Path, wait_s: float = ANSWER_WAIT_S) -> dict:
    ident = uuid.uuid4().hex
    (store_dir / DONE).unlink(missing_ok=True)
    _write_atomically(store_dir / REQUEST, {"id": ident, "to": str(target.resolve())})
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        answer = _read(store_dir / DONE)
        if answer is not None and answer.get("id") == ident:
            (store_dir / DONE).unlink(missing_ok=True)
            if answer.get("error"):
                return {"copied": False, "why": f"the report projector could not copy it: {answer['error']}"}
            return {"copied": True, "by": "projector", "bytes": target.stat().st_size}
        time.sleep(POLL_S)
    (store_dir / REQUEST).unlink(missing_ok=True)
    return {
        "copied": False,
        "why": f"held by a process that did not answer in {wait_s:.0f} s (a server started before this "
        "version?); a restore rebuilds the reports from the logs",
    }


def answer_request(store: ReportStore) -> bool:
    """The projector's side, called with its lock held: make the copy a backup asked for, if one
    did; return whether one did."""
    store_dir = store_path(store.data_dir).parent
    request = _read(store_dir / REQUEST)
    if request is None:
        return False
    (store_dir / REQUEST).unlink(missing_ok=True)
    answer: dict = {"id": request.get("id", "")}
    try:
        answer["bytes"] = copy_store(store.db, store_path(store.data_dir), Path(request["to"]))
    except (OSError, KeyError, duckdb.Error) as error:
        answer["error"] = str(error)
    _write_atomically(store_dir / DONE, answer)
    return True


def _read(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_atomically(path: Path, value: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(value), encoding="utf-8")
    os.replace(temporary, path)
