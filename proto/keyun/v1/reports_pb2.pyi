from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SalesReportRequest(_message.Message):
    __slots__ = ("group_by", "from_date", "to_date", "page_size", "page_token")
    GROUP_BY_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    group_by: _containers.RepeatedScalarFieldContainer[str]
    from_date: str
    to_date: str
    page_size: int
    page_token: str
    def __init__(self, group_by: _Optional[_Iterable[str]] = ..., from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SalesLine(_message.Message):
    __slots__ = ("group", "tickets", "passengers", "revenue_fen", "base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen", "refunds", "refund_fen", "refund_fee_fen", "changes", "changed_fen", "voids", "voided_fen", "checked_in", "net_fen")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FEN_FIELD_NUMBER: _ClassVar[int]
    BASE_FEN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    FUEL_SURCHARGE_FEN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FEN_FIELD_NUMBER: _ClassVar[int]
    VOIDS_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FEN_FIELD_NUMBER: _ClassVar[int]
    CHECKED_IN_FIELD_NUMBER: _ClassVar[int]
    NET_FEN_FIELD_NUMBER: _ClassVar[int]
    group: _containers.RepeatedScalarFieldContainer[str]
    tickets: int
    passengers: int
    revenue_fen: int
    base_fen: int
    service_fee_fen: int
    fuel_surcharge_fen: int
    insurance_fen: int
    refunds: int
    refund_fen: int
    refund_fee_fen: int
    changes: int
    changed_fen: int
    voids: int
    voided_fen: int
    checked_in: int
    net_fen: int
    def __init__(self, group: _Optional[_Iterable[str]] = ..., tickets: _Optional[int] = ..., passengers: _Optional[int] = ..., revenue_fen: _Optional[int] = ..., base_fen: _Optional[int] = ..., service_fee_fen: _Optional[int] = ..., fuel_surcharge_fen: _Optional[int] = ..., insurance_fen: _Optional[int] = ..., refunds: _Optional[int] = ..., refund_fen: _Optional[int] = ..., refund_fee_fen: _Optional[int] = ..., changes: _Optional[int] = ..., changed_fen: _Optional[int] = ..., voids: _Optional[int] = ..., voided_fen: _Optional[int] = ..., checked_in: _Optional[int] = ..., net_fen: _Optional[int] = ...) -> None: ...

class SalesReportResponse(_message.Message):
    __slots__ = ("lines", "next_page_token", "total_lines")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[SalesLine]
    next_page_token: str
    total_lines: int
    def __init__(self, lines: _Optional[_Iterable[_Union[SalesLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_lines: _Optional[int] = ...) -> None: ...

class ProjectionStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class OwnerPosition(_message.Message):
    __slots__ = ("owner", "lsn", "records", "events", "gaps", "behind")
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    GAPS_FIELD_NUMBER: _ClassVar[int]
    BEHIND_FIELD_NUMBER: _ClassVar[int]
    owner: str
    lsn: int
    records: int
    events: int
    gaps: int
    behind: int
    def __init__(self, owner: _Optional[str] = ..., lsn: _Optional[int] = ..., records: _Optional[int] = ..., events: _Optional[int] = ..., gaps: _Optional[int] = ..., behind: _Optional[int] = ...) -> None: ...

class ProjectionStatusResponse(_message.Message):
    __slots__ = ("owners", "behind_seconds", "failure")
    OWNERS_FIELD_NUMBER: _ClassVar[int]
    BEHIND_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    owners: _containers.RepeatedCompositeFieldContainer[OwnerPosition]
    behind_seconds: float
    failure: str
    def __init__(self, owners: _Optional[_Iterable[_Union[OwnerPosition, _Mapping]]] = ..., behind_seconds: _Optional[float] = ..., failure: _Optional[str] = ...) -> None: ...
