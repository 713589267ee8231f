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

class BlockReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BLOCK_REASON_UNSPECIFIED: _ClassVar[BlockReason]
    BLOCK_REASON_CREW: _ClassVar[BlockReason]
    BLOCK_REASON_BROKEN: _ClassVar[BlockReason]
    BLOCK_REASON_OTHER: _ClassVar[BlockReason]
    BLOCK_REASON_VEHICLE: _ClassVar[BlockReason]

class UnfitChoice(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNFIT_CHOICE_UNSPECIFIED: _ClassVar[UnfitChoice]
    UNFIT_CHOICE_REFUND: _ClassVar[UnfitChoice]
    UNFIT_CHOICE_MOVE: _ClassVar[UnfitChoice]
BLOCK_REASON_UNSPECIFIED: BlockReason
BLOCK_REASON_CREW: BlockReason
BLOCK_REASON_BROKEN: BlockReason
BLOCK_REASON_OTHER: BlockReason
BLOCK_REASON_VEHICLE: BlockReason
UNFIT_CHOICE_UNSPECIFIED: UnfitChoice
UNFIT_CHOICE_REFUND: UnfitChoice
UNFIT_CHOICE_MOVE: UnfitChoice

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
    __slots__ = ("request_id", "trip_id", "staff", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    staff: _containers.RepeatedCompositeFieldContainer[StaffOnBoard]
    note: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., staff: _Optional[_Iterable[_Union[StaffOnBoard, _Mapping]]] = ..., note: _Optional[str] = ...) -> None: ...

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

class SetSeatQuotaRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "stop", "seat_count", "seat_numbers", "release_at", "release_before_minutes", "shared")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    RELEASE_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_BEFORE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    stop: str
    seat_count: int
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    release_at: _timestamp_pb2.Timestamp
    release_before_minutes: int
    shared: bool
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., stop: _Optional[str] = ..., seat_count: _Optional[int] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., release_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_before_minutes: _Optional[int] = ..., shared: _Optional[bool] = ...) -> None: ...

class ClearSeatQuotaRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "stop")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    stop: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., stop: _Optional[str] = ...) -> None: ...

class BlockSeatsRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "seat_numbers", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    reason: BlockReason
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., reason: _Optional[_Union[BlockReason, str]] = ...) -> None: ...

class UnblockSeatsRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "seat_numbers")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class GetSeatPlanRequest(_message.Message):
    __slots__ = ("trip_id",)
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    def __init__(self, trip_id: _Optional[str] = ...) -> None: ...

class AddExtraRunRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "schedule_id", "departs_at", "vehicle_name", "seats", "gate")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    DEPARTS_AT_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_NAME_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    schedule_id: str
    departs_at: _timestamp_pb2.Timestamp
    vehicle_name: str
    seats: int
    gate: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., departs_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vehicle_name: _Optional[str] = ..., seats: _Optional[int] = ..., gate: _Optional[str] = ...) -> None: ...

class SeatQuota(_message.Message):
    __slots__ = ("stop", "seat_numbers", "seats_unsold", "release_at", "release_before_minutes", "shared", "released")
    STOP_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    SEATS_UNSOLD_FIELD_NUMBER: _ClassVar[int]
    RELEASE_AT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_BEFORE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    RELEASED_FIELD_NUMBER: _ClassVar[int]
    stop: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    seats_unsold: int
    release_at: _timestamp_pb2.Timestamp
    release_before_minutes: int
    shared: bool
    released: bool
    def __init__(self, stop: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., seats_unsold: _Optional[int] = ..., release_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., release_before_minutes: _Optional[int] = ..., shared: _Optional[bool] = ..., released: _Optional[bool] = ...) -> None: ...

class BlockedSeat(_message.Message):
    __slots__ = ("seat_number", "reason")
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    seat_number: str
    reason: BlockReason
    def __init__(self, seat_number: _Optional[str] = ..., reason: _Optional[_Union[BlockReason, str]] = ...) -> None: ...

class SeatPlan(_message.Message):
    __slots__ = ("trip", "quotas", "blocked", "extra_of")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    QUOTAS_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    EXTRA_OF_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    quotas: _containers.RepeatedCompositeFieldContainer[SeatQuota]
    blocked: _containers.RepeatedCompositeFieldContainer[BlockedSeat]
    extra_of: str
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., quotas: _Optional[_Iterable[_Union[SeatQuota, _Mapping]]] = ..., blocked: _Optional[_Iterable[_Union[BlockedSeat, _Mapping]]] = ..., extra_of: _Optional[str] = ...) -> None: ...

class SetSeatQuotaResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: SeatPlan
    def __init__(self, plan: _Optional[_Union[SeatPlan, _Mapping]] = ...) -> None: ...

class ClearSeatQuotaResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: SeatPlan
    def __init__(self, plan: _Optional[_Union[SeatPlan, _Mapping]] = ...) -> None: ...

class BlockSeatsResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: SeatPlan
    def __init__(self, plan: _Optional[_Union[SeatPlan, _Mapping]] = ...) -> None: ...

class UnblockSeatsResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: SeatPlan
    def __init__(self, plan: _Optional[_Union[SeatPlan, _Mapping]] = ...) -> None: ...

class GetSeatPlanResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: SeatPlan
    def __init__(self, plan: _Optional[_Union[SeatPlan, _Mapping]] = ...) -> None: ...

class AddExtraRunResponse(_message.Message):
    __slots__ = ("plan",)
    PLAN_FIELD_NUMBER: _ClassVar[int]
    plan: SeatPlan
    def __init__(self, plan: _Optional[_Union[SeatPlan, _Mapping]] = ...) -> None: ...

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

class StaffOnBoard(_message.Message):
    __slots__ = ("name", "role")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    role: str
    def __init__(self, name: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class GetTripSheetRequest(_message.Message):
    __slots__ = ("trip_id",)
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    def __init__(self, trip_id: _Optional[str] = ...) -> None: ...

class TripSheetCounts(_message.Message):
    __slots__ = ("tickets_sold", "checked_in", "no_shows", "free_children", "base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen", "total_fen", "refunded", "changed", "void")
    TICKETS_SOLD_FIELD_NUMBER: _ClassVar[int]
    CHECKED_IN_FIELD_NUMBER: _ClassVar[int]
    NO_SHOWS_FIELD_NUMBER: _ClassVar[int]
    FREE_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    BASE_FEN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    FUEL_SURCHARGE_FEN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_FEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    VOID_FIELD_NUMBER: _ClassVar[int]
    tickets_sold: int
    checked_in: int
    no_shows: int
    free_children: int
    base_fen: int
    service_fee_fen: int
    fuel_surcharge_fen: int
    insurance_fen: int
    total_fen: int
    refunded: int
    changed: int
    void: int
    def __init__(self, tickets_sold: _Optional[int] = ..., checked_in: _Optional[int] = ..., no_shows: _Optional[int] = ..., free_children: _Optional[int] = ..., base_fen: _Optional[int] = ..., service_fee_fen: _Optional[int] = ..., fuel_surcharge_fen: _Optional[int] = ..., insurance_fen: _Optional[int] = ..., total_fen: _Optional[int] = ..., refunded: _Optional[int] = ..., changed: _Optional[int] = ..., void: _Optional[int] = ...) -> None: ...

class TripSheetSegment(_message.Message):
    __slots__ = ("from_stop", "to_stop", "counts")
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    from_stop: _common_pb2.Stop
    to_stop: _common_pb2.Stop
    counts: TripSheetCounts
    def __init__(self, from_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., to_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., counts: _Optional[_Union[TripSheetCounts, _Mapping]] = ...) -> None: ...

class TripSheetBoarding(_message.Message):
    __slots__ = ("stop", "passengers", "checked_in", "free_children")
    STOP_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_IN_FIELD_NUMBER: _ClassVar[int]
    FREE_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    stop: _common_pb2.Stop
    passengers: int
    checked_in: int
    free_children: int
    def __init__(self, stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., passengers: _Optional[int] = ..., checked_in: _Optional[int] = ..., free_children: _Optional[int] = ...) -> None: ...

class TripSheet(_message.Message):
    __slots__ = ("sheet_number", "trip", "departed_at", "plate", "vehicle_id", "driver_id", "driver_masked_name", "staff", "note", "segments", "boardings", "totals", "tickets_issued", "tickets_checked_in", "tickets_refunded")
    SHEET_NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRIP_FIELD_NUMBER: _ClassVar[int]
    DEPARTED_AT_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    DRIVER_MASKED_NAME_FIELD_NUMBER: _ClassVar[int]
    STAFF_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    BOARDINGS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    TICKETS_ISSUED_FIELD_NUMBER: _ClassVar[int]
    TICKETS_CHECKED_IN_FIELD_NUMBER: _ClassVar[int]
    TICKETS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    sheet_number: str
    trip: _common_pb2.Trip
    departed_at: _timestamp_pb2.Timestamp
    plate: str
    vehicle_id: str
    driver_id: str
    driver_masked_name: str
    staff: _containers.RepeatedCompositeFieldContainer[StaffOnBoard]
    note: str
    segments: _containers.RepeatedCompositeFieldContainer[TripSheetSegment]
    boardings: _containers.RepeatedCompositeFieldContainer[TripSheetBoarding]
    totals: TripSheetCounts
    tickets_issued: int
    tickets_checked_in: int
    tickets_refunded: int
    def __init__(self, sheet_number: _Optional[str] = ..., trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., departed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., plate: _Optional[str] = ..., vehicle_id: _Optional[str] = ..., driver_id: _Optional[str] = ..., driver_masked_name: _Optional[str] = ..., staff: _Optional[_Iterable[_Union[StaffOnBoard, _Mapping]]] = ..., note: _Optional[str] = ..., segments: _Optional[_Iterable[_Union[TripSheetSegment, _Mapping]]] = ..., boardings: _Optional[_Iterable[_Union[TripSheetBoarding, _Mapping]]] = ..., totals: _Optional[_Union[TripSheetCounts, _Mapping]] = ..., tickets_issued: _Optional[int] = ..., tickets_checked_in: _Optional[int] = ..., tickets_refunded: _Optional[int] = ...) -> None: ...

class GetTripSheetResponse(_message.Message):
    __slots__ = ("sheet",)
    SHEET_FIELD_NUMBER: _ClassVar[int]
    sheet: TripSheet
    def __init__(self, sheet: _Optional[_Union[TripSheet, _Mapping]] = ...) -> None: ...

class ChangeVehicleRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "seat_count", "vehicle_name", "choice", "into_trip_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_NAME_FIELD_NUMBER: _ClassVar[int]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    INTO_TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    seat_count: int
    vehicle_name: str
    choice: UnfitChoice
    into_trip_id: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., seat_count: _Optional[int] = ..., vehicle_name: _Optional[str] = ..., choice: _Optional[_Union[UnfitChoice, str]] = ..., into_trip_id: _Optional[str] = ...) -> None: ...

class ReseatedTicket(_message.Message):
    __slots__ = ("ticket_id", "old_seat", "new_seat", "from_station", "to_station")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_SEAT_FIELD_NUMBER: _ClassVar[int]
    NEW_SEAT_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    old_seat: str
    new_seat: str
    from_station: str
    to_station: str
    def __init__(self, ticket_id: _Optional[str] = ..., old_seat: _Optional[str] = ..., new_seat: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ...) -> None: ...

class RefundedTicket(_message.Message):
    __slots__ = ("ticket_id", "seat", "refund_fen", "order_id", "from_station", "to_station")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    seat: str
    refund_fen: int
    order_id: str
    from_station: str
    to_station: str
    def __init__(self, ticket_id: _Optional[str] = ..., seat: _Optional[str] = ..., refund_fen: _Optional[int] = ..., order_id: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ...) -> None: ...

class ChangeVehicleResponse(_message.Message):
    __slots__ = ("trip", "seat_count", "reseated", "refunded", "moved")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    RESEATED_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    MOVED_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    seat_count: int
    reseated: _containers.RepeatedCompositeFieldContainer[ReseatedTicket]
    refunded: _containers.RepeatedCompositeFieldContainer[RefundedTicket]
    moved: _containers.RepeatedCompositeFieldContainer[MergedTicket]
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., seat_count: _Optional[int] = ..., reseated: _Optional[_Iterable[_Union[ReseatedTicket, _Mapping]]] = ..., refunded: _Optional[_Iterable[_Union[RefundedTicket, _Mapping]]] = ..., moved: _Optional[_Iterable[_Union[MergedTicket, _Mapping]]] = ...) -> None: ...
