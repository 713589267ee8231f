"""The lane's full-screen display (terminals/gate_display.py), driven headless: a scan typed into
it as a scanner in keyboard mode does, decided by a lane that has no server (offline)."""

from __future__ import annotations

import asyncio
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from textual.widgets import Input

from keyun.common import eticket
from keyun.terminals import boarding_core as core
from keyun.terminals.client import KeyunClient
from keyun.terminals.gate_display import GateDisplay
from keyun.terminals.gate_lane import Journal, Lane


def offline_lane(tmp_path) -> tuple[Lane, str]:
    key = Ed25519PrivateKey.generate()
    key_id = eticket.key_id_of(key.public_key())
    now = int(time.time())
    lane = Lane("G1", "SJZ", Journal(tmp_path), KeyunClient("127.0.0.1:9"), lambda client: None)
    lane.online = False  # no server: the address above is never dialled
    lane.state.public_keys = {key_id: key.public_key()}
    boarding = eticket.BoardingPass(
        1, key_id, "S0400-20300101-0001", "S0400-20300101", "2030-01-01", "SJZ", "SJZY", "7", "full",
        now + 1800, now - 3600, now + 90_000, "吴**", b"",
    )  # fmt: skip
    lane.state.entries["S0400-20300101-0001"] = core.Entry(
        "S0400-20300101-0001", "S0400-20300101", "7", "SJZ", "SJZY", now + 1800, holder_name="吴**"
    )
    return lane, eticket.sign(boarding, key)


def test_a_scan_typed_into_the_display_shows_pass_then_stop(tmp_path):
    lane, credential = offline_lane(tmp_path)

    async def drive():
        app = GateDisplay(lane, "Keyun gate G1")
        async with app.run_test(size=(100, 30)) as pilot:
            app.query_one(Input).value = credential  # what a scanner types, at once
            await pilot.press("enter")
            await pilot.pause()
            verdict = str(app.query_one("#verdict").render())
            assert "PASS" in verdict and "seat 7" in verdict
            assert "OFFLINE" in str(app.query_one("#status").render())
            app.query_one(Input).value = credential
            await pilot.press("enter")
            await pilot.pause()
            assert "ALREADY_CHECKED_IN" in str(app.query_one("#verdict").render())
            assert app.query_one("#verdict").has_class("stop")

    asyncio.run(drive())
    assert lane.status()["queue_depth"] == 1  # the pass waits for the upload; the stop needs none
