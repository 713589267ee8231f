"""Who is calling and what they may do: the one interceptor every RPC passes.

For each call: find the method's rule (no rule, no entry), check the access token (signature and
expiry here, the session with the accounts owner), check the permission and the scope the rule
asks for, run the handler, and record mutating calls, logins and refusals in the audit log before
the answer leaves.  Handlers find the caller in `CALLER`.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc

from keyun.common import eticket
from keyun.common.clock import SYSTEM_CLOCK, Clock
from keyun.common.keys import KeysUnusable
from keyun.engine import accounts as ac
from keyun.engine import commands as cmd
from keyun.engine import devices as dv
from keyun.engine.audit import (
    MAX_DETAIL_CHARS,
    MAX_DEVICE_CHARS,
    MAX_ROLE_CHARS,
    MAX_SOURCE_CHARS,
    MAX_STATION_CHARS,
    MAX_TARGET_CHARS,
    AuditRecord,
    fit,
)
from keyun.engine.permissions import Permission, Scope, cash_refusal, in_scope, permissions
from keyun.engine.reasons import Reason, Rejected, Rejection, reject

from . import credentials, tls
from .credentials import Claims, TokenSigner
from .errors import OUTCOME, Refused, abort, abort_unavailable, owner_errors
from .owners import Overloaded, OwnerFailed, OwnerUnavailable
from .rules import RULES, UNAUTHENTICATED_SERVICES, Rule

log = logging.getLogger("keyun.auth")

# A session confirmed alive by the accounts owner this recently is taken as alive without asking
# again: one owner round trip per session per second at most, whatever the call rate.  Logging out
# through this gateway ends the session here at once; other gateway processes learn within this.
SESSION_RECHECK_S = 1.0
# Sessions and verified tokens remembered per gateway process.
MAX_CACHED_SESSIONS = 100_000
MAX_CACHED_TOKENS = 100_000
# Trips whose stops and operator are remembered for scope checks (trip definitions never change).
MAX_CACHED_TRIPS = 50_000
# The calls a disabled device may still make: its heartbeat, whose answer tells it it is
# disabled, and ending its own session.
HEARTBEAT = "keyun.v1.Devices/Heartbeat"
ALLOWED_WHEN_DISABLED = frozenset({HEARTBEAT, "keyun.v1.Accounts/Logout"})


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str
    kind: ac.AccountKind
    login_name: str
    roles: tuple[str, ...]
    stations: tuple[str, ...]
    operators: tuple[str, ...]
    session_id: str
    device: str  # the device's login name, or its client certificate's name
    allowed: frozenset[Permission]
    own_only: bool = False  # allowed this call by the rule's `own` permission: only for their own things
    device_disabled: bool = False  # a registered device the station disabled (engine/devices.py)

    @property
    def role(self) -> str:
        return ",".join(self.roles)


CALLER: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("keyun_caller", default=None)


def caller() -> Principal:
    principal = CALLER.get()
    assert principal is not None, "a handler behind a rule other than PUBLIC always has a caller"
    return principal


class SessionCache:
    """Sessions this gateway has recently seen alive, checked with the accounts owner at most once
    per SESSION_RECHECK_S each; concurrent checks of one session share one owner call."""

    def __init__(self, submit: Callable[[Any], Any], clock: Clock = SYSTEM_CLOCK):
        self.submit = submit
        self.clock = clock
        self.alive: OrderedDict[str, tuple[float, ac.AccountView]] = OrderedDict()
        self.checking: dict[str, asyncio.Future] = {}

    async def account(self, session_id: str) -> ac.AccountView | None:
        cached = self.alive.get(session_id)
        if cached is not None and self.clock.monotonic() - cached[0] < SESSION_RECHECK_S:
            return cached[1]
        pending = self.checking.get(session_id)
        if pending is None:
            pending = self.checking[session_id] = asyncio.ensure_future(self._check(session_id))
        return await asyncio.shield(pending)

    async def _check(self, session_id: str) -> ac.AccountView | None:
        try:
            (check,) = await self.submit(ac.TouchSessions((session_id,)))
        finally:
            del self.checking[session_id]
        if not check.alive:
            self.forget(session_id)
            return None
        self.alive[session_id] = (self.clock.monotonic(), check.account)
        self.alive.move_to_end(session_id)
        if len(self.alive) > MAX_CACHED_SESSIONS:
            self.alive.popitem(last=False)
        return check.account

    def forget(self, session_id: str) -> None:
        self.alive.pop(session_id, None)

    def forget_account(self, account_id: str) -> None:
        """Check every session of this account with the owner at its next call (a device disabled
        or enabled through this gateway takes effect here at once)."""
        for session_id in [s for s, (_, view) in self.alive.items() if view.account_id == account_id]:
            del self.alive[session_id]


class DisabledCertificates:
    """The client certificate names of disabled devices, asked of the accounts owner at most once
    per SESSION_RECHECK_S; concurrent calls share one owner call.  Used only when devices present
    client certificates (--require-client-cert)."""

    def __init__(self, submit: Callable[[Any], Any], clock: Clock = SYSTEM_CLOCK):
        self.submit = submit
        self.clock = clock
        self.names: frozenset[str] = frozenset()
        self.asked_at: float | None = None
        self.pending: asyncio.Future | None = None

    async def current(self) -> frozenset[str]:
        if self.asked_at is not None and self.clock.monotonic() - self.asked_at < SESSION_RECHECK_S:
            return self.names
        if self.pending is None:
            self.pending = asyncio.ensure_future(self._ask())
        return await asyncio.shield(self.pending)

    async def _ask(self) -> frozenset[str]:
        try:
            reply = await self.submit(dv.DisabledCertificates())
        finally:
            self.pending = None
        self.names, self.asked_at = frozenset(reply.names), self.clock.monotonic()
        return self.names

    def forget(self) -> None:
        """Ask again at the next call (a device disabled or enabled through this gateway)."""
        self.asked_at = None


class TripDirectory:
    """The stations and operator of a trip, for scope checks, asked of its owner once."""

    def __init__(self, ask_trip: Callable[[str], Any]):
        self.ask_trip = ask_trip
        self.known: OrderedDict[str, tuple[frozenset[str], str]] = OrderedDict()

    async def scope_of(self, trip_id: str) -> tuple[frozenset[str], str] | None:
        known = self.known.get(trip_id)
        if known is not None:
            return known
        trip = await self.ask_trip(trip_id)
        if isinstance(trip, Rejection):
            return None  # the handler will say the trip does not exist
        known = self.known[trip_id] = (frozenset(stop.code for stop in trip.stops), trip.operator_id)
        if len(self.known) > MAX_CACHED_TRIPS:
            self.known.popitem(last=False)
        return known


def trip_of(request: Any) -> str:
    """The trip a request is about: named, or the trip part of a hold or ticket id."""
    credential = getattr(request, "credential", "")
    if credential:  # a scanned boarding credential: its ticket's trip (the handler verifies it)
        return eticket.ticket_id_of(credential).rpartition("-")[0]
    for name in ("trip_id", "hold_id", "ticket_id", "order_id"):
        value = getattr(request, name, "")
        if value:
            return value if name == "trip_id" else value.rpartition("-")[0]
    return ""


def audit_target(request: Any) -> str:
    for name in ("order_id", "ticket_id", "hold_id", "trip_id", "passenger_id", "account_id"):
        value = getattr(request, name, "")
        if value:
            return value
    credential = getattr(request, "credential", "")
    return eticket.ticket_id_of(credential) if credential else ""  # a check-in by a scanned credential


class Auth:
    """Everything the interceptor needs; the Accounts service shares it for logins."""

    def __init__(
        self,
        signer: TokenSigner,
        sessions: SessionCache,
        trips: TripDirectory,
        audit_submit: Callable[[AuditRecord], Any],
        clock: Clock = SYSTEM_CLOCK,
    ):
        self.signer = signer
        self.clock = clock
        self.sessions = sessions
        self.trips = trips
        self.audit_submit = audit_submit
        # Whether devices present client certificates (--require-client-cert).  Without it the
        # server never asks for one, and reading the connection's auth context is wasted work.
        self.client_certs = False
        self.verified: OrderedDict[str, Claims] = OrderedDict()
        self.disabled_certificates = DisabledCertificates(sessions.submit, clock)
        self.principals: dict[tuple[str, str], tuple[ac.AccountView, Principal]] = {}

    def claims(self, token: str, now_ms: int) -> Claims | Rejection:
        """Verify a token's signature once per process; its expiry on every call."""
        claims = self.verified.get(token)
        if claims is None:
            claims = self.signer.verify(token, now_ms)
            if isinstance(claims, Rejection):
                return claims
            self.verified[token] = claims
            if len(self.verified) > MAX_CACHED_TOKENS:
                self.verified.popitem(last=False)
        if now_ms >= claims.expires_at_ms:
            return reject(Reason.TOKEN_EXPIRED, "the access token has expired; refresh it or log in again")
        return claims

    async def authenticate(self, context: grpc.aio.ServicerContext) -> Principal | Rejection:
        token = bearer_token(context)
        if not token:
            return reject(
                Reason.NOT_AUTHENTICATED,
                "this call needs an access token: log in and send 'authorization: Bearer <token>'",
            )
        claims = self.claims(token, self.clock.now_ms())
        if isinstance(claims, Rejection):
            return claims
        if claims.kind != credentials.ACCESS:
            return reject(Reason.NOT_AUTHENTICATED, "a refresh token only works with Accounts/Refresh")
        account = await self.sessions.account(claims.session_id)
        if account is None:
            return reject(Reason.SESSION_ENDED, "the session has ended (logged out, idle, or revoked); log in again")
        device = account.login_name if account.kind is ac.AccountKind.DEVICE else self.peer_device(context)
        # Roles and scope come from the account as it is now, not as it was at login: a revoked
        # role stops working within a second.  The principal is built once per account view the
        # session cache hands out (a new one at every recheck), not once per call.
        key = (claims.session_id, device)
        cached = self.principals.get(key)
        if cached is not None and cached[0] is account:
            return cached[1]
        principal = Principal(
            account.account_id,
            account.kind,
            account.login_name,
            account.roles,
            account.stations,
            account.operators,
            claims.session_id,
            device,
            permissions(account.roles, account.cash_acceptor),
            device_disabled=account.device_disabled,
        )
        if len(self.principals) >= MAX_CACHED_SESSIONS:
            self.principals.clear()
        self.principals[key] = (account, principal)
        return principal

    def peer_device(self, context: grpc.aio.ServicerContext) -> str:
        """The name on the caller's verified client certificate, or "" without one."""
        return (tls.peer_identity(context) or "") if self.client_certs else ""

    async def in_scope(self, rule: Rule, request: Any, principal: Principal) -> bool:
        if rule.scope is Scope.NONE:
            return True
        if rule.scope is Scope.FROM_STATION:
            return in_scope(principal.stations, request.from_station)
        trip_id = trip_of(request)
        if not trip_id:
            return True  # nothing named: the handler refuses the missing field
        try:
            cmd.check_trip_id(trip_id)
        except Rejected:
            return True  # malformed: the handler says so, and it names no trip of anyone's
        scope = await self.trips.scope_of(trip_id)
        if scope is None:
            return True
        stations, operator = scope
        return any(in_scope(principal.stations, code) for code in stations) or in_scope(principal.operators, operator)

    async def record(
        self,
        principal: Principal | None,
        context: grpc.aio.ServicerContext,
        action: str,
        target: str,
        outcome: str,
        detail: str = "",
        station: str = "",
    ) -> None:
        """Append an audit record and wait until it is durable."""
        await self.audit_submit(self.audit_record(principal, context, action, target, outcome, detail, station))

    def audit_record(
        self,
        principal: Principal | None,
        context: grpc.aio.ServicerContext,
        action: str,
        target: str,
        outcome: str,
        detail: str = "",
        station: str = "",
    ) -> AuditRecord:
        # Target, station and detail come from the request: fit() makes any text a valid field.
        return AuditRecord(
            record_id=os.urandom(16).hex(),
            at_ms=self.clock.now_ms(),
            actor=principal.account_id if principal else "",
            role=fit(principal.role, MAX_ROLE_CHARS) if principal else "",
            device=fit(principal.device if principal else self.peer_device(context), MAX_DEVICE_CHARS),
            station=fit(
                station or (principal.stations[0] if principal and len(principal.stations) == 1 else ""),
                MAX_STATION_CHARS,
            ),
            source=fit(context.peer() or "", MAX_SOURCE_CHARS),
            action=action,
            target=fit(target, MAX_TARGET_CHARS),
            outcome=outcome,
            detail=fit(detail, MAX_DETAIL_CHARS),
        )


def bearer_token(context: grpc.aio.ServicerContext) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):
            token = token_of(value)
            if token:
                return token
    return ""


def token_of(authorization: str) -> str:
    """The token of an `authorization` value in the Bearer scheme, or "" for any other scheme.

    RFC 7235 makes the scheme name case-insensitive ("bearer", "BEARER"), and RFC 6750 puts one or
    more spaces between it and the token: clients differ on both, and all of them mean the same."""
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, auth: Auth):
        self.auth = auth

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(UNAUTHENTICATED_SERVICES):
            return handler
        rule = RULES.get(method)
        if handler.unary_stream is not None and (rule is None or not rule.mutating):
            return handler._replace(unary_stream=self._guard_stream(handler.unary_stream, method, rule))
        if handler.unary_unary is None:  # client streams: none; refuse rather than pass unchecked
            return _refusing(handler, method)
        return handler._replace(unary_unary=self._guard(handler.unary_unary, method, rule))

    def _guard(self, behavior, method: str, rule: Rule | None):
        auth = self.auth
        action = method.lstrip("/")

        async def guarded(request, context):
            # The accounts and audit owners can be overloaded or restarting like any other.
            async with owner_errors(context):
                return await checked(request, context)

        async def checked(request, context):
            principal = await self._admit(request, context, action, rule)
            caller_token = CALLER.set(principal)
            note: dict[str, Any] = {}
            if rule.mutating:

                def record_of(outcome: str) -> AuditRecord:
                    # With what the handler noted by then: who logs in, the target, a detail.
                    return auth.audit_record(
                        note.get("principal", principal),
                        context,
                        action,
                        note.get("target") or audit_target(request),
                        outcome,
                        note.get("detail", ""),
                        getattr(request, "from_station", ""),
                    )

                # A handler whose call one owner settles sends this record along, with the outcome the
                # call has if the owner applies it, and the owner journals it with the call
                # (Gateway.ask, AccountDesk.ask); note["recorded"] then holds the outcome journaled.
                note["audit"] = lambda: record_of(note.get("audit_outcome", "OK")).values()
            outcome_token = OUTCOME.set(note)
            outcome = "OK"
            try:
                try:
                    return await behavior(request, context)
                except Exception as error:
                    await refuse_escaped(context, error)
            except BaseException:
                outcome = note.get("outcome") or (context.code().name if context.code() else "ERROR")
                raise
            finally:
                CALLER.reset(caller_token)
                OUTCOME.reset(outcome_token)
                if rule.mutating:
                    await _record_unless_journaled(auth, note, outcome, record_of)

        return guarded

    def _guard_stream(self, behavior, method: str, rule: Rule | None):
        """Server streams (WatchOrder): the same admission; they change nothing, so no audit."""
        action = method.lstrip("/")

        async def guarded(request, context):
            try:
                async with owner_errors(context):
                    principal = await self._admit(request, context, action, rule)
                caller_token = CALLER.set(principal)
                try:
                    async for response in behavior(request, context):
                        yield response
                except Exception as error:
                    await refuse_escaped(context, error)
                finally:
                    CALLER.reset(caller_token)
            except Refused:
                return  # the status is set on the context; grpc ends the stream with it

        return guarded

    async def _admit(self, request, context, action: str, rule: Rule | None) -> Principal | None:
        """Who calls, and whether they may: aborts the call (and records why) if not."""
        auth = self.auth
        if rule is None:
            await auth.record(
                None, context, action, "", Reason.PERMISSION_DENIED.name, "no permission rule for this RPC"
            )
            await abort(context, reject(Reason.PERMISSION_DENIED, f"{action} is not allowed to anyone"))
        await self._refuse_disabled_certificate(request, context, action)
        if rule.permission is Permission.PUBLIC:
            return None
        principal = await auth.authenticate(context)
        if isinstance(principal, Rejection):
            await auth.record(None, context, action, audit_target(request), principal.reason.name)
            await abort(context, principal)
        if principal.device_disabled and action not in ALLOWED_WHEN_DISABLED:
            refusal = reject(
                Reason.DEVICE_DISABLED,
                f"this device ({principal.device or principal.account_id}) is disabled by the station: "
                "ask the station's system administrator to enable it (keyun device enable)",
            )
            await auth.record(principal, context, action, audit_target(request), refusal.reason.name)
            await abort(context, refusal)
        if (
            rule.permission not in principal.allowed
            and rule.on_trip in principal.allowed
            and await auth.in_scope(dataclasses.replace(rule, scope=Scope.TRIP), request, principal)
        ):
            return principal  # a handheld's sale on a trip of its scope (Rule.on_trip)
        if rule.permission not in principal.allowed and rule.own in principal.allowed:
            return dataclasses.replace(principal, own_only=True)  # scope is their own account
        if rule.permission not in principal.allowed or not await auth.in_scope(rule, request, principal):
            denial = denial_of(rule, action, principal)
            await auth.record(
                principal,
                context,
                action,
                audit_target(request),
                denial.reason.name,
                station=getattr(request, "from_station", ""),
            )
            await abort(context, denial)
        return principal

    async def _refuse_disabled_certificate(self, request, context, action: str) -> None:
        """A device known by its client certificate (a counter) that the station disabled: every
        call made with the certificate is refused, logins and public calls too, but its heartbeat."""
        auth = self.auth
        if not auth.client_certs or action == HEARTBEAT:
            return
        certificate = auth.peer_device(context)
        if certificate and certificate in await auth.disabled_certificates.current():
            refusal = reject(
                Reason.DEVICE_DISABLED,
                f"this device ({certificate}) is disabled by the station: "
                "ask the station's system administrator to enable it (keyun device enable)",
            )
            await auth.record(None, context, action, audit_target(request), refusal.reason.name)
            await abort(context, refusal)


def denial_of(rule: Rule, action: str, principal: Principal) -> Rejection:
    """Why the caller may not: a seller that lacks only cash in hand (a kiosk) is told so and where to go."""
    if (
        rule.permission is Permission.TAKE_CASH
        and rule.permission not in principal.allowed
        and Permission.SELL in principal.allowed
    ):
        return cash_refusal(action)
    return reject(Reason.PERMISSION_DENIED, f"{principal.role or 'this account'} may not call {action} here")


# Raised on purpose and handled further out: a refusal already set on the context, grpc's own
# abort, and the owner failures owner_errors turns into statuses with a retry hint.
PASSED_ON = (Refused, grpc.aio.AbortError, OwnerUnavailable, Overloaded, OwnerFailed)


async def refuse_escaped(context: grpc.aio.ServicerContext, error: Exception) -> NoReturn:
    """End a call whose handler let an exception escape; always raises.

    A Rejected (a check raised it where the handler did not catch it) is a refusal like any
    other: its mapped status, message and details.  Anything else unexpected is a bug: it is
    logged with its traceback, and the client gets INTERNAL with a plain message, where grpc would
    answer UNKNOWN naming the exception's class and repeating its text.
    """
    if isinstance(error, Rejected):
        await abort(context, error.rejection)
    if isinstance(error, PASSED_ON):
        raise error
    if isinstance(error, KeysUnusable):  # the station's operator can fix it: say so, without a traceback
        log.error("a call needed keys the station lacks: %s", error)
        await abort_unavailable(
            context,
            grpc.StatusCode.INTERNAL,
            "KEYS_UNUSABLE",
            "the server cannot decrypt stored data with its keys; its operator must start it with the key directory "
            "this data was made with (--key-dir; the server log names the key)",
            None,
        )
    log.error("a handler failed", exc_info=error)
    await abort_unavailable(
        context, grpc.StatusCode.INTERNAL, "INTERNAL_ERROR", "internal error; it has been logged", None
    )
    raise AssertionError("abort_unavailable always raises")


async def _record_unless_journaled(
    auth: Auth, note: dict, outcome: str, record_of: Callable[[str], AuditRecord]
) -> None:
    """Write the call's record, unless its owner journaled one that tells how the call ended.

    A call whose owner applied it and that then failed (its payment provider could not be reached,
    say) gets a second record, from here, of how it ended: the first says what was applied."""
    recorded = note.get("recorded")
    if recorded is None:
        await auth.audit_submit(record_of(outcome))
    elif recorded == "OK" and outcome != "OK":
        detail = note.get("detail")
        note["detail"] = "applied by its owner, journaled there as OK, then failed" + (f": {detail}" if detail else "")
        await auth.audit_submit(record_of(outcome))


def _refusing(handler, method: str):
    async def refuse(request_or_iterator, context):
        try:
            await abort(context, reject(Reason.PERMISSION_DENIED, f"{method} is not allowed to anyone"))
        except Refused:
            return None  # the status is set on the context

    kind = next(
        name for name in ("unary_stream", "stream_unary", "stream_stream") if getattr(handler, name) is not None
    )
    return handler._replace(**{kind: refuse})
