import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TripStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIP_STATUS_UNSPECIFIED: _ClassVar[TripStatus]
    TRIP_STATUS_ON_SALE: _ClassVar[TripStatus]
    TRIP_STATUS_CHECKING_IN: _ClassVar[TripStatus]
    TRIP_STATUS_DEPARTED: _ClassVar[TripStatus]
    TRIP_STATUS_CANCELLED: _ClassVar[TripStatus]

class TicketStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TICKET_STATUS_UNSPECIFIED: _ClassVar[TicketStatus]
    TICKET_STATUS_ISSUED: _ClassVar[TicketStatus]
    TICKET_STATUS_CHECKED_IN: _ClassVar[TicketStatus]
    TICKET_STATUS_REFUNDED: _ClassVar[TicketStatus]
    TICKET_STATUS_CHANGED: _ClassVar[TicketStatus]
    TICKET_STATUS_VOID: _ClassVar[TicketStatus]

class TicketType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TICKET_TYPE_UNSPECIFIED: _ClassVar[TicketType]
    TICKET_TYPE_FULL: _ClassVar[TicketType]
    TICKET_TYPE_CHILD: _ClassVar[TicketType]
    TICKET_TYPE_FREE_CHILD: _ClassVar[TicketType]
    TICKET_TYPE_CONCESSION: _ClassVar[TicketType]
    TICKET_TYPE_STUDENT: _ClassVar[TicketType]

class DocumentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOCUMENT_TYPE_UNSPECIFIED: _ClassVar[DocumentType]
    DOCUMENT_TYPE_RESIDENT_ID: _ClassVar[DocumentType]
    DOCUMENT_TYPE_PASSPORT: _ClassVar[DocumentType]
    DOCUMENT_TYPE_HK_MACAU_PERMIT: _ClassVar[DocumentType]
    DOCUMENT_TYPE_TAIWAN_PERMIT: _ClassVar[DocumentType]
    DOCUMENT_TYPE_HMT_RESIDENCE_PERMIT: _ClassVar[DocumentType]
TRIP_STATUS_UNSPECIFIED: TripStatus
TRIP_STATUS_ON_SALE: TripStatus
TRIP_STATUS_CHECKING_IN: TripStatus
TRIP_STATUS_DEPARTED: TripStatus
TRIP_STATUS_CANCELLED: TripStatus
TICKET_STATUS_UNSPECIFIED: TicketStatus
TICKET_STATUS_ISSUED: TicketStatus
TICKET_STATUS_CHECKED_IN: TicketStatus
TICKET_STATUS_REFUNDED: TicketStatus
TICKET_STATUS_CHANGED: TicketStatus
TICKET_STATUS_VOID: TicketStatus
TICKET_TYPE_UNSPECIFIED: TicketType
TICKET_TYPE_FULL: TicketType
TICKET_TYPE_CHILD: TicketType
TICKET_TYPE_FREE_CHILD: TicketType
TICKET_TYPE_CONCESSION: TicketType
TICKET_TYPE_STUDENT: TicketType
DOCUMENT_TYPE_UNSPECIFIED: DocumentType
DOCUMENT_TYPE_RESIDENT_ID: DocumentType
DOCUMENT_TYPE_PASSPORT: DocumentType
DOCUMENT_TYPE_HK_MACAU_PERMIT: DocumentType
DOCUMENT_TYPE_TAIWAN_PERMIT: DocumentType
DOCUMENT_TYPE_HMT_RESIDENCE_PERMIT: DocumentType

class Stop(_message.Message):
    __slots__ = ("code", "name", "departs_at")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEPARTS_AT_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    departs_at: _timestamp_pb2.Timestamp
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., departs_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Trip(_message.Message):
    __slots__ = ("trip_id", "schedule_id", "route_id", "route_name", "operator_name", "vehicle_name", "stops", "status", "seats_total", "gate", "plate", "safety_check", "flow_max_wait_minutes")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_ID_FIELD_NUMBER: _ClassVar[int]
    ROUTE_NAME_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_NAME_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_NAME_FIELD_NUMBER: _ClassVar[int]
    STOPS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEATS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    GATE_FIELD_NUMBER: _ClassVar[int]
    PLATE_FIELD_NUMBER: _ClassVar[int]
    SAFETY_CHECK_FIELD_NUMBER: _ClassVar[int]
    FLOW_MAX_WAIT_MINUTES_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    schedule_id: str
    route_id: str
    route_name: str
    operator_name: str
    vehicle_name: str
    stops: _containers.RepeatedCompositeFieldContainer[Stop]
    status: TripStatus
    seats_total: int
    gate: str
    plate: str
    safety_check: str
    flow_max_wait_minutes: int
    def __init__(self, trip_id: _Optional[str] = ..., schedule_id: _Optional[str] = ..., route_id: _Optional[str] = ..., route_name: _Optional[str] = ..., operator_name: _Optional[str] = ..., vehicle_name: _Optional[str] = ..., stops: _Optional[_Iterable[_Union[Stop, _Mapping]]] = ..., status: _Optional[_Union[TripStatus, str]] = ..., seats_total: _Optional[int] = ..., gate: _Optional[str] = ..., plate: _Optional[str] = ..., safety_check: _Optional[str] = ..., flow_max_wait_minutes: _Optional[int] = ...) -> None: ...

class Ticket(_message.Message):
    __slots__ = ("ticket_id", "trip", "from_stop", "to_stop", "seat_number", "price_fen", "status", "issued_at", "checked_in_at", "gate_id", "refund_fee_fen", "refunded_fen", "refunded_at", "holder", "changed_from", "changed_to", "credential", "fare", "free_child", "printed_at")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKED_IN_AT_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AT_FIELD_NUMBER: _ClassVar[int]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FROM_FIELD_NUMBER: _ClassVar[int]
    CHANGED_TO_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    FARE_FIELD_NUMBER: _ClassVar[int]
    FREE_CHILD_FIELD_NUMBER: _ClassVar[int]
    PRINTED_AT_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    trip: Trip
    from_stop: Stop
    to_stop: Stop
    seat_number: str
    price_fen: int
    status: TicketStatus
    issued_at: _timestamp_pb2.Timestamp
    checked_in_at: _timestamp_pb2.Timestamp
    gate_id: str
    refund_fee_fen: int
    refunded_fen: int
    refunded_at: _timestamp_pb2.Timestamp
    holder: TicketHolder
    changed_from: str
    changed_to: str
    credential: str
    fare: FareComponents
    free_child: TicketHolder
    printed_at: _timestamp_pb2.Timestamp
    def __init__(self, ticket_id: _Optional[str] = ..., trip: _Optional[_Union[Trip, _Mapping]] = ..., from_stop: _Optional[_Union[Stop, _Mapping]] = ..., to_stop: _Optional[_Union[Stop, _Mapping]] = ..., seat_number: _Optional[str] = ..., price_fen: _Optional[int] = ..., status: _Optional[_Union[TicketStatus, str]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., checked_in_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gate_id: _Optional[str] = ..., refund_fee_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., refunded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., holder: _Optional[_Union[TicketHolder, _Mapping]] = ..., changed_from: _Optional[str] = ..., changed_to: _Optional[str] = ..., credential: _Optional[str] = ..., fare: _Optional[_Union[FareComponents, _Mapping]] = ..., free_child: _Optional[_Union[TicketHolder, _Mapping]] = ..., printed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class FareComponents(_message.Message):
    __slots__ = ("ticket_type", "base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen", "total_fen")
    TICKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    BASE_FEN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    FUEL_SURCHARGE_FEN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_FEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    ticket_type: TicketType
    base_fen: int
    service_fee_fen: int
    fuel_surcharge_fen: int
    insurance_fen: int
    total_fen: int
    def __init__(self, ticket_type: _Optional[_Union[TicketType, str]] = ..., base_fen: _Optional[int] = ..., service_fee_fen: _Optional[int] = ..., fuel_surcharge_fen: _Optional[int] = ..., insurance_fen: _Optional[int] = ..., total_fen: _Optional[int] = ...) -> None: ...

class TicketHolder(_message.Message):
    __slots__ = ("passenger_id", "name", "document_type", "document_number", "account_id", "proof_type", "proof_number")
    PASSENGER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PROOF_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROOF_NUMBER_FIELD_NUMBER: _ClassVar[int]
    passenger_id: str
    name: str
    document_type: DocumentType
    document_number: str
    account_id: str
    proof_type: str
    proof_number: str
    def __init__(self, passenger_id: _Optional[str] = ..., name: _Optional[str] = ..., document_type: _Optional[_Union[DocumentType, str]] = ..., document_number: _Optional[str] = ..., account_id: _Optional[str] = ..., proof_type: _Optional[str] = ..., proof_number: _Optional[str] = ...) -> None: ...
