"""The layers are contracts (pyproject.toml [tool.importlinter]); a terminal loads none of the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_client_library_loads_neither_ray_nor_the_gateway():
    probe = (
        "import sys, keyun.terminals.client\n"
        "print('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'ray' or m.startswith(('keyun.gateway', "
        "'keyun.actors', 'keyun.persistence'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_the_keyun_command_loads_ray_and_the_gateway_only_to_serve():
    """Every verb but `serve` is a small client that starts at once; a busy port is named before
    Ray loads."""
    probe = (
        "import sys, keyun.app.cli\n"
        "print('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'ray' or m.startswith(('keyun.actors', "
        "'keyun.gateway.owners', 'keyun.gateway.server', 'keyun.app.serve'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert loaded == []


def test_every_import_keeps_the_layer_contracts():
    # As `lint-imports` runs, from this interpreter whatever the platform names its scripts.
    lint = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run(
        [sys.executable, "-c", lint, "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
