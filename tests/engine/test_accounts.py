"""The accounts owner's pure core: registration, logins, sessions, passengers, roles, setup."""

from __future__ import annotations

import pytest

from keyun.engine import accounts as ac
from keyun.engine.reasons import Reason, Rejected, Rejection
from keyun.persistence.small_store import SmallStore

T0 = 1_800_000_000_000
SID = "s" * 20
RID = "r" * 20


def passenger(n: int = 1) -> ac.NewAccount:
    return ac.NewAccount(
        ac.AccountKind.PASSENGER, f"phone:{n:04x}", "", b"cipher-phone", "", "argon2-hash", roles=("passenger",)
    )


def staff(name: str, roles=(), totp=b"") -> ac.NewAccount:
    return ac.NewAccount(
        ac.AccountKind.STAFF, f"name:{name}", name, b"", name.title(), "argon2-hash", totp, roles, ("*",)
    )


def run(engine: ac.AccountsEngine, item, now=T0):
    (reply,), entries = engine.execute([item], now)
    return reply


def reason(reply) -> Reason:
    assert isinstance(reply, Rejection), reply
    return reply.reason


@pytest.fixture
def engine() -> ac.AccountsEngine:
    return ac.AccountsEngine()


def test_register_gives_ids_in_order_and_refuses_a_second_account_for_the_same_login(engine):
    first = run(engine, ac.CreateAccount("r1", passenger(1)))
    second = run(engine, ac.CreateAccount("r2", passenger(2)))
    assert (first.account_id, second.account_id) == ("A000001", "A000002")
    assert reason(run(engine, ac.CreateAccount("r3", passenger(1)))) is Reason.ACCOUNT_EXISTS


def test_a_retry_with_the_same_request_id_gets_the_same_account_and_a_different_request_is_refused(engine):
    first = run(engine, ac.CreateAccount("r1", passenger(1)))
    assert run(engine, ac.CreateAccount("r1", passenger(1))) == first
    assert reason(run(engine, ac.CreateAccount("r1", passenger(2)))) is Reason.REQUEST_ID_REUSED
    assert len(engine.state.accounts) == 1


def test_bad_fields_are_refused_on_construction():
    with pytest.raises(Rejected):
        staff("X")  # login names start with a lower-case letter
    with pytest.raises(Rejected) as caught:
        staff("anna", roles=("king",))
    assert caught.value.rejection.reason is Reason.UNKNOWN_ROLE
    with pytest.raises(Rejected):
        ac.StartSession("A000001", "short", RID)


def test_failed_logins_back_off_then_lock_and_a_success_resets_the_count(engine):
    account = run(engine, ac.CreateAccount("r1", passenger(1)))
    rules = engine.rules
    now = T0
    for failures in range(1, rules.max_failed_logins):
        run(engine, ac.LoginFailed(account.account_id), now)
        found = run(engine, ac.FindLogin("phone:0001"), now)
        assert found.retry_at_ms == now + rules.backoff_ms(failures)
        assert ac.login_refusal(engine.state.accounts[account.account_id], now, rules).reason is Reason.LOGIN_THROTTLED
        now = found.retry_at_ms
    assert ac.login_refusal(engine.state.accounts[account.account_id], now, rules) is None
    run(engine, ac.LoginFailed(account.account_id), now)  # the fifth
    locked = engine.state.accounts[account.account_id]
    assert locked.locked_until_ms == now + rules.lockout_ms
    assert ac.login_refusal(locked, now + 1000, rules).reason is Reason.ACCOUNT_LOCKED
    assert reason(run(engine, ac.StartSession(account.account_id, SID, RID), now + 1000)) is Reason.ACCOUNT_LOCKED
    after = now + rules.lockout_ms + 1
    assert ac.login_refusal(locked, after, rules) is None
    run(engine, ac.StartSession(account.account_id, SID, RID), after)
    assert engine.state.accounts[account.account_id].failed_logins == 0


def test_sessions_renew_once_per_refresh_token_and_a_reused_token_ends_the_session(engine):
    account = run(engine, ac.CreateAccount("r1", passenger(1)))
    started = run(engine, ac.StartSession(account.account_id, SID, RID))
    assert started.refresh_id == RID
    renewed = run(engine, ac.RenewSession(SID, RID, "n" * 20), T0 + 1000)
    assert renewed.refresh_id == "n" * 20
    assert reason(run(engine, ac.RenewSession(SID, RID, "m" * 20), T0 + 2000)) is Reason.SESSION_ENDED
    (check,) = run(engine, ac.TouchSessions((SID,)), T0 + 3000)
    assert not check.alive


def test_logout_and_idleness_end_sessions(engine):
    account = run(engine, ac.CreateAccount("r1", passenger(1)))
    run(engine, ac.StartSession(account.account_id, SID, RID))
    run(engine, ac.StartSession(account.account_id, "t" * 20, RID))
    (alive,) = run(engine, ac.TouchSessions((SID,)), T0 + engine.rules.idle_ms - 1)
    assert alive.alive and alive.account.account_id == account.account_id
    run(engine, ac.EndSession(SID), T0 + engine.rules.idle_ms)
    other_idle = T0 + 2 * engine.rules.idle_ms
    checks = run(engine, ac.TouchSessions((SID, "t" * 20)), other_idle)
    assert [c.alive for c in checks] == [False, False]
    assert not engine.state.sessions


def test_a_totp_step_is_good_once(engine):
    admin = run(engine, ac.CreateAccount("r1", staff("root", ("system_admin",), totp=b"secret")))
    run(engine, ac.StartSession(admin.account_id, SID, RID, totp_step=100))
    assert (
        reason(run(engine, ac.StartSession(admin.account_id, "u" * 20, RID, totp_step=100))) is Reason.TOTP_CODE_REUSED
    )
    assert run(engine, ac.StartSession(admin.account_id, "v" * 20, RID, totp_step=101)).session_id == "v" * 20


def test_two_logins_with_one_code_at_once_the_second_is_given_back_uncounted(engine):
    admin = run(engine, ac.CreateAccount("r1", staff("root", ("system_admin",), totp=b"secret")))
    first, second = (run(engine, ac.ReserveLoginAttempt(admin.account_id, attempt(n))).attempt_id for n in (1, 2))
    run(engine, ac.StartSession(admin.account_id, SID, RID, totp_step=100, attempt_id=first))
    refused = run(engine, ac.StartSession(admin.account_id, "u" * 20, RID, totp_step=100, attempt_id=second))
    assert reason(refused) is Reason.TOTP_CODE_REUSED and refused.fact("field") == "totp_code"
    # A step not used yet is no reason to give a check back: it stays reserved (and would count when stale).
    assert isinstance(run(engine, ac.ReleaseLoginAttempt(admin.account_id, second, 101)), ac.Done)
    assert engine.state.accounts[admin.account_id].attempts_pending == 1
    (done,), entries = engine.execute([ac.ReleaseLoginAttempt(admin.account_id, second, 100)], T0)
    assert [type(e) for e in entries[0].events] == [ac.LoginAttemptReleased]
    account = engine.state.accounts[admin.account_id]
    assert (account.attempts_pending, account.failed_logins, engine.state.login_attempts) == (0, 0, {})
    assert ac.stale_attempts(engine.state, T0 + ac.LOGIN_ATTEMPT_TTL_MS + 1) == []  # nothing left to count


def test_passengers_are_added_once_per_document_up_to_the_limit_and_removed(engine):
    account = run(engine, ac.CreateAccount("r1", passenger(1)))

    def add(n: int, request: str):
        return run(
            engine, ac.AddPassenger(request, account.account_id, b"name", "RESIDENT_ID", b"doc", bytes([n]) * 32, b"")
        )

    first = add(1, "p1")
    assert first.passengers[0].passenger_id == "P1"
    assert reason(add(1, "p2")) is Reason.PASSENGER_EXISTS
    for n in range(2, ac.MAX_PASSENGERS_PER_ACCOUNT + 1):
        add(n, f"p{n + 1}")
    assert reason(add(99, "full")) is Reason.TOO_MANY_PASSENGERS
    run(engine, ac.RemovePassenger("rm", account.account_id, "P1"))
    assert reason(run(engine, ac.RemovePassenger("rm2", account.account_id, "P1"))) is Reason.UNKNOWN_PASSENGER
    listed = run(engine, ac.ListPassengers(account.account_id))
    assert len(listed.passengers) == ac.MAX_PASSENGERS_PER_ACCOUNT - 1


def test_roles_must_fit_the_kind_of_account_and_disabling_ends_sessions(engine):
    seller = run(engine, ac.CreateAccount("r1", staff("anna")))
    pax = run(engine, ac.CreateAccount("r2", passenger(1)))
    assert run(engine, ac.GrantRoles("g1", seller.account_id, ("ticket_seller",), ("SJZ",), ())).roles == (
        "ticket_seller",
    )
    assert (
        reason(run(engine, ac.GrantRoles("g2", pax.account_id, ("ticket_seller",), (), ()))) is Reason.PERMISSION_DENIED
    )
    assert (
        reason(run(engine, ac.GrantRoles("g3", seller.account_id, ("kiosk_device",), (), ())))
        is Reason.PERMISSION_DENIED
    )
    run(engine, ac.StartSession(seller.account_id, SID, RID))
    assert run(engine, ac.DisableAccount("d1", seller.account_id)).disabled
    (check,) = run(engine, ac.TouchSessions((SID,)))
    assert not check.alive
    assert (
        ac.login_refusal(engine.state.accounts[seller.account_id], T0, engine.rules).reason is Reason.ACCOUNT_DISABLED
    )


def test_setup_needs_the_open_token_and_works_once(engine):
    admins = (
        staff("sys", ("system_admin",), b"t"),
        staff("sec", ("security_admin",), b"t"),
        staff("aud", ("audit_admin",), b"t"),
    )
    assert reason(run(engine, ac.SetUp(b"h" * 32, admins))) is Reason.SETUP_CLOSED  # not opened yet
    run(engine, ac.OpenSetup(b"h" * 32))
    assert reason(run(engine, ac.SetUp(b"x" * 32, admins))) is Reason.SETUP_CLOSED
    created = run(engine, ac.SetUp(b"h" * 32, admins))
    assert [a.roles for a in created] == [("system_admin",), ("security_admin",), ("audit_admin",)]
    assert run(engine, ac.SetupStatus()) == ac.SetupView(True, False)
    assert reason(run(engine, ac.SetUp(b"h" * 32, admins))) is Reason.SETUP_CLOSED


def test_a_station_whose_administrators_exist_already_offers_no_setup_token(engine):
    """A demo station's administrators are created directly: started again without --demo, it must
    not open a setup that would make a second set of them."""
    assert run(engine, ac.SetupStatus()) == ac.SetupView(False, False)
    for n, role in enumerate(("system_admin", "security_admin", "audit_admin")):
        run(engine, ac.CreateAccount(f"demo-{n}", staff(f"admin{n}", (role,), b"t")))
    assert run(engine, ac.SetupStatus()) == ac.SetupView(True, False)
    run(engine, ac.OpenSetup(b"h" * 32))  # changes nothing
    assert run(engine, ac.SetupStatus()) == ac.SetupView(True, False)


def test_a_password_change_ends_every_other_session(engine):
    account = run(engine, ac.CreateAccount("r1", passenger(1)))
    run(engine, ac.StartSession(account.account_id, SID, RID))
    run(engine, ac.StartSession(account.account_id, "w" * 20, RID))
    run(engine, ac.ChangePassword("c1", account.account_id, "new-hash", keep_session_id=SID))
    assert [c.alive for c in run(engine, ac.TouchSessions((SID, "w" * 20)))] == [True, False]
    assert engine.state.accounts[account.account_id].password_hash == "new-hash"


def durable(engine: ac.AccountsEngine, store: SmallStore):
    """Recover `engine` from `store`; return a function that applies a batch and journals it, as
    the accounts owner does, and returns (replies, entries)."""
    store.recover(engine)

    def apply(items, now):
        replies, entries = engine.execute(items, now)
        store.commit(engine.last_now, entries)
        return replies, entries

    return apply


def test_the_store_recovers_the_same_state_from_snapshot_and_log(tmp_path, engine):
    store = SmallStore(tmp_path / "accounts")
    apply = durable(engine, store)

    (account,), _ = apply([ac.CreateAccount("r1", passenger(1))], T0)
    apply([ac.StartSession(account.account_id, SID, RID), ac.LoginFailed(account.account_id)], T0 + 1)
    store.snapshot(engine)
    apply([ac.AddPassenger("p1", account.account_id, b"n", "PASSPORT", b"d", b"i" * 32, b"")], T0 + 2)
    store.close()

    again = ac.AccountsEngine()
    reopened = SmallStore(tmp_path / "accounts")
    assert reopened.recover(again) == 1  # one record after the snapshot
    assert again.state == engine.state
    assert (
        again.execute([ac.AddPassenger("p1", account.account_id, b"n", "PASSPORT", b"d", b"i" * 32, b"")], T0 + 3)[0][0]
        .passengers[0]
        .passenger_id
        == "P1"
    )
    reopened.close()


def test_retries_match_by_fingerprint_when_the_command_carries_fresh_secrets(engine):
    first = run(engine, ac.CreateAccount("r1", passenger(1), fingerprint=b"f" * 32))
    rehashed = ac.NewAccount(
        ac.AccountKind.PASSENGER, "phone:0001", "", b"other-cipher", "", "another-salt-hash", roles=("passenger",)
    )
    assert (
        run(engine, ac.CreateAccount("r1", rehashed, fingerprint=b"f" * 32)) == first
    )  # the same request, hashed again
    assert reason(run(engine, ac.CreateAccount("r1", rehashed, fingerprint=b"g" * 32))) is Reason.REQUEST_ID_REUSED
    assert run(engine, ac.Recall("r1", b"f" * 32)).reply == first
    assert run(engine, ac.Recall("r2", b"f" * 32)) == ac.NotRemembered()


def test_administrator_roles_need_a_second_factor(engine):
    plain = run(engine, ac.CreateAccount("r1", staff("anna")))
    assert (
        reason(run(engine, ac.GrantRoles("g1", plain.account_id, ("audit_admin",), ("*",), ())))
        is Reason.NO_SECOND_FACTOR
    )
    enrolled = run(engine, ac.CreateAccount("r2", staff("bob", totp=b"secret")))
    assert run(engine, ac.GrantRoles("g2", enrolled.account_id, ("audit_admin",), ("*",), ())).roles == ("audit_admin",)


def audit_values(n: int, action: str = "keyun.v1.Staff/CreateAccount", target: str = "") -> tuple:
    """What the gateway sends along with an audited call: outcome "OK", target as it knows it."""
    from keyun.engine.audit import AuditRecord

    return AuditRecord(
        f"{n:032x}", T0, "S000001", "system_admin", "", "", "ipv4:127.0.0.1:5000", action, target, "OK"
    ).values()


def test_audited_account_calls_journal_their_records_until_delivered_across_log_and_snapshot(tmp_path, engine):
    from keyun.engine.audit import AuditRecord
    from keyun.engine.outbox import Audited, AuditNote

    store = SmallStore(tmp_path / "accounts")
    apply = durable(engine, store)

    # A new account: the owner names it as the record's target; a refused one keeps its reason.
    (made, taken), entries = apply(
        [
            Audited(ac.CreateAccount("r1", staff("anna")), audit_values(1), from_reply=True),
            Audited(ac.CreateAccount("r2", staff("anna")), audit_values(2), from_reply=True),
        ],
        T0,
    )
    notes = [AuditRecord.from_values(e.record) for e in entries if type(e) is AuditNote]
    assert [(n.target, n.outcome) for n in notes] == [(made.account_id, "OK"), ("", reason(taken).name)]
    store.snapshot(engine)
    (granted,), _ = apply(
        [
            Audited(
                ac.GrantRoles("g1", made.account_id, ("ticket_seller",), ("*",), ("*",)),
                audit_values(3, "keyun.v1.Staff/GrantRoles", made.account_id),
            )
        ],
        T0 + 1,
    )
    assert not isinstance(granted, Rejection)
    engine.audit_outbox.delivered([audit_values(1)[1]])  # the audit owner stored the first
    store.close()

    # After a crash: the snapshot's outbox, then the log's notes; delivery was not journaled, so
    # the first comes back too (the audit owner stores a resent record once).
    again = ac.AccountsEngine()
    reopened = SmallStore(tmp_path / "accounts")
    assert reopened.recover(again) == 1
    assert list(again.audit_outbox.records) == [audit_values(n)[1] for n in (1, 2, 3)]
    assert again.state == engine.state
    reopened.close()


def test_a_failed_login_that_locks_the_account_says_so_in_its_record(engine):
    from keyun.engine.audit import AuditRecord
    from keyun.engine.outbox import Audited

    account = run(engine, ac.CreateAccount("r1", passenger(1)))
    failed = audit_values(9, "keyun.v1.Accounts/Login", account.account_id)
    failed = (*failed[:9], Reason.BAD_CREDENTIALS.name, "")  # the outcome the gateway gives a counted failure
    details = []
    for n in range(ac.AccountRules().max_failed_logins):
        (counted,), entries = engine.execute(
            [Audited(ac.LoginFailed(account.account_id), (failed[0], f"{n:032x}", *failed[2:]), from_reply=True)],
            T0 + n,
        )
        (note,) = [AuditRecord.from_values(e.record) for e in entries if type(e).__name__ == "AuditNote"]
        assert note.outcome == "BAD_CREDENTIALS"
        details.append(note.detail)
    assert details[:-1] == [""] * (len(details) - 1)
    assert (
        details[-1] == f"locked out until {counted.locked_until_ms} (epoch ms) after repeated failures"
        and counted.locked_until_ms
    )


def test_a_renewed_session_names_its_account_and_a_device_in_the_record(engine):
    from keyun.engine.audit import AuditRecord

    device = ac.NewAccount(
        ac.AccountKind.DEVICE,
        "name:gate9",
        "gate9",
        b"",
        "Gate 9",
        "argon2-hash",
        roles=("gate_device",),
        stations=("*",),
    )
    account = run(engine, ac.CreateAccount("r1", device))
    session = run(engine, ac.StartSession(account.account_id, SID, RID))
    # No actor: only a refresh token was shown.
    anonymous = AuditRecord(
        f"{5:032x}", T0, "", "", "", "", "ipv4:127.0.0.1:5000", "keyun.v1.Accounts/Refresh", account.account_id, "OK"
    ).values()
    completed = AuditRecord.from_values(ac.complete_record(anonymous, session))
    assert (completed.actor, completed.role, completed.device) == (account.account_id, "gate_device", "gate9")


def attempt(n: int) -> str:
    return f"attempt-{n:012d}"


def test_password_checks_are_reserved_up_to_the_allowed_failures_and_settled_by_the_outcome(engine):
    account = run(engine, ac.CreateAccount("r1", passenger(1)))
    allowed = engine.rules.max_failed_logins
    replies, _ = engine.execute(
        [ac.ReserveLoginAttempt(account.account_id, attempt(n)) for n in range(allowed + 3)], T0
    )
    assert [r.attempt_id for r in replies[:allowed]] == [attempt(n) for n in range(allowed)]
    # Refused without looking at any password: the same answer for each, whatever it carried.
    assert {(r.reason, r.message, r.facts) for r in replies[allowed:]} == {
        (Reason.TOO_MANY_LOGIN_ATTEMPTS, replies[allowed].message, ())
    }
    assert run(engine, ac.ReserveLoginAttempt(account.account_id, attempt(0))).attempt_id == attempt(
        0
    )  # a resend reserves once
    assert engine.state.accounts[account.account_id].attempts_pending == allowed
    run(
        engine, ac.StartSession(account.account_id, SID, RID, attempt_id=attempt(0)), T0 + 1
    )  # a success frees its check
    assert run(engine, ac.ReserveLoginAttempt(account.account_id, attempt(99)), T0 + 1).attempt_id == attempt(99)
    for n in range(1, allowed):
        run(engine, ac.LoginFailed(account.account_id, attempt(n)), T0 + 2)
        run(engine, ac.LoginFailed(account.account_id, attempt(n)), T0 + 2)  # a resend counts once
    assert engine.state.accounts[account.account_id].failed_logins == allowed - 1
    assert set(engine.state.login_attempts) == {attempt(99)}


def test_reservations_survive_a_restart_so_a_crash_gives_no_more_checks(tmp_path, engine):
    store = SmallStore(tmp_path / "accounts")
    apply = durable(engine, store)
    (account,), _ = apply([ac.CreateAccount("r1", passenger(1))], T0)
    apply(
        [ac.ReserveLoginAttempt(account.account_id, attempt(n)) for n in range(engine.rules.max_failed_logins)], T0 + 1
    )
    store.close()

    again = ac.AccountsEngine()
    reopened = SmallStore(tmp_path / "accounts")
    reopened.recover(again)
    assert again.state == engine.state
    assert (
        reason(again.execute([ac.ReserveLoginAttempt(account.account_id, attempt(99))], T0 + 2)[0][0])
        is Reason.TOO_MANY_LOGIN_ATTEMPTS
    )
    reopened.close()


def test_a_reservation_never_settled_counts_as_a_failure_and_can_lock(engine):
    account = run(engine, ac.CreateAccount("r1", passenger(1)))
    rules = engine.rules
    engine.execute([ac.ReserveLoginAttempt(account.account_id, attempt(n)) for n in range(rules.max_failed_logins)], T0)
    run(engine, ac.FindLogin("phone:0001"), T0 + ac.LOGIN_ATTEMPT_TTL_MS)  # not stale yet
    assert engine.state.accounts[account.account_id].failed_logins == 0
    later = T0 + ac.LOGIN_ATTEMPT_TTL_MS + 1
    _, entries = engine.execute([ac.FindLogin("phone:0001")], later)  # every batch sweeps stale reservations
    assert [type(e) for e in entries[0].events] == [ac.LoginFailureCounted] * rules.max_failed_logins
    stuck = engine.state.accounts[account.account_id]
    assert (stuck.attempts_pending, stuck.locked_until_ms, engine.state.login_attempts) == (
        0,
        later + rules.lockout_ms,
        {},
    )
    # The gateway that was hashing comes back too late: its outcome is not counted again.
    assert run(engine, ac.LoginFailed(account.account_id, attempt(0)), later).locked_until_ms == 0
    assert (
        reason(run(engine, ac.StartSession(account.account_id, SID, RID, attempt_id=attempt(1)), later))
        is Reason.LOGIN_ATTEMPT_EXPIRED
    )


def test_display_names_stored_as_text_are_sealed_and_remembered_requests_holding_them_forgotten(engine):
    old = run(
        engine, ac.CreateAccount("r1", staff("anna"))
    )  # display name "Anna", as text: data from before encryption
    other = run(engine, ac.CreateAccount("r2", staff("bert")))
    run(engine, ac.UpdateProfile("u2", other.account_id, b"cipher-of-a-new-name"))  # changed since the gateway read it
    (reply,), entries = engine.execute(
        [ac.SealDisplayNames(((old.account_id, b"cipher-anna"), (other.account_id, b"cipher-bert")))], T0
    )
    assert [e.display_name_cipher for e in entries[0].events] == [b"cipher-anna"]  # only the one still in the clear
    assert engine.state.accounts[old.account_id].display_name_cipher == b"cipher-anna"
    assert engine.state.accounts[other.account_id].display_name_cipher == b"cipher-of-a-new-name"
    assert list(engine.recent) == ["u2"]  # r1 and r2 held a name as text
    assert (
        reason(run(engine, ac.CreateAccount("r1", staff("anna")))) is Reason.ACCOUNT_EXISTS
    )  # as if it had left the window
