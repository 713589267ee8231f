"""The departure board (信息发布): /board?station=CODE, a full-screen page for the hall's screens.

The web process holds ONE Board/WatchDepartures stream per station (as the board device it was
started with: `keyun web --device board LOGIN PASSWORD_FILE`) and fans it out to every screen
watching that station over Server-Sent Events (/board/events?station=CODE).  A screen's first
event is the whole day as the web process knows it; then each change.  When the Keyun server
goes away, the web process reconnects with back-off and tells the screens it is reconnecting;
the first message of the new stream is the whole day again, which replaces what they show.  A
screen that loses the web process reconnects by itself (EventSource).

A screen that falls behind (its queue full: a stalled browser) is not waited for: it is sent
the whole day again when it catches up, so one slow screen never slows the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from keyun.terminals.client import KeyunError
from keyun.v1 import board_pb2

from . import app as web_app
from . import i18n

log = logging.getLogger("keyun.web.board")

# The board's clock is the station's: Beijing time, as the network file's utc_offset.
STATION_ZONE = dt.timezone(dt.timedelta(hours=8))
# Reconnecting to the gateway: first wait, doubling up to the longest.
FIRST_RETRY_S = 0.5
LONGEST_RETRY_S = 10.0
# Events a screen may have waiting before it counts as stalled (then it gets the whole day again).
SCREEN_QUEUE = 64
# A comment line this often keeps proxies and the browser from closing a quiet stream.
KEEPALIVE_S = 15.0
# The browser's EventSource waits this long before reconnecting (the SSE `retry:` field).
BROWSER_RETRY_MS = 2000
# Screens per web process; more is someone opening streams in a loop.
MAX_SCREENS = 5000

STATUS_NAMES = {
    board_pb2.DEPARTURE_STATUS_ON_TIME: "on_time",
    board_pb2.DEPARTURE_STATUS_DELAYED: "delayed",
    board_pb2.DEPARTURE_STATUS_BOARDING: "boarding",
    board_pb2.DEPARTURE_STATUS_DEPARTED: "departed",
    board_pb2.DEPARTURE_STATUS_CANCELLED: "cancelled",
}
KIND_NAMES = {
    board_pb2.ANNOUNCEMENT_KIND_NOTICE: "notice",
    board_pb2.ANNOUNCEMENT_KIND_WEATHER: "weather",
    board_pb2.ANNOUNCEMENT_KIND_ROAD_CLOSURE: "road_closure",
}

MESSAGES = {
    "board.title": ("发车信息", "Departures"),
    "board.time": ("发车时间", "Time"),
    "board.trip": ("班次", "Trip"),
    "board.destination": ("终点站", "To"),
    "board.via": ("途经", "Via"),
    "board.gate": ("检票口", "Gate"),
    "board.seats": ("余票", "Seats"),
    "board.status": ("状态", "Status"),
    "board.on_time": ("正点", "On time"),
    "board.delayed": ("晚点", "Delayed"),
    "board.boarding": ("正在检票", "Boarding"),
    "board.departed": ("已发车", "Departed"),
    "board.cancelled": ("停班", "Cancelled"),
    "board.minutes": ("{n}分钟", "{n} min"),
    "board.expected": ("预计", "Expected"),
    "board.page": ("第{page}/{pages}页", "Page {page} of {pages}"),
    "board.none": ("今日暂无班次", "No departures today"),
    "board.connecting": ("正在连接…", "Connecting…"),
    "board.reconnecting": ("连接中断，正在重新连接…", "Connection lost, reconnecting…"),
    "board.notice": ("通知", "Notice"),
    "board.weather": ("天气", "Weather"),
    "board.road_closure": ("道路封闭", "Road closure"),
    "board.pick_station": ("请选择车站", "Choose a station"),
    "board.station": ("车站代码", "Station code"),
    "board.show": ("显示", "Show"),
    "board.part": ("发车信息屏", "Departure board"),
    "board.part_blurb": ("候车大厅的发车信息", "The departures screen for the waiting hall"),
}
i18n.register(MESSAGES)


def _hhmm(stamp) -> str:
    return dt.datetime.fromtimestamp(stamp.ToMilliseconds() / 1000, STATION_ZONE).strftime("%H:%M")


def departure_json(d: board_pb2.Departure) -> dict[str, Any]:
    """What a screen needs of a departure: times already in station time, no passenger data."""
    return {
        "id": d.trip_id,
        "schedule": d.schedule_id,
        "route": d.route_name,
        "to": d.destination.name,
        "to_code": d.destination.code,
        "via": [s.name for s in d.stops[1:-1]],
        "status": STATUS_NAMES.get(d.status, "on_time"),
        "delay": d.delay_minutes,
        "scheduled": _hhmm(d.scheduled),
        "expected": _hhmm(d.expected),
        "expected_ms": d.expected.ToMilliseconds(),
        "scheduled_ms": d.scheduled.ToMilliseconds(),
        "gate": d.gate,
        "seats": [[s.stop_name, s.seats_free] for s in d.seats],
        "seats_total": d.seats_total,
    }


def announcement_json(a: board_pb2.Announcement) -> dict[str, Any]:
    return {
        "id": a.announcement_id,
        "kind": KIND_NAMES.get(a.kind, "notice"),
        "zh": a.text_zh,
        "en": a.text_en,
        "ends_ms": a.ends_at.ToMilliseconds(),
    }


@dataclass(eq=False)
class Screen:
    """One browser's stream: the events waiting for it, and whether it fell behind."""

    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(SCREEN_QUEUE))
    stalled: bool = False
    closed: bool = False

    def send(self, event: str) -> None:
        if self.stalled or self.closed:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.stalled = True  # it gets the whole day once it reads again


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event (data is JSON: one line, so no line of it can end the event)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


class StationFeed:
    """One station's departures in the web process: one gateway stream, any number of screens."""

    def __init__(self, station: str, gateway, login_of):
        self.station = station
        self.gateway = gateway
        self.login_of = login_of  # () -> awaitable DeviceLogin
        self.departures: dict[str, dict[str, Any]] = {}
        self.announcements: list[dict[str, Any]] = []
        self.date = ""
        self.connected = False
        self.ready = False  # a first message has come (the day is known)
        self.screens: set[Screen] = set()
        self.task: asyncio.Task | None = None

    def snapshot_event(self) -> str:
        ordered = sorted(self.departures.values(), key=lambda d: (d["scheduled_ms"], d["id"]))
        return sse(
            "snapshot",
            {
                "station": self.station,
                "date": self.date,
                "connected": self.connected,
                "departures": ordered,
                "announcements": self.announcements,
            },
        )

    def add(self, screen: Screen) -> None:
        self.screens.add(screen)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, screen: Screen) -> None:
        self.screens.discard(screen)

    def _broadcast(self, event: str) -> None:
        for screen in self.screens:
            screen.send(event)

    def _status(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self._broadcast(sse("status", {"connected": connected}))

    def apply(self, update: board_pb2.WatchDeparturesResponse) -> None:
        """One message of the gateway stream: kept, and sent on to every screen."""
        self.date = update.date or self.date
        changed = [departure_json(d) for d in update.departures]
        if update.snapshot:
            self.departures = {d["id"]: d for d in changed}
        else:
            self.departures.update((d["id"], d) for d in changed)
            for trip_id in update.removed_trip_ids:
                self.departures.pop(trip_id, None)
        if update.announcements_changed:
            self.announcements = [announcement_json(a) for a in update.announcements]
        self.ready = True
        if update.snapshot:
            self._broadcast(self.snapshot_event())
            return
        event: dict[str, Any] = {"departures": changed, "removed": list(update.removed_trip_ids)}
        if update.announcements_changed:
            event["announcements"] = self.announcements
        self._broadcast(sse("update", event))

    async def _run(self) -> None:
        """Hold the gateway stream while screens watch; reconnect with back-off when it breaks."""
        wait_s = FIRST_RETRY_S
        while self.screens:
            try:
                login = await self.login_of()
                request = board_pb2.WatchDeparturesRequest(station=self.station)
                received = False
                async for update in self.gateway.stream(self.gateway.board.WatchDepartures, request, login):
                    self._status(True)
                    wait_s, received = FIRST_RETRY_S, True
                    self.apply(update)
                    if not self.screens:
                        break
                else:
                    if received:
                        continue  # the gateway ended a long stream (its watch limit): watch again at once
            except KeyunError as error:
                log.warning("board %s: the departures stream ended: %s", self.station, error)
                await self._after_refusal(error)
            except Exception:  # a broken connection the gRPC library reports otherwise
                log.exception("board %s: the departures stream failed", self.station)
            if not self.screens:
                break
            self._status(False)
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, LONGEST_RETRY_S)

    async def _after_refusal(self, error: KeyunError) -> None:
        """A session the station ended (or a restarted station's): log in afresh next time."""
        if error.reason in ("NOT_AUTHENTICATED", "SESSION_ENDED", "TOKEN_EXPIRED", "ACCOUNT_DISABLED"):
            with contextlib.suppress(KeyunError):
                login = await self.login_of()
                login.forget()


class BoardHub:
    """The web process's station feeds, by station code."""

    def __init__(self):
        self.feeds: dict[str, StationFeed] = {}

    def feed(self, request: web.Request, station: str) -> StationFeed:
        feed = self.feeds.get(station)
        if feed is None:
            feed = self.feeds[station] = StationFeed(
                station, web_app.gateway(request), lambda: web_app.device_tokens(request, "board")
            )
        return feed

    def screens(self) -> int:
        return sum(len(feed.screens) for feed in self.feeds.values())

    def close_screens(self) -> None:
        """The web process is stopping: end every screen's stream (the browsers reconnect to
        whichever web process serves next) and every gateway stream."""
        for feed in self.feeds.values():
            for screen in feed.screens:
                screen.closed = True
                while not screen.queue.empty():
                    screen.queue.get_nowait()
                screen.queue.put_nowait(None)
            feed.screens.clear()
            if feed.task is not None:
                feed.task.cancel()


HUB = web.AppKey("board_hub", BoardHub)


def _station(request: web.Request) -> str:
    """The station asked for, checked as the gateway checks codes (letters and digits)."""
    station = request.query.get("station", "").strip().upper()
    if station and not (len(station) <= 8 and station.replace("_", "").replace("-", "").isalnum()):
        raise web.HTTPBadRequest(text="station: a station code such as SJZ")
    return station


async def board_page(request: web.Request) -> web.Response:
    station = _station(request)
    if not station:
        return web_app.render(request, "board/pick.html")
    labels = {key.removeprefix("board."): texts for key, texts in MESSAGES.items()}
    return web_app.render(
        request,
        "board/board.html",
        station=station,
        labels_json=json.dumps(labels, ensure_ascii=False),
    )


async def board_events(request: web.Request) -> web.StreamResponse:
    station = _station(request)
    if not station:
        raise web.HTTPBadRequest(text="station: a station code such as SJZ")
    if "board" not in request.app[web_app.SETTINGS].devices:
        raise web.HTTPServiceUnavailable(
            text="this web terminal has no board device login: start it with --device board LOGIN PASSWORD_FILE"
        )
    hub = request.app[HUB]
    if hub.screens() >= MAX_SCREENS:
        raise web.HTTPServiceUnavailable(text="too many screens on this web process")
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    feed = hub.feed(request, station)
    screen = Screen()
    feed.add(screen)
    try:
        await response.write(f"retry: {BROWSER_RETRY_MS}\n\n".encode())
        if feed.ready:
            await response.write(feed.snapshot_event().encode())
        await response.write(sse("status", {"connected": feed.connected}).encode())
        while not screen.closed:
            if screen.stalled:  # it fell behind: the whole day again, then on from there
                while not screen.queue.empty():
                    screen.queue.get_nowait()
                screen.stalled = False
                await response.write(feed.snapshot_event().encode())
            try:
                event = await asyncio.wait_for(screen.queue.get(), KEEPALIVE_S)
            except TimeoutError:
                event = ": keepalive\n\n"
            if event is None:  # closed
                break
            await response.write(event.encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the screen went away
    finally:
        feed.remove(screen)
    return response


async def _hub(app: web.Application):
    app[HUB] = BoardHub()
    yield
    app[HUB].close_screens()


async def _close_screens(app: web.Application) -> None:
    app[HUB].close_screens()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_hub)
    app.on_shutdown.append(_close_screens)  # before aiohttp waits for the open streams to end
    app.router.add_get("/board", board_page)
    app.router.add_get("/board/events", board_events)
    web_app.add_part(app, web_app.Part("board.part", "/board", "board.part_blurb"))
