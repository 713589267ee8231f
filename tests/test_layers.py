"""The layers are contracts (pyproject.toml [tool.importlinter]); a terminal loads none of the server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def loaded_by(module: str, *prefixes: str) -> list[str]:
    """The modules of Ray and of `prefixes` that importing `module` loads, in a fresh interpreter."""
    probe = (
        f"import sys, {module}\n"
        f"print('\\n'.join(m for m in sys.modules if m.split('.')[0] == 'ray' or m.startswith({prefixes!r})))"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()


def test_the_client_library_loads_neither_ray_nor_the_gateway():
    assert loaded_by("keyun.terminals.client", "keyun.gateway", "keyun.actors", "keyun.persistence") == []


def test_the_keyun_command_loads_ray_and_the_gateway_only_to_serve():
    """Every verb but `serve` is a small client that starts at once; a busy port is named before
    Ray loads."""
    modules = loaded_by(
        "keyun.app.cli", "keyun.actors", "keyun.gateway.owners", "keyun.gateway.server", "keyun.app.serve"
    )
    assert modules == []
    assert "ray" in loaded_by("keyun.app.serve")  # the probe sees Ray where it is loaded


def test_every_import_keeps_the_layer_contracts():
    # As `lint-imports` runs, from this interpreter whatever the platform names its scripts.
    lint = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    result = subprocess.run(
        [sys.executable, "-c", lint, "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
