"""Commands and queries validate their fields on construction: a bad field raises `Rejected` naming it."""

from __future__ import annotations

import re

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyun.engine import commands as c
from keyun.engine.limits import (
    DEFAULT_HOLD_TTL_MS,
    MAX_GATE_ID_CHARS,
    MAX_HOLD_TTL_MS,
    MAX_ID_CHARS,
    MAX_REQUEST_ID_CHARS,
    MAX_SEATS_PER_HOLD,
    MIN_HOLD_TTL_MS,
)
from keyun.engine.reasons import Reason, Rejected

from .conftest import TRIP, A, B, D, trip_specs

MISSING, INVALID = Reason.MISSING_FIELD, Reason.INVALID_FIELD
HOLD = f"{TRIP}-H1"
TICKET = f"{TRIP}-0001"

# Valid arguments for every constructor; each test changes one field.
VALID = {
    c.PlaceHold: dict(request_id="r1", trip_id=TRIP, from_station=A, to_station=D, seat_count=2),
    c.Sell: dict(request_id="r1", trip_id=TRIP, from_station=A, to_station=D, seat_numbers=("1A",)),
    c.ConfirmHold: dict(request_id="r1", hold_id=HOLD),
    c.ReleaseHold: dict(request_id="r1", hold_id=HOLD),
    c.Refund: dict(request_id="r1", ticket_id=TICKET),
    c.CheckIn: dict(request_id="r1", ticket_id=TICKET, gate_id="gate-1"),
    c.DepartTrip: dict(request_id="r1", trip_id=TRIP),
    c.CancelTrip: dict(request_id="r1", trip_id=TRIP),
    c.SearchTrips: dict(from_station=A, to_station=D, start_ms=0, end_ms=1),
    c.GetTrip: dict(trip_id=TRIP),
    c.GetSeatMap: dict(trip_id=TRIP, from_station=A, to_station=D),
    c.GetTicket: dict(ticket_id=TICKET),
    c.GetManifest: dict(trip_id=TRIP),
}


def with_field(kind, field_name):
    return [kind for kind, kwargs in VALID.items() if field_name in kwargs]


def expect(kind, reason: Reason, field_name: str, **changes) -> Rejected:
    with pytest.raises(Rejected) as caught:
        kind(**{**VALID[kind], **changes})
    rejection = caught.value.rejection
    assert rejection.reason is reason, rejection
    assert rejection.fact("field") == field_name, rejection
    assert str(caught.value) == rejection.message and rejection.message
    return caught.value


@pytest.mark.parametrize("kind", list(VALID), ids=lambda k: k.__name__)
def test_valid_arguments_construct(kind):
    command = kind(**VALID[kind])
    assert command.trip_id == ("" if kind is c.SearchTrips else TRIP)  # the gateway routes by trip_id
    assert isinstance(command, msgspec.Struct)
    first = msgspec.structs.fields(command)[0].name
    with pytest.raises(AttributeError):  # frozen
        setattr(command, first, "X1")


def test_defaults():
    hold = c.PlaceHold("r1", TRIP, A, B, seat_count=1)
    assert hold.ttl_ms == 0 and hold.seat_numbers == ()  # 0: the policy's hold lifetime
    assert c.SweepHolds().request_id == "" and c.ListStations().trip_id == ""


# --- request ids --------------------------------------------------------------------------------

COMMANDS = [k for k in VALID if "request_id" in VALID[k]]
GOOD_REQUEST_IDS = ["a", "0", "x" * MAX_REQUEST_ID_CHARS, "550e8400-e29b-41d4-a716-446655440000", "a_b.c:d-e", "Z9"]
BAD_REQUEST_IDS = [
    ("x" * (MAX_REQUEST_ID_CHARS + 1), INVALID),
    ("-abc", INVALID),
    ("_abc", INVALID),
    (".abc", INVALID),
    ("a b", INVALID),
    ("a/b", INVALID),
    ("a\n", INVALID),
    ("a\x00", INVALID),
    (" a", INVALID),
    ("请求1", INVALID),
    ("ключ", INVALID),
    ("é1", INVALID),
    ("a\u200b", INVALID),
    ("１２３", INVALID),  # fullwidth digits are not ASCII digits
    ("", MISSING),
]


@pytest.mark.parametrize("kind", COMMANDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("value, reason", BAD_REQUEST_IDS, ids=repr)
def test_bad_request_id(kind, value, reason):
    expect(kind, reason, "request_id", request_id=value)


@pytest.mark.parametrize("kind", COMMANDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("value", GOOD_REQUEST_IDS)
def test_good_request_id(kind, value):
    assert kind(**{**VALID[kind], "request_id": value}).request_id == value


def test_schedule_trip_validates_request_and_trip_ids():
    spec = trip_specs()[0]
    assert c.ScheduleTrip("r1", spec).trip_id == spec.trip_id
    with pytest.raises(Rejected) as caught:
        c.ScheduleTrip("", spec)
    assert caught.value.rejection.reason is MISSING and caught.value.rejection.fact("field") == "request_id"
    with pytest.raises(Rejected) as caught:
        c.ScheduleTrip("r1", msgspec.structs.replace(spec, trip_id="bad id"))
    assert caught.value.rejection.reason is INVALID and caught.value.rejection.fact("field") == "trip_id"


# --- trip ids -----------------------------------------------------------------------------------

BAD_TRIP_IDS = [
    ("X" * (MAX_ID_CHARS + 1), INVALID),
    ("s1-20300601", INVALID),  # must start with a capital or digit
    ("-S1", INVALID),
    ("_S1", INVALID),
    ("S1 20300601", INVALID),
    ("S1/20300601", INVALID),
    ("S1.20300601", INVALID),
    ("S1\n", INVALID),
    ("Ｓ1", INVALID),
    ("班次1", INVALID),
    ("", MISSING),
]


@pytest.mark.parametrize("kind", with_field(None, "trip_id"), ids=lambda k: k.__name__)
@pytest.mark.parametrize("value, reason", BAD_TRIP_IDS, ids=repr)
def test_bad_trip_id(kind, value, reason):
    expect(kind, reason, "trip_id", trip_id=value)


@pytest.mark.parametrize("value", ["S1", "0", "X" * MAX_ID_CHARS, "S1-20300601", "S1_a-b"])
def test_good_trip_id(value):
    assert c.GetTrip(value).trip_id == value


# --- stations and segments ----------------------------------------------------------------------

SEGMENT_KINDS = with_field(None, "from_station")
BAD_STATIONS = [
    ("a", INVALID),
    ("A", INVALID),  # codes have 2..8 characters
    ("aa", INVALID),
    ("ABCDEFGHI", INVALID),
    ("A-B", INVALID),
    ("AA ", INVALID),
    ("AA\n", INVALID),
    ("北京", INVALID),
    ("ＡＡ", INVALID),
    ("", MISSING),
]


@pytest.mark.parametrize("kind", SEGMENT_KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("field_name", ["from_station", "to_station"])
@pytest.mark.parametrize("value, reason", BAD_STATIONS, ids=repr)
def test_bad_station(kind, field_name, value, reason):
    expect(kind, reason, field_name, **{field_name: value})


@pytest.mark.parametrize("kind", SEGMENT_KINDS, ids=lambda k: k.__name__)
def test_same_station_is_bad_segment(kind):
    expect(kind, Reason.BAD_SEGMENT, "to_station", from_station=B, to_station=B)


@pytest.mark.parametrize("kind", SEGMENT_KINDS, ids=lambda k: k.__name__)
def test_reversed_segment_is_only_known_against_a_trip(kind):
    # Stop order is a fact of the route, so constructors accept D→A; the engine refuses it.
    assert kind(**{**VALID[kind], "from_station": D, "to_station": A}).from_station == D


# --- seats --------------------------------------------------------------------------------------

SEAT_KINDS = [c.PlaceHold, c.Sell]
TOO_MANY = MAX_SEATS_PER_HOLD + 1


@pytest.mark.parametrize("kind", SEAT_KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize(
    "seat_numbers, seat_count, reason, field_name",
    [
        ((), 0, MISSING, "seat_count"),
        ((), -1, INVALID, "seat_count"),
        ((), -100, INVALID, "seat_count"),
        (("1A",), -1, INVALID, "seat_count"),
        (("1A",), 1, INVALID, "seat_count"),  # both
        (("1A", "1B"), 2, INVALID, "seat_count"),  # both, even when they agree
        ((), TOO_MANY, Reason.TOO_MANY_SEATS, "seat_count"),
        ((), 10**9, Reason.TOO_MANY_SEATS, "seat_count"),
        (tuple(str(n) for n in range(TOO_MANY)), 0, Reason.TOO_MANY_SEATS, "seat_numbers"),
        (("",), 0, INVALID, "seat_numbers[0]"),
        (("12345",), 0, INVALID, "seat_numbers[0]"),
        (("1-A",), 0, INVALID, "seat_numbers[0]"),
        (("1A ",), 0, INVALID, "seat_numbers[0]"),
        (("1A\n",), 0, INVALID, "seat_numbers[0]"),
        (("一",), 0, INVALID, "seat_numbers[0]"),
        (("١",), 0, INVALID, "seat_numbers[0]"),  # an Arabic-Indic digit is not a seat number
        (("1A", "座"), 0, INVALID, "seat_numbers[1]"),  # the element's path (AIP-193)
        (("1A", "1A"), 0, Reason.DUPLICATE_SEAT, "seat_numbers[1]"),  # the second naming
        (("1A", "1B", "1A"), 0, Reason.DUPLICATE_SEAT, "seat_numbers[2]"),
    ],
)
def test_bad_seats(kind, seat_numbers, seat_count, reason, field_name):
    error = expect(kind, reason, field_name, seat_numbers=seat_numbers, seat_count=seat_count)
    if reason is Reason.TOO_MANY_SEATS:
        assert error.rejection.fact("limit") == str(MAX_SEATS_PER_HOLD)


@pytest.mark.parametrize("kind", SEAT_KINDS, ids=lambda k: k.__name__)
def test_seat_limits_are_inclusive(kind):
    assert (
        kind(**{**VALID[kind], "seat_numbers": (), "seat_count": MAX_SEATS_PER_HOLD}).seat_count == MAX_SEATS_PER_HOLD
    )
    labels = tuple(str(n) for n in range(MAX_SEATS_PER_HOLD))
    assert kind(**{**VALID[kind], "seat_numbers": labels, "seat_count": 0}).seat_numbers == labels
    assert kind(**{**VALID[kind], "seat_numbers": ("abcd",), "seat_count": 0}).seat_numbers == ("abcd",)


@pytest.mark.parametrize("ttl_ms", [-1, -MAX_HOLD_TTL_MS, MIN_HOLD_TTL_MS - 1, MAX_HOLD_TTL_MS + 1, 10**15])
def test_bad_ttl(ttl_ms):
    expect(c.PlaceHold, INVALID, "ttl_seconds", ttl_ms=ttl_ms)


@pytest.mark.parametrize("ttl_ms", [0, MIN_HOLD_TTL_MS, DEFAULT_HOLD_TTL_MS, MAX_HOLD_TTL_MS])
def test_good_ttl(ttl_ms):
    assert c.PlaceHold(**{**VALID[c.PlaceHold], "ttl_ms": ttl_ms}).ttl_ms == ttl_ms


# --- hold, ticket and gate ids ------------------------------------------------------------------

BAD_HOLD_IDS = [
    ("", MISSING),
    (TRIP, INVALID),  # no suffix
    (f"{TRIP}-", INVALID),
    (f"{TRIP}-H", INVALID),
    (f"{TRIP}-H0", INVALID),
    (f"{TRIP}-H01", INVALID),
    (f"{TRIP}-h1", INVALID),
    (f"{TRIP}-H1x", INVALID),
    (f"{TRIP}-H-1", INVALID),
    (f"{TRIP}-0001", INVALID),  # a ticket id
    (f"{TRIP}H1", INVALID),
    ("H1", INVALID),  # no trip
    ("-H1", INVALID),
    (f"{TRIP}-H1 ", INVALID),
    (f"{TRIP}-H１", INVALID),
    (f"{TRIP}-H" + "9" * (MAX_ID_CHARS - len(TRIP) - 1), INVALID),  # 65 characters
    ("s1-20300601-H1", INVALID),
]


@pytest.mark.parametrize("kind", [c.ConfirmHold, c.ReleaseHold], ids=lambda k: k.__name__)
@pytest.mark.parametrize("value, reason", BAD_HOLD_IDS, ids=repr)
def test_bad_hold_id(kind, value, reason):
    expect(kind, reason, "hold_id", hold_id=value)


@pytest.mark.parametrize("kind", [c.ConfirmHold, c.ReleaseHold], ids=lambda k: k.__name__)
@pytest.mark.parametrize(
    "hold_id, trip_id",
    [(HOLD, TRIP), (f"{TRIP}-H12", TRIP), ("X1-H7", "X1"), ("S1-H2-H5", "S1-H2"), ("X-H" + "9" * 60, "X")],
)
def test_hold_id_names_its_trip(kind, hold_id, trip_id):
    assert kind("r1", hold_id).trip_id == trip_id


TICKET_KINDS = [c.Refund, c.CheckIn, c.GetTicket]
BAD_TICKET_IDS = [
    ("", MISSING),
    ("S1", INVALID),  # no number (S1-20300601 itself is ticket 20300601 of trip S1)
    (f"{TRIP}-", INVALID),
    (f"{TRIP}-001", INVALID),  # at least four digits
    (f"{TRIP}-H1", INVALID),  # a hold id
    (f"{TRIP}-00a1", INVALID),
    (f"{TRIP}-０００１", INVALID),
    (f"{TRIP}-٠٠٠١", INVALID),
    ("0001", INVALID),  # no trip
    ("-0001", INVALID),
    (f"{TRIP}_0001", INVALID),
    (f"{TRIP}-0001\n", INVALID),
    (f"{TRIP}-" + "1" * (MAX_ID_CHARS - len(TRIP)), INVALID),  # 65 characters
]


@pytest.mark.parametrize("kind", TICKET_KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("value, reason", BAD_TICKET_IDS, ids=repr)
def test_bad_ticket_id(kind, value, reason):
    expect(kind, reason, "ticket_id", ticket_id=value)


@pytest.mark.parametrize("kind", TICKET_KINDS, ids=lambda k: k.__name__)
@pytest.mark.parametrize("ticket_id, trip_id", [(TICKET, TRIP), (f"{TRIP}-12345", TRIP), ("X1-0000", "X1")])
def test_ticket_id_names_its_trip(kind, ticket_id, trip_id):
    assert kind(**{**VALID[kind], "ticket_id": ticket_id}).trip_id == trip_id


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", MISSING),
        ("g" * (MAX_GATE_ID_CHARS + 1), INVALID),
        ("gate 1", INVALID),
        ("-gate", INVALID),
        (".gate", INVALID),
        ("gate/1", INVALID),
        ("检票口1", INVALID),
        ("gate\t1", INVALID),
    ],
    ids=repr,
)
def test_bad_gate_id(value, reason):
    expect(c.CheckIn, reason, "gate_id", gate_id=value)


@pytest.mark.parametrize("value", ["g", "G" * MAX_GATE_ID_CHARS, "gate-1", "east.3_b", "1"])
def test_good_gate_id(value):
    assert c.CheckIn("r1", TICKET, value).gate_id == value


# --- check order: the first bad field is the one named ---------------------------------------------


def test_request_id_is_checked_before_other_fields():
    expect(c.PlaceHold, MISSING, "request_id", request_id="", trip_id="", seat_count=0)


def test_segment_is_checked_before_seats():
    expect(c.Sell, MISSING, "from_station", from_station="", seat_numbers=("1A", "1A"))


# --- any text: a command or a Rejected naming a field, never another exception ---------------------

STRING_FIELDS = [
    (kind, name) for kind, kwargs in VALID.items() for name, value in kwargs.items() if isinstance(value, str)
]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(STRING_FIELDS),
    st.text(max_size=70) | st.from_regex(r"[A-Z0-9][A-Za-z0-9_-]{0,70}(-H[0-9]{1,3}|-[0-9]{3,5})?", fullmatch=True),
)
def test_any_text_is_accepted_or_rejected_by_field(kind_field, value):
    kind, name = kind_field
    try:
        command = kind(**{**VALID[kind], name: value})
    except Rejected as error:
        assert error.rejection.reason in (MISSING, INVALID, Reason.BAD_SEGMENT)
        if error.rejection.reason is Reason.BAD_SEGMENT:  # the other end's station: named as to_station either way
            assert name in ("from_station", "to_station") and error.rejection.fact("field") == "to_station"
        else:
            assert error.rejection.fact("field") == name
        return
    assert getattr(command, name) == value
    assert value.isascii() and value.isprintable() and " " not in value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=5), max_size=12), st.integers(-50, 50))
def test_any_seats_are_accepted_or_rejected(seat_numbers, seat_count):
    try:
        command = c.Sell("r1", TRIP, A, D, tuple(seat_numbers), seat_count)
    except Rejected as error:
        field = error.rejection.fact("field")
        assert field in ("seat_numbers", "seat_count") or re.fullmatch(r"seat_numbers\[[0-9]+\]", field), field
        return
    assert (len(command.seat_numbers) > 0) != (command.seat_count > 0)
    assert 1 <= max(len(command.seat_numbers), command.seat_count) <= MAX_SEATS_PER_HOLD
    assert len(set(command.seat_numbers)) == len(command.seat_numbers)
