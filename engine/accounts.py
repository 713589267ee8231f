"""Accounts, sessions and frequent passengers: the pure core of the accounts owner.

Like a trip shard, the accounts owner decides each command against its state, evolves the state
by the resulting events, and journals the events before it replies.  Everything sensitive arrives
already protected by the gateway: passwords as argon2id hashes, phone and document numbers and
names (display names too) as ciphertexts with a blind index for lookups, TOTP secrets encrypted.  So nothing here, in
the log or in snapshots, holds personal data in the clear.

It also hosts the device registry (engine/devices.py, `AccountsState.devices`): one owner, one log.

Session activity (`TouchSessions`) is not journaled: after a restart a session counts as idle
from its last journaled moment (login or refresh), which can only end sessions sooner.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Iterable
from enum import Enum
from typing import Any

import msgspec

from . import announcements as an
from . import devices as dv
from . import fleet as fl
from . import notices as nt
from . import settlement as st
from . import shifts as sh
from . import station_rules as sr
from . import timetable as tt
from .audit import MAX_ROLE_CHARS, fit
from .commands import check_request_id
from .limits import IDEMPOTENCY_WINDOW, MAX_PAGE_SIZE
from .outbox import ACTOR_AT, DETAIL_AT, DEVICE_AT, ROLE_AT, TARGET_AT, Audited, AuditNote, AuditOutbox, with_value
from .permissions import ADMIN_ROLES, DEVICE_ROLES, ROLE_BY_NAME, Role
from .reasons import Reason, Rejected, Rejection, element, first_repeat, invalid, quote, reject
from .values import Command, Event, Journaled, Query, Reply, Several, Value

# A family and the people a passenger regularly travels with; 12306 allows 15 too.
MAX_PASSENGERS_PER_ACCOUNT = 15

# Login names of staff and devices: short, printable, unambiguous on a badge.
LOGIN_NAME = re.compile(r"[a-z][a-z0-9_.-]{2,31}")
MAX_DISPLAY_NAME_CHARS = 64
# argon2 hashes are about 100 characters; ciphertexts of short fields a few hundred bytes.
MAX_SECRET_BYTES = 1024
MAX_SCOPE_ENTRIES = 64
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")

# A session ends after this long without a call (GB/T 22239 level 3: idle sessions end).
DEFAULT_IDLE_MS = 30 * 60_000
# Five wrong passwords in a row lock the account for fifteen minutes...
DEFAULT_MAX_FAILED_LOGINS = 5
DEFAULT_LOCKOUT_MS = 15 * 60_000
# ...and before that each failure doubles the wait before the next try: 1, 2, 4, 8 s.
FIRST_BACKOFF_MS = 1000
# Sessions looked at for idleness per batch: bounded so a batch never scans every session.
MAX_IDLE_SWEEP = 64
# A password check reserves its attempt here before the gateway hashes, so a burst of parallel
# guesses gets no more hashes than the policy allows failures.  A gateway settles its reservation
# within a second or so, even queued behind a burst; one older than this belongs to a gateway that
# died mid-hash, and counts as a failure, so a crash never gives an attacker a free guess.
LOGIN_ATTEMPT_TTL_MS = 60_000
# Stale reservations counted as failures per batch: bounded like the idle sweep.
MAX_ATTEMPT_SWEEP = 64


class AccountRules(Value):
    idle_ms: int = DEFAULT_IDLE_MS
    max_failed_logins: int = DEFAULT_MAX_FAILED_LOGINS
    lockout_ms: int = DEFAULT_LOCKOUT_MS
    first_backoff_ms: int = FIRST_BACKOFF_MS
    # The device registry's thresholds (engine/devices.py): no heartbeat for this long is offline,
    # a last sync older than this is behind.
    device_offline_ms: int = dv.DEFAULT_OFFLINE_MS
    device_behind_ms: int = dv.DEFAULT_BEHIND_MS
    # SMS codes asked from one client address in an hour (engine/notices.py).
    sms_codes_per_client_hour: int = nt.CLIENT_PER_HOUR

    def backoff_ms(self, failures: int) -> int:
        return self.first_backoff_ms << (failures - 1) if failures > 0 else 0

    def device_limits(self) -> dv.Thresholds:
        return dv.Thresholds(self.device_offline_ms, self.device_behind_ms)


class AccountKind(Enum):
    PASSENGER = "passenger"
    STAFF = "staff"
    DEVICE = "device"


# ---------------------------------------------------------------------------------------------
# Values kept in the state.


class PassengerRecord(Value):
    passenger_id: str
    name_cipher: bytes
    document_type: str
    document_cipher: bytes
    document_index: bytes  # blind index: equal documents give equal bytes, without decrypting
    phone_cipher: bytes
    added_at_ms: int


class Account(Value, frozen=False):
    account_id: str
    kind: AccountKind
    login_key: str  # "name:<login name>" or "phone:<blind index hex>"
    login_name: str  # staff and devices; "" for passengers (their phone is personal data)
    phone_cipher: bytes
    # Encrypted by the gateway (a display name is often a real name).  Data written before that
    # holds the name as text: the gateway reads both (`AccountDesk.display_name`).
    display_name_cipher: Any  # bytes, or str (msgspec decodes either by its msgpack type)
    password_hash: str
    totp_cipher: bytes  # b"" when the account logs in without a second factor
    roles: tuple[str, ...]
    stations: tuple[str, ...]
    operators: tuple[str, ...]
    created_at_ms: int
    disabled: bool = False
    failed_logins: int = 0
    last_failed_ms: int = 0
    locked_until_ms: int = 0
    totp_last_step: int = 0  # a TOTP code is good once: later logins need a later step
    passengers: dict[str, PassengerRecord] = msgspec.field(default_factory=dict)
    passengers_added: int = 0  # numbers passenger ids
    cash_acceptor: bool = False  # a kiosk the station declared to take cash (GrantRoles)
    attempts_pending: int = 0  # password checks reserved and not yet settled (ReserveLoginAttempt)


class Session(Value, frozen=False):
    session_id: str
    account_id: str
    started_at_ms: int
    last_seen_ms: int
    refresh_id: str  # the one refresh token that may renew this session
    ended_at_ms: int = 0


class AccountsState(Value, frozen=False):
    accounts: dict[str, Account] = msgspec.field(default_factory=dict)
    by_login: dict[str, str] = msgspec.field(default_factory=dict)
    sessions: dict[str, Session] = msgspec.field(default_factory=dict)
    accounts_created: int = 0
    setup_token_hash: bytes = b""  # set while a production station waits for its administrators
    set_up: bool = False
    # Reserved password checks, oldest first: attempt id -> (account id, reserved at, ms).
    login_attempts: dict[str, tuple[str, int]] = msgspec.field(default_factory=dict)
    # The device registry (engine/devices.py), hosted here: one owner, one log.
    devices: dv.DeviceRegistry = msgspec.field(default_factory=dv.DeviceRegistry)
    # Seller shifts and paper ticket stock (engine/shifts.py), hosted here: one owner, one log.
    shifts: sh.ShiftBook = msgspec.field(default_factory=sh.ShiftBook)
    # SMS verification codes and notices to passengers (engine/notices.py), hosted here: one owner, one log.
    notices: nt.NoticeBook = msgspec.field(default_factory=nt.NoticeBook)
    # Station announcements for the departure board (engine/announcements.py), hosted here too.
    announcements: an.AnnouncementBook = msgspec.field(default_factory=an.AnnouncementBook)
    # The network the timetable rolls on (engine/timetable.py), hosted here too.
    timetable: tt.TimetableBook = msgspec.field(default_factory=tt.TimetableBook)
    # Vehicles, drivers and report-ins (engine/fleet.py), hosted here: one owner sees every assignment.
    fleet: fl.FleetBook = msgspec.field(default_factory=fl.FleetBook)
    # Operator settlement contracts, locked periods and adjustments (engine/settlement.py), hosted here too.
    settlement: st.SettlementBook = msgspec.field(default_factory=st.SettlementBook)
    # Station rules scheduled at runtime (engine/station_rules.py), hosted here: station-wide.
    station_rules: sr.StationRulesBook = msgspec.field(default_factory=sr.StationRulesBook)


# ---------------------------------------------------------------------------------------------
# Commands and queries.  Validated on construction, like the trip commands.


def _text(field_name: str, value: str, max_chars: int, required: bool = True) -> None:
    if required and not value.strip():
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name} is required", field=field_name))
    if len(value) > max_chars or any(ord(c) < 32 for c in value):
        raise invalid(field_name, f"must be at most {max_chars} printable characters")


def _secret(field_name: str, value: bytes | str, required: bool = True) -> None:
    if required and not value:
        raise Rejected(reject(Reason.MISSING_FIELD, f"{field_name} is required", field=field_name))
    if len(value) > MAX_SECRET_BYTES:
        raise invalid(field_name, "too long")


def check_display_name(value: str, required: bool = False) -> None:
    """The gateway checks a display name before it encrypts it; the owner sees only the cipher."""
    _text("display_name", value, MAX_DISPLAY_NAME_CHARS, required)


def check_login_name(value: str) -> None:
    if not value:
        raise Rejected(reject(Reason.MISSING_FIELD, "login_name is required", field="login_name"))
    if not LOGIN_NAME.fullmatch(value):
        raise invalid(
            "login_name", "3 to 32 characters: a lower-case letter, then lower-case letters, digits, '_', '.' or '-'"
        )


def check_roles(roles: tuple[str, ...], stations: tuple[str, ...], operators: tuple[str, ...]) -> None:
    for index, name in enumerate(roles):
        if name not in ROLE_BY_NAME:
            raise Rejected(
                reject(
                    Reason.UNKNOWN_ROLE,
                    f"no role {quote(name)}; roles are {', '.join(ROLE_BY_NAME)}",
                    field=element("roles", index),
                )
            )
    repeat = first_repeat(roles)
    if repeat is not None:
        raise invalid(element("roles", repeat), "a role is named twice")
    for field_name, values in (("stations", stations), ("operators", operators)):
        if len(values) > MAX_SCOPE_ENTRIES:
            raise invalid(field_name, f"at most {MAX_SCOPE_ENTRIES} entries")
        for index, value in enumerate(values):
            _text(element(field_name, index), value, 16)


def check_account_id(value: str) -> None:
    if not re.fullmatch(r"A[0-9]{6,}", value or ""):
        raise invalid("account_id", f"{quote(value)} is not an account id like A000001")


def check_passenger_id(value: str) -> None:
    if not re.fullmatch(r"P[1-9][0-9]{0,5}", value or ""):
        raise invalid("passenger_id", f"{quote(value)} is not a passenger id like P1")


def _session_id(field_name: str, value: str) -> None:
    if not SESSION_ID.fullmatch(value or ""):
        raise invalid(field_name, "not a session or token id")


class NewAccount(Value):
    """What an account starts as: used by registration, staff creation and the first setup."""

    kind: AccountKind
    login_key: str
    login_name: str
    phone_cipher: bytes
    display_name_cipher: Any  # bytes or str: b"" for none; text only in data written before it was encrypted
    password_hash: str
    totp_cipher: bytes = b""
    roles: tuple[str, ...] = ()
    stations: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _text("login_key", self.login_key, 128)
        if self.kind is not AccountKind.PASSENGER:
            check_login_name(self.login_name)
        _secret("display_name_cipher", self.display_name_cipher, required=False)
        _secret("password_hash", self.password_hash)
        _secret("phone_cipher", self.phone_cipher, required=self.kind is AccountKind.PASSENGER)
        _secret("totp_cipher", self.totp_cipher, required=False)
        check_roles(self.roles, self.stations, self.operators)


class CreateAccount(Value, Command):
    request_id: str
    account: NewAccount
    # Commands carrying a fresh hash or ciphertext differ on every retry, so retries are matched
    # by a keyed digest of the plain request the gateway computed (see `same_request`).
    fingerprint: bytes = b""

    def __post_init__(self) -> None:
        check_request_id(self.request_id)


class OpenSetup(Value, Command):
    """A production station starts with no accounts: the first start prints a one-time token."""

    token_hash: bytes

    def __post_init__(self) -> None:
        _secret("token_hash", self.token_hash)


class SetUp(Value, Command):
    token_hash: bytes
    administrators: tuple[NewAccount, ...]

    def __post_init__(self) -> None:
        _secret("setup_token", self.token_hash)
        roles = sorted(role for admin in self.administrators for role in admin.roles)
        assert roles == sorted(r.value for r in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN)), (
            "three administrators, one role each"
        )


class ReserveLoginAttempt(Value, Command):
    """Before the gateway checks a password: may it run one more check for this account now?"""

    account_id: str
    attempt_id: str  # the gateway's random id, so a resent batch reserves once

    def __post_init__(self) -> None:
        check_account_id(self.account_id)
        _session_id("attempt_id", self.attempt_id)


class LoginFailed(Value, Command):
    account_id: str
    attempt_id: str = ""  # the reservation this failure settles ("" in logs written before them)


class ReleaseLoginAttempt(Value, Command):
    """A reserved check that ended in neither a failure nor a session: a login whose TOTP code another
    login of the account used meanwhile (StartSession refused it, TOTP_CODE_REUSED).  Given back
    uncounted, only if that step was used indeed."""

    account_id: str
    attempt_id: str
    totp_step: int

    def __post_init__(self) -> None:
        check_account_id(self.account_id)
        _session_id("attempt_id", self.attempt_id)


class StartSession(Value, Command):
    """The gateway checked the password (and TOTP code); the owner re-checks lock and replay."""

    account_id: str
    session_id: str
    refresh_id: str
    totp_step: int = 0
    attempt_id: str = ""  # the reservation this login settles

    def __post_init__(self) -> None:
        check_account_id(self.account_id)
        _session_id("session_id", self.session_id)
        _session_id("refresh_id", self.refresh_id)


class RenewSession(Value, Command):
    session_id: str
    refresh_id: str  # the refresh token presented
    new_refresh_id: str

    def __post_init__(self) -> None:
        _session_id("session_id", self.session_id)
        _session_id("refresh_id", self.refresh_id)
        _session_id("new_refresh_id", self.new_refresh_id)


class EndSession(Value, Command):
    session_id: str


class SweepIdleSessions(Value, Command):
    """Journaled with the idle sessions each batch ends."""


class SweepStaleAttempts(Value, Command):
    """Journaled with the failures each batch counts for reservations never settled."""


class TouchSessions(Value, Command):
    """Are these sessions alive?  Marks them seen now; ends the ones idle too long."""

    session_ids: tuple[str, ...]


class ChangePassword(Value, Command):
    request_id: str
    account_id: str
    password_hash: str
    keep_session_id: str  # the caller's own session stays; every other one ends
    fingerprint: bytes = b""

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _secret("password_hash", self.password_hash)


class RehashPassword(Value, Command):
    """The same password, hashed again with the station's current argon2 parameters at login."""

    account_id: str
    password_hash: str

    def __post_init__(self) -> None:
        check_account_id(self.account_id)
        _secret("password_hash", self.password_hash)


class UpdateProfile(Value, Command):
    request_id: str
    account_id: str
    display_name_cipher: Any  # bytes or str: text in logs from before display names were encrypted
    # A fresh nonce makes each send's cipher differ, so a retry is matched by this keyed digest.
    fingerprint: bytes = b""

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        _secret("display_name_cipher", self.display_name_cipher)


class SealDisplayNames(Value, Command):
    """Display names stored as text before they were encrypted, replaced by their ciphers: the
    gateway sends these at start (`seal_display_names`), a page of accounts at a time."""

    seals: tuple[tuple[str, bytes], ...]  # (account id, cipher)

    def __post_init__(self) -> None:
        for account_id, cipher in self.seals:
            check_account_id(account_id)
            _secret("display_name_cipher", cipher)


class AddPassenger(Value, Command):
    request_id: str
    account_id: str
    name_cipher: bytes
    document_type: str
    document_cipher: bytes
    document_index: bytes
    phone_cipher: bytes
    fingerprint: bytes = b""

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        for name in ("name_cipher", "document_cipher", "document_index"):
            _secret(name, getattr(self, name))
        _secret("phone_cipher", self.phone_cipher, required=False)


class RemovePassenger(Value, Command):
    request_id: str
    account_id: str
    passenger_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        check_passenger_id(self.passenger_id)


class GrantRoles(Value, Command):
    request_id: str
    account_id: str
    roles: tuple[str, ...]
    stations: tuple[str, ...]
    operators: tuple[str, ...]
    # A kiosk with a cash acceptor may take cash and sell without an order; without one it would
    # print tickets nobody paid for.  Like the roles, the whole setting afterwards.
    cash_acceptor: bool = False

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        check_account_id(self.account_id)
        check_roles(self.roles, self.stations, self.operators)


class DisableAccount(Value, Command):
    request_id: str
    account_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        check_account_id(self.account_id)


class UnlockAccount(Value, Command):
    """Lift an account's lock-out and forget its failed logins (a security administrator)."""

    request_id: str
    account_id: str

    def __post_init__(self) -> None:
        check_request_id(self.request_id)
        check_account_id(self.account_id)


class FindLogin(Value, Query):
    """Query: the account a login name or phone index leads to, with what login checks need."""

    login_key: str


class GetAccount(Value, Query):
    account_id: str


class ListAccounts(Value, Query):
    offset: int
    page_size: int

    def __post_init__(self) -> None:
        if not 0 < self.page_size <= MAX_PAGE_SIZE or self.offset < 0:
            raise invalid("page_size", f"must be 1..{MAX_PAGE_SIZE}")


class ListPassengers(Value, Query):
    account_id: str


class Recall(Value, Query):
    """Query: the answer already given to this request id, if the owner remembers one (for
    commands whose checks in the gateway would fail on a retry, like the old password)."""

    request_id: str
    fingerprint: bytes


class NotRemembered(Value, Reply):
    pass


class Remembered(Value, Reply):
    """Recall's answer: the first request and its reply, so the gateway can check a retried
    password against the hash that request stored (passwords are never in fingerprints)."""

    command: Command
    reply: Several[Reply]


class SetupStatus(Value, Query):
    """Query: (set up, waiting for the setup token)."""


# ---------------------------------------------------------------------------------------------
# Events.


class AccountCreated(Value, Event):
    account_id: str
    account: NewAccount
    at_ms: int


class SetupOpened(Value, Event):
    token_hash: bytes


class SetupDone(Value, Event):
    pass


class LoginAttemptReserved(Value, Event):
    account_id: str
    attempt_id: str
    at_ms: int


class LoginFailureCounted(Value, Event):
    account_id: str
    at_ms: int
    locked_until_ms: int  # 0 unless this failure locked the account
    attempt_id: str = ""  # the reservation it settles


class LoginAttemptReleased(Value, Event):
    account_id: str
    attempt_id: str


class SessionStarted(Value, Event):
    account_id: str
    session_id: str
    refresh_id: str
    totp_step: int
    at_ms: int
    attempt_id: str = ""  # the reservation it settles


class SessionRenewed(Value, Event):
    session_id: str
    refresh_id: str
    at_ms: int


class SessionEnded(Value, Event):
    session_id: str
    at_ms: int
    why: str  # "logout", "idle", "refresh token reused", "password changed", "account disabled"


class PasswordChanged(Value, Event):
    account_id: str
    password_hash: str


class ProfileUpdated(Value, Event):
    account_id: str
    display_name_cipher: Any  # bytes or str: text in data written before display names were encrypted


class PassengerAdded(Value, Event):
    account_id: str
    passenger: PassengerRecord


class PassengerRemoved(Value, Event):
    account_id: str
    passenger_id: str


class RolesGranted(Value, Event):
    account_id: str
    roles: tuple[str, ...]
    stations: tuple[str, ...]
    operators: tuple[str, ...]
    cash_acceptor: bool = False  # added later: older logs read as False, which they meant


class AccountDisabled(Value, Event):
    account_id: str


class AccountUnlocked(Value, Event):
    account_id: str


# ---------------------------------------------------------------------------------------------
# Replies.


class AccountView(Value, Reply):
    account_id: str
    kind: AccountKind
    login_name: str
    phone_cipher: bytes  # the gateway decrypts and masks it
    display_name_cipher: Any  # bytes or str: the gateway decrypts it, and masks it for anyone but the account
    roles: tuple[str, ...]
    stations: tuple[str, ...]
    operators: tuple[str, ...]
    disabled: bool
    created_at_ms: int
    second_factor: bool
    cash_acceptor: bool = False
    # The account is a registered device the station disabled: every call but its heartbeat is refused.
    device_disabled: bool = False


class LoginView(Value, Reply):
    """What the gateway needs to check a login: never leaves the gateway."""

    account: AccountView
    password_hash: str
    totp_cipher: bytes
    totp_last_step: int
    locked_until_ms: int
    retry_at_ms: int  # the back-off: no attempt before this


class SessionView(Value, Reply):
    session_id: str
    account: AccountView
    refresh_id: str


class SessionCheck(Value, Reply):
    """TouchSessions' answer for one session: its account when alive, else why it ended."""

    session_id: str
    alive: bool
    account: AccountView | None


class PassengersView(Value, Reply):
    account_id: str
    passengers: tuple[PassengerRecord, ...]


class AccountsPage(Value, Reply):
    accounts: tuple[AccountView, ...]
    next_offset: int  # 0 when this was the last page


class SetupView(Value, Reply):
    set_up: bool
    waiting_for_token: bool


class Done(Value, Reply):
    pass


class AttemptReserved(Value, Reply):
    """ReserveLoginAttempt's answer: the gateway may check the password once."""

    attempt_id: str


class FailureCounted(Value, Reply):
    """LoginFailed's answer: whether this failure locked the account, and until when."""

    locked_until_ms: int


# ---------------------------------------------------------------------------------------------
# decide: reads the state, returns events or a rejection.


def view(account: Account, device_disabled: bool = False) -> AccountView:
    return AccountView(
        account.account_id,
        account.kind,
        account.login_name,
        account.phone_cipher,
        account.display_name_cipher,
        account.roles,
        account.stations,
        account.operators,
        account.disabled,
        account.created_at_ms,
        bool(account.totp_cipher),
        account.cash_acceptor,
        device_disabled,
    )


def device_aware_view(state: AccountsState, account: Account) -> AccountView:
    """The account's view, saying whether it is the account of a disabled device."""
    return view(account, state.devices.disabled_account(account.account_id))


def _find(state: AccountsState, account_id: str) -> Account | Rejection:
    account = state.accounts.get(account_id)
    return (
        account
        if account is not None
        else reject(Reason.UNKNOWN_ACCOUNT, f"no account {account_id}", field="account_id")
    )


def _live_session(state: AccountsState, session_id: str, now_ms: int, rules: AccountRules) -> Session | Rejection:
    session = state.sessions.get(session_id)
    if session is None or session.ended_at_ms:
        return reject(Reason.SESSION_ENDED, "the session has ended; log in again")
    if now_ms - session.last_seen_ms > rules.idle_ms:
        return reject(Reason.SESSION_ENDED, "the session ended after being idle; log in again")
    return session


def next_account_id(state: AccountsState, offset: int = 0) -> str:
    return f"A{state.accounts_created + 1 + offset:06d}"


def is_set_up(state: AccountsState) -> bool:
    """The station has its administrators: through the setup token (SetUp), or because they exist
    already (a demo station's, made with its demo accounts), so no setup token is offered again."""
    if state.set_up:
        return True
    held = {role for account in state.accounts.values() if not account.disabled for role in account.roles}
    return {role.value for role in ADMIN_ROLES} <= held


def decide(state: AccountsState, command: Command, now_ms: int, rules: AccountRules) -> tuple[Any, ...] | Rejection:
    if isinstance(command, dv.DEVICE_COMMANDS):
        return _decide_device(state, command, now_ms)
    if isinstance(command, sh.SHIFT_COMMANDS):
        return sh.decide(state.shifts, command, now_ms)
    if isinstance(command, nt.NOTICE_COMMANDS):
        return nt.decide(state.notices, command, now_ms, rules.sms_codes_per_client_hour)
    if isinstance(command, an.ANNOUNCEMENT_COMMANDS):
        return an.decide(state.announcements, command, now_ms)
    if isinstance(command, tt.TIMETABLE_COMMANDS):
        return tt.decide(state.timetable, command, now_ms)
    if isinstance(command, sr.STATION_RULES_COMMANDS):
        return sr.decide(state.station_rules, command, now_ms)
    if isinstance(command, fl.FLEET_COMMANDS):
        return fl.decide(state.fleet, command, now_ms)
    if isinstance(command, st.SETTLEMENT_COMMANDS):
        return st.decide(state.settlement, command, now_ms)
    match command:
        case CreateAccount(_, new):
            if new.login_key in state.by_login:
                return reject(Reason.ACCOUNT_EXISTS, "an account with this login already exists", field="login_name")
            return (AccountCreated(next_account_id(state), new, now_ms),)
        case OpenSetup(token_hash):
            return () if is_set_up(state) else (SetupOpened(token_hash),)
        case SetUp(token_hash, admins):
            return _set_up(state, token_hash, admins, now_ms)
        case ReserveLoginAttempt():
            return _reserve_attempt(state, command, now_ms, rules)
        case LoginFailed(account_id, attempt_id):
            if attempt_id and attempt_id not in state.login_attempts:
                return ()  # counted already: a resend, or a reservation that went stale
            return _login_failed(state, account_id, now_ms, rules, attempt_id)
        case StartSession():
            return _start_session(state, command, now_ms)
        case ReleaseLoginAttempt(account_id, attempt_id, totp_step):
            account = _find(state, account_id)
            if isinstance(account, Rejection):
                return account
            if attempt_id not in state.login_attempts or not account.totp_cipher or totp_step > account.totp_last_step:
                return ()  # settled already, or no reused code: nothing to give back
            return (LoginAttemptReleased(account_id, attempt_id),)
        case RenewSession(session_id, refresh_id, new_refresh_id):
            session = _live_session(state, session_id, now_ms, rules)
            if isinstance(session, Rejection):
                return session
            if refresh_id != session.refresh_id:
                # A refresh token used twice means it was copied: end the session for both holders.
                return (SessionEnded(session_id, now_ms, "refresh token reused"),)
            account = state.accounts[session.account_id]
            if account.disabled:
                return reject(Reason.ACCOUNT_DISABLED, "the account is disabled")
            return (SessionRenewed(session_id, new_refresh_id, now_ms),)
        case EndSession(session_id):
            session = state.sessions.get(session_id)
            return () if session is None or session.ended_at_ms else (SessionEnded(session_id, now_ms, "logout"),)
        case ChangePassword(_, account_id, password_hash, keep):
            account = _find(state, account_id)
            if isinstance(account, Rejection):
                return account
            others = [
                s.session_id
                for s in state.sessions.values()
                if s.account_id == account_id and not s.ended_at_ms and s.session_id != keep
            ]
            return (
                PasswordChanged(account_id, password_hash),
                *(SessionEnded(s, now_ms, "password changed") for s in others),
            )
        case RehashPassword(account_id, password_hash):
            account = _find(state, account_id)
            return account if isinstance(account, Rejection) else (PasswordChanged(account_id, password_hash),)
        case UpdateProfile(_, account_id, display_name_cipher):
            account = _find(state, account_id)
            return account if isinstance(account, Rejection) else (ProfileUpdated(account_id, display_name_cipher),)
        case SealDisplayNames(seals):
            # Only names still stored as text: one changed since the gateway read it stays as it is.
            return tuple(
                ProfileUpdated(a, cipher)
                for a, cipher in seals
                if a in state.accounts and _clear_name(state.accounts[a])
            )
        case AddPassenger():
            return _add_passenger(state, command, now_ms)
        case RemovePassenger(_, account_id, passenger_id):
            account = _find(state, account_id)
            if isinstance(account, Rejection):
                return account
            if passenger_id not in account.passengers:
                return reject(Reason.UNKNOWN_PASSENGER, f"no passenger {passenger_id}", field="passenger_id")
            return (PassengerRemoved(account_id, passenger_id),)
        case GrantRoles(_, account_id, roles, stations, operators, cash_acceptor):
            return _grant(state, account_id, roles, stations, operators, cash_acceptor)
        case DisableAccount(_, account_id):
            account = _find(state, account_id)
            if isinstance(account, Rejection):
                return account
            sessions = [
                s.session_id for s in state.sessions.values() if s.account_id == account_id and not s.ended_at_ms
            ]
            return (
                ()
                if account.disabled
                else (AccountDisabled(account_id), *(SessionEnded(s, now_ms, "account disabled") for s in sessions))
            )
        case UnlockAccount(_, account_id):
            account = _find(state, account_id)
            if isinstance(account, Rejection):
                return account
            locked = account.locked_until_ms > now_ms or account.failed_logins
            return (AccountUnlocked(account_id),) if locked else ()
    raise AssertionError(f"unknown command {command!r}")


def _decide_device(state: AccountsState, command: Command, now_ms: int) -> tuple[Any, ...] | Rejection:
    """A registry command; a device's account must be a device account."""
    account_id = getattr(command, "account_id", "")
    if account_id:
        account = _find(state, account_id)
        if isinstance(account, Rejection):
            return account
        if account.kind is not AccountKind.DEVICE:
            return reject(
                Reason.INVALID_FIELD,
                f"account_id: {account_id} is a {account.kind.value} account; register a device account "
                "(keyun staff create --kind device), or a counter by its certificate_name",
                field="account_id",
            )
    return dv.decide(state.devices, command, now_ms)


def _set_up(
    state: AccountsState, token_hash: bytes, admins: tuple[NewAccount, ...], now_ms: int
) -> tuple[Any, ...] | Rejection:
    if is_set_up(state) or not state.setup_token_hash or token_hash != state.setup_token_hash:
        return reject(Reason.SETUP_CLOSED, "the setup token is wrong or was used already")
    keys = [admin.login_key for admin in admins]
    if len(set(keys)) != len(keys) or any(key in state.by_login for key in keys):
        return reject(Reason.ACCOUNT_EXISTS, "the administrators need three different login names", field="login_name")
    created = tuple(AccountCreated(next_account_id(state, n), admin, now_ms) for n, admin in enumerate(admins))
    return (*created, SetupDone())


def _login_failed(
    state: AccountsState, account_id: str, now_ms: int, rules: AccountRules, attempt_id: str = ""
) -> tuple[Any, ...] | Rejection:
    account = _find(state, account_id)
    if isinstance(account, Rejection):
        return account
    return (_failure(account, now_ms, rules, attempt_id),)


def _failure(account: Account, now_ms: int, rules: AccountRules, attempt_id: str) -> LoginFailureCounted:
    failures = account.failed_logins + 1
    locked_until = now_ms + rules.lockout_ms if failures >= rules.max_failed_logins else 0
    return LoginFailureCounted(account.account_id, now_ms, locked_until, attempt_id)


def _reserve_attempt(
    state: AccountsState, command: ReserveLoginAttempt, now_ms: int, rules: AccountRules
) -> tuple[Any, ...] | Rejection:
    """One more password check, if the failures counted plus the checks in flight stay within
    the policy's allowed failures.  Nothing here depends on the password, so a refusal answers
    the same whether or not it was right."""
    account = _find(state, command.account_id)
    if isinstance(account, Rejection):
        return account
    if command.attempt_id in state.login_attempts:
        return ()  # a resent batch: reserved already
    refusal = login_refusal(account, now_ms, rules)
    if refusal is not None:
        return refusal
    if account.failed_logins + account.attempts_pending >= rules.max_failed_logins:
        return reject(
            Reason.TOO_MANY_LOGIN_ATTEMPTS, "too many login attempts for this account at once: try again later"
        )
    return (LoginAttemptReserved(command.account_id, command.attempt_id, now_ms),)


def code_reused() -> Rejection:
    return reject(
        Reason.TOTP_CODE_REUSED,
        "this TOTP code was used for a login already: wait for the next code of the authenticator app (every 30 s)",
        field="totp_code",
    )


def login_refusal(account: Account, now_ms: int, rules: AccountRules) -> Rejection | None:
    """Whether the account may try to log in now at all (disabled, locked, backing off)."""
    return refusal_of(account.disabled, account.locked_until_ms, _retry_at(account, rules), now_ms)


def refusal_of(disabled: bool, locked_until_ms: int, retry_at_ms: int, now_ms: int) -> Rejection | None:
    """The one wording of these refusals, for the gateway's early check and the owner's."""
    if disabled:
        return reject(Reason.ACCOUNT_DISABLED, "the account is disabled")
    if locked_until_ms > now_ms:
        return reject(
            Reason.ACCOUNT_LOCKED, "too many failed logins: the account is locked", locked_until_ms=locked_until_ms
        )
    if retry_at_ms > now_ms:
        return reject(Reason.LOGIN_THROTTLED, "wait before trying again", retry_at_ms=retry_at_ms)
    return None


def _retry_at(account: Account, rules: AccountRules) -> int:
    return account.last_failed_ms + rules.backoff_ms(account.failed_logins) if account.failed_logins else 0


def _start_session(state: AccountsState, command: StartSession, now_ms: int) -> tuple[Any, ...] | Rejection:
    account = _find(state, command.account_id)
    if isinstance(account, Rejection):
        return account
    if command.attempt_id and command.attempt_id not in state.login_attempts:
        # Counted as a failure while the gateway was still checking: the login must start over.
        return reject(
            Reason.LOGIN_ATTEMPT_EXPIRED, "the login took too long and was counted as a failed attempt; log in again"
        )
    refusal = refusal_of(account.disabled, account.locked_until_ms, 0, now_ms)  # no back-off: this attempt was admitted
    if refusal is not None:
        return refusal  # its reservation stays, and goes stale as a failure
    if account.totp_cipher and command.totp_step <= account.totp_last_step:
        return code_reused()  # two logins with one code at once: the gateway checked each before the other's
    if command.session_id in state.sessions:
        return reject(Reason.REQUEST_ID_REUSED, "session id in use")
    return (
        SessionStarted(
            command.account_id, command.session_id, command.refresh_id, command.totp_step, now_ms, command.attempt_id
        ),
    )


def _add_passenger(state: AccountsState, command: AddPassenger, now_ms: int) -> tuple[Any, ...] | Rejection:
    account = _find(state, command.account_id)
    if isinstance(account, Rejection):
        return account
    if any(p.document_index == command.document_index for p in account.passengers.values()):
        return reject(
            Reason.PASSENGER_EXISTS, "a passenger with this document is already on the list", field="document_number"
        )
    if len(account.passengers) >= MAX_PASSENGERS_PER_ACCOUNT:
        return reject(Reason.TOO_MANY_PASSENGERS, f"at most {MAX_PASSENGERS_PER_ACCOUNT} passengers per account")
    record = PassengerRecord(
        f"P{account.passengers_added + 1}",
        command.name_cipher,
        command.document_type,
        command.document_cipher,
        command.document_index,
        command.phone_cipher,
        now_ms,
    )
    return (PassengerAdded(command.account_id, record),)


def _grant(
    state: AccountsState,
    account_id: str,
    roles: tuple[str, ...],
    stations: tuple[str, ...],
    operators: tuple[str, ...],
    cash_acceptor: bool,
) -> tuple[Any, ...] | Rejection:
    account = _find(state, account_id)
    if isinstance(account, Rejection):
        return account
    kinds_allowed = {
        AccountKind.PASSENGER: {Role.PASSENGER.value},
        AccountKind.DEVICE: {role.value for role in DEVICE_ROLES},
    }.get(
        account.kind,
        {r.value for r in Role} - {Role.PASSENGER.value} - {role.value for role in DEVICE_ROLES},
    )
    wrong = [role for role in roles if role not in kinds_allowed]
    if wrong:
        return reject(
            Reason.PERMISSION_DENIED, f"a {account.kind.value} account cannot hold {', '.join(wrong)}", field="roles"
        )
    if not account.totp_cipher and set(roles) & {
        r.value for r in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN)
    }:
        return reject(
            Reason.NO_SECOND_FACTOR,
            "administrators log in with a second factor: create the account with second_factor first",
            field="roles",
        )
    if cash_acceptor and Role.KIOSK_DEVICE.value not in roles:
        return reject(
            Reason.INVALID_FIELD,
            "cash_acceptor: only a kiosk (a device with the kiosk_device role) has a cash acceptor",
            field="cash_acceptor",
        )
    return (RolesGranted(account_id, roles, stations, operators, cash_acceptor),)


# ---------------------------------------------------------------------------------------------
# evolve: the one place the state changes.


def evolve(state: AccountsState, event: object) -> None:
    if isinstance(event, dv.DEVICE_EVENTS):
        dv.evolve(state.devices, event)
        return
    if isinstance(event, sh.SHIFT_EVENTS):
        sh.evolve(state.shifts, event)
        return
    if isinstance(event, nt.NOTICE_EVENTS):
        nt.evolve(state.notices, event)
        return
    if isinstance(event, an.ANNOUNCEMENT_EVENTS):
        an.evolve(state.announcements, event)
        return
    if isinstance(event, tt.TIMETABLE_EVENTS):
        tt.evolve(state.timetable, event)
        return
    if isinstance(event, sr.STATION_RULES_EVENTS):
        sr.evolve(state.station_rules, event)
        return
    if isinstance(event, fl.FLEET_EVENTS):
        fl.evolve(state.fleet, event)
        return
    if isinstance(event, st.SETTLEMENT_EVENTS):
        st.evolve(state.settlement, event)
        return
    match event:
        case AccountCreated(account_id, new, at_ms):
            state.accounts[account_id] = Account(
                account_id,
                new.kind,
                new.login_key,
                new.login_name,
                new.phone_cipher,
                new.display_name_cipher,
                new.password_hash,
                new.totp_cipher,
                new.roles,
                new.stations,
                new.operators,
                at_ms,
            )
            state.by_login[new.login_key] = account_id
            state.accounts_created += 1
        case SetupOpened(token_hash):
            state.setup_token_hash = token_hash
        case SetupDone():
            state.set_up, state.setup_token_hash = True, b""
        case LoginAttemptReserved(account_id, attempt_id, at_ms):
            state.login_attempts[attempt_id] = (account_id, at_ms)
            state.accounts[account_id].attempts_pending += 1
        case LoginFailureCounted(account_id, at_ms, locked_until_ms, attempt_id):
            _settle(state, attempt_id)
            account = state.accounts[account_id]
            account.failed_logins, account.last_failed_ms = account.failed_logins + 1, at_ms
            if locked_until_ms:
                account.locked_until_ms, account.failed_logins = locked_until_ms, 0
        case LoginAttemptReleased(_, attempt_id):
            _settle(state, attempt_id)
        case SessionStarted(account_id, session_id, refresh_id, totp_step, at_ms, attempt_id):
            _settle(state, attempt_id)
            account = state.accounts[account_id]
            account.failed_logins, account.totp_last_step = 0, max(account.totp_last_step, totp_step)
            state.sessions[session_id] = Session(session_id, account_id, at_ms, at_ms, refresh_id)
        case SessionRenewed(session_id, refresh_id, at_ms):
            session = state.sessions[session_id]
            session.refresh_id, session.last_seen_ms = refresh_id, at_ms
        case SessionEnded(session_id, at_ms, _):
            state.sessions.pop(session_id, None)  # ended sessions need no memory: unknown ids count as ended
        case PasswordChanged(account_id, password_hash):
            state.accounts[account_id].password_hash = password_hash
        case ProfileUpdated(account_id, display_name_cipher):
            state.accounts[account_id].display_name_cipher = display_name_cipher
        case PassengerAdded(account_id, passenger):
            account = state.accounts[account_id]
            account.passengers[passenger.passenger_id] = passenger
            account.passengers_added += 1
        case PassengerRemoved(account_id, passenger_id):
            del state.accounts[account_id].passengers[passenger_id]
        case RolesGranted(account_id, roles, stations, operators, cash_acceptor):
            account = state.accounts[account_id]
            account.roles, account.stations, account.operators, account.cash_acceptor = (
                roles,
                stations,
                operators,
                cash_acceptor,
            )
        case AccountDisabled(account_id):
            state.accounts[account_id].disabled = True
        case AccountUnlocked(account_id):
            account = state.accounts[account_id]
            account.locked_until_ms, account.failed_logins = 0, 0
        case _:
            raise AssertionError(f"unknown event {event!r}")


def _clear_name(value: object) -> bool:
    """Whether a value (an account, a view, a command, or a tuple of them) holds a display name
    as text, as data written before display names were encrypted does."""
    if isinstance(value, tuple):
        return any(_clear_name(v) for v in value)
    if isinstance(value, CreateAccount):
        return _clear_name(value.account)
    if isinstance(value, SetUp):
        return _clear_name(value.administrators)
    name = getattr(value, "display_name_cipher", b"")
    return isinstance(name, str) and bool(name)


def _settle(state: AccountsState, attempt_id: str) -> None:
    """A reserved password check is over (failed, or a session started)."""
    reserved = state.login_attempts.pop(attempt_id, None) if attempt_id else None
    if reserved is not None:
        state.accounts[reserved[0]].attempts_pending -= 1


def stale_attempts(state: AccountsState, now_ms: int) -> list[str]:
    """Reservations older than LOGIN_ATTEMPT_TTL_MS, oldest first, at most MAX_ATTEMPT_SWEEP."""
    stale = []
    for attempt_id, (_, reserved_at_ms) in itertools.islice(state.login_attempts.items(), MAX_ATTEMPT_SWEEP):
        if now_ms - reserved_at_ms <= LOGIN_ATTEMPT_TTL_MS:
            break  # reserved in order of time: the rest are younger
        stale.append(attempt_id)
    return stale


# ---------------------------------------------------------------------------------------------
# Queries and replies.


def answer(
    state: AccountsState,
    query: Query,
    now_ms: int,
    rules: AccountRules,
) -> LoginView | AccountView | AccountsPage | PassengersView | SetupView | Reply | Rejection:
    if isinstance(query, dv.DEVICE_QUERIES):
        return dv.answer(state.devices, query, now_ms, rules.device_limits())
    if isinstance(query, sh.SHIFT_QUERIES):
        return sh.answer(state.shifts, query, now_ms)
    if isinstance(query, nt.NOTICE_QUERIES):
        return nt.answer(state.notices, query, now_ms)
    if isinstance(query, an.ANNOUNCEMENT_QUERIES):
        return an.answer(state.announcements, query, now_ms)
    if isinstance(query, tt.TIMETABLE_QUERIES):
        return tt.answer(state.timetable, query)
    if isinstance(query, sr.STATION_RULES_QUERIES):
        return sr.answer(state.station_rules, query)
    if isinstance(query, fl.FLEET_QUERIES):
        return fl.answer(state.fleet, query)
    if isinstance(query, st.SETTLEMENT_QUERIES):
        return st.answer(state.settlement, query, now_ms)
    match query:
        case FindLogin(login_key):
            account_id = state.by_login.get(login_key)
            if account_id is None:
                return reject(Reason.BAD_CREDENTIALS, "the login name, password or code is wrong")
            account = state.accounts[account_id]
            return LoginView(
                device_aware_view(state, account),
                account.password_hash,
                account.totp_cipher,
                account.totp_last_step,
                account.locked_until_ms,
                _retry_at(account, rules),
            )
        case GetAccount(account_id):
            account = _find(state, account_id)
            if isinstance(account, Rejection):
                return account
            return view(account)
        case ListAccounts(offset, page_size):
            ids = sorted(state.accounts)[offset : offset + page_size]
            more = offset + page_size < len(state.accounts)
            return AccountsPage(tuple(view(state.accounts[i]) for i in ids), offset + page_size if more else 0)
        case ListPassengers(account_id):
            account = _find(state, account_id)
            if isinstance(account, Rejection):
                return account
            return PassengersView(account_id, tuple(account.passengers.values()))
        case SetupStatus():
            return SetupView(is_set_up(state), bool(state.setup_token_hash))
    raise AssertionError(f"unknown query {query!r}")


def touch(
    state: AccountsState, session_ids: tuple[str, ...], now_ms: int, rules: AccountRules
) -> tuple[tuple[SessionCheck, ...], tuple[SessionEnded, ...]]:
    """Check sessions and mark them seen; returns the checks and the events of the ones idle too long."""
    checks, ended = [], []
    for session_id in session_ids:
        session = state.sessions.get(session_id)
        if session is not None and now_ms - session.last_seen_ms > rules.idle_ms:
            ended.append(SessionEnded(session_id, now_ms, "idle"))
            session = None
        account = state.accounts.get(session.account_id) if session is not None else None
        if session is None or account is None or account.disabled:
            checks.append(SessionCheck(session_id, False, None))
            continue
        session.last_seen_ms = now_ms
        checks.append(SessionCheck(session_id, True, device_aware_view(state, account)))
    return tuple(checks), tuple(ended)


def render(state: AccountsState, command: object, events: tuple[Any, ...]) -> Any:
    """The reply to a command that succeeded."""
    if isinstance(command, dv.DEVICE_COMMANDS):
        return dv.render(state.devices, command, events)
    if isinstance(command, sh.SHIFT_COMMANDS):
        return sh.render(state.shifts, command, events)
    if isinstance(command, nt.NOTICE_COMMANDS):
        return nt.render(state.notices, command, events)
    if isinstance(command, an.ANNOUNCEMENT_COMMANDS):
        return an.render(state.announcements, command, events)
    if isinstance(command, tt.TIMETABLE_COMMANDS):
        return tt.render(state.timetable, command, events)
    if isinstance(command, sr.STATION_RULES_COMMANDS):
        return sr.render(state.station_rules, command, events)
    if isinstance(command, fl.FLEET_COMMANDS):
        return fl.render(state.fleet, command, events)
    if isinstance(command, st.SETTLEMENT_COMMANDS):
        return st.render(state.settlement, command, events)
    match command:
        case CreateAccount():
            return view(state.accounts[events[0].account_id])
        case SetUp():
            return tuple(view(state.accounts[e.account_id]) for e in events if isinstance(e, AccountCreated))
        case StartSession(account_id, session_id, refresh_id):
            return SessionView(session_id, view(state.accounts[account_id]), refresh_id)
        case RenewSession(session_id):
            session = state.sessions.get(session_id)
            if session is None:
                return reject(
                    Reason.SESSION_ENDED, "this refresh token was used before: the session has ended; log in again"
                )
            return SessionView(session_id, view(state.accounts[session.account_id]), session.refresh_id)
        case AddPassenger(_, account_id):
            return PassengersView(account_id, (events[0].passenger,))
        case ReserveLoginAttempt(_, attempt_id):
            return AttemptReserved(attempt_id)
        case LoginFailed():
            return FailureCounted(events[0].locked_until_ms if events else 0)
        case (
            ChangePassword(_, account_id)
            | UpdateProfile(_, account_id)
            | GrantRoles(_, account_id)
            | DisableAccount(_, account_id)
            | UnlockAccount(_, account_id)
        ):
            return view(state.accounts[account_id])
    return Done()


def same_request(first: object, second: object) -> bool:
    """Whether a retry asks for what the first request asked: by fingerprint when it has one."""
    fingerprint = getattr(first, "fingerprint", b"")
    return fingerprint == getattr(second, "fingerprint", b"") if fingerprint else first == second


# ---------------------------------------------------------------------------------------------
# The engine the owner actor wraps.


class AccountEntry(Value, Journaled):
    command: Command
    events: tuple[Event, ...]


def complete_record(record: tuple[Any, ...], reply: object) -> tuple[Any, ...]:
    """An account call's audit record (AuditRecord values) completed from the owner's reply, for
    calls sent Audited(from_reply=True): a call that made its target names it (a new account or
    frequent passenger), a failed login that locked the account says until when, and a renewed
    session names its account as the actor (a refresh token is all the caller showed)."""
    if isinstance(reply, SessionView):
        account = reply.account
        record = with_value(
            with_value(record, ACTOR_AT, account.account_id), ROLE_AT, fit(",".join(account.roles), MAX_ROLE_CHARS)
        )
        return with_value(record, DEVICE_AT, account.login_name) if account.kind is AccountKind.DEVICE else record
    if isinstance(reply, AccountView):
        return with_value(record, TARGET_AT, reply.account_id)
    if isinstance(reply, PassengersView) and reply.passengers:
        return with_value(record, TARGET_AT, reply.passengers[0].passenger_id)
    if isinstance(reply, fl.VehicleView):  # a new vehicle or driver (engine/fleet.py), likewise
        return with_value(record, TARGET_AT, reply.vehicle.vehicle_id)
    if isinstance(reply, fl.DriverView):
        return with_value(record, TARGET_AT, reply.driver.driver_id)
    if isinstance(reply, FailureCounted) and reply.locked_until_ms:
        return with_value(
            record, DETAIL_AT, f"locked out until {reply.locked_until_ms} (epoch ms) after repeated failures"
        )
    return record


class AccountsSnapshot(Value):
    """The accounts owner's snapshot: its state, its idempotency window (request id, command,
    reply), and its audit outbox (AuditRecord values)."""

    state: AccountsState
    recent: tuple[tuple[str, Command, Several[Reply]], ...]
    audit_outbox: tuple[tuple[Any, ...], ...]


class AccountsEngine:
    def __init__(self, rules: AccountRules | None = None):
        self.state = AccountsState()
        self.rules = rules or AccountRules()
        self.last_now = 0
        self.recent: OrderedDict[str, tuple[Command, Several[Reply]]] = OrderedDict()  # request id -> (command, reply)
        # Audit records of calls sent as Audited, until the audit owner has them (engine/outbox.py).
        self.audit_outbox = AuditOutbox()

    def execute(self, batch: list[Any], now_ms: int) -> tuple[list[Any], list[AccountEntry | AuditNote]]:
        now_ms = max(now_ms, self.last_now)
        self.last_now = now_ms
        entries: list[AccountEntry | AuditNote] = []
        self._sweep_idle(now_ms, entries)
        self._sweep_stale_attempts(now_ms, entries)

        def apply(item: Any) -> Any:
            return self._one(item, now_ms, entries)

        return [
            self.audit_outbox.answer(item, apply, entries, complete_record) if type(item) is Audited else apply(item)
            for item in batch
        ], entries

    def _sweep_idle(self, now_ms: int, entries: list[AccountEntry | AuditNote]) -> None:
        """End sessions nobody has used for too long, oldest first, a bounded number per batch."""
        idle = []
        for session in itertools.islice(self.state.sessions.values(), MAX_IDLE_SWEEP):
            if now_ms - session.last_seen_ms > self.rules.idle_ms:
                idle.append(SessionEnded(session.session_id, now_ms, "idle"))
        self._apply(SweepIdleSessions(), tuple(idle), entries)

    def _sweep_stale_attempts(self, now_ms: int, entries: list[AccountEntry | AuditNote]) -> None:
        """Count reservations nobody settled as failures: their gateway died while hashing."""
        counted = []
        for attempt_id in stale_attempts(self.state, now_ms):
            account = self.state.accounts[self.state.login_attempts[attempt_id][0]]
            counted.append(_failure(account, now_ms, self.rules, attempt_id))
            evolve(self.state, counted[-1])  # each failure counts on the one before: a lock may follow
        if counted:
            entries.append(AccountEntry(SweepStaleAttempts(), tuple(counted)))

    def _apply(self, command: Command, events: tuple[Any, ...], entries: list[AccountEntry | AuditNote]) -> None:
        for event in events:
            evolve(self.state, event)
        if events:
            entries.append(AccountEntry(command, events))

    def _one(self, item: Any, now_ms: int, entries: list[AccountEntry | AuditNote]) -> Any:
        if isinstance(item, dv.DeviceHeartbeat):  # in memory only: heartbeats are not journaled
            return dv.heartbeat(self.state.devices, item, now_ms, self.rules.device_limits())
        if isinstance(item, TouchSessions):
            checks, ended = touch(self.state, item.session_ids, now_ms, self.rules)
            self._apply(item, ended, entries)
            return checks
        if isinstance(item, Recall):
            remembered = self.recent.get(item.request_id)
            if remembered is None:
                return NotRemembered()
            command, reply = remembered
            if getattr(command, "fingerprint", b"") != item.fingerprint:
                return reject(
                    Reason.REQUEST_ID_REUSED, f"request_id {item.request_id} was used for a different request"
                )
            return Remembered(command, reply)
        if isinstance(item, Query):
            return answer(self.state, item, now_ms, self.rules)
        request_id = getattr(item, "request_id", "")
        if request_id and request_id in self.recent:
            command, reply = self.recent[request_id]
            return (
                reply
                if same_request(command, item)
                else reject(Reason.REQUEST_ID_REUSED, f"request_id {request_id} was used for a different request")
            )
        outcome = decide(self.state, item, now_ms, self.rules)
        if not isinstance(outcome, Rejection):
            self._apply(item, outcome, entries)
            outcome = render(self.state, item, outcome)
        if isinstance(item, SealDisplayNames):
            self._forget_clear_names()
        if request_id:
            self._remember(request_id, item, outcome)
        return outcome

    def _forget_clear_names(self) -> None:
        """Remembered requests that hold a display name as text go, so the snapshots stop holding
        it: a retry of one is then answered as if it had left the window."""
        for request_id in [rid for rid, remembered in self.recent.items() if _clear_name(remembered)]:
            del self.recent[request_id]

    def _remember(self, request_id: str, command: Command, reply: Several[Reply]) -> None:
        self.recent[request_id] = (command, reply)
        if len(self.recent) > IDEMPOTENCY_WINDOW:
            self.recent.popitem(last=False)

    def replay(self, now_ms: int, entries: Iterable[Any]) -> None:
        self.last_now = max(self.last_now, now_ms)
        for entry in entries:
            if type(entry) is AuditNote:
                self.audit_outbox.replay(entry)
                continue
            for event in entry.events:
                evolve(self.state, event)
            if isinstance(entry.command, SealDisplayNames):
                self._forget_clear_names()
            request_id = getattr(entry.command, "request_id", "")
            if request_id:
                self._remember(request_id, entry.command, render(self.state, entry.command, entry.events))

    def snapshot(self) -> AccountsSnapshot:
        """The whole state, idempotency window and audit outbox, for a snapshot (accounts are few:
        no increments)."""
        recent = tuple((rid, command, reply) for rid, (command, reply) in self.recent.items())
        return AccountsSnapshot(self.state, recent, tuple(self.audit_outbox.values()))

    def restore(self, now_ms: int, snapshot: AccountsSnapshot) -> None:
        self.last_now = now_ms
        self.state = snapshot.state
        self.recent = OrderedDict((rid, (command, reply)) for rid, command, reply in snapshot.recent)
        self.audit_outbox = AuditOutbox(snapshot.audit_outbox)
