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
    __slots__ = ("request_id", "network_toml", "first_date", "days")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NETWORK_TOML_FIELD_NUMBER: _ClassVar[int]
    FIRST_DATE_FIELD_NUMBER: _ClassVar[int]
    DAYS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    network_toml: str
    first_date: str
    days: int
    def __init__(self, request_id: _Optional[str] = ..., network_toml: _Optional[str] = ..., first_date: _Optional[str] = ..., days: _Optional[int] = ...) -> None: ...

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
    def __init__(self, trips_created: _Optional[int] = ..., trips_unchanged: _Optional[int] = ..., stations: _Optional[int] = ..., schedules: _Optional[int] = ...) -> None: ...

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

class MergeTripsRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "into_trip_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    INTO_TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    into_trip_id: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., into_trip_id: _Optional[str] = ...) -> None: ...

class MergedTicket(_message.Message):
    __slots__ = ("old_ticket_id", "new_ticket_id", "old_seat", "new_seat", "from_station", "to_station")
    OLD_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_SEAT_FIELD_NUMBER: _ClassVar[int]
    NEW_SEAT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    old_ticket_id: str
    new_ticket_id: str
    old_seat: str
    new_seat: str
    from_station: str
    to_station: str
    def __init__(self, old_ticket_id: _Optional[str] = ..., new_ticket_id: _Optional[str] = ..., old_seat: _Optional[str] = ..., new_seat: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ...) -> None: ...

class UnmovedTicket(_message.Message):
    __slots__ = ("ticket_id", "seat", "reason", "message", "from_station", "to_station")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    seat: str
    reason: str
    message: str
    from_station: str
    to_station: str
    def __init__(self, ticket_id: _Optional[str] = ..., seat: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ...) -> None: ...

class MergeTripsResponse(_message.Message):
    __slots__ = ("trip", "into_trip", "moved", "not_moved")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    INTO_TRIP_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    NOT_MOVED_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    into_trip: _common_pb2.Trip
    moved: _containers.RepeatedCompositeFieldContainer[MergedTicket]
    not_moved: _containers.RepeatedCompositeFieldContainer[UnmovedTicket]
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., into_trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., moved: _Optional[_Iterable[_Union[MergedTicket, _Mapping]]] = ..., not_moved: _Optional[_Iterable[_Union[UnmovedTicket, _Mapping]]] = ...) -> None: ...

class MarkMissedRequest(_message.Message):
    __slots__ = ("request_id", "trip_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ...) -> None: ...

class MarkMissedResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ...) -> None: ...
