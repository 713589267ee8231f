"""A small client over the generated stubs: request ids, retries with the same id, deadlines.

Every mutating call gets a fresh request id unless the caller passes one; a retry after
UNAVAILABLE or a missed deadline reuses it, so the server applies the operation at most once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from keyun.common.tls import TlsError, channel_credentials
from keyun.v1 import (
    accounts_pb2,
    accounts_pb2_grpc,
    audit_pb2,
    board_pb2,
    board_pb2_grpc,
    catalog_pb2,
    catalog_pb2_grpc,
    common_pb2,
    devices_pb2,
    devices_pb2_grpc,
    dispatch_pb2,
    dispatch_pb2_grpc,
    fleet_pb2,
    fleet_pb2_grpc,
    gate_pb2,
    gate_pb2_grpc,
    handheld_pb2,
    handheld_pb2_grpc,
    notices_pb2,
    notices_pb2_grpc,
    orders_pb2,
    orders_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    reports_pb2,
    reports_pb2_grpc,
    sales_pb2,
    sales_pb2_grpc,
    shifts_pb2,
    shifts_pb2_grpc,
    staff_pb2_grpc,
    uploads_pb2,
    uploads_pb2_grpc,
)

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.RESOURCE_EXHAUSTED)
DEFAULT_DEADLINE_S = 5.0
DEFAULT_ATTEMPTS = 4
FIRST_BACKOFF_S = 0.1


def new_request_id() -> str:
    return uuid.uuid4().hex


DOCUMENT_TYPES = ("RESIDENT_ID", "PASSPORT", "HK_MACAU_PERMIT", "TAIWAN_PERMIT", "HMT_RESIDENCE_PERMIT")


def walk_in(
    document_number: str,
    name: str,
    ticket_type: str = "full",
    document_type: str = "RESIDENT_ID",
    insurance: bool = False,
    proof_type: str = "",
    proof_number: str = "",
    phone: str = "",
) -> sales_pb2.WalkInPassenger:
    """A walk-in passenger for Sell or Hold: `ticket_type` full, child, free_child, concession or
    student; `document_type` RESIDENT_ID, PASSPORT, HK_MACAU_PERMIT, TAIWAN_PERMIT or
    HMT_RESIDENCE_PERMIT."""
    return sales_pb2.WalkInPassenger(
        document_type=getattr(common_pb2, f"DOCUMENT_TYPE_{document_type.upper()}"),
        document_number=document_number,
        name=name,
        ticket_type=getattr(common_pb2, f"TICKET_TYPE_{ticket_type.upper()}"),
        insurance=insurance,
        proof_type=proof_type,
        proof_number=proof_number,
        phone=phone,
    )


def audit_outcome(record: audit_pb2.AuditRecord) -> str:
    """An audit record's outcome as one name: "OK", or the reason it was refused with."""
    return "OK" if record.outcome == audit_pb2.AUDIT_OUTCOME_OK else record.reason


@dataclass
class KeyunError(Exception):
    """A refused call: gRPC status, stable reason (name and number), message, facts."""

    code: grpc.StatusCode
    message: str
    reason: str = ""
    reason_code: int = 0
    facts: dict[str, str] = field(default_factory=dict)
    retry_after_s: float | None = None

    def __str__(self) -> str:
        return f"{self.reason or self.code.name}: {self.message}"

    @classmethod
    def from_rpc(cls, error: grpc.RpcError) -> KeyunError:
        status = rpc_status.from_call(error)
        result = cls(error.code(), error.details() or "")
        for detail in status.details if status else ():
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                facts = dict(info.metadata)
                result.reason = info.reason
                result.reason_code = int(facts.pop("reason_code", "0"))
                result.facts = facts
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                result.retry_after_s = retry.retry_delay.ToMilliseconds() / 1000
        return result


def open_channel(
    target: str,
    ca_file: Path | str | None = None,
    cert_file: Path | str | None = None,
    key_file: Path | str | None = None,
    options: tuple[tuple[str, Any], ...] | None = None,
) -> grpc.Channel:
    """A TLS channel trusting the station CA in `ca_file` (presenting a device certificate when
    given), or a plain-text one without it: servers only speak plain text on loopback.  `options`:
    gRPC channel options (a gate lane shortens the reconnect backoff)."""
    if ca_file is None:
        if cert_file is not None or key_file is not None:
            raise TlsError("a client certificate needs TLS: give the station CA (--ca or KEYUN_CA) too")
        return grpc.insecure_channel(target, options=options)
    return grpc.secure_channel(target, channel_credentials(ca_file, cert_file, key_file), options=options)


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, method, timeout, metadata, credentials, wait_for_ready, compression):
        self.method, self.timeout, self.metadata = method, timeout, metadata
        self.credentials, self.wait_for_ready, self.compression = credentials, wait_for_ready, compression


class _Bearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the client's current access token to every call, streams included."""

    def __init__(self, client: KeyunClient):
        self.client = client

    def _with_token(self, details):
        token = self.client.access_token
        if not token:
            return details
        metadata = [*(details.metadata or ()), ("authorization", f"Bearer {token}")]
        return _CallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready, details.compression
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


class KeyunClient:
    """A terminal's connection.  `login` once; the token then goes with every call and is
    refreshed when it expires."""

    def __init__(
        self,
        target: str,
        deadline_s: float = DEFAULT_DEADLINE_S,
        attempts: int = DEFAULT_ATTEMPTS,
        channel: grpc.Channel | None = None,
        ca_file: Path | str | None = None,
        cert_file: Path | str | None = None,
        key_file: Path | str | None = None,
    ):
        self.raw_channel = channel or open_channel(target, ca_file, cert_file, key_file)
        self.channel = grpc.intercept_channel(self.raw_channel, _Bearer(self))
        self.deadline_s = deadline_s
        self.attempts = attempts
        self.access_token = ""
        self.refresh_token = ""
        self.account: accounts_pb2.Account | None = None
        self.accounts = accounts_pb2_grpc.AccountsStub(self.channel)
        self.staff = staff_pb2_grpc.StaffStub(self.channel)
        self.catalog = catalog_pb2_grpc.CatalogStub(self.channel)
        self.sales = sales_pb2_grpc.SalesStub(self.channel)
        self.gate = gate_pb2_grpc.GateStub(self.channel)
        self.dispatch = dispatch_pb2_grpc.DispatchStub(self.channel)
        self.orders = orders_pb2_grpc.OrdersStub(self.channel)
        self.devices = devices_pb2_grpc.DevicesStub(self.channel)
        self.shifts = shifts_pb2_grpc.ShiftsStub(self.channel)
        self.handheld = handheld_pb2_grpc.HandheldStub(self.channel)
        self.notices = notices_pb2_grpc.NoticesStub(self.channel)
        self.board = board_pb2_grpc.BoardStub(self.channel)
        self.reports = reports_pb2_grpc.ReportsStub(self.channel)
        self.uploads = uploads_pb2_grpc.UploadsStub(self.channel)
        self.fleet = fleet_pb2_grpc.FleetStub(self.channel)
        self.station_rules = policy_pb2_grpc.StationRulesStub(self.channel)

    def close(self) -> None:
        self.raw_channel.close()

    def login(self, login_name: str, password: str, totp_code: str = "") -> accounts_pb2.LoginResponse:
        reply = self.call(
            self.accounts.Login,
            accounts_pb2.LoginRequest(login_name=login_name, password=password, totp_code=totp_code),
        )
        self._keep(reply)
        return reply

    def refresh(self) -> accounts_pb2.RefreshResponse:
        reply = self.call(
            self.accounts.Refresh, accounts_pb2.RefreshRequest(refresh_token=self.refresh_token), refresh_expired=False
        )
        self._keep(reply)
        return reply

    def logout(self) -> None:
        self.call(self.accounts.Logout, accounts_pb2.LogoutRequest())
        self.access_token = self.refresh_token = ""

    def _keep(self, reply: accounts_pb2.LoginResponse | accounts_pb2.RefreshResponse) -> None:
        self.access_token, self.refresh_token, self.account = reply.access_token, reply.refresh_token, reply.account

    def __enter__(self) -> KeyunClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: Callable[..., Any], request: Any, refresh_expired: bool = True) -> Any:
        """Call with a deadline; retry retryable failures with backoff and the same request.
        An expired access token is refreshed once and the call repeated."""
        backoff_s = FIRST_BACKOFF_S
        for attempt in range(1, self.attempts + 1):
            try:
                return method(request, timeout=self.deadline_s)
            except grpc.RpcError as rpc_error:
                error = KeyunError.from_rpc(rpc_error)
                if refresh_expired and error.reason == "TOKEN_EXPIRED" and self.refresh_token:
                    self.refresh()
                    return self.call(method, request, refresh_expired=False)
                if error.code not in RETRYABLE or attempt == self.attempts:
                    raise error from None
                time.sleep(error.retry_after_s or backoff_s)
                backoff_s *= 2
        raise AssertionError("unreachable")

    # --- catalog -------------------------------------------------------------------------------

    def search(
        self, from_station: str, to_station: str, date: str, page_size: int = 0, page_token: str = ""
    ) -> catalog_pb2.SearchTripsResponse:
        request = catalog_pb2.SearchTripsRequest(
            from_station=from_station, to_station=to_station, date=date, page_size=page_size, page_token=page_token
        )
        return self.call(self.catalog.SearchTrips, request)

    def trip(self, trip_id: str) -> Any:
        return self.call(self.catalog.GetTrip, catalog_pb2.GetTripRequest(trip_id=trip_id)).trip

    def seat_map(self, trip_id: str, from_station: str, to_station: str) -> catalog_pb2.GetSeatMapResponse:
        return self.call(
            self.catalog.GetSeatMap,
            catalog_pb2.GetSeatMapRequest(trip_id=trip_id, from_station=from_station, to_station=to_station),
        )

    def stations(self) -> list[catalog_pb2.Station]:
        return list(self.call(self.catalog.ListStations, catalog_pb2.ListStationsRequest()).stations)

    # --- sales ---------------------------------------------------------------------------------

    def hold(
        self,
        trip_id: str,
        from_station: str,
        to_station: str,
        seat_numbers: tuple[str, ...] = (),
        seat_count: int = 0,
        ttl_seconds: int = 0,
        request_id: str | None = None,
        passenger_ids: tuple[str, ...] = (),
        passengers: tuple[sales_pb2.WalkInPassenger, ...] = (),
    ) -> sales_pb2.Hold:
        request = sales_pb2.HoldRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            from_station=from_station,
            to_station=to_station,
            seat_numbers=list(seat_numbers),
            seat_count=seat_count,
            ttl_seconds=ttl_seconds,
            passenger_ids=list(passenger_ids),
            passengers=list(passengers),
        )
        return self.call(self.sales.Hold, request).hold

    def confirm(self, hold_id: str, request_id: str | None = None) -> sales_pb2.ConfirmResponse:
        return self.call(
            self.sales.Confirm, sales_pb2.ConfirmRequest(request_id=request_id or new_request_id(), hold_id=hold_id)
        )

    def release(self, hold_id: str, request_id: str | None = None) -> None:
        self.call(
            self.sales.Release, sales_pb2.ReleaseRequest(request_id=request_id or new_request_id(), hold_id=hold_id)
        )

    def sell(
        self,
        trip_id: str,
        from_station: str,
        to_station: str,
        seat_numbers: tuple[str, ...] = (),
        seat_count: int = 0,
        request_id: str | None = None,
        passengers: tuple[sales_pb2.WalkInPassenger, ...] = (),
        pay_method: int = 0,
    ) -> sales_pb2.SellResponse:
        """Sell seats; `passengers` (walk_in() makes them) sells real-name tickets by ticket type;
        `pay_method`: a counter seller's CASH (the default) or CARD (orders_pb2.PayMethod)."""
        request = sales_pb2.SellRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            from_station=from_station,
            to_station=to_station,
            seat_numbers=list(seat_numbers),
            seat_count=seat_count,
            passengers=list(passengers),
            pay_method=pay_method,
        )
        return self.call(self.sales.Sell, request)

    # --- handheld seat allotments (docs/handheld.md) ----------------------------------------------

    def lend_allotment(
        self,
        trip_id: str,
        from_station: str,
        to_station: str,
        seat_numbers: tuple[str, ...] = (),
        seat_count: int = 0,
        request_id: str | None = None,
    ) -> handheld_pb2.Allotment:
        """Borrow seats of one segment for this device to sell from offline."""
        request = handheld_pb2.LendAllotmentRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            from_station=from_station,
            to_station=to_station,
            seat_numbers=list(seat_numbers),
            seat_count=seat_count,
        )
        return self.call(self.handheld.LendAllotment, request).allotment

    def settle_allotment(
        self,
        trip_id: str,
        allotment_id: str,
        sales: list[handheld_pb2.AllotmentSale],
        request_id: str | None = None,
    ) -> handheld_pb2.SettleAllotmentResponse:
        request = handheld_pb2.SettleAllotmentRequest(
            request_id=request_id or new_request_id(), trip_id=trip_id, allotment_id=allotment_id, sales=sales
        )
        return self.call(self.handheld.SettleAllotment, request)

    def allotment(self, trip_id: str, allotment_id: str) -> handheld_pb2.Allotment:
        request = handheld_pb2.GetAllotmentRequest(trip_id=trip_id, allotment_id=allotment_id)
        return self.call(self.handheld.GetAllotment, request).allotment

    def refund(self, ticket_id: str, request_id: str | None = None) -> Any:
        return self.call(
            self.sales.Refund, sales_pb2.RefundRequest(request_id=request_id or new_request_id(), ticket_id=ticket_id)
        ).ticket

    def quote_refund(self, ticket_id: str) -> sales_pb2.QuoteRefundResponse:
        """The fee and the amount Refund would pay back now (read-only)."""
        return self.call(self.sales.QuoteRefund, sales_pb2.QuoteRefundRequest(ticket_id=ticket_id))

    def ticket(self, ticket_id: str) -> Any:
        return self.call(self.sales.GetTicket, sales_pb2.GetTicketRequest(ticket_id=ticket_id)).ticket

    def change_ticket(
        self, ticket_id: str, new_trip_id: str, seat_number: str = "", request_id: str | None = None
    ) -> sales_pb2.ChangeTicketResponse:
        """Rebook (改签) a ticket onto another trip of its route, same segment; a seat, or any."""
        request = sales_pb2.ChangeTicketRequest(
            request_id=request_id or new_request_id(),
            ticket_id=ticket_id,
            new_trip_id=new_trip_id,
            seat_number=seat_number,
        )
        return self.call(self.sales.ChangeTicket, request)

    def quote_change(self, ticket_id: str, new_trip_id: str, seat_number: str = "") -> sales_pb2.QuoteChangeResponse:
        """What change_ticket would charge now: the new ticket's price and the fare difference (read-only)."""
        request = sales_pb2.QuoteChangeRequest(ticket_id=ticket_id, new_trip_id=new_trip_id, seat_number=seat_number)
        return self.call(self.sales.QuoteChange, request)

    def find_passenger_tickets(
        self,
        purpose: str,
        document_number: str = "",
        document_type: str = "RESIDENT_ID",
        phone: str = "",
        page_size: int = 0,
    ) -> list:
        """A passenger's tickets by document or phone (audited with `purpose`), newest first, masked."""
        request = sales_pb2.FindPassengerTicketsRequest(
            document_type=getattr(common_pb2, f"DOCUMENT_TYPE_{document_type.upper()}") if document_number else 0,
            document_number=document_number,
            phone=phone,
            purpose=purpose,
            page_size=page_size,
        )
        return list(self.call(self.sales.FindPassengerTickets, request).tickets)

    def pick_up_tickets(
        self,
        document_number: str,
        document_type: str = "RESIDENT_ID",
        order_id: str = "",
        request_id: str | None = None,
    ) -> list:
        """取票: the tickets to print now, by order code and a passenger's document, or by the
        document alone; each is marked printed, so a second pick-up is refused (TICKET_ALREADY_PRINTED)."""
        request = sales_pb2.PickUpTicketsRequest(
            request_id=request_id or new_request_id(),
            order_id=order_id,
            document_type=getattr(common_pb2, f"DOCUMENT_TYPE_{document_type.upper()}", 0),
            document_number=document_number,
        )
        return list(self.call(self.sales.PickUpTickets, request).tickets)

    # --- gate and dispatch ---------------------------------------------------------------------

    def check_in(
        self,
        ticket_id: str,
        gate_id: str,
        request_id: str | None = None,
        credential: str = "",
        scanned_at_ms: int = 0,
    ) -> Any:
        """Check a ticket in, named by its id or by a scanned boarding credential; `scanned_at_ms`
        for a scan a gate decided offline and uploads now."""
        request = gate_pb2.CheckInRequest(
            request_id=request_id or new_request_id(), ticket_id=ticket_id, gate_id=gate_id, credential=credential
        )
        if scanned_at_ms:
            request.scanned_at.FromMilliseconds(scanned_at_ms)
        return self.call(self.gate.CheckIn, request).ticket

    def upload_scan(self, ticket_id: str, gate_id: str, scan_id: str, scanned_at_ms: int) -> gate_pb2.CheckInResponse:
        """Upload a scan a gate decided offline: a check-in at its time, idempotent by the scan's id.
        The reply has the ticket, or `conflict` when it could not be applied (kept by the server)."""
        request = gate_pb2.CheckInRequest(request_id=scan_id, ticket_id=ticket_id, gate_id=gate_id)
        request.scanned_at.FromMilliseconds(scanned_at_ms)
        return self.call(self.gate.CheckIn, request)

    def conflicts(self, trip_id: str) -> list[gate_pb2.ScanConflict]:
        """A trip's conflicts: uploaded offline scans that could not be applied."""
        return list(self.call(self.gate.ListConflicts, gate_pb2.ListConflictsRequest(trip_id=trip_id)).conflicts)

    def credential_keys(self) -> gate_pb2.GetCredentialKeysResponse:
        """The station's credential public keys and document-digest key, for offline verification."""
        return self.call(self.gate.GetCredentialKeys, gate_pb2.GetCredentialKeysRequest())

    def boarding_trips(
        self, from_station: str, start_ms: int = 0, end_ms: int = 0
    ) -> gate_pb2.ListBoardingTripsResponse:
        """Trips leaving `from_station` in [start_ms, end_ms) (0: from now, for three hours)."""
        request = gate_pb2.ListBoardingTripsRequest(from_station=from_station)
        if start_ms:
            request.start_time.FromMilliseconds(start_ms)
        if end_ms:
            request.end_time.FromMilliseconds(end_ms)
        return self.call(self.gate.ListBoardingTrips, request)

    def boarding_set(self, trip_id: str) -> gate_pb2.GetBoardingSetResponse:
        return self.call(self.gate.GetBoardingSet, gate_pb2.GetBoardingSetRequest(trip_id=trip_id))

    def watch_revocations(
        self, trip_ids: list[str], position: str = "", timeout_s: float | None = None
    ) -> Iterator[gate_pb2.WatchRevocationsResponse]:
        """Revocations of the trips after `position`, then live ones; each reply names the position
        to resume from after a disconnection."""
        request = gate_pb2.WatchRevocationsRequest(trip_ids=trip_ids, position=position)
        try:
            yield from self.gate.WatchRevocations(request, timeout=timeout_s)
        except grpc.RpcError as rpc_error:
            raise KeyunError.from_rpc(rpc_error) from None

    def manifest(self, trip_id: str, page_size: int = 0, page_token: str = "") -> gate_pb2.GetManifestResponse:
        return self.call(
            self.gate.GetManifest,
            gate_pb2.GetManifestRequest(trip_id=trip_id, page_size=page_size, page_token=page_token),
        )

    def load_network(
        self,
        network_toml: str,
        first_date: str = "",
        days: int = 0,
        request_id: str | None = None,
        effective_from: str = "",
    ) -> dispatch_pb2.LoadNetworkResponse:
        request = dispatch_pb2.LoadNetworkRequest(
            request_id=request_id or new_request_id(),
            network_toml=network_toml,
            first_date=first_date,
            days=days,
            effective_from=effective_from,
        )
        return self.call(self.dispatch.LoadNetwork, request)

    def diff_network(self, network_toml: str, effective_from: str = "") -> dispatch_pb2.DiffNetworkResponse:
        request = dispatch_pb2.DiffNetworkRequest(network_toml=network_toml, effective_from=effective_from)
        return self.call(self.dispatch.DiffNetwork, request)

    def depart(
        self,
        trip_id: str,
        request_id: str | None = None,
        staff: Sequence[tuple[str, str]] = (),
        note: str = "",
    ) -> Any:
        """The coach has left; `staff`: (name, role) of the crew on board besides the driver."""
        request = dispatch_pb2.DepartTripRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            staff=[dispatch_pb2.StaffOnBoard(name=name, role=role) for name, role in staff],
            note=note,
        )
        return self.call(self.dispatch.DepartTrip, request).trip

    def cancel(self, trip_id: str, request_id: str | None = None) -> Any:
        return self.call(
            self.dispatch.CancelTrip,
            dispatch_pb2.CancelTripRequest(request_id=request_id or new_request_id(), trip_id=trip_id),
        ).trip

    def delay(self, trip_id: str, delay_minutes: int, request_id: str | None = None) -> Any:
        return self.call(
            self.dispatch.DelayTrip,
            dispatch_pb2.DelayTripRequest(
                request_id=request_id or new_request_id(), trip_id=trip_id, delay_minutes=delay_minutes
            ),
        ).trip

    def assign_gate(self, trip_id: str, gate: str, request_id: str | None = None) -> Any:
        """Name the gate or bay a trip boards at ("" takes it back); returns the trip."""
        return self.call(
            self.dispatch.AssignGate,
            dispatch_pb2.AssignGateRequest(request_id=request_id or new_request_id(), trip_id=trip_id, gate=gate),
        ).trip

    # --- seat quotas for stops, blocked seats and extra runs (docs/dispatch.md) -----------------

    def set_seat_quota(
        self,
        trip_id: str,
        stop: str,
        seat_count: int = 0,
        seat_numbers: Sequence[str] = (),
        release_at_ms: int = 0,
        release_before_minutes: int = 0,
        shared: bool = False,
        request_id: str | None = None,
    ) -> dispatch_pb2.SeatPlan:
        """Keep seats for passengers boarding at `stop` (配载) until the release time."""
        request = dispatch_pb2.SetSeatQuotaRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            stop=stop,
            seat_count=seat_count,
            seat_numbers=list(seat_numbers),
            release_before_minutes=release_before_minutes,
            shared=shared,
        )
        if release_at_ms:
            request.release_at.FromMilliseconds(release_at_ms)
        return self.call(self.dispatch.SetSeatQuota, request).plan

    def clear_seat_quota(self, trip_id: str, stop: str, request_id: str | None = None) -> dispatch_pb2.SeatPlan:
        return self.call(
            self.dispatch.ClearSeatQuota,
            dispatch_pb2.ClearSeatQuotaRequest(request_id=request_id or new_request_id(), trip_id=trip_id, stop=stop),
        ).plan

    def block_seats(
        self, trip_id: str, seat_numbers: Sequence[str], reason: str = "other", request_id: str | None = None
    ) -> dispatch_pb2.SeatPlan:
        """Take seats out of sale: reason crew, broken or other."""
        return self.call(
            self.dispatch.BlockSeats,
            dispatch_pb2.BlockSeatsRequest(
                request_id=request_id or new_request_id(),
                trip_id=trip_id,
                seat_numbers=list(seat_numbers),
                reason=dispatch_pb2.BlockReason.Value(f"BLOCK_REASON_{reason.upper()}"),
            ),
        ).plan

    def unblock_seats(
        self, trip_id: str, seat_numbers: Sequence[str], request_id: str | None = None
    ) -> dispatch_pb2.SeatPlan:
        return self.call(
            self.dispatch.UnblockSeats,
            dispatch_pb2.UnblockSeatsRequest(
                request_id=request_id or new_request_id(), trip_id=trip_id, seat_numbers=list(seat_numbers)
            ),
        ).plan

    def seat_plan(self, trip_id: str) -> dispatch_pb2.SeatPlan:
        return self.call(self.dispatch.GetSeatPlan, dispatch_pb2.GetSeatPlanRequest(trip_id=trip_id)).plan

    def add_extra_run(
        self,
        departs_at_ms: int,
        trip_id: str = "",
        schedule_id: str = "",
        vehicle_name: str = "",
        seats: int = 0,
        gate: str = "",
        request_id: str | None = None,
    ) -> dispatch_pb2.SeatPlan:
        """Add an extra run (加班) on the route of `trip_id` or of `schedule_id`; returns it."""
        request = dispatch_pb2.AddExtraRunRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            schedule_id=schedule_id,
            vehicle_name=vehicle_name,
            seats=seats,
            gate=gate,
        )
        request.departs_at.FromMilliseconds(departs_at_ms)
        return self.call(self.dispatch.AddExtraRun, request).plan

    def merge_trips(
        self, trip_id: str, into_trip_id: str, request_id: str | None = None
    ) -> dispatch_pb2.MergeTripsResponse:
        """并班: move every live ticket of `trip_id` onto `into_trip_id`; a retry with the same
        request id continues an interrupted merge."""
        request = dispatch_pb2.MergeTripsRequest(
            request_id=request_id or new_request_id(), trip_id=trip_id, into_trip_id=into_trip_id
        )
        return self.call(self.dispatch.MergeTrips, request)

    def mark_missed(self, trip_id: str, request_id: str | None = None) -> Any:
        """脱班: the coach did not come; returns the trip (cancelled, refunds free)."""
        return self.call(
            self.dispatch.MarkMissed,
            dispatch_pb2.MarkMissedRequest(request_id=request_id or new_request_id(), trip_id=trip_id),
        ).trip

    def trip_sheet(self, trip_id: str) -> dispatch_pb2.TripSheet:
        """路单: the departed trip's coach, crew, passengers and revenue by segment."""
        return self.call(self.dispatch.GetTripSheet, dispatch_pb2.GetTripSheetRequest(trip_id=trip_id)).sheet

    def change_vehicle(
        self,
        trip_id: str,
        seat_count: int,
        choice: str = "",
        into_trip_id: str = "",
        vehicle_name: str = "",
        request_id: str | None = None,
    ) -> dispatch_pb2.ChangeVehicleResponse:
        """换车: a coach with the layout's first `seat_count` seats.  `choice` for the tickets with
        no seat: "" (refuse, listing them), "refund" (in full) or "move" (to `into_trip_id`)."""
        choices = {
            "": dispatch_pb2.UNFIT_CHOICE_UNSPECIFIED,
            "refund": dispatch_pb2.UNFIT_CHOICE_REFUND,
            "move": dispatch_pb2.UNFIT_CHOICE_MOVE,
        }
        request = dispatch_pb2.ChangeVehicleRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            seat_count=seat_count,
            vehicle_name=vehicle_name,
            choice=choices[choice],
            into_trip_id=into_trip_id,
        )
        return self.call(self.dispatch.ChangeVehicle, request)

    # --- the departure board (docs/board.md) ---------------------------------------------------

    def watch_departures(
        self, station: str, date: str = "", timeout_s: float | None = None
    ) -> Iterator[board_pb2.WatchDeparturesResponse]:
        """The station's departures of the day (today by default): the whole day first, then the
        trips that changed and the announcements in effect, as they change."""
        request = board_pb2.WatchDeparturesRequest(station=station, date=date)
        try:
            yield from self.board.WatchDepartures(request, timeout=timeout_s)
        except grpc.RpcError as rpc_error:
            raise KeyunError.from_rpc(rpc_error) from None

    def publish_announcement(
        self,
        kind: int,
        text_zh: str,
        stations: list[str],
        ends_at_ms: int,
        text_en: str = "",
        starts_at_ms: int = 0,
        request_id: str | None = None,
    ) -> board_pb2.Announcement:
        """Publish a station announcement (board_pb2.ANNOUNCEMENT_KIND_*); starts now unless given."""
        request = board_pb2.PublishAnnouncementRequest(
            request_id=request_id or new_request_id(), kind=kind, text_zh=text_zh, text_en=text_en, stations=stations
        )
        request.ends_at.FromMilliseconds(ends_at_ms)
        if starts_at_ms:
            request.starts_at.FromMilliseconds(starts_at_ms)
        return self.call(self.board.PublishAnnouncement, request).announcement

    def list_announcements(self, station: str = "", include_past: bool = False) -> list[board_pb2.Announcement]:
        request = board_pb2.ListAnnouncementsRequest(station=station, include_past=include_past)
        return list(self.call(self.board.ListAnnouncements, request).announcements)

    def withdraw_announcement(self, announcement_id: str, request_id: str | None = None) -> board_pb2.Announcement:
        request = board_pb2.WithdrawAnnouncementRequest(
            request_id=request_id or new_request_id(), announcement_id=announcement_id
        )
        return self.call(self.board.WithdrawAnnouncement, request).announcement

    # --- passengers' accounts ------------------------------------------------------------------

    def register(
        self, phone: str, password: str, display_name: str = "", request_id: str | None = None, sms_code: str = ""
    ) -> accounts_pb2.Account:
        """`sms_code`: the REGISTER code from `request_sms_code`, when the station sends text messages."""
        request = accounts_pb2.RegisterRequest(
            request_id=request_id or new_request_id(),
            phone=phone,
            password=password,
            display_name=display_name,
            sms_code=sms_code,
        )
        return self.call(self.accounts.Register, request).account

    def request_sms_code(self, phone: str, purpose: int = accounts_pb2.SMS_CODE_PURPOSE_REGISTER) -> Any:
        """A verification code by SMS (purpose: accounts_pb2.SMS_CODE_PURPOSE_*); the reply says until when."""
        return self.call(self.accounts.RequestSmsCode, accounts_pb2.RequestSmsCodeRequest(phone=phone, purpose=purpose))

    def reset_password(self, phone: str, sms_code: str, new_password: str, request_id: str | None = None) -> None:
        """A new password, proven by a RESET_PASSWORD code; every session of the account ends."""
        self.call(
            self.accounts.ResetPassword,
            accounts_pb2.ResetPasswordRequest(
                request_id=request_id or new_request_id(), phone=phone, sms_code=sms_code, new_password=new_password
            ),
        )

    def list_my_notices(self, page_size: int = 0, page_token: str = "") -> Any:
        """The caller's notices (trips delayed or cancelled, refunds paid), newest first."""
        return self.call(
            self.notices.ListMyNotices, notices_pb2.ListMyNoticesRequest(page_size=page_size, page_token=page_token)
        )

    def list_notices(
        self, failed_only: bool = False, page_size: int = 0, page_token: str = "", subject: str = ""
    ) -> Any:
        """Every notice with each SMS delivery's status (station staff: NOTICE_READ); `subject`:
        only those about this trip or order."""
        return self.call(
            self.notices.ListNotices,
            notices_pb2.ListNoticesRequest(
                failed_only=failed_only, page_size=page_size, page_token=page_token, subject=subject
            ),
        )

    def add_passenger(
        self,
        name: str,
        document_type: int,
        document_number: str,
        phone: str = "",
        request_id: str | None = None,
    ) -> accounts_pb2.Passenger:
        request = accounts_pb2.AddPassengerRequest(
            request_id=request_id or new_request_id(),
            name=name,
            document_type=document_type,
            document_number=document_number,
            phone=phone,
        )
        return self.call(self.accounts.AddPassenger, request).passenger

    def passengers(self) -> list[accounts_pb2.Passenger]:
        return list(self.call(self.accounts.ListPassengers, accounts_pb2.ListPassengersRequest()).passengers)

    def remove_passenger(self, passenger_id: str, request_id: str | None = None) -> None:
        self.call(
            self.accounts.RemovePassenger,
            accounts_pb2.RemovePassengerRequest(request_id=request_id or new_request_id(), passenger_id=passenger_id),
        )

    # --- orders --------------------------------------------------------------------------------

    def create_order(self, hold_id: str, method: int, request_id: str | None = None) -> orders_pb2.CreateOrderResponse:
        return self.call(
            self.orders.CreateOrder,
            orders_pb2.CreateOrderRequest(request_id=request_id or new_request_id(), hold_id=hold_id, method=method),
        )

    def order(self, order_id: str) -> orders_pb2.Order:
        return self.call(self.orders.GetOrder, orders_pb2.GetOrderRequest(order_id=order_id)).order

    def orders_page(self, page_size: int = 0, page_token: str = "") -> orders_pb2.ListOrdersResponse:
        return self.call(
            self.orders.ListOrders, orders_pb2.ListOrdersRequest(page_size=page_size, page_token=page_token)
        )

    def cancel_order(self, order_id: str, request_id: str | None = None) -> orders_pb2.Order:
        return self.call(
            self.orders.CancelOrder,
            orders_pb2.CancelOrderRequest(request_id=request_id or new_request_id(), order_id=order_id),
        ).order

    def pay_at_counter(
        self, order_id: str, method: int, terminal_id: str = "", request_id: str | None = None
    ) -> orders_pb2.Order:
        request = orders_pb2.PayAtCounterRequest(
            request_id=request_id or new_request_id(), order_id=order_id, method=method, terminal_id=terminal_id
        )
        return self.call(self.orders.PayAtCounter, request).order

    def refund_order(
        self, order_id: str, ticket_ids: tuple[str, ...] = (), request_id: str | None = None
    ) -> orders_pb2.Order:
        request = orders_pb2.RefundOrderRequest(
            request_id=request_id or new_request_id(), order_id=order_id, ticket_ids=list(ticket_ids)
        )
        return self.call(self.orders.RefundOrder, request).order

    def watch_order(self, order_id: str, timeout_s: float | None = None) -> Iterator[orders_pb2.Order]:
        """The order now, then at each change of its status until it is final (or `timeout_s`)."""
        try:
            for reply in self.orders.WatchOrder(orders_pb2.WatchOrderRequest(order_id=order_id), timeout=timeout_s):
                yield reply.order
        except grpc.RpcError as rpc_error:
            raise KeyunError.from_rpc(rpc_error) from None

    def reconcile(self, date: str, method: int) -> orders_pb2.ReconcileResponse:
        return self.call(self.orders.Reconcile, orders_pb2.ReconcileRequest(date=date, method=method))

    # --- devices -------------------------------------------------------------------------------

    def register_device(
        self,
        kind: int,
        station: str,
        lane: str,
        account_id: str = "",
        certificate_name: str = "",
        request_id: str | None = None,
    ) -> devices_pb2.Device:
        request = devices_pb2.RegisterDeviceRequest(
            request_id=request_id or new_request_id(),
            kind=kind,
            station=station,
            lane=lane,
            account_id=account_id,
            certificate_name=certificate_name,
        )
        return self.call(self.devices.RegisterDevice, request).device

    def devices_page(
        self, station: str = "", kind: int = 0, state: int = 0, page_size: int = 0, page_token: str = ""
    ) -> devices_pb2.ListDevicesResponse:
        request = devices_pb2.ListDevicesRequest(
            station=station, kind=kind, state=state, page_size=page_size, page_token=page_token
        )
        return self.call(self.devices.ListDevices, request)

    def device(self, device_id: str) -> devices_pb2.Device:
        return self.call(self.devices.GetDevice, devices_pb2.GetDeviceRequest(device_id=device_id)).device

    def disable_device(self, device_id: str, request_id: str | None = None) -> devices_pb2.Device:
        request = devices_pb2.DisableDeviceRequest(request_id=request_id or new_request_id(), device_id=device_id)
        return self.call(self.devices.DisableDevice, request).device

    def enable_device(self, device_id: str, request_id: str | None = None) -> devices_pb2.Device:
        request = devices_pb2.EnableDeviceRequest(request_id=request_id or new_request_id(), device_id=device_id)
        return self.call(self.devices.EnableDevice, request).device

    def heartbeat(
        self, version: str, queue_depth: int = 0, last_sync_ms: int = 0, oldest_unsynced_ms: int = 0
    ) -> devices_pb2.HeartbeatResponse:
        """Report this device (logged in with its device account); times in epoch ms, 0 for none."""
        request = devices_pb2.HeartbeatRequest(version=version, queue_depth=queue_depth)
        if last_sync_ms:
            request.last_sync.FromMilliseconds(last_sync_ms)
        if oldest_unsynced_ms:
            request.oldest_unsynced_at.FromMilliseconds(oldest_unsynced_ms)
        return self.call(self.devices.Heartbeat, request)

    # --- counter shifts and paper ticket stock (docs/shifts.md) ---------------------------------

    # --- reports (docs/reporting.md) ---

    def sales_report(
        self, group_by: Sequence[str], from_date: str, to_date: str, page_size: int = 0, page_token: str = ""
    ) -> reports_pb2.SalesReportResponse:
        request = reports_pb2.SalesReportRequest(
            group_by=list(group_by), from_date=from_date, to_date=to_date, page_size=page_size, page_token=page_token
        )
        return self.call(self.reports.SalesReport, request)

    def sales_report_lines(self, group_by: Sequence[str], from_date: str, to_date: str) -> list[reports_pb2.SalesLine]:
        """Every line of the sales report, page after page."""
        lines, token = [], ""
        while True:
            page = self.sales_report(group_by, from_date, to_date, 1000, token)
            lines.extend(page.lines)
            token = page.next_page_token
            if not token:
                return lines

    def projection_status(self) -> reports_pb2.ProjectionStatusResponse:
        return self.call(self.reports.ProjectionStatus, reports_pb2.ProjectionStatusRequest())

    def load_report(
        self, group_by: Sequence[str], from_date: str, to_date: str, page_size: int = 0, page_token: str = ""
    ) -> reports_pb2.LoadReportResponse:
        request = reports_pb2.LoadReportRequest(
            group_by=list(group_by), from_date=from_date, to_date=to_date, page_size=page_size, page_token=page_token
        )
        return self.call(self.reports.LoadReport, request)

    def load_report_lines(self, group_by: Sequence[str], from_date: str, to_date: str) -> list[reports_pb2.LoadLine]:
        """Every line of the load report, page after page."""
        return _every_line(lambda token: self.load_report(group_by, from_date, to_date, 1000, token))

    def shift_report(
        self, from_date: str, to_date: str, page_size: int = 0, page_token: str = ""
    ) -> reports_pb2.ShiftReportResponse:
        request = reports_pb2.ShiftReportRequest(
            from_date=from_date, to_date=to_date, page_size=page_size, page_token=page_token
        )
        return self.call(self.reports.ShiftReport, request)

    def shift_report_lines(self, from_date: str, to_date: str) -> list[reports_pb2.ShiftLine]:
        """Every closed shift of the period, page after page."""
        return _every_line(lambda token: self.shift_report(from_date, to_date, 1000, token))

    def funnel_report(self, from_date: str, to_date: str, channel: str = "") -> reports_pb2.FunnelReportResponse:
        request = reports_pb2.FunnelReportRequest(from_date=from_date, to_date=to_date, channel=channel)
        return self.call(self.reports.FunnelReport, request)

    def behaviour_report(
        self, from_date: str, to_date: str, sections: Sequence[str] = ()
    ) -> reports_pb2.BehaviourReportResponse:
        request = reports_pb2.BehaviourReportRequest(from_date=from_date, to_date=to_date, sections=list(sections))
        return self.call(self.reports.BehaviourReport, request)

    def upload_status(self) -> uploads_pb2.UploadStatusResponse:
        """Uploads to the transport authority: what waits, what was acknowledged (docs/authority.md)."""
        return self.call(self.uploads.UploadStatus, uploads_pb2.UploadStatusRequest())

    def resend_uploads(self, date: str = "") -> uploads_pb2.ResendUploadsResponse:
        return self.call(self.uploads.ResendUploads, uploads_pb2.ResendUploadsRequest(date=date))

    def reconcile_uploads(self, date: str) -> uploads_pb2.ReconcileUploadsResponse:
        return self.call(self.uploads.ReconcileUploads, uploads_pb2.ReconcileUploadsRequest(date=date))

    # --- operator settlement (docs/settlement.md) ---

    def set_contract(
        self, contract: reports_pb2.OperatorContract, request_id: str | None = None
    ) -> reports_pb2.OperatorContract:
        request = reports_pb2.SetContractRequest(request_id=request_id or new_request_id(), contract=contract)
        return self.call(self.reports.SetContract, request).contract

    def contracts(self, operator_id: str = "") -> reports_pb2.ListContractsResponse:
        return self.call(self.reports.ListContracts, reports_pb2.ListContractsRequest(operator_id=operator_id))

    def settlement_sheet(self, operator_id: str, from_date: str, to_date: str) -> reports_pb2.SettlementSheetResponse:
        request = reports_pb2.SettlementSheetRequest(operator_id=operator_id, from_date=from_date, to_date=to_date)
        return self.call(self.reports.SettlementSheet, request)

    def settlement_lines(
        self, operator_id: str, from_date: str, to_date: str, page_size: int = 0, page_token: str = ""
    ) -> reports_pb2.SettlementLinesResponse:
        request = reports_pb2.SettlementLinesRequest(
            operator_id=operator_id, from_date=from_date, to_date=to_date, page_size=page_size, page_token=page_token
        )
        return self.call(self.reports.SettlementLines, request)

    def all_settlement_lines(
        self, operator_id: str, from_date: str, to_date: str
    ) -> list[reports_pb2.SettlementTicketLine]:
        """Every ticket line of a settlement sheet, page after page."""
        lines, token = [], ""
        while True:
            page = self.settlement_lines(operator_id, from_date, to_date, 1000, token)
            lines.extend(page.lines)
            token = page.next_page_token
            if not token:
                return lines

    def lock_settlement(
        self, operator_id: str, from_date: str, to_date: str, request_id: str | None = None
    ) -> reports_pb2.SettlementLockInfo:
        request = reports_pb2.LockSettlementRequest(
            request_id=request_id or new_request_id(), operator_id=operator_id, from_date=from_date, to_date=to_date
        )
        return self.call(self.reports.LockSettlement, request).lock

    def add_adjustment(
        self, lock_id: str, reason: str, amount_fen: int, request_id: str | None = None
    ) -> reports_pb2.SettlementAdjustment:
        request = reports_pb2.AddAdjustmentRequest(
            request_id=request_id or new_request_id(), lock_id=lock_id, reason=reason, amount_fen=amount_fen
        )
        return self.call(self.reports.AddAdjustment, request).adjustment

    def open_shift(self, counter_id: str, request_id: str | None = None) -> shifts_pb2.Shift:
        request = shifts_pb2.OpenShiftRequest(request_id=request_id or new_request_id(), counter_id=counter_id)
        return self.call(self.shifts.OpenShift, request).shift

    def shift(self, shift_id: str = "") -> shifts_pb2.Shift:
        """A shift by id, or the caller's open shift."""
        return self.call(self.shifts.GetShift, shifts_pb2.GetShiftRequest(shift_id=shift_id)).shift

    def shifts_page(
        self, page_size: int = 0, page_token: str = "", account_id: str = ""
    ) -> shifts_pb2.ListShiftsResponse:
        request = shifts_pb2.ListShiftsRequest(page_size=page_size, page_token=page_token, account_id=account_id)
        return self.call(self.shifts.ListShifts, request)

    def close_shift(self, counted_cash_fen: int, request_id: str | None = None) -> shifts_pb2.Shift:
        request = shifts_pb2.CloseShiftRequest(
            request_id=request_id or new_request_id(), counted_cash_fen=counted_cash_fen
        )
        return self.call(self.shifts.CloseShift, request).shift

    def slip_pdf(self, shift_id: str = "") -> shifts_pb2.GetSlipPdfResponse:
        return self.call(self.shifts.GetSlipPdf, shifts_pb2.GetSlipPdfRequest(shift_id=shift_id))

    def confirm_deposit(self, shift_id: str, amount_fen: int, request_id: str | None = None) -> shifts_pb2.Shift:
        request = shifts_pb2.ConfirmDepositRequest(
            request_id=request_id or new_request_id(), shift_id=shift_id, amount_fen=amount_fen
        )
        return self.call(self.shifts.ConfirmDeposit, request).shift

    def void_ticket(self, ticket_id: str, request_id: str | None = None) -> shifts_pb2.VoidTicketResponse:
        request = shifts_pb2.VoidTicketRequest(request_id=request_id or new_request_id(), ticket_id=ticket_id)
        return self.call(self.shifts.VoidTicket, request)

    def reprint(self, ticket_id: str, reason: str = "", request_id: str | None = None) -> shifts_pb2.ReprintResponse:
        request = shifts_pb2.ReprintRequest(
            request_id=request_id or new_request_id(), ticket_id=ticket_id, reason=reason
        )
        return self.call(self.shifts.Reprint, request)

    def spoil_number(self, reason: str, request_id: str | None = None) -> shifts_pb2.Shift:
        request = shifts_pb2.SpoilNumberRequest(request_id=request_id or new_request_id(), reason=reason)
        return self.call(self.shifts.SpoilNumber, request).shift

    def receive_stock(
        self, first: str, last: str, batch_code: str = "", request_id: str | None = None
    ) -> shifts_pb2.StockPage:
        request = shifts_pb2.ReceiveStockRequest(
            request_id=request_id or new_request_id(), batch_code=batch_code, first=first, last=last
        )
        return self.call(self.shifts.ReceiveStock, request).stock

    def issue_stock(
        self, batch_id: str, seller: str, first: str, last: str, request_id: str | None = None
    ) -> shifts_pb2.StockPage:
        request = shifts_pb2.IssueStockRequest(
            request_id=request_id or new_request_id(), batch_id=batch_id, seller=seller, first=first, last=last
        )
        return self.call(self.shifts.IssueStock, request).stock

    def stock_page(self, page_size: int = 0, page_token: str = "") -> shifts_pb2.StockPage:
        request = shifts_pb2.ListStockRequest(page_size=page_size, page_token=page_token)
        return self.call(self.shifts.ListStock, request).stock

    # -- vehicles, drivers, report-in and the safety check (Fleet, docs/dispatch.md) -------------

    def add_vehicle(self, vehicle: fleet_pb2.VehicleInput, request_id: str | None = None) -> fleet_pb2.Vehicle:
        request = fleet_pb2.AddVehicleRequest(request_id=request_id or new_request_id(), vehicle=vehicle)
        return self.call(self.fleet.AddVehicle, request).vehicle

    def update_vehicle(
        self, vehicle_id: str, vehicle: fleet_pb2.VehicleInput, request_id: str | None = None
    ) -> fleet_pb2.Vehicle:
        request = fleet_pb2.UpdateVehicleRequest(
            request_id=request_id or new_request_id(), vehicle_id=vehicle_id, vehicle=vehicle
        )
        return self.call(self.fleet.UpdateVehicle, request).vehicle

    def retire_vehicle(self, vehicle_id: str, request_id: str | None = None) -> fleet_pb2.Vehicle:
        request = fleet_pb2.RetireVehicleRequest(request_id=request_id or new_request_id(), vehicle_id=vehicle_id)
        return self.call(self.fleet.RetireVehicle, request).vehicle

    def vehicle(self, vehicle_id: str) -> fleet_pb2.Vehicle:
        return self.call(self.fleet.GetVehicle, fleet_pb2.GetVehicleRequest(vehicle_id=vehicle_id)).vehicle

    def vehicles_page(
        self, page_size: int = 0, page_token: str = "", include_retired: bool = False
    ) -> fleet_pb2.ListVehiclesResponse:
        request = fleet_pb2.ListVehiclesRequest(
            page_size=page_size, page_token=page_token, include_retired=include_retired
        )
        return self.call(self.fleet.ListVehicles, request)

    def add_driver(self, driver: fleet_pb2.DriverInput, request_id: str | None = None) -> fleet_pb2.Driver:
        request = fleet_pb2.AddDriverRequest(request_id=request_id or new_request_id(), driver=driver)
        return self.call(self.fleet.AddDriver, request).driver

    def update_driver(
        self, driver_id: str, driver: fleet_pb2.DriverInput, request_id: str | None = None
    ) -> fleet_pb2.Driver:
        request = fleet_pb2.UpdateDriverRequest(
            request_id=request_id or new_request_id(), driver_id=driver_id, driver=driver
        )
        return self.call(self.fleet.UpdateDriver, request).driver

    def retire_driver(self, driver_id: str, request_id: str | None = None) -> fleet_pb2.Driver:
        request = fleet_pb2.RetireDriverRequest(request_id=request_id or new_request_id(), driver_id=driver_id)
        return self.call(self.fleet.RetireDriver, request).driver

    def driver(self, driver_id: str) -> fleet_pb2.Driver:
        return self.call(self.fleet.GetDriver, fleet_pb2.GetDriverRequest(driver_id=driver_id)).driver

    def drivers_page(
        self, page_size: int = 0, page_token: str = "", include_retired: bool = False
    ) -> fleet_pb2.ListDriversResponse:
        request = fleet_pb2.ListDriversRequest(
            page_size=page_size, page_token=page_token, include_retired=include_retired
        )
        return self.call(self.fleet.ListDrivers, request)

    def report_in(
        self, trip_id: str, vehicle_id: str, driver_id: str, request_id: str | None = None
    ) -> fleet_pb2.ReportInResponse:
        """报班: assign a vehicle and driver to a trip."""
        request = fleet_pb2.ReportInRequest(
            request_id=request_id or new_request_id(), trip_id=trip_id, vehicle_id=vehicle_id, driver_id=driver_id
        )
        return self.call(self.fleet.ReportIn, request)

    def record_safety_check(
        self,
        trip_id: str,
        passed: bool,
        items: Sequence[tuple[str, bool, str]],
        note: str = "",
        request_id: str | None = None,
    ) -> Any:
        """安检: the coach's safety check, item by item (name, passed, note); returns the trip."""
        request = fleet_pb2.RecordSafetyCheckRequest(
            request_id=request_id or new_request_id(),
            trip_id=trip_id,
            passed=passed,
            items=[fleet_pb2.SafetyCheckItem(name=n, passed=ok, note=text) for n, ok, text in items],
            note=note,
        )
        return self.call(self.fleet.RecordSafetyCheck, request).trip

    # -- station rules at runtime (StationRules, docs/operations.md) -----------------------------

    def get_station_rules(self) -> Any:
        """The station rules in force now and the changes scheduled after them."""
        return self.call(self.station_rules.GetStationRules, policy_pb2.GetStationRulesRequest())

    def schedule_station_rules(self, toml_text: str, effective_at_ms: int, request_id: str | None = None) -> Any:
        """Schedule a policy file's rules from `effective_at_ms` (system administrator)."""
        effective_at = Timestamp()
        effective_at.FromMilliseconds(effective_at_ms)
        request = policy_pb2.ScheduleStationRulesRequest(
            request_id=request_id or new_request_id(), toml_text=toml_text, effective_at=effective_at
        )
        return self.call(self.station_rules.ScheduleStationRules, request)


def _every_line(page_of: Callable[[str], Any]) -> list[Any]:
    """The lines of every page of a paged report: `page_of(token)` asks for one."""
    lines: list[Any] = []
    token = ""
    while True:
        page = page_of(token)
        lines.extend(page.lines)
        token = page.next_page_token
        if not token:
            return lines
