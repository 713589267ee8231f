"""SMS codes and the notice outbox (engine/notices.py), as the accounts owner runs them: the
rules of codes and of delivery retries, and a replay of the journal through the codec."""

from __future__ import annotations

from keyun.engine import accounts as ac
from keyun.engine import codec
from keyun.engine import notices as nt
from keyun.engine.reasons import Reason, Rejection

T0 = 1_800_000_000_000
PHONE, CLIENT = "ab" * 16, "cd" * 16
HASH, OTHER = b"h" * 32, b"x" * 32
REG = nt.CodePurpose.REGISTER


def run(engine: ac.AccountsEngine, item, now=T0):
    (reply,), _ = engine.execute([item], now)
    return reply


def reason(reply) -> Reason:
    assert isinstance(reply, Rejection), reply
    return reply.reason


def test_a_code_is_good_once_within_its_time_and_tries():
    engine = ac.AccountsEngine()
    assert run(engine, nt.IssueSmsCode(REG, PHONE, CLIENT, HASH)).expires_at_ms == T0 + nt.CODE_TTL_MS
    assert reason(run(engine, nt.UseSmsCode(REG, PHONE, OTHER))) is Reason.SMS_CODE_WRONG
    assert reason(run(engine, nt.UseSmsCode(nt.CodePurpose.RESET_PASSWORD, PHONE, HASH))) is Reason.SMS_CODE_WRONG
    assert isinstance(run(engine, nt.UseSmsCode(REG, PHONE, HASH)), nt.CodeAccepted)
    assert reason(run(engine, nt.UseSmsCode(REG, PHONE, HASH))) is Reason.SMS_CODE_USED
    run(engine, nt.IssueSmsCode(REG, PHONE, CLIENT, HASH), T0 + nt.PHONE_GAP_MS)
    late = T0 + nt.PHONE_GAP_MS + nt.CODE_TTL_MS
    assert reason(run(engine, nt.UseSmsCode(REG, PHONE, HASH), late)) is Reason.SMS_CODE_EXPIRED


def test_codes_are_limited_per_phone_and_per_client():
    engine = ac.AccountsEngine()
    run(engine, nt.IssueSmsCode(REG, PHONE, CLIENT, HASH))
    again = run(engine, nt.IssueSmsCode(REG, PHONE, CLIENT, HASH), T0 + 1000)
    assert reason(again) is Reason.SMS_CODE_THROTTLED and again.fact("retry_at_ms") == str(T0 + nt.PHONE_GAP_MS)
    for n in range(1, nt.PHONE_PER_HOUR):
        assert not isinstance(
            run(engine, nt.IssueSmsCode(REG, PHONE, CLIENT, HASH), T0 + n * nt.PHONE_GAP_MS), Rejection
        )
    hourly = run(engine, nt.IssueSmsCode(REG, PHONE, CLIENT, HASH), T0 + 10 * nt.PHONE_GAP_MS)
    assert reason(hourly) is Reason.SMS_CODE_THROTTLED and hourly.fact("retry_at_ms") == str(T0 + nt.HOUR_MS)
    others = [f"{n:032x}" for n in range(1, nt.CLIENT_PER_HOUR + 2)]
    busy = "ef" * 16
    for n, phone in enumerate(others[:-1]):  # CLIENT_PER_HOUR numbers from one address: each once
        assert not isinstance(run(engine, nt.IssueSmsCode(REG, phone, busy, HASH), T0 + n), Rejection)
    assert reason(run(engine, nt.IssueSmsCode(REG, others[-1], busy, HASH), T0 + 100)) is Reason.SMS_CODE_THROTTLED


def notice(notice_id="trip_delayed:T1:r1", recipients=("01" * 16, "02" * 16)):
    deliveries = tuple(nt.NewDelivery(r, "A000001", b"cipher-" + r.encode()) for r in recipients)
    return nt.RecordNotice(notice_id, "trip_delayed", "T1", "延误", deliveries)


def test_deliveries_are_retried_with_back_off_until_they_fail_for_good():
    engine = ac.AccountsEngine()
    run(engine, notice())
    run(engine, notice())  # the same notice again: nothing new
    assert len(run(engine, nt.DueDeliveries()).deliveries) == 2
    first, second = "01" * 16, "02" * 16
    run(engine, nt.RecordDelivery("trip_delayed:T1:r1", first, True, "m1"))
    now = T0
    for attempt in range(1, nt.MAX_DELIVERY_ATTEMPTS + 1):
        due = run(engine, nt.DueDeliveries(), now).deliveries
        assert [d.recipient for d in due] == [second] and due[0].attempts == attempt - 1
        run(engine, nt.RecordDelivery("trip_delayed:T1:r1", second, False, error="DELIVERY_FAILED"), now)
        assert run(engine, nt.DueDeliveries(), now).deliveries == ()  # waiting for its back-off
        now += nt.retry_delay_ms(attempt)
    page = run(engine, nt.ListNotices(failed_only=True))
    statuses = {r: d.status for r, d in page.notices[0].deliveries.items()}
    assert statuses == {first: nt.DeliveryStatus.SENT, second: nt.DeliveryStatus.FAILED}
    assert engine.state.notices.open_notices == {}
    # A late resend of a settled delivery changes nothing.
    run(engine, nt.RecordDelivery("trip_delayed:T1:r1", first, False, error="late"))
    assert engine.state.notices.notices["trip_delayed:T1:r1"].deliveries[first].status is nt.DeliveryStatus.SENT
    assert run(engine, nt.ListNotices(account_id="A000002")).notices == ()


def test_codes_and_notices_replay_from_the_journal_through_the_codec():
    engine, journal = ac.AccountsEngine(), []
    items = [
        nt.IssueSmsCode(REG, PHONE, CLIENT, HASH),
        nt.UseSmsCode(REG, PHONE, OTHER),
        nt.UseSmsCode(REG, PHONE, HASH),
        notice(),
        nt.RecordDelivery("trip_delayed:T1:r1", "01" * 16, True, "m1"),
        nt.RecordDelivery("trip_delayed:T1:r1", "02" * 16, False, error="DELIVERY_FAILED"),
    ]
    for item in items:
        _, entries = engine.execute([item], T0)
        journal.extend(codec.decode(codec.encode(entry), ac.AccountEntry) for entry in entries)
    again = ac.AccountsEngine()
    again.replay(T0, journal)
    assert again.state.notices == engine.state.notices
    # A code used before the restart stays used after it: it cannot be replayed.
    assert reason(run(again, nt.UseSmsCode(REG, PHONE, HASH))) is Reason.SMS_CODE_USED
    restored = ac.AccountsEngine()
    restored.restore(T0, codec.decode(codec.encode(engine.snapshot()), ac.AccountsSnapshot))
    assert restored.state.notices == engine.state.notices


def test_a_station_raises_the_per_address_limit_in_its_policy():
    import pytest

    from keyun.engine.policy import PolicyError, parse_account_rules

    rules = parse_account_rules({"accounts": {"sms_codes_per_client_hour": 2}})
    assert parse_account_rules({}).sms_codes_per_client_hour == nt.CLIENT_PER_HOUR
    with pytest.raises(PolicyError):
        parse_account_rules({"accounts": {"sms_codes_per_client_hour": 0}})
    engine = ac.AccountsEngine(rules)
    for n in range(2):
        assert not isinstance(run(engine, nt.IssueSmsCode(REG, f"{n + 1:032x}", CLIENT, HASH)), Rejection)
    third = run(engine, nt.IssueSmsCode(REG, f"{3:032x}", CLIENT, HASH))
    assert reason(third) is Reason.SMS_CODE_THROTTLED and third.fact("retry_at_ms") == str(T0 + nt.HOUR_MS)
