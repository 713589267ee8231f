"""Real-name boarding by station policy ([boarding] require_document_match): a lane learns it from
ListBoardingTrips and asks for the holder's identity card after a ticket, online as well."""

from __future__ import annotations

import datetime as dt

from keyun.engine.policy import Policy
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient, walk_in
from keyun.terminals.gate_lane import Journal, Lane

from .conftest import ServerThread, logged_in, schedule_trip
from .test_boarding_core import resident_id

HOLDER = resident_id("13010219900307001")
SOMEONE_ELSE = resident_id("13010219850511002")


def test_a_station_policy_makes_every_lane_match_the_holders_card(tmp_path):
    server = ServerThread(tmp_path / "data", shards=1, policy=Policy(require_document_match=True))
    try:
        seller = logged_in(KeyunClient(server.target))
        trip_id = schedule_trip(seller, "P1", dt.timedelta(minutes=30))
        (ticket,) = seller.sell(trip_id, "AAA", "CCC", passengers=(walk_in(HOLDER, "吴小明"),)).tickets
        lane = Lane(
            "G1",
            "AAA",
            Journal(tmp_path / "lane"),
            KeyunClient(server.target),
            lambda c: c.login("inspector", DEMO_PASSWORD),
        )
        lane.sync()
        assert lane.state.require_document_match and lane.online

        asked = lane.scan(ticket.credential)
        assert asked.awaiting_document and asked.reason == "DOCUMENT_REQUIRED" and asked.holder_name
        assert lane.scan(SOMEONE_ELSE).reason == "DOCUMENT_MISMATCH"
        assert lane.scan(ticket.credential).awaiting_document
        boarded = lane.scan(HOLDER)
        assert boarded.passed and boarded.ticket_id == ticket.ticket_id
        assert seller.ticket(ticket.ticket_id).gate_id == "G1"  # checked in by the server, online
    finally:
        server.stop()
