"""bench/credentials.py runs and reports every figure it claims to (never a speed: that is measured,
not asserted)."""

from __future__ import annotations

import json

from bench import credentials


def test_the_credential_bench_reports_its_figures(tmp_path):
    out = tmp_path / "credentials.json"
    assert credentials.main(["--seconds", "0.02", "--rounds", "1", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    for name in ("verify_per_s", "ed25519_verify_per_s", "sign_per_s", "ed25519_sign_per_s"):
        assert results[name] > 0
    assert results["verify_vs_ed25519"] > 0 and results["credential_chars"] > 100 and "cores" in results["machine"]
