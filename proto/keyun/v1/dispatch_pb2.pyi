from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

from keyun.v1 import common_pb2 as _common_pb2

DESCRIPTOR: _descriptor.FileDescriptor

class DelayTripRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "delay_minutes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    DELAY_MINUTES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    delay_minutes: int
    def __init__(
        self, request_id: str | None = ..., trip_id: str | None = ..., delay_minutes: int | None = ...
    ) -> None: ...

class DelayTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _common_pb2.Trip | _Mapping | None = ...) -> None: ...

class LoadNetworkRequest(_message.Message):
    __slots__ = ("request_id", "network_toml", "first_date", "days")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_TOML_FIELD_NUMBER: _ClassVar[int]
    FIRST_DATE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    network_toml: str
    first_date: str
    days: int
    def __init__(
        self,
        request_id: str | None = ...,
        network_toml: str | None = ...,
        first_date: str | None = ...,
        days: int | None = ...,
    ) -> None: ...

class LoadNetworkResponse(_message.Message):
    __slots__ = ("trips_created", "trips_unchanged", "stations", "schedules")
    TRIPS_CREATED_FIELD_NUMBER: _ClassVar[int]
    TRIPS_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULES_FIELD_NUMBER: _ClassVar[int]
    trips_created: int
    trips_unchanged: int
    stations: int
    schedules: int
    def __init__(
        self,
        trips_created: int | None = ...,
        trips_unchanged: int | None = ...,
        stations: int | None = ...,
        schedules: int | None = ...,
    ) -> None: ...

class DepartTripRequest(_message.Message):
    __slots__ = ("request_id", "trip_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    def __init__(self, request_id: str | None = ..., trip_id: str | None = ...) -> None: ...

class DepartTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _common_pb2.Trip | _Mapping | None = ...) -> None: ...

class CancelTripRequest(_message.Message):
    __slots__ = ("request_id", "trip_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    def __init__(self, request_id: str | None = ..., trip_id: str | None = ...) -> None: ...

class CancelTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _common_pb2.Trip | _Mapping | None = ...) -> None: ...
