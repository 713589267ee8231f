"""The flow verbs through the `keyun` command's own entry point (main with argv, in this process):
a passenger registers, adds a frequent passenger and orders; the counter takes cash and refunds;
a wallet order is paid on the payment sandbox; finance reconciles; dispatch delays, cancels,
departs and loads."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request

import pytest

from keyun.app.cli import main
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.client import KeyunClient
from keyun.v1 import accounts_pb2, staff_pb2

from .conftest import ServerThread, logged_in, network_with_schedule, schedule_trip
from .payments.conftest import start_sandbox, stop_sandbox
from .waiting import wait_until

PHONE, PASSWORD = "13700001111", "Flows-Passw0rd"


@pytest.fixture(scope="module")
def station(ray_session, tmp_path_factory):
    directory = tmp_path_factory.mktemp("flows")
    sandbox = start_sandbox(directory / "pay-keys", directory / "pay-state.json")
    server = ServerThread(directory / "data", shards=2, payments_dir=sandbox.keys_dir)
    master = logged_in(KeyunClient(server.target), clock=server.clock)
    yield server, sandbox, master
    master.close()
    server.stop()
    stop_sandbox(sandbox)


@pytest.fixture
def keyun(station, capsys, monkeypatch, tmp_path):
    """Run `keyun ARGS --server …` as `user` (the duty manager by default; None: not logged in);
    check its exit code (`ok`) and return its stdout, parsed when `--json` is among the args."""
    server = station[0]
    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "session.json"))
    monkeypatch.setenv("KEYUN_NEW_PASSWORD", PASSWORD)

    def run(*args: str, user: str | None = "master", ok: bool = True, password: str = ""):
        monkeypatch.setenv("KEYUN_PASSWORD", password or (PASSWORD if user == PHONE else DEMO_PASSWORD))
        if user:
            monkeypatch.setenv("KEYUN_USER", user)
        else:
            monkeypatch.delenv("KEYUN_USER", raising=False)
        lines = "--json-lines" in args  # a watch prints one JSON document per line
        code = main([*(a.replace("--json-lines", "--json") for a in args), "--server", server.target])
        out, err = capsys.readouterr()
        assert (code == 0) == ok, out + err
        return json.loads(out) if "--json" in args and not lines else out

    return run


def test_a_passenger_registers_orders_and_the_counter_takes_cash_and_refunds(station, keyun):
    _, _, master = station
    trip = schedule_trip(master, "F1", dt.timedelta(days=1))
    account = keyun("passenger", "register", PHONE, "--display-name", "旅客", "--json", user=None)
    assert account["account_id"] and account["login_name"].endswith(PHONE[-4:])
    again = keyun("passenger", "register", PHONE, "--json", user=None, ok=False)
    assert again["error"]["reason"] and again["error"]["code"] != "OK"  # a refusal under --json is JSON on stdout

    added = keyun("passenger", "passengers", "add", "张三", "E12345678", "--document", "passport", "--json", user=PHONE)
    listed = keyun("passenger", "passengers", "list", user=PHONE)
    assert added["passenger_id"] in listed and "passport" in listed

    order = keyun("order", "create", trip, "AAA", "CCC", "--passengers", added["passenger_id"], "--json", user=PHONE)
    order_id = order["order"]["order_id"]
    assert order["order"]["status"] == "ORDER_STATUS_PENDING_PAYMENT" and order["order"]["method"] == "PAY_METHOD_CASH"

    paid = keyun("order", "pay", order_id, "--json")
    assert paid["status"] == "ORDER_STATUS_TICKETED" and len(paid["tickets"]) == 1
    shown = keyun("order", "show", order_id, user=PHONE)
    assert "ticketed" in shown and paid["tickets"][0]["ticket_id"] in shown and "¥30.00" in shown
    assert order_id in keyun("passenger", "orders", user=PHONE)

    refused = keyun("order", "refund", order_id, "--json", user=PHONE, ok=False)  # cash goes back at a counter
    assert refused["error"]["reason"] == "ORDER_CLOSED"
    refunded = keyun("order", "refund", order_id, "--json")
    assert refunded["status"] == "ORDER_STATUS_REFUNDED" and refunded["refunds"]

    keyun("order", "create", trip, "AAA", "BBB", "--seats", "5", "--request-id", "flows-1")
    reused = keyun("order", "create", trip, "AAA", "BBB", "--seats", "6", "--request-id", "flows-1", "--json", ok=False)
    assert reused["error"]["reason"] == "REQUEST_ID_REUSED"
    assert keyun("order", "create", trip, "AAA", "BBB", "--seats", "6")  # the refused order's hold was released
    second = keyun("order", "create", trip, "AAA", "BBB", "--count", "2", "--json")["order"]
    cancelled = keyun("order", "cancel", second["order_id"])
    assert "cancelled" in cancelled and second["order_id"] in cancelled

    removed = keyun("passenger", "passengers", "remove", added["passenger_id"], "--json", user=PHONE)
    assert removed == {"removed": added["passenger_id"]}
    assert "no frequent passengers" in keyun("passenger", "passengers", "list", user=PHONE)


def test_a_passenger_logs_in_once_and_the_next_commands_use_the_session(station, keyun):
    keyun("passenger", "register", "13700002222", user=None)
    assert "logged in as" in keyun("passenger", "login", "13700002222", user=None, password=PASSWORD)
    assert "no orders" in keyun("passenger", "orders", user=None)  # the saved session, no --user
    keyun("logout", user=None)
    refused = keyun("passenger", "orders", "--json", user=None, ok=False)
    assert refused["error"]["reason"] == "NOT_AUTHENTICATED"


def test_a_new_staff_account_without_roles_logs_in_and_out_and_may_do_nothing_else(station, keyun):
    server, _, _ = station
    sysadmin = logged_in(KeyunClient(server.target), "sysadmin", clock=server.clock)
    sysadmin.call(
        sysadmin.staff.CreateAccount,
        staff_pb2.CreateAccountRequest(
            request_id="flows-newbie",
            kind=accounts_pb2.ACCOUNT_KIND_STAFF,
            login_name="newbie",
            password=DEMO_PASSWORD,
        ),
    )
    trip = schedule_trip(station[2], "F3", dt.timedelta(days=1))
    assert "AAA" in keyun("counter", "stations", user="newbie")  # logs in, and out when the verb is done
    refused = keyun("counter", "sell", trip, "AAA", "BBB", "--count", "1", "--json", user="newbie", ok=False)
    assert refused["error"]["reason"] == "PERMISSION_DENIED"


def test_a_wallet_order_is_paid_on_the_sandbox_and_finance_reconciles_it(station, keyun):
    _, sandbox, master = station
    trip = schedule_trip(master, "F2", dt.timedelta(days=1))
    added = keyun("passenger", "passengers", "add", "李四", "E87654321", "--document", "passport", "--json", user=PHONE)
    passenger_id = added["passenger_id"]
    printed = keyun("passenger", "pay", trip, "AAA", "CCC", "--passengers", passenger_id, user=PHONE)
    assert "Open http://" in printed and "press Pay" in printed
    order_id = printed.split()[1]
    pay_url = printed.split("pay at   ")[1].split()[0]
    assert order_id in pay_url and pay_url.startswith(sandbox.base_url)

    request = urllib.request.Request(
        f"{sandbox.base_url}/sandbox/pay",
        data=json.dumps({"provider": "wepay", "merchant_order_no": order_id, "delay_ms": 1500}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    watched = [json.loads(line) for line in keyun("order", "watch", order_id, "--json-lines", user=PHONE).splitlines()]
    assert watched[-1]["status"] == "ORDER_STATUS_TICKETED"  # after PENDING_PAYMENT, unless paid before it started
    assert "ticketed" in keyun("order", "watch", order_id, user=PHONE)

    report = wait_until(
        lambda: (r := keyun("finance", "reconcile", "--method", "wepay", "--json")).get("matched") and r,
        20,
        "the payment reconciled",
        poll_s=0.2,
    )
    assert report["provider_paid_fen"] == report["keyun_paid_fen"] and not report["discrepancies"]
    text = keyun("finance", "reconcile", "--method", "wepay")
    assert "matched" in text and "no differences" in text
    denied = keyun("finance", "reconcile", "--method", "card", "--json", user="seller", ok=False)
    assert denied["error"]["reason"] == "PERMISSION_DENIED"


def test_dispatch_delays_cancels_departs_and_loads(station, keyun, tmp_path):
    _, _, master = station
    later = schedule_trip(master, "F9", dt.timedelta(days=1))
    delayed = keyun("dispatch", "delay", later, "30", "--json")
    assert delayed["trip_id"] == later
    assert "cancelled" in keyun("dispatch", "cancel", later)
    early = keyun("dispatch", "depart", schedule_trip(master, "F4", dt.timedelta(days=1)), "--json", ok=False)
    assert early["error"]["reason"] == "NOT_YET_BOARDING"
    soon = schedule_trip(master, "F5", dt.timedelta(minutes=10))
    assert "departed" in keyun("dispatch", "depart", soon)

    network = tmp_path / "line.toml"
    network.write_text(network_with_schedule("F6", dt.datetime(2026, 1, 1, 9), "mini12"), encoding="utf-8")
    loaded = keyun("dispatch", "load", str(network), "--days", "2", "--json")
    assert loaded["trips_created"] == 2


def test_dispatch_names_a_gate_and_staff_announce(station, keyun):
    _, _, master = station
    trip = schedule_trip(master, "F7", dt.timedelta(days=1))
    assert "gate A3" in keyun("dispatch", "gate", trip, "A3", user="dispatcher")
    assert keyun("dispatch", "gate", trip, "A 3", "--json", ok=False)["error"]["reason"] == "INVALID_FIELD"
    published = keyun(
        "announce",
        "publish",
        "今日有雾",
        "--en",
        "Fog",
        "--kind",
        "weather",
        "--stations",
        "AAA",
        "--json",
        user="dispatcher",
    )
    announcement_id = published["announcement_id"]
    assert announcement_id in keyun("announce", "list", "--station", "AAA", user="dispatcher")
    assert "今日有雾" in keyun("announce", "list", "--station", "AAA", user="dispatcher")
    refused = keyun("announce", "publish", "通知", "--json", user="seller", ok=False)
    assert refused["error"]["reason"] == "PERMISSION_DENIED"
    assert "withdrawn" in keyun("announce", "withdraw", announcement_id, user="dispatcher")
    assert announcement_id not in keyun("announce", "list", "--station", "AAA", user="dispatcher")
    assert announcement_id in keyun("announce", "list", "--all", user="dispatcher")
