"""ReportProjector: the Ray actor that keeps the reporting store (persistence/reports.py) up to date.

A process of its own, apart from the owners and the gateway: it reads the owners' log files as
they are written and never calls an owner, so a sale never waits for it (docs/reporting.md).  A
thread of its own polls the logs every POLL_S and projects what is new; the gateway's calls
(status, sales report, metrics) run on the actor's own thread meanwhile, each on a cursor of the
one DuckDB connection.  Ray restarts it if it dies; it goes on from its durable positions.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path

import ray
from prometheus_client.core import GaugeMetricFamily

from keyun.persistence import report_backup
from keyun.persistence.keyring import Keyring
from keyun.persistence.load_reports import LoadQuery, ShiftQuery
from keyun.persistence.reports import ProjectedRecordLost, ReportStore, ReportStoreError, SalesQuery
from keyun.persistence.settlement import NoContract

from .authority_uploader import AuthorityUploader

log = logging.getLogger("keyun.reports")

# How often the projector looks for new records: the lag it adds when the station is quiet.
POLL_S = 0.2


# A projector that died a moment ago (killed, restarted by Ray) may still hold the store's lock.
WAIT_FOR_LOCK_S = 30.0


def open_store(data_dir: Path, keyring: Keyring) -> ReportStore:
    deadline = time.monotonic() + WAIT_FOR_LOCK_S
    while True:
        try:
            return ReportStore(data_dir, keyring)
        except ReportStoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class ReportProjector:
    def __init__(self, data_dir: str, key_dir: str, poll_s: float = POLL_S, authority: tuple[str, str] | None = None):
        """`authority`: (platform URL, key file) to upload to the transport authority from this
        process (actors/authority_uploader.py, docs/authority.md); None: no uploads."""
        self.store = open_store(Path(data_dir), Keyring.open(Path(key_dir)))
        self.poll_s = poll_s
        self.lock = threading.Lock()  # one DuckDB transaction at a time: projecting, uploading, or a report
        self.uploader = AuthorityUploader(self.store, self.lock, *authority) if authority is not None else None
        # When the last complete pass began: everything written before then is projected, so the
        # oldest record not projected yet is at most this old.
        self.fresh_at = time.monotonic()
        self.behind: dict[str, int] = {}
        self.failure = ""
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="report-projector", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._poll()
                self.failure = ""
            except ProjectedRecordLost as lost:
                log.error("%s: rebuilding the reports", lost)
                with self.lock:
                    self.store.rebuild()
            except Exception as error:  # a damaged log: keep trying, and say so in status and lag
                if str(error) != self.failure:
                    log.exception("the report projector failed; retrying")
                self.failure = str(error)
            self.stopping.wait(self.poll_s)

    def _poll(self) -> None:
        started = time.monotonic()
        with self.lock:
            report_backup.answer_request(self.store)  # `keyun backup` asked for a copy of the store
            self.store.catch_up()
            self.behind = self.store.behind()
        self.fresh_at = started if any(self.behind.values()) else time.monotonic()

    def ready(self) -> dict:
        return {"pid": os.getpid()}

    def behind_seconds(self) -> float:
        """At most how old the oldest record not projected yet is: since the last complete pass
        began (0 while nothing is behind)."""
        if not any(self.behind.values()) and time.monotonic() - self.fresh_at < 2 * self.poll_s + 1:
            return 0.0
        return time.monotonic() - self.fresh_at

    def status(self) -> dict:
        with self.lock:
            owners = self.store.status()
        return {"owners": owners, "behind_seconds": self.behind_seconds(), "failure": self.failure}

    def sales(self, group_by: tuple[str, ...], from_ms: int, to_ms: int, offset: int, limit: int) -> tuple:
        with self.lock:
            return self.store.sales(SalesQuery(tuple(group_by), from_ms, to_ms, offset, limit))

    def load(self, group_by: tuple[str, ...], first_day: str, last_day: str, offset: int, limit: int) -> tuple:
        """The load report of the trips departing on local days first..last (YYYY-MM-DD)."""
        days = dt.date.fromisoformat(first_day), dt.date.fromisoformat(last_day)
        with self.lock:
            return self.store.load(LoadQuery(tuple(group_by), *days, offset, limit))

    def shifts(self, from_ms: int, to_ms: int, offset: int, limit: int) -> tuple:
        with self.lock:
            return self.store.shifts(ShiftQuery(from_ms, to_ms, offset, limit))

    def record_funnel(self, batch: list[tuple], max_rows: int) -> int:
        """The gateway's funnel events (gateway/funnel.py), appended to the bounded stream."""
        with self.lock:
            return self.store.record_funnel(batch, max_rows)

    def funnel(self, from_ms: int, to_ms: int, offset_ms: int, channel: str) -> list[dict]:
        with self.lock:
            return self.store.funnel(from_ms, to_ms, offset_ms, channel)

    def behaviour(self, from_ms: int, to_ms: int, offset_ms: int, sections: tuple[str, ...]) -> dict:
        with self.lock:
            return self.store.behaviour(from_ms, to_ms, offset_ms, tuple(sections))

    def settlement_sheet(self, operator_id: str, from_date: str, to_date: str, as_of_ms: int | None) -> dict:
        """An operator's settlement sheet (persistence/settlement.py), after projecting everything on
        disk: a contract, lock or sale the caller was just told of is in it.  {"no_contract": why}
        when the operator has no contract for the period."""
        with self.lock:
            self.store.catch_up()
            try:
                return self.store.settlement_sheet(operator_id, from_date, to_date, as_of_ms)
            except NoContract as missing:
                return {"no_contract": str(missing)}

    def settlement_lines(self, operator_id: str, from_date: str, to_date: str, offset: int, limit: int) -> dict:
        with self.lock:
            self.store.catch_up()
            try:
                lines, total = self.store.settlement_lines(operator_id, from_date, to_date, offset, limit)
            except NoContract as missing:
                return {"no_contract": str(missing)}
        return {"lines": lines, "total": total}

    def wait_caught_up(self) -> dict:
        """Project everything on disk now (tests and `keyun report status --wait`): what is behind after."""
        with self.lock:
            report_backup.answer_request(self.store)  # `keyun backup` asked for a copy of the store
            self.store.catch_up()
            self.behind = self.store.behind()
        return self.behind

    def metrics(self) -> list:
        records = GaugeMetricFamily(
            "keyun_report_lag_records",
            "Log records on disk the report projector has not projected yet",
            labels=["owner"],
        )
        for owner, behind in sorted(self.behind.items()):
            records.add_metric([owner], behind)
        seconds = GaugeMetricFamily(
            "keyun_report_lag_seconds",
            "At most how old the oldest log record the report projector has not projected is (0 when caught up)",
        )
        seconds.add_metric([], self.behind_seconds())
        failing = GaugeMetricFamily("keyun_report_failing", "1 while the report projector's last attempt failed")
        failing.add_metric([], 1 if self.failure else 0)
        return [records, seconds, failing, *self._upload_metrics()]

    def _upload_metrics(self) -> list:
        if self.uploader is None:
            return []
        oldest = GaugeMetricFamily(
            "keyun_authority_upload_oldest_waiting_seconds",
            "Age of the oldest upload batch the transport authority has not acknowledged (0: none waiting)",
        )
        oldest.add_metric([], self.uploader.oldest_waiting_s())
        connected = GaugeMetricFamily(
            "keyun_authority_connected", "1 if the last connectivity test with the transport authority passed"
        )
        connected.add_metric([], 1 if self.uploader.connected else 0)
        mismatches = GaugeMetricFamily(
            "keyun_authority_reconciliation_mismatches",
            "Days whose latest reconciliation with the transport authority did not match",
        )
        mismatches.add_metric([], self.uploader.mismatched_days)
        return [oldest, connected, mismatches]

    # -- uploads to the transport authority (None from each when uploads are off) ----------------

    def upload_status(self) -> dict | None:
        return None if self.uploader is None else self.uploader.status()

    def upload_resend(self, day: str) -> dict | None:
        return None if self.uploader is None else self.uploader.resend(day)

    def upload_reconcile(self, day: str) -> dict | None:
        return None if self.uploader is None else self.uploader.reconcile_now(day)


# num_cpus=0 as the owners: it must never wait for a CPU slot; Ray restarts it if it dies.
RemoteReportProjector = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0)(ReportProjector)
