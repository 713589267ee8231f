"""Which permission and scope every RPC needs: the one table the permission interceptor (auth.py) enforces.

Nothing is allowed by default: an RPC missing from RULES is refused for everyone, and a test checks
that every RPC of every service has a rule.  The meaning of permissions, roles and scopes is the
engine's (keyun.engine.permissions).
"""

from __future__ import annotations

from dataclasses import dataclass

from keyun.engine.permissions import Permission, Scope

P = Permission


@dataclass(frozen=True, slots=True)
class Rule:
    permission: Permission
    scope: Scope = Scope.NONE
    mutating: bool = False  # recorded in the audit log
    # Callers without `permission` but with this one may call the RPC for their own things only
    # (their passengers, holds and tickets): the handler narrows the command to their account.
    own: Permission | None = None
    # Callers without `permission` but with this one may call the RPC on the trips of their scope
    # (Scope.TRIP, whatever the rule's own scope): a handheld sells from any stop of its trips.
    on_trip: Permission | None = None


RULES: dict[str, Rule] = {
    "/keyun.v1.Catalog/SearchTrips": Rule(P.PUBLIC),
    "/keyun.v1.Catalog/GetTrip": Rule(P.PUBLIC),
    "/keyun.v1.Catalog/GetSeatMap": Rule(P.PUBLIC),
    "/keyun.v1.Catalog/ListStations": Rule(P.PUBLIC),
    "/keyun.v1.Diagnostics/Echo": Rule(P.SELF),
    "/keyun.v1.Sales/Hold": Rule(P.SELL, Scope.FROM_STATION, mutating=True, own=P.RESERVE),
    "/keyun.v1.Sales/Confirm": Rule(P.TAKE_CASH, Scope.TRIP, mutating=True),
    "/keyun.v1.Sales/Release": Rule(P.SELL, Scope.TRIP, mutating=True, own=P.RESERVE),
    # A handheld sells on board and at roadside stops: on the trips of its scope, from any stop.
    "/keyun.v1.Sales/Sell": Rule(P.TAKE_CASH, Scope.FROM_STATION, mutating=True, on_trip=P.HANDHELD_SELL),
    "/keyun.v1.Sales/Refund": Rule(P.REFUND, Scope.TRIP, mutating=True),
    "/keyun.v1.Sales/GetTicket": Rule(P.TICKET_READ, Scope.TRIP, own=P.RESERVE),
    # Read-only, for whoever may refund the ticket (a passenger their own, as RefundOrder): the fee
    # a refund would keep now.
    "/keyun.v1.Sales/QuoteRefund": Rule(P.REFUND, Scope.TRIP, own=P.RESERVE),
    "/keyun.v1.Sales/ChangeTicket": Rule(P.SELL, Scope.TRIP, mutating=True, own=P.RESERVE),
    # Read-only, for whoever may rebook the ticket, on the same terms (a passenger their own): what
    # ChangeTicket would charge now.
    "/keyun.v1.Sales/QuoteChange": Rule(P.SELL, Scope.TRIP, own=P.RESERVE),
    # A look-up of personal data: recorded in the audit log with its purpose, like LookUpPassenger.
    "/keyun.v1.Sales/FindPassengerTickets": Rule(P.PASSENGER_TRACE, mutating=True),
    # 取票 (docs/kiosk.md): kiosks and counter sellers print tickets bought online, once each.  The
    # look-up is by a passenger's document, so it is audited; by document alone the handler keeps
    # the tickets of trips in the caller's scope (nothing names a trip to check beforehand).
    "/keyun.v1.Sales/PickUpTickets": Rule(P.TICKET_PICKUP, Scope.TRIP, mutating=True),
    "/keyun.v1.Gate/CheckIn": Rule(P.CHECK_IN, Scope.TRIP, mutating=True),
    "/keyun.v1.Gate/GetManifest": Rule(P.MANIFEST_READ, Scope.TRIP),
    # Hands out the document-digest key along with the public keys: audited, for gates only.
    "/keyun.v1.Gate/GetCredentialKeys": Rule(P.CHECK_IN, mutating=True),
    # What a gate boards by offline: whoever may check a trip's tickets in (gate devices too) may
    # hold its boarding set (masked names and document digests only) and its revocations.
    "/keyun.v1.Gate/ListBoardingTrips": Rule(P.CHECK_IN, Scope.FROM_STATION),
    # Audited: a whole trip's document digests, which the digest key can test guesses against.
    "/keyun.v1.Gate/GetBoardingSet": Rule(P.CHECK_IN, Scope.TRIP, mutating=True),
    # The scope of every trip named is checked by the handler (a watch names several).
    "/keyun.v1.Gate/WatchRevocations": Rule(P.CHECK_IN, Scope.TRIP),
    # The inspectors' report: ticket ids, gates and times, no personal data.
    "/keyun.v1.Gate/ListConflicts": Rule(P.CHECK_IN, Scope.TRIP),
    "/keyun.v1.Dispatch/LoadNetwork": Rule(P.NETWORK_LOAD, mutating=True),
    "/keyun.v1.Dispatch/DepartTrip": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/CancelTrip": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/DelayTrip": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/AssignGate": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    # Seat quotas for stops, blocked seats and extra runs (docs/dispatch.md).  An extra run named
    # by its schedule alone is scoped by the trip it copies (gateway/dispatch_seats.py).
    "/keyun.v1.Dispatch/SetSeatQuota": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/ClearSeatQuota": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/BlockSeats": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/UnblockSeats": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/GetSeatPlan": Rule(P.DISPATCH, Scope.TRIP),
    "/keyun.v1.Dispatch/AddExtraRun": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/DiffNetwork": Rule(P.NETWORK_LOAD),
    "/keyun.v1.Dispatch/MergeTrips": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/MarkMissed": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Dispatch/GetTripSheet": Rule(P.DISPATCH, Scope.TRIP),
    "/keyun.v1.Dispatch/ChangeVehicle": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    # The departure board (docs/board.md): public information (times, gates, free seats; never a
    # passenger), but only for a logged-in account: a board device's, or any staff or passenger's.
    "/keyun.v1.Board/WatchDepartures": Rule(P.SELF),
    "/keyun.v1.Board/ListAnnouncements": Rule(P.SELF),
    # Station announcements: staff with `announce` (dispatchers), for the stations of their scope
    # (the handler checks every station named); audited.
    "/keyun.v1.Board/PublishAnnouncement": Rule(P.ANNOUNCE, mutating=True),
    "/keyun.v1.Board/WithdrawAnnouncement": Rule(P.ANNOUNCE, mutating=True),
    "/keyun.v1.Accounts/Register": Rule(P.PUBLIC, mutating=True),
    "/keyun.v1.Accounts/Login": Rule(P.PUBLIC, mutating=True),
    "/keyun.v1.Accounts/Refresh": Rule(P.PUBLIC, mutating=True),
    "/keyun.v1.Accounts/Logout": Rule(P.SELF, mutating=True),
    "/keyun.v1.Accounts/GetProfile": Rule(P.SELF),
    "/keyun.v1.Accounts/UpdateProfile": Rule(P.SELF, mutating=True),
    "/keyun.v1.Accounts/ChangePassword": Rule(P.SELF, mutating=True),
    "/keyun.v1.Accounts/AddPassenger": Rule(P.SELF, mutating=True),
    "/keyun.v1.Accounts/ListPassengers": Rule(P.SELF),
    "/keyun.v1.Accounts/RemovePassenger": Rule(P.SELF, mutating=True),
    "/keyun.v1.Accounts/RequestSmsCode": Rule(P.PUBLIC, mutating=True),
    "/keyun.v1.Accounts/ResetPassword": Rule(P.PUBLIC, mutating=True),
    "/keyun.v1.Notices/ListMyNotices": Rule(P.SELF),
    "/keyun.v1.Notices/ListNotices": Rule(P.NOTICE_READ),
    "/keyun.v1.Staff/SetUp": Rule(P.PUBLIC, mutating=True),
    "/keyun.v1.Staff/CreateAccount": Rule(P.STAFF_MANAGE, mutating=True),
    "/keyun.v1.Staff/ListAccounts": Rule(P.STAFF_MANAGE),
    "/keyun.v1.Staff/DisableAccount": Rule(P.STAFF_MANAGE, mutating=True),
    "/keyun.v1.Staff/UnlockAccount": Rule(P.ACCOUNT_UNLOCK, mutating=True),
    "/keyun.v1.Staff/GrantRoles": Rule(P.ROLE_GRANT, mutating=True),
    "/keyun.v1.Staff/LookUpPassenger": Rule(P.PERSONAL_DATA_READ, mutating=True),
    "/keyun.v1.Orders/CreateOrder": Rule(P.SELL, Scope.TRIP, mutating=True, own=P.RESERVE),
    "/keyun.v1.Orders/GetOrder": Rule(P.TICKET_READ, Scope.TRIP, own=P.RESERVE),
    "/keyun.v1.Orders/ListOrders": Rule(P.SELF),
    "/keyun.v1.Orders/CancelOrder": Rule(P.SELL, Scope.TRIP, mutating=True, own=P.RESERVE),
    "/keyun.v1.Orders/PayAtCounter": Rule(P.SELL, Scope.TRIP, mutating=True),
    "/keyun.v1.Orders/RefundOrder": Rule(P.REFUND, Scope.TRIP, mutating=True, own=P.RESERVE),
    "/keyun.v1.Orders/WatchOrder": Rule(P.TICKET_READ, Scope.TRIP, own=P.RESERVE),
    "/keyun.v1.Orders/Reconcile": Rule(P.SETTLEMENT),
    "/keyun.v1.Audit/ListRecords": Rule(P.AUDIT_READ),
    "/keyun.v1.Audit/Verify": Rule(P.AUDIT_READ),
    "/keyun.v1.Devices/RegisterDevice": Rule(P.DEVICE_MANAGE, mutating=True),
    "/keyun.v1.Devices/ListDevices": Rule(P.DEVICE_READ),
    "/keyun.v1.Devices/GetDevice": Rule(P.DEVICE_READ),
    "/keyun.v1.Devices/DisableDevice": Rule(P.DEVICE_MANAGE, mutating=True),
    "/keyun.v1.Devices/EnableDevice": Rule(P.DEVICE_MANAGE, mutating=True),
    # Not audited: heartbeats come every few seconds from every device, and change no record
    # (engine/devices.py).  A disabled device may still call it, to be told (gateway/auth.py).
    "/keyun.v1.Devices/Heartbeat": Rule(P.SELF),
    # Counter shifts and paper ticket stock (docs/shifts.md): a seller's own shift is theirs
    # (SHIFT_WORK); finance and stock keepers read every seller's (SHIFT_READ).
    "/keyun.v1.Shifts/OpenShift": Rule(P.SHIFT_WORK, mutating=True),
    "/keyun.v1.Shifts/GetShift": Rule(P.SHIFT_READ, own=P.SHIFT_WORK),
    "/keyun.v1.Shifts/ListShifts": Rule(P.SHIFT_READ, own=P.SHIFT_WORK),
    "/keyun.v1.Shifts/CloseShift": Rule(P.SHIFT_WORK, mutating=True),
    "/keyun.v1.Shifts/GetSlipPdf": Rule(P.SHIFT_READ, own=P.SHIFT_WORK),
    "/keyun.v1.Shifts/ConfirmDeposit": Rule(P.DEPOSIT_CONFIRM, mutating=True),
    "/keyun.v1.Shifts/VoidTicket": Rule(P.SHIFT_WORK, Scope.TRIP, mutating=True),
    "/keyun.v1.Shifts/Reprint": Rule(P.SHIFT_WORK, Scope.TRIP, mutating=True),
    "/keyun.v1.Shifts/SpoilNumber": Rule(P.SHIFT_WORK, mutating=True),
    "/keyun.v1.Shifts/ReceiveStock": Rule(P.STOCK_MANAGE, mutating=True),
    "/keyun.v1.Shifts/IssueStock": Rule(P.STOCK_MANAGE, mutating=True),
    "/keyun.v1.Shifts/ListStock": Rule(P.STOCK_MANAGE),
    # Handheld seat allotments (docs/handheld.md): lent to and settled by the calling device, on
    # the trips of its scope; lending and settling are audited.
    "/keyun.v1.Handheld/LendAllotment": Rule(P.HANDHELD_SELL, Scope.TRIP, mutating=True),
    "/keyun.v1.Handheld/SettleAllotment": Rule(P.HANDHELD_SELL, Scope.TRIP, mutating=True),
    "/keyun.v1.Handheld/GetAllotment": Rule(P.HANDHELD_SELL, Scope.TRIP),
    # Reports (docs/reporting.md): finance and the station's managers (who hold the finance role).
    "/keyun.v1.Reports/SalesReport": Rule(P.REPORT_READ),
    "/keyun.v1.Reports/ProjectionStatus": Rule(P.REPORT_READ),
    "/keyun.v1.Reports/LoadReport": Rule(P.REPORT_READ),
    "/keyun.v1.Reports/ShiftReport": Rule(P.REPORT_READ),
    "/keyun.v1.Reports/FunnelReport": Rule(P.REPORT_READ),
    "/keyun.v1.Reports/BehaviourReport": Rule(P.REPORT_READ),
    # Uploads to the transport authority (docs/authority.md): the same readers; a resend or a
    # reconciliation staff start is audited.
    "/keyun.v1.Uploads/UploadStatus": Rule(P.REPORT_READ),
    "/keyun.v1.Uploads/ResendUploads": Rule(P.REPORT_READ, mutating=True),
    "/keyun.v1.Uploads/ReconcileUploads": Rule(P.REPORT_READ, mutating=True),
    # Vehicles, drivers, report-in and the safety check (gateway/fleet_services.py): dispatchers'.
    # Drivers are listed masked, so reading them is not a look-up of personal data.
    "/keyun.v1.Fleet/AddVehicle": Rule(P.DISPATCH, mutating=True),
    "/keyun.v1.Fleet/UpdateVehicle": Rule(P.DISPATCH, mutating=True),
    "/keyun.v1.Fleet/RetireVehicle": Rule(P.DISPATCH, mutating=True),
    "/keyun.v1.Fleet/GetVehicle": Rule(P.DISPATCH),
    "/keyun.v1.Fleet/ListVehicles": Rule(P.DISPATCH),
    "/keyun.v1.Fleet/AddDriver": Rule(P.DISPATCH, mutating=True),
    "/keyun.v1.Fleet/UpdateDriver": Rule(P.DISPATCH, mutating=True),
    "/keyun.v1.Fleet/RetireDriver": Rule(P.DISPATCH, mutating=True),
    "/keyun.v1.Fleet/GetDriver": Rule(P.DISPATCH),
    "/keyun.v1.Fleet/ListDrivers": Rule(P.DISPATCH),
    "/keyun.v1.Fleet/ReportIn": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    "/keyun.v1.Fleet/RecordSafetyCheck": Rule(P.DISPATCH, Scope.TRIP, mutating=True),
    # Operator settlement (docs/settlement.md): finance (settlement).  Contracts, locks and
    # adjustments are journaled in the accounts owner's log with their audit records.
    "/keyun.v1.Reports/SetContract": Rule(P.SETTLEMENT, mutating=True),
    "/keyun.v1.Reports/ListContracts": Rule(P.SETTLEMENT),
    "/keyun.v1.Reports/SettlementSheet": Rule(P.SETTLEMENT),
    "/keyun.v1.Reports/SettlementLines": Rule(P.SETTLEMENT),
    "/keyun.v1.Reports/LockSettlement": Rule(P.SETTLEMENT, mutating=True),
    "/keyun.v1.Reports/AddAdjustment": Rule(P.SETTLEMENT, mutating=True),
    # Station rules at runtime (docs/operations.md "Changing the station rules"): the system
    # administrator's; a change is journaled by the accounts owner with its audit record.
    "/keyun.v1.StationRules/GetStationRules": Rule(P.POLICY_MANAGE),
    "/keyun.v1.StationRules/ScheduleStationRules": Rule(P.POLICY_MANAGE, mutating=True),
}

# Health checks and reflection carry no data and load balancers call them without credentials.
UNAUTHENTICATED_SERVICES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)
