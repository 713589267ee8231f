"""The Board servicer: a station's departures as a stream, and station announcements (docs/board.md).

A departure board (信息发布) watches one station's day.  However many boards watch it, a gateway
process keeps ONE `DeparturesFeed` per station and day: a loop that asks the trip owners for the
station's departures (engine.commands.ListDepartures, one query per owner) and the accounts owner
for the announcements in effect, every `poll_s`, and compares the answer with the last one.  What
changed becomes one update, kept in a short log and handed to every watcher; a watcher that fell
further behind than the log gets the whole day again.  So a thousand boards cost the owners what
one board does, and a change reaches every board within `poll_s` plus a round trip.

Status changes by the clock (boarding opening, a coach counted gone at a later stop) need no event:
the owner answers each poll at the batch's time, with the rule sales and gates use
(engine.decide.segment_status), and the comparison sees the change.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.engine import announcements as an
from keyun.engine import commands as cmd
from keyun.engine.board import DeparturesView, DepartureView
from keyun.engine.decide import TripStatus
from keyun.engine.permissions import EVERYWHERE, in_scope
from keyun.engine.reasons import Reason, Rejected, Rejection, quote, reject
from keyun.v1 import board_pb2, board_pb2_grpc

from . import convert
from .account_services import AccountDesk
from .auth import caller
from .connection_limits import MAX_WATCH_S
from .errors import RETRY_AFTER_RESTART_S, abort, abort_unavailable, note_audit

log = logging.getLogger("keyun.gateway")

# How often a feed asks the owners: a change reaches the boards within this and a round trip.
DEPARTURES_POLL_S = 0.25
# Updates a feed keeps for watchers a little behind; one further behind gets the whole day again.
UPDATE_LOG = 64
# A watch checks its session this often (logged out, disabled: the stream ends).
SESSION_CHECK_S = 5.0
# A board's first message waits at most this long for the owners (a server still starting).
FIRST_ANSWER_S = 20.0
# Feeds (station and day pairs) one gateway process keeps at once: a station has a few screens'
# worth of days, not thousands.
MAX_FEEDS = 256

KIND_TO_PROTO = {kind: getattr(board_pb2, f"ANNOUNCEMENT_KIND_{kind.name}") for kind in an.AnnouncementKind}
KIND_OF_PROTO = {number: kind for kind, number in KIND_TO_PROTO.items()}


def timestamp(ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(ms)
    return stamp


def departure_status(view: DepartureView) -> int:
    """The board's word for a trip: its status at this station, and DELAYED for a delayed trip
    not yet boarding (a delayed trip boarding says BOARDING, with its delay)."""
    match view.status:
        case TripStatus.CANCELLED:
            return board_pb2.DEPARTURE_STATUS_CANCELLED
        case TripStatus.DEPARTED:
            return board_pb2.DEPARTURE_STATUS_DEPARTED
        case TripStatus.CHECKING_IN:
            return board_pb2.DEPARTURE_STATUS_BOARDING
    return board_pb2.DEPARTURE_STATUS_DELAYED if view.delay_min > 0 else board_pb2.DEPARTURE_STATUS_ON_TIME


def departure_message(view: DepartureView) -> board_pb2.Departure:
    trip = view.trip
    names = {stop.code: stop.name for stop in trip.stops}
    return board_pb2.Departure(
        trip_id=trip.trip_id,
        schedule_id=trip.schedule_id,
        route_name=trip.route_name,
        operator_name=trip.operator_name,
        stops=[convert.stop(stop) for stop in trip.stops],
        destination=convert.stop(trip.stops[-1]),
        status=departure_status(view),  # type: ignore[arg-type]
        scheduled=timestamp(view.scheduled_ms),
        expected=timestamp(view.expected_ms),
        delay_minutes=view.delay_min,
        gate=trip.gate,
        seats=[
            board_pb2.SeatsToStop(stop_code=code, stop_name=names[code], seats_free=n) for code, n in view.free_seats
        ],
        seats_total=trip.seats_total,
        plate=trip.plate,
    )


def announcement_message(announcement: an.Announcement) -> board_pb2.Announcement:
    message = board_pb2.Announcement(
        announcement_id=announcement.announcement_id,
        kind=KIND_TO_PROTO[announcement.kind],  # type: ignore[arg-type]
        text_zh=announcement.text_zh,
        text_en=announcement.text_en,
        starts_at=timestamp(announcement.starts_at_ms),
        ends_at=timestamp(announcement.ends_at_ms),
        stations=announcement.stations,
        published_at=timestamp(announcement.published_at_ms),
    )
    if announcement.withdrawn_at_ms:
        message.withdrawn_at.CopyFrom(timestamp(announcement.withdrawn_at_ms))
    return message


class DeparturesFeed:
    """One station's day, polled once for every watcher of it in this process."""

    def __init__(
        self,
        station: str,
        date: str,
        window: tuple[int, int],
        ask_trips: Callable[[Any], Awaitable[list[Any]]],
        ask_accounts: Callable[[Any], Awaitable[Any]],
        clock: Clock,
        poll_s: float,
    ):
        self.station, self.date = station, date
        self.query = cmd.ListDepartures(station, *window)
        self.ask_trips, self.ask_accounts = ask_trips, ask_accounts
        self.clock, self.poll_s = clock, poll_s
        self.departures: dict[str, DepartureView] = {}
        self.messages: dict[str, board_pb2.Departure] = {}
        self.announcements: tuple[an.Announcement, ...] = ()
        self.revision = 0
        self.log: deque[tuple[int, board_pb2.WatchDeparturesResponse]] = deque(maxlen=UPDATE_LOG)
        self.answered = asyncio.Event()  # set once the first poll has answered
        self.changed = asyncio.Event()  # set (and replaced) whenever the revision grows
        self.watchers = 0
        self.task: asyncio.Task | None = None

    @contextmanager
    def watch(self) -> Iterator[None]:
        self.watchers += 1
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        try:
            yield
        finally:
            self.watchers -= 1

    def snapshot(self) -> tuple[int, board_pb2.WatchDeparturesResponse]:
        """The whole day as it is now, and the revision it is at."""
        update = self._update(snapshot=True)
        update.departures.extend(self.messages[trip_id] for trip_id in self._in_order())
        update.announcements_changed = True
        update.announcements.extend(announcement_message(a) for a in self.announcements)
        return self.revision, update

    def since(self, revision: int) -> list[board_pb2.WatchDeparturesResponse] | None:
        """The updates after `revision`, or None when the log no longer reaches back that far."""
        if revision == self.revision:
            return []
        if not self.log or self.log[0][0] > revision + 1:
            return None
        return [update for number, update in self.log if number > revision]

    def _in_order(self) -> list[str]:
        return sorted(self.departures, key=lambda t: (self.departures[t].scheduled_ms, t))

    def _update(self, snapshot: bool) -> board_pb2.WatchDeparturesResponse:
        return board_pb2.WatchDeparturesResponse(
            station=self.station, date=self.date, snapshot=snapshot, at=timestamp(self.clock.now_ms())
        )

    async def _run(self) -> None:
        while self.watchers > 0:
            try:
                await self.poll()
            except Exception as error:  # an owner restarting: the next round asks again
                log.debug("departures feed %s %s: not answered this round: %r", self.station, self.date, error)
            await asyncio.sleep(self.poll_s)

    async def poll(self) -> None:
        """Ask the owners once; record what changed as one update."""
        replies, announced = await asyncio.gather(
            self.ask_trips(self.query),
            self.ask_accounts(an.ListAnnouncements(self.station, in_effect_at_ms=self.clock.now_ms())),
        )
        found: dict[str, DepartureView] = {}
        for reply in replies:
            if isinstance(reply, Rejection):
                raise RuntimeError(reply.message)
            assert isinstance(reply, DeparturesView)
            found.update((view.trip.trip_id, view) for view in reply.departures)
        if isinstance(announced, Rejection):
            raise RuntimeError(announced.message)
        self._record(found, announced.announcements)

    def _record(self, found: dict[str, DepartureView], announcements: tuple[an.Announcement, ...]) -> None:
        changed = [trip_id for trip_id, view in found.items() if self.departures.get(trip_id) != view]
        removed = [trip_id for trip_id in self.departures if trip_id not in found]
        announcements_changed = announcements != self.announcements
        first = not self.answered.is_set()
        if not (changed or removed or announcements_changed or first):
            return
        for trip_id in changed:
            self.messages[trip_id] = departure_message(found[trip_id])
        for trip_id in removed:
            self.messages.pop(trip_id, None)
        self.departures, self.announcements = found, announcements
        self.revision += 1
        update = self._update(snapshot=False)
        changed.sort(key=lambda t: (found[t].scheduled_ms, t))
        update.departures.extend(self.messages[trip_id] for trip_id in changed)
        update.removed_trip_ids.extend(removed)
        if announcements_changed:
            update.announcements_changed = True
            update.announcements.extend(announcement_message(a) for a in announcements)
        self.log.append((self.revision, update))
        self.answered.set()
        woken, self.changed = self.changed, asyncio.Event()
        woken.set()


class DepartureFeeds:
    """The feeds of one gateway process, by station and day; a feed goes when nobody watches it."""

    def __init__(self, make: Callable[[str, str, tuple[int, int]], DeparturesFeed]):
        self.make = make
        self.feeds: dict[tuple[str, str], DeparturesFeed] = {}

    @contextmanager
    def watch(self, station: str, date: str, window: tuple[int, int]) -> Iterator[DeparturesFeed]:
        key = (station, date)
        feed = self.feeds.get(key)
        if feed is None:
            if len(self.feeds) >= MAX_FEEDS:
                raise Rejected(
                    reject(
                        Reason.INVALID_FIELD, f"date: at most {MAX_FEEDS} station days watched at once", field="date"
                    )
                )
            feed = self.feeds[key] = self.make(station, date, window)
        try:
            with feed.watch():
                yield feed
        finally:
            if feed.watchers == 0 and self.feeds.get(key) is feed:
                del self.feeds[key]


class BoardService(board_pb2_grpc.BoardServicer):
    def __init__(self, gateway: Any, desk: AccountDesk, clock: Clock = SYSTEM_CLOCK, poll_s: float = DEPARTURES_POLL_S):
        """`gateway`: the trip owners' (gateway.services.Gateway); `desk`: the accounts owner's."""
        self.gateway = gateway
        self.desk = desk
        self.clock = clock
        self.feeds = DepartureFeeds(self._feed)

    def _feed(self, station: str, date: str, window: tuple[int, int]) -> DeparturesFeed:
        return DeparturesFeed(
            station,
            date,
            window,
            self.gateway.pool.ask_all,
            self.desk.accounts.submit,
            self.clock,
            DEPARTURES_POLL_S,
        )

    def _today(self) -> str:
        zone = dt.timezone(dt.timedelta(minutes=self.gateway.utc_offset_min))
        return dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, zone).date().isoformat()

    async def WatchDepartures(self, request, context) -> AsyncIterator[board_pb2.WatchDeparturesResponse]:
        date = request.date or self._today()
        try:
            window = self.gateway.day_window_ms(date)
            cmd.ListDepartures(request.station, *window)  # checks the station code
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        principal = caller()
        loop = asyncio.get_running_loop()
        stop_at = loop.time() + MAX_WATCH_S
        try:
            watching = self.feeds.watch(request.station, date, window)
            feed = watching.__enter__()
        except Rejected as rejected:
            await abort(context, rejected.rejection)
        try:
            try:
                await asyncio.wait_for(feed.answered.wait(), FIRST_ANSWER_S)
            except TimeoutError:
                await abort_unavailable(
                    context,
                    grpc.StatusCode.UNAVAILABLE,
                    "OWNER_RESTARTING",
                    "the owners did not answer in time; watch again shortly",
                    RETRY_AFTER_RESTART_S,
                )
            revision, first = feed.snapshot()
            yield first
            checked_at = loop.time()
            while loop.time() < stop_at:
                woken = feed.changed  # taken before looking, so a change after the look wakes it
                updates = feed.since(revision)
                if updates is None:  # fell behind the log: the whole day again
                    revision, whole = feed.snapshot()
                    yield whole
                else:
                    for update in updates:
                        yield update
                    revision = feed.revision if updates else revision
                try:
                    await asyncio.wait_for(woken.wait(), SESSION_CHECK_S)
                except TimeoutError:
                    pass
                if loop.time() - checked_at >= SESSION_CHECK_S:
                    checked_at = loop.time()
                    await self._check_session(context, principal)
        finally:
            watching.__exit__(None, None, None)
        # Long enough: the board reconnects.

    async def _check_session(self, context, principal) -> None:
        """A watch lasts as long as its session: logging out or being disabled ends it too."""
        sessions = self.gateway.sessions
        if sessions is not None and await sessions.account(principal.session_id) is None:
            await abort(context, reject(Reason.SESSION_ENDED, "the session has ended; log in again to keep watching"))

    # -- announcements -----------------------------------------------------------------------

    async def _stations_in_scope(self, context, stations: tuple[str, ...]) -> None:
        principal = caller()
        for code in stations:
            allowed = (
                EVERYWHERE in principal.stations if code == an.EVERY_STATION else in_scope(principal.stations, code)
            )
            if not allowed:
                await abort(
                    context,
                    reject(
                        Reason.PERMISSION_DENIED,
                        f"station {quote(code)} is not among this account's stations",
                        field="stations",
                    ),
                )

    async def PublishAnnouncement(self, request, context):
        principal = caller()

        def build() -> an.PublishAnnouncement:
            kind = KIND_OF_PROTO.get(request.kind)
            if kind is None:
                raise Rejected(
                    reject(
                        Reason.MISSING_FIELD if request.kind == 0 else Reason.INVALID_FIELD,
                        "kind: NOTICE, WEATHER or ROAD_CLOSURE",
                        field="kind",
                    )
                )
            if not request.HasField("ends_at"):
                raise Rejected(reject(Reason.MISSING_FIELD, "ends_at: when it leaves the boards", field="ends_at"))
            starts_ms = convert.millis(request, "starts_at", self.clock.now_ms())
            return an.PublishAnnouncement(
                request.request_id,
                kind,
                request.text_zh,
                request.text_en,
                starts_ms,
                convert.millis(request, "ends_at"),
                tuple(request.stations),
                principal.account_id,
            )

        command = await self.desk.build(context, build)
        await self._stations_in_scope(context, command.stations)
        note_audit(detail=f"{command.kind.value} for {','.join(command.stations)}")
        view = await self.desk.ask(context, command, audited=True)
        note_audit(target=view.announcement.announcement_id)
        return board_pb2.PublishAnnouncementResponse(announcement=announcement_message(view.announcement))

    async def ListAnnouncements(self, request, context):
        query = await self.desk.build(
            context, lambda: an.ListAnnouncements(request.station, include_past=request.include_past)
        )
        view = await self.desk.ask(context, query)
        return board_pb2.ListAnnouncementsResponse(announcements=[announcement_message(a) for a in view.announcements])

    async def WithdrawAnnouncement(self, request, context):
        principal = caller()
        command = await self.desk.build(
            context, lambda: an.WithdrawAnnouncement(request.request_id, request.announcement_id, principal.account_id)
        )
        # Staff withdraw what their scope covers: every station it is shown at.
        listed = await self.desk.ask(context, an.ListAnnouncements(include_past=True))
        for announcement in listed.announcements:
            if announcement.announcement_id == command.announcement_id:
                await self._stations_in_scope(context, announcement.stations)
        note_audit(target=command.announcement_id)
        view = await self.desk.ask(context, command, audited=True)
        return board_pb2.WithdrawAnnouncementResponse(announcement=announcement_message(view.announcement))
