"""Roles, permissions and scopes: what an account may do, and where.

Which permission and scope every RPC needs is the gateway's table (keyun.gateway.rules), beside
the servicers.  A role is a fixed set of permissions; an account holds
roles and a scope (the stations and operators it works for).  The three administrators are
separated as GB/T 22239 level 3 asks: the system administrator runs staff, devices (their
accounts and the device registry) and backups, the security administrator grants roles, the
audit administrator only reads the audit log, and no role can change or delete audit records
(there is no RPC that could).
"""

from __future__ import annotations

from enum import Enum

from .reasons import Reason, Rejection, reject


class Permission(Enum):
    PUBLIC = "public"  # anyone, even without logging in: timetables, registration, login
    SELF = "self"  # any logged-in account, about itself: profile, password, logout, passengers
    RESERVE = "reserve"  # hold seats for one's own frequent passengers, release such holds, read one's own tickets
    SELL = "sell"  # hold and release seats, and sell them through orders paid by card or wallet
    # Issue tickets against money taken in hand: Sell and Confirm (tickets with no order), cash for an
    # order (PayAtCounter), a rebooking's dearer fare collected on the spot.  A counter's cashier
    # holds it; a kiosk only when the station declares it has a cash acceptor (cash_acceptor).
    TAKE_CASH = "take_cash"
    REFUND = "refund"
    TICKET_READ = "ticket_read"
    CHECK_IN = "check_in"
    MANIFEST_READ = "manifest_read"
    SETTLEMENT = "settlement"  # money in and out: reconciliation with the payment providers
    DISPATCH = "dispatch"  # departures and cancellations
    NETWORK_LOAD = "network_load"  # routes, schedules and trips
    PERSONAL_DATA_READ = "personal_data_read"  # unmasked document and phone numbers; audited
    # Find a passenger's tickets by document or phone (the blind index), with a stated purpose;
    # audited.  The tickets come back masked.
    PASSENGER_TRACE = "passenger_trace"
    STAFF_MANAGE = "staff_manage"  # staff and device accounts: create, list, disable
    ROLE_GRANT = "role_grant"  # grant and revoke roles and scopes
    ACCOUNT_UNLOCK = "account_unlock"  # lift a lock-out after failed logins before it ends by itself
    AUDIT_READ = "audit_read"
    # The device registry (engine/devices.py): register, disable and enable gates, kiosks, handhelds
    # and counters; DEVICE_READ lists them and shows which are offline or behind.
    DEVICE_MANAGE = "device_manage"
    DEVICE_READ = "device_read"
    # Counter work in shifts (engine/shifts.py, docs/shifts.md).  A holder sells, refunds and voids
    # only in a shift they opened, and every ticket they print takes their next paper number.
    SHIFT_WORK = "shift_work"
    SHIFT_READ = "shift_read"  # every seller's shifts and handover slips
    STOCK_MANAGE = "stock_manage"  # receive paper ticket stock and issue ranges of it to sellers
    DEPOSIT_CONFIRM = "deposit_confirm"  # confirm a closed shift's money was received (缴款)
    # A handheld's sale (移动售票, docs/handheld.md): on the trips of its scope, from any of their
    # stops, online (Sales/Sell) or from a seat allotment lent to it (the Handheld service).
    HANDHELD_SELL = "handheld_sell"
    # Pick up tickets bought online (取票, docs/kiosk.md): print an order's or a document's paper
    # tickets once, marking them printed.  Kiosks and counter sellers; audited.
    TICKET_PICKUP = "ticket_pickup"
    # Every notice to passengers with the status of each SMS delivery (docs/notices.md): the
    # station follows up deliveries that failed.  Phone numbers come back masked.
    NOTICE_READ = "notice_read"
    # Publish and withdraw station announcements for the departure boards (engine/announcements.py,
    # docs/board.md): notices, weather warnings, road closures.
    ANNOUNCE = "announce"
    # Reports (统计) from the reporting store: sales by route, channel, seller...; no personal data
    # (passengers are pseudonyms there), but every seller's and counter's figures.
    REPORT_READ = "report_read"
    # Read and schedule the station rules (the policy file) at runtime (engine/station_rules.py).
    POLICY_MANAGE = "policy_manage"


class Role(Enum):
    PASSENGER = "passenger"
    TICKET_SELLER = "ticket_seller"
    GATE_INSPECTOR = "gate_inspector"
    DISPATCHER = "dispatcher"
    FINANCE = "finance"
    KIOSK_DEVICE = "kiosk_device"
    GATE_DEVICE = "gate_device"
    HANDHELD_DEVICE = "handheld_device"
    SYSTEM_ADMIN = "system_admin"
    SECURITY_ADMIN = "security_admin"
    AUDIT_ADMIN = "audit_admin"
    # A ticket seller at a counter who works in shifts with paper ticket stock (票据管理).  Plain
    # ticket_seller (a duty manager, a sales office without paper stock) sells without shifts.
    COUNTER_SELLER = "counter_seller"
    STOCK_KEEPER = "stock_keeper"
    # A departure board's device account (信息发布屏): logs in and watches departures, nothing more.
    BOARD_DEVICE = "board_device"


P = Permission
PERMISSIONS_OF: dict[Role, frozenset[Permission]] = {
    Role.PASSENGER: frozenset({P.SELF, P.RESERVE}),
    Role.TICKET_SELLER: frozenset(
        {P.SELF, P.SELL, P.TAKE_CASH, P.REFUND, P.TICKET_READ, P.PASSENGER_TRACE, P.TICKET_PICKUP}
    ),
    Role.GATE_INSPECTOR: frozenset(
        {P.SELF, P.CHECK_IN, P.MANIFEST_READ, P.TICKET_READ, P.PERSONAL_DATA_READ, P.PASSENGER_TRACE}
    ),
    Role.DISPATCHER: frozenset(
        {P.SELF, P.DISPATCH, P.MANIFEST_READ, P.NETWORK_LOAD, P.DEVICE_READ, P.NOTICE_READ, P.ANNOUNCE}
    ),
    Role.FINANCE: frozenset(
        {P.SELF, P.TICKET_READ, P.MANIFEST_READ, P.SETTLEMENT, P.SHIFT_READ, P.DEPOSIT_CONFIRM, P.REPORT_READ}
    ),
    Role.KIOSK_DEVICE: frozenset({P.SELF, P.SELL, P.TICKET_READ, P.TICKET_PICKUP}),
    Role.GATE_DEVICE: frozenset({P.SELF, P.CHECK_IN}),
    Role.HANDHELD_DEVICE: frozenset({P.SELF, P.CHECK_IN, P.MANIFEST_READ, P.TICKET_READ, P.HANDHELD_SELL}),
    Role.SYSTEM_ADMIN: frozenset({P.SELF, P.STAFF_MANAGE, P.DEVICE_MANAGE, P.DEVICE_READ, P.POLICY_MANAGE}),
    Role.SECURITY_ADMIN: frozenset({P.SELF, P.ROLE_GRANT, P.ACCOUNT_UNLOCK}),
    Role.AUDIT_ADMIN: frozenset({P.SELF, P.AUDIT_READ}),
    Role.COUNTER_SELLER: frozenset(
        {P.SELF, P.SELL, P.TAKE_CASH, P.REFUND, P.TICKET_READ, P.SHIFT_WORK, P.PASSENGER_TRACE, P.TICKET_PICKUP}
    ),
    Role.STOCK_KEEPER: frozenset({P.SELF, P.STOCK_MANAGE, P.SHIFT_READ}),
    Role.BOARD_DEVICE: frozenset({P.SELF}),  # Board/WatchDepartures asks only for a logged-in account
}
assert set(PERMISSIONS_OF) == set(Role), "every role has its permissions"

ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN})
DEVICE_ROLES = frozenset({Role.KIOSK_DEVICE, Role.GATE_DEVICE, Role.HANDHELD_DEVICE, Role.BOARD_DEVICE})
STAFF_ROLES = frozenset(Role) - DEVICE_ROLES - {Role.PASSENGER}

# Accounts scoped to stations or operators use "*" for all of them.
EVERYWHERE = "*"


class Scope(Enum):
    """What part of a request the caller's scope must cover, besides the permission."""

    NONE = "none"
    FROM_STATION = "from_station"  # the request's from_station must be one of the caller's stations
    TRIP = "trip"  # the trip (named by trip_id, or in a ticket or hold id) must stop at one of them


def permissions(roles: tuple[str, ...], cash_acceptor: bool = False) -> frozenset[Permission]:
    """Everything a logged-in account with these roles may do: SELF (its own profile, password and
    logout) whatever its roles, and what the roles allow; unknown role names (from an older
    release) allow nothing more.

    A kiosk the station declared to have a cash acceptor takes cash as a counter does: a kiosk
    without one would print tickets nobody paid for, so it sells only through orders paid by card
    or wallet."""
    allowed: set[Permission] = {P.SELF}  # every logged-in account, a new one with no role yet included
    for name in roles:
        role = ROLE_BY_NAME.get(name)
        if role is not None:
            allowed |= PERMISSIONS_OF[role]
    if cash_acceptor and Role.KIOSK_DEVICE.value in roles:
        allowed.add(P.TAKE_CASH)
    return frozenset(allowed)


def cash_refusal(action: str) -> Rejection:
    """Why a caller without TAKE_CASH may not do what takes money in hand."""
    return reject(
        Reason.CASH_NOT_ACCEPTED,
        f"{action} takes money in hand, and this device has no cash acceptor declared: "
        "sell through an order paid by card or wallet (Orders/CreateOrder), "
        "or ask the security administrator to declare the kiosk's cash acceptor (GrantRoles cash_acceptor)",
    )


ROLE_BY_NAME = {role.value: role for role in Role}


def in_scope(scope: tuple[str, ...], value: str) -> bool:
    return EVERYWHERE in scope or value in scope
