import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import common_pb2 as _common_pb2
from keyun.v1 import orders_pb2 as _orders_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ShiftStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHIFT_STATUS_UNSPECIFIED: _ClassVar[ShiftStatus]
    SHIFT_STATUS_OPEN: _ClassVar[ShiftStatus]
    SHIFT_STATUS_CLOSED: _ClassVar[ShiftStatus]
    SHIFT_STATUS_DEPOSITED: _ClassVar[ShiftStatus]
SHIFT_STATUS_UNSPECIFIED: ShiftStatus
SHIFT_STATUS_OPEN: ShiftStatus
SHIFT_STATUS_CLOSED: ShiftStatus
SHIFT_STATUS_DEPOSITED: ShiftStatus

class PaperNumber(_message.Message):
    __slots__ = ("ticket_id", "number")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    number: str
    def __init__(self, ticket_id: _Optional[str] = ..., number: _Optional[str] = ...) -> None: ...

class NumberUse(_message.Message):
    __slots__ = ("number", "ticket_id", "spoiled", "at")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    SPOILED_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    number: str
    ticket_id: str
    spoiled: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, number: _Optional[str] = ..., ticket_id: _Optional[str] = ..., spoiled: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MethodTotal(_message.Message):
    __slots__ = ("method", "sold_fen", "voided_fen", "refunded_fen", "net_fen", "changed_fen")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SOLD_FEN_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    NET_FEN_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FEN_FIELD_NUMBER: _ClassVar[int]
    method: _orders_pb2.PayMethod
    sold_fen: int
    voided_fen: int
    refunded_fen: int
    net_fen: int
    changed_fen: int
    def __init__(self, method: _Optional[_Union[_orders_pb2.PayMethod, str]] = ..., sold_fen: _Optional[int] = ..., voided_fen: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., net_fen: _Optional[int] = ..., changed_fen: _Optional[int] = ...) -> None: ...

class SpoiledNumber(_message.Message):
    __slots__ = ("number", "reason")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    number: str
    reason: str
    def __init__(self, number: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Slip(_message.Message):
    __slots__ = ("sold_count", "sold_fen", "refunded_count", "refunded_fen", "refund_fees_fen", "voided_count", "voided_fen", "reprinted_count", "methods", "numbers_used", "spoiled", "unnumbered_ticket_ids", "expected_cash_fen", "counted_cash_fen", "over_short_fen", "changed_count", "changed_fen")
    SOLD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOLD_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEES_FEN_FIELD_NUMBER: _ClassVar[int]
    VOIDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FEN_FIELD_NUMBER: _ClassVar[int]
    REPRINTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_USED_FIELD_NUMBER: _ClassVar[int]
    SPOILED_FIELD_NUMBER: _ClassVar[int]
    UNNUMBERED_TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CASH_FEN_FIELD_NUMBER: _ClassVar[int]
    COUNTED_CASH_FEN_FIELD_NUMBER: _ClassVar[int]
    OVER_SHORT_FEN_FIELD_NUMBER: _ClassVar[int]
    CHANGED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FEN_FIELD_NUMBER: _ClassVar[int]
    sold_count: int
    sold_fen: int
    refunded_count: int
    refunded_fen: int
    refund_fees_fen: int
    voided_count: int
    voided_fen: int
    reprinted_count: int
    methods: _containers.RepeatedCompositeFieldContainer[MethodTotal]
    numbers_used: _containers.RepeatedScalarFieldContainer[str]
    spoiled: _containers.RepeatedCompositeFieldContainer[SpoiledNumber]
    unnumbered_ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    expected_cash_fen: int
    counted_cash_fen: int
    over_short_fen: int
    changed_count: int
    changed_fen: int
    def __init__(self, sold_count: _Optional[int] = ..., sold_fen: _Optional[int] = ..., refunded_count: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., refund_fees_fen: _Optional[int] = ..., voided_count: _Optional[int] = ..., voided_fen: _Optional[int] = ..., reprinted_count: _Optional[int] = ..., methods: _Optional[_Iterable[_Union[MethodTotal, _Mapping]]] = ..., numbers_used: _Optional[_Iterable[str]] = ..., spoiled: _Optional[_Iterable[_Union[SpoiledNumber, _Mapping]]] = ..., unnumbered_ticket_ids: _Optional[_Iterable[str]] = ..., expected_cash_fen: _Optional[int] = ..., counted_cash_fen: _Optional[int] = ..., over_short_fen: _Optional[int] = ..., changed_count: _Optional[int] = ..., changed_fen: _Optional[int] = ...) -> None: ...

class Shift(_message.Message):
    __slots__ = ("shift_id", "account_id", "counter_id", "status", "opened_at", "closed_at", "numbers", "numbers_left", "next_number", "slip", "deposited_at", "deposited_by", "deposit_fen", "running")
    SHIFT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_FIELD_NUMBER: _ClassVar[int]
    NUMBERS_LEFT_FIELD_NUMBER: _ClassVar[int]
    NEXT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SLIP_FIELD_NUMBER: _ClassVar[int]
    DEPOSITED_AT_FIELD_NUMBER: _ClassVar[int]
    DEPOSITED_BY_FIELD_NUMBER: _ClassVar[int]
    DEPOSIT_FEN_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    shift_id: str
    account_id: str
    counter_id: str
    status: ShiftStatus
    opened_at: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    numbers: _containers.RepeatedCompositeFieldContainer[NumberUse]
    numbers_left: int
    next_number: str
    slip: Slip
    deposited_at: _timestamp_pb2.Timestamp
    deposited_by: str
    deposit_fen: int
    running: Slip
    def __init__(self, shift_id: _Optional[str] = ..., account_id: _Optional[str] = ..., counter_id: _Optional[str] = ..., status: _Optional[_Union[ShiftStatus, str]] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., numbers: _Optional[_Iterable[_Union[NumberUse, _Mapping]]] = ..., numbers_left: _Optional[int] = ..., next_number: _Optional[str] = ..., slip: _Optional[_Union[Slip, _Mapping]] = ..., deposited_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deposited_by: _Optional[str] = ..., deposit_fen: _Optional[int] = ..., running: _Optional[_Union[Slip, _Mapping]] = ...) -> None: ...

class OpenShiftResponse(_message.Message):
    __slots__ = ("shift",)
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    shift: Shift
    def __init__(self, shift: _Optional[_Union[Shift, _Mapping]] = ...) -> None: ...

class GetShiftResponse(_message.Message):
    __slots__ = ("shift",)
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    shift: Shift
    def __init__(self, shift: _Optional[_Union[Shift, _Mapping]] = ...) -> None: ...

class CloseShiftResponse(_message.Message):
    __slots__ = ("shift",)
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    shift: Shift
    def __init__(self, shift: _Optional[_Union[Shift, _Mapping]] = ...) -> None: ...

class ConfirmDepositResponse(_message.Message):
    __slots__ = ("shift",)
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    shift: Shift
    def __init__(self, shift: _Optional[_Union[Shift, _Mapping]] = ...) -> None: ...

class SpoilNumberResponse(_message.Message):
    __slots__ = ("shift",)
    SHIFT_FIELD_NUMBER: _ClassVar[int]
    shift: Shift
    def __init__(self, shift: _Optional[_Union[Shift, _Mapping]] = ...) -> None: ...

class OpenShiftRequest(_message.Message):
    __slots__ = ("request_id", "counter_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    counter_id: str
    def __init__(self, request_id: _Optional[str] = ..., counter_id: _Optional[str] = ...) -> None: ...

class GetShiftRequest(_message.Message):
    __slots__ = ("shift_id",)
    SHIFT_ID_FIELD_NUMBER: _ClassVar[int]
    shift_id: str
    def __init__(self, shift_id: _Optional[str] = ...) -> None: ...

class ListShiftsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "account_id")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    account_id: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class ListShiftsResponse(_message.Message):
    __slots__ = ("shifts", "next_page_token")
    SHIFTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    shifts: _containers.RepeatedCompositeFieldContainer[Shift]
    next_page_token: str
    def __init__(self, shifts: _Optional[_Iterable[_Union[Shift, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CloseShiftRequest(_message.Message):
    __slots__ = ("request_id", "counted_cash_fen")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTED_CASH_FEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    counted_cash_fen: int
    def __init__(self, request_id: _Optional[str] = ..., counted_cash_fen: _Optional[int] = ...) -> None: ...

class GetSlipPdfRequest(_message.Message):
    __slots__ = ("shift_id",)
    SHIFT_ID_FIELD_NUMBER: _ClassVar[int]
    shift_id: str
    def __init__(self, shift_id: _Optional[str] = ...) -> None: ...

class GetSlipPdfResponse(_message.Message):
    __slots__ = ("pdf", "file_name")
    PDF_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    pdf: bytes
    file_name: str
    def __init__(self, pdf: _Optional[bytes] = ..., file_name: _Optional[str] = ...) -> None: ...

class ConfirmDepositRequest(_message.Message):
    __slots__ = ("request_id", "shift_id", "amount_fen")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHIFT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    shift_id: str
    amount_fen: int
    def __init__(self, request_id: _Optional[str] = ..., shift_id: _Optional[str] = ..., amount_fen: _Optional[int] = ...) -> None: ...

class VoidTicketRequest(_message.Message):
    __slots__ = ("request_id", "ticket_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ticket_id: str
    def __init__(self, request_id: _Optional[str] = ..., ticket_id: _Optional[str] = ...) -> None: ...

class VoidTicketResponse(_message.Message):
    __slots__ = ("ticket", "spoiled_number")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    SPOILED_NUMBER_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    spoiled_number: str
    def __init__(self, ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., spoiled_number: _Optional[str] = ...) -> None: ...

class ReprintRequest(_message.Message):
    __slots__ = ("request_id", "ticket_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ticket_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReprintResponse(_message.Message):
    __slots__ = ("paper_number", "spoiled_number")
    PAPER_NUMBER_FIELD_NUMBER: _ClassVar[int]
    SPOILED_NUMBER_FIELD_NUMBER: _ClassVar[int]
    paper_number: PaperNumber
    spoiled_number: str
    def __init__(self, paper_number: _Optional[_Union[PaperNumber, _Mapping]] = ..., spoiled_number: _Optional[str] = ...) -> None: ...

class SpoilNumberRequest(_message.Message):
    __slots__ = ("request_id", "reason")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reason: str
    def __init__(self, request_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class StockBatch(_message.Message):
    __slots__ = ("batch_id", "batch_code", "first", "last", "received_at", "received_by", "unissued")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_CODE_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_BY_FIELD_NUMBER: _ClassVar[int]
    UNISSUED_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    batch_code: str
    first: str
    last: str
    received_at: _timestamp_pb2.Timestamp
    received_by: str
    unissued: int
    def __init__(self, batch_id: _Optional[str] = ..., batch_code: _Optional[str] = ..., first: _Optional[str] = ..., last: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., received_by: _Optional[str] = ..., unissued: _Optional[int] = ...) -> None: ...

class StockRange(_message.Message):
    __slots__ = ("range_id", "batch_id", "account_id", "first", "last", "next", "left", "issued_at")
    RANGE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    NEXT_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    range_id: str
    batch_id: str
    account_id: str
    first: str
    last: str
    next: str
    left: int
    issued_at: _timestamp_pb2.Timestamp
    def __init__(self, range_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., account_id: _Optional[str] = ..., first: _Optional[str] = ..., last: _Optional[str] = ..., next: _Optional[str] = ..., left: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReceiveStockRequest(_message.Message):
    __slots__ = ("request_id", "batch_code", "first", "last")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_CODE_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    batch_code: str
    first: str
    last: str
    def __init__(self, request_id: _Optional[str] = ..., batch_code: _Optional[str] = ..., first: _Optional[str] = ..., last: _Optional[str] = ...) -> None: ...

class IssueStockRequest(_message.Message):
    __slots__ = ("request_id", "batch_id", "seller", "first", "last")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    batch_id: str
    seller: str
    first: str
    last: str
    def __init__(self, request_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., seller: _Optional[str] = ..., first: _Optional[str] = ..., last: _Optional[str] = ...) -> None: ...

class ListStockRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class StockPage(_message.Message):
    __slots__ = ("batches", "ranges", "next_page_token")
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    batches: _containers.RepeatedCompositeFieldContainer[StockBatch]
    ranges: _containers.RepeatedCompositeFieldContainer[StockRange]
    next_page_token: str
    def __init__(self, batches: _Optional[_Iterable[_Union[StockBatch, _Mapping]]] = ..., ranges: _Optional[_Iterable[_Union[StockRange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReceiveStockResponse(_message.Message):
    __slots__ = ("stock",)
    STOCK_FIELD_NUMBER: _ClassVar[int]
    stock: StockPage
    def __init__(self, stock: _Optional[_Union[StockPage, _Mapping]] = ...) -> None: ...

class IssueStockResponse(_message.Message):
    __slots__ = ("stock",)
    STOCK_FIELD_NUMBER: _ClassVar[int]
    stock: StockPage
    def __init__(self, stock: _Optional[_Union[StockPage, _Mapping]] = ...) -> None: ...

class ListStockResponse(_message.Message):
    __slots__ = ("stock",)
    STOCK_FIELD_NUMBER: _ClassVar[int]
    stock: StockPage
    def __init__(self, stock: _Optional[_Union[StockPage, _Mapping]] = ...) -> None: ...
