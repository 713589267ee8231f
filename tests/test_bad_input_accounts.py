"""Every field of the accounts, staff and audit RPCs, given malformed or boundary values, gets
INVALID_ARGUMENT with a reason (never INTERNAL) and changes nothing; then random text everywhere."""

from __future__ import annotations

import grpc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import accounts_pb2, audit_pb2, audit_pb2_grpc, common_pb2, staff_pb2

from .conftest import logged_in

BAD_TEXT = ["", " ", "X" * 65, "a b", "x\x00y", "../etc"]
BAD_NAMES = ["", "A", "ab", "x" * 40, "a b", "管理员", "-lead", "a\x00b"]
BAD_PHONES = ["", "1234", "23812345678", "138123456789", "+1 2025550123", "1381234567x"]
BAD_DOCUMENTS = ["", "123", "110105194912310021", "11010519491231002Y", "110105194913310029", "X" * 30]
PASSENGER_PHONE = "13600009999"
STRONG = "Fuzz-Passw0rd"


@pytest.fixture(scope="module")
def callers(keyun):
    passenger = KeyunClient(keyun.target, attempts=1)
    passenger.call(
        passenger.accounts.Register,
        accounts_pb2.RegisterRequest(request_id="fuzz-register", phone=PASSENGER_PHONE, password=STRONG),
    )
    passenger.login(PASSENGER_PHONE, STRONG)
    added = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id="fuzz-add",
            name="李四",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number="E12345678",
        ),
    ).passenger
    clients = {
        name: logged_in(KeyunClient(keyun.target, attempts=1), name)
        for name in ("sysadmin", "secadmin", "inspector", "auditor")
    }
    clients["passenger"] = passenger
    yield clients, added.passenger_id
    for client in clients.values():
        client.close()


def cases(account_id: str, passenger_id: str):
    """(caller, service, rpc, request) with one bad field each."""
    register = dict(request_id="r-1", phone="13500001111", password=STRONG, display_name="x")
    for value in BAD_TEXT[:5]:
        yield "passenger", "accounts", "Register", accounts_pb2.RegisterRequest(**{**register, "request_id": value})
        yield (
            "passenger",
            "accounts",
            "UpdateProfile",
            accounts_pb2.UpdateProfileRequest(request_id=value, display_name="ok"),
        )
        yield (
            "passenger",
            "accounts",
            "RemovePassenger",
            accounts_pb2.RemovePassengerRequest(request_id=value, passenger_id=passenger_id),
        )
        yield (
            "sysadmin",
            "staff",
            "DisableAccount",
            staff_pb2.DisableAccountRequest(request_id=value, account_id=account_id),
        )
    for value in BAD_PHONES:
        yield "passenger", "accounts", "Register", accounts_pb2.RegisterRequest(**{**register, "phone": value})
    for password in ("", "short1A", "alllowercase", "ALLUPPER123", "N0-" + "x" * 130, "tab\tTab1"):
        yield "passenger", "accounts", "Register", accounts_pb2.RegisterRequest(**{**register, "password": password})
        yield (
            "passenger",
            "accounts",
            "ChangePassword",
            accounts_pb2.ChangePasswordRequest(request_id="c-1", old_password=STRONG, new_password=password),
        )
    for name in ("x" * 65, "bad\x01name"):
        yield "passenger", "accounts", "Register", accounts_pb2.RegisterRequest(**{**register, "display_name": name})
        yield (
            "passenger",
            "accounts",
            "UpdateProfile",
            accounts_pb2.UpdateProfileRequest(request_id="u-1", display_name=name),
        )
    yield "passenger", "accounts", "UpdateProfile", accounts_pb2.UpdateProfileRequest(request_id="u-1", display_name="")
    add = dict(
        request_id="a-1",
        name="王五",
        document_type=common_pb2.DOCUMENT_TYPE_RESIDENT_ID,
        document_number="11010519491231002X",
    )
    for value in BAD_DOCUMENTS:
        yield (
            "passenger",
            "accounts",
            "AddPassenger",
            accounts_pb2.AddPassengerRequest(**{**add, "document_number": value}),
        )
    for value in ("", " ", "x" * 65, "a\x00b"):
        yield "passenger", "accounts", "AddPassenger", accounts_pb2.AddPassengerRequest(**{**add, "name": value})
    for value in (0, 99, -1):
        yield (
            "passenger",
            "accounts",
            "AddPassenger",
            accounts_pb2.AddPassengerRequest(**{**add, "document_type": value}),
        )
    for value in BAD_PHONES[1:]:
        yield "passenger", "accounts", "AddPassenger", accounts_pb2.AddPassengerRequest(**{**add, "phone": value})
    for value in ("", "X1", "P", "P" + "9" * 20, "p1"):
        yield (
            "passenger",
            "accounts",
            "RemovePassenger",
            accounts_pb2.RemovePassengerRequest(request_id="rm-1", passenger_id=value),
        )
    create = dict(request_id="s-1", kind=accounts_pb2.ACCOUNT_KIND_STAFF, login_name="newbie", password=STRONG)
    for value in BAD_NAMES:
        yield "sysadmin", "staff", "CreateAccount", staff_pb2.CreateAccountRequest(**{**create, "login_name": value})
    for value in (0, 1, 99):  # unspecified, passenger (they register themselves), unknown
        yield "sysadmin", "staff", "CreateAccount", staff_pb2.CreateAccountRequest(**{**create, "kind": value})
    yield "sysadmin", "staff", "CreateAccount", staff_pb2.CreateAccountRequest(**{**create, "password": "weak"})
    yield (
        "sysadmin",
        "staff",
        "CreateAccount",
        staff_pb2.CreateAccountRequest(**{**create, "kind": accounts_pb2.ACCOUNT_KIND_DEVICE}),
    )  # devices get a secret
    yield "sysadmin", "staff", "CreateAccount", staff_pb2.CreateAccountRequest(**{**create, "display_name": "x" * 65})
    for size, token in ((-1, ""), (501, ""), (10, "!!"), (10, "bm90IGEgbnVtYmVy")):
        yield "sysadmin", "staff", "ListAccounts", staff_pb2.ListAccountsRequest(page_size=size, page_token=token)
        yield "auditor", "audit", "ListRecords", audit_pb2.ListRecordsRequest(page_size=size, page_token=token)
    for value in ("", "A1", "B000001", "A00000x", "x" * 70):
        yield "sysadmin", "staff", "DisableAccount", staff_pb2.DisableAccountRequest(request_id="d-1", account_id=value)
        yield (
            "secadmin",
            "staff",
            "GrantRoles",
            staff_pb2.GrantRolesRequest(request_id="g-1", account_id=value, roles=["ticket_seller"]),
        )
        yield (
            "inspector",
            "staff",
            "LookUpPassenger",
            staff_pb2.LookUpPassengerRequest(account_id=value, passenger_id=passenger_id, purpose="check"),
        )
    grant = dict(request_id="g-1", account_id=account_id, roles=["ticket_seller"])
    for roles in (["king"], ["ticket_seller", "ticket_seller"], [""], ["Ticket_Seller"]):
        yield "secadmin", "staff", "GrantRoles", staff_pb2.GrantRolesRequest(**{**grant, "roles": roles})
    for stations in (["*"] * 65, ["x" * 17], ["a\x00"]):
        yield "secadmin", "staff", "GrantRoles", staff_pb2.GrantRolesRequest(**{**grant, "stations": stations})
    for purpose in ("", " ", "x" * 201):
        yield (
            "inspector",
            "staff",
            "LookUpPassenger",
            staff_pb2.LookUpPassengerRequest(account_id=account_id, passenger_id=passenger_id, purpose=purpose),
        )
    for value in ("", "X", "P" + "1" * 20):
        yield (
            "inspector",
            "staff",
            "LookUpPassenger",
            staff_pb2.LookUpPassengerRequest(account_id=account_id, passenger_id=value, purpose="check"),
        )
    admin = staff_pb2.NewAdministrator(login_name="root", password=STRONG)
    for value in BAD_NAMES:
        bad = staff_pb2.NewAdministrator(login_name=value, password=STRONG)
        yield (
            "passenger",
            "staff",
            "SetUp",
            staff_pb2.SetUpRequest(setup_token="t", system_admin=bad, security_admin=admin, audit_admin=admin),
        )


def state(clients) -> tuple:
    sysadmin, passenger = clients["sysadmin"], clients["passenger"]
    accounts = sysadmin.call(sysadmin.staff.ListAccounts, staff_pb2.ListAccountsRequest(page_size=500)).accounts
    passengers = passenger.call(passenger.accounts.ListPassengers, accounts_pb2.ListPassengersRequest()).passengers
    profile = passenger.call(passenger.accounts.GetProfile, accounts_pb2.GetProfileRequest()).account
    return list(accounts), list(passengers), profile


def stub(client: KeyunClient, service: str):
    return audit_pb2_grpc.AuditStub(client.channel) if service == "audit" else getattr(client, service)


def test_every_bad_field_of_the_account_rpcs_is_invalid_argument_and_changes_nothing(callers):
    clients, passenger_id = callers
    account_id = clients["passenger"].account.account_id
    before = state(clients)
    checked = 0
    for caller, service, rpc, request in cases(account_id, passenger_id):
        client = clients[caller]
        with pytest.raises(KeyunError) as caught:
            client.call(getattr(stub(client, service), rpc), request)
        error = caught.value
        assert error.code is grpc.StatusCode.INVALID_ARGUMENT, (rpc, request, error)
        assert error.reason in {"WEAK_PASSWORD", "UNKNOWN_ROLE"} or 1000 < error.reason_code < 2000, (rpc, error)
        checked += 1
    assert checked > 120
    assert state(clients) == before


TEXT = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=60, max_size=300),
    st.sampled_from(BAD_TEXT),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(request_id=TEXT, name=TEXT, number=TEXT, phone=TEXT, kind=st.integers(-5, 10), login=TEXT)
def test_random_values_never_make_the_server_fail(callers, request_id, name, number, phone, kind, login):
    """Whatever arrives, the answer is a refusal with a reason (or a success), never INTERNAL."""
    clients, _ = callers
    passenger, sysadmin = clients["passenger"], clients["sysadmin"]
    calls = [
        (
            passenger,
            passenger.accounts.AddPassenger,
            accounts_pb2.AddPassengerRequest(
                request_id=request_id, name=name, document_type=kind, document_number=number, phone=phone
            ),
        ),
        (
            passenger,
            passenger.accounts.Register,
            accounts_pb2.RegisterRequest(request_id=request_id, phone=phone, password=name, display_name=login),
        ),
        (
            passenger,
            passenger.accounts.Login,
            accounts_pb2.LoginRequest(login_name=login, password=name, totp_code=number),
        ),
        (
            sysadmin,
            sysadmin.staff.CreateAccount,
            staff_pb2.CreateAccountRequest(
                request_id=request_id, kind=kind, login_name=login, password=name, display_name=number
            ),
        ),
    ]
    for client, method, request in calls:
        try:
            client.call(method, request)
        except KeyunError as error:
            assert error.code not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (method, request, error)
            assert error.reason, error
