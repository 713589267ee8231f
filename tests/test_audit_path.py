"""A sale's audit record travels with the sale: its trip owner journals both, then sends the record
on, so sales (and check-ins, and a dispatcher's delay) go on while the audit owner cannot answer,
and the records follow."""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
import ray

from keyun.terminals.client import KeyunClient, KeyunError
from keyun.v1 import audit_pb2, audit_pb2_grpc, dispatch_pb2

from .conftest import logged_in, schedule_trip


def test_sales_go_on_while_the_audit_owner_is_stopped_and_their_records_follow(keyun):
    trip_id = schedule_trip(keyun.client, "AUDSTOP", dt.timedelta(minutes=30), vehicle="coach45")  # boarding
    auditor = logged_in(KeyunClient(keyun.target), "auditor")  # logins are recorded by the gateway: before the stop
    # One attempt, and a deadline well inside the gateway's 30 s of waiting for an owner: a sale
    # that waited for the audit owner would fail here with DEADLINE_EXCEEDED.
    seller = logged_in(KeyunClient(keyun.target, deadline_s=15, attempts=1))
    audit_owner_pid = ray.get(keyun.server.server.owners.audit.ready.remote(), timeout=60)["pid"]
    os.kill(audit_owner_pid, signal.SIGSTOP)
    try:
        tickets = [seller.sell(trip_id, "AAA", "BBB", seat_count=1).tickets[0] for _ in range(5)]
        with pytest.raises(KeyunError) as taken:
            seller.sell(trip_id, "AAA", "BBB", seat_numbers=(tickets[0].seat_number,))
        checked_in = seller.check_in(tickets[1].ticket_id, "G1")
        seller.call(seller.dispatch.DelayTrip, dispatch_pb2.DelayTripRequest(request_id="audstop-delay", trip_id=trip_id, delay_minutes=10))
    finally:
        os.kill(audit_owner_pid, signal.SIGCONT)
    assert checked_in.ticket_id == tickets[1].ticket_id

    # The read waits until the trip owners' records have reached the audit owner.
    audit = audit_pb2_grpc.AuditStub(auditor.channel)
    sales = auditor.call(audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Sales/Sell", target=trip_id, page_size=50)).records
    assert sorted(record.outcome for record in sales) == sorted(["OK"] * 5 + [taken.value.reason])
    assert {record.actor for record in sales} == {seller.account.account_id}
    check_ins = auditor.call(audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Gate/CheckIn", target=tickets[1].ticket_id)).records
    assert [record.outcome for record in check_ins] == ["OK"]
    delays = auditor.call(audit.ListRecords, audit_pb2.ListRecordsRequest(action="keyun.v1.Dispatch/DelayTrip", target=trip_id)).records
    assert [record.outcome for record in delays] == ["OK"]
    assert auditor.call(audit.Verify, audit_pb2.VerifyRequest()).ok
