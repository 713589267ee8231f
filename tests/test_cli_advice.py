"""The terminal commands for people (issue 18): relative dates, station codes in any case, advice
instead of protocol talk, local times with their zone, refusals as JSON, no tracebacks.

The commands run through `keyun`'s main() against the module's real server (cheap), and as real
processes where the process itself is the point (a closed pipe, Ctrl-C)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from keyun.app.cli import main
from keyun.gateway.demo_accounts import DEMO_PASSWORD
from keyun.terminals.printing import station_date

from .conftest import CHINA, network_with_schedule

KEYUN = str(Path(sys.executable).parent / "keyun")


@pytest.fixture
def cli(keyun, capsys, monkeypatch, tmp_path):
    """`keyun ARGS --server <the test server>` as the duty manager (or `user=None`: nobody):
    (exit code, stdout, stderr)."""
    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "session.json"))  # never a session saved by someone

    def run(*args: str, user: str | None = "master") -> tuple[int, str, str]:
        if user:
            monkeypatch.setenv("KEYUN_USER", user)
            monkeypatch.setenv("KEYUN_PASSWORD", DEMO_PASSWORD)
        else:
            monkeypatch.delenv("KEYUN_USER", raising=False)
        code = main([*args, "--server", keyun.target])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def tomorrows_trip(keyun, tmp_path_factory) -> str:
    """A trip loaded with `keyun network load --first-date tomorrow`: its id."""
    network = tmp_path_factory.mktemp("net") / "net.toml"
    network.write_text(network_with_schedule("CLI1", dt.datetime(2026, 1, 1, 7, 30), "mini12"), encoding="utf-8")
    env = {**os.environ, "KEYUN_USER": "master", "KEYUN_PASSWORD": DEMO_PASSWORD}
    args = [KEYUN, "network", "load", str(network), "--first-date", "tomorrow", "--days", "1", "--server", keyun.target]
    loaded = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert loaded.returncode == 0 and "1 trips scheduled" in loaded.stdout, loaded.stdout + loaded.stderr
    return f"CLI1-{dt.datetime.now(CHINA).date() + dt.timedelta(days=1):%Y%m%d}"


def test_dates_are_today_tomorrow_plus_n_or_iso_in_beijing():
    day = dt.date(2026, 12, 31)
    assert [station_date(text, day) for text in ("today", "Tomorrow", "+0", "+2", "2027-01-05")] == [
        "2026-12-31",
        "2027-01-01",
        "2026-12-31",
        "2027-01-02",
        "2027-01-05",
    ]
    assert station_date("today") == dt.datetime.now(CHINA).date().isoformat()  # the station's day, not the machine's


def test_relative_dates_and_lower_case_station_codes(cli, tomorrows_trip):
    for date in ("tomorrow", "+1", f"{dt.datetime.now(CHINA).date() + dt.timedelta(days=1)}"):
        code, out, err = cli("counter", "search", "aaa", "ddd", "--date", date, "--json")
        assert code == 0, err
        assert tomorrows_trip in [offer["trip"]["trip_id"] for offer in json.loads(out)["offers"]]
    code, out, _ = cli("counter", "search", "aaa", "ddd", "--date", "tomorrow")
    assert tomorrows_trip in out and "07:30 (UTC+8)" in out  # times in the station's zone, the zone shown
    code, out, err = cli("counter", "sell", tomorrows_trip, "aaa", "bbb", "--count", "1")
    assert code == 0, err
    assert "AAA → BBB" in out and "07:30 (UTC+8)" in out


def test_a_date_that_is_none_of_these_is_a_usage_error(cli, capsys):
    with pytest.raises(SystemExit) as exited:
        cli("counter", "search", "aaa", "ddd", "--date", "someday")
    assert exited.value.code == 2 and "today, tomorrow, +N (days from today) or YYYY-MM-DD" in capsys.readouterr().err


def test_a_command_without_a_login_says_how_to_log_in(cli):
    code, out, err = cli("gate", "manifest", "NOPE-20261208", user=None)
    assert code == 1 and not out
    assert "NOT_AUTHENTICATED" in err and "--user NAME" in err and "keyun login" in err
    assert "Bearer" not in err and "authorization" not in err


def test_json_refusals_are_json_on_stdout_with_advice(cli):
    code, out, err = cli("counter", "seats", "NOPE-20261208", "aaa", "bbb", "--json")
    assert code == 1 and not err
    refusal = json.loads(out)["error"]
    assert (refusal["code"], refusal["reason"], refusal["reason_code"]) == ("NOT_FOUND", "UNKNOWN_TRIP", 2001)
    assert refusal["trip_id"] == "NOPE-20261208" and "no trip" in refusal["message"]
    assert "<schedule>-<YYYYMMDD>" in refusal["advice"]
    code, out, _ = cli("gate", "manifest", "NOPE-20261208", "--json", user=None)
    assert code == 1 and json.loads(out)["error"]["reason"] == "NOT_AUTHENTICATED"


def test_not_yet_boarding_says_when_in_local_time(cli, tomorrows_trip):
    code, out, err = cli("counter", "sell", tomorrows_trip, "aaa", "ccc", "--count", "1", "--json")
    ticket_id = json.loads(out)["tickets"][0]["ticket_id"]
    code, out, _ = cli("gate", "checkin", ticket_id, "--gate", "G1", "--json")
    refusal = json.loads(out)["error"]
    opens = dt.datetime.fromtimestamp(int(refusal["boarding_opens_at_ms"]) / 1000, CHINA)
    assert code == 1 and refusal["reason"] == "NOT_YET_BOARDING" and refusal["boarding_opens_at"] == opens.isoformat()
    code, out, err = cli("gate", "checkin", ticket_id, "--gate", "G1")
    assert code == 1 and not out
    assert f"boarding opens at {opens:%Y-%m-%d %H:%M:%S} (UTC+8)" in err
    assert "_ms" not in err and refusal["boarding_opens_at_ms"] not in err


def test_an_unreachable_server_is_named_without_a_traceback(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KEYUN_SESSION", str(tmp_path / "none.json"))
    monkeypatch.delenv("KEYUN_USER", raising=False)
    assert main(["counter", "stations", "--server", "127.0.0.1:1", "--deadline", "1"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Keyun server at 127.0.0.1:1" in err and "keyun serve" in err


def test_a_closed_pipe_and_ctrl_c_end_quietly(keyun, tmp_path):
    env = {**os.environ, "KEYUN_SESSION": str(tmp_path / "s.json"), "KEYUN_USER": "master"}
    # `keyun counter stations | head -0`: the reader is gone before anything is written.
    process = subprocess.Popen(
        [KEYUN, "counter", "stations", "--server", keyun.target],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**env, "KEYUN_PASSWORD": DEMO_PASSWORD},
    )
    process.stdout.close()
    assert (process.wait(timeout=60), process.stderr.read()) == (141, b"")
    # Ctrl-C at the password prompt.
    process = subprocess.Popen(
        [KEYUN, "counter", "stations", "--server", keyun.target],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={key: value for key, value in env.items() if key != "KEYUN_PASSWORD"},
        start_new_session=True,  # no terminal: the prompt reads stdin
        text=True,
    )
    prompt = ""
    while "password for master" not in prompt:
        prompt += process.stderr.read(1)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    rest = process.stderr.read()
    assert "interrupted" in rest and "Traceback" not in rest


def test_a_reused_totp_code_is_named_with_what_to_do(cli, keyun):
    from keyun.gateway.credentials import totp_code
    from keyun.gateway.demo_accounts import DEMO_TOTP_SECRET

    code = totp_code(DEMO_TOTP_SECRET, keyun.clock.now_ms())
    assert cli("login", "auditor", "--totp", code, user="auditor")[0] == 0
    for _ in range(2):  # not counted: the second is not LOGIN_THROTTLED
        exit_code, _, err = cli("login", "auditor", "--totp", code, user="auditor")
        assert exit_code == 1 and "TOTP_CODE_REUSED: this code was used for a login already" in err
        assert "next code" in err and "--totp" in err
