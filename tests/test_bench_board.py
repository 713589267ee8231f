"""bench/board.py runs at a tiny size and reports memory and delays (never a speed: that is
measured, not asserted)."""

from __future__ import annotations

import json

from bench import board


def test_the_board_bench_reports_memory_and_the_delay_to_every_screen(keyun, tmp_path):
    out = tmp_path / "board.json"
    assert board.main(["--server", keyun.target, "--clients", "5", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["clients"] == 5 and result["web_rss_mib_with_clients"] > 0
    delays = result["delay_to_screen"]
    assert delays["screens"] == 5 and 0 < delays["p50_ms"] <= delays["p99_ms"] <= delays["max_ms"]
