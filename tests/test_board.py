"""The departure board through the gRPC API (docs/board.md): Board/WatchDepartures, gate
assignment (Dispatch/AssignGate), and station announcements, against a real server."""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time

import grpc
import pytest

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import audit_pb2, audit_pb2_grpc, board_pb2

from .conftest import CHINA, ServerThread, logged_in, network_with_schedule, schedule_trip

ON_TIME = board_pb2.DEPARTURE_STATUS_ON_TIME
DELAYED = board_pb2.DEPARTURE_STATUS_DELAYED
BOARDING = board_pb2.DEPARTURE_STATUS_BOARDING
CANCELLED = board_pb2.DEPARTURE_STATUS_CANCELLED
DEPARTED = board_pb2.DEPARTURE_STATUS_DEPARTED
NOTICE = board_pb2.ANNOUNCEMENT_KIND_NOTICE
WEATHER = board_pb2.ANNOUNCEMENT_KIND_WEATHER


class Watch:
    """A WatchDepartures stream read on a thread of its own, its updates in a queue."""

    def __init__(self, client: KeyunClient, station: str, date: str = ""):
        self.call = client.board.WatchDepartures(board_pb2.WatchDeparturesRequest(station=station, date=date))
        self.updates: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for update in self.call:
                self.updates.put((time.monotonic(), update))
        except grpc.RpcError as error:
            self.updates.put((time.monotonic(), error))

    def next(self, timeout_s: float = 10.0) -> tuple[float, board_pb2.WatchDeparturesResponse]:
        at, update = self.updates.get(timeout=timeout_s)
        if isinstance(update, grpc.RpcError):
            raise KeyunError.from_rpc(update)
        return at, update

    def until(self, matches, timeout_s: float = 10.0) -> tuple[float, board_pb2.WatchDeparturesResponse]:
        """The first update from now on that `matches`."""
        deadline = time.monotonic() + timeout_s
        while True:
            at, update = self.next(max(0.01, deadline - time.monotonic()))
            if matches(update):
                return at, update

    def close(self) -> None:
        self.call.cancel()
        self.thread.join(timeout=10)


def departure(update: board_pb2.WatchDeparturesResponse, trip_id: str) -> board_pb2.Departure | None:
    return next((d for d in update.departures if d.trip_id == trip_id), None)


def refused(call, *args, **kwargs) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture(scope="module")
def day_trip(keyun):
    """A trip leaving AAA three hours from now, and its local date."""
    departs = dt.datetime.now(CHINA) + dt.timedelta(hours=3)
    return keyun.trip(dt.timedelta(hours=3)), departs.date().isoformat()


def test_first_message_is_the_whole_day_then_a_delay_within_a_second(keyun, day_trip):
    trip_id, date = day_trip
    watch = Watch(keyun.client, "AAA", date)
    try:
        _, first = watch.next()
        assert first.snapshot and first.station == "AAA" and first.date == date
        shown = departure(first, trip_id)
        assert shown is not None, [d.trip_id for d in first.departures]
        assert shown.status == ON_TIME and shown.delay_minutes == 0 and shown.gate == ""
        assert shown.destination.code == "DDD" and [s.code for s in shown.stops] == ["AAA", "BBB", "CCC", "DDD"]
        assert [(s.stop_code, s.seats_free) for s in shown.seats] == [("BBB", 12), ("CCC", 12), ("DDD", 12)]
        assert shown.scheduled == shown.expected
        assert [d.scheduled.ToMilliseconds() for d in first.departures] == sorted(
            d.scheduled.ToMilliseconds() for d in first.departures
        )

        asked = time.monotonic()
        keyun.client.delay(trip_id, 25)
        at, update = watch.until(lambda u: (d := departure(u, trip_id)) is not None and d.delay_minutes == 25)
        assert at - asked < 1.0, f"the delay reached the board after {at - asked:.2f} s"
        delayed = departure(update, trip_id)
        assert not update.snapshot and delayed.status == DELAYED
        assert delayed.expected.ToMilliseconds() - delayed.scheduled.ToMilliseconds() == 25 * 60_000

        # A sale changes the free seats of every stop it covers, and nothing about a passenger shows.
        (ticket,) = keyun.client.sell(trip_id, "AAA", "CCC", seat_count=1).tickets
        _, update = watch.until(lambda u: (d := departure(u, trip_id)) is not None and d.seats[1].seats_free == 11)
        sold = departure(update, trip_id)
        assert [(s.stop_code, s.seats_free) for s in sold.seats] == [("BBB", 11), ("CCC", 11), ("DDD", 11)]
        assert "holder" not in str(sold) and ticket.ticket_id not in str(update)  # seats, never passengers
        keyun.client.refund(ticket.ticket_id)  # a refund frees the seat on the board too
        watch.until(lambda u: (d := departure(u, trip_id)) is not None and d.seats[1].seats_free == 12)

        # A gate assigned shows at once, and Trip messages carry it too.
        trip = keyun.client.assign_gate(trip_id, "A3")
        assert trip.gate == "A3"
        _, update = watch.until(lambda u: (d := departure(u, trip_id)) is not None and d.gate == "A3")
        assert keyun.client.trip(trip_id).gate == "A3"
    finally:
        watch.close()


def test_boarding_and_cancelled_trips_and_a_new_trip(keyun):
    soon = keyun.trip(dt.timedelta(minutes=20))  # inside the hour's boarding window
    date = (dt.datetime.now(CHINA) + dt.timedelta(minutes=20)).date().isoformat()
    watch = Watch(keyun.client, "AAA", date)
    try:
        _, first = watch.next()
        assert departure(first, soon).status == BOARDING
        later = keyun.trip(dt.timedelta(minutes=50))
        if (dt.datetime.now(CHINA) + dt.timedelta(minutes=50)).date().isoformat() == date:
            _, update = watch.until(lambda u: departure(u, later) is not None)
            assert not update.snapshot
        keyun.client.depart(soon)
        watch.until(lambda u: (d := departure(u, soon)) is not None and d.status == DEPARTED)
        keyun.client.cancel(later)
        if (dt.datetime.now(CHINA) + dt.timedelta(minutes=50)).date().isoformat() == date:
            watch.until(lambda u: (d := departure(u, later)) is not None and d.status == CANCELLED)
    finally:
        watch.close()


def test_gate_assignment_is_audited_and_refused_after_cancellation(keyun):
    trip_id = keyun.trip(dt.timedelta(hours=4))
    assert keyun.client.assign_gate(trip_id, "B-2").gate == "B-2"
    assert keyun.client.assign_gate(trip_id, "B-2").gate == "B-2"  # the same gate again changes nothing
    for bad, reason in (("A 3", "INVALID_FIELD"), ("123456789", "INVALID_FIELD"), ("A;3", "INVALID_FIELD")):
        error = refused(keyun.client.assign_gate, trip_id, bad)
        assert (error.code, error.reason, error.facts.get("field")) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            reason,
            "gate",
        ), bad
    assert refused(keyun.client.assign_gate, "NOPE-20200101", "1").reason == "UNKNOWN_TRIP"
    assert keyun.client.trip(trip_id).gate == "B-2"  # nothing changed
    assert keyun.client.assign_gate(trip_id, "").gate == ""  # taken back
    keyun.client.cancel(trip_id)
    assert refused(keyun.client.assign_gate, trip_id, "4").reason == "TRIP_CANCELLED"
    with logged_in(KeyunClient(keyun.target), "auditor", clock=keyun.clock) as auditor:
        records = auditor.call(
            audit_pb2_grpc.AuditStub(auditor.channel).ListRecords, audit_pb2.ListRecordsRequest(page_size=500)
        ).records
    assigned = [r for r in records if r.action == "keyun.v1.Dispatch/AssignGate" and r.target == trip_id]
    assert len(assigned) >= 3


def test_announcements_reach_the_board_and_leave_it(keyun, day_trip):
    _, date = day_trip
    dispatcher = logged_in(KeyunClient(keyun.target), "dispatcher", clock=keyun.clock)
    watch = Watch(keyun.client, "AAA", date)
    try:
        _, first = watch.next()
        assert first.announcements_changed
        now_ms = keyun.clock.now_ms()
        published = dispatcher.publish_announcement(
            WEATHER, "大雾，部分班次晚点", ["AAA", "BBB"], now_ms + 3_600_000, text_en="Fog: some departures late"
        )
        assert published.announcement_id.startswith("N") and published.text_en == "Fog: some departures late"
        _, update = watch.until(
            lambda u: (
                u.announcements_changed and published.announcement_id in [a.announcement_id for a in u.announcements]
            )
        )
        elsewhere = dispatcher.publish_announcement(NOTICE, "丁站施工", ["DDD"], now_ms + 3_600_000)
        listed = [a.announcement_id for a in dispatcher.list_announcements("AAA")]
        assert published.announcement_id in listed and elsewhere.announcement_id not in listed
        # One starting later reaches the board when it starts.
        starting = dispatcher.publish_announcement(
            NOTICE, "即将开始", ["AAA"], now_ms + 3_600_000, starts_at_ms=now_ms + 1_500
        )
        _, update = watch.until(
            lambda u: (
                u.announcements_changed and starting.announcement_id in [a.announcement_id for a in u.announcements]
            )
        )
        withdrawn = dispatcher.withdraw_announcement(published.announcement_id)
        assert withdrawn.HasField("withdrawn_at")
        assert dispatcher.withdraw_announcement(published.announcement_id).withdrawn_at == withdrawn.withdrawn_at
        _, update = watch.until(
            lambda u: (
                u.announcements_changed
                and published.announcement_id not in [a.announcement_id for a in u.announcements]
            )
        )
        assert published.announcement_id not in [a.announcement_id for a in dispatcher.list_announcements("AAA")]
        past = dispatcher.list_announcements("AAA", include_past=True)
        assert published.announcement_id in [a.announcement_id for a in past]
    finally:
        watch.close()
        dispatcher.close()


def test_who_may_watch_and_who_may_announce(keyun):
    from keyun.gateway.demo_accounts import DEMO_PASSENGER_PHONE, DEMO_PASSWORD

    passenger = KeyunClient(keyun.target)
    passenger.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
    board = logged_in(KeyunClient(keyun.target), "board1", clock=keyun.clock)
    anonymous = KeyunClient(keyun.target)
    try:
        for client in (passenger, board):
            first = next(client.watch_departures("AAA", timeout_s=20))
            assert first.snapshot
        assert refused(next, anonymous.watch_departures("AAA", timeout_s=20)).code == (grpc.StatusCode.UNAUTHENTICATED)
        ends = keyun.clock.now_ms() + 60_000
        for client in (passenger, board):
            error = refused(client.publish_announcement, NOTICE, "通知", ["AAA"], ends)
            assert (error.code, error.reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
        assert refused(board.withdraw_announcement, "N000001").reason == "PERMISSION_DENIED"
        assert refused(board.assign_gate, "T1-20200101", "1").reason == "PERMISSION_DENIED"
    finally:
        passenger.close()
        board.close()
        anonymous.close()


def test_bad_input_is_refused_and_changes_nothing(keyun):
    dispatcher = logged_in(KeyunClient(keyun.target), "dispatcher", clock=keyun.clock)
    try:
        before = dispatcher.list_announcements(include_past=True)
        now_ms = keyun.clock.now_ms()
        cases = [
            (dict(kind=NOTICE, text_zh="", stations=["AAA"], ends_at_ms=now_ms + 60_000), "MISSING_FIELD", "text_zh"),
            (dict(kind=0, text_zh="通知", stations=["AAA"], ends_at_ms=now_ms + 60_000), "MISSING_FIELD", "kind"),
            (dict(kind=99, text_zh="通知", stations=["AAA"], ends_at_ms=now_ms + 60_000), "INVALID_FIELD", "kind"),
            (dict(kind=NOTICE, text_zh="通知", stations=[], ends_at_ms=now_ms + 60_000), "MISSING_FIELD", "stations"),
            (
                dict(kind=NOTICE, text_zh="通知", stations=["A A"], ends_at_ms=now_ms + 60_000),
                "INVALID_FIELD",
                "stations",
            ),
            (
                dict(kind=NOTICE, text_zh="通知", stations=["AAA"], ends_at_ms=now_ms - 60_000),
                "INVALID_FIELD",
                "ends_at",
            ),
            (
                dict(kind=NOTICE, text_zh="x" * 501, stations=["AAA"], ends_at_ms=now_ms + 60_000),
                "INVALID_FIELD",
                "text_zh",
            ),
            (
                dict(kind=NOTICE, text_zh="通知", stations=["AAA"], ends_at_ms=now_ms + 91 * 86_400_000),
                "INVALID_FIELD",
                "ends_at",
            ),
        ]
        for fields, reason, field_name in cases:
            error = refused(dispatcher.publish_announcement, **fields)
            assert (error.code, error.reason, error.facts.get("field")) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                reason,
                field_name,
            ), fields
        missing_end = refused(
            dispatcher.call,
            dispatcher.board.PublishAnnouncement,
            board_pb2.PublishAnnouncementRequest(request_id="r-no-end", kind=NOTICE, text_zh="通知", stations=["AAA"]),
        )
        assert (missing_end.reason, missing_end.facts.get("field")) == ("MISSING_FIELD", "ends_at")
        unknown = refused(dispatcher.withdraw_announcement, "N999999")
        assert (unknown.code, unknown.reason) == (grpc.StatusCode.NOT_FOUND, "UNKNOWN_ANNOUNCEMENT")
        assert refused(dispatcher.withdraw_announcement, "bad").reason == "INVALID_FIELD"
        assert dispatcher.list_announcements(include_past=True) == before  # nothing changed
        for station, date, field_name in (("", "", "station"), ("A A", "", "station"), ("AAA", "2026-13-01", "date")):
            error = refused(next, dispatcher.watch_departures(station, date, timeout_s=20))
            assert (error.code, error.facts.get("field")) == (grpc.StatusCode.INVALID_ARGUMENT, field_name), station
    finally:
        dispatcher.close()


def test_gates_and_announcements_survive_a_restart(ray_session, tmp_path):
    first = ServerThread(tmp_path, shards=1)
    try:
        client = logged_in(KeyunClient(first.target), clock=first.clock)
        trip_id = schedule_trip(client, "R1", dt.timedelta(hours=5))
        client.assign_gate(trip_id, "7")
        kept = client.publish_announcement(NOTICE, "春运期间请提前到站", ["*"], first.clock.now_ms() + 86_400_000)
        client.close()
    finally:
        first.stop()
    second = ServerThread(tmp_path, shards=1)
    try:
        client = logged_in(KeyunClient(second.target), clock=second.clock)
        assert client.trip(trip_id).gate == "7"
        assert [a.announcement_id for a in client.list_announcements("AAA")] == [kept.announcement_id]
        first_update = next(client.watch_departures("AAA", timeout_s=30))
        assert [a.text_zh for a in first_update.announcements] == ["春运期间请提前到站"]
        client.close()
    finally:
        second.stop()


def test_a_schedule_s_gate_is_its_trips_gate_until_dispatch_names_another(keyun):
    """The network file's `gate` on a schedule: every trip made from it boards there (on the board
    too), dispatch may name another, and a file with a bad gate is refused naming it."""
    departs = dt.datetime.now(CHINA) + dt.timedelta(hours=5)
    network = network_with_schedule("GATED", departs, "mini12") + 'gate = "B7"\n'
    keyun.client.load_network(network, departs.date().isoformat(), 1)
    trip_id = f"GATED-{departs:%Y%m%d}"
    assert keyun.client.trip(trip_id).gate == "B7"
    watch = Watch(keyun.client, "AAA", departs.date().isoformat())
    try:
        _, first = watch.next()
    finally:
        watch.close()
    assert [d.gate for d in first.departures if d.trip_id == trip_id] == ["B7"]
    assert keyun.client.assign_gate(trip_id, "C1").gate == "C1"  # dispatch's word wins
    keyun.client.load_network(network, departs.date().isoformat(), 1)  # loading it again leaves the trip
    assert keyun.client.trip(trip_id).gate == "C1"
    error = refused(
        keyun.client.load_network, network.replace('gate = "B7"', 'gate = "B 7"'), departs.date().isoformat(), 1
    )
    assert (error.code, error.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "BAD_NETWORK")
    assert "schedules[0].gate" in error.message
