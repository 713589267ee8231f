"""A pytest plugin for `make test-fast`: the engine's tests run without Ray, gRPC or the gateway.

Loaded with `-p tests.engine.server_free` before any conftest, it makes importing those packages
fail, so a test or fixture that starts needing a server fails the fast run instead of slowing it.
"""

from __future__ import annotations

import sys

SERVER_PACKAGES = ("ray", "grpc", "keyun.gateway")

for _name in SERVER_PACKAGES:
    if _name in sys.modules:
        raise RuntimeError(f"{_name} was imported before tests.engine.server_free could keep it out")
    # None in sys.modules makes `import name` (and of any submodule) raise ImportError.
    sys.modules[_name] = None  # type: ignore[assignment]
