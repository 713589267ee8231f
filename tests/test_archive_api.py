"""An archived trip through the API: a trip whose last stop lies further back than the station's
archive_after_days leaves its owner at the next batch, and every call naming it says so."""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

from keyun.engine.policy import DEFAULT_ARCHIVE_AFTER_DAYS
from keyun.terminals.client import KeyunError

from .conftest import CHINA, network_with_schedule


def test_a_trip_that_ran_long_ago_is_archived_and_named_so(keyun):
    # Loading a day long past is how a station would re-enter an old timetable by mistake.
    departs = (dt.datetime.now(CHINA) - dt.timedelta(days=DEFAULT_ARCHIVE_AFTER_DAYS + 2)).replace(
        second=0, microsecond=0
    )
    network = network_with_schedule("ARCH", departs, "mini12")
    keyun.client.load_network(network, departs.date().isoformat(), 1)
    trip_id = f"ARCH-{departs:%Y%m%d}"
    with pytest.raises(KeyunError) as gone:
        keyun.client.seat_map(trip_id, "AAA", "BBB")  # the next batch of its owner archived it
    assert (gone.value.code, gone.value.reason, gone.value.facts["trip_id"]) == (
        grpc.StatusCode.NOT_FOUND,
        "TRIP_ARCHIVED",
        trip_id,
    )
    # The trip itself is still read, from the archive: the gateway's scope checks need its stops.
    assert keyun.client.trip(trip_id).trip_id == trip_id
    with pytest.raises(KeyunError) as again:
        keyun.client.load_network(network, departs.date().isoformat(), 1)
    assert again.value.reason == "TRIP_ARCHIVED"  # never scheduled a second time
    with pytest.raises(KeyunError) as sale:
        keyun.client.sell(trip_id, "AAA", "BBB", seat_count=1)
    assert sale.value.reason == "TRIP_ARCHIVED"
