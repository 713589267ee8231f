from typing import ClassVar as _ClassVar

from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message

DESCRIPTOR: _descriptor.FileDescriptor

class EchoRequest(_message.Message):
    __slots__ = ("payload", "response_bytes", "via_owner")
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_BYTES_FIELD_NUMBER: _ClassVar[int]
    VIA_OWNER_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    response_bytes: int
    via_owner: bool
    def __init__(
        self, payload: bytes | None = ..., response_bytes: int | None = ..., via_owner: bool | None = ...
    ) -> None: ...

class EchoResponse(_message.Message):
    __slots__ = ("payload",)
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    payload: bytes
    def __init__(self, payload: bytes | None = ...) -> None: ...
