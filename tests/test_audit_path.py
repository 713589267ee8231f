"""A sale's audit record travels with the sale: its trip owner journals both, then sends the record
on, so sales (and check-ins, and a dispatcher's delay) go on while the audit owner cannot answer,
and the records follow.  The accounts owner does the same for account calls (new accounts, roles,
logins and failed logins, profiles)."""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
import ray

from keyun.terminals.client import KeyunClient, KeyunError, audit_outcome
from keyun.v1 import (
    accounts_pb2,
    audit_pb2,
    audit_pb2_grpc,
    dispatch_pb2,
    orders_pb2,
    orders_pb2_grpc,
    sales_pb2,
    staff_pb2,
)

from .conftest import logged_in, schedule_trip

STRONG = "Aud1t-Stop-Pass"


class audit_owner_stopped:
    """`with audit_owner_stopped(keyun):` the audit owner's process is stopped (SIGSTOP) inside."""

    def __init__(self, keyun):
        self.pid = ray.get(keyun.server.server.owners.audit.ready.remote(), timeout=60)["pid"]

    def __enter__(self):
        os.kill(self.pid, signal.SIGSTOP)

    def __exit__(self, *exc):
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def auditor(keyun) -> KeyunClient:
    """Logged in once per server: an administrator's TOTP code counts once."""
    return logged_in(KeyunClient(keyun.target), "auditor")


def test_sales_go_on_while_the_audit_owner_is_stopped_and_their_records_follow(keyun, auditor):
    trip_id = schedule_trip(keyun.client, "AUDSTOP", dt.timedelta(minutes=30), vehicle="coach45")  # boarding
    # One attempt, and a deadline well inside the gateway's 30 s of waiting for an owner: a sale
    # that waited for the audit owner would fail here with DEADLINE_EXCEEDED.
    seller = logged_in(KeyunClient(keyun.target, deadline_s=15, attempts=1))
    with audit_owner_stopped(keyun):
        tickets = [seller.sell(trip_id, "AAA", "BBB", seat_count=1).tickets[0] for _ in range(5)]
        with pytest.raises(KeyunError) as taken:
            seller.sell(trip_id, "AAA", "BBB", seat_numbers=(tickets[0].seat_number,))
        checked_in = seller.check_in(tickets[1].ticket_id, "G1")
        seller.call(
            seller.dispatch.DelayTrip,
            dispatch_pb2.DelayTripRequest(request_id="audstop-delay", trip_id=trip_id, delay_minutes=10),
        )
    assert checked_in.ticket_id == tickets[1].ticket_id

    # The read waits until the trip owners' records have reached the audit owner.
    audit = audit_pb2_grpc.AuditStub(auditor.channel)
    sales = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Sales/Sell", target=trip_id, page_size=50)
    ).records
    assert sorted(audit_outcome(record) for record in sales) == sorted(["OK"] * 5 + [taken.value.reason])
    assert {record.actor for record in sales} == {seller.account.account_id}
    check_ins = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Gate/CheckIn", target=tickets[1].ticket_id)
    ).records
    assert [audit_outcome(record) for record in check_ins] == ["OK"]
    delays = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Dispatch/DelayTrip", target=trip_id)
    ).records
    assert [audit_outcome(record) for record in delays] == ["OK"]
    assert auditor.call(audit.Verify, audit_pb2.VerifyRequest()).ok


def test_account_calls_go_on_while_the_audit_owner_is_stopped_and_their_records_follow(keyun, auditor):
    sysadmin = logged_in(KeyunClient(keyun.target, deadline_s=15, attempts=1), "sysadmin")
    secadmin = logged_in(KeyunClient(keyun.target, deadline_s=15, attempts=1), "secadmin")
    newcomer = KeyunClient(keyun.target, deadline_s=15, attempts=1)
    with audit_owner_stopped(keyun):
        made = sysadmin.call(
            sysadmin.staff.CreateAccount,
            staff_pb2.CreateAccountRequest(
                request_id="audstop-create",
                kind=accounts_pb2.ACCOUNT_KIND_STAFF,
                login_name="audstop",
                password=STRONG,
                display_name="Audit Stop",
            ),
        ).account
        with pytest.raises(KeyunError) as taken:  # the same login name again: refused by the owner
            sysadmin.call(
                sysadmin.staff.CreateAccount,
                staff_pb2.CreateAccountRequest(
                    request_id="audstop-create-2",
                    kind=accounts_pb2.ACCOUNT_KIND_STAFF,
                    login_name="audstop",
                    password=STRONG,
                ),
            )
        secadmin.call(
            secadmin.staff.GrantRoles,
            staff_pb2.GrantRolesRequest(
                request_id="audstop-grant", account_id=made.account_id, roles=["ticket_seller"], stations=["*"]
            ),
        )
        newcomer.login("audstop", STRONG)
        newcomer.call(
            newcomer.accounts.UpdateProfile,
            accounts_pb2.UpdateProfileRequest(request_id="audstop-profile", display_name="Audit Stopped"),
        )
        newcomer.refresh()
        newcomer.logout()
        with pytest.raises(KeyunError) as wrong:
            KeyunClient(keyun.target, deadline_s=15, attempts=1).login("audstop", "not-the-password")
    assert taken.value.reason == "ACCOUNT_EXISTS" and wrong.value.reason == "BAD_CREDENTIALS"

    audit = audit_pb2_grpc.AuditStub(auditor.channel)

    def records(action: str, **where) -> list[tuple[str, str, str]]:
        found = auditor.call(
            audit.ListRecords, audit_pb2.ListRecordsRequest(action=action, page_size=50, **where)
        ).records
        return [(record.actor, record.target, audit_outcome(record)) for record in found]

    # The new account is named as the target, though only its owner knew its id.
    assert records("keyun.v1.Staff/CreateAccount", target=made.account_id) == [
        (sysadmin.account.account_id, made.account_id, "OK")
    ]
    assert (sysadmin.account.account_id, "", "ACCOUNT_EXISTS") in records(
        "keyun.v1.Staff/CreateAccount", reason="ACCOUNT_EXISTS"
    )
    assert records("keyun.v1.Staff/GrantRoles", target=made.account_id) == [
        (secadmin.account.account_id, made.account_id, "OK")
    ]
    assert sorted(records("keyun.v1.Accounts/Login", actor=made.account_id)) == [
        (made.account_id, made.account_id, o) for o in ("BAD_CREDENTIALS", "OK")
    ]
    assert [outcome for *_, outcome in records("keyun.v1.Accounts/UpdateProfile", actor=made.account_id)] == ["OK"]
    assert [outcome for *_, outcome in records("keyun.v1.Accounts/Logout", actor=made.account_id)] == ["OK"]
    # A refresh token is all the caller showed: the owner names the account as the actor.
    refreshed = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Accounts/Refresh", actor=made.account_id)
    ).records
    assert [(r.target, r.role, audit_outcome(r)) for r in refreshed] == [(made.account_id, "ticket_seller", "OK")]
    assert auditor.call(audit.Verify, audit_pb2.VerifyRequest()).ok


def test_orders_go_on_while_the_audit_owner_is_stopped_and_their_records_follow(keyun, auditor):
    trip_id = schedule_trip(keyun.client, "AUDORD", dt.timedelta(hours=6))
    seller = logged_in(KeyunClient(keyun.target, deadline_s=15, attempts=1))
    orders = orders_pb2_grpc.OrdersStub(seller.channel)
    cash = orders_pb2.PAY_METHOD_CASH
    with audit_owner_stopped(keyun):
        created = seller.call(
            orders.CreateOrder,
            orders_pb2.CreateOrderRequest(
                request_id="audstop-order",
                hold_id=seller.hold(trip_id, "AAA", "CCC", seat_count=2).hold_id,
                method=cash,
            ),
        ).order
        paid = seller.call(
            orders.PayAtCounter,
            orders_pb2.PayAtCounterRequest(request_id="audstop-pay", order_id=created.order_id, method=cash),
        ).order
        seller.call(
            orders.RefundOrder,
            orders_pb2.RefundOrderRequest(
                request_id="audstop-refund", order_id=paid.order_id, ticket_ids=[paid.tickets[0].ticket_id]
            ),
        )
        with pytest.raises(KeyunError) as twice:  # the same ticket again: refused by the owner
            seller.call(
                orders.RefundOrder,
                orders_pb2.RefundOrderRequest(
                    request_id="audstop-refund-2", order_id=paid.order_id, ticket_ids=[paid.tickets[0].ticket_id]
                ),
            )
        other = seller.call(
            orders.CreateOrder,
            orders_pb2.CreateOrderRequest(
                request_id="audstop-order-2",
                hold_id=seller.hold(trip_id, "AAA", "BBB", seat_count=1).hold_id,
                method=cash,
            ),
        ).order
        seller.call(
            orders.CancelOrder, orders_pb2.CancelOrderRequest(request_id="audstop-cancel", order_id=other.order_id)
        )

    audit = audit_pb2_grpc.AuditStub(auditor.channel)

    def outcomes(action: str, order_id: str) -> list[str]:
        found = auditor.call(
            audit.ListRecords, audit_pb2.ListRecordsRequest(action=f"keyun.v1.Orders/{action}", target=order_id)
        ).records
        assert {record.actor for record in found} == {seller.account.account_id}
        return sorted(audit_outcome(record) for record in found)

    assert outcomes("CreateOrder", created.order_id) == ["OK"]
    assert outcomes("PayAtCounter", created.order_id) == ["OK"]
    assert outcomes("RefundOrder", created.order_id) == sorted(["OK", twice.value.reason])
    assert outcomes("CancelOrder", other.order_id) == ["OK"]
    assert auditor.call(audit.Verify, audit_pb2.VerifyRequest()).ok


def test_a_rebooking_goes_on_while_the_audit_owner_is_stopped_and_its_record_follows(keyun, auditor):
    old_trip = schedule_trip(keyun.client, "AUDRB1", dt.timedelta(hours=5))
    new_trip = schedule_trip(keyun.client, "AUDRB2", dt.timedelta(hours=6))
    seller = logged_in(KeyunClient(keyun.target, deadline_s=15, attempts=1))
    ticket = seller.sell(old_trip, "AAA", "CCC", seat_count=1).tickets[0]
    with audit_owner_stopped(keyun):
        moved = seller.call(
            seller.sales.ChangeTicket,
            sales_pb2.ChangeTicketRequest(
                request_id="audstop-rebook", ticket_id=ticket.ticket_id, new_trip_id=new_trip
            ),
        )
    assert moved.new_ticket.changed_from == ticket.ticket_id
    # The old ticket again: refused at the first step by its owner, so its record takes the
    # gateway's path, which waits for the audit owner (docs/security.md).
    with pytest.raises(KeyunError) as twice:
        seller.call(
            seller.sales.ChangeTicket,
            sales_pb2.ChangeTicketRequest(
                request_id="audstop-rebook-2", ticket_id=ticket.ticket_id, new_trip_id=new_trip
            ),
        )

    audit = audit_pb2_grpc.AuditStub(auditor.channel)
    found = auditor.call(
        audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Sales/ChangeTicket", target=ticket.ticket_id)
    ).records
    assert sorted(audit_outcome(record) for record in found) == sorted(["OK", twice.value.reason])
    assert {record.actor for record in found} == {seller.account.account_id}
