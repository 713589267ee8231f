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

class QuoteChangeRequest(_message.Message):
    __slots__ = ("ticket_id", "new_trip_id", "seat_number")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    new_trip_id: str
    seat_number: str
    def __init__(self, ticket_id: _Optional[str] = ..., new_trip_id: _Optional[str] = ..., seat_number: _Optional[str] = ...) -> None: ...

class QuoteChangeResponse(_message.Message):
    __slots__ = ("ticket_id", "new_trip_id", "old_price_fen", "old_fare", "new_price_fen", "new_fare", "fare_difference_fen", "fee_fen")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    OLD_FARE_FIELD_NUMBER: _ClassVar[int]
    NEW_PRICE_FEN_FIELD_NUMBER: _ClassVar[int]
    NEW_FARE_FIELD_NUMBER: _ClassVar[int]
    FARE_DIFFERENCE_FEN_FIELD_NUMBER: _ClassVar[int]
    FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    new_trip_id: str
    old_price_fen: int
    old_fare: _common_pb2.FareComponents
    new_price_fen: int
    new_fare: _common_pb2.FareComponents
    fare_difference_fen: int
    fee_fen: int
    def __init__(self, ticket_id: _Optional[str] = ..., new_trip_id: _Optional[str] = ..., old_price_fen: _Optional[int] = ..., old_fare: _Optional[_Union[_common_pb2.FareComponents, _Mapping]] = ..., new_price_fen: _Optional[int] = ..., new_fare: _Optional[_Union[_common_pb2.FareComponents, _Mapping]] = ..., fare_difference_fen: _Optional[int] = ..., fee_fen: _Optional[int] = ...) -> None: ...

class PickUpTicketsRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "document_type", "document_number")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    document_type: _common_pb2.DocumentType
    document_number: str
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., document_type: _Optional[_Union[_common_pb2.DocumentType, str]] = ..., document_number: _Optional[str] = ...) -> None: ...

class PickUpTicketsResponse(_message.Message):
    __slots__ = ("tickets",)
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ticket]
    def __init__(self, tickets: _Optional[_Iterable[_Union[_common_pb2.Ticket, _Mapping]]] = ...) -> None: ...

class QuoteRefundRequest(_message.Message):
    __slots__ = ("ticket_id",)
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    def __init__(self, ticket_id: _Optional[str] = ...) -> None: ...

class QuoteRefundResponse(_message.Message):
    __slots__ = ("ticket_id", "fee_fen", "refund_fen")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEN_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    fee_fen: int
    refund_fen: int
    def __init__(self, ticket_id: _Optional[str] = ..., fee_fen: _Optional[int] = ..., refund_fen: _Optional[int] = ...) -> None: ...

class FindPassengerTicketsRequest(_message.Message):
    __slots__ = ("document_type", "document_number", "phone", "purpose", "page_size")
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    document_type: _common_pb2.DocumentType
    document_number: str
    phone: str
    purpose: str
    page_size: int
    def __init__(self, document_type: _Optional[_Union[_common_pb2.DocumentType, str]] = ..., document_number: _Optional[str] = ..., phone: _Optional[str] = ..., purpose: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class FindPassengerTicketsResponse(_message.Message):
    __slots__ = ("tickets",)
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    tickets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ticket]
    def __init__(self, tickets: _Optional[_Iterable[_Union[_common_pb2.Ticket, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("request_id", "trip_id", "from_station", "to_station", "seat_numbers", "seat_count", "ttl_seconds", "passenger_ids", "passengers")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_IDS_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    seat_count: int
    ttl_seconds: int
    passenger_ids: _containers.RepeatedScalarFieldContainer[str]
    passengers: _containers.RepeatedCompositeFieldContainer[WalkInPassenger]
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., seat_count: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., passenger_ids: _Optional[_Iterable[str]] = ..., passengers: _Optional[_Iterable[_Union[WalkInPassenger, _Mapping]]] = ...) -> None: ...

class WalkInPassenger(_message.Message):
    __slots__ = ("document_type", "document_number", "name", "ticket_type", "insurance", "proof_type", "proof_number", "phone")
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TICKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_FIELD_NUMBER: _ClassVar[int]
    PROOF_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROOF_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    document_type: _common_pb2.DocumentType
    document_number: str
    name: str
    ticket_type: _common_pb2.TicketType
    insurance: bool
    proof_type: str
    proof_number: str
    phone: str
    def __init__(self, document_type: _Optional[_Union[_common_pb2.DocumentType, str]] = ..., document_number: _Optional[str] = ..., name: _Optional[str] = ..., ticket_type: _Optional[_Union[_common_pb2.TicketType, str]] = ..., insurance: _Optional[bool] = ..., proof_type: _Optional[str] = ..., proof_number: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("hold_id", "trip_id", "from_stop", "to_stop", "seat_numbers", "fare_fen", "total_fen", "expires_at", "holders", "fares", "free_children")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    FARE_FEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    FARES_FIELD_NUMBER: _ClassVar[int]
    FREE_CHILDREN_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    trip_id: str
    from_stop: _common_pb2.Stop
    to_stop: _common_pb2.Stop
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    fare_fen: int
    total_fen: int
    expires_at: _timestamp_pb2.Timestamp
    holders: _containers.RepeatedCompositeFieldContainer[_common_pb2.TicketHolder]
    fares: _containers.RepeatedCompositeFieldContainer[_common_pb2.FareComponents]
    free_children: _containers.RepeatedCompositeFieldContainer[_common_pb2.TicketHolder]
    def __init__(self, hold_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., from_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., to_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., fare_fen: _Optional[int] = ..., total_fen: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., holders: _Optional[_Iterable[_Union[_common_pb2.TicketHolder, _Mapping]]] = ..., fares: _Optional[_Iterable[_Union[_common_pb2.FareComponents, _Mapping]]] = ..., free_children: _Optional[_Iterable[_Union[_common_pb2.TicketHolder, _Mapping]]] = ...) -> None: ...

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
    __slots__ = ("request_id", "trip_id", "from_station", "to_station", "seat_numbers", "seat_count", "passenger_ids", "passengers", "pay_method")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    SEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_IDS_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    PAY_METHOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    trip_id: str
    from_station: str
    to_station: str
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    seat_count: int
    passenger_ids: _containers.RepeatedScalarFieldContainer[str]
    passengers: _containers.RepeatedCompositeFieldContainer[WalkInPassenger]
    pay_method: _orders_pb2.PayMethod
    def __init__(self, request_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., seat_count: _Optional[int] = ..., passenger_ids: _Optional[_Iterable[str]] = ..., passengers: _Optional[_Iterable[_Union[WalkInPassenger, _Mapping]]] = ..., pay_method: _Optional[_Union[_orders_pb2.PayMethod, str]] = ...) -> None: ...

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
