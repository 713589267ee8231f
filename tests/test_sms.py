"""SMS codes and notices to passengers, through gRPC, with `keyun sandbox-sms` as a real process
(issue 21): register and reset a password with a code read from the sandbox's messages; wrong,
expired and reused codes; the rate limit; a delayed trip told to each ticket holder once; a
failing provider retried until the failure is shown to staff; a restart that resends nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import urllib.request

import grpc
import pytest

from keyun.engine.accounts import AccountRules
from keyun.terminals.client import KeyunClient, KeyunError, walk_in
from keyun.v1 import accounts_pb2, common_pb2, notices_pb2

from .conftest import ServerThread, logged_in, schedule_trip
from .sms_sandbox import sms_fixture  # noqa: F401 (the `sms` fixture)
from .waiting import wait_until

PASSWORD = "Sms-Passw0rd-1"
RESET = accounts_pb2.SMS_CODE_PURPOSE_RESET_PASSWORD
PHONES = (f"1390000{n:04d}" for n in itertools.count(1))
WAIT_S = 20
PASSPORTS = (f"E{n:08d}" for n in itertools.count(21_000_001))


def walker(name: str, phone: str):
    return walk_in(next(PASSPORTS), name, document_type="PASSPORT", phone=phone)


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory, sms):
    # Every test asks from 127.0.0.1: the per-address limit (tests/engine/test_notices.py) is raised.
    rules = AccountRules(sms_codes_per_client_hour=1000)
    server = ServerThread(tmp_path_factory.mktemp("sms-data"), shards=1, sms_dir=sms.directory, account_rules=rules)
    staff = logged_in(KeyunClient(server.target), clock=server.clock)
    yield server, staff
    staff.close()
    server.stop()


def refused(call) -> KeyunError:
    with pytest.raises(KeyunError) as error:
        call()
    return error.value


def registered(target: str, sms, phone: str) -> KeyunClient:
    client = KeyunClient(target, attempts=1)
    client.request_sms_code(phone)
    client.register(phone, PASSWORD, sms_code=sms.code_for(phone))
    client.login(phone, PASSWORD)
    return client


def test_a_passenger_registers_with_the_code_sent_to_their_phone(station, sms):
    server, _ = station
    phone = next(PHONES)
    client = KeyunClient(server.target, attempts=1)
    reply = client.request_sms_code(phone)
    assert reply.expires_at.seconds > 0
    code = sms.code_for(phone)
    account = client.register(phone, PASSWORD, sms_code=code)
    assert account.login_name == phone[:3] + "****" + phone[-4:]
    assert client.login(phone, PASSWORD).account.account_id == account.account_id
    assert phone in sms.page() and "SMS sandbox" in sms.page()  # the people's page lists it too
    # Neither the code's message nor the number in the clear is in the server's logs.
    log = server.log_text()
    assert f"验证码{code}" not in log and phone not in log


def test_without_a_code_or_with_a_wrong_one_nothing_is_registered(station, sms):
    server, _ = station
    phone = next(PHONES)
    client = KeyunClient(server.target, attempts=1)
    missing = refused(lambda: client.register(phone, PASSWORD))
    assert (missing.code, missing.reason, missing.facts.get("field")) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "MISSING_FIELD",
        "sms_code",
    )
    never_sent = refused(lambda: client.register(phone, PASSWORD, sms_code="123456"))
    assert never_sent.reason == "SMS_CODE_WRONG"
    client.request_sms_code(phone)
    code = sms.code_for(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert refused(lambda: client.register(phone, PASSWORD, sms_code=wrong)).reason == "SMS_CODE_WRONG"
    malformed = refused(lambda: client.register(phone, PASSWORD, sms_code="12ab"))
    assert (malformed.reason, malformed.facts.get("field")) == ("INVALID_FIELD", "sms_code")
    assert refused(lambda: client.login(phone, PASSWORD)).reason == "BAD_CREDENTIALS"  # no account
    # After the wrong tries the right code still works (fewer than five), once.
    client.register(phone, PASSWORD, sms_code=code)
    other = KeyunClient(server.target, attempts=1)
    taken = refused(lambda: other.register(phone, PASSWORD, sms_code=code))
    assert taken.reason == "ACCOUNT_EXISTS"


def test_five_wrong_tries_spend_a_code(station, sms):
    server, _ = station
    phone = next(PHONES)
    client = KeyunClient(server.target, attempts=1)
    client.request_sms_code(phone)
    code = sms.code_for(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        assert refused(lambda: client.register(phone, PASSWORD, sms_code=wrong)).reason == "SMS_CODE_WRONG"
    spent = refused(lambda: client.register(phone, PASSWORD, sms_code=code))
    assert (spent.code, spent.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SMS_CODE_ATTEMPTS")
    assert refused(lambda: client.login(phone, PASSWORD)).reason == "BAD_CREDENTIALS"


def test_an_expired_code_is_refused(station, sms):
    server, _ = station
    phone = next(PHONES)
    client = KeyunClient(server.target, attempts=1)
    client.request_sms_code(phone)
    code = sms.code_for(phone)
    server.clock.advance(5 * 60_000 + 1)
    expired = refused(lambda: client.register(phone, PASSWORD, sms_code=code))
    assert (expired.code, expired.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SMS_CODE_EXPIRED")
    assert refused(lambda: client.login(phone, PASSWORD)).reason == "BAD_CREDENTIALS"


def test_codes_are_limited_per_number(station, sms):
    server, _ = station
    phone = next(PHONES)
    client = KeyunClient(server.target, attempts=1)
    client.request_sms_code(phone)
    throttled = refused(lambda: client.request_sms_code(phone))
    assert (throttled.code, throttled.reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "SMS_CODE_THROTTLED")
    assert int(throttled.facts["retry_at_ms"]) > server.clock.now_ms()
    assert len(sms.messages_to(phone)) == 1
    server.clock.advance(61_000)
    client.request_sms_code(phone)  # a minute later, another
    assert len(sms.messages_to(phone)) == 2
    bad = refused(lambda: client.request_sms_code("12345"))
    assert bad.code is grpc.StatusCode.INVALID_ARGUMENT


def test_a_password_is_reset_with_a_code_and_every_session_ends(station, sms):
    server, _ = station
    phone = next(PHONES)
    passenger = registered(server.target, sms, phone)
    server.clock.advance(61_000)  # past the per-number gap after the registration code
    anonymous = KeyunClient(server.target, attempts=1)
    anonymous.request_sms_code(phone, RESET)
    code = sms.code_for(phone)
    anonymous.reset_password(phone, code, "New-Passw0rd-2", request_id=f"reset-{phone}")
    anonymous.reset_password(phone, code, "New-Passw0rd-2", request_id=f"reset-{phone}")  # a retry: the same answer
    other = refused(lambda: anonymous.reset_password(phone, code, "Other-Passw0rd-3", request_id=f"reset-{phone}"))
    assert other.reason == "REQUEST_ID_REUSED"
    ended = refused(lambda: passenger.call(passenger.accounts.GetProfile, accounts_pb2.GetProfileRequest()))
    assert ended.code is grpc.StatusCode.UNAUTHENTICATED
    assert refused(lambda: anonymous.login(phone, PASSWORD)).reason == "BAD_CREDENTIALS"
    server.clock.advance(2_000)  # past the back-off after a failed login
    assert anonymous.login(phone, "New-Passw0rd-2").account.login_name.endswith(phone[-4:])
    reused = refused(lambda: anonymous.reset_password(phone, code, "Third-Passw0rd-3"))
    assert reused.reason == "SMS_CODE_USED"
    assert anonymous.login(phone, "New-Passw0rd-2")  # unchanged


def test_a_reset_code_for_a_number_without_an_account_answers_the_same_and_sends_nothing(station, sms):
    server, _ = station
    phone = next(PHONES)
    client = KeyunClient(server.target, attempts=1)
    reply = client.request_sms_code(phone, RESET)
    assert reply.expires_at.seconds > 0
    assert sms.messages_to(phone) == []
    assert refused(lambda: client.reset_password(phone, "123456", "New-Passw0rd-2")).reason == "SMS_CODE_WRONG"


def _ticket_holders(server, staff, sms, trip_id: str):
    """A passenger account holding tickets for a frequent passenger with a phone and one without,
    and a walk-in passenger with a phone, all on `trip_id`; their phones and the passenger client."""
    buyer_phone, traveller_phone, walk_in_phone = next(PHONES), next(PHONES), next(PHONES)
    passenger = registered(server.target, sms, buyer_phone)
    with_phone = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id=f"pax-{trip_id}-1",
            name="王通知",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number=next(PASSPORTS),
            phone=traveller_phone,
        ),
    ).passenger.passenger_id
    without_phone = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id=f"pax-{trip_id}-2",
            name="李通知",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number=next(PASSPORTS),
        ),
    ).passenger.passenger_id
    hold = passenger.hold(trip_id, "AAA", "DDD", seat_count=2, passenger_ids=(with_phone, without_phone))
    staff.confirm(hold.hold_id)
    staff.sell(
        trip_id,
        "AAA",
        "CCC",
        seat_count=1,
        passengers=(walker("赵步行", walk_in_phone),),
    )
    return passenger, (buyer_phone, traveller_phone, walk_in_phone)


def test_a_delay_is_told_to_every_ticket_holder_once_and_shown_to_the_buyer(station, sms):
    server, staff = station
    trip_id = schedule_trip(staff, "SMS1", dt.timedelta(hours=5))
    passenger, phones = _ticket_holders(server, staff, sms, trip_id)
    request_id = f"delay-{trip_id}"
    staff.delay(trip_id, 30, request_id=request_id)
    staff.delay(trip_id, 30, request_id=request_id)  # a retry: the same notice, not a second one

    def told() -> bool:
        return all(any("延误" in m["text"] for m in sms.messages_to(phone)) for phone in phones)

    wait_until(told, WAIT_S, "every holder told of the delay")
    for phone in phones:
        assert len([m for m in sms.messages_to(phone) if "延误" in m["text"]]) == 1
    mine = passenger.list_my_notices().notices
    assert [n.kind for n in mine] == [notices_pb2.NOTICE_KIND_TRIP_DELAYED]
    assert mine[0].subject == trip_id and "延误" in mine[0].text
    # The buyer sees the deliveries of their tickets (their own phone and their traveller's), masked.
    shown = sorted(d.phone for d in mine[0].deliveries)
    assert shown == sorted(p[:3] + "****" + p[-4:] for p in phones[:2])
    assert all(d.status == notices_pb2.DELIVERY_STATUS_SENT for d in mine[0].deliveries)
    everyone = staff.list_notices(subject=trip_id).notices
    assert len(everyone) == 1 and len(everyone[0].deliveries) == 3
    denied = refused(lambda: passenger.list_notices())
    assert denied.code is grpc.StatusCode.PERMISSION_DENIED
    log = server.log_text()
    assert not [p for p in phones if p in log] and mine[0].text not in log


def test_a_gate_change_is_told_to_every_ticket_holder_once(station, sms):
    server, staff = station
    trip_id = schedule_trip(staff, "SMS8", dt.timedelta(hours=5))
    passenger, phones = _ticket_holders(server, staff, sms, trip_id)
    staff.assign_gate(trip_id, "B7", request_id=f"gate-{trip_id}")
    staff.assign_gate(trip_id, "B7", request_id=f"gate-{trip_id}")  # a retry: no second notice

    def told() -> bool:
        return all(any("B7" in m["text"] for m in sms.messages_to(phone)) for phone in phones)

    wait_until(told, WAIT_S, "every holder told of the gate")
    for phone in phones:
        assert len([m for m in sms.messages_to(phone) if "B7" in m["text"]]) == 1
    kinds = [n.kind for n in passenger.list_my_notices().notices if n.subject == trip_id]
    assert kinds == [notices_pb2.NOTICE_KIND_TRIP_GATE_CHANGED]


def test_a_failing_provider_is_retried_and_the_final_failure_is_shown_to_staff(station, sms):
    server, staff = station
    trip_id = schedule_trip(staff, "SMS2", dt.timedelta(hours=5))
    phone = next(PHONES)
    staff.sell(trip_id, "AAA", "DDD", seat_count=1, passengers=(walker("钱失败", phone),))
    sms.control("/sandbox/fail-numbers", {"numbers": [phone]})
    try:
        staff.cancel(trip_id)

        def failed():
            server.clock.advance(20_000)  # past each back-off, instead of waiting it out
            notices = staff.list_notices(failed_only=True).notices
            return [n for n in notices if n.subject == trip_id]

        notice = wait_until(failed, WAIT_S, "the delivery failed for good")[0]
    finally:
        sms.control("/sandbox/fail-numbers", {"numbers": []})
    delivery = notice.deliveries[0]
    assert (delivery.status, delivery.attempts, delivery.error) == (
        notices_pb2.DELIVERY_STATUS_FAILED,
        5,
        "DELIVERY_FAILED",
    )
    assert delivery.phone == phone[:3] + "****" + phone[-4:]
    assert len(sms.failures_to(phone)) == 5 and sms.messages_to(phone) == []
    metrics_port = server.server.metrics.serve("127.0.0.1", 0)
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    assert 'keyun_sms_total{outcome="failed",purpose="notice"} 1.0' in text
    assert 'keyun_sms_total{outcome="retry",purpose="notice"} 4.0' in text


def test_one_outage_is_retried_and_the_message_goes_once(station, sms):
    server, staff = station
    trip_id = schedule_trip(staff, "SMS3", dt.timedelta(hours=5))
    phone = next(PHONES)
    staff.sell(trip_id, "AAA", "DDD", seat_count=1, passengers=(walker("孙重试", phone),))
    sms.control("/sandbox/fail-next", {"count": 1})
    staff.delay(trip_id, 15)

    def sent():
        server.clock.advance(3_000)
        return sms.messages_to(phone)

    assert len(wait_until(sent, WAIT_S, "the retry went")) == 1
    assert len(sms.failures_to(phone)) == 1


def test_a_restarted_server_resends_nothing(ray_session, tmp_path, sms):
    data_dir = tmp_path / "data"
    server = ServerThread(data_dir, shards=1, sms_dir=sms.directory)
    staff = logged_in(KeyunClient(server.target), clock=server.clock)
    trip_id = schedule_trip(staff, "SMS4", dt.timedelta(hours=5))
    phone = next(PHONES)
    staff.sell(trip_id, "AAA", "DDD", seat_count=1, passengers=(walker("周重启", phone),))
    staff.delay(trip_id, 10)
    wait_until(lambda: sms.messages_to(phone), WAIT_S, "the first notice sent")
    staff.close()
    server.stop()
    again = ServerThread(data_dir, shards=1, sms_dir=sms.directory)
    try:
        staff = logged_in(KeyunClient(again.target), clock=again.clock)
        staff.delay(trip_id, 20)  # a second change: sent after the restart, and after anything due before it
        wait_until(lambda: len(sms.messages_to(phone)) >= 2, WAIT_S, "the second notice sent")
        texts = [m["idempotency_key"] for m in sms.messages_to(phone)]
        assert len(texts) == 2 and len(set(texts)) == 2
        notices = [n for n in staff.list_notices().notices if n.subject == trip_id]
        assert [d.status for n in notices for d in n.deliveries] == [notices_pb2.DELIVERY_STATUS_SENT] * 2
        staff.close()
    finally:
        again.stop()


def test_register_needs_no_code_on_a_station_without_an_sms_provider(keyun):
    phone = next(PHONES)
    client = KeyunClient(keyun.target, attempts=1)
    client.register(phone, PASSWORD)  # as before SMS codes existed
    off = refused(lambda: client.request_sms_code(phone))
    assert (off.code, off.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SMS_NOT_CONFIGURED")


def test_keyun_serve_starts_the_sms_sandbox_beside_it(tmp_path):
    from .sms_sandbox import SmsSandbox
    from .test_serve_start import Started, listening

    data_dir = tmp_path / "data"
    server = Started(
        "serve", "--demo", "--sandbox-sms", "--port", "0", "--shards", "1", "--data-dir", str(data_dir),
        ready="keyun listening on ",
    )  # fmt: skip
    try:
        phone = next(PHONES)
        client = KeyunClient(server.address, attempts=1)
        client.request_sms_code(phone)
        sms_dir = tmp_path / "data-sms"
        port = int(json.loads((sms_dir / "sms.json").read_text())["base_url"].rsplit(":", 1)[1])
        sandbox = SmsSandbox(None, sms_dir, port)  # type: ignore[arg-type]
        client.register(phone, PASSWORD, sms_code=sandbox.code_for(phone))
        client.close()
        log = "".join(server.seen)
        assert "SMS sandbox" in log and json.loads((sms_dir / "sms.json").read_text())["secret"] not in log
    finally:
        server.stop()
    assert not listening(port)  # stopped with the server


def test_the_cli_registers_with_a_code_resets_the_password_and_lists_notices(station, sms, tmp_path):
    from keyun.gateway.demo_accounts import DEMO_PASSWORD

    from .test_cli import keyun

    server, staff = station
    phone, target = next(PHONES), ("--server", server.target)
    passenger = {"KEYUN_SESSION": str(tmp_path / "passenger.json"), "KEYUN_NEW_PASSWORD": PASSWORD}
    keyun("passenger", "sms-code", phone, *target, env=passenger)
    registered_line = keyun("passenger", "register", phone, "--sms-code", sms.code_for(phone), *target, env=passenger)
    assert "registered" in registered_line.stdout
    server.clock.advance(61_000)
    keyun("passenger", "sms-code", phone, "--purpose", "reset", *target, env=passenger)
    reset = {**passenger, "KEYUN_NEW_PASSWORD": "Cli-Reset-2026x"}
    keyun("passenger", "reset-password", phone, "--sms-code", sms.code_for(phone), *target, env=reset)
    assert KeyunClient(server.target, attempts=1).login(phone, "Cli-Reset-2026x")

    trip_id = schedule_trip(staff, "SMS5", dt.timedelta(hours=5))
    walker_phone = next(PHONES)
    staff.sell(trip_id, "AAA", "DDD", seat_count=1, passengers=(walker("吴命令", walker_phone),))
    staff.delay(trip_id, 25)
    wait_until(lambda: sms.messages_to(walker_phone), WAIT_S, "the notice sent")
    dispatcher = {
        "KEYUN_USER": "dispatcher",
        "KEYUN_PASSWORD": DEMO_PASSWORD,
        "KEYUN_SESSION": str(tmp_path / "d.json"),
    }
    listed = json.loads(keyun("notices", "list", "--json", *target, env=dispatcher).stdout)
    mine = [n for n in listed if n["subject"] == trip_id]
    assert mine and mine[0]["deliveries"][0]["phone"] == walker_phone[:3] + "****" + walker_phone[-4:]
    text = keyun("notices", "list", "--about", trip_id, *target, env=dispatcher).stdout
    assert trip_id in text and "trip delayed" in text and walker_phone not in text


def test_a_refund_paid_out_is_told_to_the_buyer(station, sms):
    from keyun.v1 import orders_pb2

    server, staff = station
    trip_id = schedule_trip(staff, "SMS6", dt.timedelta(hours=5))
    phone = next(PHONES)
    passenger = registered(server.target, sms, phone)
    traveller = passenger.call(
        passenger.accounts.AddPassenger,
        accounts_pb2.AddPassengerRequest(
            request_id=f"pax-{trip_id}",
            name="冯退款",
            document_type=common_pb2.DOCUMENT_TYPE_PASSPORT,
            document_number=next(PASSPORTS),
        ),
    ).passenger.passenger_id
    hold = passenger.hold(trip_id, "AAA", "DDD", seat_count=1, passenger_ids=(traveller,))
    order = passenger.create_order(hold.hold_id, orders_pb2.PAY_METHOD_CASH).order
    staff.pay_at_counter(order.order_id, orders_pb2.PAY_METHOD_CASH)
    staff.refund_order(order.order_id)

    def told():
        return [m for m in sms.messages_to(phone) if "退款" in m["text"]]

    assert len(wait_until(told, WAIT_S, "the buyer told of the refund")) == 1
    assert order.order_id in told()[0]["text"]
    mine = [n for n in passenger.list_my_notices().notices if n.kind == notices_pb2.NOTICE_KIND_REFUND_PAID]
    assert [n.subject for n in mine] == [order.order_id]


def test_the_sandbox_checks_signatures_and_sends_a_key_once(sms):
    import asyncio

    from keyun.common.sms_wire import SmsConfig, read_config
    from keyun.gateway.sms import HttpSmsProvider, SmsFailed

    phone = next(PHONES)

    async def sends():
        good = HttpSmsProvider(read_config(sms.directory))
        forged = HttpSmsProvider(SmsConfig(good.config.base_url, good.config.key_id, b"not the secret"))
        try:
            first = await good.send(phone, "测试一", "key-once")
            again = await good.send(phone, "测试一", "key-once")  # a resend after a crash: the same message
            with pytest.raises(SmsFailed) as refused_send:
                await forged.send(phone, "伪造", "key-forged")
            return first, again, refused_send.value
        finally:
            await good.aclose()
            await forged.aclose()

    first, again, forged = asyncio.run(sends())
    assert first == again
    assert (forged.code, forged.retryable) == ("BAD_SIGNATURE", False)
    assert [m["text"] for m in sms.messages_to(phone)] == ["测试一"]


def test_a_message_sent_but_not_recorded_before_a_restart_goes_once(ray_session, tmp_path, sms):
    """The provider took the message, and the server stopped before it heard so (the sender's
    record of it never made): after the restart the delivery is still due, is sent again with the
    same idempotency key, and the provider answers with the first message, sending nothing."""
    data_dir = tmp_path / "data"
    server = ServerThread(data_dir, shards=1, sms_dir=sms.directory)
    staff = logged_in(KeyunClient(server.target), clock=server.clock)
    trip_id = schedule_trip(staff, "SMS7", dt.timedelta(hours=5))
    phone = next(PHONES)
    staff.sell(trip_id, "AAA", "DDD", seat_count=1, passengers=(walker("郑崩溃", phone),))
    sms.control("/sandbox/delay-next", {"ms": 30_000})
    staff.delay(trip_id, 10)
    wait_until(lambda: sms.listing()["in_flight"] == 1, WAIT_S, "the provider took the message")
    staff.close()
    server.stop()  # the sender is stopped waiting for the answer: nothing recorded
    again = ServerThread(data_dir, shards=1, sms_dir=sms.directory)
    try:
        staff = logged_in(KeyunClient(again.target), clock=again.clock)

        def settled():
            notices = [n for n in staff.list_notices().notices if n.subject == trip_id]
            return notices and notices[0].deliveries[0].status == notices_pb2.DELIVERY_STATUS_SENT and notices[0]

        notice = wait_until(settled, WAIT_S, "the delivery recorded after the restart")
        (message,) = sms.messages_to(phone)
        assert message["resends"] == 1 and notice.deliveries[0].message_id == message["message_id"]
        assert notice.deliveries[0].attempts == 1
        staff.close()
    finally:
        again.stop()
