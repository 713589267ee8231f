"""Accounts, permissions, tokens, lock-out, personal data and the audit trail, through gRPC.

One real server (real Ray owners, real keys) with the demo accounts, one of each role, and fast
login rules so lock-out and back-off run in seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from functools import partial
from pathlib import Path

import grpc
import pytest

from keyun.common.clock import SYSTEM_CLOCK, ManualClock
from keyun.engine.accounts import AccountRules
from keyun.engine.permissions import PERMISSIONS_OF, Permission, Role
from keyun.gateway import credentials
from keyun.gateway.auth import SESSION_RECHECK_S
from keyun.gateway.demo_accounts import DEMO_ACCOUNTS, DEMO_PASSENGER_PHONE, DEMO_PASSWORD, DEMO_TOTP_SECRET
from keyun.gateway.rules import RULES
from keyun.gateway.server import SERVICE_NAMES
from keyun.persistence.keyring import Keyring
from keyun.terminals.client import KeyunClient, KeyunError, audit_outcome
from keyun.v1 import accounts_pb2, audit_pb2, audit_pb2_grpc, common_pb2, sales_pb2, staff_pb2

from .conftest import ServerThread, schedule_trip

# Fast rules for the test server: the lock-out and back-off the issue asks for, in seconds.
RULES_FOR_TESTS = AccountRules(idle_ms=60_000, max_failed_logins=5, lockout_ms=3_000, first_backoff_ms=100)
ID_NUMBER = "11010519491231002X"  # a valid GB 11643 number (the standard's example)
PHONE = "13912345678"
STRONG = "Tr1p-to-Beijing"


class Station:
    """The test server plus one logged-in client per demo account (administrators with TOTP)."""

    def __init__(self, server: ServerThread):
        self.server = server
        self.clients: dict[str, KeyunClient] = {}
        self.next_step: dict[str, int] = {}

    def client(self, login: str = "") -> KeyunClient:
        if login and login in self.clients:
            return self.clients[login]
        client = KeyunClient(self.server.target, attempts=1)
        if login:
            client.login(login, DEMO_PASSWORD, self.totp(login))
            self.clients[login] = client
        return client

    def totp(self, login: str) -> str:
        if not any(
            a.login_name == login and set(a.roles) & {"system_admin", "security_admin", "audit_admin"}
            for a in DEMO_ACCOUNTS
        ):
            return ""
        # Each TOTP code is good once per account: a second login of one administrator within the
        # same 30 s uses the next step's code, which the server accepts for clock drift.
        step = max(credentials.totp_step(self.server.clock.now_ms()), self.next_step.get(login, 0))
        self.next_step[login] = step + 1
        return credentials.totp_code(DEMO_TOTP_SECRET, step * credentials.TOTP_STEP_MS)

    def passenger(self) -> KeyunClient:
        if "passenger" not in self.clients:
            client = KeyunClient(self.server.target, attempts=1)
            client.login(DEMO_PASSENGER_PHONE, DEMO_PASSWORD)
            self.clients["passenger"] = client
        return self.clients["passenger"]

    def keyring(self) -> Keyring:
        data_dir = Path(self.server.data_dir).resolve()
        return Keyring.open(data_dir.parent / f"{data_dir.name}-keys")


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    server = ServerThread(tmp_path_factory.mktemp("secure"), shards=2, account_rules=RULES_FOR_TESTS)
    yield Station(server)
    server.stop()


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call()
    return caught.value


def generic_call(client_or_channel, method: str, request, token: str = ""):
    """Call any RPC by name with an empty (or given) request, as a terminal would."""
    channel = client_or_channel.raw_channel if isinstance(client_or_channel, KeyunClient) else client_or_channel
    response_class = RESPONSE_OF[method]
    streams = method in STREAMS
    make = channel.unary_stream if streams else channel.unary_unary
    stub = make(
        method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=response_class.FromString
    )
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    try:
        answer = stub(request, timeout=10, metadata=metadata)
        if streams:
            next(iter(answer))
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        return error.code()


def _methods():
    from google.protobuf import symbol_database

    from keyun.v1 import accounts_pb2 as a
    from keyun.v1 import audit_pb2 as au
    from keyun.v1 import (
        board_pb2,
        catalog_pb2,
        devices_pb2,
        diagnostics_pb2,
        dispatch_pb2,
        fleet_pb2,
        gate_pb2,
        handheld_pb2,
        notices_pb2,
        orders_pb2,
        policy_pb2,
        reports_pb2,
        sales_pb2,
        shifts_pb2,
        uploads_pb2,
    )
    from keyun.v1 import staff_pb2 as st

    database = symbol_database.Default()
    methods = {}
    services = (catalog_pb2, sales_pb2, gate_pb2, dispatch_pb2, diagnostics_pb2, a, st, au, orders_pb2)
    modules = (devices_pb2, shifts_pb2, handheld_pb2, notices_pb2, board_pb2, reports_pb2, uploads_pb2, fleet_pb2)
    modules += (policy_pb2,)
    for module in (*services, *modules):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                methods[f"/{service.full_name}/{method.name}"] = (
                    database.GetSymbol(method.input_type.full_name),
                    database.GetSymbol(method.output_type.full_name),
                )
    return methods


def _server_streaming(name: str) -> bool:
    from google.protobuf import descriptor_pool

    service, method = name.strip("/").split("/")
    return descriptor_pool.Default().FindServiceByName(service).methods_by_name[method].server_streaming


METHODS = _methods()
STREAMS = {name for name in METHODS if _server_streaming(name)}
RESPONSE_OF = {name: output for name, (_, output) in METHODS.items()}
ROLE_LOGINS = {
    role: next(a.login_name for a in DEMO_ACCOUNTS if a.roles == (role.value,))
    for role in Role
    if role is not Role.PASSENGER
}


def test_every_rpc_of_every_service_has_a_rule_and_nothing_else_does():
    served = {name.rsplit("/", 2)[1] for name in METHODS}
    assert served == set(SERVICE_NAMES)
    assert set(METHODS) == set(RULES)


def test_the_permission_matrix_every_rpc_for_every_role(station):
    """Each role gets PERMISSION_DENIED exactly where the table says; elsewhere the call reaches
    its handler (which may still refuse the empty request for other reasons)."""
    tokens = {role: station.client(login).access_token for role, login in ROLE_LOGINS.items()}
    tokens[Role.PASSENGER] = station.passenger().access_token
    channel = station.client().raw_channel
    mismatches = []
    for method, rule in sorted(RULES.items()):
        if method == "/keyun.v1.Accounts/Logout":
            continue  # would end the session the rest of the matrix uses; tested on its own below
        request = METHODS[method][0]()
        for role, token in tokens.items():
            code = generic_call(channel, method, request, token)
            held = PERMISSIONS_OF[role]
            allowed = (
                rule.permission is Permission.PUBLIC
                or rule.permission in held
                or (rule.own is not None and rule.own in held)
                or (rule.on_trip is not None and rule.on_trip in held)
            )
            if allowed and code in (
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.INTERNAL,
                grpc.StatusCode.UNKNOWN,
            ):
                mismatches.append((method, role.value, "allowed but got", code.name))
            if allowed and rule.permission is not Permission.PUBLIC and code is grpc.StatusCode.UNAUTHENTICATED:
                mismatches.append((method, role.value, "allowed but got", code.name))
            if not allowed and code is not grpc.StatusCode.PERMISSION_DENIED:
                mismatches.append((method, role.value, "denied but got", code.name))
    assert not mismatches, "\n".join(map(str, mismatches))


def test_calls_without_a_token_or_with_a_bad_one_are_unauthenticated(station):
    channel = station.client().raw_channel
    good = station.client("seller").access_token
    signed, signature = good.rsplit(".", 1)
    tampered = signed[:-2] + ("A" if signed[-2] != "A" else "B") + signed[-1] + "." + signature
    keyring = station.keyring()
    signer = credentials.TokenSigner(keyring.signing_key, keyring.verify_key)
    now_ms = station.server.clock.now_ms()
    claims = credentials.TokenSigner(keyring.signing_key, keyring.verify_key).verify(good, now_ms)
    expired = signer.issue(
        dataclasses.replace(claims, token_id=""),
        now_ms - 2 * credentials.ACCESS_TOKEN_TTL_MS,
        credentials.ACCESS_TOKEN_TTL_MS,
    )
    foreign = credentials.TokenSigner(
        Keyring.init(Path(station.server.data_dir).parent / "other-keys").signing_key, keyring.verify_key
    )
    forged = foreign.issue(dataclasses.replace(claims, token_id=""), now_ms, credentials.ACCESS_TOKEN_TTL_MS)
    refresh = station.client("seller").refresh_token
    for method, rule in RULES.items():
        if rule.permission is Permission.PUBLIC:
            continue
        request = METHODS[method][0]()
        for token in ("", "not-a-token", tampered, expired, forged, refresh):
            assert generic_call(channel, method, request, token) is grpc.StatusCode.UNAUTHENTICATED, (
                method,
                token[:12],
            )


def test_the_bearer_scheme_is_case_insensitive_and_other_schemes_are_not_bearer(station):
    """RFC 7235: the scheme name is case-insensitive, so "bearer" and "BEARER" carry the token too."""
    client = station.client("seller")
    profile = client.raw_channel.unary_unary(
        "/keyun.v1.Accounts/GetProfile",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=accounts_pb2.GetProfileResponse.FromString,
    )
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        answer = profile(
            accounts_pb2.GetProfileRequest(),
            timeout=10,
            metadata=(("authorization", f"{scheme} {client.access_token}"),),
        )
        assert answer.account.login_name == "seller", scheme
    for value in (f"Basic {client.access_token}", f"Bearer{client.access_token}", "bearer ", client.access_token):
        with pytest.raises(grpc.RpcError) as caught:
            profile(accounts_pb2.GetProfileRequest(), timeout=10, metadata=(("authorization", value),))
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED, value[:12]


def test_logout_and_refresh_rotation_take_effect_at_once(station):
    client = KeyunClient(station.server.target, attempts=1)
    client.login("seller", DEMO_PASSWORD)
    old_access, old_refresh = client.access_token, client.refresh_token
    assert client.call(client.accounts.GetProfile, accounts_pb2.GetProfileRequest()).account.login_name == "seller"
    client.refresh()
    assert client.refresh_token != old_refresh
    replay = KeyunClient(station.server.target, attempts=1)
    replay.refresh_token = old_refresh
    assert refused(replay.refresh).reason == "SESSION_ENDED"  # a reused refresh token ends the session
    assert (
        refused(lambda: client.call(client.accounts.GetProfile, accounts_pb2.GetProfileRequest())).reason
        == "SESSION_ENDED"
    )

    client.login("seller", DEMO_PASSWORD)
    token = client.access_token
    client.logout()
    assert (
        generic_call(client, "/keyun.v1.Accounts/GetProfile", accounts_pb2.GetProfileRequest(), token)
        is grpc.StatusCode.UNAUTHENTICATED
    )
    assert (
        generic_call(client, "/keyun.v1.Accounts/GetProfile", accounts_pb2.GetProfileRequest(), old_access)
        is grpc.StatusCode.UNAUTHENTICATED
    )


def test_administrators_need_the_second_factor_and_a_code_works_once(station):
    client = KeyunClient(station.server.target, attempts=1)
    assert refused(lambda: client.login("secadmin", DEMO_PASSWORD)).reason == "SECOND_FACTOR_REQUIRED"
    station.server.clock.advance(RULES_FOR_TESTS.backoff_ms(1))
    assert (
        refused(lambda: client.login("secadmin", DEMO_PASSWORD, "12345")).reason == "BAD_CREDENTIALS"
    )  # not a code at all
    station.server.clock.advance(RULES_FOR_TESTS.backoff_ms(2))
    code = station.totp("secadmin")
    client.login("secadmin", DEMO_PASSWORD, code)
    again = KeyunClient(station.server.target, attempts=1)
    station.server.clock.advance(1000)  # within the code's 30 s step (or the next: codes are good one step late)
    for _ in range(RULES_FOR_TESTS.max_failed_logins + 1):  # named, and not counted: never throttled nor locked
        reused = refused(lambda: again.login("secadmin", DEMO_PASSWORD, code))
        assert (reused.reason, reused.code.name, reused.facts) == (
            "TOTP_CODE_REUSED",
            "UNAUTHENTICATED",
            {"field": "totp_code"},
        )
        assert "wait for the next code" in reused.message
    assert station.client("secadmin").account.login_name == "secadmin"  # the next code logs in


def test_brute_force_is_slowed_then_locked_and_recorded(station):
    target = KeyunClient(station.server.target, attempts=1)
    target.call(
        target.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-brute", phone="13700001111", password=STRONG),
    )
    reasons = []
    for attempt in range(RULES_FOR_TESTS.max_failed_logins):
        reasons.append(refused(lambda: target.login("13700001111", "wrong-Password-1")).reason)
        if attempt < RULES_FOR_TESTS.max_failed_logins - 1:
            assert (
                refused(lambda: target.login("13700001111", "wrong-Password-1")).reason == "LOGIN_THROTTLED"
            )  # no wait: slowed
        station.server.clock.advance(RULES_FOR_TESTS.backoff_ms(attempt + 1))
    assert reasons == ["BAD_CREDENTIALS"] * RULES_FOR_TESTS.max_failed_logins
    assert refused(lambda: target.login("13700001111", STRONG)).reason == "ACCOUNT_LOCKED"  # even the right password
    station.server.clock.advance(RULES_FOR_TESTS.lockout_ms)
    target.login("13700001111", STRONG)  # the lock lifts by itself
    auditor = station.client("auditor")
    records = auditor.call(
        audit_pb2_grpc.AuditStub(auditor.channel).ListRecords,
        audit_pb2.ListRecordsRequest(action="keyun.v1.Accounts/Login", page_size=100),
    ).records
    outcomes = [audit_outcome(r) for r in records if r.target == target.account.account_id]
    assert outcomes.count("BAD_CREDENTIALS") == RULES_FOR_TESTS.max_failed_logins
    assert "ACCOUNT_LOCKED" in outcomes and "LOGIN_THROTTLED" in outcomes and "OK" in outcomes
    assert any(
        audit_outcome(r) == "BAD_CREDENTIALS" and r.detail.startswith("locked out until")
        for r in records
        if r.target == target.account.account_id
    )


def test_a_security_administrator_lifts_a_lock_out_at_once_and_it_is_audited(station):
    target = KeyunClient(station.server.target, attempts=1)
    target.call(
        target.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-unlock", phone="13700002222", password=STRONG),
    )
    for attempt in range(RULES_FOR_TESTS.max_failed_logins):
        refused(lambda: target.login("13700002222", "wrong-Password-1"))
        station.server.clock.advance(RULES_FOR_TESTS.backoff_ms(attempt + 1))
    assert refused(lambda: target.login("13700002222", STRONG)).reason == "ACCOUNT_LOCKED"
    account_id = next(
        a.account_id
        for a in station.client("sysadmin")
        .call(station.client("sysadmin").staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500))
        .accounts
        if a.login_name.endswith("2222")
    )

    def unlock(login: str, account: str, request_id: str):
        client = station.client(login)
        return client.call(
            client.staff.UnlockAccount, staff_pb2.UnlockAccountRequest(request_id=request_id, account_id=account)
        )

    for login in ("sysadmin", "seller", "auditor"):  # only the security administrator may
        assert refused(partial(unlock, login, account_id, f"unlock-by-{login}")).reason == "PERMISSION_DENIED"
    assert refused(lambda: target.login("13700002222", STRONG)).reason == "ACCOUNT_LOCKED"  # still locked
    assert refused(partial(unlock, "secadmin", "A999999", "unlock-nobody")).reason == "UNKNOWN_ACCOUNT"
    assert unlock("secadmin", account_id, "unlock-1").account.account_id == account_id
    target.login("13700002222", STRONG)  # at once: no lock-out left, no back-off either
    assert unlock("secadmin", account_id, "unlock-2").account.account_id == account_id  # not locked: unchanged
    auditor = station.client("auditor")
    records = auditor.call(
        audit_pb2_grpc.AuditStub(auditor.channel).ListRecords,
        audit_pb2.ListRecordsRequest(action="keyun.v1.Staff/UnlockAccount", page_size=100),
    ).records
    outcomes = sorted(audit_outcome(r) for r in records if r.target == account_id)
    assert outcomes == ["OK", "OK", "PERMISSION_DENIED", "PERMISSION_DENIED", "PERMISSION_DENIED"], outcomes


def test_registration_refuses_weak_passwords_and_bad_phones_and_changes_nothing(station):
    client = KeyunClient(station.server.target, attempts=1)
    sysadmin = station.client("sysadmin")
    before = len(sysadmin.call(sysadmin.staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500)).accounts)
    for phone, password, reason in (
        (PHONE, "short1A", "WEAK_PASSWORD"),
        (PHONE, "alllowercaseletters", "WEAK_PASSWORD"),
        ("12345", STRONG, "INVALID_FIELD"),
        ("", STRONG, "INVALID_FIELD"),
        (PHONE, "", "WEAK_PASSWORD"),
    ):
        error = refused(
            partial(
                client.call,
                client.accounts.Register,
                accounts_pb2.RegisterRequest(request_id=f"r-{phone}-{len(password)}", phone=phone, password=password),
            )
        )
        assert error.code is grpc.StatusCode.INVALID_ARGUMENT and error.reason in (reason, "MISSING_FIELD"), error
    assert (
        len(sysadmin.call(sysadmin.staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500)).accounts) == before
    )


def test_frequent_passengers_are_masked_and_only_a_dedicated_permission_reads_them_audited(station):
    client = KeyunClient(station.server.target, attempts=1)
    client.call(
        client.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-pax", phone=PHONE, password=STRONG, display_name="张三"),
    )
    client.login(PHONE, STRONG)
    assert client.account.login_name == "139****5678"
    add = accounts_pb2.AddPassengerRequest(
        request_id="add-1",
        name="张三丰",
        document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
        document_number=ID_NUMBER,
        phone=PHONE,
    )
    added = client.call(client.accounts.AddPassenger, add).passenger
    assert (added.name, added.document_number, added.phone) == ("张**", "110105********002X", "139****5678")
    assert (
        refused(lambda: client.call(client.accounts.AddPassenger, dataclasses_replace(add, request_id="add-2"))).reason
        == "PASSENGER_EXISTS"
    )
    bad = dataclasses_replace(add, request_id="add-3", document_number="110105194912310021")  # wrong check character
    assert refused(lambda: client.call(client.accounts.AddPassenger, bad)).code is grpc.StatusCode.INVALID_ARGUMENT
    (listed,) = client.call(client.accounts.ListPassengers, accounts_pb2.ListPassengersRequest()).passengers
    assert listed.document_number == "110105********002X"

    lookup = staff_pb2.LookUpPassengerRequest(
        account_id=client.account.account_id, passenger_id=added.passenger_id, purpose="gate real-name check"
    )
    assert (
        refused(lambda: station.client("seller").call(station.client("seller").staff.LookUpPassenger, lookup)).code
        is grpc.StatusCode.PERMISSION_DENIED
    )
    inspector = station.client("inspector")
    unmasked = inspector.call(inspector.staff.LookUpPassenger, lookup).passenger
    assert (unmasked.name, unmasked.document_number, unmasked.phone) == ("张三丰", ID_NUMBER, PHONE)
    auditor = station.client("auditor")
    records = auditor.call(
        audit_pb2_grpc.AuditStub(auditor.channel).ListRecords,
        audit_pb2.ListRecordsRequest(action="keyun.v1.Staff/LookUpPassenger"),
    ).records
    assert any(
        r.actor == inspector.account.account_id and "gate real-name check" in r.detail and audit_outcome(r) == "OK"
        for r in records
    )


def test_a_passenger_holds_seats_for_their_frequent_passengers_and_sees_only_their_own_tickets(station):
    master = station.client("master")
    trip_id = schedule_trip(master, "PAX1", dt.timedelta(hours=6))
    family = KeyunClient(station.server.target, attempts=1)
    family.call(
        family.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-family", phone="13355556666", password=STRONG),
    )
    family.login("13355556666", STRONG)
    ids = [
        family.call(
            family.accounts.AddPassenger,
            accounts_pb2.AddPassengerRequest(
                request_id=f"fam-{n}",
                name=name,
                document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
                document_number=number,
            ),
        ).passenger.passenger_id
        for n, (name, number) in enumerate((("陈大文", "11010519491231002X"), ("陈小文", "110101199003077774")))
    ]
    # Passengers hold only for people on their list, and cannot sell (paying comes with orders).
    assert refused(lambda: family.hold(trip_id, "AAA", "CCC", seat_count=2)).reason == "MISSING_FIELD"
    hold_request = sales_pb2.HoldRequest(
        request_id="fam-hold", trip_id=trip_id, from_station="AAA", to_station="CCC", seat_count=2, passenger_ids=ids
    )
    hold = family.call(family.sales.Hold, hold_request).hold
    assert [(h.name, h.document_number) for h in hold.holders] == [
        ("陈**", "110105********002X"),
        ("陈**", "110101********7774"),
    ]
    stranger = station.passenger()
    assert (
        refused(
            lambda: stranger.call(stranger.sales.Hold, dataclasses_replace(hold_request, request_id="steal"))
        ).reason
        == "UNKNOWN_PASSENGER"
    )
    assert refused(lambda: stranger.release(hold.hold_id)).reason == "UNKNOWN_HOLD"
    assert (
        refused(
            lambda: family.call(
                family.sales.Sell,
                sales_pb2.SellRequest(
                    request_id="fam-sell",
                    trip_id=trip_id,
                    from_station="AAA",
                    to_station="CCC",
                    seat_count=1,
                    passenger_ids=ids[:1],
                ),
            )
        ).code
        is grpc.StatusCode.PERMISSION_DENIED
    )
    # The counter takes the money and confirms: real-name tickets, the family's own.
    tickets = master.confirm(hold.hold_id).tickets
    assert [t.holder.passenger_id for t in tickets] == ids and tickets[0].holder.name == "陈**"
    own = family.ticket(tickets[0].ticket_id)
    assert own.holder.document_number == "110105********002X"
    assert refused(lambda: stranger.ticket(tickets[0].ticket_id)).reason == "UNKNOWN_TICKET"
    # The gate checks the real name through the audited look-up the ticket points to.
    inspector = station.client("inspector")
    unmasked = inspector.call(
        inspector.staff.LookUpPassenger,
        staff_pb2.LookUpPassengerRequest(
            account_id=family.account.account_id,
            passenger_id=tickets[1].holder.passenger_id,
            purpose="boarding real-name check",
        ),
    ).passenger
    assert (unmasked.name, unmasked.document_number) == ("陈小文", "110101199003077774")
    second = family.call(
        family.sales.Hold,
        dataclasses_replace(hold_request, request_id="fam-hold-2", from_station="CCC", to_station="DDD"),
    ).hold
    family.release(second.hold_id)


def dataclasses_replace(message, **changes):
    copy = type(message)()
    copy.CopyFrom(message)
    for name, value in changes.items():
        setattr(copy, name, value)
    return copy


def test_staff_are_created_by_the_system_admin_and_given_roles_by_the_security_admin(station):
    sysadmin, secadmin = station.client("sysadmin"), station.client("secadmin")
    created = sysadmin.call(
        sysadmin.staff.CreateAccount,
        staff_pb2.CreateAccountRequest(
            request_id="new-seller",
            kind=accounts_pb2.ACCOUNT_KIND_STAFF,
            login_name="lili",
            password=STRONG,
            display_name="李丽",
        ),
    ).account
    assert list(created.roles) == []
    fresh = KeyunClient(station.server.target, attempts=1)
    fresh.login("lili", STRONG)
    trip_id = schedule_trip(station.client("master"), "SEC1", dt.timedelta(hours=5))
    assert refused(lambda: fresh.sell(trip_id, "AAA", "BBB", seat_count=1)).code is grpc.StatusCode.PERMISSION_DENIED
    # The system administrator cannot grant roles; the security administrator cannot grant their own.
    grant = staff_pb2.GrantRolesRequest(
        request_id="grant-1", account_id=created.account_id, roles=["ticket_seller"], stations=["BBB"]
    )
    assert refused(lambda: sysadmin.call(sysadmin.staff.GrantRoles, grant)).code is grpc.StatusCode.PERMISSION_DENIED
    own = staff_pb2.GrantRolesRequest(
        request_id="grant-own", account_id=secadmin.account.account_id, roles=["system_admin"]
    )
    assert refused(lambda: secadmin.call(secadmin.staff.GrantRoles, own)).code is grpc.StatusCode.PERMISSION_DENIED
    assert list(secadmin.call(secadmin.staff.GrantRoles, grant).account.roles) == ["ticket_seller"]
    # Within a second the new role works, scoped to its station.
    station.server.clock.advance_s(SESSION_RECHECK_S)
    assert (
        refused(lambda: fresh.sell(trip_id, "AAA", "BBB", seat_count=1)).code is grpc.StatusCode.PERMISSION_DENIED
    )  # not their station
    assert fresh.sell(trip_id, "BBB", "CCC", seat_count=1).tickets
    sysadmin.call(
        sysadmin.staff.DisableAccount,
        staff_pb2.DisableAccountRequest(request_id="disable-lili", account_id=created.account_id),
    )
    station.server.clock.advance_s(SESSION_RECHECK_S)
    assert refused(lambda: fresh.sell(trip_id, "BBB", "CCC", seat_count=1)).code is grpc.StatusCode.UNAUTHENTICATED


def test_retries_of_calls_that_carry_secrets_get_the_original_answer(station):
    client = KeyunClient(station.server.target, attempts=1)
    register = accounts_pb2.RegisterRequest(
        request_id="reg-retry", phone="13177778888", password=STRONG, display_name="重试"
    )
    first = client.call(client.accounts.Register, register).account
    assert client.call(client.accounts.Register, register).account == first  # hashed again, still the same request
    other = dataclasses_replace(register, password="Other-Passw0rd")
    assert refused(lambda: client.call(client.accounts.Register, other)).reason == "REQUEST_ID_REUSED"
    client.login("13177778888", STRONG)
    add = accounts_pb2.AddPassengerRequest(
        request_id="add-retry",
        name="周重",
        document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
        document_number="E22223333",
    )
    assert client.call(client.accounts.AddPassenger, add) == client.call(client.accounts.AddPassenger, add)
    profile = accounts_pb2.UpdateProfileRequest(
        request_id="profile-retry", display_name="重试二"
    )  # encrypted afresh on each send
    assert client.call(client.accounts.UpdateProfile, profile) == client.call(client.accounts.UpdateProfile, profile)
    change = accounts_pb2.ChangePasswordRequest(
        request_id="pw-retry", old_password=STRONG, new_password="Newer-Passw0rd"
    )
    client.call(client.accounts.ChangePassword, change)
    client.call(
        client.accounts.ChangePassword, change
    )  # the old password no longer matches; the retry is still answered
    again = KeyunClient(station.server.target, attempts=1)
    again.login("13177778888", "Newer-Passw0rd")
    sysadmin = station.client("sysadmin")
    device = staff_pb2.CreateAccountRequest(request_id="dev-retry", kind=common_kind("DEVICE"), login_name="gate77")
    first_device = sysadmin.call(sysadmin.staff.CreateAccount, device)
    assert sysadmin.call(sysadmin.staff.CreateAccount, device).device_secret == first_device.device_secret
    KeyunClient(station.server.target, attempts=1).login("gate77", first_device.device_secret)  # the secret shown works


def common_kind(name: str) -> int:
    return getattr(accounts_pb2, f"ACCOUNT_KIND_{name}")


def test_an_administrator_role_needs_an_account_with_a_second_factor(station):
    sysadmin, secadmin = station.client("sysadmin"), station.client("secadmin")
    plain = sysadmin.call(
        sysadmin.staff.CreateAccount,
        staff_pb2.CreateAccountRequest(
            request_id="plain-admin",
            kind=common_kind("STAFF"),
            login_name="nofactor",
            password=STRONG,
        ),
    ).account
    grant = staff_pb2.GrantRolesRequest(
        request_id="grant-plain", account_id=plain.account_id, roles=["audit_admin"], stations=["*"]
    )
    assert refused(lambda: secadmin.call(secadmin.staff.GrantRoles, grant)).reason == "NO_SECOND_FACTOR"
    enrolled = sysadmin.call(
        sysadmin.staff.CreateAccount,
        staff_pb2.CreateAccountRequest(
            request_id="factor-admin",
            kind=common_kind("STAFF"),
            login_name="withfactor",
            password=STRONG,
            second_factor=True,
        ),
    )
    assert enrolled.totp_secret and enrolled.totp_uri.startswith("otpauth://totp/")
    secadmin.call(
        secadmin.staff.GrantRoles,
        dataclasses_replace(grant, request_id="grant-factor", account_id=enrolled.account.account_id),
    )
    auditor = KeyunClient(station.server.target, attempts=1)
    assert refused(lambda: auditor.login("withfactor", STRONG)).reason == "SECOND_FACTOR_REQUIRED"
    auditor.login("withfactor", STRONG, credentials.totp_code(enrolled.totp_secret, station.server.clock.now_ms()))
    assert list(auditor.account.roles) == ["audit_admin"]


def test_the_audit_log_records_who_did_what_and_only_the_audit_admin_reads_it(station):
    master = station.client("master")
    trip_id = schedule_trip(master, "AUD1", dt.timedelta(hours=5))
    ticket = master.sell(trip_id, "AAA", "CCC", seat_count=1).tickets[0]
    auditor = station.client("auditor")
    audit = audit_pb2_grpc.AuditStub(auditor.channel)
    records = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(actor=master.account.account_id, page_size=50)
    ).records
    sale = next(r for r in records if r.action == "keyun.v1.Sales/Sell" and r.target == trip_id)
    assert (audit_outcome(sale), sale.role) == (
        "OK",
        "ticket_seller,gate_inspector,dispatcher,finance",
    ) and sale.source.startswith("ipv")
    assert ticket.ticket_id
    report = auditor.call(audit.Verify, audit_pb2.VerifyRequest())
    assert report.ok and report.records_checked >= len(records) and report.head_seq >= sale.seq
    for login in ("seller", "sysadmin", "secadmin"):
        other = station.client(login)
        assert (
            refused(
                partial(other.call, audit_pb2_grpc.AuditStub(other.channel).ListRecords, audit_pb2.ListRecordsRequest())
            ).code
            is grpc.StatusCode.PERMISSION_DENIED
        )
    assert refused(lambda: auditor.sell(trip_id, "AAA", "BBB", seat_count=1)).code is grpc.StatusCode.PERMISSION_DENIED
    denied = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(actor=auditor.account.account_id, reason="PERMISSION_DENIED")
    ).records
    assert any(r.action == "keyun.v1.Sales/Sell" for r in denied)


def test_personal_data_and_passwords_never_reach_disk_in_the_clear(station):
    client = KeyunClient(station.server.target, attempts=1)
    secret_phone, secret_password, secret_id = "13611112222", "Unique-Passw0rd-xyz", "110101199003077774"
    assert id_check_ok(secret_id)
    client.call(
        client.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="reg-disk", phone=secret_phone, password=secret_password),
    )
    client.login(secret_phone, secret_password)
    client.call(
        client.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="add-disk",
            name="王秘密",
            document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
            document_number=secret_id,
            phone=secret_phone,
        ),
    )
    # Snapshots too: take them now rather than wait for the owners' own schedule.
    server = station.server.server
    station.server.run(server.pool.snapshot())
    station.server.run(_wait(server.owners.accounts.snapshot.remote()))
    data_dir = Path(station.server.data_dir)
    assert (data_dir / "accounts" / "snapshot.bin").exists()
    needles = [value.encode() for value in (secret_phone, secret_password, secret_id, "王秘密")] + [
        secret_id.encode("utf-16-le")
    ]
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any("accounts" in p.parts for p in files) and any("audit" in p.parts for p in files)
    for path in files:
        blob = path.read_bytes()
        for needle in needles:
            assert needle not in blob, f"{needle!r} in {path}"
    log_text = station.server.log_text()
    for needle in needles[:4]:
        assert needle.decode() not in log_text


def test_display_names_are_encrypted_at_rest_masked_for_others_and_shown_to_their_owner(station):
    from keyun.persistence import admin

    passenger_name, renamed, staff_name = "欧阳秘名", "司马隐名", "诸葛藏名"
    client = KeyunClient(station.server.target, attempts=1)
    registered = client.call(
        client.accounts.Register,
        accounts_pb2.RegisterRequest(
            request_id="reg-name",
            phone="13655556666",
            password=STRONG,
            display_name=passenger_name,
        ),
    ).account
    assert registered.display_name == passenger_name  # its owner sees it
    client.login("13655556666", STRONG)
    assert client.account.display_name == passenger_name
    update = accounts_pb2.UpdateProfileRequest(request_id="rename", display_name=renamed)
    assert client.call(client.accounts.UpdateProfile, update).account.display_name == renamed
    assert client.call(client.accounts.GetProfile, accounts_pb2.GetProfileRequest()).account.display_name == renamed
    sysadmin = station.client("sysadmin")
    created = sysadmin.call(
        sysadmin.staff.CreateAccount,
        staff_pb2.CreateAccountRequest(
            request_id="new-named",
            kind=accounts_pb2.ACCOUNT_KIND_STAFF,
            login_name="zhuge",
            password=STRONG,
            display_name=staff_name,
        ),
    ).account
    assert created.display_name == "诸***"  # masked for the system administrator who made it
    listed = {
        a.account_id: a.display_name
        for a in sysadmin.call(sysadmin.staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500)).accounts
    }
    assert (listed[registered.account_id], listed[created.account_id]) == ("司***", "诸***")
    assert (
        listed[sysadmin.account.account_id] == "系" + "*" * 9
    )  # "系统管理员 Demo", even their own in a list of everyone
    assert KeyunClient(station.server.target, attempts=1).login("zhuge", STRONG).account.display_name == staff_name
    # Not in the clear in the data directory (log and snapshot), a backup, the log dump or the server log.
    server = station.server.server
    station.server.run(_wait(server.owners.accounts.snapshot.remote()))
    data_dir = Path(station.server.data_dir)
    needles = [name.encode() for name in (passenger_name, renamed, staff_name)]
    for path in (p for p in data_dir.rglob("*") if p.is_file()):
        blob = path.read_bytes()
        assert not [needle for needle in needles if needle in blob], path
    dump = "\n".join(admin.describe(row) for row in admin.dump_logs(data_dir, "accounts"))
    log_text = station.server.log_text()
    for name in (passenger_name, renamed, staff_name):
        assert name not in dump and name not in log_text


def test_display_names_stored_as_text_by_an_earlier_version_still_load_and_are_encrypted_at_start(
    ray_session, tmp_path
):
    from keyun.engine import accounts as ac
    from keyun.persistence.layout import prepare
    from keyun.persistence.small_store import SmallStore

    old_name = "上官旧名"
    prepare(tmp_path / "data", 1)
    Keyring.init(tmp_path / "data-keys")  # made by the earlier version's first start, as every start did
    engine, store = ac.AccountsEngine(), SmallStore(tmp_path / "data" / "accounts")
    store.recover(engine)
    password_hash = credentials.PasswordHasher(credentials.FAST_TEST_PARAMS).hash_password(STRONG)
    legacy = ac.NewAccount(
        ac.AccountKind.STAFF, "name:oldtimer", "oldtimer", b"", old_name, password_hash
    )  # as text, as before
    _, entries = engine.execute([ac.CreateAccount("legacy-create", legacy)], SYSTEM_CLOCK.now_ms())
    store.commit(engine.last_now, entries)
    store.snapshot(engine)
    _, entries = engine.execute([ac.UpdateProfile("legacy-profile", "A000001", old_name)], SYSTEM_CLOCK.now_ms())
    store.commit(engine.last_now, entries)
    store.close()
    assert any(old_name.encode() in p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())

    server = ServerThread(tmp_path / "data", shards=1)
    try:
        assert KeyunClient(server.target, attempts=1).login("oldtimer", STRONG).account.display_name == old_name
        sysadmin = logged_in_admin(server, "sysadmin")
        listed = {
            a.login_name: a.display_name
            for a in sysadmin.call(sysadmin.staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500)).accounts
        }
        assert listed["oldtimer"] == "上***"
        # The start encrypted it, and the log and snapshot that held it as text are gone.
        for path in (p for p in (tmp_path / "data").rglob("*") if p.is_file()):
            assert old_name.encode() not in path.read_bytes(), path
        assert "encrypted 1 display names" in server.log_text()
    finally:
        server.stop()


def logged_in_admin(server: ServerThread, login: str) -> KeyunClient:
    client = KeyunClient(server.target, attempts=1)
    client.login(login, DEMO_PASSWORD, credentials.totp_code(DEMO_TOTP_SECRET, server.clock.now_ms()))
    return client


def test_a_backup_keeps_accounts_encrypted_and_a_restore_brings_them_back(station, tmp_path):
    from keyun.persistence import admin

    client = KeyunClient(station.server.target, attempts=1)
    phone, password, document = "13522223333", "Backup-Passw0rd", "E98765432"
    client.call(
        client.accounts.Register, accounts_pb2.RegisterRequest(request_id="reg-backup", phone=phone, password=password)
    )
    client.login(phone, password)
    client.call(
        client.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="add-backup",
            name="赵备份",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number=document,
        ),
    )
    admin.backup(Path(station.server.data_dir), tmp_path / "backup")
    for path in (p for p in (tmp_path / "backup").rglob("*") if p.is_file()):
        blob = path.read_bytes()
        for needle in (phone, password, document, "赵备份"):
            assert needle.encode() not in blob, f"{needle} in {path}"
    admin.restore(tmp_path / "backup", tmp_path / "restored")
    data_dir = Path(station.server.data_dir).resolve()
    restored = ServerThread(tmp_path / "restored", shards=2, key_dir=data_dir.parent / f"{data_dir.name}-keys")
    try:
        again = KeyunClient(restored.target, attempts=1)
        again.login(phone, password)
        (passenger,) = again.call(again.accounts.ListPassengers, accounts_pb2.ListPassengersRequest()).passengers
        assert (passenger.name, passenger.document_number) == ("赵**", "E******32")
        again.close()
    finally:
        restored.stop()


def test_a_production_start_has_no_accounts_and_a_one_time_setup_token(ray_session, tmp_path):
    # As `keyun serve` starts.
    server = ServerThread(
        tmp_path / "data",
        shards=1,
        account_rules=RULES_FOR_TESTS,
        demo_accounts=False,
        clock=ManualClock(),
    )
    try:
        token = server.server.setup_token
        assert token and len(token) >= 32
        client = KeyunClient(server.target, attempts=1)
        assert refused(lambda: client.login("master", DEMO_PASSWORD)).reason == "BAD_CREDENTIALS"  # no demo accounts
        admins = {
            role: staff_pb2.NewAdministrator(login_name=name, password=STRONG, display_name=name)
            for role, name in (("system_admin", "root"), ("security_admin", "keeper"), ("audit_admin", "watcher"))
        }
        wrong = staff_pb2.SetUpRequest(setup_token="x" * 43, **admins)
        assert refused(lambda: client.call(client.staff.SetUp, wrong)).reason == "SETUP_CLOSED"
        done = client.call(client.staff.SetUp, staff_pb2.SetUpRequest(setup_token=token, **admins)).administrators
        assert sorted(list(a.account.roles) for a in done) == [["audit_admin"], ["security_admin"], ["system_admin"]]
        assert (
            refused(lambda: client.call(client.staff.SetUp, staff_pb2.SetUpRequest(setup_token=token, **admins))).reason
            == "SETUP_CLOSED"
        )
        root = next(a for a in done if a.account.login_name == "root")
        assert root.totp_uri.startswith("otpauth://totp/")
        assert refused(lambda: client.login("root", STRONG)).reason == "SECOND_FACTOR_REQUIRED"
        server.clock.advance(RULES_FOR_TESTS.backoff_ms(1))
        client.login("root", STRONG, credentials.totp_code(root.totp_secret, server.clock.now_ms()))
        assert client.account.roles == ["system_admin"]
        client.close()
    finally:
        server.stop()


async def _wait(reference):
    return await reference


def id_check_ok(number: str) -> bool:
    from keyun.engine.identity import id_check_char

    return id_check_char(number[:17]) == number[17]


def test_sm4_keys_and_idle_sessions_end_on_the_server(ray_session, tmp_path):
    """A deployment that must use national algorithms keys its station with SM4-GCM; and a
    session nobody uses ends on the server, whatever the token's own lifetime says."""
    keys = Keyring.init(tmp_path / "keys", algorithm="SM4-GCM")
    idle = AccountRules(idle_ms=1500, first_backoff_ms=100)
    server = ServerThread(
        tmp_path / "data",
        shards=1,
        account_rules=idle,
        key_dir=tmp_path / "keys",
        clock=ManualClock(),
    )
    try:
        client = KeyunClient(server.target, attempts=1)
        client.call(
            client.accounts.Register,
            accounts_pb2.RegisterRequest(request_id="reg-sm4", phone="13244445555", password=STRONG),
        )
        client.login("13244445555", STRONG)
        added = client.call(
            client.accounts.AddPassenger,
            accounts_pb2.AddPassengerRequest(
                request_id="add-sm4",
                name="孙国密",
                document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
                document_number=ID_NUMBER,
            ),
        ).passenger
        assert added.document_number == "110105********002X"
        assert keys.keys()[0].algorithm == "SM4-GCM"
        client.call(client.accounts.GetProfile, accounts_pb2.GetProfileRequest())
        server.clock.advance(idle.idle_ms - 1)
        client.call(client.accounts.GetProfile, accounts_pb2.GetProfileRequest())  # used just in time: still alive
        # Unused longer than the idle limit, far shorter than the token's 15 minutes.
        server.clock.advance(idle.idle_ms + 1)
        assert (
            refused(lambda: client.call(client.accounts.GetProfile, accounts_pb2.GetProfileRequest())).reason
            == "SESSION_ENDED"
        )
        assert refused(client.refresh).reason == "SESSION_ENDED"
        client.close()
    finally:
        server.stop()


def test_reports_on_a_server_without_them_are_refused_with_a_reason(station):
    """This server runs without the report projector (keyun serve --no-reports): finance may ask,
    and is told why there is no answer (docs/reporting.md)."""
    with pytest.raises(KeyunError) as refused:
        station.client("finance").projection_status()
    assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "REPORTS_OFF")
    assert "--no-reports" in refused.value.message
    # Nor does it upload to the transport authority (docs/authority.md).
    with pytest.raises(KeyunError) as refused:
        station.client("finance").upload_status()
    assert (refused.value.code, refused.value.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "UPLOADS_OFF")
    assert "--authority-url" in refused.value.message
