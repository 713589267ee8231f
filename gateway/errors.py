"""Rejections on the wire: one table from reason to gRPC status, details as google.rpc.Status.

Clients get the status code, a message, and an ErrorInfo (AIP-193) whose reason is the reason's
name, domain "keyun.v1", and metadata holding the numeric code and the rejection's facts.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from keyun.engine.outbox import AuditBacklog, Audited
from keyun.engine.reasons import Reason, Rejection

from .owners import Overloaded, OwnerFailed, OwnerUnavailable

log = logging.getLogger("keyun.gateway")

# How soon a client should retry after an overload or an owner restart.
RETRY_AFTER_OVERLOAD_S = 0.2
RETRY_AFTER_RESTART_S = 1.0
# How soon to retry a call on a ticket a rebooking holds: its saga takes a few owner round trips.
RETRY_AFTER_MOVE_S = 0.5
# Refusals that pass by themselves carry a retry hint (RetryInfo).
RETRY_AFTER_S: dict[Reason, float] = {Reason.CHANGE_IN_PROGRESS: RETRY_AFTER_MOVE_S}

DOMAIN = "keyun.v1"

# The audit note of the call being handled (set by the auth interceptor): abort() writes the
# reason there, so the audit record says why a call was refused.
OUTCOME: contextvars.ContextVar[dict | None] = contextvars.ContextVar("keyun_outcome", default=None)
DETAILS_KEY = "grpc-status-details-bin"

STATUS_OF: dict[Reason, grpc.StatusCode] = {
    Reason.INVALID_FIELD: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.MISSING_FIELD: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.REQUEST_ID_REUSED: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.TOO_MANY_SEATS: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BAD_SEGMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.DUPLICATE_SEAT: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BAD_PAGE_TOKEN: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BAD_NETWORK: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BAD_STATION_RULES: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.STATION_RULES_IN_PAST: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.UNKNOWN_TRIP: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_HOLD: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_TICKET: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_SEAT: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.UNKNOWN_STATION: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.UNKNOWN_ACCOUNT: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_PASSENGER: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_ROLE: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.UNKNOWN_ORDER: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_REFUND: grpc.StatusCode.NOT_FOUND,
    Reason.TRIP_ARCHIVED: grpc.StatusCode.NOT_FOUND,
    Reason.SEAT_TAKEN: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.NOT_ENOUGH_SEATS: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.HOLD_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SALES_CLOSED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.REFUND_NOT_ALLOWED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.ALREADY_REFUNDED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.NOT_YET_BOARDING: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.ALREADY_CHECKED_IN: grpc.StatusCode.ALREADY_EXISTS,
    Reason.BOARDING_CLOSED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.TRIP_CANCELLED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.TRIP_CONFLICT: grpc.StatusCode.ALREADY_EXISTS,
    Reason.TICKET_CHECKED_IN: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.HOLD_CLOSED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.TRIP_DEPARTED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.PAYMENT_MISMATCH: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.HOLD_HAS_ORDER: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.ORDER_CLOSED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.CHANGE_NOT_ALLOWED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.TICKET_CHANGED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.PAYMENT_REFUSED: grpc.StatusCode.FAILED_PRECONDITION,
    # A rebooking holds the ticket for a moment: UNAVAILABLE, with a retry hint, is what clients
    # retry by themselves with the same request id (terminals/client.py).
    Reason.CHANGE_IN_PROGRESS: grpc.StatusCode.UNAVAILABLE,
    # Ticket types and real-name sales: the request is well formed, the rules refuse it.
    Reason.IDENTITY_REQUIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.AGE_NOT_CHILD: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.AGE_NOT_FREE_CHILD: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.FREE_CHILD_NEEDS_ADULT: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.FREE_CHILD_LIMIT: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.CHILD_FARE_NOT_OFFERED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.STUDENT_FARE_NOT_OFFERED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.DOCUMENT_HAS_TICKET: grpc.StatusCode.ALREADY_EXISTS,
    Reason.NOT_AUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Reason.TOKEN_EXPIRED: grpc.StatusCode.UNAUTHENTICATED,
    Reason.SESSION_ENDED: grpc.StatusCode.UNAUTHENTICATED,
    Reason.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    Reason.BAD_CREDENTIALS: grpc.StatusCode.UNAUTHENTICATED,
    Reason.ACCOUNT_LOCKED: grpc.StatusCode.PERMISSION_DENIED,
    Reason.SECOND_FACTOR_REQUIRED: grpc.StatusCode.UNAUTHENTICATED,
    Reason.WEAK_PASSWORD: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.ACCOUNT_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    Reason.LOGIN_THROTTLED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Reason.SMS_CODE_WRONG: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.SMS_CODE_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SMS_CODE_USED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SMS_CODE_ATTEMPTS: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SMS_CODE_THROTTLED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Reason.SMS_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Reason.SMS_NOT_CONFIGURED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SETUP_CLOSED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.ACCOUNT_DISABLED: grpc.StatusCode.PERMISSION_DENIED,
    Reason.PASSENGER_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    Reason.TOO_MANY_PASSENGERS: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.RETENTION_TOO_SHORT: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.NO_SECOND_FACTOR: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.TOO_MANY_LOGIN_ATTEMPTS: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Reason.LOGIN_ATTEMPT_EXPIRED: grpc.StatusCode.ABORTED,
    Reason.CASH_NOT_ACCEPTED: grpc.StatusCode.PERMISSION_DENIED,
    Reason.TOTP_CODE_REUSED: grpc.StatusCode.UNAUTHENTICATED,
    Reason.DEVICE_DISABLED: grpc.StatusCode.PERMISSION_DENIED,
    Reason.DEVICE_NOT_REGISTERED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.DEVICE_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    Reason.UNKNOWN_DEVICE: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_ANNOUNCEMENT: grpc.StatusCode.NOT_FOUND,
    Reason.BAD_CALENDAR: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BAD_ADVANCE_DAYS: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BAD_EFFECTIVE_DATE: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.TRIP_HAS_SALES: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.CREDENTIAL_MALFORMED: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.CREDENTIAL_BAD_SIGNATURE: grpc.StatusCode.PERMISSION_DENIED,
    Reason.CREDENTIAL_UNKNOWN_KEY: grpc.StatusCode.PERMISSION_DENIED,
    Reason.CREDENTIAL_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.CREDENTIAL_NOT_YET_VALID: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.CREDENTIAL_REVOKED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.NO_OPEN_SHIFT: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SHIFT_ALREADY_OPEN: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.UNKNOWN_SHIFT: grpc.StatusCode.NOT_FOUND,
    Reason.SHIFT_CLOSED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.NO_PAPER_NUMBERS: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.STOCK_OVERLAP: grpc.StatusCode.ALREADY_EXISTS,
    Reason.UNKNOWN_STOCK: grpc.StatusCode.NOT_FOUND,
    Reason.VOID_NOT_ALLOWED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.UNKNOWN_ALLOTMENT: grpc.StatusCode.NOT_FOUND,
    Reason.OUTSIDE_ALLOTMENT: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.ALLOTMENT_OVERSOLD: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.ALLOTMENT_SETTLED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.BOARDS_ELSEWHERE: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.INVALID_DOCUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.NO_TICKET_FOR_DOCUMENT: grpc.StatusCode.NOT_FOUND,
    Reason.DOCUMENT_REQUIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.DOCUMENT_MISMATCH: grpc.StatusCode.PERMISSION_DENIED,
    Reason.TICKET_ALREADY_PRINTED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.NOTHING_TO_PICK_UP: grpc.StatusCode.NOT_FOUND,
    Reason.REPORTS_OFF: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.BEHAVIOUR_BAD_PERIOD: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BEHAVIOUR_UNKNOWN_SECTION: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BEHAVIOUR_UNKNOWN_CHANNEL: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.UPLOADS_OFF: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SEAT_BLOCKED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SEAT_RESERVED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SEAT_IN_USE: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SEAT_IN_QUOTA: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.QUOTA_TOO_LARGE: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.NO_QUOTA: grpc.StatusCode.NOT_FOUND,
    Reason.SEAT_NOT_BLOCKED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.RELEASE_PASSED: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.NO_SOURCE_TRIP: grpc.StatusCode.NOT_FOUND,
    Reason.MERGE_NOT_ALLOWED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.UNKNOWN_VEHICLE: grpc.StatusCode.NOT_FOUND,
    Reason.UNKNOWN_DRIVER: grpc.StatusCode.NOT_FOUND,
    Reason.VEHICLE_RETIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.DRIVER_RETIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.PLATE_TAKEN: grpc.StatusCode.ALREADY_EXISTS,
    Reason.CERTIFICATE_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.QUALIFICATION_EXPIRED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.TOO_FEW_RATED_SEATS: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.VEHICLE_BUSY: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.DRIVER_BUSY: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SAFETY_CHECK_PENDING: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SAFETY_CHECK_FAILED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SETTLEMENT_NO_CONTRACT: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SETTLEMENT_PERIOD_LOCKED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SETTLEMENT_LOCK_OVERLAPS: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.SETTLEMENT_ALREADY_LOCKED: grpc.StatusCode.ALREADY_EXISTS,
    Reason.SETTLEMENT_UNKNOWN_LOCK: grpc.StatusCode.NOT_FOUND,
    Reason.TRIP_NOT_DEPARTED: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.BAD_FLOW: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.FLOW_LINE_FULL: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.VEHICLE_LAYOUT_TOO_SMALL: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.VEHICLE_SEATS_HELD: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.VEHICLE_TOO_SMALL: grpc.StatusCode.FAILED_PRECONDITION,
    Reason.VEHICLE_PLAN_CHANGED: grpc.StatusCode.ABORTED,
}
assert set(STATUS_OF) == set(Reason), "every reason maps to a status"


def _packed(message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def status_details(
    code: grpc.StatusCode,
    message: str,
    reason: str,
    metadata: dict[str, str],
    field: str | None = None,
    retry_after_s: float | None = None,
) -> bytes:
    """A serialized google.rpc.Status for the grpc-status-details-bin trailer."""
    details = [_packed(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata))]
    if field:
        violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
        details.append(_packed(error_details_pb2.BadRequest(field_violations=[violation])))
    if retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(retry_after_s * 1000))
        details.append(_packed(error_details_pb2.RetryInfo(retry_delay=delay)))
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message, details=details)
    return status.SerializeToString()


class Refused(Exception):
    """Raised by abort() once the call's status is set on its context.

    The interceptors end the call with that status: MetricsInterceptor for unary calls,
    AuthInterceptor for server streams.  context.abort would do the same, but it first waits for
    the status to be sent, and then raises through grpc.  A rush sale is mostly refusals, and that
    cost the gateway about a tenth of its time (BENCHMARKS.md).
    """

    def __init__(self, rejection: Rejection):
        super().__init__(rejection.message)
        self.rejection = rejection


# A refusal's trailer (grpc-message, percent-encoded, and the details, base64-encoded) stays
# under this many bytes whatever a code path put in the rejection: clients cap trailers (grpc's
# Python client refuses metadata past 8 KB at random and past 16 KB always; grpc-js hung on
# larger ones), and a refusal is no place for a megabyte.  The message is cut to fit (docs/api.md, "Errors").
MAX_TRAILER_BYTES = 2000
# Facts are short machine-readable values (a code, a limit, an id): bounded each and in number,
# so the message keeps most of the room.
MAX_FACTS = 8
MAX_FACT_KEY_BYTES = 32
MAX_FACT_VALUE_BYTES = 64
# A field path (`system_admin.login_name`, `seat_numbers[1]`) is short; a longer one is a bug.
MAX_FIELD_PATH_BYTES = 64
ELLIPSIS = "…"


def cut(text: str, max_bytes: int) -> str:
    """`text` if it fits in `max_bytes` of UTF-8, else its longest prefix that fits with "…"."""
    if len(text) <= max_bytes // 4 or len(text.encode()) <= max_bytes:  # the first test spares encoding short text
        return text
    room = max_bytes - len(ELLIPSIS.encode())
    return text.encode()[:room].decode(errors="ignore") + ELLIPSIS


def wire_bytes(message: str) -> int:
    """grpc-message's size on the wire: grpc percent-encodes bytes outside printable ASCII and '%'."""
    if message.isascii() and message.isprintable():
        return len(message) + 2 * message.count("%")
    return sum(1 if 0x20 <= byte <= 0x7E and byte != 0x25 else 3 for byte in message.encode())


def bounded(rejection: Rejection) -> tuple[str, dict[str, str], str | None]:
    """The message, metadata and field path of a refusal, each cut to its bound (see MAX_TRAILER_BYTES)."""
    metadata = {"reason_code": str(int(rejection.reason))}
    for key, value in rejection.facts[:MAX_FACTS]:
        metadata[cut(key, MAX_FACT_KEY_BYTES)] = cut(value, MAX_FACT_VALUE_BYTES)
    field = rejection.fact("field")
    return rejection.message, metadata, cut(field, MAX_FIELD_PATH_BYTES) if field else None


def fitted_details(code: grpc.StatusCode, rejection: Rejection) -> tuple[str, bytes]:
    """The refusal's message and serialized details, the message cut until both fit MAX_TRAILER_BYTES."""
    message, metadata, field = bounded(rejection)
    retry_after_s = RETRY_AFTER_S.get(rejection.reason)
    details = status_details(code, message, rejection.reason.name, metadata, field, retry_after_s)
    while wire_bytes(message) + (len(details) + 2) // 3 * 4 + len(DETAILS_KEY) > MAX_TRAILER_BYTES and message:
        message = cut(message, len(message.encode()) // 2) if len(message) > 1 else ""
        details = status_details(code, message, rejection.reason.name, metadata, field, retry_after_s)
    return message, details


async def abort(context: grpc.aio.ServicerContext, rejection: Rejection) -> NoReturn:
    """End the call with the rejection's status and details: raises Refused."""
    code = STATUS_OF[rejection.reason]
    note = OUTCOME.get()
    if note is not None:
        note["outcome"] = rejection.reason.name
    message, details = fitted_details(code, rejection)
    context.set_code(code)
    context.set_details(message)
    context.set_trailing_metadata(((DETAILS_KEY, details),))
    raise Refused(rejection)


async def abort_unavailable(
    context: grpc.aio.ServicerContext, code: grpc.StatusCode, reason: str, message: str, retry_after_s: float | None
) -> None:
    """The server, not the request, is the problem (overload, an owner restarting or failing):
    say so with a reason, and when to try again if retrying can help."""
    note = OUTCOME.get()
    if note is not None:
        note["outcome"] = reason
    details = status_details(code, message, reason, {}, retry_after_s=retry_after_s)
    await context.abort(code, message, trailing_metadata=((DETAILS_KEY, details),))


def note_audit(**values: Any) -> None:
    """Tell the interceptor more about the call being handled, for its audit record: `target`,
    `detail`, `principal` (who logs in), `audit_outcome` (the outcome the call has if applied)."""
    note = OUTCOME.get()
    if note is not None:
        note.update(values)


def with_audit_record(item: Any, from_reply: bool = False) -> tuple[Any, dict | None]:
    """The item to send an owner, with the call's audit record attached (engine.outbox.Audited)
    if the interceptor made one, and the call's audit note (None if there is no record)."""
    note = OUTCOME.get()
    if note is None or "audit" not in note:
        return item, None
    return Audited(item, note["audit"](), from_reply), note


def recorded_by_owner(note: dict | None, reply: Any) -> None:
    """After an audited call's owner answered: the owner journaled its record, so the interceptor
    writes none, unless the call goes on to fail after the owner applied it (a payment provider
    that cannot be reached, say).  `note["recorded"]` keeps the outcome the owner journaled.
    An owner keeping too many records for the audit owner took nothing: Overloaded."""
    if type(reply) is AuditBacklog:
        raise Overloaded()
    if note is not None:
        note["recorded"] = reply.reason.name if isinstance(reply, Rejection) else note.get("audit_outcome", "OK")


class owner_errors:
    """`async with owner_errors(context):` turns an owner that cannot answer into a status the
    client can act on.  A class rather than @asynccontextmanager: every call enters it twice, and a
    generator-based manager costs several times as much."""

    __slots__ = ("context",)

    def __init__(self, context: grpc.aio.ServicerContext):
        self.context = context

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind, error, traceback) -> bool:
        if isinstance(error, Overloaded):
            await abort_unavailable(
                self.context,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "OVERLOADED",
                "too many requests waiting; retry shortly",
                RETRY_AFTER_OVERLOAD_S,
            )
        elif isinstance(error, OwnerUnavailable):
            await abort_unavailable(
                self.context,
                grpc.StatusCode.UNAVAILABLE,
                "OWNER_RESTARTING",
                "an owner is restarting; retry with the same request_id",
                RETRY_AFTER_RESTART_S,
            )
        elif isinstance(error, OwnerFailed):
            log.error("an owner call failed", exc_info=(kind, error, traceback))
            await abort_unavailable(
                self.context,
                grpc.StatusCode.INTERNAL,
                "OWNER_FAILED",
                "internal error; it has been logged, and the outcome is unknown",
                None,
            )
        return False  # anything else goes on as it was
