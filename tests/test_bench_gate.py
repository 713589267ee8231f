"""bench/gate.py runs offline and reports its percentiles (never a speed: that is measured, not asserted)."""

from __future__ import annotations

import json

from bench import gate


def test_the_gate_bench_reports_its_offline_percentiles(tmp_path):
    out = tmp_path / "gate.json"
    assert gate.main(["--scans", "20", "--json", str(out)]) == 0
    offline = json.loads(out.read_text())["offline"]
    assert offline["scans"] == 20 and 0 < offline["p50_ms"] <= offline["p99_ms"] <= offline["max_ms"]
