"""Tests move time with a clock and wait for real processes with tests/waiting.py; no test sleeps
and then asserts (issue 17: "one clock")."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).parent
WAITING = TESTS / "waiting.py"
SLEEP = re.compile(r"\bsleep\(")


def test_no_test_sleeps_outside_the_waiting_helper():
    found = [
        f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path != WAITING and "node_modules" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SLEEP.search(line)
    ]
    assert found == [], "wait with tests/waiting.py or advance the server's clock instead:\n" + "\n".join(found)
