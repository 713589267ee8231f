"""keyun sandbox-pay as a process: its keys, its state across a restart, its command line."""

from __future__ import annotations

import argparse
import json
import stat

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyun.common.payments_wire.formats import MAX_AMOUNT_FEN, PAID, Method, fen_to_yuan, yuan_to_fen
from keyun.common.payments_wire.keys import KeysError, ProviderKeys
from keyun.gateway.payments.base import ProviderUnavailable
from keyun.gateway.payments.providers import Providers
from keyun.sandboxes.payments import server as sandbox_cli

from .conftest import order_no, rig, run, start_sandbox, stop_sandbox


def test_keys_are_private_and_never_shown(sandbox):
    keys_dir = sandbox.keys_dir
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    private = sorted(keys_dir.glob("*/*.key"))
    assert [p.relative_to(keys_dir).as_posix() for p in private] == [
        "alipay/merchant.key",
        "alipay/provider.key",
        "card/merchant.key",
        "card/provider.key",
        "wepay/apiv3.key",
        "wepay/merchant.key",
        "wepay/provider.key",
    ]
    assert {stat.S_IMODE(p.stat().st_mode) for p in private} == {0o600}

    document = json.loads((keys_dir / "merchant.json").read_text())
    assert document["sandbox"] is True
    assert {name: entry["base_url"] for name, entry in document["providers"].items()} == {
        name: sandbox.base_url for name in ("wepay", "alipay", "card")
    }
    # Keyun is told of its own private keys and the providers' public ones, never theirs.
    named = json.dumps(document)
    assert "provider.key" not in named and "merchant.key" in named

    keys = ProviderKeys.load(keys_dir)
    shown = repr(keys)
    assert "PRIVATE" not in shown and "RSAPrivateKey" not in shown and keys["wepay"].api_v3_key.decode() not in shown
    assert keys.sandbox and keys["wepay"].merchant_id == "1900000109"


def test_the_providers_are_opened_from_the_key_directory(sandbox, tmp_path):
    providers = Providers.load(sandbox.keys_dir)
    assert providers.sandbox and all(providers.offers(m) for m in Method)
    assert {m: type(p).__name__ for m, p in providers.wallets.items()} == {
        Method.WALLET_A: "WePay",
        Method.WALLET_B: "AliPay",
    }
    assert "PRIVATE" not in repr(providers)

    # A station with only a card acquirer configured offers cash and cards, no wallet.
    document = json.loads((sandbox.keys_dir / "merchant.json").read_text())
    document["providers"] = {
        "card": document["providers"]["card"]
        | {
            "merchant_private_key": str(sandbox.keys_dir / "card/merchant.key"),
            "provider_public_key": str(sandbox.keys_dir / "card/provider.pub"),
        }
    }
    document["sandbox"] = False
    (tmp_path / "merchant.json").write_text(json.dumps(document))
    station = Providers.load(tmp_path)
    assert [m for m in Method if station.offers(m)] == [Method.CASH, Method.CARD]
    assert not station.sandbox


def test_a_missing_key_directory_says_where(tmp_path):
    with pytest.raises(KeysError) as caught:
        ProviderKeys.load(tmp_path / "nowhere")
    assert "nowhere" in str(caught.value) and "sandbox-pay" in str(caught.value)


def test_a_restart_keeps_the_keys_and_the_payments(tmp_path):
    keys_dir, state_path = tmp_path / "keys", tmp_path / "state.json"
    first = start_sandbox(keys_dir, state_path)
    try:
        merchant_key = (keys_dir / "wepay" / "merchant.key").read_bytes()

        async def pay_one():
            async with rig(first, receive=False) as r:
                number, _ = await r.create(Method.WALLET_A, 2_000)
                paid = await r.pay(Method.WALLET_A, number)
                return number, paid["provider_txn_id"]

        number, txn_id = run(pay_one())
    finally:
        assert stop_sandbox(first) == 0
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600

    second = start_sandbox(keys_dir, state_path)
    try:
        assert (keys_dir / "wepay" / "merchant.key").read_bytes() == merchant_key

        async def query():
            async with rig(second, receive=False) as r:  # reads the merchant.json the restart rewrote
                return await r.wepay.query(number)

        status = run(query())
        assert (status.state, status.provider_txn_id, status.amount_fen) == (PAID, txn_id, 2_000)
    finally:
        assert stop_sandbox(second) == 0


def test_an_unreadable_state_file_stops_the_start_with_a_reason(sandbox, tmp_path, capsys):
    state_path = tmp_path / "state.json"
    state_path.write_text("{not json")
    assert sandbox_cli.main(["--port", "0", "--keys-dir", str(sandbox.keys_dir), "--state", str(state_path)]) == 1
    assert "not a sandbox state file" in capsys.readouterr().err
    assert state_path.read_text() == "{not json"  # left for the operator to look at


def test_the_control_api_refuses_what_it_cannot_do(sandbox):
    async def scenario():
        async with rig(sandbox, receive=False) as r:
            number, _ = await r.create(Method.WALLET_B, 500)
            answers = [
                await r.post("/sandbox/pay", {"provider": "card", "merchant_order_no": number}),
                await r.post("/sandbox/pay", {"provider": "alipay", "merchant_order_no": "NOPE"}),
                await r.post(
                    "/sandbox/pay", {"provider": "alipay", "merchant_order_no": number, "tamper": "everything"}
                ),
                await r.post("/sandbox/pay", {"provider": "alipay", "merchant_order_no": number, "duplicates": 1000}),
                await r.post("/sandbox/replay", {"provider": "alipay", "merchant_order_no": number}),
            ]
            assert [(status, answer["error"]) for status, answer in answers] == [
                (400, "BAD_REQUEST"),
                (404, "ORDER_NOT_EXIST"),
                (400, "BAD_REQUEST"),
                (400, "BAD_REQUEST"),
                (409, "NOT_PAID"),
            ]
            assert (await r.alipay.query(number)).state == "NOTPAY"  # nothing refused changed anything

    run(scenario())


def test_the_verb_parses_like_the_other_keyun_verbs(capsys):
    parser = argparse.ArgumentParser(prog="keyun")
    sandbox_cli.add_verbs(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(["sandbox-pay", "--port", "0", "--keys-dir", "k", "--state", "s.json"])
    assert (args.verb, args.host, args.port, str(args.keys_dir), str(args.state)) == (
        "sandbox-pay",
        "127.0.0.1",
        0,
        "k",
        "s.json",
    )
    defaults = parser.parse_args(["sandbox-pay"])
    assert (defaults.port, defaults.state) == (None, None)  # the kept port, else DEFAULT_PORT
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["sandbox-pay", "--help"])
    assert done.value.code == 0
    assert "no real money" in " ".join(capsys.readouterr().out.split())


def test_money_crosses_into_yuan_and_back_exactly():
    assert [yuan_to_fen(text) for text in ("0.01", "12.3", "12", "12.30", "1000000.00")] == [
        1,
        1_230,
        1_200,
        1_230,
        100_000_000,
    ]
    for bad in ("", "-1.00", "1.234", "1e3", " 1", "01.00", "1.", ".5", "1,00", "١٢"):
        with pytest.raises(ValueError):
            yuan_to_fen(bad)
    assert [fen_to_yuan(fen) for fen in (0, 1, 10, 100, 123_456)] == ["0.00", "0.01", "0.10", "1.00", "1234.56"]


@given(st.integers(min_value=0, max_value=MAX_AMOUNT_FEN))
def test_yuan_round_trips(fen):
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


def test_order_numbers_carry_their_prefix():
    assert order_no().startswith("T")


def test_an_outage_fails_the_next_calls_of_one_provider_only(sandbox):
    async def scenario():
        async with rig(sandbox, receive=False) as r:
            number, _ = await r.create(Method.WALLET_B, 500)
            assert [
                await r.post("/sandbox/outage", body)
                for body in ({"provider": "bank", "calls": 1}, {"provider": "alipay", "calls": -1})
            ] == [
                (400, {"error": "BAD_REQUEST", "message": "provider: one of wepay, alipay, card; calls: 0 to 1000"})
            ] * 2
            assert await r.post("/sandbox/outage", {"provider": "alipay", "calls": 2}) == (
                200,
                {"provider": "alipay", "calls": 2},
            )
            for _ in range(2):
                with pytest.raises(ProviderUnavailable):
                    await r.alipay.query(number)
            assert (await r.alipay.query(number)).state == "NOTPAY"  # over after two calls
            await r.post("/sandbox/outage", {"provider": "alipay", "calls": 5})
            assert await r.post("/sandbox/outage", {"provider": "alipay", "calls": 0}) == (
                200,
                {"provider": "alipay", "calls": 0},
            )
            assert (await r.alipay.query(number)).state == "NOTPAY"  # ended early

    run(scenario())


def test_the_home_page_starts_a_demo_payment_that_tells_nobody(sandbox):
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{sandbox.base_url}/") as home:
                assert "Start a demo payment" in await home.text()
            form = {"provider": "alipay", "yuan": "2.50"}
            async with session.post(f"{sandbox.base_url}/demo", data=form, allow_redirects=False) as started:
                assert started.status == 303
                pay_path = started.headers["Location"]
            provider, number = pay_path.split("/")[2:4]
            assert provider == "alipay" and number.startswith("DEMO")
            async with session.get(f"{sandbox.base_url}{pay_path}") as page:
                assert "¥2.50" in await page.text()
            async with session.post(f"{sandbox.base_url}{pay_path}") as paid:
                assert "Paid" in await paid.text()
            async with session.get(
                f"{sandbox.base_url}/sandbox/payments", params={"merchant_order_no": number}
            ) as listed:
                (payment,) = (await listed.json())["payments"]
            assert (payment["state"], payment["notify_url"], payment["deliveries"]) == (PAID, "", [])
            for bad in ({"provider": "card", "yuan": "1.00"}, {"provider": "wepay", "yuan": "-1"}):
                async with session.post(f"{sandbox.base_url}/demo", data=bad, allow_redirects=False) as refused:
                    assert refused.status == 400

    run(scenario())
