import datetime
from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper

DESCRIPTOR: _descriptor.FileDescriptor

class AuditOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIT_OUTCOME_UNSPECIFIED: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_OK: _ClassVar[AuditOutcome]
    AUDIT_OUTCOME_REFUSED: _ClassVar[AuditOutcome]

AUDIT_OUTCOME_UNSPECIFIED: AuditOutcome
AUDIT_OUTCOME_OK: AuditOutcome
AUDIT_OUTCOME_REFUSED: AuditOutcome

class AuditRecord(_message.Message):
    __slots__ = (
        "seq",
        "at",
        "actor",
        "role",
        "device",
        "station",
        "source",
        "action",
        "target",
        "outcome",
        "detail",
        "reason",
    )
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    STATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: _timestamp_pb2.Timestamp
    actor: str
    role: str
    device: str
    station: str
    source: str
    action: str
    target: str
    outcome: AuditOutcome
    detail: str
    reason: str
    def __init__(
        self,
        seq: int | None = ...,
        at: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        actor: str | None = ...,
        role: str | None = ...,
        device: str | None = ...,
        station: str | None = ...,
        source: str | None = ...,
        action: str | None = ...,
        target: str | None = ...,
        outcome: AuditOutcome | str | None = ...,
        detail: str | None = ...,
        reason: str | None = ...,
    ) -> None: ...

class ListRecordsRequest(_message.Message):
    __slots__ = ("since", "until", "actor", "action", "outcome", "target", "page_size", "page_token", "reason")
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    actor: str
    action: str
    outcome: AuditOutcome
    target: str
    page_size: int
    page_token: str
    reason: str
    def __init__(
        self,
        since: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        until: datetime.datetime | _timestamp_pb2.Timestamp | _Mapping | None = ...,
        actor: str | None = ...,
        action: str | None = ...,
        outcome: AuditOutcome | str | None = ...,
        target: str | None = ...,
        page_size: int | None = ...,
        page_token: str | None = ...,
        reason: str | None = ...,
    ) -> None: ...

class ListRecordsResponse(_message.Message):
    __slots__ = ("records", "next_page_token")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    next_page_token: str
    def __init__(
        self, records: _Iterable[AuditRecord | _Mapping] | None = ..., next_page_token: str | None = ...
    ) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("ok", "records_checked", "head_seq", "head_hash", "problem", "problem_seq")
    OK_FIELD_NUMBER: _ClassVar[int]
    RECORDS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_HASH_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_SEQ_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    records_checked: int
    head_seq: int
    head_hash: str
    problem: str
    problem_seq: int
    def __init__(
        self,
        ok: bool | None = ...,
        records_checked: int | None = ...,
        head_seq: int | None = ...,
        head_hash: str | None = ...,
        problem: str | None = ...,
        problem_seq: int | None = ...,
    ) -> None: ...
