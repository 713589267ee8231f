import datetime
from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper

from keyun.v1 import common_pb2 as _common_pb2

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
    def __init__(self, date: str | None = ..., method: PayMethod | str | None = ...) -> None: ...

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
    def __init__(
        self,
        discrepancy: Discrepancy | str | None = ...,
        kind: ReconcileLineKind | str | None = ...,
        provider_txn_id: str | None = ...,
        order_id: str | None = ...,
        provider_amount_fen: int | None = ...,
        keyun_amount_fen: int | None = ...,
    ) -> None: ...

class ReconcileResponse(_message.Message):
    __slots__ = (
        "matched",
        "discrepancies",
        "provider_paid_fen",
        "keyun_paid_fen",
        "provider_refunded_fen",
        "keyun_refunded_fen",
    )
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
    def __init__(
        self,
        matched: int | None = ...,
        discrepancies: _Iterable[ReconcileLine | _Mapping] | None = ...,
        provider_paid_fen: int | None = ...,
        keyun_paid_fen: int | None = ...,
        provider_refunded_fen: int | None = ...,
        keyun_refunded_fen: int | None = ...,
    ) -> None: ...

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
    def __init__(
        self,
        method: PayMethod | str | None = ...,
        provider_txn_id: str | None = ...,
        amount_fen: int | None = ...,
        paid_at: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
    ) -> None: ...

class OrderRefund(_message.Message):
    __slots__ = (
        "refund_no",
        "method",
        "ticket_ids",
        "amount_fen",
        "fee_fen",
        "requested_at",
        "reason",
        "provider_refund_id",
        "settled_at",
    )
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
    def __init__(
        self,
        refund_no: str | None = ...,
        method: PayMethod | str | None = ...,
        ticket_ids: _Iterable[str] | None = ...,
        amount_fen: int | None = ...,
        fee_fen: int | None = ...,
        requested_at: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        reason: str | None = ...,
        provider_refund_id: str | None = ...,
        settled_at: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
    ) -> None: ...

class OrderStatusChange(_message.Message):
    __slots__ = ("status", "at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    status: OrderStatus
    at: _timestamp_pb2.Timestamp
    def __init__(
        self,
        status: OrderStatus | str | None = ...,
        at: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
    ) -> None: ...

class Order(_message.Message):
    __slots__ = (
        "order_id",
        "trip",
        "status",
        "method",
        "amount_fen",
        "pay_by",
        "created_at",
        "from_stop",
        "to_stop",
        "seat_numbers",
        "holders",
        "tickets",
        "payments",
        "refunds",
        "history",
    )
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
    def __init__(
        self,
        order_id: str | None = ...,
        trip: _common_pb2.Trip | _Mapping | None = ...,
        status: OrderStatus | str | None = ...,
        method: PayMethod | str | None = ...,
        amount_fen: int | None = ...,
        pay_by: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        created_at: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        from_stop: _common_pb2.Stop | _Mapping | None = ...,
        to_stop: _common_pb2.Stop | _Mapping | None = ...,
        seat_numbers: _Iterable[str] | None = ...,
        holders: _Iterable[_common_pb2.TicketHolder | _Mapping] | None = ...,
        tickets: _Iterable[_common_pb2.Ticket | _Mapping] | None = ...,
        payments: _Iterable[OrderPayment | _Mapping] | None = ...,
        refunds: _Iterable[OrderRefund | _Mapping] | None = ...,
        history: _Iterable[OrderStatusChange | _Mapping] | None = ...,
    ) -> None: ...

class CreateOrderRequest(_message.Message):
    __slots__ = ("request_id", "hold_id", "method")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    hold_id: str
    method: PayMethod
    def __init__(
        self, request_id: str | None = ..., hold_id: str | None = ..., method: PayMethod | str | None = ...
    ) -> None: ...

class CreateOrderResponse(_message.Message):
    __slots__ = ("order", "pay_url", "qr_text")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    PAY_URL_FIELD_NUMBER: _ClassVar[int]
    QR_TEXT_FIELD_NUMBER: _ClassVar[int]
    order: Order
    pay_url: str
    qr_text: str
    def __init__(
        self, order: Order | _Mapping | None = ..., pay_url: str | None = ..., qr_text: str | None = ...
    ) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: str | None = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: Order | _Mapping | None = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: int | None = ..., page_token: str | None = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Iterable[Order | _Mapping] | None = ..., next_page_token: str | None = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("request_id", "order_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    def __init__(self, request_id: str | None = ..., order_id: str | None = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: Order | _Mapping | None = ...) -> None: ...

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
    def __init__(
        self,
        request_id: str | None = ...,
        order_id: str | None = ...,
        method: PayMethod | str | None = ...,
        terminal_id: str | None = ...,
    ) -> None: ...

class PayAtCounterResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: Order | _Mapping | None = ...) -> None: ...

class RefundOrderRequest(_message.Message):
    __slots__ = ("request_id", "order_id", "ticket_ids")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    order_id: str
    ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(
        self, request_id: str | None = ..., order_id: str | None = ..., ticket_ids: _Iterable[str] | None = ...
    ) -> None: ...

class RefundOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: Order | _Mapping | None = ...) -> None: ...

class WatchOrderRequest(_message.Message):
    __slots__ = ("order_id",)
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: str
    def __init__(self, order_id: str | None = ...) -> None: ...

class WatchOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: Order
    def __init__(self, order: Order | _Mapping | None = ...) -> None: ...
