"""The Hebei demo network of `keyun serve --demo`, kept on sale: its trips for the advance-sale window
(today and the next DEMO_DAYS - 1 days, Beijing time by the server's clock) are scheduled at every
start; the load keeps it as the station's network, so the daily roll (gateway/timetable.py) adds
each new day's trips while the server runs, as for any station."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from importlib import resources
from typing import TYPE_CHECKING

from keyun.engine.reasons import Rejected

from .network_loader import load_network

if TYPE_CHECKING:
    from .services import Gateway

log = logging.getLogger(__name__)

DEMO_NETWORK = "demo/hebei.toml"
DEMO_DAYS = 7  # the advance-sale window: today and the next six days


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
