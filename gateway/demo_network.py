"""The Hebei demo network of `keyun serve --demo`, kept on sale: its trips for the advance-sale window
(today and the next DEMO_DAYS - 1 days, Beijing time by the server's clock) are scheduled at every
start, and again whenever the local date changes while the server runs."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from importlib import resources
from typing import TYPE_CHECKING

from keyun.engine.reasons import Rejected

from .network_loader import load_network, local_today
from .owners import Overloaded, OwnerFailed, OwnerUnavailable

if TYPE_CHECKING:
    from .services import Gateway

log = logging.getLogger(__name__)

DEMO_NETWORK = "demo/hebei.toml"
DEMO_DAYS = 7  # the advance-sale window: today and the next six days
# How often the running server looks at the date; a load only happens when it changed.
DATE_CHECK_S = 1.0
# After a load that failed (an owner down), the next try.
RETRY_S = 30.0


def demo_network_text() -> str:
    return resources.files("keyun.gateway").joinpath(DEMO_NETWORK).read_text(encoding="utf-8")


async def load_demo_window(gateway: Gateway, today: dt.date) -> None:
    """Schedule the demo's trips from `today` for DEMO_DAYS days.  Trips already there stay as they
    are (a load is idempotent per trip); a new request id each time, so the owners compare every trip
    with what they have and the counts say what this load added."""
    try:
        result = await load_network(
            gateway, f"demo-network-{uuid.uuid4().hex}", demo_network_text(), today.isoformat(), DEMO_DAYS
        )
    except Rejected as rejected:  # trips of an older demo file, or archived: left as they are
        log.warning("demo network from %s: %s", today, rejected.rejection.message)
        return
    log.info(
        "demo network from %s for %d days: %d trips scheduled, %d already there (%d stations, %d schedules)",
        today,
        DEMO_DAYS,
        result.created,
        result.unchanged,
        result.stations,
        result.schedules,
    )


async def keep_demo_rolling(gateway: Gateway, loaded: dt.date) -> None:
    """Run forever: once the local date is past `loaded`, schedule the new window."""
    while True:
        await asyncio.sleep(DATE_CHECK_S)
        today = local_today(gateway.utc_offset_min, gateway.clock.now_ms())
        if today == loaded:
            continue
        try:
            await load_demo_window(gateway, today)
        except (OwnerUnavailable, Overloaded, OwnerFailed) as error:
            log.warning("demo network from %s: not scheduled (%r); trying again in %.0f s", today, error, RETRY_S)
            await asyncio.sleep(RETRY_S)
            continue
        loaded = today
