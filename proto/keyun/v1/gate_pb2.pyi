from keyun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckInRequest(_message.Message):
    __slots__ = ("request_id", "ticket_id", "gate_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ticket_id: str
    gate_id: str
    def __init__(self, request_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., gate_id: _Optional[str] = ...) -> None: ...

class CheckInResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    def __init__(self, ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ...) -> None: ...

class GetManifestRequest(_message.Message):
    __slots__ = ("trip_id", "page_size", "page_token")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    page_size: int
    page_token: str
    def __init__(self, trip_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetManifestResponse(_message.Message):
    __slots__ = ("trip", "tickets", "next_page_token", "tickets_issued", "tickets_checked_in", "tickets_refunded")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TICKETS_ISSUED_FIELD_NUMBER: _ClassVar[int]
    TICKETS_CHECKED_IN_FIELD_NUMBER: _ClassVar[int]
    TICKETS_REFUNDED_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    tickets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ticket]
    next_page_token: str
    tickets_issued: int
    tickets_checked_in: int
    tickets_refunded: int
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., tickets: _Optional[_Iterable[_Union[_common_pb2.Ticket, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., tickets_issued: _Optional[int] = ..., tickets_checked_in: _Optional[int] = ..., tickets_refunded: _Optional[int] = ...) -> None: ...
