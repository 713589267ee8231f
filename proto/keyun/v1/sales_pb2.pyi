import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import common_pb2 as _common_pb2
from keyun.v1 import orders_pb2 as _orders_pb2
from keyun.v1 import shifts_pb2 as _shifts_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChangeTicketRequest(_message.Message):
    __slots__ = ("request_id", "ticket_id", "new_trip_id", "seat_number")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ticket_id: str
    new_trip_id: str
    seat_number: str
    def __init__(self, request_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., new_trip_id: _Optional[str] = ..., seat_number: _Optional[str] = ...) -> None: ...

class ChangeTicketResponse(_message.Message):
    __slots__ = ("old_ticket", "new_ticket", "fare_difference_fen", "paper_numbers")
    OLD_TICKET_FIELD_NUMBER: _ClassVar[int]
    NEW_TICKET_FIELD_NUMBER: _ClassVar[int]
    FARE_DIFFERENCE_FEN_FIELD_NUMBER: _ClassVar[int]
    PAPER_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    old_ticket: _common_pb2.Ticket
    new_ticket: _common_pb2.Ticket
    fare_difference_fen: int
    paper_numbers: _containers.RepeatedCompositeFieldContainer[_shifts_pb2.PaperNumber]
    def __init__(self, old_ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., new_ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., fare_difference_fen: _Optional[int] = ..., paper_numbers: _Optional[_Iterable[_Union[_shifts_pb2.PaperNumber, _Mapping]]] = ...) -> None: ...

class HoldRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "from_station", "to_station", "seat_numbers", "seat_count", "ttl_seconds", "passenger_ids")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_IDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    seat_count: int
    ttl_seconds: int
    passenger_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., seat_count: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., passenger_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("hold_id", "trip_id", "from_stop", "to_stop", "seat_numbers", "fare_fen", "total_fen", "expires_at", "holders")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    FARE_FEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    trip_id: str
    from_stop: _common_pb2.Stop
    to_stop: _common_pb2.Stop
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    fare_fen: int
    total_fen: int
    expires_at: _timestamp_pb2.Timestamp
    holders: _containers.RepeatedCompositeFieldContainer[_common_pb2.TicketHolder]
    def __init__(self, hold_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., from_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., to_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., fare_fen: _Optional[int] = ..., total_fen: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., holders: _Optional[_Iterable[_Union[_common_pb2.TicketHolder, _Mapping]]] = ...) -> None: ...

class HoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class ConfirmRequest(_message.Message):
    __slots__ = ("request_id", "hold_id", "pay_method")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    PAY_METHOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    pay_method: _orders_pb2.PayMethod
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., pay_method: _Optional[_Union[_orders_pb2.PayMethod, str]] = ...) -> None: ...

class ConfirmResponse(_message.Message):
    __slots__ = ("tickets", "total_fen", "paper_numbers")
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    PAPER_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ticket]
    total_fen: int
    paper_numbers: _containers.RepeatedCompositeFieldContainer[_shifts_pb2.PaperNumber]
    def __init__(self, tickets: _Optional[_Iterable[_Union[_common_pb2.Ticket, _Mapping]]] = ..., total_fen: _Optional[int] = ..., paper_numbers: _Optional[_Iterable[_Union[_shifts_pb2.PaperNumber, _Mapping]]] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("request_id", "hold_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SellRequest(_message.Message):
    __slots__ = ("request_id", "trip_id", "from_station", "to_station", "seat_numbers", "seat_count", "passenger_ids", "pay_method")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_IDS_FIELD_NUMBER: _ClassVar[int]
    PAY_METHOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    seat_count: int
    passenger_ids: _containers.RepeatedScalarFieldContainer[str]
    pay_method: _orders_pb2.PayMethod
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., seat_count: _Optional[int] = ..., passenger_ids: _Optional[_Iterable[str]] = ..., pay_method: _Optional[_Union[_orders_pb2.PayMethod, str]] = ...) -> None: ...

class SellResponse(_message.Message):
    __slots__ = ("tickets", "total_fen", "paper_numbers")
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    PAPER_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ticket]
    total_fen: int
    paper_numbers: _containers.RepeatedCompositeFieldContainer[_shifts_pb2.PaperNumber]
    def __init__(self, tickets: _Optional[_Iterable[_Union[_common_pb2.Ticket, _Mapping]]] = ..., total_fen: _Optional[int] = ..., paper_numbers: _Optional[_Iterable[_Union[_shifts_pb2.PaperNumber, _Mapping]]] = ...) -> None: ...

class RefundRequest(_message.Message):
    __slots__ = ("request_id", "ticket_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ticket_id: str
    def __init__(self, request_id: _Optional[str] = ..., ticket_id: _Optional[str] = ...) -> None: ...

class RefundResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    def __init__(self, ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ...) -> None: ...

class GetTicketRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class GetTicketResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    def __init__(self, ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ...) -> None: ...
