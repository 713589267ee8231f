"""Loading a network file: parse and validate it (keyun.common.network_file), then schedule its trips on their
owners."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keyun.common.network_file import MAX_PROBLEMS_SHOWN, parse_network_text
from keyun.engine.commands import ScheduleTrip, check_request_id, parse_date
from keyun.engine.network import Network, NetworkError, expand
from keyun.engine.reasons import Reason, Rejected, Rejection, invalid, quote, reject

from .timetable import bad_effective_date, local_today

if TYPE_CHECKING:
    from .services import Gateway

DEFAULT_DAYS = 7
# Trips of one load sent at a time: far below an owner's queue bound, so a big timetable on one
# shard waits its turn instead of overflowing the queue.
TRIPS_IN_FLIGHT = 1000


@dataclass(frozen=True)
class LoadResult:
    created: int
    unchanged: int
    stations: int
    schedules: int
    replaced: int = 0  # effective_from: unsold trips that took the new terms
    left_sold: tuple[str, ...] = ()  # effective_from: trips with sales, left on their old terms
    retired: tuple[str, ...] = ()  # effective_from: unsold trips of dropped schedules, cancelled
    effective_from: str = ""


def effective_date(gateway: Gateway, effective_from: str) -> dt.date | None:
    """The load's `effective_from`, checked: a date, today or later (None when not given)."""
    if not effective_from:
        return None
    try:
        day = dt.date.fromisoformat(effective_from)
    except ValueError:
        raise bad_effective_date(f"{quote(effective_from)} is not a date like 2026-11-25") from None
    today = local_today(gateway.utc_offset_min, gateway.clock.now_ms())
    if day < today:
        raise bad_effective_date(f"{day} is before today ({today}): trips of past dates keep their terms")
    return day


def parse_for_server(gateway: Gateway, text: str) -> Network:
    network = parse_network_text(text)
    if network.utc_offset_min != gateway.utc_offset_min:
        raise invalid("network_toml", f"utc_offset differs from the server's ({gateway.utc_offset_min} minutes)")
    return network


async def load_network(
    gateway: Gateway,
    request_id: str,
    text: str,
    first_date: str,
    days: int,
    effective_from: str = "",
    account_id: str = "",
) -> LoadResult:
    """Keep the file as the station's network (from `effective_from`, default today) and schedule
    its trips: for `days` days from `first_date` (default: today, 7 days); with `effective_from`,
    its window from that date, replacing unsold trips' terms (gateway/timetable.py)."""
    check_request_id(request_id)
    network = parse_for_server(gateway, text)
    today = local_today(network.utc_offset_min, gateway.clock.now_ms())
    effective = effective_date(gateway, effective_from)
    timetable = gateway.timetable
    if effective is not None:
        if timetable is None:
            raise bad_effective_date("this server keeps no timetable")
        plan = await timetable.plan(network, effective)
        await timetable.keep(text, effective, account_id)
        done = await timetable.apply(request_id, plan)
        return LoadResult(
            len(done.create),
            done.unchanged,
            len(network.stations),
            len(network.schedules),
            len(done.replace),
            tuple(done.sold),
            tuple(done.retire),
            effective.isoformat(),
        )
    first_day = parse_date("first_date", first_date) if first_date else today
    try:
        specs = expand(network, first_day, days or DEFAULT_DAYS, today)
    except OverflowError:  # the last day would fall after 9999-12-31
        raise invalid(
            "first_date", f"{first_day} plus {days or DEFAULT_DAYS} days is past the last date there is"
        ) from None
    except NetworkError as error:
        raise invalid("days", "; ".join(p.removeprefix("days: ") for p in error.problems)) from None
    if timetable is not None:  # only a load that is not refused outright becomes the kept network
        await timetable.keep(text, today, account_id)
    replies = []
    for first in range(0, len(specs), TRIPS_IN_FLIGHT):
        chunk = specs[first : first + TRIPS_IN_FLIGHT]
        answers = await asyncio.gather(
            *(gateway.pool.submit(ScheduleTrip(_part_id(request_id, s.trip_id), s)) for s in chunk),
            return_exceptions=True,
        )
        failure = next((a for a in answers if isinstance(a, BaseException)), None)
        if failure is not None:
            raise failure  # every call of the chunk has finished, so none is left unobserved
        replies += answers
    refused = [reply for reply in replies if isinstance(reply, Rejection)]
    reused = [r for r in refused if r.reason is Reason.REQUEST_ID_REUSED]
    if reused:
        raise Rejected(
            reject(
                Reason.REQUEST_ID_REUSED, f"request_id {request_id} was used for a different load", field="request_id"
            )
        )
    created = sum(1 for reply in replies if not isinstance(reply, Rejection) and reply.created)
    archived = [r for r in refused if r.reason is Reason.TRIP_ARCHIVED]
    conflicts = [r for r in refused if r.reason is not Reason.TRIP_ARCHIVED]
    if conflicts:
        also = f"; {len(archived)} more were archived long ago" if archived else ""
        raise Rejected(
            reject(
                Reason.TRIP_CONFLICT,
                f"{len(conflicts)} trips exist with a different definition and were left as they are ({created} others "
                f"were scheduled{also}): {_ids(conflicts)}",
                conflicts=len(conflicts),
                created=created,
                first_trip_id=conflicts[0].fact("trip_id"),
            )
        )
    if archived:
        raise Rejected(
            reject(
                Reason.TRIP_ARCHIVED,
                f"{len(archived)} trips ran long ago and were archived, so they are not scheduled again ({created} "
                f"others were scheduled): {_ids(archived)}",
                archived=len(archived),
                created=created,
                trip_id=archived[0].fact("trip_id"),
            )
        )
    return LoadResult(created, len(replies) - created, len(network.stations), len(network.schedules))


def _ids(refused: list[Rejection]) -> str:
    return ", ".join(r.fact("trip_id") or "?" for r in refused[:MAX_PROBLEMS_SHOWN])


def _part_id(request_id: str, part: str) -> str:
    """The request id of one trip of a load, stable across retries of the whole load."""
    return "load-" + hashlib.sha256(f"{request_id}|{part}".encode()).hexdigest()[:40]
