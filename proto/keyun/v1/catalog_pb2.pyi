from keyun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchTripsRequest(_message.Message):
    __slots__ = ("from_station", "to_station", "date", "page_size", "page_token")
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    from_station: str
    to_station: str
    date: str
    page_size: int
    page_token: str
    def __init__(self, from_station: _Optional[str] = ..., to_station: _Optional[str] = ..., date: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("trip", "from_stop", "to_stop", "fare_fen", "seats_free", "status")
    TRIP_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    FARE_FEN_FIELD_NUMBER: _ClassVar[int]
    SEATS_FREE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    from_stop: _common_pb2.Stop
    to_stop: _common_pb2.Stop
    fare_fen: int
    seats_free: int
    status: _common_pb2.TripStatus
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ..., from_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., to_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., fare_fen: _Optional[int] = ..., seats_free: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.TripStatus, str]] = ...) -> None: ...

class SearchTripsResponse(_message.Message):
    __slots__ = ("offers", "next_page_token")
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    offers: _containers.RepeatedCompositeFieldContainer[Offer]
    next_page_token: str
    def __init__(self, offers: _Optional[_Iterable[_Union[Offer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTripRequest(_message.Message):
    __slots__ = ("trip_id",)
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    def __init__(self, trip_id: _Optional[str] = ...) -> None: ...

class GetTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _Optional[_Union[_common_pb2.Trip, _Mapping]] = ...) -> None: ...

class GetSeatMapRequest(_message.Message):
    __slots__ = ("trip_id", "from_station", "to_station")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    from_station: str
    to_station: str
    def __init__(self, trip_id: _Optional[str] = ..., from_station: _Optional[str] = ..., to_station: _Optional[str] = ...) -> None: ...

class Seat(_message.Message):
    __slots__ = ("seat_number", "free")
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    seat_number: str
    free: bool
    def __init__(self, seat_number: _Optional[str] = ..., free: _Optional[bool] = ...) -> None: ...

class SeatRow(_message.Message):
    __slots__ = ("seats",)
    SEATS_FIELD_NUMBER: _ClassVar[int]
    seats: _containers.RepeatedCompositeFieldContainer[Seat]
    def __init__(self, seats: _Optional[_Iterable[_Union[Seat, _Mapping]]] = ...) -> None: ...

class GetSeatMapResponse(_message.Message):
    __slots__ = ("trip_id", "from_stop", "to_stop", "fare_fen", "seats_free", "rows")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STOP_FIELD_NUMBER: _ClassVar[int]
    TO_STOP_FIELD_NUMBER: _ClassVar[int]
    FARE_FEN_FIELD_NUMBER: _ClassVar[int]
    SEATS_FREE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    from_stop: _common_pb2.Stop
    to_stop: _common_pb2.Stop
    fare_fen: int
    seats_free: int
    rows: _containers.RepeatedCompositeFieldContainer[SeatRow]
    def __init__(self, trip_id: _Optional[str] = ..., from_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., to_stop: _Optional[_Union[_common_pb2.Stop, _Mapping]] = ..., fare_fen: _Optional[int] = ..., seats_free: _Optional[int] = ..., rows: _Optional[_Iterable[_Union[SeatRow, _Mapping]]] = ...) -> None: ...

class ListStationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Station(_message.Message):
    __slots__ = ("code", "name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListStationsResponse(_message.Message):
    __slots__ = ("stations",)
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    stations: _containers.RepeatedCompositeFieldContainer[Station]
    def __init__(self, stations: _Optional[_Iterable[_Union[Station, _Mapping]]] = ...) -> None: ...
