"""`keyun shift`, `keyun stock` and `keyun finance deposit` as a terminal runs them, with --json."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from keyun.gateway.demo_accounts import DEMO_PASSWORD

KEYUN = str(Path(sys.executable).parent / "keyun")


def run(server, user: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEYUN_USER": user, "KEYUN_PASSWORD": DEMO_PASSWORD, "KEYUN_SERVER": server}
    result = subprocess.run([KEYUN, *args], capture_output=True, text=True, timeout=60, env=env)
    assert (result.returncode == 0) == ok, result.stdout + result.stderr
    return result


def as_json(server, user: str, *args: str):
    return json.loads(run(server, user, *args, "--json").stdout)


def test_a_shift_from_the_command_line(keyun, tmp_path):
    server = keyun.target
    trip = keyun.trip(dt.timedelta(hours=5))
    received = as_json(server, "stock", "stock", "receive", "00020001", "00020100", "--code", "CLI")
    batch = received["batches"][0]["batch_id"]
    issued = as_json(server, "stock", "stock", "issue", batch, "00020001", "00020010", "--seller", "counter1")
    assert issued["ranges"][0]["next"] == "CLI00020001"
    assert as_json(server, "stock", "stock", "list")["batches"][0]["unissued"] == "90"

    refused = run(server, "counter1", "counter", "sell", trip, "AAA", "DDD", "--count", "1", ok=False)
    assert "NO_OPEN_SHIFT" in refused.stdout + refused.stderr
    shift = as_json(server, "counter1", "shift", "open", "--counter", "W10")["shift_id"]
    sold = run(server, "counter1", "counter", "sell", trip, "AAA", "DDD", "--seats", "1,2").stdout
    assert "paper " in sold and "CLI00020001" in sold
    ticket = next(line.split()[1] for line in sold.splitlines() if line.startswith("paper "))
    reprinted = as_json(server, "counter1", "shift", "reprint", ticket)
    assert (reprinted["spoiled_number"], reprinted["paper_number"]["number"]) == ("CLI00020001", "CLI00020003")
    voided = as_json(server, "counter1", "shift", "void", ticket)
    assert voided["spoiled_number"] == "CLI00020003"
    spoiled = as_json(server, "counter1", "shift", "spoil", "skip")
    assert spoiled["numbers"][-1]["spoiled"] == "skip"
    assert as_json(server, "counter1", "shift", "show")["next_number"] == "CLI00020005"

    slip_file = tmp_path / "slip.pdf"
    closed = as_json(server, "counter1", "shift", "close", "--counted", "40", "--pdf", str(slip_file))
    assert closed["slip"]["expected_cash_fen"] == "4000" and closed["slip"]["over_short_fen"] == "0"
    assert slip_file.read_bytes().startswith(b"%PDF")
    text = run(server, "counter1", "shift", "show", shift).stdout
    assert "handover slip" in text and "over/short ¥0.00" in text
    assert [s["shift_id"] for s in as_json(server, "counter1", "shift", "list")["shifts"]] == [shift]
    out = tmp_path / "again.pdf"
    run(server, "finance", "shift", "slip", shift, "--out", str(out))
    assert out.read_bytes().startswith(b"%PDF")
    deposited = as_json(server, "finance", "finance", "deposit", shift, "--amount", "40")
    assert (deposited["status"], deposited["deposit_fen"]) == ("SHIFT_STATUS_DEPOSITED", "4000")
