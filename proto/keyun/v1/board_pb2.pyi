import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DepartureStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEPARTURE_STATUS_UNSPECIFIED: _ClassVar[DepartureStatus]
    DEPARTURE_STATUS_ON_TIME: _ClassVar[DepartureStatus]
    DEPARTURE_STATUS_DELAYED: _ClassVar[DepartureStatus]
    DEPARTURE_STATUS_BOARDING: _ClassVar[DepartureStatus]
    DEPARTURE_STATUS_DEPARTED: _ClassVar[DepartureStatus]
    DEPARTURE_STATUS_CANCELLED: _ClassVar[DepartureStatus]

class AnnouncementKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ANNOUNCEMENT_KIND_UNSPECIFIED: _ClassVar[AnnouncementKind]
    ANNOUNCEMENT_KIND_NOTICE: _ClassVar[AnnouncementKind]
    ANNOUNCEMENT_KIND_WEATHER: _ClassVar[AnnouncementKind]
    ANNOUNCEMENT_KIND_ROAD_CLOSURE: _ClassVar[AnnouncementKind]
DEPARTURE_STATUS_UNSPECIFIED: DepartureStatus
DEPARTURE_STATUS_ON_TIME: DepartureStatus
DEPARTURE_STATUS_DELAYED: DepartureStatus
DEPARTURE_STATUS_BOARDING: DepartureStatus
DEPARTURE_STATUS_DEPARTED: DepartureStatus
DEPARTURE_STATUS_CANCELLED: DepartureStatus
ANNOUNCEMENT_KIND_UNSPECIFIED: AnnouncementKind
ANNOUNCEMENT_KIND_NOTICE: AnnouncementKind
ANNOUNCEMENT_KIND_WEATHER: AnnouncementKind
ANNOUNCEMENT_KIND_ROAD_CLOSURE: AnnouncementKind

class WatchDeparturesRequest(_message.Message):
    __slots__ = ("station", "date")
    STATION_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    station: str
    date: str
    def __init__(self, station: _Optional[str] = ..., date: _Optional[str] = ...) -> None: ...

class SeatsToStop(_message.Message):
    __slots__ = ("stop_code", "stop_name", "seats_free")
    STOP_CODE_FIELD_NUMBER: _ClassVar[int]
    STOP_NAME_FIELD_NUMBER: _ClassVar[int]
    SEATS_FREE_FIELD_NUMBER: _ClassVar[int]
    stop_code: str
    stop_name: str
    seats_free: int
    def __init__(self, stop_code: _Optional[str] = ..., stop_name: _Optional[str] = ..., seats_free: _Optional[int] = ...) -> None: ...

class Departure(_message.Message):
    __slots__ = ("trip_id", "schedule_id", "route_name", "operator_name", "stops", "destination", "status", "scheduled", "expected", "delay_minutes", "gate", "seats", "seats_total", "plate")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    STOPS_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    DELAY_MINUTES_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    SEATS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    schedule_id: str
    route_name: str
    operator_name: str
    stops: _containers.RepeatedCompositeFieldContainer[_common_pb2.Stop]
    destination: _common_pb2.Stop
    status: DepartureStatus
    scheduled: _timestamp_pb2.Timestamp
    expected: _timestamp_pb2.Timestamp
    delay_minutes: int
    gate: str
    seats: _containers.RepeatedCompositeFieldContainer[SeatsToStop]
    seats_total: int
    plate: str
    def __init__(self, trip_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., route_name: _Optional[str] = ..., operator_name: _Optional[str] = ..., stops: _Optional[_Iterable[_Union[_common_pb2.Stop, _Mapping]]] = ..., destination: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., status: _Optional[_Union[DepartureStatus, str]] = ..., scheduled: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expected: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., delay_minutes: _Optional[int] = ..., gate: _Optional[str] = ..., seats: _Optional[_Iterable[_Union[SeatsToStop, _Mapping]]] = ..., seats_total: _Optional[int] = ..., plate: _Optional[str] = ...) -> None: ...

class Announcement(_message.Message):
    __slots__ = ("announcement_id", "kind", "text_zh", "text_en", "starts_at", "ends_at", "stations", "published_at", "withdrawn_at")
    ANNOUNCEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_ZH_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    announcement_id: str
    kind: AnnouncementKind
    text_zh: str
    text_en: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    stations: _containers.RepeatedScalarFieldContainer[str]
    published_at: _timestamp_pb2.Timestamp
    withdrawn_at: _timestamp_pb2.Timestamp
    def __init__(self, announcement_id: _Optional[str] = ..., kind: _Optional[_Union[AnnouncementKind, str]] = ..., text_zh: _Optional[str] = ..., text_en: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stations: _Optional[_Iterable[str]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchDeparturesResponse(_message.Message):
    __slots__ = ("station", "date", "snapshot", "departures", "removed_trip_ids", "announcements_changed", "announcements", "at")
    STATION_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    DEPARTURES_FIELD_NUMBER: _ClassVar[int]
    REMOVED_TRIP_IDS_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENTS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENTS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    station: str
    date: str
    snapshot: bool
    departures: _containers.RepeatedCompositeFieldContainer[Departure]
    removed_trip_ids: _containers.RepeatedScalarFieldContainer[str]
    announcements_changed: bool
    announcements: _containers.RepeatedCompositeFieldContainer[Announcement]
    at: _timestamp_pb2.Timestamp
    def __init__(self, station: _Optional[str] = ..., date: _Optional[str] = ..., snapshot: _Optional[bool] = ..., departures: _Optional[_Iterable[_Union[Departure, _Mapping]]] = ..., removed_trip_ids: _Optional[_Iterable[str]] = ..., announcements_changed: _Optional[bool] = ..., announcements: _Optional[_Iterable[_Union[Announcement, _Mapping]]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PublishAnnouncementRequest(_message.Message):
    __slots__ = ("request_id", "kind", "text_zh", "text_en", "starts_at", "ends_at", "stations")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_ZH_FIELD_NUMBER: _ClassVar[int]
    TEXT_EN_FIELD_NUMBER: _ClassVar[int]
    STARTS_AT_FIELD_NUMBER: _ClassVar[int]
    ENDS_AT_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    kind: AnnouncementKind
    text_zh: str
    text_en: str
    starts_at: _timestamp_pb2.Timestamp
    ends_at: _timestamp_pb2.Timestamp
    stations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., kind: _Optional[_Union[AnnouncementKind, str]] = ..., text_zh: _Optional[str] = ..., text_en: _Optional[str] = ..., starts_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ends_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stations: _Optional[_Iterable[str]] = ...) -> None: ...

class PublishAnnouncementResponse(_message.Message):
    __slots__ = ("announcement",)
    ANNOUNCEMENT_FIELD_NUMBER: _ClassVar[int]
    announcement: Announcement
    def __init__(self, announcement: _Optional[_Union[Announcement, _Mapping]] = ...) -> None: ...

class ListAnnouncementsRequest(_message.Message):
    __slots__ = ("station", "include_past")
    STATION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PAST_FIELD_NUMBER: _ClassVar[int]
    station: str
    include_past: bool
    def __init__(self, station: _Optional[str] = ..., include_past: _Optional[bool] = ...) -> None: ...

class ListAnnouncementsResponse(_message.Message):
    __slots__ = ("announcements",)
    ANNOUNCEMENTS_FIELD_NUMBER: _ClassVar[int]
    announcements: _containers.RepeatedCompositeFieldContainer[Announcement]
    def __init__(self, announcements: _Optional[_Iterable[_Union[Announcement, _Mapping]]] = ...) -> None: ...

class WithdrawAnnouncementRequest(_message.Message):
    __slots__ = ("request_id", "announcement_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ANNOUNCEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    announcement_id: str
    def __init__(self, request_id: _Optional[str] = ..., announcement_id: _Optional[str] = ...) -> None: ...

class WithdrawAnnouncementResponse(_message.Message):
    __slots__ = ("announcement",)
    ANNOUNCEMENT_FIELD_NUMBER: _ClassVar[int]
    announcement: Announcement
    def __init__(self, announcement: _Optional[_Union[Announcement, _Mapping]] = ...) -> None: ...
