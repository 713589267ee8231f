"""SMS verification codes and notices to passengers: the pure core, hosted by the accounts owner.

Both live in the accounts owner's state (`AccountsState.notices`) and every change is an event in
its log, replayed on restart: a code survives a restart, and a code used once stays used (the
`used` mark is journaled before the reply), so it cannot be replayed.  Nothing here is personal
data in the clear: the gateway sends codes as keyed digests, phones as blind indexes (to find and
rate-limit) and ciphertexts (to send to), client addresses as blind indexes.

Codes (docs/notices.md): six digits, good for CODE_TTL_MS, once, for one purpose, with at most
MAX_CODE_ATTEMPTS wrong tries.  Requests are limited per phone (one a minute, PHONE_PER_HOUR an
hour) and per client address (CLIENT_PER_HOUR an hour).

Notices are a durable outbox: `RecordNotice` journals a notice with one delivery per recipient
phone before anything is sent; the gateway's sender asks for the deliveries due
(`DueDeliveries`), sends each with the idempotency key "notice id/recipient", and records the
outcome (`RecordDelivery`): sent, a retry at a later time (exponential back-off), or failed for
good after MAX_DELIVERY_ATTEMPTS.  A crash between a send and its record resends with the same
key, which the provider answers as the same message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum
from typing import Any

import msgspec

from .reasons import Reason, Rejected, Rejection, invalid, reject
from .values import Command, Event, Query, Reply, Value


class CodePurpose(Enum):
    REGISTER = "register"
    RESET_PASSWORD = "reset_password"


class DeliveryStatus(Enum):
    PENDING = "pending"  # recorded, not sent yet (or waiting for its next try)
    SENT = "sent"
    FAILED = "failed"  # every try failed: staff see it (Notices/ListNotices)


CODE_TTL_MS = 5 * 60_000
MAX_CODE_ATTEMPTS = 5
CODE_DIGITS = 6
PHONE_GAP_MS = 60_000  # one code a minute per phone...
PHONE_PER_HOUR = 5  # ...and this many an hour
CLIENT_PER_HOUR = 20  # per client address, whatever the phones
HOUR_MS = 3_600_000
MAX_KEPT_TIMES = 10_000  # the highest per-client limit a policy may set (engine/policy.py)
# Rate-limit and code records looked at for expiry per issue: bounded, as the idle-session sweep is.
MAX_SWEEP = 16

MAX_DELIVERY_ATTEMPTS = 5
FIRST_RETRY_MS = 2_000  # then 4, 8, 16 s: about half a minute before a delivery is given up
MAX_DUE = 32  # deliveries handed to the sender per ask
MAX_NOTICE_TEXT = 280
NOTICE_ID = re.compile(r"[A-Za-z0-9_.:/-]{1,160}")
KEY = re.compile(r"[a-z_]{1,32}:[0-9a-f]{8,128}")
INDEX = re.compile(r"[0-9a-f]{8,128}")
MAX_RECIPIENTS = 1000  # a coach's seats, many times over
MAX_ERROR_CHARS = 200


def retry_delay_ms(attempts: int) -> int:
    """The wait after the `attempts`-th failed try: 2, 4, 8, 16 s."""
    return FIRST_RETRY_MS << max(0, attempts - 1)


def code_key(purpose: CodePurpose, phone_index: str) -> str:
    return f"{purpose.value}:{phone_index}"


# ---------------------------------------------------------------------------------------------
# State.


class SmsCode(Value, frozen=False):
    code_hash: bytes
    issued_at_ms: int
    expires_at_ms: int
    attempts: int = 0
    used: bool = False


class Delivery(Value, frozen=False):
    recipient: str  # the phone's blind index (hex): one message per phone and notice
    account_id: str  # whose notices show it ("" for a walk-in passenger without an account)
    phone_cipher: bytes  # encrypted by the gateway (context "notice.phone")
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_at_ms: int = 0
    message_id: str = ""
    error: str = ""
    updated_at_ms: int = 0


class Notice(Value, frozen=False):
    notice_id: str
    kind: str  # "trip_delayed", "trip_cancelled", "refund_paid", ... (gateway/notices.py names them)
    subject: str  # the trip or order it is about
    text: str
    created_at_ms: int
    deliveries: dict[str, Delivery] = msgspec.field(default_factory=dict)


class NoticeBook(Value, frozen=False):
    codes: dict[str, SmsCode] = msgspec.field(default_factory=dict)  # code_key -> code, oldest first
    by_phone: dict[str, tuple[int, ...]] = msgspec.field(default_factory=dict)  # phone index -> issue times
    by_client: dict[str, tuple[int, ...]] = msgspec.field(default_factory=dict)  # client index -> issue times
    notices: dict[str, Notice] = msgspec.field(default_factory=dict)  # oldest first
    open_notices: dict[str, int] = msgspec.field(default_factory=dict)  # notice id -> deliveries pending


# ---------------------------------------------------------------------------------------------
# Commands, queries, events, replies.


def _match(field_name: str, pattern: re.Pattern[str], value: str) -> None:
    if not pattern.fullmatch(value):
        raise invalid(field_name, "malformed")


class IssueSmsCode(Value, Command):
    """A new code for the phone (replacing an earlier one of the same purpose)."""

    purpose: CodePurpose
    phone_index: str
    client_index: str
    code_hash: bytes

    def __post_init__(self) -> None:
        _match("phone_index", INDEX, self.phone_index)
        _match("client_index", INDEX, self.client_index)
        if not 16 <= len(self.code_hash) <= 64:
            raise invalid("code_hash", "16 to 64 bytes")


class UseSmsCode(Value, Command):
    """Spend the phone's code of this purpose, if `code_hash` is its digest."""

    purpose: CodePurpose
    phone_index: str
    code_hash: bytes

    def __post_init__(self) -> None:
        _match("phone_index", INDEX, self.phone_index)


class NewDelivery(Value):
    recipient: str
    account_id: str
    phone_cipher: bytes

    def __post_init__(self) -> None:
        _match("recipient", INDEX, self.recipient)
        if not self.phone_cipher or len(self.phone_cipher) > 1024:
            raise invalid("phone_cipher", "1 to 1024 bytes")


class RecordNotice(Value, Command):
    """Journal a notice and its deliveries; a notice id recorded already changes nothing."""

    notice_id: str
    kind: str
    subject: str
    text: str
    deliveries: tuple[NewDelivery, ...]

    def __post_init__(self) -> None:
        _match("notice_id", NOTICE_ID, self.notice_id)
        if not self.text or len(self.text) > MAX_NOTICE_TEXT:
            raise invalid("text", f"1 to {MAX_NOTICE_TEXT} characters")
        if len(self.deliveries) > MAX_RECIPIENTS:
            raise invalid("deliveries", f"at most {MAX_RECIPIENTS}")
        if len({d.recipient for d in self.deliveries}) != len(self.deliveries):
            raise Rejected(reject(Reason.INVALID_FIELD, "one delivery per recipient", field="deliveries"))


class RecordDelivery(Value, Command):
    """The outcome of one try: SENT (with the provider's message id), or not sent (`error`): tried
    again after the back-off, or FAILED once the tries are spent (or `final`: it can never go)."""

    notice_id: str
    recipient: str
    sent: bool
    message_id: str = ""
    error: str = ""
    final: bool = False


class DueDeliveries(Value, Query):
    """The deliveries whose time to (re)try has come, at most `limit`."""

    limit: int = MAX_DUE


class ListNotices(Value, Query):
    """Notices newest first; `account_id`: only those with a delivery to that account (and only its
    deliveries); `failed_only`: only notices with a delivery that failed for good."""

    account_id: str = ""
    offset: int = 0
    page_size: int = 50
    failed_only: bool = False

    def __post_init__(self) -> None:
        if self.offset < 0 or not 1 <= self.page_size <= 200:
            raise invalid("page_size", "1 to 200")


class SmsCodeIssued(Value, Event):
    key: str
    phone_index: str
    client_index: str
    code_hash: bytes
    at_ms: int
    expires_at_ms: int


class SmsCodeMissed(Value, Event):
    key: str


class SmsCodeUsed(Value, Event):
    key: str


class NoticeRecorded(Value, Event):
    notice_id: str
    kind: str
    subject: str
    text: str
    at_ms: int
    deliveries: tuple[NewDelivery, ...]


class DeliveryRecorded(Value, Event):
    notice_id: str
    recipient: str
    status: DeliveryStatus
    attempts: int
    next_at_ms: int
    message_id: str
    error: str
    at_ms: int


class CodeIssued(Value, Reply):
    expires_at_ms: int


class CodeAccepted(Value, Reply):
    pass


class DueDelivery(Value):
    notice_id: str
    recipient: str
    text: str
    phone_cipher: bytes
    attempts: int


class DueView(Value, Reply):
    deliveries: tuple[DueDelivery, ...]


class NoticesPage(Value, Reply):
    notices: tuple[Notice, ...]
    next_offset: int


class NoticeDone(Value, Reply):
    pass


# ---------------------------------------------------------------------------------------------
# Decide, evolve, answer, render.


def _recent(times: tuple[int, ...], now_ms: int) -> tuple[int, ...]:
    return tuple(t for t in times if now_ms - t < HOUR_MS)


def throttle(
    book: NoticeBook, phone_index: str, client_index: str, now_ms: int, per_client: int = CLIENT_PER_HOUR
) -> Rejection | None:
    """Why no code may be sent now, with the moment one may (retry_at_ms), or None."""
    phone = _recent(book.by_phone.get(phone_index, ()), now_ms)
    client = _recent(book.by_client.get(client_index, ()), now_ms)
    retry_at = 0
    if phone and now_ms - phone[-1] < PHONE_GAP_MS:
        retry_at = phone[-1] + PHONE_GAP_MS
    if len(phone) >= PHONE_PER_HOUR:
        retry_at = max(retry_at, phone[-PHONE_PER_HOUR] + HOUR_MS)
    if retry_at:
        return reject(
            Reason.SMS_CODE_THROTTLED,
            "a code was sent to this number a moment ago: wait before asking again",
            retry_at_ms=retry_at,
        )
    if len(client) >= per_client:
        return reject(
            Reason.SMS_CODE_THROTTLED,
            "too many codes asked from this address: wait before asking again",
            retry_at_ms=client[-per_client] + HOUR_MS,
        )
    return None


def decide(
    book: NoticeBook, command: Command, now_ms: int, per_client: int = CLIENT_PER_HOUR
) -> tuple[Any, ...] | Rejection:
    """`per_client`: codes one client address may ask for in an hour (AccountRules)."""
    match command:
        case IssueSmsCode(purpose, phone_index, client_index, code_hash):
            refusal = throttle(book, phone_index, client_index, now_ms, per_client)
            if refusal is not None:
                return refusal
            key = code_key(purpose, phone_index)
            return (SmsCodeIssued(key, phone_index, client_index, code_hash, now_ms, now_ms + CODE_TTL_MS),)
        case UseSmsCode(purpose, phone_index, code_hash):
            return _use(book, code_key(purpose, phone_index), code_hash, now_ms)
        case RecordNotice(notice_id, kind, subject, text, deliveries):
            if notice_id in book.notices:
                return ()  # recorded already: a retried request, or the same change noticed twice
            return (NoticeRecorded(notice_id, kind, subject, text, now_ms, deliveries),)
        case RecordDelivery():
            return _record_delivery(book, command, now_ms)
    raise AssertionError(f"unknown command {command!r}")


def _use(book: NoticeBook, key: str, code_hash: bytes, now_ms: int) -> tuple[Any, ...] | Rejection:
    code = book.codes.get(key)
    if code is None:
        return wrong_code()
    if code.used:
        return reject(Reason.SMS_CODE_USED, "this code was used already: ask for a new one", field="sms_code")
    if now_ms >= code.expires_at_ms:
        return reject(Reason.SMS_CODE_EXPIRED, "this code has expired: ask for a new one", field="sms_code")
    if code.attempts >= MAX_CODE_ATTEMPTS:
        return reject(
            Reason.SMS_CODE_ATTEMPTS, "too many wrong tries for this code: ask for a new one", field="sms_code"
        )
    if code.code_hash != code_hash:
        return (SmsCodeMissed(key),)  # counted, and answered as wrong (render)
    return (SmsCodeUsed(key),)


def wrong_code() -> Rejection:
    return reject(Reason.SMS_CODE_WRONG, "the verification code is wrong", field="sms_code")


def _record_delivery(book: NoticeBook, command: RecordDelivery, now_ms: int) -> tuple[Any, ...] | Rejection:
    notice = book.notices.get(command.notice_id)
    delivery = notice.deliveries.get(command.recipient) if notice is not None else None
    if delivery is None:
        return reject(Reason.INVALID_FIELD, "no such notice delivery", field="recipient")
    if delivery.status is not DeliveryStatus.PENDING:
        return ()  # settled already: a sender that raced another, or a resend after a restart
    attempts = delivery.attempts + 1
    error = command.error[:MAX_ERROR_CHARS]
    if command.sent:
        return (
            DeliveryRecorded(
                command.notice_id,
                command.recipient,
                DeliveryStatus.SENT,
                attempts,
                0,
                command.message_id[:64],
                "",
                now_ms,
            ),
        )
    if command.final or attempts >= MAX_DELIVERY_ATTEMPTS:
        return (
            DeliveryRecorded(
                command.notice_id, command.recipient, DeliveryStatus.FAILED, attempts, 0, "", error, now_ms
            ),
        )
    retry_at = now_ms + retry_delay_ms(attempts)
    return (
        DeliveryRecorded(
            command.notice_id, command.recipient, DeliveryStatus.PENDING, attempts, retry_at, "", error, now_ms
        ),
    )


def evolve(book: NoticeBook, event: object) -> None:
    match event:
        case SmsCodeIssued(key, phone_index, client_index, code_hash, at_ms, expires_at_ms):
            book.codes.pop(key, None)  # re-inserted last: the dict stays oldest first
            book.codes[key] = SmsCode(code_hash, at_ms, expires_at_ms)
            _note(book.by_phone, phone_index, at_ms)
            _note(book.by_client, client_index, at_ms)
            _sweep(book, at_ms)
        case SmsCodeMissed(key):
            book.codes[key].attempts += 1
        case SmsCodeUsed(key):
            book.codes[key].used = True
        case NoticeRecorded(notice_id, kind, subject, text, at_ms, deliveries):
            book.notices[notice_id] = Notice(
                notice_id,
                kind,
                subject,
                text,
                at_ms,
                {
                    d.recipient: Delivery(d.recipient, d.account_id, d.phone_cipher, next_at_ms=at_ms)
                    for d in deliveries
                },
            )
            if deliveries:
                book.open_notices[notice_id] = len(deliveries)
        case DeliveryRecorded(notice_id, recipient, status, attempts, next_at_ms, message_id, error, at_ms):
            delivery = book.notices[notice_id].deliveries[recipient]
            delivery.status, delivery.attempts, delivery.next_at_ms = status, attempts, next_at_ms
            delivery.message_id, delivery.error, delivery.updated_at_ms = message_id, error, at_ms
            if status is not DeliveryStatus.PENDING:
                left = book.open_notices.get(notice_id, 1) - 1
                if left > 0:
                    book.open_notices[notice_id] = left
                else:
                    book.open_notices.pop(notice_id, None)
        case _:
            raise AssertionError(f"unknown event {event!r}")


def _note(times_by: dict[str, tuple[int, ...]], index: str, at_ms: int) -> None:
    """The issue times of the last hour: as many as the highest limit can look at."""
    times = _recent(times_by.pop(index, ()), at_ms)
    times_by[index] = (*times, at_ms)[-MAX_KEPT_TIMES:]


def _sweep(book: NoticeBook, now_ms: int) -> None:
    """Forget rate-limit records older than an hour and codes long expired, oldest first, a few
    per issue: their dicts stay the size of an hour's requests."""
    for times_by in (book.by_phone, book.by_client):
        for index in list(_first(times_by, MAX_SWEEP)):
            if now_ms - times_by[index][-1] >= HOUR_MS:
                del times_by[index]
    for key in list(_first(book.codes, MAX_SWEEP)):
        if now_ms - book.codes[key].expires_at_ms >= HOUR_MS:
            del book.codes[key]


def _first(mapping: dict[str, Any], count: int) -> Iterable[str]:
    for n, key in enumerate(mapping):
        if n >= count:
            return
        yield key


def answer(book: NoticeBook, query: Query, now_ms: int) -> Reply | Rejection:
    match query:
        case DueDeliveries(limit):
            due: list[DueDelivery] = []
            for notice_id in book.open_notices:
                notice = book.notices[notice_id]
                for delivery in notice.deliveries.values():
                    if delivery.status is DeliveryStatus.PENDING and delivery.next_at_ms <= now_ms:
                        due.append(
                            DueDelivery(
                                notice_id, delivery.recipient, notice.text, delivery.phone_cipher, delivery.attempts
                            )
                        )
                        if len(due) >= limit:
                            return DueView(tuple(due))
            return DueView(tuple(due))
        case ListNotices(account_id, offset, page_size, failed_only):
            return _page(book, account_id, offset, page_size, failed_only)
    raise AssertionError(f"unknown query {query!r}")


def _page(book: NoticeBook, account_id: str, offset: int, page_size: int, failed_only: bool) -> NoticesPage:
    chosen: list[Notice] = []
    skipped = 0
    for notice in reversed(book.notices.values()):
        deliveries = notice.deliveries
        if account_id:
            deliveries = {r: d for r, d in deliveries.items() if d.account_id == account_id}
            if not deliveries:
                continue
        if failed_only and not any(d.status is DeliveryStatus.FAILED for d in deliveries.values()):
            continue
        if skipped < offset:
            skipped += 1
            continue
        if len(chosen) == page_size:
            return NoticesPage(tuple(chosen), offset + page_size)
        chosen.append(
            Notice(notice.notice_id, notice.kind, notice.subject, notice.text, notice.created_at_ms, deliveries)
        )
    return NoticesPage(tuple(chosen), 0)


def render(book: NoticeBook, command: Command, events: tuple[Any, ...]) -> Reply | Rejection:
    match command:
        case IssueSmsCode():
            return CodeIssued(events[0].expires_at_ms)
        case UseSmsCode():
            return wrong_code() if isinstance(events[0], SmsCodeMissed) else CodeAccepted()
    return NoticeDone()


NOTICE_COMMANDS = (IssueSmsCode, UseSmsCode, RecordNotice, RecordDelivery)
NOTICE_QUERIES = (DueDeliveries, ListNotices)
NOTICE_EVENTS = (SmsCodeIssued, SmsCodeMissed, SmsCodeUsed, NoticeRecorded, DeliveryRecorded)
