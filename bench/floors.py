"""Two floors for `bench.engine`: the same holds and confirms done by the least Python that can do them.

The issue's engine target is 200,000 hold+confirm pairs a second in one process.  These sketches
run the bench's very requests side by side with the engine, so the engine's figure can be read
against what CPython itself allows:

- `bare`: per-seat bit sets of occupied legs and two small frozen dataclasses per pair, nothing
  else: no validation, no events, no idempotency, no reply.  No engine can be faster in Python.
- `required`: `bare` plus what the design requires of every command, each in its cheapest form:
  ids checked against a pattern when a command is made, stations looked up by code, one event value
  per command appended to a journal list, a receipt in a bounded idempotency window, and a reply
  value.  No prices by policy, sales windows, holders, orders, audit or seat preferences.

Neither is an engine: they skip what the real one checks.  They only say how far the target is
from CPython's reach.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass

SEATS = 53
WINDOW = 100_000  # as IDEMPOTENCY_WINDOW in engine/shard.py
ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

Draw = tuple[str, str, str, str]  # (request id, trip id, from station, to station)


def _check_id(value: str) -> None:
    if not ID.fullmatch(value):
        raise ValueError(f"bad id {value!r}")


@dataclass(frozen=True, slots=True)
class BareHold:
    request_id: str
    trip_id: str
    from_stop: int
    to_stop: int


@dataclass(frozen=True, slots=True)
class BareConfirm:
    request_id: str
    hold_id: str


def bare(draws: list[Draw], trips: list[str], stops: int) -> tuple[int, float]:
    """Pairs done and seconds taken with nothing but bit sets."""
    occupied = {trip_id: [0] * SEATS for trip_id in trips}
    index = {f"S{k}": k for k in range(stops)}
    holds: dict[str, tuple[str, int, int]] = {}
    tickets: dict[str, tuple[str, int, int]] = {}
    started = time.perf_counter()
    for request_id, trip_id, a, b in draws:
        hold = BareHold(request_id, trip_id, index[a], index[b])
        mask = ((1 << (hold.to_stop - hold.from_stop)) - 1) << hold.from_stop
        row = occupied[hold.trip_id]
        for seat, bits in enumerate(row):
            if not bits & mask:
                row[seat] = bits | mask
                break
        else:
            continue
        holds[hold.request_id] = (hold.trip_id, seat, mask)
        confirm = BareConfirm("c" + request_id, hold.request_id)
        tickets[confirm.request_id] = holds.pop(confirm.hold_id)
    return len(tickets), time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class Hold:
    request_id: str
    trip_id: str
    from_station: str
    to_station: str

    def __post_init__(self) -> None:
        _check_id(self.request_id)
        _check_id(self.trip_id)
        if self.from_station == self.to_station:
            raise ValueError("a segment needs two stations")


@dataclass(frozen=True, slots=True)
class Confirm:
    request_id: str
    hold_id: str

    def __post_init__(self) -> None:
        _check_id(self.request_id)
        _check_id(self.hold_id)


@dataclass(frozen=True, slots=True)
class HoldPlaced:
    hold_id: str
    trip_id: str
    seat: int
    from_stop: int
    to_stop: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class TicketIssued:
    ticket_id: str
    trip_id: str
    seat: int
    from_stop: int
    to_stop: int
    price_fen: int


@dataclass(frozen=True, slots=True)
class Reply:
    id: str
    trip_id: str
    seat_label: str
    from_stop: int
    to_stop: int
    price_fen: int
    at_ms: int


def required(draws: list[Draw], trips: list[str], stops: int) -> tuple[int, float]:
    """Pairs done and seconds taken with the cheapest form of what every command must do."""
    occupied = {trip_id: [0] * SEATS for trip_id in trips}
    index = {f"S{k}": k for k in range(stops)}
    labels = [f"{seat // 4 + 1}{'ABCD'[seat % 4]}" for seat in range(SEATS)]
    holds: dict[str, HoldPlaced] = {}
    tickets: dict[str, TicketIssued] = {}
    window: OrderedDict[str, tuple] = OrderedDict()
    journal: list = []
    replies: list[Reply] = []
    now = 1

    def remember(request_id: str, command, event) -> None:
        window[request_id] = (command, event, now)
        if len(window) > WINDOW:
            window.popitem(last=False)

    started = time.perf_counter()
    for request_id, trip_id, a, b in draws:
        hold = Hold(request_id, trip_id, a, b)
        if hold.request_id in window:
            continue
        i, j = index[hold.from_station], index[hold.to_station]
        mask = ((1 << (j - i)) - 1) << i
        row = occupied[hold.trip_id]
        seat = next((seat for seat, bits in enumerate(row) if not bits & mask), None)
        if seat is None:
            continue
        placed = HoldPlaced(hold.request_id, hold.trip_id, seat, i, j, now + 900_000)
        row[seat] |= mask
        holds[placed.hold_id] = placed
        journal.append(placed)
        remember(hold.request_id, hold, placed)
        replies.append(Reply(placed.hold_id, placed.trip_id, labels[seat], i, j, 500 * (j - i), now))
        confirm = Confirm("c" + request_id, placed.hold_id)
        if confirm.request_id in window:
            continue
        held = holds.pop(confirm.hold_id)
        issued = TicketIssued(
            "t" + held.hold_id,
            held.trip_id,
            held.seat,
            held.from_stop,
            held.to_stop,
            500 * (held.to_stop - held.from_stop),
        )
        tickets[issued.ticket_id] = issued
        journal.append(issued)
        remember(confirm.request_id, confirm, issued)
        replies.append(
            Reply(
                issued.ticket_id,
                issued.trip_id,
                labels[issued.seat],
                issued.from_stop,
                issued.to_stop,
                issued.price_fen,
                now,
            )
        )
    return len(tickets), time.perf_counter() - started
