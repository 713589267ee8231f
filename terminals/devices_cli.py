"""`keyun device`: the device registry (register, list, show, disable, enable), and `keyun device
heartbeat`, one report as a device program sends it, for testing and operations.

Registering, disabling and enabling take a system administrator (device_manage); listing and
showing, device_read (system administrators and dispatchers).  A heartbeat is sent by the device
itself: log in with its device account (`--user gate1`, its secret in KEYUN_PASSWORD).
"""

from __future__ import annotations

import argparse
import datetime as dt

from keyun.common.clock import SYSTEM_CLOCK
from keyun.v1 import devices_pb2

from .cli import _client, _common
from .flows import name, show, table

KINDS = {"gate": 1, "kiosk": 2, "handheld": 3, "counter": 4, "board": 5}
STATES = {"online": 1, "offline": 2, "behind": 3, "disabled": 4}
assert all(devices_pb2.DeviceKind.Name(n) == f"DEVICE_KIND_{k.upper()}" for k, n in KINDS.items())
assert all(devices_pb2.DeviceState.Name(n) == f"DEVICE_STATE_{s.upper()}" for s, n in STATES.items())


def add_verbs(verbs) -> None:
    device = verbs.add_parser(
        "device", help="the device registry: gates, kiosks, handhelds and counters, online, offline or behind"
    ).add_subparsers(dest="action", required=True)

    p = device.add_parser("register", help="register a device to a station and lane (system administrator)")
    p.add_argument("kind", choices=sorted(KINDS))
    p.add_argument("station", help="station code, e.g. AAA")
    p.add_argument("lane", help="its lane, counter or route, e.g. 3")
    p.add_argument("--account", default="", help="its device account's id (keyun staff create --kind device)")
    p.add_argument("--certificate", default="", help="the name on its client certificate (keyun certs client NAME)")
    p.add_argument("--request-id", help="idempotency key (default: a new one)")
    _common(p)
    p.set_defaults(run=_register)

    p = device.add_parser("list", help="every device with its state (device_read)")
    p.add_argument("--station", default="", help="only this station's devices")
    p.add_argument("--kind", choices=sorted(KINDS))
    p.add_argument("--state", choices=sorted(STATES), help="e.g. offline, or behind")
    _common(p)
    p.set_defaults(run=_list)

    p = device.add_parser("show", help="one device: its registration and its last heartbeat")
    p.add_argument("device_id")
    _common(p)
    p.set_defaults(run=lambda a: _show(a, _client(a).device(a.device_id)))

    for verb, what in (("disable", "refuse the device at once, every call but its heartbeat"), ("enable", "again")):
        p = device.add_parser(verb, help=f"{what} (system administrator)")
        p.add_argument("device_id")
        p.add_argument("--request-id")
        _common(p)
        p.set_defaults(run=_disable if verb == "disable" else _enable)

    p = device.add_parser("heartbeat", help="report once as the device would (log in as the device: --user)")
    p.add_argument("--version", default="keyun-cli", help="the device program's version")
    p.add_argument("--queue-depth", type=int, default=0, help="scans waiting in its offline queue")
    p.add_argument("--last-sync-ago", type=float, metavar="SECONDS", help="it last synced this long ago")
    p.add_argument(
        "--oldest-unsynced-ago", type=float, metavar="SECONDS", help="its oldest queued scan was made this long ago"
    )
    _common(p)
    p.set_defaults(run=_heartbeat)


def _register(args: argparse.Namespace) -> None:
    device = _client(args).register_device(
        KINDS[args.kind], args.station, args.lane, args.account, args.certificate, args.request_id
    )
    _show(args, device)


def _list(args: argparse.Namespace) -> None:
    client, token, devices = _client(args), "", []
    kind, state = KINDS.get(args.kind or "", 0), STATES.get(args.state or "", 0)
    while True:
        page = client.devices_page(args.station, kind, state, page_size=500, page_token=token)
        devices.extend(page.devices)
        token = page.next_page_token
        if not token:
            break
    show(
        args,
        devices,
        table(
            ("device", "kind", "station", "lane", "account", "certificate", "state", "last seen", "version", "queue"),
            [_row(d) for d in devices],
            empty="no devices",
        )
        + f"\n(offline: no heartbeat for {page.offline_after_seconds} s; behind: scans queued or "
        f"no sync for {page.behind_after_seconds} s)",
    )


def _disable(args: argparse.Namespace) -> None:
    _show(args, _client(args).disable_device(args.device_id, args.request_id))


def _enable(args: argparse.Namespace) -> None:
    _show(args, _client(args).enable_device(args.device_id, args.request_id))


def _heartbeat(args: argparse.Namespace) -> None:
    now_ms = SYSTEM_CLOCK.now_ms()

    def ago(seconds: float | None) -> int:
        return now_ms - round(seconds * 1000) if seconds is not None else 0

    reply = _client(args).heartbeat(
        args.version, args.queue_depth, ago(args.last_sync_ago), ago(args.oldest_unsynced_ago)
    )
    show(
        args,
        reply,
        _text(reply.device) + f"\nreport again within {reply.offline_after_seconds} s, or count as offline",
    )


def _when(stamp, set_: bool) -> str:
    if not set_:
        return "-"
    return stamp.ToDatetime(dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _row(device: devices_pb2.Device) -> list[object]:
    return [
        device.device_id,
        name(devices_pb2.DeviceKind, device.kind),
        device.station,
        device.lane,
        device.account_id or "-",
        device.certificate_name or "-",
        name(devices_pb2.DeviceState, device.state),
        _when(device.last_seen, device.HasField("last_seen")),
        device.version or "-",
        device.queue_depth,
    ]


def _text(device: devices_pb2.Device) -> str:
    lines = [
        f"{device.device_id}  {name(devices_pb2.DeviceKind, device.kind)} at {device.station} lane {device.lane}: "
        f"{name(devices_pb2.DeviceState, device.state)}",
        f"  account {device.account_id or '-'}  certificate {device.certificate_name or '-'}",
        f"  last seen {_when(device.last_seen, device.HasField('last_seen'))}  version {device.version or '-'}  "
        f"queue {device.queue_depth}  last sync {_when(device.last_sync, device.HasField('last_sync'))}  "
        f"oldest unsynced {_when(device.oldest_unsynced_at, device.HasField('oldest_unsynced_at'))}",
    ]
    return "\n".join(lines)


def _show(args: argparse.Namespace, device: devices_pb2.Device) -> None:
    show(args, device, _text(device))
