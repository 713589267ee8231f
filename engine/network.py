"""The bus network: stations, operators, seat layouts, routes, schedules, and the trips they make.

A network file (TOML, documented in docs/network-file.md) is parsed into a `Network`, then
`expand` turns its daily schedules into `TripSpec`s for a range of dates.  Everything here is pure:
the caller reads the file and supplies the dates.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from .limits import MAX_LOAD_DAYS, MAX_SEATS_PER_TRIP, MAX_STOPS_PER_ROUTE, MAX_TRIPS_PER_LOAD
from .reasons import QUOTE_CHARS, quote
from .values import Value

# A table of a parsed TOML file.
Table = dict[str, Any]

STATION_CODE = re.compile(r"[A-Z0-9]{2,8}")
OPERATOR_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{1,15}")
VEHICLE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,23}")
ROUTE_ID = re.compile(r"[A-Z0-9][A-Z0-9-]{1,23}")
SCHEDULE_ID = re.compile(r"[A-Z0-9]{2,12}")
SEAT_LABEL = re.compile(r"[A-Za-z0-9]{1,4}")
CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
# A gate or bay as painted in the hall (the same rule as Dispatch/AssignGate's): 3, A12, B-2.
GATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,7}")
UTC_OFFSET = re.compile(r"([+-])(\d\d):(\d\d)")
AISLE = ""
MAX_NAME_CHARS = 40
FORMAT_VERSION = 1
MAX_UTC_OFFSET_MIN = 14 * 60
KEYS = {
    "file": frozenset({"format", "name", "utc_offset", "stations", "operators", "vehicles", "routes", "schedules"}),
    "stations": frozenset({"code", "name", "city"}),
    "operators": frozenset({"id", "name"}),
    "vehicles": frozenset({"id", "name", "seats", "rows"}),
    "routes": frozenset({"id", "name", "fen_per_km", "stops", "fares", "student_fares"}),
    "stops": frozenset({"station", "minutes", "km"}),
    "fares": frozenset({"from", "to", "fen"}),
    "schedules": frozenset(
        {"id", "route", "operator", "vehicle", "departs", "student_fares", "calendar", "advance_days", "flow", "gate"}
    ),
    "flow": frozenset({"max_wait_minutes", "first", "last"}),
    "calendar": frozenset({"days", "weekdays", "from", "until", "except", "also"}),
}
# The advance-sale window of a schedule that does not state its own: today and the next six days.
DEFAULT_ADVANCE_DAYS = 7
MAX_ADVANCE_DAYS = 60
MAX_CALENDAR_DATES = 366  # dates listed in one calendar's `except` or `also`
CALENDAR_DAYS = ("daily", "odd", "even")
# Problems about a schedule's calendar or advance-sale days start with one of these paths' ends, so
# a file refused only for them gets its own reason code (common/network_file.py).
CALENDAR_PROBLEM = ".calendar"
ADVANCE_PROBLEM = ".advance_days"
FLOW_PROBLEM = ".flow"
# A departure-when-full line (流水班, docs/dispatch.md): its coaches are trips with ids
# SCHEDULE-YYYYMMDD-Fnn, made one at a time as the one before fills or leaves.
MAX_FLOW_WAIT_MIN = 12 * 60
MAX_FLOW_COACHES = 99
FLOW_COACH_ID = re.compile(r"([A-Z0-9]{2,12}-\d{8})-F(\d{2})")


class Stop(Value):
    code: str
    name: str
    offset_min: int  # minutes after the trip leaves its first stop


class TripSpec(Value):
    """Everything an owner needs to sell a trip; carried whole by the TripScheduled event."""

    trip_id: str
    schedule_id: str
    route_id: str
    route_name: str
    operator_id: str
    operator_name: str
    vehicle_name: str
    departs_at_ms: int
    stops: tuple[Stop, ...]
    rows: tuple[tuple[str, ...], ...]  # seat labels by row, AISLE between groups
    fares: tuple[tuple[int, int, int], ...]  # (from stop index, to stop index, fen) for every i < j
    student_fares: bool = False  # the schedule sells student tickets (学生票)
    # Each stop's distance from the first, in km (the network file's `km`), for passenger-km
    # (docs/reporting.md).  Empty for trips scheduled before distances were recorded.
    stop_km: tuple[int, ...] = ()
    # A coach of a departure-when-full line (流水班): it leaves when full or this many minutes after
    # its first sale; 0 for a trip with a fixed time.  Its departs_at_ms is the line's last time.
    flow_max_wait_min: int = 0
    # The gate or bay of the schedule (the network file's `gate`): the trip boards there until
    # dispatch names another (Trip.gate).
    gate: str = ""

    @property
    def seat_labels(self) -> tuple[str, ...]:
        return tuple(label for row in self.rows for label in row if label != AISLE)


class Calendar(Value):
    """The dates a schedule runs on (开行日历).  Dates are proleptic ordinals (date.toordinal()),
    0 for an open end.  `also` wins over everything, then `except`, then the range, then `days`
    and `weekdays` (both must allow the date)."""

    days: str = "daily"  # "daily", "odd" or "even" days of the month
    weekdays: tuple[int, ...] = ()  # ISO weekdays 1 (Monday) .. 7 (Sunday); empty: every weekday
    first: int = 0  # `from`: the first date it runs
    last: int = 0  # `until`: the last date it runs
    except_days: tuple[int, ...] = ()  # dates it does not run
    also_days: tuple[int, ...] = ()  # dates it runs anyway

    def runs_on(self, day: dt.date) -> bool:
        ordinal = day.toordinal()
        if ordinal in self.also_days:
            return True
        if ordinal in self.except_days:
            return False
        if (self.first and ordinal < self.first) or (self.last and ordinal > self.last):
            return False
        if self.days != "daily" and day.day % 2 != (1 if self.days == "odd" else 0):
            return False
        return not self.weekdays or day.isoweekday() in self.weekdays


DAILY = Calendar()


class Flow(Value):
    """A departure-when-full line's day: coaches load from `first_min` to `last_min` (minutes after
    local midnight), and one leaves when full or `max_wait_min` after its first sale."""

    max_wait_min: int
    first_min: int
    last_min: int


def flow_coach_id(schedule_id: str, day: dt.date, number: int) -> str:
    return f"{schedule_id}-{day:%Y%m%d}-F{number:02d}"


def flow_coach(trip_id: str) -> tuple[str, int] | None:
    """(the line's day id SCHEDULE-YYYYMMDD, the coach's number) of a flow coach's trip id, else None."""
    match = FLOW_COACH_ID.fullmatch(trip_id)
    return (match[1], int(match[2])) if match else None


def flow_coach_id_of(trip_id: str, number: int) -> str:
    """The id of coach `number` of the same line and day as the flow coach `trip_id`."""
    return f"{trip_id.rpartition('-')[0]}-F{number:02d}"


class Schedule(Value):
    schedule_id: str
    route_id: str
    operator_id: str
    vehicle_id: str
    departs_min: int  # minutes after local midnight
    student_fares: bool = False  # sells student tickets (学生票); off unless the network file says so
    calendar: Calendar = DAILY
    advance_days: int = 0  # days on sale from today (today counts); 0: not stated, DEFAULT_ADVANCE_DAYS
    flow: Flow | None = None  # a departure-when-full line (流水班): no fixed time, departs_min is its last
    gate: str = ""  # the gate or bay its trips board at unless dispatch names another (Dispatch/AssignGate)

    @property
    def window_days(self) -> int:
        return self.advance_days or DEFAULT_ADVANCE_DAYS

    def runs_on(self, day: dt.date, today: dt.date | None = None) -> bool:
        """Runs on `day` by its calendar, and (given `today`) `day` is within its advance-sale window."""
        if not self.calendar.runs_on(day):
            return False
        return today is None or (day - today).days < self.window_days


class Route(Value):
    route_id: str
    name: str
    stops: tuple[tuple[str, int, int], ...]  # (station code, minutes, km)
    fares: dict[tuple[int, int], int]
    student_fares: bool = False  # its schedules sell student tickets unless one says otherwise


class Network(Value):
    name: str
    utc_offset_min: int
    stations: dict[str, tuple[str, str]]  # code -> (name, city)
    operators: dict[str, str]
    vehicles: dict[str, tuple[str, tuple[tuple[str, ...], ...]]]  # id -> (name, rows)
    routes: dict[str, Route]
    schedules: tuple[Schedule, ...]


class NetworkError(Exception):
    """All problems found in a network file, each naming the field it is about."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def standard_rows(seats: int) -> tuple[tuple[str, ...], ...]:
    """Coach seating: rows of two seats either side of the aisle; a back row of five when it fits."""
    back = 5 if seats >= 5 and (seats - 5) % 4 == 0 else 0
    rows: list[tuple[str, ...]] = []
    number = 1
    while number <= seats - back:
        labels = [str(n) for n in range(number, min(number + 4, seats - back + 1))]
        rows.append(tuple(labels[:2] + [AISLE] + labels[2:]) if len(labels) > 2 else tuple(labels))
        number += 4
    if back:
        rows.append(tuple(str(n) for n in range(seats - 4, seats + 1)))
    return tuple(rows)


def default_fare(km: int, fen_per_km: int) -> int:
    """Distance fare rounded to whole yuan, never below one yuan."""
    return max(100, (km * fen_per_km + 50) // 100 * 100)


class _Reader:
    """Collects problems while walking the parsed TOML, so one run reports them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def table_list(self, doc: Table, key: str) -> list[Table]:
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(key, f"must be an array of tables ([[{key}]])")
            return []
        for n, table in enumerate(value):
            self.known_keys(table, f"{key}[{n}]", KEYS[key])
        return value

    def string(self, table: Table, where: str, key: str, pattern: re.Pattern[str] | None = None) -> str:
        value = table.get(key)
        if not isinstance(value, str) or not value:
            self.problem(f"{where}.{key}", "missing or not a string")
            return ""
        if pattern is not None and not pattern.fullmatch(value):
            self.problem(f"{where}.{key}", f"{quote(value)} does not match {pattern.pattern}")
        elif pattern is None and len(value) > MAX_NAME_CHARS:
            self.problem(f"{where}.{key}", f"longer than {MAX_NAME_CHARS} characters")
        return value

    def integer(self, table: Table, where: str, key: str, low: int, high: int) -> int:
        value = table.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(f"{where}.{key}", "missing or not an integer")
            return low
        if not low <= value <= high:
            self.problem(f"{where}.{key}", f"{value} is outside {low}..{high}")
        return value

    def known_keys(self, table: Table, where: str, allowed: frozenset[str]) -> None:
        """A misspelt key would otherwise be ignored silently (a `fare` meant as `fares`)."""
        for key in sorted(set(table) - allowed):
            # A key is the file's text too: a long one is quoted cut, like any bad value.
            shown = key if len(key) <= QUOTE_CHARS else quote(key)
            self.problem(f"{where}.{shown}", f"unknown key (expected one of {', '.join(sorted(allowed))})")

    def unique(self, seen: Mapping[str, object], where: str, key: str, value: str) -> None:
        if value in seen:
            self.problem(f"{where}.{key}", f"duplicate {key} {quote(value)}")


def parse_network(doc: Table) -> Network:
    """Validate a parsed network file; raise NetworkError listing every problem found."""
    r = _Reader()
    if type(doc.get("format")) is not int or doc["format"] != FORMAT_VERSION:
        r.problem("format", f"must be the integer {FORMAT_VERSION}")
    r.known_keys(doc, "file", KEYS["file"])
    offset = _parse_offset(r, doc.get("utc_offset", "+08:00"))
    stations = _parse_stations(r, r.table_list(doc, "stations"))
    operators = _parse_operators(r, r.table_list(doc, "operators"))
    vehicles = _parse_vehicles(r, r.table_list(doc, "vehicles"))
    routes = _parse_routes(r, r.table_list(doc, "routes"), stations)
    schedules = _parse_schedules(r, r.table_list(doc, "schedules"), routes, operators, vehicles)
    if r.problems:
        raise NetworkError(r.problems)
    return Network(str(doc.get("name", "")), offset, stations, operators, vehicles, routes, schedules)


def _parse_offset(r: _Reader, text: object) -> int:
    match = UTC_OFFSET.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        r.problem("utc_offset", f"{quote(text)} is not like +08:00")
        return 0
    minutes = int(match[2]) * 60 + int(match[3])
    if int(match[3]) >= 60 or minutes > MAX_UTC_OFFSET_MIN:
        r.problem("utc_offset", f"{quote(text)} is not a real UTC offset")
    return -minutes if match[1] == "-" else minutes


def _parse_stations(r: _Reader, tables: list[Table]) -> dict[str, tuple[str, str]]:
    stations: dict[str, tuple[str, str]] = {}
    for n, table in enumerate(tables):
        where = f"stations[{n}]"
        code = r.string(table, where, "code", STATION_CODE)
        r.unique(stations, where, "code", code)
        name = r.string(table, where, "name")
        city = table.get("city", "")
        stations[code] = (name, city if isinstance(city, str) else "")
    if not stations:
        r.problem("stations", "at least one station is required")
    return stations


def _parse_operators(r: _Reader, tables: list[Table]) -> dict[str, str]:
    operators: dict[str, str] = {}
    for n, table in enumerate(tables):
        where = f"operators[{n}]"
        operator_id = r.string(table, where, "id", OPERATOR_ID)
        r.unique(operators, where, "id", operator_id)
        operators[operator_id] = r.string(table, where, "name")
    return operators


def _parse_vehicles(r: _Reader, tables: list[Table]) -> dict[str, tuple[str, tuple[tuple[str, ...], ...]]]:
    vehicles: dict[str, tuple[str, tuple[tuple[str, ...], ...]]] = {}
    for n, table in enumerate(tables):
        where = f"vehicles[{n}]"
        vehicle_id = r.string(table, where, "id", VEHICLE_ID)
        r.unique(vehicles, where, "id", vehicle_id)
        name = r.string(table, where, "name")
        if ("seats" in table) == ("rows" in table):
            r.problem(where, "give exactly one of seats or rows")
            continue
        if "seats" in table:
            seats = r.integer(table, where, "seats", 1, MAX_SEATS_PER_TRIP)
            # An out-of-range count is already a problem; never lay out a coach of 10**12 seats.
            rows = standard_rows(min(seats, MAX_SEATS_PER_TRIP))
        else:
            rows = _parse_rows(r, where, table["rows"])
        vehicles[vehicle_id] = (name, rows)
    return vehicles


def _parse_rows(r: _Reader, where: str, rows: object) -> tuple[tuple[str, ...], ...]:
    if not isinstance(rows, list) or not rows or not all(isinstance(row, list) for row in rows):
        r.problem(f"{where}.rows", "must be a non-empty array of arrays of seat labels")
        return ()
    labels = [label for row in rows for label in row if label != AISLE]
    bad = [label for label in labels if not isinstance(label, str) or not SEAT_LABEL.fullmatch(label)]
    if bad:
        r.problem(
            f"{where}.rows", f"bad seat labels {', '.join(quote(label) for label in bad[:3])}: 1-4 letters or digits"
        )
    elif len(set(labels)) != len(labels):
        r.problem(f"{where}.rows", "seat labels must be unique")
    elif not 1 <= len(labels) <= MAX_SEATS_PER_TRIP:
        r.problem(f"{where}.rows", f"{len(labels)} seats is outside 1..{MAX_SEATS_PER_TRIP}")
    return tuple(tuple(row) for row in rows)


def _parse_routes(r: _Reader, tables: list[Table], stations: dict[str, tuple[str, str]]) -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for n, table in enumerate(tables):
        where = f"routes[{n}]"
        route_id = r.string(table, where, "id", ROUTE_ID)
        r.unique(routes, where, "id", route_id)
        name = r.string(table, where, "name")
        fen_per_km = r.integer(table, where, "fen_per_km", 1, 10_000)
        stops = _parse_stops(r, where, table.get("stops"), stations)
        fares = {
            (i, j): default_fare(stops[j][2] - stops[i][2], fen_per_km)
            for i in range(len(stops))
            for j in range(i + 1, len(stops))
        }
        _parse_fare_overrides(r, where, table.get("fares", []), stops, fares)
        routes[route_id] = Route(route_id, name, stops, fares, _flag(r, table, where, "student_fares", False))
    return routes


def _parse_stops(
    r: _Reader, where: str, stops: object, stations: dict[str, tuple[str, str]]
) -> tuple[tuple[str, int, int], ...]:
    if not isinstance(stops, list) or not 2 <= len(stops) <= MAX_STOPS_PER_ROUTE:
        r.problem(f"{where}.stops", f"must list 2..{MAX_STOPS_PER_ROUTE} stops")
        return ()
    parsed: list[tuple[str, int, int]] = []
    for k, stop in enumerate(stops):
        at = f"{where}.stops[{k}]"
        if not isinstance(stop, dict):
            r.problem(at, 'must be a table like { station = "SJZ", minutes = 0, km = 0 }')
            continue
        r.known_keys(stop, at, KEYS["stops"])
        code = r.string(stop, at, "station", STATION_CODE)
        if code and code not in stations:
            r.problem(f"{at}.station", f"unknown station {quote(code)}")
        minutes = r.integer(stop, at, "minutes", 0, 48 * 60)
        km = r.integer(stop, at, "km", 0, 5000)
        if parsed and (minutes <= parsed[-1][1] or km <= parsed[-1][2]):
            r.problem(at, "minutes and km must increase along the route")
        if not parsed and (minutes, km) != (0, 0):
            r.problem(at, "the first stop has minutes = 0 and km = 0")
        if any(code == seen[0] for seen in parsed):
            r.problem(f"{at}.station", f"station {quote(code)} appears twice on the route")
        parsed.append((code, minutes, km))
    return tuple(parsed)


def _parse_fare_overrides(
    r: _Reader,
    where: str,
    overrides: object,
    stops: tuple[tuple[str, int, int], ...],
    fares: dict[tuple[int, int], int],
) -> None:
    if not isinstance(overrides, list):
        r.problem(f"{where}.fares", "must be an array of { from, to, fen } tables")
        return
    index = {code: i for i, (code, _, _) in enumerate(stops)}
    for k, fare in enumerate(overrides):
        at = f"{where}.fares[{k}]"
        if not isinstance(fare, dict):
            r.problem(at, 'must be a table like { from = "SJZ", to = "BJ", fen = 8500 }')
            continue
        r.known_keys(fare, at, KEYS["fares"])
        # Only strings can name a stop; a TOML array or table here is unhashable and would crash.
        i, j = (index.get(code) if isinstance(code, str) else None for code in (fare.get("from"), fare.get("to")))
        if i is None or j is None or i >= j:
            r.problem(at, "from and to must be stops of the route, from before to")
            continue
        fares[(i, j)] = r.integer(fare, at, "fen", 1, 10_000_000)


def _parse_schedules(
    r: _Reader,
    tables: list[Table],
    routes: dict[str, Route],
    operators: dict[str, str],
    vehicles: dict[str, tuple[str, tuple[tuple[str, ...], ...]]],
) -> tuple[Schedule, ...]:
    schedules: dict[str, Schedule] = {}
    for n, table in enumerate(tables):
        where = f"schedules[{n}]"
        schedule_id = r.string(table, where, "id", SCHEDULE_ID)
        r.unique(schedules, where, "id", schedule_id)
        route_id = r.string(table, where, "route")
        operator_id = r.string(table, where, "operator")
        vehicle_id = r.string(table, where, "vehicle")
        for key, value, known in (
            ("route", route_id, routes),
            ("operator", operator_id, operators),
            ("vehicle", vehicle_id, vehicles),
        ):
            if value and value not in known:
                r.problem(f"{where}.{key}", f"unknown {key} {quote(value)}")
        flow = _parse_flow(r, where, table["flow"]) if "flow" in table else None
        if "flow" in table:
            if "departs" in table:
                r.problem(f"{where}.flow", "a departure-when-full schedule has no fixed time: leave out departs")
            departs_min = flow.last_min if flow else 0  # sales stay open until the line's last coach may leave
        else:
            departs_min = _clock(r, f"{where}.departs", table.get("departs"))
        route = routes.get(route_id)
        student_fares = _flag(r, table, where, "student_fares", route.student_fares if route is not None else False)
        calendar = _parse_calendar(r, where, table.get("calendar", {}))
        advance_days = r.integer(table, where, "advance_days", 1, MAX_ADVANCE_DAYS) if "advance_days" in table else 0
        gate = r.string(table, where, "gate", GATE) if "gate" in table else ""
        schedules[schedule_id] = Schedule(
            schedule_id,
            route_id,
            operator_id,
            vehicle_id,
            departs_min,
            student_fares,
            calendar,
            advance_days,
            flow,
            gate,
        )
    return tuple(schedules.values())


def _clock(r: _Reader, where: str, value: object) -> int:
    match = CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        r.problem(where, f"{quote(value)} is not a time like 07:30")
        return 0
    return int(match[1]) * 60 + int(match[2])


def _parse_flow(r: _Reader, where: str, table: object) -> Flow | None:
    """`flow = { max_wait_minutes = 30, first = "06:00", last = "20:00" }`"""
    at = f"{where}.flow"
    if not isinstance(table, dict):
        r.problem(at, 'must be a table like { max_wait_minutes = 30, first = "06:00", last = "20:00" }')
        return None
    r.known_keys(table, at, KEYS["flow"])
    wait = r.integer(table, at, "max_wait_minutes", 1, MAX_FLOW_WAIT_MIN)
    first = _clock(r, f"{at}.first", table.get("first"))
    last = _clock(r, f"{at}.last", table.get("last"))
    if last <= first:
        r.problem(f"{at}.last", "must be after first")
    return Flow(wait, first, last)


def _parse_calendar(r: _Reader, where: str, table: object) -> Calendar:
    """`calendar = { days = "odd", weekdays = [1, 5], from = 2026-12-01, until = ..., except = [...], also = [...] }`"""
    at = f"{where}.calendar"
    if not isinstance(table, dict):
        r.problem(at, 'must be a table like { days = "odd", weekdays = [1, 2, 3, 4, 5] }')
        return DAILY
    r.known_keys(table, at, KEYS["calendar"])
    days = table.get("days", "daily")
    if days not in CALENDAR_DAYS:
        r.problem(f"{at}.days", f"{quote(days)} is not one of {', '.join(CALENDAR_DAYS)}")
        days = "daily"
    weekdays = table.get("weekdays", [])
    if (
        not isinstance(weekdays, list)
        or not all(type(w) is int and 1 <= w <= 7 for w in weekdays)
        or len(set(weekdays)) != len(weekdays)
    ):
        r.problem(f"{at}.weekdays", "must be an array of distinct ISO weekdays 1 (Monday) .. 7 (Sunday)")
        weekdays = []
    elif "weekdays" in table and not weekdays:
        r.problem(f"{at}.weekdays", "is empty: the schedule would never run (leave it out for every weekday)")
    first = _calendar_date(r, f"{at}.from", table["from"]) if "from" in table else 0
    last = _calendar_date(r, f"{at}.until", table["until"]) if "until" in table else 0
    if first and last and last < first:
        r.problem(f"{at}.until", "is before from")
    except_days = _calendar_dates(r, f"{at}.except", table.get("except", []))
    also_days = _calendar_dates(r, f"{at}.also", table.get("also", []))
    both = sorted(set(except_days) & set(also_days))
    if both:
        r.problem(f"{at}.also", f"{dt.date.fromordinal(both[0])} is in except too")
    return Calendar(days, tuple(sorted(weekdays)), first, last, except_days, also_days)


def _calendar_date(r: _Reader, where: str, value: object) -> int:
    """A TOML local date (2026-12-01) or a string "2026-12-01"."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value) if re.fullmatch(r"\d{4}-\d\d-\d\d", value) else value
        except ValueError:
            pass
    if type(value) is not dt.date:
        r.problem(where, f"{quote(str(value))} is not a date like 2026-12-01")
        return 0
    return value.toordinal()


def _calendar_dates(r: _Reader, where: str, values: object) -> tuple[int, ...]:
    if not isinstance(values, list) or len(values) > MAX_CALENDAR_DATES:
        r.problem(where, f"must be an array of at most {MAX_CALENDAR_DATES} dates")
        return ()
    ordinals = [_calendar_date(r, f"{where}[{k}]", value) for k, value in enumerate(values)]
    return tuple(sorted({o for o in ordinals if o}))


def _flag(r: _Reader, table: Table, where: str, key: str, default: bool) -> bool:
    value = table.get(key, default)
    if type(value) is not bool:
        r.problem(f"{where}.{key}", "must be true or false")
        return default
    return value


def expand(network: Network, first_day: dt.date, days: int, today: dt.date | None = None) -> list[TripSpec]:
    """The trips the network's schedules make on `days` consecutive local dates, by each schedule's
    calendar; given `today`, only within the advance-sale window of the schedules that state
    `advance_days` (a load asked for further ahead leaves those dates to the daily roll)."""
    if not 1 <= days <= MAX_LOAD_DAYS:
        raise NetworkError([f"days: {days} is outside 1..{MAX_LOAD_DAYS}"])
    if len(network.schedules) * days > MAX_TRIPS_PER_LOAD:
        raise NetworkError([f"schedules x days makes more than {MAX_TRIPS_PER_LOAD} trips"])
    specs = []
    for d in range(days):
        day = first_day + dt.timedelta(days=d)
        for schedule in network.schedules:
            stated = today if schedule.advance_days else None
            if schedule.runs_on(day, stated):
                specs.append(_trip(network, schedule, day))
    return specs


def window(network: Network, today: dt.date, first_day: dt.date | None = None) -> list[TripSpec]:
    """The trips on sale from `today` by every schedule's own window (DEFAULT_ADVANCE_DAYS unless it
    states `advance_days`) and calendar: what the daily roll makes sure exist.  `first_day` leaves
    out the dates before it."""
    longest = max((s.window_days for s in network.schedules), default=0)
    days = (today + dt.timedelta(days=d) for d in range(longest))
    return [spec for day in days if first_day is None or day >= first_day for spec in day_trips(network, today, day)]


def day_trips(network: Network, today: dt.date, day: dt.date) -> list[TripSpec]:
    """The trips of `day` that are on sale from `today`: by calendar, within each schedule's window."""
    ahead = (day - today).days
    return [_trip(network, s, day) for s in network.schedules if 0 <= ahead < s.window_days and s.calendar.runs_on(day)]


def _trip(network: Network, schedule: Schedule, day: dt.date) -> TripSpec:
    route = network.routes[schedule.route_id]
    vehicle_name, rows = network.vehicles[schedule.vehicle_id]
    midnight_utc = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    departs_at = midnight_utc + dt.timedelta(minutes=schedule.departs_min - network.utc_offset_min)
    flow = schedule.flow
    return TripSpec(
        # A flow line's day starts with its first coach; the next ones are made as it fills or leaves.
        trip_id=flow_coach_id(schedule.schedule_id, day, 1) if flow else f"{schedule.schedule_id}-{day:%Y%m%d}",
        schedule_id=schedule.schedule_id,
        route_id=route.route_id,
        route_name=route.name,
        operator_id=schedule.operator_id,
        operator_name=network.operators[schedule.operator_id],
        vehicle_name=vehicle_name,
        departs_at_ms=int(departs_at.timestamp() * 1000),
        stops=tuple(Stop(code, network.stations[code][0], minutes) for code, minutes, _ in route.stops),
        rows=rows,
        fares=tuple((i, j, fen) for (i, j), fen in sorted(route.fares.items())),
        student_fares=schedule.student_fares,
        stop_km=tuple(km for _, _, km in route.stops),
        flow_max_wait_min=flow.max_wait_min if flow else 0,
        gate=schedule.gate,
    )
