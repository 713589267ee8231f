"""The lane's journal (terminals/gate_lane.py) outlives the process: a lane started again on the
same directory, still without a server, remembers whom it let through and what waits for upload."""

from __future__ import annotations

import sqlite3

from keyun.common import eticket
from keyun.terminals.client import KeyunClient
from keyun.terminals.gate_lane import Journal, Lane

from .test_gate_display import offline_lane


def test_a_restarted_lane_remembers_its_scans_and_its_copy(tmp_path):
    lane, credential = offline_lane(tmp_path)
    lane.journal.save("copy", _copy_of(lane))  # as a refresh would have kept it
    assert lane.scan(credential).passed
    lane.journal.db.close()  # the power goes

    again = Lane("G1", "SJZ", Journal(tmp_path), KeyunClient("127.0.0.1:9"), lambda client: None)
    again.online = False
    assert again.state.public_keys.keys() == lane.state.public_keys.keys()
    stopped = again.scan(credential)
    assert not stopped.passed and stopped.reason == "ALREADY_CHECKED_IN" and "G1" in stopped.message
    assert again.status()["queue_depth"] == 1
    with sqlite3.connect(tmp_path / "gate.sqlite3") as db:
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)
        assert db.execute("select passed, online, uploaded from scans order by seq").fetchall() == [
            (1, 0, 0),
            (0, 0, 1),
        ]


def _copy_of(lane: Lane) -> dict:
    state = lane.state
    return {
        "keys": [(key_id, eticket.raw_public_key(key).hex()) for key_id, key in state.public_keys.items()],
        "digest_key": state.digest_key.hex(),
        "entries": [],
        "departs": {},
        "cancelled": [],
        "revoked": [],
    }
