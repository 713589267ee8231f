from keyun.v1 import accounts_pb2 as _accounts_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NewAdministrator(_message.Message):
    __slots__ = ("login_name", "password", "display_name")
    LOGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    login_name: str
    password: str
    display_name: str
    def __init__(self, login_name: _Optional[str] = ..., password: _Optional[str] = ..., display_name: _Optional[str] = ...) -> None: ...

class SetUpRequest(_message.Message):
    __slots__ = ("setup_token", "system_admin", "security_admin", "audit_admin")
    SETUP_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_ADMIN_FIELD_NUMBER: _ClassVar[int]
    SECURITY_ADMIN_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ADMIN_FIELD_NUMBER: _ClassVar[int]
    setup_token: str
    system_admin: NewAdministrator
    security_admin: NewAdministrator
    audit_admin: NewAdministrator
    def __init__(self, setup_token: _Optional[str] = ..., system_admin: _Optional[_Union[NewAdministrator, _Mapping]] = ..., security_admin: _Optional[_Union[NewAdministrator, _Mapping]] = ..., audit_admin: _Optional[_Union[NewAdministrator, _Mapping]] = ...) -> None: ...

class AdministratorSecret(_message.Message):
    __slots__ = ("account", "totp_secret", "totp_uri")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TOTP_SECRET_FIELD_NUMBER: _ClassVar[int]
    TOTP_URI_FIELD_NUMBER: _ClassVar[int]
    account: _accounts_pb2.Account
    totp_secret: str
    totp_uri: str
    def __init__(self, account: _Optional[_Union[_accounts_pb2.Account, _Mapping]] = ..., totp_secret: _Optional[str] = ..., totp_uri: _Optional[str] = ...) -> None: ...

class SetUpResponse(_message.Message):
    __slots__ = ("administrators",)
    ADMINISTRATORS_FIELD_NUMBER: _ClassVar[int]
    administrators: _containers.RepeatedCompositeFieldContainer[AdministratorSecret]
    def __init__(self, administrators: _Optional[_Iterable[_Union[AdministratorSecret, _Mapping]]] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("request_id", "kind", "login_name", "password", "display_name", "second_factor")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LOGIN_NAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    SECOND_FACTOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    kind: _accounts_pb2.AccountKind
    login_name: str
    password: str
    display_name: str
    second_factor: bool
    def __init__(self, request_id: _Optional[str] = ..., kind: _Optional[_Union[_accounts_pb2.AccountKind, str]] = ..., login_name: _Optional[str] = ..., password: _Optional[str] = ..., display_name: _Optional[str] = ..., second_factor: _Optional[bool] = ...) -> None: ...

class CreateAccountResponse(_message.Message):
    __slots__ = ("account", "device_secret", "totp_secret", "totp_uri")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_SECRET_FIELD_NUMBER: _ClassVar[int]
    TOTP_SECRET_FIELD_NUMBER: _ClassVar[int]
    TOTP_URI_FIELD_NUMBER: _ClassVar[int]
    account: _accounts_pb2.Account
    device_secret: str
    totp_secret: str
    totp_uri: str
    def __init__(self, account: _Optional[_Union[_accounts_pb2.Account, _Mapping]] = ..., device_secret: _Optional[str] = ..., totp_secret: _Optional[str] = ..., totp_uri: _Optional[str] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccountsResponse(_message.Message):
    __slots__ = ("accounts", "next_page_token")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[_accounts_pb2.Account]
    next_page_token: str
    def __init__(self, accounts: _Optional[_Iterable[_Union[_accounts_pb2.Account, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DisableAccountRequest(_message.Message):
    __slots__ = ("request_id", "account_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class DisableAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: _accounts_pb2.Account
    def __init__(self, account: _Optional[_Union[_accounts_pb2.Account, _Mapping]] = ...) -> None: ...

class GrantRolesRequest(_message.Message):
    __slots__ = ("request_id", "account_id", "roles", "stations", "operators", "cash_acceptor")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATIONS_FIELD_NUMBER: _ClassVar[int]
    OPERATORS_FIELD_NUMBER: _ClassVar[int]
    CASH_ACCEPTOR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    stations: _containers.RepeatedScalarFieldContainer[str]
    operators: _containers.RepeatedScalarFieldContainer[str]
    cash_acceptor: bool
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., stations: _Optional[_Iterable[str]] = ..., operators: _Optional[_Iterable[str]] = ..., cash_acceptor: _Optional[bool] = ...) -> None: ...

class GrantRolesResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: _accounts_pb2.Account
    def __init__(self, account: _Optional[_Union[_accounts_pb2.Account, _Mapping]] = ...) -> None: ...

class LookUpPassengerRequest(_message.Message):
    __slots__ = ("account_id", "passenger_id", "purpose")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PASSENGER_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    passenger_id: str
    purpose: str
    def __init__(self, account_id: _Optional[str] = ..., passenger_id: _Optional[str] = ..., purpose: _Optional[str] = ...) -> None: ...

class LookUpPassengerResponse(_message.Message):
    __slots__ = ("passenger",)
    PASSENGER_FIELD_NUMBER: _ClassVar[int]
    passenger: _accounts_pb2.Passenger
    def __init__(self, passenger: _Optional[_Union[_accounts_pb2.Passenger, _Mapping]] = ...) -> None: ...

class UnlockAccountRequest(_message.Message):
    __slots__ = ("request_id", "account_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    account_id: str
    def __init__(self, request_id: _Optional[str] = ..., account_id: _Optional[str] = ...) -> None: ...

class UnlockAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: _accounts_pb2.Account
    def __init__(self, account: _Optional[_Union[_accounts_pb2.Account, _Mapping]] = ...) -> None: ...
