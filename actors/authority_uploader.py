"""The uploader: sends the reporting store's records to the transport authority's platform
(docs/authority.md).  A thread of the report projector's process: it reads the store through the
projector's connection, under the projector's lock, and sends over HTTP outside it, so a slow
platform never holds up the projection (and never a sale: the owners do not know it exists).

Each pass (every PASS_S): batch what is new (persistence/uploads.Outbox), queue the daily file of
each finished day, send every batch due, oldest first, and reconcile each finished day whose file
was acknowledged.  A failure (refused, timed out, unreachable) puts the batch back with an
exponential back-off (BACKOFF_BASE_S doubling to BACKOFF_MAX_S) and pauses sending until then, so
order is kept.  What waits is in the store: a restart sends it again with the same ids.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from keyun.common.authority_wire import (
    BATCH_PATH,
    FILE_PATH,
    PING_PATH,
    RECONCILE_PATH,
    AuthorityConfig,
    canonical,
    read_config,
    signed_headers,
)
from keyun.persistence.reports import local_date
from keyun.persistence.uploads import Batch, Outbox

log = logging.getLogger("keyun.authority")

PASS_S = 1.0  # near-real-time: a movement is batched and sent within about this long
PING_S = 60.0  # the connectivity test, also at start
TIMEOUT_S = 5.0  # an answer later than this is a failure; the batch is sent again (same id)
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 10.0


class PlatformError(Exception):
    """The platform did not acknowledge: refused, failed, timed out or unreachable."""


def now_ms() -> int:
    return int(time.time() * 1000)


def backoff_s(attempts: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))


class AuthorityUploader:
    def __init__(self, store: Any, lock: threading.Lock, url: str, key_file: str):
        """`store`: the projector's ReportStore (its `db`, its `positions`); `lock`: the projector's
        lock around it."""
        self.config: AuthorityConfig = read_config(Path(key_file), url)
        # https: the platform's certificate is checked against the system's CAs, or the one named.
        self.tls = ssl.create_default_context(cafile=self.config.ca_file or None)
        self.store = store
        self.lock = lock
        self.batched_at: tuple = ()  # the projector's positions when batches were last made
        with lock:
            self.outbox = Outbox(store.db, self.config.station_id)
        self.sending = threading.Lock()  # one sender at a time: the thread, or a staff-asked reconcile
        self.paused_until = 0.0  # monotonic: after a failure, nothing is sent before this
        self.last_error = ""
        self.last_ping_ms = 0
        self.connected = False
        self.next_ping = 0.0
        self.oldest_waiting_ms = 0  # created_ms of the oldest batch waiting (0: none), for the gauge
        self.mismatched_days = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="authority-uploader", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()

    # -- the loop ---------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._pass()
            except Exception as error:  # a store error: say so in the status, go on
                if str(error) != self.last_error:
                    log.exception("the authority uploader failed; retrying")
                self.last_error = str(error)
            self.stopping.wait(PASS_S)

    def _pass(self) -> None:
        if time.monotonic() >= self.next_ping:
            self.ping()
        today = local_date(now_ms())
        with self.lock:
            # Batching reads the store's tables: only after the projector committed something new,
            # or a day ended (its file is due).
            positions = (today, *sorted((owner, p.lsn) for owner, p in self.store.positions.items()))
            if positions != self.batched_at:
                self.outbox.make_batches(now_ms())
                for day in self.outbox.days_without_file(today):
                    self.outbox.queue_daily_file(day, now_ms())
                self.batched_at = positions
        self.send_due()
        with self.lock:
            days = self.outbox.days_to_reconcile(today)
        for day in days:
            try:
                self.reconcile(day)
            except PlatformError as error:  # tried again at the next pass
                self.last_error = f"reconciliation of {day}: {error}"
                break
        self._refresh()

    def _refresh(self) -> None:
        with self.lock:
            status = self.outbox.status(now_ms(), limit=1)
        self.oldest_waiting_ms = now_ms() - int(status["oldest_waiting_s"] * 1000) if status["waiting"] else 0
        self.mismatched_days = sum(1 for r in status["reconciliations"] if not r["match"])

    def send_due(self, force: bool = False) -> bool:
        """Send every batch due, oldest first; stop at the first failure.  True if none failed."""
        with self.sending:
            if not force and time.monotonic() < self.paused_until:
                return False
            with self.lock:
                due = self.outbox.due(now_ms() if not force else 2**62)
            for batch in due:
                try:
                    answer = self._post(FILE_PATH if batch.kind == "file" else BATCH_PATH, batch.body)
                    self._check_ack(batch, answer)
                except PlatformError as error:
                    self._failed(batch, str(error))
                    return False
                with self.lock:
                    self.outbox.acknowledged(batch.batch_id, now_ms(), bool(answer.get("duplicate")))
                self.last_error = ""
            self.paused_until = 0.0
            return True

    def _check_ack(self, batch: Batch, answer: dict) -> None:
        acked = answer.get("file_id" if batch.kind == "file" else "batch_id")
        if acked != batch.batch_id:
            raise PlatformError(f"the platform acknowledged {str(acked)[:80]!r}, not {batch.batch_id}")

    def _failed(self, batch: Batch, error: str) -> None:
        with self.lock:
            attempts = self.outbox.failed(batch.batch_id, error, now_ms(), backoff_s)
            wait = backoff_s(attempts)
        self.paused_until = time.monotonic() + wait
        if error != self.last_error:
            log.warning("upload of %s failed (attempt %d, next in %.1f s): %s", batch.batch_id, attempts, wait, error)
        self.last_error = error

    # -- one request ------------------------------------------------------------------------------

    def _post(self, path: str, body: bytes) -> dict:
        request = urllib.request.Request(
            self.config.base_url + path,
            data=body,
            headers=signed_headers(self.config, "POST", path, body, now_ms()),
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S, context=self.tls) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read())
                why = f"{detail.get('error', '')}: {detail.get('message', '')}"
            except ValueError:
                why = error.reason
            raise PlatformError(f"HTTP {error.code} {why}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise PlatformError(f"no answer: {reason}") from None
        except ValueError:
            raise PlatformError("the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise PlatformError("the answer is not a JSON object")
        return answer

    def ping(self) -> bool:
        """The connectivity test."""
        self.next_ping = time.monotonic() + PING_S
        try:
            self._post(PING_PATH, canonical({"station_id": self.config.station_id, "at_ms": now_ms()}))
            self.connected, self.last_ping_ms = True, now_ms()
        except PlatformError as error:
            self.connected = False
            self.last_error = f"connectivity test: {error}"
        return self.connected

    def reconcile(self, day: str) -> dict:
        """Send the day's counts and amounts; the platform answers with its own and the differences.
        Recorded either way it comes out; a mismatch is logged."""
        with self.lock:
            station = self.outbox.day_totals(day)
        answer = self._post(RECONCILE_PATH, canonical({"date": day, "station_id": self.config.station_id, **station}))
        with self.lock:
            self.outbox.record_reconciliation(day, now_ms(), station, answer)
        if not answer.get("match"):
            log.warning("reconciliation of %s with the authority does not match: %s", day, answer.get("differences"))
        return {"station": station, **answer}

    # -- what staff ask (through the projector actor) ---------------------------------------------

    def reconcile_now(self, day: str) -> dict:
        """Staff's reconciliation of `day` now: batch what is new, queue the day's file, send
        everything waiting, then reconcile."""
        with self.lock:
            self.outbox.make_batches(now_ms())
            self.outbox.queue_daily_file(day, now_ms())
        try:
            if not self.send_due(force=True):
                return {"reachable": False, "error": self.last_error, "date": day}
            return {"reachable": True, **self.reconcile(day)}
        except PlatformError as error:
            return {"reachable": False, "error": str(error), "date": day}

    def resend(self, day: str) -> dict:
        """Send `day`'s transactions again (after a mismatch), and retry everything waiting now."""
        with self.lock:
            queued = self.outbox.resend_day(day, now_ms()) if day else []
            waiting = self.outbox.retry_now()
        self.paused_until = 0.0
        return {"queued": queued, "waiting": waiting}

    def status(self) -> dict:
        with self.lock:
            status = self.outbox.status(now_ms())
        return {
            **status,
            "base_url": self.config.base_url,
            "station_id": self.config.station_id,
            "connected": self.connected,
            "last_ping_ms": self.last_ping_ms,
            "last_error": self.last_error,
            "paused_s": max(0.0, self.paused_until - time.monotonic()),
        }

    def oldest_waiting_s(self) -> float:
        return max(0.0, (now_ms() - self.oldest_waiting_ms) / 1000) if self.oldest_waiting_ms else 0.0
