"""What the dispatch console does, apart from its screen: read a station's day of departures with
each trip's coach, safety check and seat quotas, and make the dispatcher's changes through the
existing RPCs, keeping request ids across retries.

Every method blocks on gRPC: the console (dispatch_console.py) runs them in worker threads.

Retries, as at the counter (counter_desk.py): a change that found the server unreachable keeps its
request id under a key naming the change (what, trip, arguments); pressing the same key with the
same answers sends the same request id again, so the server applies it at most once.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc

from keyun.v1 import board_pb2, common_pb2, dispatch_pb2, fleet_pb2

from . import trip_sheet_print
from .client import RETRYABLE, KeyunClient, KeyunError
from .counter_desk import DEFAULT_PATIENCE_S, PatientDesk, Pending

T = TypeVar("T")
Notify = Callable[[str], None]
CHINA = dt.timezone(dt.timedelta(hours=8))

# What the safety check asks about, item by item (each passed or failed).
SAFETY_ITEMS = ("brakes", "tyres", "lights", "steering", "extinguisher", "emergency exits")

STATES = {
    board_pb2.DEPARTURE_STATUS_ON_TIME: "on sale",
    board_pb2.DEPARTURE_STATUS_DELAYED: "delayed",
    board_pb2.DEPARTURE_STATUS_BOARDING: "boarding",
    board_pb2.DEPARTURE_STATUS_DEPARTED: "departed",
    board_pb2.DEPARTURE_STATUS_CANCELLED: "cancelled",
}


@dataclass
class Row:
    """One trip of the day as the console shows it: the board's departure (times, delay, gate,
    free seats by stop), the trip (coach reported in, safety check) and its seat plan (quotas)."""

    departure: board_pb2.Departure
    trip: common_pb2.Trip
    plan: dispatch_pb2.SeatPlan | None  # None when the trip has none to show (departed, cancelled)

    @property
    def trip_id(self) -> str:
        return self.departure.trip_id

    def flow(self) -> bool:
        """A coach of a departure-when-full line (流水班): no fixed time, it leaves when full or at
        its maximum wait."""
        return self.trip.flow_max_wait_minutes > 0

    def state(self) -> str:
        state = STATES.get(self.departure.status, "?")
        if self.flow() and state in ("on sale", "boarding"):
            # The open coach of the line: its board time is only the line's last time.
            state = f"open, departs when full (max wait {self.trip.flow_max_wait_minutes}m)"
        if self.departure.delay_minutes and state != "delayed":
            state += ", delayed"
        if self.departure.delay_minutes:
            state += f" +{self.departure.delay_minutes}m"
        return state

    def free(self) -> int:
        """Free seats for the whole way from this station (to the last stop)."""
        return self.departure.seats[-1].seats_free if self.departure.seats else 0

    def quotas(self) -> str:
        if self.plan is None:
            return ""
        kept = [f"{q.stop}:{len(q.seat_numbers)}" + ("✓" if q.released else "") for q in self.plan.quotas]
        if self.plan.blocked:
            kept.append(f"blocked {len(self.plan.blocked)}")
        return " ".join(kept)

    def cells(self) -> tuple[str, ...]:
        """The row's cells, in COLUMNS' order."""
        expected = dt.datetime.fromtimestamp(self.departure.expected.ToMilliseconds() / 1000, CHINA)
        extra = " 加班" if self.plan is not None and self.plan.extra_of else ""
        if self.flow():
            extra += " 流水"
        return (
            "when full" if self.flow() else f"{expected:%H:%M}",
            self.trip_id + extra,
            self.departure.destination.code,
            self.state(),
            f"{self.departure.seats_total - self.free()}/{self.free()}",
            self.departure.gate or "-",
            self.trip.plate or "-",
            self.trip.safety_check or "-",
            self.quotas() or "-",
        )


COLUMNS = ("leaves", "trip", "to", "state", "taken/free", "gate", "plate", "safety", "quotas")


class DispatchDesk(PatientDesk):
    """One dispatcher's session over a logged-in KeyunClient."""

    def __init__(self, client: KeyunClient, patience_s: float = DEFAULT_PATIENCE_S):
        self.client = client
        self.patience_s = patience_s
        self.pending: dict[tuple, Pending] = {}
        self.closing = threading.Event()  # set when the console quits: stop waiting for the server

    # --- retries (as counter_desk.CounterDesk) ---------------------------------------------------

    def change(self, key: tuple, notify: Notify, call: Callable[[str], T]) -> T:
        """A change with the request id it kept from an earlier try that did not reach the server
        (`call` gets the id); the id is forgotten once the server has answered, yes or no."""
        pending = self.pending.setdefault(key, Pending())
        try:
            result = self.patiently(lambda: call(pending.id(key[0])), notify)
        except KeyunError as error:
            if error.code not in RETRYABLE:
                self.pending.pop(key, None)
            raise
        self.pending.pop(key, None)
        return result

    # --- reading ---------------------------------------------------------------------------------

    def day(self, station: str, date: str, notify: Notify) -> list[Row]:
        """Every trip leaving `station` on `date`, by departure, with its coach and seat plan."""
        snapshot = self.patiently(lambda: self._departures(station, date), notify)
        return [self.row(departure, notify) for departure in snapshot.departures]

    def _departures(self, station: str, date: str) -> board_pb2.WatchDeparturesResponse:
        """The board's first message: the whole day.  The stream is closed after it."""
        request = board_pb2.WatchDeparturesRequest(station=station, date=date)
        call = self.client.board.WatchDepartures(request, timeout=self.client.deadline_s)
        try:
            return next(iter(call))
        except StopIteration:
            return board_pb2.WatchDeparturesResponse(station=station, date=date)
        except Exception as error:
            raise _as_keyun_error(error) from None
        finally:
            call.cancel()

    def row(self, departure: board_pb2.Departure, notify: Notify) -> Row:
        trip = self.patiently(lambda: self.client.trip(departure.trip_id), notify)
        plan = None
        if trip.status in (common_pb2.TRIP_STATUS_ON_SALE, common_pb2.TRIP_STATUS_CHECKING_IN):
            plan = self.patiently(lambda: self.client.seat_plan(departure.trip_id), notify)
        return Row(departure, trip, plan)

    def watch(self, station: str, date: str) -> Any:
        """The board's live feed of the day (a gRPC call to iterate, and to cancel when done)."""
        request = board_pb2.WatchDeparturesRequest(station=station, date=date)
        return self.client.board.WatchDepartures(request)

    def vehicles(self, notify: Notify) -> list[fleet_pb2.Vehicle]:
        return list(self.patiently(lambda: self.client.vehicles_page(page_size=200), notify).vehicles)

    def drivers(self, notify: Notify) -> list[fleet_pb2.Driver]:
        return list(self.patiently(lambda: self.client.drivers_page(page_size=200), notify).drivers)

    # --- changes (each an existing RPC, with its permission checks on the server) ----------------

    def report_in(self, trip_id: str, vehicle_id: str, driver_id: str, notify: Notify):
        return self.change(
            ("report-in", trip_id, vehicle_id, driver_id),
            notify,
            lambda rid: self.client.report_in(trip_id, vehicle_id, driver_id, rid),
        )

    def safety_check(self, trip_id: str, items: list[tuple[str, bool]], notify: Notify):
        passed = all(ok for _, ok in items)
        checked = [(name, ok, "") for name, ok in items]
        return self.change(
            ("safety-check", trip_id, tuple(items)),
            notify,
            lambda rid: self.client.record_safety_check(trip_id, passed, checked, request_id=rid),
        )

    def set_quota(self, trip_id: str, stop: str, seats: int, release_before: int, shared: bool, notify: Notify):
        return self.change(
            ("quota", trip_id, stop, seats, release_before, shared),
            notify,
            lambda rid: self.client.set_seat_quota(
                trip_id, stop, seats, release_before_minutes=release_before, shared=shared, request_id=rid
            ),
        )

    def clear_quota(self, trip_id: str, stop: str, notify: Notify):
        return self.change(
            ("release", trip_id, stop), notify, lambda rid: self.client.clear_seat_quota(trip_id, stop, rid)
        )

    def block(self, trip_id: str, seats: tuple[str, ...], reason: str, notify: Notify):
        return self.change(
            ("block", trip_id, seats, reason), notify, lambda rid: self.client.block_seats(trip_id, seats, reason, rid)
        )

    def extra_run(self, trip_id: str, departs_at_ms: int, notify: Notify):
        return self.change(
            ("extra-run", trip_id, departs_at_ms),
            notify,
            lambda rid: self.client.add_extra_run(departs_at_ms, trip_id=trip_id, request_id=rid),
        )

    def merge(self, trip_id: str, into_trip_id: str, notify: Notify):
        return self.change(
            ("merge", trip_id, into_trip_id), notify, lambda rid: self.client.merge_trips(trip_id, into_trip_id, rid)
        )

    def delay(self, trip_id: str, minutes: int, notify: Notify):
        return self.change(("delay", trip_id, minutes), notify, lambda rid: self.client.delay(trip_id, minutes, rid))

    def assign_gate(self, trip_id: str, gate: str, notify: Notify):
        return self.change(("gate", trip_id, gate), notify, lambda rid: self.client.assign_gate(trip_id, gate, rid))

    def cancel(self, trip_id: str, notify: Notify):
        return self.change(("cancel", trip_id), notify, lambda rid: self.client.cancel(trip_id, rid))

    def mark_missed(self, trip_id: str, notify: Notify):
        return self.change(("missed", trip_id), notify, lambda rid: self.client.mark_missed(trip_id, rid))

    def trip_sheet(self, trip_id: str, folder: Path, notify: Notify) -> tuple[Any, Path]:
        """路单: the departed trip's sheet from the server, written as a PDF in `folder`."""
        sheet = self.patiently(lambda: self.client.trip_sheet(trip_id), notify)
        folder.mkdir(parents=True, exist_ok=True)
        return sheet, trip_sheet_print.write_pdf(sheet, folder / f"trip-sheet-{trip_id}.pdf")

    def change_vehicle(
        self, trip_id: str, seat_count: int, choice: str, into_trip_id: str, vehicle_name: str, notify: Notify
    ):
        """换车: `choice` "" (refused with the list of tickets that do not fit), "refund" or "move"."""
        return self.change(
            ("change-vehicle", trip_id, seat_count, choice, into_trip_id, vehicle_name),
            notify,
            lambda rid: self.client.change_vehicle(
                trip_id, seat_count, choice, into_trip_id=into_trip_id, vehicle_name=vehicle_name, request_id=rid
            ),
        )

    def depart(self, trip_id: str, notify: Notify, staff: tuple[tuple[str, str], ...] = (), note: str = ""):
        """发车, with the crew on board besides the driver (name, role) and a note."""
        return self.change(
            ("depart", trip_id, staff, note),
            notify,
            lambda rid: self.client.depart(trip_id, rid, staff=staff, note=note),
        )


def _as_keyun_error(error: Exception) -> Exception:
    return KeyunError.from_rpc(error) if isinstance(error, grpc.RpcError) else error
