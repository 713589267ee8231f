"""Departure and the trip sheet (路单), through gRPC and the CLI on a real server (docs/dispatch.md
"The trip sheet"): a coach and driver reported in, segment tickets sold with fare components and a
free child, some checked in, departure with a conductor on board; the sheet's totals equal the
manifest's and the sums recomputed from the manifest's tickets, its PDF names the plate and the
sheet number, and all of it survives a restart."""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from collections import Counter
from pathlib import Path

import pytest

from keyun.app.cli import main
from keyun.engine.policy import parse_policy
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient, KeyunError, walk_in
from keyun.v1 import common_pb2

from .conftest import CHINA, ServerThread, logged_in, schedule_trip
from .test_fleet import driver, vehicle
from .test_ticket_types import FARES, resident_id

PLATE = "冀A31415"
SOON = dt.timedelta(minutes=30)  # boarding at the first stop has opened (an hour before)


def refused(call, *args, **kwargs) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call(*args, **kwargs)
    return caught.value


def pdf_text(data: bytes) -> str:
    """The text drawn in a PDF made by fpdf2: its content streams, inflated."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
    found = []
    for stream in streams:
        try:
            found.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            found.append(stream.decode("latin-1"))
    return "\n".join(found)


def recomputed(tickets) -> dict:
    """The sheet's totals from the manifest's tickets, counted here."""
    live = [t for t in tickets if t.status in (common_pb2.TICKET_STATUS_ISSUED, common_pb2.TICKET_STATUS_CHECKED_IN)]
    return {
        "tickets_sold": len(live),
        "checked_in": sum(1 for t in live if t.status == common_pb2.TICKET_STATUS_CHECKED_IN),
        "free_children": sum(1 for t in live if t.HasField("free_child")),
        "base_fen": sum(t.fare.base_fen for t in live),
        "service_fee_fen": sum(t.fare.service_fee_fen for t in live),
        "fuel_surcharge_fen": sum(t.fare.fuel_surcharge_fen for t in live),
        "insurance_fen": sum(t.fare.insurance_fen for t in live),
        "total_fen": sum(t.price_fen for t in live),
        "refunded": sum(1 for t in tickets if t.status == common_pb2.TICKET_STATUS_REFUNDED),
    }


def totals_of(counts) -> dict:
    return {name: getattr(counts, name) for name in recomputed([])}


def test_departure_makes_a_trip_sheet_equal_to_the_manifest(ray_session, tmp_path, capsys, monkeypatch):
    data_dir = tmp_path / "data"
    server = ServerThread(data_dir, shards=2, policy=parse_policy({"fares": FARES}))
    with logged_in(KeyunClient(server.target), clock=server.clock) as client:
        trip = schedule_trip(client, "TS1", SOON, vehicle="coach45")
        empty = schedule_trip(client, "TS2", SOON)  # departed from the CLI below, with no tickets
        travel = (dt.datetime.now(CHINA) + SOON).date()
        coach = client.add_vehicle(vehicle(PLATE, departs_in=SOON))
        wang = client.add_driver(driver("王建国", "QC31415926", departs_in=SOON))
        assert client.report_in(trip, coach.vehicle_id, wang.driver_id).plate == PLATE

        # Segment tickets: AAA-DDD with a free child and insurance, AAA-CCC twice, BBB-DDD, one refunded.
        adult, infant = resident_id(travel, 35), resident_id(travel, 2)
        family = client.sell(
            trip,
            "AAA",
            "DDD",
            passengers=(walk_in(adult, "张三丰", insurance=True), walk_in(infant, "张小宝", "free_child")),
        ).tickets
        assert len(family) == 1 and family[0].HasField("free_child")
        pair = client.sell(trip, "AAA", "CCC", seat_count=2).tickets
        later = client.sell(trip, "BBB", "DDD", seat_count=1).tickets
        gone = client.sell(trip, "AAA", "BBB", seat_count=1).tickets[0]
        client.refund(gone.ticket_id)
        for ticket in (family[0], pair[0]):
            client.check_in(ticket.ticket_id, "G1")

        # Not departed yet: there is no sheet.
        early = refused(client.trip_sheet, trip)
        assert (early.reason, early.reason_code) == ("TRIP_NOT_DEPARTED", 6100)

        # Bad departures change nothing.
        bad_role = refused(client.depart, trip, staff=[("王芳", "captain")])
        assert (bad_role.reason, bad_role.facts.get("field")) == ("INVALID_FIELD", "staff[0].role")
        no_name = refused(client.depart, trip, staff=[("  ", "conductor")])
        assert no_name.facts.get("field") == "staff[0].name"
        assert refused(client.depart, trip, note="x" * 201).facts.get("field") == "note"
        assert client.trip(trip).status != common_pb2.TRIP_STATUS_DEPARTED

        departed = client.depart(trip, staff=[("王芳", "conductor")], note="满载准点")
        assert departed.status == common_pb2.TRIP_STATUS_DEPARTED

        sheet = client.trip_sheet(trip)
        manifest = client.manifest(trip, page_size=200)
        assert sheet.sheet_number == f"LD-{trip}"
        assert (sheet.plate, sheet.vehicle_id, sheet.driver_id) == (PLATE, coach.vehicle_id, wang.driver_id)
        assert sheet.driver_masked_name == "王**"
        assert [(s.name, s.role) for s in sheet.staff] == [("王*", "conductor")]
        assert sheet.note == "满载准点" and sheet.HasField("departed_at")

        # Its totals are the manifest's, and the sums recomputed from the manifest's tickets.
        assert (sheet.tickets_issued, sheet.tickets_checked_in, sheet.tickets_refunded) == (
            manifest.tickets_issued,
            manifest.tickets_checked_in,
            manifest.tickets_refunded,
        )
        assert totals_of(sheet.totals) == recomputed(manifest.tickets)
        totals = sheet.totals
        assert (totals.tickets_sold, totals.checked_in, totals.no_shows, totals.free_children) == (4, 2, 2, 1)
        assert totals.tickets_sold + totals.refunded + totals.changed + totals.void == manifest.tickets_issued
        assert totals.insurance_fen > 0 and totals.service_fee_fen > 0

        # By segment and by boarding stop, each summing to the totals.
        by_segment = {(s.from_stop.code, s.to_stop.code): s.counts for s in sheet.segments}
        assert {k: c.tickets_sold for k, c in by_segment.items()} == {
            ("AAA", "BBB"): 0,
            ("AAA", "CCC"): 2,
            ("AAA", "DDD"): 1,
            ("BBB", "DDD"): 1,
        }
        assert by_segment[("AAA", "BBB")].refunded == 1 and by_segment[("AAA", "DDD")].free_children == 1
        for name in recomputed([]):
            assert sum(getattr(c, name) for c in by_segment.values()) == getattr(totals, name), name
        for key, counts in by_segment.items():
            tickets = [t for t in manifest.tickets if (t.from_stop.code, t.to_stop.code) == key]
            assert totals_of(counts) == recomputed(tickets), key
        boarding = {b.stop.code: (b.passengers, b.checked_in, b.free_children) for b in sheet.boardings}
        assert boarding == {"AAA": (3, 2, 1), "BBB": (1, 0, 0)}
        assert Counter(t.from_stop.code for t in [*family, *pair, *later]) == Counter(
            {code: n for code, (n, _, _) in boarding.items()}
        )

        # A second departure is a no-op: the first crew stays.
        client.depart(trip, staff=[("李四", "security")])
        assert [(s.name, s.role) for s in client.trip_sheet(trip).staff] == [("王*", "conductor")]

        # The departure board shows the plate.
        update = next(client.watch_departures("AAA", travel.isoformat(), timeout_s=20))
        assert [d.plate for d in update.departures if d.trip_id == trip] == [PLATE]

        assert refused(client.trip_sheet, "").reason in ("MISSING_FIELD", "INVALID_FIELD")
        assert refused(client.trip_sheet, "NOPE-20260101").reason == "UNKNOWN_TRIP"

    with logged_in(KeyunClient(server.target), "seller", clock=server.clock) as seller:
        assert refused(seller.trip_sheet, trip).reason == "PERMISSION_DENIED"

    # The CLI: a plain-text table, and the PDF.
    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "session.json"))
    monkeypatch.setenv("KEYUN_USER", "dispatcher")
    monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)

    def keyun(*args: str) -> str:
        code = main([*args, "--server", server.target])
        out, err = capsys.readouterr()
        assert code == 0, out + err
        return out

    table = keyun("dispatch", "trip-sheet", trip)
    assert f"LD-{trip}" in table and PLATE in table and "AAA-CCC" in table and "王*" in table
    assert json.loads(keyun("dispatch", "trip-sheet", trip, "--json"))["sheet_number"] == f"LD-{trip}"
    pdf_path = tmp_path / "sheet.pdf"
    keyun("dispatch", "trip-sheet", trip, "--pdf", str(pdf_path))
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert f"LD-{trip}" in text and "A31415" in text  # Helvetica without a Chinese font drops 冀

    # Departure from the CLI names the crew; an empty trip's sheet has no segments and zero totals.
    assert "departed" in keyun("dispatch", "depart", empty, "--staff", "赵六:security", "--note", "空车")
    bare = json.loads(keyun("dispatch", "trip-sheet", empty, "--json"))
    assert bare["staff"] == [{"name": "赵*", "role": "security"}] and bare["note"] == "空车"
    assert not bare.get("segments") and not bare.get("totals", {}).get("tickets_sold")

    # Restarted, the sheet is the same: departure's crew and note are in the trip's log.
    server.stop()
    again = ServerThread(data_dir, shards=2, policy=parse_policy({"fares": FARES}))
    try:
        with logged_in(KeyunClient(again.target), clock=again.clock) as client:
            assert client.trip_sheet(trip) == sheet
    finally:
        again.stop()
    stored = b"".join(p.read_bytes() for p in Path(data_dir).rglob("*") if p.is_file())
    assert "王芳".encode() not in stored  # the conductor's name is kept masked
