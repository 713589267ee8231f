"""Choosing seats for "any N seats": together in one row when possible, front rows first."""

from __future__ import annotations

from typing import cast

from .state import Trip


def choose_seats(trip: Trip, mask: int, count: int, occupied: list[int] | None = None) -> tuple[int, ...] | None:
    """Seat indices free on every leg of `mask`, adjacent when possible; None if too few are free.
    `occupied` replaces the trip's own when a sale may not take some seats (engine/quotas.py)."""
    occupied = trip.occupied if occupied is None else occupied
    if count == 1:  # the common case: the first free seat from the front (seat indices follow the layout)
        for seat, bits in enumerate(occupied):  # a plain loop: a generator costs more than the few seats it looks at
            if not bits & mask:
                return (seat,)
        return None
    free = [
        [seat if seat is not None and occupied[seat] & mask == 0 else None for seat in row] for row in trip.seat_rows
    ]
    for row in free:  # side by side, no aisle between
        run = _run_of(row, count)
        if run:
            return run
    for row in free:  # the same row, across the aisle
        seats = [seat for seat in row if seat is not None]
        if len(seats) >= count:
            return tuple(seats[:count])
    seats = [seat for row in free for seat in row if seat is not None]
    return tuple(seats[:count]) if len(seats) >= count else None


def _run_of(row: list[int | None], count: int) -> tuple[int, ...] | None:
    """The first `count` free seats side by side in the row, found by where the run started (no list per seat)."""
    start = 0
    for end, seat in enumerate(row, 1):
        if seat is None:
            start = end
        elif end - start == count:
            return cast("tuple[int, ...]", tuple(row[start:end]))  # a run holds no None
    return None
