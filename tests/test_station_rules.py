"""Station rules changed at runtime (issue 23, docs/operations.md "Changing the station rules").

A system administrator schedules a policy file from a later time through StationRules; before it
the trip owners decide by the --policy file's rules, from it by the new ones (a hold's lifetime, a
refund's fee), also after a restart.  Others may not; bad files and past times change nothing.
"""

from __future__ import annotations

import datetime as dt
import tomllib

import pytest

from keyun.app.cli import main as keyun_main
from keyun.engine.policy import Policy, parse_policy
from keyun.gateway.credentials import totp_code
from keyun.gateway.demo_accounts import DEMO_PASSWORD, DEMO_TOTP_SECRET
from keyun.terminals.client import KeyunClient, KeyunError, audit_outcome
from keyun.v1 import audit_pb2, audit_pb2_grpc

from .clocks import OffsetClock
from .conftest import ServerThread, logged_in, schedule_trip
from .waiting import wait_until

MINUTE_MS = 60_000
NEW_RULES = """
hold_minutes = 3
boarding_opens_minutes = 45
refund_tiers = [
    { hours_before = 2, fee_percent = 5, min_fee_fen = 0 },
    { hours_before = 0, fee_percent = 20, min_fee_fen = 100 },
]
"""
LATER_RULES = "hold_minutes = 5\n"


def refused(call, *args, **kwargs) -> KeyunError:
    with pytest.raises(KeyunError) as caught:
        call(*args, **kwargs)
    return caught.value


def hold_lifetime_ms(client: KeyunClient, clock, trip_id: str) -> tuple[int, int]:
    """The range a new hold's lifetime lies in (the server's time moves during the call)."""
    before = clock.now_ms()
    hold = client.hold(trip_id, "AAA", "DDD", seat_count=1)
    after = clock.now_ms()
    client.release(hold.hold_id)
    expires = hold.expires_at.ToMilliseconds()
    return expires - after, expires - before


def test_a_scheduled_change_takes_effect_at_its_time_and_survives_a_restart(ray_session, tmp_path):
    data, clock = tmp_path / "data", OffsetClock()
    server = ServerThread(data, shards=2, clock=clock)
    try:
        master = logged_in(KeyunClient(server.target), clock=clock)
        admin = logged_in(KeyunClient(server.target), "sysadmin", clock=clock)
        trip = schedule_trip(master, "R1", dt.timedelta(days=1))
        base = admin.get_station_rules()
        assert base.in_force.base and base.in_force.fields.hold_minutes == 10 and not base.scheduled
        assert parse_policy(tomllib.loads(base.in_force.toml_text)) == Policy()

        # Neither a dispatcher nor a seller may read or change the rules.
        for login in ("dispatcher", "seller"):
            with logged_in(KeyunClient(server.target), login, clock=clock) as other:
                assert refused(other.get_station_rules).code.name == "PERMISSION_DENIED"
                error = refused(other.schedule_station_rules, NEW_RULES, clock.now_ms() + MINUTE_MS)
                assert error.code.name == "PERMISSION_DENIED"

        # Bad files and a time in the past are refused with their reasons, and change nothing.
        for text, field in (
            ("hold_minutes = ", "toml_text"),
            ("hold_minutes = 99", "hold_minutes"),
            ("holds = 3", "holds"),
            ("[accounts]\nmax_failed_logins = 4", "accounts"),
            ("refund_tiers = [{ hours_before = 0, fee_percent = 101 }]", "refund_tiers[0].fee_percent"),
        ):
            error = refused(admin.schedule_station_rules, text, clock.now_ms() + MINUTE_MS)
            assert (error.code.name, error.reason, error.facts.get("field")) == (
                "INVALID_ARGUMENT",
                "BAD_STATION_RULES",
                field,
            ), (
                text,
                error,
            )
        error = refused(admin.schedule_station_rules, NEW_RULES, clock.now_ms() - MINUTE_MS)
        assert (error.code.name, error.reason) == ("INVALID_ARGUMENT", "STATION_RULES_IN_PAST")
        assert not admin.get_station_rules().scheduled

        # Scheduled a minute from now: until then, the --policy file's rules.
        effective_at = clock.now_ms() + MINUTE_MS
        scheduled = admin.schedule_station_rules(NEW_RULES, effective_at)
        assert scheduled.scheduled.fields.hold_minutes == 3
        assert scheduled.scheduled.effective_at.ToMilliseconds() == effective_at
        assert [s.toml_text for s in admin.get_station_rules().scheduled] == [NEW_RULES]
        low, high = hold_lifetime_ms(master, clock, trip)
        assert low <= 10 * MINUTE_MS <= high
        assert master.boarding_trips("AAA").policy.boarding_opens_minutes == 60  # what gates board by
        first, second = master.sell(trip, "AAA", "DDD", seat_count=2).tickets
        refunded = master.refund(first.ticket_id)
        assert refunded.refund_fee_fen == Policy().refund_fee_fen(first.price_fen, 24 * 60 * MINUTE_MS)

        # From its time, the new rules: a shorter hold and the smaller fee.
        clock.advance(MINUTE_MS + 1000)
        low, high = hold_lifetime_ms(master, clock, trip)
        assert low <= 3 * MINUTE_MS <= high
        assert master.boarding_trips("AAA").policy.boarding_opens_minutes == 45
        new_policy = parse_policy(tomllib.loads(NEW_RULES))
        fee = new_policy.refund_fee_fen(second.price_fen, 24 * 60 * MINUTE_MS)
        assert master.quote_refund(second.ticket_id).fee_fen == fee
        assert fee != refunded.refund_fee_fen
        in_force = admin.get_station_rules()
        assert not in_force.in_force.base and in_force.in_force.fields.hold_minutes == 3

        # A change scheduled later replaces nothing before its own time.
        later_at = clock.now_ms() + 60 * MINUTE_MS
        admin.schedule_station_rules(LATER_RULES, later_at)

        # Audited, with the administrator as the actor.
        with logged_in(KeyunClient(server.target), "auditor", clock=clock) as auditor:
            request = audit_pb2.ListRecordsRequest(action="keyun.v1.StationRules/ScheduleStationRules", page_size=50)

            def records():
                found = auditor.call(audit_pb2_grpc.AuditStub(auditor.channel).ListRecords, request).records
                return found if sum(audit_outcome(r) == "OK" for r in found) == 2 else None

            found = wait_until(records, 30, "the rule changes are in the audit log")
            assert {r.actor for r in found if audit_outcome(r) == "OK"} == {admin.account.account_id}
            assert any(audit_outcome(r) == "PERMISSION_DENIED" for r in found)  # refusals are audited too
        for client in (master, admin):
            client.close()
    finally:
        server.stop()

    # Restarted (its clock where the old one was): the schedule is kept, and the owners decide by it.
    clock.advance(0)
    again = ServerThread(data, shards=2, clock=clock)
    try:
        master = logged_in(KeyunClient(again.target), clock=clock)
        admin = logged_in(KeyunClient(again.target), "sysadmin", clock=clock)
        rules = admin.get_station_rules()
        assert rules.in_force.fields.hold_minutes == 3
        assert [(s.fields.hold_minutes, s.effective_at.ToMilliseconds()) for s in rules.scheduled] == [(5, later_at)]
        low, high = hold_lifetime_ms(master, clock, trip)
        assert low <= 3 * MINUTE_MS <= high
        assert master.quote_refund(second.ticket_id).fee_fen == fee
        master.close()
        admin.close()
    finally:
        again.stop()


def test_keyun_admin_rules_show_and_schedule(ray_session, tmp_path, capsys, monkeypatch):
    clock = OffsetClock()
    server = ServerThread(tmp_path / "data", shards=1, clock=clock)
    try:
        monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)

        def as_admin() -> list[str]:
            code = totp_code(DEMO_TOTP_SECRET, clock.now_ms())
            return ["--server", server.target, "--user", "sysadmin", "--totp", code]

        rules_file = tmp_path / "rules.toml"
        rules_file.write_text(LATER_RULES, encoding="utf-8")
        starts = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
        assert keyun_main(["admin", "rules", "schedule", str(rules_file), "--from", starts, *as_admin()]) == 0
        assert "hold_minutes = 5" in capsys.readouterr().out
        clock.advance(31_000)  # a TOTP code is good once: the next login takes the next one
        assert keyun_main(["admin", "rules", "show", *as_admin()]) == 0
        shown = capsys.readouterr().out
        assert "in force now: the --policy file read at start" in shown and "hold_minutes = 10" in shown
        assert f"scheduled: from {starts}" in shown and "hold_minutes = 5" in shown
    finally:
        server.stop()
