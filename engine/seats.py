"""Choosing seats for "any N seats": together in one row when possible, front rows first."""

from __future__ import annotations

from .network import AISLE
from .state import Trip


def choose_seats(trip: Trip, mask: int, count: int) -> tuple[int, ...] | None:
    """Seat indices free on every leg of `mask`, adjacent when possible; None if too few are free."""
    rows = [[trip.seat_index[label] if label != AISLE else None for label in row] for row in trip.spec.rows]
    free = [[seat if seat is not None and trip.occupied[seat] & mask == 0 else None for seat in row] for row in rows]
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
    run: list[int] = []
    for seat in row:
        run = run + [seat] if seat is not None else []
        if len(run) == count:
            return tuple(run)
    return None
