"""Timetables that roll by themselves (docs/network-file.md, "Calendars and the daily roll").

The last loaded network is kept by the accounts owner (engine/timetable.py), in versions each in
force from a date.  Every day, when the local date changes, the server makes sure every schedule's
trips exist for its advance-sale window, by its calendar, from the version in force on each date:
`keep_rolling`.  A load that takes effect from a date (`effective_from`) puts the new terms on the
trips from that date on that nothing was sold on, and lists the others; `plan` says the same
without changing anything (Dispatch/DiffNetwork).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from keyun.common.network_file import parse_network_text
from keyun.engine import commands as cmd
from keyun.engine import timetable as tt
from keyun.engine.limits import MAX_TRIPS_PER_LOAD
from keyun.engine.network import Network, Schedule, TripSpec, day_trips, window
from keyun.engine.reasons import Reason, Rejected, Rejection, invalid, reject
from keyun.engine.views import TripComparison

from .owners import Overloaded, OwnerFailed, OwnerUnavailable

if TYPE_CHECKING:
    from .services import Gateway

log = logging.getLogger(__name__)

# How often the running server looks at the date; a roll only happens when it changed.
DATE_CHECK_S = 1.0
# After a roll that failed (an owner down), the next try.
RETRY_S = 30.0
# Trips asked or scheduled at a time: far below an owner's queue bound.
IN_FLIGHT = 1000
SCHEDULE_FIELDS = (
    "route_id",
    "operator_id",
    "vehicle_id",
    "departs_min",
    "student_fares",
    "calendar",
    "advance_days",
    "gate",
)


class TimetableMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rolled = Counter(
            "keyun_timetable_trips_rolled_total", "Trips the daily roll scheduled (new ones only)", registry=registry
        )
        self.last_roll = Gauge(
            "keyun_timetable_last_roll_timestamp_seconds",
            "When the daily roll last finished (Unix time)",
            registry=registry,
        )
        self.failures = Counter(
            "keyun_timetable_roll_failures_total", "Daily rolls that failed and were tried again", registry=registry
        )


@dataclass
class Plan:
    """What loading a network would do (or did), against the kept network and the trips there."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)
    renamed: list[tuple[str, str, str]] = field(default_factory=list)  # code, old name, new name
    create: list[TripSpec] = field(default_factory=list)
    replace: list[TripSpec] = field(default_factory=list)
    sold: list[str] = field(default_factory=list)  # trips left on their old terms: they have sales
    retire: list[str] = field(default_factory=list)  # unsold trips of schedules the new network drops
    unchanged: int = 0
    nothing_kept: bool = False  # the server kept no network before: every schedule is added


def local_today(utc_offset_min: int, now_ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone(dt.timedelta(minutes=utc_offset_min))).date()


class Timetable:
    """The kept network and the daily roll, for one server."""

    def __init__(self, gateway: Gateway, accounts: Any, metrics: TimetableMetrics) -> None:
        self.gateway = gateway
        self.accounts = accounts  # the accounts owner's batcher
        self.metrics = metrics
        self._parsed: dict[str, Network] = {}  # by the text's hash: the kept texts parsed once

    def today(self) -> dt.date:
        return local_today(self.gateway.utc_offset_min, self.gateway.clock.now_ms())

    async def versions(self) -> list[tuple[dt.date, Network]]:
        """The kept network's versions, each with the date it is in force from, oldest first."""
        view = await self.accounts.submit(tt.GetKeptNetwork())
        parsed = {
            _digest(v.text): self._parsed.get(_digest(v.text)) or parse_network_text(v.text) for v in view.versions
        }
        self._parsed = parsed  # only the versions kept now: a dropped one is not held on to
        return [(dt.date.fromordinal(v.effective_from), parsed[_digest(v.text)]) for v in view.versions]

    async def keep(self, text: str, effective_from: dt.date, account_id: str) -> None:
        today = self.today()
        command = tt.KeepNetwork(
            f"keep-{uuid.uuid4().hex}", text, effective_from.toordinal(), today.toordinal(), account_id
        )
        reply = await self.accounts.submit(command)
        if isinstance(reply, Rejection):
            raise Rejected(reply)

    # --- the daily roll ---------------------------------------------------------------------

    async def roll(self, today: dt.date) -> tuple[int, int]:
        """Make sure every schedule's trips exist for its window from `today`, each date by the
        version in force on it.  Returns (created, already there); a trip there with another
        definition is left as it is and logged."""
        versions = await self.versions()
        specs = [spec for day, network in _by_date(versions, today) for spec in _on(network, today, day)]
        replies = await _submit_all(self.gateway, [cmd.ScheduleTrip(_roll_id(today, s.trip_id), s) for s in specs])
        created = sum(1 for r in replies if not isinstance(r, Rejection) and r.created)
        refused = [r for r in replies if isinstance(r, Rejection)]
        if refused:
            log.warning(
                "timetable roll from %s: %d trips left as they are (%s), first %s",
                today,
                len(refused),
                refused[0].reason.name,
                refused[0].fact("trip_id"),
            )
        self.metrics.rolled.inc(created)
        self.metrics.last_roll.set(self.gateway.clock.now_ms() / 1000)
        log.info(
            "timetable roll from %s: %d trips scheduled, %d already there (%d network versions)",
            today,
            created,
            len(replies) - created - len(refused),
            len(versions),
        )
        return created, len(replies) - created - len(refused)

    async def keep_rolling(self, rolled: dt.date | None) -> None:
        """Run forever: whenever the local date is not the one last rolled, roll it; a failed roll
        (an owner down) is tried again RETRY_S later."""
        while True:
            today = self.today()
            if today != rolled:
                try:
                    await self.roll(today)
                    rolled = today
                except (OwnerUnavailable, Overloaded, OwnerFailed, Rejected) as error:
                    self.metrics.failures.inc()
                    log.warning("timetable roll from %s failed (%r); trying again in %.0f s", today, error, RETRY_S)
                    await asyncio.sleep(RETRY_S)
                    continue
                except Exception:  # a bug: logged with its traceback, and the roll goes on trying
                    self.metrics.failures.inc()
                    log.exception("timetable roll from %s failed; trying again in %.0f s", today, RETRY_S)
                    await asyncio.sleep(RETRY_S)
                    continue
            await asyncio.sleep(DATE_CHECK_S)

    # --- effective dates and the diff ------------------------------------------------------

    async def plan(self, network: Network, effective_from: dt.date) -> Plan:
        """What loading `network` from `effective_from` would do: the schedules and stations it
        changes against the version in force then, and its trips in the window from that date."""
        today = self.today()
        versions = await self.versions()
        old = _in_force(versions, effective_from)
        plan = Plan()
        if old is not None:
            _compare_networks(old, network, plan)
        else:
            plan.added, plan.nothing_kept = [s.schedule_id for s in network.schedules], True
        specs = window(network, today, effective_from)
        if len(specs) > MAX_TRIPS_PER_LOAD:
            raise invalid("network_toml", f"its schedules' windows make more than {MAX_TRIPS_PER_LOAD} trips")
        verdicts = await _compare_all(self.gateway, specs)
        for spec, verdict in zip(specs, verdicts, strict=True):
            if verdict == "new":
                plan.create.append(spec)
            elif verdict == "replace":
                plan.replace.append(spec)
            elif verdict == "sold":
                plan.sold.append(spec.trip_id)
            else:
                plan.unchanged += 1
        # The old version's trips from that date that the new one does not make (a schedule
        # dropped, or its calendar or window no longer covering the date) are retired.
        making = {spec.trip_id for spec in specs}
        gone = [
            spec
            for day, version in _by_date(versions, today)
            if day >= effective_from
            for spec in _on(version, today, day)
            if spec.trip_id not in making
        ]
        for spec, verdict in zip(gone, await _compare_all(self.gateway, gone), strict=True):
            if verdict in ("same", "replace"):
                plan.retire.append(spec.trip_id)
            elif verdict in ("same_used", "sold"):
                plan.sold.append(spec.trip_id)
        return plan

    async def apply(self, request_id: str, plan: Plan) -> Plan:
        """Carry a plan out: create and replace its trips, cancel the retired ones.  Each owner
        decides again (a trip sold meanwhile keeps its terms): the plan is rewritten with what
        happened."""
        done = Plan(plan.added, plan.removed, plan.changed, plan.renamed, unchanged=plan.unchanged)
        specs = plan.create + plan.replace
        commands = [cmd.ScheduleTrip(_part_id(request_id, s.trip_id), s, replace_unsold=True) for s in specs]
        replies = await _submit_all(self.gateway, commands)
        for spec, reply in zip(specs, replies, strict=True):
            if isinstance(reply, Rejection):
                done.sold.append(spec.trip_id)
            elif reply.created:
                (done.create if spec in plan.create else done.replace).append(spec)
            else:
                done.unchanged += 1
        cancels = [cmd.CancelTrip(_part_id(request_id, "retire-" + t), t, only_unsold=True) for t in plan.retire]
        for trip_id, reply in zip(plan.retire, await _submit_all(self.gateway, cancels), strict=True):
            (done.sold if isinstance(reply, Rejection) else done.retire).append(trip_id)
        done.sold += plan.sold
        return done


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _in_force(versions: list[tuple[dt.date, Network]], day: dt.date) -> Network | None:
    found = [network for start, network in versions if start <= day]
    return found[-1] if found else None


def _by_date(versions: list[tuple[dt.date, Network]], today: dt.date) -> list[tuple[dt.date, Network]]:
    """Each date of the longest window from `today` with the version in force on it."""
    longest = max((s.window_days for _, n in versions for s in n.schedules), default=0)
    days = [today + dt.timedelta(days=d) for d in range(longest)]
    return [(day, network) for day in days if (network := _in_force(versions, day)) is not None]


def _on(network: Network, today: dt.date, day: dt.date) -> list[TripSpec]:
    return day_trips(network, today, day)


def _compare_networks(old: Network, new: Network, plan: Plan) -> None:
    before = {s.schedule_id: s for s in old.schedules}
    after = {s.schedule_id: s for s in new.schedules}
    plan.added = [s for s in after if s not in before]
    plan.removed = [s for s in before if s not in after]
    for schedule_id in after.keys() & before.keys():
        fields = _changed_fields(old, before[schedule_id], new, after[schedule_id])
        if fields:
            plan.changed.append((schedule_id, fields))
    plan.changed.sort()
    plan.renamed = [
        (code, old.stations[code][0], name)
        for code, (name, _) in sorted(new.stations.items())
        if code in old.stations and old.stations[code][0] != name
    ]


def _changed_fields(old: Network, a: Schedule, new: Network, b: Schedule) -> list[str]:
    fields = [name for name in SCHEDULE_FIELDS if getattr(a, name) != getattr(b, name)]
    route_a, route_b = old.routes.get(a.route_id), new.routes.get(b.route_id)
    if route_a is not None and route_b is not None:
        if route_a.stops != route_b.stops:
            fields.append("stops")
        if route_a.fares != route_b.fares:
            fields.append("fares")
        if route_a.name != route_b.name:
            fields.append("route_name")
    if old.operators.get(a.operator_id) != new.operators.get(b.operator_id):
        fields.append("operator_name")
    if old.vehicles.get(a.vehicle_id) != new.vehicles.get(b.vehicle_id):
        fields.append("vehicle")
    return sorted(set(fields))


async def _compare_all(gateway: Gateway, specs: list[TripSpec]) -> list[str]:
    replies = await _submit_all(gateway, [cmd.CompareTrip(s) for s in specs])
    verdicts = []
    for reply in replies:
        if isinstance(reply, Rejection):
            raise Rejected(reply)
        assert isinstance(reply, TripComparison)
        verdicts.append(reply.verdict)
    return verdicts


async def _submit_all(gateway: Gateway, items: list[Any]) -> list[Any]:
    """Every item's reply, IN_FLIGHT at a time; an owner failure is raised once all have finished."""
    replies: list[Any] = []
    for first in range(0, len(items), IN_FLIGHT):
        answers = await asyncio.gather(
            *(gateway.pool.submit(item) for item in items[first : first + IN_FLIGHT]), return_exceptions=True
        )
        failure = next((a for a in answers if isinstance(a, BaseException)), None)
        if failure is not None:
            raise failure
        replies += answers
    return replies


def _roll_id(today: dt.date, trip_id: str) -> str:
    return "roll-" + hashlib.sha256(f"{today}|{trip_id}|{uuid.uuid4().hex}".encode()).hexdigest()[:40]


def _part_id(request_id: str, part: str) -> str:
    return "load-" + hashlib.sha256(f"{request_id}|{part}".encode()).hexdigest()[:40]


def bad_effective_date(message: str) -> Rejected:
    return Rejected(reject(Reason.BAD_EFFECTIVE_DATE, f"effective_from: {message}", field="effective_from"))
