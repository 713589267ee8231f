import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VehicleInput(_message.Message):
    __slots__ = ("plate", "operator_id", "rated_seats", "seat_layout", "permit_expires", "inspection_expires", "insurance_expires")
    PLATE_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    RATED_SEATS_FIELD_NUMBER: _ClassVar[int]
    SEAT_LAYOUT_FIELD_NUMBER: _ClassVar[int]
    PERMIT_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    INSPECTION_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    plate: str
    operator_id: str
    rated_seats: int
    seat_layout: str
    permit_expires: str
    inspection_expires: str
    insurance_expires: str
    def __init__(self, plate: _Optional[str] = ..., operator_id: _Optional[str] = ..., rated_seats: _Optional[int] = ..., seat_layout: _Optional[str] = ..., permit_expires: _Optional[str] = ..., inspection_expires: _Optional[str] = ..., insurance_expires: _Optional[str] = ...) -> None: ...

class Vehicle(_message.Message):
    __slots__ = ("vehicle_id", "details", "added_at", "retired_at")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    details: VehicleInput
    added_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    def __init__(self, vehicle_id: _Optional[str] = ..., details: _Optional[_Union[VehicleInput, _Mapping]] = ..., added_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DriverInput(_message.Message):
    __slots__ = ("name", "licence_class", "qualification_number", "qualification_expires", "phone")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LICENCE_CLASS_FIELD_NUMBER: _ClassVar[int]
    QUALIFICATION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    QUALIFICATION_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    name: str
    licence_class: str
    qualification_number: str
    qualification_expires: str
    phone: str
    def __init__(self, name: _Optional[str] = ..., licence_class: _Optional[str] = ..., qualification_number: _Optional[str] = ..., qualification_expires: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class Driver(_message.Message):
    __slots__ = ("driver_id", "masked_name", "licence_class", "masked_qualification_number", "qualification_expires", "masked_phone", "added_at", "retired_at")
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    MASKED_NAME_FIELD_NUMBER: _ClassVar[int]
    LICENCE_CLASS_FIELD_NUMBER: _ClassVar[int]
    MASKED_QUALIFICATION_NUMBER_FIELD_NUMBER: _ClassVar[int]
    QUALIFICATION_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    MASKED_PHONE_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    driver_id: str
    masked_name: str
    licence_class: str
    masked_qualification_number: str
    qualification_expires: str
    masked_phone: str
    added_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    def __init__(self, driver_id: _Optional[str] = ..., masked_name: _Optional[str] = ..., licence_class: _Optional[str] = ..., masked_qualification_number: _Optional[str] = ..., qualification_expires: _Optional[str] = ..., masked_phone: _Optional[str] = ..., added_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AddVehicleRequest(_message.Message):
    __slots__ = ("request_id", "vehicle")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    vehicle: VehicleInput
    def __init__(self, request_id: _Optional[str] = ..., vehicle: _Optional[_Union[VehicleInput, _Mapping]] = ...) -> None: ...

class AddVehicleResponse(_message.Message):
    __slots__ = ("vehicle",)
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    vehicle: Vehicle
    def __init__(self, vehicle: _Optional[_Union[Vehicle, _Mapping]] = ...) -> None: ...

class UpdateVehicleRequest(_message.Message):
    __slots__ = ("request_id", "vehicle_id", "vehicle")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    vehicle_id: str
    vehicle: VehicleInput
    def __init__(self, request_id: _Optional[str] = ..., vehicle_id: _Optional[str] = ..., vehicle: _Optional[_Union[VehicleInput, _Mapping]] = ...) -> None: ...

class UpdateVehicleResponse(_message.Message):
    __slots__ = ("vehicle",)
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    vehicle: Vehicle
    def __init__(self, vehicle: _Optional[_Union[Vehicle, _Mapping]] = ...) -> None: ...

class RetireVehicleRequest(_message.Message):
    __slots__ = ("request_id", "vehicle_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    vehicle_id: str
    def __init__(self, request_id: _Optional[str] = ..., vehicle_id: _Optional[str] = ...) -> None: ...

class RetireVehicleResponse(_message.Message):
    __slots__ = ("vehicle",)
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    vehicle: Vehicle
    def __init__(self, vehicle: _Optional[_Union[Vehicle, _Mapping]] = ...) -> None: ...

class GetVehicleRequest(_message.Message):
    __slots__ = ("vehicle_id",)
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    def __init__(self, vehicle_id: _Optional[str] = ...) -> None: ...

class GetVehicleResponse(_message.Message):
    __slots__ = ("vehicle",)
    VEHICLE_FIELD_NUMBER: _ClassVar[int]
    vehicle: Vehicle
    def __init__(self, vehicle: _Optional[_Union[Vehicle, _Mapping]] = ...) -> None: ...

class ListVehiclesRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "include_retired")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_RETIRED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    include_retired: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_retired: _Optional[bool] = ...) -> None: ...

class ListVehiclesResponse(_message.Message):
    __slots__ = ("vehicles", "next_page_token")
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    vehicles: _containers.RepeatedCompositeFieldContainer[Vehicle]
    next_page_token: str
    def __init__(self, vehicles: _Optional[_Iterable[_Union[Vehicle, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AddDriverRequest(_message.Message):
    __slots__ = ("request_id", "driver")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    driver: DriverInput
    def __init__(self, request_id: _Optional[str] = ..., driver: _Optional[_Union[DriverInput, _Mapping]] = ...) -> None: ...

class AddDriverResponse(_message.Message):
    __slots__ = ("driver",)
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    driver: Driver
    def __init__(self, driver: _Optional[_Union[Driver, _Mapping]] = ...) -> None: ...

class UpdateDriverRequest(_message.Message):
    __slots__ = ("request_id", "driver_id", "driver")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    driver_id: str
    driver: DriverInput
    def __init__(self, request_id: _Optional[str] = ..., driver_id: _Optional[str] = ..., driver: _Optional[_Union[DriverInput, _Mapping]] = ...) -> None: ...

class UpdateDriverResponse(_message.Message):
    __slots__ = ("driver",)
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    driver: Driver
    def __init__(self, driver: _Optional[_Union[Driver, _Mapping]] = ...) -> None: ...

class RetireDriverRequest(_message.Message):
    __slots__ = ("request_id", "driver_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    driver_id: str
    def __init__(self, request_id: _Optional[str] = ..., driver_id: _Optional[str] = ...) -> None: ...

class RetireDriverResponse(_message.Message):
    __slots__ = ("driver",)
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    driver: Driver
    def __init__(self, driver: _Optional[_Union[Driver, _Mapping]] = ...) -> None: ...

class GetDriverRequest(_message.Message):
    __slots__ = ("driver_id",)
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    driver_id: str
    def __init__(self, driver_id: _Optional[str] = ...) -> None: ...

class GetDriverResponse(_message.Message):
    __slots__ = ("driver",)
    DRIVER_FIELD_NUMBER: _ClassVar[int]
    driver: Driver
    def __init__(self, driver: _Optional[_Union[Driver, _Mapping]] = ...) -> None: ...

class ListDriversRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "include_retired")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_RETIRED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    include_retired: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_retired: _Optional[bool] = ...) -> None: ...

class ListDriversResponse(_message.Message):
    __slots__ = ("drivers", "next_page_token")
    DRIVERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    drivers: _containers.RepeatedCompositeFieldContainer[Driver]
    next_page_token: str
    def __init__(self, drivers: _Optional[_Iterable[_Union[Driver, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReportInRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "vehicle_id", "driver_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    vehicle_id: str
    driver_id: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., vehicle_id: _Optional[str] = ..., driver_id: _Optional[str] = ...) -> None: ...

class ReportInResponse(_message.Message):
    __slots__ = ("trip", "vehicle_id", "plate", "driver_id", "travel_date")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    DRIVER_ID_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_DATE_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    vehicle_id: str
    plate: str
    driver_id: str
    travel_date: str
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., vehicle_id: _Optional[str] = ..., plate: _Optional[str] = ..., driver_id: _Optional[str] = ..., travel_date: _Optional[str] = ...) -> None: ...

class SafetyCheckItem(_message.Message):
    __slots__ = ("name", "passed", "note")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    note: str
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., note: _Optional[str] = ...) -> None: ...

class RecordSafetyCheckRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "passed", "items", "note")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    passed: bool
    items: _containers.RepeatedCompositeFieldContainer[SafetyCheckItem]
    note: str
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., passed: _Optional[bool] = ..., items: _Optional[_Iterable[_Union[SafetyCheckItem, _Mapping]]] = ..., note: _Optional[str] = ...) -> None: ...

class RecordSafetyCheckResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ...) -> None: ...
