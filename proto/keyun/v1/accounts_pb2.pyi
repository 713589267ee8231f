import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyun.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SmsCodePurpose(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SMS_CODE_PURPOSE_UNSPECIFIED: _ClassVar[SmsCodePurpose]
    SMS_CODE_PURPOSE_REGISTER: _ClassVar[SmsCodePurpose]
    SMS_CODE_PURPOSE_RESET_PASSWORD: _ClassVar[SmsCodePurpose]

class AccountKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_KIND_UNSPECIFIED: _ClassVar[AccountKind]
    ACCOUNT_KIND_PASSENGER: _ClassVar[AccountKind]
    ACCOUNT_KIND_STAFF: _ClassVar[AccountKind]
    ACCOUNT_KIND_DEVICE: _ClassVar[AccountKind]
SMS_CODE_PURPOSE_UNSPECIFIED: SmsCodePurpose
SMS_CODE_PURPOSE_REGISTER: SmsCodePurpose
SMS_CODE_PURPOSE_RESET_PASSWORD: SmsCodePurpose
ACCOUNT_KIND_UNSPECIFIED: AccountKind
ACCOUNT_KIND_PASSENGER: AccountKind
ACCOUNT_KIND_STAFF: AccountKind
ACCOUNT_KIND_DEVICE: AccountKind

class RequestSmsCodeRequest(_message.Message):
    __slots__ = ("phone", "purpose")
    PHONE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    phone: str
    purpose: SmsCodePurpose
    def __init__(self, phone: _Optional[str] = ..., purpose: _Optional[_Union[SmsCodePurpose, str]] = ...) -> None: ...

class RequestSmsCodeResponse(_message.Message):
    __slots__ = ("expires_at",)
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResetPasswordRequest(_message.Message):
    __slots__ = ("request_id", "phone", "sms_code", "new_password")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    SMS_CODE_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    phone: str
    sms_code: str
    new_password: str
    def __init__(self, request_id: _Optional[str] = ..., phone: _Optional[str] = ..., sms_code: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ResetPasswordResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Account(_message.Message):
    __slots__ = ("account_id", "kind", "login_name", "display_name", "roles", "stations", "operators", "disabled", "created_at", "second_factor", "cash_acceptor")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LOGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    OPERATORS_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    SECOND_FACTOR_FIELD_NUMBER: _ClassVar[int]
    CASH_ACCEPTOR_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    kind: AccountKind
    login_name: str
    display_name: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    stations: _containers.RepeatedScalarFieldContainer[str]
    operators: _containers.RepeatedScalarFieldContainer[str]
    disabled: bool
    created_at: _timestamp_pb2.Timestamp
    second_factor: bool
    cash_acceptor: bool
    def __init__(self, account_id: _Optional[str] = ..., kind: _Optional[_Union[AccountKind, str]] = ..., login_name: _Optional[str] = ..., display_name: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., stations: _Optional[_Iterable[str]] = ..., operators: _Optional[_Iterable[str]] = ..., disabled: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., second_factor: _Optional[bool] = ..., cash_acceptor: _Optional[bool] = ...) -> None: ...

class RegisterRequest(_message.Message):
    __slots__ = ("request_id", "phone", "password", "display_name", "sms_code")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SMS_CODE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    phone: str
    password: str
    display_name: str
    sms_code: str
    def __init__(self, request_id: _Optional[str] = ..., phone: _Optional[str] = ..., password: _Optional[str] = ..., display_name: _Optional[str] = ..., sms_code: _Optional[str] = ...) -> None: ...

class RegisterResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class LoginRequest(_message.Message):
    __slots__ = ("login_name", "password", "totp_code")
    LOGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    TOTP_CODE_FIELD_NUMBER: _ClassVar[int]
    login_name: str
    password: str
    totp_code: str
    def __init__(self, login_name: _Optional[str] = ..., password: _Optional[str] = ..., totp_code: _Optional[str] = ...) -> None: ...

class LoginResponse(_message.Message):
    __slots__ = ("access_token", "access_expires_at", "refresh_token", "refresh_expires_at", "account")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    access_expires_at: _timestamp_pb2.Timestamp
    refresh_token: str
    refresh_expires_at: _timestamp_pb2.Timestamp
    account: Account
    def __init__(self, access_token: _Optional[str] = ..., access_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token: _Optional[str] = ..., refresh_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class RefreshRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class RefreshResponse(_message.Message):
    __slots__ = ("access_token", "access_expires_at", "refresh_token", "refresh_expires_at", "account")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ACCESS_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    access_expires_at: _timestamp_pb2.Timestamp
    refresh_token: str
    refresh_expires_at: _timestamp_pb2.Timestamp
    account: Account
    def __init__(self, access_token: _Optional[str] = ..., access_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_token: _Optional[str] = ..., refresh_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class LogoutRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LogoutResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetProfileRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetProfileResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class UpdateProfileRequest(_message.Message):
    __slots__ = ("request_id", "display_name")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    display_name: str
    def __init__(self, request_id: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class UpdateProfileResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class ChangePasswordRequest(_message.Message):
    __slots__ = ("request_id", "old_password", "new_password")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    NEW_PASSWORD_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    old_password: str
    new_password: str
    def __init__(self, request_id: _Optional[str] = ..., old_password: _Optional[str] = ..., new_password: _Optional[str] = ...) -> None: ...

class ChangePasswordResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Passenger(_message.Message):
    __slots__ = ("passenger_id", "name", "document_type", "document_number", "phone")
    PASSENGER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    passenger_id: str
    name: str
    document_type: _common_pb2.DocumentType
    document_number: str
    phone: str
    def __init__(self, passenger_id: _Optional[str] = ..., name: _Optional[str] = ..., document_type: _Optional[_Union[_common_pb2.DocumentType, str]] = ..., document_number: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class AddPassengerRequest(_message.Message):
    __slots__ = ("request_id", "name", "document_type", "document_number", "phone")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    name: str
    document_type: _common_pb2.DocumentType
    document_number: str
    phone: str
    def __init__(self, request_id: _Optional[str] = ..., name: _Optional[str] = ..., document_type: _Optional[_Union[_common_pb2.DocumentType, str]] = ..., document_number: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class AddPassengerResponse(_message.Message):
    __slots__ = ("passenger",)
    PASSENGER_FIELD_NUMBER: _ClassVar[int]
    passenger: Passenger
    def __init__(self, passenger: _Optional[_Union[Passenger, _Mapping]] = ...) -> None: ...

class ListPassengersRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPassengersResponse(_message.Message):
    __slots__ = ("passengers",)
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    passengers: _containers.RepeatedCompositeFieldContainer[Passenger]
    def __init__(self, passengers: _Optional[_Iterable[_Union[Passenger, _Mapping]]] = ...) -> None: ...

class RemovePassengerRequest(_message.Message):
    __slots__ = ("request_id", "passenger_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    passenger_id: str
    def __init__(self, request_id: _Optional[str] = ..., passenger_id: _Optional[str] = ...) -> None: ...

class RemovePassengerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
