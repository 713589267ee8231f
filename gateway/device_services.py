"""The Devices servicer: the device registry (engine/devices.py), hosted by the accounts owner.

Registering, disabling and enabling are account calls like any other: the owner journals them
with their audit records.  Heartbeats go to the owner as well, which keeps the last one of each
device in memory (not journaled, see engine/devices.py), so that every gateway process sees the
same last-seen times.  Refusing a disabled device is the interceptor's (gateway/auth.py).
"""

from __future__ import annotations

import grpc

from keyun.engine import devices as dv
from keyun.engine.accounts import AccountRules
from keyun.engine.permissions import in_scope
from keyun.engine.reasons import Reason, Rejected, quote, reject
from keyun.v1 import devices_pb2, devices_pb2_grpc

from . import convert
from .account_services import AccountDesk, _page, _token, timestamp
from .auth import caller
from .errors import abort, note_audit

KIND_TO_PROTO = {kind: getattr(devices_pb2, f"DEVICE_KIND_{kind.name}") for kind in dv.DeviceKind}
KIND_OF_PROTO = {number: kind for kind, number in KIND_TO_PROTO.items()}
STATE_TO_PROTO = {state: getattr(devices_pb2, f"DEVICE_STATE_{state.name}") for state in dv.DeviceState}
STATE_OF_PROTO = {number: state for state, number in STATE_TO_PROTO.items()}


def device_message(view: dv.DeviceView) -> devices_pb2.Device:
    device, seen = view.device, view.seen
    message = devices_pb2.Device(
        device_id=device.device_id,
        kind=KIND_TO_PROTO[device.kind],
        station=device.station,
        lane=device.lane,
        account_id=device.account_id,
        certificate_name=device.certificate_name,
        disabled=device.disabled,
        state=STATE_TO_PROTO[view.state],
        registered_at=timestamp(device.registered_at_ms),
    )
    if device.changed_at_ms:
        message.changed_at.CopyFrom(timestamp(device.changed_at_ms))
    if seen is not None:
        message.last_seen.CopyFrom(timestamp(seen.at_ms))
        message.version, message.queue_depth = seen.version, seen.queue_depth
        if seen.last_sync_ms:
            message.last_sync.CopyFrom(timestamp(seen.last_sync_ms))
        if seen.oldest_unsynced_ms:
            message.oldest_unsynced_at.CopyFrom(timestamp(seen.oldest_unsynced_ms))
    return message


def _kind(value: int, field_name: str = "kind", required: bool = True) -> dv.DeviceKind | None:
    if value == devices_pb2.DEVICE_KIND_UNSPECIFIED and not required:
        return None
    kind = KIND_OF_PROTO.get(value)
    if kind is None:
        raise Rejected(
            reject(
                Reason.MISSING_FIELD if value == devices_pb2.DEVICE_KIND_UNSPECIFIED else Reason.INVALID_FIELD,
                f"{field_name}: GATE, KIOSK, HANDHELD, COUNTER or BOARD",
                field=field_name,
            )
        )
    return kind


def _state(value: int) -> dv.DeviceState | None:
    if value == devices_pb2.DEVICE_STATE_UNSPECIFIED:
        return None
    state = STATE_OF_PROTO.get(value)
    if state is None:
        raise Rejected(reject(Reason.INVALID_FIELD, "state: ONLINE, OFFLINE, BEHIND or DISABLED", field="state"))
    return state


class DevicesService(devices_pb2_grpc.DevicesServicer):
    def __init__(self, desk: AccountDesk, rules: AccountRules):
        """`rules`: the accounts owner's, for the thresholds the replies name."""
        self.desk = desk
        self.limits = rules.device_limits()

    async def _in_scope(self, context: grpc.aio.ServicerContext, station: str) -> None:
        """Staff manage and see the devices of their own stations only."""
        principal = caller()
        if not in_scope(principal.stations, station):
            await abort(
                context,
                reject(
                    Reason.PERMISSION_DENIED,
                    f"station {quote(station)} is not among this account's stations",
                    field="station",
                ),
            )

    async def RegisterDevice(self, request, context):
        command = await self.desk.build(
            context,
            lambda: dv.RegisterDevice(
                request.request_id,
                _kind(request.kind),
                request.station,
                request.lane,
                request.account_id,
                request.certificate_name,
            ),
        )
        await self._in_scope(context, command.station)
        note_audit(
            target=command.account_id or command.certificate_name,
            detail=f"{command.kind.value} at {command.station} lane {command.lane}"
            + (f" certificate {command.certificate_name}" if command.certificate_name else ""),
        )
        registered = await self.desk.ask(context, command, audited=True)
        view = await self.desk.ask(context, dv.GetDevice(registered.device.device_id))
        return devices_pb2.RegisterDeviceResponse(device=device_message(view))

    async def ListDevices(self, request, context):
        station = request.station
        principal = caller()
        if not station and not in_scope(principal.stations, "*"):
            if len(principal.stations) != 1:
                await abort(
                    context,
                    reject(Reason.MISSING_FIELD, "station: name one of this account's stations", field="station"),
                )
            station = principal.stations[0]
        query = await self.desk.build(
            context,
            lambda: dv.ListDevices(
                *_page(request), station, _kind(request.kind, required=False), _state(request.state)
            ),
        )
        if station:
            await self._in_scope(context, station)
        page = await self.desk.ask(context, query)
        return devices_pb2.ListDevicesResponse(
            devices=[device_message(view) for view in page.devices],
            next_page_token=_token(page.next_offset),
            offline_after_seconds=self.limits.offline_ms // 1000,
            behind_after_seconds=self.limits.behind_ms // 1000,
        )

    async def _device(self, context, device_id: str) -> dv.DeviceView:
        query = await self.desk.build(context, lambda: dv.GetDevice(device_id))
        view = await self.desk.ask(context, query)
        await self._in_scope(context, view.device.station)
        return view

    async def GetDevice(self, request, context):
        return devices_pb2.GetDeviceResponse(device=device_message(await self._device(context, request.device_id)))

    async def DisableDevice(self, request, context):
        command = await self.desk.build(context, lambda: dv.DisableDevice(request.request_id, request.device_id))
        device = (await self._device(context, command.device_id)).device
        note_audit(target=command.device_id)
        await self.desk.ask(context, command, audited=True)
        self._takes_effect_here(device)
        view = await self.desk.ask(context, dv.GetDevice(command.device_id))  # as it is now, with its heartbeat
        return devices_pb2.DisableDeviceResponse(device=device_message(view))

    async def EnableDevice(self, request, context):
        command = await self.desk.build(context, lambda: dv.EnableDevice(request.request_id, request.device_id))
        device = (await self._device(context, command.device_id)).device
        note_audit(target=command.device_id)
        await self.desk.ask(context, command, audited=True)
        self._takes_effect_here(device)
        view = await self.desk.ask(context, dv.GetDevice(command.device_id))
        return devices_pb2.EnableDeviceResponse(device=device_message(view))

    def _takes_effect_here(self, device: dv.Device) -> None:
        """A device disabled or enabled: at once through this gateway; other gateway processes
        recheck sessions and disabled certificates every second (gateway/auth.py, SESSION_RECHECK_S)."""
        if device.account_id:
            self.desk.auth.sessions.forget_account(device.account_id)
        if device.certificate_name:
            self.desk.auth.disabled_certificates.forget()

    async def Heartbeat(self, request, context):
        principal = caller()
        certificate = self.desk.auth.peer_device(context)
        report = await self.desk.build(
            context,
            lambda: dv.DeviceHeartbeat(
                principal.account_id,
                certificate,
                request.version,
                request.queue_depth,
                convert.millis(request, "last_sync"),
                convert.millis(request, "oldest_unsynced_at"),
            ),
        )
        view = await self.desk.ask(context, report)
        return devices_pb2.HeartbeatResponse(
            device=device_message(view), offline_after_seconds=self.limits.offline_ms // 1000
        )
