"""What a trip's owner records of its coach before departure: the crew reported in (报班) and the
safety check (安检).  Commands and events only; their rules are in engine/decide.py.

The crew is decided by the accounts owner (engine/fleet.py, where every assignment is, so overlaps
are seen across shards); the trip then records the plate and driver so its views, manifests and
the board can show them.  The safety check is the trip's own: check-in waits for it to pass when
the station's policy says so (Policy.require_safety_check).
"""

from __future__ import annotations

from .commands import TripCommand, check_request_id, check_trip_id
from .events import TripEvent
from .reasons import Reason, Rejected, invalid, reject
from .values import Value

MAX_ITEMS = 40
MAX_ITEM_CHARS = 40
MAX_NOTE_CHARS = 200


class RecordCrew(Value, TripCommand):
    """The trip notes the vehicle and driver its report-in assigned (after the accounts owner accepted it)."""

    request_id: str
    trip_id: str
    vehicle_id: str
    plate: str
    driver_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        check_trip_id(self.trip_id)


class CheckItem(Value):
    name: str  # "brakes", "tyres", "lights", "extinguisher", ...
    passed: bool
    note: str = ""


class RecordSafetyCheck(Value, TripCommand):
    request_id: str
    trip_id: str
    passed: bool
    items: tuple[CheckItem, ...]
    inspector: str  # the account that recorded it (set by the gateway from the caller)
    note: str = ""

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        check_trip_id(self.trip_id)
        if not self.items:
            raise Rejected(reject(Reason.MISSING_FIELD, "items: the items checked, one or more", field="items"))
        if len(self.items) > MAX_ITEMS:
            raise invalid("items", f"at most {MAX_ITEMS}")
        for k, item in enumerate(self.items):
            if not item.name.strip() or len(item.name) > MAX_ITEM_CHARS or any(ord(c) < 32 for c in item.name):
                raise invalid(f"items[{k}].name", f"1 to {MAX_ITEM_CHARS} printable characters")
            if len(item.note) > MAX_NOTE_CHARS:
                raise invalid(f"items[{k}].note", f"at most {MAX_NOTE_CHARS} characters")
        if self.passed and not all(item.passed for item in self.items):
            raise invalid("passed", "a check with a failed item has not passed")
        if len(self.note) > MAX_NOTE_CHARS:
            raise invalid("note", f"at most {MAX_NOTE_CHARS} characters")


class CrewRecorded(Value, TripEvent):
    trip_id: str
    vehicle_id: str
    plate: str
    driver_id: str
    at_ms: int


class SafetyChecked(Value, TripEvent):
    trip_id: str
    passed: bool
    items: tuple[CheckItem, ...]
    inspector: str
    note: str
    at_ms: int


class SafetyCheck(Value):
    """The trip's last safety check, as its views show it."""

    passed: bool
    items: tuple[CheckItem, ...]
    inspector: str
    note: str
    at_ms: int


class Crew(Value):
    vehicle_id: str
    plate: str
    driver_id: str
    at_ms: int
