import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckInRequest(_message.Message):
    __slots__ = ("request_id", "ticket_id", "gate_id", "credential", "scanned_at")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    SCANNED_AT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    ticket_id: str
    gate_id: str
    credential: str
    scanned_at: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., gate_id: _Optional[str] = ..., credential: _Optional[str] = ..., scanned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckInResponse(_message.Message):
    __slots__ = ("ticket", "conflict")
    TICKET_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_FIELD_NUMBER: _ClassVar[int]
    ticket: _common_pb2.Ticket
    conflict: ScanConflict
    def __init__(self, ticket: _Optional[_Union[_common_pb2.Ticket, _Mapping]] = ..., conflict: _Optional[_Union[ScanConflict, _Mapping]] = ...) -> None: ...

class ScanConflict(_message.Message):
    __slots__ = ("trip_id", "ticket_id", "gate_id", "scanned_at", "reason", "first_gate_id", "first_checked_in_at", "recorded_at", "other_ticket_id")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    SCANNED_AT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FIRST_GATE_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_CHECKED_IN_AT_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    OTHER_TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    ticket_id: str
    gate_id: str
    scanned_at: _timestamp_pb2.Timestamp
    reason: str
    first_gate_id: str
    first_checked_in_at: _timestamp_pb2.Timestamp
    recorded_at: _timestamp_pb2.Timestamp
    other_ticket_id: str
    def __init__(self, trip_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., gate_id: _Optional[str] = ..., scanned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason: _Optional[str] = ..., first_gate_id: _Optional[str] = ..., first_checked_in_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., other_ticket_id: _Optional[str] = ...) -> None: ...

class ListConflictsRequest(_message.Message):
    __slots__ = ("trip_id",)
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    def __init__(self, trip_id: _Optional[str] = ...) -> None: ...

class ListConflictsResponse(_message.Message):
    __slots__ = ("conflicts",)
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    conflicts: _containers.RepeatedCompositeFieldContainer[ScanConflict]
    def __init__(self, conflicts: _Optional[_Iterable[_Union[ScanConflict, _Mapping]]] = ...) -> None: ...

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

class GetCredentialKeysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CredentialKey(_message.Message):
    __slots__ = ("key_id", "public_key", "created_at", "retired_at")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RETIRED_AT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    public_key: bytes
    created_at: _timestamp_pb2.Timestamp
    retired_at: _timestamp_pb2.Timestamp
    def __init__(self, key_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., retired_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetCredentialKeysResponse(_message.Message):
    __slots__ = ("keys", "current_key_id", "format_version", "document_digest_key")
    KEYS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_DIGEST_KEY_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[CredentialKey]
    current_key_id: str
    format_version: int
    document_digest_key: bytes
    def __init__(self, keys: _Optional[_Iterable[_Union[CredentialKey, _Mapping]]] = ..., current_key_id: _Optional[str] = ..., format_version: _Optional[int] = ..., document_digest_key: _Optional[bytes] = ...) -> None: ...

class GetBoardingSetRequest(_message.Message):
    __slots__ = ("trip_id",)
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    def __init__(self, trip_id: _Optional[str] = ...) -> None: ...

class BoardingEntry(_message.Message):
    __slots__ = ("ticket_id", "seat_number", "status", "from_stop", "to_stop", "holder_name", "document_digest", "ticket_type", "checked_in_at", "gate_id")
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    HOLDER_NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TICKET_TYPE_FIELD_NUMBER: _ClassVar[int]
    CHECKED_IN_AT_FIELD_NUMBER: _ClassVar[int]
    GATE_ID_FIELD_NUMBER: _ClassVar[int]
    ticket_id: str
    seat_number: str
    status: _common_pb2.TicketStatus
    from_stop: str
    to_stop: str
    holder_name: str
    document_digest: bytes
    ticket_type: str
    checked_in_at: _timestamp_pb2.Timestamp
    gate_id: str
    def __init__(self, ticket_id: _Optional[str] = ..., seat_number: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.TicketStatus, str]] = ..., from_stop: _Optional[str] = ..., to_stop: _Optional[str] = ..., holder_name: _Optional[str] = ..., document_digest: _Optional[bytes] = ..., ticket_type: _Optional[str] = ..., checked_in_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gate_id: _Optional[str] = ...) -> None: ...

class GetBoardingSetResponse(_message.Message):
    __slots__ = ("trip", "entries", "revocation_position", "position")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_POSITION_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    entries: _containers.RepeatedCompositeFieldContainer[BoardingEntry]
    revocation_position: int
    position: str
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[BoardingEntry, _Mapping]]] = ..., revocation_position: _Optional[int] = ..., position: _Optional[str] = ...) -> None: ...

class WatchRevocationsRequest(_message.Message):
    __slots__ = ("trip_ids", "position")
    TRIP_IDS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    trip_ids: _containers.RepeatedScalarFieldContainer[str]
    position: str
    def __init__(self, trip_ids: _Optional[_Iterable[str]] = ..., position: _Optional[str] = ...) -> None: ...

class Revocation(_message.Message):
    __slots__ = ("trip_id", "ticket_id", "reason", "revoked_at")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    TICKET_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    ticket_id: str
    reason: str
    revoked_at: _timestamp_pb2.Timestamp
    def __init__(self, trip_id: _Optional[str] = ..., ticket_id: _Optional[str] = ..., reason: _Optional[str] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchRevocationsResponse(_message.Message):
    __slots__ = ("revocations", "position", "caught_up")
    REVOCATIONS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CAUGHT_UP_FIELD_NUMBER: _ClassVar[int]
    revocations: _containers.RepeatedCompositeFieldContainer[Revocation]
    position: str
    caught_up: bool
    def __init__(self, revocations: _Optional[_Iterable[_Union[Revocation, _Mapping]]] = ..., position: _Optional[str] = ..., caught_up: _Optional[bool] = ...) -> None: ...

class ListBoardingTripsRequest(_message.Message):
    __slots__ = ("from_station", "start_time", "end_time")
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    from_station: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, from_station: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class BoardingTrip(_message.Message):
    __slots__ = ("trip", "departs_at")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    DEPARTS_AT_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    departs_at: _timestamp_pb2.Timestamp
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., departs_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListBoardingTripsResponse(_message.Message):
    __slots__ = ("trips", "policy")
    TRIPS_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    trips: _containers.RepeatedCompositeFieldContainer[BoardingTrip]
    policy: BoardingPolicy
    def __init__(self, trips: _Optional[_Iterable[_Union[BoardingTrip, _Mapping]]] = ..., policy: _Optional[_Union[BoardingPolicy, _Mapping]] = ...) -> None: ...

class BoardingPolicy(_message.Message):
    __slots__ = ("require_document_match", "boarding_opens_minutes", "boarding_closes_minutes")
    REQUIRE_DOCUMENT_MATCH_FIELD_NUMBER: _ClassVar[int]
    BOARDING_OPENS_MINUTES_FIELD_NUMBER: _ClassVar[int]
    BOARDING_CLOSES_MINUTES_FIELD_NUMBER: _ClassVar[int]
    require_document_match: bool
    boarding_opens_minutes: int
    boarding_closes_minutes: int
    def __init__(self, require_document_match: _Optional[bool] = ..., boarding_opens_minutes: _Optional[int] = ..., boarding_closes_minutes: _Optional[int] = ...) -> None: ...
