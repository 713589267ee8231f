import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import shifts_pb2 as _shifts_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SettlementTicketState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_TICKET_STATE_UNSPECIFIED: _ClassVar[SettlementTicketState]
    SETTLEMENT_TICKET_STATE_SOLD: _ClassVar[SettlementTicketState]
    SETTLEMENT_TICKET_STATE_CHECKED_IN: _ClassVar[SettlementTicketState]
    SETTLEMENT_TICKET_STATE_NO_SHOW: _ClassVar[SettlementTicketState]
    SETTLEMENT_TICKET_STATE_REFUNDED: _ClassVar[SettlementTicketState]
    SETTLEMENT_TICKET_STATE_CHANGED: _ClassVar[SettlementTicketState]
    SETTLEMENT_TICKET_STATE_VOIDED: _ClassVar[SettlementTicketState]
    SETTLEMENT_TICKET_STATE_TRIP_CANCELLED: _ClassVar[SettlementTicketState]

class SettlementAdjustmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_ADJUSTMENT_KIND_UNSPECIFIED: _ClassVar[SettlementAdjustmentKind]
    SETTLEMENT_ADJUSTMENT_KIND_LATE: _ClassVar[SettlementAdjustmentKind]
    SETTLEMENT_ADJUSTMENT_KIND_MANUAL: _ClassVar[SettlementAdjustmentKind]
SETTLEMENT_TICKET_STATE_UNSPECIFIED: SettlementTicketState
SETTLEMENT_TICKET_STATE_SOLD: SettlementTicketState
SETTLEMENT_TICKET_STATE_CHECKED_IN: SettlementTicketState
SETTLEMENT_TICKET_STATE_NO_SHOW: SettlementTicketState
SETTLEMENT_TICKET_STATE_REFUNDED: SettlementTicketState
SETTLEMENT_TICKET_STATE_CHANGED: SettlementTicketState
SETTLEMENT_TICKET_STATE_VOIDED: SettlementTicketState
SETTLEMENT_TICKET_STATE_TRIP_CANCELLED: SettlementTicketState
SETTLEMENT_ADJUSTMENT_KIND_UNSPECIFIED: SettlementAdjustmentKind
SETTLEMENT_ADJUSTMENT_KIND_LATE: SettlementAdjustmentKind
SETTLEMENT_ADJUSTMENT_KIND_MANUAL: SettlementAdjustmentKind

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
    __slots__ = ("group", "tickets", "passengers", "revenue_fen", "base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen", "refunds", "refund_fen", "refund_fee_fen", "changes", "changed_fen", "voids", "voided_fen", "checked_in", "net_fen", "passenger_km", "no_shows", "no_show_fen")
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
    PASSENGER_KM_FIELD_NUMBER: _ClassVar[int]
    NO_SHOWS_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_FEN_FIELD_NUMBER: _ClassVar[int]
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
    passenger_km: int
    no_shows: int
    no_show_fen: int
    def __init__(self, group: _Optional[_Iterable[str]] = ..., tickets: _Optional[int] = ..., passengers: _Optional[int] = ..., revenue_fen: _Optional[int] = ..., base_fen: _Optional[int] = ..., service_fee_fen: _Optional[int] = ..., fuel_surcharge_fen: _Optional[int] = ..., insurance_fen: _Optional[int] = ..., refunds: _Optional[int] = ..., refund_fen: _Optional[int] = ..., refund_fee_fen: _Optional[int] = ..., changes: _Optional[int] = ..., changed_fen: _Optional[int] = ..., voids: _Optional[int] = ..., voided_fen: _Optional[int] = ..., checked_in: _Optional[int] = ..., net_fen: _Optional[int] = ..., passenger_km: _Optional[int] = ..., no_shows: _Optional[int] = ..., no_show_fen: _Optional[int] = ...) -> None: ...

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

class LoadReportRequest(_message.Message):
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

class LegLoad(_message.Message):
    __slots__ = ("from_station", "to_station", "km", "on_board", "checked_in")
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    KM_FIELD_NUMBER: _ClassVar[int]
    ON_BOARD_FIELD_NUMBER: _ClassVar[int]
    CHECKED_IN_FIELD_NUMBER: _ClassVar[int]
    from_station: str
    to_station: str
    km: int
    on_board: int
    checked_in: int
    def __init__(self, from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., km: _Optional[int] = ..., on_board: _Optional[int] = ..., checked_in: _Optional[int] = ...) -> None: ...

class LoadLine(_message.Message):
    __slots__ = ("group", "trips", "seats", "tickets", "checked_in", "no_shows", "no_show_fen", "peak_on_board", "seat_km_offered", "seat_km_sold", "passenger_km", "load_factor", "tickets_per_seat", "legs")
    GROUP_FIELD_NUMBER: _ClassVar[int]
    TRIPS_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_IN_FIELD_NUMBER: _ClassVar[int]
    NO_SHOWS_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_FEN_FIELD_NUMBER: _ClassVar[int]
    PEAK_ON_BOARD_FIELD_NUMBER: _ClassVar[int]
    SEAT_KM_OFFERED_FIELD_NUMBER: _ClassVar[int]
    SEAT_KM_SOLD_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_KM_FIELD_NUMBER: _ClassVar[int]
    LOAD_FACTOR_FIELD_NUMBER: _ClassVar[int]
    TICKETS_PER_SEAT_FIELD_NUMBER: _ClassVar[int]
    LEGS_FIELD_NUMBER: _ClassVar[int]
    group: _containers.RepeatedScalarFieldContainer[str]
    trips: int
    seats: int
    tickets: int
    checked_in: int
    no_shows: int
    no_show_fen: int
    peak_on_board: int
    seat_km_offered: int
    seat_km_sold: int
    passenger_km: int
    load_factor: float
    tickets_per_seat: float
    legs: _containers.RepeatedCompositeFieldContainer[LegLoad]
    def __init__(self, group: _Optional[_Iterable[str]] = ..., trips: _Optional[int] = ..., seats: _Optional[int] = ..., tickets: _Optional[int] = ..., checked_in: _Optional[int] = ..., no_shows: _Optional[int] = ..., no_show_fen: _Optional[int] = ..., peak_on_board: _Optional[int] = ..., seat_km_offered: _Optional[int] = ..., seat_km_sold: _Optional[int] = ..., passenger_km: _Optional[int] = ..., load_factor: _Optional[float] = ..., tickets_per_seat: _Optional[float] = ..., legs: _Optional[_Iterable[_Union[LegLoad, _Mapping]]] = ...) -> None: ...

class LoadReportResponse(_message.Message):
    __slots__ = ("lines", "next_page_token", "total_lines")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LoadLine]
    next_page_token: str
    total_lines: int
    def __init__(self, lines: _Optional[_Iterable[_Union[LoadLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_lines: _Optional[int] = ...) -> None: ...

class ShiftReportRequest(_message.Message):
    __slots__ = ("from_date", "to_date", "page_size", "page_token")
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    from_date: str
    to_date: str
    page_size: int
    page_token: str
    def __init__(self, from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ShiftTotals(_message.Message):
    __slots__ = ("sold_count", "sold_fen", "refunded_count", "refunded_fen", "refund_fees_fen", "voided_count", "voided_fen", "changed_count", "changed_fen", "net_fen", "methods")
    SOLD_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOLD_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEES_FEN_FIELD_NUMBER: _ClassVar[int]
    VOIDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FEN_FIELD_NUMBER: _ClassVar[int]
    CHANGED_COUNT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FEN_FIELD_NUMBER: _ClassVar[int]
    NET_FEN_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    sold_count: int
    sold_fen: int
    refunded_count: int
    refunded_fen: int
    refund_fees_fen: int
    voided_count: int
    voided_fen: int
    changed_count: int
    changed_fen: int
    net_fen: int
    methods: _containers.RepeatedCompositeFieldContainer[_shifts_pb2.MethodTotal]
    def __init__(self, sold_count: _Optional[int] = ..., sold_fen: _Optional[int] = ..., refunded_count: _Optional[int] = ..., refunded_fen: _Optional[int] = ..., refund_fees_fen: _Optional[int] = ..., voided_count: _Optional[int] = ..., voided_fen: _Optional[int] = ..., changed_count: _Optional[int] = ..., changed_fen: _Optional[int] = ..., net_fen: _Optional[int] = ..., methods: _Optional[_Iterable[_Union[_shifts_pb2.MethodTotal, _Mapping]]] = ...) -> None: ...

class ShiftLine(_message.Message):
    __slots__ = ("shift_id", "seller", "counter_id", "opened_at", "closed_at", "slip", "tickets", "reconciled", "differences", "difference_fen")
    SHIFT_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    COUNTER_ID_FIELD_NUMBER: _ClassVar[int]
    OPENED_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    SLIP_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    RECONCILED_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCE_FEN_FIELD_NUMBER: _ClassVar[int]
    shift_id: str
    seller: str
    counter_id: str
    opened_at: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    slip: ShiftTotals
    tickets: ShiftTotals
    reconciled: bool
    differences: _containers.RepeatedScalarFieldContainer[str]
    difference_fen: int
    def __init__(self, shift_id: _Optional[str] = ..., seller: _Optional[str] = ..., counter_id: _Optional[str] = ..., opened_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., slip: _Optional[_Union[ShiftTotals, _Mapping]] = ..., tickets: _Optional[_Union[ShiftTotals, _Mapping]] = ..., reconciled: _Optional[bool] = ..., differences: _Optional[_Iterable[str]] = ..., difference_fen: _Optional[int] = ...) -> None: ...

class ShiftReportResponse(_message.Message):
    __slots__ = ("lines", "next_page_token", "total_lines")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[ShiftLine]
    next_page_token: str
    total_lines: int
    def __init__(self, lines: _Optional[_Iterable[_Union[ShiftLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_lines: _Optional[int] = ...) -> None: ...

class FunnelReportRequest(_message.Message):
    __slots__ = ("from_date", "to_date", "channel")
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    from_date: str
    to_date: str
    channel: str
    def __init__(self, from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class FunnelLine(_message.Message):
    __slots__ = ("day", "channel", "searched", "seat_maps", "held", "ordered", "paid", "abandoned", "seat_map_drop_pct", "held_drop_pct", "ordered_drop_pct", "paid_drop_pct")
    DAY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEARCHED_FIELD_NUMBER: _ClassVar[int]
    SEAT_MAPS_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    ORDERED_FIELD_NUMBER: _ClassVar[int]
    PAID_FIELD_NUMBER: _ClassVar[int]
    ABANDONED_FIELD_NUMBER: _ClassVar[int]
    SEAT_MAP_DROP_PCT_FIELD_NUMBER: _ClassVar[int]
    HELD_DROP_PCT_FIELD_NUMBER: _ClassVar[int]
    ORDERED_DROP_PCT_FIELD_NUMBER: _ClassVar[int]
    PAID_DROP_PCT_FIELD_NUMBER: _ClassVar[int]
    day: str
    channel: str
    searched: int
    seat_maps: int
    held: int
    ordered: int
    paid: int
    abandoned: int
    seat_map_drop_pct: float
    held_drop_pct: float
    ordered_drop_pct: float
    paid_drop_pct: float
    def __init__(self, day: _Optional[str] = ..., channel: _Optional[str] = ..., searched: _Optional[int] = ..., seat_maps: _Optional[int] = ..., held: _Optional[int] = ..., ordered: _Optional[int] = ..., paid: _Optional[int] = ..., abandoned: _Optional[int] = ..., seat_map_drop_pct: _Optional[float] = ..., held_drop_pct: _Optional[float] = ..., ordered_drop_pct: _Optional[float] = ..., paid_drop_pct: _Optional[float] = ...) -> None: ...

class FunnelReportResponse(_message.Message):
    __slots__ = ("lines", "sample_rate")
    LINES_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[FunnelLine]
    sample_rate: float
    def __init__(self, lines: _Optional[_Iterable[_Union[FunnelLine, _Mapping]]] = ..., sample_rate: _Optional[float] = ...) -> None: ...

class BehaviourReportRequest(_message.Message):
    __slots__ = ("from_date", "to_date", "sections")
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    from_date: str
    to_date: str
    sections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., sections: _Optional[_Iterable[str]] = ...) -> None: ...

class LeadTimeBucket(_message.Message):
    __slots__ = ("bucket", "tickets")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    tickets: int
    def __init__(self, bucket: _Optional[str] = ..., tickets: _Optional[int] = ...) -> None: ...

class HeatCell(_message.Message):
    __slots__ = ("day_of_week", "hour", "tickets")
    DAY_OF_WEEK_FIELD_NUMBER: _ClassVar[int]
    HOUR_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    day_of_week: int
    hour: int
    tickets: int
    def __init__(self, day_of_week: _Optional[int] = ..., hour: _Optional[int] = ..., tickets: _Optional[int] = ...) -> None: ...

class OdDemand(_message.Message):
    __slots__ = ("from_station", "to_station", "searches", "no_results", "sold_out", "unmet", "tickets")
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    SEARCHES_FIELD_NUMBER: _ClassVar[int]
    NO_RESULTS_FIELD_NUMBER: _ClassVar[int]
    SOLD_OUT_FIELD_NUMBER: _ClassVar[int]
    UNMET_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    from_station: str
    to_station: str
    searches: int
    no_results: int
    sold_out: int
    unmet: int
    tickets: int
    def __init__(self, from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., searches: _Optional[int] = ..., no_results: _Optional[int] = ..., sold_out: _Optional[int] = ..., unmet: _Optional[int] = ..., tickets: _Optional[int] = ...) -> None: ...

class RefundChangeRate(_message.Message):
    __slots__ = ("bucket", "tickets", "refunds", "changes", "refund_pct", "change_pct")
    BUCKET_FIELD_NUMBER: _ClassVar[int]
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    REFUND_PCT_FIELD_NUMBER: _ClassVar[int]
    CHANGE_PCT_FIELD_NUMBER: _ClassVar[int]
    bucket: str
    tickets: int
    refunds: int
    changes: int
    refund_pct: float
    change_pct: float
    def __init__(self, bucket: _Optional[str] = ..., tickets: _Optional[int] = ..., refunds: _Optional[int] = ..., changes: _Optional[int] = ..., refund_pct: _Optional[float] = ..., change_pct: _Optional[float] = ...) -> None: ...

class RepeatTravellers(_message.Message):
    __slots__ = ("month", "trips", "passengers")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    TRIPS_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    month: str
    trips: int
    passengers: int
    def __init__(self, month: _Optional[str] = ..., trips: _Optional[int] = ..., passengers: _Optional[int] = ...) -> None: ...

class BehaviourReportResponse(_message.Message):
    __slots__ = ("lead_time", "heat_map", "od_demand", "refund_change", "repeat")
    LEAD_TIME_FIELD_NUMBER: _ClassVar[int]
    HEAT_MAP_FIELD_NUMBER: _ClassVar[int]
    OD_DEMAND_FIELD_NUMBER: _ClassVar[int]
    REFUND_CHANGE_FIELD_NUMBER: _ClassVar[int]
    REPEAT_FIELD_NUMBER: _ClassVar[int]
    lead_time: _containers.RepeatedCompositeFieldContainer[LeadTimeBucket]
    heat_map: _containers.RepeatedCompositeFieldContainer[HeatCell]
    od_demand: _containers.RepeatedCompositeFieldContainer[OdDemand]
    refund_change: _containers.RepeatedCompositeFieldContainer[RefundChangeRate]
    repeat: _containers.RepeatedCompositeFieldContainer[RepeatTravellers]
    def __init__(self, lead_time: _Optional[_Iterable[_Union[LeadTimeBucket, _Mapping]]] = ..., heat_map: _Optional[_Iterable[_Union[HeatCell, _Mapping]]] = ..., od_demand: _Optional[_Iterable[_Union[OdDemand, _Mapping]]] = ..., refund_change: _Optional[_Iterable[_Union[RefundChangeRate, _Mapping]]] = ..., repeat: _Optional[_Iterable[_Union[RepeatTravellers, _Mapping]]] = ...) -> None: ...

class Deduction(_message.Message):
    __slots__ = ("name", "fen")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FEN_FIELD_NUMBER: _ClassVar[int]
    name: str
    fen: int
    def __init__(self, name: _Optional[str] = ..., fen: _Optional[int] = ...) -> None: ...

class OperatorContract(_message.Message):
    __slots__ = ("operator_id", "effective_from", "agency_fee_bp", "operator_keeps_service_fee", "refund_fee_station_bp", "no_show_station_bp", "deductions", "set_by", "set_at_ms")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FEE_BP_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_KEEPS_SERVICE_FEE_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEE_STATION_BP_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_STATION_BP_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIONS_FIELD_NUMBER: _ClassVar[int]
    SET_BY_FIELD_NUMBER: _ClassVar[int]
    SET_AT_MS_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    effective_from: str
    agency_fee_bp: int
    operator_keeps_service_fee: bool
    refund_fee_station_bp: int
    no_show_station_bp: int
    deductions: _containers.RepeatedCompositeFieldContainer[Deduction]
    set_by: str
    set_at_ms: int
    def __init__(self, operator_id: _Optional[str] = ..., effective_from: _Optional[str] = ..., agency_fee_bp: _Optional[int] = ..., operator_keeps_service_fee: _Optional[bool] = ..., refund_fee_station_bp: _Optional[int] = ..., no_show_station_bp: _Optional[int] = ..., deductions: _Optional[_Iterable[_Union[Deduction, _Mapping]]] = ..., set_by: _Optional[str] = ..., set_at_ms: _Optional[int] = ...) -> None: ...

class SettlementFigures(_message.Message):
    __slots__ = ("tickets", "revenue_fen", "base_fen", "service_fee_fen", "fuel_surcharge_fen", "insurance_fen", "refunds", "refund_fen", "refund_fee_fen", "refund_fee_station_fen", "refund_fee_operator_fen", "refund_retained_fen", "changes", "changed_fen", "voids", "voided_fen", "station_service_fee_fen", "insurance_held_fen", "agency_fee_fen", "no_shows", "no_show_fen", "no_show_station_fen", "payable_fen", "trip_cancelled", "trip_cancelled_fen")
    TICKETS_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FEN_FIELD_NUMBER: _ClassVar[int]
    BASE_FEN_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    FUEL_SURCHARGE_FEN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEE_STATION_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_FEE_OPERATOR_FEN_FIELD_NUMBER: _ClassVar[int]
    REFUND_RETAINED_FEN_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FEN_FIELD_NUMBER: _ClassVar[int]
    VOIDS_FIELD_NUMBER: _ClassVar[int]
    VOIDED_FEN_FIELD_NUMBER: _ClassVar[int]
    STATION_SERVICE_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    INSURANCE_HELD_FEN_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    NO_SHOWS_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_FEN_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_STATION_FEN_FIELD_NUMBER: _ClassVar[int]
    PAYABLE_FEN_FIELD_NUMBER: _ClassVar[int]
    TRIP_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    TRIP_CANCELLED_FEN_FIELD_NUMBER: _ClassVar[int]
    tickets: int
    revenue_fen: int
    base_fen: int
    service_fee_fen: int
    fuel_surcharge_fen: int
    insurance_fen: int
    refunds: int
    refund_fen: int
    refund_fee_fen: int
    refund_fee_station_fen: int
    refund_fee_operator_fen: int
    refund_retained_fen: int
    changes: int
    changed_fen: int
    voids: int
    voided_fen: int
    station_service_fee_fen: int
    insurance_held_fen: int
    agency_fee_fen: int
    no_shows: int
    no_show_fen: int
    no_show_station_fen: int
    payable_fen: int
    trip_cancelled: int
    trip_cancelled_fen: int
    def __init__(self, tickets: _Optional[int] = ..., revenue_fen: _Optional[int] = ..., base_fen: _Optional[int] = ..., service_fee_fen: _Optional[int] = ..., fuel_surcharge_fen: _Optional[int] = ..., insurance_fen: _Optional[int] = ..., refunds: _Optional[int] = ..., refund_fen: _Optional[int] = ..., refund_fee_fen: _Optional[int] = ..., refund_fee_station_fen: _Optional[int] = ..., refund_fee_operator_fen: _Optional[int] = ..., refund_retained_fen: _Optional[int] = ..., changes: _Optional[int] = ..., changed_fen: _Optional[int] = ..., voids: _Optional[int] = ..., voided_fen: _Optional[int] = ..., station_service_fee_fen: _Optional[int] = ..., insurance_held_fen: _Optional[int] = ..., agency_fee_fen: _Optional[int] = ..., no_shows: _Optional[int] = ..., no_show_fen: _Optional[int] = ..., no_show_station_fen: _Optional[int] = ..., payable_fen: _Optional[int] = ..., trip_cancelled: _Optional[int] = ..., trip_cancelled_fen: _Optional[int] = ...) -> None: ...

class SettlementTicketLine(_message.Message):
    __slots__ = ("ticket_id", "trip_id", "service_date", "state", "ticket_type", "figures")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_DATE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TICKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    trip_id: str
    service_date: str
    state: SettlementTicketState
    ticket_type: str
    figures: SettlementFigures
    def __init__(self, ticket_id: _Optional[str] = ..., trip_id: _Optional[str] = ..., service_date: _Optional[str] = ..., state: _Optional[_Union[SettlementTicketState, str]] = ..., ticket_type: _Optional[str] = ..., figures: _Optional[_Union[SettlementFigures, _Mapping]] = ...) -> None: ...

class SettlementAdjustment(_message.Message):
    __slots__ = ("kind", "adjustment_id", "reason", "amount_fen", "ticket_ids", "figures", "added_by", "added_at_ms", "lock_id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    TICKET_IDS_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    ADDED_BY_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    kind: SettlementAdjustmentKind
    adjustment_id: str
    reason: str
    amount_fen: int
    ticket_ids: _containers.RepeatedScalarFieldContainer[str]
    figures: SettlementFigures
    added_by: str
    added_at_ms: int
    lock_id: str
    def __init__(self, kind: _Optional[_Union[SettlementAdjustmentKind, str]] = ..., adjustment_id: _Optional[str] = ..., reason: _Optional[str] = ..., amount_fen: _Optional[int] = ..., ticket_ids: _Optional[_Iterable[str]] = ..., figures: _Optional[_Union[SettlementFigures, _Mapping]] = ..., added_by: _Optional[str] = ..., added_at_ms: _Optional[int] = ..., lock_id: _Optional[str] = ...) -> None: ...

class SettlementLockInfo(_message.Message):
    __slots__ = ("lock_id", "operator_id", "from_date", "to_date", "as_of_ms", "totals", "deductions_fen", "amount_payable_fen", "locked_by", "locked_at_ms")
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    AS_OF_MS_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIONS_FEN_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_PAYABLE_FEN_FIELD_NUMBER: _ClassVar[int]
    LOCKED_BY_FIELD_NUMBER: _ClassVar[int]
    LOCKED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    lock_id: str
    operator_id: str
    from_date: str
    to_date: str
    as_of_ms: int
    totals: SettlementFigures
    deductions_fen: int
    amount_payable_fen: int
    locked_by: str
    locked_at_ms: int
    def __init__(self, lock_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., as_of_ms: _Optional[int] = ..., totals: _Optional[_Union[SettlementFigures, _Mapping]] = ..., deductions_fen: _Optional[int] = ..., amount_payable_fen: _Optional[int] = ..., locked_by: _Optional[str] = ..., locked_at_ms: _Optional[int] = ...) -> None: ...

class SetContractRequest(_message.Message):
    __slots__ = ("request_id", "contract")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    contract: OperatorContract
    def __init__(self, request_id: _Optional[str] = ..., contract: _Optional[_Union[OperatorContract, _Mapping]] = ...) -> None: ...

class SetContractResponse(_message.Message):
    __slots__ = ("contract",)
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    contract: OperatorContract
    def __init__(self, contract: _Optional[_Union[OperatorContract, _Mapping]] = ...) -> None: ...

class ListContractsRequest(_message.Message):
    __slots__ = ("operator_id",)
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    def __init__(self, operator_id: _Optional[str] = ...) -> None: ...

class ListContractsResponse(_message.Message):
    __slots__ = ("contracts", "locks", "adjustments")
    CONTRACTS_FIELD_NUMBER: _ClassVar[int]
    LOCKS_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENTS_FIELD_NUMBER: _ClassVar[int]
    contracts: _containers.RepeatedCompositeFieldContainer[OperatorContract]
    locks: _containers.RepeatedCompositeFieldContainer[SettlementLockInfo]
    adjustments: _containers.RepeatedCompositeFieldContainer[SettlementAdjustment]
    def __init__(self, contracts: _Optional[_Iterable[_Union[OperatorContract, _Mapping]]] = ..., locks: _Optional[_Iterable[_Union[SettlementLockInfo, _Mapping]]] = ..., adjustments: _Optional[_Iterable[_Union[SettlementAdjustment, _Mapping]]] = ...) -> None: ...

class SettlementSheetRequest(_message.Message):
    __slots__ = ("operator_id", "from_date", "to_date")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    from_date: str
    to_date: str
    def __init__(self, operator_id: _Optional[str] = ..., from_date: _Optional[str] = ..., to_date: _Optional[str] = ...) -> None: ...

class SettlementSheetResponse(_message.Message):
    __slots__ = ("operator_id", "from_date", "to_date", "contract", "totals", "deductions", "deductions_fen", "lock", "adjustments", "adjustments_fen", "amount_payable_fen")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIONS_FIELD_NUMBER: _ClassVar[int]
    DEDUCTIONS_FEN_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENTS_FIELD_NUMBER: _ClassVar[int]
    ADJUSTMENTS_FEN_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_PAYABLE_FEN_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    from_date: str
    to_date: str
    contract: OperatorContract
    totals: SettlementFigures
    deductions: _containers.RepeatedCompositeFieldContainer[Deduction]
    deductions_fen: int
    lock: SettlementLockInfo
    adjustments: _containers.RepeatedCompositeFieldContainer[SettlementAdjustment]
    adjustments_fen: int
    amount_payable_fen: int
    def __init__(self, operator_id: _Optional[str] = ..., from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., contract: _Optional[_Union[OperatorContract, _Mapping]] = ..., totals: _Optional[_Union[SettlementFigures, _Mapping]] = ..., deductions: _Optional[_Iterable[_Union[Deduction, _Mapping]]] = ..., deductions_fen: _Optional[int] = ..., lock: _Optional[_Union[SettlementLockInfo, _Mapping]] = ..., adjustments: _Optional[_Iterable[_Union[SettlementAdjustment, _Mapping]]] = ..., adjustments_fen: _Optional[int] = ..., amount_payable_fen: _Optional[int] = ...) -> None: ...

class SettlementLinesRequest(_message.Message):
    __slots__ = ("operator_id", "from_date", "to_date", "page_size", "page_token")
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    operator_id: str
    from_date: str
    to_date: str
    page_size: int
    page_token: str
    def __init__(self, operator_id: _Optional[str] = ..., from_date: _Optional[str] = ..., to_date: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class SettlementLinesResponse(_message.Message):
    __slots__ = ("lines", "next_page_token", "total_lines")
    LINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[SettlementTicketLine]
    next_page_token: str
    total_lines: int
    def __init__(self, lines: _Optional[_Iterable[_Union[SettlementTicketLine, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_lines: _Optional[int] = ...) -> None: ...

class LockSettlementRequest(_message.Message):
    __slots__ = ("request_id", "operator_id", "from_date", "to_date")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_DATE_FIELD_NUMBER: _ClassVar[int]
    TO_DATE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    operator_id: str
    from_date: str
    to_date: str
    def __init__(self, request_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., from_date: _Optional[str] = ..., to_date: _Optional[str] = ...) -> None: ...

class LockSettlementResponse(_message.Message):
    __slots__ = ("lock",)
    LOCK_FIELD_NUMBER: _ClassVar[int]
    lock: SettlementLockInfo
    def __init__(self, lock: _Optional[_Union[SettlementLockInfo, _Mapping]] = ...) -> None: ...

class AddAdjustmentRequest(_message.Message):
    __slots__ = ("request_id", "lock_id", "reason", "amount_fen")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    LOCK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FEN_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    lock_id: str
    reason: str
    amount_fen: int
    def __init__(self, request_id: _Optional[str] = ..., lock_id: _Optional[str] = ..., reason: _Optional[str] = ..., amount_fen: _Optional[int] = ...) -> None: ...

class AddAdjustmentResponse(_message.Message):
    __slots__ = ("adjustment",)
    ADJUSTMENT_FIELD_NUMBER: _ClassVar[int]
    adjustment: SettlementAdjustment
    def __init__(self, adjustment: _Optional[_Union[SettlementAdjustment, _Mapping]] = ...) -> None: ...
