from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers

from keyun.v1 import common_pb2 as _common_pb2

DESCRIPTOR: _descriptor.FileDescriptor

class CheckInRequest(_message.Message):
    __slots__ = ("request_id", "ticket_id", "gate_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ticket_id: str
    gate_id: str
    def __init__(
        self, request_id: str | None = ..., ticket_id: str | None = ..., gate_id: str | None = ...
    ) -> None: ...

class CheckInResponse(_message.Message):
    __slots__ = ("ticket",)
    TICKET_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    def __init__(self, ticket: _common_pb2.Ticket | _Mapping | None = ...) -> None: ...

class GetManifestRequest(_message.Message):
    __slots__ = ("trip_id", "page_size", "page_token")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    page_size: int
    page_token: str
    def __init__(
        self, trip_id: str | None = ..., page_size: int | None = ..., page_token: str | None = ...
    ) -> None: ...

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
    def __init__(
        self,
        trip: _common_pb2.Trip | _Mapping | None = ...,
        tickets: _Iterable[_common_pb2.Ticket | _Mapping] | None = ...,
        next_page_token: str | None = ...,
        tickets_issued: int | None = ...,
        tickets_checked_in: int | None = ...,
        tickets_refunded: int | None = ...,
    ) -> None: ...
