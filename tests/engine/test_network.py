"""The network file: parsing, validation that names every problem's field, and trip expansion."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyun.engine.limits import MAX_LOAD_DAYS, MAX_SEATS_PER_TRIP, MAX_STOPS_PER_ROUTE
from keyun.engine.network import AISLE, NetworkError, default_fare, expand, parse_network, standard_rows

from .conftest import DAY, DAY_MS, DEPARTS_MS, FARE, HOUR_MS, A, B, C, D, network_doc

HEBEI = Path(__file__).resolve().parents[2] / "gateway" / "demo" / "hebei.toml"


def problems_of(doc: dict) -> list[str]:
    with pytest.raises(NetworkError) as caught:
        parse_network(doc)
    assert caught.value.problems, "a NetworkError lists at least one problem"
    assert str(caught.value) == "; ".join(caught.value.problems)
    return caught.value.problems


def assert_problem(doc: dict, where: str, *words: str) -> None:
    """Some problem starts with the field path `where` and mentions every one of `words`."""
    problems = problems_of(doc)
    matching = [p for p in problems if p.startswith(f"{where}: ")]
    assert matching, f"no problem about {where!r} in {problems!r}"
    assert any(all(word in p for word in words) for p in matching), (words, matching)


# --- the demo network --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hebei():
    with HEBEI.open("rb") as f:
        return parse_network(tomllib.load(f))


def test_hebei_demo_parses(hebei):
    assert hebei.utc_offset_min == 8 * 60
    assert len(hebei.stations) == 16
    assert len(hebei.operators) == 5
    assert len(hebei.vehicles) == 4
    assert len(hebei.routes) == 15
    assert len(hebei.schedules) == 82  # 34 intercity, 48 shuttle
    assert hebei.routes["SJZ-BJ"].fares[(0, 4)] == 8000  # the override
    # SJZ→DZ is 72 km at 30 fen/km = 21.60 yuan, rounded to 22 yuan.
    assert hebei.routes["SJZ-BJ"].fares[(0, 1)] == 2200


def test_hebei_expands_seven_days(hebei):
    first = dt.date(2030, 6, 1)
    trips = expand(hebei, first, 7)
    assert len(trips) == 7 * 82
    assert len({trip.trip_id for trip in trips}) == len(trips)
    days = {trip.trip_id.rsplit("-", 1)[1] for trip in trips}
    assert days == {f"{first + dt.timedelta(days=d):%Y%m%d}" for d in range(7)}
    for trip in trips:
        local = dt.datetime.fromtimestamp(trip.departs_at_ms / 1000, dt.timezone(dt.timedelta(hours=8)))
        if not trip.schedule_id.startswith("S"):  # the shuttle runs around the clock
            assert dt.time(6, 30) <= local.time() <= dt.time(19, 0)
        assert trip.trip_id == f"{trip.schedule_id}-{local:%Y%m%d}"
        assert 1 <= len(trip.seat_labels) <= MAX_SEATS_PER_TRIP
        assert len(set(trip.seat_labels)) == len(trip.seat_labels)
        n = len(trip.stops)
        assert {(i, j) for i, j, _ in trip.fares} == {(i, j) for i in range(n) for j in range(i + 1, n)}
        assert all(fen >= 100 for _, _, fen in trip.fares)
        offsets = [stop.offset_min for stop in trip.stops]
        assert offsets[0] == 0 and offsets == sorted(set(offsets))


def test_hebei_shuttle_leaves_every_half_hour_around_the_clock(hebei):
    shuttle = [s for s in hebei.schedules if s.schedule_id.startswith("S")]
    assert sorted(s.departs_min for s in shuttle) == list(range(0, 24 * 60, 30))
    for s in shuttle:  # S<HHMM> leaves at HH:MM, from SJZ on the hour and from SJZY on the half hour
        assert s.schedule_id == f"S{s.departs_min // 60:02d}{s.departs_min % 60:02d}"
        assert hebei.routes[s.route_id].stops[0][0] == ("SJZ" if s.departs_min % 60 == 0 else "SJZY")


def test_hebei_mini_bus_layout(hebei):
    name, rows = hebei.vehicles["mini20"]
    labels = [label for row in rows for label in row if label != AISLE]
    assert labels == [str(n) for n in range(1, 21)]


# --- the test network --------------------------------------------------------------------------


def test_test_network_expands():
    network = parse_network(network_doc())
    trips = expand(network, DAY, 2)
    assert [t.trip_id for t in trips] == ["S1-20300601", "S2-20300601", "S1-20300602", "S2-20300602"]
    first = trips[0]
    assert first.departs_at_ms == DEPARTS_MS
    assert trips[1].departs_at_ms == DEPARTS_MS + 6 * HOUR_MS
    assert trips[2].departs_at_ms == DEPARTS_MS + 24 * HOUR_MS
    assert [s.code for s in first.stops] == [A, B, C, D]
    assert [s.offset_min for s in first.stops] == [0, 60, 120, 180]
    assert first.stops[1].name == "Bravo"
    codes = [A, B, C, D]
    assert {(codes[i], codes[j]): fen for i, j, fen in first.fares} == FARE
    assert first.seat_labels == ("1A", "1B", "1C", "1D", "2A", "2B", "2C", "2D", "3A", "3B", "3C", "3D", "3E")
    assert first.operator_name == "Test Coaches" and first.route_name == "Alpha—Delta"


@pytest.mark.parametrize("offset, minutes", [("+08:00", 480), ("-05:30", -330), ("+00:00", 0)])
def test_utc_offset_moves_departures(offset, minutes):
    doc = network_doc()
    doc["utc_offset"] = offset
    network = parse_network(doc)
    assert network.utc_offset_min == minutes
    midnight = int(dt.datetime(2030, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert expand(network, DAY, 1)[0].departs_at_ms == midnight + (8 * 60 - minutes) * 60_000


def test_utc_offset_defaults_to_china():
    doc = network_doc()
    del doc["utc_offset"]
    assert parse_network(doc).utc_offset_min == 480


@pytest.mark.parametrize("days", [0, -1, MAX_LOAD_DAYS + 1])
def test_expand_rejects_bad_day_counts(days):
    with pytest.raises(NetworkError) as caught:
        expand(parse_network(network_doc()), DAY, days)
    assert caught.value.problems[0].startswith("days: ")


def test_expand_accepts_the_maximum_days():
    assert len(expand(parse_network(network_doc()), DAY, MAX_LOAD_DAYS)) == 2 * MAX_LOAD_DAYS


# --- bad files: every problem names its field ----------------------------------------------------


def mutated(change) -> dict:
    doc = network_doc()
    change(doc)
    return doc


def _set(path: tuple, value):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def _delete(path: tuple):
    def change(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return change


def _append(key: str, table: dict):
    return lambda doc: doc[key].append(table)


BAD = [
    # (id, change, field path, words in the message)
    ("missing format", _delete(("format",)), "format", ("must be the integer 1",)),
    ("wrong format", _set(("format",), 2), "format", ("must be the integer 1",)),
    ("float format", _set(("format",), 1.0), "format", ("must be the integer 1",)),
    ("boolean format", _set(("format",), True), "format", ("must be the integer 1",)),
    ("format as string", _set(("format",), "1"), "format", ()),
    ("bad utc offset", _set(("utc_offset",), "8"), "utc_offset", ("+08:00",)),
    ("utc offset not a string", _set(("utc_offset",), 8), "utc_offset", ()),
    ("stations not tables", _set(("stations",), ["AA"]), "stations", ("array of tables",)),
    ("no stations", _set(("stations",), []), "stations", ("at least one",)),
    ("bad station code", _set(("stations", 0, "code"), "a"), "stations[0].code", ("does not match",)),
    ("lowercase station code", _set(("stations", 1, "code"), "bb"), "stations[1].code", ()),
    ("station code too long", _set(("stations", 0, "code"), "ABCDEFGHI"), "stations[0].code", ()),
    ("missing station code", _delete(("stations", 2, "code")), "stations[2].code", ("missing",)),
    ("missing station name", _delete(("stations", 0, "name")), "stations[0].name", ("missing",)),
    ("station name too long", _set(("stations", 0, "name"), "x" * 41), "stations[0].name", ("longer than 40",)),
    ("duplicate station", _append("stations", {"code": A, "name": "Again"}), "stations[4].code", ("duplicate", "'AA'")),
    ("bad operator id", _set(("operators", 0, "id"), "op"), "operators[0].id", ()),
    ("duplicate operator", _append("operators", {"id": "OP1", "name": "Other"}), "operators[1].id", ("duplicate",)),
    ("missing operator name", _delete(("operators", 0, "name")), "operators[0].name", ("missing",)),
    ("bad vehicle id", _set(("vehicles", 0, "id"), "Coach"), "vehicles[0].id", ()),
    (
        "duplicate vehicle",
        _append("vehicles", {"id": "coach", "name": "again", "seats": 10}),
        "vehicles[2].id",
        ("duplicate",),
    ),
    ("both seats and rows", _set(("vehicles", 0, "seats"), 13), "vehicles[0]", ("exactly one of seats or rows",)),
    ("neither seats nor rows", _delete(("vehicles", 1, "seats")), "vehicles[1]", ("exactly one",)),
    ("zero seats", _set(("vehicles", 1, "seats"), 0), "vehicles[1].seats", ("outside 1..80",)),
    ("too many seats", _set(("vehicles", 1, "seats"), MAX_SEATS_PER_TRIP + 1), "vehicles[1].seats", ("outside",)),
    ("absurd seats", _set(("vehicles", 1, "seats"), 10**12), "vehicles[1].seats", ("outside",)),
    ("negative seats", _set(("vehicles", 1, "seats"), -45), "vehicles[1].seats", ("outside",)),
    ("seats not an integer", _set(("vehicles", 1, "seats"), "45"), "vehicles[1].seats", ("not an integer",)),
    ("seats boolean", _set(("vehicles", 1, "seats"), True), "vehicles[1].seats", ("not an integer",)),
    ("rows empty", _set(("vehicles", 0, "rows"), []), "vehicles[0].rows", ("non-empty",)),
    ("rows not arrays", _set(("vehicles", 0, "rows"), ["1", "2"]), "vehicles[0].rows", ()),
    ("bad seat label", _set(("vehicles", 0, "rows"), [["1", "1-A"]]), "vehicles[0].rows", ("bad seat labels",)),
    ("seat label too long", _set(("vehicles", 0, "rows"), [["12345"]]), "vehicles[0].rows", ("bad seat labels",)),
    ("seat label not a string", _set(("vehicles", 0, "rows"), [[1, 2]]), "vehicles[0].rows", ("bad seat labels",)),
    ("unicode seat label", _set(("vehicles", 0, "rows"), [["一"]]), "vehicles[0].rows", ("bad seat labels",)),
    ("duplicate seat labels", _set(("vehicles", 0, "rows"), [["1", "2"], ["2", "3"]]), "vehicles[0].rows", ("unique",)),
    ("only aisles", _set(("vehicles", 0, "rows"), [["", ""]]), "vehicles[0].rows", ("0 seats",)),
    (
        "too many labelled seats",
        _set(("vehicles", 0, "rows"), [[str(n) for n in range(81)]]),
        "vehicles[0].rows",
        ("81 seats",),
    ),
    ("bad route id", _set(("routes", 0, "id"), "r1"), "routes[0].id", ()),
    ("missing fen_per_km", _delete(("routes", 0, "fen_per_km")), "routes[0].fen_per_km", ("missing",)),
    ("zero fen_per_km", _set(("routes", 0, "fen_per_km"), 0), "routes[0].fen_per_km", ("outside",)),
    ("stops missing", _delete(("routes", 0, "stops")), "routes[0].stops", ("2..16",)),
    ("one stop", _set(("routes", 0, "stops"), [{"station": A, "minutes": 0, "km": 0}]), "routes[0].stops", ("2..16",)),
    (
        "too many stops",
        _set(("routes", 0, "stops"), [{"station": A, "minutes": k, "km": k} for k in range(MAX_STOPS_PER_ROUTE + 1)]),
        "routes[0].stops",
        (),
    ),
    ("stop not a table", _set(("routes", 0, "stops", 1), "BB"), "routes[0].stops[1]", ("must be a table",)),
    (
        "unknown station in stop",
        _set(("routes", 0, "stops", 2, "station"), "ZZ"),
        "routes[0].stops[2].station",
        ("unknown station", "'ZZ'"),
    ),
    (
        "bad station in stop",
        _set(("routes", 0, "stops", 2, "station"), "c"),
        "routes[0].stops[2].station",
        ("does not match",),
    ),
    (
        "station twice on route",
        _set(("routes", 0, "stops", 2, "station"), A),
        "routes[0].stops[2].station",
        ("appears twice",),
    ),
    (
        "minutes not increasing",
        _set(("routes", 0, "stops", 2, "minutes"), 60),
        "routes[0].stops[2]",
        ("must increase",),
    ),
    ("minutes decreasing", _set(("routes", 0, "stops", 3, "minutes"), 30), "routes[0].stops[3]", ("must increase",)),
    ("km not increasing", _set(("routes", 0, "stops", 1, "km"), 0), "routes[0].stops[1]", ("must increase",)),
    ("first stop not at zero", _set(("routes", 0, "stops", 0, "minutes"), 5), "routes[0].stops[0]", ("first stop",)),
    (
        "minutes out of range",
        _set(("routes", 0, "stops", 3, "minutes"), 48 * 60 + 1),
        "routes[0].stops[3].minutes",
        ("outside",),
    ),
    ("km missing", _delete(("routes", 0, "stops", 1, "km")), "routes[0].stops[1].km", ("missing",)),
    ("fares not an array", _set(("routes", 0, "fares"), {"from": A}), "routes[0].fares", ("array",)),
    ("fare not a table", _set(("routes", 0, "fares", 0), 4000), "routes[0].fares[0]", ("must be a table",)),
    ("fare reversed", _set(("routes", 0, "fares", 0, "from"), D), "routes[0].fares[0]", ("from before to",)),
    ("fare same stop", _set(("routes", 0, "fares", 0, "to"), A), "routes[0].fares[0]", ("from before to",)),
    ("fare unknown stop", _set(("routes", 0, "fares", 0, "to"), "ZZ"), "routes[0].fares[0]", ("stops of the route",)),
    (
        "fare stop is a list",
        _set(("routes", 0, "fares", 0, "from"), [A]),
        "routes[0].fares[0]",
        ("stops of the route",),
    ),
    (
        "fare stop is a table",
        _set(("routes", 0, "fares", 0, "to"), {"code": D}),
        "routes[0].fares[0]",
        ("stops of the route",),
    ),
    ("fare zero", _set(("routes", 0, "fares", 0, "fen"), 0), "routes[0].fares[0].fen", ("outside",)),
    ("fare negative", _set(("routes", 0, "fares", 0, "fen"), -100), "routes[0].fares[0].fen", ("outside",)),
    ("fare a float", _set(("routes", 0, "fares", 0, "fen"), 40.0), "routes[0].fares[0].fen", ("not an integer",)),
    ("fare missing", _delete(("routes", 0, "fares", 0, "fen")), "routes[0].fares[0].fen", ("missing",)),
    ("duplicate route", _append("routes", {**network_doc()["routes"][0]}), "routes[1].id", ("duplicate",)),
    ("bad schedule id", _set(("schedules", 0, "id"), "s-1"), "schedules[0].id", ()),
    ("duplicate schedule", _set(("schedules", 1, "id"), "S1"), "schedules[1].id", ("duplicate", "'S1'")),
    ("unknown route", _set(("schedules", 0, "route"), "R9"), "schedules[0].route", ("unknown route",)),
    ("unknown operator", _set(("schedules", 0, "operator"), "OP9"), "schedules[0].operator", ("unknown operator",)),
    ("unknown vehicle", _set(("schedules", 1, "vehicle"), "bus"), "schedules[1].vehicle", ("unknown vehicle",)),
    ("missing vehicle", _delete(("schedules", 1, "vehicle")), "schedules[1].vehicle", ("missing",)),
    ("departs hour 24", _set(("schedules", 0, "departs"), "24:00"), "schedules[0].departs", ("not a time",)),
    ("departs no padding", _set(("schedules", 0, "departs"), "8:00"), "schedules[0].departs", ("not a time",)),
    ("departs minute 60", _set(("schedules", 0, "departs"), "08:60"), "schedules[0].departs", ("not a time",)),
    ("departs with seconds", _set(("schedules", 0, "departs"), "08:00:00"), "schedules[0].departs", ("not a time",)),
    ("departs as number", _set(("schedules", 0, "departs"), 800), "schedules[0].departs", ("not a time",)),
    ("departs missing", _delete(("schedules", 0, "departs")), "schedules[0].departs", ("not a time",)),
    ("departs a TOML time", _set(("schedules", 0, "departs"), dt.time(8, 0)), "schedules[0].departs", ("not a time",)),
    ("schedules not tables", _set(("schedules",), "S1"), "schedules", ("array of tables",)),
]


@pytest.mark.parametrize("change, where, words", [pytest.param(*case[1:], id=case[0]) for case in BAD])
def test_bad_network_names_the_field(change, where, words):
    assert_problem(mutated(change), where, *words)


def test_every_problem_is_reported_in_one_go():
    doc = network_doc()
    del doc["format"]
    doc["stations"][0]["code"] = "a"
    doc["vehicles"][1]["seats"] = 0
    doc["routes"][0]["stops"][2]["station"] = "ZZ"
    doc["schedules"][0]["departs"] = "25:00"
    doc["schedules"][1]["vehicle"] = "bus"
    problems = problems_of(doc)
    for where in (
        "format",
        "stations[0].code",
        "vehicles[1].seats",
        "routes[0].stops[2].station",
        "schedules[0].departs",
        "schedules[1].vehicle",
    ):
        assert any(p.startswith(f"{where}: ") for p in problems), (where, problems)


def test_the_network_document_is_not_mutated():
    doc = network_doc()
    before = copy.deepcopy(doc)
    parse_network(doc)
    assert doc == before


def test_rows_with_aisles_keep_their_shape():
    doc = network_doc(rows=[["1", "2", "", "3"], ["4", "", "5"]])
    network = parse_network(doc)
    assert network.vehicles["coach"][1] == (("1", "2", "", "3"), ("4", "", "5"))


# --- standard layouts and fares -------------------------------------------------------------------


@pytest.mark.parametrize("seats", [35, 45, 53])
def test_standard_rows(seats):
    rows = standard_rows(seats)
    labels = [label for row in rows for label in row if label != AISLE]
    assert labels == [str(n) for n in range(1, seats + 1)]
    *front, back = rows
    for row in front:
        assert row.count(AISLE) == 1 and row.index(AISLE) == 2 and len(row) == 5
    if (seats - 5) % 4 == 0:  # a back row of five, no aisle
        assert back == tuple(str(n) for n in range(seats - 4, seats + 1))
    else:
        assert back.index(AISLE) == 2 and len(back) <= 5


def test_standard_rows_45_exact():
    rows = standard_rows(45)
    assert len(rows) == 11
    assert rows[0] == ("1", "2", AISLE, "3", "4")
    assert rows[-2] == ("37", "38", AISLE, "39", "40")
    assert rows[-1] == ("41", "42", "43", "44", "45")


def test_standard_rows_35_has_no_back_row_of_five():
    rows = standard_rows(35)
    assert rows[-1] == ("33", "34", AISLE, "35")
    assert len(rows) == 9


@pytest.mark.parametrize("seats", list(range(1, MAX_SEATS_PER_TRIP + 1)))
def test_standard_rows_any_size(seats):
    labels = [label for row in standard_rows(seats) for label in row if label != AISLE]
    assert labels == [str(n) for n in range(1, seats + 1)]
    assert all(row and row[0] != AISLE and row[-1] != AISLE for row in standard_rows(seats))


@pytest.mark.parametrize(
    "km, fen_per_km, fen",
    [
        (72, 30, 2200),  # 21.60 yuan rounds up
        (78, 28, 2200),  # 21.84
        (50, 30, 1500),  # exact
        (5, 30, 200),  # 1.50 rounds half up
        (4, 31, 100),  # 1.24 rounds down to 1 yuan
        (1, 30, 100),  # 0.30 is below the minimum of one yuan
        (0, 30, 100),
        (285, 30, 8600),  # 85.50 rounds half up
        (125, 27, 3400),  # 33.75
        (1000, 10_000, 10_000_000),
    ],
)
def test_default_fare_rounds_to_whole_yuan(km, fen_per_km, fen):
    assert default_fare(km, fen_per_km) == fen
    assert fen % 100 == 0 and fen >= 100


# --- any malformed document gives NetworkError, never a crash -----------------------------------

_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from([A, B, C, D, "", "08:00", "OP1", "R1", "coach", "1A"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["code", "id", "from", "to", "fen", "station"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for k, value in enumerate(node):
            yield from _paths(value, prefix + (k,))


_ALL_PATHS = [p for p in _paths(network_doc()) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_ALL_PATHS), _values), min_size=1, max_size=3))
def test_malformed_documents_raise_network_error_only(changes):
    doc = network_doc()
    for path, value in changes:
        target = doc
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    try:
        network = parse_network(doc)
    except NetworkError as error:
        assert error.problems and all(": " in p for p in error.problems)
        return
    expand(network, DAY, 1)  # whatever parses must expand


def test_trips_carry_each_stops_km_for_passenger_km():
    network = parse_network(network_doc())
    first = expand(network, DAY, 1)[0]
    route = network.routes[first.route_id]
    assert first.stop_km == tuple(km for _, _, km in route.stops)
    assert first.stop_km[0] == 0 and list(first.stop_km) == sorted(first.stop_km)


def test_a_trip_scheduled_before_specs_had_km_decodes_and_is_loaded_again_without_conflict():
    import msgspec

    from keyun.engine import codec
    from keyun.engine import commands as c
    from keyun.engine import events as ev
    from keyun.engine.reasons import Rejection
    from keyun.engine.shard import ShardEngine

    spec = expand(parse_network(network_doc()), DAY, 1)[0]
    # An old log's TripScheduled: the spec's array lacks stop_km and the fields added after it.
    encoded = msgspec.msgpack.decode(codec.encode(ev.TripScheduled(spec)))
    encoded[1] = encoded[1][: type(spec).__struct_fields__.index("stop_km")]
    old = codec.decode(msgspec.msgpack.encode(encoded), ev.Event)
    assert old.spec.stop_km == () and msgspec.structs.replace(old.spec, stop_km=spec.stop_km) == spec
    engine = ShardEngine()
    now = DEPARTS_MS - 10 * DAY_MS
    engine.execute([c.ScheduleTrip("before", old.spec)], now)
    # The same network file loaded again, now with km: the same trip, not TRIP_CONFLICT.
    (reply,), _ = engine.execute([c.ScheduleTrip("again", spec)], now)
    assert not isinstance(reply, Rejection)
    # A real difference still conflicts.
    (refused,), _ = engine.execute([c.ScheduleTrip("moved", msgspec.structs.replace(spec, departs_at_ms=now))], now)
    assert isinstance(refused, Rejection) and refused.reason.name == "TRIP_CONFLICT"
