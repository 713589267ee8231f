import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeviceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_KIND_UNSPECIFIED: _ClassVar[DeviceKind]
    DEVICE_KIND_GATE: _ClassVar[DeviceKind]
    DEVICE_KIND_KIOSK: _ClassVar[DeviceKind]
    DEVICE_KIND_HANDHELD: _ClassVar[DeviceKind]
    DEVICE_KIND_COUNTER: _ClassVar[DeviceKind]
    DEVICE_KIND_BOARD: _ClassVar[DeviceKind]

class DeviceState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_STATE_UNSPECIFIED: _ClassVar[DeviceState]
    DEVICE_STATE_ONLINE: _ClassVar[DeviceState]
    DEVICE_STATE_OFFLINE: _ClassVar[DeviceState]
    DEVICE_STATE_BEHIND: _ClassVar[DeviceState]
    DEVICE_STATE_DISABLED: _ClassVar[DeviceState]
DEVICE_KIND_UNSPECIFIED: DeviceKind
DEVICE_KIND_GATE: DeviceKind
DEVICE_KIND_KIOSK: DeviceKind
DEVICE_KIND_HANDHELD: DeviceKind
DEVICE_KIND_COUNTER: DeviceKind
DEVICE_KIND_BOARD: DeviceKind
DEVICE_STATE_UNSPECIFIED: DeviceState
DEVICE_STATE_ONLINE: DeviceState
DEVICE_STATE_OFFLINE: DeviceState
DEVICE_STATE_BEHIND: DeviceState
DEVICE_STATE_DISABLED: DeviceState

class Device(_message.Message):
    __slots__ = ("device_id", "kind", "station", "lane", "account_id", "certificate_name", "disabled", "state", "registered_at", "changed_at", "last_seen", "version", "queue_depth", "last_sync", "oldest_unsynced_at")
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATION_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_NAME_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REGISTERED_AT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    LAST_SYNC_FIELD_NUMBER: _ClassVar[int]
    OLDEST_UNSYNCED_AT_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    kind: DeviceKind
    station: str
    lane: str
    account_id: str
    certificate_name: str
    disabled: bool
    state: DeviceState
    registered_at: _timestamp_pb2.Timestamp
    changed_at: _timestamp_pb2.Timestamp
    last_seen: _timestamp_pb2.Timestamp
    version: str
    queue_depth: int
    last_sync: _timestamp_pb2.Timestamp
    oldest_unsynced_at: _timestamp_pb2.Timestamp
    def __init__(self, device_id: _Optional[str] = ..., kind: _Optional[_Union[DeviceKind, str]] = ..., station: _Optional[str] = ..., lane: _Optional[str] = ..., account_id: _Optional[str] = ..., certificate_name: _Optional[str] = ..., disabled: _Optional[bool] = ..., state: _Optional[_Union[DeviceState, str]] = ..., registered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[str] = ..., queue_depth: _Optional[int] = ..., last_sync: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., oldest_unsynced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RegisterDeviceRequest(_message.Message):
    __slots__ = ("request_id", "kind", "station", "lane", "account_id", "certificate_name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATION_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    kind: DeviceKind
    station: str
    lane: str
    account_id: str
    certificate_name: str
    def __init__(self, request_id: _Optional[str] = ..., kind: _Optional[_Union[DeviceKind, str]] = ..., station: _Optional[str] = ..., lane: _Optional[str] = ..., account_id: _Optional[str] = ..., certificate_name: _Optional[str] = ...) -> None: ...

class RegisterDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class ListDevicesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "station", "kind", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    station: str
    kind: DeviceKind
    state: DeviceState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., station: _Optional[str] = ..., kind: _Optional[_Union[DeviceKind, str]] = ..., state: _Optional[_Union[DeviceState, str]] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices", "next_page_token", "offline_after_seconds", "behind_after_seconds")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    BEHIND_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    next_page_token: str
    offline_after_seconds: int
    behind_after_seconds: int
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., offline_after_seconds: _Optional[int] = ..., behind_after_seconds: _Optional[int] = ...) -> None: ...

class GetDeviceRequest(_message.Message):
    __slots__ = ("device_id",)
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    device_id: str
    def __init__(self, device_id: _Optional[str] = ...) -> None: ...

class GetDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class DisableDeviceRequest(_message.Message):
    __slots__ = ("request_id", "device_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    device_id: str
    def __init__(self, request_id: _Optional[str] = ..., device_id: _Optional[str] = ...) -> None: ...

class DisableDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class EnableDeviceRequest(_message.Message):
    __slots__ = ("request_id", "device_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    device_id: str
    def __init__(self, request_id: _Optional[str] = ..., device_id: _Optional[str] = ...) -> None: ...

class EnableDeviceResponse(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: Device
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ...) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ("version", "queue_depth", "last_sync", "oldest_unsynced_at")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_DEPTH_FIELD_NUMBER: _ClassVar[int]
    LAST_SYNC_FIELD_NUMBER: _ClassVar[int]
    OLDEST_UNSYNCED_AT_FIELD_NUMBER: _ClassVar[int]
    version: str
    queue_depth: int
    last_sync: _timestamp_pb2.Timestamp
    oldest_unsynced_at: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[str] = ..., queue_depth: _Optional[int] = ..., last_sync: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., oldest_unsynced_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ("device", "offline_after_seconds")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_AFTER_SECONDS_FIELD_NUMBER: _ClassVar[int]
    device: Device
    offline_after_seconds: int
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ..., offline_after_seconds: _Optional[int] = ...) -> None: ...
