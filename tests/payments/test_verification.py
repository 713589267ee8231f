"""Notification verification and request signing, with real keys and real cryptography.

The notifications here are made by the sandbox's own code in this process (the same code the
sandbox process runs), then changed the way an attacker or a broken network would change them.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.parse

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from keyun.common.clock import SYSTEM_CLOCK
from keyun.common.payments_wire.formats import read_bounded
from keyun.common.payments_wire.keys import ProviderKeys, rsa_sign, sorted_params
from keyun.gateway.payments.base import (
    MAX_PROVIDER_ID_CHARS,
    BadNotification,
    Method,
    ProviderRefused,
    ProviderUnavailable,
    check_amount,
    recordable,
)
from keyun.gateway.payments.card import CardAcquirer
from keyun.gateway.payments.receiver import NotificationReceiver
from keyun.gateway.payments.transport import HttpClient
from keyun.gateway.payments.wallets import AliPay, WePay, alipay_refund_id
from keyun.sandboxes.payments.server import Payment, Sandbox

from .conftest import order_no, run

MINUTE_MS = 60 * 1000


@pytest.fixture(scope="module")
def sides(sandbox):
    """Keyun's clients and, in this process, the sandbox's signing side with the same keys."""
    keys = ProviderKeys.load(sandbox.keys_dir)
    return keys, Sandbox(sandbox.keys_dir)


def paid_payment(playing: Sandbox, provider: str, amount_fen: int = 1_230) -> Payment:
    payment = Payment(
        provider,
        order_no(),
        amount_fen,
        "甲站→丁站",
        "http://127.0.0.1:1/notify",
        SYSTEM_CLOCK.now_ms() + MINUTE_MS,
        SYSTEM_CLOCK.now_ms(),
    )
    playing.mark_paid(payment)
    return payment


def refused(parse, *args) -> BadNotification:
    with pytest.raises(BadNotification) as caught:
        parse(*args)
    return caught.value


def test_a_wepay_notification_is_verified_decrypted_and_fresh(sides):
    keys, playing = sides
    wepay = WePay(keys["wepay"])
    payment = paid_payment(playing, "wepay")
    headers, body = playing.notification(payment, None)
    now_ms = SYSTEM_CLOCK.now_ms()
    notification = wepay.parse_notification({k.lower(): v for k, v in headers.items()}, body, now_ms)
    assert (
        notification.method,
        notification.merchant_order_no,
        notification.amount_fen,
        notification.provider_txn_id,
    ) == (Method.WALLET_A, payment.merchant_order_no, 1_230, payment.provider_txn_id)

    errors = [
        refused(wepay.parse_notification, headers, body, now_ms + 6 * MINUTE_MS),
        refused(wepay.parse_notification, headers, body, now_ms - 6 * MINUTE_MS),
        refused(wepay.parse_notification, headers | {"Wechatpay-Serial": "0" * 40}, body, now_ms),
        refused(wepay.parse_notification, headers, body.replace(b"TRANSACTION", b"TRANSACTIOM"), now_ms),
        refused(
            wepay.parse_notification, {k: v for k, v in headers.items() if k != "Wechatpay-Signature"}, body, now_ms
        ),
    ]
    assert [e.reason for e in errors] == ["STALE", "STALE", "UNKNOWN_PROVIDER", "BAD_SIGNATURE", "MALFORMED"]

    # Signed by the platform but not encrypted with our API v3 key: the GCM tag says so.
    envelope = json.loads(body)
    ciphertext = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    ciphertext[0] ^= 1
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    forged = json.dumps(envelope).encode()
    errors.append(
        refused(wepay.parse_notification, playing._wepay_signature(playing.sides["wepay"], forged), forged, now_ms)
    )
    assert errors[-1].reason == "BAD_SIGNATURE"
    errors.append(
        refused(wepay.parse_notification, playing._wepay_signature(playing.sides["wepay"], b"[]"), b"[]", now_ms)
    )
    assert errors[-1].reason == "MALFORMED"

    # No message carries the key or the body.
    for error in errors:
        assert keys["wepay"].api_v3_key.decode() not in str(error)
        assert envelope["resource"]["ciphertext"][:16] not in str(error)


def resigned(playing: Sandbox, body: bytes, **changes: str) -> bytes:
    """An Alipay notification changed and signed again with the provider's key."""
    params = dict(urllib.parse.parse_qsl(body.decode()))
    params |= changes
    params["sign"] = rsa_sign(
        playing.sides["alipay"].provider_private_key, sorted_params(params, exclude=("sign", "sign_type")).encode()
    )
    return urllib.parse.urlencode(params).encode()


def test_an_alipay_notification_is_verified_and_its_amount_read_exactly(sides):
    keys, playing = sides
    alipay = AliPay(keys["alipay"])
    payment = paid_payment(playing, "alipay", amount_fen=1_001)
    headers, body = playing.notification(payment, None)
    now_ms = SYSTEM_CLOCK.now_ms()
    notification = alipay.parse_notification(headers, body, now_ms)
    assert (notification.amount_fen, notification.provider_txn_id) == (1_001, payment.provider_txn_id)
    check_amount(notification, 1_001)
    assert refused(check_amount, notification, 1_000).reason == "BAD_AMOUNT"
    assert alipay.notification_ack() == (200, b"success", "text/plain")

    old_time = "2020-01-01 08:00:00"
    cases = {
        body.replace(b"total_amount=10.01", b"total_amount=100.01"): "BAD_SIGNATURE",
        resigned(playing, body, app_id="2021999999999999"): "UNKNOWN_PROVIDER",
        resigned(playing, body, notify_time=old_time): "STALE",
        resigned(playing, body, trade_status="WAIT_BUYER_PAY"): "MALFORMED",
        resigned(playing, body, total_amount="10.011"): "MALFORMED",
        resigned(playing, body, total_amount="1e3"): "MALFORMED",
        resigned(playing, body, trade_no="not an id!"): "MALFORMED",
        resigned(playing, body, out_trade_no=""): "MALFORMED",
        body + b"&trade_no=1": "MALFORMED",
        b"\xff\xfe": "MALFORMED",
    }
    assert {forged: refused(alipay.parse_notification, headers, forged, now_ms).reason for forged in cases} == cases


def test_requests_signed_with_another_merchant_key_are_refused(sandbox):
    keys = ProviderKeys.load(sandbox.keys_dir)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    async def scenario():
        clients = [
            cls(dataclasses.replace(keys[name], merchant_private_key=stranger))
            for cls, name in ((WePay, "wepay"), (AliPay, "alipay"), (CardAcquirer, "card"))
        ]
        codes = []
        for client in clients:
            with pytest.raises(ProviderRefused) as caught:
                if isinstance(client, CardAcquirer):
                    await client.authorize("POS00009", order_no("C"), 100)
                else:
                    await client.create(
                        order_no(), 100, "x", "http://127.0.0.1:1/notify", SYSTEM_CLOCK.now_ms() + MINUTE_MS
                    )
            codes.append(caught.value.code)
            await client.aclose()
        assert codes == ["SIGN_ERROR", "isv.invalid-signature", "11"]

    run(scenario())


def test_answers_not_signed_by_the_provider_are_not_trusted(sandbox):
    keys = ProviderKeys.load(sandbox.keys_dir)
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()

    async def scenario():
        for cls, name in ((WePay, "wepay"), (AliPay, "alipay"), (CardAcquirer, "card")):
            async with cls(dataclasses.replace(keys[name], provider_public_key=impostor)) as client:
                with pytest.raises(ProviderUnavailable) as caught:
                    if isinstance(client, CardAcquirer):
                        await client.authorize("POS00009", order_no("C"), 100)
                    else:
                        await client.query(order_no())
                assert caught.value.code == "BAD_RESPONSE_SIGNATURE", name

    run(scenario())


def test_the_receiver_refuses_what_it_cannot_verify(sandbox):
    keys = ProviderKeys.load(sandbox.keys_dir)
    handled = []

    async def handle(notification):
        handled.append(notification)

    async def scenario():
        async with WePay(keys["wepay"]) as wepay, aiohttp.ClientSession() as http:
            receiver = NotificationReceiver({Method.WALLET_A: wepay}, handle)
            base = f"http://127.0.0.1:{await receiver.start()}"
            try:
                answers = []
                for path, body in (
                    ("/notify/alipay", b"a=b"),
                    ("/notify/wepay", b"{}"),
                    ("/notify/wepay", b"x" * (70 * 1024)),
                ):
                    async with http.post(
                        base + path,
                        data=body,
                        headers={
                            "Wechatpay-Timestamp": "1",
                            "Wechatpay-Nonce": "n",
                            "Wechatpay-Signature": "s",
                            "Wechatpay-Serial": keys["wepay"].provider_serial_no,
                        },
                    ) as response:
                        answers.append((response.status, (await response.read())[:80]))
            finally:
                await receiver.stop()
        assert [status for status, _ in answers] == [404, 401, 413]
        assert b"UNKNOWN_PROVIDER" in answers[0][1] and b"BAD_SIGNATURE" in answers[1][1]
        assert handled == []

    run(scenario())


def test_alipay_refund_ids_fit_what_an_order_owner_records():
    trade_no = "2026010122001000001123456789"
    assert alipay_refund_id(trade_no, "SHORT-R1") == f"{trade_no}:SHORT-R1"
    long_ones = {alipay_refund_id(trade_no, f"{'L' * 40}-O{n}-R1") for n in range(50)}
    assert len(long_ones) == 50
    assert all(len(i) == MAX_PROVIDER_ID_CHARS and recordable("ORDER-O1", i) for i in long_ones)


def test_answers_are_read_whole_and_no_further_than_the_limit():
    body = bytes(range(256)) * 4096  # 1 MiB, streamed in many chunks

    async def big(request):
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(body), 10_000):
            await response.write(body[start : start + 10_000])
        await response.write_eof()
        return response

    async def scenario():
        app = web.Application()
        app.router.add_get("/big", big)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/big"
        try:
            async with HttpClient() as client:
                status, _, read = await client.send("GET", url)
                assert (status, read) == (200, body)
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                assert await read_bounded(response, len(body) - 1) is None
        finally:
            await runner.cleanup()

    run(scenario())
