"""The device registry: gates, kiosks, handhelds and counters, hosted by the accounts owner.

A device is registered to a station and a lane (a gate's lane, a counter's number) with the
device account it logs in with, or the name on its client certificate, or both.  Registering,
disabling and enabling are events in the accounts owner's write-ahead log, so the registry is
replayed after a restart, kept in every backup, and audited like every other account call.

Heartbeats are not events.  A device reports every few seconds (its version, how many scans or
sales wait in its offline queue, its last sync): a log record per heartbeat would be thousands of
fsyncs an hour that say "still here".  The owner keeps the latest heartbeat of each device in
memory (`DeviceRegistry.seen`, part of the owner's state), and it goes to disk with the owner's
snapshots.  After a restart a device's last-seen time is that of the last snapshot, or none:
it can only look offline sooner, never online longer, and its next heartbeat corrects it.

Whether a device is online, offline or behind is not stored either: it is computed when asked,
from the heartbeat and the station's thresholds (`AccountRules.device_offline_ms`,
`device_behind_ms`), so it never goes stale.
"""

from __future__ import annotations

import re
from enum import Enum

import msgspec

from .reasons import Reason, Rejected, Rejection, invalid, quote, reject
from .values import Command, Event, Query, Reply, Value

DEVICE_ID = re.compile(r"D[0-9]{6,}")
# A lane, counter or gate number as painted on the station floor: "3", "A-12", "counter.7".
LANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}")
STATION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,15}")
# The common name of a client certificate (`keyun certs client NAME`).
CERTIFICATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_VERSION_CHARS = 32
# An offline queue deeper than this is a device reporting nonsense, not a busy gate.
MAX_QUEUE_DEPTH = 10_000_000

# A device that has not reported for this long is offline: three missed heartbeats at the
# 30 s interval the device programs use.
DEFAULT_OFFLINE_MS = 90_000
# A device whose last sync is older than this is behind, even with an empty queue: five minutes
# is how long a station accepts a lane deciding from its own copy of the manifests.
DEFAULT_BEHIND_MS = 300_000


class DeviceKind(Enum):
    GATE = "gate"
    KIOSK = "kiosk"
    HANDHELD = "handheld"
    COUNTER = "counter"
    BOARD = "board"  # a departure board in the hall (docs/board.md)


class DeviceState(Enum):
    ONLINE = "online"  # reported within the offline threshold, nothing waiting, synced recently
    OFFLINE = "offline"  # no heartbeat within the threshold, or none since it was registered
    BEHIND = "behind"  # online, but scans wait in its offline queue or its last sync is old
    DISABLED = "disabled"  # refused by the station, whatever it reports


KIND_BY_NAME = {kind.value: kind for kind in DeviceKind}
STATE_BY_NAME = {state.value: state for state in DeviceState}


# ---------------------------------------------------------------------------------------------
# Values kept in the state.


class Device(Value, frozen=False):
    device_id: str
    kind: DeviceKind
    station: str
    lane: str  # the lane of a gate, the counter of a counter or kiosk, the route of a handheld
    account_id: str  # its device account, "" when it is known by its certificate only
    certificate_name: str  # the common name of its client certificate, "" for none
    registered_at_ms: int
    disabled: bool = False
    changed_at_ms: int = 0  # when it was last disabled or enabled


class Telemetry(Value):
    """A device's last heartbeat, as it reported it."""

    at_ms: int  # when the owner received it
    version: str
    queue_depth: int
    last_sync_ms: int  # 0: the device has not synced yet, or does not say
    oldest_unsynced_ms: int  # when the oldest scan in its queue was made; 0 for an empty queue


class DeviceRegistry(Value, frozen=False):
    devices: dict[str, Device] = msgspec.field(default_factory=dict)
    by_account: dict[str, str] = msgspec.field(default_factory=dict)  # account id -> device id
    by_certificate: dict[str, str] = msgspec.field(default_factory=dict)  # certificate name -> device id
    registered: int = 0  # numbers device ids
    # Not events: the last heartbeat of each device, saved with the owner's snapshots.
    seen: dict[str, Telemetry] = msgspec.field(default_factory=dict)

    def disabled_account(self, account_id: str) -> bool:
        """Whether this account is the account of a disabled device."""
        device_id = self.by_account.get(account_id)
        return device_id is not None and self.devices[device_id].disabled


# ---------------------------------------------------------------------------------------------
# Checks, commands and queries: validated on construction.


def check_device_id(value: str) -> None:
    if not DEVICE_ID.fullmatch(value or ""):
        raise invalid("device_id", f"{quote(value)} is not a device id like D000001")


def _required(field_name: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name} is required", field=field_name))
    if not pattern.fullmatch(value):
        raise invalid(field_name, what)


def _request(value: str) -> None:
    from .commands import check_request_id  # the trip commands' rule for request ids

    check_request_id(value)


class RegisterDevice(Value, Command):
    request_id: str
    kind: DeviceKind
    station: str
    lane: str
    account_id: str = ""
    certificate_name: str = ""

    def __post_init__(self) -> None:
        _request(self.request_id)
        _required("station", self.station, STATION, "1 to 16 letters, digits, '_' or '-'")
        _required("lane", self.lane, LANE, "1 to 16 letters, digits, '_', '.' or '-'")
        if not self.account_id and not self.certificate_name:
            raise Rejected(
                reject(
                    Reason.MISSING_FIELD,
                    "account_id or certificate_name: a device is known by its device account, "
                    "its client certificate, or both",
                    field="account_id",
                )
            )
        if self.account_id and not re.fullmatch(r"A[0-9]{6,}", self.account_id):
            raise invalid("account_id", f"{quote(self.account_id)} is not an account id like A000001")
        if self.certificate_name and not CERTIFICATE_NAME.fullmatch(self.certificate_name):
            raise invalid("certificate_name", "1 to 64 letters, digits, '_', '.' or '-' (the certificate's name)")


class DisableDevice(Value, Command):
    request_id: str
    device_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_device_id(self.device_id)


class EnableDevice(Value, Command):
    request_id: str
    device_id: str

    def __post_init__(self) -> None:
        _request(self.request_id)
        check_device_id(self.device_id)


class DeviceHeartbeat(Value, Command):
    """A device reports.  Kept in memory, never journaled (see the module's docstring)."""

    account_id: str  # the caller's account
    certificate_name: str  # the caller's client certificate, "" without one
    version: str
    queue_depth: int
    last_sync_ms: int
    oldest_unsynced_ms: int

    def __post_init__(self) -> None:
        if len(self.version) > MAX_VERSION_CHARS or any(ord(c) < 32 for c in self.version):
            raise invalid("version", f"at most {MAX_VERSION_CHARS} printable characters")
        if not 0 <= self.queue_depth <= MAX_QUEUE_DEPTH:
            raise invalid("queue_depth", f"must be 0..{MAX_QUEUE_DEPTH}")
        if self.last_sync_ms < 0:
            raise invalid("last_sync", "must not be before 1970")
        if self.oldest_unsynced_ms < 0:
            raise invalid("oldest_unsynced_at", "must not be before 1970")
        if self.oldest_unsynced_ms and not self.queue_depth:
            raise invalid("oldest_unsynced_at", "an empty queue has no oldest unsynced scan")


class GetDevice(Value, Query):
    device_id: str

    def __post_init__(self) -> None:
        check_device_id(self.device_id)


class ListDevices(Value, Query):
    offset: int
    page_size: int
    station: str = ""  # "" for every station
    kind: DeviceKind | None = None
    state: DeviceState | None = None

    def __post_init__(self) -> None:
        from .limits import MAX_PAGE_SIZE

        if not 0 < self.page_size <= MAX_PAGE_SIZE or self.offset < 0:
            raise invalid("page_size", f"must be 1..{MAX_PAGE_SIZE}")
        if self.station and not STATION.fullmatch(self.station):
            raise invalid("station", "1 to 16 letters, digits, '_' or '-'")


class DeviceSummary(Value, Query):
    """For the metrics: devices by kind and state, and the oldest unsynced scan."""


class DisabledCertificates(Value, Query):
    """The certificate names of the disabled devices: a gateway with client certificates refuses
    every call made with one of them (a counter is known by its certificate, not an account)."""


# ---------------------------------------------------------------------------------------------
# Events.


class DeviceRegistered(Value, Event):
    device_id: str
    kind: DeviceKind
    station: str
    lane: str
    account_id: str
    certificate_name: str
    at_ms: int


class DeviceDisabled(Value, Event):
    device_id: str
    at_ms: int


class DeviceEnabled(Value, Event):
    device_id: str
    at_ms: int


# ---------------------------------------------------------------------------------------------
# Replies.


class DeviceView(Value, Reply):
    device: Device
    state: DeviceState
    seen: Telemetry | None  # its last heartbeat, None before the first


class DevicesPage(Value, Reply):
    devices: tuple[DeviceView, ...]
    next_offset: int  # 0 when this was the last page


class DeviceCounts(Value, Reply):
    counts: tuple[tuple[DeviceKind, DeviceState, int], ...]  # every kind and state, zeros too
    oldest_unsynced_ms: int  # the oldest scan waiting in any enabled device's queue; 0 for none


class CertificateNames(Value, Reply):
    names: tuple[str, ...]


DEVICE_COMMANDS = (RegisterDevice, DisableDevice, EnableDevice)
DEVICE_QUERIES = (GetDevice, ListDevices, DeviceSummary, DisabledCertificates)
DEVICE_EVENTS = (DeviceRegistered, DeviceDisabled, DeviceEnabled)


# ---------------------------------------------------------------------------------------------
# The rules.


class Thresholds(Value):
    offline_ms: int = DEFAULT_OFFLINE_MS
    behind_ms: int = DEFAULT_BEHIND_MS


def state_of(device: Device, seen: Telemetry | None, now_ms: int, limits: Thresholds) -> DeviceState:
    if device.disabled:
        return DeviceState.DISABLED
    if seen is None or now_ms - seen.at_ms > limits.offline_ms:
        return DeviceState.OFFLINE
    if seen.queue_depth > 0 or (seen.last_sync_ms and now_ms - seen.last_sync_ms > limits.behind_ms):
        return DeviceState.BEHIND
    return DeviceState.ONLINE


def device_view(registry: DeviceRegistry, device_id: str, now_ms: int, limits: Thresholds) -> DeviceView:
    device, seen = registry.devices[device_id], registry.seen.get(device_id)
    # A copy: the state's record changes later, a reply (remembered for retries) must not.
    return DeviceView(msgspec.structs.replace(device), state_of(device, seen, now_ms, limits), seen)


def _find(registry: DeviceRegistry, device_id: str) -> Device | Rejection:
    device = registry.devices.get(device_id)
    if device is None:
        return reject(Reason.UNKNOWN_DEVICE, f"no device {device_id}", field="device_id")
    return device


def decide(registry: DeviceRegistry, command: Command, now_ms: int) -> tuple[Event, ...] | Rejection:
    """`command`'s account (if any) was checked by the accounts engine: it exists and is a device's."""
    match command:
        case RegisterDevice(_, kind, station, lane, account_id, certificate_name):
            if account_id and account_id in registry.by_account:
                return reject(
                    Reason.DEVICE_EXISTS,
                    f"account {account_id} is device {registry.by_account[account_id]} already",
                    field="account_id",
                )
            if certificate_name and certificate_name in registry.by_certificate:
                return reject(
                    Reason.DEVICE_EXISTS,
                    f"certificate {quote(certificate_name)} is device {registry.by_certificate[certificate_name]} "
                    "already",
                    field="certificate_name",
                )
            device_id = f"D{registry.registered + 1:06d}"
            return (DeviceRegistered(device_id, kind, station, lane, account_id, certificate_name, now_ms),)
        case DisableDevice(_, device_id):
            device = _find(registry, device_id)
            if isinstance(device, Rejection):
                return device
            return () if device.disabled else (DeviceDisabled(device_id, now_ms),)
        case EnableDevice(_, device_id):
            device = _find(registry, device_id)
            if isinstance(device, Rejection):
                return device
            return (DeviceEnabled(device_id, now_ms),) if device.disabled else ()
    raise AssertionError(f"unknown device command {command!r}")


def evolve(registry: DeviceRegistry, event: Event) -> None:
    match event:
        case DeviceRegistered(device_id, kind, station, lane, account_id, certificate_name, at_ms):
            registry.devices[device_id] = Device(device_id, kind, station, lane, account_id, certificate_name, at_ms)
            if account_id:
                registry.by_account[account_id] = device_id
            if certificate_name:
                registry.by_certificate[certificate_name] = device_id
            registry.registered += 1
        case DeviceDisabled(device_id, at_ms):
            device = registry.devices[device_id]
            device.disabled, device.changed_at_ms = True, at_ms
        case DeviceEnabled(device_id, at_ms):
            device = registry.devices[device_id]
            device.disabled, device.changed_at_ms = False, at_ms
        case _:
            raise AssertionError(f"unknown device event {event!r}")


def render(registry: DeviceRegistry, command: Command, events: tuple[Event, ...]) -> DeviceView:
    """The reply to a registry command: the record as the command left it, without a heartbeat
    (heartbeats are not in the log, and a retry after a restart must get the same reply), so its
    state is DISABLED or OFFLINE.  The gateway answers with the device as it is now (GetDevice)."""
    match command:
        case RegisterDevice():
            device_id = events[0].device_id  # type: ignore[attr-defined]
        case DisableDevice(_, device_id) | EnableDevice(_, device_id):
            pass
        case _:
            raise AssertionError(f"unknown device command {command!r}")
    device = msgspec.structs.replace(registry.devices[device_id])
    return DeviceView(device, DeviceState.DISABLED if device.disabled else DeviceState.OFFLINE, None)


def answer(registry: DeviceRegistry, query: Query, now_ms: int, limits: Thresholds) -> Reply:
    match query:
        case GetDevice(device_id):
            found = _find(registry, device_id)
            return found if isinstance(found, Rejection) else device_view(registry, device_id, now_ms, limits)
        case ListDevices(offset, page_size, station, kind, state):
            matching = [
                view
                for view in (device_view(registry, device_id, now_ms, limits) for device_id in sorted(registry.devices))
                if (not station or view.device.station == station)
                and (kind is None or view.device.kind is kind)
                and (state is None or view.state is state)
            ]
            more = offset + page_size < len(matching)
            return DevicesPage(tuple(matching[offset : offset + page_size]), offset + page_size if more else 0)
        case DeviceSummary():
            return summary(registry, now_ms, limits)
        case DisabledCertificates():
            return CertificateNames(
                tuple(
                    sorted(d.certificate_name for d in registry.devices.values() if d.disabled and d.certificate_name)
                )
            )
    raise AssertionError(f"unknown device query {query!r}")


def summary(registry: DeviceRegistry, now_ms: int, limits: Thresholds) -> DeviceCounts:
    counts = {(kind, state): 0 for kind in DeviceKind for state in DeviceState}
    oldest = 0
    for device_id, device in registry.devices.items():
        seen = registry.seen.get(device_id)
        counts[device.kind, state_of(device, seen, now_ms, limits)] += 1
        if not device.disabled and seen is not None and seen.oldest_unsynced_ms:
            oldest = seen.oldest_unsynced_ms if not oldest else min(oldest, seen.oldest_unsynced_ms)
    return DeviceCounts(tuple((kind, state, n) for (kind, state), n in counts.items()), oldest)


def heartbeat(
    registry: DeviceRegistry, report: DeviceHeartbeat, now_ms: int, limits: Thresholds
) -> DeviceView | Rejection:
    """Record a heartbeat in memory and answer with the device as the station sees it: a disabled
    device is told so here (its heartbeat is not recorded)."""
    device_id = registry.by_account.get(report.account_id) or registry.by_certificate.get(report.certificate_name)
    if device_id is None:
        return reject(
            Reason.DEVICE_NOT_REGISTERED,
            "this account (or client certificate) is not a registered device: "
            "a system administrator registers it first (keyun device register)",
        )
    if not registry.devices[device_id].disabled:
        registry.seen[device_id] = Telemetry(
            now_ms, report.version, report.queue_depth, report.last_sync_ms, report.oldest_unsynced_ms
        )
    return device_view(registry, device_id, now_ms, limits)
