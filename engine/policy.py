"""Station rules an owner decides by: hold lifetime, boarding window, refund fees.

The defaults follow the national bus-station rules: a refund more than two hours before the
coach leaves costs 10 % of the fare, within two hours 20 %, and after departure there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

from .limits import DEFAULT_HOLD_TTL_MS

HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class RefundTier:
    min_ms_before: int  # the tier applies when more than this long before departure
    fee_basis_points: int  # 1000 = 10 %


@dataclass(frozen=True, slots=True)
class Policy:
    hold_ttl_ms: int = DEFAULT_HOLD_TTL_MS
    boarding_opens_ms: int = 60 * MINUTE_MS  # check-in opens this long before the coach leaves the stop
    boarding_closes_ms: int = 5 * MINUTE_MS  # ...and closes this long after, unless dispatch says it left
    sales_close_ms: int = 0  # sales stop this long before departure from the boarding stop
    refund_tiers: tuple[RefundTier, ...] = (RefundTier(2 * HOUR_MS, 1000), RefundTier(0, 2000))

    def __post_init__(self) -> None:
        tiers = [tier.min_ms_before for tier in self.refund_tiers]
        assert tiers == sorted(tiers, reverse=True), "refund tiers run from earliest to latest"
        assert all(0 <= tier.fee_basis_points <= 10_000 for tier in self.refund_tiers)

    def refund_fee_fen(self, price_fen: int, ms_before_departure: int) -> int | None:
        """The fee for refunding this long before departure, or None when no refund is allowed."""
        for tier in self.refund_tiers:
            if ms_before_departure > tier.min_ms_before:
                return (price_fen * tier.fee_basis_points + 5000) // 10_000
        return None
