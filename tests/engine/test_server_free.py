"""The engine's tests need no server: `make test-fast` runs them without Ray, gRPC or the gateway."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_engine_tests_collect_without_server_packages():
    """Collecting imports every engine test module and the conftests above them; in the full run,
    where Ray and gRPC are loaded anyway, only a fresh process can tell whether they needed them."""
    options = "-p tests.engine.server_free -p no:cacheprovider --collect-only -q tests/engine"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *options.split()], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
