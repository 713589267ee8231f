"""Audit records for the store, CLI and actor tests, and the `keyun audit` verbs run as an operator would."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from keyun.engine.audit import AuditRecord
from keyun.persistence import cli
from keyun.persistence.layout import prepare

NOW_MS = 1_790_000_000_000  # 2026-09-21
DAY_MS = 24 * 60 * 60 * 1000
MINUTE_MS = 60 * 1000

ACTIONS = ("keyun.v1.Sales/Sell", "keyun.v1.Sales/Refund", "login", "keyun.v1.Gate/CheckIn")
OUTCOMES = ("OK", "OK", "PERMISSION_DENIED", "BAD_CREDENTIALS")

# The persistence verbs as `keyun` runs them (app/cli.py routes them to persistence.cli.run).
KEYUN_PERSISTENCE = """
import argparse, sys
from keyun.persistence import cli
parser = argparse.ArgumentParser(prog="keyun")
cli.add_verbs(parser.add_subparsers(dest="verb", required=True))
sys.exit(cli.run(parser.parse_args(sys.argv[1:])))
"""


def make_record(n: int, at_ms: int | None = None, **changes) -> AuditRecord:
    """The n-th record of a busy day: four clerks at two stations, a mix of actions and outcomes."""
    fields = dict(
        record_id=f"rec-{n:06d}",
        at_ms=NOW_MS + n * 1000 if at_ms is None else at_ms,
        actor=f"clerk-{n % 4}",
        role="ticket_clerk",
        device=f"counter-{n % 4}",
        station=("SJZ", "BD")[n % 2],
        source=f"ipv4:10.0.0.{n % 4}:5{n % 1000:04d}",
        action=ACTIONS[n % len(ACTIONS)],
        target=f"K103-20261126-{n % 50:04d}",
        outcome=OUTCOMES[n % len(OUTCOMES)],
        detail=f"record {n}",
    )
    fields.update(changes)
    return AuditRecord(**fields)


def data_directory(root: Path) -> Path:
    """A Keyun data directory (its manifest) whose audit log lives in <root>/audit."""
    prepare(root, shards=1)
    return root


def keyun_in_process(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="keyun")
    cli.add_verbs(parser.add_subparsers(dest="verb", required=True))
    return cli.run(parser.parse_args(list(argv)))


def keyun_elsewhere(*argv: str) -> subprocess.CompletedProcess:
    """In another process, as an operator's shell runs it (LMDB allows one handle per process)."""
    return subprocess.run([sys.executable, "-c", KEYUN_PERSISTENCE, *argv], capture_output=True, text=True, timeout=120)
