from keyun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssignGateRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "gate")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    gate: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., gate: _Optional[str] = ...) -> None: ...

class AssignGateResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ...) -> None: ...

class DelayTripRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "delay_minutes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    DELAY_MINUTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    delay_minutes: int
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., delay_minutes: _Optional[int] = ...) -> None: ...

class DelayTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ...) -> None: ...

class LoadNetworkRequest(_message.Message):
    __slots__ = ("request_id", "network_toml", "first_date", "days", "effective_from")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_TOML_FIELD_NUMBER: _ClassVar[int]
    FIRST_DATE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    network_toml: str
    first_date: str
    days: int
    effective_from: str
    def __init__(self, request_id: _Optional[str] = ..., network_toml: _Optional[str] = ..., first_date: _Optional[str] = ..., days: _Optional[int] = ..., effective_from: _Optional[str] = ...) -> None: ...

class LoadNetworkResponse(_message.Message):
    __slots__ = ("trips_created", "trips_unchanged", "stations", "schedules", "trips_replaced", "trips_left_sold", "trips_retired", "effective_from")
    TRIPS_CREATED_FIELD_NUMBER: _ClassVar[int]
    TRIPS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    TRIPS_REPLACED_FIELD_NUMBER: _ClassVar[int]
    TRIPS_LEFT_SOLD_FIELD_NUMBER: _ClassVar[int]
    TRIPS_RETIRED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    trips_created: int
    trips_unchanged: int
    stations: int
    schedules: int
    trips_replaced: int
    trips_left_sold: _containers.RepeatedScalarFieldContainer[str]
    trips_retired: _containers.RepeatedScalarFieldContainer[str]
    effective_from: str
    def __init__(self, trips_created: _Optional[int] = ..., trips_unchanged: _Optional[int] = ..., stations: _Optional[int] = ..., schedules: _Optional[int] = ..., trips_replaced: _Optional[int] = ..., trips_left_sold: _Optional[_Iterable[str]] = ..., trips_retired: _Optional[_Iterable[str]] = ..., effective_from: _Optional[str] = ...) -> None: ...

class DepartTripRequest(_message.Message):
    __slots__ = ("request_id", "trip_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ...) -> None: ...

class DepartTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ...) -> None: ...

class CancelTripRequest(_message.Message):
    __slots__ = ("request_id", "trip_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ...) -> None: ...

class CancelTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ...) -> None: ...

class DiffNetworkRequest(_message.Message):
    __slots__ = ("network_toml", "effective_from")
    NETWORK_TOML_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    network_toml: str
    effective_from: str
    def __init__(self, network_toml: _Optional[str] = ..., effective_from: _Optional[str] = ...) -> None: ...

class ScheduleChange(_message.Message):
    __slots__ = ("schedule_id", "fields")
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    schedule_id: str
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, schedule_id: _Optional[str] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class StationRename(_message.Message):
    __slots__ = ("code", "old_name", "new_name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    OLD_NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    old_name: str
    new_name: str
    def __init__(self, code: _Optional[str] = ..., old_name: _Optional[str] = ..., new_name: _Optional[str] = ...) -> None: ...

class DiffNetworkResponse(_message.Message):
    __slots__ = ("schedules_added", "schedules_removed", "schedules_changed", "stations_renamed", "trips_to_create", "trips_to_replace", "trips_left_sold", "trips_to_retire", "trips_unchanged", "effective_from", "nothing_kept")
    SCHEDULES_ADDED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_REMOVED_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    STATIONS_RENAMED_FIELD_NUMBER: _ClassVar[int]
    TRIPS_TO_CREATE_FIELD_NUMBER: _ClassVar[int]
    TRIPS_TO_REPLACE_FIELD_NUMBER: _ClassVar[int]
    TRIPS_LEFT_SOLD_FIELD_NUMBER: _ClassVar[int]
    TRIPS_TO_RETIRE_FIELD_NUMBER: _ClassVar[int]
    TRIPS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    NOTHING_KEPT_FIELD_NUMBER: _ClassVar[int]
    schedules_added: _containers.RepeatedScalarFieldContainer[str]
    schedules_removed: _containers.RepeatedScalarFieldContainer[str]
    schedules_changed: _containers.RepeatedCompositeFieldContainer[ScheduleChange]
    stations_renamed: _containers.RepeatedCompositeFieldContainer[StationRename]
    trips_to_create: _containers.RepeatedScalarFieldContainer[str]
    trips_to_replace: _containers.RepeatedScalarFieldContainer[str]
    trips_left_sold: _containers.RepeatedScalarFieldContainer[str]
    trips_to_retire: _containers.RepeatedScalarFieldContainer[str]
    trips_unchanged: int
    effective_from: str
    nothing_kept: bool
    def __init__(self, schedules_added: _Optional[_Iterable[str]] = ..., schedules_removed: _Optional[_Iterable[str]] = ..., schedules_changed: _Optional[_Iterable[_Union[ScheduleChange, _Mapping]]] = ..., stations_renamed: _Optional[_Iterable[_Union[StationRename, _Mapping]]] = ..., trips_to_create: _Optional[_Iterable[str]] = ..., trips_to_replace: _Optional[_Iterable[str]] = ..., trips_left_sold: _Optional[_Iterable[str]] = ..., trips_to_retire: _Optional[_Iterable[str]] = ..., trips_unchanged: _Optional[int] = ..., effective_from: _Optional[str] = ..., nothing_kept: _Optional[bool] = ...) -> None: ...
