"""The dispatch console: `keyun dispatch` with no verb.  A full-screen terminal application (Textual)
for a station's dispatcher (调度员), usable from the keyboard alone (the footer shows the keys) and
with a mouse (click a trip, click a key in the footer).

It shows a station's trips of a day (a date switch) by departure, with their state, seats taken and
free, gate, the coach reported in, the safety check and the seat quotas, and follows the board's
live feed (Board/WatchDepartures).  Every action is an existing RPC, with its permission checks on
the server: report-in (vehicle and driver picked from the Fleet lists), the safety check item by
item, a seat quota for a stop and its release, blocked seats, an extra run, a merge, a delay, the
gate, cancel, missed and depart.  Destructive actions ask first; refusals show their reason code and
message; a change that did not reach the server keeps its request id for the retry.

Like the counter (counter_app.py), every call runs in a worker thread and comes back to the screen
with call_from_thread; dispatch_desk.DispatchDesk does the work.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Checkbox, DataTable, Footer, Header, Label, OptionList, Static

from . import printing, ticket_print
from .client import RETRYABLE, KeyunClient, KeyunError
from .counter_app import LoginScreen
from .counter_widgets import Ask, Confirm
from .dispatch_desk import CHINA, COLUMNS, SAFETY_ITEMS, DispatchDesk, Row

T = TypeVar("T")
CREW_ROLES = ("conductor", "attendant", "security", "relief_driver", "other")  # engine/trip_sheet.STAFF_ROLES

CSS = """
.dialog { width: 80; height: auto; max-height: 90%; border: thick $accent; padding: 1 2; background: $panel; }
Confirm, Ask, Pick, SafetyCheck, LoginScreen { align: center middle; }
#day { height: 1; background: $boost; padding: 0 1; }
#trips { height: 1fr; }
#status { height: 2; background: $boost; padding: 0 1; }
#status.error { color: $error; }
Pick OptionList { height: auto; max-height: 20; }
"""


def explain(error: KeyunError) -> str:
    """A refusal as the dispatcher reads it: the reason, its stable code, the server's message."""
    if error.code in RETRYABLE:
        return (
            f"server not reached ({error.code.name}); nothing was lost. Press the same key again: "
            "the same request id is sent, so nothing happens twice"
        )
    code = f" {error.reason_code}" if error.reason_code else ""
    facts = " (" + ", ".join(f"{k} {v}" for k, v in sorted(error.facts.items())) + ")" if error.facts else ""
    return ticket_print.mask_documents(f"refused {error.reason or error.code.name}{code}: {error.message}{facts}")


class Pick(ModalScreen[str]):
    """Choose one of a list (a vehicle, a driver, a trip): arrows and Enter, or a click; Escape
    gives an empty answer."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, choices: list[tuple[str, str]]) -> None:
        super().__init__()
        self.question = question
        self.choices = choices  # (id, what is shown)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question)
            yield OptionList(*[shown for _, shown in self.choices], id="choices")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.choices[event.option_index][0])

    def action_cancel(self) -> None:
        self.dismiss("")


class SafetyCheck(ModalScreen[list]):
    """The safety check (安检), item by item: each box ticked is passed (all are, to begin with);
    space or a click changes one; Ctrl+S records it; Escape records nothing."""

    BINDINGS = [
        Binding("ctrl+s", "record", "Record", priority=True),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, trip_id: str) -> None:
        super().__init__()
        self.trip_id = trip_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Safety check 安检 of {self.trip_id}: untick what failed")
            for number, item in enumerate(SAFETY_ITEMS):
                yield Checkbox(item, value=True, id=f"item{number}")
            yield Label("Tab/arrows move · space ticks · Ctrl+S records · Esc cancels")

    def on_mount(self) -> None:
        self.query_one("#item0", Checkbox).focus()

    def action_record(self) -> None:
        self.dismiss([(item, self.query_one(f"#item{n}", Checkbox).value) for n, item in enumerate(SAFETY_ITEMS)])

    def action_cancel(self) -> None:
        self.dismiss([])


class ConsoleScreen(Screen):
    """The day's trips, a line of what the selected one is, and a status line."""

    BINDINGS = [
        Binding("f5", "refresh", "Refresh", priority=True),
        Binding("ctrl+d", "switch_day", "Date", priority=True),
        Binding("ctrl+t", "switch_station", "Station", priority=True),
        Binding("i", "report_in", "Report-in"),
        Binding("k", "safety_check", "Safety"),
        Binding("q", "quota", "Quota"),
        Binding("u", "release_quota", "Release"),
        Binding("b", "block", "Block"),
        Binding("e", "extra_run", "Extra run"),
        Binding("m", "merge", "Merge"),
        Binding("l", "delay", "Delay"),
        Binding("g", "gate", "Gate"),
        Binding("c", "cancel_trip", "Cancel"),
        Binding("x", "missed", "Missed"),
        Binding("v", "change_vehicle", "Vehicle"),
        Binding("p", "depart", "Depart"),
        Binding("s", "trip_sheet", "Trip sheet"),
        Binding("ctrl+q", "app.quit", "Quit"),
    ]

    def __init__(self, desk: DispatchDesk, account, station: str, date: str) -> None:
        super().__init__()
        self.desk, self.account = desk, account
        self.station, self.date = station, date
        self.rows: dict[str, Row] = {}
        self.busy = ""  # the change being made, so a second key press waits
        self.messages: list[str] = []
        self.live: Any = None  # the board's live feed, while one is followed
        self.unfit: list[str] = []  # the tickets the last smaller coach had no seat for

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="day")
        trips: DataTable = DataTable(cursor_type="row", id="trips")
        trips.add_columns(*COLUMNS)
        yield trips
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.app.sub_title = f"{self.account.display_name} ({self.account.login_name})"
        self.query_one("#trips", DataTable).focus()
        if not self.station:
            self.action_switch_station()
        else:
            self.load_day()

    def on_unmount(self) -> None:
        self.stop_live()

    # --- background calls (as the counter's DeskScreen) ------------------------------------------

    def say(self, message: str, error: bool = False) -> None:
        self.messages.append(message)
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(error, "error")

    def tell_from_thread(self, message: str) -> None:
        self.app.call_from_thread(self.say, message, True)

    def background(self, what: str, job: Callable[[], T], done: Callable[[T], None], changes: bool = False) -> None:
        """Run `job` in a worker thread; `done` with its result on the UI thread, or the refusal on
        the status line.  `changes`: one change at a time."""
        if changes and self.busy:
            self.say(f"still busy: {self.busy}; wait for it to finish", error=True)
            return
        if changes:
            self.busy = what

        def run() -> None:
            try:
                result = job()
            except KeyunError as error:
                failed = f"{what}: {explain(error)}"
            except Exception as error:  # a bug must not leave the console busy and silent
                failed = f"{what}: unexpected {type(error).__name__}: {error}"
            else:
                self.app.call_from_thread(self._finish, what, changes, lambda: done(result))
                return
            self.app.call_from_thread(self._finish, what, changes, lambda: self.say(failed, True))

        self.say(f"{what}…")
        self.run_worker(run, thread=True, exit_on_error=False, group="rpc")

    def _finish(self, what: str, changes: bool, then: Callable[[], None]) -> None:
        if changes:
            self.busy = ""
        try:
            then()
        except Exception as error:
            self.say(f"{what}: done, but not shown: unexpected {type(error).__name__}: {error}", error=True)

    # --- the day ---------------------------------------------------------------------------------

    def load_day(self, then: str = "") -> None:
        """Read the day again; `then`: the message to show once it is shown (what a change did)."""
        station, date = self.station, self.date
        self.query_one("#day", Static).update(f"station {station} · {date} · F5 refresh · Ctrl+D date")
        self.background(
            f"the trips leaving {station} on {date}",
            lambda: self.desk.day(station, date, self.tell_from_thread),
            lambda rows: self.show_day(rows, then),
        )
        self.follow_live()

    def show_day(self, rows: list[Row], then: str = "") -> None:
        table = self.query_one("#trips", DataTable)
        selected = self.selected_trip_id()
        table.clear()
        self.rows = {row.trip_id: row for row in rows}
        for row in rows:
            table.add_row(*row.cells(), key=row.trip_id)
        if selected in self.rows:
            table.move_cursor(row=list(self.rows).index(selected))
        self.say(then or f"{len(rows)} trip(s) leave {self.station} on {self.date}")

    def selected_trip_id(self) -> str:
        table = self.query_one("#trips", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= table.row_count:
            return ""
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _trip(self, what: str) -> str:
        trip_id = self.selected_trip_id()
        if not trip_id:
            self.say(f"{what}: no trip chosen (arrows or a click choose one)", error=True)
        return trip_id

    def follow_live(self) -> None:
        """Follow the board's feed for the day shown: a change elsewhere (a sale, another
        dispatcher) reads the day again."""
        self.stop_live()
        call = self.live = self.desk.watch(self.station, self.date)

        station, date = self.station, self.date

        def follow() -> None:
            try:
                for message in call:
                    if not message.snapshot:  # the first one is the day, read already
                        self._update_rows(station, date, message)
            except Exception:  # cancelled, or the server went away: F5 reads the day again
                return

        self.run_worker(follow, thread=True, exit_on_error=False, group="live")

    def _update_rows(self, station: str, date: str, message) -> None:
        """In the live feed's thread: read again only the trips that changed, then show them."""
        try:
            changed = [self.desk.row(departure, lambda _: None) for departure in message.departures]
        except KeyunError:
            return  # the next change, or F5, reads them again
        removed = set(message.removed_trip_ids)
        self.app.call_from_thread(self._merge_rows, station, date, changed, removed)

    def _merge_rows(self, station: str, date: str, changed: list[Row], removed: set[str]) -> None:
        if (station, date) != (self.station, self.date):
            return  # the dispatcher has moved to another day meanwhile
        rows = {trip_id: row for trip_id, row in self.rows.items() if trip_id not in removed}
        rows.update({row.trip_id: row for row in changed})
        by_time = sorted(rows.values(), key=lambda row: row.departure.expected.ToMilliseconds())
        self.show_day(by_time, self.messages[-1] if self.messages else "")

    def stop_live(self) -> None:
        if self.live is not None:
            self.live.cancel()
            self.live = None

    def action_refresh(self) -> None:
        self.load_day()

    def action_switch_day(self) -> None:
        def given(text: str | None) -> None:
            if not text:
                return
            try:
                self.date = printing.station_date(text)
            except argparse.ArgumentTypeError as error:
                self.say(str(error), error=True)
                return
            self.load_day()

        self.app.push_screen(Ask("Which day?", "today, tomorrow, +N, YYYY-MM-DD", self.date), given)

    def action_switch_station(self) -> None:
        def given(text: str | None) -> None:
            if text:
                self.station = printing.station_code(text)
                self.load_day()

        self.app.push_screen(Ask("Which station's departures?", "station code, e.g. SJZ", self.station), given)

    # --- changes ---------------------------------------------------------------------------------

    def change(self, what: str, job: Callable[[], Any], said: Callable[[Any], str]) -> None:
        """Make a change, then read the day again and say what it did."""
        self.background(what, job, lambda reply: self.load_day(f"{what}: {said(reply)}"), changes=True)

    def action_report_in(self) -> None:
        trip_id = self._trip("report-in")
        if trip_id:
            self.background(
                "the vehicles and drivers",
                lambda: (self.desk.vehicles(self.tell_from_thread), self.desk.drivers(self.tell_from_thread)),
                lambda fleet: self._pick_vehicle(trip_id, *fleet),
            )

    def _pick_vehicle(self, trip_id: str, vehicles, drivers) -> None:
        choices = [
            (v.vehicle_id, f"{v.details.plate}  {v.details.rated_seats} seats  {v.details.operator_id}  {v.vehicle_id}")
            for v in vehicles
        ]

        def vehicle_picked(vehicle_id: str | None) -> None:
            if not vehicle_id:
                return
            people = [(d.driver_id, f"{d.masked_name}  {d.licence_class}  {d.driver_id}") for d in drivers]
            self.app.push_screen(
                Pick(f"Report-in 报班 {trip_id}: which driver?", people),
                lambda driver_id: driver_id and self._report_in(trip_id, vehicle_id, driver_id),
            )

        self.app.push_screen(Pick(f"Report-in 报班 {trip_id}: which vehicle?", choices), vehicle_picked)

    def _report_in(self, trip_id: str, vehicle_id: str, driver_id: str) -> None:
        self.change(
            f"report-in {trip_id}",
            lambda: self.desk.report_in(trip_id, vehicle_id, driver_id, self.tell_from_thread),
            lambda r: f"{r.plate} and driver {r.driver_id} reported in for {r.travel_date}",
        )

    def action_safety_check(self) -> None:
        trip_id = self._trip("safety check")
        if not trip_id:
            return

        def checked(items: list | None) -> None:
            if items:
                failed = [name for name, ok in items if not ok]
                self.change(
                    f"safety check {trip_id}",
                    lambda: self.desk.safety_check(trip_id, items, self.tell_from_thread),
                    lambda t: f"{t.safety_check}" + (f" (failed: {', '.join(failed)})" if failed else ""),
                )

        self.app.push_screen(SafetyCheck(trip_id), checked)

    def action_quota(self) -> None:
        trip_id = self._trip("quota")
        if not trip_id:
            return

        def given(text: str | None) -> None:
            if not text:
                return
            try:
                stop, seats, before, shared = parse_quota(text)
            except ValueError as error:
                self.say(str(error), error=True)
                return
            self.change(
                f"quota {trip_id} {stop}",
                lambda: self.desk.set_quota(trip_id, stop, seats, before, shared, self.tell_from_thread),
                lambda plan: f"{seats} seat(s) kept for {stop}",
            )

        self.app.push_screen(
            Ask(
                f"Seat quota 配载 on {trip_id}: STOP SEATS [MINUTES before release] [shared]",
                "e.g. CCC 4 30   (no minutes: kept until the coach leaves)",
            ),
            given,
        )

    def action_release_quota(self) -> None:
        trip_id = self._trip("release")
        if not trip_id:
            return

        def given(stop: str | None) -> None:
            if stop:
                code = printing.station_code(stop)
                self.change(
                    f"release {trip_id} {code}",
                    lambda: self.desk.clear_quota(trip_id, code, self.tell_from_thread),
                    lambda plan: f"the quota for {code} is back in the general pool",
                )

        self.app.push_screen(Ask(f"Release which stop's quota on {trip_id}?", "station code"), given)

    def action_block(self) -> None:
        trip_id = self._trip("block seats")
        if not trip_id:
            return

        def given(text: str | None) -> None:
            words = (text or "").split()
            reason = words.pop() if words and words[-1] in ("crew", "broken", "other") else "other"
            if not words:
                return
            seats = tuple(words)
            self.change(
                f"block {trip_id} {' '.join(seats)}",
                lambda: self.desk.block(trip_id, seats, reason, self.tell_from_thread),
                lambda plan: f"{len(seats)} seat(s) out of sale ({reason})",
            )

        self.app.push_screen(Ask(f"Block seats on {trip_id}: SEAT... [crew|broken|other]", "e.g. 1 2 crew"), given)

    def action_extra_run(self) -> None:
        trip_id = self._trip("extra run")
        if not trip_id:
            return

        def given(text: str | None) -> None:
            if not text:
                return
            try:
                departs = dt.datetime.combine(
                    dt.date.fromisoformat(self.date), dt.time.fromisoformat(text.strip()), CHINA
                )
            except ValueError:
                self.say(f"{text!r} is not a time like 14:30", error=True)
                return
            departs_ms = int(departs.timestamp() * 1000)
            self.change(
                f"extra run like {trip_id} at {departs:%H:%M}",
                lambda: self.desk.extra_run(trip_id, departs_ms, self.tell_from_thread),
                lambda plan: f"{plan.trip.trip_id} added, on sale now",
            )

        self.app.push_screen(Ask(f"Extra run 加班 on {trip_id}'s route, leaving at (on {self.date})?", "HH:MM"), given)

    def action_merge(self) -> None:
        trip_id = self._trip("merge")
        if not trip_id:
            return
        route = self.rows[trip_id].trip.route_id
        same_route = [r for t, r in self.rows.items() if t != trip_id and r.trip.route_id == route]
        others = [(r.trip_id, " ".join(r.cells()[:4])) for r in same_route]
        if not others:
            self.say(f"merge: no other trip on {trip_id}'s route this day", error=True)
            return

        def into(other: str | None) -> None:
            if other:
                self.confirm(
                    f"Merge 并班: move every ticket of {trip_id} onto {other}? {trip_id} stops selling.",
                    f"merge {trip_id} into {other}",
                    lambda: self.desk.merge(trip_id, other, self.tell_from_thread),
                    lambda r: f"{len(r.moved)} moved, {len(r.not_moved)} not moved",
                )

        self.app.push_screen(Pick(f"Merge {trip_id} into which trip?", others), into)

    def action_delay(self) -> None:
        trip_id = self._trip("delay")
        if not trip_id:
            return

        def given(text: str | None) -> None:
            if not text:
                return
            if not text.strip().isdigit():
                self.say(f"delay: {text!r} is not a number of minutes", error=True)
                return
            minutes = int(text)
            self.change(
                f"delay {trip_id} {minutes} min",
                lambda: self.desk.delay(trip_id, minutes, self.tell_from_thread),
                lambda t: f"now leaves {printing.local(t.stops[0].departs_at)}",
            )

        self.app.push_screen(Ask(f"Delay {trip_id}: total minutes late (it only grows)?", "1..1440"), given)

    def action_gate(self) -> None:
        trip_id = self._trip("gate")
        if not trip_id:
            return

        def given(gate: str | None) -> None:
            if gate is not None and gate != "":
                self.change(
                    f"gate {trip_id} {gate}",
                    lambda: self.desk.assign_gate(trip_id, gate, self.tell_from_thread),
                    lambda t: f"boards at gate {t.gate or '-'}",
                )

        self.app.push_screen(Ask(f"Gate or bay for {trip_id}?", "e.g. 3, A12"), given)

    def action_cancel_trip(self) -> None:
        trip_id = self._trip("cancel")
        if trip_id:
            self.confirm(
                f"Cancel {trip_id}? No more sales or boarding; refunds become free.",
                f"cancel {trip_id}",
                lambda: self.desk.cancel(trip_id, self.tell_from_thread),
                lambda t: "cancelled",
            )

    def action_missed(self) -> None:
        trip_id = self._trip("missed")
        if trip_id:
            self.confirm(
                f"Mark {trip_id} missed 脱班 (the coach did not come)? No more sales or boarding; refunds free.",
                f"missed {trip_id}",
                lambda: self.desk.mark_missed(trip_id, self.tell_from_thread),
                lambda t: "marked missed: merge its passengers (m on another trip) or refund them",
            )

    def action_change_vehicle(self) -> None:
        trip_id = self._trip("vehicle change")
        if not trip_id:
            return

        def given(text: str | None) -> None:
            if not text:
                return
            words = text.split(maxsplit=1)
            if not words[0].isdigit():
                self.say(f"vehicle change: {text!r}: give SEATS [vehicle name], e.g. 8 金龙8座", error=True)
                return
            seats, name = int(words[0]), (words[1] if len(words) > 1 else "")
            self._change_vehicle(trip_id, seats, name, "", "")

        self.app.push_screen(
            Ask(f"Vehicle change 换车 on {trip_id}: SEATS [vehicle name]", "e.g. 8 金龙8座 (the layout's first seats)"),
            given,
        )

    def _change_vehicle(self, trip_id: str, seats: int, name: str, choice: str, into: str) -> None:
        """Without a choice first: when passengers do not fit, the refusal lists them and the
        dispatcher then chooses to refund them in full or move them to another trip."""
        what = f"vehicle change {trip_id} to {seats} seats"

        def job() -> Any:
            try:
                return self.desk.change_vehicle(trip_id, seats, choice, into, name, self.tell_from_thread)
            except KeyunError as error:
                if choice or error.reason != "VEHICLE_TOO_SMALL":
                    raise
                return error  # who does not fit: asked about below

        def done(reply: Any) -> None:
            if isinstance(reply, KeyunError):
                self._choose_for_unfit(trip_id, seats, name, reply)
                return
            self.load_day(
                f"{what}: {reply.trip.seats_total} seats, {len(reply.reseated)} reseated, "
                f"{len(reply.refunded)} refunded, {len(reply.moved)} moved"
            )

        self.background(what, job, done, changes=True)

    def _choose_for_unfit(self, trip_id: str, seats: int, name: str, refusal: KeyunError) -> None:
        self.unfit = [t for t in refusal.facts.get("unfit", "").split(",") if t]
        self.say(explain(refusal), error=True)  # the list of who does not fit, from the server
        route = self.rows[trip_id].trip.route_id if trip_id in self.rows else ""
        others = [t for t, r in self.rows.items() if t != trip_id and r.trip.route_id == route]
        choices = [("refund", f"refund the {len(self.unfit)} in full")]
        choices += [(f"move {t}", f"move them to {t}") for t in others]

        def chosen(answer: str | None) -> None:
            if not answer:
                self.say(f"vehicle change {trip_id}: not done; nothing changed")
                return
            choice, _, into = answer.partition(" ")
            self._change_vehicle(trip_id, seats, name, choice, into)

        listed = ", ".join(self.unfit)
        self.app.push_screen(
            Pick(f"A coach of {seats} has no seat for {len(self.unfit)} ticket(s): {listed}. Then:", choices), chosen
        )

    def action_depart(self) -> None:
        trip_id = self._trip("depart")
        if not trip_id:
            return

        def given(text: str | None) -> None:
            try:
                staff, note = parse_crew(text or "")
            except ValueError as error:
                self.say(str(error), error=True)
                return
            crew = f" with {len(staff)} staff on board" if staff else ""
            self.confirm(
                f"Depart {trip_id} 发车{crew}? Boarding at the first stop closes.",
                f"depart {trip_id}",
                lambda: self.desk.depart(trip_id, self.tell_from_thread, staff, note),
                lambda t: "departed",
            )

        self.app.push_screen(
            Ask(
                f"Depart {trip_id}: crew on board besides the driver, and a note",
                "NAME:ROLE ... / note (roles: conductor attendant security relief_driver other; or Enter)",
            ),
            given,
        )

    def action_trip_sheet(self) -> None:
        trip_id = self._trip("trip sheet")
        if trip_id:
            folder = self.app.print_dir  # type: ignore[attr-defined]
            self.background(
                f"trip sheet of {trip_id}",
                lambda: self.desk.trip_sheet(trip_id, folder, self.tell_from_thread),
                lambda done: self.say(f"trip sheet {done[0].sheet_number} written to {done[1]}"),
            )

    def confirm(self, question: str, what: str, job: Callable[[], Any], said: Callable[[Any], str]) -> None:
        """A destructive change: asked first (Enter/y or Escape/n)."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.change(what, job, said)
            else:
                self.say(f"{what}: not done")

        self.app.push_screen(Confirm(question), answered)


def parse_quota(text: str) -> tuple[str, int, int, bool]:
    """ "CCC 4 30 shared" -> (stop, seats, minutes before release, shared)."""
    words = text.split()
    shared = bool(words) and words[-1].lower() == "shared"
    if shared:
        words.pop()
    if len(words) not in (2, 3) or not all(w.isdigit() for w in words[1:]):
        raise ValueError(f"quota: {text!r}: give STOP SEATS [MINUTES] [shared], e.g. CCC 4 30")
    before = int(words[2]) if len(words) == 3 else 0
    return printing.station_code(words[0]), int(words[1]), before, shared


def parse_crew(text: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """ "王五:conductor 李六:security / 满员" -> (((name, role), ...), note)."""
    crew, _, note = text.partition("/")
    staff = []
    for word in crew.replace(",", " ").split():
        name, colon, role = word.partition(":")
        if not colon or not name or not role:
            raise ValueError(f"depart: {word!r}: give each of the crew as NAME:ROLE, e.g. 王五:conductor")
        staff.append((name, role))
    return tuple(staff), note.strip()


class DispatchConsole(App):
    """The dispatch console: the login screen (the counter's), then the day's trips."""

    TITLE = "Keyun dispatch 调度"
    CSS = CSS

    def __init__(
        self,
        target: str,
        station: str = "",
        date: str = "today",
        deadline_s: float = 5.0,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        patience_s: float | None = None,
        print_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.print_dir = print_dir or Path.home() / "keyun-trip-sheets"  # where trip sheet PDFs go
        self.client = KeyunClient(
            target, deadline_s=deadline_s, ca_file=ca_file, cert_file=cert_file, key_file=key_file
        )
        self.desk = DispatchDesk(self.client)
        if patience_s is not None:
            self.desk.patience_s = patience_s
        self.station, self.date = printing.station_code(station), printing.station_date(date)

    def on_mount(self) -> None:
        self.push_screen(LoginScreen())

    def open_desk(self) -> None:
        """Called by the login screen once logged in."""
        account = self.client.account
        station = self.station or next((s for s in account.stations if s != "*"), "")
        self.switch_screen(ConsoleScreen(self.desk, account, station, self.date))

    def on_unmount(self) -> None:
        self.desk.closing.set()
        if self.client.access_token:
            self.client.deadline_s, self.client.attempts = 1.0, 1
            try:
                self.client.logout()
            except KeyunError:
                pass  # the session ends on the server when it idles out
        self.client.close()


def run(args: argparse.Namespace) -> int:
    """`keyun dispatch` with no verb."""
    DispatchConsole(
        args.server, args.station, args.date, args.deadline, args.ca, args.cert, args.key, print_dir=args.print_dir
    ).run()
    return 0
