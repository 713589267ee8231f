"""What a sale may take when dispatch keeps seats for stops (配载) or blocks them (docs/dispatch.md).

A blocked seat is in `Trip.occupied` on every leg, so nothing sells it.  A quota's seats are not:
it bars them by the clock.  Until its release time, a sale boarding at a stop the quota does not
serve may not take a quota seat's legs from the quota's stop on; the sales it serves (boarding at
its stop, or, when shared, at a later one) take its seats first.  Each sale, seat map, search and
board works out the seats barred to its boarding stop at its `now` (`barred`), so a release needs
no timer and no event.
"""

from __future__ import annotations

from .seats import choose_seats
from .state import SeatQuota, Trip, legs_mask

# A quota with no release time keeps its seats until the coach leaves its stop.
NEVER = 1 << 62


def release_at_ms(trip: Trip, quota: SeatQuota) -> int:
    """When the quota's seats go back to the general pool (a delay moves a relative release)."""
    if quota.release_at_ms:
        return quota.release_at_ms
    if quota.release_before_min:
        return trip.departs_at_ms(quota.stop) - quota.release_before_min * 60_000
    return NEVER


def serves(quota: SeatQuota, from_stop: int) -> bool:
    """Whether passengers boarding at `from_stop` may take the quota's seats before its release."""
    return from_stop == quota.stop or (quota.shared and from_stop > quota.stop)


def kept_legs(trip: Trip, quota: SeatQuota) -> int:
    """The legs a quota keeps on each of its seats: from its stop to the end of the line."""
    return legs_mask(quota.stop, len(trip.spec.stops) - 1)


def barred(trip: Trip, from_stop: int, now: int) -> dict[int, int]:
    """Seat -> the legs a sale boarding at `from_stop` may not take at `now` because a quota keeps them."""
    out: dict[int, int] = {}
    for quota in trip.quotas.values():
        if serves(quota, from_stop) or now >= release_at_ms(trip, quota):
            continue
        legs = kept_legs(trip, quota)
        for seat in quota.seats:
            out[seat] = out.get(seat, 0) | legs
    return out


def sellable(trip: Trip, from_stop: int, now: int) -> list[int]:
    """The trip's occupancy as a sale boarding at `from_stop` sees it at `now`: taken or barred."""
    if not trip.quotas:
        return trip.occupied
    bars = barred(trip, from_stop, now)
    return [bits | bars.get(seat, 0) for seat, bits in enumerate(trip.occupied)]


def free_for(trip: Trip, from_stop: int, to_stop: int, now: int) -> int:
    """How many seats a sale from `from_stop` to `to_stop` could take at `now`."""
    mask = legs_mask(from_stop, to_stop)
    return sum(1 for bits in sellable(trip, from_stop, now) if bits & mask == 0)


def quota_seats_first(trip: Trip, from_stop: int, mask: int, count: int, now: int) -> tuple[int, ...] | None:
    """`count` seats for a sale boarding at `from_stop`: the free seats of the unreleased quotas
    serving it first (its own stop's before a shared earlier one), then any others it may take."""
    occupied = sellable(trip, from_stop, now)
    own: list[int] = []
    for quota in sorted(trip.quotas.values(), key=lambda q: q.stop != from_stop):
        if serves(quota, from_stop) and now < release_at_ms(trip, quota):
            own += [seat for seat in quota.seats if not occupied[seat] & mask and seat not in own]
    if len(own) >= count:
        return tuple(sorted(own[:count]))
    taken = list(occupied)
    for seat in own:
        taken[seat] |= mask
    rest = choose_seats(trip, mask, count - len(own), taken)
    return None if rest is None else tuple(sorted((*own, *rest)))
