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

class Discrepancy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISCREPANCY_UNSPECIFIED: _ClassVar[Discrepancy]
    DISCREPANCY_MISSING_IN_KEYUN: _ClassVar[Discrepancy]
    DISCREPANCY_MISSING_AT_PROVIDER: _ClassVar[Discrepancy]
    DISCREPANCY_AMOUNT_DIFFERS: _ClassVar[Discrepancy]

class ReconcileLineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECONCILE_LINE_KIND_UNSPECIFIED: _ClassVar[ReconcileLineKind]
    RECONCILE_LINE_KIND_PAY: _ClassVar[ReconcileLineKind]
    RECONCILE_LINE_KIND_REFUND: _ClassVar[ReconcileLineKind]

class PayMethod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAY_METHOD_UNSPECIFIED: _ClassVar[PayMethod]
    PAY_METHOD_CASH: _ClassVar[PayMethod]
    PAY_METHOD_CARD: _ClassVar[PayMethod]
    PAY_METHOD_WEPAY: _ClassVar[PayMethod]
    PAY_METHOD_ALIPAY: _ClassVar[PayMethod]

class OrderStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_STATUS_UNSPECIFIED: _ClassVar[OrderStatus]
    ORDER_STATUS_PENDING_PAYMENT: _ClassVar[OrderStatus]
    ORDER_STATUS_TICKETED: _ClassVar[OrderStatus]
    ORDER_STATUS_CANCELLED: _ClassVar[OrderStatus]
    ORDER_STATUS_EXPIRED: _ClassVar[OrderStatus]
    ORDER_STATUS_PARTIALLY_REFUNDED: _ClassVar[OrderStatus]
    ORDER_STATUS_REFUNDED: _ClassVar[OrderStatus]
    ORDER_STATUS_CHANGED: _ClassVar[OrderStatus]
    ORDER_STATUS_PAID: _ClassVar[OrderStatus]
DISCREPANCY_UNSPECIFIED: Discrepancy
DISCREPANCY_MISSING_IN_KEYUN: Discrepancy
DISCREPANCY_MISSING_AT_PROVIDER: Discrepancy
DISCREPANCY_AMOUNT_DIFFERS: Discrepancy
RECONCILE_LINE_KIND_UNSPECIFIED: ReconcileLineKind
RECONCILE_LINE_KIND_PAY: ReconcileLineKind
RECONCILE_LINE_KIND_REFUND: ReconcileLineKind
PAY_METHOD_UNSPECIFIED: PayMethod
PAY_METHOD_CASH: PayMethod
PAY_METHOD_CARD: PayMethod
PAY_METHOD_WEPAY: PayMethod
PAY_METHOD_ALIPAY: PayMethod
ORDER_STATUS_UNSPECIFIED: OrderStatus
ORDER_STATUS_PENDING_PAYMENT: OrderStatus
ORDER_STATUS_TICKETED: OrderStatus
ORDER_STATUS_CANCELLED: OrderStatus
ORDER_STATUS_EXPIRED: OrderStatus
ORDER_STATUS_PARTIALLY_REFUNDED: OrderStatus
ORDER_STATUS_REFUNDED: OrderStatus
ORDER_STATUS_CHANGED: OrderStatus
ORDER_STATUS_PAID: OrderStatus

class ReconcileRequest(_message.Message):
    __slots__ = ("date", "method")
    DATE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    date: str
    method: PayMethod
    def __init__(self, date: _Optional[str] = ..., method: _Optional[_Union[PayMethod, str]] = ...) -> None: ...

class ReconcileLine(_message.Message):
    __slots__ = ("discrepancy", "kind", "provider_txn_id", "order_id", "provider_amount_fen", "keyun_amount_fen")
    DISCREPANCY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    KEYUN_AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    discrepancy: Discrepancy
    kind: ReconcileLineKind
    provider_txn_id: str
    order_id: str
    provider_amount_fen: int
    keyun_amount_fen: int
    def __init__(self, discrepancy: _Optional[_Union[Discrepancy, str]] = ..., kind: _Optional[_Union[ReconcileLineKind, str]] = ..., provider_txn_id: _Optional[str] = ..., order_id: _Optional[str] = ..., provider_amount_fen: _Optional[int] = ..., keyun_amount_fen: _Optional[int] = ...) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = ("matched", "discrepancies", "provider_paid_fen", "keyun_paid_fen", "provider_refunded_fen", "keyun_refunded_fen")
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    DISCREPANCIES_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    KEYUN_PAID_FEN_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    KEYUN_REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    matched: int
    discrepancies: _containers.RepeatedCompositeFieldContainer[ReconcileLine]
    provider_paid_fen: int
    keyun_paid_fen: int
    provider_refunded_fen: int
    keyun_refunded_fen: int
    def __init__(self, matched: _Optional[int] = ..., discrepancies: _Optional[_Iterable[_Union[ReconcileLine, _Mapping]]] = ..., provider_paid_fen: _Optional[int] = ..., keyun_paid_fen: _Optional[int] = ..., provider_refunded_fen: _Optional[int] = ..., keyun_refunded_fen: _Optional[int] = ...) -> None: ...

class OrderPayment(_message.Message):
    __slots__ = ("method", "provider_txn_id", "amount_fen", "paid_at")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_TXN_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_FIELD_NUMBER: _ClassVar[int]
    method: PayMethod
    provider_txn_id: str
    amount_fen: int
    paid_at: _timestamp_pb2.Timestamp
    def __init__(self, method: _Optional[_Union[PayMethod, str]] = ..., provider_txn_id: _Optional[str] = ..., amount_fen: _Optional[int] = ..., paid_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrderRefund(_message.Message):
    __slots__ = ("refund_no", "method", "ticket_ids", "amount_fen", "fee_fen", "requested_at", "reason", "provider_refund_id", "settled_at")
    REFUND_NO_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    SETTLED_AT_FIELD_NUMBER: _ClassVar[int]
    refund_no: str
    method: PayMethod
    ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    amount_fen: int
    fee_fen: int
    requested_at: _timestamp_pb2.Timestamp
    reason: str
    provider_refund_id: str
    settled_at: _timestamp_pb2.Timestamp
    def __init__(self, refund_no: _Optional[str] = ..., method: _Optional[_Union[PayMethod, str]] = ..., ticket_ids: _Optional[_Iterable[str]] = ..., amount_fen: _Optional[int] = ..., fee_fen: _Optional[int] = ..., requested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., provider_refund_id: _Optional[str] = ..., settled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrderStatusChange(_message.Message):
    __slots__ = ("status", "at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    status: OrderStatus
    at: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[OrderStatus, str]] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("order_id", "trip", "status", "method", "amount_fen", "pay_by", "created_at", "from_stop", "to_stop", "seat_numbers", "holders", "tickets", "payments", "refunds", "history", "fares")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    PAY_BY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    HOLDERS_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    FARES_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    trip: _common_pb2.Trip
    status: OrderStatus
    method: PayMethod
    amount_fen: int
    pay_by: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    from_stop: _common_pb2.Stop
    to_stop: _common_pb2.Stop
    seat_numbers: _containers.RepeatedScalarFieldContainer[str]
    holders: _containers.RepeatedCompositeFieldContainer[_common_pb2.TicketHolder]
    tickets: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ticket]
    payments: _containers.RepeatedCompositeFieldContainer[OrderPayment]
    refunds: _containers.RepeatedCompositeFieldContainer[OrderRefund]
    history: _containers.RepeatedCompositeFieldContainer[OrderStatusChange]
    fares: _containers.RepeatedCompositeFieldContainer[_common_pb2.FareComponents]
    def __init__(self, order_id: _Optional[str] = ..., trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., status: _Optional[_Union[OrderStatus, str]] = ..., method: _Optional[_Union[PayMethod, str]] = ..., amount_fen: _Optional[int] = ..., pay_by: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., from_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., to_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., seat_numbers: _Optional[_Iterable[str]] = ..., holders: _Optional[_Iterable[_Union[_common_pb2.TicketHolder, _Mapping]]] = ..., tickets: _Optional[_Iterable[_Union[_common_pb2.Ticket, _Mapping]]] = ..., payments: _Optional[_Iterable[_Union[OrderPayment, _Mapping]]] = ..., refunds: _Optional[_Iterable[_Union[OrderRefund, _Mapping]]] = ..., history: _Optional[_Iterable[_Union[OrderStatusChange, _Mapping]]] = ..., fares: _Optional[_Iterable[_Union[_common_pb2.FareComponents, _Mapping]]] = ...) -> None: ...

class CreateOrderRequest(_message.Message):
    __slots__ = ("request_id", "hold_id", "method")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    method: PayMethod
    def __init__(self, request_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., method: _Optional[_Union[PayMethod, str]] = ...) -> None: ...

class CreateOrderResponse(_message.Message):
    __slots__ = ("order", "pay_url", "qr_text")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAY_URL_FIELD_NUMBER: _ClassVar[int]
    QR_TEXT_FIELD_NUMBER: _ClassVar[int]
    order: Order
    pay_url: str
    qr_text: str
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ..., pay_url: _Optional[str] = ..., qr_text: _Optional[str] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("request_id", "order_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class PayAtCounterRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "method", "terminal_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TERMINAL_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    method: PayMethod
    terminal_id: str
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., method: _Optional[_Union[PayMethod, str]] = ..., terminal_id: _Optional[str] = ...) -> None: ...

class PayAtCounterResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class RefundOrderRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "ticket_ids")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, request_id: _Optional[str] = ..., order_id: _Optional[str] = ..., ticket_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class RefundOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...

class WatchOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: _Optional[str] = ...) -> None: ...

class WatchOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: _Optional[_Union[Order, _Mapping]] = ...) -> None: ...
