from collections.abc import Iterable as _Iterable
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from google.protobuf.internal import containers as _containers

from keyun.v1 import common_pb2 as _common_pb2

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
    def __init__(
        self,
        from_station: str | None = ...,
        to_station: str | None = ...,
        date: str | None = ...,
        page_size: int | None = ...,
        page_token: str | None = ...,
    ) -> None: ...

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
    def __init__(
        self,
        trip: _common_pb2.Trip | _Mapping | None = ...,
        from_stop: _common_pb2.Stop | _Mapping | None = ...,
        to_stop: _common_pb2.Stop | _Mapping | None = ...,
        fare_fen: int | None = ...,
        seats_free: int | None = ...,
        status: _common_pb2.TripStatus | str | None = ...,
    ) -> None: ...

class SearchTripsResponse(_message.Message):
    __slots__ = ("offers", "next_page_token")
    OFFERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    offers: _containers.RepeatedCompositeFieldContainer[Offer]
    next_page_token: str
    def __init__(self, offers: _Iterable[Offer | _Mapping] | None = ..., next_page_token: str | None = ...) -> None: ...

class GetTripRequest(_message.Message):
    __slots__ = ("trip_id",)
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    def __init__(self, trip_id: str | None = ...) -> None: ...

class GetTripResponse(_message.Message):
    __slots__ = ("trip",)
    TRIP_FIELD_NUMBER: _ClassVar[int]
    trip: _common_pb2.Trip
    def __init__(self, trip: _common_pb2.Trip | _Mapping | None = ...) -> None: ...

class GetSeatMapRequest(_message.Message):
    __slots__ = ("trip_id", "from_station", "to_station")
    TRIP_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_STATION_FIELD_NUMBER: _ClassVar[int]
    TO_STATION_FIELD_NUMBER: _ClassVar[int]
    trip_id: str
    from_station: str
    to_station: str
    def __init__(
        self, trip_id: str | None = ..., from_station: str | None = ..., to_station: str | None = ...
    ) -> None: ...

class Seat(_message.Message):
    __slots__ = ("seat_number", "free")
    SEAT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    seat_number: str
    free: bool
    def __init__(self, seat_number: str | None = ..., free: bool | None = ...) -> None: ...

class SeatRow(_message.Message):
    __slots__ = ("seats",)
    SEATS_FIELD_NUMBER: _ClassVar[int]
    seats: _containers.RepeatedCompositeFieldContainer[Seat]
    def __init__(self, seats: _Iterable[Seat | _Mapping] | None = ...) -> None: ...

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
    def __init__(
        self,
        trip_id: str | None = ...,
        from_stop: _common_pb2.Stop | _Mapping | None = ...,
        to_stop: _common_pb2.Stop | _Mapping | None = ...,
        fare_fen: int | None = ...,
        seats_free: int | None = ...,
        rows: _Iterable[SeatRow | _Mapping] | None = ...,
    ) -> None: ...

class ListStationsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Station(_message.Message):
    __slots__ = ("code", "name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    def __init__(self, code: str | None = ..., name: str | None = ...) -> None: ...

class ListStationsResponse(_message.Message):
    __slots__ = ("stations",)
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    stations: _containers.RepeatedCompositeFieldContainer[Station]
    def __init__(self, stations: _Iterable[Station | _Mapping] | None = ...) -> None: ...
