import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import common_pb2 as _common_pb2
from keyun.v1 import sales_pb2 as _sales_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LendAllotmentRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "from_station", "to_station", "seat_numbers", "seat_count")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    seat_count: int
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., seat_count: _Optional[int] = ...) -> None: ...

class FareRules(_message.Message):
    __slots__ = ("child_percent", "concession_percent", "student_percent", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen", "round_to_fen", "rounding", "minimum_fare_fen", "one_ticket_per_document")
    CHILD_PERCENT_FIELD_NUMBER: _ClassVar[int]
    CONCESSION_PERCENT_FIELD_NUMBER: _ClassVar[int]
    STUDENT_PERCENT_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    FUEL_SURCHARGE_FEN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_FEN_FIELD_NUMBER: _ClassVar[int]
    ROUND_TO_FEN_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_FARE_FEN_FIELD_NUMBER: _ClassVar[int]
    ONE_TICKET_PER_DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    child_percent: int
    concession_percent: int
    student_percent: int
    service_fee_fen: int
    fuel_surcharge_fen: int
    insurance_fen: int
    round_to_fen: int
    rounding: str
    minimum_fare_fen: int
    one_ticket_per_document: str
    def __init__(self, child_percent: _Optional[int] = ..., concession_percent: _Optional[int] = ..., student_percent: _Optional[int] = ..., service_fee_fen: _Optional[int] = ..., fuel_surcharge_fen: _Optional[int] = ..., insurance_fen: _Optional[int] = ..., round_to_fen: _Optional[int] = ..., rounding: _Optional[str] = ..., minimum_fare_fen: _Optional[int] = ..., one_ticket_per_document: _Optional[str] = ...) -> None: ...

class SegmentFare(_message.Message):
    __slots__ = ("from_station", "to_station", "full_fen")
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    FULL_FEN_FIELD_NUMBER: _ClassVar[int]
    from_station: str
    to_station: str
    full_fen: int
    def __init__(self, from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., full_fen: _Optional[int] = ...) -> None: ...

class SettledSale(_message.Message):
    __slots__ = ("sale_id", "ticket_id", "charged_fen", "sold_at")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FEN_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    ticket_id: str
    charged_fen: int
    sold_at: _timestamp_pb2.Timestamp
    def __init__(self, sale_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., charged_fen: _Optional[int] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Allotment(_message.Message):
    __slots__ = ("allotment_id", "trip_id", "device", "from_station", "to_station", "stations", "seat_numbers", "fares", "fare_rules", "lent_at", "settled_at", "sales", "small_vehicle")
    ALLOTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    FARES_FIELD_NUMBER: _ClassVar[int]
    FARE_RULES_FIELD_NUMBER: _ClassVar[int]
    LENT_AT_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    SALES_FIELD_NUMBER: _ClassVar[int]
    SMALL_VEHICLE_FIELD_NUMBER: _ClassVar[int]
    allotment_id: str
    trip_id: str
    device: str
    from_station: str
    to_station: str
    stations: _containers.RepeatedScalarFieldContainer[str]
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    fares: _containers.RepeatedCompositeFieldContainer[SegmentFare]
    fare_rules: FareRules
    lent_at: _timestamp_pb2.Timestamp
    settled_at: _timestamp_pb2.Timestamp
    sales: _containers.RepeatedCompositeFieldContainer[SettledSale]
    small_vehicle: bool
    def __init__(self, allotment_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., device: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., stations: _Optional[_Iterable[str]] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., fares: _Optional[_Iterable[_Union[SegmentFare, _Mapping]]] = ..., fare_rules: _Optional[_Union[FareRules, _Mapping]] = ..., lent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sales: _Optional[_Iterable[_Union[SettledSale, _Mapping]]] = ..., small_vehicle: _Optional[bool] = ...) -> None: ...

class LendAllotmentResponse(_message.Message):
    __slots__ = ("allotment",)
    ALLOTMENT_FIELD_NUMBER: _ClassVar[int]
    allotment: Allotment
    def __init__(self, allotment: _Optional[_Union[Allotment, _Mapping]] = ...) -> None: ...

class AllotmentSale(_message.Message):
    __slots__ = ("sale_id", "seat_number", "from_station", "to_station", "charged_fen", "sold_at", "passenger")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FEN_FIELD_NUMBER: _ClassVar[int]
    SOLD_AT_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    seat_number: str
    from_station: str
    to_station: str
    charged_fen: int
    sold_at: _timestamp_pb2.Timestamp
    passenger: _sales_pb2.WalkInPassenger
    def __init__(self, sale_id: _Optional[str] = ..., seat_number: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., charged_fen: _Optional[int] = ..., sold_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., passenger: _Optional[_Union[_sales_pb2.WalkInPassenger, _Mapping]] = ...) -> None: ...

class SettleAllotmentRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "allotment_id", "sales")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SALES_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    allotment_id: str
    sales: _containers.RepeatedCompositeFieldContainer[AllotmentSale]
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., allotment_id: _Optional[str] = ..., sales: _Optional[_Iterable[_Union[AllotmentSale, _Mapping]]] = ...) -> None: ...

class SettledLine(_message.Message):
    __slots__ = ("sale_id", "ticket", "charged_fen", "price_mismatch", "already_settled", "document_conflict", "document_masked")
    SALE_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_FIELD_NUMBER: _ClassVar[int]
    CHARGED_FEN_FIELD_NUMBER: _ClassVar[int]
    PRICE_MISMATCH_FIELD_NUMBER: _ClassVar[int]
    ALREADY_SETTLED_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_CONFLICT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_MASKED_FIELD_NUMBER: _ClassVar[int]
    sale_id: str
    ticket: _common_pb2.Ticket
    charged_fen: int
    price_mismatch: bool
    already_settled: bool
    document_conflict: str
    document_masked: str
    def __init__(self, sale_id: _Optional[str] = ..., ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., charged_fen: _Optional[int] = ..., price_mismatch: _Optional[bool] = ..., already_settled: _Optional[bool] = ..., document_conflict: _Optional[str] = ..., document_masked: _Optional[str] = ...) -> None: ...

class SettleAllotmentResponse(_message.Message):
    __slots__ = ("allotment", "lines", "unused_seats", "returned", "issued")
    ALLOTMENT_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    UNUSED_SEATS_FIELD_NUMBER: _ClassVar[int]
    RETURNED_FIELD_NUMBER: _ClassVar[int]
    ISSUED_FIELD_NUMBER: _ClassVar[int]
    allotment: Allotment
    lines: _containers.RepeatedCompositeFieldContainer[SettledLine]
    unused_seats: _containers.RepeatedScalarFieldContainer[str]
    returned: bool
    issued: int
    def __init__(self, allotment: _Optional[_Union[Allotment, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[SettledLine, _Mapping]]] = ..., unused_seats: _Optional[_Iterable[str]] = ..., returned: _Optional[bool] = ..., issued: _Optional[int] = ...) -> None: ...

class GetAllotmentRequest(_message.Message):
    __slots__ = ("trip_id", "allotment_id")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    ALLOTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    allotment_id: str
    def __init__(self, trip_id: _Optional[str] = ..., allotment_id: _Optional[str] = ...) -> None: ...

class GetAllotmentResponse(_message.Message):
    __slots__ = ("allotment",)
    ALLOTMENT_FIELD_NUMBER: _ClassVar[int]
    allotment: Allotment
    def __init__(self, allotment: _Optional[_Union[Allotment, _Mapping]] = ...) -> None: ...
