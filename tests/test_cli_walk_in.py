"""`keyun counter sell --passenger`: walk-in real-name passengers by ticket type, from the command line."""

from __future__ import annotations

import datetime as dt
import json

from keyun.engine.identity import id_check_char

from .test_cli import CHINA, demo_server, keyun  # noqa: F401 (demo_server is the module's fixture)


def resident_id(travel: dt.date, age: int, serial: int) -> str:
    born = dt.date(travel.year - age, travel.month, min(travel.day, 28))
    first17 = f"130102{born:%Y%m%d}{serial:03d}"
    return first17 + id_check_char(first17)


def test_a_counter_sells_walk_in_passengers_by_ticket_type(demo_server):  # noqa: F811
    server = ("--server", demo_server)
    tomorrow = (dt.datetime.now(CHINA) + dt.timedelta(days=1)).date()
    offers = json.loads(
        keyun("counter", "search", "SJZ", "BD", "--date", tomorrow.isoformat(), "--json", *server).stdout
    )
    trip_id = offers["offers"][0]["trip"]["trip_id"]
    adult, child, infant = resident_id(tomorrow, 41, 11), resident_id(tomorrow, 9, 12), resident_id(tomorrow, 2, 13)
    sold = keyun(
        "counter",
        "sell",
        trip_id,
        "SJZ",
        "BD",
        "--passenger",
        f"full,{adult},王大明,+ins",
        "--passenger",
        f"child,{child},王小明",
        "--passenger",
        f"free_child,{infant},王小小",
        *server,
    ).stdout
    assert "儿童票 child" in sold and "free child 王**" in sold and "insurance ¥3.00" in sold
    assert adult[:6] + "********" + adult[-4:] in sold
    assert not any(number in sold for number in (adult, child, infant))
    again = keyun("counter", "sell", trip_id, "SJZ", "BD", "--passenger", f"full,{adult},王大明", *server, ok=False)
    assert "DOCUMENT_HAS_TICKET" in again.stderr and adult not in again.stderr
    found = keyun("counter", "find", "--document", child, "--purpose", "lost ticket", *server).stdout
    assert "儿童票 child" in found and child not in found
    bad = keyun("counter", "sell", trip_id, "SJZ", "BD", "--passenger", f"infant,{infant},王小小", *server, ok=False)
    assert "TYPE,NUMBER,NAME" in bad.stderr
    # 取票 at a counter: the child's ticket by their document alone, once.
    picked = keyun("counter", "pickup", "--document", child, *server).stdout
    assert "儿童票 child" in picked and child not in picked
    twice = keyun("counter", "pickup", "--document", child, *server, ok=False)
    assert "TICKET_ALREADY_PRINTED" in twice.stderr and child not in twice.stderr


def test_serve_names_every_problem_of_a_bad_fares_table(tmp_path):
    import subprocess

    from .test_cli import KEYUN

    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[fares]\nchild_percent = 150\nrounding = "nearest"\nrefundable = ["insurance"]\nchild_fare = 1\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [KEYUN, "serve", "--policy", str(policy), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    for problem in (
        "fares.child_fare: unknown key",
        "fares.child_percent: must be a whole number of percent in 0..100",
        "fares.rounding: must be one of half_up, half_down, up, down",
        "fares.refundable: must be a list of distinct components",
    ):
        assert problem in result.stderr, result.stderr
