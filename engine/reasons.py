"""Stable reason codes for every rejection.

A rejection is data, not an exception: a `Reason` plus a human message and a few machine-readable
facts.  Codes are never reused or renumbered; add new ones at the end of their block.
"""

from __future__ import annotations

from enum import IntEnum

from .values import Outcome, Reply, Value


class Reason(IntEnum):
    # 1xxx: the request itself is malformed.  Nothing was looked up.
    INVALID_FIELD = 1001
    MISSING_FIELD = 1002
    REQUEST_ID_REUSED = 1003
    TOO_MANY_SEATS = 1004
    BAD_SEGMENT = 1005
    DUPLICATE_SEAT = 1006
    BAD_PAGE_TOKEN = 1007
    BAD_NETWORK = 1008

    # 2xxx: something named in the request does not exist.
    UNKNOWN_TRIP = 2001
    UNKNOWN_HOLD = 2002
    UNKNOWN_TICKET = 2003
    UNKNOWN_SEAT = 2004
    UNKNOWN_STATION = 2005
    UNKNOWN_ACCOUNT = 2006
    UNKNOWN_PASSENGER = 2007
    UNKNOWN_ROLE = 2008
    UNKNOWN_ORDER = 2010
    UNKNOWN_REFUND = 2011
    TRIP_ARCHIVED = 2012  # the trip ran long ago and was archived: its records are read with `keyun archive`

    # 3xxx: the request is well-formed but the state of the trip does not allow it.
    SEAT_TAKEN = 3001
    NOT_ENOUGH_SEATS = 3002
    HOLD_EXPIRED = 3003
    SALES_CLOSED = 3004
    REFUND_NOT_ALLOWED = 3005
    ALREADY_REFUNDED = 3006
    NOT_YET_BOARDING = 3007
    ALREADY_CHECKED_IN = 3008
    BOARDING_CLOSED = 3009
    TRIP_CANCELLED = 3010
    TRIP_CONFLICT = 3011
    TICKET_CHECKED_IN = 3012
    HOLD_CLOSED = 3013
    TRIP_DEPARTED = 3014
    PAYMENT_MISMATCH = 3015  # a payment whose amount or method is not the order's
    HOLD_HAS_ORDER = 3016  # the hold is being paid for through its order
    ORDER_CLOSED = 3017  # the order is past the state the command needs
    CHANGE_NOT_ALLOWED = 3018  # a ticket may be rebooked once, before it is used, refunded or gone
    TICKET_CHANGED = 3019  # the ticket was rebooked to another trip
    PAYMENT_REFUSED = 3020  # the payment provider refused (a declined card, a closed payment)
    CHANGE_IN_PROGRESS = 3021  # the ticket is being rebooked: the call waits until the move is finished or undone
    # 31xx: ticket types and real-name sales (docs/tickets.md), numbered apart from the block above.
    IDENTITY_REQUIRED = 3101  # a child, free-child or concession ticket without the passenger's resident ID
    AGE_NOT_CHILD = 3102  # a child ticket for someone not 6 to under 14 on the travel date
    AGE_NOT_FREE_CHILD = 3103  # a free child who is 6 or older on the travel date: sell a child ticket
    FREE_CHILD_NEEDS_ADULT = 3104  # more free children than fare-paying adults in the sale, or one on a child's ticket
    FREE_CHILD_LIMIT = 3105  # the trip carries as many free children as 10 % of its rated seats allows
    CHILD_FARE_NOT_OFFERED = 3106  # child fares on a vehicle of 9 seats or fewer (交运规〔2019〕17号)
    STUDENT_FARE_NOT_OFFERED = 3107  # a student ticket on a schedule that offers none
    DOCUMENT_HAS_TICKET = 3108  # the document already holds a live ticket (or a hold) on this trip

    # 4xxx: who is calling, and what they may do (accounts, sessions, permissions).
    NOT_AUTHENTICATED = 4001  # no credentials, or a token that is malformed or badly signed
    TOKEN_EXPIRED = 4002
    SESSION_ENDED = 4003  # logged out, idle too long, or revoked
    PERMISSION_DENIED = 4004
    BAD_CREDENTIALS = 4005  # wrong account name, password or second factor: never says which
    ACCOUNT_LOCKED = 4006
    SECOND_FACTOR_REQUIRED = 4007
    WEAK_PASSWORD = 4008
    ACCOUNT_EXISTS = 4009
    LOGIN_THROTTLED = 4010  # back-off between failed logins, before the lock-out
    SETUP_CLOSED = 4011  # the one-time setup token was used already, or is wrong
    ACCOUNT_DISABLED = 4012
    PASSENGER_EXISTS = 4013
    TOO_MANY_PASSENGERS = 4014
    RETENTION_TOO_SHORT = 4015  # an audit purge that would remove records younger than the law allows
    NO_SECOND_FACTOR = 4016  # an administrator role for an account without one
    TOO_MANY_LOGIN_ATTEMPTS = 4017  # every password check the policy allows is already in flight or spent
    LOGIN_ATTEMPT_EXPIRED = 4018  # the password check took so long that its reservation was counted as a failure
    CASH_NOT_ACCEPTED = 4020  # money in hand (Sell, Confirm, cash) from a kiosk with no cash acceptor declared
    TOTP_CODE_REUSED = 4021  # the right TOTP code, used for a login already: wait for the next one (not a failure)
    # SMS verification codes (engine/notices.py, docs/notices.md).
    SMS_CODE_WRONG = 4022  # not the code sent (or none was sent for this number and purpose)
    SMS_CODE_EXPIRED = 4023  # past its five minutes: ask for a new one
    SMS_CODE_USED = 4024  # a code is good once
    SMS_CODE_ATTEMPTS = 4025  # too many wrong tries for this code: ask for a new one
    SMS_CODE_THROTTLED = 4026  # codes asked too often for this number or from this address (retry_at_ms)
    SMS_UNAVAILABLE = 4027  # the SMS provider did not take the message: try again shortly
    SMS_NOT_CONFIGURED = 4028  # the station has no SMS provider: codes cannot be sent
    # 46xx: the device registry (engine/devices.py, docs/devices.md), numbered apart from the block above.
    DEVICE_DISABLED = 4601  # the station disabled this device: every call but its heartbeat is refused
    DEVICE_NOT_REGISTERED = 4602  # a heartbeat from an account or certificate no device is registered with
    DEVICE_EXISTS = 4603  # the account or certificate is registered to another device already
    UNKNOWN_DEVICE = 4604

    # 52xx: boarding credentials (keyun.common.eticket): why a scanned credential does not board.
    CREDENTIAL_MALFORMED = 5201  # not a Keyun credential, or a format this side does not read
    CREDENTIAL_BAD_SIGNATURE = 5202  # changed since it was signed (or signed by someone else under a known id)
    CREDENTIAL_UNKNOWN_KEY = 5203  # signed by a key that is not one of this station's credential keys
    CREDENTIAL_EXPIRED = 5204  # past its validity window: the trip has gone
    CREDENTIAL_NOT_YET_VALID = 5205  # before its validity window
    CREDENTIAL_REVOKED = 5206  # its ticket was refunded, changed, voided, or its trip cancelled
    # 5xxx: the counter: seller shifts, paper ticket stock, voids (engine/shifts.py, docs/shifts.md).
    NO_OPEN_SHIFT = 5001  # a counter seller sells, refunds or voids only in a shift they opened
    SHIFT_ALREADY_OPEN = 5002
    UNKNOWN_SHIFT = 5003
    SHIFT_CLOSED = 5004  # the shift is past the state the command needs (closed, or deposited)
    NO_PAPER_NUMBERS = 5005  # the seller's issued paper ticket numbers are used up
    STOCK_OVERLAP = 5006  # a paper number is never received or issued twice
    UNKNOWN_STOCK = 5007
    VOID_NOT_ALLOWED = 5008  # outside the void window, another shift or counter, or not a plain counter sale
    # 57xx: seat allotments lent to handhelds (engine/handheld.py, docs/handheld.md).
    UNKNOWN_ALLOTMENT = 5701  # no such allotment, or it is lent to another device
    OUTSIDE_ALLOTMENT = 5702  # a settled sale's seat or segment is not within the allotment
    ALLOTMENT_OVERSOLD = 5703  # a settlement sells one seat-leg of the allotment twice
    ALLOTMENT_SETTLED = 5704  # a new sale on an allotment already settled
    # 53xx: the gate program's own decisions (keyun.terminals.boarding_core, docs/boarding.md).
    BOARDS_ELSEWHERE = 5301  # the ticket boards at another station than this gate's
    INVALID_DOCUMENT = 5302  # a scanned resident ID number whose check digit is wrong
    NO_TICKET_FOR_DOCUMENT = 5303  # no ticket boarding at this gate for the scanned identity document
    DOCUMENT_REQUIRED = 5304  # real-name boarding: scan the passenger's identity card next
    DOCUMENT_MISMATCH = 5305  # the scanned identity card is not the ticket holder's
    # 54xx: picking up tickets bought online (取票) at a kiosk or counter (docs/kiosk.md).
    TICKET_ALREADY_PRINTED = 5401  # the ticket's paper copy was printed already: a counter reprints a lost one
    NOTHING_TO_PICK_UP = 5402  # no live ticket of a coach yet to leave for this order code and document
    # 58xx: the departure board (engine/announcements.py, docs/board.md).
    UNKNOWN_ANNOUNCEMENT = 5801
    # 59xx: reports (docs/reporting.md).
    REPORTS_OFF = 5901  # the server runs without the report projector (keyun serve --no-reports)
    # 594x: behaviour analysis (docs/reporting.md "Behaviour analysis").
    BEHAVIOUR_BAD_PERIOD = 5940  # a funnel or behaviour report's period is reversed or longer than allowed
    BEHAVIOUR_UNKNOWN_SECTION = 5941  # BehaviourReport asked for a section it does not have
    BEHAVIOUR_UNKNOWN_CHANNEL = 5942  # a funnel report filtered by a channel that is none of the known ones
    # 5950-5969: uploads to the transport authority (docs/authority.md).
    UPLOADS_OFF = 5950  # the server does not upload (no --authority-url, or reports off)
    # 6030-6059: seat quotas for stops (配载), blocked seats and extra runs (engine/seat_plan.py, docs/dispatch.md).
    SEAT_BLOCKED = 6030  # the seat is blocked by dispatch (crew, broken): it is neither sold nor held
    SEAT_RESERVED = 6031  # the seat is kept for passengers boarding at another stop until its quota's release
    SEAT_IN_USE = 6032  # a live ticket, hold or allotment is on the seat: it cannot be blocked or put in a quota
    SEAT_IN_QUOTA = 6033  # the seat is in a quota already (another stop's, or blocked seats asked into a quota)
    QUOTA_TOO_LARGE = 6034  # fewer seats are free from the quota's stop on than the quota asks for
    NO_QUOTA = 6035  # the trip has no quota for that stop
    SEAT_NOT_BLOCKED = 6036  # unblocking a seat that is not blocked
    RELEASE_PASSED = 6037  # a quota's release time is already past, or after the stop's departure
    NO_SOURCE_TRIP = 6038  # an extra run names a schedule with no trip near that date to copy the route from
    # 606x: timetables that roll by themselves: calendars, advance-sale days, effective dates (docs/network-file.md).
    BAD_CALENDAR = 6060  # a network file whose only problems are in schedules' calendars
    BAD_ADVANCE_DAYS = 6061  # a network file whose only problems are schedules' advance_days
    BAD_EFFECTIVE_DATE = 6062  # effective_from is not a date, or is before the server's today
    TRIP_HAS_SALES = 6063  # a trip with tickets, holds or orders keeps its terms: a new definition is not put on it

    # 6080-6099: merged runs (并班), vehicle changes, missed runs (脱班)
    MERGE_NOT_ALLOWED = 6080  # the two trips cannot be merged: the same trip, another route, or the target closed
    # 6140-6159: vehicle changes (Dispatch/ChangeVehicle, engine/seat_plan.py, docs/dispatch.md).
    VEHICLE_LAYOUT_TOO_SMALL = 6140  # the new coach has more seats than the trip's seat layout names
    VEHICLE_SEATS_HELD = 6141  # a hold or a handheld's allotment is on a seat the new coach lacks
    VEHICLE_TOO_SMALL = 6142  # tickets have no seat in the new coach, and no choice was made for them
    VEHICLE_PLAN_CHANGED = 6143  # a sale or refund came between the plan and the change: plan again
    # 60xx: vehicles, drivers, report-in and the safety check (engine/fleet.py, docs/dispatch.md).
    UNKNOWN_VEHICLE = 6000
    UNKNOWN_DRIVER = 6001
    VEHICLE_RETIRED = 6002
    DRIVER_RETIRED = 6003
    PLATE_TAKEN = 6004  # another vehicle in service has this plate
    CERTIFICATE_EXPIRED = 6005  # the vehicle's permit, inspection or insurance has expired on the travel date
    QUALIFICATION_EXPIRED = 6006  # the driver's qualification certificate (从业资格证) has expired then
    TOO_FEW_RATED_SEATS = 6007  # the vehicle has fewer rated seats than the trip has sold
    VEHICLE_BUSY = 6008  # the vehicle runs an overlapping trip
    DRIVER_BUSY = 6009  # the driver drives an overlapping trip
    SAFETY_CHECK_PENDING = 6010  # check-in waits for the trip's safety check (安检) to pass
    SAFETY_CHECK_FAILED = 6011  # the trip's last safety check failed: check-in stays closed
    # 6100-6119: departure and the trip sheet (engine/trip_sheet.py, docs/dispatch.md).
    TRIP_NOT_DEPARTED = 6100  # a trip sheet is made at departure: the trip has not departed
    # 5920-5939: operator settlement (engine/settlement.py, docs/settlement.md).
    SETTLEMENT_NO_CONTRACT = 5920  # no contract of the operator is in effect on the period's first day
    SETTLEMENT_PERIOD_LOCKED = 5921  # a contract change would reach into a locked period
    SETTLEMENT_LOCK_OVERLAPS = 5922  # the period overlaps one of the operator's locked periods
    SETTLEMENT_ALREADY_LOCKED = 5923  # the very period is locked already
    SETTLEMENT_UNKNOWN_LOCK = 5924  # no such settlement lock
    # 6120-6139: departure-when-full lines (流水班, docs/dispatch.md "Departure-when-full lines").
    BAD_FLOW = 6120  # a network file whose only problems are in schedules' flow tables
    FLOW_LINE_FULL = 6121  # every coach the line may run that day is full or gone
    # 6160-6179: station rules changed at runtime (engine/station_rules.py, docs/operations.md).
    BAD_STATION_RULES = 6160  # a scheduled policy file that is not valid TOML or breaks a rule (per field)
    STATION_RULES_IN_PAST = 6161  # new station rules must take effect later than now


# Refusals that say "not now" rather than "no": the owner neither journals nor remembers them, so
# a retry with the same request id is decided afresh once the reason has passed.  Remembering them
# would turn a refund that waited for a rebooking into a refund refused for good.
# A vehicle change refused for what is on the trip now (engine/seat_plan.py) is decided afresh
# when sent again, with a choice for the tickets that do not fit or with a new plan.
TRANSIENT = frozenset({Reason.CHANGE_IN_PROGRESS, Reason.VEHICLE_TOO_SMALL, Reason.VEHICLE_PLAN_CHANGED})


class Rejection(Value, Reply, Outcome):
    """Why a command was refused.  `facts` are machine-readable details (all strings)."""

    reason: Reason
    message: str
    facts: tuple[tuple[str, str], ...] = ()

    def fact(self, key: str) -> str | None:
        return dict(self.facts).get(key)


class Rejected(Exception):
    """Raised by command constructors when a field is invalid; carries the rejection as data."""

    def __init__(self, rejection: Rejection):
        super().__init__(rejection.message)
        self.rejection = rejection


def reject(reason: Reason, message: str, **facts: object) -> Rejection:
    return Rejection(reason, message, tuple((k, str(v)) for k, v in facts.items()))


def invalid(field_name: str, message: str) -> Rejected:
    """The exception for a bad field, naming the field so clients can point at it."""
    return Rejected(reject(Reason.INVALID_FIELD, f"{field_name}: {message}", field=field_name))


# A refusal quotes at most this many characters of a bad value: enough to recognise it, and a
# value of any length stays a short message (a 20,000-character seat number once made a 40 KB
# trailer, which clients refuse or hang on).
QUOTE_CHARS = 40


def quote(value: object) -> str:
    """A bad value as a refusal may show it: repr of at most QUOTE_CHARS characters, cut with an
    ellipsis that says how long the whole value was."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= QUOTE_CHARS:
        return repr(text)
    return f"{text[:QUOTE_CHARS]!r}… ({len(text)} characters)"


def element(field_name: str, index: int) -> str:
    """The path of one element of a repeated field, as AIP-193 names it: `seat_numbers[1]`."""
    return f"{field_name}[{index}]"


def first_repeat(values: tuple[object, ...]) -> int | None:
    """The index of the first value named a second time, or None: the element a refusal names."""
    seen = set()
    for index, value in enumerate(values):
        if value in seen:
            return index
        seen.add(value)
    return None


def at_path(rejection: Rejection, path: str) -> Rejection:
    """The rejection naming `path` (the request's field path) instead of the field it named: the
    engine's checks name their own field, and a request may hold that field elsewhere (a
    passenger id checked for `passenger_id` is `passenger_ids[1]` of a Hold)."""
    named = rejection.fact("field")
    if named is None or named == path:
        return rejection
    message = (
        f"{path}{rejection.message[len(named) :]}" if rejection.message.startswith(f"{named}:") else rejection.message
    )
    facts = tuple((key, path if key == "field" else value) for key, value in rejection.facts)
    return Rejection(rejection.reason, message, facts)
