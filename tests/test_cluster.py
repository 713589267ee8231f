"""A two-node Ray cluster on one machine: owners run where the owner resource is, and serve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_owners_run_on_the_data_node_of_a_two_node_cluster():
    script = Path(__file__).parent / "two_node_cluster.py"
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "RAY_ADDRESS": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["nodes"] == 2
    assert facts["owner_nodes"] == [facts["data_node"]] != [facts["head_node"]]
    assert facts["sold"] == 3
