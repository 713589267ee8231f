from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WaitingBatch(_message.Message):
    __slots__ = ("batch_id", "category", "records", "attempts", "last_error", "age_seconds", "next_try_in_seconds")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_TRY_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    category: str
    records: int
    attempts: int
    last_error: str
    age_seconds: float
    next_try_in_seconds: float
    def __init__(self, batch_id: _Optional[str] = ..., category: _Optional[str] = ..., records: _Optional[int] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., age_seconds: _Optional[float] = ..., next_try_in_seconds: _Optional[float] = ...) -> None: ...

class Reconciliation(_message.Message):
    __slots__ = ("date", "checked_ms", "match", "differences")
    DATE_FIELD_NUMBER: _ClassVar[int]
    CHECKED_MS_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    date: str
    checked_ms: int
    match: bool
    differences: str
    def __init__(self, date: _Optional[str] = ..., checked_ms: _Optional[int] = ..., match: _Optional[bool] = ..., differences: _Optional[str] = ...) -> None: ...

class UploadStatusResponse(_message.Message):
    __slots__ = ("platform_url", "station_id", "connected", "last_ping_ms", "last_error", "waiting_batches", "waiting_records", "oldest_waiting_seconds", "acked_batches", "acked_records", "last_ack_ms", "waiting", "reconciliations")
    PLATFORM_URL_FIELD_NUMBER: _ClassVar[int]
    STATION_ID_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_PING_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    WAITING_BATCHES_FIELD_NUMBER: _ClassVar[int]
    WAITING_RECORDS_FIELD_NUMBER: _ClassVar[int]
    OLDEST_WAITING_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACKED_BATCHES_FIELD_NUMBER: _ClassVar[int]
    ACKED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    LAST_ACK_MS_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    RECONCILIATIONS_FIELD_NUMBER: _ClassVar[int]
    platform_url: str
    station_id: str
    connected: bool
    last_ping_ms: int
    last_error: str
    waiting_batches: int
    waiting_records: int
    oldest_waiting_seconds: float
    acked_batches: int
    acked_records: int
    last_ack_ms: int
    waiting: _containers.RepeatedCompositeFieldContainer[WaitingBatch]
    reconciliations: _containers.RepeatedCompositeFieldContainer[Reconciliation]
    def __init__(self, platform_url: _Optional[str] = ..., station_id: _Optional[str] = ..., connected: _Optional[bool] = ..., last_ping_ms: _Optional[int] = ..., last_error: _Optional[str] = ..., waiting_batches: _Optional[int] = ..., waiting_records: _Optional[int] = ..., oldest_waiting_seconds: _Optional[float] = ..., acked_batches: _Optional[int] = ..., acked_records: _Optional[int] = ..., last_ack_ms: _Optional[int] = ..., waiting: _Optional[_Iterable[_Union[WaitingBatch, _Mapping]]] = ..., reconciliations: _Optional[_Iterable[_Union[Reconciliation, _Mapping]]] = ...) -> None: ...

class ResendUploadsRequest(_message.Message):
    __slots__ = ("date",)
    DATE_FIELD_NUMBER: _ClassVar[int]
    date: str
    def __init__(self, date: _Optional[str] = ...) -> None: ...

class ResendUploadsResponse(_message.Message):
    __slots__ = ("queued_batch_ids", "waiting_batches")
    QUEUED_BATCH_IDS_FIELD_NUMBER: _ClassVar[int]
    WAITING_BATCHES_FIELD_NUMBER: _ClassVar[int]
    queued_batch_ids: _containers.RepeatedScalarFieldContainer[str]
    waiting_batches: int
    def __init__(self, queued_batch_ids: _Optional[_Iterable[str]] = ..., waiting_batches: _Optional[int] = ...) -> None: ...

class ReconcileUploadsRequest(_message.Message):
    __slots__ = ("date",)
    DATE_FIELD_NUMBER: _ClassVar[int]
    date: str
    def __init__(self, date: _Optional[str] = ...) -> None: ...

class TransactionTotals(_message.Message):
    __slots__ = ("counts", "amounts_fen")
    class CountsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class AmountsFenEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    AMOUNTS_FEN_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.ScalarMap[str, int]
    amounts_fen: _containers.ScalarMap[str, int]
    def __init__(self, counts: _Optional[_Mapping[str, int]] = ..., amounts_fen: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ReconcileUploadsResponse(_message.Message):
    __slots__ = ("date", "reachable", "match", "station", "platform", "differences", "error")
    DATE_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    STATION_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    date: str
    reachable: bool
    match: bool
    station: TransactionTotals
    platform: TransactionTotals
    differences: str
    error: str
    def __init__(self, date: _Optional[str] = ..., reachable: _Optional[bool] = ..., match: _Optional[bool] = ..., station: _Optional[_Union[TransactionTotals, _Mapping]] = ..., platform: _Optional[_Union[TransactionTotals, _Mapping]] = ..., differences: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...
