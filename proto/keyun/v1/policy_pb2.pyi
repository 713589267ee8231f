import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RefundTierRule(_message.Message):
    __slots__ = ("minutes_before", "fee_basis_points", "min_fee_fen")
    MINUTES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    FEE_BASIS_POINTS_FIELD_NUMBER: _ClassVar[int]
    MIN_FEE_FEN_FIELD_NUMBER: _ClassVar[int]
    minutes_before: int
    fee_basis_points: int
    min_fee_fen: int
    def __init__(self, minutes_before: _Optional[int] = ..., fee_basis_points: _Optional[int] = ..., min_fee_fen: _Optional[int] = ...) -> None: ...

class StationRuleFields(_message.Message):
    __slots__ = ("hold_minutes", "boarding_opens_minutes", "boarding_closes_minutes", "sales_close_minutes", "refund_tiers", "archive_after_days", "void_minutes", "require_document_match", "require_safety_check", "fares_toml")
    HOLD_MINUTES_FIELD_NUMBER: _ClassVar[int]
    BOARDING_OPENS_MINUTES_FIELD_NUMBER: _ClassVar[int]
    BOARDING_CLOSES_MINUTES_FIELD_NUMBER: _ClassVar[int]
    SALES_CLOSE_MINUTES_FIELD_NUMBER: _ClassVar[int]
    REFUND_TIERS_FIELD_NUMBER: _ClassVar[int]
    ARCHIVE_AFTER_DAYS_FIELD_NUMBER: _ClassVar[int]
    VOID_MINUTES_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_DOCUMENT_MATCH_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_SAFETY_CHECK_FIELD_NUMBER: _ClassVar[int]
    FARES_TOML_FIELD_NUMBER: _ClassVar[int]
    hold_minutes: int
    boarding_opens_minutes: int
    boarding_closes_minutes: int
    sales_close_minutes: int
    refund_tiers: _containers.RepeatedCompositeFieldContainer[RefundTierRule]
    archive_after_days: int
    void_minutes: int
    require_document_match: bool
    require_safety_check: bool
    fares_toml: str
    def __init__(self, hold_minutes: _Optional[int] = ..., boarding_opens_minutes: _Optional[int] = ..., boarding_closes_minutes: _Optional[int] = ..., sales_close_minutes: _Optional[int] = ..., refund_tiers: _Optional[_Iterable[_Union[RefundTierRule, _Mapping]]] = ..., archive_after_days: _Optional[int] = ..., void_minutes: _Optional[int] = ..., require_document_match: _Optional[bool] = ..., require_safety_check: _Optional[bool] = ..., fares_toml: _Optional[str] = ...) -> None: ...

class StationRuleSet(_message.Message):
    __slots__ = ("effective_at", "toml_text", "fields", "scheduled_at", "scheduled_by", "base")
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    TOML_TEXT_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_AT_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_BY_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    effective_at: _timestamp_pb2.Timestamp
    toml_text: str
    fields: StationRuleFields
    scheduled_at: _timestamp_pb2.Timestamp
    scheduled_by: str
    base: bool
    def __init__(self, effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., toml_text: _Optional[str] = ..., fields: _Optional[_Union[StationRuleFields, _Mapping]] = ..., scheduled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scheduled_by: _Optional[str] = ..., base: _Optional[bool] = ...) -> None: ...

class GetStationRulesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStationRulesResponse(_message.Message):
    __slots__ = ("in_force", "scheduled")
    IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    in_force: StationRuleSet
    scheduled: _containers.RepeatedCompositeFieldContainer[StationRuleSet]
    def __init__(self, in_force: _Optional[_Union[StationRuleSet, _Mapping]] = ..., scheduled: _Optional[_Iterable[_Union[StationRuleSet, _Mapping]]] = ...) -> None: ...

class ScheduleStationRulesRequest(_message.Message):
    __slots__ = ("request_id", "toml_text", "effective_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TOML_TEXT_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    toml_text: str
    effective_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., toml_text: _Optional[str] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ScheduleStationRulesResponse(_message.Message):
    __slots__ = ("scheduled", "rules")
    SCHEDULED_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    scheduled: StationRuleSet
    rules: GetStationRulesResponse
    def __init__(self, scheduled: _Optional[_Union[StationRuleSet, _Mapping]] = ..., rules: _Optional[_Union[GetStationRulesResponse, _Mapping]] = ...) -> None: ...
